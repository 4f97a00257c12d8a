// Server-side apply and managedFields against the real built-in schemas: field sets in FieldsV1,
// apply (create, prune, shared ownership, conflicts, force), Update ownership transfer, the
// managedFields JSON, YAML typing, and the whole verb through ResourceService.
#include "cluster/api/apply.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/schema.hpp"
#include "cluster/api/service.hpp"
#include "cluster/store/store.hpp"
#include "test_support.hpp"

namespace api = kcube::api;
namespace json = boost::json;
using api::FieldSet;
using api::ManagedScope;
using api::PathElement;

namespace {

const api::Schema* definition(std::string_view name) {
    const api::Schema* schema = api::builtin_schemas().find(name);
    REQUIRE(schema != nullptr);
    return schema;
}

ManagedScope scope_for(std::string_view definition_name, std::string api_version, std::string kind,
                       bool status_subresource = false, std::string subresource = "") {
    return ManagedScope{api::builtin_schemas(), definition(definition_name), std::move(api_version),
                        std::move(kind),        std::move(subresource),      true,
                        status_subresource};
}

ManagedScope config_map_scope() {
    return scope_for("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap");
}

json::object parse(std::string_view text) {
    return json::parse(text).as_object();
}

json::object config_map(json::object data) {
    return json::object{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "settings"}, {"namespace", "default"}}},
                        {"data", std::move(data)}};
}

const json::array& managed_fields(const json::object& object) {
    return object.at("metadata").as_object().at("managedFields").as_array();
}

bool has_managed_fields(const json::object& object) {
    return object.at("metadata").as_object().contains("managedFields");
}

// The entry of `manager` (and operation), or nullptr.
const json::object* entry_of(const json::object& object, std::string_view manager,
                             std::string_view operation) {
    for (const auto& entry : managed_fields(object)) {
        const auto& e = entry.as_object();
        if (e.at("manager").as_string() == manager && e.at("operation").as_string() == operation) {
            return &e;
        }
    }
    return nullptr;
}

json::object fields_of(const json::object& object, std::string_view manager,
                       std::string_view operation) {
    const json::object* entry = entry_of(object, manager, operation);
    REQUIRE_MESSAGE(entry != nullptr,
                    manager << " " << operation << " in " << json::serialize(object));
    return entry->at("fieldsV1").as_object();
}

const json::value* data_value(const json::object& object, std::string_view key) {
    const auto* data = object.if_contains("data");
    return data != nullptr ? data->as_object().if_contains(key) : nullptr;
}

// Runs `apply` expecting an ApiError; returns it.
template <class F>
api::ApiError expect_api_error(F&& apply) {
    try {
        apply();
    } catch (const api::ApiError& e) {
        return e;
    }
    FAIL("expected an ApiError");
    return api::ApiError(0, "", "");
}

constexpr std::string_view kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
  "spec": {
    "replicas": 2,
    "selector": {"matchLabels": {"app": "web"}},
    "template": {
      "metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{
        "name": "web", "image": "nginx:1.25",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [{"name": "A", "value": "1"}]
      }]}
    }
  }
})";

}  // namespace

TEST_CASE("field set of a Deployment follows list types, map keys and key defaults") {
    const json::object deployment = parse(kDeployment);
    const FieldSet set = api::field_set_of(deployment, api::builtin_schemas(),
                                           definition("io.k8s.api.apps.v1.Deployment"));
    const json::object expected = parse(R"({
      "f:apiVersion": {}, "f:kind": {},
      "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}, "f:namespace": {}},
      "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
          "f:metadata": {"f:labels": {"f:app": {}}},
          "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
            ".": {},
            "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:name": {},
            "f:ports": {
              "k:{\"containerPort\":53,\"protocol\":\"UDP\"}":
                {".": {}, "f:containerPort": {}, "f:protocol": {}},
              "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
            }
          }}}
        }
      }
    })");
    CHECK(json::value(set.to_fields_v1()) == json::value(expected));
    // Keys, "." and the order of elements are exactly upstream's.
    const std::string ports = json::serialize(set.to_fields_v1()
                                                  .at("f:spec")
                                                  .at("f:template")
                                                  .at("f:spec")
                                                  .at("f:containers")
                                                  .at("k:{\"name\":\"web\"}")
                                                  .at("f:ports"));
    CHECK(ports ==
          R"({"k:{\"containerPort\":53,\"protocol\":\"UDP\"}":{".":{},"f:containerPort":{},)"
          R"("f:protocol":{}},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},)"
          R"("f:containerPort":{}}})");
    // selector (LabelSelector) is an atomic struct: one leaf.
    CHECK(set.has({PathElement::field("spec"), PathElement::field("selector")}));
    CHECK_FALSE(set.has({PathElement::field("spec"), PathElement::field("selector"),
                         PathElement::field("matchLabels")}));
}

TEST_CASE("field sets: set lists, atomic lists and FieldsV1 round trips") {
    const json::object object = parse(R"({
      "metadata": {"finalizers": ["b.example/x", "a.example/y"]},
      "spec": {"containers": [{"name": "c", "args": ["x", "y"]}]}
    })");
    const FieldSet set =
        api::field_set_of(object, api::builtin_schemas(), definition("io.k8s.api.core.v1.Pod"));
    const json::object fields = set.to_fields_v1();
    CHECK(json::serialize(fields.at("f:metadata")) ==
          R"({"f:finalizers":{"v:\"a.example/y\"":{},"v:\"b.example/x\"":{}}})");
    // args has no list type: atomic, a leaf.
    CHECK(json::serialize(fields.at("f:spec")) ==
          R"({"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:args":{},"f:name":{}}}})");
    CHECK(FieldSet::from_fields_v1(fields) == set);
    // Unknown element prefixes are dropped, as upstream does.
    const FieldSet parsed = FieldSet::from_fields_v1(parse(R"({"f:a": {}, "x:weird": {}})"));
    CHECK(parsed.paths().size() == 1);
    CHECK_THROWS_AS(FieldSet::from_fields_v1(parse(R"({"bad": {}})")), std::invalid_argument);
}

TEST_CASE("field paths print as upstream's conflict messages do") {
    const api::FieldPath path{
        PathElement::field("spec"),
        PathElement::field("containers"),
        PathElement::key_of({{"name", json::value("web")}}),
        PathElement::field("ports"),
        PathElement::key_of({{"protocol", json::value("TCP")}, {"containerPort", json::value(80)}}),
        PathElement::field("finalizers"),
        PathElement::value_of(json::value("x")),
        PathElement::index_of(3)};
    CHECK(
        api::path_string(path) ==
        R"(.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].finalizers[="x"][3])");
}

TEST_CASE("set operations: difference keeps children, recursive difference does not") {
    FieldSet a;
    a.insert({PathElement::field("spec")});
    a.insert({PathElement::field("spec"), PathElement::field("replicas")});
    FieldSet b;
    b.insert({PathElement::field("spec")});
    CHECK(a.difference(b).paths().size() == 1);
    CHECK(a.recursive_difference(b).empty());
    CHECK(a.intersection(b).paths().size() == 1);
    CHECK(a.union_with(b) == a);
}

TEST_CASE("apply creates: the applier owns what it applied, system fields excluded") {
    const json::object result = api::apply_configuration(nullptr, config_map({{"mode", "fast"}}),
                                                         "ops", false, config_map_scope());
    CHECK(result.at("data").at("mode") == "fast");
    const auto& entries = managed_fields(result);
    REQUIRE(entries.size() == 1);
    const auto& entry = entries[0].as_object();
    CHECK(entry.at("manager") == "ops");
    CHECK(entry.at("operation") == "Apply");
    CHECK(entry.at("apiVersion") == "v1");
    CHECK(entry.at("fieldsType") == "FieldsV1");
    CHECK(entry.at("time").as_string().size() == 20);  // RFC 3339 seconds, UTC
    CHECK_FALSE(entry.contains("subresource"));
    CHECK(json::serialize(entry.at("fieldsV1")) == R"({"f:data":{"f:mode":{}}})");
}

TEST_CASE("re-apply without a field removes it; another manager's fields stay") {
    const ManagedScope scope = config_map_scope();
    json::object live = api::apply_configuration(
        nullptr, config_map({{"mode", "fast"}, {"size", "3"}}), "ops", false, scope);
    live = api::apply_configuration(&live, config_map({{"owner", "team"}}), "team", false, scope);
    live = api::apply_configuration(&live, config_map({{"mode", "fast"}}), "ops", false, scope);
    CHECK(data_value(live, "size") == nullptr);
    CHECK(*data_value(live, "mode") == "fast");
    CHECK(*data_value(live, "owner") == "team");
    CHECK(json::serialize(fields_of(live, "ops", "Apply")) == R"({"f:data":{"f:mode":{}}})");
    // Applying nothing of its own any more removes the manager's entry and its fields.
    json::object bare = config_map({});
    bare.erase("data");
    live = api::apply_configuration(&live, bare, "ops", false, scope);
    CHECK(data_value(live, "mode") == nullptr);
    CHECK(entry_of(live, "ops", "Apply") == nullptr);
}

TEST_CASE("applying null unsets a field and owns it; re-applying changes nothing") {
    const ManagedScope scope = config_map_scope();
    json::object live = api::apply_configuration(nullptr, config_map({{"a", "1"}, {"b", "2"}}),
                                                 "ops", false, scope);
    CHECK(api::apply_configuration(&live, config_map({{"a", "1"}, {"b", "2"}}), "ops", false,
                                   scope) == live);
    live = api::apply_configuration(&live, config_map({{"a", nullptr}, {"b", "2"}}), "ops", false,
                                    scope);
    CHECK(data_value(live, "a") == nullptr);
    CHECK(json::serialize(fields_of(live, "ops", "Apply")) == R"({"f:data":{"f:a":{},"f:b":{}}})");
}

TEST_CASE("two managers applying the same value share it; it goes when both let go") {
    const ManagedScope scope = config_map_scope();
    json::object live =
        api::apply_configuration(nullptr, config_map({{"mode", "fast"}}), "a", false, scope);
    live = api::apply_configuration(&live, config_map({{"mode", "fast"}}), "b", false, scope);
    CHECK(json::serialize(fields_of(live, "a", "Apply")) == R"({"f:data":{"f:mode":{}}})");
    CHECK(json::serialize(fields_of(live, "b", "Apply")) == R"({"f:data":{"f:mode":{}}})");
    live = api::apply_configuration(&live, config_map({{"x", "1"}}), "a", false, scope);
    CHECK(*data_value(live, "mode") == "fast");  // b still owns it
    live = api::apply_configuration(&live, config_map({{"y", "1"}}), "b", false, scope);
    CHECK(data_value(live, "mode") == nullptr);
}

TEST_CASE("conflicts: 409 with upstream's message and causes, unless forced") {
    const ManagedScope scope = config_map_scope();
    json::object live =
        api::apply_configuration(nullptr, config_map({{"mode", "fast"}}), "kubectl", false, scope);
    const api::ApiError one = expect_api_error([&] {
        api::apply_configuration(&live, config_map({{"mode", "slow"}}), "other", false, scope);
    });
    CHECK(one.code() == 409);
    CHECK(one.reason() == "Conflict");
    CHECK(std::string(one.what()) ==
          R"(Apply failed with 1 conflict: conflict with "kubectl": .data.mode)");
    const json::object status = one.to_status();
    const auto& cause = status.at("details").at("causes").as_array().at(0).as_object();
    CHECK(cause.at("reason") == "FieldManagerConflict");
    CHECK(cause.at("message") == R"(conflict with "kubectl")");
    CHECK(cause.at("field") == ".data.mode");
    CHECK_FALSE(status.at("details").as_object().contains("name"));

    // Force moves the field to the applier.
    live = api::apply_configuration(&live, config_map({{"mode", "slow"}}), "other", true, scope);
    CHECK(*data_value(live, "mode") == "slow");
    CHECK(entry_of(live, "kubectl", "Apply") == nullptr);
    CHECK(json::serialize(fields_of(live, "other", "Apply")) == R"({"f:data":{"f:mode":{}}})");
}

TEST_CASE("conflicts with Update managers name their API version; several are grouped") {
    const ManagedScope scope =
        scope_for("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment", true);
    json::object created = parse(kDeployment);
    api::record_update(nullptr, created, "kubectl-client-side-apply", scope);
    json::object changed = parse(kDeployment);
    changed["spec"].as_object()["replicas"] = 5;
    changed["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = "nginx:1.27";
    const api::ApiError error =
        expect_api_error([&] { api::apply_configuration(&created, changed, "mgr", false, scope); });
    CHECK(std::string(error.what()) ==
          "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using "
          "apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image");

    const ManagedScope cm = config_map_scope();
    json::object live = config_map({{"a", "1"}, {"b", "2"}});
    api::record_update(nullptr, live, "writer", cm);
    live = api::apply_configuration(&live, config_map({{"c", "3"}}), "applier", false, cm);
    const api::ApiError single = expect_api_error([&] {
        api::apply_configuration(&live, config_map({{"a", "9"}}), "third", false, cm);
    });
    CHECK(std::string(single.what()) ==
          R"(Apply failed with 1 conflict: conflict with "writer" using v1: .data.a)");
}

TEST_CASE("updates: the writer takes the fields it changed, emptied managers are dropped") {
    const ManagedScope scope = config_map_scope();
    json::object created = config_map({{"a", "1"}, {"b", "2"}});
    api::record_update(nullptr, created, "creator", scope);
    // A create owns the map itself (".") and every key, nothing of the object's identity.
    CHECK(json::serialize(fields_of(created, "creator", "Update")) ==
          R"({"f:data":{".":{},"f:a":{},"f:b":{}}})");

    json::object edited = created;
    edited["data"].as_object()["a"] = "10";
    api::record_update(&created, edited, "editor", scope);
    CHECK(json::serialize(fields_of(edited, "creator", "Update")) ==
          R"({"f:data":{".":{},"f:b":{}}})");
    CHECK(json::serialize(fields_of(edited, "editor", "Update")) == R"({"f:data":{"f:a":{}}})");

    json::object emptied = edited;
    emptied["data"].as_object()["b"] = "20";
    emptied["data"].as_object().erase("a");
    api::record_update(&edited, emptied, "editor", scope);
    CHECK(entry_of(emptied, "editor", "Update") != nullptr);
    // The creator still owns the map itself, written as a plain member.
    CHECK(json::serialize(fields_of(emptied, "creator", "Update")) == R"({"f:data":{}})");

    // An update that changes nothing leaves managedFields exactly as they were.
    json::object same = emptied;
    api::record_update(&emptied, same, "someone", scope);
    CHECK(same == emptied);
}

TEST_CASE("managedFields: entry order, subresources, reset and explicit replacement") {
    const ManagedScope scope = config_map_scope();
    json::object live = config_map({{"a", "1"}});
    api::record_update(nullptr, live, "", scope);
    CHECK(entry_of(live, "unknown", "Update") != nullptr);
    live = api::apply_configuration(&live, config_map({{"b", "2"}}), "ops", false, scope);
    // Apply entries sort before Update entries.
    CHECK(managed_fields(live)[0].at("operation") == "Apply");
    CHECK(managed_fields(live)[1].at("operation") == "Update");

    // A client setting managedFields replaces them; [] resets (and stops tracking).
    json::object rewritten = live;
    rewritten["metadata"].as_object()["managedFields"] = json::array{managed_fields(live)[0]};
    api::record_update(&live, rewritten, "x", scope);
    CHECK(managed_fields(rewritten).size() == 1);
    json::object reset = live;
    reset["metadata"].as_object()["managedFields"] = json::array{};
    api::record_update(&live, reset, "x", scope);
    CHECK_FALSE(has_managed_fields(reset));
    // Invalid managedFields in a request are ignored in favour of the stored ones.
    json::object invalid = live;
    invalid["metadata"].as_object()["managedFields"] =
        json::array{json::object{{"manager", "m"}, {"operation", "Bogus"}}};
    api::record_update(&live, invalid, "x", scope);
    CHECK(managed_fields(invalid).size() == 2);

    // Status writes are recorded with their subresource and own only status.
    const ManagedScope status =
        scope_for("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment", true, "status");
    json::object deployment = parse(kDeployment);
    api::record_update(nullptr, deployment, "creator",
                       scope_for("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment", true));
    json::object with_status = deployment;
    with_status["status"] = json::object{{"replicas", 2}};
    api::record_update(&deployment, with_status, "controller", status);
    const json::object* entry = entry_of(with_status, "controller", "Update");
    REQUIRE(entry != nullptr);
    CHECK(entry->at("subresource") == "status");
    CHECK(json::serialize(entry->at("fieldsV1")) == R"({"f:status":{"f:replicas":{}}})");
}

TEST_CASE("objects nobody manages: updates leave them alone, apply starts tracking") {
    const ManagedScope scope = config_map_scope();
    json::object old = config_map({{"a", "1"}});
    json::object updated = config_map({{"a", "2"}});
    api::record_update(&old, updated, "writer", scope);
    CHECK_FALSE(has_managed_fields(updated));
    const api::ApiError error = expect_api_error([&] {
        api::apply_configuration(&updated, config_map({{"a", "3"}}), "ops", false, scope);
    });
    CHECK(std::string(error.what()) ==
          R"(Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a)");
}

TEST_CASE("apply merges map lists by key and keeps other managers' items") {
    const ManagedScope scope =
        scope_for("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment", true);
    json::object live = api::apply_configuration(nullptr, parse(kDeployment), "ops", false, scope);
    json::object sidecar = parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
      "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}
    })");
    live = api::apply_configuration(&live, sidecar, "mesh", false, scope);
    const auto containers = [&](const json::object& object) {
        return object.at("spec").at("template").at("spec").at("containers").as_array();
    };
    REQUIRE(containers(live).size() == 2);
    CHECK(containers(live)[0].at("name") == "web");
    CHECK(containers(live)[1].at("name") == "side");
    CHECK(containers(live)[0].at("ports").as_array().size() == 2);
    // Re-applying the original keeps the sidecar (mesh owns it), and drops what ops let go of.
    json::object trimmed = parse(kDeployment);
    auto& web = trimmed["spec"]
                    .as_object()["template"]
                    .as_object()["spec"]
                    .as_object()["containers"]
                    .as_array()[0]
                    .as_object();
    web.erase("env");
    web["ports"].as_array().pop_back();
    live = api::apply_configuration(&live, trimmed, "ops", false, scope);
    REQUIRE(containers(live).size() == 2);
    CHECK_FALSE(containers(live)[0].as_object().contains("env"));
    CHECK(containers(live)[0].at("ports").as_array().size() == 1);
    // A configuration the schema cannot name items of fails as upstream's does.
    json::object keyless = parse(kDeployment);
    keyless["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()
        .erase("name");
    const api::ApiError error =
        expect_api_error([&] { api::apply_configuration(&live, keyless, "ops", false, scope); });
    CHECK(error.code() == 500);
    CHECK(std::string(error.what())
              .find("failed to create typed patch object (default/web; "
                    "apps/v1, Kind=Deployment): .spec.template.spec."
                    "containers: element 0: associative list with keys "
                    "has an element that omits all key fields") == 0);
}

TEST_CASE("apply checks the configuration's kind and managedFields") {
    const ManagedScope scope = config_map_scope();
    json::object wrong = config_map({});
    wrong["kind"] = "Secret";
    api::ApiError error =
        expect_api_error([&] { api::apply_configuration(nullptr, wrong, "m", false, scope); });
    CHECK(error.code() == 400);
    CHECK(std::string(error.what()) == "invalid object type: /v1, Kind=Secret");
    json::object with_managed = config_map({});
    with_managed["metadata"].as_object()["managedFields"] = json::array{};
    error = expect_api_error(
        [&] { api::apply_configuration(nullptr, with_managed, "m", false, scope); });
    CHECK(std::string(error.what()) == "metadata.managedFields must be nil");
}

TEST_CASE("kubectl upgrading from client-side apply takes its own last-applied fields") {
    const ManagedScope scope = config_map_scope();
    json::object live = config_map({{"a", "1"}});
    live["metadata"].as_object()["annotations"] = json::object{
        {"kubectl.kubernetes.io/last-applied-configuration",
         R"({"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"name":"settings","namespace":"default"}})"}};
    api::record_update(nullptr, live, "kubectl-client-side-apply", scope);
    json::object config = config_map({{"a", "2"}});
    const json::object result = api::apply_configuration(&live, config, "kubectl", false, scope);
    CHECK(*data_value(result, "a") == "2");
    // The annotation follows the server-side apply.
    CHECK(result.at("metadata")
              .at("annotations")
              .at("kubectl.kubernetes.io/last-applied-configuration") ==
          "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"2\"},\"kind\":\"ConfigMap\",\"metadata\":{"
          "\"name\":\"settings\",\"namespace\":\"default\"}}\n");
    // Any other manager still conflicts.
    CHECK_THROWS_AS(api::apply_configuration(&live, config, "other", false, scope), api::ApiError);
}

TEST_CASE("apply bodies: YAML 1.1 scalars typed as upstream's YAML-to-JSON conversion") {
    const json::object yaml = api::parse_apply_patch(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  quoted: "yes"
values:
  yes_: yes
  off_: off
  hex: 0x1F
  octal: 0777
  float: 1.5
  whole: 2.0
  big: 1e3
  nothing: ~
  empty:
  stamp: 2001-12-14
  plain: hello world
  list: [1, two, 3.25]
)");
    CHECK(yaml.at("data").at("quoted") == "yes");
    const auto& v = yaml.at("values").as_object();
    CHECK(v.at("yes_") == true);
    CHECK(v.at("off_") == false);
    CHECK(v.at("hex") == 31);
    CHECK(v.at("octal") == 511);
    CHECK(v.at("float") == 1.5);
    CHECK(v.at("whole").is_int64());
    CHECK(v.at("big") == 1000);
    CHECK(v.at("nothing").is_null());
    CHECK(v.at("empty").is_null());
    CHECK(v.at("stamp") == "2001-12-14");
    CHECK(v.at("plain") == "hello world");
    CHECK(json::serialize(v.at("list")) == R"([1,"two",3.25E0])");
    // JSON bodies parse as JSON, numbers typed the same way.
    CHECK(api::parse_apply_patch(R"({"a": 2.0, "b": "c"})").at("a").is_int64());
    CHECK_THROWS_AS(api::parse_apply_patch("a: [b"), api::ApiError);
    CHECK_THROWS_AS(api::parse_apply_patch("- a\n- b\n"), api::ApiError);
    CHECK_THROWS_AS(api::parse_apply_patch(std::string(5000, '[')), api::ApiError);
}

namespace {

// The node's API machinery on a scratch SQLite store, with namespace default.
struct Cluster {
    kcube::testing::TempDir dir;
    std::shared_ptr<api::ResourceService> service;

    Cluster() {
        std::shared_ptr<kcube::store::Store> store = kcube::store::open_sqlite_store(dir / "s.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        service->create(
            info("", "v1", "namespaces"), "",
            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}}}}, {});
    }

    const api::ResourceInfo& info(const std::string& group, const std::string& version,
                                  const std::string& plural) const {
        auto found = service->registry().find(group, version, plural);
        REQUIRE(found);
        return *found;
    }

    json::object apply(const std::string& body, const std::string& manager, bool force = false,
                       bool* created = nullptr) {
        api::WriteOptions options;
        options.field_manager = manager;
        options.force = force;
        options.created = created;
        return service->patch(info("", "v1", "configmaps"), "default", "settings",
                              api::PatchType::kApply, body, options);
    }
};

}  // namespace

TEST_CASE("ResourceService: PATCH apply creates, updates, conflicts and is validated") {
    Cluster cluster;
    bool created = false;
    json::object first = cluster.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
        "kubectl", false, &created);
    CHECK(created);
    CHECK(first.at("data").at("mode") == "fast");
    CHECK(first.at("metadata").at("resourceVersion").as_string() != "");
    CHECK(json::serialize(fields_of(first, "kubectl", "Apply")) == R"({"f:data":{"f:mode":{}}})");

    created = false;
    const std::string changed =
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"mode":"slow"}})";
    const api::ApiError conflict =
        expect_api_error([&] { cluster.apply(changed, "other", false, &created); });
    CHECK(std::string(conflict.what()) ==
          R"(Apply failed with 1 conflict: conflict with "kubectl": .data.mode)");
    json::object forced = cluster.apply(changed, "other", true, &created);
    CHECK_FALSE(created);
    CHECK(forced.at("data").at("mode") == "slow");

    // A normal update through the service records an Update entry.
    api::WriteOptions options;
    options.field_manager = "kubectl-edit";
    json::object edited = forced;
    edited["data"].as_object()["extra"] = "1";
    edited = cluster.service->update(cluster.info("", "v1", "configmaps"), "default", "settings",
                                     edited, options);
    CHECK(json::serialize(fields_of(edited, "kubectl-edit", "Update")) ==
          R"({"f:data":{"f:extra":{}}})");

    const api::ApiError no_manager = expect_api_error([&] { cluster.apply(changed, ""); });
    CHECK(no_manager.code() == 422);
    CHECK(
        std::string(no_manager.what()) ==
        R"(PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch)");
    const api::ApiError wrong_name = expect_api_error([&] {
        cluster.apply(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}})", "m");
    });
    CHECK(std::string(wrong_name.what()) ==
          "the name of the object (other) does not match the name on the URL (settings)");
}
