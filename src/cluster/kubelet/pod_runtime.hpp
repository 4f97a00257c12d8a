#pragma once
// What the container runtime holds for a pod: its sandboxes and containers, read from the CRI
// and labelled the way upstream's kubelet labels them, so the kubelet can find a pod's things
// again after a restart of itself or of containerd.
#include <cstdint>
#include <string>
#include <vector>

#include "cluster/kubelet/cri/client.hpp"

namespace kcube::kubelet {

// Labels on every sandbox and container (upstream's names).
inline constexpr const char* kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kPodUidLabel = "io.kubernetes.pod.uid";
inline constexpr const char* kContainerNameLabel = "io.kubernetes.container.name";
// Marks what this kubelet made, so it never touches sandboxes others created in the runtime.
inline constexpr const char* kManagedLabel = "io.kcube.managed";
// Annotations on containers.
inline constexpr const char* kRestartCountAnnotation = "io.kubernetes.container.restartCount";
inline constexpr const char* kInitContainerAnnotation = "io.kcube.init-container";

struct SandboxRecord {
    std::string id;
    std::uint32_t attempt = 0;
    bool ready = false;
    std::int64_t created_at = 0;  // Unix nanoseconds
};

struct ContainerRecord {
    std::string id;
    std::string sandbox_id;
    std::string name;
    std::uint32_t attempt = 0;  // the restart count it was created with
    bool init = false;
    cri::v1::ContainerState state = cri::v1::CONTAINER_UNKNOWN;
    std::int64_t created_at = 0;  // Unix nanoseconds
    std::int64_t started_at = 0;
    std::int64_t finished_at = 0;
    int exit_code = 0;
    std::string reason;   // the runtime's: Completed, Error, OOMKilled
    std::string message;  // the runtime's message (termination message read separately)
    std::string image;
    std::string image_ref;
    std::string log_path;

    bool running() const { return state == cri::v1::CONTAINER_RUNNING; }
    bool exited() const { return state == cri::v1::CONTAINER_EXITED; }
};

// Everything of one pod uid.
struct PodRuntime {
    std::string uid;
    std::vector<SandboxRecord> sandboxes;     // newest first
    std::vector<ContainerRecord> containers;  // newest first

    const SandboxRecord* latest_sandbox() const;
    // The newest container with this name (in any sandbox), and the one before it.
    const ContainerRecord* latest(const std::string& name) const;
    const ContainerRecord* previous(const std::string& name) const;
    // The newest container with this name in this sandbox.
    const ContainerRecord* latest_in(const std::string& sandbox_id, const std::string& name) const;
};

// The runtime's sandboxes and containers of the pod `ns/name`, grouped by pod uid (a deleted
// and re-created pod has two), each with its full container status.
std::vector<PodRuntime> load_pod_runtime(cri::CriClient& cri, const std::string& ns,
                                         const std::string& name);

// A cheap summary of every container this kubelet manages (id → state), for the relist that
// notices exits; plus the "ns/name" of each pod with a sandbox.
struct RuntimeSummary {
    struct Item {
        std::string pod_key;  // "namespace/name"
        std::string pod_uid;
        std::string id;
        int state = 0;  // ContainerState or, for sandboxes, 10 + PodSandboxState
    };
    std::vector<Item> items;
};
RuntimeSummary summarize_runtime(cri::CriClient& cri);

}  // namespace kcube::kubelet
