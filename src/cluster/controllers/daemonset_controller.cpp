// DaemonSet controller: one pod per eligible node, pinned to its node through required node
// affinity (the scheduler binds it), with upstream's default tolerations; template changes
// roll out through ControllerRevisions, node by node (RollingUpdate) or as pods are deleted
// (OnDelete).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/scheduler/predicates.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {

constexpr const char* kComponent = "daemonset-controller";
constexpr const char* kHashLabel = "controller-revision-hash";
constexpr const char* kGenerationLabel = "pod-template-generation";
constexpr std::int64_t kDefaultHistoryLimit = 10;

std::string name_of(const json::object& object) {
    return api::meta_string(object, "name");
}

const json::object& object_or_empty(const json::object& parent, std::string_view key) {
    static const json::object empty;
    const auto* value = parent.if_contains(key);
    return value && value->is_object() ? value->as_object() : empty;
}

std::string label(const json::object& object, std::string_view key) {
    const auto& labels = object_or_empty(object_or_empty(object, "metadata"), "labels");
    const auto* value = labels.if_contains(key);
    return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

// The node a daemon pod is for: spec.nodeName once bound, else the node its affinity names.
std::string target_node(const json::object& pod) {
    std::string node = api::field_value(pod, "spec.nodeName");
    if (!node.empty()) return node;
    const auto names = scheduler::affinity_node_names(pod);
    return names && names->size() == 1 ? names->front() : std::string();
}

// An IntOrString ("25%" or 2) against `total`, percentages rounded up, as upstream's
// GetScaledValueFromIntOrPercent(..., true).
std::int64_t scaled(const json::value* value, std::int64_t total, std::int64_t fallback) {
    if (!value || value->is_null()) return fallback;
    if (value->is_int64()) return value->as_int64();
    if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
    if (value->is_string()) {
        std::string text(value->get_string());
        if (!text.empty() && text.back() == '%') {
            text.pop_back();
            try {
                const std::int64_t percent = std::stoll(text);
                return (percent * total + 99) / 100;
            } catch (const std::exception&) {
                return fallback;
            }
        }
        try {
            return std::stoll(text);
        } catch (const std::exception&) {
            return fallback;
        }
    }
    return fallback;
}

// Upstream's DaemonSet tolerations: daemons stay on nodes that are unhealthy or cordoned.
void add_default_tolerations(json::object& spec) {
    auto& list = spec["tolerations"];
    if (!list.is_array()) list = json::array{};
    auto& tolerations = list.as_array();
    auto add = [&tolerations](std::string_view key, std::string_view effect) {
        json::object wanted{{"key", key}, {"operator", "Exists"}, {"effect", effect}};
        const bool present =
            std::any_of(tolerations.begin(), tolerations.end(), [&](const json::value& t) {
                return t.is_object() && api::field_value(t.as_object(), "key") == key &&
                       api::field_value(t.as_object(), "operator") == "Exists" &&
                       api::field_value(t.as_object(), "effect") == effect &&
                       api::field_value(t.as_object(), "value").empty();
            });
        if (!present) tolerations.push_back(std::move(wanted));
    };
    add("node.kubernetes.io/not-ready", "NoExecute");
    add("node.kubernetes.io/unreachable", "NoExecute");
    add("node.kubernetes.io/disk-pressure", "NoSchedule");
    add("node.kubernetes.io/memory-pressure", "NoSchedule");
    add("node.kubernetes.io/pid-pressure", "NoSchedule");
    add("node.kubernetes.io/unschedulable", "NoSchedule");
    if (api::field_value(spec, "hostNetwork") == "true") {
        add("node.kubernetes.io/network-unavailable", "NoSchedule");
    }
}

// Replaces the required node affinity by "this node only", as upstream does.
void pin_to_node(json::object& spec, const std::string& node) {
    json::object required{
        {"nodeSelectorTerms",
         json::array{json::object{
             {"matchFields", json::array{json::object{{"key", "metadata.name"},
                                                      {"operator", "In"},
                                                      {"values", json::array{node}}}}}}}}};
    auto& affinity = child_object(spec, "affinity");
    child_object(affinity, "nodeAffinity")["requiredDuringSchedulingIgnoredDuringExecution"] =
        std::move(required);
}

// What the controller decides for one node (upstream's nodeShouldRunDaemonPod).
struct Placement {
    bool should_run = false;       // a daemon pod belongs here
    bool should_continue = false;  // an existing one may stay
};

Placement placement(const json::object& pod_template_spec, const json::object& node) {
    // The template's own nodeSelector and affinity decide eligibility (the pin is ours).
    const json::object pod{{"spec", pod_template_spec}};
    if (!scheduler::node_matches_pod_affinity(pod, node)) return {};
    json::object with_defaults = pod_template_spec;
    add_default_tolerations(with_defaults);
    const json::array& tolerations = with_defaults["tolerations"].as_array();
    bool fits_taints = true, may_stay = true;
    for (const auto& taint : scheduler::node_taints(node)) {
        if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
        if (scheduler::tolerates(&tolerations, taint)) continue;
        fits_taints = false;
        if (taint.effect == "NoExecute") may_stay = false;
    }
    return {fits_taints, may_stay};
}

// The revision data upstream stores: a patch that replaces spec.template.
json::object revision_data(const json::object& ds) {
    json::object template_copy = object_or_empty(object_or_empty(ds, "spec"), "template");
    template_copy["$patch"] = "replace";
    return json::object{{"spec", json::object{{"template", std::move(template_copy)}}}};
}

class DaemonSetController final : public Controller {
  public:
    explicit DaemonSetController(ControllerContext& ctx)
        : Controller("daemonset"),
          ctx_(ctx),
          daemonsets_(ctx.informers.get("apps", "v1", "daemonsets")),
          pods_(ctx.informers.get("", "v1", "pods")),
          nodes_(ctx.informers.get("", "v1", "nodes")),
          revisions_(ctx.informers.get("apps", "v1", "controllerrevisions")),
          ds_info_(ctx.service.registry().find("apps", "v1", "daemonsets")),
          pod_info_(ctx.service.registry().find("", "v1", "pods")),
          revision_info_(ctx.service.registry().find("apps", "v1", "controllerrevisions")) {
        daemonsets_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (const auto& ds = now ? now : old) queue().add(object_key(*ds));
        });
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            for (const auto& pod : {old, now}) {
                if (!pod) continue;
                const auto* ref = controller_ref(*pod);
                if (ref && api::field_value(*ref, "kind") == "DaemonSet") {
                    queue().add(object_key(api::meta_string(*pod, "namespace"),
                                           api::field_value(*ref, "name")));
                }
            }
        });
        nodes_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (old && now &&
                scheduler::node_fit_fingerprint(*old) == scheduler::node_fit_fingerprint(*now)) {
                return;
            }
            for (const auto& ds : daemonsets_.list())
                queue().add(object_key(*ds));
        });
    }

  protected:
    void reconcile(const std::string& key) override {
        const ObjectPtr ds = daemonsets_.get(key);
        if (!ds || is_terminating(*ds)) return;
        const json::object current = current_revision(*ds);
        const std::string hash = label(current, kHashLabel);
        const Placements where = placements(*ds);
        const Budget budget = rollout_budget(*ds, where);

        // The manage step: every node that should have a daemon gets one, and no more.
        NodePods by_node = daemon_pods(*ds);
        std::vector<std::string> create_on;
        std::vector<ObjectPtr> remove;
        for (const auto& [node, placement] : where) {
            const auto it = by_node.find(node);
            plan_node(placement, node, it == by_node.end() ? kNoPods : it->second, budget.surge > 0,
                      hash, create_on, remove);
        }
        // Pods for nodes that no longer exist have nowhere to run.
        for (const auto& [node, pods] : by_node) {
            if (where.contains(node)) continue;
            for (const auto& pod : pods) {
                if (!is_terminating(*pod)) remove.push_back(pod);
            }
        }
        const bool changed_pods = !create_on.empty() || !remove.empty();
        sync_nodes(*ds, remove, create_on, hash);

        // The update step, once the manage step has nothing left to do.
        if (!changed_pods && api::field_value(*ds, "spec.updateStrategy.type") != "OnDelete") {
            const NodePods now = daemon_pods(*ds);
            if (budget.surge > 0) {
                surge_update(*ds, where, now, hash, budget);
            } else {
                rolling_update(*ds, now, hash, budget);
            }
        }
        const NodePods final_pods = daemon_pods(*ds);
        cleanup_history(*ds, current, final_pods);
        update_status(*ds, where, final_pods, hash);
    }

  private:
    using NodePods = std::map<std::string, std::vector<ObjectPtr>>;
    using Placements = std::map<std::string, Placement>;
    inline static const std::vector<ObjectPtr> kNoPods{};

    struct Budget {
        std::int64_t desired = 0;  // nodes that should run a daemon
        std::int64_t max_unavailable = 0;
        std::int64_t surge = 0;
    };

    // Every node and what the DaemonSet's template says about it.
    Placements placements(const json::object& ds) const {
        const json::object& template_spec =
            object_or_empty(object_or_empty(object_or_empty(ds, "spec"), "template"), "spec");
        Placements out;
        for (const auto& node : nodes_.list())
            out[name_of(*node)] = placement(template_spec, *node);
        return out;
    }

    // maxUnavailable and maxSurge against the number of nodes that should run a daemon, as
    // upstream's updatedDesiredNodeCounts: percentages round up, and with neither set one node
    // at a time may be without its daemon.
    static Budget rollout_budget(const json::object& ds, const Placements& where) {
        Budget budget;
        for (const auto& [node, placement] : where) {
            if (placement.should_run) ++budget.desired;
        }
        const auto& strategy = object_or_empty(object_or_empty(ds, "spec"), "updateStrategy");
        if (api::field_value(strategy, "type") == "OnDelete") return budget;
        const auto& rolling = object_or_empty(strategy, "rollingUpdate");
        budget.max_unavailable = scaled(rolling.if_contains("maxUnavailable"), budget.desired, 1);
        budget.surge = scaled(rolling.if_contains("maxSurge"), budget.desired, 0);
        if (budget.desired > 0 && budget.max_unavailable <= 0 && budget.surge <= 0) {
            budget.max_unavailable = 1;
        }
        return budget;
    }

    // The DaemonSet's pods by the node they are for, bound ones first, then oldest first
    // (upstream's podByCreationTimestampAndPhase).
    NodePods daemon_pods(const json::object& ds) const {
        NodePods out;
        for (auto& pod :
             pods_.owned_by(api::meta_string(ds, "namespace"), api::meta_string(ds, "uid"))) {
            if (!is_controlled_by(*pod, ds)) continue;
            // A finished pod that is already going away is the kubelet's business now.
            const std::string phase = pod_phase(*pod);
            if (is_terminating(*pod) && (phase == "Succeeded" || phase == "Failed")) continue;
            out[target_node(*pod)].push_back(std::move(pod));
        }
        for (auto& [node, pods] : out) {
            std::sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
                const bool a_bound = !api::field_value(*a, "spec.nodeName").empty();
                const bool b_bound = !api::field_value(*b, "spec.nodeName").empty();
                if (a_bound != b_bound) return a_bound;
                const auto a_created = api::meta_string(*a, "creationTimestamp");
                const auto b_created = api::meta_string(*b, "creationTimestamp");
                if (a_created != b_created) return a_created < b_created;
                return name_of(*a) < name_of(*b);
            });
        }
        return out;
    }

    // upstream's podsShouldBeOnNode: what to create and delete on one node.
    static void plan_node(const Placement& where, const std::string& node,
                          const std::vector<ObjectPtr>& pods, bool surging, const std::string& hash,
                          std::vector<std::string>& create_on, std::vector<ObjectPtr>& remove) {
        if (where.should_run && pods.empty()) {
            create_on.push_back(node);
            return;
        }
        if (!where.should_continue) {
            for (const auto& pod : pods) {
                if (!is_terminating(*pod)) remove.push_back(pod);
            }
            return;
        }
        std::vector<ObjectPtr> running;
        for (const auto& pod : pods) {
            if (is_terminating(*pod)) continue;
            const std::string phase = pod_phase(*pod);
            // A failed daemon pod is replaced; the next sync creates the new one.
            if (phase == "Failed" || phase == "Succeeded") {
                remove.push_back(pod);
            } else {
                running.push_back(pod);
            }
        }
        if (running.size() <= 1) return;
        if (!surging) {
            // More than one: keep the oldest.
            for (std::size_t i = 1; i < running.size(); ++i)
                remove.push_back(running[i]);
            return;
        }
        // Surging: an old and a new pod may overlap until the new one is ready.
        ObjectPtr oldest_new, oldest_old;
        for (const auto& pod : running) {
            auto& slot = label(*pod, kHashLabel) == hash ? oldest_new : oldest_old;
            if (!slot) {
                slot = pod;
            } else {
                remove.push_back(pod);
            }
        }
        if (oldest_new && oldest_old && (!pod_ready(*oldest_old) || pod_ready(*oldest_new))) {
            remove.push_back(oldest_old);
        }
    }

    void sync_nodes(const json::object& ds, const std::vector<ObjectPtr>& remove,
                    const std::vector<std::string>& create_on, const std::string& hash) {
        for (const auto& pod : remove)
            delete_pod(ds, *pod);
        for (const auto& node : create_on)
            create_pod(ds, node, hash);
    }

    void create_pod(const json::object& ds, const std::string& node, const std::string& hash) {
        const std::string ns = api::meta_string(ds, "namespace");
        const json::object& pod_template = object_or_empty(object_or_empty(ds, "spec"), "template");
        json::object metadata = object_or_empty(pod_template, "metadata");
        metadata.erase("name");
        metadata.erase("namespace");
        metadata["generateName"] = name_of(ds) + "-";
        auto& labels = child_object(metadata, "labels");
        labels[kHashLabel] = hash;
        labels[kGenerationLabel] = template_generation(ds);
        metadata["ownerReferences"] = json::array{owner_reference(ds)};
        json::object spec = object_or_empty(pod_template, "spec");
        pin_to_node(spec, node);
        add_default_tolerations(spec);
        json::object pod{{"apiVersion", "v1"},
                         {"kind", "Pod"},
                         {"metadata", std::move(metadata)},
                         {"spec", std::move(spec)}};
        json::object created = ctx_.service.create(*pod_info_, ns, std::move(pod), {});
        const std::string pod_name = name_of(created);
        pods_.remember(std::move(created));
        ctx_.events.record(ds, kComponent, "Normal", "SuccessfulCreate",
                           "Created pod: " + pod_name);
    }

    void delete_pod(const json::object& ds, const json::object& pod) {
        json::object result;
        try {
            result = ctx_.service.remove(*pod_info_, api::meta_string(pod, "namespace"),
                                         name_of(pod), {});
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;
            return;
        }
        // A pod on a node terminates gracefully and stays visible until its kubelet is done.
        pods_.removed(pod, std::move(result));
        ctx_.events.record(ds, kComponent, "Normal", "SuccessfulDelete",
                           "Deleted pod: " + name_of(pod));
    }

    // The template generation a pod was made for: upstream keeps it in an annotation of the
    // DaemonSet that the API server bumps on template changes; without it, the generation.
    static std::string template_generation(const json::object& ds) {
        const auto& annotations = object_or_empty(object_or_empty(ds, "metadata"), "annotations");
        const auto* value = annotations.if_contains("deprecated.daemonset.template.generation");
        if (value && value->is_string()) return std::string(value->get_string());
        return std::to_string(int_at(ds, "metadata.generation", 1));
    }

    // A pod runs the current template: its revision hash, or the template generation it was
    // made for (upstream's IsPodUpdated).
    static bool pod_updated(const json::object& pod, const json::object& ds,
                            const std::string& hash) {
        if (!hash.empty() && label(pod, kHashLabel) == hash) return true;
        return label(pod, kGenerationLabel) == template_generation(ds);
    }

    // A node's current daemons split into up to date and old ones; nullopt if there is more
    // than one of either (the manage step sorts that out first).
    struct NodeRollout {
        ObjectPtr fresh, old;
    };
    static std::optional<NodeRollout> split_updated(const std::vector<ObjectPtr>& pods,
                                                    const json::object& ds,
                                                    const std::string& hash) {
        NodeRollout out;
        for (const auto& pod : pods) {
            if (is_terminating(*pod)) continue;
            auto& slot = pod_updated(*pod, ds, hash) ? out.fresh : out.old;
            if (slot) return std::nullopt;
            slot = pod;
        }
        return out;
    }

    // RollingUpdate without surge: delete old pods (the manage step then creates new ones),
    // with at most maxUnavailable nodes lacking an available daemon (upstream's rollingUpdate).
    void rolling_update(const json::object& ds, const NodePods& by_node, const std::string& hash,
                        const Budget& budget) {
        const std::int64_t min_ready = int_at(ds, "spec.minReadySeconds", 0);
        std::int64_t unavailable = 0;
        std::vector<ObjectPtr> replace_now, candidates;
        for (const auto& [node, pods] : by_node) {
            const auto split = split_updated(pods, ds, hash);
            if (!split || (!split->fresh && !split->old) || (split->fresh && split->old)) {
                ++unavailable;  // the manage step is still at work here
            } else if (split->fresh) {
                if (!pod_available(*split->fresh, min_ready)) ++unavailable;
            } else if (!pod_available(*split->old, min_ready)) {
                replace_now.push_back(split->old);  // already unavailable: costs nothing
            } else if (unavailable < budget.max_unavailable) {
                candidates.push_back(split->old);
            }
        }
        std::int64_t room = std::max<std::int64_t>(0, budget.max_unavailable - unavailable);
        room = std::min<std::int64_t>(room, static_cast<std::int64_t>(candidates.size()));
        for (std::int64_t i = 0; i < room; ++i)
            replace_now.push_back(candidates[static_cast<std::size_t>(i)]);
        sync_nodes(ds, replace_now, {}, hash);
        requeue_for_min_ready(ds);
    }

    // RollingUpdate with maxSurge: start the new pod beside the old one and delete the old one
    // once the new one is available, with at most maxSurge nodes doing so at a time (upstream's
    // rollingUpdate, surge branch).
    void surge_update(const json::object& ds, const Placements& where, const NodePods& by_node,
                      const std::string& hash, const Budget& budget) {
        const std::int64_t min_ready = int_at(ds, "spec.minReadySeconds", 0);
        std::vector<ObjectPtr> remove, leaving;
        std::vector<std::string> replace_on, candidates;
        std::int64_t surging = 0, available = 0;
        for (const auto& [node, pods] : by_node) {
            const auto split = split_updated(pods, ds, hash);
            if (!split) {
                ++surging;
                continue;
            }
            const ObjectPtr& counted = split->old ? split->old : split->fresh;
            if (counted && pod_available(*counted, min_ready)) ++available;
            const auto it = where.find(node);
            const bool should_run = it != where.end() && it->second.should_run;
            if (!split->old) continue;  // nothing old here; the manage step handles the rest
            if (!split->fresh) {
                if (!pod_available(*split->old, min_ready)) {
                    if (should_run) {
                        replace_on.push_back(node);
                    } else {
                        remove.push_back(split->old);
                    }
                } else if (!should_run) {
                    leaving.push_back(split->old);
                } else if (surging < budget.surge) {
                    candidates.push_back(node);
                }
                continue;
            }
            if (!pod_available(*split->fresh, min_ready)) {
                ++surging;
            } else {
                remove.push_back(split->old);
            }
        }
        // Pods on nodes the template no longer selects go only while enough others are up.
        const std::int64_t deletable = std::min<std::int64_t>(
            available - budget.desired, static_cast<std::int64_t>(leaving.size()));
        for (std::int64_t i = 0; i < deletable; ++i)
            remove.push_back(leaving[static_cast<std::size_t>(i)]);
        std::int64_t room = std::max<std::int64_t>(0, budget.surge - surging);
        room = std::min<std::int64_t>(room, static_cast<std::int64_t>(candidates.size()));
        for (std::int64_t i = 0; i < room; ++i)
            replace_on.push_back(candidates[static_cast<std::size_t>(i)]);
        sync_nodes(ds, remove, replace_on, hash);
        requeue_for_min_ready(ds);
    }

    // A pod ready but not yet available for minReadySeconds becomes available by the clock.
    void requeue_for_min_ready(const json::object& ds) {
        const std::int64_t min_ready = int_at(ds, "spec.minReadySeconds", 0);
        if (min_ready > 0) queue().add_after(object_key(ds), std::chrono::seconds(min_ready));
    }

    // The ControllerRevision of the current template, made (or renumbered) if need be.
    json::object current_revision(const json::object& ds) {
        const std::string ns = api::meta_string(ds, "namespace");
        const json::object data = revision_data(ds);
        const std::string data_text = canonical_json(data);
        const std::int64_t collisions = int_at(ds, "status.collisionCount", 0);
        const std::string hash =
            stable_hash(collisions == 0 ? data_text : data_text + std::to_string(collisions));

        std::int64_t max_revision = 0;
        ObjectPtr match;
        for (const auto& revision : owned_revisions(ds)) {
            max_revision = std::max(max_revision, int_at(*revision, "revision", 0));
            const auto* revision_data = revision->if_contains("data");
            if (revision_data && canonical_json(*revision_data) == data_text) match = revision;
        }
        if (match) {
            if (int_at(*match, "revision", 0) == max_revision) return *match;
            // Back to an earlier template (rollout undo): it becomes the newest revision.
            json::object renumbered = *match;
            renumbered["revision"] = max_revision + 1;
            const std::string revision_name = name_of(renumbered);
            json::object written =
                ctx_.service.update(*revision_info_, ns, revision_name, std::move(renumbered), {});
            revisions_.remember(written);
            return written;
        }
        json::object labels = object_or_empty(
            object_or_empty(object_or_empty(object_or_empty(ds, "spec"), "template"), "metadata"),
            "labels");
        labels[kHashLabel] = hash;
        json::object revision{
            {"apiVersion", "apps/v1"},
            {"kind", "ControllerRevision"},
            {"metadata", json::object{{"name", name_of(ds) + "-" + hash},
                                      {"namespace", ns},
                                      {"labels", std::move(labels)},
                                      {"ownerReferences", json::array{owner_reference(ds)}}}},
            {"data", data},
            {"revision", max_revision + 1}};
        try {
            json::object created =
                ctx_.service.create(*revision_info_, ns, std::move(revision), {});
            revisions_.remember(created);
            return created;
        } catch (const api::ApiError& e) {
            if (e.code() != 409) throw;
        }
        // The name is taken: ours from a stale cache, or a hash collision.
        json::object existing = ctx_.service.get(*revision_info_, ns, name_of(ds) + "-" + hash);
        if (is_controlled_by(existing, ds) && canonical_json(existing["data"]) == data_text) {
            revisions_.remember(existing);
            return existing;
        }
        bump_collision_count(ds, collisions);
        throw api::ApiError(409, "Conflict", "controller revision hash collision");
    }

    void bump_collision_count(const json::object& ds, std::int64_t collisions) {
        json::object updated = ds;
        child_object(updated, "status")["collisionCount"] = collisions + 1;
        daemonsets_.remember(ctx_.service.update(*ds_info_, api::meta_string(ds, "namespace"),
                                                 name_of(ds), std::move(updated), {}, "status"));
    }

    std::vector<ObjectPtr> owned_revisions(const json::object& ds) const {
        std::vector<ObjectPtr> out;
        for (auto& revision :
             revisions_.owned_by(api::meta_string(ds, "namespace"), api::meta_string(ds, "uid"))) {
            if (is_controlled_by(*revision, ds)) out.push_back(std::move(revision));
        }
        return out;
    }

    // Old revisions beyond revisionHistoryLimit that no pod runs any more, oldest first.
    void cleanup_history(const json::object& ds, const json::object& current,
                         const NodePods& by_node) {
        const std::int64_t limit = int_at(ds, "spec.revisionHistoryLimit", kDefaultHistoryLimit);
        std::set<std::string> in_use{label(current, kHashLabel)};
        for (const auto& [node, pods] : by_node) {
            for (const auto& pod : pods)
                in_use.insert(label(*pod, kHashLabel));
        }
        std::vector<ObjectPtr> old;
        for (auto& revision : owned_revisions(ds)) {
            if (name_of(*revision) == name_of(current)) continue;
            if (in_use.contains(label(*revision, kHashLabel))) continue;
            old.push_back(std::move(revision));
        }
        if (static_cast<std::int64_t>(old.size()) <= limit) return;
        std::sort(old.begin(), old.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
            return int_at(*a, "revision", 0) < int_at(*b, "revision", 0);
        });
        const std::size_t excess =
            old.size() - static_cast<std::size_t>(std::max<std::int64_t>(limit, 0));
        for (std::size_t i = 0; i < excess; ++i) {
            try {
                ctx_.service.remove(*revision_info_, api::meta_string(*old[i], "namespace"),
                                    name_of(*old[i]), {});
                revisions_.forget_deleted(*old[i]);
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
        }
    }

    void update_status(const json::object& ds, const Placements& where, const NodePods& by_node,
                       const std::string& hash) {
        const std::int64_t min_ready = int_at(ds, "spec.minReadySeconds", 0);
        std::int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0,
                     updated = 0;
        for (const auto& [node, placement] : where) {
            const auto it = by_node.find(node);
            const bool scheduled = it != by_node.end() && !it->second.empty();
            if (!placement.should_run) {
                if (scheduled) ++misscheduled;
                continue;
            }
            ++desired;
            if (!scheduled) continue;
            ++current;
            const json::object& pod = *it->second.front();
            if (pod_ready(pod)) {
                ++ready;
                if (pod_available(pod, min_ready)) ++available;
            }
            if (pod_updated(pod, ds, hash)) ++updated;
        }
        json::object status = object_or_empty(ds, "status");
        json::object next = status;
        next["desiredNumberScheduled"] = desired;
        next["currentNumberScheduled"] = current;
        next["numberMisscheduled"] = misscheduled;
        next["numberReady"] = ready;
        next["numberAvailable"] = available;
        next["updatedNumberScheduled"] = updated;
        next["observedGeneration"] = int_at(ds, "metadata.generation", 0);
        if (desired - available > 0) {
            next["numberUnavailable"] = desired - available;
        } else {
            next.erase("numberUnavailable");
        }
        if (canonical_json(next) == canonical_json(status)) return;
        json::object updated_ds = ds;
        updated_ds["status"] = std::move(next);
        daemonsets_.remember(ctx_.service.update(*ds_info_, api::meta_string(ds, "namespace"),
                                                 name_of(ds), std::move(updated_ds), {}, "status"));
    }

    ControllerContext& ctx_;
    Informer& daemonsets_;
    Informer& pods_;
    Informer& nodes_;
    Informer& revisions_;
    std::shared_ptr<const api::ResourceInfo> ds_info_;
    std::shared_ptr<const api::ResourceInfo> pod_info_;
    std::shared_ptr<const api::ResourceInfo> revision_info_;
};

}  // namespace

std::unique_ptr<Controller> make_daemonset_controller(ControllerContext& ctx) {
    return std::make_unique<DaemonSetController>(ctx);
}

}  // namespace kcube::controllers
