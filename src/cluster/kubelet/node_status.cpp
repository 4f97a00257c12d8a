#include "cluster/kubelet/node_status.hpp"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/cri/client.hpp"

namespace kcube::kubelet {
namespace {

namespace json = boost::json;
using controllers::canonical_json;
using controllers::child_object;
using controllers::find_condition;
using controllers::object_at;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr const char* kLeaseNamespace = "kube-node-lease";
constexpr const char* kFieldManager = "kubelet";
// Upstream's nodeStatusReportFrequency: an unchanged status is still posted this often.
constexpr auto kReportFrequency = std::chrono::minutes(5);
// Upstream's nodeStatusUpdateRetry.
constexpr int kUpdateRetries = 5;
// Until the node is first Ready, status is checked this often, doubling up to
// status_interval (upstream's fastStatusUpdateOnce), so a node is Ready as soon as its
// runtime is rather than up to one interval later.
constexpr auto kFastCheck = std::chrono::milliseconds(100);
// Upstream's limits on the images listed in the node's status.
constexpr std::size_t kMaxImages = 50;
constexpr int kMaxNamesPerImage = 5;

std::string trimmed(std::string text) {
    const auto end = text.find_last_not_of(" \t\r\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    const auto begin = text.find_first_not_of(" \t\r\n");
    return begin == std::string::npos ? std::string() : text.substr(begin);
}

std::string read_trimmed(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return trimmed(text.str());
}

// PRETTY_NAME from /etc/os-release, unquoted ("Debian GNU/Linux 12 (bookworm)").
std::string os_image() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("PRETTY_NAME=")) continue;
        std::string value = trimmed(line.substr(12));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        return value;
    }
    return "Linux";
}

// GOARCH for uname's machine.
std::string go_arch(const std::string& machine) {
    if (machine == "x86_64") return "amd64";
    if (machine == "aarch64" || machine == "arm64") return "arm64";
    if (machine.starts_with("armv")) return "arm";
    if (machine == "i386" || machine == "i686") return "386";
    return machine;  // ppc64le, s390x, riscv64 are spelled the same
}

// A byte count as a resource.Quantity in BinarySI, as upstream serialises memory and storage:
// the largest of Ki, Mi, Gi, ... that divides it exactly, else plain bytes.
std::string binary_quantity(std::uint64_t bytes) {
    static constexpr const char* kSuffixes[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    if (bytes == 0) return "0";
    int exponent = -1;
    while (exponent + 1 < 6 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++exponent;
    }
    return std::to_string(bytes) + (exponent >= 0 ? kSuffixes[exponent] : "");
}

std::uint64_t memory_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t value = 0;
    std::string unit;
    while (in >> key >> value) {
        std::getline(in, unit);
        if (key == "MemTotal:") return value * 1024;
    }
    return 0;
}

// The size of the file system holding `dir` (its nearest existing ancestor, before the
// kubelet has created it).
std::uint64_t filesystem_bytes(std::filesystem::path dir) {
    std::error_code ec;
    while (!dir.empty() && !std::filesystem::exists(dir, ec) && dir != dir.parent_path())
        dir = dir.parent_path();
    struct statvfs info {};
    if (::statvfs(dir.empty() ? "/" : dir.c_str(), &info) != 0) return 0;
    return static_cast<std::uint64_t>(info.f_blocks) * info.f_frsize;
}

// metav1.MicroTime: "2006-01-02T15:04:05.000000Z".
std::string micro_time(SystemClock::time_point t) {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06lldZ", static_cast<long long>(micros % 1000000));
    return std::string(text, n) + fraction;
}

// What the machine is; it does not change while the node runs.
struct Machine {
    json::object labels;
    json::object capacity;
    json::object node_info;  // without containerRuntimeVersion
};

Machine describe_machine(const NodeStatusOptions& options) {
    Machine m;
    struct utsname uts {};
    ::uname(&uts);
    const std::string arch = go_arch(uts.machine);
    m.labels = {{"beta.kubernetes.io/arch", arch}, {"beta.kubernetes.io/os", "linux"},
                {"kubernetes.io/arch", arch},      {"kubernetes.io/hostname", options.node_name},
                {"kubernetes.io/os", "linux"},     {"node-role.kubernetes.io/control-plane", ""}};
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    m.capacity = {{"cpu", std::to_string(cpus > 0 ? cpus : 1)},
                  {"ephemeral-storage", binary_quantity(filesystem_bytes(options.data_dir))},
                  {"hugepages-1Gi", "0"},
                  {"hugepages-2Mi", "0"},
                  {"memory", binary_quantity(memory_bytes())},
                  {"pods", "110"}};
    m.node_info = {{"machineID", read_trimmed("/etc/machine-id")},
                   {"systemUUID", read_trimmed("/sys/class/dmi/id/product_uuid")},
                   {"bootID", read_trimmed("/proc/sys/kernel/random/boot_id")},
                   {"kernelVersion", std::string(uts.release)},
                   {"osImage", os_image()},
                   {"containerRuntimeVersion", ""},
                   {"kubeletVersion", options.kubelet_version},
                   {"kubeProxyVersion", options.kubelet_version},
                   {"operatingSystem", "linux"},
                   {"architecture", arch}};
    return m;
}

// One kubelet condition as upstream's setters write it.
struct Condition {
    const char* type;
    std::string status;
    std::string reason;
    std::string message;
};

// Go's %v of the kubelet's RuntimeCondition: "NetworkReady=false reason:... message:...".
std::string describe(const cri::RuntimeCondition* condition) {
    if (!condition) return "<nil>";
    return condition->type + "=" + (condition->status ? "true" : "false") +
           " reason:" + condition->reason + " message:" + condition->message;
}

}  // namespace

struct NodeStatusReporter::Impl {
    api::ResourceService& service;
    cri::CriClient& cri;
    NodeStatusOptions options;
    std::shared_ptr<const api::ResourceInfo> nodes;
    std::shared_ptr<const api::ResourceInfo> leases;
    Machine machine;

    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    bool poked = false;
    std::thread thread;

    // Heartbeat thread (and start(), before it runs) only.
    std::string runtime_version;
    std::optional<json::object> lease;  // the last Lease written
    std::string node_uid;               // the Lease's owner
    SteadyClock::time_point last_report{};
    bool ever_ready = false;
    std::chrono::milliseconds fast_check = kFastCheck;

    Impl(api::ResourceService& s, cri::CriClient& c, NodeStatusOptions o)
        : service(s), cri(c), options(std::move(o)), machine(describe_machine(options)) {
        nodes = service.registry().find("", "v1", "nodes");
        leases = service.registry().find("coordination.k8s.io", "v1", "leases");
    }

    api::WriteOptions write_options() const {
        api::WriteOptions w;
        w.field_manager = kFieldManager;
        return w;
    }

    // ---- registration --------------------------------------------------------------------

    json::object new_node() const {
        json::object node{
            {"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata",
             {{"name", options.node_name},
              {"labels", machine.labels},
              {"annotations",
               {{"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
            {"spec", json::object{}}};
        if (!options.pod_cidr.empty()) {
            node["spec"].as_object()["podCIDR"] = options.pod_cidr;
            node["spec"].as_object()["podCIDRs"] = json::array{json::value(options.pod_cidr)};
        }
        return node;
    }

    // Creates the Node, or brings an existing one's labels and pod CIDR up to date while
    // keeping what others wrote (taints, other labels).
    void register_node() {
        try {
            service.create(*nodes, "", new_node(), write_options());
            spdlog::info("node {}: registered", options.node_name);
            return;
        } catch (const api::ApiError& e) {
            if (e.code() != 409) throw;
        }
        for (int attempt = 0;; ++attempt) {
            json::object node = service.get(*nodes, "", options.node_name);
            bool changed = false;
            auto& labels = child_object(api::metadata_of(node), "labels");
            for (const auto& [key, value] : machine.labels) {
                auto it = labels.find(key);
                if (it == labels.end() || it->value() != value) {
                    labels[key] = value;
                    changed = true;
                }
            }
            auto& spec = child_object(node, "spec");
            if (!options.pod_cidr.empty() && !spec.contains("podCIDR")) {
                spec["podCIDR"] = options.pod_cidr;
                spec["podCIDRs"] = json::array{json::value(options.pod_cidr)};
                changed = true;
            }
            if (!changed) return;
            try {
                service.update(*nodes, "", options.node_name, std::move(node), write_options());
                return;
            } catch (const api::ApiError& e) {
                if (e.code() != 409 || attempt + 1 >= kUpdateRetries) throw;
            }
        }
    }

    // ---- status --------------------------------------------------------------------------

    std::vector<Condition> conditions() {
        std::vector<Condition> out{
            {"MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"},
            {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
            {"PIDPressure", "False", "KubeletHasSufficientPID",
             "kubelet has sufficient PID available"},
        };
        std::vector<std::string> errors;
        try {
            const cri::RuntimeStatus status = cri.status();
            const auto* runtime = status.find("RuntimeReady");
            if (!runtime || !runtime->status) {
                errors.push_back("container runtime not ready: " + describe(runtime));
            }
            const auto* network = status.find("NetworkReady");
            if (!network || !network->status) {
                errors.push_back("container runtime network not ready: " + describe(network));
            }
        } catch (const cri::CriError& e) {
            spdlog::debug("node {}: runtime status: {}", options.node_name, e.what());
            errors.push_back("container runtime is down");
        }
        if (errors.empty()) {
            out.push_back({"Ready", "True", "KubeletReady", "kubelet is posting ready status"});
        } else {
            // Upstream's aggregate error: one message as is, several as "[a, b]".
            std::string message = errors.front();
            if (errors.size() > 1) {
                message = "[";
                for (std::size_t i = 0; i < errors.size(); ++i)
                    message += (i ? ", " : "") + errors[i];
                message += "]";
            }
            out.push_back({"Ready", "False", "KubeletNotReady", message});
        }
        return out;
    }

    json::array images() {
        std::vector<cri::v1::Image> list;
        try {
            list = cri.list_images();
        } catch (const cri::CriError& e) {
            spdlog::debug("node {}: listing images: {}", options.node_name, e.what());
            return {};
        }
        std::stable_sort(list.begin(), list.end(),
                         [](const auto& a, const auto& b) { return a.size() > b.size(); });
        json::array out;
        for (const auto& image : list) {
            if (out.size() >= kMaxImages) break;
            json::array names;
            for (const auto& name : image.repo_digests())
                if (names.size() < kMaxNamesPerImage) names.emplace_back(name);
            for (const auto& name : image.repo_tags())
                if (names.size() < kMaxNamesPerImage) names.emplace_back(name);
            out.push_back(json::object{{"names", std::move(names)},
                                       {"sizeBytes", static_cast<std::int64_t>(image.size())}});
        }
        return out;
    }

    // The status fields the kubelet owns, with conditions' lastTransitionTime carried over
    // from `current` while their status stays the same.
    json::object desired_status(const json::object& current, const std::string& now) {
        if (runtime_version.empty()) {
            try {
                const auto version = cri.version();
                runtime_version = version.runtime_name + "://" + version.runtime_version;
            } catch (const cri::CriError& e) {
                spdlog::debug("node {}: runtime version: {}", options.node_name, e.what());
            }
        }
        json::object node_info = machine.node_info;
        node_info["containerRuntimeVersion"] = runtime_version;

        json::array addresses;
        if (!options.node_ip.empty()) {
            addresses.push_back(json::object{{"type", "InternalIP"}, {"address", options.node_ip}});
        }
        addresses.push_back(json::object{{"type", "Hostname"}, {"address", options.node_name}});

        json::array conditions;
        for (const auto& c : this->conditions()) {
            std::string transition = now;
            if (const auto* old = find_condition(current, c.type)) {
                if (api::field_value(*old, "status") == c.status) {
                    transition = api::field_value(*old, "lastTransitionTime");
                }
            }
            conditions.push_back(json::object{{"type", c.type},
                                              {"status", c.status},
                                              {"lastHeartbeatTime", now},
                                              {"lastTransitionTime", transition},
                                              {"reason", c.reason},
                                              {"message", c.message}});
        }
        // Conditions someone else set (NetworkUnavailable, say) stay as they are.
        if (const auto* old = current.if_contains("conditions"); old && old->is_array()) {
            for (const auto& c : old->as_array()) {
                if (!c.is_object()) continue;
                const std::string type = api::field_value(c.as_object(), "type");
                if (type != "Ready" && type != "MemoryPressure" && type != "DiskPressure" &&
                    type != "PIDPressure") {
                    conditions.push_back(c);
                }
            }
        }
        return json::object{{"capacity", machine.capacity},
                            {"allocatable", machine.capacity},
                            {"conditions", std::move(conditions)},
                            {"addresses", std::move(addresses)},
                            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
                            {"nodeInfo", std::move(node_info)},
                            {"images", images()}};
    }

    // The status as compared for "did anything change": without heartbeat times.
    static std::string comparable(const json::object& status, const json::object& keys) {
        json::object picked;
        for (const auto& [key, value] : keys) {
            auto it = status.find(key);
            if (it == status.end()) continue;
            json::value copy = it->value();
            if (key == "conditions" && copy.is_array()) {
                for (auto& c : copy.as_array())
                    if (c.is_object()) c.as_object().erase("lastHeartbeatTime");
            }
            picked[key] = std::move(copy);
        }
        return canonical_json(picked);
    }

    // Posts the node's status when it changed (or `force`, or the report frequency passed).
    // Returns whether the node is Ready.
    bool update_status(bool force) {
        for (int attempt = 0;; ++attempt) {
            json::object node;
            try {
                node = service.get(*nodes, "", options.node_name);
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
                // Deleted under the running kubelet: register it again.
                spdlog::warn("node {}: the Node object is gone; registering it again",
                             options.node_name);
                register_node();
                node = service.get(*nodes, "", options.node_name);
                force = true;
            }
            node_uid = api::meta_string(node, "uid");
            const json::object* current_ptr = object_at(node, "status");
            const json::object current = current_ptr ? *current_ptr : json::object{};
            json::object wanted = desired_status(current, api::now_rfc3339());
            const bool ready =
                api::field_value(*find_condition(wanted, "Ready"), "status") == "True";
            const bool due = SteadyClock::now() - last_report >= kReportFrequency;
            if (!force && !due && comparable(current, wanted) == comparable(wanted, wanted)) {
                return ready;
            }
            json::object status = current;
            for (auto& [key, value] : wanted)
                status[key] = std::move(value);
            node["status"] = std::move(status);
            try {
                service.update(*nodes, "", options.node_name, std::move(node), write_options(),
                               "status");
                last_report = SteadyClock::now();
                return ready;
            } catch (const api::ApiError& e) {
                if (e.code() != 409 || attempt + 1 >= kUpdateRetries) throw;
            }
        }
    }

    // ---- lease ---------------------------------------------------------------------------

    json::object new_lease(const std::string& node_uid) const {
        json::object metadata{{"name", options.node_name}, {"namespace", kLeaseNamespace}};
        if (!node_uid.empty()) {
            metadata["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                                   {"kind", "Node"},
                                                                   {"name", options.node_name},
                                                                   {"uid", node_uid}}};
        }
        return {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", std::move(metadata)},
                {"spec",
                 {{"holderIdentity", options.node_name},
                  {"leaseDurationSeconds", options.lease_duration.count()},
                  {"renewTime", micro_time(SystemClock::now())}}}};
    }

    // Renews the Lease: an update of the one last written; on a conflict or when it is gone,
    // the stored one is read again or a new one created.
    void renew_lease() {
        for (int attempt = 0;; ++attempt) {
            try {
                if (!lease) {
                    try {
                        lease = service.get(*leases, kLeaseNamespace, options.node_name);
                    } catch (const api::ApiError& e) {
                        if (e.code() != 404) throw;
                        lease = service.create(*leases, kLeaseNamespace, new_lease(node_uid),
                                               write_options());
                        return;
                    }
                }
                json::object renewed = *lease;
                auto& spec = child_object(renewed, "spec");
                spec["holderIdentity"] = options.node_name;
                spec["leaseDurationSeconds"] = options.lease_duration.count();
                spec["renewTime"] = micro_time(SystemClock::now());
                // The owner is this Node; it changes when the Node was deleted and made again.
                const json::object wanted = new_lease(node_uid);
                const auto* owners = api::metadata_of(renewed).if_contains("ownerReferences");
                const auto* wanted_owners =
                    wanted.at("metadata").as_object().if_contains("ownerReferences");
                if (wanted_owners && (!owners || *owners != *wanted_owners)) {
                    api::metadata_of(renewed)["ownerReferences"] = *wanted_owners;
                }
                lease = service.update(*leases, kLeaseNamespace, options.node_name,
                                       std::move(renewed), write_options());
                return;
            } catch (const api::ApiError& e) {
                lease.reset();
                if ((e.code() != 409 && e.code() != 404) || attempt + 1 >= kUpdateRetries) throw;
            }
        }
    }

    // ---- the heartbeat thread ------------------------------------------------------------

    void check_status(bool force) {
        try {
            const bool ready = update_status(force);
            if (ready && !ever_ready) {
                ever_ready = true;
                spdlog::info("node {}: Ready", options.node_name);
            }
        } catch (const std::exception& e) {
            spdlog::warn("node {}: updating status: {}", options.node_name, e.what());
        }
    }

    void renew() {
        try {
            renew_lease();
        } catch (const std::exception& e) {
            spdlog::warn("node {}: renewing lease: {}", options.node_name, e.what());
        }
    }

    SteadyClock::duration status_period() {
        if (ever_ready) return options.status_interval;
        const auto period = fast_check;
        fast_check = std::min(fast_check * 2, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  options.status_interval));
        return std::min<SteadyClock::duration>(period, options.status_interval);
    }

    void run() {
        auto next_renew = SteadyClock::now() + options.renew_interval;
        auto next_status = SteadyClock::now() + status_period();
        std::unique_lock lock(mutex);
        while (true) {
            wake.wait_until(lock, std::min(next_renew, next_status),
                            [this] { return stopping || poked; });
            if (stopping) return;
            const bool was_poked = std::exchange(poked, false);
            lock.unlock();
            const auto now = SteadyClock::now();
            if (was_poked || now >= next_status) {
                check_status(false);
                next_status = SteadyClock::now() + status_period();
            }
            if (now >= next_renew) {
                renew();
                next_renew = SteadyClock::now() + options.renew_interval;
            }
            lock.lock();
        }
    }
};

NodeStatusReporter::NodeStatusReporter(api::ResourceService& service, cri::CriClient& cri,
                                       NodeStatusOptions options)
    : impl_(std::make_unique<Impl>(service, cri, std::move(options))) {}

NodeStatusReporter::~NodeStatusReporter() {
    stop();
}

void NodeStatusReporter::start() {
    if (impl_->thread.joinable()) return;
    impl_->stopping = false;
    impl_->register_node();
    impl_->check_status(true);
    impl_->renew();
    impl_->thread = std::thread([this] { impl_->run(); });
}

void NodeStatusReporter::poke() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->poked = true;
    }
    impl_->wake.notify_one();
}

void NodeStatusReporter::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_one();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace kcube::kubelet
