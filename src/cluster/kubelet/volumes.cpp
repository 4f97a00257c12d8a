// The pod's volumes on the node, as upstream's volume plugins lay them out under the kubelet's
// root: emptyDir (a directory, or a tmpfs for medium Memory), configMap/secret/projected/
// downwardAPI (files written by an atomic writer: a timestamped directory, a `..data` symlink to
// it and per-key symlinks through `..data`, so a container never sees half an update), hostPath
// with its type checks, and persistentVolumeClaim through the bound hostPath/local
// PersistentVolume. Messages are upstream's, since they end up in FailedMount events.
#include "cluster/kubelet/volumes.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/scheduler/predicates.hpp"
#include "common/base64.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
namespace stdfs = std::filesystem;
using controllers::array_at;
using controllers::bool_at;
using controllers::object_at;
using controllers::string_at;
using strings::go_quote;
using Clock = std::chrono::system_clock;

namespace {

std::optional<std::int64_t> int_opt(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (!value) return std::nullopt;
    if (value->is_int64()) return value->as_int64();
    if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
    return std::nullopt;
}

// A quantity field as text (the API serves quantities as strings; a bare number is accepted).
std::string quantity_text(const json::value* value) {
    if (!value) return {};
    if (value->is_string()) return std::string(value->as_string());
    if (value->is_int64()) return std::to_string(value->as_int64());
    if (value->is_uint64()) return std::to_string(value->as_uint64());
    return {};
}

std::string errno_text(int error) {
    return std::system_category().message(error);
}

// Go's fmt of a []string ("[a b]"), as the volume manager's messages print volume lists.
std::string go_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? " " : "") + items[i];
    return out + "]";
}

// Several errors as upstream's utilerrors.NewAggregate prints them: one alone, else a
// bracketed, comma-separated list without repeats.
std::string aggregate(const std::vector<std::string>& errors) {
    std::vector<std::string> unique;
    for (const auto& e : errors)
        if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(e);
    if (unique.size() == 1) return unique.front();
    std::string out = "[";
    for (size_t i = 0; i < unique.size(); ++i)
        out += (i ? ", " : "") + unique[i];
    return out + "]";
}

// ---- Mounts ---------------------------------------------------------------------------------

// The mount points of this process's mount namespace (/proc/self/mountinfo, field 5, with the
// kernel's octal escapes of spaces and the like undone).
std::vector<stdfs::path> mount_points() {
    std::vector<stdfs::path> points;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root, point;
        if (!(fields >> id >> parent >> device >> root >> point)) continue;
        std::string unescaped;
        for (size_t i = 0; i < point.size(); ++i) {
            const std::string octal = point.substr(i + 1, 3);
            if (point[i] == '\\' && octal.size() == 3 &&
                octal.find_first_not_of("01234567") == std::string::npos) {
                unescaped += static_cast<char>(std::stoi(octal, nullptr, 8));
                i += 3;
            } else {
                unescaped += point[i];
            }
        }
        points.emplace_back(unescaped);
    }
    return points;
}

// `path` as the mount table spells it: absolute, symlinks resolved.
stdfs::path mount_table_path(const stdfs::path& path) {
    std::error_code ignored;
    return stdfs::weakly_canonical(stdfs::absolute(path, ignored), ignored);
}

bool is_mount_point(const stdfs::path& path) {
    const stdfs::path wanted = mount_table_path(path);
    for (const auto& point : mount_points())
        if (point == wanted) return true;
    return false;
}

// Every mount at or below `dir`, deepest first (so nested mounts come off before their parents).
std::vector<stdfs::path> mounts_under(const stdfs::path& dir) {
    const std::string prefix = mount_table_path(dir).string();
    std::vector<stdfs::path> found;
    for (const auto& point : mount_points()) {
        const std::string text = point.string();
        if (text == prefix || text.rfind(prefix + "/", 0) == 0) found.push_back(point);
    }
    std::sort(found.begin(), found.end(), [](const stdfs::path& a, const stdfs::path& b) {
        return a.string().size() > b.string().size();
    });
    return found;
}

// Unmounts `path` (lazily if it is busy); false if it stays mounted.
bool unmount(const stdfs::path& path) {
    if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
    if (errno == EBUSY && ::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return true;
    return errno == EINVAL || errno == ENOENT;  // not (or no longer) a mount point
}

// A tmpfs at `dir` unless one is there already (setup() runs on every sync).
void ensure_tmpfs(const stdfs::path& dir, std::optional<std::int64_t> size) {
    if (is_mount_point(dir)) return;
    std::string options;
    if (size && *size > 0) options = "size=" + std::to_string(*size);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                options.empty() ? nullptr : options.c_str()) != 0) {
        throw std::runtime_error("mount failed: mounting tmpfs at " + dir.string() + ": " +
                                 errno_text(errno));
    }
}

// ---- The atomic writer ----------------------------------------------------------------------

struct FileProjection {
    std::string data;
    mode_t mode = 0644;
};
using Payload = std::map<std::string, FileProjection>;

constexpr const char* kDataDir = "..data";
constexpr const char* kNewDataDir = "..data_tmp";
constexpr mode_t kDefaultMode = 0644;

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t slash = path.find('/', start);
        const size_t end = slash == std::string_view::npos ? path.size() : slash;
        parts.emplace_back(path.substr(start, end - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return parts;
}

// Upstream's validatePath: payload paths are relative, without "..", and short enough.
void validate_payload_path(const std::string& path) {
    if (path.empty()) throw std::runtime_error("invalid path: must not be empty: \"\"");
    if (path.front() == '/')
        throw std::runtime_error("invalid path: must be relative path: " + path);
    if (path.size() > 4096) {
        throw std::runtime_error("invalid path: must be less than or equal to 4096 characters");
    }
    const auto items = split_path(path);
    for (const auto& item : items) {
        if (item == "..") throw std::runtime_error("invalid path: must not contain '..': " + path);
        if (item.size() > 255) {
            throw std::runtime_error(
                "invalid path: filenames must be less than or equal to 255 characters");
        }
    }
    if (items.front().rfind("..", 0) == 0 && items.front().size() > 2) {
        throw std::runtime_error("invalid path: must not start with '..': " + path);
    }
}

// filepath.Clean of a relative path: no empty or "." elements.
std::string clean_path(std::string_view path) {
    std::string out;
    for (const auto& item : split_path(path)) {
        if (item.empty() || item == ".") continue;
        if (!out.empty()) out += '/';
        out += item;
    }
    return out.empty() ? "." : out;
}

// The mode a file ends up with: with an fsGroup, group-readable (upstream's SetVolumeOwnership
// adds 0440 on read-only volumes).
mode_t effective_mode(mode_t mode, std::optional<gid_t> fs_group) {
    return fs_group ? (mode | 0440) : mode;
}

bool file_matches(const stdfs::path& path, const FileProjection& file,
                  std::optional<gid_t> fs_group) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if ((st.st_mode & 07777) != effective_mode(file.mode, fs_group)) return false;
    if (static_cast<std::uint64_t>(st.st_size) != file.data.size()) return false;
    std::ifstream in(path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return content == file.data;
}

void write_file(const stdfs::path& path, const FileProjection& file,
                std::optional<gid_t> fs_group) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        throw std::runtime_error("open " + path.string() + ": " + errno_text(errno));
    }
    size_t written = 0;
    while (written < file.data.size()) {
        const ssize_t n = ::write(fd.get(), file.data.data() + written, file.data.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("write " + path.string() + ": " + errno_text(errno));
        }
        written += static_cast<size_t>(n);
    }
    // fchmod after creation: open's mode is filtered by the umask, the payload's is not.
    if (fs_group && ::fchown(fd.get(), static_cast<uid_t>(-1), *fs_group) != 0) {
        throw std::runtime_error("chown " + path.string() + ": " + errno_text(errno));
    }
    if (::fchmod(fd.get(), effective_mode(file.mode, fs_group)) != 0) {
        throw std::runtime_error("chmod " + path.string() + ": " + errno_text(errno));
    }
}

// "..2006_01_02_15_04_05.XXXXXX" under `dir`: upstream's timestamped directory name.
stdfs::path new_timestamp_dir(const stdfs::path& dir) {
    const std::time_t now = Clock::to_time_t(Clock::now());
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char stamp[40];
    std::strftime(stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &utc);
    std::string name = (dir / (std::string(stamp) + "XXXXXX")).string();
    if (::mkdtemp(name.data()) == nullptr) {
        throw std::runtime_error("unable to create new temp directory in " + dir.string() + ": " +
                                 errno_text(errno));
    }
    // 0755 so that group and other can walk the tree whatever the umask.
    if (::chmod(name.c_str(), 0755) != 0) {
        throw std::runtime_error("chmod " + name + ": " + errno_text(errno));
    }
    return name;
}

// Upstream's AtomicWriter.Write: the payload lands in a new timestamped directory, `..data` is
// switched to it with a rename (atomic), user-visible names are symlinks through `..data`, and
// nothing is rewritten when the contents on disk are the same already.
void write_atomically(const stdfs::path& dir, const Payload& raw, std::optional<gid_t> fs_group) {
    Payload payload;
    for (const auto& [path, file] : raw) {
        validate_payload_path(path);
        payload[clean_path(path)] = file;
    }
    const stdfs::path data_link = dir / kDataDir;
    std::error_code ec;
    const stdfs::path old_ts = stdfs::read_symlink(data_link, ec);
    const bool had_old = !ec && !old_ts.empty();
    std::set<std::string> to_remove;
    if (had_old) {
        const stdfs::path old_path = dir / old_ts;
        std::set<std::string> new_paths;
        for (const auto& [path, file] : payload) {
            (void)file;
            for (stdfs::path sub = path; !sub.empty(); sub = sub.parent_path())
                new_paths.insert(sub.string());
        }
        std::error_code walk_error;
        for (auto it = stdfs::recursive_directory_iterator(old_path, walk_error);
             !walk_error && it != stdfs::recursive_directory_iterator(); it.increment(walk_error)) {
            const std::string relative = it->path().lexically_relative(old_path).string();
            if (!new_paths.contains(relative)) to_remove.insert(relative);
        }
        bool changed = false;
        for (const auto& [path, file] : payload) {
            if (!file_matches(old_path / path, file, fs_group)) {
                changed = true;
                break;
            }
        }
        if (!changed && to_remove.empty()) return;
    }

    const stdfs::path ts_dir = new_timestamp_dir(dir);
    try {
        for (const auto& [path, file] : payload) {
            const stdfs::path full = ts_dir / path;
            for (stdfs::path parent = full.parent_path(); parent != ts_dir;
                 parent = parent.parent_path()) {
                if (::mkdir(parent.c_str(), 0755) == 0) {
                    ::chmod(parent.c_str(), 0755);
                    if (fs_group) (void)::chown(parent.c_str(), static_cast<uid_t>(-1), *fs_group);
                }
            }
            stdfs::create_directories(full.parent_path());
            write_file(full, file, fs_group);
        }
        if (fs_group) (void)::chown(ts_dir.c_str(), static_cast<uid_t>(-1), *fs_group);

        // User-visible names: one symlink per top-level element, through ..data.
        for (const auto& [path, file] : payload) {
            (void)file;
            const std::string top = split_path(path).front();
            const stdfs::path visible = dir / top;
            struct stat st {};
            if (::lstat(visible.c_str(), &st) != 0 && errno == ENOENT) {
                stdfs::create_symlink(stdfs::path(kDataDir) / top, visible);
            }
        }

        const stdfs::path new_link = dir / kNewDataDir;
        stdfs::remove(new_link, ec);
        stdfs::create_symlink(ts_dir.filename(), new_link);
        stdfs::rename(new_link, data_link);
    } catch (...) {
        stdfs::remove_all(ts_dir, ec);
        throw;
    }

    // Names no longer in the payload: only the top-level symlinks are removed (the rest went
    // with the old timestamped directory).
    for (const auto& path : to_remove)
        if (path.find('/') == std::string::npos) stdfs::remove(dir / path, ec);
    if (had_old) stdfs::remove_all(dir / old_ts, ec);
}

// ---- ConfigMap and Secret payloads ----------------------------------------------------------

mode_t mode_of(const json::object& object, std::string_view key, mode_t fallback) {
    const auto value = int_opt(object, key);
    return value ? static_cast<mode_t>(*value & 07777) : fallback;
}

// One of the pod's ConfigMaps or Secrets; nullopt when it does not exist (other API errors
// propagate).
std::optional<json::object> fetch(api::ResourceService& service, std::string_view plural,
                                  const std::string& ns, const std::string& name) {
    const auto info = service.registry().find("", "v1", plural);
    if (!info) throw std::runtime_error("no resource " + std::string(plural));
    try {
        return service.get(*info, ns, name);
    } catch (const api::ApiError& e) {
        if (e.code() == 404) return std::nullopt;
        throw;
    }
}

std::string decode_secret_value(const json::value& value, const std::string& key) {
    if (!value.is_string()) return {};
    auto decoded = base64::decode(value.as_string());
    if (!decoded) throw std::runtime_error("illegal base64 data in secret key " + key);
    return *decoded;
}

// Upstream's configmap.MakePayload.
Payload configmap_payload(const json::object& source, const json::object& configmap,
                          mode_t default_mode, bool optional) {
    Payload payload;
    const auto* data = object_at(configmap, "data");
    const auto* binary = object_at(configmap, "binaryData");
    const auto* items = array_at(source, "items");
    if (!items || items->empty()) {
        if (data)
            for (const auto& [key, value] : *data)
                if (value.is_string())
                    payload[std::string(key)] = {std::string(value.as_string()), default_mode};
        if (binary)
            for (const auto& [key, value] : *binary)
                payload[std::string(key)] = {decode_secret_value(value, key), default_mode};
        return payload;
    }
    for (const auto& item_value : *items) {
        if (!item_value.is_object()) continue;
        const auto& item = item_value.as_object();
        const std::string key = string_at(item, "key");
        FileProjection file;
        if (const auto* v = data ? data->if_contains(key) : nullptr; v && v->is_string()) {
            file.data = std::string(v->as_string());
        } else if (const auto* b = binary ? binary->if_contains(key) : nullptr) {
            file.data = decode_secret_value(*b, key);
        } else {
            if (optional) continue;
            throw std::runtime_error("configmap references non-existent config key: " + key);
        }
        file.mode = mode_of(item, "mode", default_mode);
        payload[string_at(item, "path")] = std::move(file);
    }
    return payload;
}

// Upstream's secret.MakePayload.
Payload secret_payload(const json::object& source, const json::object& secret, mode_t default_mode,
                       bool optional) {
    Payload payload;
    const auto* data = object_at(secret, "data");
    const auto* items = array_at(source, "items");
    if (!items || items->empty()) {
        if (data)
            for (const auto& [key, value] : *data)
                payload[std::string(key)] = {decode_secret_value(value, key), default_mode};
        return payload;
    }
    for (const auto& item_value : *items) {
        if (!item_value.is_object()) continue;
        const auto& item = item_value.as_object();
        const std::string key = string_at(item, "key");
        const auto* v = data ? data->if_contains(key) : nullptr;
        if (!v) {
            if (optional) continue;
            throw std::runtime_error("references non-existent secret key: " + key);
        }
        payload[string_at(item, "path")] = {decode_secret_value(*v, key),
                                            mode_of(item, "mode", default_mode)};
    }
    return payload;
}

// ---- Node resources for resourceFieldRef ----------------------------------------------------

// What limits default to for the downward API: the Node's allocatable, else the machine's
// capacity (a node not registered yet).
std::map<std::string, std::string> node_allocatable(api::ResourceService& service,
                                                    const std::string& node_name) {
    std::map<std::string, std::string> allocatable;
    if (!node_name.empty()) {
        if (auto node = fetch(service, "nodes", "", node_name)) {
            const auto* status = object_at(*node, "status");
            if (const auto* alloc = status ? object_at(*status, "allocatable") : nullptr)
                for (const auto& [key, value] : *alloc)
                    allocatable[std::string(key)] = quantity_text(&value);
        }
    }
    if (!allocatable.contains("cpu")) {
        allocatable["cpu"] = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
    }
    if (!allocatable.contains("memory")) {
        const long pages = ::sysconf(_SC_PHYS_PAGES);
        const long page_size = ::sysconf(_SC_PAGE_SIZE);
        allocatable["memory"] =
            std::to_string(static_cast<std::int64_t>(pages) * static_cast<std::int64_t>(page_size));
    }
    if (!allocatable.contains("ephemeral-storage")) {
        struct statvfs fs {};
        std::int64_t bytes = 0;
        if (::statvfs("/", &fs) == 0) bytes = static_cast<std::int64_t>(fs.f_blocks) * fs.f_frsize;
        allocatable["ephemeral-storage"] = std::to_string(bytes);
    }
    return allocatable;
}

std::int64_t ceil_div(std::int64_t value, std::int64_t divisor) {
    if (divisor <= 0) divisor = 1;
    if (value <= 0) return value / divisor;
    return (value + divisor - 1) / divisor;
}

std::string format_map(const json::object* map) {
    std::vector<std::pair<std::string, std::string>> entries;
    if (map)
        for (const auto& [key, value] : *map)
            if (value.is_string()) entries.emplace_back(key, value.as_string());
    std::sort(entries.begin(), entries.end());
    std::string out;
    for (const auto& [key, value] : entries) {
        if (!out.empty()) out += '\n';
        out += key + "=" + go_quote(value);
    }
    return out;
}

// An error of the volume manager's populator (the PVC cannot be resolved), which upstream
// reports in the "Unable to attach or mount volumes" event rather than as a SetUp failure.
class PopulateError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A hostPath's type check (upstream's checkTypeInternal), creating what the *OrCreate types ask
// for.
void check_host_path_type(const std::string& path, const std::string& type) {
    struct stat st {};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    auto is = [&](mode_t kind) { return exists && (st.st_mode & S_IFMT) == kind; };
    if (type.empty()) return;
    if (type == "DirectoryOrCreate" || type == "Directory") {
        if (!exists && type == "DirectoryOrCreate") {
            std::error_code ec;
            stdfs::create_directories(path, ec);
            if (ec) throw std::runtime_error("mkdir " + path + ": " + ec.message());
            ::chmod(path.c_str(), 0755);
            return;
        }
        if (!is(S_IFDIR)) {
            throw std::runtime_error("hostPath type check failed: " + path + " is not a directory");
        }
    } else if (type == "FileOrCreate" || type == "File") {
        if (!exists && type == "FileOrCreate") {
            UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0644));
            if (!fd.valid()) throw std::runtime_error("open " + path + ": " + errno_text(errno));
            return;
        }
        if (!is(S_IFREG)) {
            throw std::runtime_error("hostPath type check failed: " + path + " is not a file");
        }
    } else if (type == "Socket") {
        if (!is(S_IFSOCK)) {
            throw std::runtime_error("hostPath type check failed: " + path +
                                     " is not a socket file");
        }
    } else if (type == "CharDevice") {
        if (!is(S_IFCHR)) {
            throw std::runtime_error("hostPath type check failed: " + path +
                                     " is not a character device");
        }
    } else if (type == "BlockDevice") {
        if (!is(S_IFBLK)) {
            throw std::runtime_error("hostPath type check failed: " + path +
                                     " is not a block device");
        }
    } else {
        throw std::runtime_error(type + " is an invalid volume type");
    }
}

void check_no_backsteps(const std::string& path) {
    for (const auto& item : split_path(path))
        if (item == "..") {
            throw std::runtime_error("invalid HostPath `" + path + "`: must not contain '..'");
        }
}

// ---- subPath --------------------------------------------------------------------------------

bool within(const stdfs::path& path, const stdfs::path& base) {
    const stdfs::path relative = path.lexically_relative(base);
    return !relative.empty() && *relative.begin() != "..";
}

// Opens `target` (absolute, symlinks resolved, inside `base`) one component at a time without
// following symlinks: a component replaced by a symlink since it was resolved is refused.
UniqueFd safe_open(const stdfs::path& target, const stdfs::path& base) {
    if (!within(target, base)) {
        throw std::runtime_error("path " + target.string() + " is outside of allowed base " +
                                 base.string());
    }
    UniqueFd fd(::open(base.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        throw std::runtime_error("cannot open directory " + base.string() + ": " +
                                 errno_text(errno));
    }
    stdfs::path current = base;
    for (const auto& part : target.lexically_relative(base)) {
        if (part == ".") continue;
        current /= part;
        UniqueFd next(::openat(fd.get(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!next.valid()) {
            throw std::runtime_error("cannot open " + current.string() + ": " + errno_text(errno));
        }
        struct stat st {};
        if (::fstat(next.get(), &st) != 0) {
            throw std::runtime_error("error running fstat on " + current.string());
        }
        if (S_ISLNK(st.st_mode)) {
            throw std::runtime_error("unexpected symlink found " + current.string());
        }
        fd = std::move(next);
    }
    return fd;
}

}  // namespace

// ---- The downward API -----------------------------------------------------------------------

std::string pod_metadata_field(const json::object& pod, std::string_view field_path) {
    const auto* metadata = object_at(pod, "metadata");
    static const json::object kEmpty;
    const json::object& meta = metadata ? *metadata : kEmpty;
    if (field_path.ends_with("']")) {
        const std::string_view inner = field_path.substr(0, field_path.size() - 2);
        const auto open = inner.find("['");
        if (open != std::string_view::npos && open > 0) {
            const std::string_view path = inner.substr(0, open);
            const std::string key(inner.substr(open + 2));
            if (path == "metadata.annotations" || path == "metadata.labels") {
                const auto* map = object_at(meta, path.substr(9));
                return map ? string_at(*map, key) : std::string();
            }
            throw std::runtime_error("fieldPath " + go_quote(field_path) +
                                     " does not support subscript");
        }
    }
    if (field_path == "metadata.annotations") return format_map(object_at(meta, "annotations"));
    if (field_path == "metadata.labels") return format_map(object_at(meta, "labels"));
    if (field_path == "metadata.name") return string_at(meta, "name");
    if (field_path == "metadata.namespace") return string_at(meta, "namespace");
    if (field_path == "metadata.uid") return string_at(meta, "uid");
    throw std::runtime_error("unsupported fieldPath: " + std::string(field_path));
}

std::string container_resource_field(api::ResourceService& service, const json::object& pod,
                                     const json::object* container, const json::object& selector) {
    const std::string container_name = string_at(selector, "containerName");
    if (!container_name.empty()) {
        container = find_container_spec(pod, container_name);
        if (!container) throw std::runtime_error("container " + container_name + " not found");
    }
    const json::object* resources = container ? object_at(*container, "resources") : nullptr;

    const std::string resource = string_at(selector, "resource");
    std::string divisor = quantity_text(selector.if_contains("divisor"));
    if (divisor.empty() || scheduler::parse_quantity_milli(divisor).value_or(0) == 0) divisor = "1";

    const auto dot = resource.find('.');
    const std::string kind = dot == std::string::npos ? "" : resource.substr(0, dot);
    const std::string name = dot == std::string::npos ? "" : resource.substr(dot + 1);
    const bool known = name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
                       name.rfind("hugepages-", 0) == 0;
    if ((kind != "limits" && kind != "requests") || !known) {
        throw std::runtime_error("unsupported container resource : " + resource);
    }
    const json::object* list = resources ? object_at(*resources, kind) : nullptr;
    std::string text = quantity_text(list ? list->if_contains(name) : nullptr);
    // Unset (or zero) limits are the node's allocatable, hugepages excepted (upstream's
    // MergeContainerResourceLimits: hugepages are never overcommitted).
    if (kind == "limits" && name.rfind("hugepages-", 0) != 0 &&
        scheduler::parse_quantity_milli(text).value_or(0) == 0) {
        const auto allocatable = node_allocatable(service, api::field_value(pod, "spec.nodeName"));
        if (auto it = allocatable.find(name); it != allocatable.end()) text = it->second;
    }
    if (name == "cpu") {
        return std::to_string(ceil_div(scheduler::parse_quantity_milli(text).value_or(0),
                                       scheduler::parse_quantity_milli(divisor).value_or(1)));
    }
    return std::to_string(ceil_div(scheduler::parse_quantity(text).value_or(0),
                                   scheduler::parse_quantity(divisor).value_or(1)));
}

// ---- subPath --------------------------------------------------------------------------------

void make_subpath_dir(const stdfs::path& volume_path, const std::string& sub_path) {
    const stdfs::path base = stdfs::canonical(volume_path);
    const auto parts = split_path(sub_path);
    // The longest prefix that exists (symlinks included, resolved below and checked).
    size_t existing_parts = 0;
    stdfs::path existing = base;
    for (; existing_parts < parts.size(); ++existing_parts) {
        if (parts[existing_parts].empty() || parts[existing_parts] == ".") continue;
        const stdfs::path next = existing / parts[existing_parts];
        struct stat st {};
        if (::lstat(next.c_str(), &st) != 0) {
            if (errno == ENOENT) break;
            throw std::runtime_error("lstat " + next.string() + ": " + errno_text(errno));
        }
        existing = next;
    }
    const stdfs::path resolved = stdfs::canonical(existing);
    if (resolved != base && !within(resolved, base)) {
        throw std::runtime_error("path " + resolved.string() + " is outside of allowed base " +
                                 base.string());
    }
    struct stat base_stat {};
    if (::stat(base.c_str(), &base_stat) != 0) {
        throw std::runtime_error("stat " + base.string() + ": " + errno_text(errno));
    }
    const mode_t perm = base_stat.st_mode & 07777;
    UniqueFd parent =
        resolved == base
            ? UniqueFd(::open(base.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC))
            : safe_open(resolved, base);
    if (!parent.valid()) {
        throw std::runtime_error("cannot open directory " + base.string() + ": " +
                                 errno_text(errno));
    }
    stdfs::path current = resolved;
    for (size_t i = existing_parts; i < parts.size(); ++i) {
        const std::string& part = parts[i];
        if (part.empty() || part == ".") continue;
        current /= part;
        if (::mkdirat(parent.get(), part.c_str(), perm) != 0 && errno != EEXIST) {
            throw std::runtime_error("cannot create directory " + current.string() + ": " +
                                     errno_text(errno));
        }
        UniqueFd child(
            ::openat(parent.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child.valid()) {
            throw std::runtime_error("cannot open " + current.string() + ": " + errno_text(errno));
        }
        // The volume's mode exactly, whatever the umask.
        if (::fchmod(child.get(), perm) != 0) {
            throw std::runtime_error("chmod " + current.string() + ": " + errno_text(errno));
        }
        parent = std::move(child);
    }
}

stdfs::path bind_subpath(const stdfs::path& pod_dir, const std::string& volume_name,
                         const stdfs::path& volume_path, const std::string& sub_path,
                         const std::string& container, int index) {
    const stdfs::path base = stdfs::canonical(volume_path);
    const stdfs::path target = stdfs::canonical(volume_path / sub_path);
    if (target != base && !within(target, base)) {
        throw std::runtime_error("subpath " + go_quote(target.string()) +
                                 " not within volume path " + go_quote(base.string()));
    }
    UniqueFd fd = target == base ? UniqueFd(::open(base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC))
                                 : safe_open(target, base);
    if (!fd.valid()) {
        throw std::runtime_error("error opening subpath " + target.string() + ": " +
                                 errno_text(errno));
    }
    struct stat source {};
    if (::fstat(fd.get(), &source) != 0) {
        throw std::runtime_error("error running fstat on " + target.string());
    }

    const stdfs::path bind =
        pod_dir / "volume-subpaths" / volume_name / container / std::to_string(index);
    if (is_mount_point(bind)) {
        // A restarted container: keep the bind mount when it still shows the same thing.
        struct stat current {};
        if (::stat(bind.c_str(), &current) == 0 && current.st_dev == source.st_dev &&
            current.st_ino == source.st_ino) {
            return bind;
        }
        if (!unmount(bind)) {
            throw std::runtime_error("error ummounting " + bind.string() + ": " +
                                     errno_text(errno));
        }
    }
    stdfs::create_directories(bind.parent_path());
    struct stat existing {};
    const bool present = ::lstat(bind.c_str(), &existing) == 0;
    if (present && S_ISDIR(existing.st_mode) != S_ISDIR(source.st_mode)) stdfs::remove(bind);
    if (S_ISDIR(source.st_mode)) {
        stdfs::create_directories(bind);
    } else {
        UniqueFd file(::open(bind.c_str(), O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!file.valid()) {
            throw std::runtime_error("error creating file " + bind.string() + ": " +
                                     errno_text(errno));
        }
    }
    const std::string source_path = "/proc/self/fd/" + std::to_string(fd.get());
    if (::mount(source_path.c_str(), bind.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        throw std::runtime_error("error mounting " + target.string() + ": " + errno_text(errno));
    }
    return bind;
}

// ---- VolumeManager --------------------------------------------------------------------------

struct VolumeManager::Impl {
    Impl(api::ResourceService& s, KubeletPaths p, TokenRequester t)
        : service(s), paths(std::move(p)), tokens(std::move(t)) {}

    api::ResourceService& service;
    KubeletPaths paths;
    TokenRequester tokens;

    // Service-account tokens of projected volumes, by "<pod uid>/<volume>/<path>": reused until
    // upstream's token manager would refresh them.
    struct Token {
        std::string token;
        Clock::time_point issued;
        Clock::time_point expires;
    };
    std::mutex mutex;
    std::map<std::string, Token> token_cache;

    struct Pod {
        const json::object& object;
        std::string uid, ns, name;
        std::optional<gid_t> fs_group;
    };

    // Upstream's requiresRefresh: older than 80% of its lifetime, or than 24 hours.
    static bool needs_refresh(const Token& token, Clock::time_point now) {
        if (now > token.issued + std::chrono::hours(24)) return true;
        const auto lifetime = token.expires - token.issued;
        return now > token.expires - lifetime / 5;
    }

    std::string service_account_token(const Pod& pod, const std::string& volume,
                                      const json::object& projection) {
        const std::string path = string_at(projection, "path");
        const std::string key = pod.uid + "/" + volume + "/" + path;
        const auto now = Clock::now();
        {
            std::lock_guard lock(mutex);
            auto it = token_cache.find(key);
            if (it != token_cache.end() && !needs_refresh(it->second, now)) return it->second.token;
        }
        if (!tokens) {
            throw std::runtime_error("Cannot setup projected volume " + volume +
                                     " because kube client is not configured");
        }
        const std::int64_t expiration = int_opt(projection, "expirationSeconds").value_or(3600);
        json::object spec{
            {"expirationSeconds", expiration},
            {"boundObjectRef",
             json::object{
                 {"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod.name}, {"uid", pod.uid}}}};
        if (const std::string audience = string_at(projection, "audience"); !audience.empty())
            spec["audiences"] = json::array{json::value(audience)};
        json::object request{{"apiVersion", "authentication.k8s.io/v1"},
                             {"kind", "TokenRequest"},
                             {"spec", std::move(spec)}};
        const auto* pod_spec = object_at(pod.object, "spec");
        std::string account = pod_spec ? string_at(*pod_spec, "serviceAccountName") : "";
        if (account.empty() && pod_spec) account = string_at(*pod_spec, "serviceAccount");
        if (account.empty()) account = "default";

        json::object response;
        try {
            response = tokens(pod.ns, account, std::move(request));
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("failed to fetch token: ") + e.what());
        }
        const auto* status = object_at(response, "status");
        Token token;
        token.token = status ? string_at(*status, "token") : "";
        if (token.token.empty()) {
            throw std::runtime_error("failed to fetch token: the TokenRequest has no token");
        }
        // The lifetime granted (the server may change the one asked for).
        const auto* granted = object_at(response, "spec");
        const std::int64_t seconds =
            (granted ? int_opt(*granted, "expirationSeconds") : std::nullopt).value_or(expiration);
        Clock::time_point expires;
        if (status && api::parse_time(string_at(*status, "expirationTimestamp"), expires)) {
            token.expires = expires;
        } else {
            token.expires = now + std::chrono::seconds(seconds);
        }
        token.issued = token.expires - std::chrono::seconds(seconds);
        std::lock_guard lock(mutex);
        token_cache[key] = token;
        return token.token;
    }

    // The ConfigMap or Secret a volume source names; an empty one when it is missing and
    // optional.
    json::object referenced(const Pod& pod, std::string_view plural, std::string_view what,
                            const std::string& name, bool optional) {
        auto object = fetch(service, plural, pod.ns, name);
        if (object) return std::move(*object);
        if (optional) return {};
        throw std::runtime_error(std::string(what) + " " + go_quote(name) + " not found");
    }

    Payload projected_payload(const Pod& pod, const std::string& volume,
                              const json::object& source) {
        const mode_t default_mode = mode_of(source, "defaultMode", kDefaultMode);
        Payload payload;
        std::vector<std::string> errors;
        const auto* sources = array_at(source, "sources");
        if (!sources) return payload;
        for (const auto& entry : *sources) {
            if (!entry.is_object()) continue;
            const auto& projection = entry.as_object();
            try {
                Payload part;
                if (const auto* s = object_at(projection, "secret")) {
                    const bool optional = bool_at(*s, "optional");
                    part = secret_payload(
                        *s, referenced(pod, "secrets", "secret", string_at(*s, "name"), optional),
                        default_mode, optional);
                } else if (const auto* c = object_at(projection, "configMap")) {
                    const bool optional = bool_at(*c, "optional");
                    part = configmap_payload(
                        *c,
                        referenced(pod, "configmaps", "configmap", string_at(*c, "name"), optional),
                        default_mode, optional);
                } else if (const auto* d = object_at(projection, "downwardAPI")) {
                    part = downward_payload(pod, *d, default_mode);
                } else if (const auto* t = object_at(projection, "serviceAccountToken")) {
                    // With an fsGroup the token is 0600 (0640 once the group may read it).
                    const mode_t mode = pod.fs_group ? 0600 : default_mode;
                    part[string_at(*t, "path")] = {service_account_token(pod, volume, *t), mode};
                }
                for (auto& [path, file] : part)
                    payload[path] = std::move(file);
            } catch (const std::runtime_error& e) {
                errors.emplace_back(e.what());
            }
        }
        if (!errors.empty()) throw std::runtime_error(aggregate(errors));
        return payload;
    }

    Payload downward_payload(const Pod& pod, const json::object& source, mode_t default_mode) {
        Payload payload;
        std::vector<std::string> errors;
        if (const auto* items = array_at(source, "items")) {
            for (const auto& entry : *items) {
                if (!entry.is_object()) continue;
                const auto& item = entry.as_object();
                FileProjection file;
                file.mode = mode_of(item, "mode", default_mode);
                try {
                    if (const auto* field = object_at(item, "fieldRef")) {
                        file.data = pod_metadata_field(pod.object, string_at(*field, "fieldPath"));
                    } else if (const auto* resource = object_at(item, "resourceFieldRef")) {
                        file.data =
                            container_resource_field(service, pod.object, nullptr, *resource);
                    }
                } catch (const std::runtime_error& e) {
                    errors.emplace_back(e.what());
                }
                payload[clean_path(string_at(item, "path"))] = std::move(file);
            }
        }
        if (!errors.empty()) throw std::runtime_error(aggregate(errors));
        return payload;
    }

    // The directory of an emptyDir-backed volume (every kind but hostPath and PVCs), made with
    // upstream's 0777 the first time.
    stdfs::path volume_dir(const Pod& pod, std::string_view plugin, const std::string& name) {
        const stdfs::path dir = paths.volume_dir(pod.uid, plugin, name);
        if (stdfs::create_directories(dir)) {
            if (::chmod(dir.c_str(), 0777) != 0) {
                throw std::runtime_error("chmod " + dir.string() + ": " + errno_text(errno));
            }
        }
        return dir;
    }

    // Files of a configMap/secret/projected/downwardAPI volume. Secrets and projected volumes
    // (tokens) live on a tmpfs, as upstream keeps them: never written to the node's disk.
    HostVolume write_volume(const Pod& pod, std::string_view plugin, const std::string& name,
                            const Payload& payload, bool in_memory) {
        const stdfs::path dir = volume_dir(pod, plugin, name);
        if (in_memory) ensure_tmpfs(dir, std::nullopt);
        write_atomically(dir, payload, pod.fs_group);
        return {dir, true};
    }

    HostVolume claim_volume(const Pod& pod, const std::string& claim, bool read_only,
                            bool ephemeral) {
        const std::string where = "error processing PVC " + pod.ns + "/" + claim + ": ";
        json::object pvc;
        try {
            auto found = fetch(service, "persistentvolumeclaims", pod.ns, claim);
            if (!found) {
                throw PopulateError(where + "failed to fetch PVC from API server: " +
                                    "persistentvolumeclaims " + go_quote(claim) + " not found");
            }
            pvc = std::move(*found);
        } catch (const api::ApiError& e) {
            throw PopulateError(where + "failed to fetch PVC from API server: " + e.what());
        }
        if (!api::meta_string(pvc, "deletionTimestamp").empty()) {
            throw PopulateError(where + "PVC is being deleted");
        }
        if (api::field_value(pvc, "status.phase") != "Bound") {
            throw PopulateError(where + "PVC is not bound");
        }
        const std::string pv_name = api::field_value(pvc, "spec.volumeName");
        if (pv_name.empty()) throw PopulateError(where + "PVC has empty pvc.Spec.VolumeName");
        if (ephemeral) {
            const auto* owner = controllers::controller_ref(pvc);
            if (!owner || string_at(*owner, "uid") != pod.uid) {
                throw PopulateError(where + "not the ephemeral PVC for the pod");
            }
        }
        json::object pv;
        try {
            auto found = fetch(service, "persistentvolumes", "", pv_name);
            if (!found) {
                throw PopulateError(where + "failed to fetch PV " + pv_name +
                                    " from API server: persistentvolumes " + go_quote(pv_name) +
                                    " not found");
            }
            pv = std::move(*found);
        } catch (const api::ApiError& e) {
            throw PopulateError(where + "failed to fetch PV " + pv_name +
                                " from API server: " + e.what());
        }
        const auto* spec = object_at(pv, "spec");
        const auto* claim_ref = spec ? object_at(*spec, "claimRef") : nullptr;
        if (!claim_ref) {
            throw PopulateError(where + "found PV object " + pv_name +
                                " but it has a nil pv.Spec.ClaimRef indicating it is not yet "
                                "bound to the claim");
        }
        const std::string pvc_uid = api::meta_string(pvc, "uid");
        if (string_at(*claim_ref, "uid") != pvc_uid) {
            throw PopulateError(where + "found PV object " + pv_name +
                                " but its pv.Spec.ClaimRef.UID " + string_at(*claim_ref, "uid") +
                                " does not point to claim.UID " + pvc_uid);
        }
        if (const auto* host_path = object_at(*spec, "hostPath")) {
            const std::string path = string_at(*host_path, "path");
            check_no_backsteps(path);
            check_host_path_type(path, string_at(*host_path, "type"));
            return {path, read_only};
        }
        if (const auto* local = object_at(*spec, "local")) {
            const std::string path = string_at(*local, "path");
            std::error_code ec;
            if (!stdfs::exists(path, ec)) {
                throw std::runtime_error("path " + go_quote(path) + " does not exist");
            }
            return {path, read_only};
        }
        throw PopulateError(where + "failed to get Plugin from volumeSpec for volume " +
                            go_quote(pv_name) + " err=no volume plugin matched");
    }

    HostVolume setup_volume(const Pod& pod, const json::object& volume) {
        const std::string name = string_at(volume, "name");
        if (const auto* source = object_at(volume, "emptyDir")) {
            const std::string medium = string_at(*source, "medium");
            if (!medium.empty() && medium != "Memory") {
                throw std::runtime_error("unknown storage medium " + go_quote(medium));
            }
            const stdfs::path dir = volume_dir(pod, "empty-dir", name);
            if (medium == "Memory") {
                const std::string limit = quantity_text(source->if_contains("sizeLimit"));
                std::optional<std::int64_t> size;
                if (!limit.empty()) size = scheduler::parse_quantity(limit);
                ensure_tmpfs(dir, size);
            }
            if (pod.fs_group) {
                // Upstream's SetVolumeOwnership: the group owns it, and setgid keeps it so for
                // what the container creates.
                struct stat st {};
                if (::stat(dir.c_str(), &st) == 0) {
                    (void)::chown(dir.c_str(), static_cast<uid_t>(-1), *pod.fs_group);
                    ::chmod(dir.c_str(), (st.st_mode & 07777) | S_ISGID | 0060);
                }
            }
            return {dir, false};
        }
        if (const auto* source = object_at(volume, "configMap")) {
            const bool optional = bool_at(*source, "optional");
            const auto configmap =
                referenced(pod, "configmaps", "configmap", string_at(*source, "name"), optional);
            return write_volume(
                pod, "configmap", name,
                configmap_payload(*source, configmap, mode_of(*source, "defaultMode", kDefaultMode),
                                  optional),
                false);
        }
        if (const auto* source = object_at(volume, "secret")) {
            const bool optional = bool_at(*source, "optional");
            const auto secret =
                referenced(pod, "secrets", "secret", string_at(*source, "secretName"), optional);
            return write_volume(
                pod, "secret", name,
                secret_payload(*source, secret, mode_of(*source, "defaultMode", kDefaultMode),
                               optional),
                true);
        }
        if (const auto* source = object_at(volume, "projected")) {
            return write_volume(pod, "projected", name, projected_payload(pod, name, *source),
                                true);
        }
        if (const auto* source = object_at(volume, "downwardAPI")) {
            return write_volume(
                pod, "downward-api", name,
                downward_payload(pod, *source, mode_of(*source, "defaultMode", kDefaultMode)),
                false);
        }
        if (const auto* source = object_at(volume, "hostPath")) {
            const std::string path = string_at(*source, "path");
            check_no_backsteps(path);
            check_host_path_type(path, string_at(*source, "type"));
            return {path, false};
        }
        if (const auto* source = object_at(volume, "persistentVolumeClaim")) {
            return claim_volume(pod, string_at(*source, "claimName"), bool_at(*source, "readOnly"),
                                false);
        }
        if (object_at(volume, "ephemeral")) {
            // A generic ephemeral volume is the PVC "<pod>-<volume>" the pod owns.
            return claim_volume(pod, pod.name + "-" + name, false, true);
        }
        throw PopulateError("failed to get Plugin from volumeSpec for volume " + go_quote(name) +
                            " err=no volume plugin matched");
    }
};

VolumeManager::VolumeManager(api::ResourceService& service, KubeletPaths paths,
                             TokenRequester tokens)
    : impl_(std::make_unique<Impl>(service, std::move(paths), std::move(tokens))) {}

VolumeManager::~VolumeManager() = default;

PodVolumes VolumeManager::setup(const json::object& pod) {
    Impl::Pod context{pod, api::meta_string(pod, "uid"), api::meta_string(pod, "namespace"),
                      api::meta_string(pod, "name"), std::nullopt};
    if (context.uid.empty() || context.uid.find('/') != std::string::npos || context.uid == "." ||
        context.uid == "..") {
        throw VolumeError("pod " + context.ns + "/" + context.name + " has no usable uid");
    }
    const auto* spec = object_at(pod, "spec");
    if (const auto* security = spec ? object_at(*spec, "securityContext") : nullptr)
        if (const auto fs_group = int_opt(*security, "fsGroup"))
            context.fs_group = static_cast<gid_t>(*fs_group);

    PodVolumes result;
    result.pod_dir = impl_->paths.pod_dir(context.uid);
    std::error_code ec;
    // 0750 as upstream: only root (and the group) may walk into a pod's files.
    if (stdfs::create_directories(impl_->paths.pods_dir(), ec)) {
        ::chmod(impl_->paths.pods_dir().c_str(), 0750);
    }
    if (stdfs::create_directories(result.pod_dir / "volumes", ec)) {
        ::chmod(result.pod_dir.c_str(), 0750);
        ::chmod((result.pod_dir / "volumes").c_str(), 0750);
    }
    if (ec) {
        throw VolumeError("cannot create the pod directory " + result.pod_dir.string() + ": " +
                          ec.message());
    }
    const auto* volumes = spec ? array_at(*spec, "volumes") : nullptr;
    if (!volumes) return result;
    for (const auto& entry : *volumes) {
        if (!entry.is_object()) continue;
        const std::string name = string_at(entry.as_object(), "name");
        try {
            result.by_name[name] = impl_->setup_volume(context, entry.as_object());
        } catch (const PopulateError& e) {
            throw VolumeError("Unable to attach or mount volumes: unmounted volumes=" +
                              go_list({name}) + ", unattached volumes=[], failed to process " +
                              "volumes=" + go_list({name}) + ": " + e.what());
        } catch (const std::exception& e) {
            throw VolumeError("MountVolume.SetUp failed for volume " + go_quote(name) + " : " +
                              e.what());
        }
    }
    return result;
}

void VolumeManager::teardown(const std::string& pod_uid) {
    if (pod_uid.empty() || pod_uid.find('/') != std::string::npos || pod_uid == "." ||
        pod_uid == "..") {
        return;
    }
    {
        std::lock_guard lock(impl_->mutex);
        const std::string prefix = pod_uid + "/";
        for (auto it = impl_->token_cache.lower_bound(prefix);
             it != impl_->token_cache.end() && it->first.rfind(prefix, 0) == 0;)
            it = impl_->token_cache.erase(it);
    }
    const stdfs::path dir = impl_->paths.pod_dir(pod_uid);
    std::error_code ec;
    if (!stdfs::exists(dir, ec)) return;
    for (const auto& point : mounts_under(dir)) {
        if (!unmount(point)) {
            spdlog::warn("kubelet: cannot unmount {}: {}", point.string(), errno_text(errno));
        }
    }
    // Never remove through a mount that is still there: it could be a host directory bound in.
    if (const auto left = mounts_under(dir); !left.empty()) {
        spdlog::warn("kubelet: keeping {} of pod {}: {} is still mounted", dir.string(), pod_uid,
                     left.front().string());
        return;
    }
    stdfs::remove_all(dir, ec);
    if (ec) spdlog::warn("kubelet: cannot remove {}: {}", dir.string(), ec.message());
}

std::vector<std::string> VolumeManager::pods_on_disk() const {
    std::vector<std::string> uids;
    std::error_code ec;
    for (stdfs::directory_iterator it(impl_->paths.pods_dir(), ec), end; !ec && it != end;
         it.increment(ec)) {
        if (it->is_directory(ec)) uids.push_back(it->path().filename().string());
    }
    std::sort(uids.begin(), uids.end());
    return uids;
}

const json::object* find_container_spec(const json::object& pod, const std::string& name) {
    const auto* spec = object_at(pod, "spec");
    if (!spec) return nullptr;
    for (const char* list : {"containers", "initContainers"}) {
        if (const auto* containers = array_at(*spec, list))
            for (const auto& c : *containers)
                if (c.is_object() && string_at(c.as_object(), "name") == name)
                    return &c.as_object();
    }
    return nullptr;
}

}  // namespace kcube::kubelet
