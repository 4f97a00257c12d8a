#pragma once
// The scheduler's fit checks (kube-scheduler's Filter plugins), as pure functions of a pod and
// a node with what is already bound to it, so they are unit-tested without a cluster. The
// reasons they give are upstream's texts, which end up in FailedScheduling messages.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::scheduler {

// A resource.Quantity in thousandths of a unit ("250m" -> 250, "1Gi" -> 1073741824000),
// rounded up as upstream's MilliValue() is; nullopt if it is no quantity.
std::optional<std::int64_t> parse_quantity_milli(std::string_view text);
// The same in whole units, rounded up (Value()).
std::optional<std::int64_t> parse_quantity(std::string_view text);

// Amounts of resources: cpu in millicores, the rest in units (bytes, a count of pods).
struct Resources {
    std::int64_t milli_cpu = 0;
    std::int64_t memory = 0;
    std::int64_t ephemeral_storage = 0;
    std::int64_t pods = 0;
    // Extended resources and hugepages ("example.com/gpu", "hugepages-2Mi"), in units.
    std::map<std::string, std::int64_t, std::less<>> scalar;

    void add(const Resources& other);
};

// Reads a ResourceList ({"cpu": "500m", "memory": "1Gi", ...}).
Resources resource_list(const boost::json::object* list);
// What a pod asks for: the larger of its containers' sum and its largest init container (a
// restartable "sidecar" init container keeps running, so it adds to both), plus the pod's
// overhead. `pods` is 1.
Resources pod_requests(const boost::json::object& pod);
// status.allocatable (or status.capacity when allocatable is missing).
Resources node_allocatable(const boost::json::object& node);

struct HostPort {
    std::string ip;  // "" and "0.0.0.0" mean every address
    std::string protocol;
    std::int64_t port = 0;
};
// The hostPorts a pod's containers (and init containers) claim.
std::vector<HostPort> pod_host_ports(const boost::json::object& pod);
// Two claims collide: same port and protocol, and the addresses overlap.
bool ports_conflict(const HostPort& a, const HostPort& b);

struct Taint {
    std::string key, value, effect;
};
// spec.taints plus what the node's conditions imply while no controller has written them yet:
// a node that is not Ready carries not-ready (Ready=False) or unreachable (Unknown or missing)
// with effect NoSchedule, as the node lifecycle controller would taint it.
std::vector<Taint> node_taints(const boost::json::object& node);
// `tolerations` (a pod's spec.tolerations, may be null) tolerate `taint`.
bool tolerates(const boost::json::array* tolerations, const Taint& taint);
bool toleration_matches(const boost::json::object& toleration, const Taint& taint);

// One nodeSelectorTerm: all of its matchExpressions (against labels) and matchFields
// (metadata.name) hold. An empty term matches nothing, as upstream.
bool node_selector_term_matches(const boost::json::object& term, const boost::json::object& node);
// spec.nodeSelector and the required node affinity (terms ORed) both match.
bool node_matches_pod_affinity(const boost::json::object& pod, const boost::json::object& node);
// The node names a pod's required affinity pins it to via matchFields metadata.name in every
// term (a DaemonSet pod), or nullopt if it may go anywhere.
std::optional<std::vector<std::string>> affinity_node_names(const boost::json::object& pod);

// A node and what already runs there.
struct NodeInfo {
    const boost::json::object* node = nullptr;
    Resources requested;  // requests of the pods bound there and not finished; pods = their count
    // The same with upstream's defaults (100m cpu, 200Mi memory) for containers that request
    // nothing: what spreading pods looks at, so that request-less pods spread too.
    Resources nonzero_requested;
    std::vector<HostPort> ports;

    void add_pod(const boost::json::object& pod);
};

// Why a pod does not fit a node: the failing plugin's reasons (empty: it fits) and whether
// evicting other pods could help (upstream's Unschedulable as opposed to
// UnschedulableAndUnresolvable), which decides the preemption part of the message.
struct FitResult {
    std::vector<std::string> reasons;
    bool resolvable = false;
    bool fits() const { return reasons.empty(); }
};

// Runs upstream's filters in upstream's order (NodeUnschedulable, NodeName, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit) and stops at the first that fails.
FitResult check_fit(const boost::json::object& pod, const NodeInfo& node);

// "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node
// affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for
// incoming pod, 1 Preemption is not helpful for scheduling." — upstream's FitError text, one
// FitResult per node.
std::string fit_error_message(const boost::json::object& pod,
                              const std::vector<FitResult>& failures);

// The parts of a node that decide what fits on it (labels, spec, allocatable, Ready), as
// text: a node update that leaves it unchanged (a heartbeat) cannot make a pod fit.
std::string node_fit_fingerprint(const boost::json::object& node);

// Least requested: the share of cpu and memory still free after placing the pod, 0..100.
std::int64_t least_requested_score(const boost::json::object& pod, const NodeInfo& node);
// The summed weights of the pod's preferred node affinity terms this node matches.
std::int64_t preferred_affinity_weight(const boost::json::object& pod,
                                       const boost::json::object& node);
// How many PreferNoSchedule taints of the node the pod does not tolerate.
std::int64_t intolerable_preferred_taints(const boost::json::object& pod,
                                          const boost::json::object& node);

// Ranks the nodes a pod fits as upstream's default score plugins do: each plugin's score
// normalised to 0..100 across the candidates, then weighted (TaintToleration 3,
// NodeAffinity 2, NodeResourcesFit 1). Returns one total per candidate, in order.
std::vector<std::int64_t> rank_nodes(const boost::json::object& pod,
                                     const std::vector<const NodeInfo*>& candidates);

}  // namespace kcube::scheduler
