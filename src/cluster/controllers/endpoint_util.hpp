#pragma once
// What the Endpoints and EndpointSlice controllers share (upstream's
// pkg/controller/util/endpoint and endpointslice/util): which pods back a Service, how a
// Service port resolves against a pod, the Endpoints subsets upstream's RepackSubsets makes,
// the desired EndpointSlice endpoints, the slice reconciliation plan, and the
// last-change-trigger-time bookkeeping. Pure functions of API objects, unit-tested.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/selectors.hpp"
#include "cluster/controllers/runtime/informer.hpp"

namespace kcube::api {
class ApiError;
}

namespace kcube::controllers::endpoints {

inline constexpr std::string_view kTriggerTimeAnnotation =
    "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr std::string_view kHeadlessLabel = "service.kubernetes.io/headless";
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr std::string_view kSliceControllerName = "endpointslice-controller.k8s.io";
// Upstream's default --max-endpoints-per-slice.
inline constexpr std::size_t kMaxEndpointsPerSlice = 100;

// The pods a Service selects, or nullopt if the controllers leave its endpoints alone: no
// selector (the user manages them) or type ExternalName.
std::optional<api::LabelSelector> service_selector(const boost::json::object& service);
// spec.clusterIP is "None" (or unset): the headless label goes on its endpoints.
bool is_headless(const boost::json::object& service);

// Upstream's ShouldPodBeInEndpoints: not finished, has an IP, and (unless
// `include_terminating`) not being deleted.
bool should_pod_be_in_endpoints(const boost::json::object& pod, bool include_terminating);
// The pod's IPv4 address (status.podIPs, else status.podIP), or "".
std::string pod_ipv4(const boost::json::object& pod);
// The pod asks for a DNS name under this (headless) Service: its hostname, or "".
std::string pod_hostname_for(const boost::json::object& pod, const boost::json::object& service);
// Upstream's FindPort: a numeric targetPort as it is, a named one from the pod's container
// ports (and sidecar init containers) with the same protocol; nullopt if the pod has none.
std::optional<std::int64_t> find_port(const boost::json::object& pod,
                                      const boost::json::object& service_port);

// The Endpoints subsets for a Service and the pods it selects, packed as upstream's
// RepackSubsets packs them (addresses offering the same ports share a subset) and sorted, so
// equal inputs always give equal output.
boost::json::array endpoint_subsets(const boost::json::object& service,
                                    const std::vector<ObjectPtr>& pods);

// What makes a pod change matter to endpoints (labels aside): a pod update that leaves this
// unchanged does not touch any Endpoints or EndpointSlice.
std::string pod_endpoint_fingerprint(const boost::json::object& pod);
// Keys of the Services (in `services`) a pod change concerns: those selecting the pod before
// or after, when something endpoints show changed.
std::vector<std::string> services_for_pod_change(const Informer& services, const ObjectPtr& old,
                                                 const ObjectPtr& now);

// Upstream's TriggerTimeTracker: the time of the earliest change (a pod's Ready transition, the
// Service's creation) not yet reflected since the previous sync of a Service. One per
// controller, used from its worker only.
class TriggerTimeTracker {
  public:
    using Time = std::chrono::system_clock::time_point;
    // Records the current state and returns the trigger time to publish (nullopt: none).
    std::optional<Time> compute(const std::string& service_key, const boost::json::object& service,
                                const std::vector<ObjectPtr>& pods);
    void forget(const std::string& service_key);

  private:
    struct State {
        std::map<std::string, Time> pods;
        Time service{};
    };
    std::map<std::string, State> states_;
};
// RFC 3339 as the annotation carries it.
std::string format_trigger_time(TriggerTimeTracker::Time time);

// A create refused because the namespace is being deleted: nothing to retry.
bool namespace_terminating(const api::ApiError& error);

// ---- EndpointSlices ------------------------------------------------------------------------

// The endpoints one set of resolved ports leads to (one slice group per distinct port list).
struct SliceGroup {
    boost::json::array ports;
    std::vector<boost::json::object> endpoints;
};
// Looks a node up by name (for the endpoint's zone); nullptr if unknown.
using NodeLookup = std::function<const boost::json::object*(std::string_view)>;
// The desired endpoints of a Service, grouped by resolved ports (key: the ports as canonical
// JSON). Pods on a node `node_of` does not know are skipped unless the Service publishes
// not-ready addresses; `skipped` counts them (the caller retries later, as upstream does).
std::map<std::string, SliceGroup> desired_slice_groups(const boost::json::object& service,
                                                       const std::vector<ObjectPtr>& pods,
                                                       const NodeLookup& node_of,
                                                       std::size_t* skipped = nullptr);
// An endpoint's identity across updates (addresses, hostname, target name), as upstream's
// endpoint hash.
std::string endpoint_identity(const boost::json::object& endpoint);
// The labels a Service's slices carry: the Service's own (reserved keys aside), the headless
// label for a headless Service, the service-name and managed-by labels.
boost::json::object slice_labels(const boost::json::object& service);
// A new slice for the Service (generateName "<service>-", owned by it).
boost::json::object new_slice(const boost::json::object& service, boost::json::array ports);

// Writes the slice reconciliation needs, as upstream's reconciler plans them: existing slices
// are updated in place, filled up before new ones are made, and a create paired with a delete
// becomes an update of the slice that would go, so pod changes do not churn slices.
struct SlicePlan {
    std::vector<boost::json::object> create, update, remove;
    bool empty() const { return create.empty() && update.empty() && remove.empty(); }
};
SlicePlan plan_slices(const boost::json::object& service,
                      const std::map<std::string, SliceGroup>& desired,
                      const std::vector<ObjectPtr>& existing,
                      std::size_t max_per_slice = kMaxEndpointsPerSlice);

}  // namespace kcube::controllers::endpoints
