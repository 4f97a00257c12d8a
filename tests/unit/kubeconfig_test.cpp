// The kubeconfig writer is judged by the real kubectl: it must read what kcube writes, and see
// every entry kcube does not own exactly as it saw it before.
#include "bootstrap/kubeconfig.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "test_support.hpp"

namespace json = boost::json;
namespace stdfs = std::filesystem;
namespace kubeconfig = kcube::kubeconfig;
using kcube::Error;
using kcube::ExitCode;

namespace {

// A kubeconfig as people have them: comments, flow style, quoted strings that look like other
// types, extensions at several levels, an exec-based user and another current context.
constexpr const char* kExisting = R"(# Written by hand and by several tools.
apiVersion: v1
kind: Config
preferences:
  colors: true
  extensions:
  - name: editor-settings
    extension:
      theme: "dark"
      enabled: "yes"
clusters:
- cluster:
    certificate-authority-data: Y2EtZGF0YQ==
    server: https://prod.example.com:6443   # production
    extensions:
    - name: cluster_info
      extension:
        provider: example.com
        retries: "123"
        mode: "0600"
        note: "null"
        empty: ""
        quote: "say \"hi\"\tthere"
        last-update: 2024-01-02
    x-unknown-cluster-key: kept
  name: prod
- cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true, proxy-url: 'http://proxy:3128'}
  name: "123"
contexts:
- context:
    cluster: prod
    user: prod-admin
    namespace: "0600"
  name: prod
- context:
    cluster: "123"
    user: "true"
  name: "true"
current-context: prod
users:
- name: prod-admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      args: ["--verbose", "yes", '0600']
      env:
      - name: DEBUG
        value: "true"
      - name: LEVEL
        value: "007"
      interactiveMode: IfAvailable
      provideClusterInfo: true
- name: "true"
  user:
    token: "123456"
extensions:
- name: kcube-test
  extension:
    answer: "42"
    flag: true
    count: 7
    nothing: null
x-unknown-top-level:
  "true": yes
  list: [1, "2", three, on]
)";

kcube::testing::RunResult kubectl_run(const stdfs::path& file, std::vector<std::string> args) {
    std::vector<std::string> argv{kcube::testing::kubectl(), "--kubeconfig", file.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return kcube::testing::run(argv);
}

// kubectl's output of a command that must succeed.
std::string kubectl_ok(const stdfs::path& file, std::vector<std::string> args) {
    const auto result = kubectl_run(file, std::move(args));
    INFO("kubectl stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    return result.out;
}

// The whole configuration as kubectl understands it.
json::object view(const stdfs::path& file) {
    return json::parse(kubectl_ok(file, {"config", "view", "--raw", "-o", "json"})).as_object();
}

// kubectl's view without the entries named `name` and without current-context (compared on its
// own): what must not change when kcube edits its own entries.
json::object others(json::object config, const std::string& name) {
    for (const char* list : {"clusters", "users", "contexts"}) {
        json::array kept;
        if (config[list].is_array()) {
            for (const auto& entry : config[list].as_array()) {
                if (entry.as_object().at("name") != json::value(name)) kept.push_back(entry);
            }
        }
        config[list] = kept;  // kubectl shows an empty list as null
    }
    config.erase("current-context");
    return config;
}

// The entry `name` of `list` in kubectl's view, or null.
json::value entry(const json::object& config, const char* list, const std::string& name) {
    if (!config.at(list).is_array()) return nullptr;
    for (const auto& item : config.at(list).as_array()) {
        if (item.as_object().at("name") == json::value(name)) return item;
    }
    return nullptr;
}

std::string string_at(const json::value& value, std::initializer_list<const char*> path) {
    const json::value* at = &value;
    for (const char* key : path) {
        at = &at->as_object().at(key);
    }
    return std::string(at->as_string());
}

// yaml-cpp's reading of a file with each scalar's written form (plain or quoted) kept, to show
// that keys kubectl does not know about survive too, with their types.
std::string structure(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            std::string out = "{";
            for (const auto& pair : node) {
                out += structure(pair.first) + ":" + structure(pair.second) + ",";
            }
            return out + "}";
        }
        case YAML::NodeType::Sequence: {
            std::string out = "[";
            for (const auto& item : node) {
                out += structure(item) + ",";
            }
            return out + "]";
        }
        case YAML::NodeType::Scalar:
            return (node.Tag() == "!" ? "str(" : "plain(") + node.Scalar() + ")";
        default:
            return "null";
    }
}

// The structure of `file` without the entries `name` and without current-context.
std::string structure_of_others(const stdfs::path& file, const std::string& name) {
    YAML::Node root = YAML::LoadFile(file.string());
    std::string out;
    for (const auto& pair : root) {
        const std::string key = pair.first.Scalar();
        if (key == "current-context") continue;
        if (key == "clusters" || key == "users" || key == "contexts") {
            out += key + ":[";
            for (const auto& item : pair.second) {
                if (item["name"].Scalar() != name) out += structure(item) + ",";
            }
            out += "],";
        } else {
            out += key + ":" + structure(pair.second) + ",";
        }
    }
    return out;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = text.find('\n', start);
        out.push_back(text.substr(start, end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

std::string base64_decode(const std::string& text) {
    std::string out(text.size() / 4 * 3, '\0');
    const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(text.data()),
                                       static_cast<int>(text.size()));
    REQUIRE(length >= 0);
    out.resize(static_cast<size_t>(length));
    // EVP_DecodeBlock counts the bytes padding stands for.
    for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) {
        out.pop_back();
    }
    return out;
}

mode_t mode_of(const stdfs::path& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

ino_t inode_of(const stdfs::path& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_ino;
}

bool lock_left_behind(const stdfs::path& file) {
    return stdfs::exists(file.string() + ".lock");
}

// A profile's certificate files (their content does not matter to kubeconfig) and its entry.
struct Profile {
    explicit Profile(const stdfs::path& dir, std::string name = "kcube") {
        kcube::fs::write_file_atomic(dir / "ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n");
        kcube::fs::write_file_atomic(dir / "client.crt", "-----BEGIN CERTIFICATE-----\nME\n");
        kcube::fs::write_file_atomic(dir / "client.key", std::string("key\0bytes\xff", 10));
        entry.name = std::move(name);
        entry.server = "https://127.0.0.1:8443";
        entry.certificate_authority = dir / "ca.crt";
        entry.client_certificate = dir / "client.crt";
        entry.client_key = dir / "client.key";
    }
    kubeconfig::Entry entry;
};

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
  public:
    ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        set(value);
    }
    ~ScopedEnv() { set(old_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    void set(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(name_.c_str(), value->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    std::string name_;
    std::optional<std::string> old_;
};

Error expect_error(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected kcube::Error");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("kubeconfig: a new file is created 0600 and kubectl reads the entry") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    profile.entry.default_namespace = "dev";
    const auto file = tmp / "home/.kube/config";

    kubeconfig::upsert(file, profile.entry, true);

    CHECK(mode_of(file) == 0600);
    CHECK_FALSE(lock_left_behind(file));
    const auto config = view(file);
    CHECK(config.at("apiVersion") == "v1");
    CHECK(config.at("kind") == "Config");
    CHECK(config.at("current-context") == "kcube");
    const auto cluster = entry(config, "clusters", "kcube");
    REQUIRE(cluster.is_object());
    CHECK(string_at(cluster, {"cluster", "server"}) == "https://127.0.0.1:8443");
    CHECK(string_at(cluster, {"cluster", "certificate-authority"}) == (tmp / "ca.crt").string());
    const auto user = entry(config, "users", "kcube");
    REQUIRE(user.is_object());
    CHECK(string_at(user, {"user", "client-certificate"}) == (tmp / "client.crt").string());
    CHECK(string_at(user, {"user", "client-key"}) == (tmp / "client.key").string());
    const auto context = entry(config, "contexts", "kcube");
    REQUIRE(context.is_object());
    CHECK(string_at(context, {"context", "cluster"}) == "kcube");
    CHECK(string_at(context, {"context", "user"}) == "kcube");
    CHECK(string_at(context, {"context", "namespace"}) == "dev");
    CHECK(kubectl_ok(file, {"config", "get-contexts", "-o", "name"}) == "kcube\n");
    CHECK(kubectl_ok(file, {"config", "current-context"}) == "kcube\n");

    CHECK(kubeconfig::current_context(file) == "kcube");
    CHECK(kubeconfig::has_context(file, "kcube"));
    CHECK_FALSE(kubeconfig::has_context(file, "other"));
}

TEST_CASE("kubeconfig: the file is laid out exactly as kubectl writes the same entry") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    profile.entry.default_namespace = "dev";

    for (const bool embed : {false, true}) {
        CAPTURE(embed);
        profile.entry.embed_certs = embed;
        const auto by_kubectl = tmp / ("kubectl-" + std::to_string(embed));
        const std::string embed_flag = embed ? "--embed-certs=true" : "--embed-certs=false";
        kubectl_ok(by_kubectl,
                   {"config", "set-cluster", "kcube", "--server=https://127.0.0.1:8443",
                    "--certificate-authority=" + (tmp / "ca.crt").string(), embed_flag});
        kubectl_ok(by_kubectl, {"config", "set-credentials", "kcube",
                                "--client-certificate=" + (tmp / "client.crt").string(),
                                "--client-key=" + (tmp / "client.key").string(), embed_flag});
        kubectl_ok(by_kubectl, {"config", "set-context", "kcube", "--cluster=kcube", "--user=kcube",
                                "--namespace=dev"});
        kubectl_ok(by_kubectl, {"config", "use-context", "kcube"});

        // kubectl makes paths relative to the kubeconfig's directory; kcube keeps them absolute so
        // that the file still works when copied elsewhere.
        std::string expected = kcube::fs::read_file(by_kubectl);
        for (const char* name : {"ca.crt", "client.crt", "client.key"}) {
            const std::string relative = std::string(": ") + name + "\n";
            if (const auto at = expected.find(relative); at != std::string::npos) {
                expected.replace(at, relative.size(), ": " + (tmp / name).string() + "\n");
            }
        }
        const auto by_kcube = tmp / ("kcube-" + std::to_string(embed));
        kubeconfig::upsert(by_kcube, profile.entry, true);
        CHECK(kcube::fs::read_file(by_kcube) == expected);
        CHECK(kubeconfig::render(profile.entry) == expected);
    }
}

TEST_CASE("kubeconfig: upsert into a kubeconfig with other entries leaves them identical") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting, 0644);
    const auto before = view(file);
    const auto before_structure = structure_of_others(file, "kcube");

    kubeconfig::upsert(file, profile.entry, true);

    const auto after = view(file);
    CHECK(json::serialize(others(after, "kcube")) == json::serialize(others(before, "kcube")));
    CHECK(structure_of_others(file, "kcube") == before_structure);
    CHECK(after.at("current-context") == "kcube");
    CHECK(entry(after, "clusters", "kcube").is_object());
    CHECK(entry(after, "users", "kcube").is_object());
    CHECK(entry(after, "contexts", "kcube").is_object());
    CHECK(mode_of(file) == 0600);
    CHECK_FALSE(lock_left_behind(file));
    CHECK(kubectl_ok(file, {"config", "get-contexts", "-o", "name"}) == "kcube\nprod\ntrue\n");

    SUBCASE("quoted scalars are still quoted and plain ones still plain") {
        const std::string text = kcube::fs::read_file(file);
        for (const char* kept :
             {"mode: \"0600\"", "retries: \"123\"", "note: \"null\"", "empty: \"\"",
              "quote: \"say \\\"hi\\\"\\tthere\"", "namespace: \"0600\"", "name: \"123\"",
              "name: \"true\"", "value: \"007\"", "- \"yes\"", "- on", "provideClusterInfo: true",
              "flag: true", "count: 7", "nothing: null", "last-update: 2024-01-02",
              "x-unknown-cluster-key: kept", "\"true\": yes", "- \"2\""}) {
            CAPTURE(kept);
            CHECK(text.find(kept) != std::string::npos);
        }
        // Key order is the file's, with kcube's entries appended to each list.
        const auto keys = [&] {
            std::vector<std::string> top;
            for (const auto& line : lines(text)) {
                if (!line.empty() && line[0] != ' ' && line[0] != '-') {
                    top.push_back(line.substr(0, line.find(':')));
                }
            }
            return top;
        }();
        CHECK(keys == std::vector<std::string>{"apiVersion", "kind", "preferences", "clusters",
                                               "contexts", "current-context", "users", "extensions",
                                               "x-unknown-top-level"});
        CHECK(text.find("name: kcube\n") > text.find("name: \"123\""));
    }

    SUBCASE("a second upsert changes only kcube's entries, in place") {
        const std::string first_text = kcube::fs::read_file(file);
        profile.entry.server = "https://192.168.49.2:8443";
        profile.entry.default_namespace = "apps";
        kubeconfig::upsert(file, profile.entry, true);

        const auto again = view(file);
        CHECK(json::serialize(others(again, "kcube")) == json::serialize(others(before, "kcube")));
        CHECK(structure_of_others(file, "kcube") == before_structure);
        CHECK(string_at(entry(again, "clusters", "kcube"), {"cluster", "server"}) ==
              "https://192.168.49.2:8443");
        CHECK(string_at(entry(again, "contexts", "kcube"), {"context", "namespace"}) == "apps");
        CHECK(again.at("clusters").as_array().size() == 3);
        CHECK(again.at("users").as_array().size() == 3);
        CHECK(again.at("contexts").as_array().size() == 3);
        // Besides the new namespace line, only the server line differs from the first upsert.
        const auto old_lines = lines(first_text);
        const auto new_lines = lines(kcube::fs::read_file(file));
        REQUIRE(old_lines.size() + 1 == new_lines.size());  // the namespace line is new
        int differing = 0;
        for (size_t i = 0, j = 0; i < old_lines.size(); ++i, ++j) {
            if (new_lines[j].find("namespace: apps") != std::string::npos) ++j;
            if (old_lines[i] != new_lines[j]) ++differing;
        }
        CHECK(differing == 1);  // server
    }

    SUBCASE("an unchanged upsert does not rewrite the file") {
        const auto inode = inode_of(file);
        kubeconfig::upsert(file, profile.entry, true);
        CHECK(inode_of(file) == inode);
    }
}

TEST_CASE("kubeconfig: anchors, merge keys, block scalars and tags read the same after an edit") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, R"(%YAML 1.1
---
apiVersion: v1
kind: Config
clusters:
- name: base
  cluster: &base
    server: https://base:6443
    tls-server-name: "\u00fcn\u00efc\u00f6d\u00e9.example"
- name: merged
  cluster:
    <<: *base
    proxy-url: http://p:1
- name: tagged
  cluster:
    server: !!str https://tagged
    certificate-authority-data: >-
      QUJDREVG
users:
- name: blocky
  user:
    token: |
      line one
      line two
    username: plain
      multi line
    password: 'it''s'
contexts:
- name: "with: colon"
  context: {cluster: base, user: blocky, namespace: "- dash"}
- name: '#hash'
  context: {cluster: base, user: blocky, namespace: ~}
current-context: "#hash"
...
)");
    const auto before = view(file);

    kubeconfig::upsert(file, profile.entry, false);

    const auto after = view(file);
    CHECK(json::serialize(after.at("current-context")) == "\"#hash\"");
    CHECK(json::serialize(others(after, "kcube")) == json::serialize(others(before, "kcube")));
    CHECK(string_at(entry(after, "clusters", "merged"), {"cluster", "server"}) ==
          "https://base:6443");
    CHECK(string_at(entry(after, "users", "blocky"), {"user", "token"}) == "line one\nline two\n");
    CHECK(kubeconfig::remove(file, "kcube"));
    CHECK(json::serialize(view(file)) == json::serialize(before));
}

TEST_CASE("kubeconfig: make_current false keeps the other current context") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting);

    kubeconfig::upsert(file, profile.entry, false);

    CHECK(kubectl_ok(file, {"config", "current-context"}) == "prod\n");
    CHECK(kubeconfig::current_context(file) == "prod");
    CHECK(kubeconfig::has_context(file, "kcube"));
}

TEST_CASE("kubeconfig: a new file without make_current has no current context") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";

    kubeconfig::upsert(file, profile.entry, false);

    CHECK(kubectl_run(file, {"config", "current-context"}).exit_code != 0);
    CHECK(kubeconfig::current_context(file) == std::nullopt);
    CHECK(kubectl_ok(file, {"config", "get-contexts", "-o", "name"}) == "kcube\n");
}

TEST_CASE("kubeconfig: remove leaves the other entries identical") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting);
    const auto before = view(file);
    const auto before_structure = structure_of_others(file, "kcube");

    SUBCASE("and keeps another current context") {
        kubeconfig::upsert(file, profile.entry, false);
        CHECK(kubeconfig::remove(file, "kcube"));
        const auto after = view(file);
        CHECK(json::serialize(after) == json::serialize(before));
        CHECK(structure_of_others(file, "kcube") == before_structure);
        CHECK(kubectl_ok(file, {"config", "current-context"}) == "prod\n");
    }

    SUBCASE("and unsets the current context when it was kcube's") {
        kubeconfig::upsert(file, profile.entry, true);
        CHECK(kubeconfig::remove(file, "kcube"));
        const auto after = view(file);
        CHECK(json::serialize(others(after, "kcube")) == json::serialize(others(before, "kcube")));
        CHECK(structure_of_others(file, "kcube") == before_structure);
        CHECK(after.at("current-context") == "");
        const auto current = kubectl_run(file, {"config", "current-context"});
        CHECK(current.exit_code != 0);
        CHECK(current.err.find("current-context is not set") != std::string::npos);
        CHECK(kubeconfig::current_context(file) == std::nullopt);
        CHECK(kubectl_ok(file, {"config", "get-contexts", "-o", "name"}) == "prod\ntrue\n");
    }

    CHECK_FALSE(lock_left_behind(file));
    // Nothing left to remove: the file is not touched.
    const auto inode = inode_of(file);
    const auto text = kcube::fs::read_file(file);
    CHECK_FALSE(kubeconfig::remove(file, "kcube"));
    CHECK(inode_of(file) == inode);
    CHECK(kcube::fs::read_file(file) == text);
}

TEST_CASE("kubeconfig: remove of the only entries leaves a config kubectl still reads") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kubeconfig::upsert(file, profile.entry, true);

    CHECK(kubeconfig::remove(file, "kcube"));

    CHECK(kubectl_ok(file, {"config", "get-contexts", "-o", "name"}).empty());
    CHECK_FALSE(kubeconfig::has_context(file, "kcube"));
}

TEST_CASE("kubeconfig: remove from a missing file creates nothing") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "missing/config";

    CHECK_FALSE(kubeconfig::remove(file, "kcube"));

    CHECK_FALSE(stdfs::exists(tmp / "missing"));
    CHECK(kubeconfig::current_context(file) == std::nullopt);
    CHECK_FALSE(kubeconfig::has_context(file, "kcube"));
}

TEST_CASE("kubeconfig: use_context and kubectl use-context work on each other's output") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting);
    kubeconfig::upsert(file, profile.entry, false);
    const auto before = view(file);

    kubeconfig::use_context(file, "kcube");
    CHECK(kubectl_ok(file, {"config", "current-context"}) == "kcube\n");
    CHECK(json::serialize(others(view(file), "kcube")) == json::serialize(others(before, "kcube")));

    kubectl_ok(file, {"config", "use-context", "prod"});
    CHECK(kubeconfig::current_context(file) == "prod");

    kubeconfig::use_context(file, "true");
    CHECK(kubectl_ok(file, {"config", "current-context"}) == "true\n");
    CHECK(kubeconfig::has_context(file, "true"));
    CHECK_FALSE(lock_left_behind(file));
}

TEST_CASE("kubeconfig: use_context of an unknown context is KUBECONFIG_NO_CONTEXT") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting);
    const auto text = kcube::fs::read_file(file);

    const Error error = expect_error([&] { kubeconfig::use_context(file, "nope"); });
    CHECK(error.exit_code() == ExitCode::kNotFound);
    CHECK(error.reason() == "KUBECONFIG_NO_CONTEXT");
    CHECK(std::string(error.what()).find("nope") != std::string::npos);
    CHECK_FALSE(error.advice().empty());
    CHECK(kcube::fs::read_file(file) == text);
    CHECK_FALSE(lock_left_behind(file));

    const Error missing = expect_error([&] { kubeconfig::use_context(tmp / "absent", "kcube"); });
    CHECK(missing.reason() == "KUBECONFIG_NO_CONTEXT");
    CHECK_FALSE(stdfs::exists(tmp / "absent"));
}

TEST_CASE("kubeconfig: a file that is not a kubeconfig is refused and left untouched") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    const char* text = "";
    SUBCASE("YAML syntax error") {
        text = "apiVersion: v1\nclusters: [unclosed\n";
    }
    SUBCASE("unterminated quote") {
        text = "current-context: \"kcube";
    }
    SUBCASE("bad indentation") {
        text = "apiVersion: v1\n  kind: Config\n";
    }
    SUBCASE("undefined alias") {
        text = "clusters: *nowhere\n";
    }
    SUBCASE("top level is a list") {
        text = "- a\n- b\n";
    }
    SUBCASE("top level is a scalar") {
        text = "just text\n";
    }
    SUBCASE("clusters is a scalar") {
        text = "apiVersion: v1\nclusters: yes\n";
    }
    SUBCASE("an entry is a scalar") {
        text = "users:\n- alice\n";
    }
    SUBCASE("an entry body is a list") {
        text = "contexts:\n- name: a\n  context: [x]\n";
    }
    SUBCASE("a name is a map") {
        text = "clusters:\n- name: {a: b}\n";
    }
    SUBCASE("current-context is a list") {
        text = "current-context: [a, b]\n";
    }
    SUBCASE("two YAML documents") {
        text = "apiVersion: v1\n---\napiVersion: v1\n";
    }
    SUBCASE("a mapping key is a list") {
        text = "preferences:\n  ? [a, b]\n  : c\n";
    }
    SUBCASE("binary garbage") {
        text = "\x01\x02\xff\xfe:\t[";
    }
    CAPTURE(text);
    kcube::fs::write_file_atomic(file, text, 0644);

    const std::vector<std::function<void()>> actions{
        [&] { kubeconfig::upsert(file, profile.entry, true); },
        [&] { kubeconfig::remove(file, "kcube"); },
        [&] { kubeconfig::use_context(file, "kcube"); },
        [&] { kubeconfig::current_context(file); },
        [&] { kubeconfig::has_context(file, "kcube"); },
    };
    for (const auto& action : actions) {
        const Error error = expect_error(action);
        CHECK(error.exit_code() == ExitCode::kState);
        CHECK(error.reason() == "KUBECONFIG_PARSE");
        const std::string message = error.what();
        CAPTURE(message);
        CHECK(message.starts_with("cannot parse kubeconfig " + file.string() + ": "));
        CHECK(message.find("line ") != std::string::npos);
        CHECK(error.advice().find(file.string()) != std::string::npos);
        CHECK(kcube::fs::read_file(file) == text);
        CHECK(mode_of(file) == 0644);
        CHECK_FALSE(lock_left_behind(file));
    }
}

TEST_CASE("kubeconfig: an empty or comment-only file counts as an empty kubeconfig") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    SUBCASE("empty") {
        kcube::fs::write_file_atomic(file, "");
    }
    SUBCASE("comments") {
        kcube::fs::write_file_atomic(file, "# nothing yet\n\n");
    }
    SUBCASE("explicit null") {
        kcube::fs::write_file_atomic(file, "---\n~\n");
    }

    CHECK(kubeconfig::current_context(file) == std::nullopt);
    CHECK_FALSE(kubeconfig::has_context(file, "kcube"));
    CHECK_FALSE(kubeconfig::remove(file, "kcube"));
    kubeconfig::upsert(file, profile.entry, true);

    CHECK(kubectl_ok(file, {"config", "current-context"}) == "kcube\n");
    CHECK(kcube::fs::read_file(file) == kubeconfig::render(profile.entry));
}

TEST_CASE("kubeconfig: apiVersion and kind are added when missing, the rest kept") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(
        file, "clusters:\n- name: other\n  cluster:\n    server: https://other:6443\n");

    kubeconfig::upsert(file, profile.entry, false);

    const std::string text = kcube::fs::read_file(file);
    const std::string expected_start =
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n"
        "    server: https://other:6443\n- cluster:\n";
    CHECK(text.substr(0, expected_start.size()) == expected_start);
    // kubectl prints clusters in Go map order, which varies from run to run.
    const std::string clusters = kubectl_ok(file, {"config", "get-clusters"});
    CHECK((clusters == "NAME\nother\nkcube\n" || clusters == "NAME\nkcube\nother\n"));
}

TEST_CASE("kubeconfig: embed_certs writes *-data that decodes to the files") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    profile.entry.embed_certs = true;
    const auto file = tmp / "config";

    kubeconfig::upsert(file, profile.entry, true);

    auto config = view(file);
    auto cluster = entry(config, "clusters", "kcube");
    auto user = entry(config, "users", "kcube");
    CHECK(base64_decode(string_at(cluster, {"cluster", "certificate-authority-data"})) ==
          kcube::fs::read_file(tmp / "ca.crt"));
    CHECK(base64_decode(string_at(user, {"user", "client-certificate-data"})) ==
          kcube::fs::read_file(tmp / "client.crt"));
    CHECK(base64_decode(string_at(user, {"user", "client-key-data"})) ==
          kcube::fs::read_file(tmp / "client.key"));
    CHECK_FALSE(cluster.as_object().at("cluster").as_object().contains("certificate-authority"));
    CHECK_FALSE(user.as_object().at("user").as_object().contains("client-key"));

    // Switching back to paths drops the data: kubectl refuses an entry with both.
    profile.entry.embed_certs = false;
    kubeconfig::upsert(file, profile.entry, true);
    config = view(file);
    cluster = entry(config, "clusters", "kcube");
    user = entry(config, "users", "kcube");
    CHECK(cluster.as_object().at("cluster").as_object().size() == 2);
    CHECK(user.as_object().at("user").as_object().size() == 2);
    CHECK(string_at(user, {"user", "client-key"}) == (tmp / "client.key").string());
    CHECK(kubectl_ok(file, {"config", "view", "--minify", "-o", "jsonpath={.users[0].name}"}) ==
          "kcube");
    // A certificate that cannot be read fails before anything is written.
    const std::string text = kcube::fs::read_file(file);
    profile.entry.embed_certs = true;
    profile.entry.client_key = tmp / "absent.key";
    const Error error = expect_error([&] { kubeconfig::upsert(file, profile.entry, true); });
    CHECK(error.exit_code() == ExitCode::kNotFound);
    CHECK(std::string(error.what()).find("absent.key") != std::string::npos);
    CHECK(kcube::fs::read_file(file) == text);
    CHECK_FALSE(lock_left_behind(file));
}

TEST_CASE("kubeconfig: an existing entry of kcube's keeps the keys kcube does not own") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, R"(apiVersion: v1
kind: Config
clusters:
- name: kcube
  cluster:
    insecure-skip-tls-verify: true
    server: https://old:1
    proxy-url: http://proxy:3128
users:
- name: kcube
  user:
    token: old-token
    as: impersonated
contexts:
- name: kcube
  context:
    cluster: elsewhere
    namespace: old
    user: elsewhere
)");

    kubeconfig::upsert(file, profile.entry, true);

    const auto config = view(file);
    const auto cluster = entry(config, "clusters", "kcube").as_object().at("cluster").as_object();
    CHECK(cluster.at("server") == "https://127.0.0.1:8443");
    CHECK(cluster.at("proxy-url") == "http://proxy:3128");
    CHECK_FALSE(cluster.contains("insecure-skip-tls-verify"));
    const auto user = entry(config, "users", "kcube").as_object().at("user").as_object();
    CHECK_FALSE(user.contains("token"));
    CHECK(user.at("as") == "impersonated");
    const auto context = entry(config, "contexts", "kcube").as_object().at("context").as_object();
    CHECK(context.at("cluster") == "kcube");
    CHECK(context.at("user") == "kcube");
    CHECK_FALSE(context.contains("namespace"));
}

TEST_CASE("kubeconfig: names and values that look like other types stay strings") {
    kcube::testing::TempDir tmp;
    for (const std::string name : {"0600", "true", "null", "yes", "123", "1e3", "~", "a: b"}) {
        CAPTURE(name);
        Profile profile(tmp.path(), name);
        profile.entry.default_namespace = "off";
        const auto file = tmp / "config";
        kubeconfig::upsert(file, profile.entry, true);
        CHECK(kubectl_ok(file, {"config", "current-context"}) == name + "\n");
        const auto context = entry(view(file), "contexts", name);
        REQUIRE(context.is_object());
        CHECK(string_at(context, {"context", "namespace"}) == "off");
        CHECK(string_at(context, {"context", "cluster"}) == name);
        CHECK(kubeconfig::current_context(file) == name);
        CHECK(kubeconfig::remove(file, name));
    }
}

TEST_CASE("kubeconfig: render is a standalone kubeconfig holding only the entry") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    profile.entry.embed_certs = true;
    const auto file = tmp / "admin.kubeconfig";

    kcube::fs::write_file_atomic(file, kubeconfig::render(profile.entry));

    const auto config = view(file);
    CHECK(config.at("current-context") == "kcube");
    CHECK(config.at("clusters").as_array().size() == 1);
    CHECK(config.at("users").as_array().size() == 1);
    CHECK(config.at("contexts").as_array().size() == 1);
    CHECK(base64_decode(string_at(entry(config, "users", "kcube"), {"user", "client-key-data"})) ==
          kcube::fs::read_file(tmp / "client.key"));
}

TEST_CASE("kubeconfig: default_path is the first entry of $KUBECONFIG, else ~/.kube/config") {
    ScopedEnv home("HOME", "/home/someone");
    {
        ScopedEnv kubeconfig_env("KUBECONFIG", "::/first/config:/second/config");
        CHECK(kubeconfig::default_path() == "/first/config");
    }
    {
        ScopedEnv kubeconfig_env("KUBECONFIG", "/only");
        CHECK(kubeconfig::default_path() == "/only");
    }
    {
        ScopedEnv kubeconfig_env("KUBECONFIG", "");
        CHECK(kubeconfig::default_path() == "/home/someone/.kube/config");
    }
    {
        ScopedEnv kubeconfig_env("KUBECONFIG", std::nullopt);
        CHECK(kubeconfig::default_path() == "/home/someone/.kube/config");
    }
}

TEST_CASE("kubeconfig: a symlinked kubeconfig is written through, not replaced") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto target = tmp / "dotfiles/kubeconfig";
    const auto link = tmp / "config";
    kcube::fs::write_file_atomic(target, kExisting);
    stdfs::create_symlink(target, link);

    kubeconfig::upsert(link, profile.entry, true);

    CHECK(stdfs::is_symlink(link));
    CHECK(kubeconfig::current_context(target) == "kcube");
    CHECK_FALSE(lock_left_behind(link));
}

TEST_CASE("kubeconfig: upsert waits for kubectl's lock file") {
    kcube::testing::TempDir tmp;
    Profile profile(tmp.path());
    const auto file = tmp / "config";
    kcube::fs::write_file_atomic(file, kExisting);
    const std::string lock = file.string() + ".lock";
    kcube::fs::write_file_atomic(lock, "");

    auto writer =
        std::async(std::launch::async, [&] { kubeconfig::upsert(file, profile.entry, true); });
    CHECK(writer.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
    CHECK(kubeconfig::current_context(file) == "prod");
    stdfs::remove(lock);
    writer.get();

    CHECK(kubeconfig::current_context(file) == "kcube");
    CHECK_FALSE(lock_left_behind(file));
}
