#include "bootstrap/api_client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

namespace kcube::bootstrap {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<HttpResult> get(asio::io_context& io, ssl::context& tls, const ApiAccess& access,
                                const std::string& target) {
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    const auto address = asio::ip::make_address(access.host);
    co_await beast::get_lowest_layer(stream).async_connect(
        tcp::endpoint(address, static_cast<unsigned short>(access.port)), asio::use_awaitable);
    // The server certificate must name the address we dialled (an IP SAN).
    SSL_set1_host(stream.native_handle(), access.host.c_str());
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, access.host);
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, "kcube");
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    co_await http::async_read(stream, buffer, response, asio::use_awaitable);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return HttpResult{static_cast<int>(response.result_int()), std::move(response.body())};
}

}  // namespace

std::optional<HttpResult> https_get(const ApiAccess& access, const std::string& target,
                                    std::chrono::milliseconds timeout, std::string* error) {
    try {
        // Declared before the io_context: a call cut off by the timeout leaves its coroutine
        // pending, and the io_context destroys it while these still exist.
        ssl::context tls(ssl::context::tls_client);
        tls.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        tls.load_verify_file(access.ca_cert.string());
        tls.use_certificate_chain_file(access.client_cert.string());
        tls.use_private_key_file(access.client_key.string(), ssl::context::pem);
        tls.set_verify_mode(ssl::verify_peer);
        std::optional<HttpResult> result;
        std::string failure;
        asio::io_context io;
        asio::co_spawn(io, get(io, tls, access, target), [&](std::exception_ptr e, HttpResult r) {
            if (!e) {
                result = std::move(r);
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                failure = ex.what();
            }
        });
        io.run_for(timeout);
        if (!result && failure.empty()) failure = "no answer within the timeout";
        if (error != nullptr) *error = failure;
        return result;
    } catch (const std::exception& e) {
        // Unreadable certificate files and the like.
        if (error != nullptr) *error = e.what();
        return std::nullopt;
    }
}

bool apiserver_ready(const ApiAccess& access, std::chrono::milliseconds timeout) {
    const auto result = https_get(access, "/readyz", timeout);
    return result && result->status == 200;
}

bool node_json_ready(const std::string& node_json) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(node_json, ec);
    if (ec || !value.is_object()) return false;
    const auto* status = value.as_object().if_contains("status");
    if (status == nullptr || !status->is_object()) return false;
    const auto* conditions = status->as_object().if_contains("conditions");
    if (conditions == nullptr || !conditions->is_array()) return false;
    for (const auto& condition : conditions->as_array()) {
        if (!condition.is_object()) continue;
        const auto& c = condition.as_object();
        const auto* type = c.if_contains("type");
        const auto* state = c.if_contains("status");
        if (type && state && type->is_string() && state->is_string() && *type == "Ready") {
            return *state == "True";
        }
    }
    return false;
}

NodeReadiness node_readiness(const ApiAccess& access, const std::string& name,
                             std::chrono::milliseconds timeout) {
    const auto result = https_get(access, "/api/v1/nodes/" + name, timeout);
    if (!result) return NodeReadiness::kUnreachable;
    if (result->status == 404) return NodeReadiness::kMissing;
    if (result->status != 200) return NodeReadiness::kUnreachable;
    return node_json_ready(result->body) ? NodeReadiness::kReady : NodeReadiness::kNotReady;
}

}  // namespace kcube::bootstrap
