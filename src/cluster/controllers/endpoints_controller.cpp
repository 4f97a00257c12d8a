// The Endpoints controller (upstream's pkg/controller/endpoint): for every Service with a
// selector, an Endpoints object of the same name listing the selected pods' addresses, ready
// ones under addresses and the rest under notReadyAddresses, with the Service's ports resolved
// against each pod. Services without a selector are left to their users; Endpoints this
// controller wrote are deleted when their Service goes.
#include <boost/json.hpp>

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

constexpr const char* kComponent = "endpoint-controller";

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return nullptr;
    const auto* labels = metadata->as_object().if_contains("labels");
    return labels && labels->is_object() ? &labels->as_object() : nullptr;
}

// Whether the controller-manager wrote this object (its managedFields say so), which tells
// Endpoints made for a Service from ones a user made by hand.
bool written_by_controller(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return false;
    const auto* managed = metadata->as_object().if_contains("managedFields");
    if (!managed || !managed->is_array()) return false;
    for (const auto& entry : managed->as_array()) {
        if (entry.is_object() &&
            api::field_value(entry.as_object(), "manager") == kControllerFieldManager) {
            return true;
        }
    }
    return false;
}

class EndpointsController final : public Controller {
  public:
    explicit EndpointsController(ControllerContext& ctx)
        : Controller("endpoint-controller"),
          ctx_(ctx),
          services_(ctx.informers.get("", "v1", "services")),
          pods_(ctx.informers.get("", "v1", "pods")),
          endpoints_(ctx.informers.get("", "v1", "endpoints")) {
        options_.field_manager = kControllerFieldManager;
        services_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            for (const auto& key : endpoints::services_for_pod_change(services_, old, now)) {
                queue().add(key);
            }
        });
        // Edits and deletions of Endpoints are put right; at start-up every Endpoints object
        // is looked at once, so ones whose Service went while the node was down are removed.
        endpoints_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        });
    }

  protected:
    void reconcile(const std::string& key) override;

  private:
    void remove_orphan(const std::string& key);
    void write(const json::object& service, const ObjectPtr& current, json::array subsets,
               const std::optional<endpoints::TriggerTimeTracker::Time>& trigger);

    ControllerContext& ctx_;
    Informer& services_;
    Informer& pods_;
    Informer& endpoints_;
    api::WriteOptions options_;
    endpoints::TriggerTimeTracker trigger_times_;
};

void EndpointsController::reconcile(const std::string& key) {
    const auto service = services_.get(key);
    if (!service) {
        trigger_times_.forget(key);
        remove_orphan(key);
        return;
    }
    const auto selector = endpoints::service_selector(*service);
    if (!selector) return;  // the user's Endpoints, if any
    const std::string ns = api::meta_string(*service, "namespace");
    const auto pods = pods_.list(ns, *selector);
    // Computed on every sync so the tracker's state stays current even when nothing is written.
    const auto trigger = trigger_times_.compute(key, *service, pods);
    json::array subsets = endpoints::endpoint_subsets(*service, pods);

    const auto current = endpoints_.get(key);
    if (current) {
        const auto* stored = current->if_contains("subsets");
        const json::array no_subsets;
        const json::value& stored_subsets =
            stored && stored->is_array() ? *stored : json::value(no_subsets);
        // Labels are the Service's; the headless label is ours and not on the Service.
        json::object labels;
        if (const auto* own = labels_of(*current)) labels = *own;
        labels.erase(endpoints::kHeadlessLabel);
        const auto* service_labels = labels_of(*service);
        const bool same_labels = canonical_json(labels) ==
                                 canonical_json(service_labels ? *service_labels : json::object{});
        const bool same_headless_label =
            (labels_of(*current) && labels_of(*current)->contains(endpoints::kHeadlessLabel)) ==
            endpoints::is_headless(*service);
        if (same_labels && same_headless_label &&
            canonical_json(stored_subsets) == canonical_json(subsets)) {
            return;
        }
    }
    write(*service, current, std::move(subsets), trigger);
}

void EndpointsController::write(const json::object& service, const ObjectPtr& current,
                                json::array subsets,
                                const std::optional<endpoints::TriggerTimeTracker::Time>& trigger) {
    const std::string ns = api::meta_string(service, "namespace");
    const std::string name = api::meta_string(service, "name");
    json::object object;
    if (current) {
        object = *current;
    } else {
        object = json::object{{"apiVersion", "v1"},
                              {"kind", "Endpoints"},
                              {"metadata", json::object{{"name", name}, {"namespace", ns}}}};
    }
    auto& metadata = api::metadata_of(object);
    json::object labels;
    if (const auto* own = labels_of(service)) labels = *own;
    if (endpoints::is_headless(service)) labels[endpoints::kHeadlessLabel] = "";
    if (labels.empty()) {
        metadata.erase("labels");
    } else {
        metadata["labels"] = std::move(labels);
    }
    auto& annotations = child_object(metadata, "annotations");
    if (trigger) {
        annotations[endpoints::kTriggerTimeAnnotation] = endpoints::format_trigger_time(*trigger);
    } else {
        annotations.erase(endpoints::kTriggerTimeAnnotation);
    }
    if (annotations.empty()) metadata.erase("annotations");
    if (subsets.empty()) {
        object.erase("subsets");
    } else {
        object["subsets"] = std::move(subsets);
    }
    try {
        json::object written =
            current ? ctx_.service.update(endpoints_.info(), ns, name, std::move(object), options_)
                    : ctx_.service.create(endpoints_.info(), ns, std::move(object), options_);
        endpoints_.remember(std::move(written));
    } catch (const api::ApiError& e) {
        if (!current && endpoints::namespace_terminating(e)) return;
        if (e.code() != 409 && e.code() != 404) {
            const json::object involved{
                {"apiVersion", "v1"},
                {"kind", "Endpoints"},
                {"metadata", json::object{{"name", name}, {"namespace", ns}}}};
            ctx_.events.record(
                involved, kComponent, "Warning",
                current ? "FailedToUpdateEndpoint" : "FailedToCreateEndpoint",
                current
                    ? "Failed to update endpoint " + ns + "/" + name + ": " + e.what()
                    : "Failed to create endpoint for service " + ns + "/" + name + ": " + e.what());
        }
        throw;
    }
}

void EndpointsController::remove_orphan(const std::string& key) {
    const auto current = endpoints_.get(key);
    // Endpoints a user wrote (for a Service without selector, or none) stay.
    if (!current || !written_by_controller(*current)) return;
    api::DeleteOptions options;
    options.precondition_uid = api::meta_string(*current, "uid");
    try {
        ctx_.service.remove(endpoints_.info(), api::meta_string(*current, "namespace"),
                            api::meta_string(*current, "name"), options);
    } catch (const api::ApiError& e) {
        if (e.code() != 404 && e.code() != 409) throw;
    }
    endpoints_.forget_deleted(*current);
}

}  // namespace

std::unique_ptr<Controller> make_endpoints_controller(ControllerContext& ctx) {
    return std::make_unique<EndpointsController>(ctx);
}

}  // namespace kcube::controllers
