#pragma once
// Cluster DNS (CoreDNS's kubernetes + forward plugins, in process): answers for the cluster
// domain from Services, EndpointSlices and Pods, forwards every other name to the node's
// resolvers, over UDP and TCP on the given addresses.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kcube::api {
class ResourceService;
}

namespace kcube::dns {

struct DnsOptions {
    // Addresses to serve on (UDP and TCP), e.g. the pod network's gateway 10.244.0.1.
    std::vector<std::string> listen_addresses = {"127.0.0.1"};
    std::uint16_t port = 53;  // 0: an ephemeral port (tests), see DnsServer::port()
    std::string cluster_domain = "cluster.local";
    // Resolvers for names outside the cluster domain: "IP" or "IP:PORT", tried in order.
    std::vector<std::string> upstreams;
    // Fixed A records, e.g. {"host.kcube.internal", "192.168.1.20"}.
    std::map<std::string, std::string> static_hosts;
    std::chrono::seconds ttl{5};  // of cluster answers (CoreDNS's kubernetes plugin default)
};

class DnsServer {
  public:
    DnsServer(api::ResourceService& service, DnsOptions options);
    ~DnsServer();  // stop()
    DnsServer(const DnsServer&) = delete;
    DnsServer& operator=(const DnsServer&) = delete;

    // Binds every address (throws Error naming the address and what to do when one is taken),
    // fills its caches from the API, then serves on a thread of its own.
    void start();
    void stop();
    std::uint16_t port() const;  // the bound port

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The nameservers of a resolv.conf file ("IP" each; empty when the file has none).
std::vector<std::string> upstreams_from_resolv_conf(const std::filesystem::path& path);

}  // namespace kcube::dns
