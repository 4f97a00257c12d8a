#include "cli/app.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "config/profile.hpp"
#include "config/settings.hpp"

namespace kcube::cli {

KcubeHome Context::home() const {
    return KcubeHome::from_environment();
}

std::string Context::profile() const {
    if (!profile_flag.empty()) {
        config::validate_profile_name(profile_flag);
        return profile_flag;
    }
    const auto settings = config::Settings::load(home().config_file());
    return settings.get("profile").value_or(std::string(config::kDefaultProfile));
}

void Context::log_to_profile(const std::string& profile) const {
    log::attach_file(home().profile_logs_dir(profile) / "kcube.log");
}

namespace {

void print_help(const std::string& text) {
    std::fputs(text.c_str(), stdout);
    if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
}

// "did you mean" for a mistyped command: the closest subcommand of the deepest command reached.
std::string suggestion_for(const CLI::App& root, const std::vector<std::string>& extras) {
    if (extras.empty()) return "";
    const CLI::App* command = &root;
    while (true) {
        auto parsed = command->get_subcommands();
        if (parsed.empty()) break;
        command = parsed.front();
    }
    std::vector<std::string_view> names;
    for (const CLI::App* sub : command->get_subcommands({}))
        names.push_back(sub->get_name());
    return strings::closest(extras.front(), names);
}

void build(CLI::App& app, Context& context) {
    app.footer(
        "Examples:\n"
        "  kcube start                 start a cluster on the best available driver\n"
        "  kcube -p dev start          a second cluster, in profile \"dev\"\n"
        "  kcube version -o json\n\n"
        "Exit codes are listed in README.md.");
    app.fallthrough();  // global flags are accepted after the command too
    app.add_option("-p,--profile", context.profile_flag,
                   "Profile (cluster) to act on; default: config key `profile`, else kcube");
    app.add_flag("-v,--v", context.verbosity,
                 "Log detail on stderr: -v info, -vv debug, -vvv (or --v=3) trace");
    app.add_flag("--alsologtostderr", context.also_log_to_stderr,
                 "Also send everything logged to the log file to stderr");
    app.set_help_all_flag("--help-all", "Help for every command");
    add_start_command(app, context);
    add_status_command(app, context);
    add_stop_command(app, context);
    add_delete_command(app, context);
    add_logs_command(app, context);
    add_kubectl_command(app, context);
    add_image_command(app, context);
    add_service_command(app, context);
    add_ip_command(app, context);
    add_config_command(app, context);
    add_profile_command(app, context);
    add_version_command(app, context);
    add_node_command(app, context);
    // Logging must reflect -v before any command runs; CLI11 runs this before subcommand callbacks.
    app.parse_complete_callback(
        [&context] { log::init(context.verbosity, context.also_log_to_stderr); });
}

}  // namespace

int run(int argc, char** argv) {
    Context context;
    log::init(0, false);
    CLI::App app{"kcube: a local Kubernetes cluster in about a second", "kcube"};
    build(app, context);
    try {
        app.parse(argc, argv);
        if (app.get_subcommands().empty()) {
            print_help(app.help());
        }
        return context.exit_code;
    } catch (const CLI::CallForHelp&) {
        // `--help` on a subcommand: show that subcommand's help, not the root's.
        const CLI::App* command = &app;
        while (!command->get_subcommands().empty())
            command = command->get_subcommands().front();
        print_help(command->help());
        return static_cast<int>(ExitCode::kOk);
    } catch (const CLI::CallForAllHelp&) {
        print_help(app.help("", CLI::AppFormatMode::All));
        return static_cast<int>(ExitCode::kOk);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "Error: %s\n", e.what());
        if (const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&e)) {
            (void)extras;
            std::string hint = suggestion_for(app, app.remaining());
            if (!hint.empty()) std::fprintf(stderr, "Did you mean \"%s\"?\n", hint.c_str());
        }
        std::fprintf(stderr, "Run 'kcube --help' (or 'kcube COMMAND --help') for usage.\n");
        return static_cast<int>(ExitCode::kUsage);
    } catch (const Error& e) {
        context.console.error(e);
        return static_cast<int>(e.exit_code());
    } catch (const std::exception& e) {
        spdlog::error("unexpected error: {}", e.what());
        context.console.error(Error(ExitCode::kInternal, "INTERNAL_ERROR", e.what(),
                                    "This is a bug in kcube; please report it with the output "
                                    "of the command run with --alsologtostderr."));
        return static_cast<int>(ExitCode::kInternal);
    }
}

}  // namespace kcube::cli
