#include "cluster/apiserver/discovery.hpp"

#include <boost/json.hpp>

namespace kcube::apiserver {
namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& values) {
    json::array out;
    for (const auto& v : values)
        out.emplace_back(v);
    return out;
}

// Verbs upstream lists for a subresource.
json::array subresource_verbs(const std::string& sub) {
    if (sub == "status" || sub == "scale") return {"get", "patch", "update"};
    if (sub == "log") return {"get"};
    if (sub == "exec" || sub == "attach" || sub == "portforward") return {"create", "get"};
    if (sub == "finalize") return {"update"};
    return {"create"};  // binding, eviction, token
}

std::string subresource_kind(const api::ResourceInfo& info, const std::string& sub) {
    if (sub == "status" || sub == "finalize") return info.kind;
    if (sub == "scale") return "Scale";
    if (sub == "binding") return "Binding";
    if (sub == "eviction") return "Eviction";
    if (sub == "token") return "TokenRequest";
    if (sub == "exec") return "PodExecOptions";
    if (sub == "attach") return "PodAttachOptions";
    if (sub == "portforward") return "PodPortForwardOptions";
    if (sub == "log") return "Pod";
    return info.kind;
}

}  // namespace

json::object api_versions(const std::string& server_address) {
    return json::object{
        {"kind", "APIVersions"},
        {"versions", json::array{"v1"}},
        {"serverAddressByClientCIDRs",
         json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}},
    };
}

json::object api_group(const api::ResourceRegistry& registry, const std::string& group) {
    for (const auto& g : registry.groups()) {
        if (g.group != group) continue;
        json::array versions;
        for (const auto& v : g.versions) {
            versions.push_back(json::object{{"groupVersion", group + "/" + v}, {"version", v}});
        }
        json::object preferred{{"groupVersion", group + "/" + g.versions.front()},
                               {"version", g.versions.front()}};
        return json::object{{"kind", "APIGroup"},
                            {"apiVersion", "v1"},
                            {"name", group},
                            {"versions", std::move(versions)},
                            {"preferredVersion", std::move(preferred)}};
    }
    return {};
}

json::object api_group_list(const api::ResourceRegistry& registry) {
    json::array groups;
    for (const auto& g : registry.groups()) {
        if (g.group.empty()) continue;
        json::object group = api_group(registry, g.group);
        group.erase("kind");
        group.erase("apiVersion");
        groups.push_back(std::move(group));
    }
    return json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

json::object api_resource_list(const api::ResourceRegistry& registry, const std::string& group,
                               const std::string& version) {
    json::array resources;
    bool served = false;
    for (const auto& info : registry.all()) {
        if (info->group != group || info->version != version) continue;
        served = true;
        json::object resource{{"name", info->plural},
                              {"singularName", info->singular},
                              {"namespaced", info->namespaced},
                              {"kind", info->kind},
                              {"verbs", strings(info->verbs)}};
        if (!info->short_names.empty()) resource["shortNames"] = strings(info->short_names);
        if (!info->categories.empty()) resource["categories"] = strings(info->categories);
        resources.push_back(std::move(resource));
        for (const auto& sub : info->subresources) {
            json::object entry{{"name", info->plural + "/" + sub},
                               {"singularName", ""},
                               {"namespaced", info->namespaced},
                               {"kind", subresource_kind(*info, sub)},
                               {"verbs", subresource_verbs(sub)}};
            if (sub == "scale") {
                entry["group"] = "autoscaling";
                entry["version"] = "v1";
            }
            resources.push_back(std::move(entry));
        }
    }
    if (!served) return {};
    return json::object{{"kind", "APIResourceList"},
                        {"apiVersion", "v1"},
                        {"groupVersion", group.empty() ? version : group + "/" + version},
                        {"resources", std::move(resources)}};
}

json::object aggregated_discovery(const api::ResourceRegistry& registry, bool legacy) {
    json::array items;
    const auto all = registry.all();
    for (const auto& g : registry.groups()) {
        if (legacy != g.group.empty()) continue;
        json::array versions;
        for (const auto& version : g.versions) {
            json::array resources;
            for (const auto& info : all) {
                if (info->group != g.group || info->version != version) continue;
                json::object resource{{"resource", info->plural},
                                      {"responseKind", json::object{{"group", info->group},
                                                                    {"version", version},
                                                                    {"kind", info->kind}}},
                                      {"scope", info->namespaced ? "Namespaced" : "Cluster"},
                                      {"singularResource", info->singular},
                                      {"verbs", strings(info->verbs)}};
                if (!info->short_names.empty()) resource["shortNames"] = strings(info->short_names);
                if (!info->categories.empty()) resource["categories"] = strings(info->categories);
                json::array subresources;
                for (const auto& sub : info->subresources) {
                    json::object kind{{"group", sub == "scale" ? "autoscaling" : info->group},
                                      {"version", sub == "scale" ? "v1" : version},
                                      {"kind", subresource_kind(*info, sub)}};
                    subresources.push_back(json::object{{"subresource", sub},
                                                        {"responseKind", std::move(kind)},
                                                        {"verbs", subresource_verbs(sub)}});
                }
                if (!subresources.empty()) resource["subresources"] = std::move(subresources);
                resources.push_back(std::move(resource));
            }
            versions.push_back(json::object{{"version", version},
                                            {"resources", std::move(resources)},
                                            {"freshness", "Current"}});
        }
        json::object metadata;
        if (!g.group.empty()) metadata["name"] = g.group;
        items.push_back(
            json::object{{"metadata", std::move(metadata)}, {"versions", std::move(versions)}});
    }
    return json::object{{"kind", "APIGroupDiscoveryList"},
                        {"apiVersion", "apidiscovery.k8s.io/v2"},
                        {"metadata", json::object{}},
                        {"items", std::move(items)}};
}

}  // namespace kcube::apiserver
