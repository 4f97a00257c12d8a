#include "cluster/apiserver/openapi.hpp"

#include <boost/json.hpp>
#include <deque>
#include <set>

#include "cluster/api/resources.hpp"
#include "cluster/api/schema.hpp"

namespace kcube::apiserver {
namespace json = boost::json;

namespace {

constexpr std::string_view kRefPrefix = "#/components/schemas/";

std::string gv_path_of(const api::ResourceInfo& info) {
    return info.group.empty() ? "api/" + info.version : "apis/" + info.group + "/" + info.version;
}

json::object gvk(const api::ResourceInfo& info) {
    return json::object{{"group", info.group}, {"version", info.version}, {"kind", info.kind}};
}

json::object query_param(const char* name, const char* description) {
    return json::object{{"name", name},
                        {"in", "query"},
                        {"description", description},
                        {"schema", json::object{{"type", "string"}, {"uniqueItems", true}}}};
}

json::object ref_content(const std::string& definition) {
    json::object schema{{"$ref", std::string(kRefPrefix) + definition}};
    return json::object{{"application/json", json::object{{"schema", schema}}}};
}

json::object operation(const api::ResourceInfo& info, const std::string& action,
                       const std::string& definition, bool writes) {
    json::object op{{"operationId", action + info.kind},
                    {"x-kubernetes-action", action},
                    {"x-kubernetes-group-version-kind", gvk(info)}};
    json::array parameters;
    if (writes) {
        parameters.push_back(query_param("dryRun", "When present, do not persist changes."));
        parameters.push_back(query_param("fieldManager", "Name of the actor making the change."));
        parameters.push_back(query_param(
            "fieldValidation", "How to treat unknown fields: Ignore, Warn (default) or Strict."));
        if (action == "patch") {
            parameters.push_back(
                query_param("force", "Take over conflicting fields (server-side apply)."));
        }
    }
    op["parameters"] = std::move(parameters);
    if (!definition.empty()) {
        if (writes) op["requestBody"] = json::object{{"content", ref_content(definition)}};
        op["responses"] = json::object{
            {"200", json::object{{"description", "OK"}, {"content", ref_content(definition)}}}};
    }
    return op;
}

// Definitions reachable from `roots` through $ref.
std::set<std::string> closure(const json::object& all, const std::vector<std::string>& roots) {
    std::set<std::string> seen;
    std::deque<std::string> queue(roots.begin(), roots.end());
    while (!queue.empty()) {
        const std::string name = queue.front();
        queue.pop_front();
        if (!seen.insert(name).second) continue;
        const auto* definition = all.if_contains(name);
        if (definition == nullptr) continue;
        std::deque<const json::value*> values{definition};
        while (!values.empty()) {
            const json::value* v = values.front();
            values.pop_front();
            if (v->is_object()) {
                for (const auto& [key, child] : v->as_object()) {
                    if (key == "$ref" && child.is_string()) {
                        std::string_view ref = child.as_string();
                        if (ref.substr(0, kRefPrefix.size()) == kRefPrefix) {
                            queue.emplace_back(ref.substr(kRefPrefix.size()));
                        }
                    } else {
                        values.push_back(&child);
                    }
                }
            } else if (v->is_array()) {
                for (const auto& child : v->as_array())
                    values.push_back(&child);
            }
        }
    }
    return seen;
}

}  // namespace

json::object openapi_v3_root(const api::ResourceRegistry& registry) {
    json::object paths;
    const std::string hash = std::to_string(registry.generation());
    for (const auto& info : registry.all()) {
        const std::string path = gv_path_of(*info);
        if (paths.contains(path)) continue;
        paths[path] = json::object{{"serverRelativeURL", "/openapi/v3/" + path + "?hash=" + hash}};
    }
    return json::object{{"paths", std::move(paths)}};
}

json::object openapi_v3_document(const api::ResourceRegistry& registry,
                                 const api::SchemaSet& schemas, const std::string& gv_path,
                                 const std::string& kubernetes_version) {
    json::object all = schemas.to_openapi(false);
    json::object paths;
    std::vector<std::string> roots = {"io.k8s.apimachinery.pkg.apis.meta.v1.Status"};
    bool served = false;
    for (const auto& info : registry.all()) {
        if (gv_path_of(*info) != gv_path) continue;
        served = true;
        std::string definition = info->definition;
        if (info->custom && info->custom_schema) {
            // Custom resources get a definition of their own, named as upstream names them.
            std::string reversed;
            std::string_view group = info->group;
            while (!group.empty()) {
                const auto dot = group.rfind('.');
                reversed +=
                    (reversed.empty() ? "" : ".") +
                    std::string(dot == std::string_view::npos ? group : group.substr(dot + 1));
                group = dot == std::string_view::npos ? std::string_view{} : group.substr(0, dot);
            }
            definition = reversed + "." + info->version + "." + info->kind;
            api::SchemaSet custom;
            custom.add(definition, info->custom_schema);
            json::object exported = custom.to_openapi(false);
            auto& schema = exported[definition].as_object();
            schema["x-kubernetes-group-version-kind"] = json::array{gvk(*info)};
            all[definition] = schema;
        }
        if (!definition.empty() && all.contains(definition)) roots.push_back(definition);
        if (info->virtual_resource) {
            const std::string base = "/" + gv_path + "/" + info->plural;
            paths[base] = json::object{{"post", operation(*info, "post", definition, true)}};
            continue;
        }
        const std::string collection =
            "/" + gv_path + (info->namespaced ? "/namespaces/{namespace}/" : "/") + info->plural;
        const std::string item = collection + "/{name}";
        json::object collection_ops;
        if (info->has_verb("list")) {
            collection_ops["get"] = operation(*info, "list", "", false);
        }
        if (info->has_verb("create")) {
            collection_ops["post"] = operation(*info, "post", definition, true);
        }
        if (info->has_verb("deletecollection")) {
            collection_ops["delete"] = operation(*info, "deletecollection", "", false);
        }
        paths[collection] = std::move(collection_ops);
        json::object item_ops;
        if (info->has_verb("get")) item_ops["get"] = operation(*info, "get", definition, false);
        if (info->has_verb("update")) item_ops["put"] = operation(*info, "put", definition, true);
        if (info->has_verb("patch"))
            item_ops["patch"] = operation(*info, "patch", definition, true);
        if (info->has_verb("delete")) item_ops["delete"] = operation(*info, "delete", "", false);
        paths[item] = std::move(item_ops);
    }
    if (!served) return {};
    json::object components;
    for (const auto& name : closure(all, roots)) {
        if (const auto* definition = all.if_contains(name)) components[name] = *definition;
    }
    return json::object{
        {"openapi", "3.0.0"},
        {"info", json::object{{"title", "Kubernetes"}, {"version", kubernetes_version}}},
        {"paths", std::move(paths)},
        {"components", json::object{{"schemas", std::move(components)}}}};
}

}  // namespace kcube::apiserver
