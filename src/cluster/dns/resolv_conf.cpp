// upstreams_from_resolv_conf: the node's resolvers, which names outside the cluster go to.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "cluster/dns/forwarder.hpp"
#include "cluster/dns/server.hpp"

namespace kcube::dns {

std::vector<std::string> upstreams_from_resolv_conf(const std::filesystem::path& path) {
    std::vector<std::string> upstreams;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        // resolv.conf(5): '#' or ';' in the first column starts a comment; resolvers also
        // accept them after a value, and so do we.
        if (const auto comment = line.find_first_of("#;"); comment != std::string::npos)
            line.erase(comment);
        std::istringstream words(line);
        std::string keyword, value;
        if (!(words >> keyword >> value) || keyword != "nameserver") continue;
        // Only bare addresses are valid here: one colon would be "IPv4:port", not an address.
        if (std::count(value.begin(), value.end(), ':') == 1 || !parse_upstream(value)) continue;
        upstreams.push_back(value);
    }
    return upstreams;
}

}  // namespace kcube::dns
