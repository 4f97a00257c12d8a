#pragma once
// The node's own containerd: a config written for it (private socket, root and state under the
// node's data dir, so a system containerd is never touched), a child process the node starts,
// restarts with back-off when it dies, and stops when it goes away.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cluster/kubelet/cri/client.hpp"

namespace kcube::kubelet {

struct ContainerdOptions {
    // Everything containerd keeps lives under here (see ContainerdPaths).
    std::filesystem::path data_dir;
    std::string containerd_program = "containerd";
    std::string ctr_program = "ctr";
    // The pod sandbox image; it must be imported locally, it is never pulled.
    std::string sandbox_image = "localhost/kcube/pause:3.10";
    std::filesystem::path cni_bin_dir = "/usr/lib/cni";
    // Where the node writes its CNI network config; empty: <data_dir>/cni/net.d.
    std::filesystem::path cni_conf_dir;
    // cgroupfs unless the caller knows the host wants the systemd cgroup driver.
    bool systemd_cgroup = false;
    std::string log_level = "info";
    // How long containerd may take to answer the CRI after it is started.
    std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
    // How long it may take to exit after SIGTERM before it is killed.
    std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);
};

struct ContainerdPaths {
    std::filesystem::path config;        // <data>/containerd.toml
    std::filesystem::path socket;        // <data>/containerd.sock (ttrpc: + ".ttrpc")
    std::filesystem::path root;          // <data>/root: images, snapshots, metadata
    std::filesystem::path state;         // <data>/state: tasks, sandbox mounts, netns
    std::filesystem::path log;           // <data>/containerd.log: its stdout and stderr
    std::filesystem::path cni_conf_dir;  // options.cni_conf_dir or <data>/cni/net.d
};

ContainerdPaths containerd_paths(const ContainerdOptions& options);

// What the host allows, which decides a few config switches.
struct HostFacts {
    // Without CAP_SYS_RESOURCE (root in many containers and sandboxes) the runtime may not
    // lower a process's oom_score_adj, and every sandbox fails unless the CRI is told so.
    bool cap_sys_resource = true;
    bool apparmor_enabled = false;
    static HostFacts detect();
};

// Whether the "CapEff:" line of a /proc/<pid>/status text has capability bit `cap`.
bool effective_capability(const std::string& proc_status, int cap);

// The containerd config (version 2, TOML) for these paths on this host.
std::string render_containerd_config(const ContainerdOptions& options, const ContainerdPaths& paths,
                                     const HostFacts& host);

class Containerd {
  public:
    // Writes the config, starts containerd and returns once its CRI reports RuntimeReady.
    // Throws Error when containerd is missing, another one already serves this data dir, or it
    // exits or does not become ready within start_timeout (with the tail of its log).
    explicit Containerd(ContainerdOptions options);
    // Stops containerd: SIGTERM, SIGKILL after stop_timeout. Containers keep running in their
    // shims (that is containerd's design); the kubelet stops pods before this.
    ~Containerd();
    Containerd(const Containerd&) = delete;
    Containerd& operator=(const Containerd&) = delete;

    const ContainerdPaths& paths() const;
    const std::filesystem::path& socket() const { return paths().socket; }
    // Version as containerd reported it at start-up (runtime_version e.g. "1.6.20~ds1").
    cri::RuntimeVersion version() const;
    // The running containerd's pid; -1 while it is being restarted.
    pid_t pid() const;
    // How many times it died and was started again.
    int restarts() const;
    // Waits until the CRI answers and reports RuntimeReady (after a restart, say).
    bool wait_ready(std::chrono::milliseconds timeout);

    // Imports an OCI image layout (or docker-archive) tarball into the CRI's namespace and
    // returns the names of the images it held. Throws Error when ctr is missing, the import
    // fails, or the tarball named no image (an OCI index without io.containerd.image.name).
    std::vector<std::string> import_image(const std::filesystem::path& tarball);

  private:
    struct Supervisor;
    std::unique_ptr<Supervisor> supervisor_;
};

}  // namespace kcube::kubelet
