// Sysctls through /proc/sys (per network namespace, resolved for the thread that opens them)
// and `modprobe br_netfilter` as a child process.
#include "cluster/proxy/host_network.hpp"

#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.hpp"

extern char** environ;

namespace kcube::proxy {
namespace {

constexpr const char* kBridgeDir = "/proc/sys/net/bridge";
constexpr const char* kBridgeCallIptables = "/proc/sys/net/bridge/bridge-nf-call-iptables";
constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

bool write_sysctl(const char* path) {
    {
        std::ifstream in(path);
        std::string value;
        if (in >> value && value == "1") return true;
    }
    std::ofstream out(path);
    out << "1\n";
    out.flush();
    return static_cast<bool>(out);
}

// Runs `modprobe br_netfilter` and waits; any failure only means the sysctls stay missing.
void load_br_netfilter() {
    char arg0[] = "modprobe";
    char arg1[] = "br_netfilter";
    char* argv[] = {arg0, arg1, nullptr};
    pid_t pid = -1;
    if (::posix_spawnp(&pid, "modprobe", nullptr, nullptr, argv, environ) != 0) return;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

void prepare_host_network() {
    if (!write_sysctl(kIpForward)) {
        throw Error(ExitCode::kHost, "HOST_IP_FORWARD",
                    std::string("cannot enable IP forwarding (") + kIpForward + ")",
                    "run the node as root, or enable it: sysctl -w net.ipv4.ip_forward=1");
    }
    std::error_code ec;
    if (!std::filesystem::exists(kBridgeDir, ec)) load_br_netfilter();
    if (!std::filesystem::exists(kBridgeDir, ec)) {
        spdlog::warn(
            "service proxy: br_netfilter is not loaded ({} is missing, modprobe br_netfilter "
            "failed): a pod reaching a Service whose endpoint is on the same bridge needs it",
            kBridgeDir);
        return;
    }
    if (!write_sysctl(kBridgeCallIptables)) {
        spdlog::warn(
            "service proxy: cannot set {} to 1: pod-to-Service traffic between pods "
            "on the same bridge will not be un-NATed",
            kBridgeCallIptables);
    }
}

}  // namespace kcube::proxy
