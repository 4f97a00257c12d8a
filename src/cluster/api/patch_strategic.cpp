// Strategic merge patch with the semantics of k8s.io/apimachinery v0.32
// pkg/util/strategicpatch (StrategicMergeMapPatch → mergeMap/mergeSlice, server side: parallel
// lists merged, unmatched nulls ignored), driven by kcube's schemas instead of Go struct tags.
//
// Where upstream relies on Go's typed decoding after the merge (which silently drops nulls and
// unknown keys), kcube stores the merged JSON as it is, so patch content that lands in the result
// verbatim is cleaned the way that decoding would clean it (see `sanitize`). Where upstream
// panics (uncomparable merge keys, lists of maps without a merge key being ordered), this code
// answers sensibly instead. Schema lookups never fail: an unknown field has no patch metadata, so
// its maps merge and its lists are replaced, which is upstream's behaviour for schemaless data.
//
// In some corner cases upstream's list order depends on how its Go code works: the order its
// deduplication leaves, Go's stable sort run with a comparator that is not a strict order, and
// lists edited in place while the caller still reads them (kubectl apply reaches this when it
// deletes one list item and adds another). Those details are reproduced so that the results are
// the same; differential tests against the upstream code agree on them.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "patch.hpp"
#include "patch_detail.hpp"
#include "schema.hpp"

namespace kcube::api {

namespace json = boost::json;

namespace {

using patch_detail::describe;
using patch_detail::kMaxDepth;

constexpr std::string_view kDirectiveMarker = "$patch";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList";

// mergepatch's format errors, which the apiserver answers with 400 Bad Request.
constexpr std::string_view kBadRetainKeys = "invalid patch format of retainKeys";
constexpr std::string_view kBadSetElementOrder = "invalid patch format of setElementOrder list";
constexpr std::string_view kBadPrimitiveList = "invalid patch format of primitive list";

[[noreturn]] void fail(std::string message, bool bad_request = false) {
    throw PatchError(std::move(message), bad_request);
}

// The dynamic Go type a decoded JSON value has upstream. Upstream compares these (reflect.TypeOf)
// to decide between merging and replacing, and to require uniform list elements. Integers that
// fit int64 decode as int64, every other number as float64.
enum class GoType { nil, map, slice, string, boolean, int64, float64 };

GoType go_type(const json::value& value) {
    switch (value.kind()) {
        case json::kind::null:
            return GoType::nil;
        case json::kind::object:
            return GoType::map;
        case json::kind::array:
            return GoType::slice;
        case json::kind::string:
            return GoType::string;
        case json::kind::bool_:
            return GoType::boolean;
        case json::kind::int64:
            return GoType::int64;
        default:
            return GoType::float64;
    }
}

std::string_view go_type_name(GoType type) {
    switch (type) {
        case GoType::nil:
            return "<nil>";
        case GoType::map:
            return "map[string]interface {}";
        case GoType::slice:
            return "[]interface {}";
        case GoType::string:
            return "string";
        case GoType::boolean:
            return "bool";
        case GoType::int64:
            return "int64";
        case GoType::float64:
            return "float64";
    }
    return "";
}

// Go's %s of a value in upstream's messages: strings as they are, anything else as fmt's
// "%!s(type=value)" complaint (a nil type prints as "%!s(<nil>)").
std::string go_print(const json::value& value) {
    if (value.is_string()) return std::string(value.get_string());
    if (value.is_null()) return "%!s(<nil>)";
    return "%!s(" + std::string(go_type_name(go_type(value))) + "=" + describe(value) + ")";
}

[[noreturn]] void bad_arg_type(GoType expected, const json::value& actual) {
    const std::string received =
        actual.is_null() ? go_print(actual) : std::string(go_type_name(go_type(actual)));
    fail("expected a " + std::string(go_type_name(expected)) + ", but received a " + received);
}

[[noreturn]] void no_merge_key(const json::object& item, std::string_view merge_key) {
    fail("map: " + describe(item) +
         " does not contain declared merge key: " + std::string(merge_key));
}

[[noreturn]] void bad_patch_type(const json::value& directive, const json::object& map) {
    fail("unknown patch type: " + go_print(directive) + " in map: " + describe(map));
}

bool is_string(const json::value* value, std::string_view text) {
    return value != nullptr && value->is_string() && value->get_string() == text;
}

// Upstream looks list items up by Go `==` on decoded values; the compact JSON text is the same
// relation for scalars (int64 5 and float64 5.0 differ in both) and also works for the maps and
// lists Go cannot compare.
std::string identity(const json::value& value) {
    return json::serialize(value);
}

// "$setElementOrder/containers" → "containers"; anything else after the prefix is malformed.
std::string extract_key(std::string_view key, std::string_view prefix, std::string_view error) {
    const std::size_t slash = key.find('/');
    if (slash == std::string_view::npos || key.substr(0, slash) != prefix) {
        fail(std::string(error), true);
    }
    return std::string(key.substr(slash + 1));
}

bool is_directive_key(std::string_view key) {
    return key == kDirectiveMarker || key == kRetainKeysDirective ||
           key.starts_with(kSetElementOrderPrefix) ||
           key.starts_with(kDeleteFromPrimitiveListPrefix);
}

bool sanitize(json::value& value);

// Cleans patch content that goes into the result as it is. Upstream discards null members
// (discardNullValuesFromPatch) and drops maps that carry a $patch directive (removeDirectives);
// its typed decoding then drops the other directive keys, which kcube must remove itself.
// Returns false when the object is itself a directive and must be dropped.
bool sanitize_object(json::object& object) {
    std::vector<std::string> nulls;
    for (const auto& member : object) {
        if (member.value().is_null()) nulls.emplace_back(member.key());
    }
    for (const auto& key : nulls)
        object.stable_erase(key);
    if (object.contains(kDirectiveMarker)) return false;
    std::vector<std::string> dropped;
    for (auto& member : object) {
        if (is_directive_key(member.key()) || !sanitize(member.value())) {
            dropped.emplace_back(member.key());
        }
    }
    for (const auto& key : dropped)
        object.stable_erase(key);
    return true;
}

// Lists keep their null elements (upstream does) but lose directive maps.
void sanitize_array(json::array& array) {
    json::array kept;
    kept.reserve(array.size());
    for (auto& element : array) {
        if (sanitize(element)) kept.push_back(std::move(element));
    }
    array = std::move(kept);
}

bool sanitize(json::value& value) {
    if (auto* object = value.if_object()) return sanitize_object(*object);
    if (auto* array = value.if_array()) sanitize_array(*array);
    return true;
}

// A map patch used as the new value (`$patch: replace`, or a field whose strategy is
// "replace"): its own directive marker goes, the rest is cleaned.
json::object replacement_map(json::object patch) {
    patch.stable_erase(kDirectiveMarker);
    sanitize_object(patch);
    return patch;
}

json::array replacement_list(json::array patch) {
    sanitize_array(patch);
    return patch;
}

// A field's patch strategy without "retainKeys" (upstream extractRetainKeysPatchStrategy). The
// retainKeys strategy itself needs no handling: the $retainKeys directive acts wherever it is.
std::string other_strategy(std::string_view text) {
    if (text.empty()) return {};
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t comma = text.find(',', start);
        parts.push_back(text.substr(start, comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    constexpr std::string_view kRetainKeys = "retainKeys";
    if (parts.size() == 1) return parts[0] == kRetainKeys ? std::string() : std::string(parts[0]);
    if (parts.size() == 2 && parts[0] == kRetainKeys) return std::string(parts[1]);
    if (parts.size() == 2 && parts[1] == kRetainKeys) return std::string(parts[0]);
    fail("unexpected patch strategy: " + std::string(text));
}

// Upstream sliceElementType: every element of the lists has one Go type, which is not a list.
GoType element_type(std::initializer_list<const json::array*> lists) {
    std::optional<GoType> seen;
    const auto mixed = [&] {
        json::array rendered;
        for (const auto* list : lists)
            rendered.push_back(*list);
        fail("list element types are not identical: " + describe(rendered));
    };
    for (const auto* list : lists) {
        for (const auto& element : *list) {
            const GoType type = go_type(element);
            if (seen.has_value()) {
                if (*seen != type) mixed();
                continue;
            }
            if (type == GoType::slice) fail("lists of lists are not supported", false);
            if (type == GoType::nil) mixed();
            seen = type;
        }
    }
    if (!seen.has_value()) fail("no elements in any of the given slices");
    return *seen;
}

// validateMergeKeyInLists: each item is a map holding the merge key.
void require_merge_keys(const json::array& list, std::string_view merge_key) {
    for (const auto& item : list) {
        const auto* object = item.if_object();
        if (object == nullptr) bad_arg_type(GoType::map, item);
        if (!object->contains(merge_key)) no_merge_key(*object, merge_key);
    }
}

// How list items are identified when ordering and partitioning: by their merge key's value when
// they are maps with a merge key, by their whole value otherwise.
class ItemKey {
  public:
    ItemKey(std::string_view merge_key, bool by_merge_key)
        : merge_key_(merge_key), by_merge_key_(by_merge_key) {}

    std::string operator()(const json::value& item) const {
        if (!by_merge_key_) return identity(item);
        const auto* object = item.if_object();
        const json::value* value = object != nullptr ? object->if_contains(merge_key_) : nullptr;
        // A missing key reads as nil upstream, so it matches a null one.
        return value != nullptr ? identity(*value) : identity(nullptr);
    }

  private:
    std::string_view merge_key_;
    bool by_merge_key_;
};

using Positions = std::unordered_map<std::string, std::size_t>;

// The first position of every item key in `list` (upstream `index` returns the first match).
Positions positions_of(const json::array& list, const ItemKey& key) {
    Positions positions;
    for (std::size_t i = 0; i < list.size(); ++i)
        positions.try_emplace(key(list[i]), i);
    return positions;
}

std::optional<std::size_t> position(const Positions& positions, const std::string& key) {
    const auto it = positions.find(key);
    if (it == positions.end()) return std::nullopt;
    return it->second;
}

// Go's sort.SliceStable (insertion sort on blocks of 20, then SymMerge), reproduced step by step
// because upstream sorts with a comparator that is not a strict weak order: an item the order
// list does not mention is "less" than anything. Such items occur (e.g. with an empty
// $setElementOrder) and Go's algorithm decides where they end up, so only the same algorithm
// gives the same result.
class GoStableSort {
  public:
    // `ranks[i]`: the position of item i in the order list, if it is there.
    explicit GoStableSort(std::vector<std::optional<std::size_t>> ranks)
        : ranks_(std::move(ranks)), permutation_(ranks_.size()) {
        for (std::size_t i = 0; i < permutation_.size(); ++i)
            permutation_[i] = i;
    }

    // The original indices of the items, in sorted order.
    std::vector<std::size_t> sort() && {
        const std::size_t n = ranks_.size();
        std::size_t block = 20;
        std::size_t a = 0;
        std::size_t b = block;
        for (; b <= n; a = b, b += block)
            insertion_sort(a, b);
        insertion_sort(a, n);
        for (; block < n; block *= 2) {
            a = 0;
            b = 2 * block;
            for (; b <= n; a = b, b += 2 * block)
                sym_merge(a, a + block, b);
            if (const std::size_t m = a + block; m < n) sym_merge(a, m, n);
        }
        return std::move(permutation_);
    }

  private:
    bool less(std::size_t i, std::size_t j) const {
        if (ranks_[i].has_value() && ranks_[j].has_value()) return *ranks_[i] < *ranks_[j];
        return true;
    }

    void swap(std::size_t i, std::size_t j) {
        std::swap(ranks_[i], ranks_[j]);
        std::swap(permutation_[i], permutation_[j]);
    }

    void insertion_sort(std::size_t a, std::size_t b) {
        for (std::size_t i = a + 1; i < b; ++i) {
            for (std::size_t j = i; j > a && less(j, j - 1); --j)
                swap(j, j - 1);
        }
    }

    void swap_range(std::size_t a, std::size_t b, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            swap(a + i, b + i);
    }

    void rotate(std::size_t a, std::size_t m, std::size_t b) {
        std::size_t i = m - a;
        std::size_t j = b - m;
        while (i != j) {
            if (i > j) {
                swap_range(m - i, m, j);
                i -= j;
            } else {
                swap_range(m - i, m + j - i, i);
                j -= i;
            }
        }
        swap_range(m - i, m, i);
    }

    void sym_merge(std::size_t a, std::size_t m, std::size_t b) {
        if (m - a == 1) {
            std::size_t i = m;
            std::size_t j = b;
            while (i < j) {
                const std::size_t h = (i + j) / 2;
                if (less(h, a)) {
                    i = h + 1;
                } else {
                    j = h;
                }
            }
            for (std::size_t k = a; k + 1 < i; ++k)
                swap(k, k + 1);
            return;
        }
        if (b - m == 1) {
            std::size_t i = a;
            std::size_t j = m;
            while (i < j) {
                const std::size_t h = (i + j) / 2;
                if (!less(m, h)) {
                    i = h + 1;
                } else {
                    j = h;
                }
            }
            for (std::size_t k = m; k > i; --k)
                swap(k, k - 1);
            return;
        }
        const std::size_t mid = (a + b) / 2;
        const std::size_t n = mid + m;
        std::size_t start = m > mid ? n - b : a;
        std::size_t r = m > mid ? mid : m;
        const std::size_t p = n - 1;
        while (start < r) {
            const std::size_t c = (start + r) / 2;
            if (!less(p - c, c)) {
                start = c + 1;
            } else {
                r = c;
            }
        }
        const std::size_t end = n - start;
        if (start < m && m < end) rotate(start, m, end);
        if (a < start && start < mid) sym_merge(a, start, mid);
        if (mid < end && end < b) sym_merge(mid, end, b);
    }

    std::vector<std::optional<std::size_t>> ranks_;
    std::vector<std::size_t> permutation_;
};

// normalizeSliceOrder: `list` sorted by each item's position in an order list.
json::array sort_by(json::array list, const Positions& order, const ItemKey& key) {
    std::vector<std::optional<std::size_t>> ranks;
    ranks.reserve(list.size());
    for (const auto& item : list)
        ranks.push_back(position(order, key(item)));
    json::array sorted;
    sorted.reserve(list.size());
    for (std::size_t index : GoStableSort(std::move(ranks)).sort()) {
        sorted.push_back(std::move(list[index]));
    }
    return sorted;
}

// normalizeElementOrder: the patch's items in the patch's order, the server-only items in the
// live order, interleaved (mergeSortedSlice): a server-only item goes first only when the live
// list has it before the patch item being compared.
json::array normalize_order(json::array patch_items, json::array server_only,
                            const json::array& patch_order, const json::array& server_order,
                            std::string_view merge_key, bool maps) {
    const bool by_merge_key = maps && !merge_key.empty();
    if (by_merge_key) {
        require_merge_keys(patch_items, merge_key);
        require_merge_keys(patch_order, merge_key);
        require_merge_keys(server_only, merge_key);
        require_merge_keys(server_order, merge_key);
    }
    const ItemKey key(merge_key, by_merge_key);
    const Positions server_positions = positions_of(server_order, key);
    json::array right = sort_by(std::move(patch_items), positions_of(patch_order, key), key);
    json::array left = sort_by(std::move(server_only), server_positions, key);

    const auto live_position = [&](const json::value& item) {
        return position(server_positions, key(item));
    };
    json::array merged;
    merged.reserve(left.size() + right.size());
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < left.size() && j < right.size()) {
        const auto l = live_position(left[i]);
        const auto r = live_position(right[j]);
        if (l.has_value() && r.has_value() && *l < *r) {
            merged.push_back(std::move(left[i++]));
        } else {
            merged.push_back(std::move(right[j++]));
        }
    }
    for (; i < left.size(); ++i)
        merged.push_back(std::move(left[i]));
    for (; j < right.size(); ++j)
        merged.push_back(std::move(right[j]));
    return merged;
}

// Splits `merged` into the items `by` mentions and the rest (partitionPrimitivesByPresentInList /
// partitionMapsByPresentInList).
std::pair<json::array, json::array> split_mentioned(json::array merged, const json::array& by,
                                                    std::string_view merge_key) {
    std::unordered_set<std::string> mentioned;
    if (merge_key.empty()) {
        for (const auto& item : by)
            mentioned.insert(identity(item));
    } else {
        for (std::size_t i = 0; i < by.size(); ++i) {
            const auto* object = by[i].if_object();
            if (object == nullptr) fail("value for key " + std::to_string(i) + " is not a map");
            if (const json::value* value = object->if_contains(merge_key)) {
                mentioned.insert(identity(*value));
            }
        }
    }
    json::array in;
    json::array out;
    for (auto& item : merged) {
        std::string key;
        if (merge_key.empty()) {
            key = identity(item);
        } else {
            const auto* object = item.if_object();
            if (object == nullptr) bad_arg_type(GoType::map, item);
            const json::value* value = object->if_contains(merge_key);
            if (value == nullptr) no_merge_key(*object, merge_key);
            key = identity(*value);
        }
        (mentioned.contains(key) ? in : out).push_back(std::move(item));
    }
    return {std::move(in), std::move(out)};
}

// validatePatchWithSetOrderList: the patch list's items (ignoring directives) appear in the
// $setElementOrder list, in the same relative order.
void validate_order(const json::array& patch_list, const json::array& order,
                    std::string_view merge_key) {
    if (order.empty() || patch_list.empty()) return;
    std::vector<const json::value*> items;
    for (const auto& item : patch_list) {
        if (!merge_key.empty()) {
            const auto* object = item.if_object();
            if (object == nullptr) bad_arg_type(GoType::map, item);
            if (is_string(object->if_contains(kDirectiveMarker), "delete")) continue;
        }
        items.push_back(&item);
    }
    const auto same_item = [&](const json::value& item, const json::value& ordered) {
        if (merge_key.empty()) return item == ordered;
        const auto* left = item.if_object();
        const auto* right = ordered.if_object();
        if (right == nullptr) bad_arg_type(GoType::map, ordered);
        const json::value* left_key = left->if_contains(merge_key);
        if (left_key == nullptr) no_merge_key(*left, merge_key);
        const json::value* right_key = right->if_contains(merge_key);
        if (right_key == nullptr) no_merge_key(*right, merge_key);
        return *left_key == *right_key;
    };
    std::size_t p = 0;
    std::size_t o = 0;
    while (p < items.size() && o < order.size()) {
        const auto* object = items[p]->if_object();
        if (object != nullptr && object->contains(kDirectiveMarker)) {
            ++p;
            continue;
        }
        if (same_item(*items[p], order[o])) ++p;
        ++o;
    }
    if (p < items.size() && o >= order.size()) {
        fail("The order in patch list:\n" + describe(patch_list) + "\n doesn't match " +
             std::string(kSetElementOrderPrefix) + " list:\n" + describe(order) + "\n");
    }
}

// What the schema says about one field: the schema of its value and its patch metadata.
struct FieldMeta {
    const Schema* schema = nullptr;  // resolved; nullptr when unknown
    std::string strategy;            // "merge", "replace" or "" (retainKeys taken out)
    std::string merge_key;
};

class Merger {
  public:
    explicit Merger(const SchemaSet& set) : set_(set) {}

    // mergeMap: `patch` merged into `original`, whose schema is `schema`.
    json::object merge_map(json::object original, json::object patch, const Schema* schema) const {
        if (const json::value* directive = patch.if_contains(kDirectiveMarker)) {
            return map_directive(*directive, std::move(patch));
        }
        apply_retain_keys(original, patch);
        merge_ordered_lists(original, patch, schema);
        for (const auto& member : patch) {
            merge_field(original, member.key(), member.value(), schema);
        }
        return original;
    }

  private:
    // Patch metadata may sit on the field's own node (a $ref with siblings, as the OpenAPI
    // documents carry it) or on the definition it refers to.
    FieldMeta field_meta(const Schema* schema, std::string_view field) const {
        const Schema* object = set_.resolve(schema);
        if (object == nullptr) return {};
        const Schema* node = object->property(field);
        if (node == nullptr) node = object->additional_properties.get();
        if (node == nullptr) return {};
        const Schema* target = set_.resolve(node);
        const auto pick = [&](const std::string Schema::*member) -> std::string_view {
            if (!(node->*member).empty()) return node->*member;
            return target != nullptr ? std::string_view(target->*member) : std::string_view();
        };
        return {target, other_strategy(pick(&Schema::patch_strategy)),
                std::string(pick(&Schema::patch_merge_key))};
    }

    // handleDirectiveInMergeMap. (`$patch: merge` is not valid on a map upstream either.)
    static json::object map_directive(const json::value& directive, json::object patch) {
        if (is_string(&directive, "replace")) return replacement_map(std::move(patch));
        if (is_string(&directive, "delete")) return {};
        bad_patch_type(directive, patch);
    }

    // applyRetainKeysDirective: every key the patch sets must be retained; the original keeps
    // only the retained keys.
    static void apply_retain_keys(json::object& original, json::object& patch) {
        const json::value* found = patch.if_contains(kRetainKeysDirective);
        if (found == nullptr) return;
        const json::value directive = *found;
        patch.stable_erase(kRetainKeysDirective);
        const auto* list = directive.if_array();
        if (list == nullptr) fail(std::string(kBadRetainKeys), true);
        std::set<std::string, std::less<>> retained;
        for (const auto& key : *list) {
            if (key.is_string()) retained.emplace(key.get_string());
        }
        for (const auto& member : patch) {
            const std::string_view key = member.key();
            if (member.value().is_null() || key.starts_with(kDeleteFromPrimitiveListPrefix) ||
                key.starts_with(kSetElementOrderPrefix)) {
                continue;
            }
            if (!retained.contains(key)) fail(std::string(kBadRetainKeys), true);
        }
        std::vector<std::string> cleared;
        for (const auto& member : original) {
            if (!retained.contains(member.key())) cleared.emplace_back(member.key());
        }
        for (const auto& key : cleared)
            original.stable_erase(key);
    }

    // mergePatchIntoOriginal: each `$setElementOrder/<field>` together with the patch's list for
    // that field, which is then taken out of the patch.
    void merge_ordered_lists(json::object& original, json::object& patch,
                             const Schema* schema) const {
        std::vector<std::string> directives;
        for (const auto& member : patch) {
            if (member.key().starts_with(kSetElementOrderPrefix)) {
                directives.emplace_back(member.key());
            }
        }
        for (const auto& directive : directives) {
            const json::value order = patch.at(directive);
            patch.stable_erase(directive);
            if (!order.is_array()) bad_arg_type(GoType::slice, order);
            const std::string field =
                extract_key(directive, kSetElementOrderPrefix, kBadSetElementOrder);
            merge_ordered_list(original, patch, field, order.get_array(), schema);
        }
    }

    void merge_ordered_list(json::object& original, json::object& patch, const std::string& field,
                            const json::array& order, const Schema* schema) const {
        const json::value* original_value = original.if_contains(field);
        const json::value* patch_value = patch.if_contains(field);
        if (original_value != nullptr && !original_value->is_array()) {
            bad_arg_type(GoType::slice, *original_value);
        }
        if (patch_value != nullptr && !patch_value->is_array()) {
            bad_arg_type(GoType::slice, *patch_value);
        }
        const json::array original_list =
            original_value != nullptr ? original_value->get_array() : json::array();
        const json::array patch_list =
            patch_value != nullptr ? patch_value->get_array() : json::array();
        const FieldMeta meta = field_meta(schema, field);
        validate_order(patch_list, order, meta.merge_key);

        json::array merged;
        json::array live_order = original_list;
        if (original_value != nullptr && patch_value != nullptr) {
            merged = merge_list(original_list, patch_list, meta, false, field, &live_order);
        } else if (original_value != nullptr) {
            merged = original_list;
        } else if (patch_value != nullptr) {
            merged = replacement_list(patch_list);
        } else {
            return;
        }
        const GoType type = element_type({&original_list, &patch_list});
        auto [ordered, server_only] = split_mentioned(std::move(merged), order, meta.merge_key);
        original[field] = normalize_order(std::move(ordered), std::move(server_only), order,
                                          live_order, meta.merge_key, type == GoType::map);
        patch.stable_erase(field);
    }

    // One member of a patch map (the body of mergeMap's loop).
    void merge_field(json::object& original, std::string_view key, const json::value& patch_value,
                     const Schema* schema) const {
        std::string field(key);
        bool delete_list = false;
        if (key.starts_with(kDeleteFromPrimitiveListPrefix)) {
            field = extract_key(key, kDeleteFromPrimitiveListPrefix, kBadPrimitiveList);
            delete_list = true;
        }
        if (patch_value.is_null()) {
            original.stable_erase(field);
            return;
        }
        json::value* current = original.if_contains(field);
        const GoType type = go_type(patch_value);
        if (current == nullptr || go_type(*current) != type) {
            // A deletion list never creates or retypes its field.
            if (delete_list) return;
            json::value value = patch_value;
            if (sanitize(value)) {
                original[field] = std::move(value);
            } else {
                original.stable_erase(field);
            }
            return;
        }
        if (type == GoType::map) {
            const FieldMeta meta = field_meta(schema, field);
            if (meta.strategy == "replace") {
                *current = replacement_map(patch_value.get_object());
            } else {
                *current = merge_map(std::move(current->get_object()), patch_value.get_object(),
                                     meta.schema);
            }
        } else if (type == GoType::slice) {
            const FieldMeta meta = field_meta(schema, field);
            *current = merge_list(std::move(current->get_array()), patch_value.get_array(), meta,
                                  delete_list, field);
        } else {
            *current = patch_value;
        }
    }

    // mergeSliceHandler: lists merge under the "merge" strategy (deletion lists always do);
    // otherwise the patch's list replaces the original.
    json::array merge_list(json::array original, const json::array& patch, const FieldMeta& meta,
                           bool delete_list, std::string_view field,
                           json::array* live_order = nullptr) const {
        if (meta.strategy != "merge" && !delete_list) return replacement_list(patch);
        return merge_slice(std::move(original), patch, items_of(set_, meta.schema), meta.merge_key,
                           delete_list, field, live_order);
    }

    // mergeSlice. Upstream edits the original list in place, and Go slices share storage, so
    // its caller's view of the live list (which $setElementOrder then orders by) changes with
    // it; when `live_order` is given it receives that view, where it differs from the original.
    json::array merge_slice(json::array original, const json::array& patch, const Schema* items,
                            const std::string& merge_key, bool delete_list, std::string_view field,
                            json::array* live_order) const {
        if (original.empty() && patch.empty()) return original;
        const GoType type = element_type({&original, &patch});
        if (type != GoType::map) {
            if (delete_list) return without(std::move(original), patch);
            json::array merged = go_union(original, patch);
            // With an empty patch list upstream deduplicates the original list itself (Go's
            // append returns the same slice), which is then both the result and the live order.
            if (patch.empty()) {
                if (live_order != nullptr) *live_order = merged;
                return merged;
            }
            auto [in_patch, server_only] = split_mentioned(std::move(merged), patch, merge_key);
            return normalize_order(std::move(in_patch), std::move(server_only), patch, original,
                                   merge_key, false);
        }
        if (merge_key.empty()) {
            fail("cannot merge lists without merge key for " + std::string(field));
        }
        ListDirectives directives = apply_list_directives(std::move(original), patch, merge_key);
        json::array& base = directives.base;
        json::array& rest = directives.rest;
        json::array merged = merge_by_key(base, rest, merge_key, items);
        if (live_order != nullptr && directives.removed > 0) {
            // The first items appended land in the slots the removals freed, which the caller
            // still sees (unless the list was replaced, which writes a new slice).
            json::array& live = directives.live;
            if (!directives.replaced) {
                const std::size_t appended = merged.size() - base.size();
                for (std::size_t i = 0; i < std::min(directives.removed, appended); ++i) {
                    live[base.size() + i] = merged[base.size() + i];
                }
            }
            *live_order = std::move(live);
        }
        auto [in_patch, server_only] = split_mentioned(std::move(merged), rest, merge_key);
        return normalize_order(std::move(in_patch), std::move(server_only), rest, base, merge_key,
                               true);
    }

    struct ListDirectives {
        json::array base;  // the original list after the directives
        json::array rest;  // the patch items that are not directives
        std::size_t removed = 0;
        bool replaced = false;
        // After removals: the original list's storage as upstream leaves it, the kept items
        // followed by what Go's in-place deletion leaves behind in the freed slots.
        json::array live;
    };

    // mergeSliceWithSpecialElements: `$patch: delete` items remove every original item with
    // their merge key; `$patch: replace` makes the other patch items the whole list.
    static ListDirectives apply_list_directives(json::array original, const json::array& patch,
                                                std::string_view merge_key) {
        ListDirectives result;
        std::vector<std::string> deletions;  // merge key identities, in patch order
        for (const auto& value : patch) {
            const json::object& item = value.get_object();
            const json::value* directive = item.if_contains(kDirectiveMarker);
            if (directive == nullptr) {
                result.rest.push_back(value);
            } else if (is_string(directive, "delete")) {
                const json::value* key = item.if_contains(merge_key);
                if (key == nullptr) no_merge_key(item, merge_key);
                deletions.push_back(identity(*key));
            } else if (is_string(directive, "replace")) {
                result.replaced = true;  // keep going: the other directives are still checked
            } else if (is_string(directive, "merge")) {
                fail("merging lists cannot yet be specified in the patch");
            } else {
                bad_patch_type(*directive, item);
            }
        }
        remove_items(original, deletions, merge_key, result);
        if (result.replaced) {
            result.base = replacement_list(std::move(result.rest));
            result.rest = json::array();
        } else {
            result.base = std::move(original);
        }
        return result;
    }

    // deleteMatchingEntries for each deletion in turn, which upstream does in place: removing an
    // item shifts the later ones down and leaves the last slot holding what was last before.
    // Fills `result.removed` and `result.live`, and leaves the kept items in `original`.
    static void remove_items(json::array& original, const std::vector<std::string>& deletions,
                             std::string_view merge_key, ListDirectives& result) {
        if (deletions.empty()) return;
        std::unordered_map<std::string, std::vector<std::size_t>> positions;
        for (std::size_t i = 0; i < original.size(); ++i) {
            if (const json::value* key = original[i].get_object().if_contains(merge_key)) {
                positions[identity(*key)].push_back(i);
            }
        }
        std::vector<bool> gone(original.size(), false);
        std::vector<std::size_t> leftover(original.size());  // slot → original index left there
        std::size_t size = original.size();
        std::size_t last = size;  // one past the last kept item
        for (const auto& deletion : deletions) {
            const auto found = positions.find(deletion);
            if (found == positions.end()) continue;
            for (std::size_t index : found->second) {
                if (gone[index]) continue;
                leftover[size - 1] = last - 1;
                gone[index] = true;
                --size;
                while (last > 0 && gone[last - 1])
                    --last;
            }
        }
        result.removed = original.size() - size;
        if (result.removed == 0) return;
        json::array kept;
        for (std::size_t i = 0; i < original.size(); ++i) {
            if (!gone[i]) kept.push_back(original[i]);
        }
        result.live = kept;
        for (std::size_t slot = size; slot < original.size(); ++slot) {
            result.live.push_back(original[leftover[slot]]);
        }
        original = std::move(kept);
    }

    // mergeSliceWithoutSpecialElements: a patch item merges into the first original item with
    // the same merge key value, or is appended.
    json::array merge_by_key(json::array original, const json::array& patch,
                             std::string_view merge_key, const Schema* items) const {
        std::unordered_map<std::string, std::size_t> first;
        for (std::size_t i = 0; i < original.size(); ++i) {
            if (const json::value* key = original[i].get_object().if_contains(merge_key)) {
                first.try_emplace(identity(*key), i);
            }
        }
        for (const auto& value : patch) {
            const json::object& item = value.get_object();
            const json::value* key = item.if_contains(merge_key);
            if (key == nullptr) no_merge_key(item, merge_key);
            const auto [it, added] = first.try_emplace(identity(*key), original.size());
            if (!added) {
                json::value& target = original[it->second];
                target = merge_map(std::move(target.get_object()), item, items);
                continue;
            }
            json::value appended = value;
            if (sanitize(appended)) {
                original.push_back(std::move(appended));
            } else {
                first.erase(it);
            }
        }
        return original;
    }

    // Primitive merge lists: upstream's deduplicateScalars(original ++ patch), which removes a
    // duplicate by moving the last element into its place. That order shows through where the
    // result is not fully re-sorted afterwards (an empty patch list, an empty $setElementOrder),
    // so it is reproduced exactly, in O(n log n) rather than upstream's O(n²).
    static json::array go_union(const json::array& original, const json::array& patch) {
        json::array items;
        items.reserve(original.size() + patch.size());
        for (const auto* list : {&original, &patch}) {
            for (const auto& item : *list)
                items.push_back(item);
        }
        if (items.empty()) return items;
        std::vector<std::string> keys;
        keys.reserve(items.size());
        std::unordered_map<std::string, std::set<std::size_t>> where;
        for (std::size_t i = 0; i < items.size(); ++i) {
            keys.push_back(identity(items[i]));
            where[keys.back()].insert(i);
        }
        std::size_t last = items.size() - 1;
        for (std::size_t i = 0; i < last; ++i) {
            // Every later copy of item i, in increasing position; a copy moved into a freed slot
            // is looked at again, as upstream's j-- does.
            std::set<std::size_t>& copies = where[keys[i]];
            for (auto it = copies.upper_bound(i); it != copies.end(); it = copies.upper_bound(i)) {
                const std::size_t j = *it;
                copies.erase(it);
                if (j != last) {
                    std::set<std::size_t>& moved = where[keys[last]];
                    moved.erase(last);
                    moved.insert(j);
                    keys[j] = keys[last];
                    items[j] = std::move(items[last]);
                }
                --last;
            }
        }
        items.resize(last + 1);
        return items;
    }

    // deleteFromSlice: `$deleteFromPrimitiveList/<field>` removes every occurrence.
    static json::array without(json::array original, const json::array& doomed) {
        std::unordered_set<std::string> remove;
        for (const auto& item : doomed)
            remove.insert(identity(item));
        json::array kept;
        for (auto& item : original) {
            if (!remove.contains(identity(item))) kept.push_back(std::move(item));
        }
        return kept;
    }

    const SchemaSet& set_;
};

}  // namespace

json::value apply_strategic_merge_patch(const json::value& document, const json::value& patch,
                                        const SchemaSet& schemas, const Schema* schema) {
    // Upstream decodes the patch into a map: null leaves it empty, anything else but an object
    // is a bad request.
    if (patch.is_null()) return document;
    if (!patch.is_object()) {
        fail("json: cannot unmarshal " + std::string(patch_detail::json_type_name(patch)) +
                 " into Go value of type map[string]interface {}",
             true);
    }
    if (!document.is_object()) fail("invalid JSON document");
    patch_detail::require_depth(document, kMaxDepth, "the document", false);
    patch_detail::require_depth(patch, kMaxDepth, "the patch", true);
    return Merger(schemas).merge_map(document.get_object(), patch.get_object(), schema);
}

}  // namespace kcube::api
