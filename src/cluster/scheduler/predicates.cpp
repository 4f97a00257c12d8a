#include "cluster/scheduler/predicates.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::scheduler {
namespace json = boost::json;
using controllers::array_at;
using controllers::object_at;

namespace {

__extension__ using Wide = __int128;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// Upstream's defaults for containers without requests, used only for spreading pods (the
// NonZeroRequested of kube-scheduler's scoring), never for fitting.
constexpr std::int64_t kDefaultMilliCpu = 100;
constexpr std::int64_t kDefaultMemory = 200LL * 1024 * 1024;

std::string string_at(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

const json::object* spec_of(const json::object& object) {
    return object_at(object, "spec");
}

struct Suffix {
    int base;  // 10 or 2
    int exponent;
};

std::optional<Suffix> quantity_suffix(std::string_view suffix) {
    static constexpr std::pair<std::string_view, Suffix> kSuffixes[] = {
        {"n", {10, -9}}, {"u", {10, -6}}, {"m", {10, -3}}, {"", {10, 0}},
        {"k", {10, 3}},  {"M", {10, 6}},  {"G", {10, 9}},  {"T", {10, 12}},
        {"P", {10, 15}}, {"E", {10, 18}}, {"Ki", {2, 10}}, {"Mi", {2, 20}},
        {"Gi", {2, 30}}, {"Ti", {2, 40}}, {"Pi", {2, 50}}, {"Ei", {2, 60}},
    };
    for (const auto& [text, meaning] : kSuffixes) {
        if (text == suffix) return meaning;
    }
    if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
        int exponent = 0;
        const char* first = suffix.data() + 1;
        if (*first == '+') ++first;
        const auto [end, ec] = std::from_chars(first, suffix.data() + suffix.size(), exponent);
        if (ec == std::errc() && end == suffix.data() + suffix.size() && exponent > -30 &&
            exponent < 30) {
            return Suffix{10, exponent};
        }
    }
    return std::nullopt;
}

// value * 10^scale, rounded up, saturating at the int64 range.
std::optional<std::int64_t> quantity_scaled(std::string_view text, int scale) {
    bool negative = false;
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
        negative = text[0] == '-';
        text.remove_prefix(1);
    }
    Wide mantissa = 0;
    int fraction = 0;
    bool point = false, digits = false;
    std::size_t pos = 0;
    for (; pos < text.size(); ++pos) {
        const char c = text[pos];
        if (c == '.' && !point) {
            point = true;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            digits = true;
            if (mantissa < Wide(1) << 100) {
                mantissa = mantissa * 10 + (c - '0');
                if (point) ++fraction;
            } else if (!point) {
                return negative ? -kMax : kMax;
            }
        } else {
            break;
        }
    }
    if (!digits) return std::nullopt;
    const auto suffix = quantity_suffix(text.substr(pos));
    if (!suffix) return std::nullopt;

    // mantissa * base^exponent * 10^(scale - fraction), computed exactly where it fits.
    Wide numerator = mantissa, denominator = 1;
    const Wide limit = Wide(1) << 120;
    auto scale_by = [&](int base, int exponent) {
        for (; exponent > 0; --exponent) {
            if (numerator > limit / base) {
                numerator = limit;
                return;
            }
            numerator *= base;
        }
        for (; exponent < 0; ++exponent) {
            if (denominator > limit / base) return;
            denominator *= base;
        }
    };
    scale_by(suffix->base, suffix->exponent);
    scale_by(10, scale - fraction);
    Wide value = numerator / denominator + (numerator % denominator != 0 ? 1 : 0);
    if (value > kMax) value = kMax;
    const auto result = static_cast<std::int64_t>(value);
    return negative ? -result : result;
}

std::optional<std::int64_t> quantity_value(const json::value& value, int scale) {
    if (value.is_string()) return quantity_scaled(value.get_string(), scale);
    if (value.is_number()) return quantity_scaled(json::serialize(value), scale);
    return std::nullopt;
}

Resources max_of(const Resources& a, const Resources& b) {
    Resources out;
    out.milli_cpu = std::max(a.milli_cpu, b.milli_cpu);
    out.memory = std::max(a.memory, b.memory);
    out.ephemeral_storage = std::max(a.ephemeral_storage, b.ephemeral_storage);
    out.pods = std::max(a.pods, b.pods);
    out.scalar = a.scalar;
    for (const auto& [name, amount] : b.scalar) {
        auto& mine = out.scalar[name];
        mine = std::max(mine, amount);
    }
    return out;
}

// A container's requests; a resource with only a limit requests its limit (upstream's
// defaulting does that at admission; doing it here too covers objects stored without it).
Resources container_requests(const json::object& container) {
    const auto* resources = object_at(container, "resources");
    if (!resources) return {};
    json::object merged;
    if (const auto* limits = object_at(*resources, "limits")) merged = *limits;
    if (const auto* requests = object_at(*resources, "requests")) {
        for (const auto& member : *requests)
            merged[member.key()] = member.value();
    }
    return resource_list(&merged);
}

bool is_restartable_init_container(const json::object& container) {
    return string_at(container, "restartPolicy") == "Always";
}

Resources requests_with(const json::object& pod, bool nonzero) {
    Resources sum;
    const auto* spec = spec_of(pod);
    if (!spec) return sum;
    auto requests_of = [nonzero](const json::object& container) {
        Resources r = container_requests(container);
        if (nonzero) {
            if (r.milli_cpu == 0) r.milli_cpu = kDefaultMilliCpu;
            if (r.memory == 0) r.memory = kDefaultMemory;
        }
        return r;
    };
    if (const auto* containers = array_at(*spec, "containers")) {
        for (const auto& c : *containers) {
            if (c.is_object()) sum.add(requests_of(c.as_object()));
        }
    }
    // Init containers run one after the other, each alongside the sidecars started before it.
    Resources init_peak, sidecars;
    if (const auto* inits = array_at(*spec, "initContainers")) {
        for (const auto& c : *inits) {
            if (!c.is_object()) continue;
            const Resources r = requests_of(c.as_object());
            if (is_restartable_init_container(c.as_object())) {
                sum.add(r);
                sidecars.add(r);
            } else {
                Resources during = r;
                during.add(sidecars);
                init_peak = max_of(init_peak, during);
            }
        }
    }
    Resources out = max_of(sum, init_peak);
    out.add(resource_list(object_at(*spec, "overhead")));
    out.pods = 1;
    return out;
}

bool is_wildcard_ip(std::string_view ip) {
    return ip.empty() || ip == "0.0.0.0" || ip == "::";
}

// A NodeSelectorRequirement against a value that may be absent.
bool requirement_matches(const json::object& requirement, const std::string* value) {
    const std::string op = string_at(requirement, "operator");
    std::vector<std::string> values;
    if (const auto* list = array_at(requirement, "values")) {
        for (const auto& v : *list) {
            if (v.is_string()) values.emplace_back(v.get_string());
        }
    }
    const bool listed = value && std::find(values.begin(), values.end(), *value) != values.end();
    if (op == "In") return listed;
    if (op == "NotIn") return !listed;
    if (op == "Exists") return value != nullptr;
    if (op == "DoesNotExist") return value == nullptr;
    if (op == "Gt" || op == "Lt") {
        if (!value || values.size() != 1) return false;
        std::int64_t have = 0, want = 0;
        auto parse = [](const std::string& text, std::int64_t& out) {
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
            return ec == std::errc() && end == text.data() + text.size();
        };
        if (!parse(*value, have) || !parse(values[0], want)) return false;
        return op == "Gt" ? have > want : have < want;
    }
    return false;
}

const json::object* node_labels(const json::object& node) {
    const auto* metadata = object_at(node, "metadata");
    return metadata ? object_at(*metadata, "labels") : nullptr;
}

std::optional<std::string> label_value(const json::object* labels, std::string_view key) {
    if (!labels) return std::nullopt;
    const auto* value = labels->if_contains(key);
    if (!value || !value->is_string()) return std::nullopt;
    return std::string(value->get_string());
}

const json::array* required_terms(const json::object& pod) {
    const auto* spec = spec_of(pod);
    const auto* affinity = spec ? object_at(*spec, "affinity") : nullptr;
    const auto* node_affinity = affinity ? object_at(*affinity, "nodeAffinity") : nullptr;
    const auto* required =
        node_affinity ? object_at(*node_affinity, "requiredDuringSchedulingIgnoredDuringExecution")
                      : nullptr;
    return required ? array_at(*required, "nodeSelectorTerms") : nullptr;
}

bool has_required_affinity(const json::object& pod) {
    const auto* spec = spec_of(pod);
    const auto* affinity = spec ? object_at(*spec, "affinity") : nullptr;
    const auto* node_affinity = affinity ? object_at(*affinity, "nodeAffinity") : nullptr;
    return node_affinity &&
           object_at(*node_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
}

const json::array* pod_tolerations(const json::object& pod) {
    const auto* spec = spec_of(pod);
    return spec ? array_at(*spec, "tolerations") : nullptr;
}

// NodeUnschedulable: a cordoned node takes only pods that tolerate its taint.
std::optional<FitResult> check_unschedulable(const json::object& pod, const json::object& node) {
    const auto* spec = spec_of(node);
    const auto* flag = spec ? spec->if_contains("unschedulable") : nullptr;
    if (!flag || !flag->is_bool() || !flag->as_bool()) return std::nullopt;
    if (tolerates(pod_tolerations(pod), {"node.kubernetes.io/unschedulable", "", "NoSchedule"})) {
        return std::nullopt;
    }
    return FitResult{{"node(s) were unschedulable"}, false};
}

// TaintToleration: the first NoSchedule/NoExecute taint the pod does not tolerate.
std::optional<FitResult> check_taints(const json::object& pod, const json::object& node) {
    for (const auto& taint : node_taints(node)) {
        if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
        if (tolerates(pod_tolerations(pod), taint)) continue;
        return FitResult{{"node(s) had untolerated taint {" + taint.key + ": " + taint.value + "}"},
                         false};
    }
    return std::nullopt;
}

std::optional<FitResult> check_affinity(const json::object& pod, const json::object& node) {
    if (node_matches_pod_affinity(pod, node)) return std::nullopt;
    return FitResult{{"node(s) didn't match Pod's node affinity/selector"}, false};
}

std::optional<FitResult> check_ports(const json::object& pod, const NodeInfo& node) {
    for (const auto& wanted : pod_host_ports(pod)) {
        for (const auto& used : node.ports) {
            if (ports_conflict(wanted, used)) {
                return FitResult{{"node(s) didn't have free ports for the requested pod ports"},
                                 true};
            }
        }
    }
    return std::nullopt;
}

// NodeResourcesFit: every resource that does not fit, in upstream's order. A request larger
// than the whole node cannot be helped by evicting anything.
std::optional<FitResult> check_resources(const json::object& pod, const NodeInfo& node) {
    const Resources want = pod_requests(pod);
    const Resources have = node_allocatable(*node.node);
    FitResult result{{}, true};
    auto insufficient = [&](const std::string& reason, std::int64_t request, std::int64_t used,
                            std::int64_t capacity) {
        if (request <= 0 || request <= capacity - used) return;
        result.reasons.push_back(reason);
        if (request > capacity) result.resolvable = false;
    };
    if (node.requested.pods + 1 > have.pods) result.reasons.emplace_back("Too many pods");
    insufficient("Insufficient cpu", want.milli_cpu, node.requested.milli_cpu, have.milli_cpu);
    insufficient("Insufficient memory", want.memory, node.requested.memory, have.memory);
    insufficient("Insufficient ephemeral-storage", want.ephemeral_storage,
                 node.requested.ephemeral_storage, have.ephemeral_storage);
    for (const auto& [name, amount] : want.scalar) {
        const auto used = node.requested.scalar.find(name);
        const auto capacity = have.scalar.find(name);
        insufficient("Insufficient " + name, amount,
                     used == node.requested.scalar.end() ? 0 : used->second,
                     capacity == have.scalar.end() ? 0 : capacity->second);
    }
    if (result.reasons.empty()) return std::nullopt;
    return result;
}

}  // namespace

std::optional<std::int64_t> parse_quantity_milli(std::string_view text) {
    return quantity_scaled(text, 3);
}

std::optional<std::int64_t> parse_quantity(std::string_view text) {
    return quantity_scaled(text, 0);
}

void Resources::add(const Resources& other) {
    auto sum = [](std::int64_t a, std::int64_t b) { return a > kMax - b ? kMax : a + b; };
    milli_cpu = sum(milli_cpu, other.milli_cpu);
    memory = sum(memory, other.memory);
    ephemeral_storage = sum(ephemeral_storage, other.ephemeral_storage);
    pods = sum(pods, other.pods);
    for (const auto& [name, amount] : other.scalar) {
        auto& mine = scalar[name];
        mine = sum(mine, amount);
    }
}

Resources resource_list(const json::object* list) {
    Resources out;
    if (!list) return out;
    for (const auto& member : *list) {
        const std::string_view name = member.key();
        if (name == "cpu") {
            out.milli_cpu = quantity_value(member.value(), 3).value_or(0);
        } else if (name == "memory") {
            out.memory = quantity_value(member.value(), 0).value_or(0);
        } else if (name == "ephemeral-storage") {
            out.ephemeral_storage = quantity_value(member.value(), 0).value_or(0);
        } else if (name == "pods") {
            out.pods = quantity_value(member.value(), 0).value_or(0);
        } else if (name.starts_with("hugepages-") || name.find('/') != std::string_view::npos) {
            out.scalar[std::string(name)] = quantity_value(member.value(), 0).value_or(0);
        }
    }
    return out;
}

Resources pod_requests(const json::object& pod) {
    return requests_with(pod, false);
}

Resources node_allocatable(const json::object& node) {
    const auto* status = object_at(node, "status");
    if (!status) return {};
    if (const auto* allocatable = object_at(*status, "allocatable");
        allocatable && !allocatable->empty()) {
        return resource_list(allocatable);
    }
    return resource_list(object_at(*status, "capacity"));
}

std::vector<HostPort> pod_host_ports(const json::object& pod) {
    std::vector<HostPort> out;
    const auto* spec = spec_of(pod);
    if (!spec) return out;
    auto collect = [&out](const json::object& container) {
        const auto* ports = array_at(container, "ports");
        if (!ports) return;
        for (const auto& p : *ports) {
            if (!p.is_object()) continue;
            const std::int64_t host_port = controllers::int_at(p.as_object(), "hostPort", 0);
            if (host_port <= 0) continue;
            std::string protocol = string_at(p.as_object(), "protocol");
            if (protocol.empty()) protocol = "TCP";
            out.push_back({string_at(p.as_object(), "hostIP"), protocol, host_port});
        }
    };
    if (const auto* containers = array_at(*spec, "containers")) {
        for (const auto& c : *containers) {
            if (c.is_object()) collect(c.as_object());
        }
    }
    // Sidecar init containers keep running, so their ports stay taken.
    if (const auto* inits = array_at(*spec, "initContainers")) {
        for (const auto& c : *inits) {
            if (c.is_object() && is_restartable_init_container(c.as_object()))
                collect(c.as_object());
        }
    }
    return out;
}

bool ports_conflict(const HostPort& a, const HostPort& b) {
    if (a.port != b.port || a.protocol != b.protocol) return false;
    return is_wildcard_ip(a.ip) || is_wildcard_ip(b.ip) || a.ip == b.ip;
}

std::vector<Taint> node_taints(const json::object& node) {
    std::vector<Taint> out;
    if (const auto* spec = spec_of(node)) {
        if (const auto* taints = array_at(*spec, "taints")) {
            for (const auto& t : *taints) {
                if (!t.is_object()) continue;
                out.push_back({string_at(t.as_object(), "key"), string_at(t.as_object(), "value"),
                               string_at(t.as_object(), "effect")});
            }
        }
    }
    std::string ready;
    if (const auto* status = object_at(node, "status")) {
        if (const auto* condition = controllers::find_condition(*status, "Ready")) {
            ready = string_at(*condition, "status");
        }
    }
    if (ready != "True") {
        Taint implied{
            ready == "Unknown" ? "node.kubernetes.io/unreachable" : "node.kubernetes.io/not-ready",
            "", "NoSchedule"};
        const bool present = std::any_of(out.begin(), out.end(), [&](const Taint& t) {
            return t.key == implied.key && t.effect == implied.effect;
        });
        if (!present) out.push_back(std::move(implied));
    }
    return out;
}

bool toleration_matches(const json::object& toleration, const Taint& taint) {
    const std::string effect = string_at(toleration, "effect");
    if (!effect.empty() && effect != taint.effect) return false;
    const std::string key = string_at(toleration, "key");
    if (!key.empty() && key != taint.key) return false;
    const std::string op = string_at(toleration, "operator");
    if (op == "Exists") return true;
    if (op.empty() || op == "Equal") return string_at(toleration, "value") == taint.value;
    return false;
}

bool tolerates(const json::array* tolerations, const Taint& taint) {
    if (!tolerations) return false;
    return std::any_of(tolerations->begin(), tolerations->end(), [&](const json::value& t) {
        return t.is_object() && toleration_matches(t.as_object(), taint);
    });
}

bool node_selector_term_matches(const json::object& term, const json::object& node) {
    const auto* expressions = array_at(term, "matchExpressions");
    const auto* fields = array_at(term, "matchFields");
    if ((!expressions || expressions->empty()) && (!fields || fields->empty())) return false;
    const auto* labels = node_labels(node);
    if (expressions) {
        for (const auto& e : *expressions) {
            if (!e.is_object()) return false;
            const auto value = label_value(labels, string_at(e.as_object(), "key"));
            if (!requirement_matches(e.as_object(), value ? &*value : nullptr)) return false;
        }
    }
    if (fields) {
        const std::string name = api::meta_string(node, "name");
        for (const auto& f : *fields) {
            // metadata.name is the only node field a selector may use.
            if (!f.is_object() || string_at(f.as_object(), "key") != "metadata.name") return false;
            if (!requirement_matches(f.as_object(), &name)) return false;
        }
    }
    return true;
}

bool node_matches_pod_affinity(const json::object& pod, const json::object& node) {
    const auto* spec = spec_of(pod);
    if (!spec) return true;
    if (const auto* selector = object_at(*spec, "nodeSelector")) {
        const auto* labels = node_labels(node);
        for (const auto& member : *selector) {
            const auto value = label_value(labels, member.key());
            if (!value || !member.value().is_string() || *value != member.value().get_string()) {
                return false;
            }
        }
    }
    if (!has_required_affinity(pod)) return true;
    const auto* terms = required_terms(pod);
    if (!terms) return false;
    return std::any_of(terms->begin(), terms->end(), [&](const json::value& term) {
        return term.is_object() && node_selector_term_matches(term.as_object(), node);
    });
}

std::optional<std::vector<std::string>> affinity_node_names(const json::object& pod) {
    const auto* terms = required_terms(pod);
    if (!terms || terms->empty()) return std::nullopt;
    std::set<std::string> names;
    for (const auto& term : *terms) {
        if (!term.is_object()) return std::nullopt;
        const auto* fields = array_at(term.as_object(), "matchFields");
        std::optional<std::set<std::string>> term_names;
        if (fields) {
            for (const auto& f : *fields) {
                if (!f.is_object() || string_at(f.as_object(), "key") != "metadata.name" ||
                    string_at(f.as_object(), "operator") != "In") {
                    continue;
                }
                std::set<std::string> listed;
                if (const auto* values = array_at(f.as_object(), "values")) {
                    for (const auto& v : *values) {
                        if (v.is_string()) listed.emplace(v.get_string());
                    }
                }
                if (!term_names) {
                    term_names = std::move(listed);
                } else {
                    std::set<std::string> both;
                    std::set_intersection(term_names->begin(), term_names->end(), listed.begin(),
                                          listed.end(), std::inserter(both, both.end()));
                    term_names = std::move(both);
                }
            }
        }
        // A term without a name restriction may match any node.
        if (!term_names) return std::nullopt;
        names.insert(term_names->begin(), term_names->end());
    }
    return std::vector<std::string>(names.begin(), names.end());
}

void NodeInfo::add_pod(const json::object& pod) {
    requested.add(pod_requests(pod));
    nonzero_requested.add(requests_with(pod, true));
    for (auto& port : pod_host_ports(pod))
        ports.push_back(std::move(port));
}

FitResult check_fit(const json::object& pod, const NodeInfo& node) {
    if (auto failure = check_unschedulable(pod, *node.node)) return *failure;
    if (auto failure = check_taints(pod, *node.node)) return *failure;
    if (auto failure = check_affinity(pod, *node.node)) return *failure;
    if (auto failure = check_ports(pod, node)) return *failure;
    if (auto failure = check_resources(pod, node)) return *failure;
    return {};
}

std::string fit_error_message(const json::object& pod, const std::vector<FitResult>& failures) {
    if (failures.empty()) return "no nodes available to schedule pods";
    auto histogram = [](const std::map<std::string, int>& counts) {
        std::vector<std::string> parts;
        for (const auto& [reason, count] : counts)
            parts.push_back(std::to_string(count) + " " + reason);
        std::sort(parts.begin(), parts.end());
        std::string out;
        for (const auto& part : parts)
            out += (out.empty() ? "" : ", ") + part;
        return out;
    };
    const std::string prefix = "0/" + std::to_string(failures.size()) + " nodes are available:";
    std::map<std::string, int> reasons, preemption;
    for (const auto& failure : failures) {
        for (const auto& reason : failure.reasons)
            ++reasons[reason];
        // kcube does not preempt; with no lower-priority pods to evict upstream's answer for
        // a node that could fit is that there are no victims.
        ++preemption[failure.resolvable ? "No preemption victims found for incoming pod"
                                        : "Preemption is not helpful for scheduling"];
    }
    std::string message = prefix + " " + histogram(reasons) + ".";
    if (api::field_value(pod, "spec.preemptionPolicy") == "Never") {
        return message + " preemption: not eligible due to preemptionPolicy=Never.";
    }
    return message + " preemption: " + prefix + " " + histogram(preemption) + ".";
}

std::string node_fit_fingerprint(const json::object& node) {
    json::object view;
    if (const auto* metadata = object_at(node, "metadata")) {
        if (const auto* labels = metadata->if_contains("labels")) view["labels"] = *labels;
    }
    if (const auto* spec = node.if_contains("spec")) view["spec"] = *spec;
    if (const auto* status = object_at(node, "status")) {
        if (const auto* allocatable = status->if_contains("allocatable")) {
            view["allocatable"] = *allocatable;
        }
        if (const auto* ready = controllers::find_condition(*status, "Ready")) {
            view["ready"] = string_at(*ready, "status");
        }
    }
    return controllers::canonical_json(view);
}

std::int64_t least_requested_score(const json::object& pod, const NodeInfo& node) {
    const Resources have = node_allocatable(*node.node);
    auto score = [](std::int64_t requested, std::int64_t capacity) -> std::int64_t {
        if (capacity <= 0 || requested > capacity) return 0;
        return (capacity - requested) * 100 / capacity;
    };
    Resources after = node.nonzero_requested;
    after.add(requests_with(pod, true));
    return (score(after.milli_cpu, have.milli_cpu) + score(after.memory, have.memory)) / 2;
}

std::int64_t preferred_affinity_weight(const json::object& pod, const json::object& node) {
    const auto* spec = spec_of(pod);
    const auto* affinity = spec ? object_at(*spec, "affinity") : nullptr;
    const auto* node_affinity = affinity ? object_at(*affinity, "nodeAffinity") : nullptr;
    const auto* preferred =
        node_affinity ? array_at(*node_affinity, "preferredDuringSchedulingIgnoredDuringExecution")
                      : nullptr;
    if (!preferred) return 0;
    std::int64_t total = 0;
    for (const auto& entry : *preferred) {
        if (!entry.is_object()) continue;
        const auto* term = object_at(entry.as_object(), "preference");
        if (term && node_selector_term_matches(*term, node)) {
            total += controllers::int_at(entry.as_object(), "weight", 0);
        }
    }
    return total;
}

std::int64_t intolerable_preferred_taints(const json::object& pod, const json::object& node) {
    // Only tolerations that could apply to PreferNoSchedule count (effect empty or the same).
    json::array relevant;
    if (const auto* tolerations = pod_tolerations(pod)) {
        for (const auto& t : *tolerations) {
            if (!t.is_object()) continue;
            const std::string effect = string_at(t.as_object(), "effect");
            if (effect.empty() || effect == "PreferNoSchedule") relevant.push_back(t);
        }
    }
    std::int64_t count = 0;
    for (const auto& taint : node_taints(node)) {
        if (taint.effect == "PreferNoSchedule" && !tolerates(&relevant, taint)) ++count;
    }
    return count;
}

std::vector<std::int64_t> rank_nodes(const json::object& pod,
                                     const std::vector<const NodeInfo*>& candidates) {
    const std::size_t n = candidates.size();
    std::vector<std::int64_t> affinity(n), taints(n), totals(n);
    std::int64_t max_affinity = 0, max_taints = 0;
    for (std::size_t i = 0; i < n; ++i) {
        affinity[i] = preferred_affinity_weight(pod, *candidates[i]->node);
        taints[i] = intolerable_preferred_taints(pod, *candidates[i]->node);
        max_affinity = std::max(max_affinity, affinity[i]);
        max_taints = std::max(max_taints, taints[i]);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t affinity_score = max_affinity > 0 ? affinity[i] * 100 / max_affinity : 0;
        // Fewer intolerable taints is better; with none anywhere every node gets full marks.
        const std::int64_t taint_score = max_taints > 0 ? 100 - taints[i] * 100 / max_taints : 100;
        totals[i] =
            least_requested_score(pod, *candidates[i]) + 2 * affinity_score + 3 * taint_score;
    }
    return totals;
}

}  // namespace kcube::scheduler
