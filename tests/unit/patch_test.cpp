// Patch semantics. Expected results are upstream's (kubernetes apimachinery strategicpatch and
// evanphx/json-patch v4.12 as the apiserver uses them); the strategic cases are written against
// small hand-made schemas that mirror upstream's MergeItem test type and a Pod-like type.
#include "cluster/api/patch.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/api/schema.hpp"

namespace json = boost::json;
using kcube::api::apply_json_patch;
using kcube::api::apply_merge_patch;
using kcube::api::apply_strategic_merge_patch;
using kcube::api::PatchError;
using kcube::api::Schema;
using kcube::api::SchemaSet;

namespace {

// Tests build documents deeper than Boost's default parse limit on purpose.
json::value parse(std::string_view text) {
    json::parse_options options;
    options.max_depth = 100000;
    return json::parse(text, {}, options);
}

void expect_json(const json::value& actual, std::string_view expected) {
    const json::value want = parse(expected);
    INFO("actual:   " << json::serialize(actual));
    INFO("expected: " << json::serialize(want));
    CHECK(actual == want);
}

// Runs `apply` and checks that it fails with a PatchError whose message contains `fragment`.
void expect_error(const std::function<void()>& apply, std::string_view fragment,
                  bool bad_request = false) {
    try {
        apply();
        FAIL("expected a PatchError containing: " << fragment);
    } catch (const PatchError& e) {
        INFO("message: " << e.what());
        CHECK(std::string_view(e.what()).find(fragment) != std::string_view::npos);
        CHECK(e.bad_request() == bad_request);
    }
}

// A document nested `levels` deep: {"a":{"a":...{}}}.
std::string nested_object(std::size_t levels) {
    std::string text;
    for (std::size_t i = 1; i < levels; ++i)
        text += "{\"a\":";
    text += "{}";
    text.append(levels - 1, '}');
    return text;
}

// ---- Schema builders -----------------------------------------------------------------------

using SchemaPtr = std::shared_ptr<Schema>;

SchemaPtr scalar(std::string type) {
    auto schema = std::make_shared<Schema>();
    schema->type = std::move(type);
    return schema;
}

SchemaPtr object(std::vector<std::pair<std::string, SchemaPtr>> properties) {
    auto schema = std::make_shared<Schema>();
    schema->type = "object";
    for (auto& [name, property] : properties)
        schema->properties[name] = std::move(property);
    return schema;
}

SchemaPtr map_of(SchemaPtr values) {
    auto schema = std::make_shared<Schema>();
    schema->type = "object";
    schema->additional_properties = std::move(values);
    return schema;
}

SchemaPtr list_of(SchemaPtr items, std::string strategy = "", std::string merge_key = "") {
    auto schema = std::make_shared<Schema>();
    schema->type = "array";
    schema->items = std::move(items);
    schema->patch_strategy = std::move(strategy);
    schema->patch_merge_key = std::move(merge_key);
    return schema;
}

SchemaPtr ref(std::string name, std::string strategy = "", std::string merge_key = "") {
    auto schema = std::make_shared<Schema>();
    schema->ref = std::move(name);
    schema->patch_strategy = std::move(strategy);
    schema->patch_merge_key = std::move(merge_key);
    return schema;
}

SchemaPtr with_strategy(SchemaPtr schema, std::string strategy) {
    schema->patch_strategy = std::move(strategy);
    return schema;
}

SchemaPtr preserve_unknown() {
    auto schema = scalar("object");
    schema->preserve_unknown_fields = true;
    return schema;
}

SchemaPtr int_or_string() {
    auto schema = scalar("");
    schema->int_or_string = true;
    return schema;
}

// Upstream's MergeItem and RetainKeysMergeItem test types, plus a Pod-like type with the patch
// metadata of the real one (containers by name, ports by containerPort, env by name, finalizers
// as a primitive merge list, volumes with merge,retainKeys, a retainKeys strategy behind a $ref).
SchemaSet fake_schemas() {
    SchemaSet set;
    set.add(
        "test.MergeItem",
        object({
            {"name", scalar("string")},
            {"value", scalar("string")},
            {"other", scalar("string")},
            {"mergingList", list_of(ref("test.MergeItem"), "merge", "name")},
            {"nonMergingList", list_of(ref("test.MergeItem"))},
            {"mergingIntList", list_of(scalar("integer"), "merge")},
            {"nonMergingIntList", list_of(scalar("integer"))},
            {"mergeItemPtr", ref("test.MergeItem", "merge", "name")},
            {"simpleMap", map_of(scalar("string"))},
            {"replacingItem", with_strategy(preserve_unknown(), "replace")},
            {"retainKeysMap", ref("test.RetainKeysMergeItem", "retainKeys")},
            {"retainKeysMergingList", list_of(ref("test.MergeItem"), "merge,retainKeys", "name")},
            {"badStrategyList", list_of(ref("test.MergeItem"), "merge,replace", "name")},
            {"keylessMergingList", list_of(ref("test.MergeItem"), "merge")},
        }));
    set.add("test.RetainKeysMergeItem",
            object({
                {"name", scalar("string")},
                {"value", scalar("string")},
                {"other", scalar("string")},
                {"simpleMap", map_of(scalar("string"))},
                {"mergingIntList", list_of(scalar("integer"), "merge")},
                {"mergingList", list_of(ref("test.MergeItem"), "merge", "name")},
                {"nonMergingList", list_of(ref("test.MergeItem"))},
            }));

    set.add("test.Pod", object({
                            {"apiVersion", scalar("string")},
                            {"kind", scalar("string")},
                            {"metadata", ref("test.ObjectMeta")},
                            {"spec", ref("test.PodSpec")},
                            {"status", preserve_unknown()},
                        }));
    set.add("test.ObjectMeta",
            object({
                {"name", scalar("string")},
                {"labels", map_of(scalar("string"))},
                {"annotations", map_of(scalar("string"))},
                {"finalizers", list_of(scalar("string"), "merge")},
                {"ownerReferences", list_of(ref("test.OwnerReference"), "merge", "uid")},
            }));
    set.add("test.OwnerReference", object({{"uid", scalar("string")},
                                           {"kind", scalar("string")},
                                           {"name", scalar("string")}}));
    // A ref to a ref, to check that navigation follows chains.
    set.add("test.PodSpec", ref("test.PodSpecV1"));
    set.add("test.PodSpecV1",
            object({
                {"containers", list_of(ref("test.Container"), "merge", "name")},
                {"volumes", list_of(ref("test.Volume"), "merge,retainKeys", "name")},
                {"tolerations",
                 list_of(object({{"key", scalar("string")}, {"operator", scalar("string")}}))},
                {"nodeSelector", map_of(scalar("string"))},
                {"strategy", ref("test.Strategy", "retainKeys")},
                {"config", preserve_unknown()},
                {"priority", scalar("integer")},
            }));
    set.add("test.Container",
            object({
                {"name", scalar("string")},
                {"image", scalar("string")},
                {"args", list_of(scalar("string"))},
                {"ports", list_of(ref("test.ContainerPort"), "merge", "containerPort")},
                {"env", list_of(ref("test.EnvVar"), "merge", "name")},
                {"resources", object({{"limits", map_of(scalar("string"))},
                                      {"requests", map_of(scalar("string"))}})},
            }));
    set.add("test.ContainerPort", object({{"containerPort", scalar("integer")},
                                          {"protocol", scalar("string")},
                                          {"name", scalar("string")}}));
    set.add("test.EnvVar", object({{"name", scalar("string")},
                                   {"value", scalar("string")},
                                   {"valueFrom", preserve_unknown()}}));
    set.add("test.Volume", object({
                               {"name", scalar("string")},
                               {"emptyDir", object({{"medium", scalar("string")}})},
                               {"hostPath", object({{"path", scalar("string")}})},
                               {"configMap", object({{"name", scalar("string")}})},
                           }));
    set.add("test.Strategy", object({
                                 {"type", scalar("string")},
                                 {"rollingUpdate", object({{"maxSurge", int_or_string()},
                                                           {"maxUnavailable", int_or_string()}})},
                             }));
    return set;
}

// Applies a strategic merge patch to a document of type `type` ("" = no schema).
json::value smp(std::string_view document, std::string_view patch, std::string_view type) {
    const SchemaSet set = fake_schemas();
    const Schema* schema = type.empty() ? nullptr : set.find(type);
    if (!type.empty()) REQUIRE(schema != nullptr);
    return apply_strategic_merge_patch(parse(document), parse(patch), set, schema);
}

void expect_smp(std::string_view document, std::string_view patch, std::string_view expected,
                std::string_view type = "test.MergeItem") {
    INFO("document: " << document);
    INFO("patch:    " << patch);
    expect_json(smp(document, patch, type), expected);
}

void expect_smp_error(std::string_view document, std::string_view patch, std::string_view fragment,
                      bool bad_request = false, std::string_view type = "test.MergeItem") {
    INFO("patch: " << patch);
    expect_error([&] { smp(document, patch, type); }, fragment, bad_request);
}

json::value json_patch(std::string_view document, std::string_view patch) {
    return apply_json_patch(parse(document), parse(patch));
}

void expect_json_patch(std::string_view document, std::string_view patch,
                       std::string_view expected) {
    INFO("patch: " << patch);
    expect_json(json_patch(document, patch), expected);
}

void expect_json_patch_error(std::string_view document, std::string_view patch,
                             std::string_view fragment, bool bad_request = false) {
    INFO("patch: " << patch);
    expect_error([&] { json_patch(document, patch); }, fragment, bad_request);
}

void expect_merge(std::string_view document, std::string_view patch, std::string_view expected) {
    INFO("patch: " << patch);
    expect_json(apply_merge_patch(parse(document), parse(patch)), expected);
}

}  // namespace

// ==== JSON patch (RFC 6902, evanphx/json-patch v4.12) ========================================

TEST_CASE("json patch: add") {
    SUBCASE("a new member, and an existing member is replaced") {
        expect_json_patch(R"({"a":1})", R"([{"op":"add","path":"/b","value":{"c":[1]}}])",
                          R"({"a":1,"b":{"c":[1]}})");
        expect_json_patch(R"({"a":1})", R"([{"op":"add","path":"/a","value":"x"}])",
                          R"({"a":"x"})");
    }
    SUBCASE("array positions: index, one past the end, '-', negative from the end") {
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/0","value":0}])",
                          R"({"l":[0,1,2]})");
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/2","value":3}])",
                          R"({"l":[1,2,3]})");
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/-","value":3}])",
                          R"({"l":[1,2,3]})");
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/-1","value":3}])",
                          R"({"l":[1,2,3]})");
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/-3","value":0}])",
                          R"({"l":[0,1,2]})");
        // strconv.Atoi accepts a sign and leading zeros.
        expect_json_patch(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/+01","value":9}])",
                          R"({"l":[1,9,2]})");
    }
    SUBCASE("bad array positions") {
        expect_json_patch_error(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/3","value":0}])",
                                "error in add for path: '/l/3': Unable to access invalid index: 3");
        expect_json_patch_error(R"({"l":[1,2]})", R"([{"op":"add","path":"/l/-4","value":0}])",
                                "Unable to access invalid index: -4");
        expect_json_patch_error(R"({"l":[]})", R"([{"op":"add","path":"/l/x","value":0}])",
                                "value was not a proper array index: 'x'");
        expect_json_patch_error(R"({"l":[]})",
                                R"([{"op":"add","path":"/l/99999999999999999999","value":0}])",
                                "value out of range");
    }
    SUBCASE("a missing parent is an error") {
        expect_json_patch_error(R"({})", R"([{"op":"add","path":"/a/b","value":1}])",
                                "add operation does not apply: doc is missing path: \"/a/b\"");
        expect_json_patch_error(R"({"a":null})", R"([{"op":"add","path":"/a/b","value":1}])",
                                "doc is missing path");
        expect_json_patch_error(R"({"a":"s"})", R"([{"op":"add","path":"/a/b","value":1}])",
                                "doc is missing path");
        expect_json_patch_error(R"({})", R"([{"op":"add","path":"","value":{}}])",
                                "doc is missing path: \"\"");
    }
    SUBCASE("a missing value adds null") {
        expect_json_patch(R"({})", R"([{"op":"add","path":"/a"}])", R"({"a":null})");
    }
}

TEST_CASE("json patch: remove") {
    expect_json_patch(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])", R"({"b":2})");
    expect_json_patch(R"({"a":null})", R"([{"op":"remove","path":"/a"}])", R"({})");
    expect_json_patch(R"({"l":[1,2,3]})", R"([{"op":"remove","path":"/l/1"}])", R"({"l":[1,3]})");
    expect_json_patch(R"({"l":[1,2,3]})", R"([{"op":"remove","path":"/l/-1"}])", R"({"l":[1,2]})");
    expect_json_patch_error(R"({"a":1})", R"([{"op":"remove","path":"/b"}])",
                            "error in remove for path: '/b': Unable to remove nonexistent key: b");
    expect_json_patch_error(R"({"l":[1]})", R"([{"op":"remove","path":"/l/1"}])",
                            "Unable to access invalid index: 1");
    expect_json_patch_error(R"({"l":[1]})", R"([{"op":"remove","path":"/l/-"}])",
                            "strconv.Atoi: parsing \"-\": invalid syntax");
    expect_json_patch_error(R"({})", R"([{"op":"remove","path":"/a/b"}])",
                            "remove operation does not apply: doc is missing path");
}

TEST_CASE("json patch: replace") {
    expect_json_patch(R"({"a":1})", R"([{"op":"replace","path":"/a","value":[2]}])",
                      R"({"a":[2]})");
    expect_json_patch(R"({"l":[1,2]})", R"([{"op":"replace","path":"/l/-1","value":9}])",
                      R"({"l":[1,9]})");
    SUBCASE("a missing object member is added, as upstream does") {
        expect_json_patch(R"({"m":{}})", R"([{"op":"replace","path":"/m/k","value":"v"}])",
                          R"({"m":{"k":"v"}})");
    }
    SUBCASE("a missing array element or parent is an error") {
        expect_json_patch_error(R"({"l":[1]})", R"([{"op":"replace","path":"/l/1","value":0}])",
                                "replace operation does not apply: doc is missing key: /l/1");
        expect_json_patch_error(R"({})", R"([{"op":"replace","path":"/m/k","value":0}])",
                                "replace operation does not apply: doc is missing path: /m/k");
    }
    SUBCASE("the whole document") {
        expect_json_patch(R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])",
                          R"({"b":2})");
        // Upstream ignores a scalar replacement of the document (it wraps a nil error).
        expect_json_patch(R"({"a":1})", R"([{"op":"replace","path":"","value":3}])", R"({"a":1})");
    }
}

TEST_CASE("json patch: move and copy") {
    expect_json_patch(R"({"a":{"b":1},"c":{}})", R"([{"op":"move","from":"/a/b","path":"/c/d"}])",
                      R"({"a":{},"c":{"d":1}})");
    expect_json_patch(R"({"l":[1,2,3]})", R"([{"op":"move","from":"/l/0","path":"/l/-"}])",
                      R"({"l":[2,3,1]})");
    expect_json_patch(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a/b","path":"/c"}])",
                      R"({"a":{"b":[1]},"c":[1]})");
    expect_json_patch(R"({"l":[1,2]})", R"([{"op":"copy","from":"/l/1","path":"/l/0"}])",
                      R"({"l":[2,1,2]})");
    SUBCASE("copying a missing member copies null, as upstream does") {
        expect_json_patch(R"({})", R"([{"op":"copy","from":"/nope","path":"/a"}])",
                          R"({"a":null})");
    }
    SUBCASE("errors") {
        expect_json_patch_error(R"({})", R"([{"op":"move","from":"/nope","path":"/a"}])",
                                "error in move for path: 'nope': Unable to remove nonexistent key");
        expect_json_patch_error(R"({"a":{}})", R"([{"op":"move","from":"/a","path":"/a/b"}])",
                                "move operation does not apply: doc is missing destination path");
        expect_json_patch_error(R"({"a":1})", R"([{"op":"move","path":"/b"}])",
                                "move operation failed to decode from: operation, missing from "
                                "field");
        expect_json_patch_error(R"({"l":[]})", R"([{"op":"copy","from":"/l/0","path":"/a"}])",
                                "error in copy for from: '/l/0'");
        expect_json_patch_error(R"({})", R"([{"op":"copy","from":"/x/y","path":"/a"}])",
                                "copy operation does not apply: doc is missing from path: /x/y");
    }
    SUBCASE("copies are capped at 3 MiB in total") {
        json::value document = json::object{{"big", std::string(1024 * 1024, 'x')}};
        json::array patch;
        for (int i = 0; i < 2; ++i) {
            patch.push_back({{"op", "copy"}, {"from", "/big"}, {"path", "/c" + std::to_string(i)}});
        }
        CHECK_NOTHROW(apply_json_patch(document, patch));
        for (int i = 2; i < 4; ++i) {
            patch.push_back({{"op", "copy"}, {"from", "/big"}, {"path", "/c" + std::to_string(i)}});
        }
        expect_error([&] { apply_json_patch(document, patch); },
                     "the accumulated size increase of copy is");
    }
    SUBCASE("copying a document into itself repeatedly fails instead of exploding") {
        json::array patch;
        for (int i = 0; i < 60; ++i) {
            patch.push_back({{"op", "copy"}, {"from", "/a"}, {"path", "/a/b" + std::to_string(i)}});
        }
        expect_error([&] { apply_json_patch(parse(R"({"a":{"x":"0123456789"}})"), patch); },
                     "Unable to complete the copy");
    }
}

TEST_CASE("json patch: test") {
    const std::string_view document = R"({"a":{"x":1,"y":[1,"s",null]},"n":null,"i":1,"d":1.5})";
    expect_json_patch(document, R"([{"op":"test","path":"/a","value":{"y":[1,"s",null],"x":1}}])",
                      document);
    expect_json_patch(document, R"([{"op":"test","path":"/d","value":1.5}])", document);
    expect_json_patch(document, R"([{"op":"test","path":"/a/y/1","value":"s"}])", document);
    SUBCASE("an absent or null target matches an explicit null") {
        expect_json_patch(document, R"([{"op":"test","path":"/n","value":null}])", document);
        expect_json_patch(document, R"([{"op":"test","path":"/missing","value":null}])", document);
        expect_json_patch_error(document, R"([{"op":"test","path":"/missing","value":0}])",
                                "testing value /missing failed: test failed");
        expect_json_patch_error(document, R"([{"op":"test","path":"/missing"}])", "test failed");
    }
    SUBCASE("mismatches") {
        expect_json_patch_error(document, R"([{"op":"test","path":"/i","value":2}])",
                                "testing value /i failed");
        // Go compares the raw numbers: 1 and 1.0 differ.
        expect_json_patch_error(document, R"([{"op":"test","path":"/i","value":1.0}])",
                                "test failed");
        expect_json_patch_error(document, R"([{"op":"test","path":"/a","value":{"x":1}}])",
                                "test failed");
        expect_json_patch_error(document, R"([{"op":"test","path":"/a/y/5","value":1}])",
                                "error in test for path: '/a/y/5'");
    }
    SUBCASE("the whole document") {
        expect_json_patch(R"({"a":1})", R"([{"op":"test","path":"","value":{"a":1}}])",
                          R"({"a":1})");
        expect_json_patch_error(R"({"a":1})", R"([{"op":"test","path":"","value":{}}])",
                                "test failed");
    }
    SUBCASE("a failed test discards the operations before it") {
        const json::value original = parse(R"({"a":1})");
        expect_error(
            [&] {
                apply_json_patch(original, parse(R"([{"op":"add","path":"/b","value":2},
                                                    {"op":"test","path":"/a","value":5}])"));
            },
            "test failed");
        expect_json(original, R"({"a":1})");
    }
}

TEST_CASE("json patch: JSON pointers") {
    expect_json_patch(R"({"a/b":1,"m~n":2})",
                      R"([{"op":"replace","path":"/a~1b","value":3},
                          {"op":"replace","path":"/m~0n","value":4}])",
                      R"({"a/b":3,"m~n":4})");
    // "~01" decodes to "~1", not "/".
    expect_json_patch(R"({})", R"([{"op":"add","path":"/~01","value":1}])", R"({"~1":1})");
    expect_json_patch(R"({})", R"([{"op":"add","path":"/","value":1}])", R"({"":1})");
    // Upstream drops the first token whatever it is, so a path without the leading "/" acts on
    // the rest; a single token is a missing path.
    expect_json_patch(R"({})", R"([{"op":"add","path":"x/a","value":1}])", R"({"a":1})");
    expect_json_patch_error(R"({})", R"([{"op":"add","path":"a","value":1}])",
                            "doc is missing path");
    expect_json_patch(R"({"metadata":{"annotations":{"k8s.io/x":"1"}}})",
                      R"([{"op":"remove","path":"/metadata/annotations/k8s.io~1x"}])",
                      R"({"metadata":{"annotations":{}}})");
}

TEST_CASE("json patch: malformed patches") {
    SUBCASE("what cannot be decoded is a bad request") {
        expect_json_patch_error(R"({})", R"({"op":"add"})", "cannot unmarshal object", true);
        expect_json_patch_error(R"({})", R"("add")", "cannot unmarshal string", true);
        expect_json_patch_error(R"({})", R"([{"op":"add","path":"/a","value":1}, 5])",
                                "into Go value of type jsonpatch.Operation", true);
    }
    SUBCASE("a null patch has no operations") {
        expect_json_patch(R"({"a":1})", "null", R"({"a":1})");
        expect_json_patch(R"({"a":1})", "[]", R"({"a":1})");
    }
    SUBCASE("bad operations fail when applied (422), as upstream does") {
        expect_json_patch_error(R"({})", R"([{"path":"/a","value":1}])",
                                "Unexpected kind: unknown");
        expect_json_patch_error(R"({})", R"([{"op":null,"path":"/a"}])",
                                "Unexpected kind: unknown");
        expect_json_patch_error(R"({})", R"([{"op":7,"path":"/a"}])", "Unexpected kind: unknown");
        expect_json_patch_error(R"({})", R"([null])", "Unexpected kind: unknown");
        expect_json_patch_error(R"({})", R"([{"op":"frobnicate","path":"/a"}])",
                                "Unexpected kind: frobnicate");
        expect_json_patch_error(R"({})", R"([{"op":"add","path":5,"value":1}])",
                                "add operation failed to decode path: missing value");
        expect_json_patch_error(R"({"a":1})", R"([{"op":"replace","path":5,"value":1}])",
                                "replace operation failed to decode path: json: cannot unmarshal "
                                "number into Go value of type string");
        expect_json_patch_error(R"({})", R"([{"op":"remove"}])",
                                "remove operation failed to decode path");
        expect_json_patch_error(R"({})", R"([{"op":"test","path":["a"]}])",
                                "cannot unmarshal array");
    }
    SUBCASE("too many operations") {
        json::array patch;
        for (int i = 0; i < 10001; ++i)
            patch.push_back({{"op", "test"}, {"path", "/a"}});
        expect_error([&] { apply_json_patch(parse(R"({"a":null})"), patch); },
                     "The allowed maximum operations in a JSON patch is 10000, got 10001");
        patch.pop_back();
        for (auto& op : patch)
            op.as_object()["value"] = nullptr;
        CHECK_NOTHROW(apply_json_patch(parse(R"({"a":null})"), patch));
    }
    SUBCASE("a document that is not a container") {
        expect_error([&] { apply_json_patch(json::value(3), parse("[]")); }, "cannot unmarshal");
    }
}

TEST_CASE("json patch: nesting limits") {
    CHECK_NOTHROW(json_patch(nested_object(200), "[]"));
    expect_error([&] { json_patch(nested_object(201), "[]"); }, "the document nests deeper");
    expect_error(
        [&] {
            json_patch("{}", R"([{"op":"add","path":"/a","value":)" + nested_object(400) + "}]");
        },
        "the patch nests deeper", true);
    SUBCASE("values may not push the result past the limit") {
        const std::string value = nested_object(199);
        CHECK_NOTHROW(json_patch("{}", R"([{"op":"add","path":"/a","value":)" + value + "}]"));
        expect_error(
            [&] {
                json_patch(R"({"b":{}})", R"([{"op":"add","path":"/b/a","value":)" + value + "}]");
            },
            "the result would nest deeper than 200 levels");
        // Moving a deep subtree under itself one level at a time stops at the limit.
        json::array patch;
        for (int i = 0; i < 300; ++i) {
            patch.push_back({{"op", "add"}, {"path", "/t"}, {"value", json::object()}});
            patch.push_back({{"op", "move"}, {"from", "/a"}, {"path", "/t/a"}});
            patch.push_back({{"op", "move"}, {"from", "/t"}, {"path", "/a"}});
        }
        expect_error([&] { apply_json_patch(parse(R"({"a":{}})"), patch); }, "nest deeper");
    }
}

// ==== JSON merge patch (RFC 7386, evanphx/json-patch v4.12 MergePatch) =======================

TEST_CASE("merge patch: RFC 7386 appendix A") {
    expect_merge(R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})");
    expect_merge(R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})");
    expect_merge(R"({"a":"b"})", R"({"a":null})", R"({})");
    expect_merge(R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})");
    expect_merge(R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})");
    expect_merge(R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})");
    expect_merge(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})");
    expect_merge(R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})");
    expect_merge(R"(["a","b"])", R"(["c","d"])", R"(["c","d"])");
    expect_merge(R"({"a":"b"})", R"(["c"])", R"(["c"])");
    expect_merge(R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})");
    expect_merge(R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})");
    expect_merge(R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})");
}

TEST_CASE("merge patch: upstream's details") {
    SUBCASE("nested objects merge, keys keep their order") {
        const json::value result = apply_merge_patch(
            parse(R"({"metadata":{"name":"x","labels":{"a":"1","b":"2"}},"spec":{"replicas":1}})"),
            parse(R"({"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"replicas":3}})"));
        CHECK(json::serialize(result) ==
              R"({"metadata":{"name":"x","labels":{"b":"2","c":"3"}},"spec":{"replicas":3}})");
    }
    SUBCASE("a null in the document counts as absent") {
        expect_merge(R"({"a":null})", R"({"a":{"b":null,"c":1}})", R"({"a":{"c":1}})");
    }
    SUBCASE("null elements of new lists stay; null members of objects in them go") {
        expect_merge(R"({})", R"({"a":[null,{"b":null,"c":[{"d":null}]}]})",
                     R"({"a":[null,{"c":[{}]}]})");
    }
    SUBCASE("a non-object replacing an object is inserted as it is") {
        expect_merge(R"({"a":{"x":1}})", R"({"a":[{"b":null}]})", R"({"a":[{"b":null}]})");
    }
    SUBCASE("lists are replaced, never merged") {
        expect_merge(R"({"l":[1,2,3]})", R"({"l":[4]})", R"({"l":[4]})");
    }
    SUBCASE("bad documents and patches") {
        expect_error([] { apply_merge_patch(parse("null"), parse("{}")); },
                     "Invalid JSON Document");
        expect_error([] { apply_merge_patch(parse("{}"), parse("null")); }, "Invalid JSON Patch",
                     true);
        expect_error([] { apply_merge_patch(parse("{}"), parse(R"("x")")); }, "Invalid JSON Patch",
                     true);
        expect_error([] { apply_merge_patch(parse("{}"), parse("1")); }, "Invalid JSON Patch",
                     true);
    }
    SUBCASE("nesting limits") {
        CHECK_NOTHROW(apply_merge_patch(parse(nested_object(200)), parse(nested_object(200))));
        expect_error([] { apply_merge_patch(parse(nested_object(201)), parse("{}")); },
                     "the document nests deeper");
        expect_error([] { apply_merge_patch(parse("{}"), parse(nested_object(5000))); },
                     "the patch nests deeper", true);
    }
}

// ==== Strategic merge patch ===================================================================

TEST_CASE("strategic merge patch: maps and scalars") {
    SUBCASE("maps merge recursively, null deletes, scalars replace") {
        expect_smp(R"({"name":"a","value":"1","simpleMap":{"k1":"v1","k2":"v2"}})",
                   R"({"value":null,"other":"o","simpleMap":{"k1":null,"k3":"v3"}})",
                   R"({"name":"a","other":"o","simpleMap":{"k2":"v2","k3":"v3"}})");
    }
    SUBCASE("values change type by replacement (int-or-string)") {
        expect_smp(
            R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}}}})",
            R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":2,"maxUnavailable":"10%"}}}})",
            R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":2,"maxUnavailable":"10%"}}}})",
            "test.Pod");
        expect_smp(R"({"name":{"a":1}})", R"({"name":"x"})", R"({"name":"x"})");
        expect_smp(R"({"name":"x"})", R"({"name":{"a":1,"b":null}})", R"({"name":{"a":1}})");
    }
    SUBCASE("$patch: delete empties a map, $patch: replace replaces it") {
        // Upstream leaves an empty map rather than removing the key.
        expect_smp(R"({"simpleMap":{"key1":"1","key2":"1"}})",
                   R"({"simpleMap":{"$patch":"delete"}})", R"({"simpleMap":{}})");
        expect_smp(R"({"name":"1","value":"1"})", R"({"$patch":"replace"})", R"({})");
        expect_smp(R"({"name":"1","value":"1"})", R"({"other":"a","$patch":"replace"})",
                   R"({"other":"a"})");
        expect_smp(R"({"mergeItemPtr":{"name":"p","value":"v"}})",
                   R"({"mergeItemPtr":{"$patch":"replace","other":"o","value":null}})",
                   R"({"mergeItemPtr":{"other":"o"}})");
        expect_smp(R"({"name":"a"})", R"({"$patch":"delete","name":"b"})", R"({})");
    }
    SUBCASE("nulls in the original are kept, unmatched nulls in the patch are ignored") {
        expect_smp(R"({"thing":null})", R"({"nested":{"value":5}})",
                   R"({"thing":null,"nested":{"value":5}})");
        expect_smp(R"({"complex":{"key":null},"thing":null})", R"({"nested":{"value":5}})",
                   R"({"complex":{"key":null},"nested":{"value":5},"thing":null})");
        expect_smp(R"({})", R"({"complex":{"nested":null}})", R"({"complex":{}})");
        expect_smp(R"({})", R"({"complex":{"nested":null,"nested2":"foo"}})",
                   R"({"complex":{"nested2":"foo"}})");
        expect_smp(R"({"name":"foo"})", R"({"complex_nullable":{"key":{"a":"v","b":null}}})",
                   R"({"name":"foo","complex_nullable":{"key":{"a":"v"}}})");
        expect_smp(R"({})",
                   R"({"complex_nullable":[{"inner_one":{"key_one":"foo","key_two":null}}]})",
                   R"({"complex_nullable":[{"inner_one":{"key_one":"foo"}}]})");
        expect_smp(R"({})", R"({"complex_nullable":["key1",null,"key2"]})",
                   R"({"complex_nullable":["key1",null,"key2"]})");
        expect_smp(R"({"a":1})", R"({"b":null})", R"({"a":1})");
    }
    SUBCASE("a field with the replace strategy is replaced whole") {
        expect_smp(R"({"name":"o","replacingItem":{"Some":"Generic","Yaml":"Inside","Field":"P"}})",
                   R"({"replacingItem":{"Newly":"Modified","Yaml":"Inside"}})",
                   R"({"name":"o","replacingItem":{"Newly":"Modified","Yaml":"Inside"}})");
    }
    SUBCASE("a null patch changes nothing") {
        expect_smp(R"({"name":"a"})", "null", R"({"name":"a"})");
    }
}

TEST_CASE("strategic merge patch: lists of maps with a merge key") {
    SUBCASE("items merge by key, new items are appended, the patch's order wins") {
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2","value":"b"},{"name":"3"}]})",
                   R"({"mergingList":[{"name":"3","value":"c"},{"name":"1","value":"a"},
                                      {"name":"2","other":"x"}]})",
                   R"({"mergingList":[{"name":"3","value":"c"},{"name":"1","value":"a"},
                                      {"name":"2","value":"b","other":"x"}]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2","value":"b"},{"name":"3"}]})",
                   R"({"mergingList":[{"name":"3","value":"c"},{"name":"1","value":"a"}]})",
                   R"({"mergingList":[{"name":"2","value":"b"},{"name":"3","value":"c"},
                                      {"name":"1","value":"a"}]})");
        expect_smp(R"({"mergingList":[{"name":"1","other":"a"},{"name":"2"}]})",
                   R"({"mergingList":[{"name":"4","value":"4"}]})",
                   R"({"mergingList":[{"name":"4","value":"4"},{"name":"1","other":"a"},
                                      {"name":"2"}]})");
    }
    SUBCASE("nested merge lists and non-merging lists") {
        expect_smp(
            R"({"mergingList":[{"name":"1","mergingList":[{"name":"a","value":"1"}],
                               "nonMergingList":[{"name":"x"},{"name":"y"}]}]})",
            R"({"mergingList":[{"name":"1","mergingList":[{"name":"a","other":"2"},{"name":"b"}],
                               "nonMergingList":[{"name":"z"}]}]})",
            R"({"mergingList":[{"name":"1","mergingList":[{"name":"a","value":"1","other":"2"},
                                                          {"name":"b"}],
                               "nonMergingList":[{"name":"z"}]}]})");
    }
    SUBCASE("$patch: delete removes every item with the key; missing ones are ignored") {
        expect_smp(
            R"({"mergingList":[{"name":"1"},{"name":"1"},{"name":"2","value":"a"},{"name":"3"},
                               {"name":"3"}]})",
            R"({"mergingList":[{"name":"1","$patch":"delete"},{"name":"3","$patch":"delete"}]})",
            R"({"mergingList":[{"name":"2","value":"a"}]})");
        expect_smp(R"({"mergingList":[{"name":"1"}]})",
                   R"({"mergingList":[{"name":"9","$patch":"delete"},{"name":"2"}]})",
                   R"({"mergingList":[{"name":"2"},{"name":"1"}]})");
    }
    SUBCASE("$patch: replace makes the other items the list") {
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"}]})",
                   R"({"mergingList":[{"$patch":"replace"}]})", R"({"mergingList":[]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"}]})",
                   R"({"mergingList":[{"name":"3","value":null},{"$patch":"replace"}]})",
                   R"({"mergingList":[{"name":"3"}]})");
    }
    SUBCASE("empty lists") {
        expect_smp(R"({"mergingList":[]})", R"({"mergingList":[]})", R"({"mergingList":[]})");
        expect_smp(R"({"mergingList":[{"name":"1"}]})", R"({"mergingList":[]})",
                   R"({"mergingList":[{"name":"1"}]})");
        expect_smp(R"({"mergingList":[]})", R"({"mergingList":[{"name":"1"}]})",
                   R"({"mergingList":[{"name":"1"}]})");
    }
    SUBCASE("a new list loses its directive items (nested patch merge with empty list)") {
        expect_smp(R"({"name":"hi"})",
                   R"({"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]})",
                   R"({"name":"hi","mergingList":[{"name":"hello"}]})");
        expect_smp(R"({"name":"hi","mergingList":[{"name":"hello2"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"hello"},{"name":"doesntexist"}],
                       "mergingList":[{"name":"hello"}]})",
                   R"({"name":"hi","mergingList":[{"name":"hello"},{"name":"hello2"}]})");
    }
    SUBCASE("duplicate keys in the patch merge into one item") {
        expect_smp(R"({"mergingList":[]})",
                   R"({"mergingList":[{"name":"1","value":"a"},{"name":"1","other":"b"}]})",
                   R"({"mergingList":[{"name":"1","value":"a","other":"b"}]})");
    }
    SUBCASE("a list behind a pointer-like map field") {
        expect_smp(R"({"mergeItemPtr":{"name":"p","mergingList":[{"name":"1"}]}})",
                   R"({"mergeItemPtr":{"mergingList":[{"name":"2"}]}})",
                   R"({"mergeItemPtr":{"name":"p","mergingList":[{"name":"2"},{"name":"1"}]}})");
    }
}

TEST_CASE("strategic merge patch: primitive lists") {
    SUBCASE("merge lists are unioned") {
        expect_smp(R"({"mergingIntList":[1,2]})", R"({"mergingIntList":[2,3]})",
                   R"({"mergingIntList":[1,2,3]})");
        expect_smp(R"({"mergingIntList":[1,2,3]})", R"({"mergingIntList":[3,1,2]})",
                   R"({"mergingIntList":[3,1,2]})");
        expect_smp(R"({"mergingIntList":[1,2,3]})", R"({"mergingIntList":[3,1]})",
                   R"({"mergingIntList":[2,3,1]})");
        // Items the original lacks come before the server-only ones, as upstream orders them.
        expect_smp(R"({"mergingIntList":[1,1,2]})", R"({"mergingIntList":[3,3]})",
                   R"({"mergingIntList":[3,1,2]})");
    }
    SUBCASE("other lists are replaced") {
        expect_smp(R"({"nonMergingIntList":[1,2]})", R"({"nonMergingIntList":[3]})",
                   R"({"nonMergingIntList":[3]})");
        expect_smp(R"({"nonMergingList":[{"name":"1"}]})", R"({"nonMergingList":[{"name":"2"}]})",
                   R"({"nonMergingList":[{"name":"2"}]})");
    }
    SUBCASE("$deleteFromPrimitiveList") {
        expect_smp(R"({"mergingIntList":[1,2,3,3,4]})",
                   R"({"$deleteFromPrimitiveList/mergingIntList":[3]})",
                   R"({"mergingIntList":[1,2,4]})");
        expect_smp(R"({"mergingIntList":[1,2]})",
                   R"({"$deleteFromPrimitiveList/mergingIntList":[3]})",
                   R"({"mergingIntList":[1,2]})");
        expect_smp(R"({"mergingIntList":null})",
                   R"({"$deleteFromPrimitiveList/mergingIntList":[3]})",
                   R"({"mergingIntList":null})");
        expect_smp(R"({"foo":["bar"]})", R"({"$deleteFromPrimitiveList/mergingIntList":[3]})",
                   R"({"foo":["bar"]})");
        // Deletion lists apply whatever the field's strategy is.
        expect_smp(R"({"nonMergingIntList":[1,2,3]})",
                   R"({"$deleteFromPrimitiveList/nonMergingIntList":[2]})",
                   R"({"nonMergingIntList":[1,3]})");
        expect_smp(R"({"mergingIntList":[1,2,3,4]})",
                   R"({"$setElementOrder/mergingIntList":[1,2,4],
                       "$deleteFromPrimitiveList/mergingIntList":[3],"mergingIntList":[4]})",
                   R"({"mergingIntList":[1,2,4]})");
    }
    SUBCASE("element types must agree") {
        expect_smp_error(R"({"mergingIntList":[1]})", R"({"mergingIntList":["a"]})",
                         "list element types are not identical");
        // Go decodes 1 as int64 and 1.5 as float64.
        expect_smp_error(R"({"mergingIntList":[1]})", R"({"mergingIntList":[1.5]})",
                         "list element types are not identical");
        expect_smp_error(R"({"mergingIntList":[1]})", R"({"mergingIntList":[null]})",
                         "list element types are not identical");
        expect_smp_error(R"({"mergingIntList":[[1]]})", R"({"mergingIntList":[[2]]})",
                         "lists of lists are not supported");
    }
}

TEST_CASE("strategic merge patch: $setElementOrder") {
    SUBCASE("orders the merged list; items it does not list keep the live order") {
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"3"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"3"},{"name":"2"},{"name":"1"}],
                       "mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})",
                   R"({"mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})");
        expect_smp(R"({"mergingIntList":[1,3]})", R"({"$setElementOrder/mergingIntList":[3,2,1]})",
                   R"({"mergingIntList":[3,1]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2","value":"2"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"4"},{"name":"1"},{"name":"2"},
                                                        {"name":"3"}],
                       "mergingList":[{"name":"4","value":"4"},{"name":"3","value":"3"}]})",
                   R"({"mergingList":[{"name":"4","value":"4"},{"name":"1"},
                                      {"name":"2","value":"2"},{"name":"3","value":"3"}]})");
    }
    SUBCASE("server-only items are interleaved by their live position") {
        expect_smp(R"({"mergingList":[{"name":"1","other":"a"},{"name":"3"},{"name":"4"},
                                      {"name":"2"},{"name":"9"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"4"},{"name":"2"},{"name":"3"},
                                                        {"name":"1"}]})",
                   R"({"mergingList":[{"name":"4"},{"name":"2"},{"name":"3"},
                                      {"name":"1","other":"a"},{"name":"9"}]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"},{"name":"9"},{"name":"3"},
                                      {"name":"4"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"2"},{"name":"1"},{"name":"4"},
                                                        {"name":"3"}]})",
                   R"({"mergingList":[{"name":"2"},{"name":"1"},{"name":"9"},{"name":"4"},
                                      {"name":"3"}]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"},{"name":"7"},{"name":"9"},
                                      {"name":"8"},{"name":"3"},{"name":"4"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"2"},{"name":"1"},{"name":"4"},
                                                        {"name":"3"}]})",
                   R"({"mergingList":[{"name":"2"},{"name":"1"},{"name":"7"},{"name":"9"},
                                      {"name":"8"},{"name":"4"},{"name":"3"}]})");
        expect_smp(R"({"mergingIntList":[1,2,7,9,8,3,4]})",
                   R"({"$setElementOrder/mergingIntList":[2,1,4,3]})",
                   R"({"mergingIntList":[2,1,7,9,8,4,3]})");
    }
    SUBCASE("duplicates keep their relative order") {
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2","value":"dup1"},{"name":"3"},
                                      {"name":"2","value":"dup2"},{"name":"4"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"2"},{"name":"1"},{"name":"4"},
                                                        {"name":"3"},{"name":"2"}]})",
                   R"({"mergingList":[{"name":"2","value":"dup1"},{"name":"2","value":"dup2"},
                                      {"name":"1"},{"name":"4"},{"name":"3"}]})");
        expect_smp(R"({"mergingIntList":[1,2,3,2,4]})",
                   R"({"$setElementOrder/mergingIntList":[2,1,4,3,2]})",
                   R"({"mergingIntList":[2,2,1,4,3]})");
    }
    SUBCASE("a list the original does not have") {
        expect_smp(R"({})",
                   R"({"$setElementOrder/mergingList":[{"name":"b"},{"name":"a"}],
                       "mergingList":[{"name":"b","x":null},{"name":"a"}]})",
                   R"({"mergingList":[{"name":"b"},{"name":"a"}]})");
        expect_smp(R"({})", R"({"$setElementOrder/mergingList":[{"name":"b"}]})", R"({})");
    }
    SUBCASE("errors") {
        expect_smp_error(
            R"({"mergingList":[{"name":"1"},{"name":"3"},{"name":"2"}]})",
            R"({"$setElementOrder/mergingList":[{"name":"1"},{"name":"2"},{"name":"3"}],
                             "mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})",
            "doesn't match");
        expect_smp_error(R"({"mergingIntList":[1,3,2]})",
                         R"({"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]})",
                         "doesn't match");
        expect_smp_error(R"({"mergingList":[]})", R"({"$setElementOrderX":[]})",
                         "invalid patch format of setElementOrder list", true);
        expect_smp_error(R"({"mergingList":[]})", R"({"$setElementOrder/mergingList":{}})",
                         "expected a []interface {}, but received a map[string]interface {}");
        expect_smp_error(R"({"mergingList":"x"})",
                         R"({"$setElementOrder/mergingList":[{"name":"1"}]})",
                         "but received a string");
        expect_smp_error(R"({"mergingList":[]})", R"({"$setElementOrder/mergingList":[]})",
                         "no elements in any of the given slices");
        expect_smp_error(R"({"mergingList":[{"name":"1"}]})",
                         R"({"$setElementOrder/mergingList":[{"value":"1"}],
                             "mergingList":[{"name":"1"}]})",
                         "does not contain declared merge key: name");
    }
}

TEST_CASE("strategic merge patch: upstream's ordering in corner cases") {
    // These results were checked against the upstream Go code.
    SUBCASE("kubectl apply removing one item and adding another before a server-only one") {
        // Upstream deletes in place, so the added item takes the freed slot of the live list
        // and sorts after the server-only item.
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"},{"name":"3"}]})",
                   R"({"$setElementOrder/mergingList":[{"name":"1"},{"name":"4"}],
                       "mergingList":[{"name":"4"},{"name":"2","$patch":"delete"}]})",
                   R"({"mergingList":[{"name":"1"},{"name":"3"},{"name":"4"}]})");
        expect_smp(R"({"mergingList":[{"name":"1"},{"name":"2"},{"name":"3"}]})",
                   R"({"mergingList":[{"name":"4"},{"name":"2","$patch":"delete"}]})",
                   R"({"mergingList":[{"name":"4"},{"name":"1"},{"name":"3"}]})");
    }
    SUBCASE("an empty patch list only deduplicates, in Go's order") {
        expect_smp(R"({"mergingIntList":[1,1,2,3]})", R"({"mergingIntList":[]})",
                   R"({"mergingIntList":[1,3,2]})");
        expect_smp(R"({"mergingIntList":[1,1,2,3]})",
                   R"({"mergingIntList":[],"$setElementOrder/mergingIntList":[3]})",
                   R"({"mergingIntList":[1,3,2]})");
    }
    SUBCASE("an empty $setElementOrder sorts with Go's stable sort") {
        expect_smp(R"({"mergingIntList":[1,2,3]})",
                   R"({"mergingIntList":[5,4],"$setElementOrder/mergingIntList":[]})",
                   R"({"mergingIntList":[1,2,3,4,5]})");
        expect_smp(
            R"({"mergingList":[{"name":"a"},{"name":"b"}]})",
            R"({"mergingList":[{"name":"c"},{"name":"d"}],"$setElementOrder/mergingList":[]})",
            R"({"mergingList":[{"name":"a"},{"name":"b"},{"name":"d"},{"name":"c"}]})");
        // Long enough for the merge phase of Go's sort (blocks of 20).
        expect_smp(
            R"({"mergingIntList":[26,25,13,39,12,15,16,9,6,17,25,34,35,6,40,32,13,27,40,38,14,24,
                                  25,14,10,30,12,37,22,6]})",
            R"({"mergingIntList":[57,43,56,51,53,42,49,58,41,54,47,52],
                "$setElementOrder/mergingIntList":[]})",
            R"({"mergingIntList":[26,25,13,39,12,15,16,9,6,17,34,35,40,32,27,38,14,24,10,30,37,22,
                                  52,47,54,41,58,49,42,53,51,56,43,57]})");
    }
}

TEST_CASE("strategic merge patch: $retainKeys") {
    SUBCASE("without the directive, retainKeys fields merge as usual") {
        expect_smp(R"({"retainKeysMap":{"name":"foo"}})", R"({"retainKeysMap":{"value":"bar"}})",
                   R"({"retainKeysMap":{"name":"foo","value":"bar"}})");
        expect_smp(R"({"retainKeysMap":{"name":"foo","value":"a"}})",
                   R"({"retainKeysMap":{"value":null}})", R"({"retainKeysMap":{"name":"foo"}})");
        expect_smp(R"({"retainKeysMap":{"name":"foo","value":"a"}})", R"({"retainKeysMap":{}})",
                   R"({"retainKeysMap":{"name":"foo","value":"a"}})");
        expect_smp(R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]})",
                   R"({"retainKeysMergingList":[{"name":"foo","value":null}]})",
                   R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo"}]})");
    }
    SUBCASE("the directive clears the keys it does not list") {
        expect_smp(R"({"retainKeysMap":{"name":"foo","value":"a","other":"b"}})",
                   R"({"retainKeysMap":{"$retainKeys":["name","other"],"other":"c"}})",
                   R"({"retainKeysMap":{"name":"foo","other":"c"}})");
        expect_smp(R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]})",
                   R"({"retainKeysMergingList":[{"name":"foo","other":"b",
                                                 "$retainKeys":["name","other"]}]})",
                   R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","other":"b"}]})");
    }
    SUBCASE("with nested merging int lists") {
        expect_smp(R"({"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3,4]}})",
                   R"({"retainKeysMap":{"$retainKeys":["mergingIntList","name"],
                                         "$deleteFromPrimitiveList/mergingIntList":[2],
                                         "$setElementOrder/mergingIntList":[1,3]}})",
                   R"({"retainKeysMap":{"name":"foo","mergingIntList":[1,3,4]}})");
        expect_smp(R"({"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3,4]}})",
                   R"({"retainKeysMap":{"$retainKeys":["mergingIntList","name"],
                                         "mergingIntList":[5],
                                         "$deleteFromPrimitiveList/mergingIntList":[2],
                                         "$setElementOrder/mergingIntList":[1,3,5]}})",
                   R"({"retainKeysMap":{"name":"foo","mergingIntList":[1,3,5,4]}})");
    }
    SUBCASE("errors") {
        expect_smp_error(R"({"retainKeysMap":{"name":"foo"}})",
                         R"({"retainKeysMap":{"$retainKeys":"name"}})",
                         "invalid patch format of retainKeys", true);
        expect_smp_error(R"({"retainKeysMap":{"name":"foo"}})",
                         R"({"retainKeysMap":{"$retainKeys":["name"],"value":"x"}})",
                         "invalid patch format of retainKeys", true);
    }
}

TEST_CASE("strategic merge patch: directive errors") {
    expect_smp_error(R"({"simpleMap":{}})", R"({"simpleMap":{"$patch":"frobnicate"}})",
                     "unknown patch type: frobnicate in map");
    expect_smp_error(R"({"simpleMap":{}})", R"({"simpleMap":{"$patch":"merge"}})",
                     "unknown patch type: merge");
    expect_smp_error(R"({"simpleMap":{}})", R"({"simpleMap":{"$patch":7}})", "unknown patch type");
    expect_smp_error(R"({"mergingList":[{"name":"1"}]})",
                     R"({"mergingList":[{"name":"1","$patch":"frobnicate"}]})",
                     "unknown patch type: frobnicate");
    expect_smp_error(R"({"mergingList":[{"name":"1"}]})",
                     R"({"mergingList":[{"name":"1","$patch":null}]})", "unknown patch type");
    expect_smp_error(R"({"mergingList":[{"name":"1"}]})", R"({"mergingList":[{"$patch":"merge"}]})",
                     "merging lists cannot yet be specified in the patch");
    expect_smp_error(R"({"mergingList":[{"name":"1"}]})",
                     R"({"mergingList":[{"$patch":"delete"}]})",
                     "does not contain declared merge key: name");
    expect_smp_error(R"({"mergingList":[{"name":"1","value":"a"}]})",
                     R"({"mergingList":[{"value":"b"}]})", "does not contain declared merge key");
    expect_smp_error(R"({"mergingList":[{"value":"a"}]})", R"({"mergingList":[{"name":"b"}]})",
                     "does not contain declared merge key");
    expect_smp_error(R"({"mergingIntList":[1]})",
                     R"({"$deleteFromPrimitiveListmergingIntList":[1]})",
                     "invalid patch format of primitive list", true);
    expect_smp_error(R"({"keylessMergingList":[{"name":"a"}]})",
                     R"({"keylessMergingList":[{"name":"b"}]})",
                     "cannot merge lists without merge key for keylessMergingList");
    expect_smp_error(R"({"badStrategyList":[{"name":"a"}]})",
                     R"({"badStrategyList":[{"name":"b"}]})", "unexpected patch strategy");
}

TEST_CASE("strategic merge patch: bad inputs and limits") {
    expect_smp_error("{}", "[]", "cannot unmarshal array into Go value of type map", true);
    expect_smp_error("{}", "3", "cannot unmarshal number", true);
    expect_error([] { smp("[]", "{}", "test.MergeItem"); }, "invalid JSON document");
    CHECK_NOTHROW(smp(nested_object(200), nested_object(200), "test.MergeItem"));
    expect_error([] { smp(nested_object(201), "{}", "test.MergeItem"); },
                 "the document nests deeper");
    expect_error([] { smp("{}", nested_object(5000), "test.MergeItem"); }, "the patch nests deeper",
                 true);
}

TEST_CASE("strategic merge patch: patch syntax never reaches the result") {
    SUBCASE("new fields") {
        expect_smp(R"({})",
                   R"({"mergeItemPtr":{"name":"n","x":null,"mergingList":[{"name":"a"},
                         {"name":"b","$patch":"delete"}],"$setElementOrder/mergingList":[],
                         "$retainKeys":["name"],"$deleteFromPrimitiveList/l":[1],
                         "sub":{"$patch":"replace","a":1}}})",
                   R"({"mergeItemPtr":{"name":"n","mergingList":[{"name":"a"}]}})");
        expect_smp(R"({"name":"a"})", R"({"simpleMap":{"$patch":"delete"}})", R"({"name":"a"})");
        expect_smp(R"({"simpleMap":"scalar"})", R"({"simpleMap":{"$patch":"delete"}})", R"({})");
    }
    SUBCASE("appended list items and replaced lists") {
        expect_smp(R"({"mergingList":[{"name":"1"}]})",
                   R"({"mergingList":[{"name":"2","value":null,
                                       "mergingList":[{"name":"x","$patch":"delete"}]}]})",
                   R"({"mergingList":[{"name":"2","mergingList":[]},{"name":"1"}]})");
        expect_smp(R"({"nonMergingList":[{"name":"1"}]})",
                   R"({"nonMergingList":[{"name":"2","value":null},{"$patch":"delete"}]})",
                   R"({"nonMergingList":[{"name":"2"}]})");
    }
}

TEST_CASE("strategic merge patch: a Pod-like object") {
    const std::string pod = R"({
        "apiVersion":"v1","kind":"Pod",
        "metadata":{"name":"p","labels":{"app":"web","tier":"fe"},
                    "finalizers":["a.io/x","b.io/y"],
                    "ownerReferences":[{"uid":"u1","kind":"ReplicaSet","name":"rs"}]},
        "spec":{
          "containers":[
            {"name":"web","image":"nginx:1","args":["-a","-b"],
             "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}],
             "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
             "resources":{"limits":{"cpu":"1"}}},
            {"name":"sidecar","image":"busybox"}],
          "volumes":[{"name":"data","emptyDir":{}},{"name":"cfg","configMap":{"name":"c"}}],
          "tolerations":[{"key":"a","operator":"Exists"},{"key":"b","operator":"Exists"}],
          "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}},
          "config":{"x":{"y":1},"list":[1,2]},
          "priority":5},
        "status":{"phase":"Running","conditions":[{"type":"Ready"}]}})";
    const auto patched = [&](std::string_view patch) { return smp(pod, patch, "test.Pod"); };
    const auto at = [](const json::value& value, std::string_view pointer) {
        return value.at_pointer(pointer);
    };

    SUBCASE("kubectl set image: containers merge by name") {
        const auto result =
            patched(R"({"spec":{"containers":[{"name":"web","image":"nginx:2"}]}})");
        CHECK(at(result, "/spec/containers/0/image") == "nginx:2");
        CHECK(at(result, "/spec/containers/0/ports").as_array().size() == 2);
        CHECK(at(result, "/spec/containers/1/name") == "sidecar");
        CHECK(at(result, "/metadata/name") == "p");
    }
    SUBCASE("add and delete containers") {
        const auto result = patched(R"({"spec":{"containers":[
            {"name":"sidecar","$patch":"delete"},{"name":"extra","image":"alpine"}]}})");
        // A new item goes before the items the patch does not mention (upstream's order).
        expect_json(at(result, "/spec/containers/0"), R"({"name":"extra","image":"alpine"})");
        CHECK(at(result, "/spec/containers/1/name") == "web");
        CHECK(at(result, "/spec/containers").as_array().size() == 2);
    }
    SUBCASE("ports merge on an integer key, env by name, args are atomic") {
        const auto result = patched(R"({"spec":{"containers":[{"name":"web",
            "ports":[{"containerPort":443,"name":"https"},{"containerPort":8080}],
            "env":[{"name":"B","value":null,"valueFrom":{"fieldRef":{"fieldPath":"x"}}}],
            "args":["-c"]}]}})");
        expect_json(at(result, "/spec/containers/0/ports"),
                    R"([{"containerPort":80,"protocol":"TCP"},
                        {"containerPort":443,"name":"https"},{"containerPort":8080}])");
        expect_json(at(result, "/spec/containers/0/env"),
                    R"([{"name":"A","value":"1"},
                        {"name":"B","valueFrom":{"fieldRef":{"fieldPath":"x"}}}])");
        expect_json(at(result, "/spec/containers/0/args"), R"(["-c"])");
    }
    SUBCASE("finalizers: union and deletion list") {
        auto result = patched(R"({"metadata":{"finalizers":["c.io/z","a.io/x"]}})");
        expect_json(at(result, "/metadata/finalizers"), R"(["c.io/z","a.io/x","b.io/y"])");
        result = patched(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a.io/x"]}})");
        expect_json(at(result, "/metadata/finalizers"), R"(["b.io/y"])");
        result = patched(R"({"metadata":{"finalizers":null}})");
        CHECK(at(result, "/metadata").as_object().contains("finalizers") == false);
    }
    SUBCASE("labels, ownerReferences, tolerations") {
        const auto result = patched(R"({"metadata":{"labels":{"tier":null,"v":"2"},
            "ownerReferences":[{"uid":"u1","name":"rs2"},{"uid":"u2","kind":"Job","name":"j"}]},
            "spec":{"tolerations":[{"key":"c","operator":"Exists"}]}})");
        expect_json(at(result, "/metadata/labels"), R"({"app":"web","v":"2"})");
        expect_json(at(result, "/metadata/ownerReferences"),
                    R"([{"uid":"u1","kind":"ReplicaSet","name":"rs2"},
                        {"uid":"u2","kind":"Job","name":"j"}])");
        expect_json(at(result, "/spec/tolerations"), R"([{"key":"c","operator":"Exists"}])");
    }
    SUBCASE("volumes: switching the source with $retainKeys") {
        const auto result = patched(R"({"spec":{
            "$setElementOrder/volumes":[{"name":"data"},{"name":"cfg"}],
            "volumes":[{"name":"data","hostPath":{"path":"/d"},"$retainKeys":["hostPath","name"]}]}})");
        expect_json(at(result, "/spec/volumes"),
                    R"([{"name":"data","hostPath":{"path":"/d"}},
                        {"name":"cfg","configMap":{"name":"c"}}])");
    }
    SUBCASE("strategy: retainKeys declared on the $ref'd field") {
        const auto result =
            patched(R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})");
        expect_json(at(result, "/spec/strategy"), R"({"type":"Recreate"})");
    }
    SUBCASE("preserve-unknown fields merge maps and replace lists") {
        const auto result = patched(R"({"spec":{"config":{"x":{"z":2},"list":[3]}},
                                       "status":{"conditions":[{"type":"Scheduled"}]}})");
        expect_json(at(result, "/spec/config"), R"({"x":{"y":1,"z":2},"list":[3]})");
        expect_json(at(result, "/status"),
                    R"({"phase":"Running","conditions":[{"type":"Scheduled"}]})");
    }
    SUBCASE("the order of merged containers follows the patch") {
        const auto result = patched(R"({"spec":{
            "$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}]}})");
        CHECK(at(result, "/spec/containers/0/name") == "sidecar");
        CHECK(at(result, "/spec/containers/1/name") == "web");
    }
}

TEST_CASE("strategic merge patch: without a schema lists are replaced") {
    expect_smp(R"({"spec":{"items":[{"name":"a"},{"name":"b"}],"m":{"x":1}}})",
               R"({"spec":{"items":[{"name":"c"}],"m":{"y":2}}})",
               R"({"spec":{"items":[{"name":"c"}],"m":{"x":1,"y":2}}})", "");
    expect_smp(R"({"spec":{"containers":[{"name":"a"}]}})",
               R"({"spec":{"containers":[{"name":"b"}]}})",
               R"({"spec":{"containers":[{"name":"b"}]}})", "");
    // Directives still apply.
    expect_smp(R"({"a":{"x":1,"y":2},"l":[1,2,3]})",
               R"({"a":{"$retainKeys":["x"]},"$deleteFromPrimitiveList/l":[2]})",
               R"({"a":{"x":1},"l":[1,3]})", "");
    expect_smp(R"({"a":{"x":1}})", R"({"a":{"$patch":"replace","y":1}})", R"({"a":{"y":1}})", "");
    // Fields the schema does not know behave the same way.
    expect_smp(R"({"unknown":[{"name":"a"}]})", R"({"unknown":[{"name":"b"}]})",
               R"({"unknown":[{"name":"b"}]})");
    // Lists of maps without a merge key can still be ordered (upstream would panic).
    expect_smp(R"({"l":[{"a":1},{"b":2}]})", R"({"$setElementOrder/l":[{"b":2},{"a":1}]})",
               R"({"l":[{"b":2},{"a":1}]})", "");
}

// ==== Robustness ==============================================================================

namespace {

// Small random JSON made of the vocabulary patches use, so that random patches hit real paths,
// directives and merge keys.
class RandomJson {
  public:
    explicit RandomJson(unsigned seed) : engine_(seed) {}

    json::value value(int depth) {
        switch (pick(depth > 0 ? 9 : 5)) {
            case 0:
                return nullptr;
            case 1:
                return pick(2) == 0;
            case 2:
                return static_cast<std::int64_t>(pick(4));
            case 3:
                return 1.5;
            case 4:
                return json::string(word());
            case 5:
            case 6: {
                json::array array;
                for (int i = pick(4); i > 0; --i)
                    array.push_back(value(depth - 1));
                return array;
            }
            default: {
                json::object object;
                for (int i = pick(5); i > 0; --i)
                    object[word()] = value(depth - 1);
                return object;
            }
        }
    }

    std::string word() {
        static constexpr std::string_view kWords[] = {"name",
                                                      "value",
                                                      "mergingList",
                                                      "mergingIntList",
                                                      "nonMergingList",
                                                      "simpleMap",
                                                      "retainKeysMap",
                                                      "mergeItemPtr",
                                                      "replacingItem",
                                                      "retainKeysMergingList",
                                                      "$patch",
                                                      "delete",
                                                      "replace",
                                                      "merge",
                                                      "$retainKeys",
                                                      "$setElementOrder/mergingList",
                                                      "$setElementOrder/mergingIntList",
                                                      "$deleteFromPrimitiveList/mergingIntList",
                                                      "$setElementOrder",
                                                      "1",
                                                      "2",
                                                      "-",
                                                      "a"};
        return std::string(kWords[pick(std::size(kWords))]);
    }

    std::string pointer() {
        std::string path;
        for (int i = pick(4); i >= 0; --i)
            path += "/" + word();
        return path;
    }

    int pick(std::size_t n) {
        return static_cast<int>(std::uniform_int_distribution<std::size_t>(0, n - 1)(engine_));
    }

  private:
    std::mt19937 engine_;
};

// Applying must either succeed or throw PatchError; anything else (another exception, a crash
// under the sanitizers) fails the test.
template <typename Apply>
void survives(Apply&& apply) {
    try {
        apply();
    } catch (const PatchError&) {
    }
}

}  // namespace

TEST_CASE("fuzz: random inputs only ever fail with PatchError") {
    RandomJson random(20240611);
    const SchemaSet set = fake_schemas();
    const Schema* schema = set.find("test.MergeItem");
    REQUIRE(schema != nullptr);
    constexpr std::string_view kOps[] = {"add", "remove", "replace", "move", "copy", "test", "x"};
    for (int round = 0; round < 3000; ++round) {
        const json::value document = random.value(4);
        const json::value patch = random.value(4);
        CHECK_NOTHROW(survives([&] { apply_merge_patch(document, patch); }));
        json::value object_document = document.is_object() ? document : json::object();
        CHECK_NOTHROW(
            survives([&] { apply_strategic_merge_patch(object_document, patch, set, schema); }));
        CHECK_NOTHROW(
            survives([&] { apply_strategic_merge_patch(object_document, patch, set, nullptr); }));

        json::array operations;
        for (int i = random.pick(4); i >= 0; --i) {
            json::object op{{"op", kOps[random.pick(std::size(kOps))]}, {"path", random.pointer()}};
            if (random.pick(2) == 0) op["from"] = random.pointer();
            if (random.pick(4) != 0) op["value"] = random.value(2);
            operations.push_back(std::move(op));
        }
        CHECK_NOTHROW(survives([&] { apply_json_patch(object_document, operations); }));
        CHECK_NOTHROW(survives([&] { apply_json_patch(object_document, patch); }));
    }
}
