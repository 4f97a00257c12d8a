#include "cluster/controllers/volume_binding.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/scheduler/predicates.hpp"

namespace kcube::controllers::volumes {
namespace json = boost::json;

namespace {

const json::object* path_object(const json::object& object, std::string_view path) {
    const json::object* current = &object;
    while (current) {
        const auto dot = path.find('.');
        current = object_at(*current, path.substr(0, dot));
        if (dot == std::string_view::npos) return current;
        path.remove_prefix(dot + 1);
    }
    return nullptr;
}

std::set<std::string> modes(const json::object& object, std::string_view path) {
    std::set<std::string> out;
    const auto dot = path.rfind('.');
    const auto* parent = path_object(object, path.substr(0, dot));
    const auto* list = parent ? parent->if_contains(path.substr(dot + 1)) : nullptr;
    if (!list || !list->is_array()) return out;
    for (const auto& m : list->as_array())
        if (m.is_string()) out.emplace(m.as_string());
    return out;
}

std::string volume_mode(const json::object& object) {
    const std::string mode = api::field_value(object, "spec.volumeMode");
    return mode.empty() ? "Filesystem" : mode;
}

bool selector_matches(const json::object& claim, const json::object& volume) {
    const auto* selector = path_object(claim, "spec.selector");
    if (!selector) return true;
    try {
        const auto parsed = api::LabelSelector::from_object(*selector);
        const auto* metadata = object_at(volume, "metadata");
        return parsed.matches(metadata ? object_at(*metadata, "labels") : nullptr);
    } catch (const std::exception&) {
        return false;  // a malformed selector matches nothing
    }
}

// Upstream's FindMatchingVolume over one group of volumes.
const json::object* match_in(const json::object& claim,
                             const std::vector<const json::object*>& group,
                             const json::object* node, bool delay_binding) {
    const std::int64_t requested = storage_at(claim, "spec.resources.requests").value_or(0);
    const std::string requested_class = claim_class(claim).value_or("");
    const json::object* smallest = nullptr;
    std::int64_t smallest_size = 0;
    for (const json::object* volume : group) {
        const bool has_claim_ref = path_object(*volume, "spec.claimRef") != nullptr;
        if (has_claim_ref && !bound_to_claim(*volume, claim)) continue;
        const std::int64_t size = storage_at(*volume, "spec.capacity").value_or(0);
        if (size < requested) continue;
        if (volume_mode_mismatch(claim, *volume)) continue;
        if (!api::meta_string(*volume, "deletionTimestamp").empty()) continue;
        const bool node_ok = !node || node_affinity_fits(*volume, *node);
        if (has_claim_ref) return node_ok ? volume : nullptr;  // pre-bound to this claim
        if (!node && delay_binding) continue;
        if (api::field_value(*volume, "status.phase") != "Available") continue;
        if (!selector_matches(claim, *volume)) continue;
        if (volume_class(*volume) != requested_class) continue;
        if (!node_ok) continue;
        if (node && !access_modes_fit(claim, *volume)) continue;
        if (!smallest || size < smallest_size) {
            smallest = volume;
            smallest_size = size;
        }
    }
    return smallest;
}

}  // namespace

std::string annotation(const json::object& object, std::string_view key) {
    const auto* metadata = object_at(object, "metadata");
    const auto* annotations = metadata ? object_at(*metadata, "annotations") : nullptr;
    const auto* value = annotations ? annotations->if_contains(key) : nullptr;
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

bool has_annotation(const json::object& object, std::string_view key) {
    const auto* metadata = object_at(object, "metadata");
    const auto* annotations = metadata ? object_at(*metadata, "annotations") : nullptr;
    return annotations && annotations->contains(key);
}

std::optional<std::string> claim_class(const json::object& claim) {
    if (has_annotation(claim, kBetaStorageClass)) return annotation(claim, kBetaStorageClass);
    const auto* spec = object_at(claim, "spec");
    const auto* name = spec ? spec->if_contains("storageClassName") : nullptr;
    if (!name || !name->is_string()) return std::nullopt;
    return std::string(name->as_string());
}

std::string volume_class(const json::object& volume) {
    if (has_annotation(volume, kBetaStorageClass)) return annotation(volume, kBetaStorageClass);
    return api::field_value(volume, "spec.storageClassName");
}

const json::object* default_class(const std::vector<ObjectPtr>& classes) {
    const json::object* best = nullptr;
    std::string best_created;
    for (const auto& c : classes) {
        if (annotation(*c, kDefaultClass) != "true" &&
            annotation(*c, kBetaDefaultClass) != "true") {
            continue;
        }
        const std::string created = api::meta_string(*c, "creationTimestamp");
        if (!best || created > best_created ||
            (created == best_created &&
             api::meta_string(*c, "name") < api::meta_string(*best, "name"))) {
            best = c.get();
            best_created = created;
        }
    }
    return best;
}

std::optional<std::int64_t> storage_at(const json::object& object, std::string_view path) {
    const auto* list = path_object(object, path);
    const auto* value = list ? list->if_contains("storage") : nullptr;
    if (!value) return std::nullopt;
    if (value->is_string()) return scheduler::parse_quantity(value->as_string());
    if (value->is_int64()) return value->as_int64();
    return std::nullopt;
}

bool bound_to_claim(const json::object& volume, const json::object& claim) {
    const auto* ref = path_object(volume, "spec.claimRef");
    if (!ref) return false;
    if (api::field_value(*ref, "name") != api::meta_string(claim, "name")) return false;
    if (api::field_value(*ref, "namespace") != api::meta_string(claim, "namespace")) return false;
    const std::string uid = api::field_value(*ref, "uid");
    return uid.empty() || uid == api::meta_string(claim, "uid");
}

bool volume_mode_mismatch(const json::object& claim, const json::object& volume) {
    return volume_mode(claim) != volume_mode(volume);
}

bool access_modes_fit(const json::object& claim, const json::object& volume) {
    const auto offered = modes(volume, "spec.accessModes");
    for (const auto& m : modes(claim, "spec.accessModes"))
        if (!offered.contains(m)) return false;
    return true;
}

bool node_affinity_fits(const json::object& volume, const json::object& node) {
    const auto* required = path_object(volume, "spec.nodeAffinity.required");
    if (!required) return true;
    const auto* terms = required->if_contains("nodeSelectorTerms");
    if (!terms || !terms->is_array()) return true;
    for (const auto& term : terms->as_array()) {
        if (term.is_object() && scheduler::node_selector_term_matches(term.as_object(), node)) {
            return true;
        }
    }
    return false;
}

std::optional<std::string> volume_unsuitable(const json::object& volume,
                                             const json::object& claim) {
    if (!api::meta_string(volume, "deletionTimestamp").empty()) {
        return "the volume is marked for deletion \"" + api::meta_string(volume, "name") + "\"";
    }
    const std::int64_t requested = storage_at(claim, "spec.resources.requests").value_or(0);
    if (storage_at(volume, "spec.capacity").value_or(0) < requested) {
        return std::string("requested PV is too small");
    }
    if (volume_class(volume) != claim_class(claim).value_or("")) {
        return std::string("storageClassName does not match");
    }
    if (volume_mode_mismatch(claim, volume)) return std::string("incompatible volumeMode");
    if (!access_modes_fit(claim, volume)) return std::string("incompatible accessMode");
    return std::nullopt;
}

const json::object* find_matching_volume(const json::object& claim,
                                         const std::vector<ObjectPtr>& volumes,
                                         const json::object* node, bool delay_binding) {
    // Volumes grouped by their access modes; only groups offering all the claim asks for,
    // those with the fewest modes first.
    std::map<std::set<std::string>, std::vector<const json::object*>> groups;
    for (const auto& v : volumes)
        groups[modes(*v, "spec.accessModes")].push_back(v.get());
    const auto wanted = modes(claim, "spec.accessModes");
    std::vector<const std::pair<const std::set<std::string>, std::vector<const json::object*>>*>
        candidates;
    for (const auto& entry : groups) {
        if (std::includes(entry.first.begin(), entry.first.end(), wanted.begin(), wanted.end())) {
            candidates.push_back(&entry);
        }
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const auto* a, const auto* b) {
        return a->first.size() < b->first.size();
    });
    for (const auto* group : candidates) {
        if (const auto* found = match_in(claim, group->second, node, delay_binding)) return found;
    }
    return nullptr;
}

}  // namespace kcube::controllers::volumes
