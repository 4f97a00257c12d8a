// The kubelet's volumes against a real API machinery (ResourceService on a scratch SQLite store)
// and the real file system: the atomic writer's ..data swap, token refresh, downward-API files,
// tmpfs mounts (root), hostPath types, PVCs, upstream's FailedMount texts, and the
// ServiceAccount admission's token volume. No containerd needed.
#include "cluster/kubelet/volumes.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/service.hpp"
#include "cluster/store/store.hpp"
#include "common/base64.hpp"

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace kcube::kubelet;
namespace api = kcube::api;

namespace {

// The node's API machinery on a scratch store, a kubelet root, and a token issuer that counts
// its calls and hands out whatever lifetime the test asks for.
struct Fixture {
    kcube::testing::TempDir dir;
    std::shared_ptr<api::ResourceService> service;
    KubeletPaths paths;
    int token_calls = 0;
    json::object last_request;
    std::string last_account, last_namespace;
    std::chrono::seconds token_remaining{3600};  // until expiry, from now
    std::unique_ptr<VolumeManager> volumes;

    Fixture() {
        std::shared_ptr<kcube::store::Store> store = kcube::store::open_sqlite_store(dir / "s.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        for (const char* ns : {"default", "demo"})
            create("namespaces", "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        paths.root = dir / "kubelet";
        volumes = std::make_unique<VolumeManager>(
            *service, paths,
            [this](const std::string& ns, const std::string& account, json::object request) {
                ++token_calls;
                last_request = request;
                last_account = account;
                last_namespace = ns;
                const auto expires = std::chrono::system_clock::now() + token_remaining;
                request["status"] =
                    json::object{{"token", "token-" + std::to_string(token_calls)},
                                 {"expirationTimestamp", api::format_time(expires)}};
                return request;
            });
    }

    ~Fixture() {
        // Unmount whatever a failed check left mounted before the scratch dir goes.
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

    void configmap(const std::string& name, json::object data, const std::string& ns = "demo") {
        json::object cm{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", name}}},
                        {"data", std::move(data)}};
        try {
            auto existing = service->get(info("configmaps"), ns, name);
            existing["data"] = cm["data"];
            service->update(info("configmaps"), ns, name, existing, {});
        } catch (const api::ApiError&) {
            create("configmaps", ns, cm);
        }
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
};

json::object pod_with(json::array volumes, const std::string& uid = "uid-1",
                      json::object extra_spec = {}) {
    json::object spec{{"nodeName", "node-1"},
                      {"serviceAccountName", "builder"},
                      {"containers", json::array{json::object{
                                         {"name", "app"},
                                         {"image", "busybox"},
                                         {"resources",
                                          {{"requests", {{"cpu", "250m"}, {"memory", "64Mi"}}},
                                           {"limits", {{"memory", "128Mi"}}}}}}}},
                      {"volumes", std::move(volumes)}};
    for (const auto& [k, v] : extra_spec)
        spec[k] = v;
    return json::object{{"metadata",
                         {{"name", "web"},
                          {"namespace", "demo"},
                          {"uid", uid},
                          {"labels", {{"app", "web"}, {"tier", "front\"end"}}},
                          {"annotations", {{"note", "hello"}}}}},
                        {"spec", std::move(spec)}};
}

std::string read(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

mode_t mode_of(const stdfs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool mounted(const stdfs::path& path) {
    std::ifstream in("/proc/self/mountinfo");
    const std::string wanted = stdfs::canonical(path).string();
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string a, b, c, d, point;
        fields >> a >> b >> c >> d >> point;
        if (point == wanted) return true;
    }
    return false;
}

std::string setup_error(VolumeManager& volumes, const json::object& pod) {
    try {
        volumes.setup(pod);
    } catch (const VolumeError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("configMap volume: files through ..data, rewritten atomically only when changed") {
    Fixture f;
    f.configmap("app", {{"a", "1"}, {"b", "2"}});
    const auto pod =
        pod_with(json::array{json::object{{"name", "cfg"}, {"configMap", {{"name", "app"}}}}});
    const PodVolumes first = f.volumes->setup(pod);
    REQUIRE(first.by_name.contains("cfg"));
    const stdfs::path dir = first.by_name.at("cfg").host_path;
    CHECK(dir == f.paths.volume_dir("uid-1", "configmap", "cfg"));
    CHECK(first.by_name.at("cfg").read_only);
    CHECK(first.pod_dir == f.paths.pod_dir("uid-1"));
    CHECK(read(dir / "a") == "1");
    CHECK(read(dir / "b") == "2");
    CHECK(stdfs::read_symlink(dir / "a") == "..data/a");
    const stdfs::path ts1 = stdfs::read_symlink(dir / "..data");
    CHECK(ts1.string().rfind("..20", 0) == 0);
    CHECK(mode_of(dir / ts1 / "a") == 0644);
    CHECK(mode_of(dir / ts1) == 0755);

    // Same contents: nothing rewritten.
    f.volumes->setup(pod);
    CHECK(stdfs::read_symlink(dir / "..data") == ts1);

    // An update swaps ..data to a new directory, drops the removed key and the old directory.
    f.configmap("app", {{"a", "changed"}, {"c", "3"}});
    f.volumes->setup(pod);
    const stdfs::path ts2 = stdfs::read_symlink(dir / "..data");
    CHECK(ts2 != ts1);
    CHECK(read(dir / "a") == "changed");
    CHECK(read(dir / "c") == "3");
    CHECK_FALSE(stdfs::exists(stdfs::symlink_status(dir / "b")));
    CHECK_FALSE(stdfs::exists(dir / ts1));
    CHECK_FALSE(stdfs::exists(stdfs::symlink_status(dir / "..data_tmp")));
}

TEST_CASE("configMap volume: items, modes, optional and upstream's errors") {
    Fixture f;
    f.configmap("app", {{"a", "1"}, {"b", "2"}});
    const auto items = pod_with(json::array{json::object{
        {"name", "cfg"},
        {"configMap",
         {{"name", "app"},
          {"defaultMode", 0600},
          {"items", json::array{json::object{{"key", "a"}, {"path", "conf/a.txt"}},
                                json::object{{"key", "b"}, {"path", "b"}, {"mode", 0400}}}}}}}});
    const stdfs::path dir = f.volumes->setup(items).by_name.at("cfg").host_path;
    CHECK(read(dir / "conf/a.txt") == "1");
    CHECK(stdfs::read_symlink(dir / "conf") == "..data/conf");
    CHECK(mode_of(dir / "conf/a.txt") == 0600);
    CHECK(mode_of(dir / "b") == 0400);

    CHECK(setup_error(*f.volumes,
                      pod_with(json::array{json::object{{"name", "cfg"},
                                                        {"configMap", {{"name", "missing"}}}}},
                               "uid-2")) ==
          R"(MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found)");
    CHECK(
        setup_error(
            *f.volumes,
            pod_with(json::array{json::object{
                         {"name", "cfg"},
                         {"configMap",
                          {{"name", "app"},
                           {"items", json::array{json::object{{"key", "nope"}, {"path", "x"}}}}}}}},
                     "uid-3")) ==
        R"(MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: nope)");
    // Optional: a missing ConfigMap is an empty volume.
    const auto optional =
        pod_with(json::array{json::object{
                     {"name", "cfg"}, {"configMap", {{"name", "missing"}, {"optional", true}}}}},
                 "uid-4");
    const stdfs::path empty = f.volumes->setup(optional).by_name.at("cfg").host_path;
    CHECK(stdfs::is_symlink(empty / "..data"));
}

TEST_CASE("secret volume: decoded data on a tmpfs, modes, fsGroup, missing secret") {
    Fixture f;
    f.secret("creds", {{"user", "admin"}, {"pass", "s3cr3t\n"}});
    const auto pod = pod_with(
        json::array{json::object{{"name", "sec"},
                                 {"secret", {{"secretName", "creds"}, {"defaultMode", 0400}}}}},
        "uid-1", {{"securityContext", {{"fsGroup", 2000}}}});
    const stdfs::path dir = f.volumes->setup(pod).by_name.at("sec").host_path;
    CHECK(dir == f.paths.volume_dir("uid-1", "secret", "sec"));
    CHECK(mounted(dir));  // secrets never touch the node's disk
    CHECK(read(dir / "user") == "admin");
    CHECK(read(dir / "pass") == "s3cr3t\n");
    // fsGroup: the group may read (0400 | 0440) and owns the file.
    CHECK(mode_of(dir / "user") == 0440);
    struct stat st {};
    REQUIRE(::stat((dir / "user").c_str(), &st) == 0);
    CHECK(st.st_gid == 2000);

    CHECK(setup_error(*f.volumes,
                      pod_with(json::array{json::object{{"name", "sec"},
                                                        {"secret", {{"secretName", "nope"}}}}},
                               "uid-2")) ==
          R"(MountVolume.SetUp failed for volume "sec" : secret "nope" not found)");

    f.volumes->teardown("uid-1");
    CHECK_FALSE(stdfs::exists(f.paths.pod_dir("uid-1")));
    f.volumes->teardown("uid-1");  // twice is fine
}

TEST_CASE("projected volume: token requested, reused, refreshed past 80% of its lifetime") {
    Fixture f;
    f.configmap("kube-root-ca.crt", {{"ca.crt", "PEM"}});
    const auto pod = pod_with(json::array{json::object{
        {"name", "api"},
        {"projected",
         {{"defaultMode", 420},
          {"sources",
           json::array{
               json::object{
                   {"serviceAccountToken",
                    {{"audience", "vault"}, {"expirationSeconds", 3600}, {"path", "token"}}}},
               json::object{
                   {"configMap",
                    {{"name", "kube-root-ca.crt"},
                     {"items", json::array{json::object{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
               json::object{
                   {"downwardAPI",
                    {{"items", json::array{json::object{
                                   {"path", "namespace"},
                                   {"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}}}}}}}}}}});
    // The first token is already past 80% of its hour.
    f.token_remaining = std::chrono::seconds(100);
    const stdfs::path dir = f.volumes->setup(pod).by_name.at("api").host_path;
    CHECK(mounted(dir));
    CHECK(read(dir / "token") == "token-1");
    CHECK(read(dir / "ca.crt") == "PEM");
    CHECK(read(dir / "namespace") == "demo");
    CHECK(mode_of(dir / "token") == 0644);
    CHECK(f.token_calls == 1);
    CHECK(f.last_account == "builder");
    CHECK(f.last_namespace == "demo");
    const auto& spec = f.last_request.at("spec").as_object();
    CHECK(spec.at("expirationSeconds").as_int64() == 3600);
    CHECK(json::serialize(spec.at("audiences")) == R"(["vault"])");
    CHECK(spec.at("boundObjectRef").at("kind") == "Pod");
    CHECK(spec.at("boundObjectRef").at("name") == "web");
    CHECK(spec.at("boundObjectRef").at("uid") == "uid-1");

    // The next sync refreshes it, and the file changes atomically.
    f.token_remaining = std::chrono::seconds(3600);
    const stdfs::path before = stdfs::read_symlink(dir / "..data");
    f.volumes->setup(pod);
    CHECK(f.token_calls == 2);
    CHECK(read(dir / "token") == "token-2");
    CHECK(stdfs::read_symlink(dir / "..data") != before);

    // A fresh token is reused: no request, no rewrite.
    const stdfs::path fresh = stdfs::read_symlink(dir / "..data");
    f.volumes->setup(pod);
    CHECK(f.token_calls == 2);
    CHECK(stdfs::read_symlink(dir / "..data") == fresh);

    // Teardown forgets the pod's tokens.
    f.volumes->teardown("uid-1");
    f.volumes->setup(pod);
    CHECK(f.token_calls == 3);
}

TEST_CASE("projected volume: several failing sources are reported together") {
    Fixture f;
    const auto pod = pod_with(json::array{
        json::object{{"name", "api"},
                     {"projected",
                      {{"sources", json::array{json::object{{"configMap", {{"name", "one"}}}},
                                               json::object{{"secret", {{"name", "two"}}}}}}}}}});
    CHECK(
        setup_error(*f.volumes, pod) ==
        R"(MountVolume.SetUp failed for volume "api" : [configmap "one" not found, secret "two" not found])");
}

TEST_CASE("downwardAPI volume: metadata fields and resources, node allocatable for unset limits") {
    Fixture f;
    f.create("nodes", "",
             {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "node-1"}}}});
    {
        auto node = f.service->get(f.info("nodes"), "", "node-1");
        node["status"] = json::object{{"allocatable", {{"cpu", "3"}, {"memory", "8Gi"}}}};
        f.service->update(f.info("nodes"), "", "node-1", node, {}, "status");
    }
    auto item = [](const std::string& path, json::object ref, bool resource = false) {
        return json::object{{"path", path}, {resource ? "resourceFieldRef" : "fieldRef", ref}};
    };
    const auto pod = pod_with(json::array{json::object{
        {"name", "info"},
        {"downwardAPI",
         {{"items",
           json::array{
               item("name", {{"fieldPath", "metadata.name"}}),
               item("uid", {{"fieldPath", "metadata.uid"}}),
               item("labels", {{"fieldPath", "metadata.labels"}}),
               item("note", {{"fieldPath", "metadata.annotations['note']"}}),
               item("cpu_request",
                    {{"containerName", "app"}, {"resource", "requests.cpu"}, {"divisor", "1m"}},
                    true),
               item("mem_limit",
                    {{"containerName", "app"}, {"resource", "limits.memory"}, {"divisor", "1Mi"}},
                    true),
               item("cpu_limit", {{"containerName", "app"}, {"resource", "limits.cpu"}},
                    true)}}}}}});
    const stdfs::path dir = f.volumes->setup(pod).by_name.at("info").host_path;
    CHECK(dir == f.paths.volume_dir("uid-1", "downward-api", "info"));
    CHECK(read(dir / "name") == "web");
    CHECK(read(dir / "uid") == "uid-1");
    CHECK(read(dir / "labels") == "app=\"web\"\ntier=\"front\\\"end\"");
    CHECK(read(dir / "note") == "hello");
    CHECK(read(dir / "cpu_request") == "250");
    CHECK(read(dir / "mem_limit") == "128");
    CHECK(read(dir / "cpu_limit") == "3");  // unset: the node's allocatable

    const auto bad =
        pod_with(json::array{json::object{
                     {"name", "info"},
                     {"downwardAPI",
                      {{"items", json::array{item("x", {{"fieldPath", "spec.nodeName"}})}}}}}},
                 "uid-2");
    CHECK(setup_error(*f.volumes, bad) ==
          R"(MountVolume.SetUp failed for volume "info" : unsupported fieldPath: spec.nodeName)");
}

TEST_CASE("emptyDir: a 0777 directory, or a sized tmpfs for medium Memory, unmounted by teardown") {
    Fixture f;
    const auto pod = pod_with(
        json::array{json::object{{"name", "scratch"}, {"emptyDir", json::object{}}},
                    json::object{{"name", "fast"},
                                 {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Mi"}}}}});
    const PodVolumes volumes = f.volumes->setup(pod);
    const stdfs::path scratch = volumes.by_name.at("scratch").host_path;
    CHECK(scratch == f.paths.volume_dir("uid-1", "empty-dir", "scratch"));
    CHECK(mode_of(scratch) == 0777);
    CHECK_FALSE(volumes.by_name.at("scratch").read_only);
    const stdfs::path fast = volumes.by_name.at("fast").host_path;
    REQUIRE(mounted(fast));
    struct statvfs fs {};
    REQUIRE(::statvfs(fast.c_str(), &fs) == 0);
    CHECK(fs.f_blocks * fs.f_frsize == 1024 * 1024);
    f.volumes->setup(pod);  // again: no second mount on top
    std::ifstream info("/proc/self/mountinfo");
    std::string all((std::istreambuf_iterator<char>(info)), std::istreambuf_iterator<char>());
    size_t count = 0;
    for (size_t at = all.find(stdfs::canonical(fast).string() + " "); at != std::string::npos;
         at = all.find(stdfs::canonical(fast).string() + " ", at + 1))
        ++count;
    CHECK(count == 1);

    CHECK(f.volumes->pods_on_disk() == std::vector<std::string>{"uid-1"});
    f.volumes->teardown("uid-1");
    CHECK_FALSE(stdfs::exists(f.paths.pod_dir("uid-1")));
    CHECK(f.volumes->pods_on_disk().empty());

    CHECK(setup_error(*f.volumes,
                      pod_with(json::array{json::object{{"name", "huge"},
                                                        {"emptyDir", {{"medium", "HugePages"}}}}},
                               "uid-2")) ==
          R"(MountVolume.SetUp failed for volume "huge" : unknown storage medium "HugePages")");
}

TEST_CASE("hostPath: types checked and created as upstream") {
    Fixture f;
    const stdfs::path base = f.dir / "host";
    stdfs::create_directories(base);
    std::ofstream(base / "file") << "x";
    auto host = [&](const std::string& path, const std::string& type) {
        return pod_with(json::array{
            json::object{{"name", "h"}, {"hostPath", {{"path", path}, {"type", type}}}}});
    };
    const PodVolumes made =
        f.volumes->setup(host((base / "new/dir").string(), "DirectoryOrCreate"));
    CHECK(stdfs::is_directory(base / "new/dir"));
    CHECK(made.by_name.at("h").host_path == base / "new/dir");
    CHECK_FALSE(made.by_name.at("h").read_only);
    f.volumes->setup(host((base / "made.txt").string(), "FileOrCreate"));
    CHECK(stdfs::is_regular_file(base / "made.txt"));
    f.volumes->setup(host((base / "file").string(), "File"));
    f.volumes->setup(host((base / "anything").string(), ""));

    const std::string prefix = R"(MountVolume.SetUp failed for volume "h" : )";
    CHECK(setup_error(*f.volumes, host((base / "file").string(), "Directory")) ==
          prefix + "hostPath type check failed: " + (base / "file").string() +
              " is not a directory");
    CHECK(setup_error(*f.volumes, host(base.string(), "File")) ==
          prefix + "hostPath type check failed: " + base.string() + " is not a file");
    CHECK(setup_error(*f.volumes, host((base / "file").string(), "Socket")) ==
          prefix + "hostPath type check failed: " + (base / "file").string() +
              " is not a socket file");
    CHECK(setup_error(*f.volumes, host(base.string(), "Bogus")) ==
          prefix + "Bogus is an invalid volume type");
    CHECK(setup_error(*f.volumes, host("/tmp/../etc", "")) ==
          prefix + "invalid HostPath `/tmp/../etc`: must not contain '..'");
}

TEST_CASE("persistentVolumeClaim: the bound PV's host path, or why not") {
    Fixture f;
    const auto pod = pod_with(json::array{
        json::object{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "claim"}}}}});
    CHECK(setup_error(*f.volumes, pod) ==
          "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], "
          "failed to process volumes=[data]: error processing PVC demo/claim: failed to fetch PVC "
          "from API server: persistentvolumeclaims \"claim\" not found");

    auto pvc = f.create("persistentvolumeclaims", "demo",
                        {{"apiVersion", "v1"},
                         {"kind", "PersistentVolumeClaim"},
                         {"metadata", {{"name", "claim"}}},
                         {"spec",
                          {{"accessModes", json::array{"ReadWriteOnce"}},
                           {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
    CHECK(setup_error(*f.volumes, pod) ==
          "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], "
          "failed to process volumes=[data]: error processing PVC demo/claim: PVC is not bound");

    const stdfs::path backing = f.dir / "pv";
    stdfs::create_directories(backing);
    f.create(
        "persistentvolumes", "",
        {{"apiVersion", "v1"},
         {"kind", "PersistentVolume"},
         {"metadata", {{"name", "pv-1"}}},
         {"spec",
          {{"capacity", {{"storage", "1Gi"}}},
           {"accessModes", json::array{"ReadWriteOnce"}},
           {"hostPath", {{"path", backing.string()}}},
           {"claimRef",
            {{"namespace", "demo"}, {"name", "claim"}, {"uid", pvc.at("metadata").at("uid")}}}}}});
    pvc = f.service->get(f.info("persistentvolumeclaims"), "demo", "claim");
    pvc["spec"].as_object()["volumeName"] = "pv-1";
    pvc = f.service->update(f.info("persistentvolumeclaims"), "demo", "claim", pvc, {});
    pvc["status"] = json::object{{"phase", "Bound"}};
    f.service->update(f.info("persistentvolumeclaims"), "demo", "claim", pvc, {}, "status");
    const PodVolumes volumes = f.volumes->setup(pod);
    CHECK(volumes.by_name.at("data").host_path == backing);
}

TEST_CASE("subPath: created inside the volume, bind-mounted, escapes refused") {
    Fixture f;
    const auto pod =
        pod_with(json::array{json::object{{"name", "scratch"}, {"emptyDir", json::object{}}}});
    const PodVolumes volumes = f.volumes->setup(pod);
    const stdfs::path volume = volumes.by_name.at("scratch").host_path;
    make_subpath_dir(volume, "a/b");
    CHECK(stdfs::is_directory(volume / "a/b"));
    CHECK(mode_of(volume / "a/b") == 0777);  // the volume's mode
    const stdfs::path bind = bind_subpath(volumes.pod_dir, "scratch", volume, "a/b", "app", 0);
    CHECK(bind == volumes.pod_dir / "volume-subpaths/scratch/app/0");
    CHECK(mounted(bind));
    std::ofstream(volume / "a/b/seen") << "yes";
    CHECK(read(bind / "seen") == "yes");
    // Again (a restarted container): the same mount, not a second one.
    CHECK(bind_subpath(volumes.pod_dir, "scratch", volume, "a/b", "app", 0) == bind);

    // A symlink out of the volume is refused, for both.
    stdfs::create_directory_symlink(f.dir.path(), volume / "evil");
    CHECK_THROWS_AS(bind_subpath(volumes.pod_dir, "scratch", volume, "evil", "app", 1),
                    std::runtime_error);
    CHECK_THROWS_AS(make_subpath_dir(volume, "evil/x"), std::runtime_error);
    CHECK_FALSE(stdfs::exists(f.dir / "x"));

    f.volumes->teardown("uid-1");
    CHECK_FALSE(stdfs::exists(volumes.pod_dir));
}

TEST_CASE("ServiceAccount admission: the kube-api-access volume, mounted everywhere, usable") {
    Fixture f;
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", "web"}}},
        {"spec",
         {{"initContainers", json::array{json::object{{"name", "init"}, {"image", "busybox"}}}},
          {"containers",
           json::array{json::object{{"name", "app"}, {"image", "busybox"}},
                       json::object{{"name", "own"},
                                    {"image", "busybox"},
                                    {"volumeMounts",
                                     json::array{json::object{
                                         {"name", "mine"},
                                         {"mountPath",
                                          "/var/run/secrets/kubernetes.io/serviceaccount"}}}}}}},
          {"volumes", json::array{json::object{{"name", "mine"}, {"emptyDir", json::object{}}}}}}}};
    const auto created = f.create("pods", "demo", pod);
    const auto& spec = created.at("spec").as_object();
    CHECK(spec.at("serviceAccountName") == "default");
    const auto& volumes = spec.at("volumes").as_array();
    REQUIRE(volumes.size() == 2);
    const std::string name(volumes[1].at("name").as_string());
    CHECK(name.rfind("kube-api-access-", 0) == 0);
    CHECK(name.size() == std::string("kube-api-access-").size() + 5);
    CHECK(json::serialize(volumes[1].at("projected")) ==
          R"({"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},)"
          R"({"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},)"
          R"({"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1",)"
          R"("fieldPath":"metadata.namespace"}}]}}],"defaultMode":420})");
    const json::object mount{{"name", name},
                             {"readOnly", true},
                             {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"}};
    CHECK(spec.at("initContainers").at(0).at("volumeMounts").at(0) == mount);
    CHECK(spec.at("containers").at(0).at("volumeMounts").at(0) == mount);
    CHECK(spec.at("containers").at(1).at("volumeMounts").as_array().size() == 1);

    // The kubelet side: token, CA and namespace in the volume.
    f.configmap("kube-root-ca.crt", {{"ca.crt", "PEM"}});
    const stdfs::path dir = f.volumes->setup(created).by_name.at(name).host_path;
    CHECK(read(dir / "token") == "token-1");
    CHECK(read(dir / "ca.crt") == "PEM");
    CHECK(read(dir / "namespace") == "demo");
    CHECK(f.last_request.at("spec").at("expirationSeconds").as_int64() == 3607);
    CHECK_FALSE(f.last_request.at("spec").as_object().contains("audiences"));
    CHECK(f.last_account == "default");

    // Opting out.
    pod["metadata"].as_object()["name"] = "quiet";
    pod["spec"].as_object()["automountServiceAccountToken"] = false;
    const auto quiet = f.create("pods", "demo", pod);
    CHECK(quiet.at("spec").at("volumes").as_array().size() == 1);
    CHECK_FALSE(quiet.at("spec").at("containers").at(0).as_object().contains("volumeMounts"));
}
