// The pure parts of containerd supervision: host facts, the config we write, child processes.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "cluster/kubelet/child_process.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "common/error.hpp"

using namespace kcube::kubelet;

namespace {
SpawnOptions command(std::vector<std::string> argv) {
    SpawnOptions options;
    options.argv = std::move(argv);
    return options;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("CapEff parsing finds CAP_SYS_RESOURCE (bit 24) or its absence") {
    // This machine kind: root, but everything except CAP_SYS_RESOURCE.
    const std::string sandboxed =
        "Name:\tkcube\nCapInh:\t0000000000000000\n"
        "CapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n";
    CHECK_FALSE(effective_capability(sandboxed, 24));
    CHECK(effective_capability(sandboxed, 21));  // CAP_SYS_ADMIN
    CHECK(effective_capability("CapEff:\t000001ffffffffff\n", 24));
    CHECK_FALSE(effective_capability("CapEff:\t0000000000000000\n", 0));
    CHECK_FALSE(effective_capability("Name:\tx\n", 24));
    CHECK_FALSE(effective_capability("CapEff:\tzz\n", 24));
}

TEST_CASE("the containerd config keeps everything under the data dir and fits the host") {
    ContainerdOptions options;
    options.data_dir = "/var/lib/kcube/node";
    const ContainerdPaths paths = containerd_paths(options);
    CHECK(paths.socket == "/var/lib/kcube/node/containerd.sock");
    CHECK(paths.cni_conf_dir == "/var/lib/kcube/node/cni/net.d");

    const std::string restricted =
        render_containerd_config(options, paths, HostFacts{false, false});
    CHECK(contains(restricted, "version = 2\n"));
    CHECK(contains(restricted, "root = \"/var/lib/kcube/node/root\""));
    CHECK(contains(restricted, "state = \"/var/lib/kcube/node/state\""));
    CHECK(contains(restricted, "address = \"/var/lib/kcube/node/containerd.sock\""));
    CHECK(contains(restricted, "address = \"/var/lib/kcube/node/containerd.sock.ttrpc\""));
    CHECK(contains(restricted, "restrict_oom_score_adj = true"));
    CHECK(contains(restricted, "disable_apparmor = true"));
    CHECK(contains(restricted, "SystemdCgroup = false"));
    CHECK(contains(restricted, "snapshotter = \"overlayfs\""));
    CHECK(contains(restricted, "sandbox_image = \"localhost/kcube/pause:3.10\""));
    CHECK(contains(restricted, "bin_dir = \"/usr/lib/cni\""));
    CHECK(contains(restricted, "conf_dir = \"/var/lib/kcube/node/cni/net.d\""));
    CHECK(contains(restricted, "stream_server_address = \"127.0.0.1\""));

    options.systemd_cgroup = true;
    const std::string laptop = render_containerd_config(options, paths, HostFacts{true, true});
    CHECK(contains(laptop, "restrict_oom_score_adj = false"));
    CHECK(contains(laptop, "disable_apparmor = false"));
    CHECK(contains(laptop, "SystemdCgroup = true"));
}

TEST_CASE("config strings are TOML-escaped") {
    ContainerdOptions options;
    options.data_dir = "/tmp/a \"quoted\" dir";
    const std::string config =
        render_containerd_config(options, containerd_paths(options), HostFacts{});
    CHECK(contains(config, "root = \"/tmp/a \\\"quoted\\\" dir/root\""));
}

TEST_CASE("child processes: exit codes, termination, captured output, missing programs") {
    ChildProcess child = ChildProcess::spawn(command({"sh", "-c", "exit 3"}));
    CHECK(child.pid() > 0);
    const ExitStatus status = child.wait();
    CHECK(status.exited());
    CHECK(status.code() == 3);
    CHECK_FALSE(child.running());

    ChildProcess sleeper = ChildProcess::spawn(command({"sleep", "100"}));
    CHECK_FALSE(sleeper.wait_for(std::chrono::milliseconds(50)).has_value());
    const ExitStatus stopped = sleeper.terminate(std::chrono::seconds(5));
    CHECK(stopped.signal() == SIGTERM);
    CHECK(stopped.describe().find("signal 15") == 0);

    // A child that ignores SIGTERM is killed once the grace period is over. It says (in its
    // output file) when it has started ignoring SIGTERM, so the test does not race its shell.
    kcube::testing::TempDir tmp;
    SpawnOptions stubborn_options =
        command({"sh", "-c", "trap '' TERM; echo ready; exec sleep 100"});
    stubborn_options.output = tmp / "stubborn.log";
    ChildProcess stubborn = ChildProcess::spawn(stubborn_options);
    for (int i = 0; i < 200 && std::filesystem::file_size(stubborn_options.output) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    CHECK(stubborn.terminate(std::chrono::milliseconds(300)).signal() == SIGKILL);

    const CaptureResult captured =
        run_and_capture({"sh", "-c", "echo out; echo err >&2; exit 2"}, std::chrono::seconds(10));
    CHECK(captured.status.code() == 2);
    CHECK(captured.output == "out\nerr\n");

    try {
        ChildProcess::spawn(command({"kcube-no-such-program"}));
        FAIL("expected an error");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "HOST_PROGRAM_MISSING");
        CHECK(contains(e.what(), "kcube-no-such-program"));
    }
    CHECK_THROWS_AS(run_and_capture({"sleep", "10"}, std::chrono::milliseconds(100)), kcube::Error);
}

TEST_CASE("a child process still running when its owner goes away is killed and reaped") {
    pid_t pid = -1;
    {
        ChildProcess sleeper = ChildProcess::spawn(command({"sleep", "100"}));
        pid = sleeper.pid();
        CHECK(::kill(pid, 0) == 0);
    }
    // Reaped, so the pid no longer names our child (kill fails with ESRCH, or hits a stranger
    // that reused it, which is vanishingly unlikely this fast).
    CHECK(::kill(pid, 0) != 0);
}
