#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cluster/controllers/endpoint_util.hpp"

namespace json = boost::json;
using namespace kcube::controllers;
using namespace kcube::controllers::endpoints;

namespace {

json::object parse(std::string_view text) {
    return json::parse(text).as_object();
}

json::object service(std::string_view ports, bool publish_not_ready = false,
                     std::string_view cluster_ip = "10.96.0.10") {
    auto s = parse(R"({"apiVersion":"v1","kind":"Service",
        "metadata":{"name":"web","namespace":"default","uid":"svc-uid",
                    "creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"web"}},
        "spec":{"selector":{"app":"web"}}})");
    auto& spec = s["spec"].as_object();
    spec["ports"] = json::parse(ports);
    spec["clusterIP"] = cluster_ip;
    if (publish_not_ready) spec["publishNotReadyAddresses"] = true;
    return s;
}

// A pod with an IP, ready or not, whose container names port 8080 "http" (or 9090 with
// `other_port`).
ObjectPtr pod(std::string_view name, std::string_view ip, bool ready, bool other_port = false,
              bool deleting = false) {
    auto p = parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"default",
        "labels":{"app":"web"}},"spec":{"nodeName":"node-1","containers":[{"name":"c",
        "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},
        "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False",
        "lastTransitionTime":"2026-01-01T00:00:05Z"}]}})");
    auto& meta = p["metadata"].as_object();
    meta["name"] = name;
    meta["uid"] = std::string("uid-") + std::string(name);
    if (deleting) meta["deletionTimestamp"] = "2026-01-01T00:01:00Z";
    p["status"].as_object()["podIP"] = ip;
    if (ready) p["status"].as_object()["conditions"].as_array()[0].as_object()["status"] = "True";
    if (other_port) {
        p["spec"]
            .as_object()["containers"]
            .as_array()[0]
            .as_object()["ports"]
            .as_array()[0]
            .as_object()["containerPort"] = 9090;
    }
    return std::make_shared<const json::object>(std::move(p));
}

const json::object& at(const json::array& a, std::size_t i) {
    return a.at(i).as_object();
}

}  // namespace

TEST_CASE("services without a selector or of type ExternalName are not managed") {
    auto s = service(R"([])");
    CHECK(service_selector(s).has_value());
    s["spec"].as_object().erase("selector");
    CHECK_FALSE(service_selector(s).has_value());
    auto e = service(R"([])");
    e["spec"].as_object()["type"] = "ExternalName";
    CHECK_FALSE(service_selector(e).has_value());
}

TEST_CASE("find_port resolves numeric and named target ports") {
    auto p = pod("a", "10.0.0.1", true);
    CHECK(find_port(*p, parse(R"({"port":80,"targetPort":8080,"protocol":"TCP"})")) == 8080);
    CHECK(find_port(*p, parse(R"({"port":80,"targetPort":"http","protocol":"TCP"})")) == 8080);
    CHECK_FALSE(find_port(*p, parse(R"({"port":80,"targetPort":"http","protocol":"UDP"})")));
    CHECK_FALSE(find_port(*p, parse(R"({"port":80,"targetPort":"grpc"})")));
    CHECK(find_port(*p, parse(R"({"port":80})")) == 80);
}

TEST_CASE("endpoints split ready and not-ready addresses and share subsets by ports") {
    const auto s = service(R"([{"name":"http","port":80,"targetPort":"http","protocol":"TCP"}])");
    const auto subsets = endpoint_subsets(
        s, {pod("b", "10.0.0.2", false), pod("a", "10.0.0.1", true), pod("c", "10.0.0.3", true)});
    REQUIRE(subsets.size() == 1);
    const auto& subset = at(subsets, 0);
    REQUIRE(subset.at("addresses").as_array().size() == 2);
    CHECK(at(subset.at("addresses").as_array(), 0).at("ip") == "10.0.0.1");
    CHECK(at(subset.at("addresses").as_array(), 1).at("ip") == "10.0.0.3");
    REQUIRE(subset.at("notReadyAddresses").as_array().size() == 1);
    const auto& not_ready = at(subset.at("notReadyAddresses").as_array(), 0);
    CHECK(not_ready.at("ip") == "10.0.0.2");
    CHECK(not_ready.at("nodeName") == "node-1");
    CHECK(not_ready.at("targetRef").as_object().at("kind") == "Pod");
    CHECK(not_ready.at("targetRef").as_object().at("uid") == "uid-b");
    const auto& port = at(subset.at("ports").as_array(), 0);
    CHECK(port.at("name") == "http");
    CHECK(port.at("port") == 8080);
    CHECK(port.at("protocol") == "TCP");
}

TEST_CASE("pods resolving a named port differently land in separate subsets") {
    const auto s = service(R"([{"port":80,"targetPort":"http","protocol":"TCP"}])");
    const auto subsets =
        endpoint_subsets(s, {pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true, true)});
    REQUIRE(subsets.size() == 2);
    std::set<std::int64_t> ports;
    for (const auto& subset : subsets) {
        CHECK(subset.as_object().at("addresses").as_array().size() == 1);
        ports.insert(at(subset.as_object().at("ports").as_array(), 0).at("port").as_int64());
    }
    CHECK(ports == std::set<std::int64_t>{8080, 9090});
}

TEST_CASE("terminating, finished and IP-less pods are left out unless published") {
    const auto s = service(R"([{"port":80,"targetPort":8080,"protocol":"TCP"}])");
    auto done = parse(json::serialize(*pod("d", "10.0.0.4", false)));
    done["status"].as_object()["phase"] = "Succeeded";
    const auto subsets =
        endpoint_subsets(s, {pod("a", "10.0.0.1", true, false, true), pod("b", "", true),
                             std::make_shared<const json::object>(done)});
    CHECK(subsets.empty());
    const auto published = service(R"([{"port":80,"targetPort":8080,"protocol":"TCP"}])", true);
    const auto all = endpoint_subsets(published, {pod("a", "10.0.0.1", false, false, true)});
    REQUIRE(all.size() == 1);
    CHECK(at(all, 0).at("addresses").as_array().size() == 1);
    CHECK_FALSE(at(all, 0).contains("notReadyAddresses"));
}

TEST_CASE("a headless service without ports lists addresses with hostnames") {
    const auto s = service(R"([])", false, "None");
    auto p = parse(json::serialize(*pod("a", "10.0.0.1", true)));
    p["spec"].as_object()["hostname"] = "a";
    p["spec"].as_object()["subdomain"] = "web";
    const auto subsets = endpoint_subsets(s, {std::make_shared<const json::object>(p)});
    REQUIRE(subsets.size() == 1);
    CHECK_FALSE(at(subsets, 0).contains("ports"));
    CHECK(at(at(subsets, 0).at("addresses").as_array(), 0).at("hostname") == "a");
    CHECK(is_headless(s));
}

TEST_CASE("pod changes concern services only when endpoints would show them") {
    auto a = pod("a", "10.0.0.1", true);
    auto relabelled = parse(json::serialize(*a));
    relabelled["metadata"].as_object()["annotations"] = json::object{{"x", "y"}};
    CHECK(pod_endpoint_fingerprint(*a) == pod_endpoint_fingerprint(relabelled));
    CHECK(pod_endpoint_fingerprint(*a) != pod_endpoint_fingerprint(*pod("a", "10.0.0.1", false)));
}

TEST_CASE("the trigger time is the earliest change since the previous sync") {
    TriggerTimeTracker tracker;
    const auto s = service(R"([])");
    auto first = tracker.compute("default/web", s, {pod("a", "10.0.0.1", true)});
    REQUIRE(first);
    CHECK(format_trigger_time(*first) == "2026-01-01T00:00:00Z");  // the service's creation
    CHECK_FALSE(tracker.compute("default/web", s, {pod("a", "10.0.0.1", true)}));
    auto later = parse(json::serialize(*pod("a", "10.0.0.1", false)));
    later["status"].as_object()["conditions"].as_array()[0].as_object()["lastTransitionTime"] =
        "2026-01-01T00:02:00Z";
    auto next = tracker.compute("default/web", s, {std::make_shared<const json::object>(later)});
    REQUIRE(next);
    CHECK(format_trigger_time(*next) == "2026-01-01T00:02:00Z");
}

namespace {

std::shared_ptr<const json::object> existing(json::object slice, std::string_view name) {
    auto& meta = slice["metadata"].as_object();
    meta.erase("generateName");
    meta["name"] = name;
    meta["uid"] = std::string("uid-") + std::string(name);
    meta["resourceVersion"] = "7";
    return std::make_shared<const json::object>(std::move(slice));
}

const NodeLookup kNodes = [](std::string_view name) -> const json::object* {
    static const json::object node =
        parse(R"({"metadata":{"name":"node-1","labels":{"topology.kubernetes.io/zone":"z1"}}})");
    return name == "node-1" ? &node : nullptr;
};

}  // namespace

TEST_CASE("slice endpoints carry conditions, node, zone and target") {
    const auto s = service(R"([{"name":"http","port":80,"targetPort":"http","protocol":"TCP"}])");
    const auto groups = desired_slice_groups(
        s, {pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true, false, true)}, kNodes);
    REQUIRE(groups.size() == 1);
    const auto& group = groups.begin()->second;
    REQUIRE(group.endpoints.size() == 2);
    const auto& a = group.endpoints[0];
    CHECK(a.at("addresses").as_array().at(0) == "10.0.0.1");
    CHECK(a.at("conditions").as_object().at("ready") == true);
    CHECK(a.at("nodeName") == "node-1");
    CHECK(a.at("zone") == "z1");
    CHECK(a.at("targetRef").as_object().at("name") == "a");
    const auto& b = group.endpoints[1].at("conditions").as_object();
    CHECK(b.at("ready") == false);
    CHECK(b.at("serving") == true);
    CHECK(b.at("terminating") == true);
    CHECK(at(group.ports, 0).at("port") == 8080);
}

TEST_CASE("slices are created once, then updated in place") {
    const auto s = service(R"([{"name":"http","port":80,"targetPort":"http","protocol":"TCP"}])");
    // No pods: one placeholder slice.
    auto plan = plan_slices(s, desired_slice_groups(s, {}, kNodes), {});
    REQUIRE(plan.create.size() == 1);
    CHECK(plan.create[0].at("endpoints").as_array().empty());
    const auto labels = plan.create[0].at("metadata").as_object().at("labels").as_object();
    CHECK(labels.at("kubernetes.io/service-name") == "web");
    CHECK(labels.at("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io");
    CHECK(labels.at("app") == "web");
    CHECK(plan.create[0].at("metadata").as_object().at("generateName") == "web-");
    auto placeholder = existing(plan.create[0], "web-abcde");
    // The placeholder stays as it is while there are no pods.
    CHECK(plan_slices(s, desired_slice_groups(s, {}, kNodes), {placeholder}).empty());

    // A pod appears: the placeholder is reused (an update), not replaced.
    auto with_pod = plan_slices(s, desired_slice_groups(s, {pod("a", "10.0.0.1", false)}, kNodes),
                                {placeholder});
    CHECK(with_pod.create.empty());
    CHECK(with_pod.remove.empty());
    REQUIRE(with_pod.update.size() == 1);
    CHECK(with_pod.update[0].at("metadata").as_object().at("name") == "web-abcde");
    CHECK(with_pod.update[0].at("endpoints").as_array().size() == 1);
    auto current = existing(with_pod.update[0], "web-abcde");

    // Readiness flips: the same slice is updated.
    auto ready =
        plan_slices(s, desired_slice_groups(s, {pod("a", "10.0.0.1", true)}, kNodes), {current});
    REQUIRE(ready.update.size() == 1);
    CHECK(ready.create.empty());
    CHECK(at(ready.update[0].at("endpoints").as_array(), 0)
              .at("conditions")
              .as_object()
              .at("ready") == true);
    // Nothing changed: nothing to write.
    CHECK(plan_slices(s, desired_slice_groups(s, {pod("a", "10.0.0.1", false)}, kNodes), {current})
              .empty());
}

TEST_CASE("slices fill up to the maximum and spill into new ones") {
    const auto s = service(R"([{"port":80,"targetPort":8080,"protocol":"TCP"}])");
    std::vector<ObjectPtr> pods;
    for (int i = 0; i < 5; ++i)
        pods.push_back(pod("p" + std::to_string(i), "10.0.1." + std::to_string(i + 1), true));
    auto plan = plan_slices(s, desired_slice_groups(s, pods, kNodes), {}, 2);
    CHECK(plan.create.size() == 3);
    std::size_t total = 0;
    for (const auto& slice : plan.create)
        total += slice.at("endpoints").as_array().size();
    CHECK(total == 5);
}

TEST_CASE("slices of another service uid are replaced") {
    const auto s = service(R"([{"port":80,"targetPort":8080,"protocol":"TCP"}])");
    auto stale = parse(json::serialize(new_slice(s, json::array{})));
    stale["metadata"].as_object()["ownerReferences"].as_array()[0].as_object()["uid"] = "old";
    auto plan = plan_slices(s, desired_slice_groups(s, {pod("a", "10.0.0.1", true)}, kNodes),
                            {existing(stale, "web-old")});
    CHECK(plan.create.size() == 1);
    REQUIRE(plan.remove.size() == 1);
    CHECK(plan.remove[0].at("metadata").as_object().at("name") == "web-old");
}
