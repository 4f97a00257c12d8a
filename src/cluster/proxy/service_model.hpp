#pragma once
// What the proxy programs, as plain data: one ServicePort per (Service, port) with its virtual
// addresses, policies and the endpoints its EndpointSlices list. Built from API objects here,
// rendered into nftables rules by nft_rules.hpp; no I/O.
#include <boost/json/object.hpp>
#include <compare>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::proxy {

// The label that ties an EndpointSlice to its Service (discovery.k8s.io/v1).
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
// Upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
inline constexpr int kDefaultAffinityTimeout = 10800;

struct Endpoint {
    std::string ip;
    int port = 0;
    bool ready = false;
    bool serving = false;
    bool terminating = false;
    bool local = false;  // on this node (nodeName matches)
    auto operator<=>(const Endpoint&) const = default;
};

struct ServicePort {
    std::string ns, name, port_name;
    std::string protocol;                  // nft's name: "tcp", "udp" or "sctp"
    std::vector<std::string> cluster_ips;  // IPv4 only
    int port = 0;
    int node_port = 0;                // 0: none
    int affinity_timeout = 0;         // seconds of ClientIP affinity; 0: none
    bool external_local = false;      // externalTrafficPolicy: Local
    bool internal_local = false;      // internalTrafficPolicy: Local
    std::vector<Endpoint> endpoints;  // every endpoint listed for this port, sorted, unique

    // "ns/name/proto/port-name": stable for the life of the Service port.
    std::string id() const;
    bool operator==(const ServicePort&) const = default;
};

// Everything the proxy programs, by ServicePort::id().
using ProxyState = std::map<std::string, ServicePort>;

// The endpoints traffic may go to, as upstream picks them: the ready ones, or when none is
// ready the serving ones that are terminating (so connections drain during a rollout). With
// `local_only`, the same choice among the endpoints on this node.
std::vector<Endpoint> usable_endpoints(const ServicePort& port, bool local_only);

// The ports of `service` with the endpoints from `slices` (the Service's EndpointSlices),
// matched by port name and protocol. Headless and ExternalName Services, and Services without
// an IPv4 ClusterIP, give none: they have no virtual IP to program.
std::vector<ServicePort> service_ports(const boost::json::object& service,
                                       const std::vector<const boost::json::object*>& slices,
                                       std::string_view node_name);

// "ns/name" of the Service an EndpointSlice belongs to (its service-name label), or "".
std::string slice_service_key(const boost::json::object& slice);

}  // namespace kcube::proxy
