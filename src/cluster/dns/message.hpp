#pragma once
// The DNS wire format (RFC 1035, EDNS0 from RFC 6891): parsing a message from untrusted bytes
// (every length, count and compression pointer checked) and encoding one, with truncation to a
// client's UDP limit.
//
// Names are kept in presentation form without the trailing dot ("web.default.svc.cluster.local",
// the root is ""), with RFC 4343 escapes (\. \\ \DDD) for bytes that are not plain text, and
// in the case they were sent in: DNS matching is case-insensitive, answers keep the case of the
// question.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::dns {

namespace rtype {
constexpr std::uint16_t kA = 1;
constexpr std::uint16_t kNS = 2;
constexpr std::uint16_t kCNAME = 5;
constexpr std::uint16_t kSOA = 6;
constexpr std::uint16_t kPTR = 12;
constexpr std::uint16_t kMX = 15;
constexpr std::uint16_t kTXT = 16;
constexpr std::uint16_t kAAAA = 28;
constexpr std::uint16_t kSRV = 33;
constexpr std::uint16_t kOPT = 41;
constexpr std::uint16_t kANY = 255;
}  // namespace rtype

namespace rcode {
constexpr std::uint8_t kNoError = 0;
constexpr std::uint8_t kFormErr = 1;
constexpr std::uint8_t kServFail = 2;
constexpr std::uint8_t kNxDomain = 3;
constexpr std::uint8_t kNotImp = 4;
constexpr std::uint8_t kRefused = 5;
}  // namespace rcode

constexpr std::uint16_t kClassIN = 1;
constexpr std::uint16_t kClassANY = 255;
constexpr std::uint8_t kOpcodeQuery = 0;
// Without EDNS0 a UDP message is at most 512 bytes (RFC 1035 4.2.1).
constexpr std::size_t kClassicUdpSize = 512;
// What we advertise and the most we send over UDP: the DNS flag day 2020 size, which avoids IP
// fragmentation on ordinary links.
constexpr std::uint16_t kOurUdpSize = 1232;

struct Header {
    std::uint16_t id = 0;
    bool qr = false;  // a response
    std::uint8_t opcode = 0;
    bool aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
    std::uint8_t rcode = 0;  // the low 4 bits (EDNS0 extends it; we never send extended codes)
};

struct Question {
    std::string name;
    std::uint16_t type = 0;
    std::uint16_t klass = kClassIN;
};

// One resource record. rdata is wire format; names inside the rdata of the types this code
// knows (CNAME, NS, PTR, SOA, MX, SRV) are stored expanded (never compression pointers), so a
// record taken from one message can be written into another.
struct Record {
    std::string name;
    std::uint16_t type = 0;
    std::uint16_t klass = kClassIN;
    std::uint32_t ttl = 0;
    std::vector<std::uint8_t> rdata;
};

struct Edns {
    std::uint16_t udp_size = kClassicUdpSize;  // the sender's UDP payload limit
    std::uint8_t version = 0;
    bool dnssec_ok = false;
};

struct Message {
    Header header;
    std::vector<Question> questions;
    std::vector<Record> answers;
    std::vector<Record> authority;
    std::vector<Record> additional;  // without the OPT record, which is `edns`
    std::optional<Edns> edns;
};

enum class ParseStatus {
    kOk,
    kNoHeader,   // fewer than 12 bytes: nothing to answer to, drop it
    kMalformed,  // header read (and questions as far as they parsed): answer FORMERR
};

struct Parsed {
    ParseStatus status = ParseStatus::kNoHeader;
    Message message;
};

Parsed parse(std::span<const std::uint8_t> wire);

// The message as bytes. With max_size > 0 the result fits: records are dropped from the
// additional section first (no TC: they are optional), then from authority and answers, and
// then TC is set so the client retries over TCP.
std::vector<std::uint8_t> encode(const Message& message, std::size_t max_size = 0);

// A name in wire format, uncompressed; throws std::invalid_argument for a label over 63 bytes,
// an empty label, or a name over 255 bytes.
void append_name(std::vector<std::uint8_t>& out, std::string_view name);
// Reads the name at `offset` of `wire` (following compression pointers, which must point
// backwards); returns false when it is malformed. `offset` moves past the name as written.
bool read_name(std::span<const std::uint8_t> wire, std::size_t& offset, std::string& name);

// ASCII lower case: the canonical form for comparing names.
std::string lower(std::string_view text);
bool names_equal(std::string_view a, std::string_view b);
// `name` is `zone` or below it (both in presentation form, compared case-insensitively).
bool in_zone(std::string_view name, std::string_view zone);

// Records.
Record make_a(std::string name, std::uint32_t ttl, const std::array<std::uint8_t, 4>& address);
Record make_aaaa(std::string name, std::uint32_t ttl, const std::array<std::uint8_t, 16>& address);
Record make_cname(std::string name, std::uint32_t ttl, std::string_view target);
Record make_ptr(std::string name, std::uint32_t ttl, std::string_view target);
Record make_srv(std::string name, std::uint32_t ttl, std::uint16_t priority, std::uint16_t weight,
                std::uint16_t port, std::string_view target);
struct Soa {
    std::string mname, rname;
    std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};
Record make_soa(std::string name, std::uint32_t ttl, const Soa& soa);

// A response to `query`: its ID, opcode, RD and CD bits and question copied, QR set.
Message response_to(const Message& query, std::uint8_t code);

}  // namespace kcube::dns
