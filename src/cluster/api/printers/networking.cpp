// Printers of the networking.k8s.io and discovery.k8s.io API groups.
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

constexpr size_t kMaxListed = 3;

// "a,b,c + 2 more...", or "<unset>" for an empty list (upstream's listWithMoreString).
std::string list_with_more(const std::vector<std::string>& list, size_t total) {
    std::string text = join(list, ",");
    if (total > list.size()) return text + " + " + std::to_string(total - kMaxListed) + " more...";
    return text.empty() ? "<unset>" : text;
}

// --- Ingress -----------------------------------------------------------------------------------

// The first three rule hosts ("*" when no rule names one), then "+ N more..." counting rules.
std::string ingress_hosts(const json::object& ingress) {
    const auto rules = objects(ingress, {"spec", "rules"});
    std::vector<std::string> hosts;
    bool more = false;
    for (const json::object* rule : rules) {
        if (hosts.size() == kMaxListed) more = true;
        const std::string_view host = get_string(*rule, {"host"});
        if (!more && !host.empty()) hosts.emplace_back(host);
    }
    if (hosts.empty()) return "*";
    std::string text = join(hosts, ",");
    if (more) text += " + " + std::to_string(rules.size() - kMaxListed) + " more...";
    return text;
}

json::array ingress_cells(const json::object& ingress, Clock::time_point now) {
    const bool classed = present(ingress, {"spec", "ingressClassName"});
    return json::array{
        name_of(ingress),
        classed ? std::string(get_string(ingress, {"spec", "ingressClassName"})) : "<none>",
        ingress_hosts(ingress),
        load_balancer_addresses(ingress),
        count(ingress, {"spec", "tls"}) > 0 ? "80, 443" : "80",
        age(ingress, now),
    };
}

Printer ingress_printer() {
    return {
        {
            name_column(),
            column("Class",
                   "The name of the IngressClass resource that should be used for additional "
                   "configuration"),
            column("Hosts",
                   "Hosts that incoming requests are matched against before the ingress rule"),
            column("Address", "Address is a list containing ingress points for the load-balancer"),
            column("Ports", "Ports of TLS configurations that open"),
            age_column(),
        },
        ingress_cells};
}

// --- IngressClass ------------------------------------------------------------------------------

// "Kind.apiGroup/name" of the parameters reference, "<none>" without one.
std::string ingress_class_parameters(const json::object& ingress_class) {
    const json::object* parameters = get_object(ingress_class, {"spec", "parameters"});
    if (parameters == nullptr) return "<none>";
    std::string text(get_string(*parameters, {"kind"}));
    if (present(*parameters, {"apiGroup"}))
        text += "." + std::string(get_string(*parameters, {"apiGroup"}));
    return text + "/" + std::string(get_string(*parameters, {"name"}));
}

json::array ingress_class_cells(const json::object& ingress_class, Clock::time_point now) {
    return json::array{name_of(ingress_class), get_string(ingress_class, {"spec", "controller"}),
                       ingress_class_parameters(ingress_class), age(ingress_class, now)};
}

Printer ingress_class_printer() {
    return {{
                name_column(),
                column("Controller", "Controller that is responsible for handling this class"),
                column("Parameters", "A reference to a resource with additional parameters"),
                age_column(),
            },
            ingress_class_cells};
}

// --- NetworkPolicy -----------------------------------------------------------------------------

json::array network_policy_cells(const json::object& policy, Clock::time_point now) {
    // podSelector is not a pointer upstream: a missing one is the empty selector.
    const json::object empty;
    const json::object* selector = get_object(policy, {"spec", "podSelector"});
    return json::array{name_of(policy), format_label_selector(selector ? selector : &empty),
                       age(policy, now)};
}

Printer network_policy_printer() {
    return {
        {name_column(), column("Pod-Selector", doc::kNetworkPolicySpecPodSelector), age_column()},
        network_policy_cells};
}

// --- EndpointSlice -----------------------------------------------------------------------------

// Port numbers, or names for ports without one, or "*".
std::string endpoint_slice_ports(const json::object& slice) {
    const auto ports = objects(slice, {"ports"});
    std::vector<std::string> list;
    for (const json::object* port : ports) {
        if (list.size() == kMaxListed) break;
        if (present(*port, {"port"})) {
            list.push_back(std::to_string(get_int(*port, {"port"})));
        } else if (present(*port, {"name"})) {
            list.emplace_back(get_string(*port, {"name"}));
        } else {
            list.emplace_back("*");
        }
    }
    return list_with_more(list, ports.size());
}

std::string endpoint_slice_addresses(const json::object& slice) {
    std::vector<std::string> list;
    size_t total = 0;
    for (const json::object* endpoint : objects(slice, {"endpoints"})) {
        if (const json::array* addresses = get_array(*endpoint, {"addresses"})) {
            for (const json::value& address : *addresses) {
                if (list.size() < kMaxListed) {
                    list.emplace_back(address.is_string() ? std::string_view(address.get_string())
                                                          : "");
                }
                ++total;
            }
        }
    }
    return list_with_more(list, total);
}

json::array endpoint_slice_cells(const json::object& slice, Clock::time_point now) {
    return json::array{name_of(slice), get_string(slice, {"addressType"}),
                       endpoint_slice_ports(slice), endpoint_slice_addresses(slice),
                       age(slice, now)};
}

Printer endpoint_slice_printer() {
    return {{
                name_column(),
                column("AddressType", doc::kEndpointSliceAddressType),
                column("Ports", doc::kEndpointSlicePorts),
                column("Endpoints", doc::kEndpointSliceEndpoints),
                age_column(),
            },
            endpoint_slice_cells};
}

}  // namespace

const std::vector<KindPrinter>& networking_printers() {
    static const std::vector<KindPrinter> printers{
        {"networking.k8s.io", "Ingress", ingress_printer()},
        {"networking.k8s.io", "IngressClass", ingress_class_printer()},
        {"networking.k8s.io", "NetworkPolicy", network_policy_printer()},
        {"discovery.k8s.io", "EndpointSlice", endpoint_slice_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
