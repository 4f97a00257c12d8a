#include "cluster/node/node.hpp"

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
#include "cluster/store/store.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/version.hpp"

namespace kcube::node {
namespace json = boost::json;

const std::set<std::string>& known_components() {
    static const std::set<std::string> components = {"kubelet", "proxy", "dns", "controllers",
                                                     "scheduler"};
    return components;
}

namespace {

std::string host_name() {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "kcube";
    std::string name(buffer);
    for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name.empty() ? "kcube" : name;
}

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

// The `kubernetes` Service in default, first in the service range, as in every cluster.
void ensure_kubernetes_service(api::ResourceService& service, const std::string& host, int port) {
    auto services = service.registry().find("", "v1", "services");
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
    try {
        service.create(*services, "default", object, {});
    } catch (const api::ApiError& e) {
        if (e.code() != 409) throw;
    }
    auto endpoints = service.registry().find("", "v1", "endpoints");
    json::object subsets{{"addresses", json::array{json::object{{"ip", host}}}},
                         {"ports", json::array{json::object{
                                       {"name", "https"}, {"port", port}, {"protocol", "TCP"}}}}};
    json::object ep{{"metadata", json::object{{"name", "kubernetes"}}},
                    {"subsets", json::array{subsets}}};
    try {
        service.create(*endpoints, "default", ep, {});
    } catch (const api::ApiError& e) {
        if (e.code() != 409) throw;
        service.update(*endpoints, "default", "kubernetes", ep, {});
    }
}

// Blocks SIGTERM/SIGINT in every thread started after it, so that sigwait() sees them.
sigset_t block_stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

}  // namespace

void run(const NodeOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    const sigset_t stop_signals = block_stop_signals();
    if (options.datastore != "sqlite") {
        throw Error(ExitCode::kUsage, "NODE_BAD_DATASTORE",
                    "unknown datastore \"" + options.datastore + "\"",
                    "Only the embedded sqlite datastore is available.");
    }
    const auto& data = options.data_dir;
    fs::ensure_dir(data, 0700);
    const std::string node_name = options.node_name.empty() ? host_name() : options.node_name;

    // PKI: the CA and every certificate live under DIR/pki, made on first run.
    const auto pki_dir = data / "pki";
    auto ca = pki::CertificateAuthority::load_or_create(pki_dir);
    pki::NodePkiSpec spec{node_name, {}, {}};
    if (options.listen_address != "0.0.0.0" && options.listen_address != "::") {
        spec.ip_addresses.push_back(options.listen_address);
    }
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
    ensure_kubernetes_service(service, host, options.port);

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
    router.set_ready(true);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    spdlog::info("kcube node {} ready: API server at {} ({} ms)", node_name, server_url,
                 elapsed.count());
    std::fprintf(stderr, "kcube node %s ready: API server at %s (%lld ms)\n", node_name.c_str(),
                 server_url.c_str(), static_cast<long long>(elapsed.count()));

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::fprintf(stderr, "kcube node: %s received, stopping\n", strsignal(signal_number));
    router.set_ready(false);
    server.stop();
}

}  // namespace kcube::node
