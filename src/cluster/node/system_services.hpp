#pragma once
// The Services every cluster has, which the node itself backs: `default/kubernetes` (the API
// server) and `kube-system/kube-dns` (the node's DNS server), each with its Endpoints and
// EndpointSlice, as upstream's API server and CoreDNS add-on provide them.
#include <string>

namespace kcube::api {
class ResourceService;
}

namespace kcube::node {

// The cluster DNS Service IP (the tenth address of the Service range, as kubeadm uses).
inline constexpr const char* kClusterDnsIp = "10.96.0.10";

// The `kubernetes` Service (10.96.0.1:443) pointing at the API server at address:port.
void ensure_kubernetes_service(api::ResourceService& service, const std::string& address, int port);

// The `kube-dns` Service (10.96.0.10, ports dns/53 UDP and dns-tcp/53 TCP) pointing at the
// node's DNS server at `dns_address` on node `node_name`.
void ensure_kube_dns_service(api::ResourceService& service, const std::string& dns_address,
                             const std::string& node_name);

}  // namespace kcube::node
