#include "cluster/api/schema.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/builtin_schemas.hpp"

namespace json = boost::json;
using kcube::api::additional_of;
using kcube::api::builtin_schemas;
using kcube::api::definition_name_for;
using kcube::api::embedded_schema_files;
using kcube::api::GroupVersionKind;
using kcube::api::items_of;
using kcube::api::property_of;
using kcube::api::Schema;
using kcube::api::SchemaSet;

namespace {

constexpr std::string_view kCore = "io.k8s.api.core.v1.";
constexpr std::string_view kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";

const Schema& definition(std::string_view name) {
    const Schema* schema = builtin_schemas().find(name);
    INFO("definition " << name);
    REQUIRE(schema != nullptr);
    return *schema;
}

// The property `field` of definition `type`, exactly as written (a ref node for ref fields).
const Schema& field(std::string_view type, std::string_view name) {
    const Schema* property = definition(type).property(name);
    INFO(type << "." << name);
    REQUIRE(property != nullptr);
    return *property;
}

std::string core(std::string_view kind) {
    return std::string(kCore) + std::string(kind);
}
std::string meta(std::string_view kind) {
    return std::string(kMeta) + std::string(kind);
}

// Calls `visit` on `schema` and every node below it (properties, items, additionalProperties).
void walk(const Schema& schema, const std::function<void(const Schema&)>& visit) {
    visit(schema);
    for (const auto& [name, property] : schema.properties) {
        if (property) walk(*property, visit);
    }
    if (schema.items) walk(*schema.items, visit);
    if (schema.additional_properties) walk(*schema.additional_properties, visit);
}

SchemaSet parse(std::string_view text) {
    SchemaSet set;
    set.add_openapi(json::parse(text).as_object());
    return set;
}

// Structural equality of two schema trees, reporting the first difference's path.
void check_same(const Schema& a, const Schema& b, const std::string& path) {
    INFO("at " << path);
    CHECK(a.ref == b.ref);
    CHECK(a.type == b.type);
    CHECK(a.format == b.format);
    CHECK(a.description == b.description);
    CHECK(a.enum_values == b.enum_values);
    CHECK(a.required == b.required);
    CHECK(a.int_or_string == b.int_or_string);
    CHECK(a.preserve_unknown_fields == b.preserve_unknown_fields);
    CHECK(a.embedded_resource == b.embedded_resource);
    CHECK(a.nullable == b.nullable);
    CHECK(a.patch_strategy == b.patch_strategy);
    CHECK(a.patch_merge_key == b.patch_merge_key);
    CHECK(a.list_type == b.list_type);
    CHECK(a.list_map_keys == b.list_map_keys);
    CHECK(a.map_type == b.map_type);
    CHECK(a.group_version_kinds == b.group_version_kinds);
    REQUIRE(a.properties.size() == b.properties.size());
    for (const auto& [name, property] : a.properties) {
        const Schema* other = b.property(name);
        REQUIRE(other != nullptr);
        check_same(*property, *other, path + "." + name);
    }
    REQUIRE((a.items == nullptr) == (b.items == nullptr));
    if (a.items) check_same(*a.items, *b.items, path + "[]");
    REQUIRE((a.additional_properties == nullptr) == (b.additional_properties == nullptr));
    if (a.additional_properties) {
        check_same(*a.additional_properties, *b.additional_properties, path + "{}");
    }
}

struct Kind {
    std::string_view group;
    std::string_view version;
    std::string_view kind;
    std::string_view definition;
    bool has_list;
};

// Every built-in kind the brief asks for, with its upstream definition name.
const std::vector<Kind>& kinds() {
    static const std::vector<Kind> all = {
        {"", "v1", "Namespace", "io.k8s.api.core.v1.Namespace", true},
        {"", "v1", "Pod", "io.k8s.api.core.v1.Pod", true},
        {"", "v1", "Service", "io.k8s.api.core.v1.Service", true},
        {"", "v1", "Endpoints", "io.k8s.api.core.v1.Endpoints", true},
        {"", "v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap", true},
        {"", "v1", "Secret", "io.k8s.api.core.v1.Secret", true},
        {"", "v1", "ServiceAccount", "io.k8s.api.core.v1.ServiceAccount", true},
        {"", "v1", "Node", "io.k8s.api.core.v1.Node", true},
        {"", "v1", "Event", "io.k8s.api.core.v1.Event", true},
        {"", "v1", "PersistentVolume", "io.k8s.api.core.v1.PersistentVolume", true},
        {"", "v1", "PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaim", true},
        {"", "v1", "LimitRange", "io.k8s.api.core.v1.LimitRange", true},
        {"", "v1", "ResourceQuota", "io.k8s.api.core.v1.ResourceQuota", true},
        {"", "v1", "Binding", "io.k8s.api.core.v1.Binding", false},
        {"apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment", true},
        {"apps", "v1", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet", true},
        {"apps", "v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet", true},
        {"apps", "v1", "DaemonSet", "io.k8s.api.apps.v1.DaemonSet", true},
        {"apps", "v1", "ControllerRevision", "io.k8s.api.apps.v1.ControllerRevision", true},
        {"autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale", false},
        {"batch", "v1", "Job", "io.k8s.api.batch.v1.Job", true},
        {"batch", "v1", "CronJob", "io.k8s.api.batch.v1.CronJob", true},
        {"networking.k8s.io", "v1", "Ingress", "io.k8s.api.networking.v1.Ingress", true},
        {"networking.k8s.io", "v1", "IngressClass", "io.k8s.api.networking.v1.IngressClass", true},
        {"networking.k8s.io", "v1", "NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy",
         true},
        {"discovery.k8s.io", "v1", "EndpointSlice", "io.k8s.api.discovery.v1.EndpointSlice", true},
        {"coordination.k8s.io", "v1", "Lease", "io.k8s.api.coordination.v1.Lease", true},
        {"storage.k8s.io", "v1", "StorageClass", "io.k8s.api.storage.v1.StorageClass", true},
        {"rbac.authorization.k8s.io", "v1", "Role", "io.k8s.api.rbac.v1.Role", true},
        {"rbac.authorization.k8s.io", "v1", "RoleBinding", "io.k8s.api.rbac.v1.RoleBinding", true},
        {"rbac.authorization.k8s.io", "v1", "ClusterRole", "io.k8s.api.rbac.v1.ClusterRole", true},
        {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
         "io.k8s.api.rbac.v1.ClusterRoleBinding", true},
        {"events.k8s.io", "v1", "Event", "io.k8s.api.events.v1.Event", true},
        {"authorization.k8s.io", "v1", "SelfSubjectAccessReview",
         "io.k8s.api.authorization.v1.SelfSubjectAccessReview", false},
        {"authentication.k8s.io", "v1", "TokenRequest", "io.k8s.api.authentication.v1.TokenRequest",
         false},
        {"policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction", false},
        {"apiextensions.k8s.io", "v1", "CustomResourceDefinition",
         "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", true},
        {"", "v1", "Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Status", false},
        {"apps", "v1", "DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
         false},
        {"batch", "v1", "WatchEvent", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", false},
    };
    return all;
}

bool has_gvk(const Schema& schema, std::string_view group, std::string_view version,
             std::string_view kind) {
    for (const auto& gvk : schema.group_version_kinds) {
        if (gvk.group == group && gvk.version == version && gvk.kind == kind) return true;
    }
    return false;
}

}  // namespace

TEST_SUITE("schema: embedded data") {
    TEST_CASE("every embedded file is a JSON object of definitions that parses") {
        std::set<std::string> files;
        for (const auto& [name, contents] : embedded_schema_files()) {
            INFO("file " << name);
            files.emplace(name);
            json::value document;
            CHECK_NOTHROW(document = json::parse(contents));
            REQUIRE(document.is_object());
            CHECK_FALSE(document.get_object().empty());
            SchemaSet set;
            CHECK_NOTHROW(set.add_openapi(document.get_object()));
            CHECK(set.definitions().size() == document.get_object().size());
        }
        for (const char* expected :
             {"meta_v1.json", "core_v1.json", "apps_v1.json", "batch_v1.json", "networking_v1.json",
              "discovery_v1.json", "coordination_v1.json", "storage_v1.json", "rbac_v1.json",
              "events_v1.json", "authorization_v1.json", "authentication_v1.json", "policy_v1.json",
              "autoscaling_v1.json", "apiextensions_v1.json"}) {
            CHECK_MESSAGE(files.contains(expected), expected);
        }
        CHECK(builtin_schemas().definitions().size() > 300);
        CHECK(&builtin_schemas() == &builtin_schemas());
    }

    TEST_CASE("no definition is in two files") {
        std::set<std::string> seen;
        for (const auto& [file, contents] : embedded_schema_files()) {
            const auto document = json::parse(contents);
            for (const auto& [name, value] : document.as_object()) {
                INFO(file << ": " << std::string_view(name));
                CHECK(seen.emplace(name).second);
            }
        }
    }

    TEST_CASE("every $ref resolves") {
        const auto& set = builtin_schemas();
        int refs = 0;
        for (const auto& [name, schema] : set.definitions()) {
            walk(*schema, [&](const Schema& node) {
                if (node.ref.empty()) return;
                ++refs;
                INFO(name << " refers to " << node.ref);
                CHECK(set.find(node.ref) != nullptr);
            });
        }
        CHECK(refs > 500);
    }

    TEST_CASE("every definition and field has a description") {
        for (const auto& [name, schema] : builtin_schemas().definitions()) {
            INFO(name);
            CHECK_FALSE(schema->description.empty());
            for (const auto& [field_name, property] : schema->properties) {
                INFO(name << "." << field_name);
                CHECK_FALSE(property->description.empty());
            }
        }
    }

    TEST_CASE("required fields exist, and list keys name fields of the items") {
        const auto& set = builtin_schemas();
        for (const auto& [name, schema] : set.definitions()) {
            for (const auto& required : schema->required) {
                INFO(name << " requires " << required);
                CHECK(schema->property(required) != nullptr);
            }
            for (const auto& [field_name, property] : schema->properties) {
                INFO(name << "." << field_name);
                if (property->list_type == "map") CHECK_FALSE(property->list_map_keys.empty());
                const Schema* item = items_of(set, property.get());
                if (item == nullptr || item->type != "object") continue;
                for (const auto& key : property->list_map_keys) {
                    CHECK(item->property(key) != nullptr);
                }
                if (!property->patch_merge_key.empty()) {
                    CHECK(item->property(property->patch_merge_key) != nullptr);
                }
            }
        }
    }

    TEST_CASE("every kind exists with its group-version-kind, and so does its list") {
        for (const auto& kind : kinds()) {
            INFO(kind.group << "/" << kind.version << " " << kind.kind);
            const Schema& schema = definition(kind.definition);
            CHECK(schema.type == "object");
            CHECK(has_gvk(schema, kind.group, kind.version, kind.kind));
            CHECK(definition_name_for(kind.group, kind.version, kind.kind) == kind.definition);
            if (kind.kind == "WatchEvent" || kind.kind == "DeleteOptions") continue;
            if (kind.kind != "Status") {
                CHECK(field(kind.definition, "metadata").ref == meta("ObjectMeta"));
            }
            CHECK(field(kind.definition, "apiVersion").type == "string");
            CHECK(field(kind.definition, "kind").type == "string");
            if (!kind.has_list) continue;
            const std::string list = std::string(kind.definition) + "List";
            const Schema& list_schema = definition(list);
            CHECK(has_gvk(list_schema, kind.group, kind.version, std::string(kind.kind) + "List"));
            CHECK(field(list, "metadata").ref == meta("ListMeta"));
            const Schema& items = field(list, "items");
            CHECK(items.type == "array");
            REQUIRE(items.items != nullptr);
            CHECK(items.items->ref == kind.definition);
            CHECK(std::find(list_schema.required.begin(), list_schema.required.end(), "items") !=
                  list_schema.required.end());
        }
    }

    TEST_CASE("meta kinds are served in every group version") {
        const Schema& options = definition(meta("DeleteOptions"));
        for (std::string_view group : {"", "apps", "batch", "policy", "networking.k8s.io",
                                       "apiextensions.k8s.io", "rbac.authorization.k8s.io"}) {
            CHECK(has_gvk(options, group, "v1", "DeleteOptions"));
            CHECK(has_gvk(definition(meta("WatchEvent")), group, "v1", "WatchEvent"));
        }
        CHECK(has_gvk(definition(meta("APIResourceList")), "", "v1", "APIResourceList"));
        CHECK(has_gvk(definition(meta("APIGroupList")), "", "v1", "APIGroupList"));
    }

    TEST_CASE("definition names follow upstream's rule for other groups") {
        CHECK(definition_name_for("scheduling.k8s.io", "v1", "PriorityClass") ==
              "io.k8s.api.scheduling.v1.PriorityClass");
        CHECK(definition_name_for("apiregistration.k8s.io", "v1", "APIService") ==
              "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService");
        CHECK(definition_name_for("stable.example.com", "v1", "CronTab") ==
              "com.example.stable.v1.CronTab");
        CHECK(definition_name_for("widgets", "v1alpha1", "Widget") == "widgets.v1alpha1.Widget");
    }
}

TEST_SUITE("schema: patch and apply metadata") {
    TEST_CASE("pod spec lists") {
        const auto spec = core("PodSpec");
        for (const char* name : {"containers", "initContainers", "ephemeralContainers"}) {
            const Schema& list = field(spec, name);
            INFO(name);
            CHECK(list.patch_strategy == "merge");
            CHECK(list.patch_merge_key == "name");
            CHECK(list.list_type == "map");
            CHECK(list.list_map_keys == std::vector<std::string>{"name"});
        }
        const Schema& volumes = field(spec, "volumes");
        CHECK(volumes.patch_strategy == "merge,retainKeys");
        CHECK(volumes.patch_merge_key == "name");
        CHECK(volumes.list_type == "map");
        CHECK(volumes.list_map_keys == std::vector<std::string>{"name"});

        const Schema& tolerations = field(spec, "tolerations");
        CHECK(tolerations.patch_strategy.empty());
        CHECK(tolerations.patch_merge_key.empty());
        CHECK(tolerations.list_type == "atomic");

        CHECK(field(spec, "imagePullSecrets").patch_merge_key == "name");
        CHECK(field(spec, "hostAliases").patch_merge_key == "ip");
        const Schema& spread = field(spec, "topologySpreadConstraints");
        CHECK(spread.patch_merge_key == "topologyKey");
        CHECK(spread.list_map_keys == std::vector<std::string>{"topologyKey", "whenUnsatisfiable"});
        CHECK(field(spec, "nodeSelector").map_type == "atomic");
    }

    TEST_CASE("container lists") {
        const auto container = core("Container");
        const Schema& env = field(container, "env");
        CHECK(env.patch_strategy == "merge");
        CHECK(env.patch_merge_key == "name");
        CHECK(env.list_type == "map");
        CHECK(env.list_map_keys == std::vector<std::string>{"name"});

        const Schema& mounts = field(container, "volumeMounts");
        CHECK(mounts.patch_strategy == "merge");
        CHECK(mounts.patch_merge_key == "mountPath");
        CHECK(mounts.list_type == "map");
        CHECK(mounts.list_map_keys == std::vector<std::string>{"mountPath"});

        const Schema& ports = field(container, "ports");
        CHECK(ports.patch_strategy == "merge");
        CHECK(ports.patch_merge_key == "containerPort");
        CHECK(ports.list_type == "map");
        CHECK(ports.list_map_keys == std::vector<std::string>{"containerPort", "protocol"});

        CHECK(field(container, "volumeDevices").patch_merge_key == "devicePath");
        CHECK(field(container, "command").list_type == "atomic");
        CHECK(field(container, "args").list_type == "atomic");
        CHECK(field(container, "envFrom").list_type == "atomic");
        CHECK(field(core("EphemeralContainer"), "env").patch_merge_key == "name");
    }

    TEST_CASE("service, node and status lists") {
        const Schema& ports = field(core("ServiceSpec"), "ports");
        CHECK(ports.patch_strategy == "merge");
        CHECK(ports.patch_merge_key == "port");
        CHECK(ports.list_map_keys == std::vector<std::string>{"port", "protocol"});
        CHECK(field(core("ServiceSpec"), "selector").map_type == "atomic");

        for (const auto& [type, name] : std::vector<std::pair<std::string, std::string>>{
                 {core("PodStatus"), "conditions"},
                 {core("NodeStatus"), "conditions"},
                 {core("NamespaceStatus"), "conditions"},
                 {"io.k8s.api.apps.v1.DeploymentStatus", "conditions"},
                 {"io.k8s.api.apps.v1.StatefulSetStatus", "conditions"},
                 {core("NodeStatus"), "addresses"}}) {
            const Schema& conditions = field(type, name);
            INFO(type << "." << name);
            CHECK(conditions.patch_strategy == "merge");
            CHECK(conditions.patch_merge_key == "type");
            CHECK(conditions.list_type == "map");
            CHECK(conditions.list_map_keys == std::vector<std::string>{"type"});
        }
        // Jobs keep patch metadata on conditions but apply treats them as atomic.
        const Schema& job_conditions = field("io.k8s.api.batch.v1.JobStatus", "conditions");
        CHECK(job_conditions.patch_merge_key == "type");
        CHECK(job_conditions.list_type == "atomic");

        const Schema& cidrs = field(core("NodeSpec"), "podCIDRs");
        CHECK(cidrs.patch_strategy == "merge");
        CHECK(cidrs.patch_merge_key.empty());
        CHECK(cidrs.list_type == "set");
        CHECK(field(core("PodStatus"), "podIPs").patch_merge_key == "ip");
    }

    TEST_CASE("object metadata lists") {
        const auto object_meta = meta("ObjectMeta");
        const Schema& finalizers = field(object_meta, "finalizers");
        CHECK(finalizers.patch_strategy == "merge");
        CHECK(finalizers.patch_merge_key.empty());
        CHECK(finalizers.list_type == "set");
        const Schema& owners = field(object_meta, "ownerReferences");
        CHECK(owners.patch_strategy == "merge");
        CHECK(owners.patch_merge_key == "uid");
        CHECK(owners.list_type == "map");
        CHECK(owners.list_map_keys == std::vector<std::string>{"uid"});
        CHECK(field(object_meta, "managedFields").list_type == "atomic");
        CHECK(definition(meta("OwnerReference")).map_type == "atomic");
        CHECK(definition(core("ObjectReference")).map_type == "atomic");
        CHECK(definition(core("LocalObjectReference")).map_type == "atomic");
        CHECK(field(meta("LabelSelector"), "matchExpressions").list_type == "atomic");
    }

    TEST_CASE("strategies on ref-typed fields stay on the field") {
        const Schema& strategy = field("io.k8s.api.apps.v1.DeploymentSpec", "strategy");
        CHECK(strategy.ref == "io.k8s.api.apps.v1.DeploymentStrategy");
        CHECK(strategy.patch_strategy == "retainKeys");
        CHECK(field(core("PersistentVolumeSpec"), "claimRef").map_type == "granular");
    }
}

TEST_SUITE("schema: types") {
    TEST_CASE("ObjectMeta fields") {
        const auto object_meta = meta("ObjectMeta");
        const Schema& schema = definition(object_meta);
        CHECK(schema.required.empty());
        for (const char* name :
             {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"}) {
            CHECK(field(object_meta, name).type == "string");
        }
        CHECK(field(object_meta, "generation").type == "integer");
        CHECK(field(object_meta, "generation").format == "int64");
        CHECK(field(object_meta, "deletionGracePeriodSeconds").format == "int64");
        CHECK(field(object_meta, "creationTimestamp").ref == meta("Time"));
        CHECK(field(object_meta, "deletionTimestamp").ref == meta("Time"));
        for (const char* name : {"labels", "annotations"}) {
            const Schema& map = field(object_meta, name);
            CHECK(map.type == "object");
            REQUIRE(map.additional_properties != nullptr);
            CHECK(map.additional_properties->type == "string");
        }
        CHECK(field(object_meta, "finalizers").items->type == "string");
        CHECK(field(object_meta, "ownerReferences").items->ref == meta("OwnerReference"));
        CHECK(field(object_meta, "managedFields").items->ref == meta("ManagedFieldsEntry"));
        CHECK(schema.properties.size() == 15);
        const Schema& time = definition(meta("Time"));
        CHECK(time.type == "string");
        CHECK(time.format == "date-time");
    }

    TEST_CASE("special types") {
        const Schema& int_or_string = definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        CHECK(int_or_string.int_or_string);
        CHECK(int_or_string.format == "int-or-string");
        // Upstream writes both as a oneOf of types; here they are left untyped (any JSON value)
        // with IntOrString narrowed by x-kubernetes-int-or-string, as in CRD schemas.
        CHECK(int_or_string.type.empty());
        CHECK(definition("io.k8s.apimachinery.pkg.api.resource.Quantity").type.empty());
        CHECK(definition("io.k8s.apimachinery.pkg.runtime.RawExtension").type == "object");
        CHECK(field(core("Secret"), "data").additional_properties->format == "byte");
        CHECK(field(core("ConfigMap"), "binaryData").additional_properties->format == "byte");
        CHECK(field(core("ServicePort"), "targetPort").ref ==
              "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        CHECK(field(core("ContainerPort"), "containerPort").format == "int32");
        CHECK(field(core("PodSpec"), "terminationGracePeriodSeconds").format == "int64");
        CHECK(field(core("ResourceRequirements"), "limits").additional_properties->ref ==
              "io.k8s.apimachinery.pkg.api.resource.Quantity");
        const Schema& policy = field(core("Container"), "imagePullPolicy");
        CHECK(policy.enum_values == std::vector<std::string>{"Always", "IfNotPresent", "Never"});
        CHECK(field(core("PodStatus"), "phase").enum_values.size() == 5);
        CHECK(definition(core("Container")).required == std::vector<std::string>{"name"});
        CHECK(definition(core("PodSpec")).required == std::vector<std::string>{"containers"});
    }

    TEST_CASE("JSONSchemaProps is recursive through refs") {
        const std::string props =
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        CHECK(field(props, "properties").additional_properties->ref == props);
        CHECK(field(props, "allOf").items->ref == props);
        CHECK(field(props, "not").ref == props);
        CHECK(field(props, "$ref").type == "string");
        CHECK(field(props, "x-kubernetes-preserve-unknown-fields").type == "boolean");
        const Schema& rules = field(props, "x-kubernetes-validations");
        CHECK(rules.list_type == "map");
        CHECK(rules.list_map_keys == std::vector<std::string>{"rule"});
        const Schema* validation =
            property_of(builtin_schemas(),
                        builtin_schemas().find("io.k8s.apiextensions-apiserver.pkg.apis."
                                               "apiextensions.v1.CustomResourceValidation"),
                        "openAPIV3Schema");
        REQUIRE(validation != nullptr);
        CHECK(validation == builtin_schemas().find(props));
    }
}

TEST_SUITE("schema: navigation") {
    TEST_CASE("property_of, items_of and additional_of follow refs") {
        const auto& set = builtin_schemas();
        const Schema* deployment = set.find("io.k8s.api.apps.v1.Deployment");
        const Schema* spec = property_of(set, deployment, "spec");
        CHECK(spec == set.find("io.k8s.api.apps.v1.DeploymentSpec"));
        const Schema* pod_spec = property_of(set, property_of(set, spec, "template"), "spec");
        CHECK(pod_spec == set.find(core("PodSpec")));
        const Schema* containers = property_of(set, pod_spec, "containers");
        REQUIRE(containers != nullptr);
        CHECK(containers->patch_merge_key == "name");
        const Schema* container = items_of(set, containers);
        CHECK(container == set.find(core("Container")));
        const Schema* limits = property_of(set, property_of(set, container, "resources"), "limits");
        CHECK(additional_of(set, limits) ==
              set.find("io.k8s.apimachinery.pkg.api.resource.Quantity"));
        CHECK(property_of(set, container, "name")->type == "string");

        CHECK(property_of(set, container, "noSuchField") == nullptr);
        CHECK(property_of(set, nullptr, "spec") == nullptr);
        CHECK(items_of(set, nullptr) == nullptr);
        CHECK(items_of(set, container) == nullptr);
        CHECK(additional_of(set, containers) == nullptr);
        // A ref node resolves to its definition; the definition resolves to itself.
        CHECK(set.resolve(deployment) == deployment);
        CHECK(set.resolve(definition("io.k8s.api.apps.v1.Deployment").property("spec")) == spec);
    }

    TEST_CASE("unknown and cyclic refs resolve to nothing") {
        auto set = parse(R"({
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"$ref": "#/components/schemas/A"},
            "C": {"type": "object", "properties": {"x": {"$ref": "#/components/schemas/Missing"}}}
        })");
        CHECK(set.resolve(set.find("A")) == nullptr);
        CHECK(property_of(set, set.find("C"), "x") == nullptr);
        CHECK(set.find("C")->property("x") != nullptr);
        CHECK(set.resolve(nullptr) == nullptr);
    }
}

TEST_SUITE("schema: OpenAPI parsing and writing") {
    TEST_CASE("every keyword of the model parses") {
        auto set = parse(R"({
            "T": {
                "description": "a type",
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "description": "the items",
                        "type": "array",
                        "items": {"allOf": [{"$ref": "#/components/schemas/U"}], "default": {}},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"]
                    },
                    "ref": {"allOf": [{"$ref": "#/components/schemas/U"}], "description": "d",
                            "x-kubernetes-patch-strategy": "retainKeys"},
                    "port": {"x-kubernetes-int-or-string": true},
                    "any": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                            "x-kubernetes-embedded-resource": true, "nullable": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"},
                               "x-kubernetes-map-type": "atomic"},
                    "open": {"type": "object", "additionalProperties": true},
                    "closed": {"type": "object", "additionalProperties": false},
                    "mode": {"type": "string", "enum": ["A", "B"], "pattern": "^[AB]$"},
                    "count": {"type": "integer", "format": "int64", "enum": [1, 2]}
                },
                "x-kubernetes-group-version-kind": [
                    {"group": "example.com", "version": "v1", "kind": "T"},
                    {"group": "", "kind": "T", "version": "v2"}
                ]
            },
            "U": {"type": "object", "x-kubernetes-map-type": "granular"}
        })");
        const Schema* t = set.find("T");
        REQUIRE(t != nullptr);
        CHECK(t->description == "a type");
        CHECK(t->required == std::vector<std::string>{"items"});
        CHECK(t->group_version_kinds ==
              std::vector<GroupVersionKind>{{"example.com", "v1", "T"}, {"", "v2", "T"}});
        const Schema* items = t->property("items");
        CHECK(items->type == "array");
        CHECK(items->items->ref == "U");
        CHECK(items->patch_strategy == "merge");
        CHECK(items->patch_merge_key == "name");
        CHECK(items->list_type == "map");
        CHECK(items->list_map_keys == std::vector<std::string>{"name", "port"});
        CHECK(items_of(set, items) == set.find("U"));
        const Schema* ref = t->property("ref");
        CHECK(ref->ref == "U");
        CHECK(ref->description == "d");
        CHECK(ref->patch_strategy == "retainKeys");
        CHECK(t->property("port")->int_or_string);
        const Schema* any = t->property("any");
        CHECK(any->preserve_unknown_fields);
        CHECK(any->embedded_resource);
        CHECK(any->nullable);
        CHECK(t->property("labels")->map_type == "atomic");
        CHECK(t->property("labels")->additional_properties->type == "string");
        REQUIRE(t->property("open")->additional_properties != nullptr);
        CHECK(t->property("open")->additional_properties->type.empty());
        CHECK(t->property("closed")->additional_properties == nullptr);
        CHECK(t->property("mode")->enum_values == std::vector<std::string>{"A", "B"});
        CHECK(t->property("count")->enum_values == std::vector<std::string>{"1", "2"});
        CHECK(set.find("U")->map_type == "granular");
    }

    TEST_CASE("refs are written bare, or wrapped in allOf when they carry field metadata") {
        auto set = parse(R"({
            "T": {"type": "object", "properties": {
                "bare": {"$ref": "#/components/schemas/U"},
                "described": {"$ref": "#/components/schemas/U", "description": "why"}
            }},
            "U": {"type": "string"}
        })");
        const auto out = set.to_openapi();
        const auto& properties = out.at("T").at("properties").as_object();
        CHECK(properties.at("bare") == json::parse(R"({"$ref": "#/components/schemas/U"})"));
        CHECK(properties.at("described") ==
              json::parse(
                  R"({"allOf": [{"$ref": "#/components/schemas/U"}], "description": "why"})"));
    }

    TEST_CASE("malformed schemas throw and leave the set unchanged") {
        SchemaSet set;
        set.add_openapi(json::parse(R"({"Keep": {"type": "string"}})").as_object());
        auto bad = [&](std::string_view text, std::string_view needle) {
            INFO(text);
            try {
                set.add_openapi(json::parse(text).as_object());
                FAIL("expected std::invalid_argument");
            } catch (const std::invalid_argument& e) {
                CHECK(std::string_view(e.what()).find(needle) != std::string_view::npos);
            }
        };
        bad(R"({"New": {"type": 1}})", "schema New: \"type\" must be a string");
        bad(R"({"New": {"type": "object", "properties": {"a": {"items": []}}}})", "New.a");
        bad(R"({"New": {"$ref": "http://example.com/x"}})", "unsupported $ref");
        bad(R"({"New": {"type": "object", "properties": {"a": 5}}})", "New.a");
        bad(R"({"New": {"x-kubernetes-list-map-keys": "name"}})", "array of strings");
        bad(R"({"New": {"x-kubernetes-int-or-string": "yes"}})", "must be a boolean");
        bad(R"({"Good": {}, "New": []})", "must be a JSON object");
        CHECK(set.definitions().size() == 1);
        CHECK(set.find("Keep") != nullptr);
        CHECK(set.find("Good") == nullptr);
    }

    TEST_CASE("the built-in definitions survive to_openapi and add_openapi unchanged") {
        const auto& original = builtin_schemas();
        const json::object written = original.to_openapi();
        SchemaSet copy;
        copy.add_openapi(written);
        REQUIRE(copy.definitions().size() == original.definitions().size());
        for (const auto& [name, schema] : original.definitions()) {
            const Schema* other = copy.find(name);
            REQUIRE_MESSAGE(other != nullptr, name);
            check_same(*schema, *other, name);
        }
        CHECK(copy.to_openapi() == written);
    }

    TEST_CASE("to_openapi writes the same shape as the embedded files") {
        // The embedded data is already in the canonical shape, so writing it back out
        // reproduces each file's definitions exactly (kubectl explain reads this output).
        const json::object written = builtin_schemas().to_openapi();
        for (const auto& [file, contents] : embedded_schema_files()) {
            const auto document = json::parse(contents);
            for (const auto& [name, value] : document.as_object()) {
                INFO(file << ": " << std::string_view(name));
                REQUIRE(written.contains(name));
                CHECK(written.at(name) == value);
            }
        }
    }
}
