// The real server against the real resolver client: a ResourceService on a scratch SQLite
// store holds Services, EndpointSlices and Pods; DnsServer serves them on 127.0.0.1 and `dig`
// asks over UDP and TCP. Forwarding goes to a second DnsServer playing the upstream.
#include "cluster/dns/server.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "../scratch_api.hpp"
#include "../test_support.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/service.hpp"
#include "cluster/store/store.hpp"
#include "common/error.hpp"

namespace api = kcube::api;
namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using kcube::dns::DnsOptions;
using kcube::dns::DnsServer;

namespace {

// A UDP or TCP socket fd, closed on scope exit.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// A port on 127.0.0.1 where nothing listens (bound, its number read, closed again).
std::uint16_t closed_port() {
    Fd socket(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in address = loopback(0);
    REQUIRE(::bind(socket.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(socket.fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

struct Cluster : kcube::testing::ScratchApi {
    Cluster() : ScratchApi({"default", "demo"}) {}

    json::object service_object(const std::string& text) {
        return create("", "v1", "services", "demo", json::parse(text).as_object());
    }
    void slice(const std::string& text) {
        create("discovery.k8s.io", "v1", "endpointslices", "demo", json::parse(text).as_object());
    }
    void pod(const std::string& name, const std::string& ip) {
        json::object pod = create("", "v1", "pods", "demo",
                                  json::parse(R"({"apiVersion":"v1","kind":"Pod",
                "metadata":{"name":")" + name +
                                              R"("},
                "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                                      .as_object());
        pod["status"] = json::parse(R"({"phase":"Running","podIP":")" + ip +
                                    R"(","podIPs":[{"ip":")" + ip + R"("}]})");
        service->update(info("", "v1", "pods"), "demo", name, pod, {}, "status");
    }
};

bool have_dig() {
    return kcube::testing::run({"sh", "-c", "command -v dig"}).exit_code == 0;
}

struct Dig {
    std::string status;                  // NOERROR, NXDOMAIN, ...
    std::string flags;                   // "qr aa rd ra"
    std::vector<std::string> answers;    // "name TTL IN TYPE data"
    std::vector<std::string> authority;  // the same form
    std::vector<std::string> additional;
    std::string out;
};

// dig's full output, parsed into sections.
Dig dig(std::uint16_t port, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"dig",     "@127.0.0.1", "-p", std::to_string(port),
                                     "+time=3", "+tries=1"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = kcube::testing::run(argv);
    Dig d;
    d.out = result.out + result.err;
    std::smatch m;
    if (std::regex_search(d.out, m, std::regex("status: ([A-Z]+)"))) d.status = m[1];
    if (std::regex_search(d.out, m, std::regex(";; flags: ([a-z ]+);"))) d.flags = m[1];
    std::istringstream lines(result.out);
    std::string line;
    std::vector<std::string>* section = nullptr;
    while (std::getline(lines, line)) {
        if (line.starts_with(";; ANSWER SECTION")) {
            section = &d.answers;
        } else if (line.starts_with(";; AUTHORITY SECTION")) {
            section = &d.authority;
        } else if (line.starts_with(";; ADDITIONAL SECTION")) {
            section = &d.additional;
        } else if (line.empty() || line.starts_with(";")) {
            if (line.empty()) section = nullptr;
        } else if (section) {
            // Collapse dig's tab alignment.
            std::string collapsed;
            std::istringstream words(line);
            std::string word;
            while (words >> word)
                collapsed += (collapsed.empty() ? "" : " ") + word;
            section->push_back(collapsed);
        }
    }
    return d;
}

// `dig +short`: the answers' data, sorted.
std::vector<std::string> dig_short(std::uint16_t port, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"dig",     "@127.0.0.1", "-p",    std::to_string(port),
                                     "+time=3", "+tries=1",   "+short"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = kcube::testing::run(argv);
    std::vector<std::string> out;
    std::istringstream lines(result.out);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && !line.starts_with(";")) out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("dns: the DNS server answers dig from the API's Services, EndpointSlices and Pods") {
    if (!have_dig()) {
        FAIL("dig is not installed (Debian: bind9-dnsutils); the server cannot be checked");
        return;
    }
    Cluster cluster;
    const json::object web = cluster.service_object(R"({"apiVersion":"v1","kind":"Service",
        "metadata":{"name":"web"},
        "spec":{"selector":{"app":"web"},
                "ports":[{"name":"http","port":8080,"targetPort":80,"protocol":"TCP"}]}})");
    const std::string web_ip(web.at("spec").at("clusterIP").as_string());
    cluster.service_object(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"db"},
        "spec":{"clusterIP":"None","ports":[{"name":"pg","port":5432}]}})");
    cluster.slice(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
        "metadata":{"name":"db-1","labels":{"kubernetes.io/service-name":"db"}},
        "addressType":"IPv4","ports":[{"name":"pg","port":5432,"protocol":"TCP"}],
        "endpoints":[
          {"addresses":["10.244.0.11"],"hostname":"db-0","conditions":{"ready":true}},
          {"addresses":["10.244.0.12"],"hostname":"db-1","conditions":{"ready":true}},
          {"addresses":["10.244.0.13"],"conditions":{"ready":false}}]})");
    // A headless Service whose answer is larger than a UDP message.
    cluster.service_object(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"big"},
        "spec":{"clusterIP":"None"}})");
    json::array endpoints;
    for (int i = 0; i < 100; ++i) {
        endpoints.push_back(
            json::object{{"addresses", json::array{"10.244.1." + std::to_string(i + 1)}},
                         {"conditions", {{"ready", true}}}});
    }
    json::object big_slice = json::parse(R"({"apiVersion":"discovery.k8s.io/v1",
        "kind":"EndpointSlice","addressType":"IPv4",
        "metadata":{"name":"big-1","labels":{"kubernetes.io/service-name":"big"}}})")
                                 .as_object();
    big_slice["endpoints"] = std::move(endpoints);
    cluster.create("discovery.k8s.io", "v1", "endpointslices", "demo", big_slice);
    cluster.pod("client", "10.244.0.40");

    // The upstream: a second server on a cluster of its own, with names only it knows.
    Cluster elsewhere;
    elsewhere.pod("far", "10.244.9.9");
    DnsOptions upstream_options;
    upstream_options.port = 0;
    upstream_options.cluster_domain = "upstream.test";
    upstream_options.static_hosts["outside.example"] = "192.0.2.55";
    DnsServer upstream(*elsewhere.service, upstream_options);
    upstream.start();

    cluster.service_object(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},
        "spec":{"type":"ExternalName","externalName":"outside.example"}})");

    DnsOptions options;
    options.port = 0;
    options.upstreams = {"127.0.0.1:" + std::to_string(upstream.port())};
    options.static_hosts["host.kcube.internal"] = "192.0.2.1";
    DnsServer server(*cluster.service, options);
    server.start();
    const std::uint16_t port = server.port();
    REQUIRE(port != 0);

    SUBCASE("A for a ClusterIP Service, over UDP and TCP, keeping the question's case") {
        CHECK(dig_short(port, {"web.demo.svc.cluster.local"}) == Strings{web_ip});
        CHECK(dig_short(port, {"+tcp", "web.demo.svc.cluster.local"}) == Strings{web_ip});
        const Dig d = dig(port, {"WEB.Demo.svc.cluster.local", "A"});
        CHECK(d.status == "NOERROR");
        CHECK(d.flags.find("aa") != std::string::npos);
        REQUIRE(d.answers.size() == 1);
        CHECK(d.answers[0] == "WEB.Demo.svc.cluster.local. 5 IN A " + web_ip);
    }
    SUBCASE("headless A, endpoint hostnames, SRV with additional addresses") {
        CHECK(dig_short(port, {"db.demo.svc.cluster.local"}) ==
              Strings{"10.244.0.11", "10.244.0.12"});
        CHECK(dig_short(port, {"db-1.db.demo.svc.cluster.local"}) == Strings{"10.244.0.12"});
        CHECK(dig_short(port, {"SRV", "_http._tcp.web.demo.svc.cluster.local"}) ==
              Strings{"0 100 8080 web.demo.svc.cluster.local."});
        const Dig srv = dig(port, {"SRV", "_pg._tcp.db.demo.svc.cluster.local"});
        CHECK(srv.status == "NOERROR");
        CHECK(srv.answers.size() == 2);
        Strings additional = srv.additional;
        additional.erase(std::remove_if(additional.begin(), additional.end(),
                                        [](const std::string& s) {
                                            return s.find(" OPT ") != std::string::npos;
                                        }),
                         additional.end());
        std::sort(additional.begin(), additional.end());
        CHECK(additional == Strings{"db-0.db.demo.svc.cluster.local. 5 IN A 10.244.0.11",
                                    "db-1.db.demo.svc.cluster.local. 5 IN A 10.244.0.12"});
    }
    SUBCASE("PTR and pod A records") {
        std::string reversed;
        {
            std::istringstream parts(web_ip);
            std::string part;
            std::vector<std::string> octets;
            while (std::getline(parts, part, '.'))
                octets.push_back(part);
            for (auto it = octets.rbegin(); it != octets.rend(); ++it)
                reversed += *it + ".";
        }
        CHECK(dig_short(port, {"-x", web_ip}) == Strings{"web.demo.svc.cluster.local."});
        CHECK(dig_short(port, {"PTR", reversed + "in-addr.arpa"}) ==
              Strings{"web.demo.svc.cluster.local."});
        CHECK(dig_short(port, {"-x", "10.244.0.11"}) == Strings{"db-0.db.demo.svc.cluster.local."});
        CHECK(dig_short(port, {"-x", "10.244.0.40"}) ==
              Strings{"10-244-0-40.demo.pod.cluster.local."});
        CHECK(dig_short(port, {"10-244-0-40.demo.pod.cluster.local"}) == Strings{"10.244.0.40"});
    }
    SUBCASE("NXDOMAIN and NODATA carry the zone's SOA") {
        Dig d = dig(port, {"nope.demo.svc.cluster.local"});
        CHECK(d.status == "NXDOMAIN");
        REQUIRE(d.authority.size() == 1);
        CHECK(d.authority[0].find("cluster.local. 5 IN SOA ns.dns.cluster.local. "
                                  "hostmaster.cluster.local.") == 0);
        d = dig(port, {"AAAA", "web.demo.svc.cluster.local"});
        CHECK(d.status == "NOERROR");
        CHECK(d.answers.empty());
        CHECK(d.authority.size() == 1);
        d = dig(port, {"demo.svc.cluster.local"});
        CHECK(d.status == "NOERROR");
        CHECK(d.answers.empty());
    }
    SUBCASE("a large answer is truncated over UDP and complete over TCP") {
        const Dig udp = dig(port, {"+ignore", "big.demo.svc.cluster.local"});
        CHECK(udp.flags.find("tc") != std::string::npos);
        CHECK(udp.answers.size() < 100);
        const Dig classic = dig(port, {"+ignore", "+noedns", "big.demo.svc.cluster.local"});
        CHECK(classic.flags.find("tc") != std::string::npos);
        CHECK(classic.answers.size() < 35);
        // Without +ignore dig retries over TCP on TC.
        const Dig retried = dig(port, {"big.demo.svc.cluster.local"});
        CHECK(retried.out.find("retrying in TCP mode") != std::string::npos);
        CHECK(retried.answers.size() == 100);
        CHECK(dig_short(port, {"+tcp", "big.demo.svc.cluster.local"}).size() == 100);
    }
    SUBCASE("several queries on one TCP connection") {
        // dig keeps one connection open for all names of a +keepopen batch.
        const auto result =
            kcube::testing::run({"dig", "@127.0.0.1", "-p", std::to_string(port), "+tcp",
                                 "+keepopen", "+short", "web.demo.svc.cluster.local",
                                 "db-0.db.demo.svc.cluster.local", "host.kcube.internal"});
        CHECK(result.out == web_ip + "\n10.244.0.11\n192.0.2.1\n");
    }
    SUBCASE("static hosts") {
        CHECK(dig_short(port, {"host.kcube.internal"}) == Strings{"192.0.2.1"});
        CHECK(dig(port, {"AAAA", "host.kcube.internal"}).status == "NOERROR");
    }
    SUBCASE("a malformed packet is answered with FORMERR") {
        Fd socket(::socket(AF_INET, SOCK_DGRAM, 0));
        sockaddr_in address = loopback(port);
        REQUIRE(::connect(socket.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        // ID 0xabcd, one question whose name is a compression pointer to itself.
        const std::uint8_t garbage[] = {0xab, 0xcd, 0x01, 0x00, 0,  1, 0, 0, 0,
                                        0,    0,    0,    0xC0, 12, 0, 1, 0, 1};
        REQUIRE(::send(socket.fd, garbage, sizeof garbage, 0) == sizeof garbage);
        pollfd p{socket.fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 3000) == 1);
        std::uint8_t reply[512];
        const auto n = ::recv(socket.fd, reply, sizeof reply, 0);
        REQUIRE(n >= 12);
        CHECK(reply[0] == 0xab);
        CHECK(reply[1] == 0xcd);
        CHECK((reply[2] & 0x80) != 0);  // a response
        CHECK((reply[3] & 0x0F) == 1);  // FORMERR
        // Too short for a header: dropped; the server still answers the next query.
        REQUIRE(::send(socket.fd, garbage, 5, 0) == 5);
        CHECK(dig_short(port, {"web.demo.svc.cluster.local"}) == Strings{web_ip});
    }
    SUBCASE("other names are forwarded, over UDP and TCP, and ExternalName is chased") {
        CHECK(dig_short(port, {"outside.example"}) == Strings{"192.0.2.55"});
        CHECK(dig_short(port, {"+tcp", "OUTSIDE.example"}) == Strings{"192.0.2.55"});
        const Dig d = dig(port, {"nothing.upstream.test"});
        CHECK(d.status == "NXDOMAIN");  // the upstream's answer, relayed
        const Dig ext = dig(port, {"ext.demo.svc.cluster.local"});
        CHECK(ext.status == "NOERROR");
        CHECK(ext.answers == Strings{"ext.demo.svc.cluster.local. 5 IN CNAME outside.example.",
                                     "outside.example. 5 IN A 192.0.2.55"});
        // An address we do not know goes upstream too.
        CHECK(dig_short(port, {"-x", "10.244.9.9"}) ==
              Strings{"10-244-9-9.demo.pod.upstream.test."});
    }
    SUBCASE("a change shows up in answers promptly") {
        CHECK(dig(port, {"late.demo.svc.cluster.local"}).status == "NXDOMAIN");
        const json::object late = cluster.service_object(
            R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"late"},
                "spec":{"ports":[{"port":80}]}})");
        const std::string late_ip(late.at("spec").at("clusterIP").as_string());
        const auto created = std::chrono::steady_clock::now();
        Strings answer;
        while (std::chrono::steady_clock::now() - created < 5s) {
            answer = dig_short(port, {"late.demo.svc.cluster.local"});
            if (!answer.empty()) break;
            std::this_thread::sleep_for(20ms);
        }
        CHECK(answer == Strings{late_ip});
        CHECK(std::chrono::steady_clock::now() - created < 1s);
    }
}

TEST_CASE("dns: without an answering upstream the server says SERVFAIL within seconds") {
    if (!have_dig()) {
        FAIL("dig is not installed (Debian: bind9-dnsutils); the server cannot be checked");
        return;
    }
    Cluster cluster;
    SUBCASE("the upstream's port is closed") {
        DnsOptions options;
        options.port = 0;
        options.upstreams = {"127.0.0.1:" + std::to_string(closed_port())};
        DnsServer server(*cluster.service, options);
        server.start();
        const auto started = std::chrono::steady_clock::now();
        CHECK(dig(server.port(), {"example.org"}).status == "SERVFAIL");
        CHECK(dig(server.port(), {"+tcp", "example.org"}).status == "SERVFAIL");
        CHECK(std::chrono::steady_clock::now() - started < 2s);
    }
    SUBCASE("the upstream never answers") {
        Fd silent(::socket(AF_INET, SOCK_DGRAM, 0));
        sockaddr_in address = loopback(0);
        REQUIRE(::bind(silent.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        ::getsockname(silent.fd, reinterpret_cast<sockaddr*>(&address), &length);
        DnsOptions options;
        options.port = 0;
        options.upstreams = {"127.0.0.1:" + std::to_string(ntohs(address.sin_port))};
        DnsServer server(*cluster.service, options);
        server.start();
        const auto started = std::chrono::steady_clock::now();
        const Dig d = dig(server.port(), {"+time=8", "example.org"});
        const auto took = std::chrono::steady_clock::now() - started;
        CHECK(d.status == "SERVFAIL");
        CHECK(took < 5s);
        CHECK(took > 1s);
    }
    SUBCASE("no upstreams at all") {
        DnsOptions options;
        options.port = 0;
        DnsServer server(*cluster.service, options);
        server.start();
        CHECK(dig(server.port(), {"example.org"}).status == "SERVFAIL");
        // The cluster still answers.
        CHECK(dig(server.port(), {"nope.demo.svc.cluster.local"}).status == "NXDOMAIN");
    }
}

TEST_CASE("dns: a taken port is an error naming the address and what to do") {
    Cluster cluster;
    DnsOptions first_options;
    first_options.port = 0;
    DnsServer first(*cluster.service, first_options);
    first.start();
    DnsOptions options;
    options.port = first.port();
    DnsServer second(*cluster.service, options);
    try {
        second.start();
        FAIL("start() did not throw");
    } catch (const kcube::Error& e) {
        CHECK(e.reason() == "DNS_LISTEN_FAILED");
        CHECK(std::string(e.what()).find("127.0.0.1 port " + std::to_string(first.port())) !=
              std::string::npos);
        CHECK(e.advice().find("already serves DNS") != std::string::npos);
    }
    // An upstream that is this very server is ignored rather than looped through.
    DnsOptions self;
    self.port = closed_port();
    self.upstreams = {"127.0.0.1:" + std::to_string(self.port)};
    DnsServer lone(*cluster.service, self);
    lone.start();
    CHECK(dig(lone.port(), {"example.org"}).status == "SERVFAIL");
}

TEST_CASE("dns: upstreams_from_resolv_conf reads nameserver lines") {
    kcube::testing::TempDir dir;
    const stdfs::path path = dir / "resolv.conf";
    std::ofstream(path) << "# comment\n"
                           "nameserver 192.0.2.53\n"
                           "; nameserver 192.0.2.99\n"
                           "search example.org\n"
                           "nameserver 2001:db8::53  # trailing comment\n"
                           "nameserver\tfe80::1%eth0\n"
                           "nameserver not-an-address\n"
                           "nameserver 192.0.2.1:53\n"
                           "options ndots:5\n";
    CHECK(kcube::dns::upstreams_from_resolv_conf(path) ==
          Strings{"192.0.2.53", "2001:db8::53", "fe80::1%eth0"});
    CHECK(kcube::dns::upstreams_from_resolv_conf(dir / "missing").empty());
}
