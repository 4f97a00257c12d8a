#include "cluster/controllers/runtime/object_util.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

namespace json = boost::json;
using namespace kcube::controllers;

TEST_CASE("canonical JSON does not depend on key order") {
    auto a = json::parse(R"({"b":1,"a":{"y":[1,{"q":2,"p":1}],"x":null}})");
    auto b = json::parse(R"({"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1})");
    CHECK(canonical_json(a) == canonical_json(b));
    CHECK(canonical_json(a) == R"({"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1})");
}

TEST_CASE("stable hashes use upstream's alphabet and differ for different input") {
    const auto h1 = stable_hash("template-1");
    const auto h2 = stable_hash("template-2");
    CHECK(h1 != h2);
    CHECK(h1 == stable_hash("template-1"));
    for (char c : h1)
        CHECK(std::string_view("bcdfghjklmnpqrstvwxz2456789").find(c) != std::string_view::npos);
}

TEST_CASE("set_condition moves lastTransitionTime only when the status changes") {
    json::object status;
    CHECK(set_condition(status, "Available", "True", "MinimumReplicasAvailable", "ok"));
    auto first = json::serialize(status);
    CHECK_FALSE(set_condition(status, "Available", "True", "MinimumReplicasAvailable", "ok"));
    CHECK(json::serialize(status) == first);
    CHECK(set_condition(status, "Available", "False", "MinimumReplicasUnavailable", "not ok"));
    const auto* c = find_condition(status, "Available");
    REQUIRE(c);
    CHECK(c->at("status").as_string() == "False");
    CHECK(status.at("conditions").as_array().size() == 1);
}

TEST_CASE("owner references and controller lookup") {
    auto owner = json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
        "metadata":{"name":"web-1","uid":"u-1"}})")
                     .as_object();
    json::object pod{
        {"metadata", json::object{{"ownerReferences", json::array{owner_reference(owner)}}}}};
    CHECK(is_controlled_by(pod, owner));
    const auto* ref = controller_ref(pod);
    REQUIRE(ref);
    CHECK(ref->at("kind").as_string() == "ReplicaSet");
    CHECK(ref->at("blockOwnerDeletion").as_bool());
}

TEST_CASE("int_at reads dotted paths with a fallback") {
    auto object = json::parse(R"({"spec":{"replicas":3,"strategy":{"x":"y"}}})").as_object();
    CHECK(int_at(object, "spec.replicas", 1) == 3);
    CHECK(int_at(object, "spec.missing", 7) == 7);
    CHECK(int_at(object, "spec.strategy.x", 5) == 5);
}
