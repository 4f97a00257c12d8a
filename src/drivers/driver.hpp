#pragma once
// What kcube needs from a machine provider (QEMU, libvirt, podman, docker, the host itself).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kcube::drivers {

enum class MachineState { kNonexistent, kStopped, kStarting, kRunning, kStopping, kError };

struct Endpoint {
    std::string host;  // where the API server is reachable from the host, e.g. 127.0.0.1
    int port = 0;
};

struct SshTarget {
    std::string host;
    int port = 22;
    std::string user;
    std::string key_file;
};

// How the host talks to the node's API server as its administrator (readiness checks, the
// user's kubeconfig): the endpoint and the TLS files, as host paths.
struct AdminAccess {
    Endpoint endpoint;
    std::filesystem::path ca_cert;
    std::filesystem::path client_cert;
    std::filesystem::path client_key;
    std::string node_name;  // the Node object the node's kubelet registers
};

// An image in the node's container runtime, as the CRI reports it.
struct ImageInfo {
    std::string id;  // sha256:... of the image config
    std::vector<std::string> repo_tags;
    std::vector<std::string> repo_digests;
    std::uint64_t size = 0;
};

class Driver {
  public:
    virtual ~Driver() = default;
    // Makes the machine exist (state kNonexistent -> kStopped); a no-op when it does.
    virtual void create() = 0;
    // Boots the machine and starts `kcube node run` in it; a no-op when it runs.
    virtual void start() = 0;
    // Stops the node (its pods first) and the machine, keeping all state.
    virtual void stop() = 0;
    // Stops and removes everything the machine and the node made. Idempotent.
    virtual void remove() = 0;
    virtual MachineState state() const = 0;
    virtual Endpoint api_endpoint() const = 0;
    // Where to ssh to; host empty for drivers without a guest (none).
    virtual SshTarget ssh_target() const = 0;
    // Throws Error when the machine does not exist (or has no credentials yet).
    virtual AdminAccess admin_access() const = 0;
    // The node's own address (its Node's InternalIP): `kcube ip`. Throws Error when the
    // machine does not exist.
    virtual std::string node_ip() const = 0;
    // Where the host reaches the node's NodePort `node_port` (the none driver: the node IP
    // itself; VM drivers: a port forwarded on 127.0.0.1).
    virtual Endpoint node_port_endpoint(int node_port) const = 0;
    // The node process's own log (stdout and stderr), as a host path.
    virtual std::filesystem::path node_log() const = 0;

    // Images in the node's runtime. Each throws Error(kCluster, CLUSTER_NOT_RUNNING) when the
    // node's runtime is not running.
    // Imports an image archive (docker-archive or OCI tarball) or an OCI layout directory;
    // returns the names of the images it held.
    virtual std::vector<std::string> load_image(const std::filesystem::path& source) = 0;
    virtual std::vector<ImageInfo> list_images() = 0;
    // Throws Error(kNotFound, IMAGE_NOT_FOUND) when the runtime has no such image.
    virtual void remove_image(const std::string& reference) = 0;
};

}  // namespace kcube::drivers
