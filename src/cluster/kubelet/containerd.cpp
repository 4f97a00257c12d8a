#include "cluster/kubelet/containerd.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cluster/kubelet/child_process.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace kcube::kubelet {

namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kCapSysResource = 24;
// Restart back-off: doubles from the first to the longest; a containerd that ran for a while
// before dying starts again from the first.
constexpr milliseconds kFirstBackoff{500};
constexpr milliseconds kLongestBackoff{30000};
constexpr std::chrono::seconds kHealthyRun{60};
// Each start-up probe is a local call; a slow answer is as good as no answer yet.
constexpr milliseconds kProbeTimeout{2000};
// Start-up is the one place that polls: containerd is ready in 0.1-0.4 s, so look often.
constexpr milliseconds kProbeInterval{20};
constexpr std::uintmax_t kLogRotateBytes = 16U << 20;
constexpr milliseconds kImportTimeout{std::chrono::minutes(5)};

// A TOML basic string.
std::string quote(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string quote(const stdfs::path& path) {
    return quote(path.string());
}

std::string read_small_file(const stdfs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The last `lines` lines of a (possibly large) log file, for error messages.
std::string log_tail(const stdfs::path& log, size_t lines = 15) {
    std::ifstream in(log, std::ios::binary | std::ios::ate);
    if (!in) return {};
    const std::streamoff size = in.tellg();
    const std::streamoff start = std::max<std::streamoff>(0, size - 8192);
    in.seekg(start);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;
    for (size_t found = 0; pos > 0 && found < lines; ++found) {
        const size_t newline = text.rfind('\n', pos - 1);
        if (newline == std::string::npos) {
            pos = 0;
            break;
        }
        pos = newline;
    }
    return text.substr(pos == 0 ? 0 : pos + 1);
}

// Whether something accepts connections on the unix socket at `path`.
bool socket_answers(const stdfs::path& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    std::copy_n(text.c_str(), std::min(text.size() + 1, sizeof address.sun_path), address.sun_path);
    const bool connected =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

// containerd finds runc and its shim through PATH; a non-root PATH often lacks the sbin dirs.
std::string child_path_env() {
    const char* current = std::getenv("PATH");
    std::string path = current != nullptr ? current : "";
    for (const char* dir :
         {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        const std::string padded = ":" + path + ":";
        if (padded.find(std::string(":") + dir + ":") == std::string::npos) {
            path += path.empty() ? dir : std::string(":") + dir;
        }
    }
    return "PATH=" + path;
}

Error start_error(const std::string& what, const ContainerdPaths& paths) {
    std::string message = what;
    const std::string tail = log_tail(paths.log);
    if (!tail.empty()) message += "\nlast lines of " + paths.log.string() + ":\n" + tail;
    return Error(ExitCode::kCluster, "CONTAINERD_START_FAILED", message,
                 "see " + paths.log.string() + " and the config " + paths.config.string());
}

}  // namespace

ContainerdPaths containerd_paths(const ContainerdOptions& options) {
    const stdfs::path& data = options.data_dir;
    ContainerdPaths paths;
    paths.config = data / "containerd.toml";
    paths.socket = data / "containerd.sock";
    paths.root = data / "root";
    paths.state = data / "state";
    paths.log = data / "containerd.log";
    paths.cni_conf_dir =
        options.cni_conf_dir.empty() ? data / "cni" / "net.d" : options.cni_conf_dir;
    return paths;
}

bool effective_capability(const std::string& proc_status, int cap) {
    std::istringstream lines(proc_status);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("CapEff:", 0) != 0) continue;
        try {
            const std::uint64_t mask = std::stoull(line.substr(7), nullptr, 16);
            return cap >= 0 && cap < 64 && ((mask >> cap) & 1U) != 0;
        } catch (const std::exception&) {
            return false;
        }
    }
    return false;
}

HostFacts HostFacts::detect() {
    HostFacts facts;
    facts.cap_sys_resource =
        effective_capability(read_small_file("/proc/self/status"), kCapSysResource);
    facts.apparmor_enabled =
        read_small_file("/sys/module/apparmor/parameters/enabled").rfind("Y", 0) == 0;
    return facts;
}

std::string render_containerd_config(const ContainerdOptions& options, const ContainerdPaths& paths,
                                     const HostFacts& host) {
    const std::string cri = "[plugins.\"io.containerd.grpc.v1.cri\"";
    std::ostringstream out;
    out << "# Written by kcube for the node's own containerd; rewritten at every start.\n"
        << "version = 2\n"
        << "root = " << quote(paths.root) << "\n"
        << "state = " << quote(paths.state)
        << "\n"
        // Fail at start-up rather than serve without the one plugin the kubelet talks to.
        << "required_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        << "disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", "
           "\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
           "\"io.containerd.snapshotter.v1.devmapper\"]\n\n"
        << "[grpc]\n"
        << "  address = " << quote(paths.socket) << "\n\n"
        << "[ttrpc]\n"
        << "  address = " << quote(paths.socket.string() + ".ttrpc") << "\n\n"
        << "[plugins]\n"
        << "  [plugins.\"io.containerd.internal.v1.opt\"]\n"
        << "    path = " << quote(options.data_dir / "opt") << "\n\n"
        << "  " << cri << "]\n"
        << "    sandbox_image = " << quote(options.sandbox_image)
        << "\n"
        // exec/attach/port-forward URLs: loopback only, on a port the kernel picks.
        << "    stream_server_address = \"127.0.0.1\"\n"
        << "    stream_server_port = \"0\"\n"
        << "    enable_selinux = false\n"
        << "    restrict_oom_score_adj = " << (host.cap_sys_resource ? "false" : "true") << "\n"
        << "    disable_apparmor = " << (host.apparmor_enabled ? "false" : "true")
        << "\n"
        // Pod network namespaces under our state dir, not /var/run/netns.
        << "    netns_mounts_under_state_dir = true\n\n"
        << "    " << cri << ".containerd]\n"
        << "      snapshotter = \"overlayfs\"\n"
        << "      default_runtime_name = \"runc\"\n\n"
        << "      " << cri << ".containerd.runtimes.runc]\n"
        << "        runtime_type = \"io.containerd.runc.v2\"\n\n"
        << "        " << cri << ".containerd.runtimes.runc.options]\n"
        << "          SystemdCgroup = " << (options.systemd_cgroup ? "true" : "false") << "\n"
        << "          Root = " << quote(paths.state / "runc") << "\n\n"
        << "    " << cri << ".cni]\n"
        << "      bin_dir = " << quote(options.cni_bin_dir) << "\n"
        << "      conf_dir = " << quote(paths.cni_conf_dir) << "\n"
        << "      max_conf_num = 1\n";
    return out.str();
}

// Owns the monitor thread, which starts containerd, waits for it to exit, and starts it again;
// all process handling happens on that thread (it is also the thread the kernel watches for
// PR_SET_PDEATHSIG). Other threads only read the published state and ask it to stop.
struct Containerd::Supervisor {
    explicit Supervisor(ContainerdOptions opts)
        : options(std::move(opts)), paths(containerd_paths(options)) {
        spawn.argv = {options.containerd_program, "--config", paths.config.string(), "--log-level",
                      options.log_level};
        spawn.env = {child_path_env()};
        spawn.output = paths.log;
        spawn.die_with_parent = true;
        stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stop_fd < 0) throw Error(ExitCode::kHost, "HOST_IO", "eventfd: " + errno_text(errno));
    }

    ~Supervisor() {
        if (thread.joinable()) {
            const std::uint64_t one = 1;
            [[maybe_unused]] auto written = ::write(stop_fd, &one, sizeof one);
            thread.join();
        }
        ::close(stop_fd);
    }

    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Directories, config, and a check that nobody else serves this data dir.
    void prepare() {
        if (find_program(options.containerd_program) == std::nullopt) {
            throw Error(ExitCode::kHost, "CONTAINERD_MISSING",
                        options.containerd_program + " is not installed (not found in PATH)",
                        "install containerd, runc and containernetworking-plugins "
                        "(scripts/install-deps.sh)");
        }
        const std::string ttrpc = paths.socket.string() + ".ttrpc";
        if (ttrpc.size() >= sizeof(sockaddr_un{}.sun_path)) {
            throw Error(ExitCode::kHost, "HOST_PATH_TOO_LONG",
                        "containerd's socket path " + ttrpc + " is longer than the " +
                            std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                            " bytes a unix socket allows",
                        "use a shorter data directory (KCUBE_HOME)");
        }
        fs::ensure_dir(options.data_dir);
        fs::ensure_dir(paths.root);
        fs::ensure_dir(paths.state);
        fs::ensure_dir(paths.cni_conf_dir, 0755);
        if (socket_answers(paths.socket)) {
            throw Error(ExitCode::kCluster, "CONTAINERD_ALREADY_RUNNING",
                        "a containerd already serves " + paths.socket.string(),
                        "stop the other kcube node using " + options.data_dir.string());
        }
        std::error_code ignored;
        stdfs::remove(paths.socket, ignored);  // stale, from a containerd that was killed
        stdfs::remove(ttrpc, ignored);
        if (stdfs::file_size(paths.log, ignored) > kLogRotateBytes) {
            stdfs::rename(paths.log, paths.log.string() + ".1", ignored);
        }
        const HostFacts host = HostFacts::detect();
        fs::write_file_atomic(paths.config, render_containerd_config(options, paths, host), 0644);
    }

    // Returns once the CRI is ready; throws what went wrong otherwise.
    void wait_started() {
        cri::CriClient client({paths.socket, kProbeTimeout, kProbeTimeout});
        const auto deadline = Clock::now() + options.start_timeout;
        std::string last_problem = "no answer on " + paths.socket.string();
        for (;;) {
            {
                std::lock_guard lock(mutex);
                if (failure) std::rethrow_exception(failure);
            }
            if (probe(client, last_problem)) {
                std::lock_guard lock(mutex);
                if (failure) std::rethrow_exception(failure);
                accepted = true;
                return;
            }
            if (Clock::now() >= deadline) {
                throw start_error("containerd did not become ready within " +
                                      std::to_string(options.start_timeout.count()) +
                                      " ms: " + last_problem,
                                  paths);
            }
            std::unique_lock lock(mutex);
            changed.wait_for(lock, kProbeInterval, [&] { return failure != nullptr; });
        }
    }

    // One readiness check: Version answers and Status says RuntimeReady.
    bool probe(cri::CriClient& client, std::string& problem) {
        std::error_code ignored;
        if (!stdfs::exists(paths.socket, ignored)) return false;
        try {
            auto reported = client.version();
            const auto status = client.status();
            if (status.runtime_ready()) {
                std::lock_guard lock(mutex);
                version = std::move(reported);
                return true;
            }
            const auto* condition = status.find("RuntimeReady");
            problem = condition == nullptr ? "the CRI reports no RuntimeReady condition"
                                           : "RuntimeReady is false: " + condition->reason + " " +
                                                 condition->message;
        } catch (const cri::CriError& e) {
            problem = e.what();
        }
        return false;
    }

    // Sleeps up to `delay`; true when asked to stop meanwhile.
    bool stop_requested_within(milliseconds delay) const {
        pollfd fd{stop_fd, POLLIN, 0};
        int ready;
        do {
            ready = ::poll(&fd, 1, static_cast<int>(delay.count()));
        } while (ready < 0 && errno == EINTR);
        return ready > 0;
    }

    void fail(std::exception_ptr error) {
        std::lock_guard lock(mutex);
        failure = std::move(error);
        changed.notify_all();
    }

    // The monitor thread.
    void run() {
        milliseconds backoff = kFirstBackoff;
        for (;;) {
            ChildProcess child;
            try {
                child = ChildProcess::spawn(spawn);
            } catch (const std::exception& e) {
                if (!is_accepted()) return fail(std::current_exception());
                spdlog::error("containerd: cannot restart it: {}", e.what());
            }
            const auto started = Clock::now();
            if (child.running()) {
                publish_pid(child.pid());
                spdlog::info("containerd started (pid {}, socket {})", child.pid(),
                             paths.socket.string());
                pollfd fds[2] = {{child.pidfd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
                while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
                }
                if ((fds[1].revents & POLLIN) != 0) {
                    const ExitStatus status = child.terminate(options.stop_timeout);
                    publish_pid(-1);
                    spdlog::info("containerd stopped ({})", status.describe());
                    return;
                }
                const ExitStatus status = child.wait();
                publish_pid(-1);
                if (!is_accepted()) {
                    return fail(std::make_exception_ptr(start_error(
                        "containerd exited during start-up (" + status.describe() + ")", paths)));
                }
                {
                    std::lock_guard lock(mutex);
                    ++restarts;
                }
                if (Clock::now() - started > kHealthyRun) backoff = kFirstBackoff;
                spdlog::warn("containerd exited ({}); starting it again in {} ms (log: {})",
                             status.describe(), backoff.count(), paths.log.string());
            }
            if (stop_requested_within(backoff)) return;
            backoff = std::min(backoff * 2, kLongestBackoff);
        }
    }

    bool is_accepted() {
        std::lock_guard lock(mutex);
        return accepted;
    }

    void publish_pid(pid_t value) {
        std::lock_guard lock(mutex);
        pid = value;
        changed.notify_all();
    }

    ContainerdOptions options;
    ContainerdPaths paths;
    SpawnOptions spawn;
    int stop_fd = -1;
    std::thread thread;

    mutable std::mutex mutex;
    std::condition_variable changed;
    cri::RuntimeVersion version;
    pid_t pid = -1;
    int restarts = 0;
    bool accepted = false;  // start-up succeeded: from now on a death means a restart
    std::exception_ptr failure;
};

Containerd::Containerd(ContainerdOptions options)
    : supervisor_(std::make_unique<Supervisor>(std::move(options))) {
    Supervisor& s = *supervisor_;
    s.prepare();
    const auto begin = Clock::now();
    s.thread = std::thread([&s] { s.run(); });
    // On failure the Supervisor's destructor stops the thread and whatever it started.
    s.wait_started();
    spdlog::info("containerd {} ready in {} ms", s.version.runtime_version,
                 std::chrono::duration_cast<milliseconds>(Clock::now() - begin).count());
}

Containerd::~Containerd() = default;

const ContainerdPaths& Containerd::paths() const {
    return supervisor_->paths;
}

cri::RuntimeVersion Containerd::version() const {
    std::lock_guard lock(supervisor_->mutex);
    return supervisor_->version;
}

pid_t Containerd::pid() const {
    std::lock_guard lock(supervisor_->mutex);
    return supervisor_->pid;
}

int Containerd::restarts() const {
    std::lock_guard lock(supervisor_->mutex);
    return supervisor_->restarts;
}

bool Containerd::wait_ready(milliseconds timeout) {
    Supervisor& s = *supervisor_;
    cri::CriClient client({s.paths.socket, kProbeTimeout, kProbeTimeout});
    const auto deadline = Clock::now() + timeout;
    std::string problem;
    while (!s.probe(client, problem)) {
        if (Clock::now() >= deadline) return false;
        std::unique_lock lock(s.mutex);
        s.changed.wait_for(lock, kProbeInterval);
    }
    return true;
}

std::vector<std::string> Containerd::import_image(const stdfs::path& tarball) {
    const Supervisor& s = *supervisor_;
    if (!find_program(s.options.ctr_program)) {
        throw Error(ExitCode::kHost, "CTR_MISSING",
                    "cannot import " + tarball.string() + ": " + s.options.ctr_program +
                        " (containerd's client) is not installed",
                    "install containerd (scripts/install-deps.sh)");
    }
    std::error_code ec;
    if (!stdfs::is_regular_file(tarball, ec)) {
        throw Error(ExitCode::kNotFound, "IMAGE_FILE_NOT_FOUND",
                    "image tarball " + tarball.string() + " does not exist");
    }
    const auto result = run_and_capture(
        {s.options.ctr_program, "--address", s.paths.socket.string(), "--namespace", "k8s.io",
         "images", "import", "--snapshotter", "overlayfs", tarball.string()},
        kImportTimeout);
    if (!result.status.exited() || result.status.code() != 0) {
        throw Error(ExitCode::kCluster, "IMAGE_IMPORT_FAILED",
                    "importing " + tarball.string() + " failed (" + result.status.describe() +
                        "): " + result.output);
    }
    // ctr prints "unpacking NAME (sha256:...)...done" for each image it imported.
    std::vector<std::string> names;
    std::istringstream lines(result.output);
    std::string word;
    while (lines >> word) {
        if (word == "unpacking" && lines >> word) names.push_back(word);
    }
    if (names.empty()) {
        throw Error(ExitCode::kCluster, "IMAGE_IMPORT_EMPTY",
                    tarball.string() + " held no named image (ctr output: " + result.output + ")",
                    "an OCI layout's index needs an io.containerd.image.name annotation");
    }
    return names;
}

}  // namespace kcube::kubelet
