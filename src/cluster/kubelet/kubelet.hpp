#pragma once
// The kubelet: runs the pods bound to this node on a CRI runtime. It watches pods through the
// in-process API, keeps a sandbox and the spec's containers running for each (init containers
// first, restarts with upstream's crash-loop back-off, probes, image pulls), writes the pods'
// status, registers the Node and renews its Lease, and serves logs/exec/attach/port-forward to
// the API server (apiserver::PodStreams).
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "cluster/apiserver/pod_streams.hpp"
#include "cluster/kubelet/paths.hpp"
#include "cluster/kubelet/sandbox_config.hpp"
#include "cluster/kubelet/volumes.hpp"

namespace kcube::api {
class ResourceService;
}

namespace kcube::kubelet {

namespace cri {
class CriClient;
}

struct KubeletOptions {
    std::string node_name;
    std::string node_ip;
    std::string pod_cidr;  // this node's range, e.g. 10.244.0.0/24 (Node spec.podCIDR)
    std::string kubelet_version;
    std::filesystem::path data_dir;  // the node's data dir (disk capacity is measured there)
    KubeletPaths paths;
    DnsSettings dns;
    TokenRequester tokens;  // service-account tokens for projected volumes
    int workers = 4;        // pods synced at once
    // How often the runtime is listed to notice exited containers (upstream PLEG: 1 s).
    std::chrono::milliseconds relist_period{1000};
    // How often every pod is synced even without a change (tokens, ConfigMap contents).
    std::chrono::seconds resync_period{30};
    // Cap on each pod's grace period when the node itself stops.
    std::chrono::seconds shutdown_grace{5};
};

class Kubelet : public apiserver::PodStreams {
  public:
    Kubelet(api::ResourceService& service, cri::CriClient& cri, KubeletOptions options);
    ~Kubelet() override;  // stop() if still running
    Kubelet(const Kubelet&) = delete;
    Kubelet& operator=(const Kubelet&) = delete;

    // Registers the Node and starts syncing pods.
    void start();
    // Stops syncing, then stops every pod's containers and sandbox (the node is going down;
    // state is kept, so the next start brings the same pods back).
    void stop();

    std::unique_ptr<apiserver::LogStream> logs(const std::string& ns, const std::string& pod,
                                               const apiserver::LogRequest& request) override;
    apiserver::StreamEndpoint exec(const std::string& ns, const std::string& pod,
                                   const std::string& container,
                                   const std::vector<std::string>& command,
                                   const apiserver::SessionOptions& options) override;
    apiserver::StreamEndpoint attach(const std::string& ns, const std::string& pod,
                                     const std::string& container,
                                     const apiserver::SessionOptions& options) override;
    apiserver::StreamEndpoint port_forward(const std::string& ns, const std::string& pod,
                                           const std::vector<std::int32_t>& ports) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet
