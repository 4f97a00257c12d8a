// kube-proxy's nftables mode, written for kcube: a `services` chain dispatches on
// daddr . protocol . port through the service-ips verdict map (and the node's own addresses
// through service-nodeports) to one chain per Service port, which picks an endpoint chain with
// numgen (after ClientIP affinity sets); the endpoint chain DNATs. Services without usable
// endpoints sit in the no-endpoint maps, checked by filter chains before NAT, so clients get a
// prompt reject (ICMP port unreachable: ECONNREFUSED) instead of a timeout.
#include "cluster/proxy/nft_rules.hpp"

#include <cstdint>

namespace kcube::proxy {
namespace {

constexpr const char* kMarkForMasquerade = "mark-for-masquerade";
constexpr const char* kRejectChain = "reject-chain";
constexpr std::size_t kMaxName = 200;  // nft allows 255; leaves room for any prefix

// FNV-1a 64 of `text` as 8 lower-case base32 characters: short, and an identifier character
// set nft's scanner accepts.
std::string short_hash(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += kAlphabet[hash & 31u];
        hash >>= 5;
    }
    return out;
}

std::string endpoint_id(const ServicePort& port, const Endpoint& e) {
    return port.id() + "__" + e.ip + "/" + std::to_string(e.port);
}

std::string endpoint_chain(const ServicePort& port, const Endpoint& e) {
    return object_name("endpoint", endpoint_id(port, e));
}

std::string affinity_set(const ServicePort& port, const Endpoint& e) {
    return object_name("affinity", endpoint_id(port, e));
}

// Rules that send a packet to one of `endpoints`: back to the one a client used last while
// its affinity lasts, else one at random.
void add_dispatch(std::vector<std::string>& rules, const ServicePort& port,
                  const std::vector<Endpoint>& endpoints) {
    if (port.affinity_timeout > 0) {
        for (const auto& e : endpoints) {
            rules.push_back("ip saddr @" + affinity_set(port, e) + " goto " +
                            endpoint_chain(port, e));
        }
    }
    std::string vmap;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        vmap +=
            (i ? ", " : "") + std::to_string(i) + " : goto " + endpoint_chain(port, endpoints[i]);
    }
    rules.push_back("numgen random mod " + std::to_string(endpoints.size()) + " vmap { " + vmap +
                    " }");
}

std::string line(const std::string& verb, const RenderOptions& options, const std::string& rest) {
    return verb + " ip " + options.table + " " + rest + "\n";
}

}  // namespace

std::string object_name(std::string_view prefix, std::string_view id) {
    std::string readable;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '/' || c == '-' || c == '_' || c == '.';
        readable += ok ? c : '_';
    }
    std::string name = std::string(prefix) + "-" + short_hash(id) + "-";
    if (name.size() + readable.size() > kMaxName) readable.resize(kMaxName - name.size());
    return name + readable;
}

PortRules render_port(const ServicePort& port, const RenderOptions& options) {
    PortRules out;
    const auto all = usable_endpoints(port, false);
    const auto internal = usable_endpoints(port, port.internal_local);
    const auto external = usable_endpoints(port, port.external_local);
    const std::string proto = port.protocol;

    // Endpoint chains (and their affinity sets) for every endpoint either path uses.
    std::set<Endpoint> used(internal.begin(), internal.end());
    if (port.node_port > 0) used.insert(external.begin(), external.end());
    for (const auto& e : used) {
        auto& rules = out.chains[endpoint_chain(port, e)];
        // Hairpin: a pod reaching itself through the Service must see the reply come back
        // through the node, so its own connection is masqueraded.
        rules.push_back("ip saddr " + e.ip + " jump " + kMarkForMasquerade);
        if (port.affinity_timeout > 0) {
            const std::string set = affinity_set(port, e);
            out.sets[set] = "{ type ipv4_addr ; flags dynamic,timeout ; timeout " +
                            std::to_string(port.affinity_timeout) + "s ; }";
            rules.push_back("update @" + set + " { ip saddr }");
        }
        rules.push_back("meta l4proto " + proto + " dnat to " + e.ip + ":" +
                        std::to_string(e.port));
    }

    // Where a packet goes when there is no endpoint for it: none at all → reject (the client
    // learns at once); endpoints exist but none on this node for a Local policy → drop, as
    // upstream does (another node could serve it).
    const std::string no_endpoints = all.empty() ? std::string("goto ") + kRejectChain : "drop";

    const std::string service_chain = object_name("service", port.id());
    if (!internal.empty()) {
        auto& rules = out.chains[service_chain];
        if (!options.cluster_cidr.empty()) {
            rules.push_back("ip saddr != " + options.cluster_cidr + " jump " + kMarkForMasquerade);
        }
        add_dispatch(rules, port, internal);
    }
    for (const auto& ip : port.cluster_ips) {
        const std::string key = ip + " . " + proto + " . " + std::to_string(port.port);
        if (internal.empty()) {
            out.elements.insert({"no-endpoint-services", key, no_endpoints});
        } else {
            out.elements.insert({"service-ips", key, "goto " + service_chain});
        }
    }

    if (port.node_port > 0) {
        const std::string key = proto + " . " + std::to_string(port.node_port);
        if (external.empty()) {
            out.elements.insert({"no-endpoint-nodeports", key, no_endpoints});
        } else {
            const std::string chain = object_name("external", port.id());
            auto& rules = out.chains[chain];
            if (port.external_local) {
                // The client's address is kept; only the node's own connections (which could
                // not get replies otherwise) are masqueraded.
                rules.push_back(std::string("fib saddr type local jump ") + kMarkForMasquerade);
            } else {
                rules.push_back(std::string("jump ") + kMarkForMasquerade);
            }
            add_dispatch(rules, port, external);
            out.elements.insert({"service-nodeports", key, "goto " + chain});
        }
    }
    return out;
}

std::string render_base(const RenderOptions& o) {
    const std::string& t = o.table;
    std::string text = "add table ip " + t + "\ndelete table ip " + t + "\n";
    text += "table ip " + t + " {\n";
    text += "  comment \"kcube service proxy: rules for Services, rebuilt when the node starts\"\n";
    text +=
        "  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
        "  map service-nodeports { type inet_proto . inet_service : verdict ; }\n"
        "  map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
        "  map no-endpoint-nodeports { type inet_proto . inet_service : verdict ; }\n"
        "  chain mark-for-masquerade { mark set mark or 0x4000 ; }\n"
        // The mark is cleared so that a packet routed again is not masqueraded twice.
        "  chain masquerading { mark and 0x4000 == 0 return ; mark set mark xor 0x4000 ; "
        "masquerade fully-random ; }\n"
        "  chain services {\n"
        "    ip daddr . meta l4proto . th dport vmap @service-ips\n"
        "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport "
        "vmap @service-nodeports\n"
        "  }\n"
        "  chain nat-prerouting { type nat hook prerouting priority dstnat ; policy accept ; "
        "jump services ; }\n"
        "  chain nat-output { type nat hook output priority -100 ; policy accept ; "
        "jump services ; }\n"
        "  chain nat-postrouting { type nat hook postrouting priority srcnat ; policy accept ; "
        "jump masquerading ; }\n"
        "  chain reject-chain { reject ; }\n"
        "  chain service-endpoints-check { ip daddr . meta l4proto . th dport "
        "vmap @no-endpoint-services ; }\n"
        "  chain nodeport-endpoints-check { fib daddr type local ip daddr != 127.0.0.0/8 "
        "meta l4proto . th dport vmap @no-endpoint-nodeports ; }\n"
        // Before NAT (dstnat - 10), on new connections only: the no-endpoint checks.
        "  chain filter-input { type filter hook input priority -110 ; policy accept ; "
        "ct state new jump nodeport-endpoints-check ; "
        "ct state new jump service-endpoints-check ; }\n"
        "  chain filter-forward { type filter hook forward priority -110 ; policy accept ; "
        "ct state new jump service-endpoints-check ; }\n"
        "  chain filter-output { type filter hook output priority -110 ; policy accept ; "
        "ct state new jump service-endpoints-check ; }\n";
    text += "}\n";
    return text;
}

std::string render_full(const RenderOptions& options, const ProxyState& state) {
    return render_base(options) + render_update(options, {}, state);
}

std::string render_update(const RenderOptions& options, const ProxyState& before,
                          const ProxyState& after) {
    // Old and new rules of the ports that changed. Names are per port, so the merged maps
    // never mix two ports' chains.
    PortRules old_rules, new_rules;
    auto merge = [](PortRules& into, PortRules from) {
        into.chains.merge(from.chains);
        into.sets.merge(from.sets);
        into.elements.merge(from.elements);
    };
    std::set<std::string> ids;
    for (const auto& [id, port] : before)
        ids.insert(id);
    for (const auto& [id, port] : after)
        ids.insert(id);
    for (const auto& id : ids) {
        const auto b = before.find(id);
        const auto a = after.find(id);
        if (b != before.end() && a != after.end() && b->second == a->second) continue;
        if (b != before.end()) merge(old_rules, render_port(b->second, options));
        if (a != after.end()) merge(new_rules, render_port(a->second, options));
    }

    // A set whose definition changed (its timeout) is made anew; nft cannot alter it in place.
    std::set<std::string> sets_changed;
    for (const auto& [name, definition] : new_rules.sets) {
        const auto old = old_rules.sets.find(name);
        if (old != old_rules.sets.end() && old->second != definition) sets_changed.insert(name);
    }
    auto uses_changed_set = [&](const std::vector<std::string>& rules) {
        for (const auto& rule : rules) {
            for (const auto& set : sets_changed) {
                const std::string ref = "@" + set + " ";
                if (rule.find(ref) != std::string::npos) return true;
            }
        }
        return false;
    };
    std::vector<std::string> chains_removed, chains_added, chains_changed;
    for (const auto& [name, rules] : old_rules.chains) {
        const auto now = new_rules.chains.find(name);
        if (now == new_rules.chains.end()) {
            chains_removed.push_back(name);
        } else if (now->second != rules || uses_changed_set(rules)) {
            chains_changed.push_back(name);
        }
    }
    for (const auto& [name, rules] : new_rules.chains) {
        if (!old_rules.chains.contains(name)) chains_added.push_back(name);
    }

    std::string text;
    // 1. Map elements that go: they may point at chains deleted below.
    for (const auto& e : old_rules.elements) {
        if (!new_rules.elements.contains(e)) {
            text += line("delete element", options, e.map + " { " + e.key + " }");
        }
    }
    // 2. Emptied chains drop their references to other chains and sets.
    for (const auto& name : chains_changed)
        text += line("flush chain", options, name);
    for (const auto& name : chains_removed)
        text += line("flush chain", options, name);
    // 3. Now unreferenced: chains and sets that go (or are made anew).
    for (const auto& name : chains_removed)
        text += line("delete chain", options, name);
    for (const auto& [name, definition] : old_rules.sets) {
        if (!new_rules.sets.contains(name) || sets_changed.contains(name)) {
            text += line("delete set", options, name);
        }
    }
    // 4. New sets and chains exist before any rule refers to them.
    for (const auto& [name, definition] : new_rules.sets) {
        if (!old_rules.sets.contains(name) || sets_changed.contains(name)) {
            text += line("add set", options, name + " " + definition);
        }
    }
    for (const auto& name : chains_added)
        text += line("add chain", options, name);
    // 5. Rules of new and changed chains.
    for (const auto* names : {&chains_changed, &chains_added}) {
        for (const auto& name : *names) {
            for (const auto& rule : new_rules.chains.at(name)) {
                text += line("add rule", options, name + " " + rule);
            }
        }
    }
    // 6. Map elements that come: traffic reaches the new chains only now.
    for (const auto& e : new_rules.elements) {
        if (!old_rules.elements.contains(e)) {
            text += line("add element", options, e.map + " { " + e.key + " : " + e.verdict + " }");
        }
    }
    return text;
}

std::string render_delete(const RenderOptions& options) {
    return "add table ip " + options.table + "\ndelete table ip " + options.table + "\n";
}

}  // namespace kcube::proxy
