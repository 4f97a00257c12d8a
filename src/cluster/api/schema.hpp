#pragma once
// Structural schemas of API types: a subset of OpenAPI v3 with Kubernetes' extensions. One model
// serves strategic merge patch (merge keys/strategies), server-side apply (list types and map
// keys), unknown-field detection and pruning, CRD validation, `kubectl explain` (OpenAPI v3
// export) and discovery. Built-in definitions are kcube's own data (src/cluster/api/schemas/).
#include <boost/json/fwd.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::api {

// One entry of x-kubernetes-group-version-kind: the API kinds a definition is served as.
struct GroupVersionKind {
    std::string group;  // "" for the core group
    std::string version;
    std::string kind;

    friend bool operator==(const GroupVersionKind&, const GroupVersionKind&) = default;
};

struct Schema {
    // A reference to a named definition (e.g. "io.k8s.api.core.v1.PodSpec"); when set, the type
    // fields are unused and SchemaSet::resolve() follows it. A field that refers to a definition
    // may still carry its own description, nullable and patch/list metadata here (OpenAPI v3
    // writes such a field as {"allOf": [{"$ref": ...}], ...}).
    std::string ref;

    std::string type;    // "object", "array", "string", "integer", "number", "boolean", "" = any
    std::string format;  // "int32", "int64", "date-time", "byte", "double", ...
    std::string description;
    std::vector<std::string> enum_values;
    std::vector<std::string> required;

    std::map<std::string, std::shared_ptr<const Schema>> properties;  // type object
    std::shared_ptr<const Schema> additional_properties;              // map[string]X
    std::shared_ptr<const Schema> items;                              // type array

    bool int_or_string = false;            // x-kubernetes-int-or-string
    bool preserve_unknown_fields = false;  // x-kubernetes-preserve-unknown-fields
    bool embedded_resource = false;        // x-kubernetes-embedded-resource
    bool nullable = false;

    // Strategic merge patch: x-kubernetes-patch-strategy ("merge", "replace", "retainKeys",
    // "merge,retainKeys") and x-kubernetes-patch-merge-key.
    std::string patch_strategy;
    std::string patch_merge_key;
    // Server-side apply: x-kubernetes-list-type ("atomic", "set", "map"),
    // x-kubernetes-list-map-keys, x-kubernetes-map-type ("granular", "atomic").
    std::string list_type;
    std::vector<std::string> list_map_keys;
    std::string map_type;

    // x-kubernetes-group-version-kind, on the definitions of top-level kinds and their lists.
    std::vector<GroupVersionKind> group_version_kinds;

    // Protobuf wire mapping, kcube's own extension "x-kcube-proto" (see schemas/README.md), used
    // to decode application/vnd.kubernetes.protobuf request bodies into the JSON upstream would
    // produce. On a property: its field number in upstream's generated.proto (0 = not in the
    // protobuf message, e.g. TypeMeta's apiVersion/kind) and whether a decoded zero value stays in
    // the JSON (the Go field is a pointer or its json tag lacks omitempty). gogo-protobuf writes
    // non-pointer scalars even when zero, so without keepZero the JSON would grow fields upstream
    // omits.
    int proto_tag = 0;
    bool proto_keep_zero = false;
    // Go writes null for this property when the wire has none: a pointer, slice, map or []byte
    // whose json tag lacks omitempty (e.g. Role.rules, TokenRequestSpec.expirationSeconds).
    bool proto_null_if_absent = false;
    // The property belongs to an embedded Go struct that JSON inlines but protobuf carries as a
    // nested message at this field number (e.g. Volume's VolumeSource at 2); 0 = a direct field.
    int proto_embedded_in = 0;
    // When the JSON shape alone does not say how the value is encoded: "duration" (metav1.Duration,
    // a message {1: int64 nanoseconds} written as "1h0m0s") or "wrappedList" (a Go named slice
    // type such as metav1.Verbs: a message whose repeated field 1 holds the items).
    std::string proto_kind;

    // This node's own property `name` (nullptr if none), as written: possibly a ref node that
    // carries the field's metadata. property_of() also follows refs.
    const Schema* property(std::string_view name) const;
};

// Named definitions, resolving references.
class SchemaSet {
  public:
    void add(std::string name, std::shared_ptr<const Schema> schema);
    const Schema* find(std::string_view name) const;
    // `node` itself, or the definition its `ref` names (nullptr if unknown).
    const Schema* resolve(const Schema* node) const;
    const std::map<std::string, std::shared_ptr<const Schema>, std::less<>>& definitions() const {
        return definitions_;
    }
    // Parses OpenAPI v3 `components.schemas`-shaped JSON ({name: schema, ...}), with "$ref":
    // "#/components/schemas/NAME" references and the x-kubernetes-* extensions above. Keywords
    // outside this model (pattern, minimum, oneOf...) are ignored; a known keyword of the wrong
    // JSON type throws std::invalid_argument naming the definition and path. Definitions
    // already present are replaced.
    void add_openapi(const boost::json::object& schemas);
    // The reverse: every definition as OpenAPI v3 `components.schemas` JSON. With
    // `with_kcube_proto` false, kcube's internal x-kcube-proto wire mapping is left out (it is
    // about a fifth of the text, and clients have no use for it in served documents).
    boost::json::object to_openapi(bool with_kcube_proto = true) const;

  private:
    std::map<std::string, std::shared_ptr<const Schema>, std::less<>> definitions_;
};

// Follows refs: the child schemas a navigator needs (the resolved definition when the child is a
// ref), each nullptr when unknown. A ref-typed field's own metadata (e.g. DeploymentSpec.strategy's
// patch strategy "retainKeys") is on set.resolve(object)->property(name).
const Schema* property_of(const SchemaSet& set, const Schema* object, std::string_view name);
const Schema* items_of(const SchemaSet& set, const Schema* array);
const Schema* additional_of(const SchemaSet& set, const Schema* map);

}  // namespace kcube::api
