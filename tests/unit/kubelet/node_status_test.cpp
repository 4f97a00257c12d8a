// The Node object and its Lease, written through a real ResourceService (scratch SQLite
// store) from what a real containerd reports: registration, machine facts, images, the Ready
// condition following the runtime's network, heartbeats, and recovery from others' writes.
#include "cluster/kubelet/node_status.hpp"

#include <doctest/doctest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "../test_support.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/schema.hpp"
#include "cluster/api/service.hpp"
#include "cluster/kubelet/cni_config.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "cluster/store/store.hpp"

using namespace kcube::kubelet;
namespace api = kcube::api;
namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const stdfs::path kImages = KCUBE_TEST_IMAGES_DIR;
const std::string kBusybox = "localhost/kcube/busybox:1.35";
const std::string kNode = "kcube-test-node";

std::string read_trimmed(const stdfs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

// The node's API machinery on a scratch SQLite store, with the namespaces a node has.
struct Cluster {
    kcube::testing::TempDir dir;
    std::shared_ptr<api::ResourceService> service;

    Cluster() {
        std::shared_ptr<kcube::store::Store> store = kcube::store::open_sqlite_store(dir / "s.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        for (const char* name : {"default", "kube-node-lease"}) {
            service->create(
                info("", "v1", "namespaces"), "",
                {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}}, {});
        }
    }

    const api::ResourceInfo& info(const std::string& group, const std::string& version,
                                  const std::string& plural) const {
        auto found = service->registry().find(group, version, plural);
        REQUIRE(found);
        return *found;
    }
    json::object node() { return service->get(info("", "v1", "nodes"), "", kNode); }
    json::object lease() {
        return service->get(info("coordination.k8s.io", "v1", "leases"), "kube-node-lease", kNode);
    }
};

const json::object* condition(const json::object& node, const std::string& type) {
    for (const auto& c : node.at("status").at("conditions").as_array()) {
        if (c.at("type").as_string() == type) return &c.as_object();
    }
    return nullptr;
}

std::string condition_field(const json::object& node, const std::string& type,
                            const std::string& field) {
    const auto* c = condition(node, type);
    if (!c || !c->contains(field)) return "(none)";
    return std::string(c->at(field).as_string());
}

std::string field(const json::value& value, std::initializer_list<const char*> path) {
    const json::value* at = &value;
    for (const char* key : path) {
        if (!at->is_object() || !at->as_object().contains(key)) return "(none)";
        at = &at->as_object().at(key);
    }
    return at->is_string() ? std::string(at->as_string()) : json::serialize(*at);
}

NodeStatusOptions options_for(const stdfs::path& data) {
    NodeStatusOptions options;
    options.node_name = kNode;
    options.node_ip = "192.0.2.10";
    options.pod_cidr = "10.244.0.0/24";
    options.kubelet_version = "v1.32.0";
    options.data_dir = data;
    options.renew_interval = 1s;
    options.status_interval = 1s;
    return options;
}

std::string prerequisites_missing() {
    std::string missing;
    if (::geteuid() != 0) missing += " root (run the test as root; CI does);";
    for (const char* image : {"pause.tar", "busybox.tar"}) {
        if (!stdfs::exists(kImages / image)) {
            missing += " " + (kImages / image).string() + " (build the kcube_images target);";
        }
    }
    return missing;
}

}  // namespace

TEST_CASE("node status: registration, machine facts, Ready with the pod network, heartbeats") {
    const std::string missing = prerequisites_missing();
    INFO("this test runs a real containerd; missing:", missing);
    REQUIRE(missing.empty());

    Cluster cluster;
    kcube::testing::TempDir tmp;
    ContainerdOptions containerd_options;
    containerd_options.data_dir = tmp / "containerd";
    containerd_options.cni_conf_dir = tmp / "net.d";  // empty: the pod network is not ready
    Containerd containerd(containerd_options);
    containerd.import_image(kImages / "busybox.tar");
    cri::CriClient cri({containerd.socket()});

    NodeStatusReporter reporter(*cluster.service, cri, options_for(tmp.path()));
    reporter.start();

    json::object node = cluster.node();
    struct utsname uts {};
    ::uname(&uts);
    const std::string arch = std::string(uts.machine) == "x86_64" ? "amd64" : "arm64";
    CHECK(field(node, {"metadata", "labels", "kubernetes.io/hostname"}) == kNode);
    CHECK(field(node, {"metadata", "labels", "kubernetes.io/os"}) == "linux");
    CHECK(field(node, {"metadata", "labels", "kubernetes.io/arch"}) == arch);
    CHECK(field(node, {"metadata", "labels", "beta.kubernetes.io/os"}) == "linux");
    CHECK(field(node, {"metadata", "labels", "beta.kubernetes.io/arch"}) == arch);
    CHECK(field(node, {"metadata", "labels", "node-role.kubernetes.io/control-plane"}) == "");
    CHECK(field(node, {"spec", "podCIDR"}) == "10.244.0.0/24");
    CHECK(field(node, {"spec", "podCIDRs"}) == R"(["10.244.0.0/24"])");

    const auto& status = node.at("status").as_object();
    const auto& capacity = status.at("capacity").as_object();
    CHECK(field(node, {"status", "capacity", "cpu"}) ==
          std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
    CHECK(field(node, {"status", "capacity", "pods"}) == "110");
    CHECK(field(node, {"status", "capacity", "hugepages-2Mi"}) == "0");
    CHECK(field(node, {"status", "capacity", "hugepages-1Gi"}) == "0");
    CHECK(std::regex_match(std::string(capacity.at("memory").as_string()),
                           std::regex("[0-9]+(Ki|Mi|Gi)?")));
    CHECK(std::regex_match(std::string(capacity.at("ephemeral-storage").as_string()),
                           std::regex("[1-9][0-9]*(Ki|Mi|Gi|Ti)?")));
    CHECK(status.at("allocatable") == status.at("capacity"));
    CHECK(status.at("addresses") == json::parse(R"([{"type":"InternalIP","address":"192.0.2.10"},
                                                    {"type":"Hostname","address":"kcube-test-node"}])"));
    CHECK(field(status, {"daemonEndpoints", "kubeletEndpoint", "Port"}) == "10250");
    const auto& node_info = status.at("nodeInfo");
    CHECK(field(node_info, {"kernelVersion"}) == uts.release);
    CHECK(field(node_info, {"bootID"}) == read_trimmed("/proc/sys/kernel/random/boot_id"));
    CHECK(field(node_info, {"machineID"}) == read_trimmed("/etc/machine-id"));
    CHECK(field(node_info, {"containerRuntimeVersion"}) ==
          "containerd://" + containerd.version().runtime_version);
    CHECK(field(node_info, {"kubeletVersion"}) == "v1.32.0");
    CHECK(field(node_info, {"operatingSystem"}) == "linux");
    CHECK(field(node_info, {"architecture"}) == arch);
    CHECK(field(node_info, {"osImage"}) != "(none)");
    MESSAGE("nodeInfo: ", json::serialize(node_info));

    bool busybox_listed = false;
    for (const auto& image : status.at("images").as_array()) {
        for (const auto& name : image.at("names").as_array())
            if (name.as_string() == kBusybox) busybox_listed = image.at("sizeBytes").as_int64() > 0;
    }
    CHECK(busybox_listed);

    // The pod network is not configured: NotReady with the runtime's words.
    CHECK(condition_field(node, "Ready", "status") == "False");
    CHECK(condition_field(node, "Ready", "reason") == "KubeletNotReady");
    CHECK(condition_field(node, "Ready", "message")
              .starts_with("container runtime network not ready: NetworkReady=false "
                           "reason:NetworkPluginNotReady message:"));
    CHECK(condition_field(node, "MemoryPressure", "status") == "False");
    CHECK(condition_field(node, "MemoryPressure", "reason") == "KubeletHasSufficientMemory");
    CHECK(condition_field(node, "MemoryPressure", "message") ==
          "kubelet has sufficient memory available");
    CHECK(condition_field(node, "DiskPressure", "reason") == "KubeletHasNoDiskPressure");
    CHECK(condition_field(node, "DiskPressure", "message") == "kubelet has no disk pressure");
    CHECK(condition_field(node, "PIDPressure", "reason") == "KubeletHasSufficientPID");
    CHECK(condition_field(node, "PIDPressure", "message") ==
          "kubelet has sufficient PID available");
    const std::string memory_transition =
        condition_field(node, "MemoryPressure", "lastTransitionTime");
    const std::string not_ready_since = condition_field(node, "Ready", "lastTransitionTime");

    // The Lease: held by the node, owned by the Node, renewed with microsecond times.
    json::object lease = cluster.lease();
    CHECK(field(lease, {"spec", "holderIdentity"}) == kNode);
    CHECK(field(lease, {"spec", "leaseDurationSeconds"}) == "40");
    const std::string renewed = field(lease, {"spec", "renewTime"});
    CHECK(std::regex_match(renewed, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
    const auto& owner = lease.at("metadata").at("ownerReferences").at(0);
    CHECK(field(owner, {"apiVersion"}) == "v1");
    CHECK(field(owner, {"kind"}) == "Node");
    CHECK(field(owner, {"name"}) == kNode);
    CHECK(field(owner, {"uid"}) == field(node, {"metadata", "uid"}));
    CHECK(eventually([&] { return field(cluster.lease(), {"spec", "renewTime"}) != renewed; }, 3s));

    // The pod network appears: Ready as soon as the runtime says so.
    std::this_thread::sleep_for(1100ms);  // transition times are whole seconds
    CniNetwork network;
    network.bridge = "kcubens0";
    network.subnet = "10.244.251.0/24";
    network.ipam_data_dir = tmp / "ipam";
    install_cni_config(containerd.paths().cni_conf_dir, network);
    reporter.poke();
    CHECK(eventually([&] { return condition_field(cluster.node(), "Ready", "status") == "True"; },
                     5s));
    node = cluster.node();
    CHECK(condition_field(node, "Ready", "reason") == "KubeletReady");
    CHECK(condition_field(node, "Ready", "message") == "kubelet is posting ready status");
    CHECK(condition_field(node, "Ready", "lastTransitionTime") != not_ready_since);
    CHECK(condition_field(node, "MemoryPressure", "lastTransitionTime") == memory_transition);

    // Nothing changes: the status is not written again, only the Lease is renewed.
    const std::string version = field(node, {"metadata", "resourceVersion"});
    const std::string lease_time = field(cluster.lease(), {"spec", "renewTime"});
    std::this_thread::sleep_for(2500ms);
    CHECK(field(cluster.node(), {"metadata", "resourceVersion"}) == version);
    CHECK(field(cluster.lease(), {"spec", "renewTime"}) != lease_time);

    // The node controller marked the node Unknown (the kubelet looked silent): the next
    // status check puts Ready back.
    node = cluster.node();
    for (auto& c : node.at("status").at("conditions").as_array()) {
        c.as_object()["status"] = "Unknown";
        c.as_object()["reason"] = "NodeStatusUnknown";
    }
    cluster.service->update(cluster.info("", "v1", "nodes"), "", kNode, node, {}, "status");
    CHECK(eventually([&] { return condition_field(cluster.node(), "Ready", "status") == "True"; },
                     3s));

    // An image goes away: a poke posts the new list.
    cri.remove_image(kBusybox);
    reporter.poke();
    CHECK(eventually(
        [&] {
            return json::serialize(cluster.node().at("status").at("images")).find(kBusybox) ==
                   std::string::npos;
        },
        3s));

    const auto stop_begin = std::chrono::steady_clock::now();
    reporter.stop();
    CHECK(std::chrono::steady_clock::now() - stop_begin < 500ms);
}

TEST_CASE("node status: an existing Node keeps others' fields; a deleted one comes back") {
    Cluster cluster;
    kcube::testing::TempDir tmp;
    const auto& nodes = cluster.info("", "v1", "nodes");
    cluster.service->create(nodes, "",
                            json::parse(R"({"apiVersion":"v1","kind":"Node",
                "metadata":{"name":"kcube-test-node","labels":{"team":"a","kubernetes.io/os":"plan9"}},
                "spec":{"taints":[{"key":"example.com/keep","effect":"NoSchedule"}]}})")
                                .as_object(),
                            {});
    // No runtime answers on this socket.
    cri::CriClient cri({tmp / "no-runtime.sock", 1s});
    NodeStatusReporter reporter(*cluster.service, cri, options_for(tmp.path()));
    reporter.start();

    json::object node = cluster.node();
    CHECK(field(node, {"metadata", "labels", "team"}) == "a");
    CHECK(field(node, {"metadata", "labels", "kubernetes.io/os"}) == "linux");
    CHECK(field(node, {"spec", "taints"}) ==
          R"([{"key":"example.com/keep","effect":"NoSchedule"}])");
    CHECK(field(node, {"spec", "podCIDR"}) == "10.244.0.0/24");
    CHECK(condition_field(node, "Ready", "status") == "False");
    CHECK(condition_field(node, "Ready", "message") == "container runtime is down");
    CHECK(field(node, {"status", "nodeInfo", "containerRuntimeVersion"}) == "");
    const std::string first_uid = field(node, {"metadata", "uid"});
    CHECK(field(cluster.lease().at("metadata").at("ownerReferences").at(0), {"uid"}) == first_uid);

    // Someone deletes the Node: the kubelet registers it again, and the Lease follows it.
    cluster.service->remove(nodes, "", kNode, {});
    CHECK(eventually(
        [&] {
            try {
                return field(cluster.node(), {"metadata", "uid"}) != first_uid;
            } catch (const api::ApiError&) {
                return false;
            }
        },
        4s));
    const std::string second_uid = field(cluster.node(), {"metadata", "uid"});
    CHECK(eventually(
        [&] {
            return field(cluster.lease().at("metadata").at("ownerReferences").at(0), {"uid"}) ==
                   second_uid;
        },
        3s));
    reporter.stop();
}
