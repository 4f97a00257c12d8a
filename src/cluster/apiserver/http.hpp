#pragma once
// The API server's view of HTTP, free of Beast: what a handler receives and returns. Streaming
// responses (watch) carry a WatchStream that the connection drains.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/api/service.hpp"

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

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. Warning
    std::unique_ptr<WatchPlan> watch;                          // set: stream instead of body
};

}  // namespace kcube::apiserver
