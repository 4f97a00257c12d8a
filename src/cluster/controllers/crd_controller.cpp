#include "cluster/controllers/crd_controller.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "cluster/api/crd.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {
constexpr const char* kCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";
constexpr auto kRetryInterval = std::chrono::milliseconds(500);

json::object condition(const char* type, const char* reason, const char* message) {
    return json::object{{"type", type},
                        {"status", "True"},
                        {"lastTransitionTime", api::now_rfc3339()},
                        {"reason", reason},
                        {"message", message}};
}

bool has_finalizer(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    const auto* finalizers = metadata ? metadata->as_object().if_contains("finalizers") : nullptr;
    if (!finalizers || !finalizers->is_array()) return false;
    for (const auto& f : finalizers->as_array()) {
        if (f.is_string() && f.as_string() == kCleanupFinalizer) return true;
    }
    return false;
}
}  // namespace

struct CrdController::Impl {
    api::ResourceService& service;
    api::ResourceRegistry& registry;
    std::mutex mutex;
    std::condition_variable wake;
    bool ready = false;
    std::map<std::string, json::object> pending;  // CRDs to reconcile, by name
    std::jthread worker;

    Impl(api::ResourceService& s, api::ResourceRegistry& r) : service(s), registry(r) {
        worker = std::jthread([this](std::stop_token stop) { loop(stop); });
    }

    void notify() {
        std::lock_guard lock(mutex);
        ready = true;
        wake.notify_all();
    }

    void loop(std::stop_token stop) {
        auto info = registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
        std::unique_ptr<api::WatchStream> watch;
        std::stop_callback on_stop(stop, [this] { notify(); });
        while (!stop.stop_requested()) {
            try {
                if (!watch) {
                    watch = service.watch(*info, "", {});
                    watch->on_ready([this] { notify(); });
                }
                for (auto& event : watch->poll()) {
                    if (event.type == "ERROR") {
                        watch.reset();
                        break;
                    }
                    const std::string name = api::meta_string(event.object, "name");
                    if (event.type == "DELETED") {
                        unregister(event.object);
                        pending.erase(name);
                    } else {
                        pending[name] = std::move(event.object);
                    }
                }
                for (auto it = pending.begin(); it != pending.end();) {
                    it = reconcile(*info, it->second) ? pending.erase(it) : std::next(it);
                }
            } catch (const std::exception& e) {
                spdlog::warn("crd controller: {}", e.what());
            }
            // Sleep until the watch has news; look again after a while only when work is
            // left (a watch to re-establish or contents still going away).
            std::unique_lock lock(mutex);
            if (watch && pending.empty()) {
                wake.wait(lock, [this] { return ready; });
            } else {
                wake.wait_for(lock, kRetryInterval, [this] { return ready; });
            }
            ready = false;
        }
    }

    void unregister(const json::object& crd) {
        const auto* spec = crd.if_contains("spec");
        if (!spec || !spec->is_object()) return;
        const auto& s = spec->as_object();
        const auto* names = s.if_contains("names");
        if (!names || !names->is_object() || !s.contains("group")) return;
        registry.remove_custom(std::string(s.at("group").as_string()),
                               api::field_value(names->as_object(), "plural"));
    }

    // True when done with this CRD for now.
    bool reconcile(const api::ResourceInfo& crds, json::object crd) {
        const std::string name = api::meta_string(crd, "name");
        auto versions = api::resources_from_crd(crd);
        if (versions.empty()) return true;
        const std::string group = versions.front().group;
        const std::string plural = versions.front().plural;
        if (!api::meta_string(crd, "deletionTimestamp").empty()) {
            return clean_up(crds, crd, versions.front());
        }
        registry.put_custom(group, plural, versions);
        if (!has_finalizer(crd)) {
            auto& finalizers = api::metadata_of(crd)["finalizers"];
            if (!finalizers.is_array()) finalizers = json::array{};
            finalizers.as_array().emplace_back(kCleanupFinalizer);
            crd = service.update(crds, "", name, crd, {});
        }
        const std::string established = api::field_value(crd, "status.acceptedNames.kind");
        if (established.empty()) {
            json::object status{
                {"conditions",
                 json::array{condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                             condition("Established", "InitialNamesAccepted",
                                       "the initial names have been accepted")}},
                {"acceptedNames", crd.at("spec").as_object().at("names")},
                {"storedVersions", json::array{json::string(versions.front().version)}}};
            crd["status"] = std::move(status);
            service.update(crds, "", name, crd, {}, "status");
            spdlog::info("custom resource {}.{} established", plural, group);
        }
        return true;
    }

    bool clean_up(const api::ResourceInfo& crds, json::object crd, const api::ResourceInfo& cr) {
        auto listing = service.list(cr, "", {});
        bool empty = true;
        for (const auto& item : listing["items"].as_array()) {
            empty = false;
            const auto& object = item.as_object();
            try {
                service.remove(cr, api::meta_string(object, "namespace"),
                               api::meta_string(object, "name"), {});
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
        }
        if (!empty) return false;
        registry.remove_custom(cr.group, cr.plural);
        auto& metadata = api::metadata_of(crd);
        json::array kept;
        if (auto* finalizers = metadata.if_contains("finalizers");
            finalizers && finalizers->is_array()) {
            for (const auto& f : finalizers->as_array()) {
                if (!(f.is_string() && f.as_string() == kCleanupFinalizer)) kept.push_back(f);
            }
        }
        metadata["finalizers"] = std::move(kept);
        try {
            service.update(crds, "", api::meta_string(crd, "name"), crd, {});
        } catch (const api::ApiError& e) {
            if (e.code() == 409) return false;
            if (e.code() != 404) throw;
        }
        return true;
    }
};

CrdController::CrdController(api::ResourceService& service, api::ResourceRegistry& registry)
    : impl_(std::make_unique<Impl>(service, registry)) {}

CrdController::~CrdController() {
    impl_->worker.request_stop();
    impl_->worker.join();
}

}  // namespace kcube::controllers
