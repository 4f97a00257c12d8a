// kcube ip: the node's IP address.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {

void add_ip_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("ip", "Print the node's IP address");
    command->footer("Examples:\n  kcube ip\n  kcube ip -p dev");
    command->callback([&context] {
        auto driver = lifecycle::open_driver(context.home(), context.profile());
        std::printf("%s\n", driver->node_ip().c_str());
        std::fflush(stdout);
    });
}

}  // namespace kcube::cli
