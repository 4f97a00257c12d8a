#include "drivers/service_urls.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "common/error.hpp"

namespace kcube::lifecycle {
namespace json = boost::json;

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

std::string string_field(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

int int_field(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_int64() ? static_cast<int>(value->as_int64()) : 0;
}

const json::object& object_field(const json::object& object, std::string_view key) {
    static const json::object kEmpty;
    const auto* value = object.if_contains(key);
    return value && value->is_object() ? value->as_object() : kEmpty;
}

json::value get_json(const bootstrap::ApiAccess& access, const std::string& target,
                     const std::string& what) {
    std::string error;
    const auto result = bootstrap::https_get(access, target, kCallTimeout, &error);
    if (!result) {
        throw Error(ExitCode::kCluster, "CLUSTER_UNREACHABLE",
                    "the API server at " + access.server_url() + " did not answer: " + error,
                    "Check the cluster with: kcube status");
    }
    if (result->status == 404) {
        throw Error(ExitCode::kNotFound, "SVC_NOT_FOUND", what + " not found",
                    "List the Services with: kcube service list");
    }
    if (result->status != 200) {
        throw Error(ExitCode::kCluster, "CLUSTER_API_ERROR",
                    "reading " + what + ": HTTP " + std::to_string(result->status) + ": " +
                        result->body.substr(0, 300));
    }
    try {
        return json::parse(result->body);
    } catch (const std::exception& e) {
        throw Error(ExitCode::kCluster, "CLUSTER_API_ERROR",
                    "reading " + what + ": the answer is not JSON (" + e.what() + ")");
    }
}

}  // namespace

ServiceUrls service_urls_of(const json::object& service, const drivers::Driver& driver) {
    ServiceUrls out;
    const auto& metadata = object_field(service, "metadata");
    const auto& spec = object_field(service, "spec");
    out.ns = string_field(metadata, "namespace");
    out.name = string_field(metadata, "name");
    out.type = string_field(spec, "type");
    if (out.type.empty()) out.type = "ClusterIP";
    const auto* ports = spec.if_contains("ports");
    if (!ports || !ports->is_array()) return out;
    for (const auto& p : ports->as_array()) {
        if (!p.is_object()) continue;
        const auto& port = p.as_object();
        ServicePortUrl entry;
        entry.port_name = string_field(port, "name");
        entry.port = int_field(port, "port");
        if (const auto* target = port.if_contains("targetPort")) {
            entry.target_port = target->is_string()  ? std::string(target->as_string())
                                : target->is_int64() ? std::to_string(target->as_int64())
                                                     : std::string();
        }
        if (entry.target_port.empty()) entry.target_port = std::to_string(entry.port);
        if (out.type == "NodePort" || out.type == "LoadBalancer") {
            entry.node_port = int_field(port, "nodePort");
        }
        if (entry.node_port > 0) {
            const auto endpoint = driver.node_port_endpoint(entry.node_port);
            entry.url = "http://" + endpoint.host + ":" + std::to_string(endpoint.port);
        }
        out.ports.push_back(std::move(entry));
    }
    return out;
}

ServiceUrls service_urls(const drivers::Driver& driver, const bootstrap::ApiAccess& access,
                         const std::string& ns, const std::string& name) {
    const auto value = get_json(access, "/api/v1/namespaces/" + ns + "/services/" + name,
                                "service " + ns + "/" + name);
    if (!value.is_object()) {
        throw Error(ExitCode::kCluster, "CLUSTER_API_ERROR",
                    "service " + ns + "/" + name + ": unexpected answer");
    }
    return service_urls_of(value.as_object(), driver);
}

std::vector<ServiceUrls> all_service_urls(const drivers::Driver& driver,
                                          const bootstrap::ApiAccess& access,
                                          const std::string& ns) {
    const std::string target =
        ns.empty() ? "/api/v1/services" : "/api/v1/namespaces/" + ns + "/services";
    const auto value = get_json(access, target, "services");
    std::vector<ServiceUrls> out;
    if (const auto* items = value.is_object() ? value.as_object().if_contains("items") : nullptr;
        items && items->is_array()) {
        for (const auto& item : items->as_array())
            if (item.is_object()) out.push_back(service_urls_of(item.as_object(), driver));
    }
    std::sort(out.begin(), out.end(), [](const ServiceUrls& a, const ServiceUrls& b) {
        return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
    });
    return out;
}

}  // namespace kcube::lifecycle
