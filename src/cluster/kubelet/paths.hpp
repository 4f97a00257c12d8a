#pragma once
// Where the kubelet keeps things on the node's disk, all under one root (<data>/kubelet), so
// that `kcube delete` removes them with the data dir.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace kcube::kubelet {

struct KubeletPaths {
    std::filesystem::path root;  // <data>/kubelet

    std::filesystem::path pods_dir() const { return root / "pods"; }
    // <root>/pods/<uid>
    std::filesystem::path pod_dir(std::string_view uid) const { return pods_dir() / uid; }
    // <root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>, upstream's layout
    // (plugin: empty-dir, configmap, secret, projected, downward-api).
    std::filesystem::path volume_dir(std::string_view uid, std::string_view plugin,
                                     std::string_view name) const {
        return pod_dir(uid) / "volumes" / ("kubernetes.io~" + std::string(plugin)) / name;
    }
    // <root>/logs: upstream's /var/log/pods.
    std::filesystem::path logs_dir() const { return root / "logs"; }
    // <root>/logs/<ns>_<name>_<uid>: the sandbox's log directory.
    std::filesystem::path pod_log_dir(std::string_view ns, std::string_view name,
                                      std::string_view uid) const {
        return logs_dir() / (std::string(ns) + "_" + std::string(name) + "_" + std::string(uid));
    }
    // "<container>/<attempt>.log", relative to pod_log_dir (what the CRI's log_path wants).
    static std::string container_log_name(std::string_view container, std::uint32_t attempt) {
        return std::string(container) + "/" + std::to_string(attempt) + ".log";
    }
};

}  // namespace kcube::kubelet
