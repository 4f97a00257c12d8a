// The StatefulSet controller (upstream pkg/controller/statefulset, 1.32 behaviour): pods with
// stable names "<set>-<ordinal>" and stable claims "<template>-<set>-<ordinal>"; OrderedReady
// creates them in order, each after its predecessors are Running and Ready, and removes them
// from the highest ordinal down; Parallel does both at once. Templates are recorded as
// ControllerRevisions; RollingUpdate replaces pods from the highest ordinal down to the
// partition, one at a time, each after the previous one is Ready again; OnDelete leaves that
// to the user.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kComponent = "statefulset-controller";
constexpr const char* kPodNameLabel = "statefulset.kubernetes.io/pod-name";
constexpr const char* kPodIndexLabel = "apps.kubernetes.io/pod-index";
constexpr const char* kRevisionLabel = "controller-revision-hash";
constexpr const char* kRevisionHashLabel = "controller.kubernetes.io/hash";
// Upstream's history.ControllerRevisionName keeps the set's part of the name this short.
constexpr std::size_t kMaxRevisionPrefix = 223;

const json::object& empty_object() {
    static const json::object empty;
    return empty;
}

const json::object& spec_of(const json::object& object) {
    const auto* spec = object_at(object, "spec");
    return spec ? *spec : empty_object();
}

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object_at(object, "metadata");
    return metadata ? object_at(*metadata, "labels") : nullptr;
}

std::string label(const json::object& object, std::string_view key) {
    const auto* labels = labels_of(object);
    const auto* value = labels ? labels->if_contains(key) : nullptr;
    return value && value->is_string() ? std::string(value->as_string()) : "";
}

// "web-12" → {"web", 12}; {"", -1} if the name has no ordinal (upstream statefulPodRegex).
std::pair<std::string, int> parent_and_ordinal(std::string_view name) {
    const auto dash = name.rfind('-');
    if (dash == std::string_view::npos || dash + 1 == name.size()) return {"", -1};
    const auto digits = name.substr(dash + 1);
    if (digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 9) {
        return {"", -1};
    }
    return {std::string(name.substr(0, dash)), std::stoi(std::string(digits))};
}

int ordinal_of(const json::object& pod) {
    return parent_and_ordinal(api::meta_string(pod, "name")).second;
}

bool running_and_ready(const json::object& pod) {
    return pod_phase(pod) == "Running" && pod_ready(pod);
}

bool healthy(const json::object& pod) {
    return running_and_ready(pod) && !is_terminating(pod);
}

bool running_and_available(const json::object& pod, std::int64_t min_ready_seconds) {
    return running_and_ready(pod) && pod_available(pod, min_ready_seconds);
}

// One of the set's pod slots: the pod as the cache has it, or the pod about to be created.
struct Replica {
    ObjectPtr pod;         // null until created
    json::object desired;  // what would be created
    int ordinal = 0;
    bool created() const { return pod != nullptr; }
    const json::object& object() const { return pod ? *pod : desired; }
};

struct Revision {
    ObjectPtr object;
    std::string name;
    std::int64_t number = 0;
    std::string data;  // canonical JSON of .data
};

struct Counts {
    std::int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
};

class StatefulSetController final : public Controller {
  public:
    explicit StatefulSetController(ControllerContext& ctx)
        : Controller("statefulset-controller"),
          ctx_(ctx),
          sets_info_(ctx.service.registry().find("apps", "v1", "statefulsets")),
          pods_info_(ctx.service.registry().find("", "v1", "pods")),
          revisions_info_(ctx.service.registry().find("apps", "v1", "controllerrevisions")),
          claims_info_(ctx.service.registry().find("", "v1", "persistentvolumeclaims")),
          sets_(ctx.informers.get("apps", "v1", "statefulsets")),
          pods_(ctx.informers.get("", "v1", "pods")),
          revisions_(ctx.informers.get("apps", "v1", "controllerrevisions")),
          claims_(ctx.informers.get("", "v1", "persistentvolumeclaims")) {
        sets_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (old) enqueue_for_pod(*old);
            if (now) enqueue_for_pod(*now);
        });
    }

  protected:
    void reconcile(const std::string& key) override {
        const auto cached = sets_.get(key);
        if (!cached) return;
        const json::object& set = *cached;
        const auto* selector_object = object_at(spec_of(set), "selector");
        if (!selector_object) return;  // the API requires one; nothing sensible to do without
        const auto selector = api::LabelSelector::from_object(*selector_object);
        if (selector.empty()) return;
        auto revisions = revisions_for(set, selector);
        auto pods = pods_for(set, selector);
        const json::object status = update_stateful_set(set, pods, revisions);
        const std::int64_t min_ready = int_at(spec_of(set), "minReadySeconds", 0);
        if (min_ready > 0 &&
            int_at(status, "availableReplicas", 0) != int_at(spec_of(set), "replicas", 1)) {
            queue().add_after(key, std::chrono::seconds(min_ready));
        }
    }

  private:
    // Informer thread: the set that owns (or may adopt) a pod.
    void enqueue_for_pod(const json::object& pod) {
        const std::string ns = api::meta_string(pod, "namespace");
        if (const auto* ref = controller_ref(pod)) {
            if (api::field_value(*ref, "kind") == "StatefulSet") {
                queue().add(object_key(ns, api::field_value(*ref, "name")));
            }
            return;
        }
        const std::string parent = parent_and_ordinal(api::meta_string(pod, "name")).first;
        if (parent.empty()) return;
        const auto set = sets_.get(ns, parent);
        if (!set) return;
        const auto* selector = object_at(spec_of(*set), "selector");
        if (selector && api::LabelSelector::from_object(*selector).matches(labels_of(pod))) {
            queue().add(object_key(*set));
        }
    }

    api::WriteOptions write_options() const {
        api::WriteOptions options;
        options.field_manager = kControllerFieldManager;
        return options;
    }

    void record(const json::object& set, const char* type, const std::string& reason,
                const std::string& message) {
        ctx_.events.record(set, kComponent, type, reason, message);
    }

    // Upstream recordPodEvent: "create Pod web-0 in StatefulSet web successful".
    void record_pod_event(const json::object& set, const std::string& verb,
                          const std::string& pod_name, const std::string* error) {
        std::string title = verb;
        title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
        const std::string set_name = api::meta_string(set, "name");
        if (!error) {
            record(set, "Normal", "Successful" + title,
                   verb + " Pod " + pod_name + " in StatefulSet " + set_name + " successful");
        } else {
            record(set, "Warning", "Failed" + title,
                   verb + " Pod " + pod_name + " in StatefulSet " + set_name +
                       " failed error: " + *error);
        }
    }

    // --- ownership ----------------------------------------------------------------------------

    // Adopts a matching orphan (pod or revision) with a controller reference.
    ObjectPtr adopt(const api::ResourceInfo& info, Informer& informer, const json::object& set,
                    const json::object& orphan) {
        json::object patch{
            {"metadata", json::object{{"ownerReferences", json::array{owner_reference(set)}},
                                      {"uid", api::meta_string(orphan, "uid")}}}};
        try {
            auto adopted = ctx_.service.patch(
                info, api::meta_string(orphan, "namespace"), api::meta_string(orphan, "name"),
                api::PatchType::kStrategic, json::serialize(patch), write_options());
            informer.remember(adopted);
            return informer.get(object_key(adopted));
        } catch (const api::ApiError& e) {
            if (e.code() == 404 || e.code() == 409 || e.code() == 422) return nullptr;
            throw;
        }
    }

    std::vector<ObjectPtr> pods_for(const json::object& set, const api::LabelSelector& selector) {
        const std::string ns = api::meta_string(set, "namespace");
        const std::string uid = api::meta_string(set, "uid");
        const std::string name = api::meta_string(set, "name");
        std::vector<ObjectPtr> out;
        for (auto& pod : pods_.list(ns)) {
            if (const auto* ref = controller_ref(*pod)) {
                if (api::field_value(*ref, "uid") == uid) out.push_back(std::move(pod));
                continue;
            }
            if (is_terminating(set) || is_terminating(*pod)) continue;
            if (parent_and_ordinal(api::meta_string(*pod, "name")).first != name) continue;
            if (!selector.matches(labels_of(*pod))) continue;
            if (auto adopted = adopt(*pods_info_, pods_, set, *pod)) out.push_back(adopted);
        }
        return out;
    }

    std::vector<Revision> revisions_for(const json::object& set,
                                        const api::LabelSelector& selector) {
        const std::string uid = api::meta_string(set, "uid");
        std::vector<Revision> out;
        for (auto& object : revisions_.list(api::meta_string(set, "namespace"))) {
            const auto* ref = controller_ref(*object);
            if (ref && api::field_value(*ref, "uid") != uid) continue;
            ObjectPtr revision = object;
            if (!ref) {
                if (is_terminating(set) || !selector.matches(labels_of(*object))) continue;
                revision = adopt(*revisions_info_, revisions_, set, *object);
                if (!revision) continue;
            }
            const auto* data = revision->if_contains("data");
            out.push_back({revision, api::meta_string(*revision, "name"),
                           int_at(*revision, "revision", 0),
                           data ? canonical_json(*data) : std::string("null")});
        }
        std::sort(out.begin(), out.end(), [](const Revision& a, const Revision& b) {
            return a.number != b.number ? a.number < b.number : a.name < b.name;
        });
        return out;
    }

    // --- revisions ----------------------------------------------------------------------------

    // What a revision records: a patch that puts this template back (upstream getPatch).
    static json::object revision_data(const json::object& set) {
        json::object pod_template;
        if (const auto* t = object_at(spec_of(set), "template")) pod_template = *t;
        pod_template["$patch"] = "replace";
        return json::object{{"spec", json::object{{"template", std::move(pod_template)}}}};
    }

    // The set as of a revision: its template replaced by the revision's (ApplyRevision).
    static json::object apply_revision(const json::object& set, const Revision& revision) {
        json::object out = set;
        const auto* data = object_at(*revision.object, "data");
        const auto* spec = data ? object_at(*data, "spec") : nullptr;
        const auto* pod_template = spec ? object_at(*spec, "template") : nullptr;
        if (pod_template) {
            json::object t = *pod_template;
            t.erase("$patch");
            child_object(out, "spec")["template"] = std::move(t);
        }
        return out;
    }

    Revision as_revision(json::object object) {
        revisions_.remember(object);
        auto cached = revisions_.get(object_key(object));
        if (!cached) cached = std::make_shared<const json::object>(std::move(object));
        const auto* data = cached->if_contains("data");
        return {cached, api::meta_string(*cached, "name"), int_at(*cached, "revision", 0),
                data ? canonical_json(*data) : std::string("null")};
    }

    // Upstream CreateControllerRevision: a name from the data's hash, bumping the collision
    // count while another revision holds that name.
    Revision create_revision(const json::object& set, const json::object& data, std::int64_t number,
                             std::int64_t& collisions) {
        const std::string ns = api::meta_string(set, "namespace");
        std::string prefix = api::meta_string(set, "name");
        if (prefix.size() > kMaxRevisionPrefix) prefix.resize(kMaxRevisionPrefix);
        const std::string canonical = canonical_json(data);
        while (true) {
            const std::string hash = stable_hash(canonical + std::to_string(collisions));
            json::object labels;
            if (const auto* t = object_at(spec_of(set), "template")) {
                if (const auto* l = labels_of(*t)) labels = *l;
            }
            labels[kRevisionHashLabel] = hash;
            json::object metadata{{"name", prefix + "-" + hash},
                                  {"namespace", ns},
                                  {"labels", std::move(labels)},
                                  {"ownerReferences", json::array{owner_reference(set)}}};
            const auto* set_metadata = object_at(set, "metadata");
            if (const auto* annotations =
                    set_metadata ? object_at(*set_metadata, "annotations") : nullptr) {
                metadata["annotations"] = *annotations;
            }
            json::object revision{{"apiVersion", "apps/v1"},
                                  {"kind", "ControllerRevision"},
                                  {"metadata", std::move(metadata)},
                                  {"data", data},
                                  {"revision", number}};
            try {
                return as_revision(ctx_.service.create(*revisions_info_, ns, std::move(revision),
                                                       write_options()));
            } catch (const api::ApiError& e) {
                if (e.code() != 409 || e.reason() != "AlreadyExists") throw;
            }
            auto existing = ctx_.service.get(*revisions_info_, ns, prefix + "-" + hash);
            const auto* existing_data = existing.if_contains("data");
            if (existing_data && canonical_json(*existing_data) == canonical &&
                is_controlled_by(existing, set)) {
                return as_revision(std::move(existing));
            }
            ++collisions;
        }
    }

    // Upstream getStatefulSetRevisions: the current and update revisions, creating the update
    // revision (or renumbering an equal older one, for a rollback) as needed.
    std::pair<Revision, Revision> current_and_update(const json::object& set,
                                                     std::vector<Revision>& revisions,
                                                     std::int64_t& collisions) {
        const json::object data = revision_data(set);
        const std::string canonical = canonical_json(data);
        const std::int64_t next_number = revisions.empty() ? 1 : revisions.back().number + 1;
        std::optional<Revision> update;
        auto equal = std::find_if(revisions.rbegin(), revisions.rend(),
                                  [&](const Revision& r) { return r.data == canonical; });
        if (equal != revisions.rend() && equal == revisions.rbegin()) {
            update = revisions.back();
        } else if (equal != revisions.rend()) {
            json::object object = *equal->object;
            object["revision"] = next_number;
            update = as_revision(ctx_.service.update(*revisions_info_,
                                                     api::meta_string(object, "namespace"),
                                                     equal->name, object, write_options()));
            *equal = *update;
        } else {
            update = create_revision(set, data, next_number, collisions);
            revisions.push_back(*update);
        }
        const std::string current_name = api::field_value(set, "status.currentRevision");
        for (const auto& r : revisions) {
            if (r.name == current_name) return {r, *update};
        }
        return {*update, *update};
    }

    // Non-live revisions beyond revisionHistoryLimit go, oldest first.
    void truncate_history(const json::object& set, const std::vector<Revision>& revisions,
                          const std::vector<ObjectPtr>& pods, const std::string& current,
                          const std::string& update) {
        std::set<std::string> live{current, update};
        for (const auto& pod : pods)
            live.insert(label(*pod, kRevisionLabel));
        std::vector<const Revision*> history;
        for (const auto& r : revisions) {
            if (!live.contains(r.name)) history.push_back(&r);
        }
        const std::int64_t limit = int_at(spec_of(set), "revisionHistoryLimit", 10);
        if (limit < 0 || static_cast<std::int64_t>(history.size()) <= limit) return;
        const auto excess = history.size() - static_cast<std::size_t>(limit);
        for (std::size_t i = 0; i < excess; ++i) {
            try {
                ctx_.service.remove(*revisions_info_, api::meta_string(set, "namespace"),
                                    history[i]->name, {});
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
            revisions_.forget_deleted(*history[i]->object);
        }
    }

    // --- pods and claims ----------------------------------------------------------------------

    static std::int64_t start_ordinal(const json::object& set) {
        return int_at(spec_of(set), "ordinals.start", 0);
    }

    static bool in_ordinal_range(const json::object& set, int ordinal) {
        const std::int64_t start = start_ordinal(set);
        return ordinal >= start && ordinal < start + int_at(spec_of(set), "replicas", 1);
    }

    static std::string claim_name(const json::object& claim_template, const json::object& set,
                                  int ordinal) {
        return api::meta_string(claim_template, "name") + "-" + api::meta_string(set, "name") +
               "-" + std::to_string(ordinal);
    }

    // The claims a pod of this ordinal uses, keyed by template name, in template order.
    static std::vector<std::pair<std::string, json::object>> claims_for(const json::object& set,
                                                                        int ordinal) {
        std::vector<std::pair<std::string, json::object>> out;
        const auto* templates = array_at(spec_of(set), "volumeClaimTemplates");
        if (!templates) return out;
        const auto* selector = object_at(spec_of(set), "selector");
        const auto* match_labels = selector ? object_at(*selector, "matchLabels") : nullptr;
        for (const auto& t : *templates) {
            if (!t.is_object()) continue;
            const auto& claim_template = t.as_object();
            json::object metadata;
            if (const auto* m = object_at(claim_template, "metadata")) metadata = *m;
            json::object labels;
            if (const auto* l = object_at(metadata, "labels")) labels = *l;
            if (match_labels) {
                for (const auto& [k, v] : *match_labels)
                    labels[k] = v;
            }
            if (!labels.empty()) metadata["labels"] = std::move(labels);
            metadata["name"] = claim_name(claim_template, set, ordinal);
            metadata["namespace"] = api::meta_string(set, "namespace");
            json::object claim{{"apiVersion", "v1"},
                               {"kind", "PersistentVolumeClaim"},
                               {"metadata", std::move(metadata)}};
            if (const auto* s = object_at(claim_template, "spec")) claim["spec"] = *s;
            out.emplace_back(api::meta_string(claim_template, "name"), std::move(claim));
        }
        return out;
    }

    // Upstream newStatefulSetPod + setPodRevision.
    static json::object new_pod(const json::object& set, int ordinal, const std::string& revision) {
        const std::string name = api::meta_string(set, "name") + "-" + std::to_string(ordinal);
        const auto* pod_template = object_at(spec_of(set), "template");
        const auto* template_metadata =
            pod_template ? object_at(*pod_template, "metadata") : nullptr;
        json::object metadata{{"name", name}, {"namespace", api::meta_string(set, "namespace")}};
        json::object labels;
        if (template_metadata) {
            if (const auto* l = object_at(*template_metadata, "labels")) labels = *l;
            if (const auto* a = object_at(*template_metadata, "annotations")) {
                metadata["annotations"] = *a;
            }
            if (const auto* f = array_at(*template_metadata, "finalizers")) {
                metadata["finalizers"] = *f;
            }
        }
        labels[kPodNameLabel] = name;
        labels[kPodIndexLabel] = std::to_string(ordinal);
        labels[kRevisionLabel] = revision;
        metadata["labels"] = std::move(labels);
        metadata["ownerReferences"] = json::array{owner_reference(set)};
        json::object spec;
        if (pod_template) {
            if (const auto* s = object_at(*pod_template, "spec")) spec = *s;
        }
        spec["hostname"] = name;
        const std::string service = api::field_value(spec_of(set), "serviceName");
        if (!service.empty()) spec["subdomain"] = service;
        // Claims first, then the template's own volumes that no claim replaces.
        const auto claims = claims_for(set, ordinal);
        if (!claims.empty()) {
            json::array volumes;
            std::set<std::string> claimed;
            for (const auto& [volume, claim] : claims) {
                claimed.insert(volume);
                volumes.push_back(
                    json::object{{"name", volume},
                                 {"persistentVolumeClaim",
                                  json::object{{"claimName", api::meta_string(claim, "name")}}}});
            }
            if (const auto* existing = array_at(spec, "volumes")) {
                for (const auto& v : *existing) {
                    if (v.is_object() &&
                        !claimed.contains(api::field_value(v.as_object(), "name"))) {
                        volumes.push_back(v);
                    }
                }
            }
            spec["volumes"] = std::move(volumes);
        }
        return json::object{{"apiVersion", "v1"},
                            {"kind", "Pod"},
                            {"metadata", std::move(metadata)},
                            {"spec", std::move(spec)}};
    }

    // Pods below the partition are made at the current revision, the rest at the update one.
    static json::object new_versioned_pod(const json::object& current_set,
                                          const json::object& update_set,
                                          const std::string& current, const std::string& update,
                                          int ordinal) {
        const auto& strategy = spec_of(current_set);
        const bool rolling = api::field_value(strategy, "updateStrategy.type") == "RollingUpdate";
        const auto* rolling_update = object_at(strategy, "updateStrategy");
        const bool has_partition = rolling_update && object_at(*rolling_update, "rollingUpdate");
        const std::int64_t start = start_ordinal(current_set);
        const bool use_current =
            (rolling && !has_partition &&
             ordinal < start + int_at(current_set, "status.currentReplicas", 0)) ||
            (has_partition &&
             ordinal < start + int_at(strategy, "updateStrategy.rollingUpdate.partition", 0));
        if (use_current) return new_pod(current_set, ordinal, current);
        return new_pod(update_set, ordinal, update);
    }

    static bool identity_matches(const json::object& set, const json::object& pod) {
        const auto [parent, ordinal] = parent_and_ordinal(api::meta_string(pod, "name"));
        return ordinal >= 0 && parent == api::meta_string(set, "name") &&
               api::meta_string(pod, "namespace") == api::meta_string(set, "namespace") &&
               label(pod, kPodNameLabel) == api::meta_string(pod, "name") &&
               label(pod, kPodIndexLabel) == std::to_string(ordinal);
    }

    static bool storage_matches(const json::object& set, const json::object& pod) {
        const int ordinal = ordinal_of(pod);
        if (ordinal < 0) return false;
        std::map<std::string, std::string> claim_of_volume;
        if (const auto* volumes = array_at(spec_of(pod), "volumes")) {
            for (const auto& v : *volumes) {
                if (!v.is_object()) continue;
                claim_of_volume[api::field_value(v.as_object(), "name")] =
                    api::field_value(v.as_object(), "persistentVolumeClaim.claimName");
            }
        }
        for (const auto& [volume, claim] : claims_for(set, ordinal)) {
            auto it = claim_of_volume.find(volume);
            if (it == claim_of_volume.end() || it->second != api::meta_string(claim, "name")) {
                return false;
            }
        }
        return true;
    }

    // persistentVolumeClaimRetentionPolicy: which owners a claim should have (upstream
    // isClaimOwnerUpToDate / updateClaimOwnerRefForSetAndPod).
    struct WantedOwners {
        bool set = false, pod = false;
    };
    static WantedOwners wanted_owners(const json::object& set, int ordinal) {
        const bool delete_when_deleted =
            api::field_value(spec_of(set), "persistentVolumeClaimRetentionPolicy.whenDeleted") ==
            "Delete";
        const bool delete_when_scaled =
            api::field_value(spec_of(set), "persistentVolumeClaimRetentionPolicy.whenScaled") ==
            "Delete";
        const bool scaled_down = !in_ordinal_range(set, ordinal);
        WantedOwners wanted;
        if (delete_when_scaled && delete_when_deleted) {
            wanted.set = !scaled_down;
            wanted.pod = scaled_down;
        } else {
            wanted.set = delete_when_deleted;
            wanted.pod = delete_when_scaled && scaled_down;
        }
        return wanted;
    }

    static json::object plain_owner_ref(const json::object& owner) {
        return json::object{{"apiVersion", api::field_value(owner, "apiVersion")},
                            {"kind", api::field_value(owner, "kind")},
                            {"name", api::meta_string(owner, "name")},
                            {"uid", api::meta_string(owner, "uid")}};
    }

    // The claim's ownerReferences as the policy wants them (stale ones — same name and kind,
    // another uid — dropped); nullopt if already right.
    static std::optional<json::array> claim_owner_refs(const json::object& claim,
                                                       const json::object& set,
                                                       const json::object& pod) {
        const WantedOwners wanted = wanted_owners(set, ordinal_of(pod));
        json::array refs;
        bool changed = false;
        bool has_set = false, has_pod = false;
        const auto* metadata = object_at(claim, "metadata");
        if (const auto* existing = metadata ? array_at(*metadata, "ownerReferences") : nullptr) {
            for (const auto& ref : *existing) {
                if (!ref.is_object()) continue;
                const auto& r = ref.as_object();
                const std::string kind = api::field_value(r, "kind");
                const std::string name = api::field_value(r, "name");
                const std::string uid = api::field_value(r, "uid");
                const bool is_set = kind == "StatefulSet" && name == api::meta_string(set, "name");
                const bool is_pod = kind == "Pod" && name == api::meta_string(pod, "name");
                if ((is_set && uid != api::meta_string(set, "uid")) ||
                    (is_pod && uid != api::meta_string(pod, "uid")) || (is_set && !wanted.set) ||
                    (is_pod && !wanted.pod)) {
                    changed = true;
                    continue;
                }
                has_set = has_set || is_set;
                has_pod = has_pod || is_pod;
                refs.push_back(ref);
            }
        }
        if (wanted.set && !has_set) {
            refs.push_back(plain_owner_ref(set));
            changed = true;
        }
        if (wanted.pod && !has_pod && !api::meta_string(pod, "uid").empty()) {
            refs.push_back(plain_owner_ref(pod));
            changed = true;
        }
        if (!changed) return std::nullopt;
        return refs;
    }

    // Brings the owners of the pod's claims in line with the retention policy.
    void update_claims_for_retention(const json::object& set, const json::object& pod) {
        for (const auto& [volume, claim] : claims_for(set, ordinal_of(pod))) {
            const auto existing =
                claims_.get(api::meta_string(set, "namespace"), api::meta_string(claim, "name"));
            if (!existing) continue;  // picked up when it exists
            auto refs = claim_owner_refs(*existing, set, pod);
            if (!refs) continue;
            json::object updated = *existing;
            if (refs->empty()) {
                api::metadata_of(updated).erase("ownerReferences");
            } else {
                api::metadata_of(updated)["ownerReferences"] = std::move(*refs);
            }
            claims_.remember(ctx_.service.update(*claims_info_, api::meta_string(set, "namespace"),
                                                 api::meta_string(claim, "name"),
                                                 std::move(updated), write_options()));
        }
    }

    bool claims_match_retention(const json::object& set, const json::object& pod) const {
        for (const auto& [volume, claim] : claims_for(set, ordinal_of(pod))) {
            const auto existing =
                claims_.get(api::meta_string(set, "namespace"), api::meta_string(claim, "name"));
            if (existing && claim_owner_refs(*existing, set, pod)) return false;
        }
        return true;
    }

    // whenScaled=Delete: a claim still owned by an earlier pod of this name is about to be
    // deleted, so the new pod must wait rather than mount it.
    bool claim_is_stale(const json::object& set, const json::object& pod) const {
        if (api::field_value(spec_of(set), "persistentVolumeClaimRetentionPolicy.whenScaled") !=
            "Delete") {
            return false;
        }
        for (const auto& [volume, claim] : claims_for(set, ordinal_of(pod))) {
            const auto existing =
                claims_.get(api::meta_string(set, "namespace"), api::meta_string(claim, "name"));
            const auto* metadata = existing ? object_at(*existing, "metadata") : nullptr;
            const auto* refs = metadata ? array_at(*metadata, "ownerReferences") : nullptr;
            if (!refs) continue;
            for (const auto& ref : *refs) {
                if (ref.is_object() && api::field_value(ref.as_object(), "kind") == "Pod" &&
                    api::field_value(ref.as_object(), "name") == api::meta_string(pod, "name") &&
                    api::field_value(ref.as_object(), "uid") != api::meta_string(pod, "uid")) {
                    return true;
                }
            }
        }
        return false;
    }

    // Creates the pod's missing claims ("create Claim www-web-0 Pod web-0 in StatefulSet web
    // success").
    void create_claims(const json::object& set, const json::object& pod) {
        const std::string ns = api::meta_string(set, "namespace");
        const std::string pod_name = api::meta_string(pod, "name");
        const std::string set_name = api::meta_string(set, "name");
        std::optional<std::string> failure;
        for (auto& [volume, claim] : claims_for(set, ordinal_of(pod))) {
            const std::string name = api::meta_string(claim, "name");
            const auto existing = claims_.get(ns, name);
            if (existing) {
                if (is_terminating(*existing) && !failure) {
                    failure = "pvc " + name + " is being deleted";
                }
                continue;
            }
            try {
                claims_.remember(ctx_.service.create(*claims_info_, ns, claim, write_options()));
                record(set, "Normal", "SuccessfulCreate",
                       "create Claim " + name + " Pod " + pod_name + " in StatefulSet " + set_name +
                           " success");
            } catch (const api::ApiError& e) {
                if (e.code() == 409 && e.reason() == "AlreadyExists") continue;
                record(set, "Warning", "FailedCreate",
                       "create Claim " + name + " for Pod " + pod_name + " in StatefulSet " +
                           set_name + " failed error: " + e.what());
                if (!failure) failure = "failed to create PVC " + name + ": " + e.what();
            }
        }
        if (failure) throw std::runtime_error(*failure);
    }

    ObjectPtr create_pod(const json::object& set, const json::object& pod) {
        const std::string name = api::meta_string(pod, "name");
        try {
            create_claims(set, pod);
        } catch (const std::exception& e) {
            const std::string error = e.what();
            record_pod_event(set, "create", name, &error);
            throw;
        }
        json::object created;
        try {
            created = ctx_.service.create(*pods_info_, api::meta_string(set, "namespace"), pod,
                                          write_options());
        } catch (const api::ApiError& e) {
            if (e.code() == 409 && e.reason() == "AlreadyExists") throw;
            const std::string error = e.what();
            record_pod_event(set, "create", name, &error);
            throw;
        }
        pods_.remember(created);
        auto cached = pods_.get(object_key(created));
        update_claims_for_retention(set, cached ? *cached : created);
        record_pod_event(set, "create", name, nullptr);
        return cached;
    }

    void delete_pod(const json::object& set, const json::object& pod) {
        const std::string name = api::meta_string(pod, "name");
        try {
            auto result =
                ctx_.service.remove(*pods_info_, api::meta_string(pod, "namespace"), name, {});
            pods_.removed(pod, std::move(result));
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return;
            const std::string error = e.what();
            record_pod_event(set, "delete", name, &error);
            throw;
        }
        record_pod_event(set, "delete", name, nullptr);
    }

    // Restores the pod's identity labels (and claims) if someone changed them.
    void update_pod_identity(const json::object& set, const json::object& pod) {
        json::object updated = pod;
        auto& labels = child_object(api::metadata_of(updated), "labels");
        const int ordinal = ordinal_of(pod);
        labels[kPodNameLabel] = api::meta_string(pod, "name");
        labels[kPodIndexLabel] = std::to_string(ordinal);
        if (!storage_matches(set, pod)) create_claims(set, pod);
        try {
            pods_.remember(ctx_.service.update(*pods_info_, api::meta_string(pod, "namespace"),
                                               api::meta_string(pod, "name"), std::move(updated),
                                               write_options()));
        } catch (const api::ApiError& e) {
            const std::string error = e.what();
            record_pod_event(set, "update", api::meta_string(pod, "name"), &error);
            throw;
        }
        record_pod_event(set, "update", api::meta_string(pod, "name"), nullptr);
    }

    // --- the update -------------------------------------------------------------------------

    static Counts count(const std::vector<const json::object*>& pods, std::int64_t min_ready,
                        const std::string& current, const std::string& update) {
        Counts c;
        for (const auto* pod : pods) {
            if (pod_phase(*pod).empty()) continue;  // not created
            ++c.replicas;
            if (running_and_ready(*pod)) {
                ++c.ready;
                if (running_and_available(*pod, min_ready)) ++c.available;
            }
            if (!is_terminating(*pod)) {
                const std::string revision = label(*pod, kRevisionLabel);
                if (revision == current) ++c.current;
                if (revision == update) ++c.updated;
            }
        }
        return c;
    }

    // Processes one pod slot; returns true when OrderedReady must not go further this round.
    bool process_replica(const json::object& set, const json::object& update_set, bool monotonic,
                         Replica& replica, std::int64_t min_ready) {
        if (replica.created()) {
            const std::string phase = pod_phase(*replica.pod);
            if (phase == "Failed" || phase == "Succeeded") {
                // Replaced once gone; the next sync after its deletion creates it anew.
                if (!is_terminating(*replica.pod)) delete_pod(set, *replica.pod);
                return true;
            }
        } else {
            if (claim_is_stale(set, replica.desired)) return true;
            replica.pod = create_pod(set, replica.desired);
            if (monotonic || !replica.pod) return true;
        }
        const json::object& pod = *replica.pod;
        if (pod_phase(pod) == "Pending") {
            create_claims(set, pod);
            update_claims_for_retention(set, pod);
        }
        if (monotonic && is_terminating(pod)) return true;
        if (monotonic && !running_and_ready(pod)) return true;
        if (monotonic && !running_and_available(pod, min_ready)) return true;
        if (!identity_matches(set, pod) || !storage_matches(set, pod)) {
            update_pod_identity(update_set, pod);
        } else if (!claims_match_retention(update_set, pod)) {
            update_claims_for_retention(update_set, pod);
        }
        return false;
    }

    bool process_condemned(const json::object& set, const json::object& pod,
                           const json::object* first_unhealthy, bool monotonic,
                           std::int64_t min_ready) {
        if (is_terminating(pod)) return monotonic;
        if (monotonic && &pod != first_unhealthy &&
            (!running_and_ready(pod) || !running_and_available(pod, min_ready))) {
            return true;
        }
        delete_pod(set, pod);
        return monotonic;
    }

    // Upstream UpdateStatefulSet: creates, deletes and replaces pods; writes the status;
    // trims the revision history. Returns the status written.
    json::object update_stateful_set(const json::object& set, std::vector<ObjectPtr>& pods,
                                     std::vector<Revision>& revisions) {
        std::int64_t collisions = int_at(set, "status.collisionCount", 0);
        const auto revision_pair = current_and_update(set, revisions, collisions);
        const Revision& current = revision_pair.first;
        const Revision& update = revision_pair.second;
        const json::object current_set = apply_revision(set, current);
        const json::object update_set = apply_revision(set, update);
        const auto& spec = spec_of(set);
        const std::int64_t min_ready = int_at(spec, "minReadySeconds", 0);
        const std::int64_t replica_count = int_at(spec, "replicas", 1);
        const std::int64_t start = start_ordinal(set);

        std::vector<Replica> replicas(
            static_cast<std::size_t>(std::max<std::int64_t>(replica_count, 0)));
        std::vector<ObjectPtr> condemned;
        for (const auto& pod : pods) {
            const int ordinal = ordinal_of(*pod);
            if (in_ordinal_range(set, ordinal)) {
                replicas[static_cast<std::size_t>(ordinal - start)].pod = pod;
            } else if (ordinal >= 0) {
                condemned.push_back(pod);
            }
        }
        for (std::size_t i = 0; i < replicas.size(); ++i) {
            replicas[i].ordinal = static_cast<int>(start) + static_cast<int>(i);
            if (!replicas[i].created()) {
                replicas[i].desired = new_versioned_pod(current_set, update_set, current.name,
                                                        update.name, replicas[i].ordinal);
            }
        }
        std::sort(condemned.begin(), condemned.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
            return ordinal_of(*a) > ordinal_of(*b);
        });
        auto unavailable = [&](const json::object& pod) {
            return !healthy(pod) || !running_and_available(pod, min_ready);
        };
        const json::object* first_unhealthy = nullptr;
        for (const auto& r : replicas) {
            if (unavailable(r.object())) {
                first_unhealthy = &r.object();
                break;
            }
        }
        if (!first_unhealthy) {
            for (auto it = condemned.rbegin(); it != condemned.rend(); ++it) {
                if (unavailable(**it)) {
                    first_unhealthy = it->get();
                    break;
                }
            }
        }

        json::object status{{"observedGeneration", int_at(set, "metadata.generation", 0)},
                            {"currentRevision", current.name},
                            {"updateRevision", update.name},
                            {"collisionCount", collisions}};
        auto finish = [&](std::int64_t current_adjust = 0) {
            std::vector<const json::object*> all;
            for (const auto& r : replicas) {
                if (r.created()) all.push_back(r.pod.get());
            }
            for (const auto& pod : condemned)
                all.push_back(pod.get());
            Counts c = count(all, min_ready, current.name, update.name);
            c.current += current_adjust;
            write_status(set, status, c);
            truncate_history(set, revisions, pods, current.name, update.name);
            return status;
        };
        if (is_terminating(set)) return finish();

        const bool monotonic = api::field_value(spec, "podManagementPolicy") != "Parallel";
        std::optional<std::string> error;
        // Each slot in ordinal order; OrderedReady stops at the first that is not ready yet.
        for (auto& replica : replicas) {
            try {
                if (process_replica(set, update_set, monotonic, replica, min_ready) && monotonic) {
                    return finish();
                }
            } catch (const std::exception& e) {
                if (monotonic) {
                    finish();
                    throw;
                }
                if (!error) error = e.what();
            }
        }
        if (error) {
            finish();
            throw std::runtime_error(*error);
        }
        for (const auto& pod : condemned) {
            if (!claims_match_retention(update_set, *pod))
                update_claims_for_retention(update_set, *pod);
        }
        // Scale down, highest ordinal first.
        for (const auto& pod : condemned) {
            if (process_condemned(set, *pod, first_unhealthy, monotonic, min_ready)) {
                return finish();
            }
        }
        if (api::field_value(spec, "updateStrategy.type") == "OnDelete") return finish();

        // Rolling update: the highest ordinal not at the update revision goes first, and the
        // next only once every pod above the partition is available again.
        const std::int64_t partition = int_at(spec, "updateStrategy.rollingUpdate.partition", 0);
        for (auto target = static_cast<std::int64_t>(replicas.size()) - 1; target >= partition;
             --target) {
            const auto& replica = replicas[static_cast<std::size_t>(target)];
            const json::object& pod = replica.object();
            if (replica.created() && label(pod, kRevisionLabel) != update.name &&
                !is_terminating(pod)) {
                delete_pod(set, pod);
                return finish(-1);
            }
            if (unavailable(pod)) return finish();
        }
        return finish();
    }

    void write_status(const json::object& set, json::object& status, const Counts& c) {
        std::int64_t current = c.current;
        std::string current_revision = std::string(status["currentRevision"].as_string());
        // A finished rolling update: the update revision becomes the current one.
        if (api::field_value(set, "spec.updateStrategy.type") == "RollingUpdate" &&
            c.updated == c.replicas && c.ready == c.replicas) {
            current = c.updated;
            current_revision = std::string(status["updateRevision"].as_string());
        }
        status["currentRevision"] = current_revision;
        status["replicas"] = c.replicas;
        status["availableReplicas"] = c.available;
        auto set_or_erase = [&](const char* field, std::int64_t value) {
            if (value != 0) {
                status[field] = value;
            } else {
                status.erase(field);
            }
        };
        set_or_erase("readyReplicas", c.ready);
        set_or_erase("currentReplicas", current);
        set_or_erase("updatedReplicas", c.updated);
        json::object existing;
        if (const auto* s = object_at(set, "status")) existing = *s;
        // Conditions are nobody's business here; keep whatever is there.
        if (const auto* conditions = existing.if_contains("conditions")) {
            status["conditions"] = *conditions;
        }
        if (existing == status) return;
        json::object updated = set;
        updated["status"] = status;
        sets_.remember(ctx_.service.update(*sets_info_, api::meta_string(set, "namespace"),
                                           api::meta_string(set, "name"), std::move(updated),
                                           write_options(), "status"));
    }

    ControllerContext& ctx_;
    std::shared_ptr<const api::ResourceInfo> sets_info_;
    std::shared_ptr<const api::ResourceInfo> pods_info_;
    std::shared_ptr<const api::ResourceInfo> revisions_info_;
    std::shared_ptr<const api::ResourceInfo> claims_info_;
    Informer& sets_;
    Informer& pods_;
    Informer& revisions_;
    Informer& claims_;
};

}  // namespace

std::unique_ptr<Controller> make_statefulset_controller(ControllerContext& ctx) {
    return std::make_unique<StatefulSetController>(ctx);
}

}  // namespace kcube::controllers
