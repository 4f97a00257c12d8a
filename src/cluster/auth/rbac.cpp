#include "cluster/auth/rbac.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>

#include "cluster/auth/policy_rules.hpp"
#include "cluster/store/store.hpp"
#include "common/strings.hpp"

namespace kcube::auth {
namespace json = boost::json;
using detail::Rule;

namespace {

constexpr std::string_view kMasters = "system:masters";

struct Subject {
    std::string kind, name, ns;
};

struct Binding {
    std::string name, ns;  // ns "" for ClusterRoleBindings
    std::string role_kind, role_name;
    std::vector<Subject> subjects;
};

// An immutable view of the four RBAC resources; shared by concurrent authorize() calls.
struct Snapshot {
    std::map<std::string, std::vector<Rule>> cluster_roles;                  // aggregation resolved
    std::map<std::pair<std::string, std::string>, std::vector<Rule>> roles;  // (ns, name)
    std::vector<Binding> cluster_role_bindings;                              // name order
    std::map<std::string, std::vector<Binding>> role_bindings;               // by namespace
};

std::string string_at(const json::object& object, std::string_view field) {
    const auto* v = object.if_contains(field);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object& object_at(const json::object& object, std::string_view field) {
    static const json::object kEmpty;
    const auto* v = object.if_contains(field);
    return v != nullptr && v->is_object() ? v->as_object() : kEmpty;
}

Binding parse_binding(const json::object& object) {
    Binding b;
    const auto& metadata = object_at(object, "metadata");
    b.name = string_at(metadata, "name");
    b.ns = string_at(metadata, "namespace");
    const auto& ref = object_at(object, "roleRef");
    b.role_kind = string_at(ref, "kind");
    b.role_name = string_at(ref, "name");
    if (const auto* subjects = object.if_contains("subjects"); subjects && subjects->is_array()) {
        for (const auto& s : subjects->as_array()) {
            if (!s.is_object()) continue;
            const auto& so = s.as_object();
            b.subjects.push_back(
                {string_at(so, "kind"), string_at(so, "name"), string_at(so, "namespace")});
        }
    }
    return b;
}

const json::array& items_of(const json::object& list) {
    static const json::array kEmpty;
    const auto* items = list.if_contains("items");
    return items != nullptr && items->is_array() ? items->as_array() : kEmpty;
}

bool applies_to(const Subject& subject, const std::string& user,
                const std::vector<std::string>& groups, const std::string& binding_ns) {
    if (subject.kind == "User") return subject.name == user;
    if (subject.kind == "Group") {
        return std::find(groups.begin(), groups.end(), subject.name) != groups.end();
    }
    if (subject.kind == "ServiceAccount") {
        // An unqualified service account means one in the binding's namespace.
        const std::string& sa_ns = subject.ns.empty() ? binding_ns : subject.ns;
        if (sa_ns.empty()) return false;
        return user == "system:serviceaccount:" + sa_ns + ":" + subject.name;
    }
    return false;
}

std::string describe_subject(const Subject& s, const std::string& binding_ns) {
    if (s.kind == "ServiceAccount") {
        return s.kind + " " + strings::go_quote(s.name + "/" + (s.ns.empty() ? binding_ns : s.ns));
    }
    return s.kind + " " + strings::go_quote(s.name);
}

std::string describe_source(const Binding& b, const Subject& s) {
    if (b.ns.empty()) {
        return "ClusterRoleBinding " + strings::go_quote(b.name) + " of " + b.role_kind + " " +
               strings::go_quote(b.role_name) + " to " + describe_subject(s, "");
    }
    return "RoleBinding " + strings::go_quote(b.name + "/" + b.ns) + " of " + b.role_kind + " " +
           strings::go_quote(b.role_name) + " to " + describe_subject(s, b.ns);
}

// Upstream's utilerrors.NewAggregate(...).Error(): one message as is, several de-duplicated
// in brackets.
std::string aggregate_errors(const std::vector<std::string>& errors) {
    if (errors.size() == 1) return errors[0];
    std::vector<std::string> unique;
    for (const auto& e : errors) {
        if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(e);
    }
    std::string out;
    for (size_t i = 0; i < unique.size(); ++i)
        out += (i > 0 ? ", " : "") + unique[i];
    return unique.size() == 1 ? out : "[" + out + "]";
}

// The rules a role reference grants, or nullptr with the error upstream's listers report.
const std::vector<Rule>* role_rules(const Snapshot& snapshot, const Binding& b,
                                    std::string& error) {
    if (b.role_kind == "ClusterRole") {
        auto it = snapshot.cluster_roles.find(b.role_name);
        if (it != snapshot.cluster_roles.end()) return &it->second;
        error = "clusterrole.rbac.authorization.k8s.io " + strings::go_quote(b.role_name) +
                " not found";
        return nullptr;
    }
    if (b.role_kind == "Role") {
        auto it = snapshot.roles.find({b.ns, b.role_name});
        if (it != snapshot.roles.end()) return &it->second;
        error = "role.rbac.authorization.k8s.io " + strings::go_quote(b.role_name) + " not found";
        return nullptr;
    }
    error = "unsupported role reference kind: " + strings::go_quote(b.role_kind);
    return nullptr;
}

// Upstream's VisitRulesFor: ClusterRoleBindings first, then the RoleBindings of `ns`. The
// visitor returns false to stop; resolution errors are collected.
template <typename Visitor>
void visit_rules(const Snapshot& snapshot, const std::string& user,
                 const std::vector<std::string>& groups, const std::string& ns,
                 std::vector<std::string>& errors, Visitor&& visit) {
    auto visit_bindings = [&](const std::vector<Binding>& bindings) {
        for (const auto& b : bindings) {
            auto subject = std::find_if(b.subjects.begin(), b.subjects.end(), [&](const auto& s) {
                return applies_to(s, user, groups, b.ns);
            });
            if (subject == b.subjects.end()) continue;
            std::string error;
            const auto* rules = role_rules(snapshot, b, error);
            if (rules == nullptr) {
                errors.push_back(std::move(error));
                continue;
            }
            for (const auto& rule : *rules) {
                if (!visit(b, *subject, rule)) return false;
            }
        }
        return true;
    };
    if (!visit_bindings(snapshot.cluster_role_bindings)) return;
    if (ns.empty()) return;
    auto it = snapshot.role_bindings.find(ns);
    if (it != snapshot.role_bindings.end()) visit_bindings(it->second);
}

json::array to_array(const std::vector<std::string>& values) {
    json::array out;
    for (const auto& v : values)
        out.emplace_back(v);
    return out;
}

}  // namespace

// ---- messages -------------------------------------------------------------------------

std::string forbidden_message(const Attributes& a) {
    std::string detail;
    if (!a.resource_request) {
        detail = "User " + strings::go_quote(a.user) + " cannot " + a.verb + " path " +
                 strings::go_quote(a.path);
    } else {
        const std::string resource =
            a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
        detail = "User " + strings::go_quote(a.user) + " cannot " + a.verb + " resource " +
                 strings::go_quote(resource) + " in API group " + strings::go_quote(a.api_group) +
                 (a.ns.empty() ? " at the cluster scope"
                               : " in the namespace " + strings::go_quote(a.ns));
    }
    // Upstream escapes what could make the message look like HTML.
    std::string sanitized;
    for (char c : detail) {
        if (c == '&')
            sanitized += "&amp;";
        else if (c == '<')
            sanitized += "&lt;";
        else if (c == '>')
            sanitized += "&gt;";
        else
            sanitized += c;
    }
    // apierrors.NewForbidden's prefix: the qualified resource (not the subresource), and the
    // name when the request has one.
    if (!a.resource_request || a.resource.empty()) return "forbidden: " + sanitized;
    const std::string qualified = api::qualified_resource(a.api_group, a.resource);
    if (a.name.empty()) return qualified + " is forbidden: " + sanitized;
    return qualified + " " + strings::go_quote(a.name) + " is forbidden: " + sanitized;
}

api::ApiError forbidden_error(const Attributes& a, const std::string& reason) {
    std::string message = forbidden_message(a);
    if (!reason.empty()) message += ": " + reason;
    const bool resource = a.resource_request;
    return api::forbidden(message).with_details({resource ? a.api_group : std::string(),
                                                 resource ? a.resource : std::string(),
                                                 resource ? a.name : std::string()});
}

// ---- Authorizer -----------------------------------------------------------------------

struct Authorizer::Impl {
    api::ResourceService& service;
    std::shared_ptr<const api::ResourceInfo> infos[4];  // clusterroles, clusterrolebindings,
                                                        // roles, rolebindings
    // Set by the watches' callbacks (on a writer's thread) whenever a policy object may have
    // changed. Shared so that a callback still running while the Authorizer dies is harmless.
    std::shared_ptr<std::atomic<bool>> dirty = std::make_shared<std::atomic<bool>>(false);

    std::mutex rebuild_mutex;  // one rebuild at a time; guards `watches`
    std::unique_ptr<api::WatchStream> watches[4];

    mutable std::mutex snapshot_mutex;  // guards `snapshot` (the pointer, not the pointee)
    std::shared_ptr<const Snapshot> snapshot;

    explicit Impl(api::ResourceService& s) : service(s) {
        const char* plurals[4] = {"clusterroles", "clusterrolebindings", "roles", "rolebindings"};
        for (int i = 0; i < 4; ++i) {
            infos[i] = service.registry().find(detail::kRbacGroup, "v1", plurals[i]);
            if (!infos[i]) {
                throw api::internal_error(std::string("resource ") + plurals[i] +
                                          ".rbac.authorization.k8s.io is not registered");
            }
        }
        std::lock_guard lock(rebuild_mutex);
        for (int i = 0; i < 4; ++i)
            start_watch(i);
        // The first snapshot is built here, after the watches started, so that current() never
        // hands out an empty pointer while another thread is still building it; a write that
        // lands in between marks it stale through the watches.
        snapshot = build();
    }

    ~Impl() {
        std::lock_guard lock(rebuild_mutex);
        for (auto& w : watches) {
            if (w) w->on_ready({});
        }
    }

    // A watch from the current revision: only its callback matters (it marks the snapshot
    // stale); the objects themselves are re-listed on rebuild.
    void start_watch(int i) {
        api::ListOptions options;
        options.resource_version = std::to_string(service.store().revision());
        watches[i] = service.watch(*infos[i], "", options);
        std::weak_ptr<std::atomic<bool>> flag = dirty;
        watches[i]->on_ready([flag] {
            if (auto f = flag.lock()) f->store(true, std::memory_order_release);
        });
    }

    std::shared_ptr<const Snapshot> current() {
        if (dirty->load(std::memory_order_acquire)) {
            std::lock_guard lock(rebuild_mutex);
            // Cleared before reading, so a write that lands during the rebuild marks it stale
            // again instead of being lost.
            if (dirty->exchange(false, std::memory_order_acq_rel)) {
                try {
                    drain_watches();
                    auto fresh = build();
                    std::lock_guard s(snapshot_mutex);
                    snapshot = std::move(fresh);
                } catch (...) {
                    dirty->store(true, std::memory_order_release);
                    throw;
                }
            }
        }
        std::lock_guard s(snapshot_mutex);
        return snapshot;
    }

    // Keeps the watches' cursors current so they never fall out of the store's retained
    // history; one that did (an ERROR event) is replaced. The list that follows reads
    // everything the replaced watch may have missed.
    void drain_watches() {
        for (int i = 0; i < 4; ++i) {
            const auto events = watches[i]->poll();
            const bool failed = std::any_of(events.begin(), events.end(),
                                            [](const auto& e) { return e.type == "ERROR"; });
            if (failed) start_watch(i);
        }
    }

    std::shared_ptr<const Snapshot> build() {
        auto snap = std::make_shared<Snapshot>();
        const api::ListOptions all;
        // Each list is kept in a local: the loops below iterate over its items.
        const json::object cluster_roles = service.list(*infos[0], "", all);
        const json::object cluster_role_bindings = service.list(*infos[1], "", all);
        const json::object roles = service.list(*infos[2], "", all);
        const json::object role_bindings = service.list(*infos[3], "", all);
        snap->cluster_roles = detail::resolve_cluster_roles(items_of(cluster_roles));
        for (const auto& item : items_of(cluster_role_bindings)) {
            if (item.is_object()) {
                snap->cluster_role_bindings.push_back(parse_binding(item.as_object()));
            }
        }
        for (const auto& item : items_of(roles)) {
            if (!item.is_object()) continue;
            const auto& metadata = object_at(item.as_object(), "metadata");
            snap->roles[{string_at(metadata, "namespace"), string_at(metadata, "name")}] =
                detail::rules_from_json(item.as_object().if_contains("rules"));
        }
        for (const auto& item : items_of(role_bindings)) {
            if (!item.is_object()) continue;
            Binding b = parse_binding(item.as_object());
            snap->role_bindings[b.ns].push_back(std::move(b));
        }
        return snap;
    }
};

Authorizer::Authorizer(api::ResourceService& service) : impl_(std::make_unique<Impl>(service)) {}
Authorizer::~Authorizer() = default;

Decision Authorizer::authorize(const Attributes& a) {
    // Upstream allows system:masters before any authorizer looks at policy (and binds it to
    // cluster-admin besides), so it keeps working even if the policy objects are broken.
    if (std::find(a.groups.begin(), a.groups.end(), kMasters) != a.groups.end()) {
        return {true,
                "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole "
                "\"cluster-admin\" to Group \"system:masters\""};
    }
    const auto snapshot = impl_->current();
    Decision decision;
    std::vector<std::string> errors;
    visit_rules(*snapshot, a.user, a.groups, a.ns, errors,
                [&](const Binding& b, const Subject& s, const Rule& rule) {
                    if (!detail::rule_allows(a, rule)) return true;
                    decision.allowed = true;
                    decision.reason = "RBAC: allowed by " + describe_source(b, s);
                    return false;
                });
    if (!decision.allowed && !errors.empty()) decision.reason = "RBAC: " + aggregate_errors(errors);
    return decision;
}

json::object Authorizer::self_subject_access_review(const std::string& user,
                                                    const std::vector<std::string>& groups,
                                                    json::object review) {
    json::object spec = object_at(review, "spec");
    const auto* resource = spec.if_contains("resourceAttributes");
    const auto* non_resource = spec.if_contains("nonResourceAttributes");
    const bool has_resource = resource != nullptr && resource->is_object();
    const bool has_non_resource = non_resource != nullptr && non_resource->is_object();
    if (has_resource == has_non_resource) {
        // Upstream's ValidateSelfSubjectAccessReviewSpec wording.
        api::StatusCause cause;
        if (has_resource) {
            cause = {"FieldValueInvalid",
                     "Invalid value: " + json::serialize(*non_resource) +
                         ": cannot be specified in combination with resourceAttributes",
                     "spec.nonResourceAttributes"};
        } else {
            cause = {"FieldValueInvalid",
                     "Invalid value: \"null\": exactly one of nonResourceAttributes or "
                     "resourceAttributes must be specified",
                     "spec.resourceAttributes"};
        }
        throw api::invalid("authorization.k8s.io", "SelfSubjectAccessReview", "", {cause});
    }
    Attributes a;
    a.user = user;
    a.groups = groups;
    if (has_resource) {
        const auto& r = resource->as_object();
        a.resource_request = true;
        a.verb = string_at(r, "verb");
        a.ns = string_at(r, "namespace");
        a.api_group = string_at(r, "group");
        a.resource = string_at(r, "resource");
        a.subresource = string_at(r, "subresource");
        a.name = string_at(r, "name");
    } else {
        const auto& r = non_resource->as_object();
        a.resource_request = false;
        a.verb = string_at(r, "verb");
        a.path = string_at(r, "path");
    }
    const Decision decision = authorize(a);
    json::object status{{"allowed", decision.allowed}};
    if (!decision.reason.empty()) status["reason"] = decision.reason;

    review["kind"] = "SelfSubjectAccessReview";
    review["apiVersion"] = "authorization.k8s.io/v1";
    if (!review.contains("metadata"))
        review["metadata"] = json::object{{"creationTimestamp", nullptr}};
    review["spec"] = std::move(spec);
    review["status"] = std::move(status);
    return review;
}

json::object Authorizer::self_subject_rules_review(const std::string& user,
                                                   const std::vector<std::string>& groups,
                                                   json::object review) {
    const std::string ns = string_at(object_at(review, "spec"), "namespace");
    if (ns.empty()) throw api::bad_request("no namespace on request");

    json::array resource_rules, non_resource_rules;
    std::vector<std::string> errors;
    const auto snapshot = impl_->current();
    visit_rules(*snapshot, user, groups, ns, errors,
                [&](const Binding&, const Subject&, const Rule& rule) {
                    // A rule with both resources and URLs (invalid, but storable) shows in both.
                    if (!rule.resources.empty()) {
                        json::object r{{"verbs", to_array(rule.verbs)}};
                        if (!rule.api_groups.empty()) r["apiGroups"] = to_array(rule.api_groups);
                        r["resources"] = to_array(rule.resources);
                        if (!rule.resource_names.empty()) {
                            r["resourceNames"] = to_array(rule.resource_names);
                        }
                        resource_rules.emplace_back(std::move(r));
                    }
                    if (!rule.non_resource_urls.empty()) {
                        non_resource_rules.emplace_back(
                            json::object{{"verbs", to_array(rule.verbs)},
                                         {"nonResourceURLs", to_array(rule.non_resource_urls)}});
                    }
                    return true;
                });
    json::object status{{"resourceRules", std::move(resource_rules)},
                        {"nonResourceRules", std::move(non_resource_rules)},
                        {"incomplete", false}};
    if (!errors.empty()) status["evaluationError"] = aggregate_errors(errors);
    // Upstream answers with a fresh object: only the status, not the request's spec.
    return json::object{{"kind", "SelfSubjectRulesReview"},
                        {"apiVersion", "authorization.k8s.io/v1"},
                        {"metadata", json::object{{"creationTimestamp", nullptr}}},
                        {"spec", json::object{}},
                        {"status", std::move(status)}};
}

}  // namespace kcube::auth
