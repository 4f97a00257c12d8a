#pragma once
// Which accelerator QEMU uses: KVM when it really works, else TCG (software emulation) with a
// one-line reason. Some hosts have a /dev/kvm that cannot run a stock guest kernel (a nested,
// paravirtual KVM such as kvm_pvm, with no vmx/svm CPU flags): those get TCG.
#include <optional>
#include <string>

namespace kcube::drivers::qemu {

// What the host says about KVM.
struct KvmFacts {
    bool device = false;              // /dev/kvm exists
    bool device_usable = false;       // and this user can open it read-write
    bool cpu_virtualization = false;  // vmx or svm in /proc/cpuinfo
    bool vendor_module = false;       // kvm_intel or kvm_amd is loaded
};

KvmFacts probe_kvm();

struct AccelChoice {
    std::string accel;  // "kvm" or "tcg"
    std::string why;    // for a warning when it is tcg; empty for kvm
};

// `forced`: the --qemu-accel flag or setting ("kvm" or "tcg"), if given. Forcing kvm where it
// cannot work throws Error(kDriver, DRV_QEMU_NO_KVM) with why and the fix.
AccelChoice choose_accel(const std::optional<std::string>& forced, const KvmFacts& facts);

}  // namespace kcube::drivers::qemu
