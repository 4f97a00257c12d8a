#include "builtin_schemas.hpp"

#include <boost/json.hpp>
#include <map>
#include <stdexcept>
#include <tuple>

namespace kcube::api {

namespace {

SchemaSet load_builtin_schemas() {
    SchemaSet set;
    for (const auto& [file, contents] : embedded_schema_files()) {
        boost::system::error_code error;
        auto document = boost::json::parse(contents, error);
        if (error) {
            throw std::invalid_argument("embedded schema file " + std::string(file) +
                                        " is not valid JSON: " + error.message());
        }
        if (!document.is_object()) {
            throw std::invalid_argument("embedded schema file " + std::string(file) +
                                        " must hold a JSON object of definitions");
        }
        try {
            set.add_openapi(document.get_object());
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string(file) + ": " + e.what());
        }
    }
    return set;
}

using GvkKey = std::tuple<std::string, std::string, std::string>;

// Built-in kinds by group/version/kind. Several definitions may list the same kind (e.g. a kind
// and a meta type served in many groups); the map keeps the first, and map order is by name.
std::map<GvkKey, std::string, std::less<>> index_kinds(const SchemaSet& set) {
    std::map<GvkKey, std::string, std::less<>> index;
    for (const auto& [name, schema] : set.definitions()) {
        if (!schema) continue;
        for (const auto& gvk : schema->group_version_kinds) {
            index.emplace(GvkKey{gvk.group, gvk.version, gvk.kind}, name);
        }
    }
    return index;
}

// Upstream's package path for each built-in group: the prefix of its definition names.
std::string package_for(std::string_view group) {
    static const std::map<std::string, std::string, std::less<>> packages = {
        {"", "io.k8s.api.core"},
        {"admissionregistration.k8s.io", "io.k8s.api.admissionregistration"},
        {"apiextensions.k8s.io", "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions"},
        {"apiregistration.k8s.io", "io.k8s.kube-aggregator.pkg.apis.apiregistration"},
        {"apps", "io.k8s.api.apps"},
        {"authentication.k8s.io", "io.k8s.api.authentication"},
        {"authorization.k8s.io", "io.k8s.api.authorization"},
        {"autoscaling", "io.k8s.api.autoscaling"},
        {"batch", "io.k8s.api.batch"},
        {"certificates.k8s.io", "io.k8s.api.certificates"},
        {"coordination.k8s.io", "io.k8s.api.coordination"},
        {"discovery.k8s.io", "io.k8s.api.discovery"},
        {"events.k8s.io", "io.k8s.api.events"},
        {"flowcontrol.apiserver.k8s.io", "io.k8s.api.flowcontrol"},
        {"internal.apiserver.k8s.io", "io.k8s.api.apiserverinternal"},
        {"networking.k8s.io", "io.k8s.api.networking"},
        {"node.k8s.io", "io.k8s.api.node"},
        {"policy", "io.k8s.api.policy"},
        {"rbac.authorization.k8s.io", "io.k8s.api.rbac"},
        {"resource.k8s.io", "io.k8s.api.resource"},
        {"scheduling.k8s.io", "io.k8s.api.scheduling"},
        {"storage.k8s.io", "io.k8s.api.storage"},
        {"storagemigration.k8s.io", "io.k8s.api.storagemigration"},
    };
    if (const auto it = packages.find(group); it != packages.end()) return it->second;
    // Other groups (custom resources) use the group's labels in reverse, as upstream does.
    std::string reversed;
    std::string_view rest = group;
    while (!rest.empty()) {
        const auto dot = rest.rfind('.');
        const auto label = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
        if (!reversed.empty()) reversed += '.';
        reversed += label;
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(0, dot);
    }
    return reversed;
}

}  // namespace

const SchemaSet& builtin_schemas() {
    static const SchemaSet set = load_builtin_schemas();
    return set;
}

std::string definition_name_for(std::string_view group, std::string_view version,
                                std::string_view kind) {
    static const auto index = index_kinds(builtin_schemas());
    const auto it = index.find(std::make_tuple(group, version, kind));
    if (it != index.end()) return it->second;
    return package_for(group) + "." + std::string(version) + "." + std::string(kind);
}

}  // namespace kcube::api
