#pragma once
// Facts about the host's network that the node and the drivers need.
#include <string>

namespace kcube::net {

// The IPv4 address of the interface that carries the default route (what other machines and
// pods reach this host at); "" when there is no default route.
std::string default_route_ipv4();

// The host's name in lower case (a valid node name), or "kcube" when it has none.
std::string host_name();

}  // namespace kcube::net
