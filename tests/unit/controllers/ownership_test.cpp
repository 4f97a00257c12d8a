#include "cluster/controllers/ownership.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

namespace json = boost::json;
using namespace kcube::controllers::ownership;
using Action = Decision::Action;

namespace {

json::object object_with(std::string_view refs, std::string_view finalizers = "[]") {
    auto o =
        json::parse(R"({"metadata":{"name":"x","namespace":"default","uid":"me"}})").as_object();
    auto& meta = o["metadata"].as_object();
    meta["ownerReferences"] = json::parse(refs);
    if (finalizers != "[]") meta["finalizers"] = json::parse(finalizers);
    return o;
}

const char* kTwoOwners = R"([
    {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"a","controller":true,
     "blockOwnerDeletion":true},
    {"apiVersion":"v1","kind":"ConfigMap","name":"cm","uid":"b"}])";

}  // namespace

TEST_CASE("owner references are read with their blocking flag") {
    const auto refs = owner_refs(object_with(kTwoOwners));
    REQUIRE(refs.size() == 2);
    CHECK(refs[0].kind == "ReplicaSet");
    CHECK(refs[0].block_owner_deletion);
    CHECK_FALSE(refs[1].block_owner_deletion);
    CHECK(group_of(refs[0].api_version) == "apps");
    CHECK(group_of(refs[1].api_version) == "");
}

TEST_CASE("an object with a solid owner stays and drops references to gone owners") {
    const auto o = object_with(kTwoOwners);
    const auto refs = owner_refs(o);
    CHECK(decide(o, refs, {OwnerState::kSolid, OwnerState::kSolid}, false).action == Action::kKeep);
    const auto d = decide(o, refs, {OwnerState::kDangling, OwnerState::kSolid}, false);
    CHECK(d.action == Action::kRemoveRefs);
    CHECK(d.uids == std::set<std::string>{"a"});
    const auto w = decide(o, refs, {OwnerState::kSolid, OwnerState::kWaiting}, false);
    CHECK(w.action == Action::kRemoveRefs);
    CHECK(w.uids == std::set<std::string>{"b"});
}

TEST_CASE("an object whose owners are all gone is deleted as its finalizers ask") {
    const auto o = object_with(kTwoOwners);
    const auto refs = owner_refs(o);
    auto d = decide(o, refs, {OwnerState::kDangling, OwnerState::kDangling}, true);
    CHECK(d.action == Action::kDelete);
    CHECK(d.policy == "Background");
    const auto orphaning = object_with(kTwoOwners, R"(["orphan"])");
    CHECK(decide(orphaning, refs, {OwnerState::kDangling, OwnerState::kDangling}, false).policy ==
          "Orphan");
}

TEST_CASE("dependents of a foreground deletion go in the foreground when they own others") {
    const auto o = object_with(kTwoOwners);
    const auto refs = owner_refs(o);
    auto with_dependents = decide(o, refs, {OwnerState::kWaiting, OwnerState::kDangling}, true);
    CHECK(with_dependents.action == Action::kDelete);
    CHECK(with_dependents.policy == "Foreground");
    auto leaf = decide(o, refs, {OwnerState::kWaiting, OwnerState::kDangling}, false);
    CHECK(leaf.policy == "Background");
}

TEST_CASE("objects without owners are never collected") {
    const auto o = object_with("[]");
    CHECK(decide(o, {}, {}, true).action == Action::kKeep);
}

TEST_CASE("finalizers and references are removed, and empty lists go") {
    auto o = object_with(kTwoOwners, R"(["foregroundDeletion","example.com/keep"])");
    CHECK(has_finalizer(o, "foregroundDeletion"));
    CHECK(remove_finalizer(o, "foregroundDeletion"));
    CHECK_FALSE(has_finalizer(o, "foregroundDeletion"));
    CHECK(has_finalizer(o, "example.com/keep"));
    CHECK_FALSE(remove_finalizer(o, "orphan"));
    CHECK(remove_finalizer(o, "example.com/keep"));
    CHECK_FALSE(o["metadata"].as_object().contains("finalizers"));
    CHECK(remove_owner_refs(o, {"a"}));
    CHECK(owner_refs(o).size() == 1);
    CHECK_FALSE(remove_owner_refs(o, {"zzz"}));
    CHECK(remove_owner_refs(o, {"b"}));
    CHECK_FALSE(o["metadata"].as_object().contains("ownerReferences"));
}
