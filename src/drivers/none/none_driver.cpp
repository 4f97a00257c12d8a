#include "drivers/none/none_driver.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "cluster/kubelet/cni_config.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "cluster/proxy/proxy.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/net.hpp"
#include "config/extra_config.hpp"
#include "config/profile.hpp"
#include "drivers/host.hpp"
#include "drivers/none/host_cleanup.hpp"

namespace kcube::drivers::none {
namespace stdfs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kDriverName = "none";
// Below every VM and container driver (they register with priorities from 10 up).
constexpr int kPriority = 1;
constexpr int kPreferredPort = 8443;
constexpr auto kStopGrace = std::chrono::seconds(90);
constexpr const char* kInstallFix =
    "sudo apt-get install -y containerd runc containernetworking-plugins";

const std::vector<std::string>& cni_plugins() {
    static const std::vector<std::string> plugins = {"bridge", "host-local", "portmap", "loopback"};
    return plugins;
}

// Where the distribution put the CNI plugins: Debian/Ubuntu /usr/lib/cni, upstream /opt/cni/bin.
std::optional<stdfs::path> cni_bin_dir() {
    for (const stdfs::path dir : {"/usr/lib/cni", "/opt/cni/bin"}) {
        bool all = true;
        for (const auto& plugin : cni_plugins())
            all = all && ::access((dir / plugin).c_str(), X_OK) == 0;
        if (all) return dir;
    }
    return std::nullopt;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

stdfs::path self_executable() {
    std::error_code ec;
    auto self = stdfs::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw Error(ExitCode::kHost, "HOST_NO_SELF",
                    "cannot find the kcube binary (/proc/self/exe): " + ec.message());
    }
    return self;
}

Error not_running(const std::string& profile, const std::string& why) {
    return Error(ExitCode::kCluster, "CLUSTER_NOT_RUNNING",
                 "the \"" + profile + "\" cluster is not running (" + why + ")",
                 "Start it with: kcube start -p " + profile);
}

Error needs_root(const std::string& command) {
    return Error(ExitCode::kHost, "HOST_PERMISSION",
                 "the none driver's node runs as root, so " + command + " needs root too",
                 "sudo -E kcube " + command);
}

}  // namespace

Health check_health() {
    Health health;
    std::vector<std::string> missing;
    for (const std::string program : {"containerd", "containerd-shim-runc-v2", "runc", "ctr"}) {
        if (!find_in_path(program)) missing.push_back(program);
    }
    if (!cni_bin_dir()) {
        missing.push_back("the CNI plugins (" + join(cni_plugins(), ", ") +
                          " in /usr/lib/cni or /opt/cni/bin)");
    }
    const bool firewall = find_in_path("iptables") || find_in_path("nft");
    if (!missing.empty() || !firewall) {
        std::string fix = kInstallFix;
        if (!firewall) {
            missing.push_back("iptables (or nft)");
            fix += " iptables";
        }
        health.reason = "the none driver needs " + join(missing, ", ") + " (not found in PATH)";
        health.fix = fix;
        return health;
    }
    health.installed = true;
    if (!running_as_root()) {
        health.reason = "the none driver needs root";
        health.fix = "sudo -E kcube start --driver=none";
        return health;
    }
    health.healthy = true;
    return health;
}

DriverEntry driver_entry() {
    DriverEntry entry;
    entry.name = kDriverName;
    entry.priority = kPriority;
    entry.check = check_health;
    entry.open = [](const KcubeHome& home, const std::string& profile) {
        return std::unique_ptr<Driver>(new NoneDriver(home, profile));
    };
    entry.chosen_because =
        "no VM or container driver works on this machine, so the node runs directly on this "
        "host (as root)";
    return entry;
}

// ---- machine.json ---------------------------------------------------------------------------

std::string to_json(const MachineRecord& record) {
    json::object object{{"driver", kDriverName},    {"port", record.port},
                        {"nodeIP", record.node_ip}, {"nodeName", record.node_name},
                        {"pid", record.pid},        {"pidStartTime", record.pid_start_time}};
    return json::serialize(object) + "\n";
}

MachineRecord machine_record_from_json(const std::string& text, const std::string& origin) {
    try {
        const auto value = json::parse(text);
        const auto& o = value.as_object();
        MachineRecord record;
        record.port = json::value_to<int>(o.at("port"));
        record.node_ip = json::value_to<std::string>(o.at("nodeIP"));
        record.node_name = json::value_to<std::string>(o.at("nodeName"));
        record.pid = json::value_to<int>(o.at("pid"));
        record.pid_start_time = json::value_to<unsigned long long>(o.at("pidStartTime"));
        return record;
    } catch (const std::exception& e) {
        throw Error(ExitCode::kState, "MACHINE_CORRUPT",
                    origin + ": not a machine record (" + e.what() + ")",
                    "Remove the cluster with kcube delete, then start it again.");
    }
}

// ---- the driver -----------------------------------------------------------------------------

NoneDriver::NoneDriver(KcubeHome home, std::string profile)
    : home_(std::move(home)), profile_(std::move(profile)) {}

stdfs::path NoneDriver::data_dir() const {
    return home_.profile_dir(profile_) / "node";
}

stdfs::path NoneDriver::machine_file() const {
    return home_.profile_dir(profile_) / "machine.json";
}

stdfs::path NoneDriver::node_log() const {
    return home_.profile_logs_dir(profile_) / "node.log";
}

stdfs::path NoneDriver::containerd_socket() const {
    // The node runs its containerd with data dir <data>/containerd (kubelet::ContainerdPaths).
    return data_dir() / "containerd" / "containerd.sock";
}

std::optional<MachineRecord> NoneDriver::load_record() const {
    const auto file = machine_file();
    if (!stdfs::exists(file)) return std::nullopt;
    return machine_record_from_json(fs::read_file(file), file.string());
}

void NoneDriver::save_record(const MachineRecord& record) const {
    fs::write_file_atomic(machine_file(), to_json(record), 0600);
}

MachineState NoneDriver::state() const {
    const auto record = load_record();
    if (!record) return MachineState::kNonexistent;
    if (record->pid > 0 && ProcessHandle::open(record->pid, record->pid_start_time)) {
        return MachineState::kRunning;
    }
    return MachineState::kStopped;
}

Endpoint NoneDriver::api_endpoint() const {
    const auto record = load_record();
    if (!record) {
        throw Error(ExitCode::kNotFound, "MACHINE_NOT_FOUND",
                    "the \"" + profile_ + "\" cluster has no machine yet",
                    "Create it with: kcube start -p " + profile_);
    }
    // Loopback, not the node IP: the node listens on every address, and a kubeconfig that
    // names 127.0.0.1 keeps working when the host's network (and so its address) changes.
    return {"127.0.0.1", record->port};
}

std::string NoneDriver::node_ip() const {
    const auto record = load_record();
    if (!record) {
        throw Error(ExitCode::kNotFound, "MACHINE_NOT_FOUND",
                    "the \"" + profile_ + "\" cluster has no machine yet",
                    "Create it with: kcube start -p " + profile_);
    }
    return record->node_ip;
}

Endpoint NoneDriver::node_port_endpoint(int node_port) const {
    return {node_ip(), node_port};
}

AdminAccess NoneDriver::admin_access() const {
    AdminAccess access;
    access.endpoint = api_endpoint();
    const auto pki = data_dir() / "pki";  // written by the node on its first start
    access.ca_cert = pki / "ca.crt";
    access.client_cert = pki / "admin.crt";
    access.client_key = pki / "admin.key";
    access.node_name = load_record()->node_name;
    return access;
}

void NoneDriver::create() {
    if (load_record()) return;
    MachineRecord record;
    record.port = tcp_port_free(kPreferredPort) ? kPreferredPort : any_free_tcp_port();
    record.node_ip = net::default_route_ipv4();
    if (record.node_ip.empty()) record.node_ip = "127.0.0.1";
    record.node_name = net::host_name();
    fs::ensure_dir(data_dir(), 0700);
    save_record(record);
}

std::optional<std::string> NoneDriver::other_running_profile() const {
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(home_.profiles_dir(), ec)) {
        const std::string name = entry.path().filename().string();
        if (name == profile_ || !stdfs::exists(entry.path() / "machine.json")) continue;
        try {
            if (NoneDriver(home_, name).state() == MachineState::kRunning) return name;
        } catch (const Error&) {
            // A corrupt record elsewhere is that profile's problem, not this one's.
        }
    }
    return std::nullopt;
}

void NoneDriver::start() {
    create();
    auto record = *load_record();
    if (record.pid > 0 && ProcessHandle::open(record.pid, record.pid_start_time)) return;
    if (auto other = other_running_profile()) {
        // One pod network (bridge kcube0, CNI network kcube) per host.
        throw Error(ExitCode::kDriver, "DRV_NONE_IN_USE",
                    "the none driver runs one cluster per host, and profile \"" + *other +
                        "\" is running on it",
                    "Stop it first: kcube stop -p " + *other);
    }
    if (other_node_running(data_dir())) {
        spdlog::warn(
            "another kcube node runs on this host; its pods share the {} bridge and pod "
            "range with this cluster's, so their addresses may collide",
            kubelet::CniNetwork{}.bridge);
    }
    if (!tcp_port_free(record.port)) {
        const int port = any_free_tcp_port();
        spdlog::warn("port {} is taken on this host; the API server moves to port {}", record.port,
                     port);
        record.port = port;
    }
    const std::string ip = net::default_route_ipv4();
    if (!ip.empty()) record.node_ip = ip;
    fs::ensure_dir(data_dir(), 0700);
    fs::ensure_dir(node_log().parent_path(), 0700);
    std::vector<std::string> argv = {self_executable().string(),
                                     "node",
                                     "run",
                                     "--data-dir",
                                     data_dir().string(),
                                     "--listen-address",
                                     "0.0.0.0",
                                     "--port",
                                     std::to_string(record.port),
                                     "--node-ip",
                                     record.node_ip,
                                     "--node-name",
                                     record.node_name};
    if (auto dir = cni_bin_dir()) {
        argv.push_back("--cni-bin-dir");
        argv.push_back(dir->string());
    }
    if (config::profile_exists(home_, profile_)) {
        for (auto& arg : config::extra_config_node_args(
                 config::load_cluster_config(home_, profile_).extra_config))
            argv.push_back(std::move(arg));
    }
    spdlog::info("starting the node: {}", join(argv, " "));
    const pid_t pid = spawn_detached(argv, node_log());
    const auto info = read_process(pid);
    record.pid = pid;
    record.pid_start_time = info ? info->start_time : 0;
    save_record(record);
}

void NoneDriver::stop() {
    auto record = load_record();
    if (!record || record->pid <= 0) return;
    if (auto node = ProcessHandle::open(record->pid, record->pid_start_time)) {
        if (!running_as_root()) throw needs_root("stop");
        // The node stops its pods, then its containerd, on SIGTERM.
        node->signal(SIGTERM);
        if (!node->wait_exit(kStopGrace)) {
            spdlog::warn("the node (pid {}) did not stop within {} s; killing it", node->pid(),
                         kStopGrace.count());
            node->signal(SIGKILL);
            node->wait_exit(std::chrono::seconds(10));
        }
    }
    // A node that was killed leaves its Service rules behind (one that stops removes them).
    if (running_as_root() && !other_node_running(data_dir())) remove_service_rules();
    record->pid = 0;
    record->pid_start_time = 0;
    save_record(*record);
}

void NoneDriver::remove() {
    const bool had_machine = stdfs::exists(machine_file());
    const auto data = data_dir();
    // The node's state belongs to root (containers' files, mounts); only root can remove it.
    const bool ran = stdfs::exists(data);
    if (ran && !running_as_root()) throw needs_root("delete");
    // Read before anything goes: the CNI container ids of this node's pods.
    const auto ours = sandbox_ids(data);
    if (had_machine) {
        try {
            stop();
        } catch (const Error& e) {
            // A corrupt record must not keep a delete from cleaning up what is on disk.
            spdlog::warn("stopping the node: {}", e.what());
        }
    }
    if (ran) {
        const int killed = kill_leftovers(data);
        if (killed > 0) spdlog::info("removed {} leftover containers and processes", killed);
        const auto busy = unmount_all_under(data);
        if (!busy.empty()) {
            throw Error(ExitCode::kHost, "HOST_MOUNT_BUSY", "cannot unmount " + join(busy, ", "),
                        "Stop what uses them (see `fuser -m PATH`), then run kcube delete again.");
        }
        cleanup_network(ours);
    }
    const auto left = remove_tree(home_.profile_dir(profile_));
    if (!left.empty()) {
        throw Error(ExitCode::kHost, "HOST_REMOVE_FAILED", "could not remove " + join(left, ", "),
                    "Remove them by hand (check `grep " + data.string() +
                        " /proc/self/mountinfo` first), then run kcube delete again.");
    }
}

void NoneDriver::cleanup_network(const std::set<std::string>& ours) const {
    // The pod network (bridge kcube0, CNI network "kcube") is one per host. What our pods added
    // goes in any case; the bridge, the shared chains and stale entries go only when nothing
    // else uses the network: no other kcube node runs and no other pod has rules in it.
    const kubelet::CniNetwork network;
    auto others = host_cni_rule_ids(network.name);
    for (const auto& id : ours)
        others.erase(id);
    const bool alone =
        others.empty() && !other_node_running(data_dir()) && !other_running_profile();
    if (!alone) {
        spdlog::info("the {} network is in use by others: removing only this node's entries",
                     network.name);
    }
    const std::set<std::string>* only = alone ? nullptr : &ours;
    for (const auto& problem : remove_cni_iptables_rules(network.name, only))
        spdlog::warn("{}", problem);
    remove_cni_cache(network.name, ours, alone);
    if (alone) remove_service_rules();
    if (alone && delete_bridge(network.bridge)) spdlog::info("deleted bridge {}", network.bridge);
}

void NoneDriver::remove_service_rules() const {
    try {
        if (proxy::remove_rules()) spdlog::info("removed the service proxy's nftables rules");
    } catch (const Error& e) {
        spdlog::warn("removing the service proxy's rules: {}", e.what());
    }
}

// ---- images ---------------------------------------------------------------------------------

void NoneDriver::require_runtime() const {
    if (state() != MachineState::kRunning) throw not_running(profile_, "its node is stopped");
    if (!stdfs::exists(containerd_socket())) {
        throw not_running(profile_,
                          "its containerd has no socket at " + containerd_socket().string());
    }
}

namespace {

// An OCI layout directory as a tar file (what ctr imports).
class TarOfDirectory {
  public:
    TarOfDirectory(const stdfs::path& dir, stdfs::path tar) : tar_(std::move(tar)) {
        std::unique_ptr<archive, decltype(&archive_write_free)> out(archive_write_new(),
                                                                    &archive_write_free);
        archive_write_set_format_pax_restricted(out.get());
        fs::ensure_dir(tar_.parent_path(), 0700);
        if (archive_write_open_filename(out.get(), tar_.c_str()) != ARCHIVE_OK) {
            throw Error(ExitCode::kHost, "HOST_IO",
                        "cannot write " + tar_.string() + ": " + archive_error_string(out.get()));
        }
        std::error_code ec;
        for (auto it = stdfs::recursive_directory_iterator(dir, ec);
             !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
            add(out.get(), it->path(), it->path().lexically_relative(dir).string());
        }
        if (ec) {
            throw Error(ExitCode::kHost, "HOST_IO",
                        "cannot read " + dir.string() + ": " + ec.message());
        }
        archive_write_close(out.get());
    }
    ~TarOfDirectory() {
        std::error_code ec;
        stdfs::remove(tar_, ec);
    }
    TarOfDirectory(const TarOfDirectory&) = delete;
    TarOfDirectory& operator=(const TarOfDirectory&) = delete;
    const stdfs::path& path() const { return tar_; }

  private:
    static void add(archive* out, const stdfs::path& file, const std::string& name) {
        struct stat st {};
        if (::lstat(file.c_str(), &st) != 0) return;
        std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                            &archive_entry_free);
        archive_entry_set_pathname(entry.get(), name.c_str());
        archive_entry_copy_stat(entry.get(), &st);
        if (S_ISLNK(st.st_mode)) {
            std::error_code ec;
            archive_entry_set_symlink(entry.get(), stdfs::read_symlink(file, ec).c_str());
        }
        archive_write_header(out, entry.get());
        if (!S_ISREG(st.st_mode)) return;
        std::ifstream in(file, std::ios::binary);
        char buffer[1 << 16];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
            archive_write_data(out, buffer, static_cast<size_t>(in.gcount()));
        }
    }
    stdfs::path tar_;
};

// ctr prints "unpacking NAME (sha256:...)...done" for each image it imported.
std::vector<std::string> imported_names(const std::string& output) {
    std::vector<std::string> names;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        constexpr std::string_view kPrefix = "unpacking ";
        if (line.rfind(kPrefix, 0) != 0) continue;
        const size_t end = line.find(" (", kPrefix.size());
        names.push_back(line.substr(
            kPrefix.size(), end == std::string::npos ? std::string::npos : end - kPrefix.size()));
    }
    return names;
}

}  // namespace

std::vector<std::string> NoneDriver::load_image(const stdfs::path& source) {
    std::error_code ec;
    if (!stdfs::exists(source, ec)) {
        throw Error(ExitCode::kNotFound, "FILE_NOT_FOUND", source.string() + " does not exist");
    }
    std::optional<TarOfDirectory> tar;
    stdfs::path archive_file = source;
    if (stdfs::is_directory(source, ec)) {
        if (!stdfs::exists(source / "oci-layout") || !stdfs::exists(source / "index.json")) {
            throw Error(ExitCode::kUsage, "IMAGE_NOT_OCI_LAYOUT",
                        source.string() +
                            " is not an OCI image layout (no oci-layout and "
                            "index.json files in it)",
                        "Give an OCI layout directory, or an image archive (.tar) made by "
                        "`docker save` or `podman save`.");
        }
        tar.emplace(source,
                    home_.cache_dir() / ("image-load-" + std::to_string(::getpid()) + ".tar"));
        archive_file = tar->path();
    }
    require_runtime();
    const auto result = run_tool({"ctr", "--address", containerd_socket().string(), "--namespace",
                                  "k8s.io", "images", "import", archive_file.string()},
                                 {}, std::chrono::minutes(10));
    if (!result.ok()) {
        throw Error(ExitCode::kCluster, "IMAGE_LOAD_FAILED",
                    "importing " + source.string() + " failed: " + result.err + result.out,
                    "Check that it is a docker-archive or OCI image archive.");
    }
    auto names = imported_names(result.out);
    if (names.empty()) {
        throw Error(ExitCode::kUsage, "IMAGE_NO_NAME",
                    source.string() + " holds no named image, so nothing was imported",
                    "An OCI archive must name its image: the manifest descriptor in index.json "
                    "needs an io.containerd.image.name (or org.opencontainers.image.ref.name) "
                    "annotation. Archives made by `docker save` name theirs.");
    }
    return names;
}

std::vector<ImageInfo> NoneDriver::list_images() {
    require_runtime();
    kubelet::cri::CriClient cri({containerd_socket(), std::chrono::seconds(30)});
    std::vector<ImageInfo> out;
    try {
        for (const auto& image : cri.list_images()) {
            ImageInfo info;
            info.id = image.id();
            info.repo_tags.assign(image.repo_tags().begin(), image.repo_tags().end());
            info.repo_digests.assign(image.repo_digests().begin(), image.repo_digests().end());
            info.size = image.size();
            out.push_back(std::move(info));
        }
    } catch (const kubelet::cri::CriError& e) {
        if (e.unavailable()) throw not_running(profile_, "its containerd does not answer");
        throw Error(ExitCode::kCluster, "IMAGE_LIST_FAILED", e.what());
    }
    return out;
}

void NoneDriver::remove_image(const std::string& reference) {
    require_runtime();
    kubelet::cri::CriClient cri({containerd_socket(), std::chrono::seconds(30)});
    try {
        if (!cri.image_status(reference)) {
            throw Error(ExitCode::kNotFound, "IMAGE_NOT_FOUND",
                        "no image \"" + reference + "\" in the \"" + profile_ + "\" cluster",
                        "List the images with: kcube image ls -p " + profile_);
        }
        cri.remove_image(reference);
    } catch (const kubelet::cri::CriError& e) {
        if (e.unavailable()) throw not_running(profile_, "its containerd does not answer");
        throw Error(ExitCode::kCluster, "IMAGE_REMOVE_FAILED", e.what());
    }
}

}  // namespace kcube::drivers::none
