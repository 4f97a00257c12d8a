// kcube profile [NAME] and kcube profile list: which clusters exist and which one is the default.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "bootstrap/kubeconfig.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "common/error.hpp"
#include "config/profile.hpp"
#include "config/settings.hpp"

namespace kcube::cli {
namespace {

// A profile's machine state needs its driver; until drivers exist no state can be read.
constexpr const char* kUnknownStatus = "Unknown";

void print_listing(const config::ProfileListing& listing, const std::string& active,
                   Format format) {
    if (format == Format::kJson) {
        boost::json::array valid, invalid;
        for (const auto& p : listing.valid) {
            boost::json::object entry{{"name", p.name},
                                      {"status", kUnknownStatus},
                                      {"active", p.name == active},
                                      {"config", boost::json::parse(config::to_json(p))}};
            valid.push_back(std::move(entry));
        }
        for (const auto& p : listing.invalid) {
            invalid.push_back(boost::json::object{{"name", p.name}, {"error", p.error}});
        }
        std::fputs(pretty_json(boost::json::object{{"valid", valid}, {"invalid", invalid}}).c_str(),
                   stdout);
        return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : listing.valid) {
        rows.push_back({p.name, p.driver, kUnknownStatus, std::to_string(p.cpus),
                        std::to_string(p.memory_mib), p.kubernetes_version,
                        p.name == active ? "*" : ""});
    }
    if (!rows.empty()) {
        std::fputs(
            table({"PROFILE", "DRIVER", "STATUS", "CPUS", "MEMORY(MiB)", "KUBERNETES", "ACTIVE"},
                  rows)
                .c_str(),
            stdout);
    }
    for (const auto& p : listing.invalid) {
        std::fprintf(stderr, "! invalid profile %s: %s\n", p.name.c_str(), p.error.c_str());
    }
}

void add_list(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("list", "List all profiles");
    command->alias("ls");
    command->footer("Examples:\n  kcube profile list\n  kcube profile list -o json");
    auto format = std::make_shared<Format>(Format::kText);
    add_output_flag(*command, *format);
    command->callback([&context, format] {
        const auto listing = config::list_profiles(context.home());
        if (listing.valid.empty() && listing.invalid.empty() && *format == Format::kText) {
            context.console.step("No profiles yet. Create one with: kcube start");
            return;
        }
        print_listing(listing, context.profile(), *format);
    });
}

void switch_profile(Context& context, const std::string& name) {
    config::validate_profile_name(name);
    const auto home = context.home();
    if (!config::profile_exists(home, name)) {
        throw Error(ExitCode::kNotFound, "PROFILE_NOT_FOUND", "profile \"" + name + "\" not found",
                    "Create it with: kcube start -p " + name +
                        "   (kcube profile list shows the existing ones)");
    }
    auto settings = config::Settings::load(home.config_file());
    settings.set("profile", name);
    settings.save(home.config_file());
    const auto kubeconfig_file = kubeconfig::default_path();
    if (kubeconfig::has_context(kubeconfig_file, name)) {
        kubeconfig::use_context(kubeconfig_file, name);
        context.console.success("kcube profile is now \"" + name + "\"; kubectl context \"" + name +
                                "\" selected");
    } else {
        context.console.success("kcube profile is now \"" + name + "\"");
        context.console.warn("kubectl has no context \"" + name + "\" in " +
                             kubeconfig_file.string() + "; `kcube start` will add it");
    }
}

}  // namespace

void add_profile_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand(
        "profile", "Print the current profile, switch to another, or list them all");
    command->footer(
        "Examples:\n"
        "  kcube profile               print the current profile\n"
        "  kcube profile dev           make \"dev\" the default profile and kubectl context\n"
        "  kcube profile list -o json");
    auto name = std::make_shared<std::string>();
    command->add_option("NAME", *name, "Profile to make the default");
    add_list(*command, context);
    command->callback([&context, command, name] {
        if (!command->get_subcommands().empty()) return;  // `profile list` ran instead
        if (name->empty()) {
            std::printf("%s\n", context.profile().c_str());
            return;
        }
        switch_profile(context, *name);
    });
}

}  // namespace kcube::cli
