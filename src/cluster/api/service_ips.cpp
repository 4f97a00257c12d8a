#include "cluster/api/service_ips.hpp"

#include <boost/json.hpp>
#include <map>
#include <random>

#include "cluster/api/meta.hpp"

namespace kcube::api {
namespace json = boost::json;

std::string ipv4_to_string(std::uint32_t ip) {
    return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
           std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

bool parse_ipv4(const std::string& text, std::uint32_t& out) {
    unsigned a, b, c, d;
    char tail;
    if (std::sscanf(text.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255) return false;
    out = (a << 24) | (b << 16) | (c << 8) | d;
    return true;
}

namespace {

std::string spec_string(const json::object& spec, std::string_view key) {
    const auto* v = spec.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : "";
}

std::string range_text(const ServiceRanges& r) {
    return ipv4_to_string(r.cidr_base) + "/" + std::to_string(32 - r.cidr_bits);
}

}  // namespace

AllocatedAddresses addresses_in_use(const std::vector<json::object>& existing,
                                    const std::string& skip_namespace,
                                    const std::string& skip_name) {
    AllocatedAddresses in_use;
    for (const auto& service : existing) {
        if (meta_string(service, "namespace") == skip_namespace &&
            meta_string(service, "name") == skip_name) {
            continue;
        }
        const auto* spec = service.if_contains("spec");
        if (!spec || !spec->is_object()) continue;
        std::uint32_t ip;
        if (parse_ipv4(spec_string(spec->as_object(), "clusterIP"), ip)) {
            in_use.cluster_ips.insert(ip);
        }
        if (const auto* ports = spec->as_object().if_contains("ports");
            ports && ports->is_array()) {
            for (const auto& p : ports->as_array()) {
                if (!p.is_object()) continue;
                if (const auto* np = p.as_object().if_contains("nodePort"); np && np->is_int64()) {
                    in_use.node_ports.insert(static_cast<int>(np->as_int64()));
                }
            }
        }
    }
    return in_use;
}

void allocate_service_addresses(json::object& service, const json::object* old,
                                const AllocatedAddresses& in_use, const ServiceRanges& ranges,
                                std::vector<StatusCause>& causes) {
    auto& spec_value = service["spec"];
    if (!spec_value.is_object()) spec_value = json::object{};
    auto& spec = spec_value.as_object();
    const std::string type = spec_string(spec, "type");
    const json::object* old_spec = nullptr;
    if (old) {
        if (const auto* s = old->if_contains("spec"); s && s->is_object())
            old_spec = &s->as_object();
    }
    if (type == "ExternalName") {
        spec.erase("clusterIP");
        spec.erase("clusterIPs");
        return;
    }
    std::string requested = spec_string(spec, "clusterIP");
    const std::string previous = old_spec ? spec_string(*old_spec, "clusterIP") : "";
    if (old_spec && !previous.empty()) {
        // The cluster IP cannot change once set (an empty value keeps the old one).
        if (!requested.empty() && requested != previous) {
            causes.push_back({"FieldValueInvalid",
                              "Invalid value: \"" + requested + "\": field is immutable",
                              "spec.clusterIPs[0]"});
            return;
        }
        requested = previous;
    } else if (requested.empty()) {
        const std::uint32_t size = 1u << (32 - ranges.cidr_bits);
        std::mt19937 rng{std::random_device{}()};
        std::uniform_int_distribution<std::uint32_t> pick(2, size - 2);
        // Random first (as upstream), then a scan, so allocation succeeds while space remains.
        for (int attempt = 0; attempt < 64 && requested.empty(); ++attempt) {
            const std::uint32_t ip = ranges.cidr_base + pick(rng);
            if (!in_use.cluster_ips.count(ip)) requested = ipv4_to_string(ip);
        }
        for (std::uint32_t offset = 2; offset < size - 1 && requested.empty(); ++offset) {
            if (!in_use.cluster_ips.count(ranges.cidr_base + offset)) {
                requested = ipv4_to_string(ranges.cidr_base + offset);
            }
        }
        if (requested.empty()) {
            causes.push_back(
                {"FieldValueInvalid", "Internal error: range is full", "spec.clusterIPs"});
            return;
        }
    } else if (requested != "None") {
        std::uint32_t ip;
        const std::uint32_t mask = ~((1u << (32 - ranges.cidr_bits)) - 1);
        if (!parse_ipv4(requested, ip)) {
            causes.push_back({"FieldValueInvalid",
                              "Invalid value: \"" + requested +
                                  "\": must be a valid IP address, "
                                  "(e.g. 10.9.8.7 or 2001:db8::ffff)",
                              "spec.clusterIPs[0]"});
            return;
        }
        if ((ip & mask) != ranges.cidr_base) {
            causes.push_back({"FieldValueInvalid",
                              "Invalid value: \"" + requested + "\": failed to allocate IP " +
                                  requested + ": the provided IP (" + requested +
                                  ") is not in the valid range. The range of valid IPs is " +
                                  range_text(ranges),
                              "spec.clusterIPs"});
            return;
        }
        if (in_use.cluster_ips.count(ip)) {
            causes.push_back({"FieldValueInvalid",
                              "Invalid value: [\"" + requested + "\"]: failed to allocate IP " +
                                  requested + ": provided IP is already allocated",
                              "spec.clusterIPs"});
            return;
        }
    }
    spec["clusterIP"] = requested;
    spec["clusterIPs"] = json::array{json::string(requested)};

    if (type != "NodePort" && type != "LoadBalancer") {
        if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
            for (auto& p : ports->as_array()) {
                if (p.is_object()) p.as_object().erase("nodePort");
            }
        }
        return;
    }
    std::set<int> taken = in_use.node_ports;
    auto* ports = spec.if_contains("ports");
    if (!ports || !ports->is_array()) return;
    // Keep the node ports this Service already had, matched by port number.
    std::map<std::int64_t, std::int64_t> previous_ports;
    if (old_spec) {
        if (const auto* op = old_spec->if_contains("ports"); op && op->is_array()) {
            for (const auto& p : op->as_array()) {
                if (!p.is_object()) continue;
                const auto& o = p.as_object();
                if (o.contains("port") && o.contains("nodePort") && o.at("port").is_int64() &&
                    o.at("nodePort").is_int64()) {
                    previous_ports[o.at("port").as_int64()] = o.at("nodePort").as_int64();
                }
            }
        }
    }
    std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> pick(ranges.node_port_min, ranges.node_port_max);
    auto& list = ports->as_array();
    for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_object()) continue;
        auto& port = list[i].as_object();
        const std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
        if (const auto* np = port.if_contains("nodePort"); np && np->is_int64()) {
            const int value = static_cast<int>(np->as_int64());
            const bool kept = port.contains("port") && port.at("port").is_int64() &&
                              previous_ports.count(port.at("port").as_int64()) &&
                              previous_ports[port.at("port").as_int64()] == value;
            if (value < ranges.node_port_min || value > ranges.node_port_max) {
                causes.push_back({"FieldValueInvalid",
                                  "Invalid value: " + std::to_string(value) +
                                      ": provided port is not in the valid range. The range of "
                                      "valid ports is " +
                                      std::to_string(ranges.node_port_min) + "-" +
                                      std::to_string(ranges.node_port_max),
                                  field});
            } else if (!kept && taken.count(value)) {
                causes.push_back({"FieldValueInvalid",
                                  "Invalid value: " + std::to_string(value) +
                                      ": provided port is already allocated",
                                  field});
            }
            taken.insert(value);
            continue;
        }
        if (port.contains("port") && port.at("port").is_int64() &&
            previous_ports.count(port.at("port").as_int64())) {
            port["nodePort"] = previous_ports[port.at("port").as_int64()];
            continue;
        }
        int chosen = 0;
        for (int attempt = 0; attempt < 64 && chosen == 0; ++attempt) {
            const int candidate = pick(rng);
            if (!taken.count(candidate)) chosen = candidate;
        }
        for (int p = ranges.node_port_min; p <= ranges.node_port_max && chosen == 0; ++p) {
            if (!taken.count(p)) chosen = p;
        }
        if (chosen == 0) {
            causes.push_back({"FieldValueInvalid", "Internal error: range is full", field});
            continue;
        }
        taken.insert(chosen);
        port["nodePort"] = chosen;
    }
}

}  // namespace kcube::api
