#include "cluster/api/crd.hpp"

#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/api/schema.hpp"

namespace kcube::api {
namespace json = boost::json;
namespace {

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : "";
}

const json::object* obj(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? &v->as_object() : nullptr;
}

std::vector<std::string> strings(const json::object& o, std::string_view key) {
    std::vector<std::string> out;
    if (const auto* v = o.if_contains(key); v && v->is_array()) {
        for (const auto& item : v->as_array()) {
            if (item.is_string()) out.emplace_back(item.as_string());
        }
    }
    return out;
}

// The version's openAPIV3Schema as a Schema whose root also admits apiVersion/kind/metadata.
std::shared_ptr<const Schema> version_schema(const json::object& version) {
    const auto* schema = obj(version, "schema");
    const auto* open_api = schema ? obj(*schema, "openAPIV3Schema") : nullptr;
    if (open_api == nullptr) return nullptr;
    json::object root = *open_api;
    root["x-kubernetes-embedded-resource"] = true;
    SchemaSet set;
    set.add_openapi(json::object{{"root", std::move(root)}});
    return set.definitions().at("root");
}

std::string type_of(const json::value& v) {
    switch (v.kind()) {
        case json::kind::string:
            return "string";
        case json::kind::bool_:
            return "boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "integer";
        case json::kind::double_:
            return "number";
        case json::kind::array:
            return "array";
        case json::kind::object:
            return "object";
        case json::kind::null:
            return "null";
    }
    return "";
}

std::string quoted(const json::value& v) {
    return v.is_string() ? json::serialize(v) : "\"" + json::serialize(v) + "\"";
}

void validate(const json::value& value, const SchemaSet& schemas, const Schema* schema,
              const std::string& path, std::vector<StatusCause>& causes, int depth) {
    schema = schemas.resolve(schema);
    if (schema == nullptr || depth > 100) return;
    const std::string field = path.empty() ? "<root>" : path;
    if (value.is_null()) {
        if (!schema->nullable && !schema->type.empty()) {
            causes.push_back({"FieldValueTypeInvalid",
                              "Invalid value: \"null\": " + field + " in body must be of type " +
                                  schema->type + ": \"null\"",
                              field});
        }
        return;
    }
    const std::string actual = type_of(value);
    const bool int_or_string = schema->int_or_string && (actual == "integer" || actual == "string");
    bool type_ok = schema->type.empty() || schema->type == actual || int_or_string ||
                   (schema->type == "number" && actual == "integer");
    if (!type_ok) {
        causes.push_back({"FieldValueTypeInvalid",
                          "Invalid value: \"" + actual + "\": " + field +
                              " in body must be of type " + schema->type + ": \"" + actual + "\"",
                          field});
        return;
    }
    if (!schema->enum_values.empty() && value.is_string()) {
        const std::string v(value.as_string());
        bool found = false;
        std::string supported;
        for (const auto& e : schema->enum_values) {
            found = found || e == v;
            supported += (supported.empty() ? "" : ", ") + json::serialize(json::string(e));
        }
        if (!found) {
            causes.push_back(
                {"FieldValueNotSupported",
                 "Unsupported value: " + quoted(value) + ": supported values: " + supported,
                 field});
        }
    }
    if (value.is_object()) {
        const auto& object = value.as_object();
        for (const auto& required : schema->required) {
            if (!object.contains(required)) {
                const std::string child = path.empty() ? required : path + "." + required;
                causes.push_back({"FieldValueRequired", "Required value", child});
            }
        }
        for (const auto& [key, child] : object) {
            const std::string child_path =
                path.empty() ? std::string(key) : path + "." + std::string(key);
            if (path.empty() && (key == "apiVersion" || key == "kind" || key == "metadata")) {
                continue;
            }
            const Schema* child_schema = nullptr;
            if (auto it = schema->properties.find(std::string(key));
                it != schema->properties.end()) {
                child_schema = it->second.get();
            } else if (schema->additional_properties) {
                child_schema = schema->additional_properties.get();
            }
            validate(child, schemas, child_schema, child_path, causes, depth + 1);
        }
    } else if (value.is_array() && schema->items) {
        const auto& array = value.as_array();
        for (size_t i = 0; i < array.size(); ++i) {
            validate(array[i], schemas, schema->items.get(), path + "[" + std::to_string(i) + "]",
                     causes, depth + 1);
        }
    }
}

}  // namespace

std::vector<ResourceInfo> resources_from_crd(const json::object& crd) {
    std::vector<ResourceInfo> out;
    const auto* spec = obj(crd, "spec");
    if (spec == nullptr) return out;
    const auto* names = obj(*spec, "names");
    const auto* versions = spec->if_contains("versions");
    if (names == nullptr || versions == nullptr || !versions->is_array()) return out;
    for (const auto& v : versions->as_array()) {
        if (!v.is_object()) continue;
        const auto& version = v.as_object();
        const auto* served = version.if_contains("served");
        if (served && served->is_bool() && !served->as_bool()) continue;
        ResourceInfo info;
        info.group = str(*spec, "group");
        info.version = str(version, "name");
        info.kind = str(*names, "kind");
        info.list_kind =
            str(*names, "listKind").empty() ? info.kind + "List" : str(*names, "listKind");
        info.plural = str(*names, "plural");
        info.singular = str(*names, "singular");
        if (info.singular.empty()) {
            for (char c : info.kind)
                info.singular += static_cast<char>(std::tolower(c));
        }
        info.short_names = strings(*names, "shortNames");
        info.categories = strings(*names, "categories");
        info.namespaced = str(*spec, "scope") != "Cluster";
        info.verbs = {"delete", "deletecollection", "get",    "list",
                      "patch",  "create",           "update", "watch"};
        if (const auto* sub = obj(version, "subresources")) {
            if (sub->contains("status")) info.subresources.push_back("status");
            if (sub->contains("scale")) info.subresources.push_back("scale");
        }
        info.custom = true;
        info.custom_schema = version_schema(version);
        if (const auto* columns = version.if_contains("additionalPrinterColumns");
            columns && columns->is_array()) {
            for (const auto& c : columns->as_array()) {
                if (!c.is_object()) continue;
                const auto& col = c.as_object();
                CustomPrinterColumn column;
                column.name = str(col, "name");
                column.type = str(col, "type");
                column.format = str(col, "format");
                column.description = str(col, "description");
                column.json_path = str(col, "jsonPath");
                if (const auto* p = col.if_contains("priority"); p && p->is_int64()) {
                    column.priority = static_cast<int>(p->as_int64());
                }
                info.custom_columns.push_back(std::move(column));
            }
        }
        const auto* storage = version.if_contains("storage");
        const bool is_storage = storage && storage->is_bool() && storage->as_bool();
        if (is_storage) {
            out.insert(out.begin(), std::move(info));
        } else {
            out.push_back(std::move(info));
        }
    }
    return out;
}

void validate_crd(const json::object& crd, std::vector<StatusCause>& causes) {
    const auto* spec = obj(crd, "spec");
    if (spec == nullptr) {
        causes.push_back({"FieldValueRequired", "Required value", "spec"});
        return;
    }
    const std::string group = str(*spec, "group");
    if (group.empty()) {
        causes.push_back({"FieldValueRequired", "Required value", "spec.group"});
    } else if (group.find('.') == std::string::npos) {
        causes.push_back(
            {"FieldValueInvalid",
             "Invalid value: \"" + group + "\": should be a domain with at least one dot",
             "spec.group"});
    }
    const auto* names = obj(*spec, "names");
    const std::string plural = names ? str(*names, "plural") : "";
    if (plural.empty())
        causes.push_back({"FieldValueRequired", "Required value", "spec.names.plural"});
    if (!names || str(*names, "kind").empty()) {
        causes.push_back({"FieldValueRequired", "Required value", "spec.names.kind"});
    }
    if (!plural.empty() && !group.empty() && meta_string(crd, "name") != plural + "." + group) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: \"" + meta_string(crd, "name") +
                              "\": must be spec.names.plural+\".\"+spec.group",
                          "metadata.name"});
    }
    const std::string scope = str(*spec, "scope");
    if (scope != "Namespaced" && scope != "Cluster") {
        causes.push_back(
            {"FieldValueNotSupported",
             "Unsupported value: \"" + scope + "\": supported values: \"Cluster\", \"Namespaced\"",
             "spec.scope"});
    }
    int storage = 0;
    const auto* versions = spec->if_contains("versions");
    if (versions == nullptr || !versions->is_array() || versions->as_array().empty()) {
        causes.push_back({"FieldValueRequired",
                          "Required value: must have exactly one version marked as storage version",
                          "spec.versions"});
        return;
    }
    for (const auto& v : versions->as_array()) {
        if (!v.is_object()) continue;
        const auto* s = v.as_object().if_contains("storage");
        if (s && s->is_bool() && s->as_bool()) ++storage;
    }
    if (storage != 1) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(storage) +
                              ": must have exactly one version marked as storage version",
                          "spec.versions"});
    }
}

void validate_custom_object(const json::value& object, const SchemaSet& schemas,
                            const Schema* schema, std::vector<StatusCause>& causes) {
    validate(object, schemas, schema, "", causes, 0);
}

json::value eval_simple_jsonpath(const json::object& object, std::string_view path) {
    if (!path.empty() && path.front() == '{' && path.back() == '}') {
        path = path.substr(1, path.size() - 2);
    }
    const json::value* current = nullptr;
    json::value root = object;
    current = &root;
    size_t i = 0;
    while (i < path.size() && current != nullptr) {
        if (path[i] == '.') {
            ++i;
            size_t end = i;
            while (end < path.size() && path[end] != '.' && path[end] != '[')
                ++end;
            const std::string key(path.substr(i, end - i));
            current = current->is_object() ? current->as_object().if_contains(key) : nullptr;
            i = end;
        } else if (path[i] == '[') {
            const size_t end = path.find(']', i);
            if (end == std::string_view::npos) return "";
            const std::string index(path.substr(i + 1, end - i - 1));
            if (!current->is_array()) return "";
            size_t n = 0;
            try {
                n = std::stoul(index);
            } catch (const std::exception&) {
                return "";
            }
            const auto& array = current->as_array();
            current = n < array.size() ? &array[n] : nullptr;
            i = end + 1;
        } else {
            return "";
        }
    }
    return current ? *current : json::value("");
}

}  // namespace kcube::api
