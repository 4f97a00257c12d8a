// The EndpointSlice controller (upstream's pkg/controller/endpointslice): for every Service
// with a selector, discovery.k8s.io/v1 EndpointSlices (IPv4) owned by the Service, one endpoint
// per selected pod with ready/serving/terminating conditions, grouped by the ports the pod
// resolves. Slices are updated in place; a Service without endpoints keeps one empty slice.
// Slices of a deleted Service go with it through the garbage collector (ownerReference).
#include <boost/json.hpp>
#include <stdexcept>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/endpoint_util.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;

constexpr const char* kComponent = "endpoint-slice-controller";

// The Service a slice this controller manages belongs to ("ns/name"), or "".
std::string managed_slice_service(const json::object& slice) {
    const auto* metadata = slice.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return {};
    const auto* labels = metadata->as_object().if_contains("labels");
    if (!labels || !labels->is_object()) return {};
    const auto& l = labels->as_object();
    const auto* managed_by = l.if_contains(endpoints::kManagedByLabel);
    const auto* service = l.if_contains(endpoints::kServiceNameLabel);
    if (!managed_by || !service || !managed_by->is_string() || !service->is_string() ||
        managed_by->as_string() != endpoints::kSliceControllerName) {
        return {};
    }
    return object_key(api::meta_string(slice, "namespace"), service->as_string());
}

class EndpointSliceController final : public Controller {
  public:
    explicit EndpointSliceController(ControllerContext& ctx)
        : Controller("endpointslice-controller"),
          ctx_(ctx),
          services_(ctx.informers.get("", "v1", "services")),
          pods_(ctx.informers.get("", "v1", "pods")),
          nodes_(ctx.informers.get("", "v1", "nodes")),
          slices_(ctx.informers.get("discovery.k8s.io", "v1", "endpointslices")) {
        options_.field_manager = kControllerFieldManager;
        services_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            for (const auto& key : endpoints::services_for_pod_change(services_, old, now)) {
                queue().add(key);
            }
        });
        // Someone else's edit or deletion of a managed slice is put right.
        slices_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const std::string key = managed_slice_service(now ? *now : *old);
            if (!key.empty()) queue().add(key);
        });
    }

  protected:
    void reconcile(const std::string& key) override;

  private:
    void apply(const json::object& service, endpoints::SlicePlan plan,
               const std::optional<endpoints::TriggerTimeTracker::Time>& trigger);

    ControllerContext& ctx_;
    Informer& services_;
    Informer& pods_;
    Informer& nodes_;
    Informer& slices_;
    api::WriteOptions options_;
    endpoints::TriggerTimeTracker trigger_times_;
};

void EndpointSliceController::reconcile(const std::string& key) {
    const auto service = services_.get(key);
    if (!service) {
        trigger_times_.forget(key);
        return;
    }
    const auto selector = endpoints::service_selector(*service);
    if (!selector) return;
    if (is_terminating(*service)) return;  // its slices go with it
    const std::string ns = api::meta_string(*service, "namespace");
    const auto pods = pods_.list(ns, *selector);
    const auto trigger = trigger_times_.compute(key, *service, pods);

    std::vector<ObjectPtr> nodes_seen;  // keeps looked-up nodes alive during the sync
    auto node_of = [&](std::string_view name) -> const json::object* {
        if (name.empty()) return nullptr;
        auto node = nodes_.get(name);
        if (!node) return nullptr;
        nodes_seen.push_back(node);
        return node.get();
    };
    std::size_t skipped = 0;
    const auto desired = endpoints::desired_slice_groups(*service, pods, node_of, &skipped);

    json::object slice_selector{
        {"matchLabels",
         json::object{{endpoints::kServiceNameLabel, api::meta_string(*service, "name")},
                      {endpoints::kManagedByLabel, endpoints::kSliceControllerName}}}};
    const auto existing = slices_.list(ns, api::LabelSelector::from_object(slice_selector));
    auto plan = endpoints::plan_slices(*service, desired, existing);
    if (!plan.empty()) apply(*service, std::move(plan), trigger);
    if (skipped > 0) {
        // As upstream: the slices are written without those pods, and the Service is synced
        // again with back-off until their nodes are known.
        throw std::runtime_error("skipped " + std::to_string(skipped) +
                                 " pod(s) on nodes not found for Service " + key);
    }
}

void EndpointSliceController::apply(
    const json::object& service, endpoints::SlicePlan plan,
    const std::optional<endpoints::TriggerTimeTracker::Time>& trigger) {
    const std::string ns = api::meta_string(service, "namespace");
    auto stamp = [&](json::object& slice) {
        if (!trigger) return;
        child_object(api::metadata_of(slice), "annotations")[endpoints::kTriggerTimeAnnotation] =
            endpoints::format_trigger_time(*trigger);
    };
    try {
        for (auto& slice : plan.update) {
            stamp(slice);
            const std::string name = api::meta_string(slice, "name");
            slices_.remember(
                ctx_.service.update(slices_.info(), ns, name, std::move(slice), options_));
        }
        for (auto& slice : plan.create) {
            stamp(slice);
            slices_.remember(ctx_.service.create(slices_.info(), ns, std::move(slice), options_));
        }
        for (const auto& slice : plan.remove) {
            api::DeleteOptions options;
            options.precondition_uid = api::meta_string(slice, "uid");
            try {
                ctx_.service.remove(slices_.info(), ns, api::meta_string(slice, "name"), options);
            } catch (const api::ApiError& e) {
                if (e.code() != 404) throw;
            }
            slices_.forget_deleted(slice);
        }
    } catch (const api::ApiError& e) {
        if (endpoints::namespace_terminating(e)) return;
        if (e.code() != 409 && e.code() != 404) {
            ctx_.events.record(service, kComponent, "Warning", "FailedToUpdateEndpointSlices",
                               std::string("Error updating Endpoint Slices for Service ") + ns +
                                   "/" + api::meta_string(service, "name") + ": " + e.what());
        }
        throw;
    }
}

}  // namespace

std::unique_ptr<Controller> make_endpointslice_controller(ControllerContext& ctx) {
    return std::make_unique<EndpointSliceController>(ctx);
}

}  // namespace kcube::controllers
