// kcube node run: the node process itself (what a driver starts inside the machine).
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cluster/node/node.hpp"
#include "common/error.hpp"

namespace kcube::cli {
namespace {

std::set<std::string> parse_components(const std::string& list) {
    std::set<std::string> out;
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        std::string item = list.substr(start, comma - start);
        start = comma + 1;
        if (item.empty()) continue;
        if (!node::known_components().count(item)) {
            std::string valid;
            for (const auto& c : node::known_components())
                valid += (valid.empty() ? "" : ", ") + c;
            throw Error(ExitCode::kUsage, "NODE_UNKNOWN_COMPONENT",
                        "unknown component \"" + item + "\" in --disable",
                        "Components: " + valid + ".");
        }
        out.insert(item);
    }
    return out;
}

}  // namespace

void add_node_command(CLI::App& root, Context& /*context*/) {
    auto* node_command = root.add_subcommand("node", "Commands that run inside the node");
    node_command->require_subcommand(1);
    node_command->footer("Examples:\n  kcube node run --data-dir /var/lib/kcube");
    auto* run = node_command->add_subcommand(
        "run", "Run the node: API server, store, controllers, kubelet, proxy and DNS");
    run->footer(
        "Examples:\n"
        "  kcube node run --data-dir /var/lib/kcube\n"
        "  kcube node run --data-dir /tmp/n1 --listen-address 127.0.0.1 --port 6443 \\\n"
        "      --disable kubelet,proxy,dns");
    auto options = std::make_shared<node::NodeOptions>();
    auto disabled = std::make_shared<std::string>();
    run->add_option("--data-dir", options->data_dir, "Directory for the node's state")->required();
    run->add_option("--listen-address", options->listen_address,
                    "Address the API server listens on")
        ->capture_default_str();
    run->add_option("--port", options->port, "API server port")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    run->add_option("--disable", *disabled,
                    "Components to leave off: kubelet,proxy,dns,controllers,scheduler");
    run->add_option("--datastore", options->datastore, "Datastore (sqlite)")->capture_default_str();
    run->add_option("--node-name", options->node_name, "Node name (default: the host name)");
    run->add_option("--node-monitor-grace-period", options->node_monitor_grace_period_seconds,
                    "Seconds a node's Lease may go unrenewed before the node is NotReady")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    run->add_option("--node-ip", options->node_ip,
                    "The node's IP address (default: the address of the default route)");
    run->add_option("--pod-cidr", options->pod_cidr, "Pod network range")->capture_default_str();
    run->add_option("--container-runtime-endpoint", options->container_runtime_endpoint,
                    "Use this CRI socket instead of starting containerd (unix:///path or /path)");
    run->add_option("--image-dir", options->image_dir,
                    "Image tarballs to import at start (default: images/ next to kcube)");
    run->add_option("--cni-bin-dir", options->cni_bin_dir, "Directory of the CNI plugins")
        ->capture_default_str();
    run->add_option("--resolv-conf", options->resolv_conf,
                    "Resolver config: cluster DNS forwards other names to its nameservers, "
                    "dnsPolicy Default pods get it")
        ->capture_default_str();
    run->add_option("--host-ip", options->host_ip,
                    "Address host.kcube.internal resolves to in the cluster (default: the node "
                    "IP)");
    run->callback([options, disabled] {
        options->disabled = parse_components(*disabled);
        node::run(*options);
    });
}

}  // namespace kcube::cli
