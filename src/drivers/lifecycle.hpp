#pragma once
// A cluster's life cycle across drivers: start (create or restart the machine, wait for the API
// server and the Node, write the kubectl context), stop, status and delete. The commands in
// src/cli only parse flags and print; the steps people see go through the Console given here.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bootstrap/api_client.hpp"
#include "common/console.hpp"
#include "common/home.hpp"
#include "config/profile.hpp"
#include "drivers/driver.hpp"

namespace kcube::lifecycle {

struct StartOptions {
    std::string profile;
    std::optional<std::string> driver;          // --driver
    std::optional<std::string> default_driver;  // the `driver` setting, for a new cluster
    config::ClusterConfig cluster;              // what a new profile records (cpus, memory, ...)
    bool embed_certs = false;
    // From launching the node to a Ready Node, both waits together.
    std::chrono::seconds timeout{120};
};

// Starts the profile's cluster, creating it first when it does not exist. Throws Error:
// kDriver when the driver cannot run here, kCluster when the node does not become ready
// (quoting the end of its log).
void start(const KcubeHome& home, const StartOptions& options, const Console& console);

// Stops the node and its machine, keeping all state. Error(kNotFound) for a missing profile.
void stop(const KcubeHome& home, const std::string& profile, const Console& console);

// minikube's status fields and values (Running, Stopped, Nonexistent; Configured,
// Misconfigured).
struct Status {
    std::string name;
    std::string host;
    std::string kubelet;
    std::string apiserver;
    std::string kubeconfig;
    // minikube's bitmask: 1 host not running, 2 kubelet or API server not running, 4 kubectl
    // not configured for the cluster.
    int exit_code() const;
};

// Error(kNoCluster, PROFILE_NOT_FOUND) with minikube's text when the profile does not exist.
Status status(const KcubeHome& home, const std::string& profile);

// Removes the cluster and every trace of it (machine, node state, profile directory, kubeconfig
// entries). A profile that does not exist is not an error: whatever is left of it goes.
void remove(const KcubeHome& home, const std::string& profile, const Console& console);
// Every profile, valid or not.
void remove_all(const KcubeHome& home, const Console& console);

// The driver of an existing profile (Error(kNotFound) when there is none).
std::unique_ptr<drivers::Driver> open_driver(const KcubeHome& home, const std::string& profile);

// How the host calls the node's API server as its administrator.
bootstrap::ApiAccess api_access(const drivers::Driver& driver);

// Error(kCluster, CLUSTER_NOT_RUNNING) unless the profile's node runs.
std::unique_ptr<drivers::Driver> open_running(const KcubeHome& home, const std::string& profile);

// The last `lines` lines of the node's log ("" when it has none yet).
std::string node_log_tail(const KcubeHome& home, const std::string& profile, size_t lines);
// Hands `out` whatever is appended to the node's log from now on; never returns.
[[noreturn]] void follow_node_log(const KcubeHome& home, const std::string& profile,
                                  const std::function<void(std::string_view)>& out);

}  // namespace kcube::lifecycle
