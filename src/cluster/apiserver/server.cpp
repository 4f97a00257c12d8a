#include "cluster/apiserver/server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "cluster/api/errors.hpp"
#include "cluster/apiserver/router.hpp"
#include "common/error.hpp"

namespace kcube::apiserver {
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::use_awaitable;
constexpr auto tuple_awaitable = net::as_tuple(net::use_awaitable);
using TlsStream = ssl::stream<beast::tcp_stream>;

namespace {

// Upstream's limit on request bodies (maxRequestBodyBytes).
constexpr std::size_t kMaxBodyBytes = 3 * 1024 * 1024;
constexpr auto kIdleTimeout = std::chrono::minutes(5);
constexpr auto kWatchDefaultTimeout = std::chrono::minutes(30);
constexpr auto kBookmarkInterval = std::chrono::seconds(60);

// The user a verified client certificate names: CN is the user, each O a group.
User user_from_certificate(SSL* ssl) {
    User user;
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (cert == nullptr) return user;
    X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
        X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
        const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
        unsigned char* utf8 = nullptr;
        const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (length < 0) continue;
        std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
        OPENSSL_free(utf8);
        if (nid == NID_commonName) user.name = value;
        if (nid == NID_organizationName) user.groups.push_back(value);
    }
    X509_free(cert);
    if (!user.name.empty()) user.groups.push_back("system:authenticated");
    return user;
}

// Whether a Connection header's tokens include "upgrade".
bool connection_has_upgrade(std::string_view connection) {
    std::size_t start = 0;
    while (start <= connection.size()) {
        auto comma = connection.find(',', start);
        if (comma == std::string_view::npos) comma = connection.size();
        std::string_view token = connection.substr(start, comma - start);
        while (!token.empty() && token.front() == ' ')
            token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ')
            token.remove_suffix(1);
        if (beast::iequals(token, "upgrade")) return true;
        start = comma + 1;
    }
    return false;
}

// Go's error text style: the message with its first letter lowered.
std::string go_style(std::string message) {
    if (!message.empty()) {
        message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
    }
    return message;
}

// A container's log, read on a thread of its own (LogStream::read blocks) and handed to the
// connection piece by piece. The reader waits while the connection has not taken what it gave,
// so a slow client holds the log back instead of filling memory.
class LogPump {
  public:
    LogPump(std::unique_ptr<LogStream> stream, std::function<void()> notify)
        : stream_(std::move(stream)), notify_(std::move(notify)) {
        thread_ = std::thread([this] { run(); });
    }
    ~LogPump() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
            notify_ = nullptr;
        }
        room_.notify_all();
        thread_.join();
    }
    LogPump(const LogPump&) = delete;
    LogPump& operator=(const LogPump&) = delete;

    // What was read since the last call, and whether the log has ended after it.
    std::pair<std::string, bool> take() {
        std::pair<std::string, bool> out;
        {
            std::lock_guard lock(mutex_);
            out.first.swap(pending_);
            out.second = ended_;
        }
        room_.notify_all();
        return out;
    }

  private:
    static constexpr std::size_t kMaxPending = 256 * 1024;
    static constexpr auto kReadWait = std::chrono::milliseconds(250);

    void run() {
        for (;;) {
            std::optional<std::string> piece;
            std::string failure;
            try {
                piece = stream_->read(kReadWait);
            } catch (const std::exception& e) {
                // The headers are sent: all a client can still be told is that the log ended.
                spdlog::warn("reading a container log failed: {}", e.what());
                piece.reset();
            }
            std::unique_lock lock(mutex_);
            if (stop_) return;
            if (!piece) {
                ended_ = true;
                if (notify_) notify_();
                return;
            }
            if (piece->empty()) continue;
            pending_ += *piece;
            if (notify_) notify_();
            room_.wait(lock, [this] { return stop_ || pending_.size() < kMaxPending; });
            if (stop_) return;
        }
    }

    std::unique_ptr<LogStream> stream_;
    std::mutex mutex_;
    std::condition_variable room_;
    std::string pending_;
    bool ended_ = false;
    bool stop_ = false;
    std::function<void()> notify_;
    std::thread thread_;
};

Request to_request(const http::request<http::string_body>& message, const User& user) {
    Request request;
    request.method = std::string(message.method_string());
    request.accept = std::string(message[http::field::accept]);
    request.content_type = std::string(message[http::field::content_type]);
    request.user_agent = std::string(message[http::field::user_agent]);
    request.body = message.body();
    request.user = user;
    const std::string_view authorization = message[http::field::authorization];
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.substr(0, kBearer.size()) == kBearer) {
        request.bearer_token = std::string(authorization.substr(kBearer.size()));
    }
    for (const auto& field : message) {
        if (beast::iequals(field.name_string(), "Impersonate-User")) {
            request.impersonate_user = std::string(field.value());
        } else if (beast::iequals(field.name_string(), "Impersonate-Group")) {
            request.impersonate_groups.emplace_back(field.value());
        }
    }
    if (const auto connection = message[http::field::connection];
        connection_has_upgrade(connection)) {
        request.upgrade = std::string(message[http::field::upgrade]);
    }
    for (const auto& field : message) {
        if (!beast::iequals(field.name_string(), "Sec-WebSocket-Protocol")) continue;
        const std::string_view value = field.value();
        std::size_t start = 0;
        while (start <= value.size()) {
            auto comma = value.find(',', start);
            if (comma == std::string_view::npos) comma = value.size();
            std::string_view protocol = value.substr(start, comma - start);
            while (!protocol.empty() && (protocol.front() == ' ' || protocol.front() == '\t'))
                protocol.remove_prefix(1);
            while (!protocol.empty() && (protocol.back() == ' ' || protocol.back() == '\t'))
                protocol.remove_suffix(1);
            if (!protocol.empty()) request.websocket_protocols.emplace_back(protocol);
            start = comma + 1;
        }
    }
    auto target = boost::urls::parse_origin_form(message.target());
    if (!target) throw api::bad_request("malformed request target");
    request.path = std::string(target->path());
    for (const auto& param : target->params()) {
        request.query.emplace(std::string(param.key), std::string(param.value));
    }
    return request;
}

http::response<http::string_body> to_message(Response& response, unsigned version,
                                             bool keep_alive) {
    http::response<http::string_body> message{static_cast<http::status>(response.status), version};
    message.set(http::field::content_type, response.content_type);
    message.set(http::field::cache_control, "no-cache, private");
    for (const auto& [name, value] : response.headers)
        message.insert(name, value);
    message.body() = std::move(response.body);
    message.keep_alive(keep_alive);
    message.prepare_payload();
    return message;
}

Response error_response(const api::ApiError& error) {
    Response response;
    response.status = error.code();
    response.body = boost::json::serialize(error.to_status());
    return response;
}

}  // namespace

struct HttpsServer::Impl {
    std::string address;
    int port;
    TlsFiles tls;
    Router& router;
    int thread_count;
    net::io_context io{};
    ssl::context tls_context{ssl::context::tls_server};
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    int bound_port = 0;

    Impl(std::string a, int p, TlsFiles t, Router& r, int n)
        : address(std::move(a)), port(p), tls(std::move(t)), router(r), thread_count(n) {}

    void configure_tls() {
        SSL_CTX* ctx = tls_context.native_handle();
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::single_dh_use);
        tls_context.use_certificate_chain_file(tls.cert.string());
        tls_context.use_private_key_file(tls.key.string(), ssl::context::pem);
        tls_context.load_verify_file(tls.client_ca.string());
        // Ask for a client certificate and verify it when given; clients without one are
        // anonymous (allowed only on health and version endpoints) or use a bearer token.
        tls_context.set_verify_mode(ssl::verify_peer);
        SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(tls.client_ca.c_str()));
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] =
                co_await acceptor->async_accept(net::make_strand(io), tuple_awaitable);
            if (ec) {
                if (ec == net::error::operation_aborted) co_return;
                spdlog::warn("accept failed: {}", ec.message());
                continue;
            }
            // Responses and relayed keystrokes go out at once, not after a delayed ACK.
            boost::system::error_code option_error;
            socket.set_option(tcp::no_delay(true), option_error);
            auto executor = socket.get_executor();
            net::co_spawn(executor, session(TlsStream(std::move(socket), tls_context)),
                          net::detached);
        }
    }

    net::awaitable<void> session(TlsStream stream) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        auto [handshake_error] =
            co_await stream.async_handshake(ssl::stream_base::server, tuple_awaitable);
        if (handshake_error) {
            spdlog::debug("TLS handshake failed: {}", handshake_error.message());
            co_return;
        }
        const User user = user_from_certificate(stream.native_handle());
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            // Beast would fail the header itself on a large Content-Length; check it below
            // instead, so that the client gets its 413.
            parser.body_limit(boost::none);
            beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
            auto [header_error, header_bytes] =
                co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
            (void)header_bytes;
            if (header_error) break;
            const bool expects_continue =
                beast::iequals(parser.get()[http::field::expect], "100-continue");
            if (parser.content_length() && *parser.content_length() > kMaxBodyBytes) {
                // Read the body away before answering, so that a client still sending it gets
                // the 413 instead of a reset connection (one waiting for 100 sends nothing).
                if (expects_continue ||
                    co_await discard(stream, buffer, *parser.content_length())) {
                    auto too_large = error_response(api::too_large(
                        "Request entity too large: limit is " + std::to_string(kMaxBodyBytes)));
                    auto message = to_message(too_large, 11, false);
                    co_await http::async_write(stream, message, tuple_awaitable);
                }
                break;
            }
            parser.body_limit(kMaxBodyBytes);  // chunked bodies have no Content-Length
            if (expects_continue) {
                http::response<http::empty_body> go_on{http::status::continue_, 11};
                co_await http::async_write(stream, go_on, tuple_awaitable);
            }
            auto [read_error, bytes] =
                co_await http::async_read(stream, buffer, parser, tuple_awaitable);
            (void)bytes;
            if (read_error == http::error::body_limit) {
                auto too_large = error_response(api::too_large(
                    "Request entity too large: limit is " + std::to_string(kMaxBodyBytes)));
                auto message = to_message(too_large, 11, false);
                co_await http::async_write(stream, message, tuple_awaitable);
                break;
            }
            if (read_error) break;
            auto& message = parser.get();
            Response response;
            try {
                response = router.handle(to_request(message, user));
            } catch (const api::ApiError& e) {
                response = error_response(e);
            }
            const bool keep_alive = message.keep_alive();
            if (response.relay) {
                // The connection now belongs to the exec/attach/portforward session.
                beast::get_lowest_layer(stream).expires_never();
                co_await relay_upgrade(stream, buffer, message, *response.relay);
                break;
            }
            if (response.log_stream) {
                beast::get_lowest_layer(stream).expires_never();
                co_await stream_log(stream, message.version(), response);
                break;
            }
            if (response.watch) {
                beast::get_lowest_layer(stream).expires_never();
                const bool ok = co_await stream_watch(stream, message.version(), response);
                if (!ok) break;
                continue;
            }
            auto reply = to_message(response, message.version(), keep_alive);
            auto [write_error, written] =
                co_await http::async_write(stream, reply, tuple_awaitable);
            (void)written;
            if (write_error || !keep_alive) break;
        }
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        co_await stream.async_shutdown(tuple_awaitable);
    }

    // Reads and drops `length` body bytes (at most 64 MiB); false if the client went away.
    net::awaitable<bool> discard(TlsStream& stream, beast::flat_buffer& buffer,
                                 std::uint64_t length) {
        constexpr std::uint64_t kMaxDiscard = 64 * 1024 * 1024;
        if (length > kMaxDiscard) co_return false;
        std::uint64_t remaining = length;
        const auto buffered = std::min<std::uint64_t>(remaining, buffer.size());
        buffer.consume(buffered);
        remaining -= buffered;
        std::vector<char> sink(64 * 1024);
        while (remaining > 0) {
            auto [error, n] = co_await stream.async_read_some(
                net::buffer(sink.data(), std::min<std::uint64_t>(remaining, sink.size())),
                tuple_awaitable);
            if (error) co_return false;
            remaining -= n;
        }
        co_return true;
    }

    // Streams a container's log as chunks until it ends or the client goes away; then the
    // connection closes (it was told so), since a read was left waiting on it to notice a
    // client that leaves.
    net::awaitable<void> stream_log(TlsStream& stream, unsigned version, Response& response) {
        http::response<http::empty_body> head{http::status::ok, version};
        head.set(http::field::content_type, response.content_type);
        head.set(http::field::cache_control, "no-cache, private");
        head.keep_alive(false);
        head.chunked(true);
        http::response_serializer<http::empty_body> serializer{head};
        auto [head_error, head_bytes] =
            co_await http::async_write_header(stream, serializer, tuple_awaitable);
        (void)head_bytes;
        if (head_error) co_return;

        auto executor = co_await net::this_coro::executor;
        auto wake = std::make_shared<net::steady_timer>(executor);
        LogPump pump(std::move(response.log_stream),
                     [wake, executor] { net::post(executor, [wake] { wake->cancel(); }); });
        // A client that goes away sends nothing first: a read that completes says it left.
        auto client_gone = std::make_shared<bool>(false);
        auto watcher_done = std::make_shared<bool>(false);
        net::co_spawn(
            executor,
            [&stream, client_gone, watcher_done, wake]() -> net::awaitable<void> {
                char byte = 0;
                co_await stream.async_read_some(net::buffer(&byte, 1), tuple_awaitable);
                *client_gone = true;
                *watcher_done = true;
                wake->cancel();
            },
            net::detached);
        bool alive = true;
        for (;;) {
            auto [chunk, ended] = pump.take();
            if (*client_gone) {
                alive = false;
                break;
            }
            if (!chunk.empty()) {
                auto [write_error, n] = co_await net::async_write(
                    stream, http::make_chunk(net::buffer(chunk)), tuple_awaitable);
                (void)n;
                if (write_error) {
                    alive = false;
                    break;
                }
                continue;
            }
            if (ended) break;
            wake->expires_after(std::chrono::seconds(5));
            co_await wake->async_wait(tuple_awaitable);
        }
        if (alive) {
            co_await net::async_write(stream, http::make_chunk_last(), tuple_awaitable);
        }
        // End the watching read and wait for it, since it uses the stream.
        if (!*watcher_done) {
            beast::get_lowest_layer(stream).socket().cancel();
            while (!*watcher_done) {
                wake->expires_after(std::chrono::milliseconds(100));
                co_await wake->async_wait(tuple_awaitable);
            }
        }
    }

    // Relays an upgraded pods/exec, attach or portforward connection to the runtime's streaming
    // server, as upstream's kubelet proxies it: the client's request (its credentials left out)
    // goes to the runtime, the runtime's answer comes back, and after a 101 bytes flow both ways
    // until one side closes.
    net::awaitable<void> relay_upgrade(TlsStream& stream, beast::flat_buffer& client_buffer,
                                       const http::request<http::string_body>& message,
                                       const UpgradeRelay& relay) {
        auto executor = co_await net::this_coro::executor;
        const std::string backend = relay.host + ":" + std::to_string(relay.port);
        // Upstream answers a failed dial with the error's text as a 500 of no reason.
        auto fail = [&](const std::string& text) -> net::awaitable<void> {
            Response error = error_response(api::ApiError(500, "", text));
            auto reply = to_message(error, message.version(), false);
            co_await http::async_write(stream, reply, tuple_awaitable);
        };

        beast::tcp_stream runtime(executor);
        runtime.expires_after(std::chrono::seconds(30));
        tcp::resolver resolver(executor);
        auto [resolve_error, endpoints] = co_await resolver.async_resolve(
            relay.host, std::to_string(relay.port), tuple_awaitable);
        if (!resolve_error) {
            auto [connect_error, connected] =
                co_await runtime.async_connect(endpoints, tuple_awaitable);
            (void)connected;
            resolve_error = connect_error;
        }
        if (resolve_error) {
            // Upstream's text when the API server cannot reach the kubelet's stream.
            co_await fail("error dialing backend: dial tcp " + backend +
                          ": connect: " + go_style(resolve_error.message()));
            co_return;
        }

        // The request line and headers as the client sent them, for the runtime's URL.
        std::string head = std::string(message.method_string()) + " " + relay.target +
                           " HTTP/1.1\r\nHost: " + backend + "\r\n";
        for (const auto& field : message) {
            const auto name = field.name_string();
            if (beast::iequals(name, "Host") || beast::iequals(name, "Authorization") ||
                beast::iequals(name, "Content-Length") ||
                beast::iequals(name, "Transfer-Encoding") || name.substr(0, 12) == "Impersonate-" ||
                (!relay.offer_protocol.empty() && beast::iequals(name, "Sec-WebSocket-Protocol"))) {
                continue;
            }
            head += std::string(name) + ": " + std::string(field.value()) + "\r\n";
        }
        if (!relay.offer_protocol.empty()) {
            head += "Sec-WebSocket-Protocol: " + relay.offer_protocol + "\r\n";
        }
        if (!message.body().empty()) {
            head += "Content-Length: " + std::to_string(message.body().size()) + "\r\n";
        }
        head += "\r\n";
        head += message.body();
        auto [write_error, written] =
            co_await net::async_write(runtime, net::buffer(head), tuple_awaitable);
        (void)written;
        beast::flat_buffer runtime_buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(1024 * 1024);
        boost::system::error_code read_error = write_error;
        if (!read_error) {
            auto [error, n] =
                co_await http::async_read(runtime, runtime_buffer, parser, tuple_awaitable);
            (void)n;
            read_error = error;
        }
        if (read_error) {
            co_await fail("error dialing backend: " + go_style(read_error.message()));
            co_return;
        }
        runtime.expires_never();
        boost::system::error_code option_error;
        runtime.socket().set_option(tcp::no_delay(true), option_error);
        auto& answer = parser.get();
        if (answer.result() != http::status::switching_protocols) {
            // The runtime's refusal, as it gave it; the connection ends with it.
            answer.keep_alive(false);
            answer.prepare_payload();
            co_await http::async_write(stream, answer, tuple_awaitable);
            co_return;
        }
        std::string reply = "HTTP/1.1 101 " + std::string(answer.reason()) + "\r\n";
        for (const auto& field : answer) {
            std::string value(field.value());
            if (!relay.offer_protocol.empty() &&
                beast::iequals(field.name_string(), "Sec-WebSocket-Protocol") &&
                value == relay.runtime_protocol) {
                value = relay.client_protocol;
            }
            reply += std::string(field.name_string()) + ": " + value + "\r\n";
        }
        reply += "\r\n";
        // Bytes the runtime sent right after its 101 go first.
        reply += beast::buffers_to_string(runtime_buffer.data());
        auto [reply_error, reply_bytes] =
            co_await net::async_write(stream, net::buffer(reply), tuple_awaitable);
        (void)reply_bytes;
        if (reply_error) co_return;

        // Client to runtime on a coroutine of its own, runtime to client here.
        auto client_done = std::make_shared<bool>(false);
        auto signal = std::make_shared<net::steady_timer>(executor);
        net::co_spawn(
            executor,
            [&stream, &runtime, &client_buffer, client_done, signal]() -> net::awaitable<void> {
                if (client_buffer.size() > 0) {
                    co_await net::async_write(runtime, client_buffer.data(), tuple_awaitable);
                    client_buffer.consume(client_buffer.size());
                }
                std::vector<char> data(64 * 1024);
                for (;;) {
                    auto [error, n] =
                        co_await stream.async_read_some(net::buffer(data), tuple_awaitable);
                    if (n > 0) {
                        auto [relay_error, relayed] = co_await net::async_write(
                            runtime, net::buffer(data.data(), n), tuple_awaitable);
                        (void)relayed;
                        if (relay_error) break;
                    }
                    if (error) break;
                }
                // The client is done sending: so is the runtime's peer.
                boost::system::error_code ignored;
                runtime.socket().shutdown(tcp::socket::shutdown_send, ignored);
                *client_done = true;
                signal->cancel();
            },
            net::detached);
        std::vector<char> data(64 * 1024);
        for (;;) {
            auto [error, n] = co_await runtime.async_read_some(net::buffer(data), tuple_awaitable);
            if (n > 0) {
                auto [relay_error, relayed] =
                    co_await net::async_write(stream, net::buffer(data.data(), n), tuple_awaitable);
                (void)relayed;
                if (relay_error) break;
            }
            if (error) break;
        }
        // The runtime ended the session: stop reading the client and wait for that reader.
        if (!*client_done) {
            beast::get_lowest_layer(stream).socket().cancel();
            while (!*client_done) {
                signal->expires_after(std::chrono::milliseconds(100));
                co_await signal->async_wait(tuple_awaitable);
            }
        }
        boost::system::error_code ignored;
        runtime.socket().close(ignored);
    }

    // Streams watch events as chunks until the watch ends, times out or the client goes away.
    // Returns whether the connection can carry another request.
    net::awaitable<bool> stream_watch(TlsStream& stream, unsigned version, Response& response) {
        WatchPlan& plan = *response.watch;
        http::response<http::empty_body> head{http::status::ok, version};
        head.set(http::field::content_type, "application/json");
        head.set(http::field::cache_control, "no-cache, private");
        head.chunked(true);
        http::response_serializer<http::empty_body> serializer{head};
        auto [head_error, head_bytes] =
            co_await http::async_write_header(stream, serializer, tuple_awaitable);
        (void)head_bytes;
        if (head_error) co_return false;

        auto executor = co_await net::this_coro::executor;
        auto wake = std::make_shared<net::steady_timer>(executor);
        plan.stream->on_ready(
            [wake, executor] { net::post(executor, [wake] { wake->cancel(); }); });
        const auto now = std::chrono::steady_clock::now();
        const auto deadline =
            now + (plan.timeout_seconds > 0
                       ? std::chrono::seconds(plan.timeout_seconds)
                       : std::chrono::duration_cast<std::chrono::seconds>(kWatchDefaultTimeout));
        auto next_bookmark = now + kBookmarkInterval;
        bool alive = true;
        for (;;) {
            std::string chunk;
            bool failed = false;
            for (const auto& event : plan.stream->poll()) {
                chunk += Router::encode_event(event, plan);
                failed = failed || event.type == "ERROR";
            }
            const auto current = std::chrono::steady_clock::now();
            if (chunk.empty() && plan.bookmarks && current >= next_bookmark) {
                chunk = Router::encode_event(plan.stream->bookmark(), plan);
                next_bookmark = current + kBookmarkInterval;
            }
            if (!chunk.empty()) {
                auto [write_error, n] = co_await net::async_write(
                    stream, http::make_chunk(net::buffer(chunk)), tuple_awaitable);
                (void)n;
                if (write_error) {
                    alive = false;
                    break;
                }
                if (failed) break;
                continue;
            }
            if (current >= deadline) break;
            wake->expires_at(plan.bookmarks ? std::min(deadline, next_bookmark) : deadline);
            co_await wake->async_wait(tuple_awaitable);
        }
        plan.stream->on_ready([] {});
        if (!alive) co_return false;
        auto [end_error, end_bytes] =
            co_await net::async_write(stream, http::make_chunk_last(), tuple_awaitable);
        (void)end_bytes;
        co_return !end_error;
    }
};

HttpsServer::HttpsServer(std::string address, int port, TlsFiles tls, Router& router, int threads)
    : impl_(std::make_unique<Impl>(std::move(address), port, std::move(tls), router, threads)) {}

HttpsServer::~HttpsServer() {
    stop();
}

void HttpsServer::start() {
    try {
        impl_->configure_tls();
    } catch (const std::exception& e) {
        throw Error(ExitCode::kState, "APISERVER_TLS",
                    std::string("cannot load the API server's TLS files (") +
                        impl_->tls.cert.string() + ", " + impl_->tls.key.string() +
                        "): " + e.what(),
                    "Check the files, or remove the data directory's pki/ to create new ones.");
    }
    boost::system::error_code ec;
    const auto address = net::ip::make_address(impl_->address, ec);
    if (ec) {
        throw Error(ExitCode::kUsage, "APISERVER_BAD_ADDRESS",
                    "invalid listen address \"" + impl_->address + "\"",
                    "Use an IP address such as 127.0.0.1 or 0.0.0.0.");
    }
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->port));
    impl_->acceptor.emplace(impl_->io);
    impl_->acceptor->open(endpoint.protocol());
    impl_->acceptor->set_option(net::socket_base::reuse_address(true));
    impl_->acceptor->bind(endpoint, ec);
    if (ec) {
        throw Error(ExitCode::kHost, "APISERVER_BIND",
                    "cannot listen on " + impl_->address + ":" + std::to_string(impl_->port) +
                        ": " + ec.message(),
                    "Another process (maybe another kcube node) uses that port; stop it or "
                    "choose another with --port.");
    }
    impl_->acceptor->listen(net::socket_base::max_listen_connections);
    impl_->bound_port = impl_->acceptor->local_endpoint().port();
    net::co_spawn(impl_->io, impl_->accept_loop(), net::detached);
    for (int i = 0; i < impl_->thread_count; ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
}

void HttpsServer::stop() {
    if (impl_->threads.empty()) return;
    impl_->io.stop();
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
}

int HttpsServer::port() const {
    return impl_->bound_port;
}

}  // namespace kcube::apiserver
