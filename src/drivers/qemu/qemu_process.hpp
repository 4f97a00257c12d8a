#pragma once
// A QEMU machine's process: started daemonized (QEMU reports start-up errors before it
// detaches, so they reach the user), found again later by pid and start time, stopped as a
// guest would want it: ACPI power button, then quit, then SIGKILL.
#include <chrono>
#include <filesystem>
#include <optional>

#include "drivers/qemu/qemu_command.hpp"

namespace kcube::drivers::qemu {

struct QemuInstance {
    int pid = 0;
    unsigned long long start_time = 0;  // /proc start time, so a recycled pid is never ours
};

// Runs QEMU for `spec` and waits until it has daemonized. Throws Error(kDriver,
// DRV_QEMU_START_FAILED) quoting what QEMU printed.
QemuInstance start_qemu(const MachineSpec& spec);

// Whether the instance's process still runs.
bool qemu_running(const QemuInstance& instance);

// How stop_qemu ended the machine.
enum class StopOutcome { kNotRunning, kPoweredOff, kQuit, kKilled };

// system_powerdown over QMP, waits up to `grace` for the guest to power off, then asks QEMU to
// quit, then kills it.
StopOutcome stop_qemu(const QemuInstance& instance, const std::filesystem::path& qmp_socket,
                      std::chrono::milliseconds grace);

}  // namespace kcube::drivers::qemu
