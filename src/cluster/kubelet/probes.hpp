#pragma once
// Liveness, readiness and startup probes (exec, httpGet, tcpSocket, and grpc answered as
// unsupported) run on their own timers per container, with upstream's semantics: nothing runs
// before initialDelaySeconds; liveness and readiness wait for a startup probe to succeed;
// successThreshold/failureThreshold consecutive results flip the state; a container without a
// readiness probe is ready once running. The kubelet asks for results on each pod sync and is
// told (on_change) when one flips, so it syncs the pod again.
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace kcube::kubelet {

namespace cri {
class CriClient;
}

enum class ProbeType { kLiveness, kReadiness, kStartup };
enum class ProbeResult { kUnknown, kSuccess, kFailure };

// A running container of the pod, as the kubelet knows it on this sync.
struct RunningContainer {
    std::string id;  // the runtime's container id; a new id restarts the container's probes
    std::chrono::system_clock::time_point started_at;
};

class ProbeManager {
  public:
    // Called (from a probe thread) with the pod's "namespace/name" when a result flips.
    using OnChange = std::function<void(const std::string& pod_key)>;

    // Called (from a probe thread) after every probe run that failed or errored, with the
    // message upstream puts in its Unhealthy event ("Readiness probe failed: ..."): upstream
    // records one such event per failed run, not only when a result flips.
    using OnFailure = std::function<void(const std::string& pod_key, const std::string& pod_uid,
                                         const std::string& container, ProbeType type,
                                         const std::string& message)>;

    ProbeManager(cri::CriClient& cri, OnChange on_change);
    ~ProbeManager();  // stops every probe and joins its threads
    ProbeManager(const ProbeManager&) = delete;
    ProbeManager& operator=(const ProbeManager&) = delete;

    // Optional; set it before the first update().
    void set_on_failure(OnFailure on_failure);

    // The pod's running containers (container name → id, start time) and its IP: starts
    // probing containers that have probes and are new, stops probing those gone. `pod_ip` is
    // the address httpGet/tcpSocket probes connect to when they name no host.
    void update(const boost::json::object& pod, const std::string& pod_ip,
                const std::map<std::string, RunningContainer>& running);
    // Forgets the pod with this uid (it is being torn down).
    void remove(const std::string& pod_uid);

    // The current result for a container: kUnknown when it has no such probe or it has not
    // decided yet. Readiness without a probe: kSuccess once running; readiness of a container
    // that is not running (not in the last update()): kFailure. Liveness failure means
    // "restart it"; the kubelet restarts the container and the next update() starts over.
    ProbeResult result(const std::string& pod_uid, const std::string& container,
                       ProbeType type) const;
    // For the container's status "started" field: true when it has no startup probe or the
    // probe succeeded; false while the container is not running.
    bool started(const std::string& pod_uid, const std::string& container) const;
    // The last failure's message (for the Unhealthy event), e.g.
    // `Liveness probe failed: HTTP probe failed with statuscode: 500`.
    std::string last_failure(const std::string& pod_uid, const std::string& container,
                             ProbeType type) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet
