// JSON merge patch (RFC 7386) as Kubernetes applies it, plus the helpers the other patch types
// share. Upstream's merge patch is evanphx/json-patch v4.12 `MergePatch`; its quirks are kept on
// purpose (noted where they differ from the RFC) because clients see their results.
#include "patch.hpp"

#include <boost/json/serialize.hpp>
#include <utility>
#include <vector>

#include "patch_detail.hpp"

namespace kcube::api {

namespace json = boost::json;

namespace patch_detail {

std::size_t depth_of(const json::value& value, std::size_t limit) {
    // Each entry is a value and the number of containers enclosing it.
    std::vector<std::pair<const json::value*, std::size_t>> pending{{&value, 0}};
    std::size_t deepest = 0;
    while (!pending.empty()) {
        const auto [current, enclosing] = pending.back();
        pending.pop_back();
        if (!current->is_object() && !current->is_array()) continue;
        const std::size_t level = enclosing + 1;
        if (level > deepest) deepest = level;
        if (deepest > limit) return limit + 1;
        if (const auto* object = current->if_object()) {
            for (const auto& member : *object)
                pending.emplace_back(&member.value(), level);
        } else {
            for (const auto& element : current->get_array())
                pending.emplace_back(&element, level);
        }
    }
    return deepest;
}

void require_depth(const json::value& value, std::size_t limit, std::string_view what,
                   bool bad_request) {
    if (depth_of(value, limit) > limit) {
        throw PatchError(
            std::string(what) + " nests deeper than " + std::to_string(limit) + " levels",
            bad_request);
    }
}

std::string describe(const json::value& value) {
    constexpr std::size_t kMaxLength = 200;
    std::string text = json::serialize(value);
    if (text.size() > kMaxLength) {
        text.resize(kMaxLength);
        text += "...";
    }
    return text;
}

std::string_view json_type_name(const json::value& value) {
    switch (value.kind()) {
        case json::kind::object:
            return "object";
        case json::kind::array:
            return "array";
        case json::kind::string:
            return "string";
        case json::kind::bool_:
            return "bool";
        case json::kind::null:
            return "null";
        default:
            return "number";
    }
}

}  // namespace patch_detail

namespace {

// Removes null members from objects, recursively. Null elements of arrays stay: evanphx v4.12
// keeps them (earlier versions dropped them), and so does Kubernetes.
void prune_nulls(json::value& value) {
    if (auto* object = value.if_object()) {
        std::vector<std::string> nulls;
        for (auto& member : *object) {
            if (member.value().is_null()) {
                nulls.emplace_back(member.key());
            } else {
                prune_nulls(member.value());
            }
        }
        for (const auto& key : nulls)
            object->stable_erase(key);
    } else if (auto* array = value.if_array()) {
        for (auto& element : *array)
            prune_nulls(element);
    }
}

json::value pruned(json::value value) {
    prune_nulls(value);
    return value;
}

json::value merge_value(json::value current, const json::value& patch);

// RFC 7386 MergePatch for two objects, in place.
void merge_objects(json::object& target, const json::object& patch) {
    for (const auto& [key, value] : patch) {
        if (value.is_null()) {
            target.stable_erase(key);
            continue;
        }
        json::value* current = target.if_contains(key);
        // An explicit null in the target counts as absent, as in upstream.
        if (current == nullptr || current->is_null()) {
            target[key] = pruned(value);
        } else {
            *current = merge_value(std::move(*current), value);
        }
    }
}

json::value merge_value(json::value current, const json::value& patch) {
    // Upstream prunes nulls out of a patch value that replaces a non-object, but inserts a
    // non-object patch value that replaces an object as it is.
    if (!current.is_object()) return pruned(patch);
    if (!patch.is_object()) return patch;
    merge_objects(current.get_object(), patch.get_object());
    return current;
}

}  // namespace

json::value apply_merge_patch(const json::value& document, const json::value& patch) {
    using patch_detail::kMaxDepth;
    if (document.is_null()) throw PatchError("Invalid JSON Document");
    // A null or scalar patch is not a merge patch at all: upstream answers "Invalid JSON Patch".
    if (!patch.is_object() && !patch.is_array()) throw PatchError("Invalid JSON Patch", true);
    patch_detail::require_depth(document, kMaxDepth, "the document", false);
    patch_detail::require_depth(patch, kMaxDepth, "the patch", true);
    // An array patch replaces the whole document; an object patch merged into a non-object
    // document replaces it too (RFC 7386 section 2), with nulls pruned.
    if (patch.is_array() || !document.is_object()) return pruned(patch);
    json::value result = document;
    merge_objects(result.get_object(), patch.get_object());
    return result;
}

}  // namespace kcube::api
