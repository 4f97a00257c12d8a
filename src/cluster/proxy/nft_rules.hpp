#pragma once
// The nftables rules for a ProxyState, as nft command text (pure: no I/O). The table has a
// fixed base (hooks, verdict maps, masquerading, rejects) and, per Service port, its own
// chains, affinity sets and map elements; an update touches only the ports that changed.
#include <compare>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/proxy/service_model.hpp"

namespace kcube::proxy {

struct RenderOptions {
    std::string table = "kcube";
    // Traffic to a ClusterIP from outside this range is masqueraded; "" masquerades none.
    std::string cluster_cidr;
};

// One element of one of the base table's verdict maps.
struct MapElement {
    std::string map, key, verdict;
    auto operator<=>(const MapElement&) const = default;
};

// One Service port's share of the table.
struct PortRules {
    std::map<std::string, std::vector<std::string>> chains;  // chain → its rules, in order
    std::map<std::string, std::string> sets;                 // set → its definition
    std::set<MapElement> elements;
};

// Chain (and set) names: `prefix-<hash>-<id>`, a valid nft identifier, stable for `id` and
// unique even when a long id is cut short.
std::string object_name(std::string_view prefix, std::string_view id);

PortRules render_port(const ServicePort& port, const RenderOptions& options);

// One transaction that replaces whatever table of that name exists with the base table.
std::string render_base(const RenderOptions& options);
// The base table and every port of `state`, in one transaction.
std::string render_full(const RenderOptions& options, const ProxyState& state);
// The commands that turn the table programmed for `before` into the one for `after`,
// touching only ports that differ; "" when none does.
std::string render_update(const RenderOptions& options, const ProxyState& before,
                          const ProxyState& after);
// Deletes the table (no error when it does not exist).
std::string render_delete(const RenderOptions& options);

}  // namespace kcube::proxy
