#pragma once
// The pod's volumes on the node: each volume of the pod spec made ready as a host directory (or
// file) that container mounts can point at. setup() runs on every pod sync and is idempotent:
// it writes configMap/secret/projected/downwardAPI contents anew when they changed (atomically,
// upstream's ..data symlink swap) and refreshes service-account tokens before they expire.
#include <boost/json/object.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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
    // <root>/pods/<uid>: where the container config puts per-container files (etc-hosts,
    // termination-message files, subPath bind mounts); teardown() removes them with the rest.
    std::filesystem::path pod_dir;
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

// The downward API's values, shared by container environments and downwardAPI volumes. Both
// throw std::runtime_error with upstream's message.
// metadata.name/namespace/uid, metadata.labels/annotations (upstream's `key="value"` lines) and
// the subscripted metadata.labels['k'] / metadata.annotations['k'].
std::string pod_metadata_field(const boost::json::object& pod, std::string_view field_path);
// A resourceFieldRef ({containerName?, resource, divisor?}) of `container` (nullptr: the
// container named in the selector): limits.cpu, requests.memory, ... divided by the divisor and
// rounded up. Unset limits are the node's allocatable (the Node object of spec.nodeName, else
// the machine's capacity), as upstream's kubelet reports them.
std::string container_resource_field(api::ResourceService& service, const boost::json::object& pod,
                                     const boost::json::object* container,
                                     const boost::json::object& selector);

// subPath support for container mounts (upstream's subpath package). make_subpath_dir creates a
// missing subPath directory inside the volume, never following a symlink out of it, with the
// volume's mode. bind_subpath checks that the subPath (symlinks resolved) stays inside the volume,
// opens it one component at a time without following symlinks, and bind-mounts what it opened
// at <pod_dir>/volume-subpaths/<volume>/<container>/<index>, the path the container mount then
// uses: a symlink swapped in after the check cannot redirect the mount. Both throw
// std::runtime_error (the detail upstream logs; callers show upstream's shorter message).
void make_subpath_dir(const std::filesystem::path& volume_path, const std::string& sub_path);
std::filesystem::path bind_subpath(const std::filesystem::path& pod_dir,
                                   const std::string& volume_name,
                                   const std::filesystem::path& volume_path,
                                   const std::string& sub_path, const std::string& container,
                                   int index);

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

// The container (or init container) of `pod` with this name, or nullptr.
const boost::json::object* find_container_spec(const boost::json::object& pod,
                                               const std::string& name);

}  // namespace kcube::kubelet
