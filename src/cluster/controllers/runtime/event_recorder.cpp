#include "cluster/controllers/runtime/event_recorder.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {
// Distinct events remembered for aggregation; past this the memory starts over.
constexpr std::size_t kMaxRemembered = 4096;

struct Pending {
    json::object involved_ref;
    std::string component, type, reason, message;
    std::string time;
};

struct Recorded {
    std::string ns, name;
    std::int64_t count = 1;
};
}  // namespace

struct EventRecorder::Impl {
    api::ResourceService& service;
    std::shared_ptr<const api::ResourceInfo> events;
    std::mutex mutex;
    std::condition_variable wake, idle;
    std::deque<Pending> pending;
    bool writing = false;
    std::map<std::string, Recorded> recorded;  // only the writer thread touches this
    std::jthread thread;

    explicit Impl(api::ResourceService& s)
        : service(s), events(s.registry().find("", "v1", "events")) {
        thread = std::jthread([this](std::stop_token stop) { loop(stop); });
    }

    void loop(std::stop_token stop) {
        std::stop_callback on_stop(stop, [this] {
            std::lock_guard lock(mutex);
            wake.notify_all();
        });
        while (true) {
            Pending next;
            {
                std::unique_lock lock(mutex);
                writing = false;
                idle.notify_all();
                wake.wait(lock, [&] { return stop.stop_requested() || !pending.empty(); });
                if (stop.stop_requested()) return;
                next = std::move(pending.front());
                pending.pop_front();
                writing = true;
            }
            try {
                write(next);
            } catch (const std::exception& e) {
                spdlog::debug("event {} for {}: {}", next.reason,
                              api::field_value(next.involved_ref, "name"), e.what());
            }
        }
    }

    void write(const Pending& event) {
        const std::string uid = api::field_value(event.involved_ref, "uid");
        const std::string aggregate_key = event.component + "\n" + uid + "\n" + event.type + "\n" +
                                          event.reason + "\n" + event.message;
        if (auto it = recorded.find(aggregate_key); it != recorded.end()) {
            try {
                json::object existing = service.get(*events, it->second.ns, it->second.name);
                existing["count"] = ++it->second.count;
                existing["lastTimestamp"] = event.time;
                service.update(*events, it->second.ns, it->second.name, std::move(existing), {});
                return;
            } catch (const api::ApiError& e) {
                if (e.code() != 404 && e.code() != 409) throw;
                recorded.erase(it);  // gone (namespace deleted, TTL): record it afresh
            }
        }
        std::string ns = api::field_value(event.involved_ref, "namespace");
        if (ns.empty()) ns = "default";
        const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        char suffix[32];
        std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanos));
        const std::string name = api::field_value(event.involved_ref, "name") + suffix;
        json::object object{{"metadata", json::object{{"name", name}, {"namespace", ns}}},
                            {"involvedObject", event.involved_ref},
                            {"reason", event.reason},
                            {"message", event.message},
                            {"source", json::object{{"component", event.component}}},
                            {"firstTimestamp", event.time},
                            {"lastTimestamp", event.time},
                            {"count", 1},
                            {"type", event.type},
                            {"reportingComponent", event.component},
                            {"reportingInstance", ""}};
        service.create(*events, ns, std::move(object), {});
        if (recorded.size() >= kMaxRemembered) recorded.clear();
        recorded[aggregate_key] = Recorded{ns, name, 1};
    }
};

EventRecorder::EventRecorder(api::ResourceService& service)
    : impl_(std::make_unique<Impl>(service)) {}

EventRecorder::~EventRecorder() {
    impl_->thread.request_stop();
    impl_->thread.join();
}

void EventRecorder::record(const json::object& involved, const std::string& component,
                           const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& field_path) {
    json::object ref;
    for (const char* field : {"kind", "apiVersion"}) {
        if (const auto* v = involved.if_contains(field); v && v->is_string()) ref[field] = *v;
    }
    for (const char* field : {"namespace", "name", "uid", "resourceVersion"}) {
        const std::string value = api::meta_string(involved, field);
        if (!value.empty()) ref[field] = value;
    }
    if (!field_path.empty()) ref["fieldPath"] = field_path;
    std::lock_guard lock(impl_->mutex);
    impl_->pending.push_back(
        Pending{std::move(ref), component, type, reason, message, api::now_rfc3339()});
    impl_->wake.notify_all();
}

void EventRecorder::flush() {
    std::unique_lock lock(impl_->mutex);
    impl_->idle.wait(lock, [&] { return impl_->pending.empty() && !impl_->writing; });
}

}  // namespace kcube::controllers
