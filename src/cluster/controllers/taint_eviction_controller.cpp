// Taint-based eviction (kube-controller-manager's taint-eviction-controller, formerly the
// NoExecuteTaintManager): a pod bound to a node with NoExecute taints is deleted at once if it
// does not tolerate one of them, or once the shortest tolerationSeconds of the tolerations in
// use has run out. The deadline is a delayed add to the queue; every reconcile looks at the
// pod and node afresh, so a taint that went away (or a pod that went) cancels the eviction.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "cluster/api/errors.hpp"
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

using Clock = std::chrono::system_clock;

constexpr const char* kComponent = "taint-eviction-controller";

struct NoExecuteTaint {
    scheduler::Taint taint;
    std::string time_added;  // "" when the writer (e.g. kubectl taint) did not set it
};

std::vector<NoExecuteTaint> no_execute_taints(const json::object* node) {
    std::vector<NoExecuteTaint> out;
    if (!node) return out;
    const auto* spec = object_at(*node, "spec");
    const auto* taints = spec ? array_at(*spec, "taints") : nullptr;
    if (!taints) return out;
    for (const auto& t : *taints) {
        if (!t.is_object()) continue;
        const auto& taint = t.as_object();
        if (api::field_value(taint, "effect") != "NoExecute") continue;
        out.push_back(
            {{api::field_value(taint, "key"), api::field_value(taint, "value"), "NoExecute"},
             api::field_value(taint, "timeAdded")});
    }
    return out;
}

std::string tolerations_text(const json::object& pod) {
    const auto* spec = object_at(pod, "spec");
    const auto* tolerations = spec ? array_at(*spec, "tolerations") : nullptr;
    return tolerations ? json::serialize(*tolerations) : std::string();
}

// Identifies one taint of one node in the first-seen table.
std::string taint_id(std::string_view node, const scheduler::Taint& taint) {
    return std::string(node) + '\n' + taint.key + '=' + taint.value;
}

// What the taints call for: evict now, at a time, or never (all tolerated for good).
struct Verdict {
    bool evict_now = false;
    std::optional<Clock::time_point> deadline;
};

class TaintEvictionController final : public Controller {
  public:
    explicit TaintEvictionController(ControllerContext& ctx)
        : Controller("taint-eviction"),
          ctx_(ctx),
          pods_(ctx.informers.get("", "v1", "pods")),
          nodes_(ctx.informers.get("", "v1", "nodes")),
          pods_info_(ctx.service.registry().find("", "v1", "pods")) {
        pods_.on_change(
            [this](const ObjectPtr& old, const ObjectPtr& now) { on_pod_change(old, now); });
        nodes_.on_change(
            [this](const ObjectPtr& old, const ObjectPtr& now) { on_node_change(old, now); });
    }

  protected:
    void reconcile(const std::string& key) override {
        const ObjectPtr pod = pods_.get(key);
        const std::string node_name = pod ? api::field_value(*pod, "spec.nodeName") : "";
        if (!pod || is_terminating(*pod) || node_name.empty()) {
            pending_.erase(key);  // gone or going: nothing to cancel out loud
            return;
        }
        const ObjectPtr node = nodes_.get(node_name);
        const Verdict verdict = judge(*pod, node_name, node.get());
        if (verdict.evict_now || (verdict.deadline && *verdict.deadline <= Clock::now())) {
            evict(*pod);
            pending_.erase(key);
            return;
        }
        if (verdict.deadline) {
            pending_.insert(key);
            // A little past the deadline, so the reconcile it causes finds it passed.
            queue().add_after(key, *verdict.deadline - Clock::now() + std::chrono::milliseconds(5));
            return;
        }
        if (pending_.erase(key) > 0) {
            ctx_.events.record(*pod, kComponent, "Normal", "TaintManagerEviction",
                               "Cancelling deletion of Pod " + key);
        }
    }

  private:
    // Upstream's processPodOnNode: each NoExecute taint is matched by the first toleration
    // that tolerates it; one without a match evicts now, otherwise the earliest expiry of a
    // toleration with tolerationSeconds (counted from when the taint appeared) is the deadline.
    Verdict judge(const json::object& pod, const std::string& node_name, const json::object* node) {
        Verdict verdict;
        const auto* spec = object_at(pod, "spec");
        const json::array* tolerations = spec ? array_at(*spec, "tolerations") : nullptr;
        for (const auto& [taint, time_added] : no_execute_taints(node)) {
            const json::object* used = nullptr;
            if (tolerations) {
                for (const auto& t : *tolerations) {
                    if (t.is_object() && scheduler::toleration_matches(t.as_object(), taint)) {
                        used = &t.as_object();
                        break;
                    }
                }
            }
            if (!used) {
                verdict.evict_now = true;
                return verdict;
            }
            const auto* seconds = used->if_contains("tolerationSeconds");
            if (!seconds || !seconds->is_number()) continue;  // tolerated for good
            const auto limit = std::max<std::int64_t>(0, seconds->to_number<std::int64_t>());
            const Clock::time_point at =
                taint_start(node_name, taint, time_added) + std::chrono::seconds(limit);
            if (!verdict.deadline || at < *verdict.deadline) verdict.deadline = at;
        }
        return verdict;
    }

    // timeAdded when the taint carries it (the node lifecycle controller sets it), else when
    // this controller first saw the taint (kubectl taint leaves timeAdded unset).
    Clock::time_point taint_start(const std::string& node_name, const scheduler::Taint& taint,
                                  const std::string& time_added) {
        Clock::time_point t;
        if (!time_added.empty() && api::parse_time(time_added, t)) return t;
        std::lock_guard lock(mutex_);
        return first_seen_.try_emplace(taint_id(node_name, taint), Clock::now()).first->second;
    }

    // Upstream's addConditionAndDeletePod: DisruptionTarget first, so whoever watches the pod
    // (a Job's pod failure policy) knows why it goes, then the delete.
    void evict(const json::object& pod) {
        const std::string ns = api::meta_string(pod, "namespace");
        const std::string name = api::meta_string(pod, "name");
        const std::string key = object_key(ns, name);
        spdlog::info("taint-eviction: deleting pod {} due to NoExecute taint", key);
        ctx_.events.record(pod, kComponent, "Normal", "TaintManagerEviction",
                           "Marking for deletion Pod " + key);
        try {
            json::object updated = pod;
            if (set_condition(child_object(updated, "status"), "DisruptionTarget", "True",
                              "DeletionByTaintManager",
                              "Taint manager: deleting due to NoExecute taint")) {
                pods_.remember(ctx_.service.update(*pods_info_, ns, name, updated, {}, "status"));
            }
            auto result = ctx_.service.remove(*pods_info_, ns, name, {});
            pods_.removed(pod, std::move(result));
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return;
            throw;
        }
    }

    // Informer thread: keep the node -> pods index current and queue pods that matter.
    void on_pod_change(const ObjectPtr& old, const ObjectPtr& now) {
        const std::string old_node = old ? api::field_value(*old, "spec.nodeName") : "";
        const std::string new_node = now ? api::field_value(*now, "spec.nodeName") : "";
        const std::string key = object_key(now ? *now : *old);
        {
            std::lock_guard lock(mutex_);
            if (!old_node.empty() && old_node != new_node) {
                auto it = pods_on_node_.find(old_node);
                if (it != pods_on_node_.end()) {
                    it->second.erase(key);
                    if (it->second.empty()) pods_on_node_.erase(it);
                }
            }
            if (!new_node.empty()) pods_on_node_[new_node].insert(key);
        }
        // Status updates alone change nothing here; binding, tolerations, deletion do.
        const bool relevant = !old || !now || old_node != new_node ||
                              tolerations_text(*old) != tolerations_text(*now) ||
                              is_terminating(*old) != is_terminating(*now);
        if (relevant && (!old_node.empty() || !new_node.empty())) queue().add(key);
    }

    // Informer thread: a change in a node's NoExecute taints re-judges the pods bound there.
    void on_node_change(const ObjectPtr& old, const ObjectPtr& now) {
        const std::string name = api::meta_string(now ? *now : *old, "name");
        const auto before = no_execute_taints(old.get());
        const auto after = no_execute_taints(now.get());
        auto same = [](const NoExecuteTaint& a, const NoExecuteTaint& b) {
            return a.taint.key == b.taint.key && a.taint.value == b.taint.value &&
                   a.time_added == b.time_added;
        };
        if (before.size() == after.size() &&
            std::equal(before.begin(), before.end(), after.begin(), same)) {
            return;
        }
        std::vector<std::string> keys;
        {
            std::lock_guard lock(mutex_);
            const auto now_time = Clock::now();
            for (const auto& t : after)
                first_seen_.try_emplace(taint_id(name, t.taint), now_time);
            for (const auto& t : before) {
                const bool kept = std::any_of(after.begin(), after.end(), [&](const auto& a) {
                    return a.taint.key == t.taint.key && a.taint.value == t.taint.value;
                });
                if (!kept) first_seen_.erase(taint_id(name, t.taint));
            }
            if (auto it = pods_on_node_.find(name); it != pods_on_node_.end()) {
                keys.assign(it->second.begin(), it->second.end());
            }
        }
        for (const auto& key : keys)
            queue().add(key);
    }

    ControllerContext& ctx_;
    Informer& pods_;
    Informer& nodes_;
    std::shared_ptr<const api::ResourceInfo> pods_info_;

    std::mutex mutex_;  // guards the two tables below (informer thread and worker)
    std::map<std::string, std::set<std::string>, std::less<>> pods_on_node_;
    std::map<std::string, Clock::time_point, std::less<>> first_seen_;

    std::set<std::string> pending_;  // pods with an eviction scheduled; worker thread only
};

}  // namespace

std::unique_ptr<Controller> make_taint_eviction_controller(ControllerContext& ctx) {
    return std::make_unique<TaintEvictionController>(ctx);
}

}  // namespace kcube::controllers
