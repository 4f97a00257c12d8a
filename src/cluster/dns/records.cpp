#include "cluster/dns/records.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::dns {

namespace json = boost::json;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;

namespace {

constexpr int kMaxCnameDepth = 8;

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t at = text.find(separator, start);
        parts.push_back(text.substr(start, at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

void add_unique(std::vector<Address>& addresses, const Address& address) {
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end())
        addresses.push_back(address);
}

// A label in DNS matching form.
std::string label_of(std::string_view text) {
    return lower(text);
}

bool strip_underscore(std::string_view& label) {
    if (label.empty() || label.front() != '_') return false;
    label.remove_prefix(1);
    return true;
}

}  // namespace

std::optional<Address> parse_address(std::string_view text) {
    const std::string s(text);
    Address address;
    if (inet_pton(AF_INET, s.c_str(), address.bytes.data()) == 1) return address;
    if (inet_pton(AF_INET6, s.c_str(), address.bytes.data()) == 1) {
        address.v6 = true;
        return address;
    }
    return std::nullopt;
}

std::string format_address(const Address& address) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof text);
    return text;
}

std::string dashed(const Address& address) {
    std::string text = format_address(address);
    std::replace(text.begin(), text.end(), address.v6 ? ':' : '.', '-');
    return text;
}

std::optional<Address> from_dashed(std::string_view label) {
    std::string text(label);
    // Four numbers are IPv4; anything else is tried as IPv6.
    if (std::count(text.begin(), text.end(), '-') == 3 &&
        text.find_first_not_of("0123456789-") == std::string::npos) {
        std::replace(text.begin(), text.end(), '-', '.');
        auto address = parse_address(text);
        if (address && !address->v6) return address;
        return std::nullopt;
    }
    std::replace(text.begin(), text.end(), '-', ':');
    auto address = parse_address(text);
    if (address && address->v6) return address;
    return std::nullopt;
}

bool is_reverse_name(std::string_view name) {
    return in_zone(name, "in-addr.arpa") || in_zone(name, "ip6.arpa");
}

std::optional<Address> from_reverse_name(std::string_view name) {
    const std::string lowered = lower(name);
    std::string_view n = lowered;
    Address address;
    constexpr std::string_view v4 = ".in-addr.arpa";
    constexpr std::string_view v6 = ".ip6.arpa";
    if (n.ends_with(v4)) {
        const auto labels = split(n.substr(0, n.size() - v4.size()), '.');
        if (labels.size() != 4) return std::nullopt;
        for (std::size_t i = 0; i < 4; ++i) {
            const auto label = labels[3 - i];
            if (label.empty() || label.size() > 3 || (label.size() > 1 && label[0] == '0'))
                return std::nullopt;
            unsigned value = 0;
            const auto [end, ec] =
                std::from_chars(label.data(), label.data() + label.size(), value);
            if (ec != std::errc() || end != label.data() + label.size() || value > 255)
                return std::nullopt;
            address.bytes[i] = static_cast<std::uint8_t>(value);
        }
        return address;
    }
    if (n.ends_with(v6)) {
        const auto labels = split(n.substr(0, n.size() - v6.size()), '.');
        if (labels.size() != 32) return std::nullopt;
        address.v6 = true;
        for (std::size_t i = 0; i < 32; ++i) {
            const auto label = labels[31 - i];
            if (label.size() != 1) return std::nullopt;
            const char c = label[0];
            int nibble = 0;
            if (c >= '0' && c <= '9') {
                nibble = c - '0';
            } else if (c >= 'a' && c <= 'f') {
                nibble = c - 'a' + 10;
            } else {
                return std::nullopt;
            }
            address.bytes[i / 2] |= static_cast<std::uint8_t>(i % 2 == 0 ? nibble << 4 : nibble);
        }
        return address;
    }
    return std::nullopt;
}

Record address_record(std::string name, std::uint32_t ttl, const Address& address) {
    if (address.v6) return make_aaaa(std::move(name), ttl, address.bytes);
    return make_a(std::move(name), ttl,
                  {address.bytes[0], address.bytes[1], address.bytes[2], address.bytes[3]});
}

ClusterRecords::ClusterRecords(std::string domain, std::uint32_t ttl, std::uint32_t serial,
                               const ClusterObjects& objects)
    : domain_(lower(domain)), ttl_(ttl), serial_(serial) {
    if (!domain_.empty() && domain_.back() == '.') domain_.pop_back();

    for (const auto& ns : objects.namespaces) {
        if (ns) namespaces_.insert(label_of(api::meta_string(*ns, "name")));
    }

    // Services whose not-ready endpoints are served too (publishNotReadyAddresses).
    std::set<std::string> publish_all;
    for (const auto& object : objects.services) {
        if (!object) continue;
        Service service;
        service.ns = label_of(api::meta_string(*object, "namespace"));
        service.name = label_of(api::meta_string(*object, "name"));
        namespaces_.insert(service.ns);
        const json::object* spec = object_at(*object, "spec");
        if (!spec) continue;
        const std::string type = string_at(*spec, "type");
        if (type == "ExternalName") {
            service.external_name = string_at(*spec, "externalName");
            while (!service.external_name.empty() && service.external_name.back() == '.')
                service.external_name.pop_back();
        }
        std::vector<std::string> ips;
        if (const json::array* list = array_at(*spec, "clusterIPs")) {
            for (const auto& ip : *list) {
                if (ip.is_string()) ips.emplace_back(ip.as_string());
            }
        }
        if (ips.empty() && !string_at(*spec, "clusterIP").empty())
            ips.push_back(string_at(*spec, "clusterIP"));
        for (const auto& ip : ips) {
            if (ip == "None") {
                service.headless = true;
            } else if (auto address = parse_address(ip)) {
                service.cluster_ips.push_back(*address);
            }
        }
        // A ClusterIP Service whose address is not (yet) set has nothing to serve but its
        // endpoints, like a headless one.
        if (service.cluster_ips.empty() && service.external_name.empty()) service.headless = true;
        if (const json::array* ports = array_at(*spec, "ports")) {
            for (const auto& p : *ports) {
                if (!p.is_object()) continue;
                const auto& port = p.as_object();
                std::string protocol = label_of(string_at(port, "protocol"));
                if (protocol.empty()) protocol = "tcp";
                service.ports.push_back(
                    Port{label_of(string_at(port, "name")), protocol,
                         static_cast<std::uint16_t>(controllers::int_at(port, "port", 0))});
            }
        }
        const std::string key = service.ns + "/" + service.name;
        if (controllers::bool_at(*spec, "publishNotReadyAddresses")) publish_all.insert(key);
        services_.insert_or_assign(key, std::move(service));
    }

    for (const auto& object : objects.endpoint_slices) {
        if (!object) continue;
        const json::object* labels = object_at(*object, "metadata");
        labels = labels ? object_at(*labels, "labels") : nullptr;
        if (!labels) continue;
        const std::string owner = label_of(string_at(*labels, "kubernetes.io/service-name"));
        const std::string key = label_of(api::meta_string(*object, "namespace")) + "/" + owner;
        auto found = services_.find(key);
        if (found == services_.end()) continue;
        Service& service = found->second;
        if (string_at(*object, "addressType") == "FQDN") continue;
        std::vector<Port> ports;
        if (const json::array* list = array_at(*object, "ports")) {
            for (const auto& p : *list) {
                if (!p.is_object()) continue;
                const auto& port = p.as_object();
                std::string protocol = label_of(string_at(port, "protocol"));
                if (protocol.empty()) protocol = "tcp";
                ports.push_back(
                    Port{label_of(string_at(port, "name")), protocol,
                         static_cast<std::uint16_t>(controllers::int_at(port, "port", 0))});
            }
        }
        const json::array* endpoints = array_at(*object, "endpoints");
        if (!endpoints) continue;
        for (const auto& e : *endpoints) {
            if (!e.is_object()) continue;
            const auto& endpoint = e.as_object();
            // A missing `ready` means unknown, which consumers treat as ready (API docs).
            bool ready = true;
            if (const json::object* conditions = object_at(endpoint, "conditions")) {
                if (auto it = conditions->find("ready");
                    it != conditions->end() && it->value().is_bool())
                    ready = it->value().as_bool();
            }
            if (!ready && !publish_all.contains(key)) continue;
            const std::string hostname = label_of(string_at(endpoint, "hostname"));
            const json::array* addresses = array_at(endpoint, "addresses");
            if (!addresses) continue;
            for (const auto& a : *addresses) {
                if (!a.is_string()) continue;
                auto address = parse_address(a.as_string());
                if (!address) continue;
                const bool seen =
                    std::any_of(service.endpoints.begin(), service.endpoints.end(),
                                [&](const Endpoint& other) { return other.address == *address; });
                if (seen) continue;
                service.endpoints.push_back(Endpoint{*address, hostname, ports});
            }
        }
    }

    // Reverse names: ClusterIPs first, then endpoints with hostnames of headless services,
    // then any other pod address.
    for (const auto& [key, service] : services_) {
        for (const auto& ip : service.cluster_ips)
            reverse_[ip].push_back(service_name(service));
    }
    for (const auto& [key, service] : services_) {
        if (!service.headless) continue;
        for (const auto& endpoint : service.endpoints) {
            if (endpoint.hostname.empty()) continue;
            auto& names = reverse_[endpoint.address];
            std::string name = endpoint.hostname + "." + service_name(service);
            if (std::find(names.begin(), names.end(), name) == names.end())
                names.push_back(std::move(name));
        }
    }
    for (const auto& pod : objects.pods) {
        if (!pod) continue;
        const std::string ns = label_of(api::meta_string(*pod, "namespace"));
        namespaces_.insert(ns);
        const json::object* spec = object_at(*pod, "spec");
        // Host-network pods share the node's address, which is not theirs to name.
        if (spec && controllers::bool_at(*spec, "hostNetwork")) continue;
        const json::object* status = object_at(*pod, "status");
        if (!status) continue;
        std::vector<std::string> ips;
        if (const json::array* list = array_at(*status, "podIPs")) {
            for (const auto& entry : *list) {
                if (entry.is_object()) ips.push_back(string_at(entry.as_object(), "ip"));
            }
        }
        if (ips.empty()) ips.push_back(string_at(*status, "podIP"));
        for (const auto& ip : ips) {
            auto address = parse_address(ip);
            if (!address) continue;
            auto& names = reverse_[*address];
            if (names.empty()) names.push_back(dashed(*address) + "." + ns + ".pod." + domain_);
        }
    }
}

std::string ClusterRecords::service_name(const Service& service) const {
    return service.name + "." + service.ns + ".svc." + domain_;
}

bool ClusterRecords::namespace_exists(std::string_view ns) const {
    return namespaces_.contains(ns);
}

Record ClusterRecords::soa() const {
    Soa soa;
    soa.mname = "ns.dns." + domain_;
    soa.rname = "hostmaster." + domain_;
    soa.serial = serial_;
    soa.refresh = 7200;
    soa.retry = 1800;
    soa.expire = 86400;
    soa.minimum = ttl_;
    return make_soa(domain_, ttl_, soa);
}

ClusterRecords::NameData ClusterRecords::lookup_service(const Service& service,
                                                        std::string_view endpoint,
                                                        std::string_view port,
                                                        std::string_view protocol) const {
    NameData data;
    const bool any_port = port.empty() && protocol.empty();
    const auto port_matches = [&](const Port& p) {
        return any_port || (p.name == port && p.protocol == protocol);
    };
    if (!service.external_name.empty()) {
        if (!endpoint.empty() || !any_port) return data;
        data.exists = true;
        data.cname = service.external_name;
        return data;
    }
    if (service.headless || !endpoint.empty()) {
        for (const auto& e : service.endpoints) {
            const std::string label = e.hostname.empty() ? dashed(e.address) : e.hostname;
            if (!endpoint.empty() && endpoint != e.hostname && endpoint != dashed(e.address))
                continue;
            const std::string target = label + "." + service_name(service);
            bool matched = any_port && e.ports.empty();
            for (const auto& p : e.ports) {
                if (!port_matches(p)) continue;
                matched = true;
                data.srv.push_back(SrvTarget{p.port, target, {e.address}});
            }
            if (!matched) continue;
            data.exists = true;
            add_unique(data.addresses, e.address);
        }
        return data;
    }
    const std::string target = service_name(service);
    for (const auto& p : service.ports) {
        if (!port_matches(p)) continue;
        data.srv.push_back(SrvTarget{p.port, target, service.cluster_ips});
    }
    data.exists = any_port || !data.srv.empty();
    if (data.exists) data.addresses = service.cluster_ips;
    return data;
}

ClusterRecords::NameData ClusterRecords::lookup(std::string_view name) const {
    NameData data;
    if (!in_zone(name, domain_)) return data;
    if (name.size() == domain_.size()) {
        data.exists = true;  // the zone apex
        return data;
    }
    const std::string_view prefix = name.substr(0, name.size() - domain_.size() - 1);
    if (prefix.find('\\') != std::string_view::npos) return data;
    std::vector<std::string_view> labels = split(prefix, '.');
    std::reverse(labels.begin(), labels.end());
    const std::size_t n = labels.size();
    if (labels[0] == "svc") {
        if (n == 1) {
            data.exists = true;
            return data;
        }
        if (!namespace_exists(labels[1])) return data;
        if (n == 2) {
            data.exists = true;  // an existing namespace: NODATA, not NXDOMAIN
            return data;
        }
        const std::string key = std::string(labels[1]) + "/" + std::string(labels[2]);
        auto found = services_.find(key);
        if (found == services_.end()) return data;
        if (n == 3) return lookup_service(found->second, {}, {}, {});
        if (n == 4) return lookup_service(found->second, labels[3], {}, {});
        if (n == 5) {
            std::string_view protocol = labels[3];
            std::string_view port = labels[4];
            if (!strip_underscore(protocol) || !strip_underscore(port)) return data;
            return lookup_service(found->second, {}, port, protocol);
        }
        return data;
    }
    if (labels[0] == "pod") {
        if (n == 1) {
            data.exists = true;
            return data;
        }
        if (!namespace_exists(labels[1])) return data;
        if (n == 2) {
            data.exists = true;
            return data;
        }
        if (n != 3) return data;
        // `pods insecure`: any well-formed address in an existing namespace.
        if (auto address = from_dashed(labels[2])) {
            data.exists = true;
            data.addresses.push_back(*address);
        }
        return data;
    }
    return data;
}

void ClusterRecords::answer_into(const Question& question, const NameData& data, Answer& answer,
                                 int depth) const {
    const std::uint16_t type = question.type;
    if (data.cname && type != rtype::kCNAME) {
        answer.answers.push_back(make_cname(question.name, ttl_, *data.cname));
        if (type != rtype::kA && type != rtype::kAAAA && type != rtype::kANY) return;
        if (in_zone(*data.cname, domain_)) {
            if (depth >= kMaxCnameDepth) return;
            const NameData next = lookup(lower(*data.cname));
            if (!next.exists) return;
            answer_into(Question{*data.cname, type, question.klass}, next, answer, depth + 1);
        } else if (type != rtype::kANY) {
            answer.chase = *data.cname;
        }
        return;
    }
    switch (type) {
        case rtype::kA:
        case rtype::kAAAA:
        case rtype::kANY:
            for (const auto& address : data.addresses) {
                if (type == rtype::kANY || address.v6 == (type == rtype::kAAAA))
                    answer.answers.push_back(address_record(question.name, ttl_, address));
            }
            break;
        case rtype::kCNAME:
            if (data.cname) answer.answers.push_back(make_cname(question.name, ttl_, *data.cname));
            break;
        case rtype::kSRV: {
            // CoreDNS spreads a weight of 100 over the records of one priority.
            const auto weight = static_cast<std::uint16_t>(
                data.srv.empty() ? 0 : 100 / static_cast<int>(data.srv.size()));
            std::set<std::pair<std::string, Address>> extra;
            for (const auto& srv : data.srv) {
                answer.answers.push_back(
                    make_srv(question.name, ttl_, 0, weight, srv.port, srv.target));
                for (const auto& address : srv.addresses) {
                    if (extra.emplace(srv.target, address).second)
                        answer.additional.push_back(address_record(srv.target, ttl_, address));
                }
            }
            break;
        }
        case rtype::kSOA:
            if (names_equal(question.name, domain_)) answer.answers.push_back(soa());
            break;
        default:
            break;
    }
}

Answer ClusterRecords::answer(const Question& question) const {
    Answer answer;
    const NameData data = lookup(lower(question.name));
    if (!data.exists) {
        answer.rcode = rcode::kNxDomain;
        answer.authority.push_back(soa());
        return answer;
    }
    answer_into(question, data, answer, 0);
    if (answer.answers.empty()) answer.authority.push_back(soa());  // NODATA
    return answer;
}

std::optional<Answer> ClusterRecords::answer_reverse(const Question& question) const {
    if (question.type != rtype::kPTR) return std::nullopt;
    const auto address = from_reverse_name(question.name);
    if (!address) return std::nullopt;
    auto found = reverse_.find(*address);
    if (found == reverse_.end() || found->second.empty()) return std::nullopt;
    Answer answer;
    for (const auto& name : found->second)
        answer.answers.push_back(make_ptr(question.name, ttl_, name));
    return answer;
}

}  // namespace kcube::dns
