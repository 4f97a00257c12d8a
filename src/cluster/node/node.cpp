#include "cluster/node/node.hpp"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>

#include "bootstrap/kubeconfig.hpp"
#include "bootstrap/pki.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/apiserver/router.hpp"
#include "cluster/apiserver/server.hpp"
#include "cluster/auth/rbac.hpp"
#include "cluster/auth/tokens.hpp"
#include "cluster/controllers/crd_controller.hpp"
#include "cluster/controllers/manager.hpp"
#include "cluster/controllers/namespace_controller.hpp"
#include "cluster/dns/server.hpp"
#include "cluster/kubelet/bundled_images.hpp"
#include "cluster/kubelet/cni_config.hpp"
#include "cluster/kubelet/containerd.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "cluster/kubelet/kubelet.hpp"
#include "cluster/node/system_services.hpp"
#include "cluster/proxy/proxy.hpp"
#include "cluster/store/store.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/net.hpp"
#include "common/version.hpp"

namespace kcube::node {
namespace json = boost::json;

const std::set<std::string>& known_components() {
    static const std::set<std::string> components = {"kubelet", "proxy", "dns", "controllers",
                                                     "scheduler"};
    return components;
}

namespace {

// The namespaces every cluster has.
void ensure_system_namespaces(api::ResourceService& service) {
    auto info = service.registry().find("", "v1", "namespaces");
    for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
        try {
            service.create(*info, "", json::object{{"metadata", json::object{{"name", name}}}}, {});
        } catch (const api::ApiError& e) {
            if (e.code() != 409) throw;
        }
    }
}

// The images directory next to the running kcube binary (where the build puts the tarballs).
std::filesystem::path default_image_dir() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : self.parent_path() / "images";
}

std::filesystem::path socket_path(const std::string& endpoint) {
    constexpr std::string_view kScheme = "unix://";
    if (endpoint.starts_with(kScheme)) return endpoint.substr(kScheme.size());
    return endpoint;
}

// The kubelet and what it stands on: the node's containerd (or a given CRI socket), the pod
// network's CNI config, the bundled images. Members are destroyed in reverse order, so pods
// are stopped before containerd.
class KubeletStack {
  public:
    KubeletStack(const NodeOptions& options, const std::string& node_name,
                 const std::string& node_ip, bool cluster_dns, api::ResourceService& service,
                 const auth::TokenIssuer& tokens) {
        const auto& data = options.data_dir;
        const std::string subnet = kubelet::node_pod_subnet(options.pod_cidr);
        std::filesystem::path socket;
        if (options.container_runtime_endpoint.empty()) {
            kubelet::ContainerdOptions containerd_options;
            containerd_options.data_dir = data / "containerd";
            containerd_options.cni_bin_dir = options.cni_bin_dir;
            auto paths = kubelet::containerd_paths(containerd_options);
            kubelet::CniNetwork network;
            network.subnet = subnet;
            network.ipam_data_dir = data / "cni" / "ipam";
            kubelet::install_cni_config(paths.cni_conf_dir, network);
            containerd_ = std::make_unique<kubelet::Containerd>(std::move(containerd_options));
            socket = containerd_->socket();
        } else {
            socket = socket_path(options.container_runtime_endpoint);
        }
        cri_ = std::make_unique<kubelet::cri::CriClient>(kubelet::cri::CriClientOptions{socket});
        if (containerd_) {
            const auto dir = options.image_dir.empty() ? default_image_dir() : options.image_dir;
            for (const auto& name : kubelet::import_bundled_images(
                     *containerd_, *cri_, dir, data / "containerd" / "imported"))
                spdlog::info("imported image {}", name);
        }
        kubelet::KubeletOptions kubelet_options;
        kubelet_options.node_name = node_name;
        kubelet_options.node_ip = node_ip;
        kubelet_options.pod_cidr = subnet;
        kubelet_options.kubelet_version = kKubernetesVersion;
        kubelet_options.data_dir = data;
        kubelet_options.paths = kubelet::KubeletPaths{data / "kubelet"};
        kubelet_options.dns = kubelet::host_dns_settings(options.resolv_conf);
        if (cluster_dns) kubelet_options.dns.cluster_dns = kClusterDnsIp;
        kubelet_options.tokens = [&service, &tokens](const std::string& ns,
                                                     const std::string& account,
                                                     json::object request) {
            return auth::handle_token_request(service, tokens, ns, account, std::move(request));
        };
        kubelet_ = std::make_unique<kubelet::Kubelet>(service, *cri_, std::move(kubelet_options));
    }

    kubelet::Kubelet& kubelet() { return *kubelet_; }

  private:
    std::unique_ptr<kubelet::Containerd> containerd_;
    std::unique_ptr<kubelet::cri::CriClient> cri_;
    std::unique_ptr<kubelet::Kubelet> kubelet_;
};

// The Service network: the proxy's nftables rules and the cluster DNS server, which serves on
// the pod network's gateway address behind the kube-dns Service.
class ServiceNetworkStack {
  public:
    ServiceNetworkStack(const NodeOptions& options, const std::string& node_name,
                        const std::string& node_ip, api::ResourceService& service) {
        const std::string subnet = kubelet::node_pod_subnet(options.pod_cidr);
        if (!options.disabled.contains("proxy")) {
            proxy::ProxyOptions proxy_options;
            proxy_options.node_name = node_name;
            proxy_options.cluster_cidr = options.pod_cidr;
            proxy_ = std::make_unique<proxy::ServiceProxy>(service, std::move(proxy_options));
        }
        if (!options.disabled.contains("dns")) {
            kubelet::CniNetwork network;
            network.subnet = subnet;
            kubelet::ensure_pod_bridge(network);
            const std::string address = kubelet::pod_gateway(subnet);
            dns::DnsOptions dns_options;
            dns_options.listen_addresses = {address};
            dns_options.upstreams = dns::upstreams_from_resolv_conf(options.resolv_conf);
            dns_options.static_hosts["host.kcube.internal"] =
                options.host_ip.empty() ? node_ip : options.host_ip;
            dns_ = std::make_unique<dns::DnsServer>(service, std::move(dns_options));
            ensure_kube_dns_service(service, address, node_name);
        }
    }

    bool serves_dns() const { return dns_ != nullptr; }

    void start() {
        if (dns_) dns_->start();
        if (proxy_) proxy_->start();
    }
    // The rules go with the node (`kcube stop` leaves no trace on the host).
    void stop() {
        if (proxy_) proxy_->stop();
        if (dns_) dns_->stop();
    }

  private:
    std::unique_ptr<proxy::ServiceProxy> proxy_;
    std::unique_ptr<dns::DnsServer> dns_;
};

// Blocks SIGTERM/SIGINT in every thread started after it, so that sigtimedwait() sees them.
sigset_t block_stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

// Waits for a stop signal. Meanwhile, every 10 s, hands the memory that the components freed
// (list and watch buffers, finished syncs) back to the kernel: glibc keeps freed pages inside
// its arenas otherwise, and an idle node would stay at its busiest size.
int wait_for_stop(const sigset_t& signals) {
    const timespec period{10, 0};
    while (true) {
        const int signal_number = sigtimedwait(&signals, nullptr, &period);
        if (signal_number > 0) return signal_number;
        malloc_trim(0);
    }
}

}  // namespace

void run(const NodeOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    // The node runs some 30 threads that are idle nearly all the time; glibc's default of one
    // malloc arena per thread (up to 8 per core) keeps each arena's freed memory resident.
    // Two arenas are plenty for 2-4 busy threads and keep the node's RSS small.
    mallopt(M_ARENA_MAX, 2);
    const sigset_t stop_signals = block_stop_signals();
    if (options.datastore != "sqlite") {
        throw Error(ExitCode::kUsage, "NODE_BAD_DATASTORE",
                    "unknown datastore \"" + options.datastore + "\"",
                    "Only the embedded sqlite datastore is available.");
    }
    const auto& data = options.data_dir;
    fs::ensure_dir(data, 0700);
    const std::string node_name = options.node_name.empty() ? net::host_name() : options.node_name;
    std::string node_ip = options.node_ip;
    if (node_ip.empty()) node_ip = net::default_route_ipv4();
    if (node_ip.empty()) node_ip = "127.0.0.1";

    // PKI: the CA and every certificate live under DIR/pki, made on first run.
    const auto pki_dir = data / "pki";
    auto ca = pki::CertificateAuthority::load_or_create(pki_dir);
    pki::NodePkiSpec spec{node_name, {}, {}};
    if (options.listen_address != "0.0.0.0" && options.listen_address != "::") {
        spec.ip_addresses.push_back(options.listen_address);
    }
    if (node_ip != options.listen_address) spec.ip_addresses.push_back(node_ip);
    const auto files = pki::ensure_node_pki(ca, pki_dir, spec);

    const std::string host =
        options.listen_address == "0.0.0.0" ? "127.0.0.1" : options.listen_address;
    const std::string server_url = "https://" + host + ":" + std::to_string(options.port);
    kubeconfig::Entry admin{"kcube",         server_url, files.ca_cert, files.admin_cert,
                            files.admin_key, "",         true};
    fs::write_file_atomic(data / "admin.kubeconfig", kubeconfig::render(admin), 0600);

    auto store = std::shared_ptr<store::Store>(store::open_sqlite_store(data / "state.db"));
    auto registry = api::ResourceRegistry::with_builtins();
    api::ResourceService service(store, registry, api::builtin_schemas());
    ensure_system_namespaces(service);
    // Pods reach the API server at the node's address (not at a loopback listen address).
    ensure_kubernetes_service(service, options.listen_address == "0.0.0.0" ? node_ip : host,
                              options.port);
    const bool cluster_dns = !options.disabled.contains("dns");

    auth::ensure_default_rbac(service);
    auth::TokenIssuer token_issuer(files.sa_key, files.sa_pub);
    auth::Authenticator authenticator(token_issuer, service);
    auth::Authorizer authorizer(service);
    apiserver::Router router(service, {authenticator, authorizer, token_issuer},
                             {kKubernetesVersion, build::kCommit, build::kBuildDate,
                              host + ":" + std::to_string(options.port)});
    apiserver::HttpsServer server(options.listen_address, options.port,
                                  {files.apiserver_cert, files.apiserver_key, files.ca_cert},
                                  router);
    server.start();
    // Namespace finalization is part of the API's contract (delete --wait), so it runs even
    // with --disable controllers.
    controllers::NamespaceController namespace_controller(service);
    controllers::CrdController crd_controller(service, *registry);
    controllers::ManagerOptions manager_options;
    manager_options.controllers = !options.disabled.contains("controllers");
    manager_options.scheduler = !options.disabled.contains("scheduler");
    manager_options.settings.root_ca_pem = fs::read_file(files.ca_cert);
    manager_options.settings.node_monitor_grace_period =
        std::chrono::seconds(options.node_monitor_grace_period_seconds);
    controllers::ControllerManager controller_manager(service, std::move(manager_options));
    controller_manager.start();
    auto network_stack =
        std::make_unique<ServiceNetworkStack>(options, node_name, node_ip, service);
    network_stack->start();
    std::unique_ptr<KubeletStack> kubelet_stack;
    if (!options.disabled.contains("kubelet")) {
        kubelet_stack = std::make_unique<KubeletStack>(options, node_name, node_ip, cluster_dns,
                                                       service, token_issuer);
        router.set_pod_streams(&kubelet_stack->kubelet());
        kubelet_stack->kubelet().start();
    }
    router.set_ready(true);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    spdlog::info("kcube node {} ready: API server at {} ({} ms)", node_name, server_url,
                 elapsed.count());
    std::fprintf(stderr, "kcube node %s ready: API server at %s (%lld ms)\n", node_name.c_str(),
                 server_url.c_str(), static_cast<long long>(elapsed.count()));

    const int signal_number = wait_for_stop(stop_signals);
    std::fprintf(stderr, "kcube node: %s received, stopping\n", strsignal(signal_number));
    router.set_ready(false);
    if (kubelet_stack) {
        // Pods stop first, while the API still takes their status; containerd goes last.
        kubelet_stack->kubelet().stop();
        router.set_pod_streams(nullptr);
    }
    network_stack->stop();
    server.stop();
    kubelet_stack.reset();
}

}  // namespace kcube::node
