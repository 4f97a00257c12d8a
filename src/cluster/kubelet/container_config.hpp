#pragma once
// From a pod's container spec to the CRI's ContainerConfig: command/args with $(VAR)
// expansion, working dir, environment from every source (value, fieldRef, resourceFieldRef,
// configMapKeyRef, secretKeyRef, envFrom, service links), mounts of the pod's volumes (subPath
// included), resources as Linux cgroup settings, and the securityContext basics.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "cluster/kubelet/cri/cri.pb.h"
#include "cluster/kubelet/volumes.hpp"

namespace kcube::api {
class ResourceService;
}

namespace kcube::kubelet {

struct ContainerInputs {
    const boost::json::object& pod;
    const boost::json::object& container;  // an entry of spec.containers or initContainers
    const PodVolumes& volumes;
    std::string pod_ip{};
    std::string host_ip{};
    std::string node_name{};
    std::uint32_t attempt = 0;  // restart count: metadata.attempt
    std::string log_path{};     // relative to the sandbox's log directory
    std::string image{};        // the image reference (or id) to run, as the runtime knows it
    std::string cluster_domain = "cluster.local";  // the pod's FQDN in its /etc/hosts (subdomain)
    // The image's configured user ("1000", "1000:1000", "nobody"; "" runs as root), when known:
    // runAsNonRoot is checked against it when no runAsUser is set, as upstream does.
    std::optional<std::string> image_user{};
};

// The container cannot be configured (a referenced ConfigMap/Secret or key is missing, a
// subPath escapes its volume...). what() is the message upstream shows with the waiting reason
// CreateContainerConfigError, e.g. `configmap "app" not found`.
class ContainerConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

runtime::v1::ContainerConfig build_container_config(api::ResourceService& service,
                                                    const ContainerInputs& inputs);

// The annotation carrying the container's terminationMessagePath (upstream's name).
inline constexpr const char* kTerminationMessagePathAnnotation =
    "io.kubernetes.container.terminationMessagePath";

// The host file behind a container's termination-message mount (the mount whose container_path
// is the terminationMessagePath annotation), or "" when it has none. Upstream's kubelet reads
// the termination message (at most 4096 bytes) from there.
std::string termination_message_file(const runtime::v1::ContainerStatus& status);

}  // namespace kcube::kubelet
