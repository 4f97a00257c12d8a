// kcube status: minikube's status lines (host, kubelet, apiserver, kubeconfig) and its exit
// code bitmask: 1 host, 2 kubelet or API server, 4 kubeconfig not as they should be.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "drivers/lifecycle.hpp"

namespace kcube::cli {

void add_status_command(CLI::App& root, Context& context) {
    auto* command = root.add_subcommand("status", "Show whether the cluster is running");
    command->footer(
        "Examples:\n"
        "  kcube status\n"
        "  kcube status -o json\n\n"
        "Exit code: 0 when all is running, else the sum of 1 (host not running), 2 (kubelet or\n"
        "API server not running) and 4 (kubectl not configured for it); 85 when the profile\n"
        "does not exist.");
    auto format = std::make_shared<Format>(Format::kText);
    add_output_flag(*command, *format);
    command->callback([&context, format] {
        const auto st = lifecycle::status(context.home(), context.profile());
        if (*format == Format::kJson) {
            boost::json::object out{{"Name", st.name},
                                    {"Host", st.host},
                                    {"Kubelet", st.kubelet},
                                    {"APIServer", st.apiserver},
                                    {"Kubeconfig", st.kubeconfig},
                                    {"Worker", false}};
            std::fputs(pretty_json(out).c_str(), stdout);
        } else {
            std::printf(
                "%s\ntype: Control Plane\nhost: %s\nkubelet: %s\napiserver: %s\n"
                "kubeconfig: %s\n\n",
                st.name.c_str(), st.host.c_str(), st.kubelet.c_str(), st.apiserver.c_str(),
                st.kubeconfig.c_str());
            if (st.kubeconfig == "Misconfigured") {
                std::printf(
                    "WARNING: Your kubectl is pointing to a stale or missing \"%s\" context.\n"
                    "To fix the kubectl context, run `kcube start%s%s`\n",
                    st.name.c_str(), st.name == "kcube" ? "" : " -p ",
                    st.name == "kcube" ? "" : st.name.c_str());
            }
        }
        std::fflush(stdout);
        context.exit_code = st.exit_code();
    });
}

}  // namespace kcube::cli
