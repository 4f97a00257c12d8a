#pragma once
// What kcube needs from a machine provider (QEMU, libvirt, podman, docker, the host itself).
#include <string>

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

class Driver {
  public:
    virtual ~Driver() = default;
    virtual void create() = 0;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual void remove() = 0;
    virtual MachineState state() const = 0;
    virtual Endpoint api_endpoint() const = 0;
    virtual SshTarget ssh_target() const = 0;
};

}  // namespace kcube::drivers
