#include "cluster/kubelet/probes.hpp"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/cri/client.hpp"
#include "common/strings.hpp"
#include "common/version.hpp"

namespace kcube::kubelet {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace urls = boost::urls;
using asio::ip::tcp;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;
using strings::go_quote;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// Upstream keeps at most this much of a probe's output (prober's maxReadLength).
constexpr std::size_t kMaxOutput = 10 * 1024;
// Go's http.Client stops after this many redirects (and so does upstream's redirect checker).
constexpr int kMaxRedirects = 10;
// Upstream's prober retries a probe that errored (not one that failed) this many times.
constexpr int kMaxProbeRetries = 3;
// Blocking probe runs (exec, HTTP, TCP, gRPC) share this many threads.
constexpr int kProbeThreads = 2;

const char* type_name(ProbeType type) {
    switch (type) {
        case ProbeType::kLiveness:
            return "Liveness";
        case ProbeType::kReadiness:
            return "Readiness";
        case ProbeType::kStartup:
            return "Startup";
    }
    return "Unknown";
}

const char* probe_field(ProbeType type) {
    switch (type) {
        case ProbeType::kLiveness:
            return "livenessProbe";
        case ProbeType::kReadiness:
            return "readinessProbe";
        case ProbeType::kStartup:
            return "startupProbe";
    }
    return "";
}

// The result a probe starts with (upstream's worker initialValue): a container is not ready
// until its readiness probe passes, alive until its liveness probe fails, and not started
// until its startup probe passes.
ProbeResult initial_result(ProbeType type) {
    switch (type) {
        case ProbeType::kLiveness:
            return ProbeResult::kSuccess;
        case ProbeType::kReadiness:
            return ProbeResult::kFailure;
        case ProbeType::kStartup:
            return ProbeResult::kUnknown;
    }
    return ProbeResult::kUnknown;
}

std::int64_t positive_or(const json::object& object, std::string_view key, std::int64_t fallback) {
    auto it = object.find(key);
    if (it == object.end() || !it->value().is_number()) return fallback;
    const auto value = it->value().to_number<std::int64_t>();
    return value > 0 ? value : fallback;
}

// Go's strerror texts start in lower case ("connection refused").
std::string go_errno_text(const boost::system::error_code& ec) {
    std::string text = ec.message();
    if (!text.empty())
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

// host:port, with an IPv6 host in brackets (Go's net.JoinHostPort).
std::string join_host_port(const std::string& host, int port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

// "1s", "500ms": Go's time.Duration formatting for the durations probes use.
std::string go_duration(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    if (d.count() < 1000) return std::to_string(d.count()) + "ms";
    std::string text = std::to_string(d.count() / 1000) + "." + std::to_string(d.count() % 1000);
    while (text.back() == '0')
        text.pop_back();
    return text + "s";
}

// $(VAR) in an exec probe's command expands to the container's literal env values, $$(VAR)
// stays as $(VAR); references to unknown or non-literal variables are kept as written
// (upstream's ExpandContainerCommandOnlyStatic).
std::string expand_static(const std::string& text, const std::map<std::string, std::string>& env) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '$' || i + 1 >= text.size()) {
            out += text[i];
            continue;
        }
        if (text[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        if (text[i + 1] == '(') {
            const auto close = text.find(')', i + 2);
            if (close != std::string::npos) {
                const std::string name = text.substr(i + 2, close - i - 2);
                if (auto it = env.find(name); it != env.end()) {
                    out += it->second;
                } else {
                    out += text.substr(i, close - i + 1);
                }
                i = close;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// ---- probe specs -------------------------------------------------------------------------

enum class ProbeKind { kExec, kHttpGet, kTcpSocket, kGrpc, kUnsupported };

struct ProbeSpec {
    ProbeKind kind = ProbeKind::kUnsupported;
    std::vector<std::string> command;  // exec
    std::string scheme = "HTTP";       // httpGet
    std::string host;                  // httpGet, tcpSocket: "" means the pod IP
    std::string path = "/";
    std::vector<std::pair<std::string, std::string>> headers;
    int port = 0;
    std::string port_error;    // a named port that did not resolve: the probe errors
    std::string grpc_service;  // grpc
    std::chrono::seconds initial_delay{0};
    std::chrono::seconds period{10};
    std::chrono::seconds timeout{1};
    int success_threshold = 1;
    int failure_threshold = 3;
};

// An IntOrString port of `container`: a number, or the name of one of its ports (upstream's
// extractPort, with its fallback of a number written as a string and its error texts).
void resolve_port(const json::value* value, const json::object& container, ProbeSpec& spec) {
    if (!value) {
        spec.port_error = "invalid port number: 0";
        return;
    }
    long long port = -1;
    if (value->is_number()) {
        port = value->to_number<long long>();
    } else if (value->is_string()) {
        const std::string name(value->as_string());
        bool found = false;
        if (const auto* ports = array_at(container, "ports")) {
            for (const auto& p : *ports) {
                if (p.is_object() && string_at(p.as_object(), "name") == name) {
                    port = controllers::int_at(p.as_object(), "containerPort", -1);
                    found = true;
                    break;
                }
            }
        }
        if (!found) {
            const bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit);
            if (!numeric) {
                spec.port_error = "strconv.Atoi: parsing " + go_quote(name) + ": invalid syntax";
                return;
            }
            port = std::stoll(name.substr(0, 12));
        }
    }
    if (port <= 0 || port >= 65536) {
        spec.port_error = "invalid port number: " + std::to_string(port);
        return;
    }
    spec.port = static_cast<int>(port);
}

ProbeSpec parse_probe(const json::object& probe, const json::object& container) {
    ProbeSpec spec;
    spec.initial_delay = std::chrono::seconds(positive_or(probe, "initialDelaySeconds", 0));
    spec.period = std::chrono::seconds(positive_or(probe, "periodSeconds", 10));
    spec.timeout = std::chrono::seconds(positive_or(probe, "timeoutSeconds", 1));
    spec.success_threshold = static_cast<int>(positive_or(probe, "successThreshold", 1));
    spec.failure_threshold = static_cast<int>(positive_or(probe, "failureThreshold", 3));

    if (const auto* exec = object_at(probe, "exec")) {
        spec.kind = ProbeKind::kExec;
        std::map<std::string, std::string> env;
        if (const auto* vars = array_at(container, "env")) {
            for (const auto& var : *vars) {
                if (var.is_object() && !var.as_object().contains("valueFrom")) {
                    env[string_at(var.as_object(), "name")] = string_at(var.as_object(), "value");
                }
            }
        }
        if (const auto* command = array_at(*exec, "command")) {
            for (const auto& arg : *command) {
                if (arg.is_string())
                    spec.command.push_back(expand_static(arg.as_string().c_str(), env));
            }
        }
    } else if (const auto* get = object_at(probe, "httpGet")) {
        spec.kind = ProbeKind::kHttpGet;
        spec.host = string_at(*get, "host");
        const std::string scheme = string_at(*get, "scheme");
        if (!scheme.empty()) spec.scheme = scheme;
        spec.path = string_at(*get, "path");
        resolve_port(get->if_contains("port"), container, spec);
        if (const auto* headers = array_at(*get, "httpHeaders")) {
            for (const auto& h : *headers) {
                if (h.is_object()) {
                    spec.headers.emplace_back(string_at(h.as_object(), "name"),
                                              string_at(h.as_object(), "value"));
                }
            }
        }
    } else if (const auto* socket = object_at(probe, "tcpSocket")) {
        spec.kind = ProbeKind::kTcpSocket;
        spec.host = string_at(*socket, "host");
        resolve_port(socket->if_contains("port"), container, spec);
    } else if (const auto* grpc = object_at(probe, "grpc")) {
        spec.kind = ProbeKind::kGrpc;
        spec.grpc_service = string_at(*grpc, "service");
        resolve_port(grpc->if_contains("port"), container, spec);
    }
    return spec;
}

// ---- running one probe -------------------------------------------------------------------

struct Outcome {
    ProbeResult result = ProbeResult::kUnknown;  // kUnknown: the probe errored
    std::string output;                          // failure text, or the error when it errored
};

Outcome success(std::string output = {}) {
    return {ProbeResult::kSuccess, std::move(output)};
}
Outcome failure(std::string output) {
    return {ProbeResult::kFailure, std::move(output)};
}
Outcome errored(std::string error) {
    return {ProbeResult::kUnknown, std::move(error)};
}

std::string truncated(std::string text) {
    if (text.size() > kMaxOutput) text.resize(kMaxOutput);
    return text;
}

Outcome run_exec(cri::CriClient& cri, const std::string& container_id, const ProbeSpec& spec) {
    try {
        const auto result = cri.exec_sync(container_id, spec.command, spec.timeout);
        std::string output = truncated(result.out + result.err);
        if (result.exit_code == 0) return success(std::move(output));
        return failure(std::move(output));
    } catch (const cri::CriError& e) {
        if (e.code() == cri::StatusCode::kDeadlineExceeded) {
            std::string joined;
            for (const auto& arg : spec.command)
                joined += (joined.empty() ? "" : " ") + arg;
            return failure("command " + go_quote(joined) + " timed out");
        }
        return errored(e.what());
    }
}

// A timeout of the whole exchange, as Go's http.Client reports it.
constexpr const char* kClientTimeout =
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";

bool is_timeout(const boost::system::error_code& ec) {
    return ec == beast::error::timeout || ec == asio::error::timed_out ||
           ec == asio::error::operation_aborted;
}

// Connects `stream` to host:port before `deadline`; on failure throws the text Go's dialer
// would give ("dial tcp 10.244.0.5:8080: connect: connection refused").
asio::awaitable<void> dial(beast::tcp_stream& stream, const std::string& host, int port,
                           SteadyClock::time_point deadline, bool& timed_out) {
    const std::string address = join_host_port(host, port);
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    std::vector<tcp::endpoint> endpoints;
    if (!ec) {
        endpoints.emplace_back(ip, static_cast<unsigned short>(port));
    } else {
        tcp::resolver resolver(stream.get_executor());
        try {
            for (const auto& entry :
                 co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable)) {
                endpoints.push_back(entry.endpoint());
            }
        } catch (const boost::system::system_error&) {
            throw std::runtime_error("dial tcp: lookup " + host + ": no such host");
        }
    }
    stream.expires_at(deadline);
    try {
        co_await stream.async_connect(endpoints, asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
        if (is_timeout(e.code())) {
            timed_out = true;
            throw std::runtime_error("dial tcp " + address + ": i/o timeout");
        }
        throw std::runtime_error("dial tcp " + address + ": connect: " + go_errno_text(e.code()));
    }
}

// Runs `task` on a private io_context until it finishes; returns its error text, if any.
template <typename Task>
std::optional<std::string> run_io(Task task) {
    asio::io_context io;
    std::optional<std::string> error;
    asio::co_spawn(io, task(io.get_executor()), [&error](std::exception_ptr failure) {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    io.run();
    return error;
}

Outcome run_tcp(const std::string& host, const ProbeSpec& spec) {
    const auto deadline = SteadyClock::now() + spec.timeout;
    bool timed_out = false;
    const auto error = run_io([&](asio::io_context::executor_type ex) -> asio::awaitable<void> {
        beast::tcp_stream stream(ex);
        co_await dial(stream, host, spec.port, deadline, timed_out);
    });
    if (error) return failure(*error);
    return success();
}

// One GET: its status and Location header.
struct HttpAnswer {
    int status = 0;
    std::string location;
};

std::string user_agent() {
    // "kube-probe/1.32" from "v1.32.0", as upstream names its probes.
    std::string version = kKubernetesVersion;
    if (!version.empty() && version[0] == 'v') version.erase(0, 1);
    if (auto second_dot = version.find('.', version.find('.') + 1); second_dot != std::string::npos)
        version.resize(second_dot);
    return "kube-probe/" + version;
}

template <typename Stream>
asio::awaitable<HttpAnswer> exchange(Stream& stream, const urls::url_view& url,
                                     const ProbeSpec& spec) {
    http::request<http::empty_body> request{
        http::verb::get,
        url.encoded_target().empty() ? std::string("/") : std::string(url.encoded_target()), 11};
    request.set(http::field::host, std::string(url.encoded_host_and_port()));
    request.set(http::field::user_agent, user_agent());
    request.set(http::field::accept, "*/*");
    request.set(http::field::connection, "close");
    bool accept_given = false;
    bool agent_given = false;
    for (const auto& [name, value] : spec.headers) {
        if (beast::iequals(name, "Host")) {
            request.set(http::field::host, value);
            continue;
        }
        // The user's Accept and User-Agent replace the defaults; an empty Accept removes it.
        if (beast::iequals(name, "Accept")) {
            if (!accept_given) request.erase(http::field::accept);
            accept_given = true;
            if (value.empty()) continue;
        }
        if (beast::iequals(name, "User-Agent")) {
            if (!agent_given) request.erase(http::field::user_agent);
            agent_given = true;
        }
        request.insert(name, value);
    }
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the status is the answer; the body is not needed
    co_await http::async_read_header(stream, buffer, parser, asio::use_awaitable);
    HttpAnswer answer;
    answer.status = static_cast<int>(parser.get().result_int());
    answer.location = std::string(parser.get()[http::field::location]);
    co_return answer;
}

// A GET of `url` before `deadline`, over TLS without verification for https (upstream's
// InsecureSkipVerify). Throws the error text Go's client would give after `Get "<url>": `.
asio::awaitable<HttpAnswer> http_get(const urls::url& url, const ProbeSpec& spec,
                                     SteadyClock::time_point deadline, bool& timed_out) {
    auto ex = co_await asio::this_coro::executor;
    std::string host(url.host_address());
    const int port = url.has_port() ? url.port_number() : (url.scheme() == "https" ? 443 : 80);
    beast::tcp_stream stream(ex);
    co_await dial(stream, host, port, deadline, timed_out);
    stream.expires_at(deadline);
    try {
        if (url.scheme() == "https") {
            asio::ssl::context tls(asio::ssl::context::tls_client);
            tls.set_verify_mode(asio::ssl::verify_none);
            beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), tls);
            beast::get_lowest_layer(secure).expires_at(deadline);
            boost::system::error_code not_ip;
            asio::ip::make_address(host, not_ip);
            if (not_ip) SSL_set_tlsext_host_name(secure.native_handle(), host.c_str());
            co_await secure.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
            co_return co_await exchange(secure, url, spec);
        }
        co_return co_await exchange(stream, url, spec);
    } catch (const boost::system::system_error& e) {
        if (is_timeout(e.code())) {
            timed_out = true;
            throw std::runtime_error(kClientTimeout);
        }
        if (e.code() == http::error::end_of_stream || e.code() == asio::error::eof ||
            e.code() == http::error::partial_message) {
            throw std::runtime_error("EOF");
        }
        throw std::runtime_error(go_errno_text(e.code()));
    }
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Outcome run_http(const std::string& host, const ProbeSpec& spec) {
    std::string scheme = spec.scheme;
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
    std::string path = spec.path;
    if (path.empty() || path[0] != '/') path.insert(0, "/");
    const std::string text = scheme + "://" + join_host_port(host, spec.port) + path;
    auto parsed = urls::parse_uri_reference(text);
    if (!parsed) return errored("parse " + go_quote(text) + ": invalid URL");
    urls::url url = *parsed;
    const std::string first_host(url.host_address());

    const auto deadline = SteadyClock::now() + spec.timeout;
    HttpAnswer answer;
    std::string failed_url;
    const auto error = run_io([&](asio::io_context::executor_type) -> asio::awaitable<void> {
        bool timed_out = false;
        for (int hops = 0;; ++hops) {
            failed_url = std::string(url.buffer());
            try {
                answer = co_await http_get(url, spec, deadline, timed_out);
            } catch (const std::exception& e) {
                std::string message = e.what();
                // A dial that ran out of time is the client's timeout too.
                if (timed_out && message != kClientTimeout) {
                    message += " (Client.Timeout exceeded while awaiting headers)";
                }
                throw std::runtime_error(message);
            }
            if (!is_redirect(answer.status) || answer.location.empty()) co_return;
            auto reference = urls::parse_uri_reference(answer.location);
            if (!reference) co_return;
            urls::url next;
            if (!urls::resolve(url, *reference, next)) co_return;
            // Upstream follows redirects only to the same host; another host's redirect is
            // the answer (a 3xx, which counts as success).
            if (std::string(next.host_address()) != first_host) co_return;
            if (hops + 1 >= kMaxRedirects) throw std::runtime_error("stopped after 10 redirects");
            next.normalize_scheme();
            url = next;
        }
    });
    if (error) return failure("Get " + go_quote(failed_url) + ": " + *error);
    if (answer.status >= 200 && answer.status < 400) return success();
    return failure("HTTP probe failed with statuscode: " + std::to_string(answer.status));
}

// The gRPC health-checking protocol (grpc.health.v1.Health/Check), through a generic stub so
// that no generated code is needed: the request is field 1 (service), the answer field 1
// (status: 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN).
Outcome run_grpc(const std::string& host, const ProbeSpec& spec) {
    const std::string address = join_host_port(host, spec.port);
    const auto deadline = SystemClock::now() + spec.timeout;
    const std::string timeout_text = go_duration(spec.timeout);
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(deadline)) {
        return failure("timeout: failed to connect service " + go_quote(address) + " within " +
                       timeout_text + ": context deadline exceeded");
    }
    std::string request;
    if (!spec.grpc_service.empty()) {
        request += '\x0a';
        std::size_t length = spec.grpc_service.size();
        do {
            const auto byte = static_cast<unsigned char>(length & 0x7f);
            length >>= 7;
            request += static_cast<char>(length ? (byte | 0x80) : byte);
        } while (length);
        request += spec.grpc_service;
    }
    grpc::Slice slice(request);
    grpc::ByteBuffer request_buffer(&slice, 1);
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(deadline);
    grpc::CompletionQueue queue;
    auto call =
        stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request_buffer, &queue);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    queue.Next(&tag, &ok);
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    if (!status.ok()) {
        if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
            return failure(
                "error: this server does not implement the grpc health protocol "
                "(grpc.health.v1.Health): " +
                status.error_message());
        }
        if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            return failure("timeout: health rpc did not complete within " + timeout_text);
        }
        return failure(
            "error: health rpc probe failed: rpc error: code = " +
            std::string(cri::status_code_name(static_cast<cri::StatusCode>(status.error_code()))) +
            " desc = " + status.error_message());
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response.Dump(&slices).ok()) {
        for (const auto& s : slices)
            bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    // The answer's only field, 1 (a one-byte varint); absent means 0 (UNKNOWN).
    int serving = 0;
    if (bytes.size() >= 2 && bytes[0] == '\x08') serving = static_cast<unsigned char>(bytes[1]);
    static constexpr const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                             "SERVICE_UNKNOWN"};
    if (serving != 1) {
        const std::string name =
            serving >= 0 && serving < 4 ? kNames[serving] : std::to_string(serving);
        return failure("service unhealthy (responded with " + go_quote(name) + ")");
    }
    return success("service healthy");
}

}  // namespace

// ---- the manager -------------------------------------------------------------------------

namespace {

// One probe of one container: its spec, the container instance it probes, and its results.
struct Worker {
    std::string pod_uid;
    std::string pod_key;
    std::string container;
    ProbeType type;
    ProbeSpec spec;

    std::string container_id;
    SystemClock::time_point started_at;
    std::string pod_ip;
    bool terminating = false;  // the pod is being deleted

    ProbeResult result = ProbeResult::kUnknown;  // what the kubelet sees
    ProbeResult last_result = ProbeResult::kUnknown;
    int run = 0;           // how many times in a row last_result came out
    bool on_hold = false;  // failed liveness/startup: no more probes until a new container
    bool in_flight = false;
    bool removed = false;
    std::uint64_t epoch = 0;  // bumped when the container changes: late results are dropped
    std::string last_failure;
    SteadyClock::time_point due;  // when the next probe runs (the live timer entry)
};

struct Timer {
    SteadyClock::time_point due;
    std::weak_ptr<Worker> worker;
    bool operator>(const Timer& other) const { return due > other.due; }
};

struct PodProbes {
    std::string key;
    std::map<std::string, RunningContainer> running;
    std::map<std::pair<std::string, ProbeType>, std::shared_ptr<Worker>> workers;
};

}  // namespace

struct ProbeManager::Impl {
    cri::CriClient& cri;
    OnChange on_change;
    OnFailure on_failure;

    mutable std::mutex mutex;
    std::condition_variable timer_wake;
    std::condition_variable pool_wake;
    bool stopping = false;
    std::map<std::string, PodProbes> pods;  // by uid
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
    std::deque<std::shared_ptr<Worker>> ready;  // due probes waiting for a pool thread
    std::thread scheduler;
    std::vector<std::thread> pool;

    Impl(cri::CriClient& c, OnChange callback) : cri(c), on_change(std::move(callback)) {}

    // Caller holds the mutex.
    void schedule(const std::shared_ptr<Worker>& worker, SteadyClock::time_point due) {
        worker->due = due;
        timers.push({due, worker});
        timer_wake.notify_one();
    }

    // The first probe of a container: not before initialDelaySeconds after it started.
    SteadyClock::time_point first_due(const Worker& worker) const {
        const auto remaining = worker.started_at + worker.spec.initial_delay - SystemClock::now();
        return SteadyClock::now() +
               std::max(std::chrono::duration_cast<SteadyClock::duration>(remaining),
                        SteadyClock::duration::zero());
    }

    // Caller holds the mutex.
    bool container_started(const std::string& uid, const std::string& container) const {
        auto pod = pods.find(uid);
        if (pod == pods.end()) return false;
        auto startup = pod->second.workers.find({container, ProbeType::kStartup});
        return startup == pod->second.workers.end() ||
               startup->second->result == ProbeResult::kSuccess;
    }

    void scheduler_loop() {
        std::unique_lock lock(mutex);
        while (!stopping) {
            if (timers.empty()) {
                timer_wake.wait(lock);
                continue;
            }
            const auto due = timers.top().due;
            if (SteadyClock::now() < due) {
                timer_wake.wait_until(lock, due);
                continue;
            }
            Timer timer = timers.top();
            timers.pop();
            auto worker = timer.worker.lock();
            // A stale entry: the worker is gone or was rescheduled since.
            if (!worker || worker->removed || worker->due != timer.due || worker->in_flight) {
                continue;
            }
            if (worker->on_hold) continue;
            if (worker->type == ProbeType::kStartup && worker->result == ProbeResult::kSuccess) {
                continue;  // started: the startup probe is done until the container restarts
            }
            if (worker->type != ProbeType::kStartup &&
                !container_started(worker->pod_uid, worker->container)) {
                continue;  // the startup probe's success schedules this one again
            }
            if (worker->terminating && worker->type != ProbeType::kReadiness) {
                // A pod being deleted is not restarted by its probes (upstream reports
                // success for liveness and startup from then on).
                worker->result = ProbeResult::kSuccess;
                continue;
            }
            worker->in_flight = true;
            ready.push_back(std::move(worker));
            pool_wake.notify_one();
        }
    }

    Outcome run(const Worker& worker) {
        const std::string host = worker.spec.host.empty() ? worker.pod_ip : worker.spec.host;
        if (worker.spec.kind != ProbeKind::kExec && !worker.spec.port_error.empty()) {
            return errored(worker.spec.port_error);
        }
        try {
            switch (worker.spec.kind) {
                case ProbeKind::kExec:
                    return run_exec(cri, worker.container_id, worker.spec);
                case ProbeKind::kHttpGet:
                    return run_http(host, worker.spec);
                case ProbeKind::kTcpSocket:
                    return run_tcp(host, worker.spec);
                case ProbeKind::kGrpc:
                    return run_grpc(worker.pod_ip, worker.spec);
                case ProbeKind::kUnsupported:
                    break;
            }
            return errored("missing probe handler for " + worker.pod_key + ":" + worker.container);
        } catch (const std::exception& e) {
            return errored(e.what());
        }
    }

    void pool_loop() {
        std::unique_lock lock(mutex);
        while (true) {
            pool_wake.wait(lock, [this] { return stopping || !ready.empty(); });
            if (stopping) return;
            auto worker = std::move(ready.front());
            ready.pop_front();
            const Worker snapshot = *worker;
            lock.unlock();
            Outcome outcome;
            for (int attempt = 0; attempt < kMaxProbeRetries; ++attempt) {
                outcome = run(snapshot);
                if (outcome.result != ProbeResult::kUnknown) break;
            }
            lock.lock();
            worker->in_flight = false;
            if (worker->removed || stopping) continue;
            if (worker->epoch != snapshot.epoch) {
                // The container changed while this ran: its first probe is still to come.
                schedule(worker, std::max(worker->due, SteadyClock::now()));
                continue;
            }
            const bool flipped = record(*worker, outcome);
            const bool failed = outcome.result != ProbeResult::kSuccess;
            if (worker->type == ProbeType::kStartup && flipped &&
                worker->result == ProbeResult::kSuccess) {
                // Started: liveness and readiness may run now, not a period later.
                auto& pod = pods[worker->pod_uid];
                for (auto type : {ProbeType::kLiveness, ProbeType::kReadiness}) {
                    auto it = pod.workers.find({worker->container, type});
                    if (it != pod.workers.end()) schedule(it->second, first_due(*it->second));
                }
            }
            if (!worker->on_hold &&
                !(worker->type == ProbeType::kStartup && worker->result == ProbeResult::kSuccess)) {
                auto next = worker->due + worker->spec.period;
                const auto now = SteadyClock::now();
                while (next <= now)
                    next += worker->spec.period;
                schedule(worker, next);
            }
            if ((flipped && on_change) || (failed && on_failure)) {
                const std::string key = worker->pod_key;
                const std::string message = worker->last_failure;
                const OnFailure report = failed ? on_failure : OnFailure();
                lock.unlock();
                if (report)
                    report(key, snapshot.pod_uid, snapshot.container, snapshot.type, message);
                if (flipped && on_change) on_change(key);
                lock.lock();
            }
        }
    }

    // Applies one probe's outcome with upstream's thresholds; true when the result flipped.
    static bool record(Worker& worker, const Outcome& outcome) {
        if (outcome.result == ProbeResult::kUnknown) {
            worker.last_failure =
                std::string(type_name(worker.type)) + " probe errored: " + outcome.output;
            return false;
        }
        if (outcome.result == ProbeResult::kFailure) {
            worker.last_failure =
                std::string(type_name(worker.type)) + " probe failed: " + outcome.output;
        }
        if (worker.last_result == outcome.result) {
            ++worker.run;
        } else {
            worker.last_result = outcome.result;
            worker.run = 1;
        }
        if ((outcome.result == ProbeResult::kFailure &&
             worker.run < worker.spec.failure_threshold) ||
            (outcome.result == ProbeResult::kSuccess &&
             worker.run < worker.spec.success_threshold)) {
            return false;
        }
        const bool flipped = worker.result != outcome.result;
        worker.result = outcome.result;
        if (worker.type != ProbeType::kReadiness && outcome.result == ProbeResult::kFailure) {
            // The container will be restarted: probing it further only races its stop.
            worker.on_hold = true;
            worker.run = 0;
        }
        return flipped;
    }

    const Worker* find(const std::string& uid, const std::string& container, ProbeType type) const {
        auto pod = pods.find(uid);
        if (pod == pods.end()) return nullptr;
        auto it = pod->second.workers.find({container, type});
        return it == pod->second.workers.end() ? nullptr : it->second.get();
    }
};

ProbeManager::ProbeManager(cri::CriClient& cri, OnChange on_change)
    : impl_(std::make_unique<Impl>(cri, std::move(on_change))) {
    impl_->scheduler = std::thread([this] { impl_->scheduler_loop(); });
    for (int i = 0; i < kProbeThreads; ++i)
        impl_->pool.emplace_back([this] { impl_->pool_loop(); });
}

ProbeManager::~ProbeManager() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->timer_wake.notify_all();
    impl_->pool_wake.notify_all();
    impl_->scheduler.join();
    for (auto& thread : impl_->pool)
        thread.join();
}

void ProbeManager::set_on_failure(OnFailure on_failure) {
    std::lock_guard lock(impl_->mutex);
    impl_->on_failure = std::move(on_failure);
}

void ProbeManager::update(const json::object& pod, const std::string& pod_ip,
                          const std::map<std::string, RunningContainer>& running) {
    const std::string uid = api::meta_string(pod, "uid");
    const std::string key =
        api::meta_string(pod, "namespace") + "/" + api::meta_string(pod, "name");
    const bool terminating = !api::meta_string(pod, "deletionTimestamp").empty();

    // Regular containers, and init containers that keep running beside them (sidecars,
    // restartPolicy Always), have probes.
    std::vector<const json::object*> containers;
    if (const auto* spec = object_at(pod, "spec")) {
        if (const auto* list = array_at(*spec, "initContainers")) {
            for (const auto& c : *list) {
                if (c.is_object() && string_at(c.as_object(), "restartPolicy") == "Always") {
                    containers.push_back(&c.as_object());
                }
            }
        }
        if (const auto* list = array_at(*spec, "containers")) {
            for (const auto& c : *list)
                if (c.is_object()) containers.push_back(&c.as_object());
        }
    }

    std::lock_guard lock(impl_->mutex);
    auto& state = impl_->pods[uid];
    state.key = key;
    state.running = running;
    std::map<std::pair<std::string, ProbeType>, std::shared_ptr<Worker>> kept;
    for (const auto* container : containers) {
        const std::string name = string_at(*container, "name");
        auto live = running.find(name);
        for (auto type : {ProbeType::kStartup, ProbeType::kLiveness, ProbeType::kReadiness}) {
            const auto* probe = object_at(*container, probe_field(type));
            if (!probe || live == running.end()) continue;
            auto existing = state.workers.find({name, type});
            std::shared_ptr<Worker> worker;
            if (existing != state.workers.end()) {
                worker = existing->second;
            } else {
                worker = std::make_shared<Worker>();
                worker->pod_uid = uid;
                worker->container = name;
                worker->type = type;
                worker->spec = parse_probe(*probe, *container);
            }
            worker->pod_key = key;
            worker->pod_ip = pod_ip;
            worker->terminating = terminating;
            if (worker->container_id != live->second.id) {
                // A new container (or a restarted one): its probes start over.
                worker->container_id = live->second.id;
                worker->started_at = live->second.started_at;
                worker->result = initial_result(type);
                worker->last_result = ProbeResult::kUnknown;
                worker->run = 0;
                worker->on_hold = false;
                ++worker->epoch;
                kept[{name, type}] = worker;
                impl_->schedule(worker, impl_->first_due(*worker));
            } else {
                kept[{name, type}] = worker;
            }
        }
    }
    for (auto& [id, worker] : state.workers) {
        if (!kept.count(id)) worker->removed = true;
    }
    state.workers = std::move(kept);
}

void ProbeManager::remove(const std::string& pod_uid) {
    std::lock_guard lock(impl_->mutex);
    auto pod = impl_->pods.find(pod_uid);
    if (pod == impl_->pods.end()) return;
    for (auto& [id, worker] : pod->second.workers)
        worker->removed = true;
    impl_->pods.erase(pod);
}

ProbeResult ProbeManager::result(const std::string& pod_uid, const std::string& container,
                                 ProbeType type) const {
    std::lock_guard lock(impl_->mutex);
    auto pod = impl_->pods.find(pod_uid);
    if (pod == impl_->pods.end()) return ProbeResult::kUnknown;
    if (!pod->second.running.count(container)) {
        // A container that is not running is not ready, whatever its probes said.
        return type == ProbeType::kReadiness ? ProbeResult::kFailure : ProbeResult::kUnknown;
    }
    if (const Worker* worker = impl_->find(pod_uid, container, type)) return worker->result;
    return type == ProbeType::kReadiness ? ProbeResult::kSuccess : ProbeResult::kUnknown;
}

bool ProbeManager::started(const std::string& pod_uid, const std::string& container) const {
    std::lock_guard lock(impl_->mutex);
    auto pod = impl_->pods.find(pod_uid);
    if (pod != impl_->pods.end() && !pod->second.running.count(container)) return false;
    return impl_->container_started(pod_uid, container) || pod == impl_->pods.end();
}

std::string ProbeManager::last_failure(const std::string& pod_uid, const std::string& container,
                                       ProbeType type) const {
    std::lock_guard lock(impl_->mutex);
    const Worker* worker = impl_->find(pod_uid, container, type);
    return worker ? worker->last_failure : std::string();
}

}  // namespace kcube::kubelet
