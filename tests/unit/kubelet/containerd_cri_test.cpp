// A real containerd, started by the supervisor, driven through the CRI client: images, a pod
// sandbox, a container, exec, a containerd crash and restart, and a shutdown that leaves no
// process or mount behind. Needs root, containerd, runc and the images kcube_images builds;
// without them it fails and says what is missing.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "cluster/kubelet/child_process.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "common/error.hpp"

using namespace kcube::kubelet;
namespace v1 = kcube::kubelet::cri::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const stdfs::path kImages = KCUBE_TEST_IMAGES_DIR;
const std::string kPause = "localhost/kcube/pause:3.10";
const std::string kBusybox = "localhost/kcube/busybox:1.35";

std::string read_text(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Polls `condition` until it holds or `timeout` passes; the final answer is the condition's.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

// Processes (other than this one) whose command line mentions `text`.
std::vector<std::string> processes_mentioning(const std::string& text) {
    std::vector<std::string> found;
    for (const auto& entry : stdfs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (!std::all_of(name.begin(), name.end(), ::isdigit) || std::stoi(name) == ::getpid()) {
            continue;
        }
        std::string cmdline = read_text(entry.path() / "cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(text) != std::string::npos) found.push_back(name + ": " + cmdline);
    }
    return found;
}

// Mount points at or under `dir`.
std::vector<std::string> mounts_under(const stdfs::path& dir) {
    std::vector<std::string> found;
    std::istringstream lines(read_text("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point;
        fields >> id >> parent >> device >> root >> mount_point;
        if (mount_point.rfind(dir.string(), 0) == 0) found.push_back(mount_point);
    }
    return found;
}

std::string prerequisites_missing() {
    std::string missing;
    if (::geteuid() != 0) missing += " root (run the test as root; CI does);";
    for (const char* program : {"containerd", "containerd-shim-runc-v2", "ctr", "runc"}) {
        if (!find_program(program) && !find_program(std::string("/usr/sbin/") + program)) {
            missing += std::string(" ") + program + " (scripts/install-deps.sh);";
        }
    }
    for (const char* image : {"pause.tar", "busybox.tar"}) {
        if (!stdfs::exists(kImages / image)) {
            missing += " " + (kImages / image).string() + " (build the kcube_images target);";
        }
    }
    return missing;
}

v1::PodSandboxConfig sandbox_config(const stdfs::path& log_dir) {
    v1::PodSandboxConfig config;
    auto* metadata = config.mutable_metadata();
    metadata->set_name("hello");
    metadata->set_uid("0d6f7c3e-hello");
    metadata->set_namespace_("default");
    metadata->set_attempt(0);
    config.set_log_directory(log_dir.string());
    (*config.mutable_labels())["io.kubernetes.pod.name"] = "hello";
    // Host network: this test needs no CNI config. Such a pod shares the node's UTS namespace,
    // so (as upstream's kubelet does) it sets no hostname and gets the node's.
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        v1::NODE);
    return config;
}

v1::ContainerConfig container_config() {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name("main");
    config.mutable_image()->set_image(kBusybox);
    config.add_command("sh");
    config.add_args("-c");
    config.add_args("echo hello; sleep 30");
    auto* env = config.add_envs();
    env->set_key("GREETING");
    env->set_value("hello");
    config.set_log_path("main/0.log");
    (*config.mutable_labels())["io.kubernetes.container.name"] = "main";
    return config;
}

v1::ContainerState state_of(cri::CriClient& client, const std::string& id) {
    return client.container_status(id).status().state();
}

}  // namespace

TEST_CASE("containerd: supervised start, CRI pod life cycle, restart after a crash, clean stop") {
    const std::string missing = prerequisites_missing();
    INFO("this test runs a real containerd; missing:", missing);
    REQUIRE(missing.empty());

    kcube::testing::TempDir tmp;
    const stdfs::path data = tmp / "node";
    const stdfs::path log_dir = tmp / "pods" / "default_hello";
    stdfs::create_directories(log_dir / "main");
    {
        ContainerdOptions options;
        options.data_dir = data;
        const auto begin = std::chrono::steady_clock::now();
        Containerd containerd(options);
        MESSAGE("containerd ready in ",
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - begin)
                    .count(),
                " ms, pid ", containerd.pid());
        CHECK(containerd.pid() > 0);
        CHECK(containerd.version().runtime_name == "containerd");

        cri::CriClient client({containerd.socket()});
        const auto version = client.version();
        CHECK(version.runtime_name == "containerd");
        CHECK(version.runtime_version.find("1.6.20") != std::string::npos);
        CHECK(version.runtime_api_version == "v1");
        CHECK(client.status().runtime_ready());

        // Images: imported with ctr, then visible to the CRI.
        CHECK(containerd.import_image(kImages / "pause.tar") == std::vector<std::string>{kPause});
        CHECK(containerd.import_image(kImages / "busybox.tar") ==
              std::vector<std::string>{kBusybox});
        std::vector<std::string> tags;
        for (const auto& image : client.list_images()) {
            tags.insert(tags.end(), image.repo_tags().begin(), image.repo_tags().end());
        }
        CHECK(std::count(tags.begin(), tags.end(), kPause) == 1);
        CHECK(std::count(tags.begin(), tags.end(), kBusybox) == 1);
        const auto busybox = client.image_status(kBusybox);
        REQUIRE(busybox.has_value());
        CHECK(busybox->size() > 0);
        CHECK_FALSE(client.image_status("localhost/kcube/no-such-image:1").has_value());
        CHECK_FALSE(client.image_fs_info().empty());

        // A sandbox and a container in it.
        const v1::PodSandboxConfig sandbox = sandbox_config(log_dir);
        const std::string sandbox_id = client.run_pod_sandbox(sandbox);
        CHECK(client.pod_sandbox_status(sandbox_id).status().state() == v1::SANDBOX_READY);
        const std::string id = client.create_container(sandbox_id, container_config(), sandbox);
        CHECK(state_of(client, id) == v1::CONTAINER_CREATED);
        client.start_container(id);
        CHECK(state_of(client, id) == v1::CONTAINER_RUNNING);
        CHECK(eventually(
            [&] {
                return read_text(log_dir / "main/0.log").find(" stdout F hello") !=
                       std::string::npos;
            },
            10s));

        const auto hostname = client.exec_sync(id, {"cat", "/etc/hostname"}, 10s);
        CHECK(hostname.exit_code == 0);
        char node_name[256] = {};
        REQUIRE(::gethostname(node_name, sizeof node_name - 1) == 0);
        CHECK(hostname.out == std::string(node_name) + "\n");
        const auto env = client.exec_sync(id, {"sh", "-c", "echo $GREETING >&2; exit 7"}, 10s);
        CHECK(env.exit_code == 7);
        CHECK(env.err == "hello\n");

        v1::ContainerFilter in_sandbox;
        in_sandbox.set_pod_sandbox_id(sandbox_id);
        CHECK(client.list_containers(in_sandbox).size() == 1);
        CHECK(client.list_pod_sandbox().size() == 1);
        CHECK(client.container_stats(id).attributes().id() == id);
        cri::StreamOptions terminal;
        terminal.tty = true;
        terminal.with_stdin = true;
        terminal.with_stderr = false;
        const std::string exec_url = client.exec(id, {"sh"}, terminal);
        CHECK(exec_url.rfind("http://127.0.0.1:", 0) == 0);
        CHECK(client.port_forward(sandbox_id, {8080}).rfind("http://127.0.0.1:", 0) == 0);
        CHECK(client.attach(id, {}).rfind("http://127.0.0.1:", 0) == 0);
        v1::ContainerStatsFilter stats_filter;
        stats_filter.set_pod_sandbox_id(sandbox_id);
        CHECK(client.list_container_stats(stats_filter).size() == 1);
        client.reopen_container_log(id);

        // containerd dies: the supervisor starts it again, and the container kept running.
        const pid_t first = containerd.pid();
        REQUIRE(::kill(first, SIGKILL) == 0);
        CHECK(eventually([&] { return containerd.restarts() == 1; }, 10s));
        REQUIRE(containerd.wait_ready(30s));
        CHECK(containerd.pid() != first);
        CHECK(state_of(client, id) == v1::CONTAINER_RUNNING);
        CHECK(client.exec_sync(id, {"true"}, 10s).exit_code == 0);

        // Tear down in the kubelet's order.
        client.stop_container(id, 2s);
        CHECK(state_of(client, id) == v1::CONTAINER_EXITED);
        client.remove_container(id);
        try {
            client.container_status(id);
            FAIL("expected NOT_FOUND for a removed container");
        } catch (const cri::CriError& e) {
            CHECK(e.not_found());
            CHECK(e.rpc() == "ContainerStatus");
        }
        client.stop_pod_sandbox(sandbox_id);
        client.remove_pod_sandbox(sandbox_id);
        CHECK(client.list_pod_sandbox().empty());

        // Images: a pull that cannot reach its registry fails with the runtime's reason; a
        // removed image is gone.
        try {
            client.pull_image("127.0.0.1:9/kcube/unreachable:1");
            FAIL("expected the pull to fail");
        } catch (const cri::CriError& e) {
            CHECK(e.rpc() == "PullImage");
            CHECK(std::string(e.what()).find("127.0.0.1:9") != std::string::npos);
        }
        client.remove_image(kBusybox);
        CHECK_FALSE(client.image_status(kBusybox).has_value());
    }
    // The supervisor's destructor stopped containerd; with the pod gone its shim went too.
    std::vector<std::string> left;
    CHECK(eventually(
        [&] {
            left = processes_mentioning(data.string());
            return left.empty();
        },
        10s));
    for (const auto& process : left)
        MESSAGE("left running: ", process);
    CHECK(mounts_under(data).empty());

    // Afterwards the socket refuses: a client call fails with UNAVAILABLE, not a hang.
    cri::CriClient gone({data / "containerd.sock", 2s});
    try {
        gone.version();
        FAIL("expected UNAVAILABLE");
    } catch (const cri::CriError& e) {
        CHECK(e.unavailable());
    }
}

TEST_CASE("containerd: start-up failures are errors that say why") {
    const std::string missing = prerequisites_missing();
    INFO("this test runs a real containerd; missing:", missing);
    REQUIRE(missing.empty());
    kcube::testing::TempDir tmp;

    ContainerdOptions absent;
    absent.data_dir = tmp / "a";
    absent.containerd_program = "kcube-no-such-containerd";
    try {
        Containerd containerd(absent);
        FAIL("expected CONTAINERD_MISSING");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "CONTAINERD_MISSING");
    }

    // A containerd that cannot start (an unknown flag value) fails fast with its log.
    ContainerdOptions broken;
    broken.data_dir = tmp / "b";
    broken.log_level = "no-such-level";
    try {
        Containerd containerd(broken);
        FAIL("expected CONTAINERD_START_FAILED");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "CONTAINERD_START_FAILED");
        CHECK(std::string(e.what()).find("exited during start-up") != std::string::npos);
        CHECK(std::string(e.what()).find("no-such-level") != std::string::npos);
    }
}
