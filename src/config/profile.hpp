#pragma once
// A profile is one cluster: $KCUBE_HOME/profiles/<name>/config.json holds how it was created.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/home.hpp"

namespace kcube::config {

inline constexpr std::string_view kDefaultProfile = "kcube";

// Profile names become host names, kubeconfig names and directory names: lower-case letters,
// digits and '-', starting with a letter, at most 40 characters.
bool is_valid_profile_name(std::string_view name);
// Throws Error(kUsage, PROFILE_INVALID_NAME) with the rule and a corrected suggestion.
void validate_profile_name(std::string_view name);

struct ClusterConfig {
    std::string name;
    std::string driver;
    int cpus = 2;
    long long memory_mib = 2048;
    long long disk_mib = 20480;
    std::string kubernetes_version;
    std::string container_runtime = "containerd";
    std::vector<std::string> addons;
    std::string api_server_url;  // set once the cluster has been started
    // --extra-config entries (component.key=value), applied at every start.
    std::vector<std::string> extra_config;
};

std::string to_json(const ClusterConfig& config);
// Throws Error(kState, PROFILE_CORRUPT) naming `origin` when the JSON is not a cluster config.
ClusterConfig cluster_config_from_json(std::string_view json, const std::string& origin);

std::filesystem::path cluster_config_file(const KcubeHome& home, const std::string& profile);
bool profile_exists(const KcubeHome& home, const std::string& profile);
ClusterConfig load_cluster_config(const KcubeHome& home, const std::string& profile);
// Atomic write (temp file + rename), mode 0600; creates the profile directory 0700.
void save_cluster_config(const KcubeHome& home, const ClusterConfig& config);

struct ProfileListing {
    std::vector<ClusterConfig> valid;
    struct Invalid {
        std::string name;
        std::string error;
    };
    std::vector<Invalid> invalid;  // directories whose config.json is missing or corrupt
};
ProfileListing list_profiles(const KcubeHome& home);

}  // namespace kcube::config
