#pragma once
// The service proxy (kube-proxy's role, nftables mode): it follows Services and EndpointSlices
// and programs one nftables table (family ip) so that ClusterIPs, NodePorts and their
// policies reach the ready endpoints. Changes are applied incrementally, one atomic nftables
// transaction per sync; start() replaces whatever a crashed node left, stop() removes it all.
#include <chrono>
#include <memory>
#include <string>

namespace kcube::api {
class ResourceService;
}

namespace kcube::proxy {

struct ProxyOptions {
    std::string node_name;  // endpoints with this nodeName are local (traffic policy Local)
    // The pod network: traffic to a ClusterIP from outside it (the host itself, other hosts)
    // is masqueraded so that replies come back through the node.
    std::string cluster_cidr = "10.244.0.0/16";
    std::string table = "kcube";  // the nftables table (tests use their own)
    // Changes seen within this window are applied in one transaction.
    std::chrono::milliseconds min_sync_period{20};
};

class ServiceProxy {
  public:
    ServiceProxy(api::ResourceService& service, ProxyOptions options);
    ~ServiceProxy();  // stop()
    ServiceProxy(const ServiceProxy&) = delete;
    ServiceProxy& operator=(const ServiceProxy&) = delete;

    // Prepares the host (br_netfilter's bridge-nf-call-iptables, ip_forward), replaces any
    // stale table of the same name, programs every Service, then follows changes on a thread
    // of its own. Throws Error (with what to do) when nftables cannot be used.
    void start();
    // Stops following changes and deletes the table. Safe to call twice.
    void stop();

    // Blocks until every change seen so far is programmed (tests); false on timeout.
    bool wait_synced(std::chrono::milliseconds timeout);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Deletes the table if it exists (cleanup after a node that was killed); returns whether it
// existed. Throws Error when nftables cannot be used at all.
bool remove_rules(const std::string& table = "kcube");

}  // namespace kcube::proxy
