// The garbage collector (upstream's pkg/controller/garbagecollector). It keeps a graph of every
// object's ownerReferences, fed by the shared informers of the built-in resources and by
// watches of its own on custom resources, and acts on three things:
// - an object none of whose owners exists any more (absent, or replaced: another uid) is
//   deleted (background, or as its own finalizers say); references to owners that are gone
//   are dropped while another owner remains;
// - an owner deleted in the foreground ("foregroundDeletion" finalizer) has its dependents
//   deleted, in the foreground too where they have dependents themselves, and loses the
//   finalizer once no dependent with blockOwnerDeletion is left;
// - an owner deleted with the "orphan" finalizer has its references removed from its
//   dependents, then loses the finalizer.
// Owners are always checked against the API (by kind, name and uid), never only the graph, so
// a restart converges: every object with ownerReferences is looked at once at start-up.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/ownership.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using namespace ownership;

// The queue key that makes the collector (re)consider which custom resources it watches.
constexpr const char* kCustomResourcesKey = "#custom-resources";
// After a failed list or watch of a custom resource, how soon to try again.
constexpr auto kRelistDelay = std::chrono::milliseconds(500);

std::string resource_id(const api::ResourceInfo& info) {
    return info.group + "/" + info.version + "/" + info.plural;
}

// Queue keys: "<group>/<version>/<plural>|<namespace>/<name>".
std::string item_key(const std::string& resource, const std::string& ns, const std::string& name) {
    return resource + "|" + object_key(ns, name);
}

// Resources whose objects may own or be owned: deletable and watchable; Events are left out,
// as upstream's collector ignores them.
bool collectable(const api::ResourceInfo& info) {
    if (info.virtual_resource) return false;
    if (!info.has_verb("list") || !info.has_verb("watch") || !info.has_verb("delete")) {
        return false;
    }
    return !(info.plural == "events" && (info.group.empty() || info.group == "events.k8s.io"));
}

// The graph of ownership: every object seen, with its owners, and the dependents of each uid.
// Informer handlers and the custom-resource watches feed it; it tells which objects to look
// at after each change.
class OwnerGraph {
  public:
    struct Node {
        std::string resource, ns, name;
        std::vector<OwnerRef> owners;
        bool deleting = false, foreground = false, orphan = false;
    };

    // Records an object's new state (or that it is gone); returns the keys to look at.
    std::vector<std::string> observe(const std::string& resource, const json::object& object,
                                     bool deleted) {
        const std::string uid = api::meta_string(object, "uid");
        if (uid.empty()) return {};
        std::vector<std::string> keys;
        std::lock_guard lock(mutex_);
        auto it = nodes_.find(uid);
        if (deleted) {
            if (it != nodes_.end()) {
                // Owners waiting for their dependents may now be done.
                for (const auto& owner : it->second.owners) {
                    unlink(owner.uid, uid);
                    add_key_of(owner.uid, keys);
                }
                nodes_.erase(it);
            }
            // Dependents of a vanished owner are collected (or lose the reference).
            add_dependents(uid, keys, false);
            return keys;
        }
        Node node{resource,
                  api::meta_string(object, "namespace"),
                  api::meta_string(object, "name"),
                  owner_refs(object),
                  is_terminating(object),
                  false,
                  false};
        node.foreground = node.deleting && has_finalizer(object, kForegroundFinalizer);
        node.orphan = node.deleting && has_finalizer(object, kOrphanFinalizer);
        const std::string self = item_key(node.resource, node.ns, node.name);
        if (it == nodes_.end()) {
            for (const auto& owner : node.owners)
                dependents_[owner.uid].insert(uid);
            if (!node.owners.empty() || node.foreground || node.orphan) keys.push_back(self);
            if (node.foreground) add_dependents(uid, keys, true);
            nodes_.emplace(uid, std::move(node));
            return keys;
        }
        Node& old = it->second;
        if (signature(old.owners) != signature(node.owners)) {
            std::set<std::string> now_blocking;
            for (const auto& owner : node.owners)
                if (owner.block_owner_deletion) now_blocking.insert(owner.uid);
            for (const auto& owner : old.owners) {
                unlink(owner.uid, uid);
                // An owner this object no longer blocks may be able to go now.
                if (owner.block_owner_deletion && !now_blocking.contains(owner.uid)) {
                    add_key_of(owner.uid, keys);
                }
            }
            for (const auto& owner : node.owners)
                dependents_[owner.uid].insert(uid);
            keys.push_back(self);
        }
        if ((node.foreground && !old.foreground) || (node.orphan && !old.orphan)) {
            keys.push_back(self);
            if (node.foreground) add_dependents(uid, keys, true);
        }
        old = std::move(node);
        return keys;
    }

    // After a relist of `resource`: objects recorded but no longer listed are gone.
    std::vector<std::string> retain(const std::string& resource,
                                    const std::set<std::string>& listed) {
        std::vector<std::pair<std::string, Node>> gone;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [uid, node] : nodes_) {
                if (node.resource == resource && !listed.contains(uid))
                    gone.emplace_back(uid, node);
            }
        }
        std::vector<std::string> keys;
        for (const auto& [uid, node] : gone) {
            json::object stub{
                {"metadata",
                 json::object{{"uid", uid}, {"namespace", node.ns}, {"name", node.name}}}};
            for (auto& key : observe(resource, stub, true))
                keys.push_back(std::move(key));
        }
        return keys;
    }

    std::vector<Node> dependents(const std::string& uid) const {
        std::vector<Node> out;
        std::lock_guard lock(mutex_);
        auto it = dependents_.find(uid);
        if (it == dependents_.end()) return out;
        for (const auto& dep : it->second) {
            if (auto node = nodes_.find(dep); node != nodes_.end()) out.push_back(node->second);
        }
        return out;
    }

    bool has_dependents(const std::string& uid) const {
        std::lock_guard lock(mutex_);
        auto it = dependents_.find(uid);
        return it != dependents_.end() && !it->second.empty();
    }

  private:
    static std::string signature(const std::vector<OwnerRef>& owners) {
        std::string out;
        for (const auto& o : owners)
            out += o.uid + (o.block_owner_deletion ? "+" : "-") + o.kind + "/" + o.name + ";";
        return out;
    }
    void unlink(const std::string& owner, const std::string& dependent) {
        auto it = dependents_.find(owner);
        if (it == dependents_.end()) return;
        it->second.erase(dependent);
        if (it->second.empty()) dependents_.erase(it);
    }
    void add_key_of(const std::string& uid, std::vector<std::string>& keys) const {
        if (auto it = nodes_.find(uid); it != nodes_.end()) {
            keys.push_back(item_key(it->second.resource, it->second.ns, it->second.name));
        }
    }
    void add_dependents(const std::string& uid, std::vector<std::string>& keys,
                        bool skip_deleting) const {
        auto it = dependents_.find(uid);
        if (it == dependents_.end()) return;
        for (const auto& dep : it->second) {
            auto node = nodes_.find(dep);
            if (node == nodes_.end() || (skip_deleting && node->second.deleting)) continue;
            keys.push_back(item_key(node->second.resource, node->second.ns, node->second.name));
        }
    }

    mutable std::mutex mutex_;
    std::map<std::string, Node> nodes_;                        // by uid
    std::map<std::string, std::set<std::string>> dependents_;  // owner uid -> dependent uids
};

// Lists and watches the custom resources the collector needs (the shared informers are fixed
// when the node starts, custom resources come and go), on a thread of its own. Every object
// seen goes to `observe`; after a (re)list, `relisted` gets the uids that exist.
class CustomResourceWatches {
  public:
    using Observe = std::function<void(const std::string&, const json::object&, bool)>;
    using Relisted = std::function<void(const std::string&, const std::set<std::string>&)>;

    CustomResourceWatches(api::ResourceService& service, Observe observe, Relisted relisted)
        : service_(service), observe_(std::move(observe)), relisted_(std::move(relisted)) {
        thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
    }
    ~CustomResourceWatches() {
        thread_.request_stop();
        notify();
        thread_.join();
    }
    CustomResourceWatches(const CustomResourceWatches&) = delete;
    CustomResourceWatches& operator=(const CustomResourceWatches&) = delete;

    // The resources to watch from now on.
    void want(std::vector<std::shared_ptr<const api::ResourceInfo>> infos) {
        std::lock_guard lock(mutex_);
        wanted_ = std::move(infos);
        wanted_changed_ = true;
        ready_ = true;
        wake_.notify_all();
    }

  private:
    struct Entry {
        std::shared_ptr<const api::ResourceInfo> info;
        std::unique_ptr<api::WatchStream> watch;
    };

    void notify() {
        std::lock_guard lock(mutex_);
        ready_ = true;
        wake_.notify_all();
    }

    void loop(std::stop_token stop) {
        bool healthy = true;
        while (!stop.stop_requested()) {
            std::optional<std::vector<std::shared_ptr<const api::ResourceInfo>>> wanted;
            {
                std::unique_lock lock(mutex_);
                if (healthy) {
                    wake_.wait(lock, [&] { return ready_ || stop.stop_requested(); });
                } else {
                    wake_.wait_for(lock, kRelistDelay,
                                   [&] { return ready_ || stop.stop_requested(); });
                }
                ready_ = false;
                if (wanted_changed_) wanted = wanted_;
                wanted_changed_ = false;
            }
            if (stop.stop_requested()) break;
            if (wanted) update(*wanted);
            healthy = drain();
        }
    }

    void update(const std::vector<std::shared_ptr<const api::ResourceInfo>>& wanted) {
        std::map<std::string, std::shared_ptr<const api::ResourceInfo>> next;
        for (const auto& info : wanted)
            next.emplace(resource_id(*info), info);
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (next.contains(it->first)) {
                ++it;
                continue;
            }
            // The resource is gone: so are its objects.
            relisted_(it->first, {});
            it = entries_.erase(it);
        }
        for (auto& [id, info] : next) {
            if (!entries_.contains(id)) entries_.emplace(id, Entry{info, nullptr});
        }
    }

    void relist(const std::string& id, Entry& entry) {
        json::object listing = service_.list(*entry.info, "", {});
        std::set<std::string> uids;
        for (auto& item : listing["items"].as_array()) {
            auto& object = item.as_object();
            object["apiVersion"] = entry.info->api_version();
            object["kind"] = entry.info->kind;
            uids.insert(api::meta_string(object, "uid"));
            observe_(id, object, false);
        }
        relisted_(id, uids);
        api::ListOptions options;
        options.resource_version = api::field_value(listing, "metadata.resourceVersion");
        entry.watch = service_.watch(*entry.info, "", options);
        entry.watch->on_ready([this] { notify(); });
    }

    // Delivers what the watches have; false if some list or watch must be tried again.
    bool drain() {
        bool healthy = true;
        for (auto& [id, entry] : entries_) {
            try {
                if (!entry.watch) relist(id, entry);
                for (auto& event : entry.watch->poll()) {
                    if (event.type == "ERROR") {
                        entry.watch.reset();
                        healthy = false;
                        break;
                    }
                    if (event.type == "BOOKMARK") continue;
                    observe_(id, event.object, event.type == "DELETED");
                }
            } catch (const std::exception& e) {
                spdlog::debug("garbage collector: watching {}: {}", id, e.what());
                entry.watch.reset();
                healthy = false;
            }
        }
        return healthy;
    }

    api::ResourceService& service_;
    Observe observe_;
    Relisted relisted_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    bool ready_ = false;
    bool wanted_changed_ = false;
    std::vector<std::shared_ptr<const api::ResourceInfo>> wanted_;
    std::map<std::string, Entry> entries_;  // the watch thread's own
    std::jthread thread_;
};

class GarbageCollector final : public Controller {
  public:
    explicit GarbageCollector(ControllerContext& ctx)
        : Controller("garbage-collector-controller"),
          ctx_(ctx),
          custom_(
              ctx.service,
              [this](const std::string& resource, const json::object& object, bool deleted) {
                  enqueue(graph_.observe(resource, object, deleted));
              },
              [this](const std::string& resource, const std::set<std::string>& uids) {
                  enqueue(graph_.retain(resource, uids));
              }) {
        options_.field_manager = kControllerFieldManager;
        for (const auto& info : ctx.service.registry().all()) {
            if (info->custom || !collectable(*info) || !preferred(*info)) continue;
            Informer& informer = ctx.informers.get(info->group, info->version, info->plural);
            const std::string resource = resource_id(*info);
            informer.on_change([this, resource](const ObjectPtr& old, const ObjectPtr& now) {
                enqueue(graph_.observe(resource, now ? *now : *old, !now));
            });
            if (info->group == "apiextensions.k8s.io" &&
                info->plural == "customresourcedefinitions") {
                // Custom resources appear and go with their definitions.
                informer.on_change([this](const ObjectPtr&, const ObjectPtr&) {
                    queue().add(kCustomResourcesKey);
                });
            }
        }
        queue().add(kCustomResourcesKey);
    }

  protected:
    void reconcile(const std::string& key) override;

  private:
    void enqueue(const std::vector<std::string>& keys) {
        for (const auto& key : keys)
            queue().add(key);
    }
    // The version discovery prefers, so each resource is followed once.
    bool preferred(const api::ResourceInfo& info) const {
        const auto best = ctx_.service.registry().find_kind(info.group, info.kind);
        return best && best->version == info.version && best->plural == info.plural;
    }
    std::shared_ptr<const api::ResourceInfo> resource_of(const std::string& id) const;
    void watch_custom_resources();

    // Upstream's attemptToDeleteItem.
    void attempt_to_delete(const api::ResourceInfo& info, const json::object& object);
    OwnerState owner_state(const OwnerRef& ref, const std::string& ns, bool namespaced);
    // Upstream's processDeletingDependentsItem: deletes what blocks a foreground deletion and
    // lets the owner go once nothing blocks it.
    void delete_dependents(const api::ResourceInfo& info, const json::object& owner);
    // Upstream's orphanDependents, then the "orphan" finalizer goes.
    void orphan_dependents(const api::ResourceInfo& info, const json::object& owner);
    void drop_finalizer(const api::ResourceInfo& info, const json::object& object,
                        std::string_view finalizer);

    ControllerContext& ctx_;
    api::WriteOptions options_;
    OwnerGraph graph_;
    // Last member: its thread stops first, while everything it calls still exists.
    CustomResourceWatches custom_;
};

std::shared_ptr<const api::ResourceInfo> GarbageCollector::resource_of(
    const std::string& id) const {
    const auto first = id.find('/');
    const auto second = id.find('/', first + 1);
    if (first == std::string::npos || second == std::string::npos) return nullptr;
    return ctx_.service.registry().find(
        id.substr(0, first), id.substr(first + 1, second - first - 1), id.substr(second + 1));
}

void GarbageCollector::watch_custom_resources() {
    std::vector<std::shared_ptr<const api::ResourceInfo>> wanted;
    for (const auto& info : ctx_.service.registry().all()) {
        if (info->custom && collectable(*info) && preferred(*info)) wanted.push_back(info);
    }
    custom_.want(std::move(wanted));
}

void GarbageCollector::reconcile(const std::string& key) {
    if (key == kCustomResourcesKey) {
        watch_custom_resources();
        return;
    }
    const auto bar = key.find('|');
    if (bar == std::string::npos) return;
    const auto info = resource_of(key.substr(0, bar));
    if (!info) return;  // a custom resource that is gone
    const auto [ns, name] = split_key(std::string_view(key).substr(bar + 1));
    json::object object;
    try {
        object = ctx_.service.get(*info, ns, name);
    } catch (const api::ApiError& e) {
        if (e.code() == 404) return;
        throw;
    }
    if (is_terminating(object)) {
        if (has_finalizer(object, kOrphanFinalizer)) {
            orphan_dependents(*info, object);
        } else if (has_finalizer(object, kForegroundFinalizer)) {
            delete_dependents(*info, object);
        }
        return;
    }
    attempt_to_delete(*info, object);
}

OwnerState GarbageCollector::owner_state(const OwnerRef& ref, const std::string& ns,
                                         bool namespaced) {
    const auto info = ctx_.service.registry().find_kind(group_of(ref.api_version), ref.kind);
    // An owner of a kind not served (yet) cannot be judged: the object stays, as upstream's
    // collector leaves objects with unresolvable owners alone. So does a cluster-scoped
    // object naming a namespaced owner (an invalid reference).
    if (!info || (info->namespaced && !namespaced)) return OwnerState::kSolid;
    json::object owner;
    try {
        owner = ctx_.service.get(*info, info->namespaced ? ns : "", ref.name);
    } catch (const api::ApiError& e) {
        if (e.code() == 404) return OwnerState::kDangling;
        throw;
    }
    if (api::meta_string(owner, "uid") != ref.uid) return OwnerState::kDangling;
    if (is_terminating(owner) && has_finalizer(owner, kForegroundFinalizer)) {
        return OwnerState::kWaiting;
    }
    return OwnerState::kSolid;
}

void GarbageCollector::attempt_to_delete(const api::ResourceInfo& info,
                                         const json::object& object) {
    const auto refs = owner_refs(object);
    if (refs.empty()) return;
    const std::string ns = api::meta_string(object, "namespace");
    const std::string name = api::meta_string(object, "name");
    const std::string uid = api::meta_string(object, "uid");
    std::vector<OwnerState> states;
    for (const auto& ref : refs)
        states.push_back(owner_state(ref, ns, info.namespaced));
    const Decision decision = decide(object, refs, states, graph_.has_dependents(uid));
    switch (decision.action) {
        case Decision::Action::kKeep:
            return;
        case Decision::Action::kRemoveRefs: {
            json::object updated = object;
            remove_owner_refs(updated, decision.uids);
            ctx_.service.update(info, ns, name, std::move(updated), options_);
            return;
        }
        case Decision::Action::kDelete: {
            spdlog::debug("garbage collector: deleting {} {}/{} ({})", info.plural, ns, name,
                          decision.policy);
            api::DeleteOptions options;
            options.precondition_uid = uid;
            options.propagation_policy = decision.policy;
            try {
                ctx_.service.remove(info, ns, name, options);
            } catch (const api::ApiError& e) {
                // Gone already, or replaced by a new object of the same name.
                if (e.code() != 404 && e.code() != 409) throw;
            }
            return;
        }
    }
}

void GarbageCollector::delete_dependents(const api::ResourceInfo& info, const json::object& owner) {
    const std::string uid = api::meta_string(owner, "uid");
    bool blocked = false;
    for (const auto& dependent : graph_.dependents(uid)) {
        bool blocks = false;
        for (const auto& ref : dependent.owners)
            if (ref.uid == uid && ref.block_owner_deletion) blocks = true;
        if (!blocks) continue;
        blocked = true;
        if (!dependent.deleting)
            queue().add(item_key(dependent.resource, dependent.ns, dependent.name));
    }
    if (!blocked) drop_finalizer(info, owner, kForegroundFinalizer);
}

void GarbageCollector::orphan_dependents(const api::ResourceInfo& info, const json::object& owner) {
    const std::string uid = api::meta_string(owner, "uid");
    for (const auto& dependent : graph_.dependents(uid)) {
        const auto dependent_info = resource_of(dependent.resource);
        if (!dependent_info) continue;
        try {
            json::object object = ctx_.service.get(*dependent_info, dependent.ns, dependent.name);
            if (!remove_owner_refs(object, {uid})) continue;
            ctx_.service.update(*dependent_info, dependent.ns, dependent.name, std::move(object),
                                options_);
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;  // a conflict retries the whole owner
        }
    }
    drop_finalizer(info, owner, kOrphanFinalizer);
}

void GarbageCollector::drop_finalizer(const api::ResourceInfo& info, const json::object& object,
                                      std::string_view finalizer) {
    json::object updated = object;
    if (!remove_finalizer(updated, finalizer)) return;
    try {
        ctx_.service.update(info, api::meta_string(object, "namespace"),
                            api::meta_string(object, "name"), std::move(updated), options_);
    } catch (const api::ApiError& e) {
        if (e.code() != 404) throw;
    }
}

}  // namespace

std::unique_ptr<Controller> make_garbage_collector(ControllerContext& ctx) {
    return std::make_unique<GarbageCollector>(ctx);
}

}  // namespace kcube::controllers
