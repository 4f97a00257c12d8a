#include "cluster/controllers/endpoint_util.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <utility>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers::endpoints {
namespace json = boost::json;

namespace {

const json::object* spec_of(const json::object& object) {
    return object_at(object, "spec");
}

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object_at(object, "metadata");
    return metadata ? object_at(*metadata, "labels") : nullptr;
}

bool bool_at(const json::object& object, std::string_view path) {
    return api::field_value(object, path) == "true";
}

bool is_ipv4(std::string_view ip) {
    return !ip.empty() && ip.find(':') == std::string_view::npos;
}

bool is_terminal(const json::object& pod) {
    const std::string phase = pod_phase(pod);
    return phase == "Succeeded" || phase == "Failed";
}

json::object target_ref(const json::object& pod) {
    return json::object{{"kind", "Pod"},
                        {"namespace", api::meta_string(pod, "namespace")},
                        {"name", api::meta_string(pod, "name")},
                        {"uid", api::meta_string(pod, "uid")}};
}

std::string protocol_of(const json::object& port) {
    std::string protocol = api::field_value(port, "protocol");
    return protocol.empty() ? "TCP" : protocol;
}

// Container ports of `containers` named `name` with `protocol`.
std::optional<std::int64_t> named_port(const json::array* containers, std::string_view name,
                                       std::string_view protocol, bool sidecars_only) {
    if (!containers) return std::nullopt;
    for (const auto& c : *containers) {
        if (!c.is_object()) continue;
        if (sidecars_only && api::field_value(c.as_object(), "restartPolicy") != "Always") {
            continue;
        }
        const auto* ports = array_at(c.as_object(), "ports");
        if (!ports) continue;
        for (const auto& p : *ports) {
            if (!p.is_object()) continue;
            const auto& port = p.as_object();
            if (api::field_value(port, "name") == name && protocol_of(port) == protocol) {
                const std::int64_t number = int_at(port, "containerPort", 0);
                if (number > 0) return number;
            }
        }
    }
    return std::nullopt;
}

std::optional<TriggerTimeTracker::Time> parsed(std::string_view text) {
    TriggerTimeTracker::Time time;
    if (text.empty() || !api::parse_time(text, time)) return std::nullopt;
    return time;
}

const json::array* service_ports(const json::object& service) {
    const auto* spec = spec_of(service);
    return spec ? array_at(*spec, "ports") : nullptr;
}

// The pods in a stable order (by name), so that equal inputs give equal outputs.
std::vector<const json::object*> sorted_pods(const std::vector<ObjectPtr>& pods) {
    std::vector<const json::object*> out;
    for (const auto& pod : pods)
        if (pod) out.push_back(pod.get());
    std::sort(out.begin(), out.end(), [](const json::object* a, const json::object* b) {
        return api::meta_string(*a, "name") < api::meta_string(*b, "name");
    });
    return out;
}

}  // namespace

std::optional<api::LabelSelector> service_selector(const json::object& service) {
    const auto* spec = spec_of(service);
    if (!spec || api::field_value(*spec, "type") == "ExternalName") return std::nullopt;
    const auto* selector = object_at(*spec, "selector");
    if (!selector || selector->empty()) return std::nullopt;
    return api::LabelSelector::from_object(json::object{{"matchLabels", *selector}});
}

bool is_headless(const json::object& service) {
    const std::string ip = api::field_value(service, "spec.clusterIP");
    return ip.empty() || ip == "None";
}

bool should_pod_be_in_endpoints(const json::object& pod, bool include_terminating) {
    if (is_terminal(pod)) return false;
    if (pod_ipv4(pod).empty()) return false;
    return include_terminating || !is_terminating(pod);
}

std::string pod_ipv4(const json::object& pod) {
    const auto* status = object_at(pod, "status");
    if (!status) return {};
    if (const auto* ips = array_at(*status, "podIPs")) {
        for (const auto& entry : *ips) {
            if (!entry.is_object()) continue;
            const std::string ip = api::field_value(entry.as_object(), "ip");
            if (is_ipv4(ip)) return ip;
        }
    }
    const std::string ip = api::field_value(*status, "podIP");
    return is_ipv4(ip) ? ip : std::string();
}

std::string pod_hostname_for(const json::object& pod, const json::object& service) {
    const std::string hostname = api::field_value(pod, "spec.hostname");
    if (hostname.empty()) return {};
    if (api::field_value(pod, "spec.subdomain") != api::meta_string(service, "name")) return {};
    if (api::meta_string(pod, "namespace") != api::meta_string(service, "namespace")) return {};
    return hostname;
}

std::optional<std::int64_t> find_port(const json::object& pod, const json::object& service_port) {
    const auto* target = service_port.if_contains("targetPort");
    if (!target || target->is_null()) {
        const std::int64_t port = int_at(service_port, "port", 0);
        return port > 0 ? std::optional<std::int64_t>(port) : std::nullopt;
    }
    if (target->is_int64() || target->is_uint64()) {
        return int_at(service_port, "targetPort", 0);
    }
    if (!target->is_string()) return std::nullopt;
    const std::string name(target->as_string());
    const std::string protocol = protocol_of(service_port);
    const auto* spec = spec_of(pod);
    if (!spec) return std::nullopt;
    if (auto port = named_port(array_at(*spec, "containers"), name, protocol, false)) return port;
    return named_port(array_at(*spec, "initContainers"), name, protocol, true);
}

json::array endpoint_subsets(const json::object& service, const std::vector<ObjectPtr>& pods) {
    const bool publish_not_ready = bool_at(service, "spec.publishNotReadyAddresses");
    const json::array* ports = service_ports(service);
    const bool no_ports = !ports || ports->empty();
    const bool headless = api::field_value(service, "spec.clusterIP") == "None";

    // Every address by (ip, pod uid); for each endpoint port (as canonical JSON, "" for a
    // headless service without ports) the addresses offering it and whether they are ready.
    using AddressKey = std::pair<std::string, std::string>;
    std::map<AddressKey, json::object> addresses;
    std::map<std::string, std::map<AddressKey, bool>> by_port;
    std::map<std::string, json::object> port_objects;

    for (const json::object* pod : sorted_pods(pods)) {
        if (!should_pod_be_in_endpoints(*pod, publish_not_ready)) continue;
        const std::string ip = pod_ipv4(*pod);
        json::object address{{"ip", ip}};
        const std::string node = api::field_value(*pod, "spec.nodeName");
        if (!node.empty()) address["nodeName"] = node;
        address["targetRef"] = target_ref(*pod);
        const std::string hostname = pod_hostname_for(*pod, service);
        if (!hostname.empty()) address["hostname"] = hostname;
        const AddressKey key{ip, api::meta_string(*pod, "uid")};
        const bool ready = publish_not_ready || pod_ready(*pod);

        auto offer = [&](const std::string& port_key) {
            addresses.try_emplace(key, address);
            auto [it, inserted] = by_port[port_key].try_emplace(key, ready);
            if (!inserted && !it->second) it->second = ready;  // ready wins
        };
        if (no_ports) {
            if (headless) offer("");
            continue;
        }
        for (const auto& p : *ports) {
            if (!p.is_object()) continue;
            const auto& service_port = p.as_object();
            const auto number = find_port(*pod, service_port);
            if (!number) continue;
            json::object port;
            const std::string name = api::field_value(service_port, "name");
            if (!name.empty()) port["name"] = name;
            port["port"] = *number;
            port["protocol"] = protocol_of(service_port);
            if (const auto* app = service_port.if_contains("appProtocol");
                app && app->is_string()) {
                port["appProtocol"] = *app;
            }
            const std::string port_key = canonical_json(port);
            port_objects.emplace(port_key, std::move(port));
            offer(port_key);
        }
    }

    // Ports offered by exactly the same addresses (with the same readiness) share a subset.
    struct Group {
        const std::map<AddressKey, bool>* addresses = nullptr;
        json::array ports;
    };
    std::map<std::string, Group> groups;
    for (const auto& [port_key, offered] : by_port) {
        std::string signature;
        for (const auto& [key, ready] : offered) {
            signature += key.first + '\x1f' + key.second + (ready ? "\x1e+" : "\x1e-");
        }
        auto& group = groups[signature];
        group.addresses = &offered;
        if (!port_key.empty()) group.ports.push_back(port_objects.at(port_key));
    }
    std::vector<json::object> subsets;
    for (auto& [signature, group] : groups) {
        json::array ready, not_ready;
        for (const auto& [key, is_ready] : *group.addresses) {
            (is_ready ? ready : not_ready).push_back(addresses.at(key));
        }
        json::object subset;
        if (!ready.empty()) subset["addresses"] = std::move(ready);
        if (!not_ready.empty()) subset["notReadyAddresses"] = std::move(not_ready);
        if (!group.ports.empty()) subset["ports"] = std::move(group.ports);
        subsets.push_back(std::move(subset));
    }
    std::sort(subsets.begin(), subsets.end(), [](const json::object& a, const json::object& b) {
        return canonical_json(a) < canonical_json(b);
    });
    json::array out;
    for (auto& subset : subsets)
        out.push_back(std::move(subset));
    return out;
}

std::string pod_endpoint_fingerprint(const json::object& pod) {
    json::object facts{{"uid", api::meta_string(pod, "uid")},
                       {"deleting", is_terminating(pod)},
                       {"ready", pod_ready(pod)},
                       {"phase", pod_phase(pod)},
                       {"ip", pod_ipv4(pod)},
                       {"node", api::field_value(pod, "spec.nodeName")},
                       {"hostname", api::field_value(pod, "spec.hostname")},
                       {"subdomain", api::field_value(pod, "spec.subdomain")}};
    return canonical_json(facts);
}

std::vector<std::string> services_for_pod_change(const Informer& services, const ObjectPtr& old,
                                                 const ObjectPtr& now) {
    const json::object& pod = now ? *now : *old;
    const bool changed =
        !old || !now || pod_endpoint_fingerprint(*old) != pod_endpoint_fingerprint(*now);
    auto labels_text = [](const ObjectPtr& p) {
        const auto* labels = p ? labels_of(*p) : nullptr;
        return labels ? canonical_json(*labels) : std::string("{}");
    };
    const bool relabelled = labels_text(old) != labels_text(now);
    if (!changed && !relabelled) return {};
    std::vector<std::string> keys;
    for (const auto& service : services.list(api::meta_string(pod, "namespace"))) {
        const auto selector = service_selector(*service);
        if (!selector) continue;
        const bool before = old && selector->matches(labels_of(*old));
        const bool after = now && selector->matches(labels_of(*now));
        // A pod that changed matters to every service it is in; one that only moved between
        // services matters to those it joined or left.
        if (changed ? (before || after) : (before != after)) keys.push_back(object_key(*service));
    }
    return keys;
}

std::optional<TriggerTimeTracker::Time> TriggerTimeTracker::compute(
    const std::string& service_key, const json::object& service,
    const std::vector<ObjectPtr>& pods) {
    State& state = states_[service_key];
    std::optional<Time> earliest;
    auto note = [&](Time t) {
        if (!earliest || t < *earliest) earliest = t;
    };
    std::map<std::string, Time> pod_times;
    for (const auto& pod : pods) {
        const auto* status = object_at(*pod, "status");
        const auto* ready = status ? find_condition(*status, "Ready") : nullptr;
        const auto time =
            ready ? parsed(api::field_value(*ready, "lastTransitionTime")) : std::nullopt;
        if (!time) continue;
        const std::string name = api::meta_string(*pod, "name");
        pod_times[name] = *time;
        auto previous = state.pods.find(name);
        if (previous == state.pods.end() || *time > previous->second) note(*time);
    }
    const auto created = parsed(api::meta_string(service, "creationTimestamp"));
    if (created && *created > state.service) note(*created);
    state.pods = std::move(pod_times);
    if (created) state.service = *created;
    return earliest;
}

void TriggerTimeTracker::forget(const std::string& service_key) {
    states_.erase(service_key);
}

std::string format_trigger_time(TriggerTimeTracker::Time time) {
    return api::format_time(time);
}

bool namespace_terminating(const api::ApiError& error) {
    return error.code() == 403 &&
           std::string(error.what()).find("because it is being terminated") != std::string::npos;
}

// ---- EndpointSlices ------------------------------------------------------------------------

namespace {

json::object slice_endpoint(const json::object& pod, const json::object* node,
                            const json::object& service) {
    const bool serving = pod_ready(pod);
    const bool terminating = is_terminating(pod);
    // A terminating pod is never "ready" unless the Service publishes not-ready addresses.
    const bool ready =
        bool_at(service, "spec.publishNotReadyAddresses") || (serving && !terminating);
    json::object endpoint{
        {"addresses", json::array{json::string(pod_ipv4(pod))}},
        {"conditions",
         json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}}},
        {"targetRef", target_ref(pod)}};
    const std::string node_name = api::field_value(pod, "spec.nodeName");
    if (!node_name.empty()) endpoint["nodeName"] = node_name;
    if (node) {
        const auto* labels = labels_of(*node);
        const auto* zone = labels ? labels->if_contains("topology.kubernetes.io/zone") : nullptr;
        if (zone && zone->is_string() && !zone->as_string().empty()) endpoint["zone"] = *zone;
    }
    const std::string hostname = pod_hostname_for(pod, service);
    if (!hostname.empty()) endpoint["hostname"] = hostname;
    return endpoint;
}

json::array slice_ports(const json::object& service, const json::object& pod) {
    json::array out;
    const json::array* ports = service_ports(service);
    if (!ports) return out;
    for (const auto& p : *ports) {
        if (!p.is_object()) continue;
        const auto& service_port = p.as_object();
        const auto number = find_port(pod, service_port);
        if (!number) continue;
        json::object port{{"name", api::field_value(service_port, "name")},
                          {"port", *number},
                          {"protocol", protocol_of(service_port)}};
        if (const auto* app = service_port.if_contains("appProtocol"); app && app->is_string()) {
            port["appProtocol"] = *app;
        }
        out.push_back(std::move(port));
    }
    return out;
}

bool owned_by(const json::object& slice, const json::object& service) {
    const auto* metadata = object_at(slice, "metadata");
    const auto* refs = metadata ? array_at(*metadata, "ownerReferences") : nullptr;
    if (!refs) return false;
    const std::string uid = api::meta_string(service, "uid");
    for (const auto& ref : *refs) {
        if (!ref.is_object()) continue;
        const auto& r = ref.as_object();
        if (api::field_value(r, "uid") == uid && api::field_value(r, "kind") == "Service" &&
            api::field_value(r, "apiVersion") == "v1") {
            return true;
        }
    }
    return false;
}

std::string ports_key(const json::object& slice) {
    const auto* ports = array_at(slice, "ports");
    return canonical_json(ports ? json::value(*ports) : json::value(json::array{}));
}

std::size_t endpoint_count(const json::object& slice) {
    const auto* endpoints = array_at(slice, "endpoints");
    return endpoints ? endpoints->size() : 0;
}

json::array& endpoints_of(json::object& slice) {
    auto& value = slice["endpoints"];
    if (!value.is_array()) value = json::array{};
    return value.as_array();
}

std::string labels_text(const json::object& object) {
    const auto* labels = labels_of(object);
    return labels ? canonical_json(*labels) : std::string("{}");
}

// Upstream's placeholderSliceCompare: an empty slice with the same labels, owner and ports.
bool same_placeholder(const json::object& existing, const json::object& placeholder) {
    auto owners = [](const json::object& o) {
        const auto* metadata = object_at(o, "metadata");
        const auto* refs = metadata ? array_at(*metadata, "ownerReferences") : nullptr;
        std::string out;
        if (refs) {
            for (const auto& r : *refs)
                if (r.is_object()) out += api::field_value(r.as_object(), "uid") + ",";
        }
        return out;
    };
    return endpoint_count(existing) == 0 && ports_key(existing) == ports_key(placeholder) &&
           api::field_value(existing, "addressType") ==
               api::field_value(placeholder, "addressType") &&
           api::meta_string(existing, "namespace") == api::meta_string(placeholder, "namespace") &&
           labels_text(existing) == labels_text(placeholder) &&
           owners(existing) == owners(placeholder);
}

// The desired endpoints of one port group not yet placed in a slice, in a stable order.
class DesiredSet {
  public:
    explicit DesiredSet(const std::vector<json::object>& endpoints) {
        for (const auto& e : endpoints) {
            const std::string id = endpoint_identity(e);
            if (index_.emplace(id, order_.size()).second) order_.push_back(&e);
        }
        left_ = order_.size();
    }
    // The desired version of an endpoint with this identity, taking it out of the set.
    const json::object* take(const std::string& id) {
        auto it = index_.find(id);
        if (it == index_.end() || !order_[it->second]) return nullptr;
        const json::object* e = order_[it->second];
        order_[it->second] = nullptr;
        --left_;
        return e;
    }
    const json::object* pop() {
        for (auto& e : order_) {
            if (!e) continue;
            const json::object* out = e;
            e = nullptr;
            --left_;
            return out;
        }
        return nullptr;
    }
    std::size_t size() const { return left_; }

  private:
    std::vector<const json::object*> order_;
    std::map<std::string, std::size_t> index_;
    std::size_t left_ = 0;
};

// Upstream's reconcileByPortMapping for one group of ports.
void reconcile_group(const json::object& service, std::vector<json::object> existing,
                     const SliceGroup& group, std::size_t max_per_slice, SlicePlan& plan,
                     std::vector<json::object>& to_delete) {
    const json::object labels = slice_labels(service);
    DesiredSet desired(group.endpoints);
    std::vector<json::object> to_update, unchanged;

    // 1. Keep the endpoints still desired (in their desired form), drop the rest.
    for (auto& slice : existing) {
        json::array kept;
        bool endpoint_changed = false;
        if (const auto* endpoints = array_at(slice, "endpoints")) {
            for (const auto& e : *endpoints) {
                if (!e.is_object()) continue;
                const json::object* want = desired.take(endpoint_identity(e.as_object()));
                if (!want) continue;
                if (canonical_json(*want) != canonical_json(e)) endpoint_changed = true;
                kept.push_back(*want);
            }
        }
        const bool labels_changed = labels_text(slice) != canonical_json(labels);
        if (endpoint_changed || kept.size() != endpoint_count(slice)) {
            if (kept.empty()) {
                to_delete.push_back(std::move(slice));
                continue;
            }
            slice["endpoints"] = std::move(kept);
            api::metadata_of(slice)["labels"] = labels;
            to_update.push_back(std::move(slice));
        } else if (labels_changed) {
            api::metadata_of(slice)["labels"] = labels;
            to_update.push_back(std::move(slice));
        } else {
            unchanged.push_back(std::move(slice));
        }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if (desired.size() > 0 && !to_update.empty()) {
        std::stable_sort(to_update.begin(), to_update.end(),
                         [](const json::object& a, const json::object& b) {
                             return endpoint_count(a) > endpoint_count(b);
                         });
        for (auto& slice : to_update) {
            auto& endpoints = endpoints_of(slice);
            while (desired.size() > 0 && endpoints.size() < max_per_slice) {
                endpoints.push_back(*desired.pop());
            }
        }
    }

    // 3. What is left goes into the unchanged slice closest to full that takes all of it, or
    // into new slices.
    while (desired.size() > 0) {
        std::optional<json::object> fill;
        if (desired.size() < max_per_slice) {
            auto best = unchanged.end();
            for (auto it = unchanged.begin(); it != unchanged.end(); ++it) {
                const std::size_t count = endpoint_count(*it);
                if (count + desired.size() > max_per_slice) continue;
                if (best == unchanged.end() || count > endpoint_count(*best)) best = it;
            }
            if (best != unchanged.end()) {
                fill = std::move(*best);
                unchanged.erase(best);
            }
        }
        const bool fresh = !fill;
        if (fresh) fill = new_slice(service, group.ports);
        auto& endpoints = endpoints_of(*fill);
        while (desired.size() > 0 && endpoints.size() < max_per_slice) {
            endpoints.push_back(*desired.pop());
        }
        (fresh ? plan.create : to_update).push_back(std::move(*fill));
    }
    for (auto& slice : to_update)
        plan.update.push_back(std::move(slice));
}

}  // namespace

std::map<std::string, SliceGroup> desired_slice_groups(const json::object& service,
                                                       const std::vector<ObjectPtr>& pods,
                                                       const NodeLookup& node_of,
                                                       std::size_t* skipped) {
    const bool publish_not_ready = bool_at(service, "spec.publishNotReadyAddresses");
    std::map<std::string, SliceGroup> groups;
    for (const json::object* pod : sorted_pods(pods)) {
        if (!should_pod_be_in_endpoints(*pod, true)) continue;
        json::array ports = slice_ports(service, *pod);
        auto& group = groups[canonical_json(ports)];
        if (group.ports.empty()) group.ports = std::move(ports);
        const json::object* node = node_of(api::field_value(*pod, "spec.nodeName"));
        if (!node && !publish_not_ready) {
            // Upstream skips pods on nodes it does not know and tries again later.
            if (skipped) ++*skipped;
            continue;
        }
        group.endpoints.push_back(slice_endpoint(*pod, node, service));
    }
    return groups;
}

std::string endpoint_identity(const json::object& endpoint) {
    std::vector<std::string> addresses;
    if (const auto* list = array_at(endpoint, "addresses")) {
        for (const auto& a : *list)
            if (a.is_string()) addresses.emplace_back(a.as_string());
    }
    std::sort(addresses.begin(), addresses.end());
    std::string id;
    for (const auto& a : addresses)
        id += a + ",";
    id += '|' + api::field_value(endpoint, "hostname");
    id += '|' + api::field_value(endpoint, "targetRef.namespace");
    id += '/' + api::field_value(endpoint, "targetRef.name");
    return id;
}

json::object slice_labels(const json::object& service) {
    json::object labels;
    if (const auto* own = labels_of(service)) {
        for (const auto& [key, value] : *own) {
            if (key == kServiceNameLabel || key == kManagedByLabel || key == kHeadlessLabel) {
                continue;
            }
            labels[key] = value;
        }
    }
    if (is_headless(service)) labels[kHeadlessLabel] = "";
    labels[kServiceNameLabel] = api::meta_string(service, "name");
    labels[kManagedByLabel] = kSliceControllerName;
    return labels;
}

json::object new_slice(const json::object& service, json::array ports) {
    const std::string name = api::meta_string(service, "name");
    json::object metadata{{"generateName", name + "-"},
                          {"namespace", api::meta_string(service, "namespace")},
                          {"labels", slice_labels(service)},
                          {"ownerReferences", json::array{owner_reference(service)}}};
    return json::object{{"apiVersion", "discovery.k8s.io/v1"}, {"kind", "EndpointSlice"},
                        {"metadata", std::move(metadata)},     {"addressType", "IPv4"},
                        {"endpoints", json::array{}},          {"ports", std::move(ports)}};
}

SlicePlan plan_slices(const json::object& service, const std::map<std::string, SliceGroup>& desired,
                      const std::vector<ObjectPtr>& existing, std::size_t max_per_slice) {
    SlicePlan plan;
    std::vector<json::object> to_delete;
    std::map<std::string, std::vector<json::object>> by_ports;
    for (const auto& slice : existing) {
        if (owned_by(*slice, service) && api::field_value(*slice, "addressType") == "IPv4") {
            by_ports[ports_key(*slice)].push_back(*slice);
        } else {
            to_delete.push_back(*slice);
        }
    }
    for (const auto& [key, group] : desired) {
        std::vector<json::object> slices;
        if (auto it = by_ports.find(key); it != by_ports.end()) {
            slices = std::move(it->second);
            by_ports.erase(it);
        }
        reconcile_group(service, std::move(slices), group, max_per_slice, plan, to_delete);
    }
    for (auto& [key, slices] : by_ports) {
        for (auto& slice : slices)
            to_delete.push_back(std::move(slice));
    }

    // A Service without endpoints keeps one empty placeholder slice.
    if (existing.size() == to_delete.size() && plan.create.empty()) {
        json::object placeholder = new_slice(service, json::array{});
        if (to_delete.size() == 1 && same_placeholder(to_delete.front(), placeholder)) {
            to_delete.clear();
        } else {
            plan.create.push_back(std::move(placeholder));
        }
    }

    // A slice to create and one to delete: update the latter instead.
    for (std::size_t i = 0; i < to_delete.size() && !plan.create.empty();) {
        auto& old = to_delete[i];
        if (!owned_by(old, service) || api::field_value(old, "addressType") != "IPv4") {
            ++i;
            continue;
        }
        json::object slice = std::move(plan.create.back());
        plan.create.pop_back();
        auto& metadata = api::metadata_of(slice);
        auto& old_metadata = api::metadata_of(old);
        metadata.erase("generateName");
        for (const char* field : {"name", "resourceVersion", "uid", "creationTimestamp"}) {
            if (const auto* v = old_metadata.if_contains(field)) metadata[field] = *v;
        }
        if (const auto* annotations = old_metadata.if_contains("annotations")) {
            metadata["annotations"] = *annotations;
        }
        plan.update.push_back(std::move(slice));
        to_delete.erase(to_delete.begin() + static_cast<std::ptrdiff_t>(i));
    }
    plan.remove = std::move(to_delete);
    return plan;
}

}  // namespace kcube::controllers::endpoints
