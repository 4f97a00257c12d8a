#pragma once
// One pass of the kubelet over one pod (upstream's SyncPod / SyncTerminatingPod): compare the
// pod's spec with what the runtime holds, make one step towards it (a sandbox, the next init
// container, containers to start or restart, containers to stop), and write the pod's status.
// Level-triggered: every call looks at the whole picture again, so a crash of the kubelet or
// of containerd between steps loses nothing.
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "cluster/kubelet/pod_runtime.hpp"
#include "cluster/kubelet/pod_status.hpp"
#include "cluster/kubelet/restart_backoff.hpp"
#include "cluster/kubelet/sandbox_config.hpp"

namespace kcube::api {
class ResourceService;
}
namespace kcube::controllers {
class EventRecorder;
class Informer;
}  // namespace kcube::controllers

namespace kcube::kubelet {

class VolumeManager;
class ProbeManager;
struct KubeletOptions;

class PodSync {
  public:
    // `requeue(key, delay)` asks for another pass later (back-off ends, a kill finished).
    using Requeue = std::function<void(const std::string& key, std::chrono::milliseconds delay)>;

    PodSync(api::ResourceService& service, cri::CriClient& cri, controllers::Informer& pods,
            controllers::EventRecorder& events, VolumeManager& volumes, ProbeManager& probes,
            const KubeletOptions& options, Requeue requeue);
    ~PodSync();  // waits for running kills

    // The pass for the pod "namespace/name" (which may no longer exist).
    void sync(const std::string& key);
    // Stops every pod's containers and sandbox, each pod's grace capped (the node stops).
    void stop_all(std::chrono::seconds grace_cap);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet
