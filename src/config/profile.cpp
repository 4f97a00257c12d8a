#include "config/profile.hpp"

#include <boost/json.hpp>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace kcube::config {
namespace json = boost::json;

bool is_valid_profile_name(std::string_view name) {
    if (name.empty() || name.size() > 40) return false;
    if (name.front() < 'a' || name.front() > 'z') return false;
    if (name.back() == '-') return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

void validate_profile_name(std::string_view name) {
    if (is_valid_profile_name(name)) return;
    std::string suggestion;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        suggestion += ok ? c : '-';
    }
    while (!suggestion.empty() && (suggestion.front() < 'a' || suggestion.front() > 'z')) {
        suggestion.erase(0, 1);
    }
    if (suggestion.size() > 40) suggestion.resize(40);
    while (!suggestion.empty() && suggestion.back() == '-')
        suggestion.pop_back();
    std::string advice =
        "A profile name uses lower-case letters, digits and '-', starts with a letter, and has "
        "at most 40 characters.";
    if (!suggestion.empty()) advice += " For example: " + suggestion;
    throw Error(ExitCode::kUsage, "PROFILE_INVALID_NAME",
                "invalid profile name \"" + std::string(name) + "\"", advice);
}

std::string to_json(const ClusterConfig& config) {
    json::array addons;
    for (const auto& a : config.addons)
        addons.emplace_back(a);
    json::object object{
        {"name", config.name},
        {"driver", config.driver},
        {"cpus", config.cpus},
        {"memoryMiB", config.memory_mib},
        {"diskMiB", config.disk_mib},
        {"kubernetesVersion", config.kubernetes_version},
        {"containerRuntime", config.container_runtime},
        {"addons", std::move(addons)},
        {"apiServerURL", config.api_server_url},
    };
    if (!config.extra_config.empty()) {
        json::array extra;
        for (const auto& e : config.extra_config)
            extra.emplace_back(e);
        object["extraConfig"] = std::move(extra);
    }
    return json::serialize(object);
}

ClusterConfig cluster_config_from_json(std::string_view text, const std::string& origin) {
    auto corrupt = [&](const std::string& why) {
        return Error(ExitCode::kState, "PROFILE_CORRUPT", origin + ": " + why,
                     "Fix the file, or remove the profile with: kcube delete -p <name>");
    };
    json::value value;
    try {
        value = json::parse(text);
    } catch (const std::exception& e) {
        throw corrupt(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!value.is_object()) throw corrupt("expected a JSON object");
    const auto& o = value.as_object();
    ClusterConfig config;
    try {
        config.name = json::value_to<std::string>(o.at("name"));
        config.driver = json::value_to<std::string>(o.at("driver"));
        config.cpus = json::value_to<int>(o.at("cpus"));
        config.memory_mib = json::value_to<long long>(o.at("memoryMiB"));
        config.disk_mib = json::value_to<long long>(o.at("diskMiB"));
        config.kubernetes_version = json::value_to<std::string>(o.at("kubernetesVersion"));
        if (auto* runtime = o.if_contains("containerRuntime")) {
            config.container_runtime = json::value_to<std::string>(*runtime);
        }
        if (auto* addons = o.if_contains("addons")) {
            config.addons = json::value_to<std::vector<std::string>>(*addons);
        }
        if (auto* extra = o.if_contains("extraConfig")) {
            config.extra_config = json::value_to<std::vector<std::string>>(*extra);
        }
        if (auto* url = o.if_contains("apiServerURL")) {
            config.api_server_url = json::value_to<std::string>(*url);
        }
    } catch (const std::exception& e) {
        throw corrupt(std::string("missing or mistyped field (") + e.what() + ")");
    }
    return config;
}

std::filesystem::path cluster_config_file(const KcubeHome& home, const std::string& profile) {
    return home.profile_dir(profile) / "config.json";
}

bool profile_exists(const KcubeHome& home, const std::string& profile) {
    return std::filesystem::exists(cluster_config_file(home, profile));
}

ClusterConfig load_cluster_config(const KcubeHome& home, const std::string& profile) {
    const auto file = cluster_config_file(home, profile);
    if (!std::filesystem::exists(file)) {
        throw Error(ExitCode::kNotFound, "PROFILE_NOT_FOUND",
                    "profile \"" + profile + "\" not found",
                    "Create it with: kcube start -p " + profile +
                        "   (kcube profile list shows the existing ones)");
    }
    ClusterConfig config = cluster_config_from_json(fs::read_file(file), file.string());
    if (config.name != profile) {
        throw Error(
            ExitCode::kState, "PROFILE_CORRUPT",
            file.string() + ": names profile \"" + config.name + "\"",
            "Fix the \"name\" field, or remove the profile with: kcube delete -p " + profile);
    }
    return config;
}

void save_cluster_config(const KcubeHome& home, const ClusterConfig& config) {
    validate_profile_name(config.name);
    fs::ensure_dir(home.profile_dir(config.name), 0700);
    fs::write_file_atomic(cluster_config_file(home, config.name), to_json(config) + "\n", 0600);
}

ProfileListing list_profiles(const KcubeHome& home) {
    ProfileListing listing;
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(home.profiles_dir(), ec)) {
        // A directory without config.json is a profile that was never created (a failed first
        // `kcube start` leaves only its logs there); it is not a cluster to list.
        if (entry.is_directory() && std::filesystem::exists(entry.path() / "config.json")) {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        try {
            if (!is_valid_profile_name(name)) {
                listing.invalid.push_back({name, "not a valid profile name"});
                continue;
            }
            listing.valid.push_back(load_cluster_config(home, name));
        } catch (const Error& e) {
            listing.invalid.push_back({name, e.what()});
        }
    }
    return listing;
}

}  // namespace kcube::config
