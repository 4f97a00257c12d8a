#pragma once
// The pod network's CNI config: a bridge with host-local IPAM, portmap for hostPort, and the
// host's sysctls it needs (IP forwarding). containerd's CRI reads it from its CNI conf dir.
#include <filesystem>
#include <string>

namespace kcube::kubelet {

struct CniNetwork {
    std::string name = "kcube";            // the CNI network name
    std::string bridge = "kcube0";         // the Linux bridge device
    std::string subnet = "10.244.0.0/24";  // this node's pod range (from the pod CIDR)
    std::filesystem::path ipam_data_dir;   // host-local's allocations (under the data dir)
};

// The .conflist JSON (cniVersion 0.4.0): bridge (isGateway, ipMasq, hairpinMode, host-local
// with ranges/routes/dataDir) then portmap (capabilities.portMappings, snat).
std::string render_cni_conflist(const CniNetwork& network);

// Writes <conf_dir>/10-kcube.conflist (atomically, only when it changed) and enables
// net.ipv4.ip_forward. Throws Error when it cannot.
void install_cni_config(const std::filesystem::path& conf_dir, const CniNetwork& network);

// The bridge's own address in the pod range: the range's first host, the pods' gateway (what
// the bridge plugin's isGateway gives it), e.g. 10.244.0.1 for 10.244.0.0/24.
std::string pod_gateway(const std::string& subnet);

// Makes the bridge exist, up, with the gateway address before the first pod does, so that the
// node can serve on it (cluster DNS); the bridge plugin then finds it as it would have made it.
// Throws Error when `ip` fails.
void ensure_pod_bridge(const CniNetwork& network);

// The first /24 of a pod CIDR such as 10.244.0.0/16 (this node's range). Throws Error for a
// malformed CIDR.
std::string node_pod_subnet(const std::string& pod_cidr);

}  // namespace kcube::kubelet
