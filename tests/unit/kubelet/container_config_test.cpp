// Container specs made into CRI ContainerConfigs, against a real ResourceService on a scratch
// store: environment from every source with upstream's precedence and $(VAR) expansion, the
// error texts of CreateContainerConfigError, mounts (subPath, /etc/hosts, termination log),
// resources as cgroup numbers, and the security context. No containerd needed.
#include "cluster/kubelet/container_config.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "../test_support.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/service.hpp"
#include "cluster/store/store.hpp"
#include "common/base64.hpp"

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace kcube::kubelet;
namespace api = kcube::api;
namespace v1 = ::runtime::v1;

namespace {

struct Fixture {
    kcube::testing::TempDir dir;
    std::shared_ptr<api::ResourceService> service;
    KubeletPaths paths;
    std::unique_ptr<VolumeManager> volumes;

    Fixture() {
        std::shared_ptr<kcube::store::Store> store = kcube::store::open_sqlite_store(dir / "s.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        for (const char* ns : {"default", "demo"})
            create("namespaces", "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        paths.root = dir / "kubelet";
        volumes = std::make_unique<VolumeManager>(*service, paths, nullptr);
    }
    ~Fixture() {
        for (const auto& uid : volumes->pods_on_disk())
            volumes->teardown(uid);
    }

    const api::ResourceInfo& info(const std::string& plural) const {
        auto found = service->registry().find("", "v1", plural);
        REQUIRE(found);
        return *found;
    }
    json::object create(const std::string& plural, const std::string& ns, json::object object) {
        return service->create(info(plural), ns, std::move(object), {});
    }
    void configmap(const std::string& name, json::object data) {
        create("configmaps", "demo",
               {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}}},
                {"data", std::move(data)}});
    }
    void secret(const std::string& name, const json::object& plain) {
        json::object data;
        for (const auto& [k, v] : plain)
            data[k] = kcube::base64::encode(v.as_string());
        create("secrets", "demo",
               {{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", name}}},
                {"data", data}});
    }
    void service_object(const std::string& ns, const std::string& name, const std::string& ip,
                        json::array ports) {
        create("services", ns,
               {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", name}}},
                {"spec", {{"clusterIP", ip}, {"ports", std::move(ports)}}}});
    }

    // The config of container `index` of `pod`, its volumes set up first as the kubelet does.
    v1::ContainerConfig build(const json::object& pod, size_t index = 0,
                              const std::string& pod_ip = "10.244.0.7") {
        const PodVolumes vols = volumes->setup(pod);
        const auto& container = pod.at("spec").at("containers").at(index).as_object();
        ContainerInputs inputs{pod,      container, vols,        pod_ip,     "192.168.1.5",
                               "node-1", 2,         "app/2.log", "busybox:1"};
        return build_container_config(*service, inputs);
    }

    std::string error_of(const json::object& pod) {
        try {
            build(pod);
        } catch (const ContainerConfigError& e) {
            return e.what();
        }
        return "";
    }
};

json::object make_pod(json::object container, json::object extra_spec = {},
                      const std::string& uid = "uid-1") {
    container["name"] = "app";
    container["image"] = "busybox:1";
    json::object spec{{"nodeName", "node-1"},
                      {"serviceAccountName", "builder"},
                      {"containers", json::array{container}}};
    for (const auto& [k, v] : extra_spec)
        spec[k] = v;
    return json::object{{"metadata",
                         {{"name", "web"},
                          {"namespace", "demo"},
                          {"uid", uid},
                          {"labels", {{"app", "web"}}},
                          {"annotations", {{"owner", "team-a"}}}}},
                        {"spec", std::move(spec)},
                        {"status",
                         {{"podIPs", json::array{json::object{{"ip", "10.244.0.7"}},
                                                 json::object{{"ip", "fd00::7"}}}}}}};
}

std::map<std::string, std::string> env_of(const v1::ContainerConfig& config) {
    std::map<std::string, std::string> env;
    for (const auto& kv : config.envs())
        env[kv.key()] = kv.value();
    return env;
}

json::object env_var(const std::string& name, json::object value_from) {
    return json::object{{"name", name}, {"valueFrom", std::move(value_from)}};
}

const v1::Mount* mount_at(const v1::ContainerConfig& config, const std::string& path) {
    for (const auto& m : config.mounts())
        if (m.container_path() == path) return &m;
    return nullptr;
}

}  // namespace

TEST_CASE("environment: every source, upstream's precedence and $(VAR) expansion") {
    Fixture f;
    f.configmap("settings", {{"MODE", "fast"}, {"LEVEL", "3"}, {"1BAD", "x"}});
    f.secret("creds", {{"PASSWORD", "hunter2"}, {"TOKEN", "abc"}});
    f.service_object("default", "kubernetes", "10.96.0.1",
                     json::array{json::object{{"name", "https"}, {"port", 443}}});
    f.service_object(
        "demo", "my-db", "10.96.0.20",
        json::array{json::object{{"port", 5432}},
                    json::object{{"name", "metrics"}, {"port", 9187}, {"protocol", "UDP"}}});
    const auto pod = make_pod(
        {{"resources",
          {{"requests", {{"cpu", "250m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "1Gi"}}}}},
         {"envFrom",
          json::array{json::object{{"configMapRef", {{"name", "settings"}}}},
                      json::object{{"secretRef", {{"name", "creds"}}}, {"prefix", "S_"}},
                      json::object{{"configMapRef", {{"name", "gone"}, {"optional", true}}}}}},
         {"env",
          json::array{
              json::object{{"name", "LEVEL"}, {"value", "override"}},
              json::object{{"name", "GREETING"},
                           {"value", "$(MODE)-$(S_TOKEN)-$(NOPE)-$$(MODE)-$(MY_DB_SERVICE_HOST)"}},
              env_var("POD_NAME", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}),
              env_var("POD_NS", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}),
              env_var("POD_UID", {{"fieldRef", {{"fieldPath", "metadata.uid"}}}}),
              env_var("APP", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}),
              env_var("OWNER", {{"fieldRef", {{"fieldPath", "metadata.annotations['owner']"}}}}),
              env_var("NODE", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}),
              env_var("SA", {{"fieldRef", {{"fieldPath", "spec.serviceAccountName"}}}}),
              env_var("HOST_IP", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}),
              env_var("HOST_IPS", {{"fieldRef", {{"fieldPath", "status.hostIPs"}}}}),
              env_var("POD_IP", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}),
              env_var("POD_IPS", {{"fieldRef", {{"fieldPath", "status.podIPs"}}}}),
              env_var("CPU_M",
                      {{"resourceFieldRef", {{"resource", "requests.cpu"}, {"divisor", "1m"}}}}),
              env_var("CPU", {{"resourceFieldRef", {{"resource", "requests.cpu"}}}}),
              env_var("MEM_MI",
                      {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Mi"}}}}),
              env_var("MODE_AGAIN", {{"configMapKeyRef", {{"name", "settings"}, {"key", "MODE"}}}}),
              env_var("PASS", {{"secretKeyRef", {{"name", "creds"}, {"key", "PASSWORD"}}}}),
              env_var("MAYBE",
                      {{"secretKeyRef", {{"name", "creds"}, {"key", "NONE"}, {"optional", true}}}}),
              env_var("MAYBE_CM",
                      {{"configMapKeyRef", {{"name", "gone"}, {"key", "x"}, {"optional", true}}}}),
              json::object{{"name", "KUBERNETES_SERVICE_PORT"}, {"value", "mine"}}}},
         {"command", json::array{"sh", "-c", "echo $(GREETING) $(POD_NAME) $$(HOME) $(UNKNOWN)"}},
         {"args", json::array{"--level=$(LEVEL)"}}});
    const auto config = f.build(pod);
    const auto env = env_of(config);
    CHECK(env.at("MODE") == "fast");
    CHECK(env.at("LEVEL") == "override");
    CHECK_FALSE(env.contains("1BAD"));  // no valid variable name: skipped
    CHECK(env.at("S_PASSWORD") == "hunter2");
    CHECK(env.at("S_TOKEN") == "abc");
    CHECK(env.at("GREETING") == "fast-abc-$(NOPE)-$(MODE)-10.96.0.20");
    CHECK(env.at("POD_NAME") == "web");
    CHECK(env.at("POD_NS") == "demo");
    CHECK(env.at("POD_UID") == "uid-1");
    CHECK(env.at("APP") == "web");
    CHECK(env.at("OWNER") == "team-a");
    CHECK(env.at("NODE") == "node-1");
    CHECK(env.at("SA") == "builder");
    CHECK(env.at("HOST_IP") == "192.168.1.5");
    CHECK(env.at("HOST_IPS") == "192.168.1.5");
    CHECK(env.at("POD_IP") == "10.244.0.7");
    CHECK(env.at("POD_IPS") == "10.244.0.7,fd00::7");
    CHECK(env.at("CPU_M") == "250");
    CHECK(env.at("CPU") == "1");  // rounded up
    CHECK(env.at("MEM_MI") == "1024");
    CHECK(env.at("MODE_AGAIN") == "fast");
    CHECK(env.at("PASS") == "hunter2");
    CHECK_FALSE(env.contains("MAYBE"));
    CHECK_FALSE(env.contains("MAYBE_CM"));
    // Service links: the kubernetes Service always, the namespace's with enableServiceLinks.
    CHECK(env.at("KUBERNETES_SERVICE_HOST") == "10.96.0.1");
    CHECK(env.at("KUBERNETES_SERVICE_PORT") == "mine");  // the container's own wins
    CHECK(env.at("KUBERNETES_SERVICE_PORT_HTTPS") == "443");
    CHECK(env.at("KUBERNETES_PORT") == "tcp://10.96.0.1:443");
    CHECK(env.at("MY_DB_SERVICE_HOST") == "10.96.0.20");
    CHECK(env.at("MY_DB_SERVICE_PORT") == "5432");
    CHECK(env.at("MY_DB_SERVICE_PORT_METRICS") == "9187");
    CHECK(env.at("MY_DB_PORT") == "tcp://10.96.0.20:5432");
    CHECK(env.at("MY_DB_PORT_5432_TCP") == "tcp://10.96.0.20:5432");
    CHECK(env.at("MY_DB_PORT_5432_TCP_PROTO") == "tcp");
    CHECK(env.at("MY_DB_PORT_5432_TCP_PORT") == "5432");
    CHECK(env.at("MY_DB_PORT_5432_TCP_ADDR") == "10.96.0.20");
    CHECK(env.at("MY_DB_PORT_9187_UDP") == "udp://10.96.0.20:9187");
    // Declared variables first, in order; service variables last.
    std::map<std::string, int> position;
    for (int i = 0; i < config.envs_size(); ++i)
        position[config.envs(i).key()] = i;
    CHECK(position.at("S_TOKEN") < position.at("GREETING"));
    CHECK(position.at("GREETING") < position.at("POD_NAME"));
    CHECK(position.at("PASS") < position.at("MY_DB_SERVICE_HOST"));

    REQUIRE(config.command_size() == 3);
    CHECK(config.command(2) == "echo fast-abc-$(NOPE)-$(MODE)-10.96.0.20 web $(HOME) $(UNKNOWN)");
    CHECK(config.args(0) == "--level=override");

    auto no_links = pod;
    no_links["spec"].as_object()["enableServiceLinks"] = false;
    no_links["metadata"].as_object()["uid"] = "uid-2";
    const auto limited = env_of(f.build(no_links));
    CHECK(limited.contains("KUBERNETES_SERVICE_HOST"));
    CHECK_FALSE(limited.contains("MY_DB_SERVICE_HOST"));
}

TEST_CASE("environment: upstream's CreateContainerConfigError texts") {
    Fixture f;
    f.configmap("settings", {{"MODE", "fast"}});
    f.secret("creds", {{"PASSWORD", "x"}});
    auto with_env = [](json::object from) {
        return make_pod({{"env", json::array{env_var("X", std::move(from))}}});
    };
    CHECK(f.error_of(with_env({{"configMapKeyRef", {{"name", "nope"}, {"key", "a"}}}})) ==
          R"(configmap "nope" not found)");
    CHECK(f.error_of(with_env({{"configMapKeyRef", {{"name", "settings"}, {"key", "y"}}}})) ==
          "couldn't find key y in ConfigMap demo/settings");
    CHECK(f.error_of(with_env({{"secretKeyRef", {{"name", "nope"}, {"key", "a"}}}})) ==
          R"(secret "nope" not found)");
    CHECK(f.error_of(with_env({{"secretKeyRef", {{"name", "creds"}, {"key", "y"}}}})) ==
          "couldn't find key y in Secret demo/creds");
    CHECK(f.error_of(make_pod(
              {{"envFrom", json::array{json::object{{"configMapRef", {{"name", "nope"}}}}}}})) ==
          R"(configmap "nope" not found)");
    CHECK(f.error_of(make_pod(
              {{"envFrom", json::array{json::object{{"secretRef", {{"name", "nope"}}}}}}})) ==
          R"(secret "nope" not found)");
    CHECK(f.error_of(with_env({{"resourceFieldRef", {{"resource", "limits.gpu"}}}})) ==
          "unsupported container resource : limits.gpu");
}

TEST_CASE("mounts: volumes, read-only, subPath (escapes refused), /etc/hosts, termination log") {
    Fixture f;
    f.configmap("settings", {{"app.conf", "x=1"}});
    const json::array volumes{json::object{{"name", "scratch"}, {"emptyDir", json::object{}}},
                              json::object{{"name", "cfg"}, {"configMap", {{"name", "settings"}}}}};
    auto pod = make_pod(
        {{"env", json::array{json::object{{"name", "SUB"}, {"value", "logs"}}}},
         {"volumeMounts",
          json::array{
              json::object{{"name", "scratch"}, {"mountPath", "/data"}},
              json::object{{"name", "scratch"},
                           {"mountPath", "/work"},
                           {"subPath", "a/b"},
                           {"mountPropagation", "HostToContainer"}},
              json::object{{"name", "scratch"}, {"mountPath", "/logs"}, {"subPathExpr", "$(SUB)"}},
              json::object{{"name", "cfg"}, {"mountPath", "/etc/app"}},
              json::object{
                  {"name", "cfg"}, {"mountPath", "/etc/app.conf"}, {"subPath", "app.conf"}},
              json::object{{"name", "scratch"}, {"mountPath", "/ro"}, {"readOnly", true}}}},
         {"terminationMessagePath", "/tmp/done"}},
        {{"volumes", volumes},
         {"hostname", "web-0"},
         {"subdomain", "web"},
         {"hostAliases", json::array{json::object{{"ip", "10.0.0.9"},
                                                  {"hostnames", json::array{"db", "db.local"}}}}}});
    const auto config = f.build(pod);
    const stdfs::path pod_dir = f.paths.pod_dir("uid-1");
    const stdfs::path scratch = f.paths.volume_dir("uid-1", "empty-dir", "scratch");

    const auto* data = mount_at(config, "/data");
    REQUIRE(data);
    CHECK(data->host_path() == scratch.string());
    CHECK_FALSE(data->readonly());
    CHECK(data->propagation() == v1::PROPAGATION_PRIVATE);
    const auto* work = mount_at(config, "/work");
    REQUIRE(work);
    CHECK(work->host_path() == (pod_dir / "volume-subpaths/scratch/app/1").string());
    CHECK(work->propagation() == v1::PROPAGATION_HOST_TO_CONTAINER);
    CHECK(stdfs::is_directory(scratch / "a/b"));
    const auto* logs = mount_at(config, "/logs");
    REQUIRE(logs);
    CHECK(stdfs::is_directory(scratch / "logs"));
    const auto* app = mount_at(config, "/etc/app");
    REQUIRE(app);
    CHECK(app->readonly());  // configMap volumes are read-only
    const auto* conf = mount_at(config, "/etc/app.conf");
    REQUIRE(conf);
    {
        std::ifstream in(conf->host_path());
        std::string text;
        std::getline(in, text);
        CHECK(text == "x=1");
    }
    CHECK(mount_at(config, "/ro")->readonly());

    const auto* hosts = mount_at(config, "/etc/hosts");
    REQUIRE(hosts);
    CHECK(hosts->host_path() == (pod_dir / "etc-hosts").string());
    std::ifstream hosts_in(hosts->host_path());
    const std::string hosts_text((std::istreambuf_iterator<char>(hosts_in)),
                                 std::istreambuf_iterator<char>());
    CHECK(hosts_text ==
          "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
          "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
          "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
          "10.244.0.7\tweb-0.web.demo.svc.cluster.local\tweb-0\n"
          "fd00::7\tweb-0.web.demo.svc.cluster.local\tweb-0\n"
          "\n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n");

    const auto* termination = mount_at(config, "/tmp/done");
    REQUIRE(termination);
    CHECK(stdfs::path(termination->host_path()).parent_path() == pod_dir / "containers/app");
    struct stat st {};
    REQUIRE(::stat(termination->host_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0666);
    v1::ContainerStatus status;
    (*status.mutable_annotations())[kTerminationMessagePathAnnotation] =
        config.annotations().at(kTerminationMessagePathAnnotation);
    *status.add_mounts() = *termination;
    CHECK(termination_message_file(status) == termination->host_path());

    // No pod IP yet: no /etc/hosts (upstream waits for the sandbox's IP).
    auto no_ip = pod;
    no_ip["metadata"].as_object()["uid"] = "uid-2";
    no_ip.erase("status");
    CHECK_FALSE(mount_at(f.build(no_ip, 0, ""), "/etc/hosts"));

    // Refused subPaths.
    auto sub = [&](const std::string& path, const std::string& uid) {
        auto p = make_pod(
            {{"volumeMounts", json::array{json::object{
                                  {"name", "scratch"}, {"mountPath", "/x"}, {"subPath", path}}}}},
            {{"volumes", volumes}}, uid);
        return f.error_of(p);
    };
    CHECK(sub("../etc", "uid-3") == "unable to provision SubPath `../etc`: must not contain '..'");
    CHECK(sub("/etc", "uid-4") == "error SubPath `/etc` must not be an absolute path");
    stdfs::create_directories(f.paths.volume_dir("uid-5", "empty-dir", "scratch"));
    stdfs::create_directory_symlink("/etc",
                                    f.paths.volume_dir("uid-5", "empty-dir", "scratch") / "evil");
    CHECK(sub("evil", "uid-5") ==
          R"(failed to prepare subPath for volumeMount "scratch" of container "app")");
    CHECK(sub("evil/new", "uid-5") ==
          R"(failed to create subPath directory for volumeMount "scratch" of container "app")");
    CHECK_FALSE(stdfs::exists("/etc/new"));
    auto missing = make_pod(
        {{"volumeMounts", json::array{json::object{{"name", "nope"}, {"mountPath", "/x"}}}}}, {},
        "uid-6");
    CHECK(f.error_of(missing) == R"(cannot find volume "nope" to mount into container "app")");
}

TEST_CASE("resources: cgroup numbers and OOM score by QoS") {
    Fixture f;
    auto config_for = [&](json::object resources, const std::string& uid) {
        return f.build(make_pod({{"resources", std::move(resources)}}, {}, uid))
            .linux()
            .resources();
    };
    const auto burstable = config_for({{"requests", {{"cpu", "250m"}, {"memory", "64Mi"}}},
                                       {"limits", {{"cpu", "500m"}, {"memory", "128Mi"}}}},
                                      "uid-1");
    CHECK(burstable.cpu_shares() == 256);
    CHECK(burstable.cpu_period() == 100000);
    CHECK(burstable.cpu_quota() == 50000);
    CHECK(burstable.memory_limit_in_bytes() == 128 * 1024 * 1024);
    const std::int64_t capacity = static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) *
                                  static_cast<std::int64_t>(::sysconf(_SC_PAGE_SIZE));
    std::int64_t expected = 1000 - (std::int64_t{1000} * 64 * 1024 * 1024) / capacity;
    if (expected == 1000) expected = 999;
    CHECK(burstable.oom_score_adj() == std::max<std::int64_t>(3, expected));

    const auto best_effort = config_for(json::object{}, "uid-2");
    CHECK(best_effort.cpu_shares() == 2);
    CHECK(best_effort.cpu_quota() == 0);
    CHECK(best_effort.memory_limit_in_bytes() == 0);
    CHECK(best_effort.oom_score_adj() == 1000);

    const auto guaranteed = config_for({{"requests", {{"cpu", "2"}, {"memory", "1Gi"}}},
                                        {"limits", {{"cpu", "2"}, {"memory", "1Gi"}}}},
                                       "uid-3");
    CHECK(guaranteed.cpu_shares() == 2048);
    CHECK(guaranteed.cpu_quota() == 200000);
    CHECK(guaranteed.oom_score_adj() == -997);

    // A limit alone: shares follow it; a tiny limit still gets upstream's 1 ms minimum quota.
    const auto limit_only = config_for({{"limits", {{"cpu", "5m"}}}}, "uid-4");
    CHECK(limit_only.cpu_shares() == 5);
    CHECK(limit_only.cpu_quota() == 1000);
}

TEST_CASE("security context, namespaces, labels and annotations") {
    Fixture f;
    const auto pod = make_pod(
        {{"securityContext",
          {{"runAsGroup", 3000},
           {"privileged", true},
           {"readOnlyRootFilesystem", true},
           {"allowPrivilegeEscalation", false},
           {"capabilities", {{"add", json::array{"NET_ADMIN"}}, {"drop", json::array{"ALL"}}}},
           {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
         {"stdin", true},
         {"tty", true},
         {"workingDir", "/srv"}},
        {{"securityContext",
          {{"runAsUser", 1000},
           {"runAsGroup", 1},
           {"fsGroup", 2000},
           {"supplementalGroups", json::array{4, 5}}}},
         {"hostNetwork", true},
         {"shareProcessNamespace", true},
         {"terminationGracePeriodSeconds", 45}});
    const auto config = f.build(pod);
    CHECK(config.metadata().name() == "app");
    CHECK(config.metadata().attempt() == 2);
    CHECK(config.image().image() == "busybox:1");
    CHECK(config.working_dir() == "/srv");
    CHECK(config.log_path() == "app/2.log");
    CHECK(config.stdin());
    CHECK_FALSE(config.stdin_once());
    CHECK(config.tty());
    const auto& sc = config.linux().security_context();
    CHECK(sc.run_as_user().value() == 1000);   // the pod's
    CHECK(sc.run_as_group().value() == 3000);  // the container's wins
    CHECK(sc.privileged());
    CHECK(sc.readonly_rootfs());
    CHECK(sc.no_new_privs());
    REQUIRE(sc.capabilities().add_capabilities_size() == 1);
    CHECK(sc.capabilities().add_capabilities(0) == "NET_ADMIN");
    CHECK(sc.capabilities().drop_capabilities(0) == "ALL");
    REQUIRE(sc.supplemental_groups_size() == 3);
    CHECK(sc.supplemental_groups(0) == 2000);
    CHECK(sc.supplemental_groups(1) == 4);
    CHECK(sc.namespace_options().network() == v1::NODE);
    CHECK(sc.namespace_options().pid() == v1::POD);
    CHECK(sc.namespace_options().ipc() == v1::POD);
    CHECK(sc.seccomp().profile_type() == v1::SecurityProfile::RuntimeDefault);
    CHECK(sc.masked_paths_size() == 9);
    CHECK(sc.readonly_paths_size() == 6);

    CHECK(config.labels().at("io.kubernetes.pod.name") == "web");
    CHECK(config.labels().at("io.kubernetes.pod.namespace") == "demo");
    CHECK(config.labels().at("io.kubernetes.pod.uid") == "uid-1");
    CHECK(config.labels().at("io.kubernetes.container.name") == "app");
    CHECK(config.annotations().at("io.kubernetes.container.restartCount") == "2");
    CHECK(config.annotations().at("io.kubernetes.container.terminationMessagePath") ==
          "/dev/termination-log");
    CHECK(config.annotations().at("io.kubernetes.container.terminationMessagePolicy") == "File");
    CHECK(config.annotations().at("io.kubernetes.pod.terminationGracePeriod") == "45");
    CHECK_FALSE(config.annotations().at("io.kubernetes.container.hash").empty());

    // Defaults: no user (the image's), the container's PID namespace, Unconfined seccomp, and
    // no no_new_privs unless asked.
    const auto plain = f.build(make_pod({}, {{"hostPID", false}, {"hostIPC", true}}, "uid-2"));
    const auto& d = plain.linux().security_context();
    CHECK_FALSE(d.has_run_as_user());
    CHECK_FALSE(d.privileged());
    CHECK_FALSE(d.no_new_privs());
    CHECK(d.namespace_options().network() == v1::POD);
    CHECK(d.namespace_options().pid() == v1::CONTAINER);
    CHECK(d.namespace_options().ipc() == v1::NODE);
    CHECK(d.seccomp().profile_type() == v1::SecurityProfile::Unconfined);
    const auto host_pid = f.build(make_pod({}, {{"hostPID", true}}, "uid-3"));
    CHECK(host_pid.linux().security_context().namespace_options().pid() == v1::NODE);
}

TEST_CASE("runAsNonRoot: refused for root, checked against the image's user") {
    Fixture f;
    const json::object non_root{{"runAsNonRoot", true}};
    auto pod = make_pod({{"securityContext", {{"runAsNonRoot", true}, {"runAsUser", 0}}}});
    CHECK(f.error_of(pod) ==
          "container's runAsUser breaks non-root policy (pod: "
          "\"web_demo(uid-1)\", container: app)");
    auto with_image_user = [&](std::optional<std::string> user, const std::string& uid) {
        const auto p = make_pod({{"securityContext", non_root}}, {}, uid);
        const PodVolumes vols = f.volumes->setup(p);
        ContainerInputs inputs{p,          p.at("spec").at("containers").at(0).as_object(),
                               vols,       "",
                               "",         "node-1",
                               0,          "app/0.log",
                               "busybox:1"};
        inputs.image_user = std::move(user);
        try {
            build_container_config(*f.service, inputs);
        } catch (const ContainerConfigError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(with_image_user("", "uid-2") ==
          "container has runAsNonRoot and image will run as root (pod: \"web_demo(uid-2)\", "
          "container: app)");
    CHECK(with_image_user("0:0", "uid-3").find("image will run as root") != std::string::npos);
    CHECK(with_image_user("nobody", "uid-4") ==
          "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user "
          "is non-root (pod: \"web_demo(uid-4)\", container: app)");
    CHECK(with_image_user("1000:1000", "uid-5").empty());
    CHECK(with_image_user(std::nullopt, "uid-6").empty());
}
