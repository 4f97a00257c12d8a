// The pod status the kubelet reports, from runtime records: phases by restart policy,
// waiting reasons, lastState, readiness and conditions; and the crash-loop back-off windows.
#include "cluster/kubelet/pod_status.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/restart_backoff.hpp"

namespace json = boost::json;
using namespace kcube::kubelet;
using namespace std::chrono_literals;

namespace {

json::object make_pod(const std::string& restart_policy, bool with_init = false) {
    json::object spec{{"restartPolicy", restart_policy},
                      {"containers", json::array{json::object{{"name", "a"}, {"image", "img"}},
                                                 json::object{{"name", "b"}, {"image", "img"}}}}};
    if (with_init)
        spec["initContainers"] = json::array{json::object{{"name", "init"}, {"image", "img"}}};
    return json::object{
        {"metadata", json::object{{"name", "p"}, {"namespace", "ns"}, {"uid", "u"}}},
        {"spec", spec}};
}

ContainerRecord record(const std::string& name, cri::v1::ContainerState state, int exit_code = 0,
                       std::uint32_t attempt = 0, std::int64_t created = 1) {
    ContainerRecord c;
    c.id = name + std::to_string(attempt);
    c.sandbox_id = "s1";
    c.name = name;
    c.state = state;
    c.exit_code = exit_code;
    c.attempt = attempt;
    c.created_at = created;
    c.started_at = 1'700'000'000'000'000'000;
    if (state == cri::v1::CONTAINER_EXITED) c.finished_at = 1'700'000'010'000'000'000;
    c.image_ref = "sha256:abc";
    return c;
}

json::object status_of(const json::object& pod, const PodRuntime& rt,
                       std::map<std::string, ContainerWaiting> waiting = {}, bool ready = true) {
    PodStatusInputs in{pod,
                       &rt,
                       "s1",
                       true,
                       "10.244.0.5",
                       "192.168.1.2",
                       std::move(waiting),
                       [ready](const std::string&) { return ready; },
                       [](const std::string&) { return true; }};
    return compute_pod_status(in);
}

std::string condition(const json::object& status, const char* type) {
    const auto* c = kcube::controllers::find_condition(status, type);
    return c ? std::string(c->at("status").as_string()) : "";
}

}  // namespace

TEST_CASE("running containers: phase Running, ready, IPs, QoS") {
    PodRuntime rt{
        "u",
        {{"s1", 0, true, 1}},
        {record("a", cri::v1::CONTAINER_RUNNING), record("b", cri::v1::CONTAINER_RUNNING)}};
    auto status = status_of(make_pod("Always"), rt);
    CHECK(status.at("phase") == "Running");
    CHECK(status.at("podIP") == "10.244.0.5");
    CHECK(status.at("hostIP") == "192.168.1.2");
    CHECK(status.at("qosClass") == "BestEffort");
    CHECK(condition(status, "Ready") == "True");
    CHECK(condition(status, "PodReadyToStartContainers") == "True");
    const auto& a = status.at("containerStatuses").as_array()[0].as_object();
    CHECK(a.at("ready").as_bool());
    CHECK(a.at("containerID") == "containerd://a0");
    CHECK(a.at("state").as_object().contains("running"));

    auto unready = status_of(make_pod("Always"), rt, {}, false);
    CHECK(condition(unready, "Ready") == "False");
    const auto* c = kcube::controllers::find_condition(unready, "ContainersReady");
    CHECK(c->at("message") == "containers with unready status: [a b]");
}

TEST_CASE("phases by restart policy when containers exit") {
    PodRuntime ok{
        "u",
        {{"s1", 0, true, 1}},
        {record("a", cri::v1::CONTAINER_EXITED, 0), record("b", cri::v1::CONTAINER_EXITED, 0)}};
    CHECK(status_of(make_pod("Never"), ok).at("phase") == "Succeeded");
    CHECK(status_of(make_pod("OnFailure"), ok).at("phase") == "Succeeded");
    CHECK(status_of(make_pod("Always"), ok).at("phase") == "Running");
    PodRuntime failed{
        "u",
        {{"s1", 0, true, 1}},
        {record("a", cri::v1::CONTAINER_EXITED, 0), record("b", cri::v1::CONTAINER_EXITED, 2)}};
    auto status = status_of(make_pod("Never"), failed);
    CHECK(status.at("phase") == "Failed");
    const auto& b = status.at("containerStatuses").as_array()[1].as_object();
    CHECK(b.at("state").at("terminated").at("reason") == "Error");
    CHECK(b.at("state").at("terminated").at("exitCode") == 2);
}

TEST_CASE("crash loop: waiting CrashLoopBackOff with the last termination") {
    PodRuntime rt{
        "u",
        {{"s1", 0, true, 1}},
        {record("a", cri::v1::CONTAINER_EXITED, 1, 3, 5),
         record("a", cri::v1::CONTAINER_EXITED, 1, 2, 4), record("b", cri::v1::CONTAINER_RUNNING)}};
    auto status =
        status_of(make_pod("Always"), rt,
                  {{"a", {"CrashLoopBackOff", "back-off 40s restarting failed container=a"}}});
    const auto& a = status.at("containerStatuses").as_array()[0].as_object();
    CHECK(a.at("restartCount") == 3);
    CHECK(a.at("state").at("waiting").at("reason") == "CrashLoopBackOff");
    CHECK(a.at("lastState").at("terminated").at("exitCode") == 1);
    CHECK(status.at("phase") == "Running");
}

TEST_CASE("nothing started yet: Pending, ContainerCreating or PodInitializing") {
    PodRuntime empty{"u", {}, {}};
    auto status = status_of(make_pod("Always", true), empty);
    CHECK(status.at("phase") == "Pending");
    CHECK(status.at("containerStatuses").as_array()[0].at("state").at("waiting").at("reason") ==
          "PodInitializing");
    CHECK(status.at("initContainerStatuses").as_array()[0].at("state").at("waiting").at("reason") ==
          "ContainerCreating");
    CHECK(condition(status, "Initialized") == "False");
    auto pulling = status_of(make_pod("Always"), empty, {{"a", {"ErrImagePull", "no such host"}}});
    CHECK(pulling.at("containerStatuses").as_array()[0].at("state").at("waiting").at("reason") ==
          "ErrImagePull");
    CHECK(pulling.at("phase") == "Pending");
}

TEST_CASE("QoS classes") {
    auto pod = make_pod("Always");
    auto& containers = pod["spec"].as_object()["containers"].as_array();
    json::object guaranteed{{"limits", json::object{{"cpu", "1"}, {"memory", "1Gi"}}}};
    containers[0].as_object()["resources"] = guaranteed;
    CHECK(pod_qos_class(pod) == "Burstable");  // b has nothing
    containers[1].as_object()["resources"] = guaranteed;
    CHECK(pod_qos_class(pod) == "Guaranteed");
}

TEST_CASE("crash-loop back-off: immediate, then 10s, 20s, ... capped at 5m") {
    RestartBackoff backoff(10s, 300s);
    const auto t0 = std::chrono::system_clock::now();
    std::chrono::seconds window{};
    std::chrono::system_clock::duration remaining{};
    CHECK_FALSE(backoff.in_backoff("k", t0, t0, window, remaining));
    backoff.next("k", t0);
    CHECK(backoff.in_backoff("k", t0 + 1s, t0 + 2s, window, remaining));
    CHECK(window == 10s);
    CHECK_FALSE(backoff.in_backoff("k", t0 + 1s, t0 + 12s, window, remaining));
    backoff.next("k", t0 + 12s);
    CHECK(backoff.in_backoff("k", t0 + 13s, t0 + 14s, window, remaining));
    CHECK(window == 20s);
    for (int i = 0; i < 10; ++i)
        backoff.next("k", t0 + 20s);
    CHECK(backoff.in_backoff("k", t0 + 20s, t0 + 21s, window, remaining));
    CHECK(window == 300s);
    backoff.forget_prefix("k");
    CHECK_FALSE(backoff.in_backoff("k", t0 + 20s, t0 + 21s, window, remaining));
}
