#pragma once
// The user's kubectl context for a cluster: the cluster CA and an administrator client pair
// copied into the profile directory (so the kubeconfig never points into the node's own state),
// and the kubeconfig cluster, user and context named after the profile.
#include <filesystem>
#include <string>

#include "bootstrap/api_client.hpp"

namespace kcube::bootstrap {

// Copies access.ca_cert, client_cert and client_key to <profile_dir>/{ca.crt, client.crt,
// client.key} and writes the kubeconfig entries `name` for access.server_url() into
// `kubeconfig`, making `name` the current context. `embed` inlines the three files instead.
void configure_kubectl(const std::filesystem::path& kubeconfig, const std::string& name,
                       const ApiAccess& access, const std::filesystem::path& profile_dir,
                       bool embed);

// Whether context `name` in `kubeconfig` reaches `server` (minikube's "Configured").
bool kubectl_configured(const std::filesystem::path& kubeconfig, const std::string& name,
                        const std::string& server);

}  // namespace kcube::bootstrap
