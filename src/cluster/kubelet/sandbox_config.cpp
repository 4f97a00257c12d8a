#include "cluster/kubelet/sandbox_config.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/pod_runtime.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
using controllers::array_at;
using controllers::bool_at;
using controllers::object_at;
using controllers::string_at;

namespace {

struct ResolvConf {
    std::vector<std::string> servers, searches;
};

ResolvConf read_resolv_conf(const std::filesystem::path& path) {
    ResolvConf conf;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        words >> key;
        if (key == "nameserver" && words >> value) conf.servers.push_back(value);
        if (key == "search") {
            conf.searches.clear();
            while (words >> value)
                conf.searches.push_back(value);
        }
    }
    return conf;
}

bool is_loopback(const std::string& address) {
    return address.rfind("127.", 0) == 0 || address == "::1";
}

// dnsConfig (servers, searches, options) merged onto a base as upstream does.
void merge_dns_config(const json::object* dns_config, cri::v1::DNSConfig& out) {
    if (!dns_config) return;
    if (auto* servers = array_at(*dns_config, "nameservers"))
        for (const auto& s : *servers)
            if (s.is_string()) out.add_servers(std::string(s.as_string()));
    if (auto* searches = array_at(*dns_config, "searches"))
        for (const auto& s : *searches)
            if (s.is_string()) out.add_searches(std::string(s.as_string()));
    if (auto* options = array_at(*dns_config, "options")) {
        for (const auto& o : *options) {
            if (!o.is_object()) continue;
            std::string option = string_at(o.as_object(), "name");
            const std::string value = string_at(o.as_object(), "value");
            if (!value.empty()) option += ":" + value;
            if (!option.empty()) out.add_options(option);
        }
    }
}

}  // namespace

bool pod_host_network(const json::object& pod) {
    const auto* spec = object_at(pod, "spec");
    return spec && bool_at(*spec, "hostNetwork");
}

DnsSettings host_dns_settings(const std::filesystem::path& resolv_conf) {
    DnsSettings settings;
    auto conf = read_resolv_conf(resolv_conf);
    bool only_loopback = !conf.servers.empty();
    for (const auto& s : conf.servers)
        only_loopback = only_loopback && is_loopback(s);
    if (only_loopback) {
        auto resolved = read_resolv_conf("/run/systemd/resolve/resolv.conf");
        if (!resolved.servers.empty()) conf.servers = resolved.servers;
    }
    std::erase_if(conf.servers, is_loopback);
    settings.host_servers = conf.servers;
    settings.host_searches = conf.searches;
    return settings;
}

cri::v1::PodSandboxConfig build_sandbox_config(const json::object& pod, std::uint32_t attempt,
                                               const std::string& log_directory,
                                               const DnsSettings& dns) {
    const std::string name = api::meta_string(pod, "name");
    const std::string ns = api::meta_string(pod, "namespace");
    const std::string uid = api::meta_string(pod, "uid");
    static const json::object kEmpty;
    const auto* spec_ptr = object_at(pod, "spec");
    const json::object& spec = spec_ptr ? *spec_ptr : kEmpty;
    const bool host_network = bool_at(spec, "hostNetwork");

    cri::v1::PodSandboxConfig config;
    auto* metadata = config.mutable_metadata();
    metadata->set_name(name);
    metadata->set_namespace_(ns);
    metadata->set_uid(uid);
    metadata->set_attempt(attempt);
    config.set_log_directory(log_directory);

    auto& labels = *config.mutable_labels();
    if (const auto* meta = object_at(pod, "metadata")) {
        if (const auto* pod_labels = object_at(*meta, "labels"))
            for (const auto& [k, v] : *pod_labels)
                if (v.is_string()) labels[std::string(k)] = std::string(v.as_string());
        if (const auto* annotations = object_at(*meta, "annotations"))
            for (const auto& [k, v] : *annotations)
                if (v.is_string())
                    (*config.mutable_annotations())[std::string(k)] = std::string(v.as_string());
    }
    labels[kPodNameLabel] = name;
    labels[kPodNamespaceLabel] = ns;
    labels[kPodUidLabel] = uid;
    labels[kManagedLabel] = "true";

    // Hostname: spec.hostname or the pod name (a host-network pod keeps the node's).
    if (!host_network) {
        std::string hostname = string_at(spec, "hostname");
        if (hostname.empty()) hostname = name;
        if (hostname.size() > 63) hostname.resize(63);
        while (!hostname.empty() && (hostname.back() == '-' || hostname.back() == '.'))
            hostname.pop_back();
        config.set_hostname(hostname);
    }

    // DNS by dnsPolicy (default ClusterFirst; hostNetwork pods need ClusterFirstWithHostNet
    // for the cluster's resolver).
    std::string policy = string_at(spec, "dnsPolicy");
    if (policy.empty()) policy = "ClusterFirst";
    if (policy == "ClusterFirst" && host_network) policy = "Default";
    if (policy == "ClusterFirstWithHostNet") policy = "ClusterFirst";
    if (policy == "ClusterFirst" && dns.cluster_dns.empty()) policy = "Default";
    auto* dns_config = config.mutable_dns_config();
    if (policy == "ClusterFirst") {
        dns_config->add_servers(dns.cluster_dns);
        dns_config->add_searches(ns + ".svc." + dns.cluster_domain);
        dns_config->add_searches("svc." + dns.cluster_domain);
        dns_config->add_searches(dns.cluster_domain);
        for (const auto& s : dns.host_searches)
            dns_config->add_searches(s);
        dns_config->add_options("ndots:5");
    } else if (policy == "Default") {
        for (const auto& s : dns.host_servers)
            dns_config->add_servers(s);
        for (const auto& s : dns.host_searches)
            dns_config->add_searches(s);
    }
    merge_dns_config(object_at(spec, "dnsConfig"), *dns_config);

    // Host ports of every container.
    for (const char* list : {"initContainers", "containers"}) {
        const auto* containers = array_at(spec, list);
        if (!containers) continue;
        for (const auto& c : *containers) {
            const auto* ports = c.is_object() ? array_at(c.as_object(), "ports") : nullptr;
            if (!ports) continue;
            for (const auto& p : *ports) {
                if (!p.is_object()) continue;
                const auto& port = p.as_object();
                const auto host_port = controllers::int_at(port, "hostPort", 0);
                if (host_port <= 0) continue;
                auto* mapping = config.add_port_mappings();
                const std::string protocol = string_at(port, "protocol");
                mapping->set_protocol(protocol == "UDP"    ? cri::v1::UDP
                                      : protocol == "SCTP" ? cri::v1::SCTP
                                                           : cri::v1::TCP);
                mapping->set_container_port(
                    static_cast<std::int32_t>(controllers::int_at(port, "containerPort", 0)));
                mapping->set_host_port(static_cast<std::int32_t>(host_port));
                mapping->set_host_ip(string_at(port, "hostIP"));
            }
        }
    }

    auto* linux = config.mutable_linux();
    auto* security = linux->mutable_security_context();
    auto* namespaces = security->mutable_namespace_options();
    namespaces->set_network(host_network ? cri::v1::NODE : cri::v1::POD);
    namespaces->set_pid(bool_at(spec, "hostPID") ? cri::v1::NODE : cri::v1::CONTAINER);
    namespaces->set_ipc(bool_at(spec, "hostIPC") ? cri::v1::NODE : cri::v1::POD);
    if (const auto* pod_security = object_at(spec, "securityContext")) {
        if (pod_security->contains("runAsUser"))
            security->mutable_run_as_user()->set_value(
                controllers::int_at(*pod_security, "runAsUser", 0));
        if (pod_security->contains("runAsGroup"))
            security->mutable_run_as_group()->set_value(
                controllers::int_at(*pod_security, "runAsGroup", 0));
        if (const auto* groups = array_at(*pod_security, "supplementalGroups"))
            for (const auto& g : *groups)
                if (g.is_int64()) security->add_supplemental_groups(g.as_int64());
        if (pod_security->contains("fsGroup"))
            security->add_supplemental_groups(controllers::int_at(*pod_security, "fsGroup", 0));
        if (const auto* sysctls = array_at(*pod_security, "sysctls"))
            for (const auto& s : *sysctls)
                if (s.is_object())
                    (*linux->mutable_sysctls())[string_at(s.as_object(), "name")] =
                        string_at(s.as_object(), "value");
    }
    return config;
}

}  // namespace kcube::kubelet
