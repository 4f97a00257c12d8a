#pragma once
// The pod's volumes on the node: each volume of the pod spec made ready as a host directory (or
// file) that container mounts can point at. setup() runs on every pod sync and is idempotent:
// it writes configMap/secret/projected/downwardAPI contents anew when they changed (atomically,
// upstream's ..data symlink swap) and refreshes service-account tokens before they expire.
#include <boost/json/object.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cluster/kubelet/paths.hpp"

namespace kcube::api {
class ResourceService;
}

namespace kcube::kubelet {

// A volume as a container mount sees it.
struct HostVolume {
    std::filesystem::path host_path;  // directory (or file, for hostPath type File)
    bool read_only = false;           // configMap, secret, projected, downwardAPI are read-only
};

struct PodVolumes {
    std::map<std::string, HostVolume> by_name;  // volume name → where it is on the host
};

// A volume that cannot be set up yet (missing ConfigMap/Secret, PVC unbound, bad hostPath
// type...). what() is the message of upstream's FailedMount event, e.g.
// `MountVolume.SetUp failed for volume "cfg" : configmap "app" not found`.
class VolumeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Issues a service-account token (TokenRequest semantics): namespace, service account name,
// and the TokenRequest object (spec.audiences, spec.expirationSeconds, spec.boundObjectRef);
// returns the TokenRequest with status.token and status.expirationTimestamp filled in.
using TokenRequester = std::function<boost::json::object(
    const std::string& ns, const std::string& service_account, boost::json::object request)>;

class VolumeManager {
  public:
    VolumeManager(api::ResourceService& service, KubeletPaths paths, TokenRequester tokens);
    ~VolumeManager();
    VolumeManager(const VolumeManager&) = delete;
    VolumeManager& operator=(const VolumeManager&) = delete;

    // Makes every volume of `pod` ready. Throws VolumeError when one cannot be.
    PodVolumes setup(const boost::json::object& pod);
    // Unmounts (tmpfs) and removes everything of the pod with this uid. Safe to call twice.
    void teardown(const std::string& pod_uid);
    // The uids that have a directory under pods/ (to clean up after pods deleted while the
    // node was down).
    std::vector<std::string> pods_on_disk() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet
