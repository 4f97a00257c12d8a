/* The pod sandbox's first process: holds the pod's namespaces open, reaps orphaned children
 * (it is PID 1 of the pod when the PID namespace is shared) and exits 0 on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

static void reap(int signal_number) {
    (void)signal_number;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void handle(int signal_number, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    if (sigaction(signal_number, &action, NULL) != 0) {
        perror("pause: sigaction");
        _exit(1);
    }
}

int main(void) {
    if (getpid() != 1) fprintf(stderr, "pause: warning: not running as PID 1\n");
    handle(SIGINT, stop);
    handle(SIGTERM, stop);
    handle(SIGCHLD, reap);
    for (;;) pause();
}
