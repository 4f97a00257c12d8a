#include "cluster/kubelet/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

extern char** environ;

namespace kcube::kubelet {

namespace {

using Clock = std::chrono::steady_clock;

// The raw system calls: glibc gained wrappers for them only in 2.36.
int open_pidfd(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int send_pidfd_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Marks every descriptor from 3 up close-on-exec in the child, so that no descriptor some
// library opened without O_CLOEXEC leaks into a long-lived runtime. Linux 5.11+; harmless
// where it is missing (our own descriptors are all O_CLOEXEC anyway).
void cloexec_from_3() {
#ifdef SYS_close_range
    constexpr unsigned kCloseRangeCloexec = 1U << 2;
    ::syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec);
#endif
}

// argv and envp as the NULL-terminated arrays execve wants, built before fork (after fork only
// async-signal-safe calls are allowed, and allocation is not one of them).
struct ExecImage {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argp;
    std::vector<char*> envp;
};

bool same_name(const std::string& entry, const std::string& override_entry) {
    const auto eq = override_entry.find('=');
    return eq != std::string::npos && entry.compare(0, eq + 1, override_entry, 0, eq + 1) == 0;
}

ExecImage make_exec_image(const SpawnOptions& options) {
    if (options.argv.empty()) {
        throw Error(ExitCode::kInternal, "INTERNAL", "spawning a process without a command");
    }
    const auto path = find_program(options.argv[0]);
    if (!path) {
        throw Error(ExitCode::kHost, "HOST_PROGRAM_MISSING",
                    options.argv[0] + " is not installed (not found in PATH)",
                    "install it (scripts/install-deps.sh installs what kcube needs)");
    }
    ExecImage image;
    image.path = path->string();
    image.args = options.argv;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string value(*entry);
        bool replaced = false;
        for (const auto& override_entry : options.env)
            replaced = replaced || same_name(value, override_entry);
        if (!replaced) image.env.push_back(std::move(value));
    }
    image.env.insert(image.env.end(), options.env.begin(), options.env.end());
    for (auto& arg : image.args)
        image.argp.push_back(arg.data());
    image.argp.push_back(nullptr);
    for (auto& entry : image.env)
        image.envp.push_back(entry.data());
    image.envp.push_back(nullptr);
    return image;
}

// Runs in the forked child: only async-signal-safe calls until execve. Reports an exec failure
// as its errno on `error_fd` (close-on-exec: a successful exec closes it with nothing written).
[[noreturn]] void exec_child(const ExecImage& image, const SpawnOptions& options, pid_t parent,
                             int out_fd, int error_fd) {
    if (options.die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    }
    if (options.new_session) ::setsid();
    // The node blocks SIGTERM/SIGINT for sigwait() and may ignore SIGPIPE: a blocked or
    // ignored signal survives exec, and a runtime that cannot be told to stop is no good.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    const int target = out_fd >= 0 ? out_fd : null_fd;
    if (target >= 0) {
        ::dup2(target, STDOUT_FILENO);
        ::dup2(target, STDERR_FILENO);
    }
    cloexec_from_3();
    ::execve(image.path.c_str(), image.argp.data(), image.envp.data());
    const int err = errno;
    [[maybe_unused]] auto ignored = ::write(error_fd, &err, sizeof err);
    ::_exit(127);
}

}  // namespace

// Creates ChildProcess objects for spawn() and run_and_capture().
struct ChildAccess {
    static ChildProcess start(const SpawnOptions& options, int out_fd) {
        const ExecImage image = make_exec_image(options);
        int error_pipe[2];
        if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
            throw Error(ExitCode::kHost, "HOST_IO", "pipe: " + errno_text(errno));
        }
        UniqueFd error_read(error_pipe[0]);
        UniqueFd error_write(error_pipe[1]);
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid < 0) {
            throw Error(ExitCode::kHost, "HOST_IO",
                        "cannot start " + options.argv[0] + ": fork: " + errno_text(errno));
        }
        if (pid == 0) exec_child(image, options, parent, out_fd, error_write.get());
        error_write.reset();

        ChildProcess child;
        child.pid_ = pid;
        int exec_errno = 0;
        ssize_t n;
        do {
            n = ::read(error_read.get(), &exec_errno, sizeof exec_errno);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            child.wait();
            throw Error(ExitCode::kHost, "HOST_PROGRAM_FAILED",
                        "cannot run " + image.path + ": " + errno_text(exec_errno));
        }
        child.pidfd_ = open_pidfd(pid);
        if (child.pidfd_ < 0) {
            const int err = errno;
            child.signal(SIGKILL);
            child.wait();
            throw Error(ExitCode::kHost, "HOST_KERNEL_TOO_OLD",
                        "pidfd_open: " + errno_text(err) + " (kcube needs Linux 5.3 or newer)");
        }
        return child;
    }
};

bool ExitStatus::exited() const {
    return WIFEXITED(raw);
}

int ExitStatus::code() const {
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

int ExitStatus::signal() const {
    return WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
}

std::string ExitStatus::describe() const {
    if (exited()) return "exit code " + std::to_string(code());
    if (signal() != 0) {
        return "signal " + std::to_string(signal()) + " (" + ::strsignal(signal()) + ")";
    }
    return "wait status " + std::to_string(raw);
}

ChildProcess ChildProcess::spawn(const SpawnOptions& options) {
    if (options.output.empty()) return ChildAccess::start(options, -1);
    UniqueFd out(::open(options.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (out.get() < 0) {
        throw Error(ExitCode::kHost, "HOST_IO",
                    "cannot open " + options.output.string() + ": " + errno_text(errno));
    }
    return ChildAccess::start(options, out.get());
}

ChildProcess::~ChildProcess() {
    if (running()) {
        signal(SIGKILL);
        wait();
    }
    close_pidfd();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        if (running()) {
            signal(SIGKILL);
            wait();
        }
        close_pidfd();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::exchange(other.pidfd_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

void ChildProcess::close_pidfd() noexcept {
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
}

void ChildProcess::signal(int sig) {
    if (!running()) return;
    // Until we reap it, the pid cannot be reused; the pidfd makes that explicit.
    if (pidfd_ >= 0) {
        send_pidfd_signal(pidfd_, sig);
    } else {
        ::kill(pid_, sig);
    }
}

std::optional<ExitStatus> ChildProcess::try_wait() {
    if (status_ || pid_ <= 0) return status_;
    int raw = 0;
    pid_t result;
    do {
        result = ::waitpid(pid_, &raw, WNOHANG);
    } while (result < 0 && errno == EINTR);
    if (result == pid_) status_ = ExitStatus{raw};
    return status_;
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    if (status_ || pid_ <= 0) return status_;
    const auto deadline = Clock::now() + timeout;
    while (!try_wait()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd fd{pidfd_, POLLIN, 0};
        ::poll(&fd, 1, static_cast<int>(left.count()));
    }
    return status_;
}

ExitStatus ChildProcess::wait() {
    if (status_ || pid_ <= 0) return status_.value_or(ExitStatus{});
    int raw = 0;
    pid_t result;
    do {
        result = ::waitpid(pid_, &raw, 0);
    } while (result < 0 && errno == EINTR);
    status_ = ExitStatus{result == pid_ ? raw : 0};
    return *status_;
}

ExitStatus ChildProcess::terminate(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    if (auto status = wait_for(grace)) return *status;
    signal(SIGKILL);
    return wait();
}

CaptureResult run_and_capture(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw Error(ExitCode::kHost, "HOST_IO", "pipe: " + errno_text(errno));
    }
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    SpawnOptions options;
    options.argv = argv;
    ChildProcess child = ChildAccess::start(options, write_end.get());
    write_end.reset();

    CaptureResult result;
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd fd{read_end.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) == 0) {
            child.signal(SIGKILL);
            child.wait();
            throw Error(ExitCode::kHost, "HOST_PROGRAM_TIMEOUT",
                        argv[0] + " did not finish within " + std::to_string(timeout.count()) +
                            " ms; its output: " + result.output);
        }
        const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        result.output.append(buffer, static_cast<size_t>(n));
    }
    result.status = child.wait();
    return result;
}

std::optional<std::filesystem::path> find_program(const std::string& program) {
    const auto executable = [](const std::filesystem::path& path) {
        std::error_code ec;
        return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
    };
    if (program.find('/') != std::string::npos) {
        if (executable(program)) return std::filesystem::path(program);
        return std::nullopt;
    }
    const char* path_env = std::getenv("PATH");
    const std::string search = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= search.size()) {
        const size_t end = std::min(search.find(':', start), search.size());
        const std::string dir = search.substr(start, end - start);
        const std::filesystem::path candidate =
            std::filesystem::path(dir.empty() ? "." : dir) / program;
        if (executable(candidate)) return candidate;
        start = end + 1;
    }
    return std::nullopt;
}

}  // namespace kcube::kubelet
