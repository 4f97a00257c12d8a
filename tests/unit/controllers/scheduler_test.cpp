#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cluster/scheduler/predicates.hpp"

namespace json = boost::json;
using namespace kcube::scheduler;

namespace {

json::object parse(std::string_view text) {
    return json::parse(text).as_object();
}

json::object ready_node(std::string_view name, std::string_view extra_spec = "{}",
                        std::string_view labels = "{}") {
    auto node = parse(R"({"metadata":{},"spec":{},"status":{
        "allocatable":{"cpu":"2","memory":"4Gi","pods":"3","ephemeral-storage":"10Gi"},
        "conditions":[{"type":"Ready","status":"True"}]}})");
    node["metadata"].as_object()["name"] = name;
    node["metadata"].as_object()["labels"] = json::parse(labels);
    node["spec"] = json::parse(extra_spec);
    return node;
}

json::object pod_with(std::string_view spec) {
    json::object pod{{"metadata", json::object{{"name", "p"}, {"namespace", "default"}}}};
    pod["spec"] = json::parse(spec);
    return pod;
}

FitResult fit(const json::object& pod, const json::object& node) {
    NodeInfo info;
    info.node = &node;
    return check_fit(pod, info);
}

}  // namespace

TEST_CASE("quantities parse to milli-units and units, rounding up") {
    CHECK(parse_quantity_milli("250m") == 250);
    CHECK(parse_quantity_milli("2") == 2000);
    CHECK(parse_quantity_milli("0.5") == 500);
    CHECK(parse_quantity_milli("1.5Gi") == 1610612736000LL);
    CHECK(parse_quantity_milli("1u") == 1);  // rounded up
    CHECK(parse_quantity("1Ki") == 1024);
    CHECK(parse_quantity("1k") == 1000);
    CHECK(parse_quantity("128Mi") == 134217728);
    CHECK(parse_quantity("1e3") == 1000);
    CHECK(parse_quantity("100m") == 1);
    CHECK_FALSE(parse_quantity("abc").has_value());
    CHECK_FALSE(parse_quantity("1Qi").has_value());
}

TEST_CASE("a pod requests max(sum of containers, largest init container) plus overhead") {
    auto pod = pod_with(R"({
        "containers":[{"name":"a","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}},
                      {"name":"b","resources":{"requests":{"cpu":"200m"},"limits":{"memory":"1Gi"}}}],
        "initContainers":[{"name":"i","resources":{"requests":{"cpu":"500m","memory":"10Mi"}}}],
        "overhead":{"cpu":"10m"}})");
    const Resources r = pod_requests(pod);
    CHECK(r.milli_cpu == 510);                                     // init 500 > 300, + 10
    CHECK(r.memory == 64LL * 1024 * 1024 + 1024LL * 1024 * 1024);  // limit stands for request
    CHECK(r.pods == 1);
}

TEST_CASE("sidecar init containers add to the pod's requests") {
    auto pod = pod_with(R"({
        "containers":[{"name":"a","resources":{"requests":{"cpu":"100m"}}}],
        "initContainers":[{"name":"s","restartPolicy":"Always","resources":{"requests":{"cpu":"50m"}}},
                          {"name":"i","resources":{"requests":{"cpu":"100m"}}}]})");
    CHECK(pod_requests(pod).milli_cpu == 150);
}

TEST_CASE("taints filter NoSchedule and NoExecute, not PreferNoSchedule") {
    auto pod = pod_with(R"({"containers":[{"name":"a"}]})");
    CHECK(fit(pod, ready_node(
                       "n", R"({"taints":[{"key":"k","value":"v","effect":"PreferNoSchedule"}]})"))
              .fits());
    auto result =
        fit(pod, ready_node("n", R"({"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]})"));
    REQUIRE_FALSE(result.fits());
    CHECK(result.reasons.at(0) == "node(s) had untolerated taint {k: v}");
    CHECK_FALSE(result.resolvable);
    CHECK_FALSE(
        fit(pod, ready_node("n", R"({"taints":[{"key":"k","effect":"NoExecute"}]})")).fits());
}

TEST_CASE("tolerations: Equal, Exists, empty key with Exists, effect must match when set") {
    const Taint taint{"dedicated", "gpu", "NoSchedule"};
    auto tolerated = [&](std::string_view tolerations) {
        const auto value = json::parse(tolerations);
        return tolerates(&value.as_array(), taint);
    };
    CHECK(tolerated(R"([{"key":"dedicated","operator":"Equal","value":"gpu"}])"));
    CHECK(tolerated(R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
    CHECK_FALSE(tolerated(R"([{"key":"dedicated","operator":"Equal","value":"cpu"}])"));
    CHECK(tolerated(R"([{"key":"dedicated","operator":"Exists"}])"));
    CHECK(tolerated(R"([{"operator":"Exists"}])"));
    CHECK_FALSE(tolerated(R"([{"key":"dedicated","operator":"Exists","effect":"NoExecute"}])"));
    CHECK_FALSE(tolerated(R"([{"key":"other","operator":"Exists"}])"));
    CHECK_FALSE(tolerates(nullptr, taint));
}

TEST_CASE("the control-plane taint keeps ordinary pods off and lets tolerating ones on") {
    auto node = ready_node(
        "cp",
        R"({"taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]})");
    auto plain = pod_with(R"({"containers":[{"name":"a"}]})");
    auto result = fit(plain, node);
    REQUIRE_FALSE(result.fits());
    CHECK(result.reasons.at(0) ==
          "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
    auto tolerant = pod_with(R"({"containers":[{"name":"a"}],"tolerations":[
        {"key":"node-role.kubernetes.io/control-plane","operator":"Exists","effect":"NoSchedule"}]})");
    CHECK(fit(tolerant, node).fits());
}

TEST_CASE("a node that is not Ready carries the not-ready or unreachable taint") {
    auto node = ready_node("n");
    node["status"].as_object()["conditions"] =
        json::parse(R"([{"type":"Ready","status":"False"}])");
    auto pod = pod_with(R"({"containers":[{"name":"a"}]})");
    auto result = fit(pod, node);
    REQUIRE_FALSE(result.fits());
    CHECK(result.reasons.at(0) == "node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
    node["status"].as_object()["conditions"] =
        json::parse(R"([{"type":"Ready","status":"Unknown"}])");
    CHECK(fit(pod, node).reasons.at(0) ==
          "node(s) had untolerated taint {node.kubernetes.io/unreachable: }");
    auto tolerant =
        pod_with(R"({"containers":[{"name":"a"}],"tolerations":[{"operator":"Exists"}]})");
    CHECK(fit(tolerant, node).fits());
}

TEST_CASE("a cordoned node takes only pods tolerating the unschedulable taint") {
    auto node = ready_node("n", R"({"unschedulable":true})");
    auto pod = pod_with(R"({"containers":[{"name":"a"}]})");
    CHECK(fit(pod, node).reasons.at(0) == "node(s) were unschedulable");
    auto tolerant = pod_with(R"({"containers":[{"name":"a"}],"tolerations":[
        {"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}]})");
    CHECK(fit(tolerant, node).fits());
}

TEST_CASE("nodeSelector and required node affinity") {
    auto node = ready_node("n1", "{}", R"({"disk":"ssd","zone":"a","cores":"8"})");
    auto selector = [&](std::string_view sel) {
        return fit(pod_with(std::string(R"({"containers":[{"name":"a"}],"nodeSelector":)") +
                            std::string(sel) + "}"),
                   node);
    };
    CHECK(selector(R"({"disk":"ssd"})").fits());
    CHECK(selector(R"({"disk":"hdd"})").reasons.at(0) ==
          "node(s) didn't match Pod's node affinity/selector");

    auto affinity = [&](std::string_view terms) {
        return fit(pod_with(std::string(R"({"containers":[{"name":"a"}],"affinity":{"nodeAffinity":{
            "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":)") +
                            std::string(terms) + "}}}}"),
                   node)
            .fits();
    };
    CHECK(
        affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}])"));
    CHECK_FALSE(
        affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]}])"));
    CHECK(affinity(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["b"]}]}])"));
    CHECK(affinity(R"([{"matchExpressions":[{"key":"gpu","operator":"NotIn","values":["x"]}]}])"));
    CHECK(affinity(R"([{"matchExpressions":[{"key":"disk","operator":"Exists"}]}])"));
    CHECK_FALSE(affinity(R"([{"matchExpressions":[{"key":"disk","operator":"DoesNotExist"}]}])"));
    CHECK(affinity(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["4"]}]}])"));
    CHECK_FALSE(
        affinity(R"([{"matchExpressions":[{"key":"cores","operator":"Lt","values":["4"]}]}])"));
    CHECK_FALSE(
        affinity(R"([{"matchExpressions":[{"key":"zone","operator":"Gt","values":["4"]}]}])"));
    // Terms are ORed, expressions within a term ANDed.
    CHECK(affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},
                       {"matchExpressions":[{"key":"disk","operator":"Exists"}]}])"));
    CHECK_FALSE(affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},
                                                  {"key":"disk","operator":"DoesNotExist"}]}])"));
    CHECK(
        affinity(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])"));
    CHECK_FALSE(
        affinity(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}])"));
    CHECK_FALSE(affinity(R"([{}])"));  // an empty term matches nothing
}

TEST_CASE("matchFields metadata.name pins a pod to named nodes") {
    auto pod =
        pod_with(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["w2"]}]}]}}}})");
    auto names = affinity_node_names(pod);
    REQUIRE(names.has_value());
    CHECK(*names == std::vector<std::string>{"w2"});
    CHECK_FALSE(affinity_node_names(pod_with(R"({"containers":[]})")).has_value());
}

TEST_CASE("resources: requests against allocatable minus what is bound") {
    auto node = ready_node("n");
    NodeInfo info;
    info.node = &node;
    info.add_pod(
        pod_with(R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"1500m"}}}]})"));
    auto small =
        pod_with(R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"500m"}}}]})");
    auto big = pod_with(
        R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"600m","memory":"5Gi"}}}]})");
    CHECK(check_fit(small, info).fits());
    auto result = check_fit(big, info);
    REQUIRE_FALSE(result.fits());
    CHECK(result.reasons == std::vector<std::string>{"Insufficient cpu", "Insufficient memory"});
    CHECK_FALSE(result.resolvable);  // 5Gi is more than the whole node has

    auto cpu_only = check_fit(
        pod_with(R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"600m"}}}]})"), info);
    CHECK(cpu_only.reasons == std::vector<std::string>{"Insufficient cpu"});
    CHECK(cpu_only.resolvable);

    info.add_pod(pod_with(R"({"containers":[{"name":"b"}]})"));
    info.add_pod(pod_with(R"({"containers":[{"name":"c"}]})"));
    CHECK(check_fit(pod_with(R"({"containers":[{"name":"d"}]})"), info).reasons ==
          std::vector<std::string>{"Too many pods"});
}

TEST_CASE("host ports conflict on port, protocol and overlapping address") {
    CHECK(ports_conflict({"", "TCP", 80}, {"10.0.0.1", "TCP", 80}));
    CHECK(ports_conflict({"0.0.0.0", "TCP", 80}, {"10.0.0.1", "TCP", 80}));
    CHECK_FALSE(ports_conflict({"10.0.0.2", "TCP", 80}, {"10.0.0.1", "TCP", 80}));
    CHECK_FALSE(ports_conflict({"", "UDP", 80}, {"", "TCP", 80}));
    CHECK_FALSE(ports_conflict({"", "TCP", 81}, {"", "TCP", 80}));

    auto node = ready_node("n");
    NodeInfo info;
    info.node = &node;
    info.add_pod(pod_with(
        R"({"containers":[{"name":"a","ports":[{"containerPort":80,"hostPort":8080}]}]})"));
    auto same = pod_with(
        R"({"containers":[{"name":"a","ports":[{"containerPort":80,"hostPort":8080,"protocol":"TCP"}]}]})");
    auto result = check_fit(same, info);
    REQUIRE_FALSE(result.fits());
    CHECK(result.reasons.at(0) == "node(s) didn't have free ports for the requested pod ports");
    CHECK(result.resolvable);
    auto udp = pod_with(
        R"({"containers":[{"name":"a","ports":[{"containerPort":80,"hostPort":8080,"protocol":"UDP"}]}]})");
    CHECK(check_fit(udp, info).fits());
}

TEST_CASE("the FitError message has upstream's shape") {
    auto pod = pod_with(R"({"containers":[{"name":"a"}]})");
    CHECK(
        fit_error_message(pod, {{{"node(s) didn't match Pod's node affinity/selector"}, false}}) ==
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.");
    CHECK(fit_error_message(pod, {{{"Insufficient cpu"}, true},
                                  {{"node(s) had untolerated taint {a: b}"}, false},
                                  {{"Insufficient cpu", "Insufficient memory"}, true}}) ==
          "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {a: b}, "
          "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful "
          "for scheduling, 2 No preemption victims found for incoming pod.");
    CHECK(fit_error_message(pod, {}) == "no nodes available to schedule pods");
    auto never = pod_with(R"({"containers":[{"name":"a"}],"preemptionPolicy":"Never"})");
    CHECK(fit_error_message(never, {{{"Insufficient cpu"}, true}}) ==
          "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to "
          "preemptionPolicy=Never.");
}

TEST_CASE("least requested prefers the emptier node") {
    auto a = ready_node("a"), b = ready_node("b");
    NodeInfo busy, idle;
    busy.node = &a;
    idle.node = &b;
    busy.add_pod(pod_with(
        R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]})"));
    const auto pod = pod_with(R"({"containers":[{"name":"a"}]})");
    CHECK(least_requested_score(pod, idle) > least_requested_score(pod, busy));
    // Pods without requests still spread: each counts as 100m and 200Mi.
    NodeInfo crowded;
    crowded.node = &a;
    crowded.add_pod(pod);
    CHECK(least_requested_score(pod, idle) > least_requested_score(pod, crowded));
}

TEST_CASE("ranking: preferred affinity and PreferNoSchedule taints steer, resources break ties") {
    auto plain = ready_node("plain", "{}", R"({"zone":"a"})");
    auto soft = ready_node("soft", R"({"taints":[{"key":"k","effect":"PreferNoSchedule"}]})",
                           R"({"zone":"b"})");
    NodeInfo a, b;
    a.node = &plain;
    b.node = &soft;
    auto pod = pod_with(R"({"containers":[{"name":"c"}]})");
    auto scores = rank_nodes(pod, {&a, &b});
    CHECK(scores[0] > scores[1]);  // the PreferNoSchedule taint counts against "soft"

    auto prefers_b = pod_with(R"({"containers":[{"name":"c"}],"affinity":{"nodeAffinity":{
        "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":50,"preference":{
            "matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]}}]}},
        "tolerations":[{"key":"k","operator":"Exists"}]})");
    CHECK(preferred_affinity_weight(prefers_b, soft) == 50);
    CHECK(preferred_affinity_weight(prefers_b, plain) == 0);
    CHECK(intolerable_preferred_taints(prefers_b, soft) == 0);
    CHECK(intolerable_preferred_taints(pod, soft) == 1);
    scores = rank_nodes(prefers_b, {&a, &b});
    CHECK(scores[1] > scores[0]);
}
