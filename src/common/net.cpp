#include "common/net.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

namespace kcube::net {
namespace {

// The interface of the default route, from /proc/net/route (destination 00000000), preferring
// the lowest metric.
std::string default_route_interface() {
    std::ifstream routes("/proc/net/route");
    std::string line, best;
    long best_metric = -1;
    std::getline(routes, line);  // header
    while (std::getline(routes, line)) {
        std::istringstream fields(line);
        std::string iface, destination, gateway, flags, refcnt, use;
        long metric = 0;
        if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric))
            continue;
        if (destination != "00000000") continue;
        if (best_metric < 0 || metric < best_metric) {
            best = iface;
            best_metric = metric;
        }
    }
    return best;
}

}  // namespace

std::string default_route_ipv4() {
    const std::string iface = default_route_interface();
    if (iface.empty()) return {};
    ifaddrs* raw = nullptr;
    if (::getifaddrs(&raw) != 0) return {};
    std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> addresses(raw, &::freeifaddrs);
    for (const ifaddrs* a = raw; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || iface != a->ifa_name) continue;
        char text[INET_ADDRSTRLEN] = {};
        const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
        if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) return text;
    }
    return {};
}

std::string host_name() {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "kcube";
    std::string name(buffer);
    for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name.empty() ? "kcube" : name;
}

}  // namespace kcube::net
