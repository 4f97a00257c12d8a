#include "config/extra_config.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "common/error.hpp"

namespace kcube::config {
namespace {

struct Supported {
    std::string_view key;   // component.key as users write it (minikube's names)
    std::string_view flag;  // the node's flag
};

constexpr std::array kSupported = {
    Supported{"kubelet.resolv-conf", "--resolv-conf"},
};

std::string supported_list() {
    std::string out;
    for (const auto& s : kSupported)
        out += (out.empty() ? "" : ", ") + std::string(s.key);
    return out;
}

std::string_view key_of(std::string_view entry) {
    return entry.substr(0, entry.find('='));
}

}  // namespace

void validate_extra_config(const std::string& entry) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size() ||
        entry.substr(0, eq).find('.') == std::string::npos) {
        throw Error(ExitCode::kUsage, "EXTRA_CONFIG_INVALID",
                    "invalid --extra-config \"" + entry + "\"",
                    "Write it as component.key=value, e.g. "
                    "--extra-config=kubelet.resolv-conf=/etc/resolv.conf");
    }
    const auto key = key_of(entry);
    if (std::none_of(kSupported.begin(), kSupported.end(),
                     [&](const Supported& s) { return s.key == key; })) {
        throw Error(ExitCode::kUsage, "EXTRA_CONFIG_INVALID",
                    "unsupported --extra-config key \"" + std::string(key) + "\"",
                    "Supported keys: " + supported_list());
    }
}

std::vector<std::string> merge_extra_config(std::vector<std::string> recorded,
                                            const std::vector<std::string>& given) {
    for (const auto& entry : given) {
        std::erase_if(recorded, [&](const std::string& r) { return key_of(r) == key_of(entry); });
        recorded.push_back(entry);
    }
    return recorded;
}

std::vector<std::string> extra_config_node_args(const std::vector<std::string>& entries) {
    std::vector<std::string> args;
    for (const auto& entry : entries) {
        const auto key = key_of(entry);
        for (const auto& s : kSupported) {
            if (s.key != key) continue;
            args.emplace_back(s.flag);
            args.push_back(entry.substr(key.size() + 1));
        }
    }
    return args;
}

}  // namespace kcube::config
