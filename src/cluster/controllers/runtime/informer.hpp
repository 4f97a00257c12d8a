#pragma once
// Shared, watch-fed caches of API objects for the controllers and the scheduler (client-go's
// shared informers, in process). One InformerSet lists each resource once, keeps it current
// from one watch, and calls the registered handlers on every change. Handlers run on the
// informer thread and must only queue work.
//
// A controller that just wrote an object may not see its write in the cache yet; remember()
// and forget_deleted() put its own writes into the cache at once (read-your-writes), so a
// reconcile that follows does not act twice on stale state.
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kcube::api {
class ResourceService;
class LabelSelector;
struct ResourceInfo;
}  // namespace kcube::api

namespace kcube::controllers {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// "namespace/name", or "name" for a cluster-scoped object.
std::string object_key(const boost::json::object& object);
std::string object_key(std::string_view ns, std::string_view name);
struct KeyParts {
    std::string ns, name;
};
KeyParts split_key(std::string_view key);

class Informer {
  public:
    // `old` is null for an added object, `now` null for a deleted one.
    using Handler = std::function<void(const ObjectPtr& old, const ObjectPtr& now)>;

    explicit Informer(std::shared_ptr<const api::ResourceInfo> info);
    const api::ResourceInfo& info() const { return *info_; }

    // Register before InformerSet::start().
    void on_change(Handler handler);

    ObjectPtr get(std::string_view key) const;
    ObjectPtr get(std::string_view ns, std::string_view name) const;
    // Every object, or those in `ns` (ns "" with a namespaced resource: all namespaces).
    std::vector<ObjectPtr> list(std::string_view ns = {}) const;
    std::vector<ObjectPtr> list(std::string_view ns, const api::LabelSelector& selector) const;
    // Objects that have an ownerReference with this uid.
    std::vector<ObjectPtr> owned_by(std::string_view ns, std::string_view owner_uid) const;

    // Read-your-writes: a controller's own successful write (the object the service returned).
    void remember(boost::json::object written);
    // Read-your-writes: an object this controller deleted and that is gone (remove() answered
    // with a Status), hidden until the watch says so. When remove() returned the object still
    // terminating (graceful pod deletion, finalizers), remember() that instead.
    void forget_deleted(const boost::json::object& deleted);
    // Either of the above, from what ResourceService::remove() answered for `deleted`.
    void removed(const boost::json::object& deleted, boost::json::object result);

  private:
    friend class InformerSet;
    struct Entry {
        ObjectPtr watched;  // as the watch last delivered it
        ObjectPtr local;    // a newer own write not yet seen on the watch
    };
    static ObjectPtr visible(const Entry& entry);
    // Applies a watch event (type ADDED/MODIFIED/DELETED); returns {old, now} for handlers.
    std::pair<ObjectPtr, ObjectPtr> apply(const std::string& type, boost::json::object object);
    // Replaces the whole cache after a (re)list; returns the changes for handlers.
    std::vector<std::pair<ObjectPtr, ObjectPtr>> replace(std::vector<boost::json::object> items);
    void dispatch(const ObjectPtr& old, const ObjectPtr& now) const;
    ObjectPtr normalise(boost::json::object object) const;

    std::shared_ptr<const api::ResourceInfo> info_;
    std::vector<Handler> handlers_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, Entry, std::less<>> entries_;
    std::set<std::string> deleted_uids_;  // own deletions not yet seen on the watch
};

class InformerSet {
  public:
    explicit InformerSet(api::ResourceService& service);
    ~InformerSet();
    InformerSet(const InformerSet&) = delete;
    InformerSet& operator=(const InformerSet&) = delete;

    // The informer for a resource (made on first use; only before start()).
    Informer& get(std::string_view group, std::string_view version, std::string_view plural);

    // Lists every resource (handlers see each object as added), then follows the watches on a
    // thread of its own.
    void start();
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::controllers
