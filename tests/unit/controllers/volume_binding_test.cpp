#include "cluster/controllers/volume_binding.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

namespace json = boost::json;
using namespace kcube::controllers;
using namespace kcube::controllers::volumes;

namespace {

json::object parse(std::string_view text) {
    return json::parse(text).as_object();
}

ObjectPtr volume(std::string_view name, std::string_view size, std::string_view modes,
                 std::string_view extra = "{}") {
    auto v = parse(
        R"({"metadata":{"labels":{"tier":"fast"}},"spec":{},"status":{"phase":"Available"}})");
    v["metadata"].as_object()["name"] = name;
    auto& spec = v["spec"].as_object();
    spec["capacity"] = json::object{{"storage", size}};
    spec["accessModes"] = json::parse(modes);
    for (const auto& [k, value] : parse(extra))
        spec[k] = value;
    return std::make_shared<const json::object>(std::move(v));
}

json::object claim(std::string_view size, std::string_view modes, std::string_view extra = "{}") {
    auto c = parse(R"({"metadata":{"name":"data","namespace":"default","uid":"claim-uid"},
                       "spec":{"resources":{"requests":{}}}})");
    auto& spec = c["spec"].as_object();
    spec["resources"].as_object()["requests"].as_object()["storage"] = size;
    spec["accessModes"] = json::parse(modes);
    for (const auto& [k, value] : parse(extra))
        spec[k] = value;
    return c;
}

std::string name_of(const json::object* v) {
    return v ? std::string(v->at("metadata").as_object().at("name").as_string()) : "";
}

}  // namespace

TEST_CASE("the smallest volume that is big enough wins") {
    const std::vector<ObjectPtr> volumes = {volume("big", "10Gi", R"(["ReadWriteOnce"])"),
                                            volume("small", "1Gi", R"(["ReadWriteOnce"])"),
                                            volume("fits", "2Gi", R"(["ReadWriteOnce"])")};
    CHECK(name_of(find_matching_volume(claim("1500Mi", R"(["ReadWriteOnce"])"), volumes, nullptr,
                                       false)) == "fits");
    CHECK(name_of(find_matching_volume(claim("20Gi", R"(["ReadWriteOnce"])"), volumes, nullptr,
                                       false)) == "");
}

TEST_CASE("access modes must be a superset, fewest modes first") {
    const std::vector<ObjectPtr> volumes = {
        volume("rwx", "1Gi", R"(["ReadWriteOnce","ReadWriteMany"])"),
        volume("rwo", "5Gi", R"(["ReadWriteOnce"])")};
    CHECK(name_of(find_matching_volume(claim("1Gi", R"(["ReadWriteOnce"])"), volumes, nullptr,
                                       false)) == "rwo");
    CHECK(name_of(find_matching_volume(claim("1Gi", R"(["ReadWriteMany"])"), volumes, nullptr,
                                       false)) == "rwx");
    CHECK(name_of(find_matching_volume(claim("1Gi", R"(["ReadOnlyMany"])"), volumes, nullptr,
                                       false)) == "");
}

TEST_CASE("storage class, volume mode, selector and phase must match") {
    const std::vector<ObjectPtr> volumes = {
        volume("classy", "1Gi", R"(["ReadWriteOnce"])", R"({"storageClassName":"gold"})"),
        volume("block", "1Gi", R"(["ReadWriteOnce"])", R"({"volumeMode":"Block"})")};
    CHECK(name_of(find_matching_volume(claim("1Gi", R"(["ReadWriteOnce"])"), volumes, nullptr,
                                       false)) == "");
    CHECK(name_of(find_matching_volume(
              claim("1Gi", R"(["ReadWriteOnce"])", R"({"storageClassName":"gold"})"), volumes,
              nullptr, false)) == "classy");
    CHECK(name_of(find_matching_volume(
              claim("1Gi", R"(["ReadWriteOnce"])", R"({"volumeMode":"Block"})"), volumes, nullptr,
              false)) == "block");
    CHECK(name_of(find_matching_volume(
              claim("1Gi", R"(["ReadWriteOnce"])",
                    R"({"storageClassName":"gold","selector":{"matchLabels":{"tier":"slow"}}})"),
              volumes, nullptr, false)) == "");
    auto released = parse(json::serialize(*volume("old", "1Gi", R"(["ReadWriteOnce"])")));
    released["status"].as_object()["phase"] = "Released";
    CHECK(name_of(find_matching_volume(claim("1Gi", R"(["ReadWriteOnce"])"),
                                       {std::make_shared<const json::object>(released)}, nullptr,
                                       false)) == "");
}

TEST_CASE("a volume pre-bound to the claim is chosen even with delayed binding") {
    auto prebound = volume("mine", "5Gi", R"(["ReadWriteOnce"])",
                           R"({"claimRef":{"namespace":"default","name":"data"}})");
    auto other = volume("theirs", "1Gi", R"(["ReadWriteOnce"])",
                        R"({"claimRef":{"namespace":"default","name":"other"}})");
    auto free = volume("free", "1Gi", R"(["ReadWriteOnce"])");
    const auto c = claim("1Gi", R"(["ReadWriteOnce"])");
    CHECK(name_of(find_matching_volume(c, {free, other, prebound}, nullptr, false)) == "mine");
    CHECK(name_of(find_matching_volume(c, {free, prebound}, nullptr, true)) == "mine");
    CHECK(name_of(find_matching_volume(c, {free}, nullptr, true)) == "");
    CHECK(bound_to_claim(*prebound, c));
    CHECK_FALSE(bound_to_claim(*other, c));
}

TEST_CASE("node affinity limits volumes for a selected node") {
    auto local = volume("local", "1Gi", R"(["ReadWriteOnce"])",
                        R"({"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
                             {"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}}})");
    const auto n1 = parse(R"({"metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}}})");
    const auto n2 = parse(R"({"metadata":{"name":"n2","labels":{"kubernetes.io/hostname":"n2"}}})");
    const auto c = claim("1Gi", R"(["ReadWriteOnce"])");
    CHECK(name_of(find_matching_volume(c, {local}, &n1, true)) == "local");
    CHECK(name_of(find_matching_volume(c, {local}, &n2, true)) == "");
}

TEST_CASE("a named volume that does not fit says why") {
    const auto c = claim("2Gi", R"(["ReadWriteOnce"])");
    CHECK(volume_unsuitable(*volume("v", "1Gi", R"(["ReadWriteOnce"])"), c) ==
          "requested PV is too small");
    CHECK(volume_unsuitable(*volume("v", "2Gi", R"(["ReadOnlyMany"])"), c) ==
          "incompatible accessMode");
    CHECK(volume_unsuitable(
              *volume("v", "2Gi", R"(["ReadWriteOnce"])", R"({"storageClassName":"x"})"), c) ==
          "storageClassName does not match");
    CHECK_FALSE(volume_unsuitable(*volume("v", "3Gi", R"(["ReadWriteOnce"])"), c));
}

TEST_CASE("claim classes: annotation first, unset differs from empty, newest default") {
    CHECK_FALSE(claim_class(claim("1Gi", "[]")).has_value());
    CHECK(claim_class(claim("1Gi", "[]", R"({"storageClassName":""})")) == "");
    auto annotated = claim("1Gi", "[]", R"({"storageClassName":"a"})");
    annotated["metadata"].as_object()["annotations"] =
        json::object{{"volume.beta.kubernetes.io/storage-class", "b"}};
    CHECK(claim_class(annotated) == "b");
    auto make_class = [](std::string_view name, std::string_view created, bool is_default) {
        auto c = parse(R"({"metadata":{"annotations":{}}})");
        auto& meta = c["metadata"].as_object();
        meta["name"] = name;
        meta["creationTimestamp"] = created;
        if (is_default) {
            meta["annotations"].as_object()["storageclass.kubernetes.io/is-default-class"] = "true";
        }
        return std::make_shared<const json::object>(std::move(c));
    };
    const std::vector<ObjectPtr> classes = {make_class("old", "2026-01-01T00:00:00Z", true),
                                            make_class("new", "2026-02-01T00:00:00Z", true),
                                            make_class("plain", "2026-03-01T00:00:00Z", false)};
    CHECK(name_of(default_class(classes)) == "new");
}
