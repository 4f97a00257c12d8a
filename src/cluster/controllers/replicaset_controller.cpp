// The ReplicaSet controller (upstream's pkg/controller/replicaset): keeps spec.replicas active
// pods made from the template, adopts matching orphans and releases pods that stopped
// matching, deletes the least useful pods first when scaling down, and reports
// replicas/fullyLabeled/ready/available in the status.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <stdexcept>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/deployment_util.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using rollout::Claim;
using rollout::Objects;

constexpr const char* kComponent = "replicaset-controller";
// Upstream's burstReplicas: at most this many pods created or deleted per sync.
constexpr std::int64_t kBurstReplicas = 500;

const json::object* selector_of(const json::object& object) {
    const auto* spec = object.if_contains("spec");
    if (!spec || !spec->is_object()) return nullptr;
    const auto* selector = spec->as_object().if_contains("selector");
    return selector && selector->is_object() ? &selector->as_object() : nullptr;
}

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return nullptr;
    const auto* labels = metadata->as_object().if_contains("labels");
    return labels && labels->is_object() ? &labels->as_object() : nullptr;
}

class ReplicaSetController final : public Controller {
  public:
    explicit ReplicaSetController(ControllerContext& ctx)
        : Controller("replicaset-controller"),
          ctx_(ctx),
          replicasets_(ctx.informers.get("apps", "v1", "replicasets")),
          pods_(ctx.informers.get("", "v1", "pods")) {
        options_.field_manager = kControllerFieldManager;
        replicasets_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
        pods_.on_change(
            [this](const ObjectPtr& old, const ObjectPtr& now) { pod_changed(old, now); });
    }

  protected:
    void reconcile(const std::string& key) override;

  private:
    // The replica sets a pod change concerns: its controller before and after, and for an
    // orphan every replica set whose selector matches it (one of them may adopt it).
    void pod_changed(const ObjectPtr& old, const ObjectPtr& now);
    void enqueue_owner(const json::object& pod);

    Objects claim_pods(const json::object& rs, const api::LabelSelector& selector,
                       std::vector<ObjectPtr>& keep_alive);
    // Upstream's RecheckDeletionTimestamp: adopt only for a replica set that still exists (same
    // uid) and is not being deleted, checked against the store rather than the cache.
    void check_can_adopt(const json::object& rs);
    std::optional<rollout::ReplicaFailure> manage_replicas(const json::object& rs,
                                                           const Objects& pods);
    std::optional<rollout::ReplicaFailure> create_pods(const json::object& rs, std::int64_t count);
    std::optional<rollout::ReplicaFailure> delete_pods(const json::object& rs, const Objects& pods,
                                                       std::int64_t count);
    // Pods of every replica set under the same owner as `rs` (for the same-node rank).
    Objects related_pods(const json::object& rs, const Objects& own,
                         std::vector<ObjectPtr>& keep_alive) const;
    // The active pods this replica set controls now (after its own writes).
    Objects owned_pods(const json::object& rs, const api::LabelSelector& selector,
                       std::vector<ObjectPtr>& keep_alive) const;
    void update_status(const json::object& rs, const api::LabelSelector& selector,
                       const std::optional<rollout::ReplicaFailure>& failure);

    ControllerContext& ctx_;
    Informer& replicasets_;
    Informer& pods_;
    api::WriteOptions options_;
};

void ReplicaSetController::enqueue_owner(const json::object& pod) {
    const auto* ref = controller_ref(pod);
    if (!ref || api::field_value(*ref, "kind") != "ReplicaSet") return;
    queue().add(object_key(api::meta_string(pod, "namespace"), api::field_value(*ref, "name")));
}

void ReplicaSetController::pod_changed(const ObjectPtr& old, const ObjectPtr& now) {
    if (old) enqueue_owner(*old);
    if (!now) return;
    enqueue_owner(*now);
    if (controller_ref(*now) || !pod_active(*now)) return;
    for (const auto& rs : replicasets_.list(api::meta_string(*now, "namespace"))) {
        const auto* selector = selector_of(*rs);
        if (!selector) continue;
        try {
            const auto parsed = api::LabelSelector::from_object(*selector);
            if (!parsed.empty() && parsed.matches(labels_of(*now))) queue().add(object_key(*rs));
        } catch (const std::exception&) {
            // A malformed selector matches nothing.
        }
    }
}

void ReplicaSetController::check_can_adopt(const json::object& rs) {
    const auto fresh = ctx_.service.get(replicasets_.info(), api::meta_string(rs, "namespace"),
                                        api::meta_string(rs, "name"));
    if (api::meta_string(fresh, "uid") != api::meta_string(rs, "uid")) {
        throw std::runtime_error("original ReplicaSet " + object_key(rs) + " is gone: got uid " +
                                 api::meta_string(fresh, "uid") + ", wanted " +
                                 api::meta_string(rs, "uid"));
    }
    if (is_terminating(fresh)) {
        throw std::runtime_error(object_key(rs) + " has just been deleted at " +
                                 api::meta_string(fresh, "deletionTimestamp"));
    }
}

Objects ReplicaSetController::claim_pods(const json::object& rs, const api::LabelSelector& selector,
                                         std::vector<ObjectPtr>& keep_alive) {
    Objects claimed;
    bool adoption_checked = false;
    const std::string ns = api::meta_string(rs, "namespace");
    for (const auto& pod : pods_.list(ns)) {
        if (!pod_active(*pod)) continue;
        const Claim claim = rollout::decide_claim(*pod, rs, selector);
        if (claim == Claim::kOwned) {
            keep_alive.push_back(pod);
            claimed.push_back(pod.get());
            continue;
        }
        if (claim == Claim::kIgnore) continue;
        const std::string name = api::meta_string(*pod, "name");
        try {
            if (claim == Claim::kAdopt) {
                if (!adoption_checked) check_can_adopt(rs);
                adoption_checked = true;
                auto adopted = ctx_.service.update(pods_.info(), ns, name,
                                                   rollout::with_owner(*pod, rs), options_);
                pods_.remember(adopted);
                if (auto visible = pods_.get(ns, name)) {
                    keep_alive.push_back(visible);
                    claimed.push_back(visible.get());
                }
            } else {
                auto released = ctx_.service.update(
                    pods_.info(), ns, name,
                    rollout::without_owner(*pod, api::meta_string(rs, "uid")), options_);
                pods_.remember(std::move(released));
            }
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;  // gone meanwhile: nothing to claim
        }
    }
    return claimed;
}

std::optional<rollout::ReplicaFailure> ReplicaSetController::create_pods(const json::object& rs,
                                                                         std::int64_t count) {
    const std::string ns = api::meta_string(rs, "namespace");
    // Upstream's slow start: batches of 1, 2, 4, ... so that a template the API rejects costs
    // one failed request, not hundreds.
    std::int64_t batch = 1;
    while (count > 0) {
        const std::int64_t size = std::min(batch, count);
        for (std::int64_t i = 0; i < size; ++i) {
            try {
                auto created =
                    ctx_.service.create(pods_.info(), ns, rollout::pod_from_template(rs), options_);
                const std::string name = api::meta_string(created, "name");
                pods_.remember(std::move(created));
                ctx_.events.record(rs, kComponent, "Normal", "SuccessfulCreate",
                                   "Created pod: " + name);
            } catch (const api::ApiError& e) {
                // A namespace being deleted refuses new pods; that is no failure to report.
                const std::string message = e.what();
                if (message.find("because it is being terminated") != std::string::npos) {
                    return std::nullopt;
                }
                ctx_.events.record(rs, kComponent, "Warning", "FailedCreate",
                                   "Error creating: " + message);
                return rollout::ReplicaFailure{"FailedCreate", message};
            }
        }
        count -= size;
        batch *= 2;
    }
    return std::nullopt;
}

Objects ReplicaSetController::related_pods(const json::object& rs, const Objects& own,
                                           std::vector<ObjectPtr>& keep_alive) const {
    const auto* owner = controller_ref(rs);
    if (!owner) return own;
    const std::string owner_uid = api::field_value(*owner, "uid");
    const std::string ns = api::meta_string(rs, "namespace");
    std::set<std::string> siblings;
    for (const auto& other : replicasets_.list(ns)) {
        const auto* ref = controller_ref(*other);
        if (ref && api::field_value(*ref, "uid") == owner_uid) {
            siblings.insert(api::meta_string(*other, "uid"));
        }
    }
    Objects related;
    for (const auto& pod : pods_.list(ns)) {
        const auto* ref = controller_ref(*pod);
        if (ref && siblings.contains(api::field_value(*ref, "uid"))) {
            keep_alive.push_back(pod);
            related.push_back(pod.get());
        }
    }
    return related;
}

std::optional<rollout::ReplicaFailure> ReplicaSetController::delete_pods(const json::object& rs,
                                                                         const Objects& pods,
                                                                         std::int64_t count) {
    std::vector<ObjectPtr> keep_alive;
    const Objects related = related_pods(rs, pods, keep_alive);
    const auto victims = rollout::pods_to_delete(pods, related, static_cast<std::size_t>(count),
                                                 std::chrono::system_clock::now());
    for (const auto* pod : victims) {
        const std::string ns = api::meta_string(*pod, "namespace");
        const std::string name = api::meta_string(*pod, "name");
        try {
            auto result = ctx_.service.remove(pods_.info(), ns, name, {});
            // A pod on a node terminates gracefully (still there, being deleted); one that
            // never got a node is gone at once.
            pods_.removed(*pod, std::move(result));
            ctx_.events.record(rs, kComponent, "Normal", "SuccessfulDelete",
                               "Deleted pod: " + name);
        } catch (const api::ApiError& e) {
            if (e.code() == 404) {
                pods_.forget_deleted(*pod);
                continue;
            }
            const std::string message = e.what();
            ctx_.events.record(rs, kComponent, "Warning", "FailedDelete",
                               "Error deleting: " + message);
            return rollout::ReplicaFailure{"FailedDelete", "unable to delete pods: " + message};
        }
    }
    return std::nullopt;
}

std::optional<rollout::ReplicaFailure> ReplicaSetController::manage_replicas(const json::object& rs,
                                                                             const Objects& pods) {
    const std::int64_t diff = static_cast<std::int64_t>(pods.size()) - rollout::spec_replicas(rs);
    if (diff < 0) return create_pods(rs, std::min(-diff, kBurstReplicas));
    if (diff > 0) return delete_pods(rs, pods, std::min(diff, kBurstReplicas));
    return std::nullopt;
}

Objects ReplicaSetController::owned_pods(const json::object& rs, const api::LabelSelector& selector,
                                         std::vector<ObjectPtr>& keep_alive) const {
    Objects owned;
    for (const auto& pod : pods_.list(api::meta_string(rs, "namespace"))) {
        if (!pod_active(*pod) || !is_controlled_by(*pod, rs)) continue;
        if (!selector.matches(labels_of(*pod))) continue;
        keep_alive.push_back(pod);
        owned.push_back(pod.get());
    }
    return owned;
}

void ReplicaSetController::update_status(const json::object& rs, const api::LabelSelector& selector,
                                         const std::optional<rollout::ReplicaFailure>& failure) {
    const auto now = std::chrono::system_clock::now();
    std::vector<ObjectPtr> keep_alive;
    const Objects pods = owned_pods(rs, selector, keep_alive);
    json::object status = rollout::replica_set_status(rs, pods, failure, now);
    if (!rollout::same_status(rs.if_contains("status"), status)) {
        json::object next = rs;
        next["status"] = std::move(status);
        auto written =
            ctx_.service.update(replicasets_.info(), api::meta_string(rs, "namespace"),
                                api::meta_string(rs, "name"), std::move(next), options_, "status");
        replicasets_.remember(std::move(written));
    }
    // Pods that are ready but not yet for minReadySeconds become available later: look again
    // then (no polling in between).
    const std::int64_t min_ready = int_at(rs, "spec.minReadySeconds", 0);
    std::optional<rollout::Time> next_check;
    for (const auto* pod : pods) {
        if (auto at = rollout::available_at(*pod, min_ready, now)) {
            if (!next_check || *at < *next_check) next_check = *at;
        }
    }
    if (next_check) {
        queue().add_after(object_key(rs), (*next_check - now) + std::chrono::milliseconds(100));
    }
}

void ReplicaSetController::reconcile(const std::string& key) {
    const ObjectPtr cached = replicasets_.get(key);
    if (!cached) return;
    const json::object& rs = *cached;
    const auto* selector_object = selector_of(rs);
    if (!selector_object) return;
    const auto selector = api::LabelSelector::from_object(*selector_object);
    // The API requires a non-empty selector; an empty one would claim every pod.
    if (selector.empty()) return;

    std::vector<ObjectPtr> keep_alive;
    const Objects pods = claim_pods(rs, selector, keep_alive);
    std::optional<rollout::ReplicaFailure> failure;
    if (!is_terminating(rs)) failure = manage_replicas(rs, pods);
    update_status(rs, selector, failure);
    if (failure) throw std::runtime_error(failure->message);  // retried with back-off
}

}  // namespace

std::unique_ptr<Controller> make_replicaset_controller(ControllerContext& ctx) {
    return std::make_unique<ReplicaSetController>(ctx);
}

}  // namespace kcube::controllers
