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
