#pragma once
// Service address allocation, as upstream's IP and port allocators do: a ClusterIP from the
// service CIDR (default 10.96.0.0/12, .1 reserved for the `kubernetes` Service) and NodePorts
// from 30000-32767, with upstream's errors for values that are taken or out of range.
#include <boost/json/object.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"

namespace kcube::api {

struct ServiceRanges {
    std::uint32_t cidr_base = (10u << 24) | (96u << 16);  // 10.96.0.0
    int cidr_bits = 12;
    int node_port_min = 30000;
    int node_port_max = 32767;
};

struct AllocatedAddresses {
    std::set<std::uint32_t> cluster_ips;
    std::set<int> node_ports;
};

// What the Services in `existing` hold (skipping the one named `skip_namespace/skip_name`).
AllocatedAddresses addresses_in_use(const std::vector<boost::json::object>& existing,
                                    const std::string& skip_namespace,
                                    const std::string& skip_name);

// Fills spec.clusterIP(s) and node ports of `service` (new or updated; `old` is the stored
// Service on update, else nullptr), checking requested values. Appends field errors.
void allocate_service_addresses(boost::json::object& service, const boost::json::object* old,
                                const AllocatedAddresses& in_use, const ServiceRanges& ranges,
                                std::vector<StatusCause>& causes);

std::string ipv4_to_string(std::uint32_t ip);
bool parse_ipv4(const std::string& text, std::uint32_t& out);

}  // namespace kcube::api
