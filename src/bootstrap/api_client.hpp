#pragma once
// The few API calls the host makes to a node while bootstrapping it: is the API server ready,
// is the Node Ready. HTTPS with the administrator's client certificate, verified against the
// cluster CA, each call bounded by a timeout (a node that is starting may accept and not answer).
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace kcube::bootstrap {

struct ApiAccess {
    std::string host;  // 127.0.0.1
    int port = 0;
    std::filesystem::path ca_cert;
    std::filesystem::path client_cert;
    std::filesystem::path client_key;

    std::string server_url() const { return "https://" + host + ":" + std::to_string(port); }
};

struct HttpResult {
    int status = 0;
    std::string body;
};

// One GET of `target`. Nothing when there was no answer (refused, TLS failure, timeout);
// `error` then says why.
std::optional<HttpResult> https_get(const ApiAccess& access, const std::string& target,
                                    std::chrono::milliseconds timeout,
                                    std::string* error = nullptr);

// GET /readyz answered 200.
bool apiserver_ready(const ApiAccess& access, std::chrono::milliseconds timeout);

enum class NodeReadiness {
    kUnreachable,  // the API server did not answer
    kMissing,      // no Node object of that name (yet)
    kNotReady,     // its Ready condition is not True
    kReady,
};

// The Ready condition of Node `name`.
NodeReadiness node_readiness(const ApiAccess& access, const std::string& name,
                             std::chrono::milliseconds timeout);

// Whether a Node object's JSON has condition Ready=True.
bool node_json_ready(const std::string& node_json);

}  // namespace kcube::bootstrap
