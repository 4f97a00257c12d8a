#pragma once
// Every API verb on every resource, with Kubernetes semantics, independent of HTTP. The API
// server's handlers and the in-process client (controllers, scheduler, kubelet) both call this,
// so both transports behave the same (DESIGN.md principle 2). Failures throw ApiError.
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/resources.hpp"

namespace kcube::store {
class Store;
}

namespace kcube::api {

class SchemaSet;

struct ListOptions {
    std::string label_selector;
    std::string field_selector;
    std::string resource_version;        // "", "0" or a revision
    std::string resource_version_match;  // "", "NotOlderThan", "Exact"
    std::int64_t limit = 0;
    std::string continue_token;
};

struct WriteOptions {
    bool dry_run = false;
    std::string field_manager;
    std::string field_validation;  // "Strict", "Warn" (default), "Ignore"
    bool force = false;            // server-side apply: take over conflicting fields
    std::vector<std::string>* warnings = nullptr;  // filled for fieldValidation=Warn
    bool* created = nullptr;  // set when an apply (PATCH) created the object: upstream says 201
};

struct DeleteOptions {
    std::optional<std::int64_t> grace_period_seconds;
    std::string propagation_policy;  // "", "Orphan", "Background", "Foreground"
    std::string precondition_uid;
    std::string precondition_resource_version;
    bool dry_run = false;
};

enum class PatchType { kJson, kMerge, kStrategic, kApply };

struct WatchEvent {
    std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    boost::json::object object;
};

class WatchStream {
  public:
    virtual ~WatchStream() = default;
    // Events ready now. After an error, returns one ERROR event (a Status) and then nothing.
    virtual std::vector<WatchEvent> poll() = 0;
    virtual void on_ready(std::function<void()> callback) = 0;
    // A BOOKMARK event at the newest revision this stream has fully delivered.
    virtual WatchEvent bookmark() = 0;
};

class ResourceService {
  public:
    ResourceService(std::shared_ptr<store::Store> store, std::shared_ptr<ResourceRegistry> registry,
                    const SchemaSet& schemas);
    ~ResourceService();

    const ResourceRegistry& registry() const { return *registry_; }
    const SchemaSet& schemas() const;
    store::Store& store() { return *store_; }

    boost::json::object get(const ResourceInfo& info, const std::string& ns,
                            const std::string& name);
    // The XList object ({kind, apiVersion, metadata{resourceVersion, continue}, items}).
    boost::json::object list(const ResourceInfo& info, const std::string& ns,
                             const ListOptions& options);
    // The same list as JSON text, written without parsing each stored item (the hot path of
    // a plain LIST).
    std::string list_json(const ResourceInfo& info, const std::string& ns,
                          const ListOptions& options);
    boost::json::object create(const ResourceInfo& info, const std::string& ns,
                               boost::json::object object, const WriteOptions& options);
    // `subresource` "" or "status" (the object's status only) or "scale" (the Scale view).
    boost::json::object update(const ResourceInfo& info, const std::string& ns,
                               const std::string& name, boost::json::object object,
                               const WriteOptions& options, std::string_view subresource = {});
    boost::json::object patch(const ResourceInfo& info, const std::string& ns,
                              const std::string& name, PatchType type, std::string_view body,
                              const WriteOptions& options, std::string_view subresource = {});
    // The object still terminating (finalizers, graceful pod deletion), or a Status Success.
    boost::json::object remove(const ResourceInfo& info, const std::string& ns,
                               const std::string& name, const DeleteOptions& options);
    boost::json::object remove_collection(const ResourceInfo& info, const std::string& ns,
                                          const ListOptions& list_options,
                                          const DeleteOptions& options);
    std::unique_ptr<WatchStream> watch(const ResourceInfo& info, const std::string& ns,
                                       const ListOptions& options);
    // pods/binding: assigns an unassigned pod to `node` and marks it PodScheduled, as the
    // binding subresource does upstream (409 if the pod is already assigned).
    void bind_pod(const std::string& ns, const std::string& name, const std::string& node);
    // The Scale (autoscaling/v1) view of a scalable object.
    boost::json::object get_scale(const ResourceInfo& info, const std::string& ns,
                                  const std::string& name);

    std::string storage_key(const ResourceInfo& info, std::string_view ns,
                            std::string_view name) const;

  private:
    // The stored items a list returns, filtered and paged (shared by list and list_json).
    struct Listing;
    Listing collect(const ResourceInfo& info, const std::string& ns, const ListOptions& options);
    // create() and update() with control over metadata.managedFields: `track` is false when
    // server-side apply computed them already; `tracked_as` is the subresource an Update entry
    // is recorded for (a /scale write goes through the main object but is recorded as scale).
    boost::json::object create_object(const ResourceInfo& info, const std::string& ns,
                                      boost::json::object object, const WriteOptions& options,
                                      bool track);
    boost::json::object update_object(const ResourceInfo& info, const std::string& ns,
                                      const std::string& name, boost::json::object object,
                                      const WriteOptions& options, std::string_view subresource,
                                      bool track, std::string_view tracked_as);
    // PATCH with application/apply-patch+yaml: server-side apply, creating a missing object.
    boost::json::object apply(const ResourceInfo& info, const std::string& ns,
                              const std::string& name, std::string_view body,
                              const WriteOptions& options, std::string_view subresource);

    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::shared_ptr<store::Store> store_;
    std::shared_ptr<ResourceRegistry> registry_;
};

}  // namespace kcube::api
