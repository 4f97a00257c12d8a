// Kubernetes protobuf request bodies decoded into upstream's JSON. The fixtures under
// fixtures/protobuf/ are bodies real kubectl 1.32 sent (see the README there); the expected JSON
// next to each is what `kubectl ... --dry-run=client -o json` prints for the same command (the
// Go object JSON-encoded), or for commands without a dry run, written by hand from the Go types.
#include "cluster/api/protobuf.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/errors.hpp"
#include "cluster/api/schema.hpp"

namespace {

namespace json = boost::json;
using kcube::api::ApiError;
using kcube::api::builtin_schemas;
using kcube::api::decode_kubernetes_protobuf;

const std::filesystem::path kFixtures =
    std::filesystem::path(__FILE__).parent_path() / "fixtures" / "protobuf";

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A small protobuf writer for hand-made bodies.
class Pb {
  public:
    Pb& varint(int field, std::uint64_t value) {
        key(field, 0);
        put_varint(value);
        return *this;
    }
    Pb& bytes(int field, std::string_view value) {
        key(field, 2);
        put_varint(value.size());
        data_ += value;
        return *this;
    }
    Pb& message(int field, const Pb& value) { return bytes(field, value.data_); }
    Pb& fixed64(int field, std::uint64_t value) {
        key(field, 1);
        for (int i = 0; i < 8; ++i)
            data_ += static_cast<char>((value >> (8 * i)) & 0xff);
        return *this;
    }
    Pb& fixed32(int field, std::uint32_t value) {
        key(field, 5);
        for (int i = 0; i < 4; ++i)
            data_ += static_cast<char>((value >> (8 * i)) & 0xff);
        return *this;
    }
    Pb& key(int field, int wire) {
        put_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire));
        return *this;
    }
    Pb& raw(std::string_view bytes) {
        data_ += bytes;
        return *this;
    }
    Pb& put_varint(std::uint64_t value) {
        while (value >= 0x80) {
            data_ += static_cast<char>((value & 0x7f) | 0x80);
            value >>= 7;
        }
        data_ += static_cast<char>(value);
        return *this;
    }
    const std::string& data() const { return data_; }

  private:
    std::string data_;
};

std::string envelope(std::string_view api_version, std::string_view kind, const Pb& object) {
    Pb type_meta;
    type_meta.bytes(1, api_version).bytes(2, kind);
    Pb unknown;
    unknown.message(1, type_meta).message(2, object).bytes(3, "").bytes(4, "");
    return std::string("k8s\0", 4) + unknown.data();
}

json::object decode(const std::string& body) {
    return decode_kubernetes_protobuf(body, builtin_schemas());
}

json::value parse(std::string_view text) {
    return json::parse(text);
}

// The ApiError message for a body that must be rejected (400).
std::string rejection(const std::string& body,
                      const kcube::api::SchemaSet& schemas = builtin_schemas()) {
    try {
        (void)decode_kubernetes_protobuf(body, schemas);
    } catch (const ApiError& e) {
        CHECK(e.code() == 400);
        return e.what();
    }
    FAIL("the body decoded");
    return "";
}

}  // namespace

TEST_CASE("bodies real kubectl sent decode to the JSON upstream writes for them") {
    const char* names[] = {
        "namespace",
        "deployment",
        "deployment_multi",
        "configmap",
        "secret",
        "secret_docker",
        "service_nodeport",
        "service_clusterip",
        "job",
        "job_from_cronjob",
        "cronjob",
        "ingress",
        "role",
        "rolebinding",
        "clusterrole",
        "clusterrolebinding",
        "serviceaccount",
        "quota",
        "ssar",
        "ssar_nonresource",
        "token",
        "token_default",
    };
    for (const char* name : names) {
        CAPTURE(name);
        const auto body = read_file(kFixtures / (std::string(name) + ".pb"));
        const auto expected = parse(read_file(kFixtures / (std::string(name) + ".json")));
        const json::value actual = decode(body);
        CHECK_MESSAGE(actual == expected, "decoded:  " << json::serialize(actual) << "\nexpected: "
                                                       << json::serialize(expected));
    }
}

TEST_CASE("the decoded JSON keeps upstream's details") {
    SUBCASE("pointer zero kept, omitempty zeros dropped, structs always written") {
        const auto deployment = decode(read_file(kFixtures / "deployment.pb"));
        // replicas is *int32: 0 stays. The wire also carries generation 0, "" uids and the
        // like, which omitempty drops; creationTimestamp is a struct, so it is null.
        CHECK(deployment.at("spec").at("replicas") == 0);
        CHECK(deployment.at("metadata") ==
              parse(R"({"name":"web","creationTimestamp":null,"labels":{"app":"web"}})"));
        CHECK(deployment.at("status") == json::object{});
        // Go writes TypeMeta first, kind before apiVersion.
        CHECK(deployment.begin()->key() == "kind");
        CHECK(std::next(deployment.begin())->key() == "apiVersion");
    }
    SUBCASE("bytes are base64, including invalid UTF-8 and empty values") {
        const auto configmap = decode(read_file(kFixtures / "configmap.pb"));
        CHECK(configmap.at("binaryData").at("blob.bin") == "Ymlu//4AZGF0YQ==");
        CHECK(configmap.at("data").at("empty") == "");
        const auto secret = decode(read_file(kFixtures / "secret.pb"));
        CHECK(secret.at("data") == parse(R"({"blank":"","password":"czNjcjN0"})"));
    }
    SUBCASE("int-or-string as a number or a string") {
        const auto service = decode(read_file(kFixtures / "service_clusterip.pb"));
        const auto& ports = service.at("spec").at("ports").as_array();
        CHECK(ports.at(0).at("targetPort") == "https");
        CHECK(ports.at(1).at("targetPort") == 53);
    }
    SUBCASE("quantities keep their string form") {
        const auto quota = decode(read_file(kFixtures / "quota.pb"));
        CHECK(quota.at("spec").at("hard") == parse(R"({"cpu":"1","memory":"1Gi","pods":"10"})"));
    }
    SUBCASE("nil slices and pointers without omitempty are null") {
        const auto token = decode(read_file(kFixtures / "token_default.pb"));
        CHECK(token.at("spec") ==
              parse(R"({"audiences":null,"expirationSeconds":null,"boundObjectRef":null})"));
    }
}

TEST_CASE("scalars: negative varints, packed and unpacked repeats, doubles, timestamps") {
    SUBCASE("negative int32 (a 10-byte varint) and int64") {
        Pb port;
        port.varint(3, 8080).varint(2, static_cast<std::uint64_t>(std::int64_t{-1}));
        Pb container;
        container.bytes(1, "c").message(6, port);
        Pb spec;
        spec.message(2, container).varint(5, static_cast<std::uint64_t>(std::int64_t{-5}));
        Pb pod;
        pod.message(2, spec);
        const auto body = envelope("v1", "Pod", pod);
        const auto decoded = decode(body);
        CHECK(decoded.at("spec").at("activeDeadlineSeconds") == -5);
        CHECK(decoded.at("spec").at("containers").at(0).at("ports").at(0) ==
              parse(R"({"hostPort":-1,"containerPort":8080})"));
        // A negative int32 on the wire is the 64-bit sign extension.
        CHECK(body.find(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")) !=
              std::string::npos);
    }
    SUBCASE("repeated int32, packed and unpacked, in one list") {
        Pb packed;
        packed.put_varint(1).put_varint(static_cast<std::uint64_t>(std::int64_t{-2}));
        Pb codes;
        codes.bytes(2, "In").varint(3, 7).bytes(3, packed.data()).varint(3, 42);
        Pb rule;
        rule.bytes(1, "FailJob").message(2, codes);
        Pb policy;
        policy.message(1, rule);
        Pb spec;
        spec.message(11, policy);
        Pb job;
        job.message(2, spec);
        const auto decoded = decode(envelope("batch/v1", "Job", job));
        CHECK(decoded.at("spec").at("podFailurePolicy") == parse(R"({"rules":[{"action":"FailJob",
                        "onExitCodes":{"operator":"In","values":[7,1,-2,42]}}]})"));
    }
    SUBCASE("doubles, *bool zero kept, bool zero dropped") {
        Pb schema;
        schema.bytes(5, "integer")
            .fixed64(9, std::bit_cast<std::uint64_t>(2.5))
            .fixed64(11, std::bit_cast<std::uint64_t>(0.0))
            .varint(37, 0)   // nullable: bool, omitempty
            .varint(38, 0);  // x-kubernetes-preserve-unknown-fields: *bool
        Pb validation;
        validation.message(1, schema);
        Pb version;
        version.bytes(1, "v1").varint(2, 1).varint(3, 1).message(4, validation);
        Pb spec;
        spec.bytes(1, "example.com").message(7, version);
        Pb crd;
        crd.message(2, spec);
        const auto decoded =
            decode(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd));
        const auto& props =
            decoded.at("spec").at("versions").at(0).at("schema").at("openAPIV3Schema");
        CHECK(props == parse(R"({"type":"integer","maximum":2.5,"minimum":0.0,
                                 "x-kubernetes-preserve-unknown-fields":false})"));
    }
    SUBCASE("Time has whole seconds, MicroTime six digits, the zero time is null") {
        Pb deleted;
        deleted.varint(1, 1700000000).varint(2, 999);  // Time drops nanos, as upstream does
        Pb created;                                    // seconds of 0001-01-01: the zero time
        created.varint(1, static_cast<std::uint64_t>(std::int64_t{-62135596800}));
        Pb meta;
        meta.bytes(1, "e").message(8, created).message(9, deleted);
        Pb event_time;
        event_time.varint(1, 1700000000).varint(2, 123456789);
        Pb early;  // before 1970, with nanos: 1969-12-31T23:59:59.5Z
        early.varint(1, static_cast<std::uint64_t>(std::int64_t{-1})).varint(2, 500000000);
        Pb event;
        event.message(1, meta).message(2, event_time).message(13, early).message(14, Pb{});
        const auto decoded = decode(envelope("events.k8s.io/v1", "Event", event));
        CHECK(decoded.at("metadata").at("creationTimestamp").is_null());
        CHECK(decoded.at("metadata").at("deletionTimestamp") == "2023-11-14T22:13:20Z");
        CHECK(decoded.at("eventTime") == "2023-11-14T22:13:20.123456Z");
        CHECK(decoded.at("deprecatedFirstTimestamp") == "1969-12-31T23:59:59Z");
        CHECK(decoded.at("deprecatedLastTimestamp").is_null());
    }
    SUBCASE("strings are made valid UTF-8 the way Go's JSON encoder does") {
        Pb meta;
        meta.bytes(1, "x").varint(7, 3);
        Pb data;
        data.bytes(1, "k").bytes(2, std::string("a\xff"
                                                "b\xe2\x82"
                                                "\xc3\xa9\xed\xa0\x80"));
        Pb configmap;
        configmap.message(1, meta).message(2, data);
        const auto decoded = decode(envelope("v1", "ConfigMap", configmap));
        CHECK(decoded.at("data").at("k") ==
              "a\xef\xbf\xbd"
              "b\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        CHECK(decoded.at("metadata").at("generation") == 3);
    }
}

TEST_CASE("embedded structs, raw JSON, merges and unknown fields") {
    SUBCASE("inline structs that protobuf nests (VolumeSource, ProbeHandler)") {
        Pb reference;
        reference.bytes(1, "settings");
        Pb configmap_source;
        configmap_source.message(1, reference).varint(3, 0420);
        Pb source;
        source.message(19, configmap_source);
        Pb volume;
        volume.bytes(1, "cfg").message(2, source);
        Pb port;
        port.varint(1, 1).bytes(3, "http");
        Pb get;
        get.bytes(1, "/healthz").message(2, port);
        Pb handler;
        handler.message(2, get);
        Pb probe;
        probe.message(1, handler).varint(4, 10);
        Pb container;
        container.bytes(1, "c").bytes(2, "nginx").message(10, probe);
        Pb spec;
        spec.message(1, volume).message(2, container);
        Pb pod;
        pod.message(2, spec);
        const auto decoded = decode(envelope("v1", "Pod", pod));
        CHECK(decoded.at("spec").at("volumes").at(0) ==
              parse(R"({"name":"cfg","configMap":{"name":"settings","defaultMode":272}})"));
        CHECK(decoded.at("spec").at("containers").at(0).at("livenessProbe") ==
              parse(R"({"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":10})"));
        // PodSpec.containers has no omitempty: present here, so not null.
        CHECK(decoded.at("spec").at("containers").is_array());
    }
    SUBCASE("RawExtension, FieldsV1: embedded JSON, or nested protobuf, empty is null") {
        Pb fields;
        fields.bytes(1, R"({"f:metadata":{"f:labels":{}}})");
        Pb time;
        time.varint(1, 0);
        Pb entry;
        entry.bytes(1, "kubectl")
            .bytes(2, "Apply")
            .message(4, time)
            .bytes(6, "FieldsV1")
            .message(7, fields);
        Pb meta;
        meta.bytes(1, "r1").message(17, entry);
        Pb data;
        data.bytes(1, R"({"spec":{"replicas":3},"list":[1,"two",null]})");
        Pb revision;
        revision.message(1, meta).message(2, data).varint(3, 2);
        auto decoded = decode(envelope("apps/v1", "ControllerRevision", revision));
        CHECK(decoded.at("data") == parse(R"({"spec":{"replicas":3},"list":[1,"two",null]})"));
        CHECK(decoded.at("revision") == 2);
        CHECK(decoded.at("metadata").at("managedFields").at(0) ==
              parse(R"({"manager":"kubectl","operation":"Apply","time":"1970-01-01T00:00:00Z",
                        "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{}}}})"));

        Pb inner_meta;
        inner_meta.bytes(1, "nested");
        Pb inner;
        inner.message(1, inner_meta);
        Pb nested;
        nested.bytes(1, envelope("v1", "ConfigMap", inner));
        Pb revision2;
        revision2.message(2, nested).varint(3, 1);
        decoded = decode(envelope("apps/v1", "ControllerRevision", revision2));
        CHECK(decoded.at("data") == parse(R"({"kind":"ConfigMap","apiVersion":"v1",
                                             "metadata":{"name":"nested"}})"));

        Pb revision3;
        revision3.message(2, Pb{}).varint(3, 1);
        CHECK(decode(envelope("apps/v1", "ControllerRevision", revision3)).at("data").is_null());
    }
    SUBCASE("apiextensions schema unions and JSON values") {
        Pb string_schema;
        string_schema.bytes(5, "string").bytes(20, "").message(20, Pb().bytes(1, R"("a")"));
        Pb items;
        items.message(1, string_schema);
        Pb list_schema;
        list_schema.bytes(5, "array").message(24, items);
        Pb deny;
        deny.varint(1, 0);
        Pb allow_schema;
        allow_schema.varint(1, 1).message(2, Pb().bytes(5, "integer"));
        Pb property_entry;
        property_entry.bytes(1, "tags").message(2, list_schema);
        Pb map_entry;
        map_entry.bytes(1, "labels").message(2, Pb().bytes(5, "object").message(30, allow_schema));
        Pb dependency;
        dependency.bytes(1, "a").message(2, Pb().bytes(2, "b").bytes(2, "c"));
        Pb root;
        root.bytes(5, "object")
            .message(29, property_entry)
            .message(29, map_entry)
            .message(30, deny)
            .message(32, dependency)
            .message(8, Pb().bytes(1, R"({"tags":[]})"));
        Pb version;
        version.bytes(1, "v1").varint(2, 1).varint(3, 1).message(4, Pb().message(1, root));
        Pb crd;
        crd.message(2, Pb().message(7, version));
        const auto decoded =
            decode(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd));
        CHECK(decoded.at("spec").at("versions").at(0).at("schema").at("openAPIV3Schema") ==
              parse(R"({"type":"object","default":{"tags":[]},
                        "properties":{
                          "tags":{"type":"array","items":{"type":"string","enum":[null,"a"]}},
                          "labels":{"type":"object","additionalProperties":{"type":"integer"}}},
                        "additionalProperties":false,
                        "dependencies":{"a":["b","c"]}})"));
    }
    SUBCASE("a message field that occurs twice merges; later scalars win; lists grow") {
        Pb first;
        first.bytes(1, "web").message(11, Pb().bytes(1, "a").bytes(2, "1"));
        Pb second;
        second.bytes(3, "demo").message(11, Pb().bytes(1, "b").bytes(2, "2")).bytes(14, "f1");
        Pb third;
        third.bytes(1, "web2").bytes(14, "f2");
        Pb ns;
        ns.message(1, first).message(1, second).message(1, third);
        CHECK(decode(envelope("v1", "Namespace", ns)).at("metadata") ==
              parse(R"({"name":"web2","namespace":"demo","labels":{"a":"1","b":"2"},
                        "finalizers":["f1","f2"]})"));
    }
    SUBCASE("unknown fields of every wire type are skipped") {
        Pb meta;
        meta.varint(99, 5)
            .fixed64(98, 1)
            .fixed32(97, 1)
            .bytes(96, "junk")
            .key(95, 3)
            .varint(1, 1)
            .key(94, 3)
            .bytes(2, "x")
            .key(94, 4)
            .key(95, 4)
            .bytes(1, "kept");
        Pb ns;
        ns.message(1, meta).bytes(77, "unknown field of Namespace");
        CHECK(decode(envelope("v1", "Namespace", ns)) ==
              parse(R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"kept"}})"));
    }
    SUBCASE("a map entry without key or value holds the zero values") {
        Pb spec;
        spec.message(1, Pb().bytes(1, "cpu")).message(1, Pb().message(2, Pb().bytes(1, "2")));
        Pb quota;
        quota.message(2, spec);
        CHECK(decode(envelope("v1", "ResourceQuota", quota)).at("spec").at("hard") ==
              parse(R"({"cpu":"0","":"2"})"));
        Pb data;
        data.message(2, Pb().bytes(2, "v"));
        CHECK(decode(envelope("v1", "ConfigMap", data)).at("data") == parse(R"({"":"v"})"));
    }
}

TEST_CASE("duration and named-slice values through a schema that uses them") {
    kcube::api::SchemaSet schemas;
    schemas.add_openapi(parse(R"({
      "com.example.v1.Widget": {
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1",
                                              "kind": "Widget"}],
        "properties": {
          "apiVersion": {"type": "string"},
          "kind": {"type": "string"},
          "timeout": {"type": "string", "x-kcube-proto": {"tag": 1, "keepZero": false,
                                                          "kind": "duration"}},
          "verbs": {"type": "array", "items": {"type": "string"},
                    "x-kcube-proto": {"tag": 2, "keepZero": true, "kind": "wrappedList",
                                      "nullIfAbsent": true}},
          "extra": {"type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"},
                                             "x-kcube-proto": {"kind": "wrappedList"}},
                    "x-kcube-proto": {"tag": 3, "keepZero": false}},
          "ports": {"type": "array", "items": {"type": "integer", "format": "int32"},
                    "x-kcube-proto": {"tag": 4, "keepZero": false}},
          "weight": {"type": "number", "format": "float",
                     "x-kcube-proto": {"tag": 5, "keepZero": true}}
        }
      }})")
                            .as_object());
    auto widget = [&](const Pb& body) {
        return decode_kubernetes_protobuf(envelope("example.com/v1", "Widget", body), schemas);
    };
    auto duration = [&](std::int64_t nanoseconds) {
        return widget(Pb().message(1, Pb().varint(1, static_cast<std::uint64_t>(nanoseconds))))
            .at("timeout");
    };
    CHECK(duration(3'600'000'000'000) == "1h0m0s");
    CHECK(duration(90'000'000'000) == "1m30s");
    CHECK(duration(1'500'000'000) == "1.5s");
    CHECK(duration(300'000'000) == "300ms");
    CHECK(duration(2'000) == "2\xc2\xb5s");
    CHECK(duration(7) == "7ns");
    CHECK(duration(0) == "0s");
    CHECK(duration(-90'061'000'000'001) == "-25h1m1.000000001s");
    CHECK(duration(std::numeric_limits<std::int64_t>::min()) == "-2562047h47m16.854775808s");

    const auto decoded =
        widget(Pb().message(2, Pb().bytes(1, "get").bytes(1, "list"))
                   .message(3, Pb().bytes(1, "scopes").message(2, Pb().bytes(1, "a").bytes(1, "b")))
                   .message(3, Pb().bytes(1, "none").message(2, Pb()))
                   .bytes(4, Pb().put_varint(80).put_varint(443).data())
                   .fixed32(5, std::bit_cast<std::uint32_t>(0.5F)));
    CHECK(decoded == parse(R"({"kind":"Widget","apiVersion":"example.com/v1",
                               "verbs":["get","list"],
                               "extra":{"scopes":["a","b"],"none":null},
                               "ports":[80,443],"weight":0.5})"));
    CHECK(widget(Pb()).at("verbs").is_null());
    CHECK(widget(Pb().message(2, Pb())).at("verbs").is_null());
}

TEST_CASE("malformed bodies are 400 Bad Request, never a crash") {
    Pb meta;
    meta.bytes(1, "ok");
    Pb ns;
    ns.message(1, meta);
    const std::string good = envelope("v1", "Namespace", ns);
    REQUIRE(decode(good).at("metadata").at("name") == "ok");
    const std::string magic("k8s\0", 4);

    CHECK(rejection("").find("empty data") != std::string::npos);
    CHECK(rejection(magic).find("empty body") != std::string::npos);
    CHECK(rejection("{\"kind\":\"Namespace\"}").find("k8s") != std::string::npos);
    CHECK(rejection(magic + "\x0a").find("truncated varint") != std::string::npos);
    CHECK(rejection(magic + "\x0a\x05" + "ab").find("past the end") != std::string::npos);
    CHECK(rejection(magic + "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").find("past the end") !=
          std::string::npos);
    CHECK(rejection(magic + std::string(11, '\xff')).find("longer than 10") != std::string::npos);
    CHECK(rejection(magic + std::string("\x00\x00", 2)).find("field number 0") !=
          std::string::npos);
    CHECK(rejection(magic + "\x0e").find("wire type 6") != std::string::npos);
    CHECK(rejection(magic + "\x3c").find("end of group") != std::string::npos);
    CHECK(rejection(magic + "\x3b\x08\x01").find("unterminated group") != std::string::npos);
    CHECK(rejection(magic + Pb().message(2, ns).data()).find("'Kind' is missing") !=
          std::string::npos);
    CHECK(rejection(magic + Pb().message(1, Pb().bytes(2, "Namespace")).data())
              .find("'apiVersion' is missing") != std::string::npos);
    CHECK(rejection(envelope("v1", "Gadget", ns)).find("no kind \"Gadget\"") != std::string::npos);
    // A real body of a kind kcube does not serve (kubectl create poddisruptionbudget).
    CHECK(rejection(read_file(kFixtures / "poddisruptionbudget.pb")).find("PodDisruptionBudget") !=
          std::string::npos);

    SUBCASE("wrong wire types for known fields") {
        CHECK(rejection(envelope("v1", "Namespace", Pb().varint(1, 5))).find("wrong wire type") !=
              std::string::npos);
        CHECK(rejection(envelope("v1", "Namespace", Pb().message(1, Pb().varint(1, 5))))
                  .find("wrong wire type") != std::string::npos);
        CHECK(rejection(envelope("v1", "Namespace", Pb().message(1, Pb().bytes(7, "x"))))
                  .find("wrong wire type") != std::string::npos);
        CHECK(rejection(envelope("v1", "Namespace", Pb().message(1, Pb().fixed64(11, 1))))
                  .find("wrong wire type") != std::string::npos);
        CHECK(rejection(envelope("v1", "Namespace", Pb().key(1, 3).key(1, 4))).find("wire type") !=
              std::string::npos);
    }
    SUBCASE("values JSON cannot carry") {
        Pb bad_raw;
        bad_raw.message(2, Pb().bytes(1, "{not json")).varint(3, 1);
        CHECK(rejection(envelope("apps/v1", "ControllerRevision", bad_raw)).find("JSON") !=
              std::string::npos);
        Pb nan_schema;
        nan_schema.fixed64(9, 0x7ff8000000000000ULL);
        Pb crd;
        crd.message(2, Pb().message(7, Pb().message(4, Pb().message(1, nan_schema))));
        CHECK(rejection(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd))
                  .find("finite") != std::string::npos);
        Pb port;
        port.varint(1, 2);
        Pb service_port;
        service_port.varint(3, 80).message(4, port);
        Pb service;
        service.message(2, Pb().message(1, service_port));
        CHECK(rejection(envelope("v1", "Service", service)).find("IntOrString type 2") !=
              std::string::npos);
        Pb far;
        far.varint(1, 253402300800);  // 10000-01-01
        CHECK(rejection(envelope("v1", "Namespace", Pb().message(1, Pb().message(9, far))))
                  .find("outside years") != std::string::npos);
        Pb empty_quantity;
        empty_quantity.message(1, Pb().bytes(1, "cpu").message(2, Pb().bytes(1, "")));
        CHECK(rejection(envelope("v1", "ResourceQuota", Pb().message(2, empty_quantity)))
                  .find("quantity") != std::string::npos);
    }
    SUBCASE("nesting deeper than 100 messages") {
        auto nested = [](int depth) {
            Pb schema;
            schema.bytes(5, "object");
            for (int i = 0; i < depth; ++i) {
                Pb outer;
                outer.message(28, schema);  // JSONSchemaProps.not
                schema = outer;
            }
            Pb crd;
            crd.message(2, Pb().message(7, Pb().message(4, Pb().message(1, schema))));
            return envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd);
        };
        CHECK_NOTHROW(decode(nested(90)));
        CHECK(rejection(nested(100)).find("deeper than 100") != std::string::npos);
        // Unknown groups nest too.
        std::string groups;
        for (int i = 0; i < 200; ++i)
            groups += "\x7b";  // field 15, start group
        CHECK(rejection(envelope("v1", "Namespace", Pb().raw(groups))).find("deeper than 100") !=
              std::string::npos);
    }
    SUBCASE("random edits of real bodies decode or are rejected") {
        std::mt19937 random(20241123);  // fixed seed: the same edits every run
        for (const char* name : {"deployment", "configmap", "ingress", "ssar", "quota"}) {
            const auto body = read_file(kFixtures / (std::string(name) + ".pb"));
            for (int round = 0; round < 2000; ++round) {
                std::string mutated = body;
                const int edits = 1 + static_cast<int>(random() % 4);
                for (int edit = 0; edit < edits && mutated.size() > 4; ++edit) {
                    const std::size_t at = 4 + random() % (mutated.size() - 4);
                    const auto byte = static_cast<char>(random() & 0xff);
                    switch (random() % 3) {
                        case 0:
                            mutated[at] = byte;
                            break;
                        case 1:
                            mutated.insert(at, 1, byte);
                            break;
                        default:
                            mutated.erase(at, 1);
                            break;
                    }
                }
                try {
                    (void)decode(mutated);
                } catch (const ApiError& e) {
                    CHECK(e.code() == 400);
                }
            }
        }
    }
    SUBCASE("every truncation and byte flip of real bodies decodes or is rejected") {
        for (const char* name : {"deployment", "cronjob", "ingress", "rolebinding", "token"}) {
            const auto body = read_file(kFixtures / (std::string(name) + ".pb"));
            for (std::size_t size = 0; size < body.size(); ++size) {
                try {
                    (void)decode(body.substr(0, size));
                } catch (const ApiError& e) {
                    CHECK(e.code() == 400);
                }
            }
            for (std::size_t at = 4; at < body.size(); ++at) {
                for (const unsigned char flip : {0x01, 0x80, 0xff}) {
                    std::string mutated = body;
                    mutated[at] = static_cast<char>(static_cast<unsigned char>(mutated[at]) ^ flip);
                    try {
                        (void)decode(mutated);
                    } catch (const ApiError& e) {
                        CHECK(e.code() == 400);
                    }
                }
            }
        }
    }
}

TEST_CASE("is_kubernetes_protobuf recognises the media type only") {
    using kcube::api::is_kubernetes_protobuf;
    CHECK(is_kubernetes_protobuf("application/vnd.kubernetes.protobuf"));
    CHECK(is_kubernetes_protobuf("application/vnd.kubernetes.protobuf; charset=binary"));
    CHECK(is_kubernetes_protobuf(" Application/VND.Kubernetes.Protobuf ;stream=watch"));
    CHECK_FALSE(is_kubernetes_protobuf("application/json"));
    CHECK_FALSE(is_kubernetes_protobuf("application/vnd.kubernetes.protobuf2"));
    CHECK_FALSE(is_kubernetes_protobuf("application/x-protobuf"));
    CHECK_FALSE(is_kubernetes_protobuf(""));
}

TEST_CASE("every built-in property carries its protobuf field number") {
    const auto& schemas = builtin_schemas();
    int annotated = 0;
    for (const auto& [name, definition] : schemas.definitions()) {
        // version.Info is served as JSON only; it has no protobuf form.
        if (name == "io.k8s.apimachinery.pkg.version.Info") continue;
        std::map<std::pair<int, int>, std::string> seen;
        for (const auto& [property, schema] : definition->properties) {
            CAPTURE(name);
            CAPTURE(property);
            if (schema->proto_tag == 0) {
                // Only TypeMeta's fields, which the envelope carries, are not in the message.
                CHECK((property == "apiVersion" || property == "kind"));
                continue;
            }
            ++annotated;
            const auto [it, inserted] =
                seen.emplace(std::pair{schema->proto_embedded_in, schema->proto_tag}, property);
            CHECK_MESSAGE(inserted, "field number shared with " << it->second);
        }
    }
    CHECK(annotated > 1400);
}

TEST_CASE("x-kcube-proto parses, round-trips and rejects bad values") {
    const auto document = parse(R"({
      "T": {"type": "object", "properties": {
        "a": {"type": "string", "x-kcube-proto": {"tag": 1, "keepZero": false}},
        "b": {"allOf": [{"$ref": "#/components/schemas/U"}],
              "x-kcube-proto": {"tag": 2, "keepZero": true, "nullIfAbsent": true}},
        "c": {"type": "integer", "x-kcube-proto": {"tag": 3, "keepZero": true, "embeddedIn": 9}},
        "d": {"type": "string", "x-kcube-proto": {"tag": 536870911, "keepZero": false,
                                                  "kind": "duration"}},
        "e": {"type": "object", "additionalProperties": {"type": "array",
              "items": {"type": "string"}, "x-kcube-proto": {"kind": "wrappedList"}},
              "x-kcube-proto": {"tag": 5, "keepZero": false}}}},
      "U": {"type": "object"}})")
                              .as_object();
    kcube::api::SchemaSet set;
    set.add_openapi(document);
    const auto* t = set.find("T");
    REQUIRE(t != nullptr);
    CHECK(t->property("a")->proto_tag == 1);
    CHECK_FALSE(t->property("a")->proto_keep_zero);
    CHECK(t->property("b")->proto_keep_zero);
    CHECK(t->property("b")->proto_null_if_absent);
    CHECK(t->property("b")->ref == "U");
    CHECK(t->property("c")->proto_embedded_in == 9);
    CHECK(t->property("d")->proto_kind == "duration");
    CHECK(t->property("e")->additional_properties->proto_kind == "wrappedList");
    CHECK(set.to_openapi() == document);
    // Served documents can leave the wire mapping out; a ref with nothing else stays bare.
    const auto served = set.to_openapi(false);
    CHECK(served.at("T").at("properties").at("a") == parse(R"({"type":"string"})"));
    CHECK(served.at("T").at("properties").at("b") == parse(R"({"$ref":"#/components/schemas/U"})"));
    CHECK(json::serialize(builtin_schemas().to_openapi(false)).find("x-kcube-proto") ==
          std::string::npos);

    // The built-in files round-trip their annotations too.
    for (const auto& [file, contents] : kcube::api::embedded_schema_files()) {
        CAPTURE(file);
        const auto original = parse(contents).as_object();
        kcube::api::SchemaSet one;
        one.add_openapi(original);
        const auto written = one.to_openapi();
        for (const auto& [name, definition] : original) {
            const auto* properties = definition.as_object().if_contains("properties");
            if (properties == nullptr) continue;
            for (const auto& [property, schema] : properties->as_object()) {
                const auto* proto = schema.as_object().if_contains("x-kcube-proto");
                if (proto == nullptr) continue;
                CHECK(written.at(name).at("properties").at(property).at("x-kcube-proto") == *proto);
            }
        }
    }

    auto reject = [](std::string_view proto) {
        kcube::api::SchemaSet bad;
        const auto doc = parse(std::string(R"({"T":{"type":"object","properties":{"a":{
            "type":"string","x-kcube-proto":)") +
                               std::string(proto) + "}}}}");
        CHECK_THROWS_AS(bad.add_openapi(doc.as_object()), std::invalid_argument);
        CHECK(bad.find("T") == nullptr);
    };
    reject("[]");
    reject(R"({"tag": 0})");
    reject(R"({"tag": 536870912})");
    reject(R"({"tag": "1"})");
    reject(R"({"tag": 1.5})");
    reject(R"({"keepZero": 1})");
    reject(R"({"embeddedIn": -1})");
    reject(R"({"kind": "timestamp"})");
    reject(R"({"tag": 1, "keepzero": true})");
}
