#pragma once
// One function per command file; app.cpp calls each to attach its command to the root.
namespace CLI {
class App;
}

namespace kcube::cli {

struct Context;

void add_version_command(CLI::App& root, Context& context);
void add_config_command(CLI::App& root, Context& context);
void add_profile_command(CLI::App& root, Context& context);
void add_start_command(CLI::App& root, Context& context);
void add_node_command(CLI::App& root, Context& context);
void add_stop_command(CLI::App& root, Context& context);
void add_status_command(CLI::App& root, Context& context);
void add_delete_command(CLI::App& root, Context& context);
void add_logs_command(CLI::App& root, Context& context);
void add_kubectl_command(CLI::App& root, Context& context);
void add_image_command(CLI::App& root, Context& context);
void add_service_command(CLI::App& root, Context& context);
void add_ip_command(CLI::App& root, Context& context);

}  // namespace kcube::cli
