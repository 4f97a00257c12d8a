#pragma once
// Internal to kcube_auth: PolicyRule matching and ClusterRole aggregation, shared by the
// Authorizer, the default-policy reconciliation and the aggregation pass.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/auth/rbac.hpp"

namespace kcube::auth::detail {

inline constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

// rbac/v1 PolicyRule.
struct Rule {
    std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;

    bool operator==(const Rule&) const = default;
    // Missing or malformed lists read as empty, which matches nothing (deny by default).
    static Rule from_json(const boost::json::value& value);
    // Field order as upstream serialises a PolicyRule; empty lists omitted (omitempty).
    boost::json::object to_json() const;
};

std::vector<Rule> rules_from_json(const boost::json::value* rules);
boost::json::array rules_to_json(const std::vector<Rule>& rules);

// Upstream's RuleAllows: verb, API group, resource (with "*", "pods/log" and "*/scale" forms)
// and resourceNames for resource requests; verb and nonResourceURLs (exact, "*", or a
// trailing-"*" prefix) for the others.
bool rule_allows(const Attributes& attributes, const Rule& rule);

// True when the `owner` rules grant everything `requested` grants (upstream's Covers), used to
// decide which default rules are missing from an existing role.
bool covers(const std::vector<Rule>& owner, const Rule& requested);

// The effective rules of every ClusterRole in `items` (ClusterRole objects): its own rules, or
// for a role with an aggregationRule the de-duplicated union, in name order, of the rules of
// the other ClusterRoles its selectors match, resolved transitively (edit aggregates into admin
// and view into edit). A cycle falls back to the stored rules of the role already being
// resolved, as the upstream controller would see them.
std::map<std::string, std::vector<Rule>> resolve_cluster_roles(const boost::json::array& items);

}  // namespace kcube::auth::detail
