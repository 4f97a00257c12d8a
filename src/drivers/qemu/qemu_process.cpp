#include "drivers/qemu/qemu_process.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <string>

#include "common/error.hpp"
#include "drivers/host.hpp"
#include "drivers/qemu/qmp.hpp"

namespace kcube::drivers::qemu {

namespace {

std::optional<int> read_pid_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    int pid = 0;
    if (in >> pid && pid > 0) return pid;
    return std::nullopt;
}

}  // namespace

QemuInstance start_qemu(const MachineSpec& spec) {
    std::error_code ec;
    std::filesystem::remove(spec.pid_file, ec);
    std::filesystem::remove(spec.qmp_socket, ec);
    // With -daemonize QEMU exits once the machine runs in its child; the exit status and what
    // it printed tell whether it started.
    const auto result = run_tool(qemu_argv(spec), {}, std::chrono::seconds(60));
    const auto pid = read_pid_file(spec.pid_file);
    if (!result.ok() || !pid) {
        std::string said = result.err.empty() ? result.out : result.err;
        while (!said.empty() && said.back() == '\n')
            said.pop_back();
        throw Error(ExitCode::kDriver, "DRV_QEMU_START_FAILED",
                    "QEMU did not start (exit code " + std::to_string(result.exit_code) +
                        "): " + (said.empty() ? "it printed nothing" : said),
                    "Check that qemu-system-x86_64 works here (qemu-system-x86_64 --version), "
                    "or try --qemu-accel=tcg.");
    }
    const auto info = read_process(*pid);
    if (!info) {
        throw Error(
            ExitCode::kDriver, "DRV_QEMU_START_FAILED",
            "QEMU exited right after it started; its serial log: " + spec.serial_log.string(),
            "Look at the end of the serial log for what went wrong.");
    }
    return {*pid, info->start_time};
}

bool qemu_running(const QemuInstance& instance) {
    return instance.pid > 0 && ProcessHandle::open(instance.pid, instance.start_time).has_value();
}

StopOutcome stop_qemu(const QemuInstance& instance, const std::filesystem::path& qmp_socket,
                      std::chrono::milliseconds grace) {
    auto process = ProcessHandle::open(instance.pid, instance.start_time);
    if (!process) return StopOutcome::kNotRunning;
    try {
        auto qmp = QmpClient::connect(qmp_socket, std::chrono::seconds(5));
        qmp.execute("system_powerdown");
        if (process->wait_exit(grace)) return StopOutcome::kPoweredOff;
        spdlog::warn("the guest did not power off within {} s; stopping QEMU",
                     std::chrono::duration_cast<std::chrono::seconds>(grace).count());
        qmp.execute("quit");
        if (process->wait_exit(std::chrono::seconds(10))) return StopOutcome::kQuit;
    } catch (const Error& e) {
        spdlog::warn("stopping QEMU through its control socket failed: {}", e.what());
    }
    process->signal(SIGKILL);
    process->wait_exit(std::chrono::seconds(10));
    return StopOutcome::kKilled;
}

}  // namespace kcube::drivers::qemu
