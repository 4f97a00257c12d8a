// Services and EndpointSlices → ServicePorts, following kube-proxy's service/endpoint change
// trackers: ports are matched by name (and protocol) between the Service and its slices, and
// endpoint conditions default as the API documents them (ready unknown = ready, serving
// unknown = ready, terminating unknown = false).
#include "cluster/proxy/service_model.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::proxy {
namespace {

namespace json = boost::json;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;

bool is_ipv4(const std::string& text) {
    in_addr parsed{};
    return ::inet_pton(AF_INET, text.c_str(), &parsed) == 1;
}

// The Service's protocol names as nft spells them; "" for one the proxy cannot program.
std::string nft_protocol(std::string_view api_protocol) {
    if (api_protocol.empty() || api_protocol == "TCP") return "tcp";
    if (api_protocol == "UDP") return "udp";
    if (api_protocol == "SCTP") return "sctp";
    return {};
}

int int_value(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (!value) return 0;
    if (value->is_int64()) return static_cast<int>(value->as_int64());
    if (value->is_uint64()) return static_cast<int>(value->as_uint64());
    return 0;
}

// A condition that is absent (null) takes `fallback`.
bool condition(const json::object* conditions, std::string_view key, bool fallback) {
    if (!conditions) return fallback;
    const auto* value = conditions->if_contains(key);
    if (!value || !value->is_bool()) return fallback;
    return value->as_bool();
}

std::vector<std::string> cluster_ips(const json::object& spec) {
    std::vector<std::string> ips;
    if (const auto* list = array_at(spec, "clusterIPs")) {
        for (const auto& ip : *list) {
            if (ip.is_string()) ips.emplace_back(ip.as_string());
        }
    }
    if (ips.empty()) ips.push_back(string_at(spec, "clusterIP"));
    // IPv4 only: "None" (headless), "" (not allocated) and IPv6 addresses are dropped.
    std::erase_if(ips, [](const std::string& ip) { return !is_ipv4(ip); });
    return ips;
}

void add_endpoints(ServicePort& port, const json::object& slice, std::string_view node_name) {
    const std::string address_type = string_at(slice, "addressType");
    if (!address_type.empty() && address_type != "IPv4") return;
    const auto* slice_ports = array_at(slice, "ports");
    if (!slice_ports) return;
    int target = 0;
    for (const auto& p : *slice_ports) {
        if (!p.is_object()) continue;
        const auto& sp = p.as_object();
        if (string_at(sp, "name") != port.port_name) continue;
        if (nft_protocol(string_at(sp, "protocol")) != port.protocol) continue;
        target = int_value(sp, "port");
        break;
    }
    if (target <= 0 || target > 65535) return;
    const auto* endpoints = array_at(slice, "endpoints");
    if (!endpoints) return;
    for (const auto& e : *endpoints) {
        if (!e.is_object()) continue;
        const auto& endpoint = e.as_object();
        const auto* addresses = array_at(endpoint, "addresses");
        if (!addresses || addresses->empty() || !(*addresses)[0].is_string()) continue;
        Endpoint out;
        out.ip = std::string((*addresses)[0].as_string());
        if (!is_ipv4(out.ip)) continue;
        out.port = target;
        const auto* conditions = object_at(endpoint, "conditions");
        out.ready = condition(conditions, "ready", true);
        out.serving = condition(conditions, "serving", out.ready);
        out.terminating = condition(conditions, "terminating", false);
        out.local = !node_name.empty() && string_at(endpoint, "nodeName") == node_name;
        port.endpoints.push_back(std::move(out));
    }
}

}  // namespace

std::string ServicePort::id() const {
    return ns + "/" + name + "/" + protocol + "/" + port_name;
}

std::vector<Endpoint> usable_endpoints(const ServicePort& port, bool local_only) {
    std::vector<Endpoint> ready, draining;
    for (const auto& e : port.endpoints) {
        if (local_only && !e.local) continue;
        if (e.ready) {
            ready.push_back(e);
        } else if (e.serving && e.terminating) {
            draining.push_back(e);
        }
    }
    return ready.empty() ? draining : ready;
}

std::vector<ServicePort> service_ports(const json::object& service,
                                       const std::vector<const json::object*>& slices,
                                       std::string_view node_name) {
    std::vector<ServicePort> out;
    const auto* spec = object_at(service, "spec");
    if (!spec) return out;
    const std::string type = string_at(*spec, "type");
    if (type == "ExternalName") return out;
    const auto ips = cluster_ips(*spec);
    if (ips.empty()) return out;  // headless: DNS only
    const bool with_node_ports = type == "NodePort" || type == "LoadBalancer";
    int affinity = 0;
    if (string_at(*spec, "sessionAffinity") == "ClientIP") {
        affinity = kDefaultAffinityTimeout;
        if (const auto* config = object_at(*spec, "sessionAffinityConfig")) {
            if (const auto* client = object_at(*config, "clientIP")) {
                if (const int timeout = int_value(*client, "timeoutSeconds"); timeout > 0) {
                    affinity = timeout;
                }
            }
        }
    }
    const auto* ports = array_at(*spec, "ports");
    if (!ports) return out;
    for (const auto& p : *ports) {
        if (!p.is_object()) continue;
        const auto& sp = p.as_object();
        ServicePort port;
        port.ns = api::meta_string(service, "namespace");
        port.name = api::meta_string(service, "name");
        port.port_name = string_at(sp, "name");
        port.protocol = nft_protocol(string_at(sp, "protocol"));
        port.port = int_value(sp, "port");
        if (port.protocol.empty() || port.port <= 0 || port.port > 65535) continue;
        port.cluster_ips = ips;
        if (with_node_ports) {
            port.node_port = int_value(sp, "nodePort");
            if (port.node_port < 0 || port.node_port > 65535) port.node_port = 0;
            port.external_local = string_at(*spec, "externalTrafficPolicy") == "Local";
        }
        port.internal_local = string_at(*spec, "internalTrafficPolicy") == "Local";
        port.affinity_timeout = affinity;
        for (const auto* slice : slices)
            add_endpoints(port, *slice, node_name);
        std::sort(port.endpoints.begin(), port.endpoints.end());
        // The same address can be listed twice while a slice is being replaced; one entry
        // stays, with the best conditions either copy reports.
        std::vector<Endpoint> unique;
        for (auto& e : port.endpoints) {
            if (!unique.empty() && unique.back().ip == e.ip && unique.back().port == e.port) {
                auto& kept = unique.back();
                kept.ready = kept.ready || e.ready;
                kept.serving = kept.serving || e.serving;
                kept.terminating = kept.terminating && e.terminating;
                kept.local = kept.local || e.local;
                continue;
            }
            unique.push_back(std::move(e));
        }
        port.endpoints = std::move(unique);
        out.push_back(std::move(port));
    }
    return out;
}

std::string slice_service_key(const json::object& slice) {
    const auto* metadata = object_at(slice, "metadata");
    if (!metadata) return {};
    const auto* labels = object_at(*metadata, "labels");
    if (!labels) return {};
    const std::string service = string_at(*labels, kServiceNameLabel);
    if (service.empty()) return {};
    return api::meta_string(slice, "namespace") + "/" + service;
}

}  // namespace kcube::proxy
