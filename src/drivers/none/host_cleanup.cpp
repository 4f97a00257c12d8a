#include "drivers/none/host_cleanup.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "common/error.hpp"

namespace kcube::drivers::none {
namespace stdfs = std::filesystem;

namespace {

std::string read_text(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() &&
            std::isdigit(static_cast<unsigned char>(field[i + 1])) &&
            std::isdigit(static_cast<unsigned char>(field[i + 2])) &&
            std::isdigit(static_cast<unsigned char>(field[i + 3]))) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

size_t depth(std::string_view path) {
    return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

// ---- mounts ---------------------------------------------------------------------------------

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> out;
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::vector<std::string> parts;
        std::string part;
        while (fields >> part)
            parts.push_back(part);
        // id parent major:minor root mount-point options [optional...] - fstype source super
        if (parts.size() < 7) continue;
        MountEntry entry;
        try {
            entry.id = std::stoi(parts[0]);
            entry.parent = std::stoi(parts[1]);
        } catch (const std::exception&) {
            continue;
        }
        entry.mount_point = unescape_octal(parts[4]);
        auto dash = std::find(parts.begin() + 6, parts.end(), "-");
        if (dash != parts.end() && dash + 1 != parts.end()) {
            entry.fstype = *(dash + 1);
            if (dash + 2 != parts.end()) entry.source = unescape_octal(*(dash + 2));
        }
        out.push_back(std::move(entry));
    }
    return out;
}

bool path_within(std::string_view path, std::string_view dir) {
    while (dir.size() > 1 && dir.back() == '/')
        dir.remove_suffix(1);
    if (path == dir) return true;
    if (dir == "/") return !path.empty() && path.front() == '/';
    return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

std::vector<std::string> mounts_to_unmount(const std::vector<MountEntry>& mounts,
                                           const std::string& dir) {
    // Later entries were mounted later; reversing first and sorting stably by depth keeps
    // "last mounted first" among mounts on the same point.
    std::vector<std::string> points;
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
        if (path_within(it->mount_point, dir)) points.push_back(it->mount_point);
    }
    std::stable_sort(points.begin(), points.end(), [](const std::string& a, const std::string& b) {
        return depth(a) > depth(b);
    });
    return points;
}

std::vector<std::string> unmount_all_under(const stdfs::path& dir) {
    std::error_code ec;
    const std::string root = stdfs::weakly_canonical(dir, ec).string();
    std::vector<std::string> left;
    // Unmounting one point can reveal another below it; a few passes reach the bottom.
    for (int pass = 0; pass < 8; ++pass) {
        const auto points =
            mounts_to_unmount(parse_mountinfo(read_text("/proc/self/mountinfo")), root);
        if (points.empty()) return {};
        left = points;
        for (const auto& point : points) {
            if (::umount2(point.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
            if (errno == EBUSY) {
                // Something still has it open (a process we could not stop): detach it now;
                // the kernel frees it when the last user goes.
                if (::umount2(point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
            }
            if (errno != EINVAL && errno != ENOENT) {
                spdlog::warn("cannot unmount {}: {}", point, errno_text(errno));
            }
        }
    }
    return left;
}

// ---- processes ------------------------------------------------------------------------------

namespace {

std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The value of `flag` in argv, given as "flag value" or "flag=value".
std::vector<std::string> flag_values(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& flags) {
    std::vector<std::string> out;
    for (size_t i = 1; i < argv.size(); ++i) {
        for (const auto& flag : flags) {
            if (argv[i] == flag && i + 1 < argv.size()) out.push_back(argv[i + 1]);
            if (argv[i].rfind(flag + "=", 0) == 0) out.push_back(argv[i].substr(flag.size() + 1));
        }
    }
    return out;
}

bool any_within(const std::vector<std::string>& values, const std::string& dir) {
    return std::any_of(values.begin(), values.end(), [&](const std::string& v) {
        return path_within(stdfs::path(v).lexically_normal().string(), dir);
    });
}

}  // namespace

bool is_node_process(const ProcessInfo& process, const std::string& data_dir) {
    if (process.argv.empty()) return false;
    const std::string program = base_name(process.argv[0]);
    const auto& argv = process.argv;
    if (program.rfind("containerd-shim", 0) == 0) {
        return any_within(flag_values(argv, {"-address", "--address"}), data_dir);
    }
    if (program == "containerd") {
        return any_within(
            flag_values(argv, {"--config", "-c", "--root", "--state", "--address", "-a"}),
            data_dir);
    }
    bool node_run = false;
    for (size_t i = 1; i + 1 < argv.size(); ++i)
        node_run = node_run || (argv[i] == "node" && argv[i + 1] == "run");
    if (node_run) {
        const auto dirs = flag_values(argv, {"--data-dir"});
        // The same directory, however it is spelled ("D", "D/", "D/.").
        const auto same = [](const std::string& a, const std::string& b) {
            const auto na = stdfs::path(a).lexically_normal().string();
            const auto nb = stdfs::path(b).lexically_normal().string();
            return path_within(na, nb) && path_within(nb, na);
        };
        return std::any_of(dirs.begin(), dirs.end(),
                           [&](const std::string& d) { return same(d, data_dir); });
    }
    return false;
}

std::vector<RuncRoot> find_runc_roots(const stdfs::path& data_dir) {
    // The node's containerd keeps runc's state under <data>/containerd/state/runc/<namespace>
    // (its runtime option Root): every directory there holding <id>/state.json is a --root.
    std::vector<RuncRoot> out;
    std::error_code ec;
    const stdfs::path base = data_dir / "containerd" / "state" / "runc";
    std::vector<stdfs::path> candidates = {base};
    for (const auto& entry : stdfs::directory_iterator(base, ec)) {
        if (entry.is_directory(ec) && !entry.is_symlink(ec)) candidates.push_back(entry.path());
    }
    for (const auto& root : candidates) {
        RuncRoot found{root, {}};
        for (const auto& entry : stdfs::directory_iterator(root, ec)) {
            if (stdfs::exists(entry.path() / "state.json", ec)) {
                found.containers.push_back(entry.path().filename().string());
            }
        }
        if (!found.containers.empty()) out.push_back(std::move(found));
    }
    return out;
}

int kill_leftovers(const stdfs::path& data_dir) {
    int count = 0;
    for (const auto& root : find_runc_roots(data_dir)) {
        for (const auto& id : root.containers) {
            try {
                auto result =
                    run_tool({"runc", "--root", root.root.string(), "delete", "--force", id}, {},
                             std::chrono::seconds(30));
                if (result.ok()) {
                    ++count;
                } else {
                    spdlog::warn("runc delete --force {}: {}", id, result.err);
                }
            } catch (const Error& e) {
                spdlog::warn("cannot remove container {}: {}", id, e.what());
            }
        }
    }
    std::error_code ec;
    const std::string dir = stdfs::weakly_canonical(data_dir, ec).string();
    std::vector<ProcessHandle> victims;
    for (const auto& process : list_processes()) {
        if (process.pid == ::getpid() || process.state == 'Z') continue;
        if (!is_node_process(process, dir) && !is_node_process(process, data_dir.string())) {
            continue;
        }
        if (auto handle = ProcessHandle::open(process.pid, process.start_time)) {
            spdlog::info("killing leftover process {} ({})", process.pid, process.argv[0]);
            handle->signal(SIGKILL);
            victims.push_back(std::move(*handle));
            ++count;
        }
    }
    for (const auto& victim : victims)
        victim.wait_exit(std::chrono::seconds(5));
    return count;
}

// ---- iptables -------------------------------------------------------------------------------

namespace {

// iptables-save's words: space separated, "double quoted" with \" inside.
std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    bool quoted = false, any = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '\\' && i + 1 < text.size()) {
                word += text[++i];
            } else if (c == '"') {
                quoted = false;
            } else {
                word += c;
            }
        } else if (c == '"') {
            quoted = any = true;
        } else if (c == ' ' || c == '\t') {
            if (any || !word.empty()) words.push_back(word);
            word.clear();
            any = false;
        } else {
            word += c;
            any = true;
        }
    }
    if (any || !word.empty()) words.push_back(word);
    return words;
}

struct Rule {
    std::string chain;
    std::string spec;    // the rule after "-A CHAIN ", as iptables-save wrote it
    std::string target;  // -j/-g target
    bool ours = false;
    bool remove = false;
};

struct Table {
    std::string name;
    std::vector<std::string> chains;  // user-defined chains, in order
    std::vector<Rule> rules;
};

std::vector<Table> parse_save(std::string_view text) {
    std::vector<Table> tables;
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '*') {
            tables.push_back({line.substr(1), {}, {}});
            continue;
        }
        if (tables.empty()) continue;
        Table& table = tables.back();
        if (line[0] == ':') {
            const size_t space = line.find(' ');
            const std::string chain =
                line.substr(1, space == std::string::npos ? line.npos : space - 1);
            const std::string policy =
                space == std::string::npos
                    ? ""
                    : line.substr(space + 1, line.find(' ', space + 1) - space - 1);
            if (policy == "-") table.chains.push_back(chain);  // built-ins have a policy
            continue;
        }
        if (line.rfind("-A ", 0) == 0) {
            const auto words = split_words(line);
            if (words.size() < 2) continue;
            Rule rule;
            rule.chain = words[1];
            const size_t spec_start = line.find(' ', 3);
            rule.spec = spec_start == std::string::npos ? "" : line.substr(spec_start + 1);
            for (size_t i = 2; i + 1 < words.size(); ++i) {
                if (words[i] == "-j" || words[i] == "-g" || words[i] == "--jump" ||
                    words[i] == "--goto") {
                    rule.target = words[i + 1];
                }
            }
            table.rules.push_back(std::move(rule));
        }
    }
    return tables;
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// The bridge plugin comments `name: "NET" id: "ID"`, portmap `dnat name: "NET" id: ...`;
// iptables-save writes the quotes escaped.
std::string network_mark(std::string_view network) {
    return "name: \\\"" + std::string(network) + "\\\"";
}

// The container id in a rule of `network`, or nothing for a rule of another network.
std::optional<std::string> rule_id(const std::string& spec, std::string_view network) {
    const std::string mark = network_mark(network) + " id: \\\"";
    const size_t at = spec.find(mark);
    if (at == std::string::npos) return std::nullopt;
    const size_t start = at + mark.size();
    const size_t end = spec.find('\\', start);
    return spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string plan_table(Table& table, std::string_view network,
                       const std::set<std::string>* only_ids) {
    std::set<std::string> user_chains(table.chains.begin(), table.chains.end());
    std::set<std::string> reached_by_ours;
    for (auto& rule : table.rules) {
        const auto id = rule_id(rule.spec, network);
        rule.ours = id && (only_ids == nullptr || only_ids->contains(*id));
        if (rule.ours) {
            rule.remove = true;
            if (!rule.target.empty()) reached_by_ours.insert(rule.target);
        }
    }
    std::set<std::string> drop;
    auto referenced_elsewhere = [&](const std::string& chain) {
        return std::any_of(table.rules.begin(), table.rules.end(), [&](const Rule& r) {
            return r.target == chain && !r.remove && !drop.contains(r.chain);
        });
    };
    // Per-pod chains: reached by our rules and by nothing else that stays.
    bool changed = true;
    while (changed) {
        changed = false;
        for (const auto& chain : table.chains) {
            if (drop.contains(chain) || !reached_by_ours.contains(chain)) continue;
            if (!starts_with(chain, "CNI-") || starts_with(chain, "CNI-HOSTPORT-")) continue;
            if (referenced_elsewhere(chain)) continue;
            drop.insert(chain);
            for (auto& rule : table.rules) {
                if (rule.chain == chain && !rule.target.empty()) {
                    reached_by_ours.insert(rule.target);
                }
            }
            changed = true;
        }
    }
    // portmap's shared chains, when no other network has a hostport entry left in them.
    const bool hostport_unused =
        std::none_of(table.rules.begin(), table.rules.end(), [&](const Rule& r) {
            return (r.chain == "CNI-HOSTPORT-DNAT" || r.chain == "CNI-HOSTPORT-SNAT") && !r.remove;
        });
    const bool have_hostport = user_chains.contains("CNI-HOSTPORT-DNAT");
    if (hostport_unused && have_hostport) {
        for (auto& rule : table.rules) {
            if (starts_with(rule.target, "CNI-HOSTPORT-") && !starts_with(rule.chain, "CNI-"))
                rule.remove = true;
        }
        changed = true;
        while (changed) {
            changed = false;
            for (const auto& chain : table.chains) {
                if (drop.contains(chain) || !starts_with(chain, "CNI-HOSTPORT-")) continue;
                if (referenced_elsewhere(chain)) continue;
                drop.insert(chain);
                changed = true;
            }
        }
    }
    std::string script;
    for (const auto& rule : table.rules) {
        if (rule.remove && !drop.contains(rule.chain)) {
            script += "-D " + rule.chain + " " + rule.spec + "\n";
        }
    }
    for (const auto& chain : table.chains) {
        if (drop.contains(chain)) script += "-F " + chain + "\n";
    }
    for (const auto& chain : table.chains) {
        if (drop.contains(chain)) script += "-X " + chain + "\n";
    }
    if (script.empty()) return {};
    return "*" + table.name + "\n" + script + "COMMIT\n";
}

}  // namespace

std::string plan_iptables_cleanup(std::string_view iptables_save, std::string_view network,
                                  const std::set<std::string>* only_ids) {
    std::string script;
    for (auto& table : parse_save(iptables_save))
        script += plan_table(table, network, only_ids);
    return script;
}

std::set<std::string> cni_rule_ids(std::string_view iptables_save, std::string_view network) {
    std::set<std::string> ids;
    for (const auto& table : parse_save(iptables_save)) {
        for (const auto& rule : table.rules) {
            if (auto id = rule_id(rule.spec, network)) ids.insert(*id);
        }
    }
    return ids;
}

std::set<std::string> host_cni_rule_ids(const std::string& network) {
    std::set<std::string> ids;
    for (const std::string tool : {"iptables-save", "ip6tables-save"}) {
        if (!find_in_path(tool)) continue;
        try {
            const auto saved = run_tool({tool}, {}, std::chrono::seconds(30));
            if (saved.ok()) ids.merge(cni_rule_ids(saved.out, network));
        } catch (const Error& e) {
            spdlog::warn("{}", e.what());
        }
    }
    return ids;
}

std::set<std::string> sandbox_ids(const stdfs::path& data_dir) {
    // containerd's CRI plugin keeps a directory per sandbox id in its root and state dirs.
    std::set<std::string> ids;
    std::error_code ec;
    for (const auto* where : {"root", "state"}) {
        const auto dir =
            data_dir / "containerd" / where / "io.containerd.grpc.v1.cri" / "sandboxes";
        for (const auto& entry : stdfs::directory_iterator(dir, ec))
            ids.insert(entry.path().filename().string());
    }
    return ids;
}

bool other_node_running(const stdfs::path& data_dir) {
    std::error_code ec;
    const std::string ours = stdfs::weakly_canonical(data_dir, ec).string();
    for (const auto& process : list_processes()) {
        const auto& argv = process.argv;
        bool node_run = false;
        for (size_t i = 1; i + 1 < argv.size(); ++i)
            node_run = node_run || (argv[i] == "node" && argv[i + 1] == "run");
        if (!node_run || process.state == 'Z') continue;
        if (!is_node_process(process, ours) && !is_node_process(process, data_dir.string())) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> remove_cni_iptables_rules(const std::string& network,
                                                   const std::set<std::string>* only_ids) {
    std::vector<std::string> problems;
    for (const std::string family : {"iptables", "ip6tables"}) {
        if (!find_in_path(family + "-save") || !find_in_path(family + "-restore")) continue;
        try {
            const auto saved = run_tool({family + "-save"}, {}, std::chrono::seconds(30));
            if (!saved.ok()) {
                problems.push_back(family + "-save failed: " + saved.err);
                continue;
            }
            const std::string script = plan_iptables_cleanup(saved.out, network, only_ids);
            if (script.empty()) continue;
            spdlog::info("removing {} rules of CNI network {}:\n{}", family, network, script);
            const auto restored = run_tool({family + "-restore", "--noflush", "--wait"}, script,
                                           std::chrono::seconds(30));
            if (!restored.ok()) {
                problems.push_back(family + "-restore failed: " + restored.err);
            }
        } catch (const Error& e) {
            problems.push_back(e.what());
        }
    }
    return problems;
}

// ---- links ----------------------------------------------------------------------------------

namespace {

// RTM_DELLINK for one interface index; true when the kernel acknowledged it.
bool delete_link_index(unsigned index) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd.get() < 0) return false;
    struct {
        nlmsghdr header;
        ifinfomsg info;
    } request{};
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    request.header.nlmsg_type = RTM_DELLINK;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.header.nlmsg_seq = 1;
    request.info.ifi_family = AF_UNSPEC;
    request.info.ifi_index = static_cast<int>(index);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), &request, request.header.nlmsg_len, 0,
                 reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
        return false;
    }
    alignas(nlmsghdr) char buffer[4096];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return false;
    const auto* reply = reinterpret_cast<const nlmsghdr*>(buffer);
    if (reply->nlmsg_type != NLMSG_ERROR) return false;
    const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply));
    if (error->error != 0) {
        spdlog::warn("cannot delete interface {}: {}", index, errno_text(-error->error));
    }
    return error->error == 0;
}

bool delete_link(const std::string& name) {
    const unsigned index = ::if_nametoindex(name.c_str());
    return index != 0 && delete_link_index(index);
}

}  // namespace

bool delete_bridge(const std::string& name) {
    if (::if_nametoindex(name.c_str()) == 0) return false;
    std::error_code ec;
    // The host ends of the pods' veth pairs; deleting one end deletes its peer too.
    for (const auto& port : stdfs::directory_iterator("/sys/class/net/" + name + "/brif", ec)) {
        delete_link(port.path().filename().string());
    }
    return delete_link(name);
}

int remove_cni_cache(const std::string& network, const std::set<std::string>& ids,
                     bool whole_network, const stdfs::path& cache_dir) {
    // libcni names each cached result <network>-<container id (64 hex)>-<ifname>.
    static const std::regex kResult("^(.+)-([0-9a-f]{64})-[^-/]+$");
    int removed = 0;
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(cache_dir, ec)) {
        const std::string name = entry.path().filename().string();
        std::smatch match;
        if (!std::regex_match(name, match, kResult)) continue;
        const bool ours = ids.contains(match[2].str()) || (whole_network && match[1] == network);
        if (ours && stdfs::remove(entry.path(), ec)) ++removed;
    }
    return removed;
}

// ---- files ----------------------------------------------------------------------------------

namespace {

void remove_within_device(const stdfs::path& path, dev_t device, std::vector<std::string>& left) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    if (st.st_dev != device) {
        // A mount point that is still mounted: never descend into another file system.
        left.push_back(path.string());
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        std::error_code ec;
        std::vector<stdfs::path> children;
        for (const auto& entry : stdfs::directory_iterator(path, ec))
            children.push_back(entry.path());
        for (const auto& child : children)
            remove_within_device(child, device, left);
        if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
            if (errno != ENOTEMPTY && errno != EEXIST) {
                left.push_back(path.string() + " (" + errno_text(errno) + ")");
            }
        }
        return;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        left.push_back(path.string() + " (" + errno_text(errno) + ")");
    }
}

}  // namespace

std::vector<std::string> remove_tree(const stdfs::path& dir) {
    std::vector<std::string> left;
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) return left;
    remove_within_device(dir, st.st_dev, left);
    return left;
}

}  // namespace kcube::drivers::none
