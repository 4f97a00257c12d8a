#pragma once
// `kcube node run`: one process that is the whole node. It prepares its PKI and store, serves
// the API, runs the enabled components, and stops cleanly on SIGTERM or SIGINT.
#include <filesystem>
#include <set>
#include <string>

namespace kcube::node {

struct NodeOptions {
    std::filesystem::path data_dir;
    std::string listen_address = "0.0.0.0";
    int port = 8443;
    std::set<std::string> disabled;  // kubelet, proxy, dns, controllers, scheduler
    std::string datastore = "sqlite";
    std::string node_name;  // default: the host name
    int node_monitor_grace_period_seconds = 40;
    // The node's address (Node InternalIP, API server endpoint for pods, certificate SAN);
    // empty: the address of the host's default route.
    std::string node_ip;
    std::string pod_cidr = "10.244.0.0/16";
    // An existing CRI socket to use instead of starting the node's own containerd.
    std::string container_runtime_endpoint;
    // OCI image tarballs (*.tar) imported into containerd at start when missing; empty: the
    // images/ directory next to the kcube binary.
    std::filesystem::path image_dir;
    std::filesystem::path cni_bin_dir = "/usr/lib/cni";
    // The node's resolver config: cluster DNS forwards other names to its nameservers, and
    // pods with dnsPolicy Default get it (the kubelet's --resolv-conf).
    std::filesystem::path resolv_conf = "/etc/resolv.conf";
    // What host.kcube.internal resolves to in the cluster; empty: the node IP (the none
    // driver's node is the host).
    std::string host_ip;
};

// The component names --disable accepts.
const std::set<std::string>& known_components();

// Runs until SIGTERM/SIGINT. Throws Error for problems found before serving.
void run(const NodeOptions& options);

}  // namespace kcube::node
