#include "schema.hpp"

#include <boost/json.hpp>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace kcube::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kRefPrefix = "#/components/schemas/";
// OpenAPI v2 (swagger) spelling; accepted so v2-shaped data parses the same way.
constexpr std::string_view kV2RefPrefix = "#/definitions/";

// Longer than any sane chain of definitions that alias one another; stops a cycle.
constexpr int kMaxRefHops = 32;

// Where in the input a node sits, for error messages ("io.k8s.api.core.v1.Pod.spec.items").
class Parser {
  public:
    explicit Parser(std::string definition) : path_(std::move(definition)) {}

    std::shared_ptr<const Schema> parse(const json::value& value) {
        const auto* object = value.if_object();
        if (object == nullptr) fail("a schema must be a JSON object");
        auto schema = std::make_shared<Schema>();
        parse_into(*object, *schema);
        return schema;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::invalid_argument("schema " + path_ + ": " + what);
    }

    const json::string& string_at(const json::object& object, std::string_view key) const {
        const auto& value = object.at(key);
        if (!value.is_string()) fail("\"" + std::string(key) + "\" must be a string");
        return value.get_string();
    }

    bool bool_at(const json::object& object, std::string_view key) const {
        const auto& value = object.at(key);
        if (!value.is_bool()) fail("\"" + std::string(key) + "\" must be a boolean");
        return value.get_bool();
    }

    std::vector<std::string> strings_at(const json::object& object, std::string_view key) const {
        const auto* array = object.at(key).if_array();
        if (array == nullptr) fail("\"" + std::string(key) + "\" must be an array of strings");
        std::vector<std::string> out;
        out.reserve(array->size());
        for (const auto& item : *array) {
            if (!item.is_string()) fail("\"" + std::string(key) + "\" must hold only strings");
            out.emplace_back(item.get_string());
        }
        return out;
    }

    // A protobuf field number: 1 .. 2^29-1 (JSON integers that large parse as int64).
    int field_number_at(const json::object& object, std::string_view key) const {
        constexpr std::int64_t kMaxFieldNumber = (std::int64_t{1} << 29) - 1;
        const auto& value = object.at(key);
        if (!value.is_int64() || value.get_int64() < 1 || value.get_int64() > kMaxFieldNumber) {
            fail("\"" + std::string(key) + "\" must be a protobuf field number (1 to 536870911)");
        }
        return static_cast<int>(value.get_int64());
    }

    // kcube's own extension, so unlike upstream keywords an unknown key is an error: a typo
    // would otherwise silently change how protobuf bodies decode.
    void parse_proto(const json::value& value, Schema& schema) const {
        const auto* proto = value.if_object();
        if (proto == nullptr) fail("\"x-kcube-proto\" must be an object");
        for (const auto& [key, item] : *proto) {
            if (key == "tag") {
                schema.proto_tag = field_number_at(*proto, key);
            } else if (key == "keepZero") {
                schema.proto_keep_zero = bool_at(*proto, key);
            } else if (key == "nullIfAbsent") {
                schema.proto_null_if_absent = bool_at(*proto, key);
            } else if (key == "embeddedIn") {
                schema.proto_embedded_in = field_number_at(*proto, key);
            } else if (key == "kind") {
                schema.proto_kind = string_at(*proto, key);
                if (schema.proto_kind != "duration" && schema.proto_kind != "wrappedList") {
                    fail("x-kcube-proto kind \"" + schema.proto_kind +
                         "\" is not one of \"duration\", \"wrappedList\"");
                }
            } else {
                fail("unknown x-kcube-proto key \"" + std::string(key) + "\"");
            }
        }
    }

    std::string ref_name(const json::string& ref) const {
        const std::string_view text = ref;
        for (auto prefix : {kRefPrefix, kV2RefPrefix}) {
            if (text.starts_with(prefix) && text.size() > prefix.size()) {
                return std::string(text.substr(prefix.size()));
            }
        }
        fail("unsupported $ref \"" + std::string(text) + "\" (expected " + std::string(kRefPrefix) +
             "NAME)");
    }

    // Parses the child at `key` with the path extended, so errors point at the field.
    std::shared_ptr<const Schema> child(const json::value& value, std::string_view segment) {
        const auto saved = path_.size();
        path_ += segment;
        auto schema = parse(value);
        path_.resize(saved);
        return schema;
    }

    void parse_into(const json::object& object, Schema& schema) {
        if (object.contains("$ref")) schema.ref = ref_name(string_at(object, "$ref"));
        if (const auto* all_of = object.if_contains("allOf")) {
            // Upstream wraps a ref that has siblings (a field's description, defaults, patch
            // metadata) as allOf with that single ref; other allOf forms are validation only.
            const auto* array = all_of->if_array();
            if (array == nullptr) fail("\"allOf\" must be an array");
            if (array->size() == 1 && array->front().is_object() &&
                array->front().get_object().contains("$ref") && schema.ref.empty()) {
                schema.ref = ref_name(string_at(array->front().get_object(), "$ref"));
            }
        }
        if (object.contains("type")) schema.type = string_at(object, "type");
        if (object.contains("format")) schema.format = string_at(object, "format");
        if (object.contains("description")) schema.description = string_at(object, "description");
        if (const auto* values = object.if_contains("enum")) {
            const auto* array = values->if_array();
            if (array == nullptr) fail("\"enum\" must be an array");
            for (const auto& item : *array) {
                // Built-in enums are strings; other scalars are kept in their JSON spelling.
                schema.enum_values.push_back(item.is_string() ? std::string(item.get_string())
                                                              : json::serialize(item));
            }
        }
        if (object.contains("required")) schema.required = strings_at(object, "required");

        if (const auto* properties = object.if_contains("properties")) {
            const auto* map = properties->if_object();
            if (map == nullptr) fail("\"properties\" must be an object");
            for (const auto& [name, value] : *map) {
                schema.properties.emplace(std::string(name), child(value, "." + std::string(name)));
            }
        }
        if (const auto* additional = object.if_contains("additionalProperties")) {
            if (additional->is_bool()) {
                // true allows any value (an empty schema); false allows none.
                if (additional->get_bool())
                    schema.additional_properties = std::make_shared<Schema>();
            } else {
                schema.additional_properties = child(*additional, ".additionalProperties");
            }
        }
        if (const auto* items = object.if_contains("items")) {
            if (const auto* tuple = items->if_array()) {
                // JSON-schema tuple form; only the single-schema spelling has a meaning here.
                if (tuple->size() != 1) fail("\"items\" must be one schema");
                schema.items = child(tuple->front(), "[]");
            } else {
                schema.items = child(*items, "[]");
            }
        }

        if (object.contains("x-kubernetes-int-or-string")) {
            schema.int_or_string = bool_at(object, "x-kubernetes-int-or-string");
        }
        if (object.contains("x-kubernetes-preserve-unknown-fields")) {
            schema.preserve_unknown_fields =
                bool_at(object, "x-kubernetes-preserve-unknown-fields");
        }
        if (object.contains("x-kubernetes-embedded-resource")) {
            schema.embedded_resource = bool_at(object, "x-kubernetes-embedded-resource");
        }
        if (object.contains("nullable")) schema.nullable = bool_at(object, "nullable");
        if (object.contains("x-kubernetes-patch-strategy")) {
            schema.patch_strategy = string_at(object, "x-kubernetes-patch-strategy");
        }
        if (object.contains("x-kubernetes-patch-merge-key")) {
            schema.patch_merge_key = string_at(object, "x-kubernetes-patch-merge-key");
        }
        if (object.contains("x-kubernetes-list-type")) {
            schema.list_type = string_at(object, "x-kubernetes-list-type");
        }
        if (object.contains("x-kubernetes-list-map-keys")) {
            schema.list_map_keys = strings_at(object, "x-kubernetes-list-map-keys");
        }
        if (object.contains("x-kubernetes-map-type")) {
            schema.map_type = string_at(object, "x-kubernetes-map-type");
        }
        if (const auto* gvks = object.if_contains("x-kubernetes-group-version-kind")) {
            const auto* array = gvks->if_array();
            if (array == nullptr) fail("\"x-kubernetes-group-version-kind\" must be an array");
            for (const auto& item : *array) {
                const auto* entry = item.if_object();
                if (entry == nullptr) fail("x-kubernetes-group-version-kind entries are objects");
                auto field = [&](std::string_view key) -> std::string {
                    return entry->contains(key) ? std::string(string_at(*entry, key)) : "";
                };
                schema.group_version_kinds.push_back(
                    {field("group"), field("version"), field("kind")});
            }
        }
        if (const auto* proto = object.if_contains("x-kcube-proto")) parse_proto(*proto, schema);
    }

    std::string path_;
};

json::array string_array(const std::vector<std::string>& values) {
    json::array out;
    out.reserve(values.size());
    for (const auto& value : values)
        out.emplace_back(value);
    return out;
}

json::value write(const Schema& schema, bool proto);

bool has_proto(const Schema& schema) {
    return schema.proto_tag != 0 || schema.proto_keep_zero || schema.proto_embedded_in != 0 ||
           !schema.proto_kind.empty() || schema.proto_null_if_absent;
}

json::object write_proto(const Schema& schema) {
    json::object proto;
    if (schema.proto_tag != 0) proto["tag"] = schema.proto_tag;
    // Written next to every tag, so each annotated property states both facts.
    if (schema.proto_tag != 0 || schema.proto_keep_zero) proto["keepZero"] = schema.proto_keep_zero;
    if (schema.proto_embedded_in != 0) proto["embeddedIn"] = schema.proto_embedded_in;
    if (!schema.proto_kind.empty()) proto["kind"] = schema.proto_kind;
    if (schema.proto_null_if_absent) proto["nullIfAbsent"] = true;
    return proto;
}

json::object write_object(const Schema& schema, bool proto) {
    json::object out;
    if (!schema.ref.empty()) {
        json::object ref;
        ref["$ref"] = std::string(kRefPrefix) + schema.ref;
        const bool has_siblings =
            !schema.description.empty() || schema.nullable || !schema.patch_strategy.empty() ||
            !schema.patch_merge_key.empty() || !schema.list_type.empty() ||
            !schema.list_map_keys.empty() || !schema.map_type.empty() ||
            schema.preserve_unknown_fields || schema.embedded_resource || schema.int_or_string ||
            !schema.group_version_kinds.empty() || (proto && has_proto(schema));
        // A bare ref stays bare; with siblings OpenAPI v3 wants it wrapped (siblings of $ref
        // are ignored by v3 readers), which is also what upstream serves.
        if (!has_siblings) return ref;
        out["allOf"] = json::array{std::move(ref)};
    }
    if (!schema.description.empty()) out["description"] = schema.description;
    if (!schema.type.empty()) out["type"] = schema.type;
    if (!schema.format.empty()) out["format"] = schema.format;
    if (!schema.enum_values.empty()) out["enum"] = string_array(schema.enum_values);
    if (!schema.required.empty()) out["required"] = string_array(schema.required);
    if (!schema.properties.empty()) {
        json::object properties;
        for (const auto& [name, property] : schema.properties) {
            if (property) properties[name] = write(*property, proto);
        }
        out["properties"] = std::move(properties);
    }
    if (schema.additional_properties) {
        out["additionalProperties"] = write(*schema.additional_properties, proto);
    }
    if (schema.items) out["items"] = write(*schema.items, proto);
    if (schema.int_or_string) out["x-kubernetes-int-or-string"] = true;
    if (schema.preserve_unknown_fields) out["x-kubernetes-preserve-unknown-fields"] = true;
    if (schema.embedded_resource) out["x-kubernetes-embedded-resource"] = true;
    if (schema.nullable) out["nullable"] = true;
    if (!schema.patch_strategy.empty()) out["x-kubernetes-patch-strategy"] = schema.patch_strategy;
    if (!schema.patch_merge_key.empty()) {
        out["x-kubernetes-patch-merge-key"] = schema.patch_merge_key;
    }
    if (!schema.list_type.empty()) out["x-kubernetes-list-type"] = schema.list_type;
    if (!schema.list_map_keys.empty()) {
        out["x-kubernetes-list-map-keys"] = string_array(schema.list_map_keys);
    }
    if (!schema.map_type.empty()) out["x-kubernetes-map-type"] = schema.map_type;
    if (!schema.group_version_kinds.empty()) {
        json::array gvks;
        for (const auto& gvk : schema.group_version_kinds) {
            gvks.emplace_back(
                json::object{{"group", gvk.group}, {"version", gvk.version}, {"kind", gvk.kind}});
        }
        out["x-kubernetes-group-version-kind"] = std::move(gvks);
    }
    if (proto && has_proto(schema)) out["x-kcube-proto"] = write_proto(schema);
    return out;
}

json::value write(const Schema& schema, bool proto) {
    return write_object(schema, proto);
}

}  // namespace

const Schema* Schema::property(std::string_view name) const {
    // std::map<std::string, ...> has no heterogeneous lookup here; one key copy is cheap.
    const auto it = properties.find(std::string(name));
    return it == properties.end() ? nullptr : it->second.get();
}

void SchemaSet::add(std::string name, std::shared_ptr<const Schema> schema) {
    definitions_.insert_or_assign(std::move(name), std::move(schema));
}

const Schema* SchemaSet::find(std::string_view name) const {
    const auto it = definitions_.find(name);
    return it == definitions_.end() ? nullptr : it->second.get();
}

const Schema* SchemaSet::resolve(const Schema* node) const {
    for (int hop = 0; node != nullptr && !node->ref.empty(); ++hop) {
        if (hop == kMaxRefHops) return nullptr;
        node = find(node->ref);
    }
    return node;
}

void SchemaSet::add_openapi(const json::object& schemas) {
    // Parse everything first so a bad document leaves the set unchanged.
    std::vector<std::pair<std::string, std::shared_ptr<const Schema>>> parsed;
    parsed.reserve(schemas.size());
    for (const auto& [name, value] : schemas) {
        parsed.emplace_back(std::string(name), Parser(std::string(name)).parse(value));
    }
    for (auto& [name, schema] : parsed)
        add(std::move(name), std::move(schema));
}

json::object SchemaSet::to_openapi(bool with_kcube_proto) const {
    json::object out;
    out.reserve(definitions_.size());
    for (const auto& [name, schema] : definitions_) {
        if (schema) out[name] = write(*schema, with_kcube_proto);
    }
    return out;
}

const Schema* property_of(const SchemaSet& set, const Schema* object, std::string_view name) {
    const Schema* resolved = set.resolve(object);
    if (resolved == nullptr) return nullptr;
    return set.resolve(resolved->property(name));
}

const Schema* items_of(const SchemaSet& set, const Schema* array) {
    const Schema* resolved = set.resolve(array);
    if (resolved == nullptr) return nullptr;
    return set.resolve(resolved->items.get());
}

const Schema* additional_of(const SchemaSet& set, const Schema* map) {
    const Schema* resolved = set.resolve(map);
    if (resolved == nullptr) return nullptr;
    return set.resolve(resolved->additional_properties.get());
}

}  // namespace kcube::api
