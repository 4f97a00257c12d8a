// kcube image load|ls|rm: images in the node's container runtime.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {
namespace {

void add_load(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("load", "Load an image archive or OCI layout directory");
    command->footer(
        "Examples:\n"
        "  kcube image load app.tar          from `docker save` or an OCI archive\n"
        "  kcube image load ./app-oci/       an OCI image layout directory");
    auto source = std::make_shared<std::string>();
    command->add_option("SOURCE", *source, "Image archive (.tar) or OCI layout directory")
        ->required();
    command->callback([&context, source] {
        const std::string profile = context.profile();
        context.log_to_profile(profile);
        auto driver = lifecycle::open_running(context.home(), profile);
        for (const auto& name : driver->load_image(*source))
            context.console.success("Loaded image " + name);
    });
}

// A name people recognise: its first tag, else its first digest, else its id.
std::string display_name(const drivers::ImageInfo& image) {
    if (!image.repo_tags.empty()) return image.repo_tags.front();
    if (!image.repo_digests.empty()) return image.repo_digests.front();
    return image.id;
}

void add_ls(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("ls", "List the images in the cluster");
    command->alias("list");
    command->footer("Examples:\n  kcube image ls\n  kcube image ls -o json");
    auto format = std::make_shared<Format>(Format::kText);
    add_output_flag(*command, *format);
    command->callback([&context, format] {
        auto driver = lifecycle::open_running(context.home(), context.profile());
        auto images = driver->list_images();
        std::sort(images.begin(), images.end(),
                  [](const auto& a, const auto& b) { return display_name(a) < display_name(b); });
        if (*format == Format::kJson) {
            // minikube's `image ls --format json` fields.
            boost::json::array out;
            for (const auto& image : images) {
                boost::json::array tags(image.repo_tags.begin(), image.repo_tags.end());
                boost::json::array digests(image.repo_digests.begin(), image.repo_digests.end());
                out.push_back(boost::json::object{{"id", image.id},
                                                  {"repoDigests", digests},
                                                  {"repoTags", tags},
                                                  {"size", std::to_string(image.size)}});
            }
            std::fputs(pretty_json(out).c_str(), stdout);
            return;
        }
        for (const auto& image : images) {
            if (image.repo_tags.empty()) {
                std::printf("%s\n", display_name(image).c_str());
                continue;
            }
            for (const auto& tag : image.repo_tags)
                std::printf("%s\n", tag.c_str());
        }
    });
}

void add_rm(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("rm", "Remove images from the cluster");
    command->alias("remove");
    command->footer("Examples:\n  kcube image rm docker.io/library/nginx:latest");
    auto names = std::make_shared<std::vector<std::string>>();
    command->add_option("IMAGE", *names, "Image names (or ids)")->required();
    command->callback([&context, names] {
        const std::string profile = context.profile();
        context.log_to_profile(profile);
        auto driver = lifecycle::open_running(context.home(), profile);
        for (const auto& name : *names) {
            driver->remove_image(name);
            context.console.success("Removed image " + name);
        }
    });
}

}  // namespace

void add_image_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("image", "Load, list and remove images in the cluster");
    command->require_subcommand(1);
    command->footer(
        "Examples:\n"
        "  kcube image load app.tar\n"
        "  kcube image ls -o json\n"
        "  kcube image rm app:v1");
    add_load(*command, context);
    add_ls(*command, context);
    add_rm(*command, context);
}

}  // namespace kcube::cli
