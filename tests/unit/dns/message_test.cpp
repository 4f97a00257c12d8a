// The DNS wire format: round trips, compression, EDNS0, truncation, and hostile input (random,
// truncated and pointer-loop packets) that must be answered with FORMERR or dropped, never
// crash or hang.
#include "cluster/dns/message.hpp"

#include <doctest/doctest.h>

#include <random>

#include "cluster/dns/query.hpp"
#include "cluster/dns/records.hpp"

using namespace kcube::dns;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> values) {
    std::vector<std::uint8_t> out;
    for (int v : values)
        out.push_back(static_cast<std::uint8_t>(v));
    return out;
}

Message query_for(const std::string& name, std::uint16_t type) {
    Message query;
    query.header.id = 0x1234;
    query.header.rd = true;
    query.questions.push_back(Question{name, type, kClassIN});
    return query;
}

}  // namespace

TEST_CASE("dns: a query round-trips through encode and parse") {
    Message query = query_for("Web.Default.svc.cluster.local", rtype::kSRV);
    query.edns = Edns{4096, 0, true};
    const auto wire = encode(query);
    const Parsed parsed = parse(wire);
    REQUIRE(parsed.status == ParseStatus::kOk);
    CHECK(parsed.message.header.id == 0x1234);
    CHECK(parsed.message.header.rd);
    CHECK_FALSE(parsed.message.header.qr);
    REQUIRE(parsed.message.questions.size() == 1);
    CHECK(parsed.message.questions[0].name == "Web.Default.svc.cluster.local");
    CHECK(parsed.message.questions[0].type == rtype::kSRV);
    REQUIRE(parsed.message.edns);
    CHECK(parsed.message.edns->udp_size == 4096);
    CHECK(parsed.message.edns->dnssec_ok);
    CHECK(parsed.message.additional.empty());  // the OPT is `edns`, not a record
}

TEST_CASE("dns: a response with every record type round-trips, names compressed") {
    Message response = response_to(query_for("web.default.svc.cluster.local", rtype::kA), 0);
    response.header.aa = true;
    response.answers.push_back(make_a("web.default.svc.cluster.local", 5, {10, 96, 0, 7}));
    response.answers.push_back(make_aaaa("web.default.svc.cluster.local", 5,
                                         {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    response.answers.push_back(make_cname("x.default.svc.cluster.local", 5, "example.org"));
    response.answers.push_back(make_srv("_http._tcp.web.default.svc.cluster.local", 5, 0, 100, 8080,
                                        "web.default.svc.cluster.local"));
    response.answers.push_back(
        make_ptr("7.0.96.10.in-addr.arpa", 5, "web.default.svc.cluster.local"));
    response.authority.push_back(
        make_soa("cluster.local", 5,
                 Soa{"ns.dns.cluster.local", "hostmaster.cluster.local", 1, 2, 3, 4, 5}));
    const auto wire = encode(response);
    const auto uncompressed_owner_bytes = 6 * 31;
    CHECK(wire.size() < 12 + uncompressed_owner_bytes + 200);  // owners point at the question

    const Parsed parsed = parse(wire);
    REQUIRE(parsed.status == ParseStatus::kOk);
    CHECK(parsed.message.header.qr);
    CHECK(parsed.message.header.aa);
    REQUIRE(parsed.message.answers.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(parsed.message.answers[i].name == response.answers[i].name);
        CHECK(parsed.message.answers[i].type == response.answers[i].type);
        CHECK(parsed.message.answers[i].ttl == 5);
        CHECK(parsed.message.answers[i].rdata == response.answers[i].rdata);
    }
    REQUIRE(parsed.message.authority.size() == 1);
    CHECK(parsed.message.authority[0].rdata == response.authority[0].rdata);
}

TEST_CASE("dns: names in rdata sent compressed are stored expanded") {
    // Header, question "a.b" A IN, then one CNAME answer whose owner and target point back.
    auto wire = bytes({0,    1,   0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,  // header
                       1,    'a', 1,    'b',  0, 0, 1, 0, 1,           // question at 12
                       0xC0, 12,  0,    5,    0, 1, 0, 0, 0, 9, 0, 4,  // owner -> a.b, CNAME
                       1,    'c', 0xC0, 14});                          // c + -> b
    const Parsed parsed = parse(wire);
    REQUIRE(parsed.status == ParseStatus::kOk);
    REQUIRE(parsed.message.answers.size() == 1);
    std::size_t offset = 0;
    std::string target;
    REQUIRE(read_name(parsed.message.answers[0].rdata, offset, target));
    CHECK(target == "c.b");
    CHECK(offset == parsed.message.answers[0].rdata.size());
}

TEST_CASE("dns: unusual label bytes are escaped and round-trip") {
    auto wire = bytes({0, 1,   0,   0, 0, 1,    0, 0, 0, 0, 0, 0,  //
                       3, 'a', '.', 0, 1, '\\', 0, 0, 1, 0, 1});
    const Parsed parsed = parse(wire);
    REQUIRE(parsed.status == ParseStatus::kOk);
    CHECK(parsed.message.questions[0].name == "a\\.\\000.\\\\");
    CHECK(encode(parsed.message) == wire);
    CHECK_FALSE(in_zone("a\\.cluster.local", "local.x"));
    CHECK(in_zone("x.Cluster.Local", "cluster.local"));
    CHECK(in_zone("cluster.local", "cluster.local"));
    CHECK_FALSE(in_zone("xcluster.local", "cluster.local"));
    CHECK_FALSE(in_zone("a\\.cluster.local", "cluster.local"));
}

TEST_CASE("dns: compression pointers that loop or point forwards are malformed") {
    SUBCASE("a pointer to itself") {
        auto wire = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1});
        CHECK(parse(wire).status == ParseStatus::kMalformed);
    }
    SUBCASE("two pointers to each other") {
        auto wire = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xC0, 16, 0xC0, 12, 0, 1});
        CHECK(parse(wire).status == ParseStatus::kMalformed);
    }
    SUBCASE("a pointer past the end") {
        auto wire = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 200, 0, 1, 0, 1});
        CHECK(parse(wire).status == ParseStatus::kMalformed);
    }
    SUBCASE("a name longer than 255 bytes") {
        std::vector<std::uint8_t> wire = bytes({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
        for (int i = 0; i < 5; ++i) {
            wire.push_back(60);
            wire.insert(wire.end(), 60, 'x');
        }
        wire.insert(wire.end(), {0, 0, 1, 0, 1});
        CHECK(parse(wire).status == ParseStatus::kMalformed);
    }
    SUBCASE("counts promising more than is there") {
        auto wire = bytes({0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 1, 0, 1});
        CHECK(parse(wire).status == ParseStatus::kMalformed);
    }
    SUBCASE("less than a header") {
        CHECK(parse(bytes({0, 1, 0})).status == ParseStatus::kNoHeader);
    }
}

TEST_CASE("dns: encode truncates to a limit: additional silently, answers with TC") {
    Message response = response_to(query_for("big.default.svc.cluster.local", rtype::kA), 0);
    for (int i = 0; i < 60; ++i) {
        response.answers.push_back(
            make_a("big.default.svc.cluster.local", 5, {10, 244, 0, static_cast<std::uint8_t>(i)}));
    }
    const auto full = encode(response);
    CHECK(full.size() > 512);
    const auto cut = encode(response, 512);
    CHECK(cut.size() <= 512);
    const Parsed parsed = parse(cut);
    REQUIRE(parsed.status == ParseStatus::kOk);
    CHECK(parsed.message.header.tc);
    CHECK(parsed.message.answers.size() < 60);
    CHECK(parsed.message.answers.size() > 10);

    Message extra = response_to(query_for("a.b", rtype::kSRV), 0);
    extra.answers.push_back(make_srv("a.b", 5, 0, 100, 80, "t.a.b"));
    for (int i = 0; i < 60; ++i)
        extra.additional.push_back(make_a("t.a.b", 5, {10, 0, 0, static_cast<std::uint8_t>(i)}));
    const Parsed small = parse(encode(extra, 512));
    REQUIRE(small.status == ParseStatus::kOk);
    CHECK_FALSE(small.message.header.tc);
    CHECK(small.message.answers.size() == 1);
}

TEST_CASE("dns: random, truncated and mutated packets never crash the query path") {
    const ClusterRecords records("cluster.local", 5, 1, {});
    QueryConfig config;
    config.cluster_domain = "cluster.local";
    std::mt19937 random(12345);
    std::vector<std::vector<std::uint8_t>> seeds;
    {
        Message query = query_for("web.default.svc.cluster.local", rtype::kA);
        query.edns = Edns{1232, 0, false};
        seeds.push_back(encode(query));
        Message response = response_to(query, 0);
        response.answers.push_back(make_srv("web.default.svc.cluster.local", 5, 0, 100, 80,
                                            "web.default.svc.cluster.local"));
        seeds.push_back(encode(response));
    }
    int formerr = 0, dropped = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::uint8_t> packet;
        const int kind = round % 3;
        if (kind == 0) {  // pure noise
            packet.resize(random() % 80);
            for (auto& b : packet)
                b = static_cast<std::uint8_t>(random());
        } else {  // a real message, truncated or with bytes flipped
            packet = seeds[random() % seeds.size()];
            if (kind == 1) {
                packet.resize(random() % packet.size());
            } else {
                for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips)
                    packet[random() % packet.size()] = static_cast<std::uint8_t>(random());
            }
        }
        const Decision decision = decide(packet, records, config);
        if (decision.action == Decision::Action::kDrop) {
            ++dropped;
            continue;
        }
        if (decision.action == Decision::Action::kAnswer) {
            const auto answer = finish(decision.response, decision.udp_limit);
            CHECK(answer.size() <= decision.udp_limit);
            const Parsed reply = parse(answer);
            CHECK(reply.status == ParseStatus::kOk);
            if (reply.message.header.rcode == rcode::kFormErr) ++formerr;
        }
        (void)servfail(packet);
    }
    CHECK(formerr > 100);
    CHECK(dropped > 100);
}

TEST_CASE("dns: protocol errors: FORMERR, NOTIMP, responses ignored") {
    const ClusterRecords records("cluster.local", 5, 1, {});
    QueryConfig config;
    config.cluster_domain = "cluster.local";
    const auto answer_to = [&](const std::vector<std::uint8_t>& wire) {
        const Decision decision = decide(wire, records, config);
        REQUIRE(decision.action == Decision::Action::kAnswer);
        return parse(finish(decision.response, decision.udp_limit)).message;
    };
    SUBCASE("two questions") {
        Message query = query_for("a.cluster.local", rtype::kA);
        query.questions.push_back(query.questions[0]);
        const Message reply = answer_to(encode(query));
        CHECK(reply.header.rcode == rcode::kFormErr);
        CHECK(reply.header.id == 0x1234);
    }
    SUBCASE("no question") {
        Message query = query_for("a.cluster.local", rtype::kA);
        query.questions.clear();
        CHECK(answer_to(encode(query)).header.rcode == rcode::kFormErr);
    }
    SUBCASE("an UPDATE") {
        Message query = query_for("a.cluster.local", rtype::kA);
        query.header.opcode = 5;
        const Message reply = answer_to(encode(query));
        CHECK(reply.header.rcode == rcode::kNotImp);
        CHECK(reply.header.opcode == 5);
    }
    SUBCASE("a response is never answered") {
        Message query = query_for("a.cluster.local", rtype::kA);
        query.header.qr = true;
        CHECK(decide(encode(query), records, config).action == Decision::Action::kDrop);
    }
    SUBCASE("EDNS0 is echoed and sets the UDP limit") {
        Message query = query_for("a.cluster.local", rtype::kA);
        query.edns = Edns{4096, 0, false};
        const Decision decision = decide(encode(query), records, config);
        CHECK(decision.udp_limit == kOurUdpSize);
        CHECK(decision.response.edns.has_value());
        query.edns = Edns{100, 0, false};
        CHECK(decide(encode(query), records, config).udp_limit == 512);
        query.edns.reset();
        CHECK(decide(encode(query), records, config).udp_limit == 512);
        CHECK_FALSE(decide(encode(query), records, config).response.edns.has_value());
    }
}
