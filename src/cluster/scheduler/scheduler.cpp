#include "cluster/scheduler/scheduler.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/scheduler/predicates.hpp"

namespace kcube::scheduler {
namespace json = boost::json;
using controllers::ObjectPtr;

namespace {

constexpr const char* kComponent = "default-scheduler";

bool finished(const json::object& pod) {
    const std::string phase = controllers::pod_phase(pod);
    return phase == "Succeeded" || phase == "Failed";
}

// A pod this scheduler should place: unassigned, asking for the default scheduler, alive and
// not gated.
bool wants(const json::object& pod) {
    if (!api::field_value(pod, "spec.nodeName").empty()) return false;
    const std::string scheduler = api::field_value(pod, "spec.schedulerName");
    if (!scheduler.empty() && scheduler != kComponent) return false;
    // A pod with scheduling gates waits until every gate is removed.
    const auto* spec = pod.if_contains("spec");
    const auto* gates =
        spec && spec->is_object() ? spec->as_object().if_contains("schedulingGates") : nullptr;
    if (gates && gates->is_array() && !gates->as_array().empty()) return false;
    return !controllers::is_terminating(pod) && !finished(pod);
}

// A pod whose requests and ports occupy its node.
bool occupies_node(const json::object& pod) {
    return !api::field_value(pod, "spec.nodeName").empty() && !finished(pod);
}

class Scheduler final : public controllers::Controller {
  public:
    explicit Scheduler(controllers::ControllerContext& ctx)
        : Controller("scheduler"),
          ctx_(ctx),
          pods_(ctx.informers.get("", "v1", "pods")),
          nodes_(ctx.informers.get("", "v1", "nodes")),
          pod_info_(ctx.service.registry().find("", "v1", "pods")) {
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) { on_pod(old, now); });
        nodes_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) { on_node(old, now); });
    }

  protected:
    void reconcile(const std::string& key) override {
        const ObjectPtr pod = pods_.get(key);
        if (!pod || !wants(*pod)) {
            std::lock_guard lock(mutex_);
            unschedulable_.erase(key);
            return;
        }
        const auto [ns, name] = controllers::split_key(key);
        const Snapshot cluster = snapshot();
        std::vector<FitResult> failures;
        const std::string chosen = choose_node(*pod, cluster.nodes, failures);
        if (chosen.empty()) {
            fail(*pod, key, fit_error_message(*pod, failures));
            return;
        }
        ctx_.service.bind_pod(ns, name, chosen);
        // Read-your-writes: the next pod must see this one's requests on the node.
        pods_.remember(ctx_.service.get(*pod_info_, ns, name));
        {
            std::lock_guard lock(mutex_);
            unschedulable_.erase(key);
        }
        ctx_.events.record(*pod, kComponent, "Normal", "Scheduled",
                           "Successfully assigned " + key + " to " + chosen);
    }

  private:
    // Every node with what its bound pods already take.
    struct Snapshot {
        std::vector<ObjectPtr> node_objects;  // keeps what `nodes` points at alive
        std::map<std::string, NodeInfo> nodes;
    };
    Snapshot snapshot() const {
        Snapshot out{nodes_.list(), {}};
        for (const auto& node : out.node_objects)
            out.nodes[api::meta_string(*node, "name")].node = node.get();
        for (const auto& pod : pods_.list()) {
            if (!occupies_node(*pod)) continue;
            auto it = out.nodes.find(api::field_value(*pod, "spec.nodeName"));
            if (it != out.nodes.end()) it->second.add_pod(*pod);
        }
        return out;
    }

    // The best fitting node, or "" with one FitResult per node in `failures`.
    std::string choose_node(const json::object& pod, const std::map<std::string, NodeInfo>& nodes,
                            std::vector<FitResult>& failures) const {
        const auto pinned = affinity_node_names(pod);
        std::vector<const NodeInfo*> candidates;
        std::vector<std::string> names;
        for (const auto& [name, info] : nodes) {
            FitResult fit;
            if (pinned && std::find(pinned->begin(), pinned->end(), name) == pinned->end()) {
                // Upstream's NodeAffinity PreFilter narrows the nodes to the named ones.
                fit = FitResult{{"node(s) didn't satisfy plugin(s) [NodeAffinity]"}, false};
            } else {
                fit = check_fit(pod, info);
            }
            if (!fit.fits()) {
                failures.push_back(std::move(fit));
                continue;
            }
            candidates.push_back(&info);
            names.push_back(name);
        }
        if (candidates.empty()) return "";
        const std::vector<std::int64_t> scores = rank_nodes(pod, candidates);
        // Highest score; on a tie the node with fewer pods, then the first by name.
        std::size_t best = 0;
        for (std::size_t i = 1; i < candidates.size(); ++i) {
            if (scores[i] > scores[best] ||
                (scores[i] == scores[best] &&
                 candidates[i]->requested.pods < candidates[best]->requested.pods)) {
                best = i;
            }
        }
        return names[best];
    }

    // PodScheduled=False with the reason, and a FailedScheduling event, once per distinct
    // message; the pod waits for a change in the cluster to be tried again.
    void fail(const json::object& pod, const std::string& key, const std::string& message) {
        bool repeated = false;
        {
            std::lock_guard lock(mutex_);
            auto [it, added] = unschedulable_.try_emplace(key, message);
            repeated = !added && it->second == message;
            it->second = message;
        }
        json::object updated = pod;
        auto& status = controllers::child_object(updated, "status");
        if (controllers::set_condition(status, "PodScheduled", "False", "Unschedulable", message)) {
            const auto [ns, name] = controllers::split_key(key);
            pods_.remember(
                ctx_.service.update(*pod_info_, ns, name, std::move(updated), {}, "status"));
        }
        if (!repeated) ctx_.events.record(pod, kComponent, "Warning", "FailedScheduling", message);
    }

    void on_pod(const ObjectPtr& old, const ObjectPtr& now) {
        if (now && wants(*now)) queue().add(controllers::object_key(*now));
        // Room freed on a node: a pod that went away or finished.
        const bool was_occupying = old && occupies_node(*old);
        if (was_occupying && (!now || !occupies_node(*now))) retry_unschedulable();
        if (!now && old) {
            std::lock_guard lock(mutex_);
            unschedulable_.erase(controllers::object_key(*old));
        }
    }

    void on_node(const ObjectPtr& old, const ObjectPtr& now) {
        if (!now) return;
        if (!old || node_fit_fingerprint(*old) != node_fit_fingerprint(*now)) retry_unschedulable();
    }

    void retry_unschedulable() {
        std::lock_guard lock(mutex_);
        for (const auto& [key, message] : unschedulable_)
            queue().add(key);
    }

    controllers::ControllerContext& ctx_;
    controllers::Informer& pods_;
    controllers::Informer& nodes_;
    std::shared_ptr<const api::ResourceInfo> pod_info_;
    std::mutex mutex_;  // guards unschedulable_ (informer and worker threads)
    std::map<std::string, std::string> unschedulable_;  // pod key -> last failure message
};

}  // namespace

std::unique_ptr<controllers::Controller> make_scheduler(controllers::ControllerContext& ctx) {
    return std::make_unique<Scheduler>(ctx);
}

}  // namespace kcube::scheduler
