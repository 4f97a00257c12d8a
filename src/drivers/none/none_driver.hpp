#pragma once
// The none driver: the machine is the host itself. `kcube node run` runs as a detached root
// process with its data under $KCUBE_HOME/profiles/<profile>/node and its own containerd there;
// the profile's machine.json records its pid, port and address so that later commands (status,
// stop, delete, another start) find it again.
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "common/home.hpp"
#include "drivers/driver.hpp"
#include "drivers/registry.hpp"

namespace kcube::drivers::none {

// What the host needs for the none driver, and whether it has it.
Health check_health();

// The registry's entry for the none driver. It ranks below every VM and container driver: it
// runs the cluster as root straight on the host, so `kcube start` picks it on its own only when
// it is the one driver that works here.
DriverEntry driver_entry();

// The profile's machine.json.
struct MachineRecord {
    int port = 0;
    std::string node_ip;
    std::string node_name;
    int pid = 0;  // 0: not running
    unsigned long long pid_start_time = 0;
};
std::string to_json(const MachineRecord& record);
// Throws Error(kState, MACHINE_CORRUPT) naming `origin`.
MachineRecord machine_record_from_json(const std::string& text, const std::string& origin);

class NoneDriver : public Driver {
  public:
    NoneDriver(KcubeHome home, std::string profile);

    void create() override;
    void start() override;
    void stop() override;
    void remove() override;
    MachineState state() const override;
    Endpoint api_endpoint() const override;
    SshTarget ssh_target() const override { return {}; }
    AdminAccess admin_access() const override;
    std::filesystem::path node_log() const override;
    std::string node_ip() const override;
    Endpoint node_port_endpoint(int node_port) const override;

    std::vector<std::string> load_image(const std::filesystem::path& source) override;
    std::vector<ImageInfo> list_images() override;
    void remove_image(const std::string& reference) override;

    // $KCUBE_HOME/profiles/<profile>/node: everything the node keeps.
    std::filesystem::path data_dir() const;
    std::filesystem::path machine_file() const;
    // The node's containerd socket (CRI and ctr).
    std::filesystem::path containerd_socket() const;

  private:
    std::optional<MachineRecord> load_record() const;
    void save_record(const MachineRecord& record) const;
    // The profile (other than this one) whose none-driver node runs on this host, if any.
    std::optional<std::string> other_running_profile() const;
    // Throws CLUSTER_NOT_RUNNING unless the node and its containerd are up.
    void require_runtime() const;
    // Removes the pod network entries of the pods `ours` (and the whole network when nothing
    // else on the host uses it).
    void cleanup_network(const std::set<std::string>& ours) const;
    // Deletes the service proxy's nftables table; problems are warnings.
    void remove_service_rules() const;

    KcubeHome home_;
    std::string profile_;
};

}  // namespace kcube::drivers::none
