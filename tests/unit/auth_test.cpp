// kcube_auth against a real store: RBAC decisions, the default policy, aggregation, cache
// invalidation, Forbidden texts, and service-account tokens checked with the real openssl CLI.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/service.hpp"
#include "cluster/auth/rbac.hpp"
#include "cluster/auth/tokens.hpp"
#include "cluster/store/store.hpp"
#include "common/error.hpp"
#include "test_support.hpp"

namespace json = boost::json;
namespace api = kcube::api;
namespace auth = kcube::auth;
using kcube::testing::run;
using kcube::testing::TempDir;

namespace {

constexpr const char* kRbac = "rbac.authorization.k8s.io";

// A node's API machinery on a scratch SQLite store, with namespaces default, other, team.
struct Cluster {
    TempDir dir;
    std::shared_ptr<api::ResourceService> service;

    Cluster() {
        std::shared_ptr<kcube::store::Store> store = kcube::store::open_sqlite_store(dir / "s.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        for (const char* ns : {"default", "other", "team"}) {
            create("", "namespaces", "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        }
    }

    const api::ResourceInfo& info(const std::string& group, const std::string& plural) const {
        auto found = service->registry().find(group, "v1", plural);
        REQUIRE(found);
        return *found;
    }
    json::object create(const std::string& group, const std::string& plural, const std::string& ns,
                        json::object object) {
        return service->create(info(group, plural), ns, std::move(object), {});
    }
    void remove(const std::string& group, const std::string& plural, const std::string& ns,
                const std::string& name) {
        api::DeleteOptions options;
        options.grace_period_seconds = 0;
        service->remove(info(group, plural), ns, name, options);
    }
    json::object get(const std::string& group, const std::string& plural, const std::string& ns,
                     const std::string& name) {
        return service->get(info(group, plural), ns, name);
    }

    // RBAC objects.
    void cluster_role(const std::string& name, json::array rules, json::object labels = {}) {
        create(kRbac, "clusterroles", "",
               {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                {"kind", "ClusterRole"},
                {"metadata", {{"name", name}, {"labels", std::move(labels)}}},
                {"rules", std::move(rules)}});
    }
    void role(const std::string& ns, const std::string& name, json::array rules) {
        create(kRbac, "roles", ns,
               {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                {"kind", "Role"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"rules", std::move(rules)}});
    }
    void role_binding(const std::string& ns, const std::string& name, const std::string& role_kind,
                      const std::string& role_name, json::array subjects) {
        create(kRbac, "rolebindings", ns,
               {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                {"kind", "RoleBinding"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"roleRef", {{"apiGroup", kRbac}, {"kind", role_kind}, {"name", role_name}}},
                {"subjects", std::move(subjects)}});
    }
    void cluster_role_binding(const std::string& name, const std::string& role_name,
                              json::array subjects) {
        create(kRbac, "clusterrolebindings", "",
               {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                {"kind", "ClusterRoleBinding"},
                {"metadata", {{"name", name}}},
                {"roleRef", {{"apiGroup", kRbac}, {"kind", "ClusterRole"}, {"name", role_name}}},
                {"subjects", std::move(subjects)}});
    }
    json::object service_account(const std::string& ns, const std::string& name) {
        return create("", "serviceaccounts", ns,
                      {{"apiVersion", "v1"},
                       {"kind", "ServiceAccount"},
                       {"metadata", {{"name", name}, {"namespace", ns}}}});
    }
    json::object pod(const std::string& ns, const std::string& name, const std::string& sa) {
        return create(
            "", "pods", ns,
            {{"apiVersion", "v1"},
             {"kind", "Pod"},
             {"metadata", {{"name", name}, {"namespace", ns}}},
             {"spec",
              {{"serviceAccountName", sa},
               {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}}}});
    }
};

json::object user_subject(const std::string& name) {
    return {{"kind", "User"}, {"apiGroup", kRbac}, {"name", name}};
}
json::object group_subject(const std::string& name) {
    return {{"kind", "Group"}, {"apiGroup", kRbac}, {"name", name}};
}
json::object sa_subject(const std::string& name, const std::string& ns = "") {
    json::object s{{"kind", "ServiceAccount"}, {"name", name}};
    if (!ns.empty()) s["namespace"] = ns;
    return s;
}
json::object rule(json::array verbs, json::array groups, json::array resources,
                  json::array names = {}) {
    json::object r{{"verbs", std::move(verbs)},
                   {"apiGroups", std::move(groups)},
                   {"resources", std::move(resources)}};
    if (!names.empty()) r["resourceNames"] = std::move(names);
    return r;
}
json::object url_rule(json::array verbs, json::array urls) {
    return {{"verbs", std::move(verbs)}, {"nonResourceURLs", std::move(urls)}};
}

auth::Attributes request(const std::string& user, const std::string& verb, const std::string& group,
                         const std::string& resource, const std::string& ns,
                         const std::string& name = "", const std::string& subresource = "",
                         std::vector<std::string> groups = {"system:authenticated"}) {
    auth::Attributes a;
    a.user = user;
    a.groups = std::move(groups);
    a.verb = verb;
    a.api_group = group;
    a.resource = resource;
    a.subresource = subresource;
    a.ns = ns;
    a.name = name;
    return a;
}

auth::Attributes path_request(const std::string& user, const std::string& verb,
                              const std::string& path,
                              std::vector<std::string> groups = {"system:authenticated"}) {
    auth::Attributes a;
    a.user = user;
    a.groups = std::move(groups);
    a.verb = verb;
    a.resource_request = false;
    a.path = path;
    return a;
}

std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void write_text(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

// An ECDSA P-256 key pair made by the openssl CLI, as kcube's PKI writes it.
void make_key_pair(const TempDir& dir, const std::string& stem) {
    const auto key = (dir / (stem + ".key")).string();
    const auto pub = (dir / (stem + ".pub")).string();
    auto r = run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", key});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    r = run({"openssl", "pkey", "-in", key, "-pubout", "-out", pub});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

// Test-side codecs, written independently of the library's.
std::string b64url_decode(std::string text) {
    for (auto& c : text) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (text.size() % 4 != 0)
        text += '=';
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    int value = 0, bits = -8;
    for (char c : text) {
        if (c == '=') break;
        value = (value << 6) + static_cast<int>(alphabet.find(c));
        bits += 6;
        if (bits >= 0) {
            out += static_cast<char>((value >> bits) & 0xff);
            bits -= 8;
        }
    }
    return out;
}

std::string b64url_encode(const std::string& data) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    int value = 0, bits = -6;
    for (unsigned char c : data) {
        value = (value << 8) + c;
        bits += 8;
        while (bits >= 0) {
            out += alphabet[(value >> bits) & 0x3f];
            bits -= 6;
        }
    }
    if (bits > -6) out += alphabet[((value << 8) >> (bits + 8)) & 0x3f];
    return out;
}

// DER INTEGER of an unsigned big-endian number.
std::string der_integer(std::string bytes) {
    while (bytes.size() > 1 && bytes[0] == '\0')
        bytes.erase(0, 1);
    if (static_cast<unsigned char>(bytes[0]) & 0x80) bytes.insert(0, 1, '\0');
    return std::string{'\x02', static_cast<char>(bytes.size())} + bytes;
}

// JOSE r||s back to the DER ECDSA-Sig-Value openssl dgst expects.
std::string jose_to_der(const std::string& jose) {
    REQUIRE(jose.size() == 64);
    const std::string body = der_integer(jose.substr(0, 32)) + der_integer(jose.substr(32));
    return std::string{'\x30', static_cast<char>(body.size())} + body;
}

struct Jwt {
    std::string header, payload, signature, signing_input;
};
Jwt split(const std::string& token) {
    const auto d1 = token.find('.');
    const auto d2 = token.find('.', d1 + 1);
    return {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1),
            token.substr(0, d2)};
}

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string uid(const json::object& object) {
    return std::string(object.at("metadata").at("uid").as_string());
}

}  // namespace

// ---- RBAC ------------------------------------------------------------------------------

TEST_CASE("system:masters may do anything, even with no policy at all") {
    Cluster c;
    auth::Authorizer authz(*c.service);
    auto a = request("admin", "delete", "apps", "deployments", "default", "web", "",
                     {"system:masters", "system:authenticated"});
    const auto d = authz.authorize(a);
    CHECK(d.allowed);
    CHECK(d.reason ==
          "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" "
          "to Group \"system:masters\"");
    CHECK(authz.authorize(path_request("admin", "get", "/metrics", {"system:masters"})).allowed);
    CHECK_FALSE(authz.authorize(request("bob", "get", "", "pods", "default")).allowed);
}

TEST_CASE("ensure_default_rbac creates upstream's default roles and bindings") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    for (const char* name :
         {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-admin",
          "system:aggregate-to-edit", "system:aggregate-to-view", "system:discovery",
          "system:basic-user", "system:public-info-viewer"}) {
        CAPTURE(name);
        const auto role = c.get(kRbac, "clusterroles", "", name);
        const auto& metadata = role.at("metadata").as_object();
        CHECK(metadata.at("labels").at("kubernetes.io/bootstrapping") == "rbac-defaults");
        CHECK(metadata.at("annotations").at("rbac.authorization.kubernetes.io/autoupdate") ==
              "true");
    }
    const auto edit = c.get(kRbac, "clusterroles", "", "edit");
    CHECK(edit.at("metadata").at("labels").at("rbac.authorization.k8s.io/aggregate-to-admin") ==
          "true");
    CHECK(edit.at("aggregationRule")
              .at("clusterRoleSelectors")
              .at(0)
              .at("matchLabels")
              .at("rbac.authorization.k8s.io/aggregate-to-edit") == "true");
    // The aggregation pass wrote the union into the aggregated roles, as upstream's controller.
    const auto view = c.get(kRbac, "clusterroles", "", "view");
    REQUIRE(view.contains("rules"));
    CHECK(view.at("rules").as_array() ==
          c.get(kRbac, "clusterroles", "", "system:aggregate-to-view").at("rules").as_array());
    CHECK(c.get(kRbac, "clusterroles", "", "admin").at("rules").as_array().size() >
          c.get(kRbac, "clusterroles", "", "edit").at("rules").as_array().size());

    const auto masters = c.get(kRbac, "clusterrolebindings", "", "cluster-admin");
    CHECK(masters.at("roleRef").at("name") == "cluster-admin");
    CHECK(masters.at("subjects").at(0).at("name") == "system:masters");
    CHECK(masters.at("subjects").at(0).at("kind") == "Group");
    const auto public_info = c.get(kRbac, "clusterrolebindings", "", "system:public-info-viewer");
    CHECK(public_info.at("subjects").as_array().size() == 2);
    CHECK(c.get(kRbac, "clusterrolebindings", "", "system:discovery")
              .at("subjects")
              .at(0)
              .at("name") == "system:authenticated");
    CHECK(c.get(kRbac, "clusterrolebindings", "", "system:basic-user")
              .at("subjects")
              .at(0)
              .at("name") == "system:authenticated");

    SUBCASE("a second run changes nothing") {
        const auto before = c.get(kRbac, "clusterroles", "", "system:discovery");
        auth::ensure_default_rbac(*c.service);
        const auto after = c.get(kRbac, "clusterroles", "", "system:discovery");
        CHECK(before.at("metadata").at("resourceVersion") ==
              after.at("metadata").at("resourceVersion"));
    }
    SUBCASE("missing rules and subjects come back; additions stay") {
        auto discovery = c.get(kRbac, "clusterroles", "", "system:discovery");
        discovery["rules"] = json::array{url_rule({"get"}, {"/custom"})};
        c.service->update(c.info(kRbac, "clusterroles"), "", "system:discovery", discovery, {});
        auto binding = c.get(kRbac, "clusterrolebindings", "", "system:basic-user");
        binding["subjects"] = json::array{user_subject("carol")};
        c.service->update(c.info(kRbac, "clusterrolebindings"), "", "system:basic-user", binding,
                          {});
        auth::ensure_default_rbac(*c.service);
        const auto rules = c.get(kRbac, "clusterroles", "", "system:discovery").at("rules");
        REQUIRE(rules.as_array().size() == 2);
        CHECK(rules.at(0).at("nonResourceURLs").at(0) == "/custom");
        CHECK(rules.at(1).at("nonResourceURLs").as_array().size() == 11);
        const auto subjects =
            c.get(kRbac, "clusterrolebindings", "", "system:basic-user").at("subjects");
        CHECK(subjects.as_array().size() == 2);
    }
    SUBCASE("autoupdate=false leaves a role alone") {
        auto discovery = c.get(kRbac, "clusterroles", "", "system:discovery");
        discovery["rules"] = json::array{};
        discovery["metadata"]
            .as_object()["annotations"]
            .as_object()["rbac.authorization.kubernetes.io/autoupdate"] = "false";
        c.service->update(c.info(kRbac, "clusterroles"), "", "system:discovery", discovery, {});
        auth::ensure_default_rbac(*c.service);
        CHECK(c.get(kRbac, "clusterroles", "", "system:discovery").at("rules").as_array().empty());
    }
}

TEST_CASE("view bound in one namespace reads pods there and nothing else") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    c.role_binding("default", "bob-view", "ClusterRole", "view", {user_subject("bob")});
    auth::Authorizer authz(*c.service);

    for (const char* verb : {"get", "list", "watch"}) {
        CAPTURE(verb);
        CHECK(authz.authorize(request("bob", verb, "", "pods", "default")).allowed);
    }
    const auto allowed = authz.authorize(request("bob", "get", "", "pods", "default", "web"));
    CHECK(allowed.reason ==
          "RBAC: allowed by RoleBinding \"bob-view/default\" of ClusterRole \"view\" to User "
          "\"bob\"");
    CHECK(authz.authorize(request("bob", "get", "", "pods", "default", "web", "log")).allowed);
    CHECK(authz.authorize(request("bob", "list", "apps", "deployments", "default")).allowed);
    CHECK(authz.authorize(request("bob", "get", "apps", "deployments", "default", "w", "scale"))
              .allowed);

    CHECK_FALSE(authz.authorize(request("bob", "create", "", "pods", "default")).allowed);
    CHECK_FALSE(
        authz.authorize(request("bob", "get", "", "pods", "default", "web", "exec")).allowed);
    CHECK_FALSE(authz.authorize(request("bob", "list", "", "pods", "other")).allowed);
    CHECK_FALSE(authz.authorize(request("bob", "list", "", "pods", "")).allowed);  // all ns
    CHECK_FALSE(authz.authorize(request("bob", "get", "", "secrets", "default", "s")).allowed);
    CHECK_FALSE(authz.authorize(request("bob", "list", kRbac, "roles", "default")).allowed);
    CHECK_FALSE(authz.authorize(request("alice", "list", "", "pods", "default")).allowed);
    // Discovery comes from the default ClusterRoleBinding to system:authenticated.
    CHECK(authz.authorize(path_request("bob", "get", "/apis")).allowed);
}

TEST_CASE("edit and admin grant what upstream's aggregated roles grant") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    c.role_binding("team", "eve-edit", "ClusterRole", "edit", {user_subject("eve")});
    c.role_binding("team", "ann-admin", "ClusterRole", "admin", {user_subject("ann")});
    auth::Authorizer authz(*c.service);

    CHECK(authz.authorize(request("eve", "create", "apps", "deployments", "team")).allowed);
    CHECK(authz.authorize(request("eve", "patch", "apps", "deployments", "team", "w", "scale"))
              .allowed);
    CHECK(authz.authorize(request("eve", "get", "", "secrets", "team", "s")).allowed);
    CHECK(authz.authorize(request("eve", "create", "", "pods", "team", "p", "exec")).allowed);
    CHECK(authz.authorize(request("eve", "create", "batch", "jobs", "team")).allowed);
    // view's rules reach edit through aggregation of aggregated roles.
    CHECK(authz.authorize(request("eve", "get", "", "pods", "team", "p", "log")).allowed);
    CHECK_FALSE(authz.authorize(request("eve", "create", kRbac, "rolebindings", "team")).allowed);
    CHECK_FALSE(
        authz.authorize(request("eve", "update", "", "pods", "team", "p", "status")).allowed);
    CHECK_FALSE(authz.authorize(request("eve", "create", "apps", "deployments", "other")).allowed);

    CHECK(authz.authorize(request("ann", "create", kRbac, "rolebindings", "team")).allowed);
    CHECK(authz.authorize(request("ann", "delete", "apps", "deployments", "team", "w")).allowed);
    CHECK_FALSE(authz.authorize(request("ann", "create", "", "namespaces", "")).allowed);
}

TEST_CASE("resourceNames restrict a rule to named objects") {
    Cluster c;
    c.role("default", "config-reader",
           {rule({"get", "update"}, {""}, {"configmaps"}, {"app-config"})});
    c.role_binding("default", "bob-config", "Role", "config-reader", {user_subject("bob")});
    auth::Authorizer authz(*c.service);

    const auto d =
        authz.authorize(request("bob", "get", "", "configmaps", "default", "app-config"));
    CHECK(d.allowed);
    CHECK(d.reason ==
          "RBAC: allowed by RoleBinding \"bob-config/default\" of Role \"config-reader\" to User "
          "\"bob\"");
    CHECK(authz.authorize(request("bob", "update", "", "configmaps", "default", "app-config"))
              .allowed);
    CHECK_FALSE(
        authz.authorize(request("bob", "get", "", "configmaps", "default", "other")).allowed);
    CHECK_FALSE(authz.authorize(request("bob", "list", "", "configmaps", "default")).allowed);
    // A Role only counts in its own namespace.
    CHECK_FALSE(
        authz.authorize(request("bob", "get", "", "configmaps", "other", "app-config")).allowed);
}

TEST_CASE("resource forms: *, group/*, pods/log and */scale") {
    Cluster c;
    c.cluster_role("scaler", {rule({"get", "update"}, {"*"}, {"*/scale"})});
    c.cluster_role("logs", {rule({"get"}, {""}, {"pods/log"})});
    c.cluster_role("all-apps", {rule({"*"}, {"apps"}, {"*"})});
    c.cluster_role_binding("sam", "scaler", {user_subject("sam")});
    c.cluster_role_binding("lou", "logs", {user_subject("lou")});
    c.cluster_role_binding("amy", "all-apps", {user_subject("amy")});
    auth::Authorizer authz(*c.service);

    CHECK(authz.authorize(request("sam", "update", "apps", "deployments", "x", "w", "scale"))
              .allowed);
    CHECK(authz.authorize(request("sam", "get", "", "replicationcontrollers", "x", "r", "scale"))
              .allowed);
    CHECK_FALSE(authz.authorize(request("sam", "get", "apps", "deployments", "x", "w")).allowed);
    CHECK_FALSE(
        authz.authorize(request("sam", "get", "apps", "deployments", "x", "w", "status")).allowed);

    CHECK(authz.authorize(request("lou", "get", "", "pods", "x", "p", "log")).allowed);
    CHECK_FALSE(authz.authorize(request("lou", "get", "", "pods", "x", "p")).allowed);

    CHECK(authz.authorize(request("amy", "deletecollection", "apps", "replicasets", "")).allowed);
    CHECK(authz.authorize(request("amy", "patch", "apps", "deployments", "x", "w", "status"))
              .allowed);
    CHECK_FALSE(authz.authorize(request("amy", "get", "", "pods", "x")).allowed);
}

TEST_CASE("nonResourceURLs: exact paths, * and trailing-* prefixes") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    c.cluster_role("log-reader", {url_rule({"get"}, {"/logs", "/logs/*"})});
    c.cluster_role_binding("nina-logs", "log-reader", {user_subject("nina")});
    auth::Authorizer authz(*c.service);

    CHECK(authz.authorize(path_request("nina", "get", "/logs")).allowed);
    CHECK(authz.authorize(path_request("nina", "get", "/logs/kube-apiserver.log")).allowed);
    CHECK_FALSE(authz.authorize(path_request("nina", "post", "/logs")).allowed);
    CHECK_FALSE(authz.authorize(path_request("nina", "get", "/metrics")).allowed);
    // system:discovery for every authenticated user: "/api/*" is a prefix.
    CHECK(authz.authorize(path_request("nina", "get", "/api/v1")).allowed);
    CHECK(authz.authorize(path_request("nina", "get", "/version")).allowed);
    // Anonymous users see only public info.
    const std::vector<std::string> anonymous = {"system:unauthenticated"};
    CHECK(authz.authorize(path_request("system:anonymous", "get", "/healthz", anonymous)).allowed);
    CHECK_FALSE(
        authz.authorize(path_request("system:anonymous", "get", "/apis", anonymous)).allowed);
    // A non-resource rule grants nothing on resources, and vice versa.
    CHECK_FALSE(authz.authorize(request("nina", "get", "", "logs", "")).allowed);
}

TEST_CASE("aggregated roles pick up a new ClusterRole labelled aggregate-to-view") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    c.role_binding("default", "bob-view", "ClusterRole", "view", {user_subject("bob")});
    c.role_binding("default", "ann-admin", "ClusterRole", "admin", {user_subject("ann")});
    auth::Authorizer authz(*c.service);
    const auto crontabs = request("bob", "list", "stable.example.com", "crontabs", "default");
    CHECK_FALSE(authz.authorize(crontabs).allowed);

    c.cluster_role("crontab-viewer",
                   {rule({"get", "list", "watch"}, {"stable.example.com"}, {"crontabs"})},
                   {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}});
    CHECK(authz.authorize(crontabs).allowed);
    // Transitively: view aggregates into edit, edit into admin.
    auto for_ann = crontabs;
    for_ann.user = "ann";
    CHECK(authz.authorize(for_ann).allowed);

    // And the aggregation pass writes it into the stored role.
    CHECK(auth::aggregate_cluster_roles(*c.service) >= 1);
    const auto view = c.get(kRbac, "clusterroles", "", "view");
    bool found = false;
    for (const auto& r : view.at("rules").as_array()) {
        if (r.at("apiGroups").at(0) == "stable.example.com") found = true;
    }
    CHECK(found);
    CHECK(auth::aggregate_cluster_roles(*c.service) == 0);

    c.remove(kRbac, "clusterroles", "", "crontab-viewer");
    CHECK_FALSE(authz.authorize(crontabs).allowed);
}

TEST_CASE("service-account subjects") {
    Cluster c;
    c.cluster_role("pod-reader", {rule({"get", "list"}, {""}, {"pods"})});
    // No namespace on the subject: the binding's namespace.
    c.role_binding("default", "builder-pods", "ClusterRole", "pod-reader", {sa_subject("builder")});
    c.role_binding("team", "other-builder", "ClusterRole", "pod-reader",
                   {sa_subject("builder", "other")});
    c.cluster_role_binding("all-sas-in-other", "pod-reader",
                           {group_subject("system:serviceaccounts:other")});
    auth::Authorizer authz(*c.service);

    const std::vector<std::string> default_groups = {
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"};
    const std::vector<std::string> other_groups = {
        "system:serviceaccounts", "system:serviceaccounts:other", "system:authenticated"};
    const auto d = authz.authorize(request("system:serviceaccount:default:builder", "list", "",
                                           "pods", "default", "", "", default_groups));
    CHECK(d.allowed);
    CHECK(d.reason ==
          "RBAC: allowed by RoleBinding \"builder-pods/default\" of ClusterRole \"pod-reader\" to "
          "ServiceAccount \"builder/default\"");
    CHECK_FALSE(authz
                    .authorize(request("system:serviceaccount:default:builder", "list", "", "pods",
                                       "team", "", "", default_groups))
                    .allowed);
    CHECK_FALSE(authz
                    .authorize(request("system:serviceaccount:default:deployer", "list", "", "pods",
                                       "default", "", "", default_groups))
                    .allowed);
    // The qualified subject in "team" names other:builder.
    CHECK(authz
              .authorize(request("system:serviceaccount:other:builder", "get", "", "pods", "team",
                                 "p", "", other_groups))
              .allowed);
    // Every service account of "other", cluster-wide, through the group.
    const auto g = authz.authorize(
        request("system:serviceaccount:other:x", "list", "", "pods", "", "", "", other_groups));
    CHECK(g.allowed);
    CHECK(g.reason ==
          "RBAC: allowed by ClusterRoleBinding \"all-sas-in-other\" of ClusterRole \"pod-reader\" "
          "to Group \"system:serviceaccounts:other\"");
}

TEST_CASE("the policy cache follows bindings being created and deleted") {
    Cluster c;
    c.cluster_role("pod-reader", {rule({"get", "list"}, {""}, {"pods"})});
    auth::Authorizer authz(*c.service);
    const auto a = request("bob", "list", "", "pods", "default");
    CHECK_FALSE(authz.authorize(a).allowed);
    CHECK_FALSE(authz.authorize(a).allowed);  // served from the snapshot

    c.role_binding("default", "bob-pods", "ClusterRole", "pod-reader", {user_subject("bob")});
    CHECK(authz.authorize(a).allowed);
    c.remove(kRbac, "rolebindings", "default", "bob-pods");
    CHECK_FALSE(authz.authorize(a).allowed);

    c.cluster_role_binding("bob-everywhere", "pod-reader", {user_subject("bob")});
    CHECK(authz.authorize(a).allowed);
    // Editing the role itself counts too.
    auto role = c.get(kRbac, "clusterroles", "", "pod-reader");
    role["rules"] = json::array{rule({"get"}, {""}, {"pods"})};
    c.service->update(c.info(kRbac, "clusterroles"), "", "pod-reader", role, {});
    CHECK_FALSE(authz.authorize(a).allowed);
    c.remove(kRbac, "clusterroles", "", "pod-reader");
    const auto d = authz.authorize(request("bob", "get", "", "pods", "default", "p"));
    CHECK_FALSE(d.allowed);
    CHECK(d.reason == "RBAC: clusterrole.rbac.authorization.k8s.io \"pod-reader\" not found");
}

TEST_CASE("concurrent authorize calls while the policy changes") {
    Cluster c;
    c.cluster_role("pod-reader", {rule({"get", "list"}, {""}, {"pods"})});
    auth::Authorizer authz(*c.service);
    std::atomic<bool> stop{false};
    std::atomic<int> checks{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i) {
        readers.emplace_back([&] {
            while (!stop.load()) {
                (void)authz.authorize(request("bob", "list", "", "pods", "default"));
                ++checks;
            }
        });
    }
    for (int i = 0; i < 20; ++i) {
        c.role_binding("default", "b" + std::to_string(i), "ClusterRole", "pod-reader",
                       {user_subject("bob")});
        c.remove(kRbac, "rolebindings", "default", "b" + std::to_string(i));
    }
    stop = true;
    for (auto& t : readers)
        t.join();
    CHECK(checks.load() > 0);
    CHECK_FALSE(authz.authorize(request("bob", "list", "", "pods", "default")).allowed);
}

TEST_CASE("forbidden messages read as upstream's") {
    CHECK(auth::forbidden_message(request("bob", "list", "", "pods", "default")) ==
          "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the "
          "namespace \"default\"");
    CHECK(auth::forbidden_message(request("bob", "list", "", "nodes", "")) ==
          "nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at "
          "the cluster scope");
    CHECK(auth::forbidden_message(request("bob", "get", "", "pods", "default", "x")) ==
          "pods \"x\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in "
          "the namespace \"default\"");
    CHECK(auth::forbidden_message(request("bob", "get", "", "pods", "default", "x", "log")) ==
          "pods \"x\" is forbidden: User \"bob\" cannot get resource \"pods/log\" in API group "
          "\"\" in the namespace \"default\"");
    CHECK(auth::forbidden_message(request("bob", "create", "apps", "deployments", "team")) ==
          "deployments.apps is forbidden: User \"bob\" cannot create resource \"deployments\" in "
          "API group \"apps\" in the namespace \"team\"");
    CHECK(auth::forbidden_message(path_request("bob", "get", "/apis")) ==
          "forbidden: User \"bob\" cannot get path \"/apis\"");
    CHECK(auth::forbidden_message(path_request("bob", "get", "/<script>&")) ==
          "forbidden: User \"bob\" cannot get path \"/&lt;script&gt;&amp;\"");

    const auto status =
        auth::forbidden_error(request("bob", "get", "apps", "deployments", "team", "web"),
                              "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found")
            .to_status();
    CHECK(status.at("code") == 403);
    CHECK(status.at("reason") == "Forbidden");
    CHECK(status.at("message") ==
          "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource "
          "\"deployments\" in API group \"apps\" in the namespace \"team\": RBAC: "
          "clusterrole.rbac.authorization.k8s.io \"x\" not found");
    CHECK(status.at("details").at("group") == "apps");
    CHECK(status.at("details").at("kind") == "deployments");
    CHECK(status.at("details").at("name") == "web");
}

TEST_CASE("SelfSubjectAccessReview and SelfSubjectRulesReview") {
    Cluster c;
    auth::ensure_default_rbac(*c.service);
    c.role_binding("default", "bob-view", "ClusterRole", "view", {user_subject("bob")});
    auth::Authorizer authz(*c.service);
    const std::vector<std::string> groups = {"system:authenticated"};

    auto review = json::parse(R"({"kind":"SelfSubjectAccessReview",
        "apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},
        "spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}})")
                      .as_object();
    auto out = authz.self_subject_access_review("bob", groups, review);
    CHECK(out.at("status").at("allowed") == true);
    CHECK(out.at("status").at("reason") ==
          "RBAC: allowed by RoleBinding \"bob-view/default\" of ClusterRole \"view\" to User "
          "\"bob\"");
    CHECK(out.at("spec").at("resourceAttributes").at("verb") == "list");

    review["spec"].as_object()["resourceAttributes"].as_object()["verb"] = "delete";
    out = authz.self_subject_access_review("bob", groups, review);
    CHECK(out.at("status").at("allowed") == false);
    CHECK_FALSE(out.at("status").as_object().contains("reason"));

    auto non_resource =
        json::parse(R"({"spec":{"nonResourceAttributes":{"path":"/apis","verb":"get"}}})")
            .as_object();
    CHECK(
        authz.self_subject_access_review("bob", groups, non_resource).at("status").at("allowed") ==
        true);

    try {
        (void)authz.self_subject_access_review("bob", groups,
                                               json::object{{"spec", json::object{}}});
        FAIL("expected 422");
    } catch (const api::ApiError& e) {
        CHECK(e.code() == 422);
        CHECK(std::string(e.what()) ==
              "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: "
              "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
              "nonResourceAttributes or resourceAttributes must be specified");
    }

    auto rules = authz.self_subject_rules_review(
        "bob", groups, json::parse(R"({"spec":{"namespace":"default"}})").as_object());
    CHECK(rules.at("kind") == "SelfSubjectRulesReview");
    const auto& status = rules.at("status").as_object();
    CHECK(status.at("incomplete") == false);
    bool pods = false, ssar = false;
    for (const auto& r : status.at("resourceRules").as_array()) {
        for (const auto& res : r.at("resources").as_array()) {
            if (res == "pods") pods = true;
            if (res == "selfsubjectaccessreviews") ssar = true;
        }
    }
    CHECK(pods);
    CHECK(ssar);
    CHECK_FALSE(status.at("nonResourceRules").as_array().empty());
    // In another namespace only the cluster-wide rules apply.
    auto elsewhere = authz.self_subject_rules_review(
        "bob", groups, json::parse(R"({"spec":{"namespace":"other"}})").as_object());
    for (const auto& r : elsewhere.at("status").at("resourceRules").as_array()) {
        for (const auto& res : r.at("resources").as_array())
            CHECK(res != "pods");
    }
    CHECK_THROWS_AS(authz.self_subject_rules_review("bob", groups, json::object{}), api::ApiError);
}

// ---- tokens ----------------------------------------------------------------------------

TEST_CASE("tokens: issue, verify, and an independent check with the openssl CLI") {
    TempDir dir;
    make_key_pair(dir, "sa");
    const auth::TokenIssuer issuer(dir / "sa.key", dir / "sa.pub");

    // kid = base64url(SHA-256(DER SubjectPublicKeyInfo)), computed by openssl itself.
    auto r = run({"openssl", "pkey", "-pubin", "-in", (dir / "sa.pub").string(), "-outform", "DER",
                  "-out", (dir / "pub.der").string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    r = run({"openssl", "dgst", "-sha256", "-binary", "-out", (dir / "kid.bin").string(),
             (dir / "pub.der").string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(issuer.key_id() == b64url_encode(read_text(dir / "kid.bin")));

    auth::TokenClaims claims;
    claims.ns = "default";
    claims.service_account = "builder";
    claims.service_account_uid = "1111-2222";
    claims.pod = auth::ObjectRef{"web-0", "3333"};
    claims.node = auth::ObjectRef{"kcube", "4444"};
    const std::string token = issuer.issue(claims);
    const Jwt jwt = split(token);

    const auto header = json::parse(b64url_decode(jwt.header)).as_object();
    CHECK(json::serialize(header) == "{\"alg\":\"ES256\",\"kid\":\"" + issuer.key_id() + "\"}");
    const auto payload = json::parse(b64url_decode(jwt.payload)).as_object();
    CHECK(payload.at("iss") == "https://kubernetes.default.svc.cluster.local");
    CHECK(payload.at("sub") == "system:serviceaccount:default:builder");
    CHECK(payload.at("aud").as_array() ==
          json::array{"https://kubernetes.default.svc.cluster.local"});
    const auto iat = payload.at("iat").as_int64();
    CHECK(std::abs(iat - now_seconds()) < 5);
    CHECK(payload.at("nbf").as_int64() == iat);
    CHECK(payload.at("exp").as_int64() == iat + 3600);
    CHECK(payload.at("jti").as_string().size() == 36);
    const auto& k8s = payload.at("kubernetes.io").as_object();
    CHECK(k8s.at("namespace") == "default");
    CHECK(k8s.at("serviceaccount").at("name") == "builder");
    CHECK(k8s.at("serviceaccount").at("uid") == "1111-2222");
    CHECK(k8s.at("pod").at("name") == "web-0");
    CHECK(k8s.at("node").at("uid") == "4444");
    // Claims sorted as upstream's tokens list them.
    std::vector<std::string> keys;
    for (const auto& [key, value] : payload)
        keys.emplace_back(key);
    CHECK(keys == std::vector<std::string>{"aud", "exp", "iat", "iss", "jti", "kubernetes.io",
                                           "nbf", "sub"});

    // The real openssl verifies the ES256 signature once r||s is DER again.
    const std::string signature = b64url_decode(jwt.signature);
    REQUIRE(signature.size() == 64);
    write_text(dir / "input.txt", jwt.signing_input);
    write_text(dir / "sig.der", jose_to_der(signature));
    r = run({"openssl", "dgst", "-sha256", "-verify", (dir / "sa.pub").string(), "-signature",
             (dir / "sig.der").string(), (dir / "input.txt").string()});
    CHECK_MESSAGE(r.exit_code == 0, (r.out + r.err));
    CHECK(r.out.find("Verified OK") != std::string::npos);
    // ...and rejects it for other content, so the check above means something.
    write_text(dir / "input2.txt", jwt.signing_input + "x");
    r = run({"openssl", "dgst", "-sha256", "-verify", (dir / "sa.pub").string(), "-signature",
             (dir / "sig.der").string(), (dir / "input2.txt").string()});
    CHECK(r.exit_code != 0);

    // Python's own base64/json read the same token (an independent parser of the encoding).
    r = run({"python3", "-c",
             "import base64,json,sys\n"
             "h,p,s=sys.argv[1].split('.')\n"
             "d=lambda x: base64.urlsafe_b64decode(x+'='*(-len(x)%4))\n"
             "print(json.loads(d(h))['alg'], json.loads(d(p))['sub'], len(d(s)))",
             token});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out == "ES256 system:serviceaccount:default:builder 64\n");

    const auto verified = issuer.verify(token);
    REQUIRE(verified);
    CHECK(verified->subject == "system:serviceaccount:default:builder");
    CHECK(verified->ns == "default");
    CHECK(verified->service_account == "builder");
    CHECK(verified->service_account_uid == "1111-2222");
    REQUIRE(verified->pod);
    CHECK(verified->pod->uid == "3333");
    CHECK_FALSE(verified->secret);
    CHECK(verified->id == payload.at("jti").as_string());
    CHECK(verified->key_id == issuer.key_id());
}

TEST_CASE("tokens: what verify rejects") {
    TempDir dir;
    make_key_pair(dir, "sa");
    make_key_pair(dir, "other");
    const auth::TokenIssuer issuer(dir / "sa.key", dir / "sa.pub");
    auth::TokenClaims claims;
    claims.ns = "default";
    claims.service_account = "builder";
    claims.service_account_uid = "u1";
    const std::string token = issuer.issue(claims);
    REQUIRE(issuer.verify(token));
    const Jwt jwt = split(token);

    SUBCASE("a tampered signature") {
        std::string sig = b64url_decode(jwt.signature);
        sig[10] = static_cast<char>(sig[10] ^ 0x01);
        CHECK_FALSE(issuer.verify(jwt.signing_input + "." + b64url_encode(sig)));
        CHECK_FALSE(issuer.verify(jwt.signing_input + "."));
    }
    SUBCASE("a tampered payload") {
        std::string payload = b64url_decode(jwt.payload);
        const auto at = payload.find("builder");
        payload.replace(at, 7, "admin12");
        CHECK_FALSE(issuer.verify(jwt.header + "." + b64url_encode(payload) + "." + jwt.signature));
    }
    SUBCASE("alg none and garbage") {
        const std::string none = b64url_encode(R"({"alg":"none"})");
        CHECK_FALSE(issuer.verify(none + "." + jwt.payload + "."));
        CHECK_FALSE(issuer.verify("not-a-jwt"));
        CHECK_FALSE(issuer.verify("a.b.c"));
        CHECK_FALSE(issuer.verify(""));
    }
    SUBCASE("another key, or the same key with another issuer") {
        const auth::TokenIssuer stranger(dir / "other.key", dir / "other.pub");
        CHECK_FALSE(stranger.verify(token));
        CHECK_FALSE(issuer.verify(stranger.issue(claims)));
        const auth::TokenIssuer elsewhere(dir / "sa.key", dir / "sa.pub", "https://elsewhere");
        CHECK_FALSE(elsewhere.verify(token));
    }
    SUBCASE("expired, beyond the leeway") {
        auto old = claims;
        old.issued_at = std::chrono::system_clock::now() - std::chrono::hours(2);
        CHECK_FALSE(issuer.verify(issuer.issue(old)));
        old.issued_at = std::chrono::system_clock::now() - std::chrono::seconds(3600 + 30);
        CHECK(issuer.verify(issuer.issue(old)));  // within go-jose's 60 s leeway
    }
    SUBCASE("not valid yet") {
        auto future = claims;
        future.issued_at = std::chrono::system_clock::now() + std::chrono::minutes(10);
        CHECK_FALSE(issuer.verify(issuer.issue(future)));
    }
    SUBCASE("mismatched key files are refused up front") {
        CHECK_THROWS_AS(auth::TokenIssuer(dir / "sa.key", dir / "other.pub"), kcube::Error);
        write_text(dir / "bad.key", "not a key");
        CHECK_THROWS_AS(auth::TokenIssuer(dir / "bad.key", dir / "sa.pub"), kcube::Error);
    }
}

TEST_CASE("Authenticator: a token is as good as its service account (and pod)") {
    Cluster c;
    make_key_pair(c.dir, "sa");
    const auth::TokenIssuer issuer(c.dir / "sa.key", c.dir / "sa.pub");
    auth::Authenticator authn(issuer, *c.service);
    const auto sa = c.service_account("default", "builder");

    auth::TokenClaims claims;
    claims.ns = "default";
    claims.service_account = "builder";
    claims.service_account_uid = uid(sa);
    const std::string token = issuer.issue(claims);

    const auto user = authn.authenticate_bearer(token);
    REQUIRE(user);
    CHECK(user->name == "system:serviceaccount:default:builder");
    CHECK(user->groups == std::vector<std::string>{"system:serviceaccounts",
                                                   "system:serviceaccounts:default",
                                                   "system:authenticated"});
    CHECK_FALSE(authn.authenticate_bearer("Zm9v.YmFy.YmF6"));

    SUBCASE("another audience is not an API credential") {
        auto vault = claims;
        vault.audiences = {"vault"};
        CHECK_FALSE(authn.authenticate_bearer(issuer.issue(vault)));
    }
    SUBCASE("deleted or recreated service account") {
        c.remove("", "serviceaccounts", "default", "builder");
        CHECK_FALSE(authn.authenticate_bearer(token));
        c.service_account("default", "builder");  // same name, new uid
        CHECK_FALSE(authn.authenticate_bearer(token));
    }
    SUBCASE("pod-bound token dies with the pod") {
        const auto pod = c.pod("default", "web-0", "builder");
        auto bound = claims;
        bound.pod = auth::ObjectRef{"web-0", uid(pod)};
        const std::string pod_token = issuer.issue(bound);
        CHECK(authn.authenticate_bearer(pod_token));
        c.remove("", "pods", "default", "web-0");
        CHECK_FALSE(authn.authenticate_bearer(pod_token));
    }
}

TEST_CASE("TokenRequest: serviceaccounts/<name>/token") {
    Cluster c;
    make_key_pair(c.dir, "sa");
    const auth::TokenIssuer issuer(c.dir / "sa.key", c.dir / "sa.pub");
    auth::Authenticator authn(issuer, *c.service);
    const auto sa = c.service_account("default", "builder");
    const json::object minimal{{"apiVersion", "authentication.k8s.io/v1"},
                               {"kind", "TokenRequest"},
                               {"spec", json::object{}}};

    SUBCASE("defaults: an hour, the issuer as audience") {
        const auto out =
            auth::handle_token_request(*c.service, issuer, "default", "builder", minimal);
        CHECK(out.at("kind") == "TokenRequest");
        CHECK(out.at("spec").at("expirationSeconds") == 3600);
        CHECK(out.at("spec").at("audiences").as_array() ==
              json::array{"https://kubernetes.default.svc.cluster.local"});
        CHECK(out.at("spec").at("boundObjectRef").is_null());
        const std::string token(out.at("status").at("token").as_string());
        const auto verified = issuer.verify(token);
        REQUIRE(verified);
        CHECK(verified->service_account_uid == uid(sa));
        const auto lifetime = verified->expires_at - verified->issued_at;
        CHECK(lifetime == std::chrono::seconds(3600));
        const std::string expiry(out.at("status").at("expirationTimestamp").as_string());
        CHECK(expiry.size() == 20);
        CHECK(expiry.back() == 'Z');
        const auto user = authn.authenticate_bearer(token);
        REQUIRE(user);
        CHECK(user->name == "system:serviceaccount:default:builder");
    }
    SUBCASE("expirationSeconds below ten minutes is Invalid") {
        auto request = minimal;
        request["spec"] = json::object{{"expirationSeconds", 599}};
        try {
            (void)auth::handle_token_request(*c.service, issuer, "default", "builder", request);
            FAIL("expected 422");
        } catch (const api::ApiError& e) {
            CHECK(e.code() == 422);
            CHECK(std::string(e.what()) ==
                  "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: "
                  "Invalid value: 599: may not specify a duration less than 10 minutes");
        }
        request["spec"] = json::object{{"expirationSeconds", 600}, {"audiences", {"vault"}}};
        const auto out =
            auth::handle_token_request(*c.service, issuer, "default", "builder", request);
        const auto verified = issuer.verify(std::string(out.at("status").at("token").as_string()));
        REQUIRE(verified);
        CHECK(verified->audiences == std::vector<std::string>{"vault"});
    }
    SUBCASE("a missing service account is 404") {
        try {
            (void)auth::handle_token_request(*c.service, issuer, "default", "ghost", minimal);
            FAIL("expected 404");
        } catch (const api::ApiError& e) {
            CHECK(e.code() == 404);
            CHECK(std::string(e.what()) == "serviceaccounts \"ghost\" not found");
        }
    }
    SUBCASE("bound to a pod") {
        const auto pod = c.pod("default", "web-0", "builder");
        c.pod("default", "intruder", "default");
        auto request = minimal;
        request["spec"] = json::object{
            {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web-0"}}}};
        const auto out =
            auth::handle_token_request(*c.service, issuer, "default", "builder", request);
        const auto verified = issuer.verify(std::string(out.at("status").at("token").as_string()));
        REQUIRE(verified);
        REQUIRE(verified->pod);
        CHECK(verified->pod->name == "web-0");
        CHECK(verified->pod->uid == uid(pod));

        // What kubelets ask for: 3607 s becomes a year with "warnafter".
        request["spec"].as_object()["expirationSeconds"] = 3607;
        const auto kubelet =
            auth::handle_token_request(*c.service, issuer, "default", "builder", request);
        const auto extended =
            issuer.verify(std::string(kubelet.at("status").at("token").as_string()));
        REQUIRE(extended);
        CHECK(extended->expires_at - extended->issued_at == std::chrono::hours(24 * 365));
        CHECK(
            extended->claims.at("kubernetes.io").at("warnafter").as_int64() ==
            std::chrono::duration_cast<std::chrono::seconds>(extended->issued_at.time_since_epoch())
                    .count() +
                3607);

        request["spec"].as_object()["boundObjectRef"].as_object()["name"] = "intruder";
        CHECK_THROWS_WITH_AS(
            auth::handle_token_request(*c.service, issuer, "default", "builder", request),
            "cannot bind token for serviceaccount \"builder\" to pod running with different "
            "serviceaccount name.",
            api::ApiError);
        request["spec"].as_object()["boundObjectRef"] = json::object{
            {"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web-0"}, {"uid", "not-it"}};
        try {
            (void)auth::handle_token_request(*c.service, issuer, "default", "builder", request);
            FAIL("expected 409");
        } catch (const api::ApiError& e) {
            CHECK(e.code() == 409);
        }
        request["spec"].as_object()["boundObjectRef"] =
            json::object{{"kind", "Deployment"}, {"apiVersion", "apps/v1"}, {"name", "web"}};
        CHECK_THROWS_WITH_AS(
            auth::handle_token_request(*c.service, issuer, "default", "builder", request),
            "cannot bind token to object of type apps/v1, Kind=Deployment", api::ApiError);
    }
}
