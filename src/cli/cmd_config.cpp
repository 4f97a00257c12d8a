// kcube config set|get|unset|view: global settings in $KCUBE_HOME/config.yaml.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "common/error.hpp"
#include "config/settings.hpp"

namespace kcube::cli {
namespace {

std::string keys_help() {
    std::string text = "Keys:\n";
    for (const auto& key : config::known_keys()) {
        text += "  " + std::string(key.name) + std::string(20 - key.name.size(), ' ') +
                std::string(key.description) + "\n";
    }
    return text;
}

void add_set(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("set", "Set a config value");
    command->footer("Examples:\n  kcube config set memory 4g\n  kcube config set driver qemu\n\n" +
                    keys_help());
    auto key = std::make_shared<std::string>();
    auto value = std::make_shared<std::string>();
    command->add_option("KEY", *key, "Config key")->required();
    command->add_option("VALUE", *value, "New value")->required();
    command->callback([&context, key, value] {
        const auto file = context.home().config_file();
        auto settings = config::Settings::load(file);
        settings.set(*key, *value);
        settings.save(file);
        const auto stored = settings.get(*key).value_or("");
        if (stored != *value) {
            context.console.success(*key + " set to " + stored + " (from " + *value + ")");
        } else {
            context.console.success(*key + " set to " + stored);
        }
    });
}

void add_get(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("get", "Print a config value");
    command->footer("Examples:\n  kcube config get memory\n\n" + keys_help());
    auto key = std::make_shared<std::string>();
    command->add_option("KEY", *key, "Config key")->required();
    command->callback([&context, key] {
        const auto settings = config::Settings::load(context.home().config_file());
        auto value = settings.get(*key);
        if (!value) {
            throw Error(ExitCode::kNotFound, "CONFIG_KEY_NOT_SET",
                        "\"" + *key + "\" is not set in " + context.home().config_file().string(),
                        "Set it with: kcube config set " + *key + " VALUE");
        }
        std::printf("%s\n", value->c_str());
    });
}

void add_unset(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("unset", "Remove a config value (back to the default)");
    command->footer("Examples:\n  kcube config unset memory\n\n" + keys_help());
    auto key = std::make_shared<std::string>();
    command->add_option("KEY", *key, "Config key")->required();
    command->callback([&context, key] {
        const auto file = context.home().config_file();
        auto settings = config::Settings::load(file);
        if (!settings.unset(*key)) {
            context.console.step(*key + " was not set");
            return;
        }
        settings.save(file);
        context.console.success(*key + " unset");
    });
}

void add_view(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("view", "Print every config value that is set");
    command->footer("Examples:\n  kcube config view\n  kcube config view -o json");
    auto format = std::make_shared<Format>(Format::kText);
    add_output_flag(*command, *format, true);
    command->callback([&context, format] {
        const auto settings = config::Settings::load(context.home().config_file());
        boost::json::object values;
        for (const auto& [key, value] : settings.values())
            values[key] = value;
        switch (*format) {
            case Format::kJson:
                std::fputs(pretty_json(values).c_str(), stdout);
                break;
            case Format::kYaml:
                std::fputs(values.empty() ? "{}\n" : to_yaml(values).c_str(), stdout);
                break;
            case Format::kText:
                for (const auto& [key, value] : settings.values()) {
                    std::printf("- %s: %s\n", key.c_str(), value.c_str());
                }
        }
    });
}

}  // namespace

void add_config_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("config",
                                        "Get and set kcube's settings ("
                                        "$KCUBE_HOME/config.yaml)");
    command->require_subcommand(1);
    command->footer(
        "Examples:\n  kcube config set cpus 4\n  kcube config get cpus\n"
        "  kcube config unset cpus\n  kcube config view -o json\n\n" +
        keys_help());
    add_set(*command, context);
    add_get(*command, context);
    add_unset(*command, context);
    add_view(*command, context);
}

}  // namespace kcube::cli
