#pragma once
// Authorization as upstream's RBAC authorizer decides it: ClusterRoleBindings and RoleBindings
// grant the rules of Roles and ClusterRoles to users, groups and service accounts. The policy
// objects live in the store like any other resource; the Authorizer keeps an immutable snapshot
// of them that is rebuilt only after one of them changes, so checking a request costs no store
// reads. Facts (rule matching, reason texts, the default policy) follow upstream's
// plugin/pkg/auth/authorizer/rbac and its bootstrappolicy.
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::auth {

// What a request wants to do, as upstream's authorizer.Attributes describes it.
struct Attributes {
    std::string user;
    std::vector<std::string> groups;
    std::string verb;  // get list watch create update patch delete deletecollection, or the
                       // lower-cased HTTP method for non-resource requests
    bool resource_request = true;
    std::string api_group, resource, subresource, ns, name;
    std::string path;  // non-resource requests: "/apis", "/healthz"
};

struct Decision {
    bool allowed = false;
    // Allowed: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`.
    // Denied: "" or `RBAC: clusterrole.rbac.authorization.k8s.io "y" not found` when a binding
    // points at a role that does not exist (upstream appends it to the Forbidden message).
    std::string reason;
};

// Upstream's Forbidden text for a denied request, e.g.
//   pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace
//   "default" pods "x" is forbidden: User "bob" cannot get resource "pods/log" in API group "" ...
//   forbidden: User "bob" cannot get path "/apis"
std::string forbidden_message(const Attributes& attributes);
// The 403 Status upstream sends: forbidden_message, then ": <reason>" when the decision has a
// reason, with details {group, kind: resource, name}.
api::ApiError forbidden_error(const Attributes& attributes, const std::string& reason = {});

class Authorizer {
  public:
    // Watches the four RBAC resources of `service`, which must outlive the Authorizer.
    explicit Authorizer(api::ResourceService& service);
    ~Authorizer();
    Authorizer(const Authorizer&) = delete;
    Authorizer& operator=(const Authorizer&) = delete;

    // Thread-safe. Throws api::ApiError when the policy could not be read from the store.
    Decision authorize(const Attributes& attributes);

    // POST selfsubjectaccessreviews (authorization.k8s.io/v1) for the requesting user: `review`
    // is the request body; returns it with status {allowed, reason}. 422 Invalid unless exactly
    // one of spec.resourceAttributes / spec.nonResourceAttributes is set.
    boost::json::object self_subject_access_review(const std::string& user,
                                                   const std::vector<std::string>& groups,
                                                   boost::json::object review);
    // POST selfsubjectrulesreviews: every rule that applies to the user in spec.namespace
    // (400 "no namespace on request" without one), as status {resourceRules, nonResourceRules,
    // incomplete, evaluationError}.
    boost::json::object self_subject_rules_review(const std::string& user,
                                                  const std::vector<std::string>& groups,
                                                  boost::json::object review);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Upstream's default ClusterRoles (cluster-admin, admin, edit, view, the system:aggregate-to-*
// roles, system:discovery, system:basic-user, system:public-info-viewer, system:monitoring,
// system:service-account-issuer-discovery) and their ClusterRoleBindings, labelled
// kubernetes.io/bootstrapping=rbac-defaults. Missing objects are created; existing ones whose
// rbac.authorization.kubernetes.io/autoupdate annotation is not "false" get missing labels,
// annotations, rules, aggregation selectors and subjects added (never removed), as upstream's
// reconciliation does at start-up. Finishes with aggregate_cluster_roles.
void ensure_default_rbac(api::ResourceService& service);

// One pass of upstream's clusterrole-aggregation controller: writes into every ClusterRole with
// an aggregationRule the union of the rules of the ClusterRoles its selectors match, so that
// `kubectl get clusterrole view -o yaml` shows them. (The Authorizer does not depend on it: it
// resolves aggregation itself.) Returns how many ClusterRoles it updated.
int aggregate_cluster_roles(api::ResourceService& service);

}  // namespace kcube::auth
