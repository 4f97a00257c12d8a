#pragma once
// A pod's sandbox as the CRI wants it: metadata and labels, hostname, DNS, host ports, log
// directory, namespaces and sysctls.
#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/kubelet/cri/client.hpp"

namespace kcube::kubelet {

// How pods resolve names.
struct DnsSettings {
    // The cluster DNS Service IP (ClusterFirst pods use it); empty while the node serves no
    // DNS, then ClusterFirst falls back to the host's resolvers, as upstream does without
    // --cluster-dns.
    std::string cluster_dns;
    std::string cluster_domain = "cluster.local";
    // The host's resolvers and search domains (dnsPolicy Default, hostNetwork pods).
    std::vector<std::string> host_servers;
    std::vector<std::string> host_searches;
};

// The resolvers of the host's resolv.conf (systemd-resolved's real upstreams when the file
// points at its 127.0.0.53 stub, which a pod could not reach).
DnsSettings host_dns_settings(const std::filesystem::path& resolv_conf = "/etc/resolv.conf");

cri::v1::PodSandboxConfig build_sandbox_config(const boost::json::object& pod,
                                               std::uint32_t attempt,
                                               const std::string& log_directory,
                                               const DnsSettings& dns);

bool pod_host_network(const boost::json::object& pod);

}  // namespace kcube::kubelet
