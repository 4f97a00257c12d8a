// The default RBAC policy a fresh cluster starts with, as upstream's bootstrap policy defines it
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, the roles of Kubernetes 1.32 that matter to
// a cluster kcube serves), and the start-up reconciliation that keeps it present.
#include <algorithm>
#include <boost/json.hpp>

#include "cluster/auth/policy_rules.hpp"
#include "cluster/auth/rbac.hpp"

namespace kcube::auth {
namespace json = boost::json;
using detail::Rule;

namespace {

constexpr std::string_view kAutoupdate = "rbac.authorization.kubernetes.io/autoupdate";
constexpr std::string_view kBootstrapping = "kubernetes.io/bootstrapping";
constexpr std::string_view kAggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin";
constexpr std::string_view kAggregateToEdit = "rbac.authorization.k8s.io/aggregate-to-edit";
constexpr std::string_view kAggregateToView = "rbac.authorization.k8s.io/aggregate-to-view";
constexpr int kAttempts = 5;  // optimistic-concurrency retries against concurrent writers

using Strings = std::vector<std::string>;
const Strings kRead = {"get", "list", "watch"};
const Strings kWrite = {"create", "delete", "deletecollection", "patch", "update"};
const Strings kReadWrite = {"create", "delete", "deletecollection", "get",
                            "list",   "patch",  "update",           "watch"};

Rule resources(Strings verbs, Strings groups, Strings names) {
    return {std::move(verbs), std::move(groups), std::move(names), {}, {}};
}
Rule urls(Strings verbs, Strings paths) {
    return {std::move(verbs), {}, {}, {}, std::move(paths)};
}

struct DefaultRole {
    std::string name;
    std::string aggregate_to;    // label key (value "true") that aggregates this role elsewhere
    std::string aggregate_from;  // label key its aggregationRule selects; "" = plain role
    std::vector<Rule> rules;
};

// Lists are sorted as upstream's rule builder sorts them, so the stored objects read the same.
std::vector<DefaultRole> default_roles() {
    return {
        {"cluster-admin", "", "", {resources({"*"}, {"*"}, {"*"}), urls({"*"}, {"*"})}},
        {"admin", "", std::string(kAggregateToAdmin), {}},
        {"edit", std::string(kAggregateToAdmin), std::string(kAggregateToEdit), {}},
        {"view", std::string(kAggregateToEdit), std::string(kAggregateToView), {}},
        {"system:aggregate-to-admin",
         std::string(kAggregateToAdmin),
         "",
         {resources({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
          resources(kReadWrite, {"rbac.authorization.k8s.io"}, {"rolebindings", "roles"})}},
        {"system:aggregate-to-edit",
         std::string(kAggregateToEdit),
         "",
         {resources(kRead, {""},
                    {"pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                     "services/proxy"}),
          resources({"impersonate"}, {""}, {"serviceaccounts"}),
          resources(kWrite, {""},
                    {"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"}),
          resources({"create"}, {""}, {"pods/eviction"}),
          resources(kWrite, {""},
                    {"configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                     "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                     "services/proxy"}),
          resources({"create"}, {""}, {"serviceaccounts/token"}),
          resources(kWrite, {"apps"},
                    {"daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                     "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"}),
          resources(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
          resources(kWrite, {"batch"}, {"cronjobs", "jobs"}),
          resources(kWrite, {"extensions"},
                    {"daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                     "ingresses", "networkpolicies", "replicasets", "replicasets/scale",
                     "replicationcontrollers/scale"}),
          resources(kWrite, {"policy"}, {"poddisruptionbudgets"}),
          resources(kWrite, {"networking.k8s.io"}, {"ingresses", "networkpolicies"})}},
        {"system:aggregate-to-view",
         std::string(kAggregateToView),
         "",
         {resources(
              kRead, {""},
              {"configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
               "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
               "services", "services/status"}),
          resources(
              kRead, {""},
              {"bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
               "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"}),
          resources(kRead, {""}, {"namespaces"}),
          resources(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
          resources(
              kRead, {"apps"},
              {"controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
               "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
               "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"}),
          resources(kRead, {"autoscaling"},
                    {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
          resources(kRead, {"batch"}, {"cronjobs", "cronjobs/status", "jobs", "jobs/status"}),
          resources(kRead, {"extensions"},
                    {"daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                     "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
                     "replicasets", "replicasets/scale", "replicasets/status",
                     "replicationcontrollers/scale"}),
          resources(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
          resources(kRead, {"networking.k8s.io"},
                    {"ingresses", "ingresses/status", "networkpolicies"})}},
        {"system:basic-user",
         "",
         "",
         {resources({"create"}, {"authorization.k8s.io"},
                    {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
          resources({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}},
        {"system:discovery",
         "",
         "",
         {urls({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                         "/openapi/*", "/readyz", "/version", "/version/"})}},
        {"system:public-info-viewer",
         "",
         "",
         {urls({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}},
        {"system:monitoring",
         "",
         "",
         {urls({"get"}, {"/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                         "/metrics/slis", "/readyz", "/readyz/*"})}},
        {"system:service-account-issuer-discovery",
         "",
         "",
         {urls({"get"}, {"/.well-known/openid-configuration", "/openid/v1/jwks"})}},
    };
}

struct DefaultBinding {
    std::string name;  // also the ClusterRole it grants
    std::vector<std::string> groups;
};

std::vector<DefaultBinding> default_bindings() {
    return {
        {"cluster-admin", {"system:masters"}},
        {"system:basic-user", {"system:authenticated"}},
        {"system:discovery", {"system:authenticated"}},
        {"system:monitoring", {"system:monitoring"}},
        {"system:public-info-viewer", {"system:authenticated", "system:unauthenticated"}},
        {"system:service-account-issuer-discovery", {"system:serviceaccounts"}},
    };
}

json::object default_metadata(const std::string& name, const std::string& extra_label) {
    json::object labels{{kBootstrapping, "rbac-defaults"}};
    if (!extra_label.empty()) labels[extra_label] = "true";
    return {{"name", name},
            {"labels", std::move(labels)},
            {"annotations", json::object{{kAutoupdate, "true"}}}};
}

json::object aggregation_rule(const std::string& label) {
    return {{"clusterRoleSelectors",
             json::array{json::object{{"matchLabels", json::object{{label, "true"}}}}}}};
}

json::object to_object(const DefaultRole& role) {
    json::object object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                        {"kind", "ClusterRole"},
                        {"metadata", default_metadata(role.name, role.aggregate_to)}};
    if (!role.aggregate_from.empty()) {
        object["aggregationRule"] = aggregation_rule(role.aggregate_from);
    } else {
        object["rules"] = detail::rules_to_json(role.rules);
    }
    return object;
}

json::object subject_group(const std::string& name) {
    return {{"kind", "Group"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", name}};
}

json::object to_object(const DefaultBinding& binding) {
    json::array subjects;
    for (const auto& g : binding.groups)
        subjects.emplace_back(subject_group(g));
    return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRoleBinding"},
            {"metadata", default_metadata(binding.name, "")},
            {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                     {"kind", "ClusterRole"},
                                     {"name", binding.name}}},
            {"subjects", std::move(subjects)}};
}

json::object& object_field(json::object& object, std::string_view field) {
    auto& v = object[field];
    if (!v.is_object()) v = json::object{};
    return v.as_object();
}

json::array& array_field(json::object& object, std::string_view field) {
    auto& v = object[field];
    if (!v.is_array()) v = json::array{};
    return v.as_array();
}

// Adds the expected entries that are missing; existing values win, as upstream's merge.
bool merge_map(json::object& existing, const json::object& expected) {
    bool changed = false;
    for (const auto& [key, value] : expected) {
        if (!existing.contains(key)) {
            existing[key] = value;
            changed = true;
        }
    }
    return changed;
}

bool autoupdate(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return true;
    const auto* annotations = metadata->as_object().if_contains("annotations");
    if (annotations == nullptr || !annotations->is_object()) return true;
    const auto* value = annotations->as_object().if_contains(kAutoupdate);
    return value == nullptr || !value->is_string() || value->as_string() != "false";
}

// Upstream's role reconciliation, additive only. Returns whether `existing` changed.
bool reconcile_role(json::object& existing, const json::object& expected) {
    bool changed = false;
    auto& metadata = object_field(existing, "metadata");
    const auto& want_metadata = expected.at("metadata").as_object();
    changed |= merge_map(object_field(metadata, "labels"), want_metadata.at("labels").as_object());
    changed |= merge_map(object_field(metadata, "annotations"),
                         want_metadata.at("annotations").as_object());
    if (const auto* want = expected.if_contains("aggregationRule")) {
        // The rules of an aggregated role belong to the aggregation; only selectors are added.
        auto& selectors =
            array_field(object_field(existing, "aggregationRule"), "clusterRoleSelectors");
        for (const auto& s : want->as_object().at("clusterRoleSelectors").as_array()) {
            if (std::find(selectors.begin(), selectors.end(), s) == selectors.end()) {
                selectors.push_back(s);
                changed = true;
            }
        }
        return changed;
    }
    std::vector<Rule> rules = detail::rules_from_json(existing.if_contains("rules"));
    auto& stored = array_field(existing, "rules");
    for (const auto& rule : detail::rules_from_json(expected.if_contains("rules"))) {
        if (detail::covers(rules, rule)) continue;
        rules.push_back(rule);
        stored.emplace_back(rule.to_json());
        changed = true;
    }
    return changed;
}

bool reconcile_binding(json::object& existing, const json::object& expected) {
    bool changed = false;
    auto& metadata = object_field(existing, "metadata");
    const auto& want_metadata = expected.at("metadata").as_object();
    changed |= merge_map(object_field(metadata, "labels"), want_metadata.at("labels").as_object());
    changed |= merge_map(object_field(metadata, "annotations"),
                         want_metadata.at("annotations").as_object());
    auto& subjects = array_field(existing, "subjects");
    for (const auto& want : expected.at("subjects").as_array()) {
        const auto& w = want.as_object();
        const bool present = std::any_of(subjects.begin(), subjects.end(), [&](const auto& s) {
            if (!s.is_object()) return false;
            const auto& o = s.as_object();
            return o.if_contains("kind") && *o.if_contains("kind") == w.at("kind") &&
                   o.if_contains("name") && *o.if_contains("name") == w.at("name");
        });
        if (!present) {
            subjects.push_back(want);
            changed = true;
        }
    }
    return changed;
}

bool same_role_ref(const json::object& existing, const json::object& expected) {
    const auto* ref = existing.if_contains("roleRef");
    if (ref == nullptr || !ref->is_object()) return false;
    const auto& want = expected.at("roleRef").as_object();
    const auto& have = ref->as_object();
    return have.if_contains("kind") && *have.if_contains("kind") == want.at("kind") &&
           have.if_contains("name") && *have.if_contains("name") == want.at("name");
}

std::string name_of(const json::object& object) {
    return std::string(object.at("metadata").as_object().at("name").as_string());
}

// Creates `expected` or reconciles the stored object with it, retrying on write races.
template <typename Reconcile>
void ensure(api::ResourceService& service, const api::ResourceInfo& info,
            const json::object& expected, Reconcile&& reconcile) {
    const std::string name = name_of(expected);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        try {
            json::object existing;
            try {
                existing = service.get(info, "", name);
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
                service.create(info, "", expected, {});
                return;
            }
            if (!autoupdate(existing)) return;
            if (reconcile(existing)) service.update(info, "", name, std::move(existing), {});
            return;
        } catch (const api::ApiError& e) {
            // AlreadyExists or Conflict: someone else wrote it meanwhile; look again.
            if (e.code() != 409 || attempt + 1 == kAttempts) throw;
        }
    }
}

std::shared_ptr<const api::ResourceInfo> rbac_info(api::ResourceService& service,
                                                   std::string_view plural) {
    auto info = service.registry().find(detail::kRbacGroup, "v1", plural);
    if (!info) {
        throw api::internal_error(std::string(plural) +
                                  ".rbac.authorization.k8s.io is not registered");
    }
    return info;
}

}  // namespace

void ensure_default_rbac(api::ResourceService& service) {
    const auto roles = rbac_info(service, "clusterroles");
    const auto bindings = rbac_info(service, "clusterrolebindings");
    for (const auto& role : default_roles()) {
        const json::object expected = to_object(role);
        ensure(service, *roles, expected,
               [&](json::object& existing) { return reconcile_role(existing, expected); });
    }
    for (const auto& binding : default_bindings()) {
        const json::object expected = to_object(binding);
        ensure(service, *bindings, expected, [&](json::object& existing) {
            if (!same_role_ref(existing, expected)) {
                // roleRef is immutable: upstream replaces such a binding.
                service.remove(*bindings, "", binding.name, {});
                service.create(*bindings, "", expected, {});
                return false;
            }
            return reconcile_binding(existing, expected);
        });
    }
    aggregate_cluster_roles(service);
}

int aggregate_cluster_roles(api::ResourceService& service) {
    const auto info = rbac_info(service, "clusterroles");
    for (int attempt = 0;; ++attempt) {
        int updated = 0;
        try {
            const json::object list = service.list(*info, "", {});
            const auto& items = list.at("items").as_array();
            const auto resolved = detail::resolve_cluster_roles(items);
            for (const auto& item : items) {
                const auto& role = item.as_object();
                const auto* aggregation = role.if_contains("aggregationRule");
                if (aggregation == nullptr || !aggregation->is_object()) continue;
                const std::string name = name_of(role);
                const auto it = resolved.find(name);
                if (it == resolved.end()) continue;
                if (detail::rules_from_json(role.if_contains("rules")) == it->second) continue;
                json::object copy = role;
                copy["rules"] = detail::rules_to_json(it->second);
                service.update(*info, "", name, std::move(copy), {});
                ++updated;
            }
            return updated;
        } catch (const api::ApiError& e) {
            if (e.code() != 409 || attempt + 1 == kAttempts) throw;
        }
    }
}

}  // namespace kcube::auth
