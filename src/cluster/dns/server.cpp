#include "cluster/dns/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/dns/forwarder.hpp"
#include "cluster/dns/query.hpp"
#include "cluster/dns/records.hpp"
#include "common/error.hpp"

namespace kcube::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// A TCP client that sends nothing for this long is disconnected (RFC 7766 suggests seconds).
constexpr auto kTcpIdle = std::chrono::seconds(10);
// Bounds on what clients can make us hold at once.
constexpr std::size_t kMaxTcpConnections = 256;
constexpr std::size_t kMaxForwardsInFlight = 1024;
constexpr std::size_t kMaxTcpMessage = 65535;

std::string advice_for(const boost::system::error_code& ec, std::uint16_t port) {
    if (ec == asio::error::address_in_use) {
        return "Something else already serves DNS on port " + std::to_string(port) +
               " of that address (systemd-resolved, dnsmasq, another kcube node?): stop it, or "
               "run the node without its DNS (`kcube node run --disable dns`).";
    }
    if (ec == boost::system::errc::address_not_available) {
        return "The address is not assigned to any interface of this machine: check that the "
               "pod network bridge is up, or choose another listen address.";
    }
    if (ec == asio::error::access_denied) {
        return "Ports below 1024 need root or CAP_NET_BIND_SERVICE: run the node as root.";
    }
    return "Check the address and that nothing else holds the port.";
}

// Runs a coroutine detached, logging (not propagating) what escapes it.
template <typename Awaitable>
void spawn(asio::io_context& io, Awaitable task) {
    asio::co_spawn(io, std::move(task), [](std::exception_ptr failure) {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            spdlog::warn("dns: a query failed: {}", e.what());
        }
    });
}

}  // namespace

struct DnsServer::Impl {
    Impl(api::ResourceService& s, DnsOptions o) : service(s), options(std::move(o)) {}
    // Coroutines still pending (a forward waiting on its upstream) are destroyed with the
    // io_context; they refer to the members below, so it goes first, after the sockets.
    ~Impl() {
        informers.reset();
        udp_sockets.clear();
        acceptors.clear();
        io_owner.reset();
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    api::ResourceService& service;
    DnsOptions options;
    QueryConfig config;

    // Set by the informers' handlers (their thread); the records are rebuilt on the next query
    // (the server's thread), so a burst of changes costs one rebuild.
    std::atomic<bool> dirty{true};
    std::unique_ptr<asio::io_context> io_owner = std::make_unique<asio::io_context>(1);
    asio::io_context& io = *io_owner;
    std::vector<std::unique_ptr<udp::socket>> udp_sockets;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::unique_ptr<Forwarder> forwarder;
    std::uint16_t bound_port = 0;

    std::unique_ptr<controllers::InformerSet> informers;
    controllers::Informer* services = nullptr;
    controllers::Informer* slices = nullptr;
    controllers::Informer* pods = nullptr;
    controllers::Informer* namespaces = nullptr;
    std::shared_ptr<const ClusterRecords> records;

    std::size_t tcp_connections = 0;
    std::size_t forwards_in_flight = 0;
    std::thread thread;
    bool running = false;

    void bind_all();
    void bind_once(std::uint16_t port);
    void start_informers();
    const ClusterRecords& current_records();

    asio::awaitable<std::vector<std::uint8_t>> resolve(std::vector<std::uint8_t> query,
                                                       Decision decision, bool tcp);
    asio::awaitable<void> serve_udp(udp::socket& socket);
    asio::awaitable<void> forward_udp(udp::socket& socket, udp::endpoint client,
                                      std::vector<std::uint8_t> query, Decision decision);
    asio::awaitable<void> accept_tcp(tcp::acceptor& acceptor);
    asio::awaitable<void> serve_tcp(tcp::socket socket);
};

void DnsServer::Impl::bind_once(std::uint16_t port) {
    udp_sockets.clear();
    acceptors.clear();
    for (const auto& text : options.listen_addresses) {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(text, ec);
        if (ec) {
            throw Error(ExitCode::kUsage, "DNS_BAD_LISTEN_ADDRESS",
                        "cannot serve DNS on \"" + text + "\": not an IP address",
                        "Give the DNS server IP addresses to listen on.");
        }
        const auto fail = [&](const char* protocol, const boost::system::error_code& error) {
            const std::uint16_t shown = port ? port : options.port;
            throw Error(ExitCode::kHost, "DNS_LISTEN_FAILED",
                        "cannot serve DNS on " + text + " port " + std::to_string(shown) + " (" +
                            protocol + "): " + error.message(),
                        advice_for(error, shown));
        };
        auto socket = std::make_unique<udp::socket>(io);
        socket->open(address.is_v4() ? udp::v4() : udp::v6(), ec);
        if (!ec) socket->bind(udp::endpoint(address, port), ec);
        if (ec) fail("udp", ec);
        if (port == 0) port = socket->local_endpoint().port();
        // Answers are sent without waiting: a full socket buffer drops the answer (the client
        // retries), it never stalls the server.
        socket->non_blocking(true);
        udp_sockets.push_back(std::move(socket));

        auto acceptor = std::make_unique<tcp::acceptor>(io);
        acceptor->open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
        if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor->bind(tcp::endpoint(address, port), ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) fail("tcp", ec);
        acceptors.push_back(std::move(acceptor));
    }
    bound_port = port;
}

void DnsServer::Impl::bind_all() {
    if (options.port != 0) return bind_once(options.port);
    // An ephemeral UDP port may be taken for TCP (or on another address): try a few.
    for (int attempt = 0;; ++attempt) {
        try {
            return bind_once(0);
        } catch (const Error&) {
            if (attempt == 4) throw;
        }
    }
}

void DnsServer::Impl::start_informers() {
    informers = std::make_unique<controllers::InformerSet>(service);
    services = &informers->get("", "v1", "services");
    slices = &informers->get("discovery.k8s.io", "v1", "endpointslices");
    pods = &informers->get("", "v1", "pods");
    namespaces = &informers->get("", "v1", "namespaces");
    for (auto* informer : {services, slices, pods, namespaces}) {
        informer->on_change([this](const controllers::ObjectPtr&, const controllers::ObjectPtr&) {
            dirty.store(true);
        });
    }
    informers->start();
}

const ClusterRecords& DnsServer::Impl::current_records() {
    if (dirty.exchange(false) || !records) {
        ClusterObjects objects;
        objects.services = services->list();
        objects.endpoint_slices = slices->list();
        objects.pods = pods->list();
        objects.namespaces = namespaces->list();
        records = std::make_shared<ClusterRecords>(
            options.cluster_domain, static_cast<std::uint32_t>(options.ttl.count()),
            static_cast<std::uint32_t>(std::time(nullptr)), objects);
    }
    return *records;
}

asio::awaitable<std::vector<std::uint8_t>> DnsServer::Impl::resolve(std::vector<std::uint8_t> query,
                                                                    Decision decision, bool tcp) {
    const std::size_t limit = tcp ? kMaxTcpMessage : decision.udp_limit;
    if (decision.action == Decision::Action::kChase) {
        if (!forwarder->empty()) {
            auto reply = co_await forwarder->forward(chase_query(decision.chase, 0), false);
            if (reply) append_chased(decision.response, *reply);
        }
        co_return finish(decision.response, limit);
    }
    if (forwarder->empty()) co_return servfail(query);
    auto reply = co_await forwarder->forward(query, tcp);
    if (!reply) co_return servfail(query);
    co_return std::move(*reply);
}

asio::awaitable<void> DnsServer::Impl::serve_udp(udp::socket& socket) {
    std::vector<std::uint8_t> buffer(65535);
    udp::endpoint client;
    while (true) {
        auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), client, kAwait);
        if (ec == asio::error::operation_aborted || !socket.is_open()) co_return;
        if (ec) continue;  // e.g. an ICMP error from an earlier answer's client
        const std::span<const std::uint8_t> packet(buffer.data(), n);
        Decision decision = decide(packet, current_records(), config);
        if (decision.action == Decision::Action::kDrop) continue;
        if (decision.action == Decision::Action::kAnswer) {
            const auto answer = finish(decision.response, decision.udp_limit);
            socket.send_to(asio::buffer(answer), client, 0, ec);
            continue;
        }
        if (forwards_in_flight >= kMaxForwardsInFlight) {
            const auto answer = servfail(packet);
            socket.send_to(asio::buffer(answer), client, 0, ec);
            continue;
        }
        spawn(io, forward_udp(socket, client, {packet.begin(), packet.end()}, std::move(decision)));
    }
}

asio::awaitable<void> DnsServer::Impl::forward_udp(udp::socket& socket, udp::endpoint client,
                                                   std::vector<std::uint8_t> query,
                                                   Decision decision) {
    ++forwards_in_flight;
    struct Release {
        std::size_t& count;
        ~Release() { --count; }
    } release{forwards_in_flight};
    const auto answer = co_await resolve(std::move(query), std::move(decision), false);
    boost::system::error_code ec;
    if (socket.is_open()) socket.send_to(asio::buffer(answer), client, 0, ec);
}

asio::awaitable<void> DnsServer::Impl::accept_tcp(tcp::acceptor& acceptor) {
    while (true) {
        auto [ec, socket] = co_await acceptor.async_accept(kAwait);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors, say: pause rather than spin.
            asio::steady_timer pause(io, std::chrono::milliseconds(100));
            co_await pause.async_wait(kAwait);
            continue;
        }
        if (tcp_connections >= kMaxTcpConnections) continue;  // closed as `socket` goes
        spawn(io, serve_tcp(std::move(socket)));
    }
}

asio::awaitable<void> DnsServer::Impl::serve_tcp(tcp::socket accepted) {
    ++tcp_connections;
    struct Release {
        std::size_t& count;
        ~Release() { --count; }
    } release{tcp_connections};
    auto socket = std::make_shared<tcp::socket>(std::move(accepted));
    // The connection closes when a read or write waits longer than kTcpIdle. (A timer callback
    // rather than awaitable operators: GCC 12 miscompiles those temporaries.)
    asio::steady_timer idle(io);
    const auto arm = [&idle, socket] {
        idle.expires_after(kTcpIdle);
        idle.async_wait([socket](const boost::system::error_code& ec) {
            if (ec) return;
            boost::system::error_code ignored;
            socket->close(ignored);
        });
    };
    // RFC 7766: a connection carries any number of length-prefixed queries, answered in turn.
    while (true) {
        std::array<std::uint8_t, 2> length{};
        arm();
        auto [length_error, length_read] =
            co_await asio::async_read(*socket, asio::buffer(length), kAwait);
        if (length_error) co_return;
        std::vector<std::uint8_t> query((std::size_t{length[0]} << 8) | length[1]);
        auto [body_error, body_read] =
            co_await asio::async_read(*socket, asio::buffer(query), kAwait);
        if (body_error) co_return;
        idle.cancel();

        Decision decision = decide(query, current_records(), config);
        if (decision.action == Decision::Action::kDrop) co_return;
        std::vector<std::uint8_t> answer;
        if (decision.action == Decision::Action::kAnswer) {
            answer = finish(decision.response, kMaxTcpMessage);
        } else {
            answer = co_await resolve(std::move(query), std::move(decision), true);
        }
        const std::array<std::uint8_t, 2> out_length = {
            static_cast<std::uint8_t>(answer.size() >> 8),
            static_cast<std::uint8_t>(answer.size())};
        const std::array<asio::const_buffer, 2> out = {asio::buffer(out_length),
                                                       asio::buffer(answer)};
        arm();
        auto [write_error, written] = co_await asio::async_write(*socket, out, kAwait);
        if (write_error) co_return;
    }
}

DnsServer::DnsServer(api::ResourceService& service, DnsOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

DnsServer::~DnsServer() {
    stop();
}

void DnsServer::start() {
    if (impl_->running) return;
    Impl& s = *impl_;
    // Coroutines of a stopped run still refer to its sockets: a server is started once.
    if (s.io.stopped()) throw std::logic_error("DnsServer::start() after stop()");
    s.config.cluster_domain = lower(s.options.cluster_domain);
    while (!s.config.cluster_domain.empty() && s.config.cluster_domain.back() == '.')
        s.config.cluster_domain.pop_back();
    s.config.ttl = static_cast<std::uint32_t>(s.options.ttl.count());
    for (const auto& [name, ip] : s.options.static_hosts) {
        auto address = parse_address(ip);
        if (!address) {
            spdlog::warn("dns: static host {} has no valid address (\"{}\"); not served", name, ip);
            continue;
        }
        std::string key = lower(name);
        while (!key.empty() && key.back() == '.')
            key.pop_back();
        s.config.static_hosts[key] = *address;
    }

    s.bind_all();

    // Never forward to ourselves: that would loop until every query times out.
    std::vector<Upstream> upstreams;
    for (const auto& text : s.options.upstreams) {
        auto upstream = parse_upstream(text);
        if (!upstream) {
            spdlog::warn("dns: upstream \"{}\" is not an address; ignored", text);
            continue;
        }
        bool ours = false;
        for (const auto& socket : s.udp_sockets) {
            const auto local = socket->local_endpoint();
            ours = ours || (local.address() == upstream->address && local.port() == upstream->port);
        }
        if (ours) {
            spdlog::warn("dns: upstream {} is this server itself; ignored", upstream->text());
            continue;
        }
        upstreams.push_back(*upstream);
    }
    if (upstreams.empty())
        spdlog::warn("dns: no upstream resolvers: names outside {} get SERVFAIL",
                     s.config.cluster_domain);
    s.forwarder = std::make_unique<Forwarder>(std::move(upstreams), Forwarder::Timeouts{});

    s.start_informers();
    s.current_records();

    for (auto& socket : s.udp_sockets)
        spawn(s.io, s.serve_udp(*socket));
    for (auto& acceptor : s.acceptors)
        spawn(s.io, s.accept_tcp(*acceptor));
    s.running = true;
    s.thread = std::thread([&s] { s.io.run(); });
    std::string where;
    for (const auto& address : s.options.listen_addresses)
        where += (where.empty() ? "" : ", ") + address;
    spdlog::info("dns: serving {} on {} port {} (udp, tcp)", s.config.cluster_domain, where,
                 s.bound_port);
}

void DnsServer::stop() {
    Impl& s = *impl_;
    if (!s.running) return;
    s.running = false;
    s.io.stop();
    if (s.thread.joinable()) s.thread.join();
    if (s.informers) s.informers->stop();
    s.udp_sockets.clear();
    s.acceptors.clear();
}

std::uint16_t DnsServer::port() const {
    return impl_->bound_port;
}

}  // namespace kcube::dns
