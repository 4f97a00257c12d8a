#pragma once
// What the server does with one query, decided from its bytes alone: drop it, answer it (a
// protocol error, a static host, the cluster's records), or forward it upstream. No I/O, so
// every branch is unit-tested; the server does what the decision says.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "cluster/dns/message.hpp"
#include "cluster/dns/records.hpp"

namespace kcube::dns {

struct QueryConfig {
    std::string cluster_domain;                   // lower case, no trailing dot
    std::map<std::string, Address> static_hosts;  // lower-case name -> address
    std::uint32_t ttl = 5;
};

struct Decision {
    enum class Action {
        kDrop,     // not even a header: nothing to answer to
        kAnswer,   // send `response`
        kForward,  // relay the query's bytes to an upstream; SERVFAIL when none answers
        kChase,    // `response` holds a CNAME out of the cluster domain: resolve `chase` upstream,
                   // append what comes back (if anything) and send it
    };
    Action action = Action::kDrop;
    Message response;
    Question chase;
    // The largest UDP answer the client accepts (512, or its EDNS0 size, capped at ours).
    std::size_t udp_limit = kClassicUdpSize;
};

Decision decide(std::span<const std::uint8_t> query, const ClusterRecords& records,
                const QueryConfig& config);

// SERVFAIL for a query that was to be forwarded (none of the upstreams answered).
std::vector<std::uint8_t> servfail(std::span<const std::uint8_t> query);

// A query for `question` with ID `id` and RD set, for resolving an ExternalName's target.
std::vector<std::uint8_t> chase_query(const Question& question, std::uint16_t id);
// Appends the A/AAAA/CNAME answers of an upstream's `reply` to `response` (nothing if the
// reply is unusable or not NOERROR).
void append_chased(Message& response, std::span<const std::uint8_t> reply);

// The client's limit for a UDP answer.
std::size_t udp_limit_of(const Message& query);
// The response as bytes, truncated (TC) to `limit` when `limit` > 0.
std::vector<std::uint8_t> finish(const Message& response, std::size_t limit);

}  // namespace kcube::dns
