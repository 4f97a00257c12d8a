#pragma once
// The QEMU command line for a kcube machine: direct kernel boot, virtio disks and network, QEMU
// user-mode networking with host forwards on 127.0.0.1, a QMP socket for supervision, the
// serial console into a log file, daemonized with a pid file.
#include <filesystem>
#include <string>
#include <vector>

namespace kcube::drivers::qemu {

struct DiskSpec {
    std::filesystem::path file;
    std::string format = "qcow2";  // qcow2 or raw
    bool read_only = false;
};

struct PortForward {
    int host_port = 0;  // on 127.0.0.1
    int guest_port = 0;
};

struct MachineSpec {
    std::filesystem::path qemu = "qemu-system-x86_64";
    std::string accel = "tcg";  // kvm or tcg
    int cpus = 2;
    long long memory_mib = 2048;
    std::filesystem::path kernel, initrd;
    std::string kernel_args;
    std::vector<DiskSpec> disks;  // /dev/vda, /dev/vdb, ... in this order
    std::vector<PortForward> forwards;
    std::filesystem::path qmp_socket, serial_log, pid_file;
    std::filesystem::path bios;  // e.g. qboot.rom (faster firmware); empty: QEMU's default
    std::string name;            // shown in ps and QEMU's window title
};

std::vector<std::string> qemu_argv(const MachineSpec& spec);

}  // namespace kcube::drivers::qemu
