// The PersistentVolume binder (the binding half of upstream's
// pkg/controller/volume/persistentvolume): binds a Pending claim to the best Available volume
// (or the one it or the volume names), keeps both sides' phases current, releases a volume
// whose claim went (Retain) or deletes it (Delete). Dynamic provisioning is left to an external
// provisioner: a claim whose class has one is annotated for it and waits.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/controllers/volume_binding.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using namespace volumes;

constexpr const char* kComponent = "persistentvolume-controller";
// Queue keys: claims and volumes share the queue.
constexpr std::string_view kClaimPrefix = "claim:";
constexpr std::string_view kVolumePrefix = "volume:";

std::string claim_key(const json::object& claim) {
    return std::string(kClaimPrefix) + object_key(claim);
}

std::string phase_of(const json::object& object) {
    return api::field_value(object, "status.phase");
}

const json::object* claim_ref(const json::object& volume) {
    const auto* spec = volume.if_contains("spec");
    if (!spec || !spec->is_object()) return nullptr;
    const auto* ref = spec->as_object().if_contains("claimRef");
    return ref && ref->is_object() ? &ref->as_object() : nullptr;
}

json::object& annotations_of(json::object& object) {
    return child_object(api::metadata_of(object), "annotations");
}

// A claim the binder still has to find a volume for.
bool unbound(const json::object& claim) {
    return !has_annotation(claim, kBindCompleted);
}

class PersistentVolumeBinder final : public Controller {
  public:
    explicit PersistentVolumeBinder(ControllerContext& ctx)
        : Controller("persistentvolume-binder-controller"),
          ctx_(ctx),
          volumes_(ctx.informers.get("", "v1", "persistentvolumes")),
          claims_(ctx.informers.get("", "v1", "persistentvolumeclaims")),
          classes_(ctx.informers.get("storage.k8s.io", "v1", "storageclasses")),
          nodes_(ctx.informers.get("", "v1", "nodes")) {
        options_.field_manager = kControllerFieldManager;
        claims_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(claim_key(now ? *now : *old));
            if (!now) claim_deleted(*old);
        });
        volumes_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const auto& volume = now ? *now : *old;
            queue().add(std::string(kVolumePrefix) + api::meta_string(volume, "name"));
            if (const auto* ref = claim_ref(volume)) {
                queue().add(std::string(kClaimPrefix) +
                            object_key(api::field_value(*ref, "namespace"),
                                       api::field_value(*ref, "name")));
            }
            // A volume that appeared, changed or was let go may be what a waiting claim needs.
            if (now) queue_unbound_claims();
        });
        classes_.on_change([this](const ObjectPtr&, const ObjectPtr&) { queue_unbound_claims(); });
    }

  protected:
    void reconcile(const std::string& key) override {
        if (key.starts_with(kClaimPrefix)) {
            if (auto claim = claims_.get(key.substr(kClaimPrefix.size()))) sync_claim(claim);
        } else if (key.starts_with(kVolumePrefix)) {
            if (auto volume = volumes_.get(key.substr(kVolumePrefix.size()))) sync_volume(volume);
        }
    }

  private:
    void queue_unbound_claims() {
        for (const auto& claim : claims_.list()) {
            if (unbound(*claim)) queue().add(claim_key(*claim));
        }
    }
    // The volumes that pointed at a deleted claim are released.
    void claim_deleted(const json::object& claim) {
        const std::string name = api::field_value(claim, "spec.volumeName");
        if (!name.empty()) queue().add(std::string(kVolumePrefix) + name);
        for (const auto& volume : volumes_.list()) {
            if (bound_to_claim(*volume, claim)) {
                queue().add(std::string(kVolumePrefix) + api::meta_string(*volume, "name"));
            }
        }
    }

    void sync_claim(const ObjectPtr& claim);
    void sync_unbound_claim(const ObjectPtr& claim);
    void sync_bound_claim(const ObjectPtr& claim);
    // Dynamic provisioning is an external provisioner's job: the claim says which one, and an
    // event tells the user what it waits for.
    void provision(const ObjectPtr& claim, const std::string& class_name);
    void sync_volume(const ObjectPtr& volume);
    void reclaim(const ObjectPtr& volume);
    void unbind_volume(const ObjectPtr& volume);

    // Binds both ways: the volume's claimRef and phase, then the claim's volumeName,
    // annotations and status.
    void bind(ObjectPtr volume, ObjectPtr claim);
    ObjectPtr set_volume_phase(const ObjectPtr& volume, const std::string& phase,
                               const std::string& message = {});
    // The claim's phase (and, when bound, the volume's access modes and capacity); an event
    // goes with a phase change when `reason` is given.
    ObjectPtr set_claim_phase(const ObjectPtr& claim, const std::string& phase,
                              const json::object* volume = nullptr, const std::string& type = {},
                              const std::string& reason = {}, const std::string& message = {});
    void event(const json::object& object, const std::string& type, const std::string& reason,
               const std::string& message) {
        ctx_.events.record(object, kComponent, type, reason, message);
    }

    ControllerContext& ctx_;
    Informer& volumes_;
    Informer& claims_;
    Informer& classes_;
    Informer& nodes_;
    api::WriteOptions options_;
};

void PersistentVolumeBinder::sync_claim(const ObjectPtr& claim) {
    if (unbound(*claim)) {
        sync_unbound_claim(claim);
    } else {
        sync_bound_claim(claim);
    }
}

void PersistentVolumeBinder::sync_unbound_claim(const ObjectPtr& claim) {
    const std::string volume_name = api::field_value(*claim, "spec.volumeName");
    if (!volume_name.empty()) {
        // The user asked for a specific volume.
        auto volume = volumes_.get(volume_name);
        if (!volume) {
            set_claim_phase(claim, "Pending");  // it may appear later
            return;
        }
        if (!claim_ref(*volume)) {
            if (auto why = volume_unsuitable(*volume, *claim)) {
                event(*claim, "Warning", "VolumeMismatch",
                      "Cannot bind to requested volume \"" + volume_name + "\": " + *why);
                set_claim_phase(claim, "Pending");
                return;
            }
            bind(volume, claim);
        } else if (bound_to_claim(*volume, *claim)) {
            bind(volume, claim);
        } else {
            event(*claim, "Warning", "FailedBinding",
                  "volume \"" + volume_name + "\" already bound to a different claim.");
            if (has_annotation(*claim, kBoundByController)) {
                throw std::runtime_error("invalid binding of claim " + object_key(*claim) +
                                         " to volume " + volume_name);
            }
            set_claim_phase(claim, "Pending");
        }
        return;
    }

    const auto class_name = claim_class(*claim);
    ObjectPtr storage_class;
    if (class_name && !class_name->empty()) storage_class = classes_.get(*class_name);
    const bool delay_binding =
        storage_class &&
        api::field_value(*storage_class, "volumeBindingMode") == "WaitForFirstConsumer";
    // With delayed binding the scheduler names the node (selected-node); only then is there
    // something to bind, on a volume that node can reach.
    ObjectPtr node;
    const std::string selected = annotation(*claim, kSelectedNode);
    if (delay_binding && !selected.empty()) node = nodes_.get(selected);
    const bool waiting_for_node = delay_binding && selected.empty();

    const auto candidates = volumes_.list();
    const json::object* match = find_matching_volume(*claim, candidates, node.get(), delay_binding);
    if (match) {
        bind(volumes_.get(api::meta_string(*match, "name")), claim);
        return;
    }
    if (!class_name) {
        // Upstream's retroactive default StorageClass assignment.
        if (const auto* fallback = default_class(classes_.list())) {
            json::object updated = *claim;
            child_object(updated, "spec")["storageClassName"] = api::meta_string(*fallback, "name");
            claims_.remember(ctx_.service.update(
                claims_.info(), api::meta_string(*claim, "namespace"),
                api::meta_string(*claim, "name"), std::move(updated), options_));
            return;
        }
    }
    if (waiting_for_node) {
        event(*claim, "Normal", "WaitForFirstConsumer",
              "waiting for first consumer to be created before binding");
    } else if (class_name && !class_name->empty()) {
        provision(claim, *class_name);
        return;
    } else {
        event(*claim, "Normal", "FailedBinding",
              "no persistent volumes available for this claim and no storage class is set");
    }
    set_claim_phase(claim, "Pending");
}

void PersistentVolumeBinder::provision(const ObjectPtr& claim, const std::string& class_name) {
    const auto storage_class = classes_.get(class_name);
    if (!storage_class) {
        event(*claim, "Warning", "ProvisioningFailed",
              "storageclass.storage.k8s.io \"" + class_name + "\" not found");
        set_claim_phase(claim, "Pending");
        return;
    }
    const std::string provisioner = api::field_value(*storage_class, "provisioner");
    if (provisioner.starts_with("kubernetes.io/")) {
        // In-tree plugins (no-provisioner among them): kcube has none.
        event(*claim, "Warning", "ProvisioningFailed",
              "no volume plugin matched name: " + provisioner);
        set_claim_phase(claim, "Pending");
        return;
    }
    ObjectPtr current = claim;
    if (annotation(*claim, kStorageProvisioner) != provisioner ||
        annotation(*claim, kBetaStorageProvisioner) != provisioner) {
        json::object updated = *claim;
        auto& annotations = annotations_of(updated);
        annotations[kStorageProvisioner] = provisioner;
        annotations[kBetaStorageProvisioner] = provisioner;
        claims_.remember(ctx_.service.update(claims_.info(), api::meta_string(*claim, "namespace"),
                                             api::meta_string(*claim, "name"), std::move(updated),
                                             options_));
        current = claims_.get(object_key(*claim));
        if (!current) return;
    }
    event(*current, "Normal", "ExternalProvisioning",
          "Waiting for a volume to be created either by the external provisioner '" + provisioner +
              "' or manually by the system administrator. If volume creation is delayed, please "
              "verify that the provisioner is running and correctly registered.");
    set_claim_phase(current, "Pending");
}

void PersistentVolumeBinder::sync_bound_claim(const ObjectPtr& claim) {
    const std::string volume_name = api::field_value(*claim, "spec.volumeName");
    if (volume_name.empty()) {
        set_claim_phase(claim, "Lost", nullptr, "Warning", "ClaimLost",
                        "Bound claim has lost reference to PersistentVolume. Data on the volume "
                        "is lost!");
        return;
    }
    auto volume = volumes_.get(volume_name);
    if (!volume) {
        set_claim_phase(claim, "Lost", nullptr, "Warning", "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
        return;
    }
    const auto* ref = claim_ref(*volume);
    if (!ref || api::field_value(*ref, "uid") == api::meta_string(*claim, "uid")) {
        bind(volume, claim);  // finishes a half-done binding; nothing to do if complete
        return;
    }
    set_claim_phase(claim, "Lost", nullptr, "Warning", "ClaimMisbound",
                    "Two claims are bound to the same volume, this one is bound incorrectly");
}

void PersistentVolumeBinder::sync_volume(const ObjectPtr& volume) {
    const auto* ref = claim_ref(*volume);
    if (!ref || api::field_value(*ref, "uid").empty()) {
        // Unused, or reserved for a claim whose own sync binds it.
        set_volume_phase(volume, "Available");
        return;
    }
    const std::string ns = api::field_value(*ref, "namespace");
    const std::string name = api::field_value(*ref, "name");
    const std::string uid = api::field_value(*ref, "uid");
    ObjectPtr claim = claims_.get(ns, name);
    if (!claim || api::meta_string(*claim, "uid") != uid) {
        // Before releasing, make sure the cache is not merely behind.
        const std::string phase = phase_of(*volume);
        if (phase != "Released" && phase != "Failed") {
            try {
                auto fresh = ctx_.service.get(claims_.info(), ns, name);
                if (api::meta_string(fresh, "uid") == uid) return;  // the watch will tell
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
        }
        claim = nullptr;
    }
    if (!claim) {
        ObjectPtr current = volume;
        const std::string phase = phase_of(*volume);
        if (phase != "Released" && phase != "Failed")
            current = set_volume_phase(volume, "Released");
        reclaim(current);
        return;
    }
    const std::string claimed_volume = api::field_value(*claim, "spec.volumeName");
    const std::string volume_name = api::meta_string(*volume, "name");
    if (claimed_volume.empty()) {
        if (volume_mode_mismatch(*claim, *volume)) {
            event(*volume, "Warning", "VolumeMismatch",
                  "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"" + name +
                      "\" due to incompatible volumeMode.");
            event(*claim, "Warning", "VolumeMismatch",
                  "Cannot bind PersistentVolume \"" + volume_name +
                      "\" to requested PersistentVolumeClaim due to incompatible volumeMode.");
            return;
        }
        queue().add(claim_key(*claim));  // the claim's sync finishes the binding
        return;
    }
    if (claimed_volume == volume_name) {
        set_volume_phase(volume, "Bound");
        return;
    }
    // Bound to a claim that is bound elsewhere.
    const std::string policy = api::field_value(*volume, "spec.persistentVolumeReclaimPolicy");
    if (has_annotation(*volume, kProvisionedBy) && policy == "Delete") {
        ObjectPtr current = volume;
        const std::string phase = phase_of(*volume);
        if (phase != "Released" && phase != "Failed")
            current = set_volume_phase(volume, "Released");
        reclaim(current);
        return;
    }
    unbind_volume(volume);
}

void PersistentVolumeBinder::reclaim(const ObjectPtr& volume) {
    if (!volume) return;
    const std::string policy = api::field_value(*volume, "spec.persistentVolumeReclaimPolicy");
    if (policy.empty() || policy == "Retain") return;  // the data stays until an admin acts
    if (policy == "Recycle") {
        if (phase_of(*volume) != "Failed") {
            event(*volume, "Warning", "VolumeFailedRecycle",
                  "No recycler plugin found for the volume!");
            set_volume_phase(volume, "Failed", "No recycler plugin found for the volume!");
        }
        return;
    }
    if (policy != "Delete") return;
    // A volume an external provisioner made is deleted by that provisioner.
    const std::string provisioner = annotation(*volume, kProvisionedBy);
    if (!provisioner.empty() && !provisioner.starts_with("kubernetes.io/")) return;
    api::DeleteOptions options;
    options.precondition_uid = api::meta_string(*volume, "uid");
    try {
        ctx_.service.remove(volumes_.info(), "", api::meta_string(*volume, "name"), options);
    } catch (const api::ApiError& e) {
        if (e.code() != 404) throw;
    }
    volumes_.forget_deleted(*volume);
}

void PersistentVolumeBinder::unbind_volume(const ObjectPtr& volume) {
    json::object updated = *volume;
    auto& spec = child_object(updated, "spec");
    if (has_annotation(*volume, kBoundByController)) {
        spec.erase("claimRef");
        auto& annotations = annotations_of(updated);
        annotations.erase(kBoundByController);
        if (annotations.empty()) api::metadata_of(updated).erase("annotations");
    } else {
        // Pre-bound by the user: keep the claim's name, forget the old claim's uid.
        child_object(spec, "claimRef").erase("uid");
    }
    volumes_.remember(ctx_.service.update(volumes_.info(), "", api::meta_string(*volume, "name"),
                                          std::move(updated), options_));
    if (auto current = volumes_.get(api::meta_string(*volume, "name"))) {
        set_volume_phase(current, "Available");
    }
}

void PersistentVolumeBinder::bind(ObjectPtr volume, ObjectPtr claim) {
    if (!volume || !claim) return;
    const std::string volume_name = api::meta_string(*volume, "name");
    const std::string ns = api::meta_string(*claim, "namespace");
    const std::string claim_name = api::meta_string(*claim, "name");

    // 1. The volume points at the claim.
    const auto* ref = claim_ref(*volume);
    const bool ref_current = ref && api::field_value(*ref, "name") == claim_name &&
                             api::field_value(*ref, "namespace") == ns &&
                             api::field_value(*ref, "uid") == api::meta_string(*claim, "uid");
    const bool by_controller = !bound_to_claim(*volume, *claim);
    if (!ref_current || (by_controller && !has_annotation(*volume, kBoundByController))) {
        json::object updated = *volume;
        if (!ref_current) {
            child_object(updated, "spec")["claimRef"] =
                json::object{{"kind", "PersistentVolumeClaim"},
                             {"namespace", ns},
                             {"name", claim_name},
                             {"uid", api::meta_string(*claim, "uid")},
                             {"apiVersion", "v1"},
                             {"resourceVersion", api::meta_string(*claim, "resourceVersion")}};
        }
        if (by_controller) annotations_of(updated)[kBoundByController] = "yes";
        volumes_.remember(
            ctx_.service.update(volumes_.info(), "", volume_name, std::move(updated), options_));
        volume = volumes_.get(volume_name);
        if (!volume) return;
    }
    volume = set_volume_phase(volume, "Bound");
    if (!volume) return;

    // 2. The claim points at the volume.
    const bool claim_by_controller = api::field_value(*claim, "spec.volumeName") != volume_name;
    if (claim_by_controller || !has_annotation(*claim, kBindCompleted)) {
        json::object updated = *claim;
        child_object(updated, "spec")["volumeName"] = volume_name;
        auto& annotations = annotations_of(updated);
        if (claim_by_controller) annotations[kBoundByController] = "yes";
        annotations[kBindCompleted] = "yes";
        claims_.remember(
            ctx_.service.update(claims_.info(), ns, claim_name, std::move(updated), options_));
        claim = claims_.get(ns, claim_name);
        if (!claim) return;
    }
    set_claim_phase(claim, "Bound", volume.get());
    spdlog::debug("persistentvolume-controller: volume {} bound to claim {}/{}", volume_name, ns,
                  claim_name);
}

ObjectPtr PersistentVolumeBinder::set_volume_phase(const ObjectPtr& volume,
                                                   const std::string& phase,
                                                   const std::string& message) {
    if (phase_of(*volume) == phase && api::field_value(*volume, "status.message") == message) {
        return volume;
    }
    json::object updated = *volume;
    auto& status = child_object(updated, "status");
    if (api::field_value(status, "phase") != phase) {
        status["lastPhaseTransitionTime"] = api::now_rfc3339();
    }
    status["phase"] = phase;
    if (message.empty()) {
        status.erase("message");
    } else {
        status["message"] = message;
    }
    const std::string name = api::meta_string(*volume, "name");
    volumes_.remember(
        ctx_.service.update(volumes_.info(), "", name, std::move(updated), options_, "status"));
    return volumes_.get(name);
}

ObjectPtr PersistentVolumeBinder::set_claim_phase(const ObjectPtr& claim, const std::string& phase,
                                                  const json::object* volume,
                                                  const std::string& type,
                                                  const std::string& reason,
                                                  const std::string& message) {
    json::object updated = *claim;
    auto& status = child_object(updated, "status");
    bool dirty = api::field_value(status, "phase") != phase;
    const bool phase_changed = dirty;
    status["phase"] = phase;
    if (volume) {
        const auto* spec = volume->if_contains("spec");
        const auto* modes =
            spec && spec->is_object() ? spec->as_object().if_contains("accessModes") : nullptr;
        const json::value wanted_modes = modes ? *modes : json::value(nullptr);
        const auto* current_modes = status.if_contains("accessModes");
        const json::value have_modes = current_modes ? *current_modes : json::value(nullptr);
        if (have_modes != wanted_modes) {
            dirty = true;
            if (modes) {
                status["accessModes"] = *modes;
            } else {
                status.erase("accessModes");
            }
        }
        // Capacity is set when the claim becomes bound, not afterwards: a difference may be
        // deliberate (a filesystem smaller than its block device).
        if (phase_changed) {
            const auto* capacity =
                spec && spec->is_object() ? spec->as_object().if_contains("capacity") : nullptr;
            const auto* storage = capacity && capacity->is_object()
                                      ? capacity->as_object().if_contains("storage")
                                      : nullptr;
            if (storage) status["capacity"] = json::object{{"storage", *storage}};
        }
    } else {
        // Without a volume the claim shows no access modes or capacity.
        dirty = dirty || status.contains("accessModes") || status.contains("capacity");
        status.erase("accessModes");
        status.erase("capacity");
    }
    if (!dirty) return claim;
    const std::string ns = api::meta_string(*claim, "namespace");
    const std::string name = api::meta_string(*claim, "name");
    claims_.remember(
        ctx_.service.update(claims_.info(), ns, name, std::move(updated), options_, "status"));
    if (phase_changed && !reason.empty()) event(*claim, type, reason, message);
    return claims_.get(ns, name);
}

}  // namespace

std::unique_ptr<Controller> make_pv_binder_controller(ControllerContext& ctx) {
    return std::make_unique<PersistentVolumeBinder>(ctx);
}

}  // namespace kcube::controllers
