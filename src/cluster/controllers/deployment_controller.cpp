// The Deployment controller (upstream's pkg/controller/deployment): one ReplicaSet per pod
// template ("<deployment>-<pod-template-hash>"), rolled from old to new by RollingUpdate
// (maxSurge/maxUnavailable) or Recreate, revisions in annotations (rollback is a template
// change that finds its old ReplicaSet again), proportional scaling during a rollout, pause,
// revision-history cleanup, and the status with its Available and Progressing conditions.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <optional>
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
using rollout::Time;

constexpr const char* kComponent = "deployment-controller";

const json::object* selector_of(const json::object& object) {
    const auto* spec = object_at(object, "spec");
    return spec ? object_at(*spec, "selector") : nullptr;
}

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object_at(object, "metadata");
    return metadata ? object_at(*metadata, "labels") : nullptr;
}

const json::object& status_of(const json::object& object) {
    static const json::object empty;
    const auto* status = object_at(object, "status");
    return status ? *status : empty;
}

std::string quoted(std::string_view name) {
    return "\"" + std::string(name) + "\"";
}

// A deployment's replica sets (those it controls), with the one matching its template marked.
struct Family {
    std::vector<json::object> sets;
    std::optional<std::size_t> new_index;

    json::object* new_rs() { return new_index ? &sets[*new_index] : nullptr; }
    const json::object* new_rs() const { return new_index ? &sets[*new_index] : nullptr; }
    Objects all() const {
        Objects out;
        for (const auto& rs : sets)
            out.push_back(&rs);
        return out;
    }
    Objects old() const {
        Objects out;
        for (std::size_t i = 0; i < sets.size(); ++i)
            if (i != new_index) out.push_back(&sets[i]);
        return out;
    }
    std::size_t index_of(const json::object* rs) const {
        return static_cast<std::size_t>(rs - sets.data());
    }
};

class DeploymentController final : public Controller {
  public:
    explicit DeploymentController(ControllerContext& ctx)
        : Controller("deployment-controller"),
          ctx_(ctx),
          deployments_(ctx.informers.get("apps", "v1", "deployments")),
          replicasets_(ctx.informers.get("apps", "v1", "replicasets")),
          pods_(ctx.informers.get("", "v1", "pods")) {
        options_.field_manager = kControllerFieldManager;
        deployments_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
        replicasets_.on_change(
            [this](const ObjectPtr& old, const ObjectPtr& now) { replica_set_changed(old, now); });
        pods_.on_change(
            [this](const ObjectPtr& old, const ObjectPtr& now) { pod_changed(old, now); });
    }

  protected:
    void reconcile(const std::string& key) override;

  private:
    // ---- event handlers (informer thread: only queue keys)
    void replica_set_changed(const ObjectPtr& old, const ObjectPtr& now);
    void pod_changed(const ObjectPtr& old, const ObjectPtr& now);
    void enqueue_deployment_of(const json::object& replica_set);

    // ---- reading and claiming
    Family claim_replica_sets(const json::object& d, const api::LabelSelector& selector);
    void check_can_adopt(const json::object& d);

    // ---- writing (each keeps the cache current: read-your-writes)
    json::object write_replica_set(json::object rs);
    // Writes the deployment's metadata (when `metadata_changed`) and its status (d.status, which
    // the caller changed).
    void write_deployment(json::object& d, bool metadata_changed);
    void write_status(json::object& d, json::object status);

    // ---- upstream's sync steps
    // Finds (or, with `create`, makes) the new replica set and brings revisions up to date.
    void sync_revision(json::object& d, Family& family, bool create);
    void create_new_replica_set(json::object& d, Family& family, std::int64_t new_revision);
    bool scale_replica_set(const json::object& d, Family& family, std::size_t index,
                           std::int64_t new_scale);
    bool scale_and_record(const json::object& d, Family& family, std::size_t index,
                          std::int64_t new_scale);
    bool is_scaling_event(json::object& d, Family& family);
    void check_paused_conditions(json::object& d);
    void sync(json::object& d, Family& family);
    void scale(const json::object& d, Family& family);
    void rollout_rolling(json::object& d, Family& family);
    bool reconcile_new_replica_set(const json::object& d, Family& family);
    bool reconcile_old_replica_sets(const json::object& d, Family& family);
    std::int64_t cleanup_unhealthy_replicas(const json::object& d, Family& family,
                                            std::int64_t max_cleanup);
    std::int64_t scale_down_old_for_rolling_update(const json::object& d, Family& family);
    void rollout_recreate(json::object& d, Family& family);
    bool old_pods_running(const json::object& d, const Family& family) const;
    void cleanup(const json::object& d, const Family& family);
    void sync_status(json::object& d, const Family& family);
    void sync_rollout_status(json::object& d, const Family& family);

    void record_scaling(const json::object& d, const std::string& rs_name, std::int64_t from,
                        std::int64_t to);

    ControllerContext& ctx_;
    Informer& deployments_;
    Informer& replicasets_;
    Informer& pods_;
    api::WriteOptions options_;
};

// ---- event handlers ------------------------------------------------------------------------

void DeploymentController::enqueue_deployment_of(const json::object& replica_set) {
    const std::string ns = api::meta_string(replica_set, "namespace");
    if (const auto* ref = controller_ref(replica_set)) {
        if (api::field_value(*ref, "kind") == "Deployment") {
            queue().add(object_key(ns, api::field_value(*ref, "name")));
        }
        return;
    }
    // An orphan: every deployment that could adopt it.
    for (const auto& d : deployments_.list(ns)) {
        const auto* selector = selector_of(*d);
        if (!selector) continue;
        try {
            const auto parsed = api::LabelSelector::from_object(*selector);
            if (!parsed.empty() && parsed.matches(labels_of(replica_set))) {
                queue().add(object_key(*d));
            }
        } catch (const std::exception&) {
            // A malformed selector matches nothing.
        }
    }
}

void DeploymentController::replica_set_changed(const ObjectPtr& old, const ObjectPtr& now) {
    if (old) enqueue_deployment_of(*old);
    if (now) enqueue_deployment_of(*now);
}

void DeploymentController::pod_changed(const ObjectPtr& old, const ObjectPtr& now) {
    // Only Recreate waits on pods (for the old ones to be gone); upstream reacts to deletions,
    // and pods that finished count as gone too.
    const ObjectPtr& pod = now ? now : old;
    const bool gone = !now || (old && pod_active(*old) && !pod_active(*now));
    if (!pod || !gone) return;
    const auto* rs_ref = controller_ref(*pod);
    if (!rs_ref || api::field_value(*rs_ref, "kind") != "ReplicaSet") return;
    const std::string ns = api::meta_string(*pod, "namespace");
    const auto rs = replicasets_.get(ns, api::field_value(*rs_ref, "name"));
    const auto* d_ref = rs ? controller_ref(*rs) : nullptr;
    if (!d_ref || api::field_value(*d_ref, "kind") != "Deployment") return;
    const auto d = deployments_.get(ns, api::field_value(*d_ref, "name"));
    if (d && api::field_value(*d, "spec.strategy.type") == "Recreate") queue().add(object_key(*d));
}

// ---- reading and claiming ------------------------------------------------------------------

void DeploymentController::check_can_adopt(const json::object& d) {
    const auto fresh = ctx_.service.get(deployments_.info(), api::meta_string(d, "namespace"),
                                        api::meta_string(d, "name"));
    if (api::meta_string(fresh, "uid") != api::meta_string(d, "uid")) {
        throw std::runtime_error("original Deployment " + object_key(d) + " is gone: got uid " +
                                 api::meta_string(fresh, "uid") + ", wanted " +
                                 api::meta_string(d, "uid"));
    }
    if (is_terminating(fresh)) {
        throw std::runtime_error(object_key(d) + " has just been deleted at " +
                                 api::meta_string(fresh, "deletionTimestamp"));
    }
}

Family DeploymentController::claim_replica_sets(const json::object& d,
                                                const api::LabelSelector& selector) {
    Family family;
    bool adoption_checked = false;
    const std::string ns = api::meta_string(d, "namespace");
    for (const auto& rs : replicasets_.list(ns)) {
        const Claim claim = rollout::decide_claim(*rs, d, selector);
        if (claim == Claim::kOwned) {
            family.sets.push_back(*rs);
            continue;
        }
        if (claim == Claim::kIgnore) continue;
        try {
            if (claim == Claim::kAdopt) {
                if (!adoption_checked) check_can_adopt(d);
                adoption_checked = true;
                family.sets.push_back(write_replica_set(rollout::with_owner(*rs, d)));
            } else {
                write_replica_set(rollout::without_owner(*rs, api::meta_string(d, "uid")));
            }
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;
        }
    }
    return family;
}

// ---- writing -------------------------------------------------------------------------------

json::object DeploymentController::write_replica_set(json::object rs) {
    const std::string ns = api::meta_string(rs, "namespace");
    const std::string name = api::meta_string(rs, "name");
    auto written = ctx_.service.update(replicasets_.info(), ns, name, std::move(rs), options_);
    replicasets_.remember(written);
    written["apiVersion"] = replicasets_.info().api_version();
    written["kind"] = replicasets_.info().kind;
    return written;
}

void DeploymentController::write_deployment(json::object& d, bool metadata_changed) {
    json::object status = status_of(d);
    const std::string ns = api::meta_string(d, "namespace");
    const std::string name = api::meta_string(d, "name");
    if (metadata_changed) {
        // The status subresource keeps metadata as stored, and the main resource keeps the
        // status: the revision annotation and the status are two writes.
        auto written = ctx_.service.update(deployments_.info(), ns, name, d, options_);
        deployments_.remember(written);
        d = std::move(written);
        d["apiVersion"] = deployments_.info().api_version();
        d["kind"] = deployments_.info().kind;
        // `d` now has the stored status: write ours only if it differs.
        if (rollout::same_status(d.if_contains("status"), status)) return;
        d["status"] = std::move(status);
    }
    auto written = ctx_.service.update(deployments_.info(), ns, name, d, options_, "status");
    deployments_.remember(written);
    d = std::move(written);
    d["apiVersion"] = deployments_.info().api_version();
    d["kind"] = deployments_.info().kind;
}

void DeploymentController::write_status(json::object& d, json::object status) {
    d["status"] = std::move(status);
    write_deployment(d, false);
}

void DeploymentController::record_scaling(const json::object& d, const std::string& rs_name,
                                          std::int64_t from, std::int64_t to) {
    const std::string direction = from < to ? "up" : "down";
    ctx_.events.record(d, kComponent, "Normal", "ScalingReplicaSet",
                       "Scaled " + direction + " replica set " + rs_name + " from " +
                           std::to_string(from) + " to " + std::to_string(to));
}

// ---- revisions and the new replica set -----------------------------------------------------

void DeploymentController::sync_revision(json::object& d, Family& family, bool create) {
    family.new_index.reset();
    if (const auto* found = rollout::find_new_replica_set(d, family.all())) {
        family.new_index = family.index_of(found);
    }
    const std::int64_t new_revision = rollout::max_revision(family.old()) + 1;
    if (family.new_index) {
        json::object& rs = *family.new_rs();
        json::object copy = rs;
        const bool annotations_changed =
            rollout::set_new_replica_set_annotations(d, copy, new_revision, true);
        const std::int64_t min_ready = int_at(d, "spec.minReadySeconds", 0);
        const bool min_ready_changed = int_at(copy, "spec.minReadySeconds", 0) != min_ready;
        if (annotations_changed || min_ready_changed) {
            auto& spec = child_object(copy, "spec");
            if (min_ready != 0) {
                spec["minReadySeconds"] = min_ready;
            } else {
                spec.erase("minReadySeconds");
            }
            // As upstream: the deployment's own revision follows on the next sync.
            rs = write_replica_set(std::move(copy));
            return;
        }
        const bool metadata_changed = rollout::set_annotation(
            d, rollout::kRevisionAnnotation, rollout::annotation(rs, rollout::kRevisionAnnotation));
        json::object status = status_of(d);
        if (rollout::has_progress_deadline(d) && !rollout::get_condition(status, "Progressing")) {
            rollout::set_condition(
                status, rollout::new_condition(
                            "Progressing", "True", "FoundNewReplicaSet",
                            "Found new replica set " + quoted(api::meta_string(rs, "name")),
                            std::chrono::system_clock::now()));
        }
        if (metadata_changed || !rollout::same_status(d.if_contains("status"), status)) {
            d["status"] = std::move(status);
            write_deployment(d, metadata_changed);
        }
        return;
    }
    if (create) create_new_replica_set(d, family, new_revision);
}

void DeploymentController::create_new_replica_set(json::object& d, Family& family,
                                                  std::int64_t new_revision) {
    const std::string ns = api::meta_string(d, "namespace");
    const auto* d_spec = object_at(d, "spec");
    json::object pod_template;
    if (const auto* t = d_spec ? object_at(*d_spec, "template") : nullptr) pod_template = *t;
    std::optional<std::int64_t> collision_count;
    if (status_of(d).contains("collisionCount")) {
        collision_count = int_at(status_of(d), "collisionCount", 0);
    }
    const std::string hash = rollout::template_hash(pod_template, collision_count);
    child_object(child_object(pod_template, "metadata"), "labels")[rollout::kPodTemplateHashLabel] =
        hash;
    json::object selector;
    if (const auto* s = selector_of(d)) selector = *s;
    child_object(selector, "matchLabels")[rollout::kPodTemplateHashLabel] = hash;

    const std::string name = api::meta_string(d, "name") + "-" + hash;
    json::object metadata{{"name", name}, {"namespace", ns}};
    metadata["labels"] = pod_template.at("metadata").as_object().at("labels");
    metadata["ownerReferences"] = json::array{owner_reference(d)};
    json::object spec{{"replicas", 0}};
    if (const std::int64_t min_ready = int_at(d, "spec.minReadySeconds", 0); min_ready != 0) {
        spec["minReadySeconds"] = min_ready;
    }
    spec["selector"] = std::move(selector);
    spec["template"] = std::move(pod_template);
    json::object rs{{"apiVersion", replicasets_.info().api_version()},
                    {"kind", replicasets_.info().kind},
                    {"metadata", std::move(metadata)},
                    {"spec", std::move(spec)}};
    Objects all = family.old();
    all.push_back(&rs);
    const std::int64_t replicas = rollout::new_rs_new_replicas(d, all, rs);
    rs["spec"].as_object()["replicas"] = replicas;
    rollout::set_new_replica_set_annotations(d, rs, new_revision, false);

    bool already_exists = false;
    json::object created;
    try {
        created = ctx_.service.create(replicasets_.info(), ns, rs, options_);
        replicasets_.remember(created);
        created["apiVersion"] = replicasets_.info().api_version();
        created["kind"] = replicasets_.info().kind;
    } catch (const api::ApiError& e) {
        if (e.reason() == "AlreadyExists") {
            // Ours already (a cache that was behind), or another template with the same hash:
            // then bump collisionCount so that the next attempt hashes differently.
            ObjectPtr existing = replicasets_.get(ns, name);
            json::object fresh =
                existing ? *existing : ctx_.service.get(replicasets_.info(), ns, name);
            const auto* ref = controller_ref(fresh);
            const auto* fresh_spec = object_at(fresh, "spec");
            const auto* existing_template =
                fresh_spec ? object_at(*fresh_spec, "template") : nullptr;
            const auto* wanted_template = d_spec ? object_at(*d_spec, "template") : nullptr;
            if (ref && api::field_value(*ref, "uid") == api::meta_string(d, "uid") &&
                existing_template && wanted_template &&
                rollout::equal_ignore_hash(*existing_template, *wanted_template)) {
                created = std::move(fresh);
                already_exists = true;
            } else {
                json::object status = status_of(d);
                status["collisionCount"] = collision_count.value_or(0) + 1;
                write_status(d, std::move(status));
                throw;
            }
        } else {
            const std::string message = e.what();
            if (message.find("because it is being terminated") != std::string::npos) throw;
            const std::string text =
                "Failed to create new replica set " + quoted(name) + ": " + message;
            if (rollout::has_progress_deadline(d)) {
                json::object status = status_of(d);
                rollout::set_condition(
                    status, rollout::new_condition("Progressing", "False", "ReplicaSetCreateError",
                                                   text, std::chrono::system_clock::now()));
                try {
                    write_status(d, std::move(status));
                } catch (const std::exception&) {
                    // The create error is what matters.
                }
            }
            ctx_.events.record(d, kComponent, "Warning", "ReplicaSetCreateError", text);
            throw;
        }
    }
    if (!already_exists && replicas > 0) record_scaling(d, name, 0, replicas);

    const bool metadata_changed =
        rollout::set_annotation(d, rollout::kRevisionAnnotation, std::to_string(new_revision));
    json::object status = status_of(d);
    if (!already_exists && rollout::has_progress_deadline(d)) {
        rollout::set_condition(status,
                               rollout::new_condition("Progressing", "True", "NewReplicaSetCreated",
                                                      "Created new replica set " + quoted(name),
                                                      std::chrono::system_clock::now()));
    }
    family.sets.push_back(std::move(created));
    family.new_index = family.sets.size() - 1;
    if (metadata_changed || !rollout::same_status(d.if_contains("status"), status)) {
        d["status"] = std::move(status);
        write_deployment(d, metadata_changed);
    }
}

// ---- scaling -------------------------------------------------------------------------------

bool DeploymentController::scale_replica_set(const json::object& d, Family& family,
                                             std::size_t index, std::int64_t new_scale) {
    json::object& rs = family.sets[index];
    const std::int64_t old_scale = rollout::spec_replicas(rs);
    const std::int64_t desired = rollout::spec_replicas(d);
    const std::int64_t max = desired + rollout::max_surge(d);
    const bool size_changed = old_scale != new_scale;
    if (!size_changed && !rollout::replicas_annotations_need_update(rs, desired, max)) return false;
    json::object copy = rs;
    child_object(copy, "spec")["replicas"] = new_scale;
    rollout::set_replicas_annotations(copy, desired, max);
    rs = write_replica_set(std::move(copy));
    if (!size_changed) return false;
    record_scaling(d, api::meta_string(rs, "name"), old_scale, new_scale);
    return true;
}

bool DeploymentController::scale_and_record(const json::object& d, Family& family,
                                            std::size_t index, std::int64_t new_scale) {
    if (rollout::spec_replicas(family.sets[index]) == new_scale) return false;
    return scale_replica_set(d, family, index, new_scale);
}

bool DeploymentController::is_scaling_event(json::object& d, Family& family) {
    sync_revision(d, family, false);
    const std::int64_t replicas = rollout::spec_replicas(d);
    for (const auto* rs : rollout::active(family.all())) {
        auto desired = rollout::desired_replicas_annotation(*rs);
        if (desired && *desired != replicas) return true;
    }
    return false;
}

void DeploymentController::scale(const json::object& d, Family& family) {
    const std::int64_t replicas = rollout::spec_replicas(d);
    if (const auto* target = rollout::find_active_or_latest(family.new_rs(), family.old())) {
        if (rollout::spec_replicas(*target) != replicas) {
            scale_and_record(d, family, family.index_of(target), replicas);
        }
        return;
    }
    // A saturated new replica set (e.g. after adopting old ones): the old ones go to zero.
    if (rollout::is_saturated(d, family.new_rs())) {
        for (const auto* rs : rollout::active(family.old())) {
            scale_and_record(d, family, family.index_of(rs), 0);
        }
        return;
    }
    // Resized in the middle of a rollout: every active replica set grows or shrinks in
    // proportion, so that the rollout's pace does not change.
    if (!rollout::is_rolling_update(d)) return;
    const auto sizes = rollout::proportional_sizes(d, rollout::active(family.all()));
    std::vector<std::pair<std::size_t, std::int64_t>> plan;
    for (const auto& [rs, size] : sizes)
        plan.emplace_back(family.index_of(rs), size);
    for (const auto& [index, size] : plan)
        scale_replica_set(d, family, index, size);
}

void DeploymentController::check_paused_conditions(json::object& d) {
    if (!rollout::has_progress_deadline(d)) return;
    json::object status = status_of(d);
    const auto* condition = rollout::get_condition(status, "Progressing");
    const std::string reason = condition ? api::field_value(*condition, "reason") : "";
    // A rollout reported as stuck stays reported so.
    if (reason == "ProgressDeadlineExceeded") return;
    const bool paused = api::field_value(d, "spec.paused") == "true";
    const bool paused_reported = reason == "DeploymentPaused";
    const auto now = std::chrono::system_clock::now();
    if (paused && !paused_reported) {
        rollout::set_condition(status,
                               rollout::new_condition("Progressing", "Unknown", "DeploymentPaused",
                                                      "Deployment is paused", now));
    } else if (!paused && paused_reported) {
        rollout::set_condition(status,
                               rollout::new_condition("Progressing", "Unknown", "DeploymentResumed",
                                                      "Deployment is resumed", now));
    } else {
        return;
    }
    write_status(d, std::move(status));
}

void DeploymentController::sync(json::object& d, Family& family) {
    sync_revision(d, family, false);
    scale(d, family);
    if (api::field_value(d, "spec.paused") == "true") cleanup(d, family);
    sync_status(d, family);
}

// ---- RollingUpdate -------------------------------------------------------------------------

void DeploymentController::rollout_rolling(json::object& d, Family& family) {
    sync_revision(d, family, true);
    if (!family.new_rs()) throw std::runtime_error("no new replica set for " + object_key(d));
    if (reconcile_new_replica_set(d, family) || reconcile_old_replica_sets(d, family)) {
        sync_rollout_status(d, family);
        return;
    }
    if (rollout::deployment_complete(d, status_of(d))) cleanup(d, family);
    sync_rollout_status(d, family);
}

bool DeploymentController::reconcile_new_replica_set(const json::object& d, Family& family) {
    const std::size_t index = *family.new_index;
    const std::int64_t replicas = rollout::spec_replicas(d);
    const std::int64_t current = rollout::spec_replicas(family.sets[index]);
    if (current == replicas) return false;
    if (current > replicas) return scale_and_record(d, family, index, replicas);
    const std::int64_t wanted = rollout::new_rs_new_replicas(d, family.all(), family.sets[index]);
    return scale_and_record(d, family, index, wanted);
}

namespace {
// Available replicas a replica set will still have once its controller has caught up with
// its spec: a status written before a scale-down can count pods that are about to go.
std::int64_t settled_available(const json::object& rs) {
    return std::min(rollout::status_count(rs, "availableReplicas"), rollout::spec_replicas(rs));
}
}  // namespace

bool DeploymentController::reconcile_old_replica_sets(const json::object& d, Family& family) {
    const std::int64_t old_pods = rollout::sum_spec_replicas(rollout::active(family.old()));
    if (old_pods == 0) return false;
    const std::int64_t all_pods = rollout::sum_spec_replicas(family.all());
    const std::int64_t min_available = rollout::spec_replicas(d) - rollout::max_unavailable(d);
    const json::object& new_rs = *family.new_rs();
    const std::int64_t new_unavailable =
        rollout::spec_replicas(new_rs) - rollout::status_count(new_rs, "availableReplicas");
    const std::int64_t max_scaled_down = all_pods - min_available - new_unavailable;
    if (max_scaled_down <= 0) return false;
    // Unhealthy old replicas go first: they would block the rollout otherwise.
    const std::int64_t cleaned = cleanup_unhealthy_replicas(d, family, max_scaled_down);
    const std::int64_t scaled = scale_down_old_for_rolling_update(d, family);
    return cleaned + scaled > 0;
}

std::int64_t DeploymentController::cleanup_unhealthy_replicas(const json::object& d, Family& family,
                                                              std::int64_t max_cleanup) {
    Objects old = rollout::active(family.old());
    std::sort(old.begin(), old.end(),
              [](const auto* a, const auto* b) { return rollout::created_before(*a, *b); });
    std::vector<std::size_t> order;
    for (const auto* rs : old)
        order.push_back(family.index_of(rs));
    std::int64_t total = 0;
    for (std::size_t index : order) {
        if (total >= max_cleanup) break;
        const json::object& rs = family.sets[index];
        const std::int64_t replicas = rollout::spec_replicas(rs);
        const std::int64_t available = settled_available(rs);
        if (replicas == 0 || replicas == available) continue;
        const std::int64_t down = std::min(max_cleanup - total, replicas - available);
        scale_and_record(d, family, index, replicas - down);
        total += down;
    }
    return total;
}

std::int64_t DeploymentController::scale_down_old_for_rolling_update(const json::object& d,
                                                                     Family& family) {
    const std::int64_t min_available = rollout::spec_replicas(d) - rollout::max_unavailable(d);
    std::int64_t available = 0;
    for (const auto& rs : family.sets)
        available += settled_available(rs);
    if (available <= min_available) return 0;
    Objects old = rollout::active(family.old());
    std::sort(old.begin(), old.end(),
              [](const auto* a, const auto* b) { return rollout::created_before(*a, *b); });
    std::vector<std::size_t> order;
    for (const auto* rs : old)
        order.push_back(family.index_of(rs));
    const std::int64_t to_scale_down = available - min_available;
    std::int64_t total = 0;
    for (std::size_t index : order) {
        if (total >= to_scale_down) break;
        const std::int64_t replicas = rollout::spec_replicas(family.sets[index]);
        if (replicas == 0) continue;
        const std::int64_t down = std::min(replicas, to_scale_down - total);
        scale_and_record(d, family, index, replicas - down);
        total += down;
    }
    return total;
}

// ---- Recreate ------------------------------------------------------------------------------

void DeploymentController::rollout_recreate(json::object& d, Family& family) {
    // No new replica set yet: never scale up before the old ones are down.
    sync_revision(d, family, false);
    bool scaled_down = false;
    for (const auto* rs : rollout::active(family.old())) {
        scaled_down = scale_and_record(d, family, family.index_of(rs), 0) || scaled_down;
    }
    if (scaled_down || old_pods_running(d, family)) {
        sync_rollout_status(d, family);
        return;
    }
    if (!family.new_rs()) sync_revision(d, family, true);
    if (family.new_rs()) {
        scale_and_record(d, family, *family.new_index, rollout::spec_replicas(d));
    }
    if (rollout::deployment_complete(d, status_of(d))) cleanup(d, family);
    sync_rollout_status(d, family);
}

bool DeploymentController::old_pods_running(const json::object& d, const Family& family) const {
    if (rollout::sum_status(family.old(), "replicas") > 0) return true;
    const auto* selector_object = selector_of(d);
    if (!selector_object) return false;
    const auto selector = api::LabelSelector::from_object(*selector_object);
    std::set<std::string> old_uids;
    for (const auto* rs : family.old())
        old_uids.insert(api::meta_string(*rs, "uid"));
    for (const auto& pod : pods_.list(api::meta_string(d, "namespace"), selector)) {
        const auto* ref = controller_ref(*pod);
        if (!ref || !old_uids.contains(api::field_value(*ref, "uid"))) continue;
        const std::string phase = pod_phase(*pod);
        // Finished pods run nothing; anything else (terminating ones too) may still run.
        if (phase != "Succeeded" && phase != "Failed") return true;
    }
    return false;
}

// ---- history and status --------------------------------------------------------------------

void DeploymentController::cleanup(const json::object& d, const Family& family) {
    if (!rollout::has_revision_history_limit(d)) return;
    Objects cleanable;
    for (const auto* rs : family.old())
        if (!is_terminating(*rs)) cleanable.push_back(rs);
    const std::int64_t limit = int_at(d, "spec.revisionHistoryLimit", 10);
    const std::int64_t diff = static_cast<std::int64_t>(cleanable.size()) - limit;
    if (diff <= 0) return;
    std::sort(cleanable.begin(), cleanable.end(),
              [](const auto* a, const auto* b) { return rollout::lower_revision_first(*a, *b); });
    for (std::int64_t i = 0; i < diff; ++i) {
        const json::object& rs = *cleanable[static_cast<std::size_t>(i)];
        // Only replica sets that are empty and whose controller has seen their last change.
        if (rollout::status_count(rs, "replicas") != 0 || rollout::spec_replicas(rs) != 0 ||
            int_at(rs, "metadata.generation", 0) >
                rollout::status_count(rs, "observedGeneration")) {
            continue;
        }
        try {
            ctx_.service.remove(replicasets_.info(), api::meta_string(rs, "namespace"),
                                api::meta_string(rs, "name"), {});
            replicasets_.forget_deleted(rs);
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;
        }
    }
}

void DeploymentController::sync_status(json::object& d, const Family& family) {
    json::object status = rollout::calculate_status(d, family.all(), family.new_rs(),
                                                    std::chrono::system_clock::now());
    if (!rollout::same_status(d.if_contains("status"), status)) write_status(d, std::move(status));
}

void DeploymentController::sync_rollout_status(json::object& d, const Family& family) {
    const auto now = std::chrono::system_clock::now();
    json::object status = rollout::rollout_status(d, family.all(), family.new_rs(), now);
    if (rollout::same_status(d.if_contains("status"), status)) {
        // No progress to report: look again when the progress deadline passes.
        if (auto after = rollout::progress_check_after(d, status, now)) {
            queue().add_after(object_key(d), *after);
        }
        return;
    }
    write_status(d, std::move(status));
}

// ---- the sync ------------------------------------------------------------------------------

void DeploymentController::reconcile(const std::string& key) {
    const ObjectPtr cached = deployments_.get(key);
    if (!cached) return;
    json::object d = *cached;

    const auto* selector_object = selector_of(d);
    const auto selector =
        api::LabelSelector::from_object(selector_object ? *selector_object : json::object{});
    if (selector.empty()) {
        ctx_.events.record(d, kComponent, "Warning", "SelectingAll",
                           "This deployment is selecting all pods. A non-empty selector is "
                           "required.");
        const std::int64_t generation = int_at(d, "metadata.generation", 0);
        if (rollout::status_count(d, "observedGeneration") < generation) {
            json::object status = status_of(d);
            status["observedGeneration"] = generation;
            write_status(d, std::move(status));
        }
        return;
    }

    Family family = claim_replica_sets(d, selector);
    if (is_terminating(d)) {
        // Being deleted: report, change nothing.
        sync_revision(d, family, false);
        sync_status(d, family);
        return;
    }
    // Pausing and resuming reset the Progressing condition, so a long pause does not count
    // against the progress deadline.
    check_paused_conditions(d);
    if (api::field_value(d, "spec.paused") == "true" || is_scaling_event(d, family)) {
        sync(d, family);
        return;
    }
    if (api::field_value(d, "spec.strategy.type") == "Recreate") {
        rollout_recreate(d, family);
    } else {
        rollout_rolling(d, family);
    }
}

}  // namespace

std::unique_ptr<Controller> make_deployment_controller(ControllerContext& ctx) {
    return std::make_unique<DeploymentController>(ctx);
}

}  // namespace kcube::controllers
