// A container spec made into the CRI's ContainerConfig the way upstream's kubelet makes it
// (kubelet_pods.go makeEnvironmentVariables/makeMounts, kuberuntime generateContainerConfig and
// generateLinuxContainerConfig, security_context.go), so a container sees the environment,
// files and limits it would see on any Kubernetes node.
#include "cluster/kubelet/container_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/pod_runtime.hpp"
#include "cluster/kubelet/pod_status.hpp"
#include "cluster/scheduler/predicates.hpp"
#include "common/base64.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
namespace stdfs = std::filesystem;
namespace v1 = ::runtime::v1;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;

namespace {

// A *bool field: nullopt when unset.
std::optional<bool> bool_opt(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value && value->is_bool()) return value->as_bool();
    return std::nullopt;
}

std::optional<std::int64_t> int_opt(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (!value) return std::nullopt;
    if (value->is_int64()) return value->as_int64();
    if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
    return std::nullopt;
}

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

// ---- $(VAR) expansion -----------------------------------------------------------------------

using Mapping = std::function<std::string(const std::string&)>;

// Upstream's expansion.Expand: $(NAME) is replaced by mapping(NAME), $$ is a literal $, and
// anything else (a lone $, an unclosed "$(") stays as written.
std::string expand(std::string_view input, const Mapping& mapping) {
    std::string out;
    size_t checkpoint = 0;
    for (size_t cursor = 0; cursor < input.size(); ++cursor) {
        if (input[cursor] != '$' || cursor + 1 >= input.size()) continue;
        out.append(input.substr(checkpoint, cursor - checkpoint));
        const std::string_view rest = input.substr(cursor + 1);
        size_t advance = 1;
        if (rest[0] == '$') {
            out += '$';
        } else if (rest[0] == '(') {
            const size_t close = rest.find(')', 1);
            if (close == std::string_view::npos) {
                out += "$(";
            } else {
                out += mapping(std::string(rest.substr(1, close - 1)));
                advance = close + 1;
            }
        } else {
            out += '$';
            out += rest[0];
        }
        cursor += advance;
        checkpoint = cursor + 1;
    }
    if (checkpoint < input.size()) out.append(input.substr(checkpoint));
    return out;
}

// A mapping that looks names up in `maps` in order and leaves unknown references as written.
Mapping mapping_for(std::vector<const std::map<std::string, std::string>*> maps) {
    return [maps = std::move(maps)](const std::string& name) {
        for (const auto* map : maps)
            if (auto it = map->find(name); it != map->end()) return it->second;
        return "$(" + name + ")";
    };
}

// ---- Environment ----------------------------------------------------------------------------

// The environment in the order variables were first declared (upstream's order is a Go map's,
// i.e. none; a stable one keeps container configs comparable).
struct Environment {
    std::vector<std::string> order;
    std::map<std::string, std::string> values;

    void set(const std::string& name, std::string value) {
        auto [it, inserted] = values.try_emplace(name, std::move(value));
        if (inserted) {
            order.push_back(name);
        } else {
            it->second = std::move(value);
        }
    }
};

// Upstream's IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]*
bool is_env_var_name(std::string_view name) {
    if (name.empty()) return false;
    auto allowed = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
               c == '_' || (!first && c >= '0' && c <= '9');
    };
    for (size_t i = 0; i < name.size(); ++i)
        if (!allowed(name[i], i == 0)) return false;
    return true;
}

// The ConfigMaps and Secrets one container refers to, each read once.
class References {
  public:
    References(api::ResourceService& service, std::string ns)
        : service_(service), ns_(std::move(ns)) {}

    // nullptr when it does not exist; other API errors become the container's error.
    const json::object* configmap(const std::string& name) {
        return get("configmaps", name, configmaps_);
    }
    const json::object* secret(const std::string& name) { return get("secrets", name, secrets_); }
    const std::string& ns() const { return ns_; }

  private:
    const json::object* get(std::string_view plural, const std::string& name,
                            std::map<std::string, std::optional<json::object>>& cache) {
        auto it = cache.find(name);
        if (it == cache.end()) {
            const auto info = service_.registry().find("", "v1", plural);
            std::optional<json::object> object;
            try {
                if (info) object = service_.get(*info, ns_, name);
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw ContainerConfigError(e.what());
            }
            it = cache.emplace(name, std::move(object)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

    api::ResourceService& service_;
    std::string ns_;
    std::map<std::string, std::optional<json::object>> configmaps_, secrets_;
};

std::string secret_value(const json::value& value) {
    if (!value.is_string()) return {};
    return base64::decode(value.as_string()).value_or(std::string());
}

// Upstream's makeEnvVariableName: "my-svc" -> "MY_SVC".
std::string env_name(std::string_view name) {
    std::string out(name);
    for (char& c : out)
        c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string join_host_port(const std::string& host, std::int64_t port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

// The Docker-link-style variables of one Service (upstream's envvars.FromServices).
void add_service_variables(const json::object& service, std::map<std::string, std::string>& out) {
    const auto* spec = object_at(service, "spec");
    if (!spec) return;
    const std::string ip = string_at(*spec, "clusterIP");
    const auto* ports = array_at(*spec, "ports");
    if (ip.empty() || ip == "None" || !ports || ports->empty()) return;
    const std::string prefix = env_name(api::meta_string(service, "name"));
    out[prefix + "_SERVICE_HOST"] = ip;
    const std::string port_name = prefix + "_SERVICE_PORT";
    bool first = true;
    for (const auto& entry : *ports) {
        if (!entry.is_object()) continue;
        const auto& port = entry.as_object();
        const std::int64_t number = int_opt(port, "port").value_or(0);
        if (first) out[port_name] = std::to_string(number);
        if (const std::string name = string_at(port, "name"); !name.empty())
            out[port_name + "_" + env_name(name)] = std::to_string(number);
        std::string protocol = string_at(port, "protocol");
        if (protocol.empty()) protocol = "TCP";
        std::string lower = protocol;
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::string url = lower + "://" + join_host_port(ip, number);
        if (first) out[prefix + "_PORT"] = url;
        const std::string port_prefix = prefix + "_PORT_" + std::to_string(number) + "_" + protocol;
        out[port_prefix] = url;
        out[port_prefix + "_PROTO"] = lower;
        out[port_prefix + "_PORT"] = std::to_string(number);
        out[port_prefix + "_ADDR"] = ip;
        first = false;
    }
}

// The service variables of the pod: those of the `kubernetes` Service always, those of every
// Service in the pod's namespace unless enableServiceLinks is false.
std::map<std::string, std::string> service_environment(api::ResourceService& service,
                                                       const std::string& ns, bool links) {
    std::map<std::string, std::string> env;
    const auto info = service.registry().find("", "v1", "services");
    if (!info) return env;
    std::map<std::string, json::object> chosen;
    try {
        if (links) {
            const auto list = service.list(*info, ns, {});
            if (const auto* items = array_at(list, "items"))
                for (const auto& item : *items)
                    if (item.is_object())
                        chosen[api::meta_string(item.as_object(), "name")] = item.as_object();
        }
        if (!chosen.contains("kubernetes")) {
            try {
                chosen["kubernetes"] = service.get(*info, "default", "kubernetes");
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
        }
    } catch (const api::ApiError&) {
        throw ContainerConfigError("failed to list services when setting up env vars");
    }
    for (const auto& [name, object] : chosen)
        add_service_variables(object, env);
    return env;
}

struct PodContext {
    const ContainerInputs& in;
    std::string name, ns, uid;
    const json::object& spec;
    std::vector<std::string> pod_ips;
};

// A fieldRef's value (upstream's podFieldSelectorRuntimeValue).
std::string pod_field(const PodContext& pod, const std::string& path) {
    if (path == "spec.nodeName") {
        const std::string node = string_at(pod.spec, "nodeName");
        return node.empty() ? pod.in.node_name : node;
    }
    if (path == "spec.serviceAccountName") return string_at(pod.spec, "serviceAccountName");
    if (path == "status.hostIP" || path == "status.hostIPs") return pod.in.host_ip;
    if (path == "status.podIP") return pod.in.pod_ip;
    if (path == "status.podIPs") {
        std::string out;
        for (const auto& ip : pod.pod_ips)
            out += (out.empty() ? "" : ",") + ip;
        return out;
    }
    try {
        return pod_metadata_field(pod.in.pod, path);
    } catch (const std::runtime_error& e) {
        throw ContainerConfigError(e.what());
    }
}

// Upstream's makeEnvironmentVariables: envFrom first, then env (which overrides it) with $(VAR)
// references to earlier variables and service variables expanded, then the service variables
// nothing overrode.
std::vector<std::pair<std::string, std::string>> make_environment(api::ResourceService& service,
                                                                  const PodContext& pod) {
    const json::object& container = pod.in.container;
    const bool links = bool_opt(pod.spec, "enableServiceLinks").value_or(true);
    std::map<std::string, std::string> service_env = service_environment(service, pod.ns, links);
    References refs(service, pod.ns);
    Environment env;

    if (const auto* env_from = array_at(container, "envFrom")) {
        for (const auto& entry : *env_from) {
            if (!entry.is_object()) continue;
            const auto& source = entry.as_object();
            const std::string prefix = string_at(source, "prefix");
            const json::object* data = nullptr;
            bool secret = false;
            if (const auto* ref = object_at(source, "configMapRef")) {
                const std::string name = string_at(*ref, "name");
                const auto* configmap = refs.configmap(name);
                if (!configmap) {
                    if (bool_opt(*ref, "optional").value_or(false)) continue;
                    throw ContainerConfigError("configmap " + quote(name) + " not found");
                }
                data = object_at(*configmap, "data");
            } else if (const auto* ref = object_at(source, "secretRef")) {
                const std::string name = string_at(*ref, "name");
                const auto* object = refs.secret(name);
                if (!object) {
                    if (bool_opt(*ref, "optional").value_or(false)) continue;
                    throw ContainerConfigError("secret " + quote(name) + " not found");
                }
                data = object_at(*object, "data");
                secret = true;
            }
            if (!data) continue;
            // Keys that are no valid variable names are skipped, as upstream does (it also
            // records an InvalidEnvironmentVariableNames event).
            for (const auto& [key, value] : *data) {
                const std::string name = prefix + std::string(key);
                if (!is_env_var_name(name)) continue;
                env.set(name, secret ? secret_value(value)
                                     : (value.is_string() ? std::string(value.as_string()) : ""));
            }
        }
    }

    if (const auto* vars = array_at(container, "env")) {
        for (const auto& entry : *vars) {
            if (!entry.is_object()) continue;
            const auto& var = entry.as_object();
            const std::string name = string_at(var, "name");
            std::string value = string_at(var, "value");
            const auto* from = object_at(var, "valueFrom");
            if (!value.empty()) {
                value = expand(value, mapping_for({&env.values, &service_env}));
            } else if (from) {
                if (const auto* field = object_at(*from, "fieldRef")) {
                    value = pod_field(pod, string_at(*field, "fieldPath"));
                } else if (const auto* resource = object_at(*from, "resourceFieldRef")) {
                    try {
                        value =
                            container_resource_field(service, pod.in.pod, &container, *resource);
                    } catch (const std::runtime_error& e) {
                        throw ContainerConfigError(e.what());
                    }
                } else if (const auto* ref = object_at(*from, "configMapKeyRef")) {
                    const std::string source = string_at(*ref, "name");
                    const std::string key = string_at(*ref, "key");
                    const bool optional = bool_opt(*ref, "optional").value_or(false);
                    const auto* configmap = refs.configmap(source);
                    if (!configmap) {
                        if (optional) continue;
                        throw ContainerConfigError("configmap " + quote(source) + " not found");
                    }
                    const auto* data = object_at(*configmap, "data");
                    const auto* found = data ? data->if_contains(key) : nullptr;
                    if (!found || !found->is_string()) {
                        if (optional) continue;
                        throw ContainerConfigError("couldn't find key " + key + " in ConfigMap " +
                                                   pod.ns + "/" + source);
                    }
                    value = std::string(found->as_string());
                } else if (const auto* ref = object_at(*from, "secretKeyRef")) {
                    const std::string source = string_at(*ref, "name");
                    const std::string key = string_at(*ref, "key");
                    const bool optional = bool_opt(*ref, "optional").value_or(false);
                    const auto* object = refs.secret(source);
                    if (!object) {
                        if (optional) continue;
                        throw ContainerConfigError("secret " + quote(source) + " not found");
                    }
                    const auto* data = object_at(*object, "data");
                    const auto* found = data ? data->if_contains(key) : nullptr;
                    if (!found) {
                        if (optional) continue;
                        throw ContainerConfigError("couldn't find key " + key + " in Secret " +
                                                   pod.ns + "/" + source);
                    }
                    value = secret_value(*found);
                }
            }
            service_env.erase(name);
            env.set(name, std::move(value));
        }
    }

    std::vector<std::pair<std::string, std::string>> result;
    for (const auto& name : env.order)
        result.emplace_back(name, env.values.at(name));
    for (const auto& [name, value] : service_env)
        if (!env.values.contains(name)) result.emplace_back(name, value);
    return result;
}

// ---- Mounts ---------------------------------------------------------------------------------

v1::MountPropagation propagation_of(const std::string& mode) {
    if (mode.empty() || mode == "None") return v1::PROPAGATION_PRIVATE;
    if (mode == "HostToContainer") return v1::PROPAGATION_HOST_TO_CONTAINER;
    if (mode == "Bidirectional") return v1::PROPAGATION_BIDIRECTIONAL;
    throw ContainerConfigError("invalid MountPropagation mode: " + quote(mode));
}

bool has_backstep(std::string_view path) {
    size_t start = 0;
    while (start <= path.size()) {
        const size_t slash = path.find('/', start);
        const size_t end = slash == std::string_view::npos ? path.size() : slash;
        if (path.substr(start, end - start) == "..") return true;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return false;
}

// Writes `content` into `path` in place (a running container's bind mount keeps seeing the
// same file), only when it differs.
void write_if_changed(const stdfs::path& path, const std::string& content, mode_t mode) {
    {
        std::ifstream in(path, std::ios::binary);
        if (in) {
            std::string current((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
            if (current == content) return;
        }
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw ContainerConfigError("cannot write " + path.string());
    ::chmod(path.c_str(), mode);
}

// Upstream's GeneratePodHostNameAndDomain (the name part truncated to 63 as the sandbox does).
std::pair<std::string, std::string> host_and_domain(const PodContext& pod) {
    std::string hostname = string_at(pod.spec, "hostname");
    if (hostname.empty()) hostname = pod.name;
    if (hostname.size() > 63) hostname.resize(63);
    while (!hostname.empty() && (hostname.back() == '-' || hostname.back() == '.'))
        hostname.pop_back();
    std::string domain;
    if (const std::string subdomain = string_at(pod.spec, "subdomain"); !subdomain.empty())
        domain = subdomain + "." + pod.ns + ".svc." + pod.in.cluster_domain;
    return {hostname, domain};
}

std::string host_aliases(const json::object& spec) {
    const auto* aliases = array_at(spec, "hostAliases");
    if (!aliases || aliases->empty()) return {};
    std::string out = "\n# Entries added by HostAliases.\n";
    for (const auto& entry : *aliases) {
        if (!entry.is_object()) continue;
        out += string_at(entry.as_object(), "ip");
        if (const auto* names = array_at(entry.as_object(), "hostnames"))
            for (const auto& name : *names)
                if (name.is_string()) out += "\t" + std::string(name.as_string());
        out += "\n";
    }
    return out;
}

// Upstream's managed /etc/hosts: localhost entries, the pod's own name on each pod IP and the
// hostAliases; a hostNetwork pod gets the node's file with the aliases added.
std::string hosts_file(const PodContext& pod) {
    if (bool_opt(pod.spec, "hostNetwork").value_or(false)) {
        std::ifstream in("/etc/hosts", std::ios::binary);
        std::string node((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return "# Kubernetes-managed hosts file (host network).\n" + node + host_aliases(pod.spec);
    }
    const auto [hostname, domain] = host_and_domain(pod);
    std::string out = "# Kubernetes-managed hosts file.\n";
    out += "127.0.0.1\tlocalhost\n";
    out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
    out += "fe00::0\tip6-localnet\n";
    out += "fe00::0\tip6-mcastprefix\n";
    out += "fe00::1\tip6-allnodes\n";
    out += "fe00::2\tip6-allrouters\n";
    for (const auto& ip : pod.pod_ips) {
        if (domain.empty()) {
            out += ip + "\t" + hostname + "\n";
        } else {
            out += ip + "\t" + hostname + "." + domain + "\t" + hostname + "\n";
        }
    }
    return out + host_aliases(pod.spec);
}

// Upstream's makeMounts plus the termination-message file of kuberuntime's makeMounts.
void make_mounts(const PodContext& pod, const std::map<std::string, std::string>& env,
                 v1::ContainerConfig& config) {
    const json::object& container = pod.in.container;
    const std::string container_name = string_at(container, "name");
    const PodVolumes& volumes = pod.in.volumes;
    bool mount_hosts = !pod.pod_ips.empty() && !volumes.pod_dir.empty();
    int index = 0;
    if (const auto* mounts = array_at(container, "volumeMounts")) {
        for (const auto& entry : *mounts) {
            if (!entry.is_object()) continue;
            const auto& mount = entry.as_object();
            const int mount_index = index++;
            const std::string name = string_at(mount, "name");
            std::string container_path = string_at(mount, "mountPath");
            if (container_path == "/etc/hosts") mount_hosts = false;
            auto volume = volumes.by_name.find(name);
            if (volume == volumes.by_name.end()) {
                throw ContainerConfigError("cannot find volume " + quote(name) +
                                           " to mount into container " + quote(container_name));
            }
            std::string host_path = volume->second.host_path.string();
            std::string sub_path = string_at(mount, "subPath");
            if (const std::string expr = string_at(mount, "subPathExpr"); !expr.empty()) {
                std::set<std::string> missing;
                sub_path = expand(expr, [&](const std::string& key) {
                    auto it = env.find(key);
                    if (it == env.end() || it->second.empty()) {
                        missing.insert(key);
                        return std::string();
                    }
                    return it->second;
                });
                if (!missing.empty()) {
                    std::string list;
                    for (const auto& key : missing)
                        list += (list.empty() ? "" : ", ") + key;
                    throw ContainerConfigError("missing value for " + list);
                }
            }
            if (!sub_path.empty()) {
                if (sub_path.front() == '/') {
                    throw ContainerConfigError("error SubPath `" + sub_path +
                                               "` must not be an absolute path");
                }
                if (has_backstep(sub_path)) {
                    throw ContainerConfigError("unable to provision SubPath `" + sub_path +
                                               "`: must not contain '..'");
                }
                const stdfs::path volume_path = volume->second.host_path;
                std::error_code ec;
                if (!stdfs::exists(volume_path / sub_path, ec)) {
                    try {
                        make_subpath_dir(volume_path, sub_path);
                    } catch (const std::exception&) {
                        // Upstream keeps the detail out of the pod's status: it could tell
                        // about the host's file system.
                        throw ContainerConfigError(
                            "failed to create subPath directory for "
                            "volumeMount " +
                            quote(name) + " of container " + quote(container_name));
                    }
                }
                try {
                    host_path = bind_subpath(volumes.pod_dir, name, volume_path, sub_path,
                                             container_name, mount_index)
                                    .string();
                } catch (const std::exception&) {
                    throw ContainerConfigError("failed to prepare subPath for volumeMount " +
                                               quote(name) + " of container " +
                                               quote(container_name));
                }
            }
            if (container_path.empty() || container_path.front() != '/')
                container_path = "/" + container_path;
            auto* out = config.add_mounts();
            out->set_container_path(container_path);
            out->set_host_path(host_path);
            out->set_readonly(bool_opt(mount, "readOnly").value_or(false) ||
                              volume->second.read_only);
            out->set_propagation(propagation_of(string_at(mount, "mountPropagation")));
        }
    }
    if (mount_hosts) {
        const stdfs::path hosts = volumes.pod_dir / "etc-hosts";
        write_if_changed(hosts, hosts_file(pod), 0644);
        auto* out = config.add_mounts();
        out->set_container_path("/etc/hosts");
        out->set_host_path(hosts.string());
    }
    // The termination-message file: one per container instance (a random name, as upstream),
    // writable by any user the container runs as.
    std::string message_path = string_at(container, "terminationMessagePath");
    if (message_path.empty()) message_path = "/dev/termination-log";
    if (!volumes.pod_dir.empty()) {
        const stdfs::path dir = volumes.pod_dir / "containers" / container_name;
        std::error_code ec;
        stdfs::create_directories(dir, ec);
        const stdfs::path file = dir / api::new_uid().substr(0, 8);
        const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            throw ContainerConfigError("create termination-log file " + file.string() + ": " +
                                       std::system_category().message(errno));
        }
        ::fchmod(fd, 0666);
        ::close(fd);
        auto* out = config.add_mounts();
        out->set_container_path(message_path);
        out->set_host_path(file.string());
    }
}

// ---- Resources and security -----------------------------------------------------------------

std::int64_t milli_of(const json::object* list, std::string_view key) {
    const auto* value = list ? list->if_contains(key) : nullptr;
    if (!value || !value->is_string()) return 0;
    return scheduler::parse_quantity_milli(value->as_string()).value_or(0);
}

std::int64_t value_of(const json::object* list, std::string_view key) {
    const auto* value = list ? list->if_contains(key) : nullptr;
    if (!value || !value->is_string()) return 0;
    return scheduler::parse_quantity(value->as_string()).value_or(0);
}

std::int64_t machine_memory() {
    return static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) *
           static_cast<std::int64_t>(::sysconf(_SC_PAGE_SIZE));
}

// Upstream's milliCPUToShares: at least 2, the kernel's minimum.
std::int64_t cpu_shares(std::int64_t milli) {
    if (milli == 0) return 2;
    return std::max<std::int64_t>(2, milli * 1024 / 1000);
}

// Upstream's GetContainerOOMScoreAdjust.
std::int64_t oom_score_adj(const json::object& pod, const json::object& spec,
                           const json::object* requests) {
    constexpr std::int64_t kGuaranteed = -997, kBestEffort = 1000;
    constexpr std::int64_t kSystemCritical = 2000000000;
    if (int_opt(spec, "priority").value_or(0) >= kSystemCritical) return kGuaranteed;
    const std::string qos = pod_qos_class(pod);
    if (qos == "Guaranteed") return kGuaranteed;
    if (qos == "BestEffort") return kBestEffort;
    const std::int64_t capacity = std::max<std::int64_t>(1, machine_memory());
    const std::int64_t request = value_of(requests, "memory");
    // 1000*request overflows int64 only past 9 PB of memory.
    std::int64_t adjust = 1000 - (1000 * request) / capacity;
    if (adjust < 1000 + kGuaranteed) return 1000 + kGuaranteed;
    if (adjust == kBestEffort) return adjust - 1;
    return adjust;
}

void set_resources(const json::object& pod, const json::object& spec, const json::object& container,
                   v1::LinuxContainerResources& out) {
    const auto* resources = object_at(container, "resources");
    const auto* requests = resources ? object_at(*resources, "requests") : nullptr;
    const auto* limits = resources ? object_at(*resources, "limits") : nullptr;
    const std::int64_t cpu_request = milli_of(requests, "cpu");
    const std::int64_t cpu_limit = milli_of(limits, "cpu");
    // A request defaults to the limit (the API server does so for new pods; repeated here).
    out.set_cpu_shares(cpu_shares(cpu_request == 0 && cpu_limit != 0 ? cpu_limit : cpu_request));
    const std::int64_t memory_limit = value_of(limits, "memory");
    if (memory_limit != 0) out.set_memory_limit_in_bytes(memory_limit);
    out.set_oom_score_adj(oom_score_adj(pod, spec, requests));
    // CFS quota over upstream's 100 ms period; no limit is quota 0 (unlimited).
    constexpr std::int64_t kPeriod = 100000;
    std::int64_t quota = 0;
    if (cpu_limit != 0) quota = std::max<std::int64_t>(1000, cpu_limit * kPeriod / 1000);
    out.set_cpu_period(kPeriod);
    out.set_cpu_quota(quota);
}

const char* const kMaskedPaths[] = {
    "/proc/acpi",          "/proc/kcore",      "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug",   "/proc/scsi",       "/sys/firmware",
};
const char* const kReadonlyPaths[] = {
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

// Upstream's seccomp choice: the container's seccompProfile, else the pod's, else Unconfined
// (the kubelet's default without --seccomp-default).
void set_seccomp(const json::object* pod_sc, const json::object* container_sc,
                 const stdfs::path& kubelet_root, v1::SecurityProfile& out) {
    const json::object* profile =
        container_sc ? object_at(*container_sc, "seccompProfile") : nullptr;
    if (!profile && pod_sc) profile = object_at(*pod_sc, "seccompProfile");
    const std::string type = profile ? string_at(*profile, "type") : "";
    if (type == "RuntimeDefault") {
        out.set_profile_type(v1::SecurityProfile::RuntimeDefault);
    } else if (type == "Localhost") {
        out.set_profile_type(v1::SecurityProfile::Localhost);
        out.set_localhost_ref(
            (kubelet_root / "seccomp" / string_at(*profile, "localhostProfile")).string());
    } else {
        out.set_profile_type(v1::SecurityProfile::Unconfined);
    }
}

// Upstream's determineEffectiveSecurityContext: the container's settings over the pod's.
void set_security(const PodContext& pod, v1::LinuxContainerSecurityContext& out) {
    const json::object& container = pod.in.container;
    const auto* pod_sc = object_at(pod.spec, "securityContext");
    const auto* sc = object_at(container, "securityContext");
    auto pick = [&](std::string_view key) -> std::optional<std::int64_t> {
        if (sc)
            if (auto v = int_opt(*sc, key)) return v;
        if (pod_sc) return int_opt(*pod_sc, key);
        return std::nullopt;
    };
    if (auto user = pick("runAsUser")) out.mutable_run_as_user()->set_value(*user);
    if (auto group = pick("runAsGroup")) out.mutable_run_as_group()->set_value(*group);
    std::string proc_mount;
    if (sc) {
        out.set_privileged(bool_opt(*sc, "privileged").value_or(false));
        out.set_readonly_rootfs(bool_opt(*sc, "readOnlyRootFilesystem").value_or(false));
        if (const auto* caps = object_at(*sc, "capabilities")) {
            auto* capability = out.mutable_capabilities();
            if (const auto* add = array_at(*caps, "add"))
                for (const auto& c : *add)
                    if (c.is_string()) capability->add_add_capabilities(std::string(c.as_string()));
            if (const auto* drop = array_at(*caps, "drop"))
                for (const auto& c : *drop)
                    if (c.is_string())
                        capability->add_drop_capabilities(std::string(c.as_string()));
        }
        // no_new_privs only when allowPrivilegeEscalation is false explicitly.
        if (auto escalate = bool_opt(*sc, "allowPrivilegeEscalation")) {
            out.set_no_new_privs(!*escalate);
        }
        proc_mount = string_at(*sc, "procMount");
    }

    auto* namespaces = out.mutable_namespace_options();
    namespaces->set_network(bool_opt(pod.spec, "hostNetwork").value_or(false) ? v1::NODE : v1::POD);
    if (bool_opt(pod.spec, "hostPID").value_or(false)) {
        namespaces->set_pid(v1::NODE);
    } else if (bool_opt(pod.spec, "shareProcessNamespace").value_or(false)) {
        namespaces->set_pid(v1::POD);
    } else {
        namespaces->set_pid(v1::CONTAINER);
    }
    namespaces->set_ipc(bool_opt(pod.spec, "hostIPC").value_or(false) ? v1::NODE : v1::POD);

    if (pod_sc) {
        if (auto fs_group = int_opt(*pod_sc, "fsGroup")) out.add_supplemental_groups(*fs_group);
        if (const auto* groups = array_at(*pod_sc, "supplementalGroups"))
            for (const auto& g : *groups)
                if (g.is_int64()) out.add_supplemental_groups(g.as_int64());
    }
    if (proc_mount != "Unmasked") {
        for (const char* path : kMaskedPaths)
            out.add_masked_paths(path);
        for (const char* path : kReadonlyPaths)
            out.add_readonly_paths(path);
    }
    const stdfs::path kubelet_root = pod.in.volumes.pod_dir.empty()
                                         ? stdfs::path()
                                         : pod.in.volumes.pod_dir.parent_path().parent_path();
    set_seccomp(pod_sc, sc, kubelet_root, *out.mutable_seccomp());
}

// Upstream's verifyRunAsNonRoot: with runAsNonRoot, a root runAsUser is refused, and without
// runAsUser the image's user must be numeric and not 0.
void verify_run_as_non_root(const PodContext& pod) {
    const auto* pod_sc = object_at(pod.spec, "securityContext");
    const auto* sc = object_at(pod.in.container, "securityContext");
    std::optional<bool> non_root = sc ? bool_opt(*sc, "runAsNonRoot") : std::nullopt;
    if (!non_root && pod_sc) non_root = bool_opt(*pod_sc, "runAsNonRoot");
    if (!non_root.value_or(false)) return;
    std::optional<std::int64_t> user = sc ? int_opt(*sc, "runAsUser") : std::nullopt;
    if (!user && pod_sc) user = int_opt(*pod_sc, "runAsUser");
    const std::string container = string_at(pod.in.container, "name");
    const std::string where = "(pod: " + quote(pod.name + "_" + pod.ns + "(" + pod.uid + ")") +
                              ", container: " + container + ")";
    if (user) {
        if (*user == 0)
            throw ContainerConfigError("container's runAsUser breaks non-root policy " + where);
        return;
    }
    if (!pod.in.image_user) return;  // unknown: the runtime's business
    const std::string image_user = pod.in.image_user->substr(0, pod.in.image_user->find(':'));
    if (image_user.empty() || image_user.find_first_not_of("0123456789") == std::string::npos) {
        if (image_user.empty() || std::stoll(image_user) == 0) {
            throw ContainerConfigError("container has runAsNonRoot and image will run as root " +
                                       where);
        }
        return;
    }
    throw ContainerConfigError("container has runAsNonRoot and image has non-numeric user (" +
                               image_user + "), cannot verify user is non-root " + where);
}

bool is_init_container(const json::object& spec, const std::string& name) {
    if (const auto* inits = array_at(spec, "initContainers"))
        for (const auto& c : *inits)
            if (c.is_object() && string_at(c.as_object(), "name") == name) return true;
    return false;
}

}  // namespace

v1::ContainerConfig build_container_config(api::ResourceService& service,
                                           const ContainerInputs& in) {
    static const json::object kEmpty;
    const auto* spec_ptr = object_at(in.pod, "spec");
    PodContext pod{in,
                   api::meta_string(in.pod, "name"),
                   api::meta_string(in.pod, "namespace"),
                   api::meta_string(in.pod, "uid"),
                   spec_ptr ? *spec_ptr : kEmpty,
                   {}};
    if (!in.pod_ip.empty()) pod.pod_ips.push_back(in.pod_ip);
    if (const auto* status = object_at(in.pod, "status"))
        if (const auto* ips = array_at(*status, "podIPs"))
            for (const auto& entry : *ips)
                if (entry.is_object())
                    if (const std::string ip = string_at(entry.as_object(), "ip");
                        !ip.empty() && !in.pod_ip.empty() &&
                        std::find(pod.pod_ips.begin(), pod.pod_ips.end(), ip) == pod.pod_ips.end())
                        pod.pod_ips.push_back(ip);

    const json::object& container = in.container;
    const std::string name = string_at(container, "name");

    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_attempt(in.attempt);
    config.mutable_image()->set_image(in.image);

    const auto environment = make_environment(service, pod);
    std::map<std::string, std::string> env_map;
    for (const auto& [key, value] : environment) {
        env_map[key] = value;
        auto* kv = config.add_envs();
        kv->set_key(key);
        kv->set_value(value);
    }
    const Mapping mapping = mapping_for({&env_map});
    if (const auto* command = array_at(container, "command"))
        for (const auto& c : *command)
            if (c.is_string()) config.add_command(expand(c.as_string(), mapping));
    if (const auto* args = array_at(container, "args"))
        for (const auto& a : *args)
            if (a.is_string()) config.add_args(expand(a.as_string(), mapping));
    config.set_working_dir(string_at(container, "workingDir"));

    make_mounts(pod, env_map, config);

    auto& labels = *config.mutable_labels();
    labels[kPodNameLabel] = pod.name;
    labels[kPodNamespaceLabel] = pod.ns;
    labels[kPodUidLabel] = pod.uid;
    labels[kContainerNameLabel] = name;
    labels[kManagedLabel] = "true";

    auto& annotations = *config.mutable_annotations();
    // A hash of the container's spec, so a changed spec can be told from a restarted one
    // (upstream's is FNV of its own serialisation; only equality matters).
    annotations["io.kubernetes.container.hash"] =
        controllers::stable_hash(controllers::canonical_json(container));
    annotations[kRestartCountAnnotation] = std::to_string(in.attempt);
    std::string message_path = string_at(container, "terminationMessagePath");
    if (message_path.empty()) message_path = "/dev/termination-log";
    annotations[kTerminationMessagePathAnnotation] = message_path;
    std::string message_policy = string_at(container, "terminationMessagePolicy");
    if (message_policy.empty()) message_policy = "File";
    annotations["io.kubernetes.container.terminationMessagePolicy"] = message_policy;
    if (auto grace = int_opt(pod.spec, "terminationGracePeriodSeconds"))
        annotations["io.kubernetes.pod.terminationGracePeriod"] = std::to_string(*grace);
    if (is_init_container(pod.spec, name)) annotations[kInitContainerAnnotation] = "true";

    config.set_log_path(in.log_path);
    config.set_stdin(bool_opt(container, "stdin").value_or(false));
    config.set_stdin_once(bool_opt(container, "stdinOnce").value_or(false));
    config.set_tty(bool_opt(container, "tty").value_or(false));

    verify_run_as_non_root(pod);
    auto* linux = config.mutable_linux();
    set_resources(in.pod, pod.spec, container, *linux->mutable_resources());
    set_security(pod, *linux->mutable_security_context());
    return config;
}

std::string termination_message_file(const v1::ContainerStatus& status) {
    const auto it = status.annotations().find(kTerminationMessagePathAnnotation);
    if (it == status.annotations().end()) return {};
    for (const auto& mount : status.mounts())
        if (mount.container_path() == it->second) return mount.host_path();
    return {};
}

}  // namespace kcube::kubelet
