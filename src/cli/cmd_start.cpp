// kcube start: create or restart the profile's cluster on the chosen (or best) driver.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "config/settings.hpp"
#include "drivers/registry.hpp"

namespace kcube::cli {
namespace {

struct StartFlags {
    std::string driver, cpus, memory, disk_size, kubernetes_version;
};

// A flag value if given, else the config.yaml setting, validated either way.
std::optional<std::string> resolve(const std::string& flag, std::string_view key,
                                   const config::Settings& settings) {
    if (!flag.empty()) return config::normalize(key, flag);
    return settings.get(key);
}

void start(Context& context, const StartFlags& flags) {
    const std::string profile = context.profile();
    context.log_to_profile(profile);
    const auto settings = config::Settings::load(context.home().config_file());
    const auto driver = resolve(flags.driver, "driver", settings);
    resolve(flags.cpus, "cpus", settings);
    resolve(flags.memory, "memory", settings);
    resolve(flags.disk_size, "disk-size", settings);
    resolve(flags.kubernetes_version, "kubernetes-version", settings);

    context.console.step("Starting cluster \"" + profile + "\"");
    const auto selection = drivers::builtin_registry().select(driver);
    context.console.step(selection.why);
    // Unreachable until a driver is registered: select() throws while the registry is empty.
    throw Error(ExitCode::kDriver, "DRV_NOT_AVAILABLE",
                "the " + selection.name + " driver cannot create machines yet");
}

}  // namespace

void add_start_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("start", "Start a local Kubernetes cluster");
    command->footer(
        "Examples:\n"
        "  kcube start                          best driver that works here\n"
        "  kcube start --driver=qemu --cpus=2 --memory=2g\n"
        "  kcube start -p dev                   a second cluster named dev");
    auto flags = std::make_shared<StartFlags>();
    command->add_option("--driver", flags->driver,
                        "Driver: qemu, kvm2, podman, docker, none, virtualbox (default: best)");
    command->add_option("--cpus", flags->cpus, "CPUs for the node (a number or max)");
    command->add_option("--memory", flags->memory, "Memory for the node (e.g. 2g, 2048mb)");
    command->add_option("--disk-size", flags->disk_size, "Disk size for the node (e.g. 20g)");
    command->add_option("--kubernetes-version", flags->kubernetes_version,
                        "Kubernetes API version the node reports (v1.27-v1.33)");
    command->callback([&context, flags] { start(context, *flags); });
}

}  // namespace kcube::cli
