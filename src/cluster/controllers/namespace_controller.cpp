#include "cluster/controllers/namespace_controller.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/api/meta.hpp"
#include "cluster/api/service.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {
// How soon a namespace whose contents are still going away is looked at again.
constexpr auto kRetryInterval = std::chrono::milliseconds(500);
}  // namespace

struct NamespaceController::Impl {
    api::ResourceService& service;
    std::mutex mutex;
    std::condition_variable wake;
    bool ready = false;
    std::set<std::string> terminating;
    std::jthread worker;

    explicit Impl(api::ResourceService& s) : service(s) {
        worker = std::jthread([this](std::stop_token stop) { loop(stop); });
    }

    void loop(std::stop_token stop) {
        auto info = service.registry().find("", "v1", "namespaces");
        std::unique_ptr<api::WatchStream> watch;
        std::stop_callback on_stop(stop, [this] {
            std::lock_guard lock(mutex);
            ready = true;
            wake.notify_all();
        });
        while (!stop.stop_requested()) {
            try {
                if (!watch) {
                    watch = service.watch(*info, "", {});
                    watch->on_ready([this] {
                        std::lock_guard lock(mutex);
                        ready = true;
                        wake.notify_all();
                    });
                }
                for (const auto& event : watch->poll()) {
                    if (event.type == "ERROR") {
                        watch.reset();
                        break;
                    }
                    const std::string name = api::meta_string(event.object, "name");
                    if (event.type != "DELETED" &&
                        !api::meta_string(event.object, "deletionTimestamp").empty()) {
                        terminating.insert(name);
                    }
                }
                for (auto it = terminating.begin(); it != terminating.end();) {
                    it = finalize(*info, *it) ? terminating.erase(it) : std::next(it);
                }
            } catch (const std::exception& e) {
                spdlog::warn("namespace controller: {}", e.what());
            }
            // Sleep until the watch has news; look again after a while only when work is
            // left (a watch to re-establish or contents still going away).
            std::unique_lock lock(mutex);
            if (watch && terminating.empty()) {
                wake.wait(lock, [this] { return ready; });
            } else {
                wake.wait_for(lock, kRetryInterval, [this] { return ready; });
            }
            ready = false;
        }
    }

    // Deletes what is left in `ns`; true once the namespace is gone or finalized.
    bool finalize(const api::ResourceInfo& namespaces, const std::string& ns) {
        json::object object;
        try {
            object = service.get(namespaces, "", ns);
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return true;
            throw;
        }
        bool empty = true;
        for (const auto& info : service.registry().all()) {
            if (!info->namespaced || info->virtual_resource || !info->has_verb("delete") ||
                !info->has_verb("list")) {
                continue;
            }
            auto listing = service.list(*info, ns, {});
            for (const auto& item : listing["items"].as_array()) {
                empty = false;
                const auto& obj = item.as_object();
                if (!api::meta_string(obj, "deletionTimestamp").empty()) continue;
                api::DeleteOptions options;
                options.propagation_policy = "Background";
                try {
                    service.remove(*info, ns, api::meta_string(obj, "name"), options);
                } catch (const api::ApiError& e) {
                    if (e.code() != 404) throw;
                }
            }
        }
        if (!empty) return false;
        auto& spec = object["spec"];
        if (!spec.is_object()) spec = json::object{};
        spec.as_object()["finalizers"] = json::array{};
        try {
            service.update(namespaces, "", ns, object, {}, "finalize");
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return true;
            if (e.code() == 409) return false;
            throw;
        }
        spdlog::info("namespace {} finalized", ns);
        return true;
    }
};

NamespaceController::NamespaceController(api::ResourceService& service)
    : impl_(std::make_unique<Impl>(service)) {}

NamespaceController::~NamespaceController() {
    impl_->worker.request_stop();
    impl_->worker.join();
}

}  // namespace kcube::controllers
