// The service proxy against the real kernel: network namespaces joined by veth pairs play a
// node, pods and an outside client; ServiceProxy programs its table inside the node's
// namespace from Services and EndpointSlices written through a real ResourceService, and small
// TCP servers in the pods answer with their name and the address they saw. Needs root,
// `ip` (iproute2), nft and python3; fails saying which is missing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../scratch_api.hpp"
#include "../test_support.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/schema.hpp"
#include "cluster/api/service.hpp"
#include "cluster/proxy/proxy.hpp"
#include "cluster/store/store.hpp"
#include "common/error.hpp"

extern char** environ;

namespace api = kcube::api;
namespace json = boost::json;
namespace proxy = kcube::proxy;
using kcube::testing::run;
using kcube::testing::RunResult;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNode = "proxy-test-node";

// Answers each TCP connection on :8080 with "<name> <client address>" and closes it.
constexpr const char* kServer = R"(
import socket, sys
name = sys.argv[1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(64)
while True:
    c, peer = s.accept()
    try:
        c.sendall(("%s %s\n" % (name, peer[0])).encode())
    finally:
        c.close()
)";

// Answers each UDP datagram on :5353 the same way.
constexpr const char* kUdpServer = R"(
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(("%s %s\n" % (sys.argv[1], peer[0])).encode(), peer)
)";

// One UDP question to ip:port; prints the answer, REFUSED or TIMEOUT.
constexpr const char* kUdpClient = R"(
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.sendto(b"q", (sys.argv[1], int(sys.argv[2])))
    print(s.recv(512).decode().strip())
except ConnectionRefusedError:
    print("REFUSED")
except socket.timeout:
    print("TIMEOUT")
)";

// Connects `count` times to ip:port; prints one line per try: the answer, REFUSED, TIMEOUT,
// or the error's name.
constexpr const char* kClient = R"(
import socket, sys
ip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((ip, port))
        print(s.makefile().readline().strip() or "EMPTY")
    except ConnectionRefusedError:
        print("REFUSED")
    except socket.timeout:
        print("TIMEOUT")
    except OSError as e:
        print(type(e).__name__ + ":" + str(e.errno))
    finally:
        s.close()
    sys.stdout.flush()
)";

std::string unique_prefix() {
    static std::atomic<int> counter{0};
    return "kp" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
}

// A background process, killed and reaped when the object dies.
class Child {
  public:
    explicit Child(const std::vector<std::string>& argv) {
        std::vector<std::string> args = argv;
        std::vector<char*> argp;
        for (auto& a : args)
            argp.push_back(a.data());
        argp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        const int rc = ::posix_spawnp(&pid_, argp[0], &actions, nullptr, argp.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) pid_ = -1;
    }
    ~Child() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    bool started() const { return pid_ > 0; }

  private:
    pid_t pid_ = -1;
};

RunResult sh(const std::string& command) {
    return run({"sh", "-c", command});
}

// Namespaces: node; pod1 (10.244.1.2), pod2 (10.244.2.2), client pod3 (10.244.3.2), each on a
// routed veth to the node; ext (192.168.77.2) stands for a machine outside the cluster.
// Interface names live inside the namespaces, so they never meet the host's.
struct TestNetwork {
    std::string prefix = unique_prefix();
    std::vector<std::string> namespaces;
    std::vector<std::unique_ptr<Child>> servers;

    std::string ns(const std::string& role) const { return prefix + "-" + role; }

    TestNetwork() {
        for (const char* role : {"node", "pod1", "pod2", "pod3", "ext"}) {
            const std::string name = ns(role);
            REQUIRE_MESSAGE(sh("ip netns add " + name).exit_code == 0, "ip netns add " << name);
            namespaces.push_back(name);
            must("ip -n " + name + " link set lo up");
        }
        const std::string node = ns("node");
        int i = 1;
        for (const char* role : {"pod1", "pod2", "pod3"}) {
            const std::string n = std::to_string(i++);
            const std::string pod = ns(role);
            must("ip -n " + node + " link add v" + n + " type veth peer name eth0 netns " + pod);
            must("ip -n " + node + " addr add 10.244." + n + ".1/24 dev v" + n);
            must("ip -n " + node + " link set v" + n + " up");
            must("ip -n " + pod + " addr add 10.244." + n + ".2/24 dev eth0");
            must("ip -n " + pod + " link set eth0 up");
            must("ip -n " + pod + " route add default via 10.244." + n + ".1");
        }
        const std::string ext = ns("ext");
        must("ip -n " + node + " link add vx type veth peer name eth0 netns " + ext);
        must("ip -n " + node + " addr add 192.168.77.1/24 dev vx");
        must("ip -n " + node + " link set vx up");
        must("ip -n " + ext + " addr add 192.168.77.2/24 dev eth0");
        must("ip -n " + ext + " link set eth0 up");
        must("ip -n " + ext + " route add default via 192.168.77.1");
        // The node's own connections to a ClusterIP need a route before NAT picks the endpoint.
        must("ip -n " + node + " route add default via 192.168.77.2");
    }

    ~TestNetwork() {
        servers.clear();
        for (const auto& name : namespaces)
            sh("ip netns del " + name);
    }

    static void must(const std::string& command) {
        const auto r = sh(command);
        REQUIRE_MESSAGE(r.exit_code == 0, command << ": " << r.err);
    }

    void serve(const std::string& role, const char* program = kServer) {
        servers.push_back(std::make_unique<Child>(std::vector<std::string>{
            "ip", "netns", "exec", ns(role), "python3", "-c", program, role}));
        REQUIRE(servers.back()->started());
    }

    // One line per connection from `role`'s namespace.
    std::vector<std::string> connect(const std::string& role, const std::string& ip, int port,
                                     int count) const {
        const auto r = run({"ip", "netns", "exec", ns(role), "python3", "-c", kClient, ip,
                            std::to_string(port), std::to_string(count)});
        std::vector<std::string> lines;
        std::istringstream in(r.out);
        for (std::string l; std::getline(in, l);)
            lines.push_back(l);
        if (r.exit_code != 0) lines.push_back("CLIENT-FAILED: " + r.err);
        return lines;
    }

    std::string ask_udp(const std::string& role, const std::string& ip, int port) const {
        auto out = run({"ip", "netns", "exec", ns(role), "python3", "-c", kUdpClient, ip,
                        std::to_string(port)})
                       .out;
        while (!out.empty() && out.back() == '\n')
            out.pop_back();
        return out;
    }

    std::string nft(const std::string& args) const {
        return run({"ip", "netns", "exec", ns("node"), "sh", "-c", "nft " + args + " 2>&1"}).out;
    }
};

// Moves the calling thread into a network namespace for the object's lifetime.
class InNetns {
  public:
    explicit InNetns(const std::string& name) {
        saved_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(saved_ >= 0);
        REQUIRE(target >= 0);
        const int rc = ::setns(target, CLONE_NEWNET);
        ::close(target);
        REQUIRE(rc == 0);
    }
    ~InNetns() {
        if (::setns(saved_, CLONE_NEWNET) != 0) std::abort();  // never carry on in a test netns
        ::close(saved_);
    }
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;

  private:
    int saved_ = -1;
};

struct Cluster : kcube::testing::ScratchApi {
    const api::ResourceInfo& services() const { return info("", "v1", "services"); }
    const api::ResourceInfo& slices() const {
        return info("discovery.k8s.io", "v1", "endpointslices");
    }

    void create_service(const std::string& name, json::object spec) {
        service->create(services(), "default",
                        {{"apiVersion", "v1"},
                         {"kind", "Service"},
                         {"metadata", {{"name", name}}},
                         {"spec", std::move(spec)}},
                        {});
    }
    void patch_service(const std::string& name, const std::string& patch) {
        service->patch(services(), "default", name, api::PatchType::kMerge, patch, {});
    }
    void remove_service(const std::string& name) {
        service->remove(services(), "default", name, {});
    }
    // The Service's one slice, made or replaced: endpoints {ip, node} on port "http" 8080.
    void set_endpoints(const std::string& name,
                       const std::vector<std::pair<std::string, std::string>>& endpoints,
                       json::array ports = {
                           json::object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}) {
        json::array list;
        for (const auto& [ip, node] : endpoints) {
            list.push_back(json::object{{"addresses", json::array{json::value(ip)}},
                                        {"conditions", {{"ready", true}}},
                                        {"nodeName", node}});
        }
        json::object slice{
            {"apiVersion", "discovery.k8s.io/v1"},
            {"kind", "EndpointSlice"},
            {"metadata",
             {{"name", name + "-slice"}, {"labels", {{"kubernetes.io/service-name", name}}}}},
            {"addressType", "IPv4"},
            {"endpoints", std::move(list)},
            {"ports", std::move(ports)}};
        try {
            auto current = service->get(slices(), "default", name + "-slice");
            slice["metadata"].as_object()["resourceVersion"] =
                current.at("metadata").at("resourceVersion");
            service->update(slices(), "default", name + "-slice", std::move(slice), {});
        } catch (const api::ApiError& e) {
            REQUIRE(e.code() == 404);
            service->create(slices(), "default", std::move(slice), {});
        }
    }
};

json::object spec(const std::string& ip, json::object extra = {}) {
    json::object s{
        {"clusterIP", ip},
        {"ports", json::array{json::object{
                      {"name", "http"}, {"port", 80}, {"targetPort", 8080}, {"protocol", "TCP"}}}}};
    for (auto& [k, v] : extra)
        s[k] = v;
    return s;
}

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// "pod1 10.244.3.2" lines → {who answered}, {whom they saw}.
std::set<std::string> field(const std::vector<std::string>& lines, int index) {
    std::set<std::string> out;
    for (const auto& l : lines) {
        std::istringstream in(l);
        std::string a, b;
        in >> a >> b;
        out.insert(index == 0 ? a : b);
    }
    return out;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
        out += l + "; ";
    return out;
}

// Whether what the test needs is here; a reason when it is not.
std::string missing_tools() {
    if (::geteuid() != 0) return "needs root (network namespaces, nftables)";
    for (const char* tool : {"ip", "nft", "python3"}) {
        if (sh(std::string("command -v ") + tool).exit_code != 0) {
            return std::string("needs ") + tool + " in PATH";
        }
    }
    return {};
}

}  // namespace

TEST_CASE("proxy kernel: ClusterIP, affinity, rejects, NodePort and policies carry real traffic") {
    const auto missing = missing_tools();
    REQUIRE_MESSAGE(missing.empty(), missing);
    TestNetwork net;
    net.serve("pod1");
    net.serve("pod2");
    REQUIRE_MESSAGE(eventually([&] {
                        return net.connect("pod3", "10.244.1.2", 8080, 1) ==
                               std::vector<std::string>{"pod1 10.244.3.2"};
                    }),
                    "the test server in pod1 does not answer");
    REQUIRE(eventually([&] {
        return net.connect("pod3", "10.244.2.2", 8080, 1) ==
               std::vector<std::string>{"pod2 10.244.3.2"};
    }));

    Cluster cluster;
    // A Service that exists before the proxy starts: programmed by the initial transaction.
    cluster.create_service("web", spec("10.96.0.50", {{"type", "NodePort"}}));
    cluster.patch_service("web", R"({"spec":{"ports":[{"name":"http","port":80,
        "targetPort":8080,"protocol":"TCP","nodePort":30080}]}})");
    cluster.set_endpoints("web", {{"10.244.1.2", kNode}, {"10.244.2.2", "other-node"}});

    const std::string table = "kcube-test-" + std::to_string(::getpid());
    InNetns in_node(net.ns("node"));
    proxy::ProxyOptions options;
    options.node_name = kNode;
    options.cluster_cidr = "10.244.0.0/16";
    options.table = table;
    proxy::ServiceProxy service_proxy(*cluster.service, options);
    service_proxy.start();
    CHECK(contains(net.nft("list table ip " + table), "10.96.0.50 . tcp . 80 : goto service-"));

    {
        // ClusterIP from a pod: both endpoints answer; the pod's address is kept.
        const auto lines = net.connect("pod3", "10.96.0.50", 80, 30);
        INFO(joined(lines));
        CHECK(field(lines, 0) == std::set<std::string>{"pod1", "pod2"});
        CHECK(field(lines, 1) == std::set<std::string>{"10.244.3.2"});
    }
    {
        // From the node itself (outside the pod range): masqueraded to the node's address.
        const auto lines = net.connect("node", "10.96.0.50", 80, 10);
        INFO(joined(lines));
        REQUIRE(lines.size() == 10);
        for (const auto& who : field(lines, 1))
            CHECK(who.starts_with("10.244."));
        CHECK_FALSE(field(lines, 1).contains("192.168.77.1"));
        CHECK(field(lines, 0).size() >= 1);
    }
    {
        // NodePort from outside: answers from both pods, masqueraded.
        const auto lines = net.connect("ext", "192.168.77.1", 30080, 30);
        INFO(joined(lines));
        CHECK(field(lines, 0) == std::set<std::string>{"pod1", "pod2"});
        CHECK_FALSE(field(lines, 1).contains("192.168.77.2"));
    }

    // externalTrafficPolicy Local: only this node's endpoint, the client address kept.
    cluster.patch_service("web", R"({"spec":{"externalTrafficPolicy":"Local"}})");
    REQUIRE(eventually(
        [&] { return contains(net.nft("list table ip " + table), "fib saddr type local jump"); }));
    {
        const auto lines = net.connect("ext", "192.168.77.1", 30080, 10);
        INFO(joined(lines));
        CHECK(field(lines, 0) == std::set<std::string>{"pod1"});
        CHECK(field(lines, 1) == std::set<std::string>{"192.168.77.2"});
    }

    // internalTrafficPolicy Local: the ClusterIP also goes to this node's endpoint only.
    cluster.patch_service("web", R"({"spec":{"internalTrafficPolicy":"Local"}})");
    REQUIRE(eventually([&] {
        return field(net.connect("pod3", "10.96.0.50", 80, 8), 0) == std::set<std::string>{"pod1"};
    }));

    // Session affinity, created while the proxy runs (an incremental add).
    cluster.create_service("sticky", spec("10.96.0.51", {{"sessionAffinity", "ClientIP"}}));
    cluster.set_endpoints("sticky", {{"10.244.1.2", kNode}, {"10.244.2.2", kNode}});
    REQUIRE(
        eventually([&] { return net.connect("pod3", "10.96.0.51", 80, 1).at(0) != "TIMEOUT"; }));
    {
        const auto lines = net.connect("pod3", "10.96.0.51", 80, 20);
        INFO(joined(lines));
        REQUIRE(lines.size() == 20);
        CHECK(field(lines, 0).size() == 1);
        CHECK(contains(net.nft("list table ip " + table), "update @affinity-"));
    }

    // Changing "web" leaves the chains of "sticky" as they are (same rule handles).
    auto sticky_handles = [&] {
        std::string out;
        std::istringstream in(net.nft("-a list table ip " + table));
        bool inside = false;
        for (std::string l; std::getline(in, l);) {
            if (contains(l, "chain ")) inside = contains(l, "/sticky/");
            if (inside) out += l + "\n";
        }
        return out;
    };
    const std::string sticky_before = sticky_handles();
    REQUIRE(contains(sticky_before, "# handle"));

    // Scaled to nothing: refused at once, from a pod, the node and outside.
    cluster.set_endpoints("web", {});
    REQUIRE(eventually([&] {
        return contains(net.nft("list table ip " + table),
                        "10.96.0.50 . tcp . 80 : goto reject-chain");
    }));
    {
        const auto start = std::chrono::steady_clock::now();
        CHECK(net.connect("pod3", "10.96.0.50", 80, 3) ==
              std::vector<std::string>{"REFUSED", "REFUSED", "REFUSED"});
        CHECK(net.connect("node", "10.96.0.50", 80, 1) == std::vector<std::string>{"REFUSED"});
        CHECK(net.connect("ext", "192.168.77.1", 30080, 1) == std::vector<std::string>{"REFUSED"});
        CHECK(std::chrono::steady_clock::now() - start < 2500ms);  // a timeout would be 3 s each
    }
    CHECK(sticky_handles() == sticky_before);

    // Hairpin: pod1 reaches itself through a Service.
    cluster.create_service("self", spec("10.96.0.52"));
    cluster.set_endpoints("self", {{"10.244.1.2", kNode}});
    REQUIRE(
        eventually([&] { return net.connect("pod1", "10.96.0.52", 80, 1).at(0) != "TIMEOUT"; }));
    CHECK(field(net.connect("pod1", "10.96.0.52", 80, 3), 0) == std::set<std::string>{"pod1"});

    // UDP, to an endpoint on the node itself (how kube-dns reaches the node's DNS server).
    net.serve("node", kUdpServer);
    cluster.create_service(
        "dns", {{"clusterIP", "10.96.0.53"},
                {"ports",
                 json::array{json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                             json::object{{"name", "sctp"}, {"port", 99}, {"protocol", "SCTP"}},
                             json::object{{"name", "none"}, {"port", 98}, {"protocol", "SCTP"}}}}});
    cluster.set_endpoints("dns", {{"10.244.1.1", kNode}},
                          {json::object{{"name", "dns"}, {"port", 5353}, {"protocol", "UDP"}},
                           json::object{{"name", "sctp"}, {"port", 9999}, {"protocol", "SCTP"}}});
    REQUIRE(eventually([&] { return net.ask_udp("pod3", "10.96.0.53", 53) != "TIMEOUT"; }));
    CHECK(net.ask_udp("pod3", "10.96.0.53", 53) == "node 10.244.3.2");
    CHECK(net.ask_udp("node", "10.96.0.53", 53).starts_with("node "));
    {
        // SCTP is programmed like the others (no SCTP client here: the rules are checked).
        const auto listed = net.nft("list table ip " + table);
        CHECK(contains(listed, "meta l4proto sctp dnat to 10.244.1.1:9999"));
        CHECK(contains(listed, "10.96.0.53 . sctp . 99 : goto service-"));
        CHECK(contains(listed, "10.96.0.53 . sctp . 98 : goto reject-chain"));
    }

    // A removed Service's chains, sets and elements go.
    cluster.remove_service("sticky");
    REQUIRE(eventually([&] { return !contains(net.nft("list table ip " + table), "sticky"); }));
    CHECK_FALSE(contains(net.nft("list table ip " + table), "10.96.0.51"));
    CHECK(service_proxy.wait_synced(5s));

    service_proxy.stop();
    CHECK_FALSE(contains(net.nft("list tables"), table));
    service_proxy.stop();  // twice is fine
}

TEST_CASE("proxy kernel: start() replaces a stale table - remove_rules deletes it") {
    const auto missing = missing_tools();
    REQUIRE_MESSAGE(missing.empty(), missing);
    TestNetwork net;
    net.serve("pod1");
    REQUIRE(
        eventually([&] { return net.connect("pod3", "10.244.1.2", 8080, 1).at(0) != "TIMEOUT"; }));
    Cluster cluster;
    cluster.create_service("web", spec("10.96.0.60"));
    cluster.set_endpoints("web", {{"10.244.1.2", kNode}});

    const std::string table = "kcube-test-" + std::to_string(::getpid());
    InNetns in_node(net.ns("node"));
    // What a killed node leaves: a table of the same name with rules of its own.
    TestNetwork::must("nft add table ip " + table);
    TestNetwork::must("nft add chain ip " + table + " leftover");
    CHECK(proxy::remove_rules(table));
    CHECK_FALSE(proxy::remove_rules(table));
    TestNetwork::must("nft add table ip " + table);
    TestNetwork::must("nft add chain ip " + table +
                      " leftover '{ type nat hook output priority -100 ; }'");
    TestNetwork::must("nft add rule ip " + table + " leftover ip daddr 10.96.0.60 drop");

    proxy::ProxyOptions options;
    options.node_name = kNode;
    options.table = table;
    {
        proxy::ServiceProxy service_proxy(*cluster.service, options);
        service_proxy.start();
        const auto listed = net.nft("list table ip " + table);
        CHECK_FALSE(contains(listed, "leftover"));
        CHECK(contains(listed, "10.96.0.60 . tcp . 80"));
        CHECK(net.connect("pod3", "10.96.0.60", 80, 2) ==
              std::vector<std::string>{"pod1 10.244.3.2", "pod1 10.244.3.2"});
        // Someone empties a map behind the proxy's back: the next change, which deletes an
        // element that is no longer there, fails, and the proxy rewrites the whole table.
        TestNetwork::must("nft flush map ip " + table + " service-ips");
        cluster.create_service("other", spec("10.96.0.61"));
        cluster.set_endpoints("other", {{"10.244.1.2", kNode}});
        cluster.set_endpoints("web", {});
        REQUIRE(eventually(
            [&] { return net.connect("pod3", "10.96.0.61", 80, 1).at(0) == "pod1 10.244.3.2"; }));
        REQUIRE(eventually(
            [&] { return net.connect("pod3", "10.96.0.60", 80, 1).at(0) == "REFUSED"; }));
        cluster.set_endpoints("web", {{"10.244.1.2", kNode}});
        REQUIRE(eventually(
            [&] { return net.connect("pod3", "10.96.0.60", 80, 1).at(0) == "pod1 10.244.3.2"; }));
        // The destructor stops the proxy, which deletes the table.
    }
    CHECK_FALSE(contains(net.nft("list tables"), table));
}
