// kcube kubectl -- ARGS: kubectl with the profile's context.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <optional>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "config/profile.hpp"

namespace kcube::cli {
namespace {

// kubectl on PATH, else where a kcube cache would keep one.
std::optional<std::filesystem::path> find_kubectl(const KcubeHome& home) {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t colon = dirs.find(':', start);
        if (colon == std::string::npos) colon = dirs.size();
        const std::filesystem::path candidate =
            std::filesystem::path(dirs.substr(start, colon - start)) / "kubectl";
        start = colon + 1;
        if (!candidate.parent_path().empty() && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    const auto cached = home.cache_dir() / "bin" / "kubectl";
    if (::access(cached.c_str(), X_OK) == 0) return cached;
    return std::nullopt;
}

}  // namespace

void add_kubectl_command(CLI::App& root, Context& context) {
    auto* command =
        root.add_subcommand("kubectl", "Run kubectl with the cluster's context (args after --)");
    command->footer(
        "Examples:\n"
        "  kcube kubectl -- get pods -A\n"
        "  kcube -p dev kubectl -- apply -f app.yaml");
    auto args = std::make_shared<std::vector<std::string>>();
    command->add_option("ARGS", *args, "kubectl's arguments (put -- before them)");
    command->callback([&context, args] {
        const std::string profile = context.profile();
        const auto home = context.home();
        config::load_cluster_config(home, profile);  // a profile that does not exist: exit 3
        const auto kubectl = find_kubectl(home);
        if (!kubectl) {
            throw Error(ExitCode::kHost, "KUBECTL_NOT_FOUND", "kubectl is not installed",
                        "Install kubectl (https://kubernetes.io/docs/tasks/tools/) so that it is "
                        "on PATH.");
        }
        std::vector<std::string> argv = {kubectl->string(), "--context", profile};
        argv.insert(argv.end(), args->begin(), args->end());
        std::vector<char*> c_argv;
        for (auto& a : argv)
            c_argv.push_back(a.data());
        c_argv.push_back(nullptr);
        std::fflush(nullptr);
        ::execv(kubectl->c_str(), c_argv.data());
        throw Error(ExitCode::kHost, "KUBECTL_FAILED",
                    "cannot run " + kubectl->string() + ": " + errno_text(errno));
    });
}

}  // namespace kcube::cli
