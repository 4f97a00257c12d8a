#pragma once
// The API server's view of HTTP, free of Beast: what a handler receives and returns. Streaming
// responses carry what the connection drains (a watch, a container's log) or relays (an upgraded
// pods/exec, attach or portforward connection).
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/api/service.hpp"
#include "cluster/apiserver/pod_streams.hpp"

namespace kcube::apiserver {

struct User {
    std::string name;  // "" = anonymous
    std::vector<std::string> groups;
    bool authenticated() const { return !name.empty(); }
};

struct Request {
    std::string method;  // GET, POST, PUT, PATCH, DELETE
    std::string path;    // decoded, without the query
    std::multimap<std::string, std::string> query;
    std::string accept;
    std::string content_type;
    std::string user_agent;
    std::string body;
    std::string bearer_token;  // from "Authorization: Bearer ..."
    // Impersonate-User / Impersonate-Group headers (kubectl --as / --as-group).
    std::string impersonate_user;
    std::vector<std::string> impersonate_groups;
    User user;  // from the client certificate, if any
    // The Upgrade header ("websocket", "SPDY/3.1") when Connection asks for an upgrade, else "".
    std::string upgrade;
    // Sec-WebSocket-Protocol's offers, in the client's order.
    std::vector<std::string> websocket_protocols;

    // The first value of query parameter `name`, or "".
    std::string param(const std::string& name) const;
    bool has_param(const std::string& name) const { return query.count(name) > 0; }
};

// How a watch is encoded on the wire.
struct WatchPlan {
    std::unique_ptr<api::WatchStream> stream;
    std::shared_ptr<const api::ResourceInfo> resource;
    bool as_table = false;
    bool bookmarks = false;
    int timeout_seconds = 0;  // 0: the server's default (30-60 min, randomised upstream)
};

// An upgraded connection relayed to the container runtime's streaming server, as upstream's
// kubelet proxies pods/exec, attach and portforward: the client's request goes to
// http://host:port<target> with its headers (less its credentials), the runtime's answer comes
// back, and after a 101 bytes flow both ways until either side closes.
struct UpgradeRelay {
    std::string host;
    int port = 0;
    std::string target;  // path and query on the runtime's server
    // When set, the runtime is offered this Sec-WebSocket-Protocol instead of the client's...
    std::string offer_protocol;
    // ...and a protocol it answers with is named to the client as this one.
    std::string runtime_protocol;
    std::string client_protocol;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. Warning
    std::unique_ptr<WatchPlan> watch;                          // set: stream instead of body
    std::unique_ptr<LogStream> log_stream;                     // set: chunks of it instead of body
    std::unique_ptr<UpgradeRelay> relay;  // set: the connection is relayed instead
};

}  // namespace kcube::apiserver
