#include "cluster/controllers/ownership.hpp"

#include <boost/json.hpp>

#include "cluster/api/selectors.hpp"

namespace kcube::controllers::ownership {
namespace json = boost::json;

namespace {

json::array* metadata_array(json::object& object, std::string_view key) {
    auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return nullptr;
    auto* list = metadata->as_object().if_contains(key);
    return list && list->is_array() ? &list->as_array() : nullptr;
}

const json::array* metadata_array(const json::object& object, std::string_view key) {
    const auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return nullptr;
    const auto* list = metadata->as_object().if_contains(key);
    return list && list->is_array() ? &list->as_array() : nullptr;
}

void erase_if_empty(json::object& object, std::string_view key) {
    auto* list = metadata_array(object, key);
    if (list && list->empty()) object["metadata"].as_object().erase(key);
}

}  // namespace

std::vector<OwnerRef> owner_refs(const json::object& object) {
    std::vector<OwnerRef> out;
    const auto* refs = metadata_array(object, "ownerReferences");
    if (!refs) return out;
    for (const auto& r : *refs) {
        if (!r.is_object()) continue;
        const auto& ref = r.as_object();
        out.push_back({api::field_value(ref, "apiVersion"), api::field_value(ref, "kind"),
                       api::field_value(ref, "name"), api::field_value(ref, "uid"),
                       api::field_value(ref, "blockOwnerDeletion") == "true"});
    }
    return out;
}

std::string group_of(std::string_view api_version) {
    const auto slash = api_version.find('/');
    return slash == std::string_view::npos ? std::string()
                                           : std::string(api_version.substr(0, slash));
}

bool has_finalizer(const json::object& object, std::string_view name) {
    const auto* finalizers = metadata_array(object, "finalizers");
    if (!finalizers) return false;
    for (const auto& f : *finalizers)
        if (f.is_string() && f.as_string() == name) return true;
    return false;
}

bool remove_finalizer(json::object& object, std::string_view name) {
    auto* finalizers = metadata_array(object, "finalizers");
    if (!finalizers) return false;
    const auto before = finalizers->size();
    json::array kept;
    for (auto& f : *finalizers)
        if (!(f.is_string() && f.as_string() == name)) kept.push_back(std::move(f));
    *finalizers = std::move(kept);
    const bool changed = finalizers->size() != before;
    erase_if_empty(object, "finalizers");
    return changed;
}

bool remove_owner_refs(json::object& object, const std::set<std::string>& uids) {
    auto* refs = metadata_array(object, "ownerReferences");
    if (!refs) return false;
    const auto before = refs->size();
    json::array kept;
    for (auto& r : *refs) {
        if (r.is_object() && uids.contains(api::field_value(r.as_object(), "uid"))) continue;
        kept.push_back(std::move(r));
    }
    *refs = std::move(kept);
    const bool changed = refs->size() != before;
    erase_if_empty(object, "ownerReferences");
    return changed;
}

Decision decide(const json::object& object, const std::vector<OwnerRef>& refs,
                const std::vector<OwnerState>& states, bool has_dependents) {
    Decision decision;
    if (refs.empty()) return decision;
    bool solid = false, waiting = false;
    std::set<std::string> stale;  // dangling or waiting owners
    for (std::size_t i = 0; i < refs.size() && i < states.size(); ++i) {
        switch (states[i]) {
            case OwnerState::kSolid:
                solid = true;
                break;
            case OwnerState::kWaiting:
                waiting = true;
                stale.insert(refs[i].uid);
                break;
            case OwnerState::kDangling:
                stale.insert(refs[i].uid);
                break;
        }
    }
    if (solid) {
        // Another owner keeps it; references to owners that are gone or waiting for their
        // dependents are dropped so those owners are not held up.
        if (!stale.empty()) {
            decision.action = Decision::Action::kRemoveRefs;
            decision.uids = std::move(stale);
        }
        return decision;
    }
    decision.action = Decision::Action::kDelete;
    if (waiting && has_dependents) {
        decision.policy = "Foreground";
    } else if (has_finalizer(object, kOrphanFinalizer)) {
        decision.policy = "Orphan";
    } else if (has_finalizer(object, kForegroundFinalizer)) {
        decision.policy = "Foreground";
    } else {
        decision.policy = "Background";
    }
    return decision;
}

}  // namespace kcube::controllers::ownership
