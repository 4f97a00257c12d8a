// The rollout arithmetic of the Deployment and ReplicaSet controllers (deployment_util), with
// the numbers upstream's own unit tests use where they exist.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/controllers/deployment_util.hpp"

namespace json = boost::json;
using namespace kcube::controllers::rollout;
using namespace std::chrono_literals;

namespace {

json::object parse(std::string_view text) {
    return json::parse(text).as_object();
}

json::object deployment(std::int64_t replicas, json::value surge, json::value unavailable,
                        std::string_view type = "RollingUpdate") {
    json::object d = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"web","namespace":"default","uid":"d-uid","generation":1},
        "spec":{"selector":{"matchLabels":{"app":"web"}},
                "template":{"metadata":{"labels":{"app":"web"}},
                            "spec":{"containers":[{"name":"c","image":"nginx:1"}]}},
                "progressDeadlineSeconds":600,"revisionHistoryLimit":10}})");
    auto& spec = d["spec"].as_object();
    spec["replicas"] = replicas;
    json::object strategy{{"type", type}};
    if (type == "RollingUpdate") {
        strategy["rollingUpdate"] =
            json::object{{"maxSurge", surge}, {"maxUnavailable", unavailable}};
    }
    spec["strategy"] = std::move(strategy);
    return d;
}

json::object replica_set(std::string_view name, std::int64_t replicas, std::int64_t available,
                         std::string_view created = "2024-01-01T00:00:00Z") {
    json::object rs = parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
        "metadata":{"namespace":"default","uid":"rs-uid","annotations":{}},
        "spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{}}},"status":{}})");
    auto& meta = rs["metadata"].as_object();
    meta["name"] = name;
    meta["creationTimestamp"] = created;
    rs["spec"].as_object()["replicas"] = replicas;
    auto& status = rs["status"].as_object();
    status["replicas"] = replicas;
    status["readyReplicas"] = available;
    status["availableReplicas"] = available;
    return rs;
}

json::object pod(std::string_view name, std::string_view node, std::string_view phase, bool ready,
                 std::string_view created, std::string_view ready_since = "") {
    json::object p = parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"default",
        "labels":{"app":"web"}},"spec":{},"status":{}})");
    auto& meta = p["metadata"].as_object();
    meta["name"] = name;
    meta["uid"] = std::string(name) + "-uid";
    meta["creationTimestamp"] = created;
    if (!node.empty()) p["spec"].as_object()["nodeName"] = node;
    auto& status = p["status"].as_object();
    status["phase"] = phase;
    status["conditions"] = json::array{
        json::object{{"type", "Ready"},
                     {"status", ready ? "True" : "False"},
                     {"lastTransitionTime", ready_since.empty() ? created : ready_since}}};
    return p;
}

Time at(std::string_view text) {
    Time t{};
    REQUIRE(kcube::api::parse_time(text, t));
    return t;
}

}  // namespace

TEST_CASE("maxSurge rounds up and maxUnavailable rounds down, as upstream's fenceposts") {
    CHECK(scaled_value(json::value("25%"), 10, true) == 3);
    CHECK(scaled_value(json::value("25%"), 10, false) == 2);
    CHECK(scaled_value(json::value(2), 10, false) == 2);
    CHECK_THROWS_AS(scaled_value(json::value("25"), 10, true), std::invalid_argument);
    CHECK_THROWS_AS(scaled_value(json::value("x%"), 10, true), std::invalid_argument);

    const json::value quarter = "25%";
    auto f = resolve_fenceposts(&quarter, &quarter, 3);
    CHECK(f.surge == 1);
    CHECK(f.unavailable == 0);
    // Both resolving to zero allows one unavailable pod.
    const json::value zero = 0;
    const json::value small = "10%";
    f = resolve_fenceposts(&zero, &small, 3);
    CHECK(f.surge == 0);
    CHECK(f.unavailable == 1);

    CHECK(max_surge(deployment(4, json::value("50%"), json::value(1))) == 2);
    CHECK(max_unavailable(deployment(4, json::value(0), json::value(10))) == 4);  // capped
    CHECK(max_unavailable(deployment(0, json::value(1), json::value(1))) == 0);
    CHECK(max_surge(deployment(4, json::value(1), json::value(1), "Recreate")) == 0);
    CHECK(max_unavailable(deployment(4, json::value(1), json::value(1), "Recreate")) == 0);
}

TEST_CASE("the new replica set grows up to replicas + maxSurge across all replica sets") {
    const auto d = deployment(3, json::value(1), json::value(0));
    auto old_rs = replica_set("web-old", 3, 3);
    auto new_rs = replica_set("web-new", 0, 0);
    CHECK(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs) == 1);
    old_rs["spec"].as_object()["replicas"] = 2;
    old_rs["status"].as_object()["replicas"] = 2;
    new_rs["spec"].as_object()["replicas"] = 1;
    CHECK(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs) == 2);
    old_rs["spec"].as_object()["replicas"] = 3;
    old_rs["status"].as_object()["replicas"] = 3;
    CHECK(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs) == 1);  // at the surge limit
    // Scaled down to 2 but its controller has not deleted the third pod yet: still no room.
    old_rs["spec"].as_object()["replicas"] = 2;
    old_rs["status"].as_object()["replicas"] = 3;
    CHECK(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs) == 1);
    // Never beyond the deployment's size; Recreate goes straight there.
    old_rs["spec"].as_object()["replicas"] = 0;
    old_rs["status"].as_object()["replicas"] = 0;
    CHECK(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs) == 3);
    const auto r = deployment(3, json::value(1), json::value(0), "Recreate");
    CHECK(new_rs_new_replicas(r, {&old_rs, &new_rs}, new_rs) == 3);
}

TEST_CASE("templates compare equal apart from the hash label and empty representation") {
    auto a = parse(R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c"}]}})");
    auto b = parse(R"({"metadata":{"creationTimestamp":null,"labels":{"app":"web",
        "pod-template-hash":"abc"}},"spec":{"containers":[{"name":"c","resources":{}}]}})");
    CHECK(equal_ignore_hash(a, b));
    auto c = parse(R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"d"}]}})");
    CHECK_FALSE(equal_ignore_hash(a, c));
    // The hash is stable, ignores representation, and changes with collisionCount.
    CHECK(template_hash(a, std::nullopt) == template_hash(a, std::nullopt));
    CHECK(template_hash(a, std::nullopt) != template_hash(c, std::nullopt));
    CHECK(template_hash(a, 1) != template_hash(a, std::nullopt));
    auto a2 = parse(R"({"spec":{"containers":[{"name":"c"}]},"metadata":{"labels":{"app":"web"},
        "annotations":{}}})");
    CHECK(template_hash(a, std::nullopt) == template_hash(a2, std::nullopt));
}

TEST_CASE("the new replica set is the oldest whose template matches the deployment's") {
    auto d = deployment(3, json::value(1), json::value(0));
    auto rs1 = replica_set("web-1", 3, 3, "2024-01-01T00:00:00Z");
    auto rs2 = replica_set("web-2", 0, 0, "2024-01-02T00:00:00Z");
    rs2["spec"].as_object()["template"] = d["spec"].as_object()["template"];
    rs1["spec"].as_object()["template"] = parse(R"({"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c","image":"nginx:0"}]}})");
    CHECK(find_new_replica_set(d, {&rs1, &rs2}) == &rs2);
    rs1["spec"].as_object()["template"] = d["spec"].as_object()["template"];
    CHECK(find_new_replica_set(d, {&rs2, &rs1}) == &rs1);
}

TEST_CASE("revisions: a new replica set gets the next one, a reused one keeps its history") {
    auto d = deployment(3, json::value(1), json::value(0));
    kcube::api::metadata_of(d)["annotations"] =
        json::object{{"kubernetes.io/change-cause", "update image"},
                     {"kubectl.kubernetes.io/last-applied-configuration", "{}"},
                     {std::string(kRevisionAnnotation), "2"}};
    auto fresh = replica_set("web-new", 0, 0);
    CHECK(set_new_replica_set_annotations(d, fresh, 3, false));
    CHECK(annotation(fresh, kRevisionAnnotation) == "3");
    CHECK(annotation(fresh, "kubernetes.io/change-cause") == "update image");
    CHECK(annotation(fresh, "kubectl.kubernetes.io/last-applied-configuration").empty());
    CHECK(annotation(fresh, kDesiredReplicasAnnotation) == "3");
    CHECK(annotation(fresh, kMaxReplicasAnnotation) == "4");
    CHECK(annotation(fresh, kRevisionHistoryAnnotation).empty());
    // Nothing more to do the second time.
    CHECK_FALSE(set_new_replica_set_annotations(d, fresh, 3, true));

    // Rolling back to revision 1's template: it becomes revision 4 and remembers 1.
    auto reused = replica_set("web-old", 0, 0);
    set_annotation(reused, kRevisionAnnotation, "1");
    CHECK(set_new_replica_set_annotations(d, reused, 4, true));
    CHECK(annotation(reused, kRevisionAnnotation) == "4");
    CHECK(annotation(reused, kRevisionHistoryAnnotation) == "1");
    CHECK(set_new_replica_set_annotations(d, reused, 6, true));
    CHECK(annotation(reused, kRevisionHistoryAnnotation) == "1,4");
    // An existing replica set with a higher revision keeps it.
    CHECK_FALSE(set_new_replica_set_annotations(d, reused, 5, true));
    CHECK(annotation(reused, kRevisionAnnotation) == "6");
    CHECK(max_revision({&fresh, &reused}) == 6);
}

TEST_CASE("proportional scaling spreads added replicas over active replica sets") {
    // Upstream's example: 10 replicas (maxSurge 3) mid-rollout as 8 old + 5 new, scaled to 15.
    auto d = deployment(15, json::value(3), json::value(0));
    auto old_rs = replica_set("web-old", 8, 8, "2024-01-01T00:00:00Z");
    auto new_rs = replica_set("web-new", 5, 0, "2024-01-02T00:00:00Z");
    for (auto* rs : {&old_rs, &new_rs}) {
        set_annotation(*rs, kMaxReplicasAnnotation, "13");
        set_annotation(*rs, kDesiredReplicasAnnotation, "10");
    }
    auto sizes = proportional_sizes(d, {&old_rs, &new_rs});
    REQUIRE(sizes.size() == 2);
    std::int64_t total = 0;
    for (const auto& [rs, size] : sizes)
        total += size;
    CHECK(total == 18);  // 15 + maxSurge 3
    CHECK(sizes[0].first == &old_rs);
    CHECK(sizes[0].second == 11);  // 8 * 18/13 = 11.07
    CHECK(sizes[1].second == 7);   // 5 * 18/13 = 6.9
    // Scaling down to zero empties everything.
    auto zero = deployment(0, json::value(3), json::value(0));
    sizes = proportional_sizes(zero, {&old_rs, &new_rs});
    for (const auto& [rs, size] : sizes)
        CHECK(size == 0);
}

TEST_CASE("active-or-latest and saturation decide how a plain scale is applied") {
    auto d = deployment(3, json::value(1), json::value(0));
    auto old_rs = replica_set("web-old", 0, 0, "2024-01-01T00:00:00Z");
    auto new_rs = replica_set("web-new", 3, 3, "2024-01-02T00:00:00Z");
    CHECK(find_active_or_latest(&new_rs, {&old_rs}) == &new_rs);
    new_rs["spec"].as_object()["replicas"] = 0;
    CHECK(find_active_or_latest(&new_rs, {&old_rs}) == &new_rs);
    CHECK(find_active_or_latest(nullptr, {&old_rs}) == &old_rs);
    old_rs["spec"].as_object()["replicas"] = 1;
    new_rs["spec"].as_object()["replicas"] = 1;
    CHECK(find_active_or_latest(&new_rs, {&old_rs}) == nullptr);

    new_rs["spec"].as_object()["replicas"] = 3;
    CHECK_FALSE(is_saturated(d, &new_rs));  // no desired-replicas annotation yet
    set_annotation(new_rs, kDesiredReplicasAnnotation, "3");
    CHECK(is_saturated(d, &new_rs));
}

TEST_CASE("status and conditions follow upstream's calculateStatus and syncRolloutStatus") {
    const Time now = at("2024-05-01T12:00:00Z");
    auto d = deployment(3, json::value(1), json::value(0));
    auto old_rs = replica_set("web-old", 1, 1);
    auto new_rs = replica_set("web-new", 3, 2);
    auto status = rollout_status(d, {&old_rs, &new_rs}, &new_rs, now);
    CHECK(status.at("observedGeneration") == 1);
    CHECK(status.at("replicas") == 4);
    CHECK(status.at("updatedReplicas") == 3);
    CHECK(status.at("availableReplicas") == 3);
    CHECK(status.at("unavailableReplicas") == 1);
    const auto* available = get_condition(status, "Available");
    REQUIRE(available);
    CHECK(available->at("status") == "True");
    CHECK(available->at("reason") == "MinimumReplicasAvailable");
    const auto* progressing = get_condition(status, "Progressing");
    REQUIRE(progressing);
    CHECK(progressing->at("reason") == "ReplicaSetUpdated");
    CHECK(progressing->at("message") == "ReplicaSet \"web-new\" is progressing.");
    CHECK_FALSE(deployment_complete(d, status));

    // Finished: the old replica set is empty and the new one fully available.
    d["status"] = status;
    old_rs = replica_set("web-old", 0, 0);
    new_rs = replica_set("web-new", 3, 3);
    status = rollout_status(d, {&old_rs, &new_rs}, &new_rs, now + 5s);
    CHECK(deployment_complete(d, status));
    progressing = get_condition(status, "Progressing");
    REQUIRE(progressing);
    CHECK(progressing->at("reason") == "NewReplicaSetAvailable");
    CHECK(progressing->at("message") == "ReplicaSet \"web-new\" has successfully progressed.");
    // Its lastTransitionTime stayed (still True), lastUpdateTime moved.
    CHECK(progressing->at("lastTransitionTime") == "2024-05-01T12:00:00Z");
    CHECK(progressing->at("lastUpdateTime") == "2024-05-01T12:00:05Z");
    CHECK_FALSE(progress_check_after(d, status, now).has_value());
}

TEST_CASE("a rollout without progress times out after progressDeadlineSeconds") {
    const Time start = at("2024-05-01T12:00:00Z");
    auto d = deployment(2, json::value(1), json::value(0));
    d["spec"].as_object()["progressDeadlineSeconds"] = 10;
    auto old_rs = replica_set("web-old", 2, 2);
    auto new_rs = replica_set("web-new", 1, 0);
    d["status"] = rollout_status(d, {&old_rs, &new_rs}, &new_rs, start);
    REQUIRE(get_condition(d["status"].as_object(), "Progressing"));
    // No progress: the same status, checked again just after the deadline.
    auto again = rollout_status(d, {&old_rs, &new_rs}, &new_rs, start + 4s);
    CHECK(same_status(d.if_contains("status"), again));
    auto after = progress_check_after(d, again, start + 4s);
    REQUIRE(after.has_value());
    CHECK(*after == 7s);
    auto late = rollout_status(d, {&old_rs, &new_rs}, &new_rs, start + 11s);
    const auto* progressing = get_condition(late, "Progressing");
    REQUIRE(progressing);
    CHECK(progressing->at("status") == "False");
    CHECK(progressing->at("reason") == "ProgressDeadlineExceeded");
    CHECK(progressing->at("message") == "ReplicaSet \"web-new\" has timed out progressing.");
    CHECK(deployment_timed_out(d, late, start + 11s));
}

TEST_CASE("set_condition keeps status and reason, moving a changed condition to the end") {
    const Time t0 = at("2024-05-01T12:00:00Z");
    json::object status;
    set_condition(status, new_condition("Progressing", "True", "A", "a", t0));
    set_condition(status, new_condition("Available", "True", "X", "x", t0));
    set_condition(status, new_condition("Progressing", "True", "A", "other message", t0 + 1s));
    CHECK(status["conditions"].as_array()[0].at("message") == "a");  // unchanged
    set_condition(status, new_condition("Progressing", "True", "B", "b", t0 + 2s));
    const auto& list = status["conditions"].as_array();
    CHECK(list[0].at("type") == "Available");
    CHECK(list[1].at("reason") == "B");
    CHECK(list[1].at("lastTransitionTime") == "2024-05-01T12:00:00Z");
    CHECK(list[1].at("lastUpdateTime") == "2024-05-01T12:00:02Z");
}

TEST_CASE("scale-down deletes unassigned, pending, not-ready and younger pods first") {
    const Time now = at("2024-05-01T12:00:00Z");
    auto running_old = pod("old", "n1", "Running", true, "2024-04-01T00:00:00Z");
    auto running_new = pod("new", "n1", "Running", true, "2024-05-01T11:59:00Z");
    auto not_ready = pod("not-ready", "n1", "Running", false, "2024-04-01T00:00:00Z");
    auto pending = pod("pending", "n1", "Pending", false, "2024-04-01T00:00:00Z");
    auto unassigned = pod("unassigned", "", "Pending", false, "2024-04-01T00:00:00Z");
    Objects pods{&running_old, &running_new, &not_ready, &pending, &unassigned};
    auto order = pods_to_delete(pods, pods, 4, now);
    REQUIRE(order.size() == 4);
    CHECK(order[0] == &unassigned);
    CHECK(order[1] == &pending);
    CHECK(order[2] == &not_ready);
    CHECK(order[3] == &running_new);
    // A lower pod-deletion-cost goes before a younger pod.
    set_annotation(running_old, "controller.kubernetes.io/pod-deletion-cost", "-5");
    order = pods_to_delete({&running_old, &running_new}, {}, 1, now);
    CHECK(order[0] == &running_old);
    // Deleting all of them needs no ranking.
    CHECK(pods_to_delete(pods, pods, 10, now).size() == 5);
}

TEST_CASE("replica set status counts ready, available and fully labeled pods") {
    const Time now = at("2024-05-01T12:00:00Z");
    auto rs = replica_set("web-1", 3, 0);
    rs["spec"].as_object()["minReadySeconds"] = 10;
    kcube::api::metadata_of(rs)["generation"] = 2;
    auto long_ready = pod("a", "n1", "Running", true, "2024-05-01T11:00:00Z");
    auto just_ready = pod("b", "n1", "Running", true, "2024-05-01T11:59:55Z");
    auto unready = pod("c", "n1", "Running", false, "2024-05-01T11:00:00Z");
    kcube::api::metadata_of(unready)["labels"] = json::object{{"other", "x"}};
    auto status = replica_set_status(rs, {&long_ready, &just_ready, &unready}, std::nullopt, now);
    CHECK(status.at("replicas") == 3);
    CHECK(status.at("fullyLabeledReplicas") == 2);
    CHECK(status.at("readyReplicas") == 2);
    CHECK(status.at("availableReplicas") == 1);
    CHECK(status.at("observedGeneration") == 2);
    auto due = available_at(just_ready, 10, now);
    REQUIRE(due.has_value());
    CHECK(*due == at("2024-05-01T12:00:05Z"));
    CHECK_FALSE(available_at(long_ready, 10, now).has_value());

    status = replica_set_status(rs, {}, ReplicaFailure{"FailedCreate", "quota"}, now);
    const auto* failure = get_condition(status, "ReplicaFailure");
    REQUIRE(failure);
    CHECK(failure->at("reason") == "FailedCreate");
    CHECK(status.at("replicas") == 0);
    rs["status"] = status;
    status = replica_set_status(rs, {}, std::nullopt, now);
    CHECK(get_condition(status, "ReplicaFailure") == nullptr);
}

TEST_CASE("claiming: own matching, adopt orphans, release non-matching, ignore others") {
    const auto owner = parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
        "metadata":{"name":"web-1","namespace":"default","uid":"rs-uid"}})");
    const auto selector = kcube::api::LabelSelector::parse("app=web");
    auto orphan = pod("p", "", "Pending", false, "2024-05-01T11:00:00Z");
    CHECK(decide_claim(orphan, owner, selector) == Claim::kAdopt);
    auto adopted = with_owner(orphan, owner);
    CHECK(decide_claim(adopted, owner, selector) == Claim::kOwned);
    auto relabeled = adopted;
    kcube::api::metadata_of(relabeled)["labels"] = json::object{{"app", "other"}};
    CHECK(decide_claim(relabeled, owner, selector) == Claim::kRelease);
    auto released = without_owner(relabeled, "rs-uid");
    CHECK_FALSE(kcube::api::metadata_of(released).contains("ownerReferences"));
    auto foreign = orphan;
    kcube::api::metadata_of(foreign)["ownerReferences"] =
        json::array{json::object{{"apiVersion", "apps/v1"},
                                 {"kind", "ReplicaSet"},
                                 {"name", "x"},
                                 {"uid", "other"},
                                 {"controller", true}}};
    CHECK(decide_claim(foreign, owner, selector) == Claim::kIgnore);
    auto terminating = orphan;
    kcube::api::metadata_of(terminating)["deletionTimestamp"] = "2024-05-01T11:00:00Z";
    CHECK(decide_claim(terminating, owner, selector) == Claim::kIgnore);
}

TEST_CASE("a replica set's pods come from its template with an owner reference") {
    auto rs = replica_set("web-7d4b9c6f5", 1, 0);
    rs["spec"].as_object()["template"] = parse(R"({"metadata":{"labels":{"app":"web"},
        "annotations":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}})");
    auto p = pod_from_template(rs);
    CHECK(p.at("metadata").at("generateName") == "web-7d4b9c6f5-");
    CHECK(p.at("metadata").at("labels").at("app") == "web");
    CHECK(p.at("metadata").at("annotations").at("a") == "b");
    const auto& ref = p.at("metadata").at("ownerReferences").as_array().at(0);
    CHECK(ref.at("kind") == "ReplicaSet");
    CHECK(ref.at("uid") == "rs-uid");
    CHECK(ref.at("controller") == true);
    CHECK(p.at("spec").at("containers").as_array().size() == 1);
}
