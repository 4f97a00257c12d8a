#pragma once
// Forwarding to upstream resolvers (CoreDNS's forward plugin, simply): the query goes to each
// upstream in order, over UDP or TCP as the client asked, with a fresh random ID, until one
// answers with a matching response within the timeout; the answer comes back with the
// client's ID. Internal to the DNS server (Asio in the interface).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kcube::dns {

struct Upstream {
    boost::asio::ip::address address;
    std::uint16_t port = 53;
    std::string text() const;
};

// "IP", "IP:PORT", "[IPv6]:PORT"; none when it is not an address.
std::optional<Upstream> parse_upstream(const std::string& text);

class Forwarder {
  public:
    struct Timeouts {
        std::chrono::milliseconds per_upstream{2000};
        std::chrono::milliseconds total{4000};
    };
    Forwarder(std::vector<Upstream> upstreams, Timeouts timeouts);

    bool empty() const { return upstreams_.empty(); }
    const std::vector<Upstream>& upstreams() const { return upstreams_; }

    // The upstream's answer to `query` (its ID replaced by the query's), or none when no
    // upstream answered in time. Runs on the caller's executor.
    boost::asio::awaitable<std::optional<std::vector<std::uint8_t>>> forward(
        std::vector<std::uint8_t> query, bool tcp);

  private:
    std::vector<Upstream> upstreams_;
    Timeouts timeouts_;
    std::mt19937 random_;
};

}  // namespace kcube::dns
