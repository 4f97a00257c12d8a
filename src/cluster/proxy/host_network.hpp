#pragma once
// The host settings Service traffic depends on, in the calling thread's network namespace.
namespace kcube::proxy {

// Turns on IPv4 forwarding (pods reach Service endpoints through the node) and
// bridge-nf-call-iptables (a pod reaching a Service whose endpoint sits on the same bridge:
// without it the reply is bridged past conntrack and never un-NATed), loading br_netfilter
// when its sysctls are missing. Throws Error (kHost) when forwarding cannot be enabled; a
// missing br_netfilter is only logged, since only same-bridge Service traffic needs it.
void prepare_host_network();

}  // namespace kcube::proxy
