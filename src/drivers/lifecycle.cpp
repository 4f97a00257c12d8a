#include "drivers/lifecycle.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "bootstrap/api_client.hpp"
#include "bootstrap/kubeconfig.hpp"
#include "bootstrap/kubectl_context.hpp"
#include "common/error.hpp"
#include "config/extra_config.hpp"
#include "config/profile.hpp"
#include "config/settings.hpp"
#include "drivers/registry.hpp"

namespace kcube::lifecycle {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// The API server answers /readyz in well under a second; poll it often.
constexpr milliseconds kReadyzInterval{50};
constexpr milliseconds kNodeInterval{200};
constexpr milliseconds kCallTimeout{2000};
constexpr size_t kLogLines = 20;

// "kcube start" for the default profile, "kcube start -p NAME" otherwise (as minikube says it).
std::string command_for(const std::string& action, const std::string& profile) {
    if (profile == config::kDefaultProfile) return "kcube " + action;
    return "kcube " + action + " -p " + profile;
}

// "using the none driver: ..." as a line of its own.
std::string sentence(std::string text) {
    if (!text.empty())
        text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    return text;
}

bootstrap::ApiAccess api_access(const drivers::AdminAccess& admin) {
    return {admin.endpoint.host, admin.endpoint.port, admin.ca_cert, admin.client_cert,
            admin.client_key};
}

std::uintmax_t file_size_or_zero(const stdfs::path& file) {
    std::error_code ec;
    const auto size = stdfs::file_size(file, ec);
    return ec ? 0 : size;
}

// The last `lines` lines of a log file, from byte `from` on (the part one run wrote).
std::string file_tail(const stdfs::path& file, size_t lines, std::uintmax_t from = 0) {
    std::ifstream in(file, std::ios::binary | std::ios::ate);
    if (!in || lines == 0) return {};
    const auto size = static_cast<std::uintmax_t>(in.tellg());
    // Enough bytes for the lines people need to see; a huge log is never read whole.
    const std::uintmax_t window = std::max<std::uintmax_t>(65536, lines * 512);
    std::uintmax_t start = size > window ? size - window : 0;
    start = std::max(start, std::min(from, size));
    in.seekg(static_cast<std::streamoff>(start));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;
    size_t found = 0;
    while (pos > 0) {
        const size_t newline = text.rfind('\n', pos - 1);
        if (newline == std::string::npos) {
            pos = 0;
            break;
        }
        if (++found == lines) {
            pos = newline + 1;
            break;
        }
        pos = newline;
    }
    return text.substr(pos);
}

// The last lines this start wrote to the node's log, for error messages.
std::string log_excerpt(const drivers::Driver& driver, std::uintmax_t from) {
    const std::string text = file_tail(driver.node_log(), kLogLines, from);
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        out += "\n    " + text.substr(start, end - start);
        start = end + 1;
    }
    return out.empty() ? "" : "\n  The end of " + driver.node_log().string() + ":" + out;
}

Error node_exited(const drivers::Driver& driver, const std::string& profile,
                  std::uintmax_t log_from) {
    return Error(ExitCode::kCluster, "CLUSTER_NODE_EXITED",
                 "the node process exited while starting" + log_excerpt(driver, log_from),
                 "Fix what its log says, then run " + command_for("start", profile) +
                     " again (all of it: " + command_for("logs", profile) + ").");
}

void wait_for_apiserver(const drivers::Driver& driver, const bootstrap::ApiAccess& access,
                        const std::string& profile, Clock::time_point deadline,
                        std::uintmax_t log_from) {
    while (true) {
        if (bootstrap::apiserver_ready(access, kCallTimeout)) return;
        if (driver.state() != drivers::MachineState::kRunning) {
            throw node_exited(driver, profile, log_from);
        }
        if (Clock::now() >= deadline) {
            std::string why;
            bootstrap::https_get(access, "/readyz", kCallTimeout, &why);
            throw Error(ExitCode::kCluster, "CLUSTER_APISERVER_TIMEOUT",
                        "the API server at " + access.server_url() +
                            " did not become ready in time (last answer: " +
                            (why.empty() ? "not ready" : why) + ")" + log_excerpt(driver, log_from),
                        "See " + command_for("logs", profile) + "; a stuck node stops with " +
                            command_for("stop", profile) + ".");
        }
        std::this_thread::sleep_for(kReadyzInterval);
    }
}

void wait_for_node_ready(const drivers::Driver& driver, const bootstrap::ApiAccess& access,
                         const std::string& node_name, const std::string& profile,
                         Clock::time_point deadline, std::uintmax_t log_from) {
    while (true) {
        const auto last = bootstrap::node_readiness(access, node_name, kCallTimeout);
        if (last == bootstrap::NodeReadiness::kReady) return;
        if (driver.state() != drivers::MachineState::kRunning) {
            throw node_exited(driver, profile, log_from);
        }
        if (Clock::now() >= deadline) {
            const std::string state =
                last == bootstrap::NodeReadiness::kMissing    ? "it was never registered"
                : last == bootstrap::NodeReadiness::kNotReady ? "it is NotReady"
                                                              : "the API server stopped answering";
            throw Error(ExitCode::kCluster, "CLUSTER_NODE_NOT_READY",
                        "node \"" + node_name + "\" did not become Ready in time (" + state + ")" +
                            log_excerpt(driver, log_from),
                        "See `kubectl describe node " + node_name + "` and " +
                            command_for("logs", profile) + ".");
        }
        std::this_thread::sleep_for(kNodeInterval);
    }
}

std::string machine_state_name(drivers::MachineState state) {
    switch (state) {
        case drivers::MachineState::kRunning:
            return "Running";
        case drivers::MachineState::kStopped:
            return "Stopped";
        case drivers::MachineState::kStarting:
            return "Starting";
        case drivers::MachineState::kStopping:
            return "Stopping";
        case drivers::MachineState::kError:
            return "Error";
        case drivers::MachineState::kNonexistent:
            break;
    }
    return "Nonexistent";
}

}  // namespace

std::unique_ptr<drivers::Driver> open_driver(const KcubeHome& home, const std::string& profile) {
    const auto cluster = config::load_cluster_config(home, profile);
    return drivers::builtin_registry().open(cluster.driver, home, profile);
}

bootstrap::ApiAccess api_access(const drivers::Driver& driver) {
    return api_access(driver.admin_access());
}

std::unique_ptr<drivers::Driver> open_running(const KcubeHome& home, const std::string& profile) {
    auto driver = open_driver(home, profile);
    if (driver->state() != drivers::MachineState::kRunning) {
        throw Error(ExitCode::kCluster, "CLUSTER_NOT_RUNNING",
                    "the \"" + profile + "\" cluster is not running",
                    "Start it with: " + command_for("start", profile));
    }
    return driver;
}

void start(const KcubeHome& home, const StartOptions& options, const Console& console) {
    const std::string& profile = options.profile;
    const auto registry = drivers::builtin_registry();
    std::optional<config::ClusterConfig> existing;
    if (config::profile_exists(home, profile)) {
        existing = config::load_cluster_config(home, profile);
    }
    std::string driver_name;
    if (existing) {
        if (options.driver && *options.driver != existing->driver) {
            throw Error(ExitCode::kDriver, "DRV_MISMATCH",
                        "the existing \"" + profile + "\" cluster was created using the \"" +
                            existing->driver +
                            "\" driver, which is incompatible with requested \"" + *options.driver +
                            "\" driver",
                        "Delete it first (" + command_for("delete", profile) +
                            "), or start it with --driver=" + existing->driver + ".");
        }
        driver_name = registry.select(existing->driver).name;
        console.step("Using the " + driver_name + " driver based on existing profile");
        if (!options.cluster.extra_config.empty()) {
            existing->extra_config =
                config::merge_extra_config(existing->extra_config, options.cluster.extra_config);
            config::save_cluster_config(home, *existing);
        }
    } else {
        // Neither given: the best driver that works here.
        const auto selection =
            registry.select(options.driver ? options.driver : options.default_driver);
        driver_name = selection.name;
        console.step(sentence(selection.why));
        config::ClusterConfig cluster = options.cluster;
        cluster.name = profile;
        cluster.driver = driver_name;
        config::save_cluster_config(home, cluster);
    }
    auto driver = registry.open(driver_name, home, profile);
    const auto deadline = Clock::now() + options.timeout;
    const std::uintmax_t log_from = file_size_or_zero(driver->node_log());
    if (driver->state() == drivers::MachineState::kRunning) {
        console.step("The \"" + profile +
                     "\" cluster is already running; refreshing its kubectl "
                     "context");
    } else {
        console.step("Starting node \"" + profile + "\"");
        driver->create();
        driver->start();
    }
    const auto admin = driver->admin_access();
    const auto access = api_access(*driver);
    console.step("Waiting for the API server");
    wait_for_apiserver(*driver, access, profile, deadline, log_from);
    console.step("Waiting for node to be Ready");
    wait_for_node_ready(*driver, access, admin.node_name, profile, deadline, log_from);
    console.step("Configuring kubectl context");
    const auto kubeconfig_file = kubeconfig::default_path();
    bootstrap::configure_kubectl(kubeconfig_file, profile, access, home.profile_dir(profile),
                                 options.embed_certs);
    auto cluster = config::load_cluster_config(home, profile);
    if (cluster.api_server_url != access.server_url()) {
        cluster.api_server_url = access.server_url();
        config::save_cluster_config(home, cluster);
    }
    console.success("Done! kubectl is now configured to use \"" + profile +
                    "\" cluster and \"default\" namespace by default");
}

void stop(const KcubeHome& home, const std::string& profile, const Console& console) {
    auto driver = open_driver(home, profile);
    console.step("Stopping node \"" + profile + "\"  ...");
    driver->stop();
    console.step("1 node stopped.");
}

int Status::exit_code() const {
    int code = 0;
    if (host != "Running") code |= 1;
    if (kubelet != "Running" || apiserver != "Running") code |= 2;
    if (kubeconfig != "Configured") code |= 4;
    return code;
}

Status status(const KcubeHome& home, const std::string& profile) {
    if (!config::profile_exists(home, profile)) {
        throw Error(ExitCode::kNoCluster, "PROFILE_NOT_FOUND",
                    "Profile \"" + profile +
                        "\" not found. Run \"kcube profile list\" to view all profiles.",
                    "To start a cluster, run: \"" + command_for("start", profile) + "\"");
    }
    auto driver = open_driver(home, profile);
    Status st;
    st.name = profile;
    st.host = machine_state_name(driver->state());
    if (st.host != "Running") {
        // As minikube: a machine that is not running says so for every component.
        st.kubelet = st.apiserver = st.kubeconfig = st.host;
        return st;
    }
    const auto admin = driver->admin_access();
    const auto access = api_access(admin);
    st.apiserver = bootstrap::apiserver_ready(access, kCallTimeout) ? "Running" : "Stopped";
    st.kubelet = st.apiserver == "Running" &&
                         bootstrap::node_readiness(access, admin.node_name, kCallTimeout) ==
                             bootstrap::NodeReadiness::kReady
                     ? "Running"
                     : "Stopped";
    st.kubeconfig =
        bootstrap::kubectl_configured(kubeconfig::default_path(), profile, access.server_url())
            ? "Configured"
            : "Misconfigured";
    return st;
}

namespace {

// The driver that made a profile whose config.json may be gone or corrupt.
std::optional<std::string> driver_of(const KcubeHome& home, const std::string& profile) {
    try {
        return config::load_cluster_config(home, profile).driver;
    } catch (const Error& e) {
        spdlog::info("profile {}: {}", profile, e.what());
    }
    // What a none machine leaves in the profile directory.
    const auto dir = home.profile_dir(profile);
    if (stdfs::exists(dir / "machine.json") || stdfs::exists(dir / "node")) return "none";
    return std::nullopt;
}

}  // namespace

void remove(const KcubeHome& home, const std::string& profile, const Console& console) {
    if (!config::profile_exists(home, profile)) {
        console.step("\"" + profile + "\" profile does not exist, trying anyways.");
    }
    const auto registry = drivers::builtin_registry();
    const auto driver_name = driver_of(home, profile);
    if (driver_name && registry.find(*driver_name) != nullptr) {
        console.step("Deleting \"" + profile + "\" in " + *driver_name + " ...");
        registry.open(*driver_name, home, profile)->remove();
    } else if (stdfs::exists(home.profile_dir(profile))) {
        std::error_code ec;
        stdfs::remove_all(home.profile_dir(profile), ec);
        if (ec) {
            throw Error(
                ExitCode::kHost, "HOST_REMOVE_FAILED",
                "cannot remove " + home.profile_dir(profile).string() + ": " + ec.message());
        }
    }
    kubeconfig::remove(kubeconfig::default_path(), profile);
    // The default profile must not keep naming a cluster that is gone.
    try {
        auto settings = config::Settings::load(home.config_file());
        if (settings.get("profile") == profile) {
            settings.unset("profile");
            settings.save(home.config_file());
        }
    } catch (const Error& e) {
        console.warn(std::string("the profile setting was left as it is: ") + e.what());
    }
    console.step("Removed all traces of the \"" + profile + "\" cluster.");
}

void remove_all(const KcubeHome& home, const Console& console) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(home.profiles_dir(), ec)) {
        if (entry.is_directory()) names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        if (!config::is_valid_profile_name(name)) continue;  // not a directory kcube made
        remove(home, name, console);
    }
    console.step("Successfully deleted all profiles");
}

std::string node_log_tail(const KcubeHome& home, const std::string& profile, size_t lines) {
    return file_tail(open_driver(home, profile)->node_log(), lines);
}

void follow_node_log(const KcubeHome& home, const std::string& profile,
                     const std::function<void(std::string_view)>& out) {
    const auto log = open_driver(home, profile)->node_log();
    std::uintmax_t position = file_size_or_zero(log);
    // inotify wakes us when the node writes; the timeout notices a log that was replaced
    // (a new start) or created after we began.
    const int watch_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    int watch = -1;
    while (true) {
        if (watch < 0 && watch_fd >= 0) {
            watch = ::inotify_add_watch(watch_fd, log.c_str(), IN_MODIFY | IN_ATTRIB);
        }
        const std::uintmax_t size = file_size_or_zero(log);
        if (size < position) position = 0;  // truncated or replaced
        if (size > position) {
            std::ifstream in(log, std::ios::binary);
            in.seekg(static_cast<std::streamoff>(position));
            std::string chunk(static_cast<size_t>(size - position), '\0');
            in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            chunk.resize(static_cast<size_t>(in.gcount()));
            position += chunk.size();
            out(chunk);
        }
        if (watch_fd >= 0 && watch >= 0) {
            pollfd p{watch_fd, POLLIN, 0};
            ::poll(&p, 1, 1000);
            char events[4096];
            while (::read(watch_fd, events, sizeof events) > 0) {
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

}  // namespace kcube::lifecycle
