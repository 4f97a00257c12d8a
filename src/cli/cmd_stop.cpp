// kcube stop: stop the profile's node (pods first), keeping every object and file.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {

void add_stop_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("stop", "Stop a running cluster, keeping its state");
    command->footer(
        "Examples:\n"
        "  kcube stop\n"
        "  kcube stop -p dev\n\n"
        "`kcube start` brings the same objects back and restarts their pods.");
    command->callback([&context] {
        const std::string profile = context.profile();
        context.log_to_profile(profile);
        lifecycle::stop(context.home(), profile, context.console);
    });
}

}  // namespace kcube::cli
