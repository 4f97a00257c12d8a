#include "cluster/api/resources.hpp"

#include <algorithm>
#include <mutex>

namespace kcube::api {
namespace {

const std::vector<std::string> kAllVerbs = {"create", "delete", "deletecollection", "get",
                                            "list",   "patch",  "update",           "watch"};

struct Row {
    std::string group, version, kind, plural;
    std::vector<std::string> short_names;
    bool namespaced = true;
    std::vector<std::string> subresources;
    std::vector<std::string> categories;
    std::vector<std::string> field_selectors;
    std::vector<std::string> verbs = kAllVerbs;
    std::string definition_package;  // io.k8s.api.<package>.<version>
    bool virtual_resource = false;
};

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::shared_ptr<const ResourceInfo> make(const Row& row) {
    auto info = std::make_shared<ResourceInfo>();
    info->group = row.group;
    info->version = row.version;
    info->kind = row.kind;
    info->list_kind = row.kind + "List";
    info->plural = row.plural;
    info->singular = lower(row.kind);
    info->short_names = row.short_names;
    info->categories = row.categories;
    info->namespaced = row.namespaced;
    info->verbs = row.verbs;
    info->subresources = row.subresources;
    info->field_selectors = row.field_selectors;
    info->virtual_resource = row.virtual_resource;
    info->definition = row.definition_package.empty() ? ""
                                                      : "io.k8s." + row.definition_package + "." +
                                                            row.version + "." + row.kind;
    return info;
}

std::vector<Row> builtin_rows() {
    const std::vector<std::string> pod_fields = {
        "spec.nodeName",    "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase",       "status.podIP",       "status.nominatedNodeName"};
    const std::vector<std::string> event_fields = {"involvedObject.kind",
                                                   "involvedObject.namespace",
                                                   "involvedObject.name",
                                                   "involvedObject.uid",
                                                   "involvedObject.apiVersion",
                                                   "involvedObject.resourceVersion",
                                                   "involvedObject.fieldPath",
                                                   "reason",
                                                   "reportingComponent",
                                                   "source",
                                                   "type"};
    const std::vector<std::string> create_only = {"create"};
    const std::vector<std::string> no_collection = {"create", "delete", "get",  "list",
                                                    "patch",  "update", "watch"};
    return {
        // core/v1
        {"", "v1", "Binding", "bindings", {}, true, {}, {}, {}, create_only, "api.core"},
        {"", "v1", "ConfigMap", "configmaps", {"cm"}, true, {}, {}, {}, kAllVerbs, "api.core"},
        {"", "v1", "Endpoints", "endpoints", {"ep"}, true, {}, {}, {}, kAllVerbs, "api.core"},
        {"", "v1", "Event", "events", {"ev"}, true, {}, {}, event_fields, kAllVerbs, "api.core"},
        {"",
         "v1",
         "LimitRange",
         "limitranges",
         {"limits"},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "Namespace",
         "namespaces",
         {"ns"},
         false,
         {"status", "finalize"},
         {},
         {"status.phase"},
         no_collection,
         "api.core"},
        {"",
         "v1",
         "Node",
         "nodes",
         {"no"},
         false,
         {"status"},
         {},
         {"spec.unschedulable"},
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "PersistentVolumeClaim",
         "persistentvolumeclaims",
         {"pvc"},
         true,
         {"status"},
         {},
         {},
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "PersistentVolume",
         "persistentvolumes",
         {"pv"},
         false,
         {"status"},
         {},
         {},
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "Pod",
         "pods",
         {"po"},
         true,
         {"status", "binding", "eviction", "log", "exec", "attach", "portforward"},
         {"all"},
         pod_fields,
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "ResourceQuota",
         "resourcequotas",
         {"quota"},
         true,
         {"status"},
         {},
         {},
         kAllVerbs,
         "api.core"},
        {"", "v1", "Secret", "secrets", {}, true, {}, {}, {"type"}, kAllVerbs, "api.core"},
        {"",
         "v1",
         "ServiceAccount",
         "serviceaccounts",
         {"sa"},
         true,
         {"token"},
         {},
         {},
         kAllVerbs,
         "api.core"},
        {"",
         "v1",
         "Service",
         "services",
         {"svc"},
         true,
         {"status"},
         {"all"},
         {"spec.clusterIP", "spec.type"},
         no_collection,
         "api.core"},
        // apps/v1
        {"apps",
         "v1",
         "ControllerRevision",
         "controllerrevisions",
         {},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.apps"},
        {"apps",
         "v1",
         "DaemonSet",
         "daemonsets",
         {"ds"},
         true,
         {"status"},
         {"all"},
         {},
         kAllVerbs,
         "api.apps"},
        {"apps",
         "v1",
         "Deployment",
         "deployments",
         {"deploy"},
         true,
         {"status", "scale"},
         {"all"},
         {},
         kAllVerbs,
         "api.apps"},
        {"apps",
         "v1",
         "ReplicaSet",
         "replicasets",
         {"rs"},
         true,
         {"status", "scale"},
         {"all"},
         {"status.replicas"},
         kAllVerbs,
         "api.apps"},
        {"apps",
         "v1",
         "StatefulSet",
         "statefulsets",
         {"sts"},
         true,
         {"status", "scale"},
         {"all"},
         {},
         kAllVerbs,
         "api.apps"},
        // authorization.k8s.io/v1
        {"authorization.k8s.io",
         "v1",
         "SelfSubjectAccessReview",
         "selfsubjectaccessreviews",
         {},
         false,
         {},
         {},
         {},
         create_only,
         "api.authorization",
         true},
        {"authorization.k8s.io",
         "v1",
         "SelfSubjectRulesReview",
         "selfsubjectrulesreviews",
         {},
         false,
         {},
         {},
         {},
         create_only,
         "api.authorization",
         true},
        // batch/v1
        {"batch",
         "v1",
         "CronJob",
         "cronjobs",
         {"cj"},
         true,
         {"status"},
         {"all"},
         {},
         kAllVerbs,
         "api.batch"},
        {"batch",
         "v1",
         "Job",
         "jobs",
         {},
         true,
         {"status"},
         {"all"},
         {"status.successful"},
         kAllVerbs,
         "api.batch"},
        // coordination.k8s.io/v1
        {"coordination.k8s.io",
         "v1",
         "Lease",
         "leases",
         {},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.coordination"},
        // discovery.k8s.io/v1
        {"discovery.k8s.io",
         "v1",
         "EndpointSlice",
         "endpointslices",
         {},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.discovery"},
        // events.k8s.io/v1
        {"events.k8s.io",
         "v1",
         "Event",
         "events",
         {"ev"},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.events"},
        // networking.k8s.io/v1
        {"networking.k8s.io",
         "v1",
         "IngressClass",
         "ingressclasses",
         {},
         false,
         {},
         {},
         {},
         kAllVerbs,
         "api.networking"},
        {"networking.k8s.io",
         "v1",
         "Ingress",
         "ingresses",
         {"ing"},
         true,
         {"status"},
         {},
         {},
         kAllVerbs,
         "api.networking"},
        {"networking.k8s.io",
         "v1",
         "NetworkPolicy",
         "networkpolicies",
         {"netpol"},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.networking"},
        // rbac.authorization.k8s.io/v1
        {"rbac.authorization.k8s.io",
         "v1",
         "ClusterRoleBinding",
         "clusterrolebindings",
         {},
         false,
         {},
         {},
         {},
         kAllVerbs,
         "api.rbac"},
        {"rbac.authorization.k8s.io",
         "v1",
         "ClusterRole",
         "clusterroles",
         {},
         false,
         {},
         {},
         {},
         kAllVerbs,
         "api.rbac"},
        {"rbac.authorization.k8s.io",
         "v1",
         "RoleBinding",
         "rolebindings",
         {},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.rbac"},
        {"rbac.authorization.k8s.io",
         "v1",
         "Role",
         "roles",
         {},
         true,
         {},
         {},
         {},
         kAllVerbs,
         "api.rbac"},
        // storage.k8s.io/v1
        {"storage.k8s.io",
         "v1",
         "StorageClass",
         "storageclasses",
         {"sc"},
         false,
         {},
         {},
         {},
         kAllVerbs,
         "api.storage"},
        // apiextensions.k8s.io/v1
        {"apiextensions.k8s.io",
         "v1",
         "CustomResourceDefinition",
         "customresourcedefinitions",
         {"crd", "crds"},
         false,
         {"status"},
         {"api-extensions"},
         {},
         kAllVerbs,
         "apiextensions-apiserver.pkg.apis.apiextensions"},
    };
}

}  // namespace

bool ResourceInfo::has_verb(std::string_view verb) const {
    return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

bool ResourceInfo::has_subresource(std::string_view name) const {
    return std::find(subresources.begin(), subresources.end(), name) != subresources.end();
}

std::shared_ptr<ResourceRegistry> ResourceRegistry::with_builtins() {
    auto registry = std::make_shared<ResourceRegistry>();
    for (const auto& row : builtin_rows())
        registry->resources_.push_back(make(row));
    return registry;
}

std::shared_ptr<const ResourceInfo> ResourceRegistry::find(std::string_view group,
                                                           std::string_view version,
                                                           std::string_view plural) const {
    std::shared_lock lock(mutex_);
    for (const auto& r : resources_) {
        if (r->group == group && r->version == version && r->plural == plural) return r;
    }
    return nullptr;
}

std::shared_ptr<const ResourceInfo> ResourceRegistry::find_kind(std::string_view group,
                                                                std::string_view kind) const {
    std::shared_lock lock(mutex_);
    for (const auto& r : resources_) {
        if (r->group == group && r->kind == kind) return r;
    }
    return nullptr;
}

std::vector<std::shared_ptr<const ResourceInfo>> ResourceRegistry::all() const {
    std::shared_lock lock(mutex_);
    return resources_;
}

std::vector<ResourceRegistry::GroupVersions> ResourceRegistry::groups() const {
    std::shared_lock lock(mutex_);
    std::vector<GroupVersions> out;
    for (const auto& r : resources_) {
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const GroupVersions& g) { return g.group == r->group; });
        if (it == out.end()) {
            out.push_back({r->group, {r->version}});
        } else if (std::find(it->versions.begin(), it->versions.end(), r->version) ==
                   it->versions.end()) {
            it->versions.push_back(r->version);
        }
    }
    return out;
}

void ResourceRegistry::put_custom(const std::string& group, const std::string& plural,
                                  std::vector<ResourceInfo> versions) {
    std::unique_lock lock(mutex_);
    std::erase_if(resources_, [&](const auto& r) {
        return r->custom && r->group == group && r->plural == plural;
    });
    for (auto& v : versions) {
        v.custom = true;
        resources_.push_back(std::make_shared<const ResourceInfo>(std::move(v)));
    }
    ++generation_;
}

void ResourceRegistry::remove_custom(const std::string& group, const std::string& plural) {
    std::unique_lock lock(mutex_);
    std::erase_if(resources_, [&](const auto& r) {
        return r->custom && r->group == group && r->plural == plural;
    });
    ++generation_;
}

std::uint64_t ResourceRegistry::generation() const {
    std::shared_lock lock(mutex_);
    return generation_;
}

}  // namespace kcube::api
