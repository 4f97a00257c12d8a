#pragma once
// The arithmetic behind Deployments and ReplicaSets, as upstream's kube-controller-manager
// computes it (pkg/controller/deployment/util and controller_utils): surge and unavailability
// fenceposts, revisions and their annotations, pod-template hashes, proportional scaling,
// status and conditions, which pods to delete first, and which objects a controller claims.
// Everything here works on plain JSON objects and takes the time as an argument, so the unit
// tests exercise it without an API server; the two controllers do the reading and writing.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kcube::api {
class LabelSelector;
}

namespace kcube::controllers::rollout {

using Time = std::chrono::system_clock::time_point;
using Objects = std::vector<const boost::json::object*>;

inline constexpr std::string_view kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr std::string_view kRevisionHistoryAnnotation =
    "deployment.kubernetes.io/revision-history";
inline constexpr std::string_view kDesiredReplicasAnnotation =
    "deployment.kubernetes.io/desired-replicas";
inline constexpr std::string_view kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr std::string_view kPodTemplateHashLabel = "pod-template-hash";
// Upstream caps the revision-history annotation at this many characters.
inline constexpr std::size_t kMaxRevisionHistoryChars = 2000;

// ---- maxSurge and maxUnavailable -------------------------------------------------------------

// An IntOrString against `total`: an int as it is, "25%" rounded up or down. Throws
// std::invalid_argument for anything else (a string without '%', a non-number).
std::int64_t scaled_value(const boost::json::value& int_or_percent, std::int64_t total,
                          bool round_up);

struct Fenceposts {
    std::int64_t surge = 0;
    std::int64_t unavailable = 0;
};
// Surge rounds up, unavailable rounds down; if both come to 0, unavailable is 1 (upstream's
// answer to a percentage rounding down to nothing). A missing value counts as 0.
Fenceposts resolve_fenceposts(const boost::json::value* max_surge,
                              const boost::json::value* max_unavailable, std::int64_t desired);

bool is_rolling_update(const boost::json::object& deployment);
// 0 for Recreate.
std::int64_t max_surge(const boost::json::object& deployment);
// 0 for Recreate or 0 replicas; never more than spec.replicas.
std::int64_t max_unavailable(const boost::json::object& deployment);

// ---- replica counts --------------------------------------------------------------------------

// spec.replicas (the API defaults it to 1).
std::int64_t spec_replicas(const boost::json::object& object);
// status.<field>, 0 when absent.
std::int64_t status_count(const boost::json::object& object, std::string_view field);
std::int64_t sum_spec_replicas(const Objects& replica_sets);
std::int64_t sum_status(const Objects& replica_sets, std::string_view field);
// The replica sets with spec.replicas > 0 (null entries dropped).
Objects active(const Objects& replica_sets);

// ---- ordering (upstream's sort orders) -------------------------------------------------------

// Older first; equal creation times by name.
bool created_before(const boost::json::object& a, const boost::json::object& b);
// Larger spec.replicas first; equal sizes newer first (scaling up) or older first (down).
bool larger_newer_first(const boost::json::object& a, const boost::json::object& b);
bool larger_older_first(const boost::json::object& a, const boost::json::object& b);
// Lower revision first; equal revisions older first.
bool lower_revision_first(const boost::json::object& a, const boost::json::object& b);

// ---- templates, hashes and revisions ---------------------------------------------------------

// Pod templates equal apart from the pod-template-hash label (and representation details
// that do not change meaning: nulls and empty objects or lists).
bool equal_ignore_hash(const boost::json::object& a, const boost::json::object& b);
// The pod-template-hash for a template: a stable hash of its canonical JSON and the
// deployment's collisionCount.
std::string template_hash(const boost::json::object& pod_template,
                          std::optional<std::int64_t> collision_count);
// The replica set whose template matches the deployment's (the oldest, if several), or null.
const boost::json::object* find_new_replica_set(const boost::json::object& deployment,
                                                const Objects& replica_sets);

std::string annotation(const boost::json::object& object, std::string_view key);
// The revision annotation as a number (0 when absent or malformed).
std::int64_t revision_of(const boost::json::object& replica_set);
std::int64_t max_revision(const Objects& replica_sets);

// Brings the new replica set's annotations up to date: copies the deployment's own
// annotations (not kubectl's last-applied one nor the controller's), raises the revision to
// `new_revision` and records a reused revision in revision-history; a replica set being made
// (`exists` false) also gets desired-replicas and max-replicas. True if anything changed.
bool set_new_replica_set_annotations(const boost::json::object& deployment,
                                     boost::json::object& replica_set, std::int64_t new_revision,
                                     bool exists);
bool replicas_annotations_need_update(const boost::json::object& replica_set, std::int64_t desired,
                                      std::int64_t max);
bool set_replicas_annotations(boost::json::object& replica_set, std::int64_t desired,
                              std::int64_t max);
std::optional<std::int64_t> desired_replicas_annotation(const boost::json::object& replica_set);
// Sets metadata.annotations[key]; true if it changed.
bool set_annotation(boost::json::object& object, std::string_view key, std::string_view value);

// ---- scaling ---------------------------------------------------------------------------------

// How big the new replica set may be now: RollingUpdate adds up to maxSurge over the
// deployment's size across all replica sets (counting pods a scaled-down replica set still
// has); Recreate goes straight to spec.replicas.
std::int64_t new_rs_new_replicas(const boost::json::object& deployment, const Objects& all,
                                 const boost::json::object& new_rs);
// The new replica set has every replica, all available, for this deployment size.
bool is_saturated(const boost::json::object& deployment, const boost::json::object* new_rs);
// The only active replica set; if none is active the newest; null if several are active.
const boost::json::object* find_active_or_latest(const boost::json::object* new_rs,
                                                 const Objects& old);
// The share of `to_add` (negative: remove) this replica set gets when the deployment is
// resized during a rollout, from the max-replicas it was last sized for.
std::int64_t replica_set_proportion(const boost::json::object& replica_set,
                                    const boost::json::object& deployment, std::int64_t to_add,
                                    std::int64_t added);
// When a deployment is resized during a rollout (RollingUpdate), the new size of every active
// replica set, larger ones first (newer first when growing, older first when shrinking), with
// what rounding leaves over going to the first.
std::vector<std::pair<const boost::json::object*, std::int64_t>> proportional_sizes(
    const boost::json::object& deployment, const Objects& active);

// ---- conditions and status -------------------------------------------------------------------

boost::json::object new_condition(std::string_view type, std::string_view status,
                                  std::string_view reason, std::string_view message, Time now,
                                  bool with_update_time = true);
const boost::json::object* get_condition(const boost::json::object& status, std::string_view type);
// Upstream's SetDeploymentCondition / SetCondition: nothing happens when status and reason are
// unchanged; otherwise the condition replaces the old one at the end of the list, keeping the
// old lastTransitionTime if the status is the same.
void set_condition(boost::json::object& status, boost::json::object condition);
void remove_condition(boost::json::object& status, std::string_view type);

bool has_progress_deadline(const boost::json::object& deployment);
bool has_revision_history_limit(const boost::json::object& deployment);

// The status upstream's calculateStatus gives: counts from the replica sets, the previous
// conditions, and Available by whether availableReplicas >= replicas - maxUnavailable.
boost::json::object calculate_status(const boost::json::object& deployment, const Objects& all,
                                     const boost::json::object* new_rs, Time now);
bool deployment_complete(const boost::json::object& deployment, const boost::json::object& status);
// Some progress between the deployment's status and `status`.
bool deployment_progressing(const boost::json::object& deployment,
                            const boost::json::object& status);
bool deployment_timed_out(const boost::json::object& deployment, const boost::json::object& status,
                          Time now);
// calculate_status plus the Progressing condition (complete, progressing, timed out) and the
// replica sets' ReplicaFailure, as upstream's syncRolloutStatus computes them.
boost::json::object rollout_status(const boost::json::object& deployment, const Objects& all,
                                   const boost::json::object* new_rs, Time now);
// When a rollout that has made no progress should be checked again for its deadline
// (nullopt: no need).
std::optional<std::chrono::milliseconds> progress_check_after(const boost::json::object& deployment,
                                                              const boost::json::object& status,
                                                              Time now);
// The stored status (absent counts as empty) is the computed one, whatever the key order.
bool same_status(const boost::json::value* stored, const boost::json::object& computed);

// ---- ReplicaSets and their pods --------------------------------------------------------------

// The pod a replica set creates from its template (generateName "<rs>-", owner reference).
boost::json::object pod_from_template(const boost::json::object& replica_set);
// Why creating or deleting pods failed ("FailedCreate" / "FailedDelete", the error).
struct ReplicaFailure {
    std::string reason;
    std::string message;
};
// Upstream's calculateReplicaSetStatus over the replica set's active pods, plus
// observedGeneration; `failure` sets (or its absence clears) the ReplicaFailure condition.
boost::json::object replica_set_status(const boost::json::object& replica_set, const Objects& pods,
                                       const std::optional<ReplicaFailure>& failure, Time now);
// Ready, and for longer than minReadySeconds at `now`.
bool pod_available_at(const boost::json::object& pod, std::int64_t min_ready_seconds, Time now);
// When a ready pod becomes available under minReadySeconds (nullopt: not ready, or already).
std::optional<Time> available_at(const boost::json::object& pod, std::int64_t min_ready_seconds,
                                 Time now);
// The `count` pods to delete first, in upstream's order: unassigned, pending before unknown
// before running, not ready, lower pod-deletion-cost, more related pods on the same node,
// ready more recently, more restarts, created more recently. `related` are the pods of every
// replica set under the same owner (for the same-node rank).
std::vector<const boost::json::object*> pods_to_delete(const Objects& pods, const Objects& related,
                                                       std::size_t count, Time now);

// What a controller does with an object when claiming those its selector matches, as
// upstream's ControllerRefManager decides.
enum class Claim {
    kIgnore,   // owned by another controller, or not ours to take
    kOwned,    // ours and matching
    kAdopt,    // an orphan that matches: add our controller reference
    kRelease,  // ours but no longer matching: remove our reference
};
Claim decide_claim(const boost::json::object& object, const boost::json::object& owner,
                   const api::LabelSelector& selector);
// `object` with `owner`'s controller reference added, or with every reference to `owner`'s
// uid removed.
boost::json::object with_owner(boost::json::object object, const boost::json::object& owner);
boost::json::object without_owner(boost::json::object object, std::string_view owner_uid);

}  // namespace kcube::controllers::rollout
