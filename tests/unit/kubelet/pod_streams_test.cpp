// pods/log, exec, attach and portforward end to end, with the real parts: the API server's
// Router and HttpsServer, a real containerd running a pod (sandbox + busybox containers), and
// real kubectl 1.32 talking to the API server, which streams logs from the CRI log files and
// relays upgraded connections to containerd's streaming server. The kubelet is played by a
// small PodStreams over the CRI client, so this checks the API server's half (protocols,
// relaying, log reading) on its own. Needs root, containerd, runc and the kcube_images tarballs.
#include "cluster/apiserver/pod_streams.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "bootstrap/kubeconfig.hpp"
#include "bootstrap/pki.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/apiserver/router.hpp"
#include "cluster/apiserver/server.hpp"
#include "cluster/auth/rbac.hpp"
#include "cluster/auth/tokens.hpp"
#include "cluster/kubelet/child_process.hpp"
#include "cluster/kubelet/container_logs.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "cluster/store/store.hpp"
#include "common/fs.hpp"

using namespace kcube;
using namespace std::chrono_literals;
namespace v1 = kubelet::cri::v1;
namespace json = boost::json;
namespace stdfs = std::filesystem;

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

std::string kubectl_program() {
    // The server reports v1.32: the version this test is about, whatever the dispatcher picks.
    const stdfs::path pinned = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
    return stdfs::exists(pinned) ? pinned.string() : kcube::testing::kubectl();
}

std::string prerequisites_missing() {
    std::string missing;
    if (::geteuid() != 0) missing += " root (run the test as root; CI does);";
    for (const char* program : {"containerd", "containerd-shim-runc-v2", "ctr", "runc"}) {
        if (!kubelet::find_program(program) &&
            !kubelet::find_program(std::string("/usr/sbin/") + program)) {
            missing += std::string(" ") + program + " (scripts/install-deps.sh);";
        }
    }
    for (const char* image : {"pause.tar", "busybox.tar"}) {
        if (!stdfs::exists(kImages / image)) {
            missing += " " + (kImages / image).string() + " (build the kcube_images target);";
        }
    }
    if (!kubelet::find_program(kubectl_program())) missing += " kubectl;";
    return missing;
}

// A TCP port nobody listens on right now.
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

// GET / from 127.0.0.1:port; the whole answer, or "" when nothing listens.
std::string http_get(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        const std::string request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
            char buffer[4096];
            pollfd readable{fd, POLLIN, 0};
            while (::poll(&readable, 1, 5000) > 0) {
                const ssize_t n = ::read(fd, buffer, sizeof buffer);
                if (n <= 0) break;
                answer.append(buffer, static_cast<size_t>(n));
            }
        }
    }
    ::close(fd);
    return answer;
}

// A log stream that counts itself, to see when the API server lets go of it.
class CountedLog : public apiserver::LogStream {
  public:
    CountedLog(std::unique_ptr<apiserver::LogStream> inner, std::atomic<int>& count)
        : inner_(std::move(inner)), count_(count) {
        ++count_;
    }
    ~CountedLog() override { --count_; }
    CountedLog(const CountedLog&) = delete;
    CountedLog& operator=(const CountedLog&) = delete;
    std::optional<std::string> read(std::chrono::milliseconds wait) override {
        return inner_->read(wait);
    }

  private:
    std::unique_ptr<apiserver::LogStream> inner_;
    std::atomic<int>& count_;
};

// The pod as the kubelet would serve it: container names to CRI ids, and the CRI's URLs.
class CriPodStreams : public apiserver::PodStreams {
  public:
    CriPodStreams(kubelet::cri::CriClient& client, std::string sandbox, stdfs::path log_dir)
        : client_(client), sandbox_(std::move(sandbox)), log_dir_(std::move(log_dir)) {}
    void add(const std::string& name, const std::string& id) { containers_[name] = id; }

    std::unique_ptr<apiserver::LogStream> logs(const std::string&, const std::string&,
                                               const apiserver::LogRequest& request) override {
        const std::string id = containers_.at(request.container);
        return std::make_unique<CountedLog>(
            kubelet::open_container_log(log_dir_ / request.container / "0.log", request,
                                        [this, id] {
                                            return client_.container_status(id).status().state() ==
                                                   v1::CONTAINER_RUNNING;
                                        }),
            open_logs_);
    }
    // Log streams the API server holds now.
    int open_logs() const { return open_logs_.load(); }
    apiserver::StreamEndpoint exec(const std::string&, const std::string&,
                                   const std::string& container,
                                   const std::vector<std::string>& command,
                                   const apiserver::SessionOptions& options) override {
        return {client_.exec(containers_.at(container), command, stream_options(options))};
    }
    apiserver::StreamEndpoint attach(const std::string&, const std::string&,
                                     const std::string& container,
                                     const apiserver::SessionOptions& options) override {
        return {client_.attach(containers_.at(container), stream_options(options))};
    }
    apiserver::StreamEndpoint port_forward(const std::string&, const std::string&,
                                           const std::vector<std::int32_t>& ports) override {
        return {client_.port_forward(sandbox_, ports)};
    }

  private:
    static kubelet::cri::StreamOptions stream_options(const apiserver::SessionOptions& options) {
        kubelet::cri::StreamOptions out;
        out.tty = options.tty;
        out.with_stdin = options.with_stdin;
        out.with_stdout = options.with_stdout;
        out.with_stderr = options.with_stderr;
        return out;
    }
    kubelet::cri::CriClient& client_;
    std::string sandbox_;
    stdfs::path log_dir_;
    std::map<std::string, std::string> containers_;
    std::atomic<int> open_logs_ = 0;
};

// The API server as the node builds it, on a free loopback port, with an admin kubeconfig.
struct ApiServer {
    explicit ApiServer(const stdfs::path& dir)
        : ca(pki::CertificateAuthority::load_or_create(dir / "pki")),
          files(pki::ensure_node_pki(ca, dir / "pki", {"node1", {"127.0.0.1"}, {}})),
          store(store::open_sqlite_store(dir / "state.db")),
          registry(api::ResourceRegistry::with_builtins()),
          service(store, registry, api::builtin_schemas()),
          issuer(files.sa_key, files.sa_pub),
          authenticator(issuer, service),
          authorizer(service),
          router(service, {authenticator, authorizer, issuer},
                 {"v1.32.0", "test", "2024-01-01T00:00:00Z", "127.0.0.1:0"}),
          server("127.0.0.1", 0, {files.apiserver_cert, files.apiserver_key, files.ca_cert},
                 router) {
        auth::ensure_default_rbac(service);
        server.start();
        router.set_ready(true);
        kubeconfig = dir / "admin.kubeconfig";
        const kubeconfig::Entry admin{"kcube",
                                      "https://127.0.0.1:" + std::to_string(server.port()),
                                      files.ca_cert,
                                      files.admin_cert,
                                      files.admin_key,
                                      "",
                                      true};
        fs::write_file_atomic(kubeconfig, kubeconfig::render(admin), 0600);
    }

    pki::CertificateAuthority ca;
    pki::NodePkiFiles files;
    std::shared_ptr<store::Store> store;
    std::shared_ptr<api::ResourceRegistry> registry;
    api::ResourceService service;
    auth::TokenIssuer issuer;
    auth::Authenticator authenticator;
    auth::Authorizer authorizer;
    apiserver::Router router;
    apiserver::HttpsServer server;
    stdfs::path kubeconfig;
};

// The pod the API knows, matching what runs in containerd.
void create_pod(api::ResourceService& service, const std::vector<std::string>& containers) {
    auto namespaces = service.registry().find("", "v1", "namespaces");
    try {
        service.create(*namespaces, "", json::object{{"metadata", {{"name", "default"}}}}, {});
    } catch (const api::ApiError& e) {
        if (e.code() != 409) throw;
    }
    json::array specs;
    for (const auto& name : containers)
        specs.push_back(json::object{{"name", name}, {"image", kBusybox}});
    auto pods = service.registry().find("", "v1", "pods");
    service.create(*pods, "default",
                   json::object{{"metadata", {{"name", "web"}}},
                                {"spec", {{"nodeName", "node1"}, {"containers", specs}}}},
                   {});
}

v1::PodSandboxConfig sandbox_config(const stdfs::path& log_dir) {
    v1::PodSandboxConfig config;
    auto* metadata = config.mutable_metadata();
    metadata->set_name("web");
    metadata->set_uid("7c0c4f7e-streams");
    metadata->set_namespace_("default");
    config.set_log_directory(log_dir.string());
    // Host network: no CNI needed; port-forward then reaches the node's own loopback.
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        v1::NODE);
    return config;
}

v1::ContainerConfig container(const std::string& name, const std::string& script,
                              bool stdin_open = false) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(kBusybox);
    config.add_command("sh");
    config.add_args("-c");
    config.add_args(script);
    config.set_log_path(name + "/0.log");
    config.set_stdin(stdin_open);
    return config;
}

// A kubectl run on a pty, fed `input` line by line; its output (a terminal's, with \r\n).
std::string run_on_pty(const std::vector<std::string>& argv, const std::vector<std::string>& input,
                       std::chrono::milliseconds timeout) {
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (pid == 0) {
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t next_input = 0;
    auto last_input = std::chrono::steady_clock::now();
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            ::kill(pid, SIGKILL);
            output += "<timeout>";
            break;
        }
        // One line every 700 ms once the session answered something: the shell is there.
        if (next_input < input.size() && !output.empty() && now - last_input > 700ms) {
            const std::string line = input[next_input++] + "\r";
            (void)!::write(master, line.data(), line.size());
            last_input = now;
        }
        pollfd readable{master, POLLIN, 0};
        if (::poll(&readable, 1, 100) > 0) {
            char buffer[4096];
            const ssize_t n = ::read(master, buffer, sizeof buffer);
            if (n <= 0) break;  // EIO: the child closed the terminal
            output.append(buffer, static_cast<size_t>(n));
        }
    }
    ::close(master);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return output;
}

}  // namespace

TEST_CASE("pod streams: kubectl logs, exec, attach and port-forward through the API server") {
    const std::string missing = prerequisites_missing();
    INFO("this test runs a real containerd and kubectl; missing:", missing);
    REQUIRE(missing.empty());

    kcube::testing::TempDir tmp;
    const stdfs::path log_dir = tmp / "pods" / "default_web";
    kubelet::ContainerdOptions options;
    options.data_dir = tmp / "node";
    kubelet::Containerd containerd(options);
    containerd.import_image(kImages / "pause.tar");
    containerd.import_image(kImages / "busybox.tar");
    kubelet::cri::CriClient client({containerd.socket()});
    // Whatever happens below, no container outlives the test (their shims would).
    struct RemovePods {
        kubelet::cri::CriClient& client;
        ~RemovePods() {
            try {
                for (const auto& c : client.list_containers()) {
                    client.stop_container(c.id(), 1s);
                    client.remove_container(c.id());
                }
                for (const auto& s : client.list_pod_sandbox()) {
                    client.stop_pod_sandbox(s.id());
                    client.remove_pod_sandbox(s.id());
                }
            } catch (const std::exception& e) {
                MESSAGE("cleaning up the pod failed: ", std::string(e.what()));
            }
        }
    } remove_pods{client};

    ApiServer api(tmp / "api");
    const std::string kubectl = kubectl_program();
    const std::string kubeconfig = "--kubeconfig=" + api.kubeconfig.string();
    auto run_kubectl = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = {"timeout", "60", kubectl, kubeconfig};
        argv.insert(argv.end(), args.begin(), args.end());
        return kcube::testing::run(argv);
    };

    // Before a kubelet is there: upstream's 501 with the reason.
    create_pod(api.service, {"main", "counter", "talker"});
    auto disabled = run_kubectl({"logs", "web", "-c", "main"});
    CHECK(disabled.exit_code != 0);
    CHECK(disabled.err.find("kubelet disabled") != std::string::npos);

    const int http_port = free_port();
    const auto sandbox = sandbox_config(log_dir);
    const std::string sandbox_id = client.run_pod_sandbox(sandbox);
    CriPodStreams streams(client, sandbox_id, log_dir);
    auto start = [&](const v1::ContainerConfig& config) {
        const std::string id = client.create_container(sandbox_id, config, sandbox);
        client.start_container(id);
        streams.add(config.metadata().name(), id);
        return id;
    };
    start(container(
        "main", "httpd -p " + std::to_string(http_port) +
                    "; echo line one; sleep 0.2; echo line two >&2; sleep 0.2; echo line three; "
                    "exec sleep 600"));
    api.router.set_pod_streams(&streams);
    // kubectl port-forward (and attach) look for a Running pod first.
    {
        auto pods = api.service.registry().find("", "v1", "pods");
        json::object pod = api.service.get(*pods, "default", "web");
        pod["status"] = json::object{{"phase", "Running"}};
        api.service.update(*pods, "default", "web", pod, {}, "status");
    }
    REQUIRE(eventually(
        [&] { return read_text(log_dir / "main/0.log").find("line three") != std::string::npos; },
        10s));

    SUBCASE("logs: whole, tail, timestamps, limit, errors") {
        auto logs = run_kubectl({"logs", "web", "-c", "main"});
        CHECK(logs.exit_code == 0);
        CHECK(logs.out == "line one\nline two\nline three\n");
        CHECK(run_kubectl({"logs", "web", "-c", "main", "--tail=1"}).out == "line three\n");
        const auto stamped = run_kubectl({"logs", "web", "-c", "main", "--timestamps"}).out;
        CHECK(stamped.find("Z line one\n") != std::string::npos);
        CHECK(stamped.rfind("20", 0) == 0);
        CHECK(run_kubectl({"logs", "web", "-c", "main", "--limit-bytes=6"}).out == "line o");
        CHECK(run_kubectl({"logs", "web", "-c", "main", "--since=1h"}).out ==
              "line one\nline two\nline three\n");

        auto invalid =
            run_kubectl({"get", "--raw",
                         "/api/v1/namespaces/default/pods/web/log?container=main&tailLines=-1"});
        CHECK(invalid.exit_code != 0);
        CHECK(invalid.err.find("PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: "
                               "must be greater than or equal to 0") != std::string::npos);
        auto choose = run_kubectl({"get", "--raw", "/api/v1/namespaces/default/pods/web/log"});
        CHECK(choose.err.find("a container name must be specified for pod web, choose one of: "
                              "[main counter talker]") != std::string::npos);
        auto bad = run_kubectl({"logs", "web", "-c", "nope"});
        CHECK(bad.err.find("container nope is not valid for pod web") != std::string::npos);
    }

    SUBCASE("logs -f follows until the container ends") {
        const auto output = tmp / "follow.out";
        start(container("counter", "for i in 1 2 3 4 5; do echo count $i; sleep 0.4; done"));
        auto follower = kubelet::ChildProcess::spawn(
            {{kubectl, kubeconfig, "logs", "-f", "web", "-c", "counter"}, {}, output});
        const auto status = follower.wait_for(20s);
        REQUIRE(status.has_value());
        CHECK(status->code() == 0);
        CHECK(read_text(output) == "count 1\ncount 2\ncount 3\ncount 4\ncount 5\n");

        // A follower that goes away ends the stream on the server, though the container runs
        // on and writes nothing more.
        auto quitter = kubelet::ChildProcess::spawn(
            {{kubectl, kubeconfig, "logs", "-f", "web", "-c", "main"}, {}, tmp / "quit.out"});
        CHECK(eventually([&] { return streams.open_logs() == 1; }, 10s));
        quitter.terminate(5s);
        CHECK(eventually([&] { return streams.open_logs() == 0; }, 5s));
    }

    SUBCASE("exec: output, exit code, stdin to its end (SPDY), a TTY (WebSocket)") {
        char node_name[256] = {};
        REQUIRE(::gethostname(node_name, sizeof node_name - 1) == 0);
        auto hostname = run_kubectl({"exec", "web", "-c", "main", "--", "cat", "/etc/hostname"});
        CHECK(hostname.exit_code == 0);
        CHECK(hostname.out == std::string(node_name) + "\n");
        CHECK(hostname.err == "");

        auto both = run_kubectl(
            {"exec", "web", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
        CHECK(both.exit_code == 3);
        CHECK(both.out == "out\n");
        CHECK(both.err.find("err\n") != std::string::npos);
        CHECK(both.err.find("command terminated with exit code 3") != std::string::npos);

        // stdin without a TTY: its end must reach `cat`, or this would hang.
        auto piped = kcube::testing::run({"sh", "-c",
                                          "printf 'hi\\nthere\\n' | timeout 60 " + kubectl + " " +
                                              kubeconfig + " exec -i web -c main -- cat"});
        CHECK(piped.exit_code == 0);
        CHECK(piped.out == "hi\nthere\n");

        const std::string terminal =
            run_on_pty({kubectl, kubeconfig, "exec", "-it", "web", "-c", "main", "--", "sh"},
                       {"echo answer=$((6*7)); tty", "stty size", "exit 5"}, 30s);
        CHECK(terminal.find("answer=42") != std::string::npos);
        CHECK(terminal.find("/dev/pts/") != std::string::npos);
        CHECK(terminal.find("<timeout>") == std::string::npos);
    }

    SUBCASE("attach to a running container's output") {
        start(container("talker", "sleep 1; for i in 1 2 3 4; do echo talk $i; sleep 0.5; done"));
        auto attached = run_kubectl({"attach", "web", "-c", "talker"});
        CHECK(attached.exit_code == 0);
        CHECK(attached.out.find("talk 4\n") != std::string::npos);
    }

    SUBCASE("port-forward, then HTTP to 127.0.0.1") {
        const int local = free_port();
        const auto output = tmp / "forward.out";
        auto forwarder =
            kubelet::ChildProcess::spawn({{kubectl, kubeconfig, "-v=6", "port-forward", "pod/web",
                                           std::to_string(local) + ":" + std::to_string(http_port)},
                                          {},
                                          output});
        INFO("kubectl port-forward said: ", read_text(output));
        REQUIRE(eventually(
            [&] {
                return read_text(output).find("Forwarding from 127.0.0.1") != std::string::npos;
            },
            20s));
        const std::string answer = http_get(local);
        CHECK(answer.rfind("HTTP/1.1 200 OK", 0) == 0);
        CHECK(answer.find("kcube test image") != std::string::npos);
        // A second connection over the same forward.
        CHECK(http_get(local).find("kcube test image") != std::string::npos);
        forwarder.terminate(5s);
    }

    api.router.set_pod_streams(nullptr);
}
