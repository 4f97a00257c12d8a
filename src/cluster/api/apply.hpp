#pragma once
// Server-side apply and metadata.managedFields, as upstream's structured-merge-diff
// (sigs.k8s.io/structured-merge-diff, "SMD") and the apiserver's field manager
// (k8s.io/apimachinery/pkg/util/managedfields) do them, so that kubectl's `apply --server-side`,
// its conflict messages and `--show-managed-fields` read exactly as against upstream.
//
// Every write records which manager set which fields (an "Update" entry per manager, API version
// and subresource); an apply merges a partial configuration into the live object, removes what
// the same manager applied before but no longer does, and refuses (409) to change a value that
// another manager owns unless forced. Field ownership is a set of field paths in the FieldsV1
// JSON format, computed per the kind's schema: x-kubernetes-list-type / list-map-keys /
// map-type decide which lists and maps are owned item by item and which as one value.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kcube::api {

class SchemaSet;
struct Schema;

// One step of a field path: a field name (FieldsV1 "f:name"), a map-list item by its key fields
// ("k:{...}"), a set-list item by its value ("v:..."), or a position ("i:N").
struct PathElement {
    // Declaration order is SMD's sort order: fields, then keys, then values, then indexes.
    enum class Kind { kField, kKey, kValue, kIndex };

    Kind kind = Kind::kField;
    std::string name;                                             // kField
    std::vector<std::pair<std::string, boost::json::value>> key;  // kKey, sorted by field name
    boost::json::value value;                                     // kValue
    std::int64_t index = 0;                                       // kIndex

    static PathElement field(std::string name);
    // `fields` in any order; they are sorted by name, as upstream keeps them.
    static PathElement key_of(std::vector<std::pair<std::string, boost::json::value>> fields);
    static PathElement value_of(boost::json::value value);
    static PathElement index_of(std::int64_t index);
};

// SMD's total order of path elements (<0, 0, >0).
int compare(const PathElement& a, const PathElement& b);
inline bool operator<(const PathElement& a, const PathElement& b) {
    return compare(a, b) < 0;
}
inline bool operator==(const PathElement& a, const PathElement& b) {
    return compare(a, b) == 0;
}

using FieldPath = std::vector<PathElement>;

// Paths as upstream prints them in conflicts: `.spec.containers[name="web"].ports`,
// `[=value]` for set items, `[3]` for positions.
std::string path_string(const FieldPath& path);

// A set of field paths (SMD's fieldpath.Set): `members` are paths that end here, `children` the
// sets below a path element. A path can be both a member and have children (a map-list item
// owned as a whole and field by field: FieldsV1 writes the item itself as ".").
class FieldSet {
  public:
    struct Child;

    void insert(const FieldPath& path);
    void insert_member(const PathElement& element);
    // The set below `element`, created if absent.
    FieldSet& descend(const PathElement& element);

    bool empty() const;
    bool has(const FieldPath& path) const;
    bool has_member(const PathElement& element) const;
    // The set below `element`, or nullptr.
    const FieldSet* child(const PathElement& element) const;

    const std::vector<PathElement>& members() const { return members_; }
    const std::vector<Child>& children() const { return children_; }

    FieldSet union_with(const FieldSet& other) const;
    FieldSet intersection(const FieldSet& other) const;
    // Removes other's members, level by level; a member of `other` keeps this set's children.
    FieldSet difference(const FieldSet& other) const;
    // As difference(), and a member of `other` also removes everything below it.
    FieldSet recursive_difference(const FieldSet& other) const;

    // Every path, members before children, in SMD's order (the order conflicts are listed in).
    void for_each_path(const std::function<void(const FieldPath&)>& visit) const;
    std::vector<FieldPath> paths() const;

    // The FieldsV1 JSON ({"f:data": {".": {}, "f:mode": {}}}), keys in upstream's order.
    boost::json::object to_fields_v1() const;
    // Parses FieldsV1; unknown element prefixes are skipped as upstream does. Throws
    // std::invalid_argument on malformed input.
    static FieldSet from_fields_v1(const boost::json::object& fields);

    friend bool operator==(const FieldSet& a, const FieldSet& b);

  private:
    std::vector<PathElement> members_;  // sorted, unique
    std::vector<Child> children_;       // sorted by element, unique
};

struct FieldSet::Child {
    PathElement element;
    FieldSet set;
};

// The fields `object` sets according to `schema` (SMD's ToFieldSet): scalars, atomic lists and
// atomic maps are leaves; map-list items are "k:" elements keyed by x-kubernetes-list-map-keys,
// set-list items "v:" elements; each list item and each map entry is itself a member. A null
// `schema` means "no schema": objects are granular, arrays atomic (SMD's deduced type).
FieldSet field_set_of(const boost::json::value& object, const SchemaSet& schemas,
                      const Schema* schema);

// What the field manager needs to know about the kind being written.
struct ManagedScope {
    const SchemaSet& schemas;
    const Schema* schema = nullptr;  // the kind's definition; nullptr: no schema (deduced)
    std::string api_version;         // "apps/v1": recorded in entries, checked on apply
    std::string kind;                // "Deployment": checked on apply
    std::string subresource;         // "", "status" or "scale"
    // Built-in kinds are Go structs upstream: a struct field is never absent there, so the
    // field manager treats a missing struct as {} (custom resources are plain JSON: false).
    bool typed = true;
    // The kind has a status subresource: writes to the main resource never own .status, and
    // writes to /status own nothing but .status (upstream's per-strategy "reset fields").
    bool status_subresource = false;
};

// Server-side apply of `applied` (the request body as JSON) by `manager` onto `live` (nullptr:
// the object does not exist yet, apply creates it). Returns the object to store, with its new
// metadata.managedFields. Throws ApiError: 400 for a configuration of another kind or one that
// sets managedFields, 409 with FieldManagerConflict causes when another manager owns a value
// the configuration changes (unless `force`), 500 for a configuration the schema cannot
// represent (e.g. a map-list item without its keys), as upstream.
boost::json::object apply_configuration(const boost::json::object* live,
                                        const boost::json::object& applied,
                                        const std::string& manager, bool force,
                                        const ManagedScope& scope);

// The 400 upstream answers before applying anything: `applied` names another kind or API
// version than the URL (scope), or sets metadata.managedFields. apply_configuration() checks
// this too; callers that prune unknown fields first call it before pruning.
void check_apply_target(const boost::json::object& applied, const ManagedScope& scope);

// Records a non-apply write (create, update, patch) in `updated`'s metadata.managedFields: an
// "Update" entry for `manager` ("" is upstream's "unknown") owning the fields this write added
// or changed, which other managers lose. `old` is the stored object (nullptr for a create).
// Managed fields the request set explicitly replace the stored ones; an empty list resets
// them. Never throws for object content: if the fields cannot be computed the stored
// managedFields are kept, as upstream's UpdateNoErrors does.
void record_update(const boost::json::object* old, boost::json::object& updated,
                   const std::string& manager, const ManagedScope& scope);

// The body of an `application/apply-patch+yaml` request (YAML or JSON) as a JSON object, with
// YAML 1.1 scalars typed as upstream's YAML-to-JSON conversion types them (yes/no/on/off are
// booleans, 0x1F and 0777 integers, timestamps stay strings). Throws ApiError 400.
boost::json::object parse_apply_patch(std::string_view body);

}  // namespace kcube::api
