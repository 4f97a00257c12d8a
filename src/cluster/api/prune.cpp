#include "cluster/api/prune.hpp"

#include <boost/json.hpp>

#include "cluster/api/schema.hpp"

namespace kcube::api {
namespace json = boost::json;
namespace {

// Deeper documents are rejected elsewhere; this bound only keeps the walk from recursing forever.
constexpr int kMaxDepth = 200;

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void walk(json::value& value, const SchemaSet& schemas, const Schema* schema,
          const std::string& path, std::vector<std::string>& unknown, int depth) {
    schema = schemas.resolve(schema);
    if (schema == nullptr || depth > kMaxDepth || schema->preserve_unknown_fields) return;
    if (value.is_object()) {
        auto& object = value.as_object();
        // An object that declares no fields at all (RawExtension, free-form maps) keeps
        // whatever it holds.
        if (schema->properties.empty() && schema->additional_properties == nullptr) return;
        std::vector<std::string> drop;
        for (auto& [key, child] : object) {
            const Schema* child_schema = nullptr;
            if (auto it = schema->properties.find(std::string(key));
                it != schema->properties.end()) {
                child_schema = it->second.get();
            } else if (schema->embedded_resource &&
                       (key == "apiVersion" || key == "kind" || key == "metadata")) {
                continue;
            } else if (schema->additional_properties) {
                child_schema = schema->additional_properties.get();
            } else {
                drop.emplace_back(key);
                continue;
            }
            walk(child, schemas, child_schema, join(path, key), unknown, depth + 1);
        }
        for (const auto& key : drop) {
            unknown.push_back(join(path, key));
            object.erase(key);
        }
    } else if (value.is_array() && schema->items) {
        auto& array = value.as_array();
        for (size_t i = 0; i < array.size(); ++i) {
            walk(array[i], schemas, schema->items.get(), path + "[" + std::to_string(i) + "]",
                 unknown, depth + 1);
        }
    }
}

}  // namespace

std::vector<std::string> prune_unknown_fields(json::value& value, const SchemaSet& schemas,
                                              const Schema* schema) {
    std::vector<std::string> unknown;
    if (value.is_object()) {
        // apiVersion, kind and metadata are checked by the API layer itself.
        walk(value, schemas, schema, "", unknown, 0);
    }
    return unknown;
}

}  // namespace kcube::api
