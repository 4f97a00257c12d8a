#pragma once
// The kubelet's Node object: registered at start (labels, addresses, capacity/allocatable
// from the machine, nodeInfo, podCIDR, images, conditions), its status kept current, and a
// Lease in kube-node-lease renewed every 10 s (upstream's heartbeats).
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace kcube::api {
class ResourceService;
}

namespace kcube::kubelet {

namespace cri {
class CriClient;
}

struct NodeStatusOptions {
    std::string node_name;
    std::string node_ip;             // InternalIP
    std::string pod_cidr;            // spec.podCIDR(s), e.g. 10.244.0.0/24
    std::string kubelet_version;     // v1.32.0
    std::filesystem::path data_dir;  // for ephemeral-storage capacity (statvfs)
    std::chrono::seconds lease_duration{40};
    std::chrono::seconds renew_interval{10};
    std::chrono::seconds status_interval{10};
};

class NodeStatusReporter {
  public:
    NodeStatusReporter(api::ResourceService& service, cri::CriClient& cri,
                       NodeStatusOptions options);
    ~NodeStatusReporter();  // stops the heartbeat thread
    NodeStatusReporter(const NodeStatusReporter&) = delete;
    NodeStatusReporter& operator=(const NodeStatusReporter&) = delete;

    // Creates (or updates) the Node and its Lease, posts the first status, and starts the
    // heartbeat thread. Ready=True only while the runtime reports RuntimeReady and NetworkReady.
    void start();
    // Posts status now (images changed, say) instead of at the next interval.
    void poke();
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet
