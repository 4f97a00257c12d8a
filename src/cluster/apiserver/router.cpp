#include "cluster/apiserver/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>
#include <regex>

#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/protobuf.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/apiserver/discovery.hpp"
#include "cluster/apiserver/openapi.hpp"
#include "cluster/apiserver/table.hpp"
#include "cluster/auth/rbac.hpp"
#include "cluster/auth/tokens.hpp"

namespace kcube::apiserver {
namespace json = boost::json;
using api::ApiError;

std::string Request::param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? "" : it->second;
}

namespace {

constexpr std::string_view kAggregatedV2 =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

Response json_response(int status, const json::value& body) {
    Response response;
    response.status = status;
    response.body = json::serialize(body);
    return response;
}

Response text_response(int status, std::string body) {
    Response response;
    response.status = status;
    response.content_type = "text/plain; charset=utf-8";
    response.body = std::move(body);
    return response;
}

ApiError path_not_found() {
    return ApiError(404, "NotFound", "the server could not find the requested resource")
        .with_details({});
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        if (slash > start) parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

// Go's strconv.ParseBool, which upstream uses for boolean query parameters.
bool is_true(const std::string& value) {
    return value == "1" || value == "t" || value == "T" || value == "true" || value == "TRUE" ||
           value == "True";
}

api::ListOptions list_options(const Request& request) {
    api::ListOptions options;
    options.label_selector = request.param("labelSelector");
    options.field_selector = request.param("fieldSelector");
    options.resource_version = request.param("resourceVersion");
    options.resource_version_match = request.param("resourceVersionMatch");
    options.continue_token = request.param("continue");
    if (const auto limit = request.param("limit"); !limit.empty()) {
        try {
            options.limit = std::stoll(limit);
        } catch (const std::exception&) {
            throw api::bad_request("invalid limit \"" + limit + "\"");
        }
    }
    return options;
}

json::object parse_body(const Request& request) {
    // client-go's typed clients (kubectl create, auth can-i, create token...) send built-in
    // kinds as protobuf and do not retry with JSON on 415.
    if (api::is_kubernetes_protobuf(request.content_type)) {
        return api::decode_kubernetes_protobuf(request.body, api::builtin_schemas());
    }
    if (request.content_type.find("protobuf") != std::string::npos) {
        throw api::unsupported_media_type(
            "the body of the request was in an unknown format - "
            "accepted media types include: application/json, "
            "application/yaml");
    }
    if (request.body.empty()) throw api::bad_request("the request body is empty");
    json::value value;
    try {
        value = api::parse_document(request.body);
    } catch (const std::exception& e) {
        throw api::bad_request(std::string("couldn't get version/kind; json parse error: ") +
                               e.what());
    }
    if (!value.is_object()) {
        throw api::bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal " +
            std::string(value.is_array() ? "array" : "value") +
            " into Go value of type struct { APIVersion string "
            "\"json:\\\"apiVersion,omitempty\\\"\"; "
            "Kind string \"json:\\\"kind,omitempty\\\"\" }");
    }
    return std::move(value.as_object());
}

// upstream's managerOrUserAgent: a write without fieldManager is recorded under its client's
// User-Agent up to the first '/' ("kubectl/v1.32.0 (linux/amd64) ..." is "kubectl"), printable
// ASCII only and at most 128 bytes. An apply must name its manager instead.
std::string manager_from_user_agent(std::string_view user_agent) {
    constexpr std::size_t kMaxFieldManagerLength = 128;
    std::string manager;
    for (const char c : user_agent.substr(0, user_agent.find('/'))) {
        if (c < 0x20 || c == 0x7f) continue;
        if (manager.size() == kMaxFieldManagerLength) break;
        manager += c;
    }
    return manager;
}

bool is_apply(const Request& request) {
    return request.method == "PATCH" &&
           request.content_type.rfind("application/apply-patch+yaml", 0) == 0;
}

api::WriteOptions write_options(const Request& request, std::vector<std::string>* warnings) {
    api::WriteOptions options;
    options.dry_run = request.param("dryRun") == "All";
    if (request.has_param("dryRun") && !options.dry_run) {
        throw api::bad_request("Invalid dry run value: " + request.param("dryRun") +
                               "; supported values are: [All]");
    }
    options.field_manager = request.param("fieldManager");
    if (options.field_manager.empty() && !is_apply(request)) {
        options.field_manager = manager_from_user_agent(request.user_agent);
    }
    options.field_validation = request.param("fieldValidation");
    if (!options.field_validation.empty() && options.field_validation != "Strict" &&
        options.field_validation != "Warn" && options.field_validation != "Ignore") {
        throw api::bad_request("fieldValidation must be one of Ignore, Warn, or Strict, got " +
                               options.field_validation);
    }
    options.force = is_true(request.param("force"));
    options.warnings = warnings;
    return options;
}

api::DeleteOptions delete_options(const Request& request) {
    api::DeleteOptions options;
    if (!request.body.empty()) {
        json::value body;
        try {
            body = api::is_kubernetes_protobuf(request.content_type)
                       ? json::value(
                             api::decode_kubernetes_protobuf(request.body, api::builtin_schemas()))
                       : api::parse_document(request.body);
        } catch (const ApiError&) {
            throw;
        } catch (const std::exception& e) {
            throw api::bad_request(std::string("invalid DeleteOptions: ") + e.what());
        }
        if (body.is_object()) {
            const auto& o = body.as_object();
            if (const auto* g = o.if_contains("gracePeriodSeconds"); g && g->is_int64()) {
                options.grace_period_seconds = g->as_int64();
            }
            if (const auto* p = o.if_contains("propagationPolicy"); p && p->is_string()) {
                options.propagation_policy = p->as_string();
            }
            if (const auto* o2 = o.if_contains("orphanDependents"); o2 && o2->is_bool()) {
                if (options.propagation_policy.empty()) {
                    options.propagation_policy = o2->as_bool() ? "Orphan" : "Background";
                }
            }
            if (const auto* pre = o.if_contains("preconditions"); pre && pre->is_object()) {
                const auto& p = pre->as_object();
                if (const auto* uid = p.if_contains("uid"); uid && uid->is_string()) {
                    options.precondition_uid = uid->as_string();
                }
                if (const auto* rv = p.if_contains("resourceVersion"); rv && rv->is_string()) {
                    options.precondition_resource_version = rv->as_string();
                }
            }
            if (const auto* d = o.if_contains("dryRun"); d && d->is_array()) {
                for (const auto& v : d->as_array()) {
                    if (v.is_string() && v.as_string() == "All") options.dry_run = true;
                }
            }
        }
    }
    if (const auto g = request.param("gracePeriodSeconds"); !g.empty()) {
        try {
            options.grace_period_seconds = std::stoll(g);
        } catch (const std::exception&) {
            throw api::bad_request("invalid gracePeriodSeconds \"" + g + "\"");
        }
    }
    if (const auto p = request.param("propagationPolicy"); !p.empty()) {
        options.propagation_policy = p;
    }
    if (request.param("dryRun") == "All") options.dry_run = true;
    const auto& p = options.propagation_policy;
    if (!p.empty() && p != "Orphan" && p != "Background" && p != "Foreground") {
        throw api::bad_request("DeleteOptions.propagationPolicy: Unsupported value: \"" + p +
                               "\": supported values: \"Foreground\", \"Background\", "
                               "\"Orphan\"");
    }
    return options;
}

api::PatchType patch_type(const std::string& content_type) {
    const std::string type = content_type.substr(0, content_type.find(';'));
    if (type == "application/json-patch+json") return api::PatchType::kJson;
    if (type == "application/merge-patch+json") return api::PatchType::kMerge;
    if (type == "application/strategic-merge-patch+json") return api::PatchType::kStrategic;
    if (type == "application/apply-patch+yaml") return api::PatchType::kApply;
    throw api::unsupported_media_type(
        "the body of the request was in an unknown format - "
        "accepted media types include: "
        "application/json-patch+json, "
        "application/merge-patch+json, "
        "application/apply-patch+yaml");
}

std::string lower(std::string text) {
    for (auto& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// A boolean of PodLogOptions or PodExecOptions in a query, converted as upstream does: present
// and neither "0" nor "false" is true.
bool query_bool(const Request& request, const std::string& name) {
    auto it = request.query.find(name);
    if (it == request.query.end()) return false;
    const std::string value = lower(it->second);
    return value != "0" && value != "false";
}

// An int64 query parameter; a malformed one is upstream's 400 with Go's strconv text.
std::optional<std::int64_t> query_int(const Request& request, const std::string& name) {
    auto it = request.query.find(name);
    if (it == request.query.end() || it->second.empty()) return std::nullopt;
    const std::string& text = it->second;
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc::result_out_of_range) {
        throw api::bad_request("strconv.ParseInt: parsing \"" + text + "\": value out of range");
    }
    if (error != std::errc() || end != text.data() + text.size()) {
        throw api::bad_request("strconv.ParseInt: parsing \"" + text + "\": invalid syntax");
    }
    return value;
}

// RFC 3339 with seconds, an optional fraction and a zone, as Go's time.RFC3339 parses it.
bool is_rfc3339(const std::string& text) {
    static const std::regex pattern(
        R"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))");
    return std::regex_match(text, pattern);
}

std::vector<std::string> container_names(const json::object& spec, const char* field) {
    std::vector<std::string> names;
    if (const auto* list = spec.if_contains(field); list && list->is_array()) {
        for (const auto& c : list->as_array()) {
            if (c.is_object()) names.push_back(api::field_value(c.as_object(), "name"));
        }
    }
    return names;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names)
        out += (out.empty() ? "" : " ") + name;
    return out;
}

// The container a pods/log, exec or attach request means, checked as upstream's API server
// checks it: named and present, or the pod's only container.
std::string resolve_container(const json::object& pod, const std::string& name,
                              const std::string& container) {
    const json::object empty;
    const auto* spec_value = pod.if_contains("spec");
    const json::object& spec =
        spec_value && spec_value->is_object() ? spec_value->as_object() : empty;
    const auto containers = container_names(spec, "containers");
    if (container.empty()) {
        if (containers.size() == 1) return containers.front();
        if (containers.empty()) {
            throw api::bad_request("a container name must be specified for pod " + name);
        }
        std::string message = "a container name must be specified for pod " + name +
                              ", choose one of: [" + join_names(containers) + "]";
        const auto init = container_names(spec, "initContainers");
        if (!init.empty()) message += " or one of the init containers: [" + join_names(init) + "]";
        throw api::bad_request(message);
    }
    for (const char* field : {"containers", "initContainers", "ephemeralContainers"}) {
        const auto names = container_names(spec, field);
        if (std::find(names.begin(), names.end(), container) != names.end()) return container;
    }
    throw api::bad_request("container " + container + " is not valid for pod " + name);
}

// What the node's runtime (containerd's CRI streaming server, v1-v4 of the channel protocol)
// accepts for a WebSocket request, and how kubectl's offer is adapted to it.
struct WebSocketPlan {
    bool refuse = false;
    std::string offer_protocol;  // "" = relay the client's offer unchanged
    std::string runtime_protocol;
    std::string client_protocol;
};

WebSocketPlan websocket_plan(const Request& request, const std::string& subresource,
                             const SessionOptions& options) {
    WebSocketPlan plan;
    const auto& offered = request.websocket_protocols;
    auto offers = [&](std::string_view protocol) {
        return std::find(offered.begin(), offered.end(), protocol) != offered.end();
    };
    // Offers the runtime serves as they are (other clients, e.g. python's, use v4 directly).
    const std::vector<std::string_view> runtime_knows =
        subresource == "portforward"
            ? std::vector<std::string_view>{"v4.channel.k8s.io", "v4.base64.channel.k8s.io"}
            : std::vector<std::string_view>{"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                            "channel.k8s.io", "base64.channel.k8s.io"};
    if (offered.empty() || std::any_of(runtime_knows.begin(), runtime_knows.end(), offers)) {
        return plan;
    }
    // kubectl 1.32 offers exec and attach only v5.channel.k8s.io, which frames like v4 and adds
    // a CLOSE signal for stdin's end that a v4 server ignores. Relayed as v4 it works whenever
    // stdin's end need not reach the process: without stdin, or with a TTY (whose end of input
    // is a ^D the terminal carries). Otherwise (e.g. `echo hi | kubectl exec -i`) the upgrade
    // is refused, and kubectl falls back to SPDY, which carries stdin's end.
    if (subresource != "portforward" && offers("v5.channel.k8s.io") &&
        !(options.with_stdin && !options.tty)) {
        plan.offer_protocol = "v4.channel.k8s.io";
        plan.runtime_protocol = "v4.channel.k8s.io";
        plan.client_protocol = "v5.channel.k8s.io";
        return plan;
    }
    // Anything else, notably kubectl's port-forward tunnel (SPDY/3.1+portforward.k8s.io, SPDY
    // inside WebSocket), is refused before the runtime sees it: containerd would answer 403
    // and keep a goroutine for it. kubectl then falls back to SPDY.
    plan.refuse = true;
    return plan;
}

// http://host:port/path as the runtime's streaming server gives it.
UpgradeRelay relay_to(const std::string& url) {
    constexpr std::string_view kScheme = "http://";
    UpgradeRelay relay;
    if (url.rfind(kScheme, 0) != 0) {
        throw api::internal_error("the container runtime's streaming URL \"" + url +
                                  "\" is not http://host:port/path");
    }
    const auto slash = url.find('/', kScheme.size());
    const std::string authority = url.substr(
        kScheme.size(), slash == std::string::npos ? std::string::npos : slash - kScheme.size());
    relay.target = slash == std::string::npos ? "/" : url.substr(slash);
    const auto colon = authority.rfind(':');
    relay.host = authority.substr(0, colon);
    if (relay.host.size() > 2 && relay.host.front() == '[' && relay.host.back() == ']') {
        relay.host = relay.host.substr(1, relay.host.size() - 2);
    }
    int port = 80;
    if (colon != std::string::npos) {
        const std::string text = authority.substr(colon + 1);
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
        if (error != std::errc() || end != text.data() + text.size()) {
            throw api::internal_error("the container runtime's streaming URL \"" + url +
                                      "\" has no valid port");
        }
    }
    relay.port = port;
    return relay;
}

// Where a resource URL points, after /api/v1 or /apis/G/V.
struct Target {
    std::shared_ptr<const api::ResourceInfo> info;
    std::string ns;
    std::string name;
    std::string subresource;
};

}  // namespace

Router::Router(api::ResourceService& service, Security security, ServerInfo info)
    : service_(service), security_(security), info_(std::move(info)) {}

User Router::authenticate(const Request& request) {
    User user = request.user;
    if (!user.authenticated()) {
        if (request.bearer_token.empty()) throw api::unauthorized();
        auto from_token = security_.authenticator.authenticate_bearer(request.bearer_token);
        if (!from_token) throw api::unauthorized();
        user = std::move(*from_token);
    }
    if (request.impersonate_user.empty()) {
        if (!request.impersonate_groups.empty()) {
            throw api::bad_request("requested [" + request.impersonate_groups.front() +
                                   "] without impersonating a user");
        }
        return user;
    }
    // Impersonation, as upstream: the real user needs the "impersonate" verb on each
    // identity it takes (users, groups, or a service account).
    auto allow = [&](const std::string& resource, const std::string& ns, const std::string& name) {
        auth::Attributes attributes;
        attributes.user = user.name;
        attributes.groups = user.groups;
        attributes.verb = "impersonate";
        attributes.resource = resource;
        attributes.ns = ns;
        attributes.name = name;
        const auto decision = security_.authorizer.authorize(attributes);
        if (!decision.allowed) throw auth::forbidden_error(attributes, decision.reason);
    };
    User impersonated;
    impersonated.name = request.impersonate_user;
    constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";
    if (impersonated.name.rfind(kServiceAccountPrefix, 0) == 0) {
        const std::string rest = impersonated.name.substr(kServiceAccountPrefix.size());
        const auto colon = rest.find(':');
        const std::string ns = rest.substr(0, colon);
        allow("serviceaccounts", ns, colon == std::string::npos ? "" : rest.substr(colon + 1));
        impersonated.groups = {"system:serviceaccounts", "system:serviceaccounts:" + ns};
    } else {
        allow("users", "", impersonated.name);
    }
    for (const auto& group : request.impersonate_groups) {
        allow("groups", "", group);
        impersonated.groups.push_back(group);
    }
    impersonated.groups.push_back("system:authenticated");
    return impersonated;
}

json::object Router::bind_pod(const std::string& ns, const std::string& name,
                              const json::object& binding) {
    const std::string node = api::field_value(binding, "target.name");
    if (node.empty()) {
        throw api::invalid("", "Binding", name,
                           {{"FieldValueRequired", "Required value", "target.name"}});
    }
    service_.bind_pod(ns, name, node);
    return json::object{{"kind", "Status"},
                        {"apiVersion", "v1"},
                        {"metadata", json::object{}},
                        {"status", "Success"},
                        {"code", 201}};
}

json::object Router::evict_pod(const std::string& ns, const std::string& name,
                               const json::object& eviction) {
    auto pods = service_.registry().find("", "v1", "pods");
    api::DeleteOptions options;
    if (const auto* delete_options = eviction.if_contains("deleteOptions");
        delete_options && delete_options->is_object()) {
        if (const auto* g = delete_options->as_object().if_contains("gracePeriodSeconds");
            g && g->is_int64()) {
            options.grace_period_seconds = g->as_int64();
        }
    }
    service_.remove(*pods, ns, name, options);
    return json::object{{"kind", "Status"},
                        {"apiVersion", "v1"},
                        {"metadata", json::object{}},
                        {"status", "Success"},
                        {"code", 201}};
}

Response Router::pod_log(const Request& request, const std::string& ns, const std::string& name) {
    LogRequest options;
    options.container = request.param("container");
    options.follow = query_bool(request, "follow");
    options.previous = query_bool(request, "previous");
    options.timestamps = query_bool(request, "timestamps");
    options.tail_lines = query_int(request, "tailLines");
    options.since_seconds = query_int(request, "sinceSeconds");
    options.limit_bytes = query_int(request, "limitBytes");
    if (const auto since = request.param("sinceTime"); !since.empty() && since != "null") {
        if (!is_rfc3339(since)) {
            throw api::bad_request("parsing time \"" + since +
                                   "\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"" + since +
                                   "\" as \"2006\"");
        }
        options.since_time = since;
    }
    // Upstream's ValidatePodLogOptions.
    std::vector<api::StatusCause> causes;
    if (options.tail_lines && *options.tail_lines < 0) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(*options.tail_lines) +
                              ": must be greater than or equal to 0",
                          "tailLines"});
    }
    if (options.limit_bytes && *options.limit_bytes < 1) {
        causes.push_back(
            {"FieldValueInvalid",
             "Invalid value: " + std::to_string(*options.limit_bytes) + ": must be greater than 0",
             "limitBytes"});
    }
    if (options.since_seconds && options.since_time) {
        causes.push_back(
            {"FieldValueForbidden",
             "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", ""});
    } else if (options.since_seconds && *options.since_seconds < 1) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(*options.since_seconds) +
                              ": must be greater than 0",
                          "sinceSeconds"});
    }
    if (!causes.empty()) throw api::invalid("", "PodLogOptions", name, std::move(causes));

    const auto pods = service_.registry().find("", "v1", "pods");
    const json::object pod = service_.get(*pods, ns, name);
    options.container = resolve_container(pod, name, options.container);
    Response response;
    response.content_type = "text/plain";
    // A pod not yet on a node has no log: upstream answers with an empty body.
    if (api::field_value(pod, "spec.nodeName").empty()) return response;
    PodStreams* streams = pod_streams_.load();
    if (streams == nullptr) throw api::internal_error("the kubelet stopped");
    response.log_stream = streams->logs(ns, name, options);
    return response;
}

Response Router::pod_session(const Request& request, const std::string& ns, const std::string& name,
                             const std::string& subresource) {
    SessionOptions options;
    std::vector<std::string> command;
    std::vector<std::int32_t> ports;
    std::string container;
    if (subresource == "portforward") {
        // Go's Convert_Slice_string_To_Slice_int32: each value a comma-separated list.
        auto [begin, end] = request.query.equal_range("ports");
        for (auto it = begin; it != end; ++it) {
            std::size_t start = 0;
            for (;;) {
                const auto comma = it->second.find(',', start);
                const std::string text = it->second.substr(start, comma - start);
                unsigned value = 0;
                const auto [last, error] =
                    std::from_chars(text.data(), text.data() + text.size(), value);
                if (text.empty() || error != std::errc() || last != text.data() + text.size() ||
                    value > 65535) {
                    throw api::bad_request(
                        "cannot convert to []int32: strconv.ParseUint: parsing \"" + text + "\": " +
                        (error == std::errc::result_out_of_range || value > 65535
                             ? "value out of range"
                             : "invalid syntax"));
                }
                ports.push_back(static_cast<std::int32_t>(value));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        }
    } else {
        container = request.param("container");
        options.with_stdin = query_bool(request, "stdin");
        options.with_stdout = query_bool(request, "stdout");
        options.with_stderr = query_bool(request, "stderr");
        options.tty = query_bool(request, "tty");
        // As upstream's kubelet: a TTY merges stderr into stdout.
        if (options.tty) options.with_stderr = false;
        if (subresource == "exec") {
            auto [begin, end] = request.query.equal_range("command");
            for (auto it = begin; it != end; ++it)
                command.push_back(it->second);
        }
    }

    const auto pods = service_.registry().find("", "v1", "pods");
    const json::object pod = service_.get(*pods, ns, name);
    if (subresource != "portforward") container = resolve_container(pod, name, container);
    if (api::field_value(pod, "spec.nodeName").empty()) {
        throw api::bad_request("pod " + name + " does not have a host assigned");
    }
    if (request.upgrade.empty()) throw api::bad_request("Upgrade request required");
    if (subresource != "portforward" && !options.with_stdin && !options.with_stdout &&
        !options.with_stderr) {
        throw api::bad_request("you must specify at least 1 of stdin, stdout, stderr");
    }
    WebSocketPlan plan;
    if (lower(request.upgrade) == "websocket") {
        plan = websocket_plan(request, subresource, options);
        if (plan.refuse) {
            std::string offered;
            for (const auto& protocol : request.websocket_protocols)
                offered += (offered.empty() ? "" : " ") + protocol;
            throw api::bad_request(
                "unable to upgrade connection: the container runtime does "
                "not serve the requested protocols [" +
                offered + "] for this request; retry with SPDY");
        }
    }
    PodStreams* streams = pod_streams_.load();
    if (streams == nullptr) throw api::internal_error("the kubelet stopped");
    const StreamEndpoint endpoint =
        subresource == "exec"     ? streams->exec(ns, name, container, command, options)
        : subresource == "attach" ? streams->attach(ns, name, container, options)
                                  : streams->port_forward(ns, name, ports);
    Response response;
    response.relay = std::make_unique<UpgradeRelay>(relay_to(endpoint.url));
    response.relay->offer_protocol = plan.offer_protocol;
    response.relay->runtime_protocol = plan.runtime_protocol;
    response.relay->client_protocol = plan.client_protocol;
    return response;
}

Response Router::handle(const Request& request) {
    try {
        return route(request);
    } catch (const ApiError& e) {
        Response response = json_response(e.code(), e.to_status());
        if (e.retry_after_seconds() > 0) {
            response.headers.emplace_back("Retry-After", std::to_string(e.retry_after_seconds()));
        }
        return response;
    } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", request.method, request.path, e.what());
        return json_response(500, api::internal_error(e.what()).to_status());
    }
}

std::string Router::encode_event(const api::WatchEvent& event, const WatchPlan& plan) {
    json::object object = event.object;
    if (plan.as_table &&
        (event.type == "ADDED" || event.type == "MODIFIED" || event.type == "DELETED")) {
        object = to_table(*plan.resource, object, false, "Metadata");
    } else if (event.type != "ERROR" && event.type != "BOOKMARK") {
        object["kind"] = plan.resource->kind;
        object["apiVersion"] = plan.resource->api_version();
    }
    return json::serialize(json::object{{"type", event.type}, {"object", std::move(object)}}) +
           "\n";
}

Response Router::route(const Request& request) {
    const auto& path = request.path;
    if (path == "/healthz" || path == "/livez" || path == "/readyz") {
        const bool ok = path != "/readyz" || ready_;
        if (request.has_param("verbose")) {
            std::string body = "[+]ping ok\n[+]log ok\n";
            body += std::string(ok ? "[+]" : "[-]") + "store ok\n";
            body += path.substr(1) + (ok ? " check passed\n" : " check failed\n");
            return text_response(ok ? 200 : 500, body);
        }
        return text_response(ok ? 200 : 500, ok ? "ok" : "not ready");
    }
    if (path == "/version") {
        const std::string& v = info_.kubernetes_version;
        const auto dot1 = v.find('.');
        const auto dot2 = v.find('.', dot1 + 1);
        return json_response(200, json::object{{"major", v.substr(1, dot1 - 1)},
                                               {"minor", v.substr(dot1 + 1, dot2 - dot1 - 1)},
                                               {"gitVersion", v},
                                               {"gitCommit", info_.commit},
                                               {"gitTreeState", "clean"},
                                               {"buildDate", info_.build_date},
                                               {"goVersion", "kcube"},
                                               {"compiler", "gcc"},
                                               {"platform", "linux/amd64"}});
    }
    const User user = authenticate(request);
    auto authorize = [&](auth::Attributes attributes) {
        attributes.user = user.name;
        attributes.groups = user.groups;
        const auto decision = security_.authorizer.authorize(attributes);
        if (!decision.allowed) throw auth::forbidden_error(attributes, decision.reason);
    };

    const auto parts = split_path(path);
    const bool api_path = !parts.empty() && (parts[0] == "api" || parts[0] == "apis");
    const bool resource_path =
        api_path && (parts.size() > 3 || (parts.size() == 3 && parts[0] == "api"));
    if (!resource_path) {
        // Discovery and OpenAPI documents: non-resource requests, as upstream authorizes them.
        auth::Attributes attributes;
        attributes.resource_request = false;
        attributes.path = path;
        attributes.verb = request.method == "GET" ? "get" : "post";
        authorize(attributes);
    }
    const auto& registry = service_.registry();
    const bool aggregated = request.accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
                            request.accept.find("v=v2") != std::string::npos;
    auto discovery = [&](json::object body) {
        Response response = json_response(200, body);
        if (aggregated) response.content_type = std::string(kAggregatedV2);
        return response;
    };
    if (parts.size() == 1 && parts[0] == "api") {
        if (aggregated) return discovery(aggregated_discovery(registry, true));
        return json_response(200, api_versions(info_.advertise_address));
    }
    if (parts.size() == 1 && parts[0] == "apis") {
        if (aggregated) return discovery(aggregated_discovery(registry, false));
        return json_response(200, api_group_list(registry));
    }
    if (parts.size() >= 2 && parts[0] == "openapi" && parts[1] == "v3") {
        if (parts.size() == 2) return json_response(200, openapi_v3_root(registry));
        std::string gv_path;
        for (size_t i = 2; i < parts.size(); ++i)
            gv_path += (i > 2 ? "/" : "") + parts[i];
        auto document =
            openapi_v3_document(registry, service_.schemas(), gv_path, info_.kubernetes_version);
        if (document.empty()) throw path_not_found();
        return json_response(200, document);
    }
    if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) throw path_not_found();

    std::string group, version;
    size_t rest;
    if (parts[0] == "api") {
        if (parts[1] != "v1") throw path_not_found();
        version = "v1";
        rest = 2;
    } else {
        group = parts[1];
        if (parts.size() == 2) {
            auto body = api_group(registry, group);
            if (body.empty()) throw path_not_found();
            return json_response(200, body);
        }
        version = parts[2];
        rest = 3;
    }
    if (parts.size() == rest) {
        auto body = api_resource_list(registry, group, version);
        if (body.empty()) throw path_not_found();
        return json_response(200, body);
    }

    Target target;
    std::vector<std::string> r(parts.begin() + static_cast<long>(rest), parts.end());
    if (r.size() >= 3 && r[0] == "namespaces" && r[2] != "status" && r[2] != "finalize") {
        target.ns = r[1];
        r.erase(r.begin(), r.begin() + 2);
    }
    target.info = registry.find(group, version, r[0]);
    if (!target.info || r.size() > 3) throw path_not_found();
    if (!target.ns.empty() && !target.info->namespaced) throw path_not_found();
    if (r.size() >= 2) target.name = r[1];
    if (r.size() == 3) {
        target.subresource = r[2];
        if (!target.info->has_subresource(target.subresource)) throw path_not_found();
    }
    const auto& info = *target.info;
    const bool is_collection = target.name.empty();
    {
        auth::Attributes attributes;
        attributes.api_group = group;
        attributes.resource = info.plural;
        attributes.subresource = target.subresource;
        attributes.ns = target.ns;
        attributes.name = target.name;
        if (request.method == "GET") {
            attributes.verb = !is_collection                    ? "get"
                              : is_true(request.param("watch")) ? "watch"
                                                                : "list";
        } else if (request.method == "POST") {
            attributes.verb = "create";
        } else if (request.method == "PUT") {
            attributes.verb = "update";
        } else if (request.method == "PATCH") {
            attributes.verb = "patch";
        } else if (request.method == "DELETE") {
            attributes.verb = is_collection ? "deletecollection" : "delete";
        }
        authorize(attributes);
    }
    auto not_allowed = [&] {
        return api::method_not_allowed(
            "the server does not allow this method on the requested "
            "resource");
    };
    auto check_verb = [&](const char* verb) {
        if (!info.has_verb(verb)) throw not_allowed();
    };
    const std::string include_object =
        request.param("includeObject").empty() ? "Metadata" : request.param("includeObject");
    const bool table = wants_table(request.accept);
    if (request.method == "POST" && info.group.empty() && info.plural == "pods" &&
        (target.subresource == "binding" || target.subresource == "eviction")) {
        return target.subresource == "binding"
                   ? json_response(201, bind_pod(target.ns, target.name, parse_body(request)))
                   : json_response(201, evict_pod(target.ns, target.name, parse_body(request)));
    }
    if (request.method == "POST" && info.group.empty() && info.plural == "serviceaccounts" &&
        target.subresource == "token") {
        return json_response(201,
                             auth::handle_token_request(service_, security_.token_issuer, target.ns,
                                                        target.name, parse_body(request)));
    }
    if (request.method == "POST" && info.group.empty() && info.plural == "bindings") {
        const json::object binding = parse_body(request);
        return json_response(201, bind_pod(target.ns, api::meta_string(binding, "name"), binding));
    }
    if (info.group.empty() && info.plural == "pods" &&
        (target.subresource == "log" || target.subresource == "exec" ||
         target.subresource == "attach" || target.subresource == "portforward")) {
        if (pod_streams_.load() == nullptr) {
            throw ApiError(501, "NotImplemented",
                           "the " + target.subresource +
                               " subresource of pods is not served: this node runs with the "
                               "kubelet disabled");
        }
        if (target.subresource == "log") {
            if (request.method != "GET") throw not_allowed();
            return pod_log(request, target.ns, target.name);
        }
        if (request.method != "GET" && request.method != "POST") throw not_allowed();
        return pod_session(request, target.ns, target.name, target.subresource);
    }
    if (!target.subresource.empty() && target.subresource != "status" &&
        target.subresource != "scale" && target.subresource != "finalize") {
        throw ApiError(501, "NotImplemented",
                       "the " + target.subresource + " subresource of " + info.plural +
                           " is not served by this node yet");
    }
    std::vector<std::string> warnings;
    auto finish = [&](int status, const json::object& body) {
        Response response = json_response(status, body);
        for (const auto& w : warnings)
            response.headers.emplace_back("Warning", "299 - \"" + w + "\"");
        return response;
    };

    if (request.method == "GET") {
        if (is_collection) {
            const bool watch = is_true(request.param("watch"));
            check_verb(watch ? "watch" : "list");
            if (watch) {
                auto plan = std::make_unique<WatchPlan>();
                plan->stream = service_.watch(info, target.ns, list_options(request));
                plan->resource = target.info;
                plan->as_table = table;
                plan->bookmarks = is_true(request.param("allowWatchBookmarks"));
                if (const auto t = request.param("timeoutSeconds"); !t.empty()) {
                    try {
                        plan->timeout_seconds = std::stoi(t);
                    } catch (const std::exception&) {
                        throw api::bad_request("invalid timeoutSeconds \"" + t + "\"");
                    }
                }
                Response response;
                response.content_type = "application/json";
                response.watch = std::move(plan);
                return response;
            }
            if (table) {
                auto listing = service_.list(info, target.ns, list_options(request));
                return json_response(200, to_table(info, listing, true, include_object));
            }
            Response response;
            response.body = service_.list_json(info, target.ns, list_options(request));
            return response;
        }
        check_verb("get");
        json::object object = target.subresource == "scale"
                                  ? service_.get_scale(info, target.ns, target.name)
                                  : service_.get(info, target.ns, target.name);
        if (table && target.subresource.empty()) {
            return json_response(200, to_table(info, object, false, include_object));
        }
        return json_response(200, object);
    }
    if (request.method == "POST") {
        if (!is_collection) throw not_allowed();
        check_verb("create");
        auto options = write_options(request, &warnings);
        if (info.virtual_resource) {
            // SelfSubjectAccessReview / RulesReview: the node's authorizer answers.
            json::object review = parse_body(request);
            if (info.kind == "SelfSubjectRulesReview") {
                return finish(201, security_.authorizer.self_subject_rules_review(
                                       user.name, user.groups, std::move(review)));
            }
            return finish(201, security_.authorizer.self_subject_access_review(
                                   user.name, user.groups, std::move(review)));
        }
        auto created = service_.create(info, target.ns, parse_body(request), options);
        return finish(201, created);
    }
    if (request.method == "PUT") {
        if (is_collection) throw not_allowed();
        check_verb("update");
        auto options = write_options(request, &warnings);
        auto updated = service_.update(info, target.ns, target.name, parse_body(request), options,
                                       target.subresource == "finalize" ? "" : target.subresource);
        return finish(200, updated);
    }
    if (request.method == "PATCH") {
        if (is_collection) throw not_allowed();
        check_verb("patch");
        const auto type = patch_type(request.content_type);
        auto options = write_options(request, &warnings);
        bool created = false;  // an apply creates a missing object, answered with 201
        options.created = &created;
        auto patched = service_.patch(info, target.ns, target.name, type, request.body, options,
                                      target.subresource);
        return finish(created ? 201 : 200, patched);
    }
    if (request.method == "DELETE") {
        if (!target.subresource.empty()) throw not_allowed();
        if (is_collection) {
            check_verb("deletecollection");
            return finish(200, service_.remove_collection(info, target.ns, list_options(request),
                                                          delete_options(request)));
        }
        check_verb("delete");
        return finish(200, service_.remove(info, target.ns, target.name, delete_options(request)));
    }
    throw not_allowed();
}

}  // namespace kcube::apiserver
