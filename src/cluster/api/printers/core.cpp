// Printers of the core ("") API group; Pod and Event live in their own files. LimitRange and the
// other core kinds without an upstream printer use the default table.
#include "cluster/api/printers/core.hpp"

#include <algorithm>
#include <set>
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

// --- Namespace, ConfigMap, Secret, ServiceAccount ----------------------------------------------

json::array namespace_cells(const json::object& ns, Clock::time_point now) {
    return json::array{name_of(ns), get_string(ns, {"status", "phase"}), age(ns, now)};
}

Printer namespace_printer() {
    return {{name_column(), column("Status", "The status of the namespace"), age_column()},
            namespace_cells};
}

json::array config_map_cells(const json::object& cm, Clock::time_point now) {
    return json::array{name_of(cm), count(cm, {"data"}) + count(cm, {"binaryData"}), age(cm, now)};
}

Printer config_map_printer() {
    return {{name_column(), column("Data", doc::kConfigMapData), age_column()}, config_map_cells};
}

json::array secret_cells(const json::object& secret, Clock::time_point now) {
    return json::array{name_of(secret), get_string(secret, {"type"}), count(secret, {"data"}),
                       age(secret, now)};
}

Printer secret_printer() {
    return {{name_column(), column("Type", doc::kSecretType), column("Data", doc::kSecretData),
             age_column()},
            secret_cells};
}

json::array service_account_cells(const json::object& sa, Clock::time_point now) {
    return json::array{name_of(sa), count(sa, {"secrets"}), age(sa, now)};
}

Printer service_account_printer() {
    return {{name_column(), column("Secrets", doc::kServiceAccountSecrets), age_column()},
            service_account_cells};
}

// --- Node --------------------------------------------------------------------------------------

// "Ready", "NotReady" or "Unknown" from the Ready condition (the last one, if repeated), then
// "SchedulingDisabled" for a cordoned node.
std::string node_status(const json::object& node) {
    std::string status = "Unknown";
    for (const json::object* condition : objects(node, {"status", "conditions"})) {
        if (get_string(*condition, {"type"}) != "Ready") continue;
        status = get_string(*condition, {"status"}) == "True" ? "Ready" : "NotReady";
    }
    if (get_bool(node, {"spec", "unschedulable"})) status += ",SchedulingDisabled";
    return status;
}

// Roles from node-role.kubernetes.io/<role> labels and the older kubernetes.io/role=<role>,
// sorted and without duplicates.
std::string node_roles(const json::object& node) {
    constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
    std::set<std::string> roles;
    if (const json::object* labels = get_object(node, {"metadata", "labels"})) {
        for (const auto& label : *labels) {
            const std::string_view key = label.key();
            const json::value& value = label.value();
            if (key.starts_with(kRolePrefix)) {
                if (key.size() > kRolePrefix.size()) {
                    roles.insert(std::string(key.substr(kRolePrefix.size())));
                }
            } else if (key == "kubernetes.io/role" && value.is_string() &&
                       !value.get_string().empty()) {
                roles.insert(std::string(value.get_string()));
            }
        }
    }
    if (roles.empty()) return "<none>";
    return join(std::vector<std::string>(roles.begin(), roles.end()), ",");
}

std::string node_address(const json::object& node, std::string_view type) {
    for (const json::object* address : objects(node, {"status", "addresses"})) {
        if (get_string(*address, {"type"}) == type) {
            return std::string(get_string(*address, {"address"}));
        }
    }
    return "<none>";
}

std::string or_unknown(std::string_view text) {
    return text.empty() ? "<unknown>" : std::string(text);
}

json::array node_cells(const json::object& node, Clock::time_point now) {
    return json::array{
        name_of(node),
        node_status(node),
        node_roles(node),
        age(node, now),
        get_string(node, {"status", "nodeInfo", "kubeletVersion"}),
        node_address(node, "InternalIP"),
        node_address(node, "ExternalIP"),
        or_unknown(get_string(node, {"status", "nodeInfo", "osImage"})),
        or_unknown(get_string(node, {"status", "nodeInfo", "kernelVersion"})),
        or_unknown(get_string(node, {"status", "nodeInfo", "containerRuntimeVersion"})),
    };
}

Printer node_printer() {
    return {{
                name_column(),
                column("Status", "The status of the node"),
                column("Roles", "The roles of the node"),
                age_column(),
                column("Version", doc::kNodeSystemInfoKubeletVersion),
                wide_column("Internal-IP", doc::kNodeStatusAddresses),
                wide_column("External-IP", doc::kNodeStatusAddresses),
                wide_column("OS-Image", doc::kNodeSystemInfoOSImage),
                wide_column("Kernel-Version", doc::kNodeSystemInfoKernelVersion),
                wide_column("Container-Runtime", doc::kNodeSystemInfoContainerRuntimeVersion),
            },
            node_cells};
}

// --- Service, Endpoints ------------------------------------------------------------------------

std::vector<std::string> strings_at(const json::object& object, Path path) {
    std::vector<std::string> result;
    if (const json::array* items = get_array(object, path)) {
        for (const json::value& item : *items) {
            result.emplace_back(item.is_string() ? std::string_view(item.get_string()) : "");
        }
    }
    return result;
}

std::string service_external_ip(const json::object& service) {
    const std::string_view type = get_string(service, {"spec", "type"});
    const std::vector<std::string> external_ips = strings_at(service, {"spec", "externalIPs"});
    if (type == "ClusterIP" || type == "NodePort") {
        return external_ips.empty() ? "<none>" : join(external_ips, ",");
    }
    if (type == "LoadBalancer") {
        const std::string lb = load_balancer_addresses(service);
        if (!external_ips.empty()) {
            return lb.empty() ? join(external_ips, ",") : lb + "," + join(external_ips, ",");
        }
        return lb.empty() ? "<pending>" : lb;
    }
    if (type == "ExternalName") return std::string(get_string(service, {"spec", "externalName"}));
    return "<unknown>";
}

// "80/TCP,443:30443/TCP".
std::string service_ports(const json::object& service) {
    std::vector<std::string> pieces;
    for (const json::object* port : objects(service, {"spec", "ports"})) {
        std::string piece = std::to_string(get_int(*port, {"port"}));
        const std::int64_t node_port = get_int(*port, {"nodePort"});
        if (node_port > 0) piece += ":" + std::to_string(node_port);
        pieces.push_back(piece + "/" + std::string(get_string(*port, {"protocol"})));
    }
    return pieces.empty() ? "<none>" : join(pieces, ",");
}

// The first cluster IP; v1 clients may send only clusterIP, which upstream's conversion copies
// into clusterIPs.
std::string cluster_ip(const json::object& service) {
    const std::vector<std::string> ips = strings_at(service, {"spec", "clusterIPs"});
    if (!ips.empty()) return ips.front();
    const std::string_view ip = get_string(service, {"spec", "clusterIP"});
    return ip.empty() ? "<none>" : std::string(ip);
}

json::array service_cells(const json::object& service, Clock::time_point now) {
    return json::array{
        name_of(service),
        get_string(service, {"spec", "type"}),
        cluster_ip(service),
        service_external_ip(service),
        service_ports(service),
        age(service, now),
        format_labels(get_object(service, {"spec", "selector"})),
    };
}

Printer service_printer() {
    return {{
                name_column(),
                column("Type", doc::kServiceSpecType),
                column("Cluster-IP", doc::kServiceSpecClusterIP),
                column("External-IP", doc::kServiceSpecExternalIPs),
                column("Port(s)", doc::kServiceSpecPorts),
                age_column(),
                wide_column("Selector", doc::kServiceSpecSelector),
            },
            service_cells};
}

// net.JoinHostPort: IPv6 addresses in brackets.
std::string host_port(std::string_view host, std::int64_t port) {
    const std::string h = host.find(':') == std::string_view::npos ? std::string(host)
                                                                   : "[" + std::string(host) + "]";
    return h + ":" + std::to_string(port);
}

// At most three "ip:port" entries, then "+ N more...".
std::string format_endpoints(const json::object& endpoints) {
    const auto subsets = objects(endpoints, {"subsets"});
    if (subsets.empty()) return "<none>";
    constexpr size_t kMax = 3;
    std::vector<std::string> list;
    bool more = false;
    std::int64_t total = 0;
    for (const json::object* subset : subsets) {
        const auto addresses = objects(*subset, {"addresses"});
        const auto ports = objects(*subset, {"ports"});
        // Headless services may have no ports: list the bare addresses.
        if (ports.empty()) {
            total += static_cast<std::int64_t>(addresses.size());
            for (const json::object* address : addresses) {
                if (list.size() == kMax) {
                    more = true;
                    break;
                }
                list.emplace_back(get_string(*address, {"ip"}));
            }
            continue;
        }
        for (const json::object* port : ports) {
            total += static_cast<std::int64_t>(addresses.size());
            for (const json::object* address : addresses) {
                if (list.size() == kMax) {
                    more = true;
                    break;
                }
                list.push_back(host_port(get_string(*address, {"ip"}), get_int(*port, {"port"})));
            }
        }
    }
    std::string text = join(list, ",");
    if (more) text += " + " + std::to_string(total - static_cast<std::int64_t>(kMax)) + " more...";
    return text;
}

json::array endpoints_cells(const json::object& endpoints, Clock::time_point now) {
    return json::array{name_of(endpoints), format_endpoints(endpoints), age(endpoints, now)};
}

Printer endpoints_printer() {
    return {{name_column(), column("Endpoints", doc::kEndpointsSubsets), age_column()},
            endpoints_cells};
}

// --- PersistentVolume, PersistentVolumeClaim ---------------------------------------------------

constexpr std::string_view kBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";

std::string phase_or_terminating(const json::object& object) {
    if (present(object, {"metadata", "deletionTimestamp"})) return "Terminating";
    return std::string(get_string(object, {"status", "phase"}));
}

std::string or_unset(const json::object& object, Path path) {
    return present(object, path) ? std::string(get_string(object, path)) : "<unset>";
}

// The beta annotation wins over spec.storageClassName, as upstream's helper has it.
std::string storage_class(const json::object& object) {
    if (const json::object* annotations = get_object(object, {"metadata", "annotations"})) {
        if (const json::value* v = annotations->if_contains(kBetaStorageClassAnnotation)) {
            return v->is_string() ? std::string(v->get_string()) : "";
        }
    }
    return std::string(get_string(object, {"spec", "storageClassName"}));
}

std::string claim_ref(const json::object& pv) {
    if (!present(pv, {"spec", "claimRef"})) return "";
    return std::string(get_string(pv, {"spec", "claimRef", "namespace"})) + "/" +
           std::string(get_string(pv, {"spec", "claimRef", "name"}));
}

json::array persistent_volume_cells(const json::object& pv, Clock::time_point now) {
    return json::array{
        name_of(pv),
        quantity_at(pv, {"spec", "capacity", "storage"}),
        access_modes(get_array(pv, {"spec", "accessModes"})),
        get_string(pv, {"spec", "persistentVolumeReclaimPolicy"}),
        phase_or_terminating(pv),
        claim_ref(pv),
        storage_class(pv),
        or_unset(pv, {"spec", "volumeAttributesClassName"}),
        get_string(pv, {"status", "reason"}),
        age(pv, now),
        or_unset(pv, {"spec", "volumeMode"}),
    };
}

Printer persistent_volume_printer() {
    return {{
                name_column(),
                column("Capacity", doc::kPersistentVolumeSpecCapacity),
                column("Access Modes", doc::kPersistentVolumeSpecAccessModes),
                column("Reclaim Policy", doc::kPersistentVolumeSpecReclaimPolicy),
                column("Status", doc::kPersistentVolumeStatusPhase),
                column("Claim", doc::kPersistentVolumeSpecClaimRef),
                column("StorageClass", "StorageClass of the pv"),
                column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
                column("Reason", doc::kPersistentVolumeStatusReason),
                age_column(),
                wide_column("VolumeMode", doc::kPersistentVolumeSpecVolumeMode),
            },
            persistent_volume_cells};
}

json::array persistent_volume_claim_cells(const json::object& pvc, Clock::time_point now) {
    // Capacity and access modes are those of the bound volume: empty until bound.
    const bool bound = !get_string(pvc, {"spec", "volumeName"}).empty();
    return json::array{
        name_of(pvc),
        phase_or_terminating(pvc),
        get_string(pvc, {"spec", "volumeName"}),
        bound ? quantity_at(pvc, {"status", "capacity", "storage"}) : "",
        bound ? access_modes(get_array(pvc, {"status", "accessModes"})) : "",
        storage_class(pvc),
        or_unset(pvc, {"spec", "volumeAttributesClassName"}),
        age(pvc, now),
        or_unset(pvc, {"spec", "volumeMode"}),
    };
}

Printer persistent_volume_claim_printer() {
    return {{
                name_column(),
                column("Status", doc::kPersistentVolumeClaimStatusPhase),
                column("Volume", doc::kPersistentVolumeClaimSpecVolumeName),
                column("Capacity", doc::kPersistentVolumeClaimStatusCapacity),
                column("Access Modes", doc::kPersistentVolumeClaimStatusAccessModes),
                column("StorageClass", "StorageClass of the pvc"),
                column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
                age_column(),
                wide_column("VolumeMode", doc::kPersistentVolumeClaimSpecVolumeMode),
            },
            persistent_volume_claim_cells};
}

// --- ResourceQuota -----------------------------------------------------------------------------

// "pods: 1/10, requests.cpu: 500m/2" for the request column and "limits.*" entries for the
// limit column, by resource name.
std::pair<std::string, std::string> quota_columns(const json::object& quota) {
    std::vector<std::string> resources;
    if (const json::object* hard = get_object(quota, {"status", "hard"})) {
        for (const auto& [resource, value] : *hard)
            resources.emplace_back(resource);
    }
    std::sort(resources.begin(), resources.end());
    std::vector<std::string> requests;
    std::vector<std::string> limits;
    for (const std::string& resource : resources) {
        const std::string entry = resource + ": " +
                                  quantity_at(quota, {"status", "used", resource}) + "/" +
                                  quantity_at(quota, {"status", "hard", resource});
        const bool limit = resource.starts_with("limits.");
        (limit ? limits : requests).push_back(entry);
    }
    return {join(requests, ", "), join(limits, ", ")};
}

json::array resource_quota_cells(const json::object& quota, Clock::time_point now) {
    auto [requests, limits] = quota_columns(quota);
    return json::array{name_of(quota), age(quota, now), requests, limits};
}

// Kubernetes 1.32 puts Age second; 1.33 moved it last.
Printer resource_quota_printer() {
    return {{
                name_column(),
                age_column(),
                column("Request",
                       "Request represents a minimum amount of cpu/memory that a container may "
                       "consume."),
                column("Limit",
                       "Limits control the maximum amount of cpu/memory that a container may use "
                       "independent of contention on the node."),
            },
            resource_quota_cells};
}

// --- ReplicationController, PodTemplate --------------------------------------------------------

json::array replication_controller_cells(const json::object& rc, Clock::time_point now) {
    auto [names, images] =
        container_cells(get_array(rc, {"spec", "template", "spec", "containers"}));
    return json::array{
        name_of(rc),
        get_int(rc, {"spec", "replicas"}, 1),
        get_int(rc, {"status", "replicas"}),
        get_int(rc, {"status", "readyReplicas"}),
        age(rc, now),
        names,
        images,
        format_labels(get_object(rc, {"spec", "selector"})),
    };
}

Printer replication_controller_printer() {
    return {{
                name_column(),
                column("Desired", doc::kReplicationControllerSpecReplicas, "integer"),
                column("Current", doc::kReplicationControllerStatusReplicas, "integer"),
                column("Ready", doc::kReplicationControllerStatusReadyReplicas, "integer"),
                age_column(),
                wide_column("Containers", "Names of each container in the template."),
                wide_column("Images", "Images referenced by each container in the template."),
                wide_column("Selector", doc::kReplicationControllerSpecSelector),
            },
            replication_controller_cells};
}

json::array pod_template_cells(const json::object& pt, Clock::time_point) {
    auto [names, images] = container_cells(get_array(pt, {"template", "spec", "containers"}));
    return json::array{name_of(pt), names, images,
                       format_labels(get_object(pt, {"template", "metadata", "labels"}))};
}

Printer pod_template_printer() {
    return {{
                name_column(),
                column("Containers", "Names of each container in the template."),
                column("Images", "Images referenced by each container in the template."),
                column("Pod Labels", "The labels for the pod template."),
            },
            pod_template_cells};
}

}  // namespace

const std::vector<KindPrinter>& core_printers() {
    static const std::vector<KindPrinter> printers{
        {"", "Pod", pod_printer()},
        {"", "Namespace", namespace_printer()},
        {"", "Node", node_printer()},
        {"", "Service", service_printer()},
        {"", "Endpoints", endpoints_printer()},
        {"", "ConfigMap", config_map_printer()},
        {"", "Secret", secret_printer()},
        {"", "ServiceAccount", service_account_printer()},
        {"", "Event", core_event_printer()},
        {"events.k8s.io", "Event", events_event_printer()},
        {"", "PersistentVolume", persistent_volume_printer()},
        {"", "PersistentVolumeClaim", persistent_volume_claim_printer()},
        {"", "ResourceQuota", resource_quota_printer()},
        {"", "ReplicationController", replication_controller_printer()},
        {"", "PodTemplate", pod_template_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
