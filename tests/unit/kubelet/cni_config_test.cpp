// The pod network's CNI config: what it says, how it is installed, and that the installed
// containernetworking-plugins really wire a pod with it (a real containerd runs a pod on it:
// an address in the range, the gateway reachable, hostPort served, and nothing left behind).
#include "cluster/kubelet/cni_config.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "../test_support.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "common/error.hpp"

using namespace kcube::kubelet;
namespace json = boost::json;
namespace v1 = kcube::kubelet::cri::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const stdfs::path kImages = KCUBE_TEST_IMAGES_DIR;
const std::string kBusybox = "localhost/kcube/busybox:1.35";

std::string read_text(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
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

std::string subnet_error(const std::string& cidr) {
    try {
        node_pod_subnet(cidr);
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "POD_CIDR_INVALID");
        return e.what();
    }
    return "(accepted)";
}

// One HTTP/1.0 GET from the host; the whole answer, or "" when it cannot connect.
std::string http_get(const std::string& ip, int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        const std::string request = "GET / HTTP/1.0\r\nHost: pod\r\n\r\n";
        (void)!::write(fd, request.data(), request.size());
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
            answer.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return answer;
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

std::string iptables_rules() {
    std::string all;
    for (const char* table : {"nat", "filter"}) {
        all += kcube::testing::run({"iptables-save", "-t", table}).out;
    }
    return all;
}

// The network namespace path of a sandbox, from the runtime's verbose status.
std::string netns_path(cri::CriClient& client, const std::string& sandbox_id) {
    const auto status = client.pod_sandbox_status(sandbox_id, true);
    auto it = status.info().find("info");
    if (it == status.info().end()) return {};
    const auto info = json::parse(it->second);
    const auto* spec = info.as_object().if_contains("runtimeSpec");
    if (!spec) return {};
    for (const auto& ns : spec->at("linux").at("namespaces").as_array()) {
        if (ns.at("type") == "network" && ns.as_object().contains("path"))
            return std::string(ns.at("path").as_string());
    }
    return {};
}

// Deletes the test's bridge however the test ends (pods come and go; the bridge stays).
struct BridgeCleanup {
    std::string name;
    ~BridgeCleanup() {
        if (stdfs::exists("/sys/class/net/" + name))
            kcube::testing::run({"ip", "link", "del", name});
    }
};

}  // namespace

TEST_CASE("cni: the conflist is bridge + host-local + portmap with upstream's options") {
    CniNetwork network;
    network.ipam_data_dir = "/var/lib/kcube/cni/ipam";
    const auto conf = json::parse(render_cni_conflist(network)).as_object();
    CHECK(conf.at("cniVersion") == "0.4.0");
    CHECK(conf.at("name") == "kcube");
    const auto& plugins = conf.at("plugins").as_array();
    REQUIRE(plugins.size() == 2);
    const auto& bridge = plugins[0].as_object();
    CHECK(bridge.at("type") == "bridge");
    CHECK(bridge.at("bridge") == "kcube0");
    CHECK(bridge.at("isGateway") == true);
    CHECK(bridge.at("ipMasq") == true);
    CHECK(bridge.at("hairpinMode") == true);
    const auto& ipam = bridge.at("ipam").as_object();
    CHECK(ipam.at("type") == "host-local");
    CHECK(ipam.at("ranges") == json::parse(R"([[{"subnet":"10.244.0.0/24"}]])"));
    CHECK(ipam.at("routes") == json::parse(R"([{"dst":"0.0.0.0/0"}])"));
    CHECK(ipam.at("dataDir") == "/var/lib/kcube/cni/ipam");
    const auto& portmap = plugins[1].as_object();
    CHECK(portmap.at("type") == "portmap");
    CHECK(portmap.at("capabilities") == json::parse(R"({"portMappings":true})"));
    CHECK(portmap.at("snat") == true);

    // Without a data dir host-local keeps its default.
    CHECK_FALSE(json::parse(render_cni_conflist(CniNetwork{}))
                    .at("plugins")
                    .at(0)
                    .at("ipam")
                    .as_object()
                    .contains("dataDir"));
}

TEST_CASE("cni: this node's range is the pod CIDR's first /24") {
    CHECK(node_pod_subnet("10.244.0.0/16") == "10.244.0.0/24");
    CHECK(node_pod_subnet("10.244.3.7/16") == "10.244.0.0/24");
    CHECK(node_pod_subnet("10.88.4.0/22") == "10.88.4.0/24");
    CHECK(node_pod_subnet("192.168.7.0/24") == "192.168.7.0/24");
    CHECK(node_pod_subnet("10.1.2.70/26") == "10.1.2.64/26");
    CHECK(node_pod_subnet("0.0.0.0/0") == "0.0.0.0/24");
    CHECK(subnet_error("10.244.0.0") == "invalid pod CIDR 10.244.0.0: no /prefix length");
    CHECK(subnet_error("10.244.0/16") ==
          "invalid pod CIDR 10.244.0/16: \"10.244.0\" is not an IPv4 address");
    CHECK(subnet_error("10.244.0.0/33") ==
          "invalid pod CIDR 10.244.0.0/33: the prefix length must be 0-32");
    CHECK(subnet_error("10.244.0.0/x") ==
          "invalid pod CIDR 10.244.0.0/x: the prefix length must be 0-32");
    CHECK(subnet_error("10.244.0.0/31") ==
          "invalid pod CIDR 10.244.0.0/31: a pod range needs a prefix length of 30 or less");
    CHECK(subnet_error("fd00::/64") ==
          "invalid pod CIDR fd00::/64: only IPv4 pod ranges are supported");
    CHECK(subnet_error("") == "invalid pod CIDR \"\": no /prefix length");
}

TEST_CASE("cni: install writes the conflist once and enables IP forwarding") {
    REQUIRE_MESSAGE(::geteuid() == 0, "this test changes a sysctl: run it as root (CI does)");
    kcube::testing::TempDir tmp;
    CniNetwork network;
    network.ipam_data_dir = tmp / "ipam";
    const auto dir = tmp / "net.d";
    install_cni_config(dir, network);
    const auto file = dir / "10-kcube.conflist";
    CHECK(read_text(file) == render_cni_conflist(network));
    CHECK((stdfs::status(file).permissions() & stdfs::perms::all) ==
          (stdfs::perms::owner_read | stdfs::perms::owner_write | stdfs::perms::group_read |
           stdfs::perms::others_read));
    CHECK(stdfs::is_directory(tmp / "ipam"));
    CHECK(read_text("/proc/sys/net/ipv4/ip_forward") == "1\n");

    // Unchanged: the file is not written again (containerd would reload it).
    struct stat before {};
    REQUIRE(::stat(file.c_str(), &before) == 0);
    install_cni_config(dir, network);
    struct stat after {};
    REQUIRE(::stat(file.c_str(), &after) == 0);
    CHECK(before.st_ino == after.st_ino);
    // Changed: rewritten.
    network.subnet = "10.244.9.0/24";
    install_cni_config(dir, network);
    CHECK(read_text(file).find("10.244.9.0/24") != std::string::npos);
}

TEST_CASE("cni: a pod on the installed plugins gets an address, its gateway and hostPort") {
    std::string missing;
    if (::geteuid() != 0) missing += " root;";
    for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
        if (!stdfs::exists(stdfs::path("/usr/lib/cni") / plugin)) {
            missing += std::string(" /usr/lib/cni/") + plugin + " (containernetworking-plugins);";
        }
    }
    if (!stdfs::exists(kImages / "busybox.tar")) missing += " busybox.tar (kcube_images);";
    INFO("missing:", missing);
    REQUIRE(missing.empty());

    kcube::testing::TempDir tmp;
    // A network of the test's own, so that a node running on this host at the same time
    // (kcube0, 10.244.0.0/24) is not disturbed.
    CniNetwork network;
    network.name = "kcube-cni-test";
    network.bridge = "kct" + std::to_string(::getpid() % 100000);
    network.subnet = "10.244.250.0/24";
    network.ipam_data_dir = tmp / "ipam";
    const std::string gateway = "10.244.250.1";
    const std::string bridge_dir = "/sys/class/net/" + network.bridge;
    REQUIRE_FALSE(stdfs::exists(bridge_dir));
    BridgeCleanup cleanup{network.bridge};

    ContainerdOptions options;
    options.data_dir = tmp / "containerd";
    options.cni_conf_dir = tmp / "net.d";
    install_cni_config(options.cni_conf_dir, network);
    std::string sandbox_id;
    std::string netns;
    const int host_port = free_port();
    {
        Containerd containerd(options);
        cri::CriClient client({containerd.socket()});
        containerd.import_image(kImages / "pause.tar");
        containerd.import_image(kImages / "busybox.tar");
        CHECK(eventually([&] { return client.status().network_ready(); }, 10s));

        v1::PodSandboxConfig sandbox;
        sandbox.mutable_metadata()->set_name("net");
        sandbox.mutable_metadata()->set_uid("cni-test-uid");
        sandbox.mutable_metadata()->set_namespace_("default");
        sandbox.set_hostname("net");
        sandbox.set_log_directory((tmp / "logs").string());
        stdfs::create_directories(tmp / "logs");
        auto* mapping = sandbox.add_port_mappings();
        mapping->set_protocol(v1::TCP);
        mapping->set_container_port(8080);
        mapping->set_host_port(host_port);
        sandbox_id = client.run_pod_sandbox(sandbox);
        netns = netns_path(client, sandbox_id);
        CHECK_FALSE(netns.empty());
        CHECK(stdfs::exists(netns));

        const std::string ip = client.pod_sandbox_status(sandbox_id).status().network().ip();
        INFO("pod IP ", ip);
        CHECK(ip.rfind("10.244.250.", 0) == 0);
        CHECK(ip != gateway);
        CHECK(stdfs::exists(bridge_dir + "/bridge"));
        CHECK(stdfs::exists(bridge_dir + "/brif"));
        CHECK(std::distance(stdfs::directory_iterator(bridge_dir + "/brif"),
                            stdfs::directory_iterator()) == 1);

        v1::ContainerConfig config;
        config.mutable_metadata()->set_name("web");
        config.mutable_image()->set_image(kBusybox);
        config.add_command("sh");
        config.add_args("-c");
        config.add_args("echo hello-from-pod > /tmp/index.html; exec httpd -f -p 8080 -h /tmp");
        config.set_log_path("web.log");
        const std::string id = client.create_container(sandbox_id, config, sandbox);
        client.start_container(id);

        // The pod reaches its gateway (the bridge) and the node reaches the pod, directly and
        // through its hostPort on the node's own address.
        const auto ping = client.exec_sync(id, {"ping", "-c", "1", "-W", "3", gateway}, 10s);
        CHECK_MESSAGE(ping.exit_code == 0, ping.out, ping.err);
        CHECK(eventually(
            [&] { return http_get(ip, 8080).find("hello-from-pod") != std::string::npos; }, 5s));
        CHECK(http_get(gateway, host_port).find("hello-from-pod") != std::string::npos);
        CHECK(http_get("127.0.0.1", host_port).find("hello-from-pod") != std::string::npos);
        const auto route = client.exec_sync(id, {"ip", "route"}, 10s);
        CHECK(route.out.find("default via " + gateway) != std::string::npos);

        const std::string rules = iptables_rules();
        CHECK(rules.find(sandbox_id) != std::string::npos);

        client.stop_container(id, 2s);
        client.remove_container(id);
        client.stop_pod_sandbox(sandbox_id);
        client.remove_pod_sandbox(sandbox_id);
    }

    // Nothing of the pod is left: its veth, its netns, its iptables rules, its address lease.
    CHECK(std::distance(stdfs::directory_iterator(bridge_dir + "/brif"),
                        stdfs::directory_iterator()) == 0);
    CHECK_FALSE(stdfs::exists(netns));
    const std::string rules = iptables_rules();
    CHECK(rules.find(sandbox_id) == std::string::npos);
    CHECK(rules.find("10.244.250.") == std::string::npos);
    for (const auto& entry : stdfs::recursive_directory_iterator(tmp / "ipam")) {
        const std::string name = entry.path().filename();
        CHECK_MESSAGE(name.rfind("10.244.250.", 0) != 0, "address still leased: ", name);
    }
    // The bridge outlives pods (the node's delete removes it); the test removes its own.
    CHECK(kcube::testing::run({"ip", "link", "del", network.bridge}).exit_code == 0);
    CHECK_FALSE(stdfs::exists(bridge_dir));
}
