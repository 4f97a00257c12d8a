#include "cluster/auth/policy_rules.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <set>

#include "cluster/api/selectors.hpp"

namespace kcube::auth::detail {
namespace json = boost::json;

namespace {

std::vector<std::string> strings_of(const json::object& object, std::string_view field) {
    std::vector<std::string> out;
    const auto* value = object.if_contains(field);
    if (value == nullptr || !value->is_array()) return out;
    for (const auto& item : value->as_array()) {
        if (item.is_string()) out.emplace_back(item.as_string());
    }
    return out;
}

bool has(const std::vector<std::string>& set, std::string_view item) {
    return std::find(set.begin(), set.end(), item) != set.end();
}

bool verb_matches(const Rule& rule, std::string_view verb) {
    return has(rule.verbs, "*") || has(rule.verbs, verb);
}

bool group_matches(const Rule& rule, std::string_view group) {
    return has(rule.api_groups, "*") || has(rule.api_groups, group);
}

bool resource_matches(const Rule& rule, std::string_view combined, std::string_view subresource) {
    for (const auto& r : rule.resources) {
        if (r == "*" || r == combined) return true;
        // "*/scale" grants the scale subresource of every resource.
        if (!subresource.empty() && r.size() == subresource.size() + 2 && r.starts_with("*/") &&
            r.ends_with(subresource)) {
            return true;
        }
    }
    return false;
}

bool name_matches(const Rule& rule, std::string_view name) {
    return rule.resource_names.empty() || has(rule.resource_names, name);
}

bool url_matches(std::string_view rule_url, std::string_view path) {
    if (rule_url == "*" || rule_url == path) return true;
    if (!rule_url.empty() && rule_url.back() == '*') {
        std::string_view prefix = rule_url;
        while (!prefix.empty() && prefix.back() == '*')
            prefix.remove_suffix(1);
        return path.starts_with(prefix);
    }
    return false;
}

bool has_all(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
    return std::all_of(wanted.begin(), wanted.end(),
                       [&](const std::string& w) { return has(owner, w); });
}

// Upstream's ruleCovers for one atomic rule (single verb, group, resource or URL, name).
bool rule_covers(const Rule& owner, const Rule& sub) {
    const bool verbs = has(owner.verbs, "*") || has_all(owner.verbs, sub.verbs);
    const bool groups = has(owner.api_groups, "*") || has_all(owner.api_groups, sub.api_groups);
    bool resources = has(owner.resources, "*") || has_all(owner.resources, sub.resources);
    if (!resources) {
        resources = std::all_of(sub.resources.begin(), sub.resources.end(), [&](const auto& r) {
            if (has(owner.resources, r)) return true;
            const auto slash = r.find('/');
            return slash != std::string::npos && has(owner.resources, "*" + r.substr(slash));
        });
    }
    const bool urls =
        std::all_of(sub.non_resource_urls.begin(), sub.non_resource_urls.end(), [&](const auto& u) {
            return std::any_of(owner.non_resource_urls.begin(), owner.non_resource_urls.end(),
                               [&](const auto& o) { return url_matches(o, u); });
        });
    const bool names =
        sub.resource_names.empty()
            ? owner.resource_names.empty()
            : owner.resource_names.empty() || has_all(owner.resource_names, sub.resource_names);
    return verbs && groups && resources && urls && names;
}

// Splits a rule into rules of one verb, one group, one resource (or URL) and one name each.
std::vector<Rule> breakdown(const Rule& rule) {
    std::vector<Rule> out;
    for (const auto& verb : rule.verbs) {
        for (const auto& group : rule.api_groups) {
            for (const auto& resource : rule.resources) {
                if (rule.resource_names.empty()) {
                    out.push_back({{verb}, {group}, {resource}, {}, {}});
                }
                for (const auto& name : rule.resource_names) {
                    out.push_back({{verb}, {group}, {resource}, {name}, {}});
                }
            }
        }
        for (const auto& url : rule.non_resource_urls)
            out.push_back({{verb}, {}, {}, {}, {url}});
    }
    return out;
}

}  // namespace

Rule Rule::from_json(const json::value& value) {
    Rule rule;
    if (!value.is_object()) return rule;
    const auto& o = value.as_object();
    rule.verbs = strings_of(o, "verbs");
    rule.api_groups = strings_of(o, "apiGroups");
    rule.resources = strings_of(o, "resources");
    rule.resource_names = strings_of(o, "resourceNames");
    rule.non_resource_urls = strings_of(o, "nonResourceURLs");
    return rule;
}

json::object Rule::to_json() const {
    json::object out;
    auto put = [&](std::string_view key, const std::vector<std::string>& values) {
        if (values.empty()) return;
        json::array array;
        for (const auto& v : values)
            array.emplace_back(v);
        out[key] = std::move(array);
    };
    put("verbs", verbs);
    put("apiGroups", api_groups);
    put("resources", resources);
    put("resourceNames", resource_names);
    put("nonResourceURLs", non_resource_urls);
    return out;
}

std::vector<Rule> rules_from_json(const json::value* rules) {
    std::vector<Rule> out;
    if (rules == nullptr || !rules->is_array()) return out;
    for (const auto& r : rules->as_array())
        out.push_back(Rule::from_json(r));
    return out;
}

json::array rules_to_json(const std::vector<Rule>& rules) {
    json::array out;
    for (const auto& r : rules)
        out.emplace_back(r.to_json());
    return out;
}

bool rule_allows(const Attributes& a, const Rule& rule) {
    if (!verb_matches(rule, a.verb)) return false;
    if (!a.resource_request) {
        return std::any_of(rule.non_resource_urls.begin(), rule.non_resource_urls.end(),
                           [&](const std::string& u) { return url_matches(u, a.path); });
    }
    const std::string combined =
        a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
    return group_matches(rule, a.api_group) && resource_matches(rule, combined, a.subresource) &&
           name_matches(rule, a.name);
}

bool covers(const std::vector<Rule>& owner, const Rule& requested) {
    for (const auto& atom : breakdown(requested)) {
        const bool covered = std::any_of(owner.begin(), owner.end(),
                                         [&](const Rule& o) { return rule_covers(o, atom); });
        if (!covered) return false;
    }
    return true;
}

std::map<std::string, std::vector<Rule>> resolve_cluster_roles(const json::array& items) {
    struct Raw {
        std::vector<Rule> rules;
        json::object labels;
        std::optional<std::vector<api::LabelSelector>> selectors;  // set: aggregated
    };
    std::map<std::string, Raw> raw;  // name order, as the upstream controller sorts
    for (const auto& item : items) {
        if (!item.is_object()) continue;
        const auto& role = item.as_object();
        const auto* metadata = role.if_contains("metadata");
        if (metadata == nullptr || !metadata->is_object()) continue;
        const auto* name = metadata->as_object().if_contains("name");
        if (name == nullptr || !name->is_string()) continue;
        Raw r;
        r.rules = rules_from_json(role.if_contains("rules"));
        if (const auto* labels = metadata->as_object().if_contains("labels");
            labels && labels->is_object()) {
            r.labels = labels->as_object();
        }
        if (const auto* aggregation = role.if_contains("aggregationRule");
            aggregation && aggregation->is_object()) {
            std::vector<api::LabelSelector> selectors;
            if (const auto* list = aggregation->as_object().if_contains("clusterRoleSelectors");
                list && list->is_array()) {
                for (const auto& s : list->as_array()) {
                    if (s.is_object())
                        selectors.push_back(api::LabelSelector::from_object(s.as_object()));
                }
            }
            r.selectors = std::move(selectors);
        }
        raw.emplace(std::string(name->as_string()), std::move(r));
    }

    std::map<std::string, std::vector<Rule>> resolved;
    std::set<std::string> in_progress;
    // Recursion depth is bounded by the number of aggregated roles (each is entered once).
    auto resolve = [&](auto& self, const std::string& name, const Raw& role) -> void {
        if (resolved.count(name) != 0) return;
        if (!role.selectors) {
            resolved[name] = role.rules;
            return;
        }
        in_progress.insert(name);
        std::vector<Rule> rules;
        for (const auto& selector : *role.selectors) {
            for (const auto& [other_name, other] : raw) {
                if (other_name == name || !selector.matches(&other.labels)) continue;
                const std::vector<Rule>* source = &other.rules;
                if (in_progress.count(other_name) == 0) {
                    self(self, other_name, other);
                    source = &resolved[other_name];
                }
                for (const auto& rule : *source) {
                    if (std::find(rules.begin(), rules.end(), rule) == rules.end()) {
                        rules.push_back(rule);
                    }
                }
            }
        }
        in_progress.erase(name);
        resolved[name] = std::move(rules);
    };
    for (const auto& [name, role] : raw)
        resolve(resolve, name, role);
    return resolved;
}

}  // namespace kcube::auth::detail
