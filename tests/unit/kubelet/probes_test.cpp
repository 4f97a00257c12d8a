// Probes against real servers: HTTP (plain, redirects, TLS from `openssl s_server`), TCP and
// gRPC servers on loopback, and exec probes in a container of a real containerd. Periods are
// whole seconds in the API, so the scenarios run side by side in one pod to keep this short.
#include "cluster/kubelet/probes.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "cluster/kubelet/child_process.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "cluster/kubelet/cri/cri.grpc.pb.h"
#include "common/error.hpp"

using namespace kcube::kubelet;
namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return condition();
}

// A listening socket on 127.0.0.1 with a kernel-chosen port.
int listen_loopback(int& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    return fd;
}

// A port nothing listens on (bound, then closed).
int closed_port() {
    int port = 0;
    ::close(listen_loopback(port));
    return port;
}

// A small HTTP/1.1 server: answers each path with the status its handler gives, records the
// requests it saw, and counts every connection (TCP probes connect and close).
class TestServer {
  public:
    struct Reply {
        int status = 200;
        std::string location;
    };

    TestServer() {
        fd_ = listen_loopback(port_);
        REQUIRE(::pipe2(stop_, O_CLOEXEC) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~TestServer() {
        (void)!::write(stop_[1], "x", 1);
        thread_.join();
        for (auto& t : connections_)
            t.join();
        ::close(fd_);
        ::close(stop_[0]);
        ::close(stop_[1]);
    }

    int port() const { return port_; }
    void route(const std::string& path, std::function<Reply()> handler) {
        std::lock_guard lock(mutex_);
        routes_[path] = std::move(handler);
    }
    int hits(const std::string& path) {
        std::lock_guard lock(mutex_);
        return hits_[path];
    }
    std::string request(const std::string& path) {
        std::lock_guard lock(mutex_);
        return requests_[path];
    }
    int connections() const { return connections_seen_; }

  private:
    void serve() {
        while (true) {
            pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) continue;
            if (fds[1].revents) return;
            const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            ++connections_seen_;
            connections_.emplace_back([this, client] { answer(client); });
        }
    }

    void answer(int client) {
        std::string text;
        char buffer[4096];
        while (text.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::read(client, buffer, sizeof buffer);
            if (n <= 0) break;
            text.append(buffer, static_cast<std::size_t>(n));
        }
        if (text.empty()) {
            ::close(client);
            return;
        }
        const auto space = text.find(' ');
        const std::string path = text.substr(space + 1, text.find(' ', space + 1) - space - 1);
        std::function<Reply()> handler;
        {
            std::lock_guard lock(mutex_);
            ++hits_[path];
            requests_[path] = text;
            auto it = routes_.find(path.substr(0, path.find('?')));
            if (it != routes_.end()) handler = it->second;
        }
        Reply reply = handler ? handler() : Reply{404, {}};
        std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
        if (!reply.location.empty()) response += "Location: " + reply.location + "\r\n";
        response += "Content-Length: 2\r\nConnection: close\r\n\r\nok";
        (void)!::write(client, response.data(), response.size());
        ::close(client);
    }

    int fd_ = -1;
    int port_ = 0;
    int stop_[2] = {-1, -1};
    std::thread thread_;
    std::vector<std::thread> connections_;  // accept thread only, joined at the end
    std::atomic<int> connections_seen_{0};
    std::mutex mutex_;
    std::map<std::string, std::function<TestServer::Reply()>> routes_;
    std::map<std::string, int> hits_;
    std::map<std::string, std::string> requests_;
};

json::object http_probe(const std::string& path, json::value port, int period = 1,
                        int failure_threshold = 3) {
    return {{"httpGet", {{"path", path}, {"port", port}}},
            {"periodSeconds", period},
            {"failureThreshold", failure_threshold}};
}

json::object container(const std::string& name, std::initializer_list<json::value_ref> probes) {
    json::object c{{"name", name}, {"image", "busybox"}};
    const json::value given(probes);
    for (const auto& probe : given.as_object())
        c[probe.key()] = probe.value();
    return c;
}

json::object pod(const std::string& uid, json::array containers) {
    return {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", uid}}},
            {"spec", {{"containers", std::move(containers)}}}};
}

std::map<std::string, RunningContainer> all_running(const json::object& p,
                                                    const std::string& suffix = "-1") {
    std::map<std::string, RunningContainer> running;
    for (const auto& c : p.at("spec").at("containers").as_array()) {
        const std::string name(c.at("name").as_string());
        running[name] = RunningContainer{name + suffix, std::chrono::system_clock::now()};
    }
    return running;
}

}  // namespace

TEST_CASE("probes: httpGet, tcpSocket and grpc against real servers, with upstream's rules") {
    TestServer server;
    std::atomic<bool> started{false};
    std::atomic<int> flap{500};
    server.route("/ok", [] { return TestServer::Reply{200, {}}; });
    server.route("/fail", [] { return TestServer::Reply{500, {}}; });
    server.route("/redirect", [] { return TestServer::Reply{302, "/ok?from=redirect"}; });
    server.route("/offsite", [] { return TestServer::Reply{302, "http://elsewhere.invalid/ok"}; });
    server.route("/started", [&] { return TestServer::Reply{started ? 200 : 503, {}}; });
    server.route("/gated-live", [] { return TestServer::Reply{200, {}}; });
    server.route("/flap", [&] { return TestServer::Reply{flap.load(), {}}; });
    TestServer delayed;  // a TCP target of its own, to count its connections
    const int refused = closed_port();

    // A gRPC server with the standard health service, SERVING. gRPC serves that service
    // synchronously only beside another synchronous one: any will do (every method of this
    // one answers UNIMPLEMENTED).
    grpc::EnableDefaultHealthCheckService(true);
    int grpc_port = 0;
    grpc::ServerBuilder builder;
    runtime::v1::ImageService::Service placeholder;
    builder.RegisterService(&placeholder);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
    auto grpc_server = builder.BuildAndStart();
    REQUIRE(grpc_server);
    REQUIRE(grpc_port > 0);

    cri::CriClient cri({"/nonexistent/kcube-probes-test.sock", 1s});
    std::mutex changes_mutex;
    std::map<std::string, int> changes;
    std::vector<std::string> failures;
    ProbeManager probes(cri, [&](const std::string& key) {
        std::lock_guard lock(changes_mutex);
        ++changes[key];
    });
    probes.set_on_failure([&](const std::string& key, const std::string& uid,
                              const std::string& container, ProbeType, const std::string& text) {
        std::lock_guard lock(changes_mutex);
        failures.push_back(key + " " + uid + " " + container + ": " + text);
    });

    json::object headers_probe = http_probe("/ok", "http");
    headers_probe["httpGet"].as_object()["httpHeaders"] =
        json::array{json::object{{"name", "X-Probe"}, {"value", "yes"}},
                    json::object{{"name", "Host"}, {"value", "example.test"}}};
    json::object ready_http = container("ready-http", {{"readinessProbe", headers_probe}});
    ready_http["ports"] =
        json::array{json::object{{"name", "http"}, {"containerPort", server.port()}}};
    json::object flappy = http_probe("/flap", server.port(), 1, 1);
    flappy["successThreshold"] = 2;
    json::object delayed_probe{{"tcpSocket", {{"port", delayed.port()}}},
                               {"initialDelaySeconds", 2},
                               {"periodSeconds", 1}};
    const json::object p = pod(
        "uid-1",
        json::array{
            ready_http,
            container("live-500", {{"livenessProbe", http_probe("/fail", server.port(), 1, 2)}}),
            container(
                "tcp-refused",
                {{"readinessProbe", {{"tcpSocket", {{"port", refused}}}, {"periodSeconds", 1}}}}),
            container("tcp-delayed", {{"readinessProbe", delayed_probe}}),
            container("gated", {{"startupProbe", http_probe("/started", server.port(), 1, 100)},
                                {"livenessProbe", http_probe("/gated-live", server.port())}}),
            container("redirect", {{"readinessProbe", http_probe("/redirect", server.port())}}),
            container("offsite", {{"readinessProbe", http_probe("/offsite", server.port())}}),
            container("named-missing", {{"readinessProbe", http_probe("/ok", "nope")}}),
            container("flappy", {{"readinessProbe", flappy}}),
            container("grpc", {{"readinessProbe",
                                {{"grpc", {{"port", grpc_port}}}, {"periodSeconds", 1}}}}),
            container(
                "grpc-down",
                {{"livenessProbe",
                  {{"grpc", {{"port", refused}}}, {"periodSeconds", 1}, {"failureThreshold", 1}}}}),
            container("no-probes", {}),
        });
    const auto begin = std::chrono::steady_clock::now();
    probes.update(p, "127.0.0.1", all_running(p));

    // Before any probe ran: not ready with a readiness probe, ready without; alive.
    CHECK(probes.result("uid-1", "tcp-delayed", ProbeType::kReadiness) == ProbeResult::kFailure);
    CHECK(probes.result("uid-1", "no-probes", ProbeType::kReadiness) == ProbeResult::kSuccess);
    CHECK(probes.result("uid-1", "no-probes", ProbeType::kLiveness) == ProbeResult::kUnknown);
    CHECK(probes.result("uid-1", "live-500", ProbeType::kLiveness) == ProbeResult::kSuccess);
    CHECK(probes.started("uid-1", "no-probes"));
    CHECK_FALSE(probes.started("uid-1", "gated"));
    CHECK(probes.result("uid-1", "gated", ProbeType::kStartup) == ProbeResult::kUnknown);
    CHECK(probes.result("other-uid", "x", ProbeType::kReadiness) == ProbeResult::kUnknown);

    auto result = [&](const char* c, ProbeType type) { return probes.result("uid-1", c, type); };
    CHECK(eventually(
        [&] { return result("ready-http", ProbeType::kReadiness) == ProbeResult::kSuccess; }, 3s));
    const std::string request = server.request("/ok");
    CHECK(request.find("User-Agent: kube-probe/1.32\r\n") != std::string::npos);
    CHECK(request.find("X-Probe: yes\r\n") != std::string::npos);
    CHECK(request.find("Host: example.test\r\n") != std::string::npos);
    CHECK(request.find("Accept: */*\r\n") != std::string::npos);
    {
        std::lock_guard lock(changes_mutex);
        CHECK(changes["default/web"] >= 1);
    }

    // Redirects: followed on the same host (the target is what answers), not to another one
    // (the 302 itself counts as success, as upstream's 3xx does).
    CHECK(eventually(
        [&] { return result("redirect", ProbeType::kReadiness) == ProbeResult::kSuccess; }, 3s));
    CHECK(server.hits("/ok?from=redirect") >= 1);
    CHECK(eventually(
        [&] { return result("offsite", ProbeType::kReadiness) == ProbeResult::kSuccess; }, 3s));

    CHECK(eventually([&] { return result("grpc", ProbeType::kReadiness) == ProbeResult::kSuccess; },
                     3s));

    // Liveness with failureThreshold 2 at 1 s: failed after the second failure, then on hold.
    CHECK(eventually(
        [&] { return result("live-500", ProbeType::kLiveness) == ProbeResult::kFailure; }, 4s));
    CHECK(std::chrono::steady_clock::now() - begin >= 900ms);
    CHECK(probes.last_failure("uid-1", "live-500", ProbeType::kLiveness) ==
          "Liveness probe failed: HTTP probe failed with statuscode: 500");
    const int fail_hits = server.hits("/fail");
    CHECK(fail_hits == 2);

    CHECK(eventually(
        [&] {
            return probes.last_failure("uid-1", "tcp-refused", ProbeType::kReadiness) ==
                   "Readiness probe failed: dial tcp 127.0.0.1:" + std::to_string(refused) +
                       ": connect: connection refused";
        },
        3s));
    CHECK(result("tcp-refused", ProbeType::kReadiness) == ProbeResult::kFailure);
    CHECK(eventually(
        [&] {
            return probes.last_failure("uid-1", "named-missing", ProbeType::kReadiness) ==
                   "Readiness probe errored: strconv.Atoi: parsing \"nope\": invalid syntax";
        },
        3s));
    CHECK(result("named-missing", ProbeType::kReadiness) == ProbeResult::kFailure);
    CHECK(eventually(
        [&] { return result("grpc-down", ProbeType::kLiveness) == ProbeResult::kFailure; }, 4s));
    CHECK(probes.last_failure("uid-1", "grpc-down", ProbeType::kLiveness) ==
          "Liveness probe failed: timeout: failed to connect service \"127.0.0.1:" +
              std::to_string(refused) + "\" within 1s: context deadline exceeded");

    // initialDelaySeconds: no connection before 2 s after the container started.
    CHECK(eventually(
        [&] { return result("tcp-delayed", ProbeType::kReadiness) == ProbeResult::kSuccess; }, 5s));
    CHECK(std::chrono::steady_clock::now() - begin >= 1900ms);
    CHECK(delayed.connections() >= 1);

    // The startup probe gates liveness: nothing probed it until the container started.
    CHECK(server.hits("/started") >= 2);
    CHECK(server.hits("/gated-live") == 0);
    CHECK_FALSE(probes.started("uid-1", "gated"));
    started = true;
    CHECK(eventually([&] { return probes.started("uid-1", "gated"); }, 3s));
    CHECK(eventually([&] { return server.hits("/gated-live") >= 1; }, 2s));

    // successThreshold 2: one good answer is not enough; failureThreshold 1 flips back at once.
    flap = 200;
    CHECK(eventually(
        [&] { return result("flappy", ProbeType::kReadiness) == ProbeResult::kSuccess; }, 4s));
    CHECK(server.hits("/flap") >= 2);
    flap = 500;
    CHECK(eventually(
        [&] { return result("flappy", ProbeType::kReadiness) == ProbeResult::kFailure; }, 3s));

    // A new container id starts the container's probes over (liveness alive again, probed).
    auto restarted = all_running(p);
    restarted["live-500"].id = "live-500-2";
    probes.update(p, "127.0.0.1", restarted);
    CHECK(result("live-500", ProbeType::kLiveness) == ProbeResult::kSuccess);
    CHECK(eventually([&] { return server.hits("/fail") > fail_hits; }, 3s));

    // A container that stopped running is not ready; a removed pod is forgotten.
    restarted.erase("ready-http");
    probes.update(p, "127.0.0.1", restarted);
    CHECK(result("ready-http", ProbeType::kReadiness) == ProbeResult::kFailure);
    CHECK_FALSE(probes.started("uid-1", "ready-http"));
    {
        std::lock_guard lock(changes_mutex);
        CHECK_FALSE(failures.empty());
        bool seen = false;
        for (const auto& f : failures) {
            if (f ==
                "default/web uid-1 live-500: Liveness probe failed: HTTP probe failed with "
                "statuscode: 500")
                seen = true;
        }
        CHECK(seen);
    }
    // The gRPC service stops serving.
    grpc_server->GetHealthCheckService()->SetServingStatus(false);
    CHECK(eventually([&] { return result("grpc", ProbeType::kReadiness) == ProbeResult::kFailure; },
                     5s));
    CHECK(probes.last_failure("uid-1", "grpc", ProbeType::kReadiness) ==
          "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")");

    probes.remove("uid-1");
    CHECK(result("flappy", ProbeType::kReadiness) == ProbeResult::kUnknown);
    grpc_server->Shutdown();
}

TEST_CASE("probes: httpGet over HTTPS skips verification; timeouts fail the probe") {
    kcube::testing::TempDir tmp;
    const auto key = tmp / "key.pem";
    const auto cert = tmp / "cert.pem";
    const auto made = kcube::testing::run({"openssl", "req", "-x509", "-newkey", "rsa:2048",
                                           "-nodes", "-subj", "/CN=probe.test", "-days", "1",
                                           "-keyout", key.string(), "-out", cert.string()});
    REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    const int tls_port = closed_port();
    // `openssl s_server -www` answers any GET with 200 and a status page.
    SpawnOptions server;
    server.argv = {"openssl", "s_server",    "-accept", "127.0.0.1:" + std::to_string(tls_port),
                   "-cert",   cert.string(), "-key",    key.string(),
                   "-www",    "-quiet"};
    server.output = tmp / "s_server.log";
    ChildProcess tls = ChildProcess::spawn(server);
    REQUIRE(eventually(
        [&] {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(static_cast<uint16_t>(tls_port));
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool ok =
                ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
            ::close(fd);
            return ok;
        },
        5s));

    // A server that accepts and never answers.
    int silent_port = 0;
    const int silent = listen_loopback(silent_port);

    cri::CriClient cri({"/nonexistent/kcube-probes-test.sock", 1s});
    ProbeManager probes(cri, {});
    json::object secure = http_probe("/", tls_port);
    secure["httpGet"].as_object()["scheme"] = "HTTPS";
    const json::object p = pod(
        "uid-2",
        json::array{container("https", {{"readinessProbe", secure}}),
                    container("silent", {{"readinessProbe", http_probe("/", silent_port, 1, 1)}})});
    probes.update(p, "127.0.0.1", all_running(p));
    CHECK(eventually(
        [&] {
            return probes.result("uid-2", "https", ProbeType::kReadiness) == ProbeResult::kSuccess;
        },
        4s));
    CHECK(eventually(
        [&] { return !probes.last_failure("uid-2", "silent", ProbeType::kReadiness).empty(); },
        4s));
    CHECK(probes.last_failure("uid-2", "silent", ProbeType::kReadiness) ==
          "Readiness probe failed: Get \"http://127.0.0.1:" + std::to_string(silent_port) +
              "/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    ::close(silent);
}

TEST_CASE("probes: exec probes run in a real container through the CRI") {
    const stdfs::path images = KCUBE_TEST_IMAGES_DIR;
    std::string missing;
    if (::geteuid() != 0) missing += " root;";
    for (const char* image : {"pause.tar", "busybox.tar"}) {
        if (!stdfs::exists(images / image))
            missing += std::string(" ") + image + " (kcube_images);";
    }
    INFO("this test runs a real containerd; missing:", missing);
    REQUIRE(missing.empty());

    kcube::testing::TempDir tmp;
    ContainerdOptions options;
    options.data_dir = tmp / "containerd";
    Containerd containerd(options);
    containerd.import_image(images / "pause.tar");
    containerd.import_image(images / "busybox.tar");
    cri::CriClient cri({containerd.socket()});

    cri::v1::PodSandboxConfig sandbox;
    sandbox.mutable_metadata()->set_name("probed");
    sandbox.mutable_metadata()->set_uid("probed-uid");
    sandbox.mutable_metadata()->set_namespace_("default");
    sandbox.set_log_directory((tmp / "logs").string());
    stdfs::create_directories(tmp / "logs");
    sandbox.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        cri::v1::NODE);
    const std::string sandbox_id = cri.run_pod_sandbox(sandbox);
    // The pod goes however the test ends, so that no shim outlives it.
    struct SandboxCleanup {
        cri::CriClient& cri;
        std::string id;
        ~SandboxCleanup() {
            try {
                cri.stop_pod_sandbox(id);
                cri.remove_pod_sandbox(id);
            } catch (const std::exception&) {
            }
        }
    } cleanup{cri, sandbox_id};
    cri::v1::ContainerConfig config;
    config.mutable_metadata()->set_name("main");
    config.mutable_image()->set_image("localhost/kcube/busybox:1.35");
    config.add_command("sleep");
    config.add_args("60");
    config.set_log_path("main.log");
    const std::string id = cri.create_container(sandbox_id, config, sandbox);
    cri.start_container(id);

    ProbeManager probes(cri, {});
    auto exec = [](std::vector<std::string> command, int timeout = 1) {
        json::array argv;
        for (auto& arg : command)
            argv.emplace_back(arg);
        return json::object{{"exec", {{"command", std::move(argv)}}},
                            {"periodSeconds", 1},
                            {"timeoutSeconds", timeout},
                            {"failureThreshold", 1}};
    };
    // $(GREETING) is the pod spec's env, expanded by the kubelet: the runtime's container
    // has no such variable, so only the expansion makes this test pass.
    json::object ok =
        container("exec-ok", {{"readinessProbe", exec({"sh", "-c", "test $(GREETING) = hello"})}});
    ok["env"] = json::array{json::object{{"name", "GREETING"}, {"value", "hello"}}};
    const json::object p = pod(
        "uid-3",
        json::array{
            ok,
            container("exec-fail",
                      {{"livenessProbe", exec({"sh", "-c", "echo boom; echo bang >&2; exit 1"})}}),
            container("exec-timeout", {{"livenessProbe", exec({"sleep", "5"})}}),
        });
    std::map<std::string, RunningContainer> running;
    for (const char* name : {"exec-ok", "exec-fail", "exec-timeout"})
        running[name] = RunningContainer{id, std::chrono::system_clock::now()};
    probes.update(p, "127.0.0.1", running);

    CHECK(eventually(
        [&] {
            return probes.result("uid-3", "exec-ok", ProbeType::kReadiness) ==
                   ProbeResult::kSuccess;
        },
        5s));
    CHECK(eventually(
        [&] {
            return probes.result("uid-3", "exec-fail", ProbeType::kLiveness) ==
                   ProbeResult::kFailure;
        },
        5s));
    CHECK(probes.last_failure("uid-3", "exec-fail", ProbeType::kLiveness) ==
          "Liveness probe failed: boom\nbang\n");
    CHECK(eventually(
        [&] {
            return probes.result("uid-3", "exec-timeout", ProbeType::kLiveness) ==
                   ProbeResult::kFailure;
        },
        8s));
    CHECK(probes.last_failure("uid-3", "exec-timeout", ProbeType::kLiveness) ==
          "Liveness probe failed: command \"sleep 5\" timed out");
    probes.remove("uid-3");
    cri.stop_container(id, 1s);
}
