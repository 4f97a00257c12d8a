#include "cluster/dns/forwarder.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <memory>

#include "cluster/dns/message.hpp"

namespace kcube::dns {

namespace asio = boost::asio;
using Reply = std::optional<std::vector<std::uint8_t>>;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// `reply` answers `query`: same ID, a response, the same question.
bool answers(std::span<const std::uint8_t> reply, std::span<const std::uint8_t> query) {
    if (reply.size() < 12 || reply[0] != query[0] || reply[1] != query[1]) return false;
    const Parsed r = parse(reply);
    const Parsed q = parse(query);
    if (r.status == ParseStatus::kNoHeader || !r.message.header.qr) return false;
    if (q.message.questions.empty()) return r.message.questions.empty();
    // A reply our parser dislikes further on is still relayed: the client may understand it.
    if (r.message.questions.size() != q.message.questions.size()) return false;
    const Question& a = r.message.questions.front();
    const Question& b = q.message.questions.front();
    return a.type == b.type && a.klass == b.klass && names_equal(a.name, b.name);
}

// Closes `socket` when `timer` expires, failing whatever operation is pending on it. (A timer
// callback rather than awaitable operators: GCC 12 miscompiles those temporaries.)
template <typename Socket>
void close_on_expiry(asio::steady_timer& timer, const std::shared_ptr<Socket>& socket) {
    timer.async_wait([socket](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: the exchange finished in time
        boost::system::error_code ignored;
        socket->close(ignored);
    });
}

asio::awaitable<Reply> udp_exchange(const Upstream& upstream, std::span<const std::uint8_t> query,
                                    std::chrono::milliseconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    const asio::ip::udp::endpoint endpoint(upstream.address, upstream.port);
    auto socket = std::make_shared<asio::ip::udp::socket>(executor, endpoint.protocol());
    boost::system::error_code ec;
    // Connected, so the kernel reports a closed port (ICMP) at once instead of a timeout, and
    // only this upstream's datagrams arrive.
    socket->connect(endpoint, ec);
    if (ec) co_return std::nullopt;
    asio::steady_timer timer(executor, timeout);
    close_on_expiry(timer, socket);
    auto [send_error, sent] =
        co_await socket->async_send(asio::buffer(query.data(), query.size()), kAwait);
    if (send_error) co_return std::nullopt;
    std::vector<std::uint8_t> buffer(65535);
    while (true) {
        auto [error, n] = co_await socket->async_receive(asio::buffer(buffer), kAwait);
        if (error) co_return std::nullopt;
        if (answers(std::span(buffer.data(), n), query)) {
            buffer.resize(n);
            co_return buffer;
        }
    }
}

asio::awaitable<Reply> tcp_exchange(const Upstream& upstream, std::span<const std::uint8_t> query,
                                    std::chrono::milliseconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    const asio::ip::tcp::endpoint endpoint(upstream.address, upstream.port);
    auto socket = std::make_shared<asio::ip::tcp::socket>(executor);
    asio::steady_timer timer(executor, timeout);
    close_on_expiry(timer, socket);
    auto [connect_error] = co_await socket->async_connect(endpoint, kAwait);
    if (connect_error) co_return std::nullopt;
    const std::array<std::uint8_t, 2> length = {static_cast<std::uint8_t>(query.size() >> 8),
                                                static_cast<std::uint8_t>(query.size())};
    const std::array<asio::const_buffer, 2> out = {asio::buffer(length),
                                                   asio::buffer(query.data(), query.size())};
    auto [write_error, written] = co_await asio::async_write(*socket, out, kAwait);
    if (write_error) co_return std::nullopt;
    std::array<std::uint8_t, 2> reply_length{};
    auto [read_error, got] = co_await asio::async_read(*socket, asio::buffer(reply_length), kAwait);
    if (read_error) co_return std::nullopt;
    std::vector<std::uint8_t> reply((std::size_t{reply_length[0]} << 8) | reply_length[1]);
    auto [body_error, body] = co_await asio::async_read(*socket, asio::buffer(reply), kAwait);
    if (body_error || !answers(reply, query)) co_return std::nullopt;
    co_return reply;
}

}  // namespace

std::string Upstream::text() const {
    if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

std::optional<Upstream> parse_upstream(const std::string& text) {
    std::string host = text;
    std::string port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') return std::nullopt;
            port_text = text.substr(close + 2);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const auto colon = text.find(':');
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    Upstream upstream;
    boost::system::error_code ec;
    // A zone index ("fe80::1%eth0") is kept by make_address.
    upstream.address = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, error] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535)
            return std::nullopt;
        upstream.port = static_cast<std::uint16_t>(port);
    }
    return upstream;
}

Forwarder::Forwarder(std::vector<Upstream> upstreams, Timeouts timeouts)
    : upstreams_(std::move(upstreams)), timeouts_(timeouts), random_(std::random_device{}()) {}

asio::awaitable<Reply> Forwarder::forward(std::vector<std::uint8_t> query, bool tcp) {
    if (query.size() < 12) co_return std::nullopt;
    const std::uint8_t client_id[2] = {query[0], query[1]};
    const auto deadline = std::chrono::steady_clock::now() + timeouts_.total;
    for (const Upstream& upstream : upstreams_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= std::chrono::milliseconds(0)) break;
        // A fresh ID per attempt, so a late or spoofed answer to another query cannot match.
        const auto id = static_cast<std::uint16_t>(random_());
        query[0] = static_cast<std::uint8_t>(id >> 8);
        query[1] = static_cast<std::uint8_t>(id);
        const auto timeout = std::min(timeouts_.per_upstream, left);
        Reply reply;
        if (tcp) {
            reply = co_await tcp_exchange(upstream, query, timeout);
        } else {
            reply = co_await udp_exchange(upstream, query, timeout);
        }
        if (reply) {
            (*reply)[0] = client_id[0];
            (*reply)[1] = client_id[1];
            co_return reply;
        }
    }
    co_return std::nullopt;
}

}  // namespace kcube::dns
