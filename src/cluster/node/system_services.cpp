#include "cluster/node/system_services.hpp"

#include <boost/json.hpp>

#include "cluster/api/errors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::node {
namespace json = boost::json;

namespace {

void create_if_missing(api::ResourceService& service, const char* group, const char* version,
                       const char* plural, const std::string& ns, const json::object& object) {
    auto info = service.registry().find(group, version, plural);
    try {
        service.create(*info, ns, object, {});
    } catch (const api::ApiError& e) {
        if (e.code() != 409) throw;
    }
}

// Creates the object, or replaces the existing one's content (the node's address may have
// changed since the last start).
void create_or_replace(api::ResourceService& service, const char* group, const char* version,
                       const char* plural, const std::string& ns, const std::string& name,
                       const json::object& object) {
    auto info = service.registry().find(group, version, plural);
    try {
        service.create(*info, ns, object, {});
    } catch (const api::ApiError& e) {
        if (e.code() != 409) throw;
        service.update(*info, ns, name, object, {});
    }
}

struct BackendPort {
    const char* name;
    int port;
    const char* protocol;
};

// The Endpoints and EndpointSlice of a selectorless Service backed by one address.
void write_backend(api::ResourceService& service, const std::string& ns, const std::string& name,
                   const std::string& address, const std::string& node_name,
                   const std::vector<BackendPort>& ports) {
    json::array endpoint_ports, slice_ports;
    for (const auto& p : ports) {
        endpoint_ports.push_back({{"name", p.name}, {"port", p.port}, {"protocol", p.protocol}});
        slice_ports.push_back({{"name", p.name}, {"port", p.port}, {"protocol", p.protocol}});
    }
    json::object address_entry{{"ip", address}};
    if (!node_name.empty()) address_entry["nodeName"] = node_name;
    // The node writes these Services' slices itself: the mirroring controller leaves them.
    json::object endpoints{
        {"metadata",
         json::object{
             {"name", name},
             {"labels", json::object{{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
        {"subsets", json::array{json::object{{"addresses", json::array{address_entry}},
                                             {"ports", std::move(endpoint_ports)}}}}};
    create_or_replace(service, "", "v1", "endpoints", ns, name, endpoints);

    json::object endpoint{
        {"addresses", json::array{json::value(address)}},
        {"conditions", json::object{{"ready", true}, {"serving", true}, {"terminating", false}}}};
    if (!node_name.empty()) endpoint["nodeName"] = node_name;
    json::object slice{
        {"metadata", json::object{{"name", name},
                                  {"labels", json::object{{"kubernetes.io/service-name", name},
                                                          {"endpointslice.kubernetes.io/managed-by",
                                                           "node.kcube.io"}}}}},
        {"addressType", "IPv4"},
        {"endpoints", json::array{std::move(endpoint)}},
        {"ports", std::move(slice_ports)}};
    create_or_replace(service, "discovery.k8s.io", "v1", "endpointslices", ns, name, slice);
}

}  // namespace

void ensure_kubernetes_service(api::ResourceService& service, const std::string& address,
                               int port) {
    json::object object{
        {"metadata", json::object{{"name", "kubernetes"},
                                  {"labels", json::object{{"component", "apiserver"},
                                                          {"provider", "kubernetes"}}}}},
        {"spec", json::object{{"clusterIP", "10.96.0.1"},
                              {"type", "ClusterIP"},
                              {"ports", json::array{json::object{{"name", "https"},
                                                                 {"port", 443},
                                                                 {"protocol", "TCP"},
                                                                 {"targetPort", port}}}}}}};
    create_if_missing(service, "", "v1", "services", "default", object);
    write_backend(service, "default", "kubernetes", address, "", {{"https", port, "TCP"}});
}

void ensure_kube_dns_service(api::ResourceService& service, const std::string& dns_address,
                             const std::string& node_name) {
    json::object object{
        {"metadata", json::object{{"name", "kube-dns"},
                                  {"labels", json::object{{"k8s-app", "kube-dns"},
                                                          {"kubernetes.io/cluster-service", "true"},
                                                          {"kubernetes.io/name", "KubeDNS"}}}}},
        {"spec", json::object{{"clusterIP", kClusterDnsIp},
                              {"type", "ClusterIP"},
                              {"ports", json::array{json::object{{"name", "dns"},
                                                                 {"port", 53},
                                                                 {"protocol", "UDP"},
                                                                 {"targetPort", 53}},
                                                    json::object{{"name", "dns-tcp"},
                                                                 {"port", 53},
                                                                 {"protocol", "TCP"},
                                                                 {"targetPort", 53}}}}}}};
    create_if_missing(service, "", "v1", "services", "kube-system", object);
    write_backend(service, "kube-system", "kube-dns", dns_address, node_name,
                  {{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}});
}

}  // namespace kcube::node
