// kcube start: create or restart the profile's cluster on the chosen (or best) driver.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <thread>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "common/version.hpp"
#include "config/extra_config.hpp"
#include "config/settings.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {
namespace {

struct StartFlags {
    std::string driver, cpus, memory, disk_size, kubernetes_version;
    std::vector<std::string> extra_config;
    int wait_seconds = 120;
};

// A flag value if given, else the config.yaml setting, validated either way.
std::optional<std::string> resolve(const std::string& flag, std::string_view key,
                                   const config::Settings& settings) {
    if (!flag.empty()) return config::normalize(key, flag);
    return settings.get(key);
}

// A normalised size or count ("max" or a number) as a number; `max` for "max".
long long number_or(const std::optional<std::string>& value, long long fallback, long long max) {
    if (!value) return fallback;
    if (*value == "max") return max;
    return std::stoll(*value);
}

long long host_memory_mib() {
    const long long pages = ::sysconf(_SC_PHYS_PAGES);
    const long long page_size = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? pages * page_size / (1024 * 1024) : 2048;
}

void start(Context& context, const StartFlags& flags) {
    const std::string profile = context.profile();
    context.log_to_profile(profile);
    const auto settings = config::Settings::load(context.home().config_file());
    lifecycle::StartOptions options;
    options.profile = profile;
    // The setting applies to new clusters; an existing one keeps its driver unless --driver
    // names another (which is refused).
    if (!flags.driver.empty()) options.driver = config::normalize("driver", flags.driver);
    options.default_driver = settings.get("driver");
    options.cluster.cpus =
        static_cast<int>(number_or(resolve(flags.cpus, "cpus", settings), options.cluster.cpus,
                                   std::max(1U, std::thread::hardware_concurrency())));
    options.cluster.memory_mib = number_or(resolve(flags.memory, "memory", settings),
                                           options.cluster.memory_mib, host_memory_mib());
    options.cluster.disk_mib = number_or(resolve(flags.disk_size, "disk-size", settings),
                                         options.cluster.disk_mib, options.cluster.disk_mib);
    options.cluster.kubernetes_version =
        resolve(flags.kubernetes_version, "kubernetes-version", settings)
            .value_or(kKubernetesVersion);
    for (const auto& entry : flags.extra_config)
        config::validate_extra_config(entry);
    options.cluster.extra_config = flags.extra_config;
    options.embed_certs = settings.get("embed-certs") == "true";
    options.timeout = std::chrono::seconds(flags.wait_seconds);

    context.console.step("Starting cluster \"" + profile + "\"");
    lifecycle::start(context.home(), options, context.console);
}

}  // namespace

void add_start_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("start", "Start a local Kubernetes cluster");
    command->footer(
        "Examples:\n"
        "  kcube start                          best driver that works here\n"
        "  sudo -E kcube start --driver=none    the node runs on this host (root)\n"
        "  kcube start --driver=qemu --cpus=2 --memory=2g\n"
        "  kcube start -p dev                   a second cluster named dev\n\n"
        "Starting a running cluster only refreshes its kubectl context.");
    auto flags = std::make_shared<StartFlags>();
    command->add_option("--driver", flags->driver,
                        "Driver: qemu, kvm2, podman, docker, none, virtualbox (default: best)");
    command->add_option("--cpus", flags->cpus, "CPUs for the node (a number or max)");
    command->add_option("--memory", flags->memory, "Memory for the node (e.g. 2g, 2048mb)");
    command->add_option("--disk-size", flags->disk_size, "Disk size for the node (e.g. 20g)");
    command->add_option("--kubernetes-version", flags->kubernetes_version,
                        "Kubernetes API version the node reports (v1.27-v1.33)");
    command->add_option("--extra-config", flags->extra_config,
                        "A node setting, component.key=value (supported: kubelet.resolv-conf); "
                        "repeatable, kept for later starts");
    command
        ->add_option("--wait-timeout", flags->wait_seconds,
                     "Seconds to wait for the API server and the node to be Ready")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    command->callback([&context, flags] { start(context, *flags); });
}

}  // namespace kcube::cli
