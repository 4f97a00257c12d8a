// kcube logs: the node process's own log (API server, controllers, kubelet, containerd start-up).
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {

void add_logs_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("logs", "Print the node's log");
    command->footer(
        "Examples:\n"
        "  kcube logs              the last 60 lines\n"
        "  kcube logs -n 200\n"
        "  kcube logs -f           keep printing what the node writes (Ctrl-C ends it)");
    auto follow = std::make_shared<bool>(false);
    auto lines = std::make_shared<int>(60);
    command->add_flag("-f,--follow", *follow, "Keep printing new lines as they are written");
    command->add_option("-n,--length", *lines, "Number of lines to print from the end")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    command->callback([&context, follow, lines] {
        const std::string profile = context.profile();
        const auto home = context.home();
        std::fputs(lifecycle::node_log_tail(home, profile, static_cast<size_t>(*lines)).c_str(),
                   stdout);
        std::fflush(stdout);
        if (!*follow) return;
        lifecycle::follow_node_log(home, profile, [](std::string_view chunk) {
            std::fwrite(chunk.data(), 1, chunk.size(), stdout);
            std::fflush(stdout);
        });
    });
}

}  // namespace kcube::cli
