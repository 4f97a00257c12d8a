#pragma once
// The cluster's DNS records (what CoreDNS's kubernetes plugin serves with `pods insecure`):
// built from snapshots of Services, EndpointSlices, Pods and Namespaces, answering questions
// for the cluster domain and PTR questions for the addresses it knows. Pure logic: no I/O.
//
//   svc.ns.svc.D                 A/AAAA: the ClusterIPs; headless: the ready endpoint IPs
//                                (all of them with publishNotReadyAddresses); ExternalName:
//                                a CNAME; SRV: one per port (headless: per endpoint and port)
//   _port._proto.svc.ns.svc.D    SRV for that named port
//   host.svc.ns.svc.D            an endpoint by hostname (StatefulSet pods) or dashed IP
//   a-b-c-d.ns.pod.D             the address itself, if the namespace exists
//   d.c.b.a.in-addr.arpa         PTR: ClusterIP -> the service, endpoint with a hostname of a
//                                headless service -> host.svc.ns.svc.D, pod IP -> a-b-c-d.ns.pod.D
#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/dns/message.hpp"

namespace kcube::dns {

struct Address {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool v6 = false;
    auto operator<=>(const Address&) const = default;
};

std::optional<Address> parse_address(std::string_view text);
std::string format_address(const Address& address);
// "10-244-0-5" (IPv6: ':' as '-'), as pod and endpoint names spell addresses.
std::string dashed(const Address& address);
std::optional<Address> from_dashed(std::string_view label);
// The address of "5.0.244.10.in-addr.arpa" or a 32-nibble ip6.arpa name (lower case), or none.
std::optional<Address> from_reverse_name(std::string_view name);
bool is_reverse_name(std::string_view name);
Record address_record(std::string name, std::uint32_t ttl, const Address& address);

struct ClusterObjects {
    std::vector<controllers::ObjectPtr> services;
    std::vector<controllers::ObjectPtr> endpoint_slices;  // discovery.k8s.io/v1
    std::vector<controllers::ObjectPtr> pods;
    std::vector<controllers::ObjectPtr> namespaces;
};

// An authoritative answer.
struct Answer {
    std::uint8_t rcode = rcode::kNoError;
    std::vector<Record> answers, authority, additional;
    // A CNAME (ExternalName) to a name outside the cluster domain: the caller may resolve
    // `chase` for the question's type and append what it gets to `answers`.
    std::optional<std::string> chase;
};

class ClusterRecords {
  public:
    // `domain` e.g. "cluster.local"; `serial` for the SOA (when the data last changed).
    ClusterRecords(std::string domain, std::uint32_t ttl, std::uint32_t serial,
                   const ClusterObjects& objects);

    const std::string& domain() const { return domain_; }
    // A question for a name in the cluster domain.
    Answer answer(const Question& question) const;
    // A PTR question for an in-addr.arpa/ip6.arpa name; none when the address is not known
    // here (the caller forwards it).
    std::optional<Answer> answer_reverse(const Question& question) const;

  private:
    struct Port {
        std::string name;      // lower case, may be empty
        std::string protocol;  // lower case: tcp, udp, sctp
        std::uint16_t port = 0;
    };
    struct Endpoint {
        Address address;
        std::string hostname;     // lower case, may be empty
        std::vector<Port> ports;  // of its slice
    };
    struct Service {
        std::string ns, name;
        bool headless = false;
        std::string external_name;  // set for type ExternalName
        std::vector<Address> cluster_ips;
        std::vector<Port> ports;
        std::vector<Endpoint> endpoints;  // the ones DNS serves (ready, or all if published)
    };
    struct SrvTarget {
        std::uint16_t port = 0;
        std::string target;
        std::vector<Address> addresses;
    };
    // What a name holds.
    struct NameData {
        bool exists = false;
        std::vector<Address> addresses;
        std::optional<std::string> cname;
        std::vector<SrvTarget> srv;
    };

    NameData lookup(std::string_view lower_name) const;
    NameData lookup_service(const Service& service, std::string_view endpoint,
                            std::string_view port, std::string_view protocol) const;
    void answer_into(const Question& question, const NameData& data, Answer& answer,
                     int depth) const;
    Record soa() const;
    std::string service_name(const Service& service) const;
    bool namespace_exists(std::string_view ns) const;

    std::string domain_;  // lower case
    std::uint32_t ttl_;
    std::uint32_t serial_;
    std::map<std::string, Service, std::less<>> services_;  // "ns/name"
    std::set<std::string, std::less<>> namespaces_;
    std::map<Address, std::vector<std::string>> reverse_;
};

}  // namespace kcube::dns
