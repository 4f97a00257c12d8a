// kcube service NAME | kcube service list: where the host reaches the cluster's Services.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "common/error.hpp"
#include "drivers/lifecycle.hpp"
#include "drivers/service_urls.hpp"

namespace kcube::cli {
namespace {

boost::json::object to_json(const lifecycle::ServiceUrls& service) {
    boost::json::array ports;
    for (const auto& p : service.ports) {
        boost::json::object port{{"name", p.port_name},
                                 {"port", p.port},
                                 {"targetPort", p.target_port},
                                 {"nodePort", p.node_port},
                                 {"url", p.url}};
        ports.push_back(std::move(port));
    }
    return {{"namespace", service.ns},
            {"name", service.name},
            {"type", service.type},
            {"ports", std::move(ports)}};
}

// minikube's columns: one row per port; "No node port" for ports the host cannot reach.
std::vector<std::vector<std::string>> rows_of(const lifecycle::ServiceUrls& service) {
    std::vector<std::vector<std::string>> rows;
    if (service.ports.empty()) rows.push_back({service.ns, service.name, "", "No node port"});
    for (const auto& p : service.ports) {
        const std::string target =
            p.port_name.empty() ? p.target_port : p.port_name + "/" + p.target_port;
        rows.push_back({service.ns, service.name, target, p.url.empty() ? "No node port" : p.url});
    }
    return rows;
}

const std::vector<std::string> kHeaders = {"NAMESPACE", "NAME", "TARGET PORT", "URL"};

// Opens `url` in the desktop's browser; false when this session has none.
bool open_in_browser(const std::string& url) {
    if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) return false;
    if (::access("/usr/bin/xdg-open", X_OK) != 0) return false;
    const std::string command = "/usr/bin/xdg-open '" + url + "' >/dev/null 2>&1 &";
    return std::system(command.c_str()) == 0;
}

struct ServiceFlags {
    std::string name, ns = "default";
    bool url = false, open = false;
    Format format = Format::kText;
};

void show_service(Context& context, const ServiceFlags& flags) {
    auto driver = lifecycle::open_running(context.home(), context.profile());
    const auto service =
        lifecycle::service_urls(*driver, lifecycle::api_access(*driver), flags.ns, flags.name);
    std::vector<std::string> urls;
    for (const auto& p : service.ports)
        if (!p.url.empty()) urls.push_back(p.url);
    if (urls.empty()) {
        throw Error(ExitCode::kNotFound, "SVC_NO_NODE_PORT",
                    "service " + flags.ns + "/" + flags.name + " has no node port (type " +
                        service.type + ")",
                    "Make it reachable from the host: kubectl -n " + flags.ns + " patch service " +
                        flags.name +
                        " -p '{\"spec\":{\"type\":\"NodePort\"}}', or use kubectl port-forward");
    }
    if (flags.format == Format::kJson) {
        std::fputs(pretty_json(to_json(service)).c_str(), stdout);
    } else if (flags.url) {
        for (const auto& url : urls)
            std::printf("%s\n", url.c_str());
    } else {
        std::fputs(table(kHeaders, rows_of(service)).c_str(), stdout);
    }
    std::fflush(stdout);
    if (flags.open) {
        for (const auto& url : urls) {
            if (!open_in_browser(url)) {
                throw Error(ExitCode::kHost, "HOST_NO_BROWSER",
                            "cannot open a browser in this session (no DISPLAY or xdg-open)",
                            "Open " + url + " yourself, or use --url");
            }
            context.console.step("Opening service " + flags.ns + "/" + flags.name +
                                 " in the default browser...");
        }
    }
}

void add_list(CLI::App& parent, Context& context) {
    auto* command = parent.add_subcommand("list", "List the Services and their URLs");
    command->footer("Examples:\n  kcube service list\n  kcube service list -n kube-system -o json");
    auto ns = std::make_shared<std::string>();
    command->add_option("-n,--namespace", *ns, "Only this namespace (default: all)");
    auto format = std::make_shared<Format>(Format::kText);
    add_output_flag(*command, *format);
    command->callback([&context, ns, format] {
        auto driver = lifecycle::open_running(context.home(), context.profile());
        const auto services =
            lifecycle::all_service_urls(*driver, lifecycle::api_access(*driver), *ns);
        if (*format == Format::kJson) {
            boost::json::array out;
            for (const auto& s : services)
                out.push_back(to_json(s));
            std::fputs(pretty_json(out).c_str(), stdout);
        } else {
            std::vector<std::vector<std::string>> rows;
            for (const auto& s : services)
                for (auto& row : rows_of(s))
                    rows.push_back(std::move(row));
            std::fputs(table(kHeaders, rows).c_str(), stdout);
        }
        std::fflush(stdout);
    });
}

}  // namespace

void add_service_command(CLI::App& root, Context& context) {
    auto* command =
        root.add_subcommand("service", "Print the URL of a Service reachable from the host");
    command->footer(
        "Examples:\n"
        "  kcube service web --url             http://NODE-IP:NODE-PORT\n"
        "  kcube service web -n demo           the URL table\n"
        "  kcube service list\n\n"
        "NodePort and LoadBalancer Services are reachable from the host at their node ports.");
    auto flags = std::make_shared<ServiceFlags>();
    command->add_option("NAME", flags->name, "The Service");
    command->add_option("-n,--namespace", flags->ns, "Its namespace")->capture_default_str();
    command->add_flag("--url", flags->url, "Print only the URLs, one per line");
    command->add_flag("--open", flags->open, "Open the URLs in the desktop's browser");
    add_output_flag(*command, flags->format);
    add_list(*command, context);
    command->require_subcommand(0, 1);
    command->callback([&context, flags, command] {
        if (command->get_subcommands().empty()) {
            if (flags->name.empty()) {
                throw Error(ExitCode::kUsage, "SVC_NAME_MISSING", "kcube service needs a NAME",
                            "Give a Service name (kcube service NAME), or list them: kcube "
                            "service list");
            }
            show_service(context, *flags);
        }
    });
}

}  // namespace kcube::cli
