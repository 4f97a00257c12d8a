// The QMP client against a real QEMU (a machine with no board: `-machine none` starts at once
// and needs no guest).
#include "drivers/qemu/qmp.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "drivers/host.hpp"
#include "drivers/qemu/accel.hpp"
#include "drivers/qemu/qemu_command.hpp"
#include "drivers/qemu/qemu_process.hpp"
#include "test_support.hpp"

extern char** environ;

using kcube::drivers::qemu::QmpClient;
using namespace std::chrono_literals;

namespace {

// A QEMU process, killed and reaped when the test is done with it.
class Qemu {
  public:
    explicit Qemu(const std::filesystem::path& socket) {
        std::vector<std::string> args = {"qemu-system-x86_64",
                                         "-machine",
                                         "none",
                                         "-nodefaults",
                                         "-display",
                                         "none",
                                         "-qmp",
                                         "unix:" + socket.string() + ",server=on,wait=off"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        REQUIRE(::posix_spawnp(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    }
    ~Qemu() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Qemu(const Qemu&) = delete;
    Qemu& operator=(const Qemu&) = delete;

    // Whether QEMU exits within `timeout` (reaped if so).
    bool exits_within(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

  private:
    pid_t pid_ = -1;
};

bool have_qemu() {
    return kcube::drivers::find_in_path("qemu-system-x86_64").has_value();
}

}  // namespace

TEST_CASE("qmp: commands, errors and quit against a real QEMU") {
    if (!have_qemu()) {
        FAIL(
            "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86); "
            "scripts/install-deps.sh installs it");
    }
    kcube::testing::TempDir dir;
    const auto socket = dir / "qmp.sock";
    Qemu qemu(socket);
    auto qmp = QmpClient::connect(socket, 10s);
    CHECK(qmp.status() == "running");
    qmp.execute("stop");
    CHECK(qmp.status() == "paused");
    const auto events = qmp.take_events();
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().at("event").as_string() == "STOP");
    CHECK(qmp.take_events().empty());
    try {
        qmp.execute("no-such-command");
        FAIL("an unknown command was accepted");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "QEMU_QMP");
        CHECK(std::string(e.what()).find("no-such-command") != std::string::npos);
    }
    const auto version = qmp.execute("query-version");
    CHECK(version.as_object().at("qemu").as_object().at("major").as_int64() >= 5);
    qmp.execute("quit");
    CHECK(qemu.exits_within(10s));
    CHECK_THROWS_AS(qmp.execute("query-status", {}, 2s), kcube::Error);
}

TEST_CASE("qmp: no QEMU behind the socket is a clear error in time") {
    kcube::testing::TempDir dir;
    const auto started = std::chrono::steady_clock::now();
    try {
        QmpClient::connect(dir / "none.sock", 300ms);
        FAIL("connected to nothing");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "QEMU_QMP");
        CHECK(std::string(e.what()).find("none.sock") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - started < 3s);
}

TEST_CASE("qemu accelerator: KVM only when it really works") {
    using kcube::drivers::qemu::choose_accel;
    using kcube::drivers::qemu::KvmFacts;
    const KvmFacts good{true, true, true, true};
    CHECK(choose_accel(std::nullopt, good).accel == "kvm");
    CHECK(choose_accel(std::string("kvm"), good).accel == "kvm");
    CHECK(choose_accel(std::string("tcg"), good).accel == "tcg");
    // This machine kind: /dev/kvm from a paravirtual module, no vmx/svm.
    const KvmFacts paravirtual{true, true, false, false};
    const auto choice = choose_accel(std::nullopt, paravirtual);
    CHECK(choice.accel == "tcg");
    CHECK(choice.why.find("kvm_intel or kvm_amd") != std::string::npos);
    try {
        choose_accel(std::string("kvm"), paravirtual);
        FAIL("forced KVM where it cannot work");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "DRV_QEMU_NO_KVM");
        CHECK(e.advice().find("--qemu-accel=tcg") != std::string::npos);
    }
    const KvmFacts no_access{true, false, true, true};
    CHECK(choose_accel(std::nullopt, no_access).why.find("cannot be opened") != std::string::npos);
    CHECK_THROWS_AS(choose_accel(std::string("hvf"), good), kcube::Error);
    // The real host: whatever it is, the choice is made and explained.
    const auto here = choose_accel(std::nullopt, kcube::drivers::qemu::probe_kvm());
    CHECK((here.accel == "kvm" ? here.why.empty() : !here.why.empty()));
}

TEST_CASE("qemu command line: direct boot, virtio disks, forwards on loopback, QMP") {
    using namespace kcube::drivers::qemu;
    MachineSpec spec;
    spec.name = "kcube-dev";
    spec.accel = "tcg";
    spec.cpus = 2;
    spec.memory_mib = 2048;
    spec.kernel = "/c/vmlinuz";
    spec.initrd = "/c/initrd.img";
    spec.kernel_args = "console=ttyS0 root=/dev/vda";
    spec.disks = {{"/m/root.qcow2", "qcow2", false}, {"/m/seed.img", "raw", true}};
    spec.forwards = {{40022, 22}, {40443, 8443}};
    spec.qmp_socket = "/m/qmp.sock";
    spec.serial_log = "/m/console.log";
    spec.pid_file = "/m/qemu.pid";
    const auto argv = qemu_argv(spec);
    std::string joined;
    for (const auto& a : argv)
        joined += a + " ";
    CHECK(joined.find("-machine q35,accel=tcg -cpu max -smp 2 -m 2048 ") != std::string::npos);
    CHECK(joined.find("-kernel /c/vmlinuz -initrd /c/initrd.img ") != std::string::npos);
    CHECK(joined.find("-append console=ttyS0 root=/dev/vda ") != std::string::npos);
    CHECK(joined.find("file=/m/root.qcow2,format=qcow2,if=virtio,cache=unsafe,index=0 ") !=
          std::string::npos);
    CHECK(joined.find("file=/m/seed.img,format=raw,if=virtio,cache=unsafe,index=1,readonly=on") !=
          std::string::npos);
    CHECK(joined.find("hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40443-:8443") !=
          std::string::npos);
    CHECK(joined.find("-qmp unix:/m/qmp.sock,server=on,wait=off") != std::string::npos);
    CHECK(joined.find("-serial file:/m/console.log") != std::string::npos);
    CHECK(joined.find("-daemonize") != std::string::npos);
    CHECK(joined.find("-no-reboot") != std::string::npos);
    spec.accel = "kvm";
    std::string kvm;
    for (const auto& a : qemu_argv(spec))
        kvm += a + " ";
    CHECK(kvm.find("accel=kvm -cpu host") != std::string::npos);
}

TEST_CASE("qemu process: a machine that cannot start says why") {
    using namespace kcube::drivers::qemu;
    if (!have_qemu()) FAIL("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
    kcube::testing::TempDir dir;
    MachineSpec spec;
    spec.name = "kcube-test";
    spec.kernel = dir / "no-such-vmlinuz";
    spec.initrd = dir / "no-such-initrd";
    spec.kernel_args = "console=ttyS0";
    spec.qmp_socket = dir / "qmp.sock";
    spec.serial_log = dir / "console.log";
    spec.pid_file = dir / "qemu.pid";
    try {
        start_qemu(spec);
        FAIL("QEMU started without a kernel");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "DRV_QEMU_START_FAILED");
        CHECK(std::string(e.what()).find("no-such-vmlinuz") != std::string::npos);
    }
    CHECK_FALSE(qemu_running({}));
    CHECK(stop_qemu({}, spec.qmp_socket, std::chrono::seconds(1)) == StopOutcome::kNotRunning);
}
