#include "drivers/qemu/accel.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kcube::drivers::qemu {

KvmFacts probe_kvm() {
    KvmFacts facts;
    std::error_code ec;
    facts.device = std::filesystem::exists("/dev/kvm", ec);
    facts.device_usable = facts.device && UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC)).valid();
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (!line.starts_with("flags")) continue;
        facts.cpu_virtualization =
            line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos;
        break;
    }
    facts.vendor_module = std::filesystem::exists("/sys/module/kvm_intel", ec) ||
                          std::filesystem::exists("/sys/module/kvm_amd", ec);
    return facts;
}

namespace {

// Why KVM cannot be used; empty when it can.
std::string kvm_problem(const KvmFacts& facts) {
    if (!facts.device) return "there is no /dev/kvm";
    if (!facts.device_usable) return "/dev/kvm cannot be opened by this user";
    if (!facts.vendor_module) {
        return "/dev/kvm is not backed by kvm_intel or kvm_amd (a nested or paravirtual KVM "
               "that hangs stock guest kernels)";
    }
    if (!facts.cpu_virtualization) return "the CPU reports no vmx/svm virtualization support";
    return {};
}

std::string kvm_fix(const KvmFacts& facts) {
    if (!facts.device || !facts.vendor_module) {
        return "Enable virtualization in the firmware and load the module (modprobe kvm_intel "
               "or kvm_amd), or use --qemu-accel=tcg.";
    }
    if (!facts.device_usable) {
        return "Add yourself to the kvm group (sudo usermod -aG kvm $USER, then log in again), "
               "or use --qemu-accel=tcg.";
    }
    return "Use --qemu-accel=tcg.";
}

}  // namespace

AccelChoice choose_accel(const std::optional<std::string>& forced, const KvmFacts& facts) {
    const std::string problem = kvm_problem(facts);
    if (forced && *forced == "tcg") return {"tcg", "--qemu-accel=tcg was given"};
    if (forced && *forced != "kvm") {
        throw Error(ExitCode::kUsage, "DRV_QEMU_BAD_ACCEL",
                    "unknown accelerator \"" + *forced + "\"",
                    "Use --qemu-accel=kvm or --qemu-accel=tcg.");
    }
    if (problem.empty()) return {"kvm", ""};
    if (forced) {
        throw Error(ExitCode::kDriver, "DRV_QEMU_NO_KVM", "KVM cannot be used: " + problem,
                    kvm_fix(facts));
    }
    return {"tcg", "KVM cannot be used (" + problem +
                       "); the VM runs under TCG, several times "
                       "slower"};
}

}  // namespace kcube::drivers::qemu
