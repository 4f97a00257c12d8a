#include "drivers/qemu/qemu_command.hpp"

namespace kcube::drivers::qemu {

std::vector<std::string> qemu_argv(const MachineSpec& spec) {
    std::vector<std::string> argv = {spec.qemu.string(), "-name", spec.name};
    // q35 adds no per-device probing cost (the pc machine costs ~0.3 s per virtio device under
    // TCG); KVM uses the host CPU model, TCG the fastest model it emulates.
    argv.insert(argv.end(), {"-machine", "q35,accel=" + spec.accel, "-cpu",
                             spec.accel == "kvm" ? "host" : "max", "-smp",
                             std::to_string(spec.cpus), "-m", std::to_string(spec.memory_mib)});
    if (!spec.bios.empty()) argv.insert(argv.end(), {"-bios", spec.bios.string()});
    argv.insert(argv.end(), {"-kernel", spec.kernel.string(), "-initrd", spec.initrd.string(),
                             "-append", spec.kernel_args});
    int index = 0;
    for (const auto& disk : spec.disks) {
        std::string drive = "file=" + disk.file.string() + ",format=" + disk.format +
                            ",if=virtio,cache=unsafe,index=" + std::to_string(index++);
        if (disk.read_only) drive += ",readonly=on";
        argv.insert(argv.end(), {"-drive", drive});
    }
    std::string netdev = "user,id=net0";
    for (const auto& forward : spec.forwards) {
        netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(forward.host_port) +
                  "-:" + std::to_string(forward.guest_port);
    }
    // No option ROM on the NIC: PXE boot is never used and loading it costs ~0.5 s.
    argv.insert(argv.end(), {"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0,romfile="});
    // -no-reboot: the guest kernel runs with panic=-1, so a panic or a failed boot ends QEMU
    // (and kcube reports it) instead of rebooting forever.
    argv.insert(argv.end(), {"-no-reboot", "-device", "virtio-rng-pci", "-nodefaults", "-display",
                             "none", "-serial", "file:" + spec.serial_log.string(), "-qmp",
                             "unix:" + spec.qmp_socket.string() + ",server=on,wait=off", "-pidfile",
                             spec.pid_file.string(), "-daemonize"});
    return argv;
}

}  // namespace kcube::drivers::qemu
