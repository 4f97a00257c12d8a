#pragma once
// A pod's status as upstream's kubelet reports it, from what the runtime holds: phase,
// conditions, container and init-container statuses (state, lastState, ready, started,
// restartCount, image, imageID, containerID), IPs, startTime and QoS class.
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <string>

#include "cluster/kubelet/pod_runtime.hpp"
#include "cluster/kubelet/probes.hpp"

namespace kcube::kubelet {

// Why a container is not running, when the kubelet knows better than the runtime
// (ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff,
// CreateContainerConfigError, PodInitializing...).
struct ContainerWaiting {
    std::string reason;
    std::string message;
};

struct PodStatusInputs {
    const boost::json::object& pod;  // as the API has it (its status supplies what persists)
    const PodRuntime* runtime = nullptr;
    std::string sandbox_id;  // the current sandbox (empty: none)
    bool sandbox_ready = false;
    std::string pod_ip;
    std::string host_ip;
    std::map<std::string, ContainerWaiting> waiting;            // container name → reason
    std::function<bool(const std::string& container)> ready;    // readiness says ready
    std::function<bool(const std::string& container)> started;  // startup probe passed
};

boost::json::object compute_pod_status(const PodStatusInputs& inputs);

// Guaranteed, Burstable or BestEffort, by upstream's rules.
std::string pod_qos_class(const boost::json::object& pod);

// The phase upstream's kubelet derives from container statuses.
std::string pod_phase_from(const boost::json::object& pod, const boost::json::object& status);

// "containerd://<id>"
std::string container_id_url(const std::string& id);

}  // namespace kcube::kubelet
