#include "cluster/controllers/runtime/informer.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>

#include "cluster/api/meta.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {
// After a failed list or watch, how soon to try again.
constexpr auto kRelistDelay = std::chrono::milliseconds(500);

std::int64_t revision_of(const ObjectPtr& object) {
    if (!object) return 0;
    const std::string rv = api::meta_string(*object, "resourceVersion");
    try {
        return rv.empty() ? 0 : std::stoll(rv);
    } catch (const std::exception&) {
        return 0;
    }
}
}  // namespace

std::string object_key(std::string_view ns, std::string_view name) {
    if (ns.empty()) return std::string(name);
    std::string key(ns);
    key += '/';
    key += name;
    return key;
}

std::string object_key(const json::object& object) {
    return object_key(api::meta_string(object, "namespace"), api::meta_string(object, "name"));
}

KeyParts split_key(std::string_view key) {
    const auto slash = key.find('/');
    if (slash == std::string_view::npos) return {"", std::string(key)};
    return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

Informer::Informer(std::shared_ptr<const api::ResourceInfo> info) : info_(std::move(info)) {}

void Informer::on_change(Handler handler) {
    handlers_.push_back(std::move(handler));
}

ObjectPtr Informer::visible(const Entry& entry) {
    if (entry.local && revision_of(entry.local) > revision_of(entry.watched)) return entry.local;
    return entry.watched;
}

ObjectPtr Informer::get(std::string_view key) const {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    ObjectPtr object = visible(it->second);
    if (object && deleted_uids_.contains(api::meta_string(*object, "uid"))) return nullptr;
    return object;
}

ObjectPtr Informer::get(std::string_view ns, std::string_view name) const {
    return get(object_key(ns, name));
}

std::vector<ObjectPtr> Informer::list(std::string_view ns) const {
    std::vector<ObjectPtr> out;
    std::shared_lock lock(mutex_);
    auto begin = entries_.begin();
    std::string prefix;
    if (!ns.empty()) {
        prefix = std::string(ns) + "/";
        begin = entries_.lower_bound(prefix);
    }
    for (auto it = begin; it != entries_.end(); ++it) {
        if (!prefix.empty() && !it->first.starts_with(prefix)) break;
        ObjectPtr object = visible(it->second);
        if (!object || deleted_uids_.contains(api::meta_string(*object, "uid"))) continue;
        out.push_back(std::move(object));
    }
    return out;
}

std::vector<ObjectPtr> Informer::list(std::string_view ns,
                                      const api::LabelSelector& selector) const {
    std::vector<ObjectPtr> out;
    for (auto& object : list(ns)) {
        const auto* metadata = object->if_contains("metadata");
        const auto* labels = metadata && metadata->is_object()
                                 ? metadata->as_object().if_contains("labels")
                                 : nullptr;
        if (selector.matches(labels && labels->is_object() ? &labels->as_object() : nullptr)) {
            out.push_back(std::move(object));
        }
    }
    return out;
}

std::vector<ObjectPtr> Informer::owned_by(std::string_view ns, std::string_view owner_uid) const {
    std::vector<ObjectPtr> out;
    for (auto& object : list(ns)) {
        const auto* metadata = object->if_contains("metadata");
        const auto* refs = metadata && metadata->is_object()
                               ? metadata->as_object().if_contains("ownerReferences")
                               : nullptr;
        if (!refs || !refs->is_array()) continue;
        for (const auto& ref : refs->as_array()) {
            if (ref.is_object() && api::field_value(ref.as_object(), "uid") == owner_uid) {
                out.push_back(object);
                break;
            }
        }
    }
    return out;
}

ObjectPtr Informer::normalise(json::object object) const {
    // List items come without apiVersion/kind; owner references and events need them.
    object["apiVersion"] = info_->api_version();
    object["kind"] = info_->kind;
    return std::make_shared<const json::object>(std::move(object));
}

void Informer::remember(json::object written) {
    ObjectPtr object = normalise(std::move(written));
    const std::string key = object_key(*object);
    std::unique_lock lock(mutex_);
    auto& entry = entries_[key];
    if (revision_of(object) > revision_of(visible(entry))) entry.local = std::move(object);
}

void Informer::forget_deleted(const json::object& deleted) {
    const std::string uid = api::meta_string(deleted, "uid");
    if (uid.empty()) return;
    std::unique_lock lock(mutex_);
    auto it = entries_.find(object_key(deleted));
    if (it != entries_.end() && !it->second.watched) entries_.erase(it);  // own write only
    // Hidden until its DELETED event arrives (the watch may still deliver its creation).
    deleted_uids_.insert(uid);
}

void Informer::removed(const json::object& deleted, json::object result) {
    if (api::field_value(result, "kind") == "Status") {
        forget_deleted(deleted);
    } else {
        remember(std::move(result));
    }
}

std::pair<ObjectPtr, ObjectPtr> Informer::apply(const std::string& type, json::object object) {
    ObjectPtr now = normalise(std::move(object));
    const std::string key = object_key(*now);
    std::unique_lock lock(mutex_);
    auto& entry = entries_[key];
    ObjectPtr old = entry.watched;
    if (type == "DELETED") {
        deleted_uids_.erase(api::meta_string(*now, "uid"));
        entries_.erase(key);
        return {old ? old : now, nullptr};
    }
    entry.watched = now;
    if (entry.local && revision_of(entry.local) <= revision_of(now)) entry.local.reset();
    return {old, now};
}

std::vector<std::pair<ObjectPtr, ObjectPtr>> Informer::replace(std::vector<json::object> items) {
    std::vector<std::pair<ObjectPtr, ObjectPtr>> changes;
    std::map<std::string, Entry, std::less<>> fresh;
    for (auto& item : items) {
        ObjectPtr now = normalise(std::move(item));
        fresh[object_key(*now)].watched = now;
    }
    std::unique_lock lock(mutex_);
    for (auto& [key, entry] : entries_) {
        auto it = fresh.find(key);
        if (it == fresh.end()) {
            if (entry.watched) changes.emplace_back(entry.watched, nullptr);
        } else if (revision_of(entry.watched) != revision_of(it->second.watched)) {
            changes.emplace_back(entry.watched, it->second.watched);
        }
    }
    for (auto& [key, entry] : fresh) {
        if (!entries_.contains(key) || !entries_.at(key).watched) {
            changes.emplace_back(nullptr, entry.watched);
        }
    }
    entries_ = std::move(fresh);
    deleted_uids_.clear();
    return changes;
}

void Informer::dispatch(const ObjectPtr& old, const ObjectPtr& now) const {
    for (const auto& handler : handlers_) {
        try {
            handler(old, now);
        } catch (const std::exception& e) {
            spdlog::warn("informer {}: handler failed: {}", info_->plural, e.what());
        }
    }
}

struct InformerSet::Impl {
    api::ResourceService& service;
    std::map<std::string, std::unique_ptr<Informer>> informers;
    std::map<Informer*, std::unique_ptr<api::WatchStream>> watches;
    std::mutex mutex;
    std::condition_variable wake;
    bool ready = false;
    std::jthread thread;

    explicit Impl(api::ResourceService& s) : service(s) {}

    void notify() {
        std::lock_guard lock(mutex);
        ready = true;
        wake.notify_all();
    }

    // Lists the resource afresh and starts a watch from the list's revision.
    void relist(Informer& informer) {
        json::object listing = service.list(informer.info(), "", {});
        std::vector<json::object> items;
        for (auto& item : listing["items"].as_array())
            items.push_back(std::move(item.as_object()));
        for (const auto& [old, now] : informer.replace(std::move(items))) {
            informer.dispatch(old, now);
        }
        api::ListOptions options;
        options.resource_version = api::field_value(listing, "metadata.resourceVersion");
        auto watch = service.watch(informer.info(), "", options);
        watch->on_ready([this] { notify(); });
        watches[&informer] = std::move(watch);
    }

    // Delivers what every watch has; false if some watch must be re-established.
    bool drain() {
        bool healthy = true;
        for (auto& [name, informer] : informers) {
            try {
                auto& watch = watches[informer.get()];
                if (!watch) relist(*informer);
                for (auto& event : watch->poll()) {
                    if (event.type == "ERROR") {
                        spdlog::debug("informer {}: watch ended ({}), listing again", name,
                                      api::field_value(event.object, "message"));
                        watch.reset();
                        healthy = false;
                        break;
                    }
                    if (event.type == "BOOKMARK") continue;
                    auto [old, now] = informer->apply(event.type, std::move(event.object));
                    informer->dispatch(old, now);
                }
            } catch (const std::exception& e) {
                spdlog::warn("informer {}: {}", name, e.what());
                watches[informer.get()].reset();
                healthy = false;
            }
        }
        return healthy;
    }

    void loop(std::stop_token stop) {
        std::stop_callback on_stop(stop, [this] { notify(); });
        while (!stop.stop_requested()) {
            const bool healthy = drain();
            std::unique_lock lock(mutex);
            if (healthy) {
                wake.wait(lock, [&] { return ready; });
            } else {
                wake.wait_for(lock, kRelistDelay, [&] { return stop.stop_requested(); });
            }
            ready = false;
        }
    }
};

InformerSet::InformerSet(api::ResourceService& service) : impl_(std::make_unique<Impl>(service)) {}

InformerSet::~InformerSet() {
    stop();
}

Informer& InformerSet::get(std::string_view group, std::string_view version,
                           std::string_view plural) {
    const std::string name =
        std::string(group) + "/" + std::string(version) + "/" + std::string(plural);
    auto& slot = impl_->informers[name];
    if (!slot) {
        if (impl_->thread.joinable()) {
            throw std::logic_error("informer for " + name + " requested after start");
        }
        auto info = impl_->service.registry().find(group, version, plural);
        if (!info) throw std::logic_error("no resource " + name);
        slot = std::make_unique<Informer>(info);
    }
    return *slot;
}

void InformerSet::start() {
    for (auto& [name, informer] : impl_->informers) {
        try {
            impl_->relist(*informer);
        } catch (const std::exception& e) {
            spdlog::warn("informer {}: {}", name, e.what());
        }
    }
    impl_->thread = std::jthread([this](std::stop_token stop) { impl_->loop(stop); });
}

void InformerSet::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->thread.request_stop();
    impl_->thread.join();
    impl_->watches.clear();
}

}  // namespace kcube::controllers
