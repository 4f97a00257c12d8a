// The service proxy's logic without a kernel: Services and EndpointSlices → ServicePorts
// (endpoint choice, policies, affinity, what gets no rules) and the nft text rendered from them,
// including incremental updates that must touch only the Service that changed.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "cluster/proxy/nft_rules.hpp"
#include "cluster/proxy/service_model.hpp"

using namespace kcube::proxy;
namespace json = boost::json;

namespace {

json::object service(const std::string& name, json::object spec) {
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", std::move(spec)}};
}

json::object endpoint(const std::string& ip, bool ready = true, const std::string& node = "n1",
                      json::object conditions = {}) {
    if (conditions.empty()) conditions = {{"ready", ready}};
    return {{"addresses", json::array{json::value(ip)}},
            {"conditions", std::move(conditions)},
            {"nodeName", node}};
}

json::object slice(const std::string& service_name, json::array endpoints,
                   json::array ports = {
                       json::object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}) {
    return {{"apiVersion", "discovery.k8s.io/v1"},
            {"kind", "EndpointSlice"},
            {"metadata",
             {{"name", service_name + "-abc"},
              {"namespace", "default"},
              {"labels", {{"kubernetes.io/service-name", service_name}}}}},
            {"addressType", "IPv4"},
            {"endpoints", std::move(endpoints)},
            {"ports", std::move(ports)}};
}

json::object web_spec() {
    return {
        {"clusterIP", "10.96.0.50"},
        {"ports", json::array{json::object{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}};
}

std::vector<ServicePort> ports_of(const json::object& svc, const std::vector<json::object>& slices,
                                  const std::string& node = "n1") {
    std::vector<const json::object*> raw;
    for (const auto& s : slices)
        raw.push_back(&s);
    return service_ports(svc, raw, node);
}

ProxyState state_of(const std::vector<ServicePort>& ports) {
    ProxyState state;
    for (const auto& p : ports)
        state[p.id()] = p;
    return state;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

RenderOptions options() {
    RenderOptions o;
    o.table = "kt";
    o.cluster_cidr = "10.244.0.0/16";
    return o;
}

std::string all_rules(const PortRules& rules) {
    std::string text;
    for (const auto& [name, list] : rules.chains) {
        text += "chain " + name + "\n";
        for (const auto& r : list)
            text += "  " + r + "\n";
    }
    for (const auto& e : rules.elements)
        text += e.map + " " + e.key + " : " + e.verdict + "\n";
    return text;
}

}  // namespace

TEST_CASE(
    "proxy model: a ClusterIP Service's port gets the ready endpoints of the matching slice port") {
    const auto ports = ports_of(service("web", web_spec()),
                                {slice("web", {endpoint("10.244.0.3"), endpoint("10.244.0.2"),
                                               endpoint("10.244.0.4", false)})});
    REQUIRE(ports.size() == 1);
    const auto& p = ports[0];
    CHECK(p.id() == "default/web/tcp/http");
    CHECK(p.protocol == "tcp");
    CHECK(p.port == 80);
    CHECK(p.node_port == 0);
    CHECK(p.cluster_ips == std::vector<std::string>{"10.96.0.50"});
    CHECK(p.affinity_timeout == 0);
    REQUIRE(p.endpoints.size() == 3);
    CHECK(p.endpoints[0].ip == "10.244.0.2");  // sorted
    CHECK(p.endpoints[0].port == 8080);
    const auto usable = usable_endpoints(p, false);
    REQUIRE(usable.size() == 2);
    CHECK(usable[1].ip == "10.244.0.3");
}

TEST_CASE("proxy model: headless, ExternalName and unallocated Services get no rules") {
    auto headless = web_spec();
    headless["clusterIP"] = "None";
    CHECK(ports_of(service("h", headless), {slice("h", {endpoint("10.244.0.2")})}).empty());
    json::object external{{"type", "ExternalName"}, {"externalName", "example.com"}};
    CHECK(ports_of(service("e", external), {}).empty());
    auto unallocated = web_spec();
    unallocated.erase("clusterIP");
    CHECK(ports_of(service("u", unallocated), {}).empty());
    auto v6 = web_spec();
    v6["clusterIP"] = "fd00::10";
    CHECK(ports_of(service("v6", v6), {}).empty());
}

TEST_CASE(
    "proxy model: ports match by name and protocol - other slices and address types are ignored") {
    json::object spec{
        {"clusterIP", "10.96.0.9"},
        {"ports", json::array{json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                              json::object{{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}},
                              json::object{{"name", "sctp"}, {"port", 99}, {"protocol", "SCTP"}}}}};
    auto s = slice("dns", {endpoint("10.244.0.7")},
                   {json::object{{"name", "dns"}, {"port", 5353}, {"protocol", "UDP"}},
                    json::object{{"name", "dns-tcp"}, {"port", 5354}, {"protocol", "TCP"}}});
    auto v6 = slice("dns", {endpoint("fd00::7")});
    v6["addressType"] = "IPv6";
    const auto ports = ports_of(service("dns", spec), {s, v6});
    REQUIRE(ports.size() == 3);
    CHECK(ports[0].protocol == "udp");
    REQUIRE(ports[0].endpoints.size() == 1);
    CHECK(ports[0].endpoints[0].port == 5353);
    CHECK(ports[1].protocol == "tcp");
    REQUIRE(ports[1].endpoints.size() == 1);
    CHECK(ports[1].endpoints[0].port == 5354);
    CHECK(ports[2].protocol == "sctp");
    CHECK(ports[2].endpoints.empty());  // the slice has no "sctp" port
}

TEST_CASE("proxy model: an unnamed single port matches the slice's unnamed port") {
    json::object spec{{"clusterIP", "10.96.0.9"},
                      {"ports", json::array{json::object{{"port", 80}}}}};
    const auto ports =
        ports_of(service("one", spec),
                 {slice("one", {endpoint("10.244.0.7")}, {json::object{{"port", 8080}}})});
    REQUIRE(ports.size() == 1);
    CHECK(ports[0].id() == "default/one/tcp/");
    REQUIRE(ports[0].endpoints.size() == 1);
}

TEST_CASE("proxy model: terminating endpoints serve only when no endpoint is ready") {
    json::object draining{{"ready", false}, {"serving", true}, {"terminating", true}};
    json::object gone{{"ready", false}, {"serving", false}, {"terminating", true}};
    auto ports = ports_of(
        service("web", web_spec()),
        {slice("web", {endpoint("10.244.0.2"), endpoint("10.244.0.3", false, "n1", draining)})});
    auto usable = usable_endpoints(ports.at(0), false);
    REQUIRE(usable.size() == 1);
    CHECK(usable[0].ip == "10.244.0.2");

    ports = ports_of(service("web", web_spec()),
                     {slice("web", {endpoint("10.244.0.3", false, "n1", draining),
                                    endpoint("10.244.0.4", false, "n1", gone)})});
    usable = usable_endpoints(ports.at(0), false);
    REQUIRE(usable.size() == 1);
    CHECK(usable[0].ip == "10.244.0.3");

    // Conditions left out: ready unknown counts as ready.
    auto e = endpoint("10.244.0.5");
    e.erase("conditions");
    ports = ports_of(service("web", web_spec()), {slice("web", {e})});
    CHECK(usable_endpoints(ports.at(0), false).size() == 1);
}

TEST_CASE("proxy model: duplicates across slices merge - nodeName marks local endpoints") {
    const auto ports =
        ports_of(service("web", web_spec()),
                 {slice("web", {endpoint("10.244.0.2", false), endpoint("10.244.0.3", true, "n2")}),
                  slice("web", {endpoint("10.244.0.2", true)})});
    REQUIRE(ports.at(0).endpoints.size() == 2);
    CHECK(ports[0].endpoints[0].ready);
    CHECK(ports[0].endpoints[0].local);
    CHECK_FALSE(ports[0].endpoints[1].local);
    const auto local = usable_endpoints(ports[0], true);
    REQUIRE(local.size() == 1);
    CHECK(local[0].ip == "10.244.0.2");
}

TEST_CASE("proxy model: session affinity, node ports and traffic policies") {
    auto spec = web_spec();
    spec["type"] = "NodePort";
    spec["ports"].as_array()[0].as_object()["nodePort"] = 30080;
    spec["sessionAffinity"] = "ClientIP";
    spec["externalTrafficPolicy"] = "Local";
    spec["internalTrafficPolicy"] = "Local";
    auto p = ports_of(service("web", spec), {}).at(0);
    CHECK(p.node_port == 30080);
    CHECK(p.affinity_timeout == 10800);
    CHECK(p.external_local);
    CHECK(p.internal_local);

    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 60}}}};
    spec["type"] = "ClusterIP";  // a leftover nodePort of a ClusterIP Service is not served
    p = ports_of(service("web", spec), {}).at(0);
    CHECK(p.affinity_timeout == 60);
    CHECK(p.node_port == 0);
    CHECK_FALSE(p.external_local);

    spec["type"] = "LoadBalancer";
    CHECK(ports_of(service("web", spec), {}).at(0).node_port == 30080);
}

TEST_CASE("proxy model: the Service an EndpointSlice belongs to") {
    CHECK(slice_service_key(slice("web", {})) == "default/web");
    json::object unlabeled{{"metadata", {{"name", "x"}, {"namespace", "default"}}}};
    CHECK(slice_service_key(unlabeled).empty());
}

TEST_CASE("proxy names: valid nft identifiers, stable, unique, bounded") {
    const auto a = object_name("service", "default/web/tcp/http");
    CHECK(a == object_name("service", "default/web/tcp/http"));
    CHECK(a.starts_with("service-"));
    CHECK(a.ends_with("-default/web/tcp/http"));
    CHECK(a != object_name("service", "default/web/tcp/https"));
    const std::string long_id = std::string(300, 'a');
    const auto b = object_name("endpoint", long_id + "x");
    const auto c = object_name("endpoint", long_id + "y");
    CHECK(b.size() <= 200);
    CHECK(b != c);  // cut to the same text, told apart by the hash
    CHECK(object_name("service", "ns/a b{}").ends_with("ns/a_b__"));
}

TEST_CASE("proxy rules: ClusterIP with endpoints: numgen over endpoint chains that DNAT") {
    const auto p = ports_of(service("web", web_spec()),
                            {slice("web", {endpoint("10.244.0.2"), endpoint("10.244.0.3")})})
                       .at(0);
    const auto rules = render_port(p, options());
    const auto text = all_rules(rules);
    const auto svc = object_name("service", "default/web/tcp/http");
    const auto ep2 = object_name("endpoint", "default/web/tcp/http__10.244.0.2/8080");
    const auto ep3 = object_name("endpoint", "default/web/tcp/http__10.244.0.3/8080");
    CHECK(rules.chains.size() == 3);
    CHECK(rules.chains.at(svc) ==
          std::vector<std::string>{
              "ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
              "numgen random mod 2 vmap { 0 : goto " + ep2 + ", 1 : goto " + ep3 + " }"});
    CHECK(rules.chains.at(ep2) ==
          std::vector<std::string>{"ip saddr 10.244.0.2 jump mark-for-masquerade",
                                   "meta l4proto tcp dnat to 10.244.0.2:8080"});
    CHECK(rules.sets.empty());
    REQUIRE(rules.elements.size() == 1);
    CHECK(*rules.elements.begin() ==
          MapElement{"service-ips", "10.96.0.50 . tcp . 80", "goto " + svc});
    CHECK_FALSE(contains(text, "external-"));
}

TEST_CASE(
    "proxy rules: a Service without endpoints is rejected - Local without local ones dropped") {
    auto spec = web_spec();
    spec["type"] = "NodePort";
    spec["ports"].as_array()[0].as_object()["nodePort"] = 30080;
    auto rules = render_port(ports_of(service("web", spec), {slice("web", {})}).at(0), options());
    CHECK(rules.chains.empty());
    CHECK(rules.elements ==
          std::set<MapElement>{
              {"no-endpoint-nodeports", "tcp . 30080", "goto reject-chain"},
              {"no-endpoint-services", "10.96.0.50 . tcp . 80", "goto reject-chain"}});

    spec["externalTrafficPolicy"] = "Local";
    rules = render_port(
        ports_of(service("web", spec), {slice("web", {endpoint("10.244.0.2", true, "n2")})}).at(0),
        options());
    CHECK(rules.elements.contains({"no-endpoint-nodeports", "tcp . 30080", "drop"}));
    CHECK(rules.elements.contains({"service-ips", "10.96.0.50 . tcp . 80",
                                   "goto " + object_name("service", "default/web/tcp/http")}));
}

TEST_CASE(
    "proxy rules: NodePort masquerades - externalTrafficPolicy Local keeps the client address") {
    auto spec = web_spec();
    spec["type"] = "NodePort";
    spec["ports"].as_array()[0].as_object()["nodePort"] = 30080;
    const std::vector<json::object> slices{
        slice("web", {endpoint("10.244.0.2", true, "n1"), endpoint("10.244.0.3", true, "n2")})};
    const auto ext = object_name("external", "default/web/tcp/http");
    auto rules = render_port(ports_of(service("web", spec), slices).at(0), options());
    CHECK(rules.elements.contains({"service-nodeports", "tcp . 30080", "goto " + ext}));
    REQUIRE(rules.chains.at(ext).size() == 2);
    CHECK(rules.chains.at(ext)[0] == "jump mark-for-masquerade");
    CHECK(contains(rules.chains.at(ext)[1], "numgen random mod 2"));

    spec["externalTrafficPolicy"] = "Local";
    rules = render_port(ports_of(service("web", spec), slices).at(0), options());
    REQUIRE(rules.chains.at(ext).size() == 2);
    CHECK(rules.chains.at(ext)[0] == "fib saddr type local jump mark-for-masquerade");
    CHECK(contains(rules.chains.at(ext)[1], "numgen random mod 1 vmap"));
    CHECK(contains(rules.chains.at(ext)[1], "10.244.0.2/8080"));
    // The ClusterIP still balances over both.
    CHECK(contains(rules.chains.at(object_name("service", "default/web/tcp/http")).back(),
                   "numgen random mod 2"));
}

TEST_CASE(
    "proxy rules: internalTrafficPolicy Local sends ClusterIP traffic to local endpoints only") {
    auto spec = web_spec();
    spec["internalTrafficPolicy"] = "Local";
    const auto rules = render_port(
        ports_of(service("web", spec), {slice("web", {endpoint("10.244.0.2", true, "n1"),
                                                      endpoint("10.244.0.3", true, "n2")})})
            .at(0),
        options());
    const auto& svc = rules.chains.at(object_name("service", "default/web/tcp/http"));
    CHECK(contains(svc.back(), "numgen random mod 1 vmap"));
    CHECK(contains(svc.back(), "10.244.0.2/8080"));
    CHECK(rules.chains.size() == 2);  // no chain for the other node's endpoint
}

TEST_CASE("proxy rules: ClientIP affinity: a timeout set per endpoint, checked before numgen") {
    auto spec = web_spec();
    spec["sessionAffinity"] = "ClientIP";
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 300}}}};
    const auto rules =
        render_port(ports_of(service("web", spec),
                             {slice("web", {endpoint("10.244.0.2"), endpoint("10.244.0.3")})})
                        .at(0),
                    options());
    const auto id2 = std::string("default/web/tcp/http__10.244.0.2/8080");
    const auto set2 = object_name("affinity", id2);
    REQUIRE(rules.sets.size() == 2);
    CHECK(rules.sets.at(set2) == "{ type ipv4_addr ; flags dynamic,timeout ; timeout 300s ; }");
    const auto& ep = rules.chains.at(object_name("endpoint", id2));
    REQUIRE(ep.size() == 3);
    CHECK(ep[1] == "update @" + set2 + " { ip saddr }");
    const auto& svc = rules.chains.at(object_name("service", "default/web/tcp/http"));
    REQUIRE(svc.size() == 4);
    CHECK(svc[1] == "ip saddr @" + set2 + " goto " + object_name("endpoint", id2));
    CHECK(contains(svc[3], "numgen"));
}

TEST_CASE("proxy rules: UDP DNATs with its protocol") {
    json::object spec{
        {"clusterIP", "10.96.0.9"},
        {"ports", json::array{json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}}}}};
    const auto rules = render_port(
        ports_of(service("dns", spec),
                 {slice("dns", {endpoint("10.244.0.7")},
                        {json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}}})})
            .at(0),
        options());
    CHECK(contains(all_rules(rules), "meta l4proto udp dnat to 10.244.0.7:53"));
    CHECK(rules.elements.begin()->key == "10.96.0.9 . udp . 53");
}

TEST_CASE(
    "proxy base: replaces any table of the name in one go, with hooks at upstream priorities") {
    const auto text = render_base(options());
    CHECK(text.starts_with("add table ip kt\ndelete table ip kt\ntable ip kt {\n"));
    CHECK(contains(text, "type nat hook prerouting priority dstnat"));
    CHECK(contains(text, "type nat hook output priority -100"));
    CHECK(contains(text, "type nat hook postrouting priority srcnat"));
    CHECK(contains(text, "type filter hook output priority -110"));
    CHECK(contains(text, "ip daddr . meta l4proto . th dport vmap @service-ips"));
    CHECK(contains(text,
                   "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport "
                   "vmap @service-nodeports"));
    CHECK(render_delete(options()) == "add table ip kt\ndelete table ip kt\n");
    const auto full = render_full(options(), {});
    CHECK(full == text);
}

TEST_CASE(
    "proxy update: nothing changed renders nothing - one changed Service touches only itself") {
    const auto web = ports_of(service("web", web_spec()),
                              {slice("web", {endpoint("10.244.0.2"), endpoint("10.244.0.3")})});
    auto other_spec = web_spec();
    other_spec["clusterIP"] = "10.96.0.60";
    const auto other =
        ports_of(service("other", other_spec), {slice("other", {endpoint("10.244.0.9")})});
    ProxyState before = state_of(web);
    before.merge(state_of(other));
    CHECK(render_update(options(), before, before).empty());

    // web loses one endpoint.
    ProxyState after = before;
    after.erase("default/web/tcp/http");
    after.merge(
        state_of(ports_of(service("web", web_spec()), {slice("web", {endpoint("10.244.0.2")})})));
    const auto text = render_update(options(), before, after);
    const auto ep3 = object_name("endpoint", "default/web/tcp/http__10.244.0.3/8080");
    const auto svc = object_name("service", "default/web/tcp/http");
    CHECK_FALSE(contains(text, "other"));
    CHECK(contains(text, "flush chain ip kt " + svc + "\n"));
    CHECK(contains(text, "flush chain ip kt " + ep3 + "\n"));
    CHECK(contains(text, "delete chain ip kt " + ep3 + "\n"));
    CHECK(contains(text, "add rule ip kt " + svc + " numgen random mod 1 vmap"));
    CHECK_FALSE(contains(text, "add chain"));  // the rest exists
    CHECK_FALSE(contains(text, "element"));    // the map still points at the same chain
    CHECK(text.find("flush chain ip kt " + ep3) < text.find("delete chain ip kt " + ep3));
    // The unchanged endpoint chain is left alone.
    CHECK_FALSE(contains(text, "10.244.0.2/8080\n"));
}

TEST_CASE(
    "proxy update: a new Service comes whole - a removed one leaves the maps before its chains") {
    const auto web =
        state_of(ports_of(service("web", web_spec()), {slice("web", {endpoint("10.244.0.2")})}));
    const auto added = render_update(options(), {}, web);
    CHECK(count(added, "add chain") == 2);
    CHECK(added.find("add chain") < added.find("add rule"));
    CHECK(added.find("add rule") < added.find("add element"));
    CHECK(contains(added, "add element ip kt service-ips { 10.96.0.50 . tcp . 80 : goto "));

    const auto removed = render_update(options(), web, {});
    CHECK(contains(removed, "delete element ip kt service-ips { 10.96.0.50 . tcp . 80 }\n"));
    CHECK(count(removed, "flush chain") == 2);
    CHECK(count(removed, "delete chain") == 2);
    CHECK(removed.find("delete element") < removed.find("flush chain"));
    CHECK(removed.find("flush chain") < removed.find("delete chain"));
    CHECK_FALSE(contains(removed, "add "));
}

TEST_CASE("proxy update: scaling to zero moves the ClusterIP to the reject map and back") {
    const auto up =
        state_of(ports_of(service("web", web_spec()), {slice("web", {endpoint("10.244.0.2")})}));
    const auto down = state_of(ports_of(service("web", web_spec()), {slice("web", {})}));
    const auto text = render_update(options(), up, down);
    CHECK(contains(text, "delete element ip kt service-ips { 10.96.0.50 . tcp . 80 }"));
    CHECK(contains(text,
                   "add element ip kt no-endpoint-services { 10.96.0.50 . tcp . 80 : "
                   "goto reject-chain }"));
    CHECK(count(text, "delete chain") == 2);
    const auto back = render_update(options(), down, up);
    CHECK(contains(back, "delete element ip kt no-endpoint-services { 10.96.0.50 . tcp . 80 }"));
    CHECK(contains(back, "add element ip kt service-ips"));
}

TEST_CASE("proxy update: a new affinity timeout makes the sets anew and refills their users") {
    auto spec = web_spec();
    spec["sessionAffinity"] = "ClientIP";
    const std::vector<json::object> slices{slice("web", {endpoint("10.244.0.2")})};
    const auto before = state_of(ports_of(service("web", spec), slices));
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 30}}}};
    const auto after = state_of(ports_of(service("web", spec), slices));
    const auto text = render_update(options(), before, after);
    const auto set = object_name("affinity", "default/web/tcp/http__10.244.0.2/8080");
    const auto ep = object_name("endpoint", "default/web/tcp/http__10.244.0.2/8080");
    const auto svc = object_name("service", "default/web/tcp/http");
    CHECK(contains(text, "flush chain ip kt " + ep));
    CHECK(contains(text, "flush chain ip kt " + svc));
    CHECK(contains(text, "delete set ip kt " + set));
    CHECK(contains(text, "add set ip kt " + set +
                             " { type ipv4_addr ; flags dynamic,timeout ; "
                             "timeout 30s ; }"));
    CHECK(text.find("flush chain ip kt " + ep) < text.find("delete set"));
    CHECK(text.find("delete set") < text.find("add set"));
    CHECK(text.find("add set") < text.find("add rule ip kt " + ep));
}

TEST_CASE("proxy update: a Service that turns headless loses its rules") {
    const auto web =
        state_of(ports_of(service("web", web_spec()), {slice("web", {endpoint("10.244.0.2")})}));
    auto spec = web_spec();
    spec["clusterIP"] = "None";
    const auto headless = state_of(ports_of(service("web", spec), {}));
    CHECK(headless.empty());
    CHECK(render_update(options(), web, headless) == render_update(options(), web, {}));
}
