#pragma once
// Removing what a node on the host left behind (`kcube delete` with the none driver): its
// processes, mounts and network namespaces under the data dir, the pod network's bridge and
// veths, the iptables rules and chains the CNI plugins added for it, and finally the files.
// Every step is idempotent and touches only what belongs to this node's data dir or network.
// The parsers are separate functions so that the decisions are unit-tested on real texts.
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/host.hpp"

namespace kcube::drivers::none {

// ---- mounts ---------------------------------------------------------------------------------

struct MountEntry {
    int id = 0;
    int parent = 0;
    std::string mount_point;  // unescaped (\040 is a space)
    std::string fstype;
    std::string source;
};

// /proc/self/mountinfo, in its order (a mount appears after the one it sits on).
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// Whether `path` is `dir` or inside it (lexically; both absolute and normalised).
bool path_within(std::string_view path, std::string_view dir);

// The mount points at or under `dir`, in the order to unmount them: deepest first, and of
// mounts stacked on one point the last mounted first.
std::vector<std::string> mounts_to_unmount(const std::vector<MountEntry>& mounts,
                                           const std::string& dir);

// Unmounts everything at or under `dir` (lazily when busy). Returns the mount points that are
// still there afterwards.
std::vector<std::string> unmount_all_under(const std::filesystem::path& dir);

// ---- processes ------------------------------------------------------------------------------

// Whether `process` is one of the node's own programs for `data_dir`: `kcube node run
// --data-dir D`, containerd with its config under D, or a containerd shim whose -address
// (containerd's socket) is under D. Containers' processes are not: runc removes those.
bool is_node_process(const ProcessInfo& process, const std::string& data_dir);

// runc state directories under `data_dir` (a --root for `runc delete --force`) with the ids of
// the containers in each.
struct RuncRoot {
    std::filesystem::path root;
    std::vector<std::string> containers;
};
std::vector<RuncRoot> find_runc_roots(const std::filesystem::path& data_dir);

// Force-removes every container runc still knows under `data_dir` (killing its processes),
// then SIGKILLs the node's own programs that are left. Returns how many it removed or killed.
int kill_leftovers(const std::filesystem::path& data_dir);

// ---- network --------------------------------------------------------------------------------

// The `iptables-restore --noflush` script that removes, from an `iptables-save` text, the rules
// the CNI bridge and portmap plugins added for `network` (those whose comment names it: the
// ipMasq jump and per-pod chains, hostport DNAT entries) and the per-pod chains only those
// rules reach (CNI-<hash>, CNI-DN-<hash>). portmap's shared CNI-HOSTPORT-* chains and their
// jumps go too when no other network has an entry in them (portmap recreates them on demand).
// Jump rules are deleted before the chains they reach. Empty when there is nothing to remove.
// With `only_ids`, only the rules of those containers (the comment's id) count as ours.
std::string plan_iptables_cleanup(std::string_view iptables_save, std::string_view network,
                                  const std::set<std::string>* only_ids = nullptr);

// The container ids that have rules of `network` in an iptables-save text.
std::set<std::string> cni_rule_ids(std::string_view iptables_save, std::string_view network);

// Runs the plan above with iptables-save / iptables-restore and ip6tables-save /
// ip6tables-restore where installed. Returns problems worth a warning (empty when all went).
std::vector<std::string> remove_cni_iptables_rules(const std::string& network,
                                                   const std::set<std::string>* only_ids = nullptr);
// cni_rule_ids over iptables-save and ip6tables-save.
std::set<std::string> host_cni_rule_ids(const std::string& network);

// The pod sandboxes (their ids are the CNI container ids) the node's containerd under
// `data_dir` knows.
std::set<std::string> sandbox_ids(const std::filesystem::path& data_dir);

// Whether another kcube node (a `node run` with another data dir) runs on this host.
bool other_node_running(const std::filesystem::path& data_dir);

// Deletes the bridge `name` and the veths attached to it (netlink). False if it was absent.
bool delete_bridge(const std::string& name);

// Removes libcni's cached results (/var/lib/cni/results/<network>-<id>-<ifname>) of the
// containers `ids` in any network (containerd's cni-loopback too) and, with `whole_network`,
// every result of `network`.
int remove_cni_cache(const std::string& network, const std::set<std::string>& ids,
                     bool whole_network,
                     const std::filesystem::path& cache_dir = "/var/lib/cni/results");

// ---- files ----------------------------------------------------------------------------------

// Removes `dir` and everything in it without following symlinks or crossing into another
// file system (a mount that survived unmounting is left alone). Returns the paths it had to
// leave; empty when `dir` is gone.
std::vector<std::string> remove_tree(const std::filesystem::path& dir);

}  // namespace kcube::drivers::none
