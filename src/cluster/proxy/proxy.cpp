// ServiceProxy: informers on Services and EndpointSlices mark Services dirty; one thread turns
// each batch of dirty Services into one nftables transaction that rewrites only their chains
// and map elements (nft_rules.hpp). A transaction that fails (the table was changed behind
// kcube's back, say) is followed by a full rewrite, so the table always converges.
#include "cluster/proxy/proxy.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/proxy/host_network.hpp"
#include "cluster/proxy/nft_rules.hpp"
#include "cluster/proxy/nftables.hpp"
#include "cluster/proxy/service_model.hpp"
#include "common/error.hpp"

namespace kcube::proxy {

using controllers::ObjectPtr;
using Clock = std::chrono::steady_clock;

struct ServiceProxy::Impl {
    api::ResourceService& service;
    ProxyOptions options;
    RenderOptions render;

    std::unique_ptr<controllers::InformerSet> informers;
    controllers::Informer* services = nullptr;
    controllers::Informer* slices = nullptr;
    std::unique_ptr<Nftables> nft;  // used by start() and then only by the sync thread
    ProxyState programmed;          // what the table holds (sync thread after start)

    std::mutex mutex;
    std::condition_variable changed;
    std::condition_variable synced;
    std::set<std::string> dirty;  // Service keys
    std::uint64_t seen = 0;       // changes marked so far
    std::uint64_t applied = 0;    // changes programmed (the `seen` value of the last batch)
    bool running = false;
    bool stopping = false;
    std::thread thread;

    Impl(api::ResourceService& s, ProxyOptions o) : service(s), options(std::move(o)) {
        render.table = options.table;
        render.cluster_cidr = options.cluster_cidr;
    }

    void mark(const std::string& key) {
        if (key.empty()) return;
        {
            std::lock_guard lock(mutex);
            dirty.insert(key);
            ++seen;
        }
        changed.notify_all();
    }

    // The slices of each Service, by "ns/name".
    std::map<std::string, std::vector<ObjectPtr>> slices_by_service(std::string_view ns) const {
        std::map<std::string, std::vector<ObjectPtr>> out;
        for (auto& slice : slices->list(ns)) {
            const std::string key = slice_service_key(*slice);
            if (!key.empty()) out[key].push_back(std::move(slice));
        }
        return out;
    }

    void add_service(ProxyState& state, const boost::json::object& svc,
                     const std::vector<ObjectPtr>& its_slices) const {
        std::vector<const boost::json::object*> raw;
        for (const auto& s : its_slices)
            raw.push_back(s.get());
        for (auto& port : service_ports(svc, raw, options.node_name)) {
            std::string id = port.id();
            state[std::move(id)] = std::move(port);
        }
    }

    ProxyState full_state() const {
        ProxyState state;
        const auto grouped = slices_by_service({});
        static const std::vector<ObjectPtr> kNone;
        for (const auto& svc : services->list()) {
            const auto found = grouped.find(controllers::object_key(*svc));
            add_service(state, *svc, found == grouped.end() ? kNone : found->second);
        }
        return state;
    }

    // `programmed` with the Services in `keys` brought up to date from the caches.
    ProxyState updated_state(const std::set<std::string>& keys) const {
        ProxyState state = programmed;
        for (const auto& key : keys) {
            const std::string prefix = key + "/";
            for (auto it = state.lower_bound(prefix);
                 it != state.end() && it->first.starts_with(prefix);) {
                it = state.erase(it);
            }
            const auto svc = services->get(key);
            if (!svc) continue;
            const auto parts = controllers::split_key(key);
            std::vector<ObjectPtr> its_slices;
            for (auto& slice : slices->list(parts.ns)) {
                if (slice_service_key(*slice) == key) its_slices.push_back(std::move(slice));
            }
            add_service(state, *svc, its_slices);
        }
        return state;
    }

    // Programs `keys`; on failure rewrites the whole table. Returns false if even that failed.
    bool sync(const std::set<std::string>& keys) {
        ProxyState next = updated_state(keys);
        try {
            const std::string text = render_update(render, programmed, next);
            if (!text.empty()) nft->run(text);
            programmed = std::move(next);
            return true;
        } catch (const std::exception& e) {
            spdlog::warn("service proxy: incremental update failed, rewriting table {}: {}",
                         options.table, e.what());
        }
        try {
            next = full_state();
            nft->run(render_full(render, next));
            programmed = std::move(next);
            return true;
        } catch (const std::exception& e) {
            spdlog::error("service proxy: cannot program table {}: {}", options.table, e.what());
            return false;
        }
    }

    void loop() {
        std::unique_lock lock(mutex);
        while (!stopping) {
            changed.wait(lock, [&] { return stopping || !dirty.empty(); });
            if (stopping) break;
            // Collect what else changes within the window into the same transaction.
            changed.wait_for(lock, options.min_sync_period, [&] { return stopping; });
            if (stopping) break;
            std::set<std::string> keys;
            keys.swap(dirty);
            const std::uint64_t batch = seen;
            lock.unlock();
            const bool ok = sync(keys);
            lock.lock();
            if (ok) {
                applied = batch;
                synced.notify_all();
            } else {
                // Retried after a pause; a broken host must not spin the CPU.
                dirty.insert(keys.begin(), keys.end());
                changed.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
            }
        }
    }

    void shutdown_threads() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        changed.notify_all();
        synced.notify_all();
        if (thread.joinable()) thread.join();
        if (informers) informers->stop();
        informers.reset();
    }
};

ServiceProxy::ServiceProxy(api::ResourceService& service, ProxyOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

ServiceProxy::~ServiceProxy() {
    stop();
}

void ServiceProxy::start() {
    auto& d = *impl_;
    if (d.running) return;
    prepare_host_network();
    d.nft = std::make_unique<Nftables>();
    {
        std::lock_guard lock(d.mutex);
        d.stopping = false;
        d.dirty.clear();
    }
    d.informers = std::make_unique<controllers::InformerSet>(d.service);
    d.services = &d.informers->get("", "v1", "services");
    d.slices = &d.informers->get("discovery.k8s.io", "v1", "endpointslices");
    d.services->on_change([&d](const ObjectPtr& old, const ObjectPtr& now) {
        d.mark(controllers::object_key(now ? *now : *old));
    });
    d.slices->on_change([&d](const ObjectPtr& old, const ObjectPtr& now) {
        // A slice can move between Services only by relabelling: both are dirty.
        if (old) d.mark(slice_service_key(*old));
        if (now) d.mark(slice_service_key(*now));
    });
    try {
        d.informers->start();
        std::uint64_t batch = 0;
        {
            std::lock_guard lock(d.mutex);
            d.dirty.clear();  // the full state below covers everything listed so far
            batch = d.seen;
        }
        // One transaction: a stale table from a killed node goes, the new one comes whole.
        ProxyState state = d.full_state();
        d.nft->run(render_full(d.render, state));
        d.programmed = std::move(state);
        {
            std::lock_guard lock(d.mutex);
            d.applied = batch;
            d.running = true;
        }
        spdlog::info("service proxy: table ip {} programmed with {} service port(s)",
                     d.options.table, d.programmed.size());
    } catch (...) {
        d.shutdown_threads();
        d.nft.reset();
        throw;
    }
    d.thread = std::thread([&d] { d.loop(); });
}

void ServiceProxy::stop() {
    auto& d = *impl_;
    if (!d.running) return;
    d.shutdown_threads();
    try {
        d.nft->run(render_delete(d.render));
    } catch (const std::exception& e) {
        spdlog::warn("service proxy: cannot delete table ip {}: {}", d.options.table, e.what());
    }
    d.nft.reset();
    d.programmed.clear();
    std::lock_guard lock(d.mutex);
    d.running = false;
}

bool ServiceProxy::wait_synced(std::chrono::milliseconds timeout) {
    auto& d = *impl_;
    std::unique_lock lock(d.mutex);
    const std::uint64_t target = d.seen;
    return d.synced.wait_for(lock, timeout, [&] {
        return !d.running || d.stopping || d.applied >= target;
    }) && d.applied >= target;
}

bool remove_rules(const std::string& table) {
    Nftables nft;
    if (!nft.has_table(table)) return false;
    RenderOptions options;
    options.table = table;
    nft.run(render_delete(options));
    return true;
}

}  // namespace kcube::proxy
