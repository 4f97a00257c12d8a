#pragma once
// Maps an HTTP request to a verb on a resource (or a discovery/health document) and encodes the
// result. Knows nothing of sockets; the connection code calls handle() and streams watches.
#include <atomic>
#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "cluster/apiserver/http.hpp"

namespace kcube::api {
class ResourceService;
class ResourceRegistry;
}  // namespace kcube::api

namespace kcube::auth {
class Authorizer;
class Authenticator;
class TokenIssuer;
}  // namespace kcube::auth

namespace kcube::apiserver {

// Who may do what: service-account tokens and RBAC. All three outlive the Router.
struct Security {
    auth::Authenticator& authenticator;
    auth::Authorizer& authorizer;
    const auth::TokenIssuer& token_issuer;
};

struct ServerInfo {
    std::string kubernetes_version;  // "v1.32.0"
    std::string commit;
    std::string build_date;
    std::string advertise_address;  // host:port for /api's serverAddressByClientCIDRs
};

class Router {
  public:
    Router(api::ResourceService& service, Security security, ServerInfo info);
    Response handle(const Request& request);
    // One watch event as a line on the wire (JSON + "\n"), Table-encoded if the plan says so.
    static std::string encode_event(const api::WatchEvent& event, const WatchPlan& plan);

    // Readiness checks shown by /readyz?verbose; the node adds its components.
    void set_ready(bool ready) { ready_ = ready; }
    // The kubelet, which serves pods/log, exec, attach and portforward; without one (the
    // kubelet disabled) those answer 501. Not owned; it must outlive the Router's use of it.
    // Set (or cleared) while the server runs, as the kubelet starts and stops.
    void set_pod_streams(PodStreams* streams) { pod_streams_.store(streams); }

  private:
    Response route(const Request& request);
    // pods/binding: assigns the pod to a node, once (upstream's scheduler protocol).
    boost::json::object bind_pod(const std::string& ns, const std::string& name,
                                 const boost::json::object& binding);
    // pods/eviction: deletes the pod with the eviction's options.
    boost::json::object evict_pod(const std::string& ns, const std::string& name,
                                  const boost::json::object& eviction);
    // GET pods/log: a LogStream response (empty for a pod not yet on a node).
    Response pod_log(const Request& request, const std::string& ns, const std::string& name);
    // pods/exec, attach, portforward: an UpgradeRelay to the runtime's streaming server.
    Response pod_session(const Request& request, const std::string& ns, const std::string& name,
                         const std::string& subresource);
    // The user a request acts as: its client certificate, else its bearer token; 401 if the
    // token is not valid.
    User authenticate(const Request& request);
    api::ResourceService& service_;
    Security security_;
    ServerInfo info_;
    bool ready_ = false;
    std::atomic<PodStreams*> pod_streams_ = nullptr;
};

}  // namespace kcube::apiserver
