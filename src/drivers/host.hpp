#pragma once
// What the drivers need from the host (the none driver runs the node on it, the VM drivers run
// QEMU there): programs to run (iptables, ctr, qemu-img), processes kcube did not start in this
// invocation (the node or QEMU after `kcube start` has exited, leftover runtimes), free ports.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"

namespace kcube::drivers {

// The first executable `program` in $PATH (or `program` itself when it holds a '/').
// PATH is what containerd, its shims and the CNI plugins use to find runc and iptables, so a
// program that is installed but not on PATH is as good as missing for the node.
std::optional<std::filesystem::path> find_in_path(const std::string& program);

struct ToolResult {
    int exit_code = -1;  // -1: killed by a signal (or by the timeout)
    std::string out;
    std::string err;
    bool ok() const { return exit_code == 0; }
};

// Runs `argv` (argv[0] looked up in PATH) to completion, feeding it `input` on stdin and
// capturing stdout and stderr apart. Throws Error(kHost) when the program is missing; kills it
// and throws Error(kHost) when it runs longer than `timeout`.
ToolResult run_tool(const std::vector<std::string>& argv, std::string_view input = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// ---- processes kcube did not start in this invocation -------------------------------------

// A running process as /proc shows it.
struct ProcessInfo {
    pid_t pid = 0;
    unsigned long long start_time = 0;  // clock ticks after boot (/proc/PID/stat field 22)
    char state = '?';                   // 'Z' for a zombie
    std::vector<std::string> argv;
};

// /proc/PID (nothing when the process is gone or unreadable).
std::optional<ProcessInfo> read_process(pid_t pid);
// Every process /proc lists.
std::vector<ProcessInfo> list_processes();
// The start time from a /proc/PID/stat text (robust to spaces and ')' in the command name).
std::optional<unsigned long long> parse_stat_start_time(std::string_view stat, char* state);

// A process identified by pid and start time, so that a recycled pid is never signalled.
// Holds a pidfd where the kernel has them (5.3+), which makes signals race-free as well.
class ProcessHandle {
  public:
    // Nothing when no live (non-zombie) process has this pid and start time.
    static std::optional<ProcessHandle> open(pid_t pid, unsigned long long start_time);

    pid_t pid() const { return pid_; }
    bool alive() const;
    void signal(int sig) const;
    // Waits up to `timeout` for the process to exit (it need not be our child).
    bool wait_exit(std::chrono::milliseconds timeout) const;

  private:
    ProcessHandle(pid_t pid, unsigned long long start_time, UniqueFd pidfd)
        : pid_(pid), start_time_(start_time), pidfd_(std::move(pidfd)) {}
    pid_t pid_;
    unsigned long long start_time_;
    UniqueFd pidfd_;
};

// Starts `argv` detached from us: its own session and process group, stdin from /dev/null,
// stdout and stderr appended to `output` (created 0600). Returns its pid. Throws Error(kHost).
pid_t spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& output);

// ---- network ------------------------------------------------------------------------------

// Whether a TCP listener could bind 0.0.0.0:port now.
bool tcp_port_free(int port);
// A port the kernel considers free now (bound to port 0 and released).
int any_free_tcp_port();

bool running_as_root();

}  // namespace kcube::drivers
