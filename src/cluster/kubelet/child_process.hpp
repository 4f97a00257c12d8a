#pragma once
// A child process the node owns (containerd, ctr): started with fork+exec, tracked through a
// pidfd so that signals can never reach a recycled pid, and never left behind: destroying a
// ChildProcess that still runs kills and reaps it. Not thread-safe: one thread owns each child.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kcube::kubelet {

struct SpawnOptions {
    // argv[0] is a path, or a name looked up in PATH before forking.
    std::vector<std::string> argv;
    // "NAME=value" entries that replace or extend the node's own environment.
    std::vector<std::string> env;
    // stdout and stderr are appended to this file (created 0600); empty: /dev/null.
    std::filesystem::path output;
    // Own session and process group: a Ctrl-C at the node's terminal reaches the node only,
    // which then stops its children in the right order.
    bool new_session = true;
    // The kernel SIGKILLs the child when the thread that spawned it ends, so a crashed node
    // does not leave a runtime holding its state directory. Spawn from a thread that lives as
    // long as the child should (the kernel tracks the thread, not the process).
    bool die_with_parent = false;
};

// How a child ended, from its wait status.
struct ExitStatus {
    int raw = 0;
    bool exited() const;
    int code() const;    // exit code when exited(), else -1
    int signal() const;  // terminating signal when killed, else 0
    // "exit code 1", "signal 9 (Killed)"
    std::string describe() const;
};

class ChildProcess {
  public:
    // Starts the child. Throws Error (kHost) when the program is missing or cannot run.
    static ChildProcess spawn(const SpawnOptions& options);

    ChildProcess() = default;
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Readable (for poll) once the child has exited; -1 when there is no child.
    int pidfd() const { return pidfd_; }
    bool running() const { return pid_ > 0 && !status_; }

    // Sends `sig` unless the child has already been reaped.
    void signal(int sig);
    // Reaps the child if it has exited, without blocking.
    std::optional<ExitStatus> try_wait();
    // Waits up to `timeout` for the child to exit.
    std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
    ExitStatus wait();
    // SIGTERM, then SIGKILL when it has not exited after `grace`; returns how it ended.
    ExitStatus terminate(std::chrono::milliseconds grace);

  private:
    friend struct ChildAccess;
    void close_pidfd() noexcept;

    pid_t pid_ = -1;
    int pidfd_ = -1;
    std::optional<ExitStatus> status_;
};

struct CaptureResult {
    ExitStatus status;
    std::string output;  // stdout and stderr, interleaved as written
};

// Runs a program to completion and returns its combined output. Throws Error (kHost) when it
// cannot start, and when it runs longer than `timeout` (it is killed).
CaptureResult run_and_capture(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout);

// The full path of `program`: itself when it contains a '/', else the first executable match
// in PATH; nothing when there is none.
std::optional<std::filesystem::path> find_program(const std::string& program);

}  // namespace kcube::kubelet
