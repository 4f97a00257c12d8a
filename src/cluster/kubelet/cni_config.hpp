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

// The first /24 of a pod CIDR such as 10.244.0.0/16 (this node's range). Throws Error for a
// malformed CIDR.
std::string node_pod_subnet(const std::string& pod_cidr);

}  // namespace kcube::kubelet
