#include "drivers/host.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.hpp"

extern char** environ;

namespace kcube::drivers {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::optional<stdfs::path> find_in_path(const std::string& program) {
    if (program.empty()) return std::nullopt;
    if (program.find('/') != std::string::npos) {
        if (::access(program.c_str(), X_OK) == 0) return stdfs::path(program);
        return std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t colon = dirs.find(':', start);
        if (colon == std::string::npos) colon = dirs.size();
        std::string dir = dirs.substr(start, colon - start);
        start = colon + 1;
        if (dir.empty()) dir = ".";
        const stdfs::path candidate = stdfs::path(dir) / program;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return std::nullopt;
}

namespace {

// posix_spawn's file actions and attributes, destroyed however spawning ends.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attributes{};
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attributes);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<char*> c_args(const std::vector<std::string>& argv) {
    std::vector<char*> out;
    for (const auto& a : argv)
        out.push_back(const_cast<char*>(a.c_str()));
    out.push_back(nullptr);
    return out;
}

stdfs::path resolve_program(const std::vector<std::string>& argv) {
    if (argv.empty()) throw Error(ExitCode::kInternal, "INTERNAL_ERROR", "running no program");
    auto path = find_in_path(argv[0]);
    if (!path) {
        throw Error(ExitCode::kHost, "HOST_PROGRAM_MISSING",
                    argv[0] + " is not installed (not found in PATH)",
                    "Install it, or add its directory to PATH.");
    }
    return *path;
}

// Every signal back to its default disposition and unblocked in the child: we may have
// blocked or ignored some, and a runtime must see SIGTERM.
void reset_signals(posix_spawnattr_t& attributes) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
}

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw Error(ExitCode::kHost, "HOST_IO", "pipe: " + errno_text(errno));
    }
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
}

}  // namespace

ToolResult run_tool(const std::vector<std::string>& argv, std::string_view input,
                    std::chrono::milliseconds timeout) {
    const stdfs::path program = resolve_program(argv);
    UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
    make_pipe(in_read, in_write);
    make_pipe(out_read, out_write);
    make_pipe(err_read, err_write);
    SpawnSetup setup;
    posix_spawn_file_actions_adddup2(&setup.actions, in_read.get(), 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), 2);
    reset_signals(setup.attributes);
    posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    auto args = c_args(argv);
    pid_t pid = -1;
    if (int rc = ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attributes,
                               args.data(), environ);
        rc != 0) {
        throw Error(ExitCode::kHost, "HOST_PROGRAM_FAILED",
                    "cannot run " + program.string() + ": " + errno_text(rc));
    }
    in_read.reset();
    out_write.reset();
    err_write.reset();
    // A program that exits without reading all its input must not kill us with SIGPIPE:
    // MSG_NOSIGNAL does not apply to pipes, so the write end is non-blocking and EPIPE ends it.
    ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
    if (input.empty()) in_write.reset();

    ToolResult result;
    size_t written = 0;
    const auto deadline = Clock::now() + timeout;
    bool timed_out = false;
    while (out_read.get() >= 0 || err_read.get() >= 0) {
        std::vector<pollfd> fds;
        if (out_read.get() >= 0) fds.push_back({out_read.get(), POLLIN, 0});
        if (err_read.get() >= 0) fds.push_back({err_read.get(), POLLIN, 0});
        if (in_write.get() >= 0) fds.push_back({in_write.get(), POLLOUT, 0});
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        for (const auto& p : fds) {
            if (p.revents == 0) continue;
            if (p.fd == in_write.get()) {
                // A write on a pipe whose reader is gone: stop feeding, SIGPIPE is not ours.
                sigset_t pipe_set, old;
                sigemptyset(&pipe_set);
                sigaddset(&pipe_set, SIGPIPE);
                pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
                const ssize_t w =
                    ::write(in_write.get(), input.data() + written, input.size() - written);
                const int write_errno = errno;
                if (w < 0) {
                    timespec zero{};
                    sigtimedwait(&pipe_set, nullptr, &zero);  // drop the pending SIGPIPE
                }
                pthread_sigmask(SIG_SETMASK, &old, nullptr);
                if (w > 0) written += static_cast<size_t>(w);
                if (w < 0 && write_errno != EAGAIN) in_write.reset();
                if (written >= input.size()) in_write.reset();
                continue;
            }
            char buffer[65536];
            const ssize_t r = ::read(p.fd, buffer, sizeof buffer);
            auto& target = p.fd == out_read.get() ? result.out : result.err;
            if (r > 0) {
                target.append(buffer, static_cast<size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                if (p.fd == out_read.get()) {
                    out_read.reset();
                } else {
                    err_read.reset();
                }
            }
        }
    }
    in_write.reset();
    int status = 0;
    if (timed_out) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        throw Error(ExitCode::kHost, "HOST_PROGRAM_TIMEOUT",
                    argv[0] + " did not finish within " + std::to_string(timeout.count()) +
                        " ms and was stopped");
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// ---- processes ------------------------------------------------------------------------------

namespace {

std::string read_proc_file(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

}  // namespace

std::optional<unsigned long long> parse_stat_start_time(std::string_view stat, char* state) {
    // "pid (comm) S ppid ..." where comm may hold anything, ')' included: fields count from
    // the last ')'. The start time is field 22; the state is field 3.
    const size_t close = stat.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    std::istringstream fields{std::string(stat.substr(close + 1))};
    std::string field;
    for (int index = 3; fields >> field; ++index) {
        if (index == 3 && state != nullptr && !field.empty()) *state = field[0];
        if (index == 22) {
            try {
                return std::stoull(field);
            } catch (const std::exception&) {
                return std::nullopt;
            }
        }
    }
    return std::nullopt;
}

std::optional<ProcessInfo> read_process(pid_t pid) {
    const stdfs::path dir = stdfs::path("/proc") / std::to_string(pid);
    const std::string stat = read_proc_file(dir / "stat");
    if (stat.empty()) return std::nullopt;
    ProcessInfo info;
    info.pid = pid;
    auto start = parse_stat_start_time(stat, &info.state);
    if (!start) return std::nullopt;
    info.start_time = *start;
    const std::string cmdline = read_proc_file(dir / "cmdline");
    size_t begin = 0;
    while (begin < cmdline.size()) {
        size_t end = cmdline.find('\0', begin);
        if (end == std::string::npos) end = cmdline.size();
        info.argv.push_back(cmdline.substr(begin, end - begin));
        begin = end + 1;
    }
    return info;
}

std::vector<ProcessInfo> list_processes() {
    std::vector<ProcessInfo> out;
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        if (auto info = read_process(static_cast<pid_t>(std::stol(name)))) {
            out.push_back(std::move(*info));
        }
    }
    return out;
}

std::optional<ProcessHandle> ProcessHandle::open(pid_t pid, unsigned long long start_time) {
    if (pid <= 0) return std::nullopt;
    // Open the pidfd first, then check the identity: if the pid was recycled in between, the
    // check fails; if it passes, the pidfd refers to the process we checked.
    UniqueFd pidfd(open_pidfd(pid));
    auto info = read_process(pid);
    if (!info || info->start_time != start_time || info->state == 'Z') return std::nullopt;
    return ProcessHandle(pid, start_time, std::move(pidfd));
}

bool ProcessHandle::alive() const {
    auto info = read_process(pid_);
    return info && info->start_time == start_time_ && info->state != 'Z';
}

void ProcessHandle::signal(int sig) const {
#ifdef SYS_pidfd_send_signal
    if (pidfd_.get() >= 0) {
        ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
        return;
    }
#endif
    if (alive()) ::kill(pid_, sig);
}

bool ProcessHandle::wait_exit(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (alive()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        if (pidfd_.get() >= 0) {
            // Readable once the process has exited (a zombie of another parent counts).
            pollfd p{pidfd_.get(), POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    return true;
}

pid_t spawn_detached(const std::vector<std::string>& argv, const stdfs::path& output) {
    const stdfs::path program = resolve_program(argv);
    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&setup.actions, 1, output.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&setup.actions, 1, 2);
    reset_signals(setup.attributes);
    // A session of its own: closing the terminal or Ctrl-C in the shell that ran
    // `kcube start` must not reach the node.
    posix_spawnattr_setflags(&setup.attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    auto args = c_args(argv);
    pid_t pid = -1;
    if (int rc = ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attributes,
                               args.data(), environ);
        rc != 0) {
        throw Error(ExitCode::kHost, "HOST_PROGRAM_FAILED",
                    "cannot start " + program.string() + ": " + errno_text(rc));
    }
    return pid;
}

// ---- network --------------------------------------------------------------------------------

namespace {

// Binds 0.0.0.0:port (0: any) with SO_REUSEADDR, as the node's listener does; returns the
// port bound, or 0 when the bind failed.
int try_bind(int port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return 0;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 0;
    socklen_t length = sizeof address;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
    return ntohs(address.sin_port);
}

}  // namespace

bool tcp_port_free(int port) {
    return try_bind(port) == port;
}

int any_free_tcp_port() {
    const int port = try_bind(0);
    if (port == 0) {
        throw Error(ExitCode::kHost, "HOST_NO_PORT", "no free TCP port for the API server",
                    "Free a port (8443 is preferred) and run kcube start again.");
    }
    return port;
}

bool running_as_root() {
    return ::geteuid() == 0;
}

}  // namespace kcube::drivers
