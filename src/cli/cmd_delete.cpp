// kcube delete: remove a cluster and every trace of it (processes, mounts, network, files,
// kubeconfig entries).
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {

void add_delete_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("delete", "Delete a cluster and everything it made");
    command->footer(
        "Examples:\n"
        "  kcube delete\n"
        "  kcube delete -p dev\n"
        "  kcube delete --all");
    auto all = std::make_shared<bool>(false);
    command->add_flag("--all", *all, "Delete every profile");
    // No log_to_profile here: the log file would live in the directory being removed.
    command->callback([&context, all] {
        if (*all) {
            lifecycle::remove_all(context.home(), context.console);
        } else {
            lifecycle::remove(context.home(), context.profile(), context.console);
        }
    });
}

}  // namespace kcube::cli
