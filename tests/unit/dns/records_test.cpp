// The cluster's records (CoreDNS's kubernetes plugin, `pods insecure`): which names exist,
// what they hold, and which answers the query path gives for cluster, static, reverse and
// outside names.
#include "cluster/dns/records.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cluster/dns/query.hpp"

using namespace kcube::dns;
namespace json = boost::json;

namespace {

kcube::controllers::ObjectPtr object(const std::string& text) {
    return std::make_shared<const json::object>(json::parse(text).as_object());
}

std::string text_of(const Record& record) {
    std::span<const std::uint8_t> rdata(record.rdata);
    switch (record.type) {
        case rtype::kA:
        case rtype::kAAAA: {
            Address address;
            address.v6 = record.type == rtype::kAAAA;
            std::copy(rdata.begin(), rdata.end(), address.bytes.begin());
            return format_address(address);
        }
        case rtype::kCNAME:
        case rtype::kPTR: {
            std::size_t offset = 0;
            std::string name;
            REQUIRE(read_name(rdata, offset, name));
            return name;
        }
        case rtype::kSRV: {
            std::size_t offset = 6;
            std::string name;
            REQUIRE(read_name(rdata, offset, name));
            return std::to_string((rdata[0] << 8) | rdata[1]) + " " +
                   std::to_string((rdata[2] << 8) | rdata[3]) + " " +
                   std::to_string((rdata[4] << 8) | rdata[5]) + " " + name;
        }
        case rtype::kSOA:
            return "SOA";
        default:
            return "?";
    }
}

std::vector<std::string> texts(const std::vector<Record>& records) {
    std::vector<std::string> out;
    for (const auto& r : records)
        out.push_back(text_of(r));
    std::sort(out.begin(), out.end());
    return out;
}

using Strings = std::vector<std::string>;

struct Fixture {
    ClusterObjects objects;
    Fixture() {
        objects.namespaces = {object(R"({"metadata":{"name":"default"}})"),
                              object(R"({"metadata":{"name":"demo"}})"),
                              object(R"({"metadata":{"name":"empty"}})")};
        objects.services = {
            object(R"({"metadata":{"name":"web","namespace":"demo"},
                "spec":{"type":"ClusterIP","clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20"],
                        "ports":[{"name":"http","port":8080,"protocol":"TCP"},
                                 {"name":"dns","port":53,"protocol":"UDP"}]}})"),
            object(R"({"metadata":{"name":"db","namespace":"demo"},
                "spec":{"clusterIP":"None","ports":[{"name":"pg","port":5432}]}})"),
            object(R"({"metadata":{"name":"all","namespace":"demo"},
                "spec":{"clusterIP":"None","publishNotReadyAddresses":true}})"),
            object(R"({"metadata":{"name":"ext","namespace":"demo"},
                "spec":{"type":"ExternalName","externalName":"example.org."}})"),
            object(R"({"metadata":{"name":"alias","namespace":"demo"},
                "spec":{"type":"ExternalName","externalName":"web.demo.svc.cluster.local"}})"),
            object(R"({"metadata":{"name":"v6","namespace":"demo"},
                "spec":{"clusterIPs":["fd00:96::20"],"clusterIP":"fd00:96::20"}})"),
        };
        objects.endpoint_slices = {
            object(R"({"metadata":{"name":"db-abc","namespace":"demo",
                         "labels":{"kubernetes.io/service-name":"db"}},
                "addressType":"IPv4",
                "ports":[{"name":"pg","port":5432,"protocol":"TCP"}],
                "endpoints":[
                  {"addresses":["10.244.0.11"],"hostname":"db-0","conditions":{"ready":true}},
                  {"addresses":["10.244.0.12"],"hostname":"db-1","conditions":{"ready":true}},
                  {"addresses":["10.244.0.13"],"conditions":{"ready":false}},
                  {"addresses":["10.244.0.14"]}]})"),
            object(R"({"metadata":{"name":"all-abc","namespace":"demo",
                         "labels":{"kubernetes.io/service-name":"all"}},
                "addressType":"IPv4",
                "endpoints":[{"addresses":["10.244.0.21"],"conditions":{"ready":false}}]})"),
            object(R"({"metadata":{"name":"web-abc","namespace":"demo",
                         "labels":{"kubernetes.io/service-name":"web"}},
                "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],
                "endpoints":[{"addresses":["10.244.0.31"],"conditions":{"ready":true}}]})"),
        };
        objects.pods = {
            object(R"({"metadata":{"name":"p","namespace":"demo"},
                "status":{"podIP":"10.244.0.40","podIPs":[{"ip":"10.244.0.40"}]}})"),
            object(R"({"metadata":{"name":"db-0","namespace":"demo"},
                "status":{"podIP":"10.244.0.11"}})"),
            object(R"({"metadata":{"name":"h","namespace":"demo"},"spec":{"hostNetwork":true},
                "status":{"podIP":"192.0.2.10"}})"),
        };
    }
    ClusterRecords records() const { return ClusterRecords("cluster.local", 5, 7, objects); }
};

Answer ask(const ClusterRecords& records, const std::string& name, std::uint16_t type) {
    return records.answer(Question{name, type, kClassIN});
}

}  // namespace

TEST_CASE("dns: address helpers") {
    CHECK(dashed(*parse_address("10.244.0.5")) == "10-244-0-5");
    CHECK(dashed(*parse_address("fd00::5")) == "fd00--5");
    CHECK(format_address(*from_dashed("10-244-0-5")) == "10.244.0.5");
    CHECK(format_address(*from_dashed("fd00--5")) == "fd00::5");
    CHECK_FALSE(from_dashed("10-244-0-256"));
    CHECK_FALSE(from_dashed("web"));
    CHECK(format_address(*from_reverse_name("5.0.244.10.in-addr.arpa")) == "10.244.0.5");
    CHECK(format_address(*from_reverse_name("5.0.244.10.IN-ADDR.ARPA")) == "10.244.0.5");
    CHECK_FALSE(from_reverse_name("0.244.10.in-addr.arpa"));
    CHECK_FALSE(from_reverse_name("05.0.244.10.in-addr.arpa"));
    CHECK(format_address(*from_reverse_name(
              "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa")) ==
          "fd00::5");
}

TEST_CASE_FIXTURE(Fixture,
                  "dns: a ClusterIP Service answers A with its address, keeping the case") {
    const auto records = this->records();
    const Answer answer = ask(records, "Web.Demo.svc.Cluster.Local", rtype::kA);
    CHECK(answer.rcode == rcode::kNoError);
    REQUIRE(answer.answers.size() == 1);
    CHECK(answer.answers[0].name == "Web.Demo.svc.Cluster.Local");
    CHECK(answer.answers[0].ttl == 5);
    CHECK(text_of(answer.answers[0]) == "10.96.0.20");
    CHECK(answer.authority.empty());
}

TEST_CASE_FIXTURE(Fixture, "dns: AAAA of an IPv4-only name is NODATA with the SOA") {
    const auto records = this->records();
    const Answer answer = ask(records, "web.demo.svc.cluster.local", rtype::kAAAA);
    CHECK(answer.rcode == rcode::kNoError);
    CHECK(answer.answers.empty());
    REQUIRE(answer.authority.size() == 1);
    CHECK(answer.authority[0].type == rtype::kSOA);
    CHECK(answer.authority[0].name == "cluster.local");
    CHECK(texts(ask(records, "v6.demo.svc.cluster.local", rtype::kAAAA).answers) ==
          Strings{"fd00:96::20"});
    CHECK(ask(records, "v6.demo.svc.cluster.local", rtype::kA).answers.empty());
}

TEST_CASE_FIXTURE(Fixture, "dns: missing names are NXDOMAIN with the SOA") {
    const auto records = this->records();
    for (const char* name :
         {"nope.demo.svc.cluster.local", "web.nons.svc.cluster.local", "x.cluster.local",
          "a.b.c.d.e.web.demo.svc.cluster.local", "_http._udp.web.demo.svc.cluster.local",
          "nobody.web.demo.svc.cluster.local", "10-0-0-1.nons.pod.cluster.local",
          "notanip.demo.pod.cluster.local"}) {
        CAPTURE(name);
        const Answer answer = ask(records, name, rtype::kA);
        CHECK(answer.rcode == rcode::kNxDomain);
        REQUIRE(answer.authority.size() == 1);
        CHECK(answer.authority[0].type == rtype::kSOA);
    }
}

TEST_CASE_FIXTURE(Fixture, "dns: an existing namespace and the zone's structure are NODATA") {
    const auto records = this->records();
    for (const char* name : {"demo.svc.cluster.local", "empty.svc.cluster.local",
                             "svc.cluster.local", "pod.cluster.local", "cluster.local"}) {
        CAPTURE(name);
        const Answer answer = ask(records, name, rtype::kA);
        CHECK(answer.rcode == rcode::kNoError);
        CHECK(answer.answers.empty());
    }
    CHECK(texts(ask(records, "cluster.local", rtype::kSOA).answers) == Strings{"SOA"});
}

TEST_CASE_FIXTURE(Fixture, "dns: a headless Service answers with its ready endpoints") {
    const auto records = this->records();
    // Ready true and ready unset (unknown counts as ready); not ready left out.
    CHECK(texts(ask(records, "db.demo.svc.cluster.local", rtype::kA).answers) ==
          Strings{"10.244.0.11", "10.244.0.12", "10.244.0.14"});
    // publishNotReadyAddresses: all of them.
    CHECK(texts(ask(records, "all.demo.svc.cluster.local", rtype::kA).answers) ==
          Strings{"10.244.0.21"});
    // Endpoints by hostname and by dashed address.
    CHECK(texts(ask(records, "db-1.db.demo.svc.cluster.local", rtype::kA).answers) ==
          Strings{"10.244.0.12"});
    CHECK(texts(ask(records, "10-244-0-14.db.demo.svc.cluster.local", rtype::kA).answers) ==
          Strings{"10.244.0.14"});
    CHECK(ask(records, "10-244-0-13.db.demo.svc.cluster.local", rtype::kA).rcode ==
          rcode::kNxDomain);
}

TEST_CASE_FIXTURE(Fixture, "dns: SRV: named ports, the bare service, headless per endpoint") {
    const auto records = this->records();
    Answer answer = ask(records, "_http._tcp.web.demo.svc.cluster.local", rtype::kSRV);
    CHECK(texts(answer.answers) == Strings{"0 100 8080 web.demo.svc.cluster.local"});
    CHECK(texts(answer.additional) == Strings{"10.96.0.20"});
    CHECK(answer.additional[0].name == "web.demo.svc.cluster.local");

    answer = ask(records, "web.demo.svc.cluster.local", rtype::kSRV);
    CHECK(texts(answer.answers) ==
          Strings{"0 50 53 web.demo.svc.cluster.local", "0 50 8080 web.demo.svc.cluster.local"});
    CHECK(answer.additional.size() == 1);

    answer = ask(records, "_pg._tcp.db.demo.svc.cluster.local", rtype::kSRV);
    CHECK(texts(answer.answers) == Strings{"0 33 5432 10-244-0-14.db.demo.svc.cluster.local",
                                           "0 33 5432 db-0.db.demo.svc.cluster.local",
                                           "0 33 5432 db-1.db.demo.svc.cluster.local"});
    CHECK(texts(answer.additional) == Strings{"10.244.0.11", "10.244.0.12", "10.244.0.14"});
    CHECK(ask(records, "_pg._udp.db.demo.svc.cluster.local", rtype::kSRV).rcode ==
          rcode::kNxDomain);
}

TEST_CASE_FIXTURE(Fixture, "dns: ExternalName is a CNAME, followed inside the domain") {
    const auto records = this->records();
    Answer answer = ask(records, "ext.demo.svc.cluster.local", rtype::kA);
    REQUIRE(answer.answers.size() == 1);
    CHECK(answer.answers[0].type == rtype::kCNAME);
    CHECK(text_of(answer.answers[0]) == "example.org");
    CHECK(answer.chase == std::optional<std::string>("example.org"));

    answer = ask(records, "ext.demo.svc.cluster.local", rtype::kCNAME);
    CHECK(texts(answer.answers) == Strings{"example.org"});
    CHECK_FALSE(answer.chase);

    answer = ask(records, "alias.demo.svc.cluster.local", rtype::kA);
    REQUIRE(answer.answers.size() == 2);
    CHECK(text_of(answer.answers[0]) == "web.demo.svc.cluster.local");
    CHECK(answer.answers[1].name == "web.demo.svc.cluster.local");
    CHECK(text_of(answer.answers[1]) == "10.96.0.20");
    CHECK_FALSE(answer.chase);
}

TEST_CASE_FIXTURE(Fixture, "dns: pod A records for any address in an existing namespace") {
    const auto records = this->records();
    CHECK(texts(ask(records, "10-244-0-99.demo.pod.cluster.local", rtype::kA).answers) ==
          Strings{"10.244.0.99"});
    CHECK(ask(records, "10-244-0-99.demo.pod.cluster.local", rtype::kAAAA).answers.empty());
}

TEST_CASE_FIXTURE(Fixture, "dns: PTR for ClusterIPs, headless endpoints with hostnames, pod IPs") {
    const auto records = this->records();
    const auto ptr = [&](const std::string& name) -> Strings {
        auto answer = records.answer_reverse(Question{name, rtype::kPTR, kClassIN});
        if (!answer) return {"(unknown)"};
        for (const auto& r : answer->answers)
            CHECK(r.name == name);
        return texts(answer->answers);
    };
    CHECK(ptr("20.0.96.10.in-addr.arpa") == Strings{"web.demo.svc.cluster.local"});
    CHECK(ptr("11.0.244.10.in-addr.arpa") == Strings{"db-0.db.demo.svc.cluster.local"});
    CHECK(ptr("40.0.244.10.In-Addr.Arpa") == Strings{"10-244-0-40.demo.pod.cluster.local"});
    CHECK(ptr("10.2.0.192.in-addr.arpa") == Strings{"(unknown)"});  // a host-network pod
    CHECK(ptr("1.1.1.1.in-addr.arpa") == Strings{"(unknown)"});
    CHECK(ptr("0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa") ==
          Strings{"v6.demo.svc.cluster.local"});
}

TEST_CASE_FIXTURE(Fixture, "dns: the query path: cluster, static hosts, reverse, forward") {
    const auto records = this->records();
    QueryConfig config;
    config.cluster_domain = "cluster.local";
    config.static_hosts["host.kcube.internal"] = *parse_address("192.0.2.1");
    const auto decide_for = [&](const std::string& name, std::uint16_t type) {
        Message query;
        query.header.id = 77;
        query.header.rd = true;
        query.questions.push_back(Question{name, type, kClassIN});
        return decide(encode(query), records, config);
    };
    Decision d = decide_for("Host.Kcube.Internal", rtype::kA);
    REQUIRE(d.action == Decision::Action::kAnswer);
    CHECK(texts(d.response.answers) == Strings{"192.0.2.1"});
    CHECK(d.response.answers[0].name == "Host.Kcube.Internal");
    CHECK(d.response.header.aa);
    CHECK(d.response.header.ra);
    CHECK(d.response.header.id == 77);
    d = decide_for("host.kcube.internal", rtype::kAAAA);
    CHECK(d.response.header.rcode == rcode::kNoError);
    CHECK(d.response.answers.empty());

    d = decide_for("web.demo.svc.cluster.local", rtype::kA);
    REQUIRE(d.action == Decision::Action::kAnswer);
    CHECK(texts(d.response.answers) == Strings{"10.96.0.20"});
    d = decide_for("nope.demo.svc.cluster.local", rtype::kA);
    CHECK(d.response.header.rcode == rcode::kNxDomain);
    CHECK(d.response.header.aa);

    d = decide_for("20.0.96.10.in-addr.arpa", rtype::kPTR);
    REQUIRE(d.action == Decision::Action::kAnswer);
    CHECK(texts(d.response.answers) == Strings{"web.demo.svc.cluster.local"});
    CHECK(decide_for("8.8.8.8.in-addr.arpa", rtype::kPTR).action == Decision::Action::kForward);
    CHECK(decide_for("example.org", rtype::kA).action == Decision::Action::kForward);

    d = decide_for("ext.demo.svc.cluster.local", rtype::kA);
    REQUIRE(d.action == Decision::Action::kChase);
    CHECK(d.chase.name == "example.org");
    CHECK(d.chase.type == rtype::kA);

    // What the upstream says for the target is appended after the CNAME.
    Message upstream = response_to(Message{{}, {d.chase}, {}, {}, {}, {}}, rcode::kNoError);
    upstream.answers.push_back(make_a("example.org", 300, {192, 0, 2, 80}));
    append_chased(d.response, encode(upstream));
    CHECK(d.response.answers.size() == 2);
    CHECK(text_of(d.response.answers[1]) == "192.0.2.80");
}
