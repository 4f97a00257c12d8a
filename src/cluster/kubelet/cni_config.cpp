#include "cluster/kubelet/cni_config.hpp"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "cluster/kubelet/child_process.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace kcube::kubelet {
namespace {

namespace json = boost::json;

constexpr const char* kConfName = "10-kcube.conflist";
constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

Error bad_cidr(const std::string& cidr, const std::string& why) {
    return Error(ExitCode::kUsage, "POD_CIDR_INVALID",
                 "invalid pod CIDR " + std::string(cidr.empty() ? "\"\"" : cidr) + ": " + why,
                 "give an IPv4 range such as 10.244.0.0/16");
}

std::string read_small(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

std::string render_cni_conflist(const CniNetwork& network) {
    json::object ipam{
        {"type", "host-local"},
        {"ranges", json::array{json::array{json::object{{"subnet", network.subnet}}}}},
        {"routes", json::array{json::object{{"dst", "0.0.0.0/0"}}}}};
    if (!network.ipam_data_dir.empty()) ipam["dataDir"] = network.ipam_data_dir.string();
    // The bridge is the pods' gateway (isGateway), masquerades what leaves the pod range
    // (ipMasq), and lets a pod reach itself through a Service (hairpinMode). portmap serves
    // hostPort, with SNAT so that connections from the node itself work too.
    json::object bridge{{"type", "bridge"}, {"bridge", network.bridge}, {"isGateway", true},
                        {"ipMasq", true},   {"hairpinMode", true},      {"ipam", std::move(ipam)}};
    json::object portmap{
        {"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}};
    json::object conflist{{"cniVersion", "0.4.0"},
                          {"name", network.name},
                          {"plugins", json::array{std::move(bridge), std::move(portmap)}}};
    return json::serialize(conflist) + "\n";
}

void install_cni_config(const std::filesystem::path& conf_dir, const CniNetwork& network) {
    const std::string text = render_cni_conflist(network);
    const auto path = conf_dir / kConfName;
    fs::ensure_dir(conf_dir, 0755);
    if (!network.ipam_data_dir.empty()) fs::ensure_dir(network.ipam_data_dir, 0700);
    std::error_code ec;
    // Rewriting an unchanged file would only make the runtime reload its CNI config.
    if (!std::filesystem::exists(path, ec) || read_small(path) != text) {
        fs::write_file_atomic(path, text, 0644);
    }
    // Pods reach anything beyond their bridge only through the node's forwarding.
    if (read_small(kIpForward).starts_with("1")) return;
    std::ofstream forward(kIpForward);
    forward << "1\n";
    forward.flush();
    if (!forward) {
        throw Error(ExitCode::kHost, "HOST_IP_FORWARD",
                    std::string("cannot enable IP forwarding (") + kIpForward + ")",
                    "run the node as root, or enable it: sysctl -w net.ipv4.ip_forward=1");
    }
}

std::string node_pod_subnet(const std::string& pod_cidr) {
    const auto slash = pod_cidr.find('/');
    if (slash == std::string::npos) throw bad_cidr(pod_cidr, "no /prefix length");
    const std::string address = pod_cidr.substr(0, slash);
    const std::string prefix_text = pod_cidr.substr(slash + 1);
    in_addr parsed{};
    if (::inet_pton(AF_INET, address.c_str(), &parsed) != 1) {
        throw bad_cidr(pod_cidr, address.find(':') != std::string::npos
                                     ? "only IPv4 pod ranges are supported"
                                     : "\"" + address + "\" is not an IPv4 address");
    }
    int prefix = -1;
    if (!prefix_text.empty() && prefix_text.size() <= 2 &&
        prefix_text.find_first_not_of("0123456789") == std::string::npos) {
        prefix = std::stoi(prefix_text);
    }
    if (prefix < 0 || prefix > 32) throw bad_cidr(pod_cidr, "the prefix length must be 0-32");
    if (prefix > 30) throw bad_cidr(pod_cidr, "a pod range needs a prefix length of 30 or less");
    // This node takes the range's first /24; a range smaller than that is taken whole.
    const int node_prefix = prefix < 24 ? 24 : prefix;
    const std::uint32_t mask =
        node_prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - static_cast<unsigned>(node_prefix));
    const std::uint32_t range_mask =
        prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - static_cast<unsigned>(prefix));
    const std::uint32_t network = ntohl(parsed.s_addr) & range_mask & mask;
    in_addr out{};
    out.s_addr = htonl(network);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &out, text, sizeof text);
    return std::string(text) + "/" + std::to_string(node_prefix);
}

std::string pod_gateway(const std::string& subnet) {
    const auto slash = subnet.find('/');
    in_addr parsed{};
    if (::inet_pton(AF_INET, subnet.substr(0, slash).c_str(), &parsed) != 1)
        throw bad_cidr(subnet, "not an IPv4 range");
    in_addr gateway{};
    gateway.s_addr = htonl(ntohl(parsed.s_addr) + 1);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &gateway, text, sizeof text);
    return text;
}

namespace {

// Runs `ip ARGS...`; returns its output, or nothing when it failed.
std::optional<std::string> run_ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    auto result = run_and_capture(args, std::chrono::seconds(10));
    if (!result.status.exited() || result.status.code() != 0) return std::nullopt;
    return result.output;
}

Error bridge_error(const CniNetwork& network, const std::string& what) {
    return Error(ExitCode::kHost, "HOST_POD_BRIDGE",
                 "cannot set up the pod network bridge " + network.bridge + ": " + what,
                 "check `ip link show " + network.bridge + "`; delete it (ip link delete " +
                     network.bridge + ") if something else made it, then start again");
}

}  // namespace

void ensure_pod_bridge(const CniNetwork& network) {
    const std::string prefix = network.subnet.substr(network.subnet.find('/'));
    const std::string address = pod_gateway(network.subnet) + prefix;
    if (!run_ip({"link", "show", "dev", network.bridge})) {
        if (!run_ip({"link", "add", "name", network.bridge, "type", "bridge"}))
            throw bridge_error(network, "`ip link add` failed");
    }
    const auto addresses = run_ip({"-o", "-4", "addr", "show", "dev", network.bridge});
    if (!addresses) throw bridge_error(network, "`ip addr show` failed");
    if (addresses->find(" " + address + " ") == std::string::npos) {
        auto added = run_and_capture({"ip", "addr", "add", address, "dev", network.bridge},
                                     std::chrono::seconds(10));
        if (!added.status.exited() || added.status.code() != 0)
            throw bridge_error(network, "adding " + address + ": " + added.output);
    }
    if (!run_ip({"link", "set", "dev", network.bridge, "up"}))
        throw bridge_error(network, "`ip link set up` failed");
}

}  // namespace kcube::kubelet
