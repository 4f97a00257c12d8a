#pragma once
// The resource registry (DESIGN.md principle 1): every resource the API serves is one row.
// Discovery, routing, storage keys, Table printing and patch metadata all read these rows.
// Custom resources are added at run time from their CustomResourceDefinitions.
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/errors.hpp"

namespace kcube::api {

struct Schema;
struct Printer;
struct CustomPrinterColumn {
    std::string name, type, format, description, json_path;
    int priority = 0;
};

struct ResourceInfo {
    std::string group;  // "" for core
    std::string version;
    std::string kind;
    std::string list_kind;  // "PodList"
    std::string plural;     // "pods": the URL segment and storage key
    std::string singular;
    std::vector<std::string> short_names;
    std::vector<std::string> categories;  // "all" puts it in `kubectl get all`
    bool namespaced = true;
    std::vector<std::string> verbs;  // get list watch create update patch delete deletecollection
    // Subresources served: "status", "scale", "binding", "eviction", "log", "exec", "attach",
    // "portforward", "token", "proxy", "approval", "finalize".
    std::vector<std::string> subresources;
    std::string definition;  // schema definition name, e.g. io.k8s.api.apps.v1.Deployment
    bool custom = false;     // served from a CustomResourceDefinition
    std::shared_ptr<const Schema> custom_schema;      // CRs: the version's openAPIV3Schema
    std::vector<CustomPrinterColumn> custom_columns;  // CRs: additionalPrinterColumns
    // Field selectors this resource supports besides metadata.name and metadata.namespace.
    std::vector<std::string> field_selectors;
    // Not served by the store (e.g. selfsubjectaccessreviews, tokenreviews): create-only
    // virtual resources handled by a hook.
    bool virtual_resource = false;

    std::string group_version() const { return group.empty() ? version : group + "/" + version; }
    std::string api_version() const { return group_version(); }
    bool has_verb(std::string_view verb) const;
    bool has_subresource(std::string_view name) const;
};

class ResourceRegistry {
  public:
    // The built-in resources of Kubernetes 1.32 that kcube serves.
    static std::shared_ptr<ResourceRegistry> with_builtins();

    // By group, version and plural (URL form). nullptr if unknown.
    std::shared_ptr<const ResourceInfo> find(std::string_view group, std::string_view version,
                                             std::string_view plural) const;
    // By group and kind (any served version; preferred first).
    std::shared_ptr<const ResourceInfo> find_kind(std::string_view group,
                                                  std::string_view kind) const;
    std::vector<std::shared_ptr<const ResourceInfo>> all() const;
    // Groups in discovery order with their versions (preferred first).
    struct GroupVersions {
        std::string group;
        std::vector<std::string> versions;
    };
    std::vector<GroupVersions> groups() const;

    // Adds or replaces a (custom) resource; removes every version of group/plural first.
    void put_custom(const std::string& group, const std::string& plural,
                    std::vector<ResourceInfo> versions);
    void remove_custom(const std::string& group, const std::string& plural);
    // Bumped on every change, so discovery caches can be rebuilt.
    std::uint64_t generation() const;

  private:
    mutable std::shared_mutex mutex_;
    std::vector<std::shared_ptr<const ResourceInfo>> resources_;
    std::uint64_t generation_ = 0;
};

}  // namespace kcube::api
