// kcube version: what this binary is and which Kubernetes API it serves.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "common/version.hpp"

namespace kcube::cli {

void add_version_command(CLI::App& root, Context& /*context*/) {
    auto* command = root.add_subcommand("version", "Print the version of kcube");
    command->footer(
        "Examples:\n"
        "  kcube version\n"
        "  kcube version --short\n"
        "  kcube version -o json");
    auto format = std::make_shared<Format>(Format::kText);
    auto short_only = std::make_shared<bool>(false);
    add_output_flag(*command, *format, true);
    command->add_flag("--short", *short_only, "Print just the version number");
    command->callback([format, short_only] {
        const std::string version = std::string("v") + build::kVersion;
        if (*short_only) {
            std::printf("%s\n", version.c_str());
            return;
        }
        boost::json::object info{
            {"kcubeVersion", version},        {"commit", build::kCommit},
            {"buildDate", build::kBuildDate}, {"kubernetesVersion", kKubernetesVersion},
            {"platform", "linux/amd64"},
        };
#if defined(__aarch64__)
        info["platform"] = "linux/arm64";
#endif
        switch (*format) {
            case Format::kJson:
                std::fputs(pretty_json(info).c_str(), stdout);
                break;
            case Format::kYaml:
                std::fputs(to_yaml(info).c_str(), stdout);
                break;
            case Format::kText:
                std::printf("kcube version: %s\ncommit: %s\nbuild date: %s\nkubernetes API: %s\n",
                            version.c_str(), build::kCommit, build::kBuildDate, kKubernetesVersion);
        }
    });
}

}  // namespace kcube::cli
