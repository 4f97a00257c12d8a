// The EndpointSlice mirroring controller (upstream's pkg/controller/endpointslicemirroring):
// for a Service without a selector, the Endpoints a user writes by hand are mirrored into
// EndpointSlices, which is what the service proxy and the DNS read. One slice per subset
// (IPv4 addresses; ready for `addresses`, not ready for `notReadyAddresses`), owned by the
// Endpoints and labelled as upstream's. Endpoints labelled
// endpointslice.kubernetes.io/skip-mirror=true (the node's own `kubernetes` and `kube-dns`,
// whose slices it writes itself) are not mirrored.
#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>

#include "cluster/api/errors.hpp"
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

constexpr const char* kComponent = "endpointslice-mirroring-controller";
constexpr const char* kMirroringName = "endpointslicemirroring-controller.k8s.io";
constexpr const char* kSkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";
constexpr std::size_t kMaxEndpointsPerSubset = 1000;

const json::array& list_at(const json::object& object, std::string_view key) {
    static const json::array kNone;
    const auto* list = array_at(object, key);
    return list ? *list : kNone;
}

bool is_ipv4(const std::string& ip) {
    in_addr parsed{};
    return ::inet_pton(AF_INET, ip.c_str(), &parsed) == 1;
}

// The endpoints of one subset's address list, with the given readiness.
void add_endpoints(const json::object& subset, const char* list, bool ready, json::array& out) {
    for (const auto& a : list_at(subset, list)) {
        if (out.size() >= kMaxEndpointsPerSubset || !a.is_object()) break;
        const auto& address = a.as_object();
        const std::string ip = string_at(address, "ip");
        if (!is_ipv4(ip)) continue;
        json::object endpoint{
            {"addresses", json::array{json::value(ip)}},
            {"conditions",
             json::object{{"ready", ready}, {"serving", ready}, {"terminating", false}}}};
        for (const char* field : {"hostname", "nodeName"}) {
            if (const std::string value = string_at(address, field); !value.empty())
                endpoint[field] = value;
        }
        if (const auto* target = object_at(address, "targetRef")) endpoint["targetRef"] = *target;
        out.push_back(std::move(endpoint));
    }
}

// The slices the Endpoints should have: content only (addressType, endpoints, ports, labels).
std::vector<json::object> desired_slices(const json::object& endpoints) {
    std::vector<json::object> slices;
    const std::string name = api::meta_string(endpoints, "name");
    json::object labels;
    if (const auto* meta = object_at(endpoints, "metadata")) {
        if (const auto* own = object_at(*meta, "labels")) labels = *own;
    }
    labels.erase(kSkipMirrorLabel);
    labels[endpoints::kServiceNameLabel] = name;
    labels[endpoints::kManagedByLabel] = kMirroringName;
    for (const auto& s : list_at(endpoints, "subsets")) {
        if (!s.is_object()) continue;
        json::array items;
        add_endpoints(s.as_object(), "addresses", true, items);
        add_endpoints(s.as_object(), "notReadyAddresses", false, items);
        if (items.empty()) continue;
        json::array ports;
        for (const auto& p : list_at(s.as_object(), "ports")) {
            if (!p.is_object()) continue;
            const auto& port = p.as_object();
            std::string protocol = string_at(port, "protocol");
            if (protocol.empty()) protocol = "TCP";
            json::object out;
            out["name"] = string_at(port, "name");
            out["port"] = int_at(port, "port", 0);
            out["protocol"] = protocol;
            if (const std::string app = string_at(port, "appProtocol"); !app.empty())
                out["appProtocol"] = app;
            ports.push_back(std::move(out));
        }
        slices.push_back(json::object{{"metadata", json::object{{"labels", labels}}},
                                      {"addressType", "IPv4"},
                                      {"endpoints", std::move(items)},
                                      {"ports", std::move(ports)}});
    }
    return slices;
}

// Whether `slice` already holds `desired`'s content.
bool same_content(const json::object& slice, const json::object& desired) {
    for (const char* field : {"addressType", "endpoints", "ports"}) {
        const auto* a = slice.if_contains(field);
        const auto* b = desired.if_contains(field);
        if (canonical_json(a ? *a : json::value()) != canonical_json(b ? *b : json::value()))
            return false;
    }
    const auto* meta = object_at(slice, "metadata");
    const auto* labels = meta ? object_at(*meta, "labels") : nullptr;
    return canonical_json(labels ? json::value(*labels) : json::value()) ==
           canonical_json(desired.at("metadata").as_object().at("labels"));
}

class EndpointSliceMirroringController final : public Controller {
  public:
    explicit EndpointSliceMirroringController(ControllerContext& ctx)
        : Controller(kComponent),
          ctx_(ctx),
          services_(ctx.informers.get("", "v1", "services")),
          endpoints_(ctx.informers.get("", "v1", "endpoints")),
          slices_(ctx.informers.get("discovery.k8s.io", "v1", "endpointslices")) {
        options_.field_manager = kControllerFieldManager;
        auto requeue = [this](const ObjectPtr& old, const ObjectPtr& now) {
            queue().add(object_key(now ? *now : *old));
        };
        services_.on_change(requeue);
        endpoints_.on_change(requeue);
        // A mirrored slice someone changed or deleted is put back.
        slices_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const auto& slice = now ? *now : *old;
            const auto* meta = object_at(slice, "metadata");
            const auto* labels = meta ? object_at(*meta, "labels") : nullptr;
            if (!labels || string_at(*labels, endpoints::kManagedByLabel) != kMirroringName) return;
            queue().add(object_key(api::meta_string(slice, "namespace"),
                                   string_at(*labels, endpoints::kServiceNameLabel)));
        });
    }

  protected:
    void reconcile(const std::string& key) override {
        const auto parts = split_key(key);
        const auto service = services_.get(key);
        const auto endpoints = endpoints_.get(key);
        std::vector<json::object> desired;
        if (service && endpoints && !endpoints::service_selector(*service) &&
            !mirroring_skipped(*endpoints)) {
            desired = desired_slices(*endpoints);
        }
        json::object selector{
            {"matchLabels", json::object{{endpoints::kServiceNameLabel, parts.name},
                                         {endpoints::kManagedByLabel, kMirroringName}}}};
        auto existing = slices_.list(parts.ns, api::LabelSelector::from_object(selector));
        std::sort(existing.begin(), existing.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
            return api::meta_string(*a, "name") < api::meta_string(*b, "name");
        });
        try {
            std::size_t i = 0;
            for (; i < desired.size() && i < existing.size(); ++i) {
                if (same_content(*existing[i], desired[i])) continue;
                json::object slice = *existing[i];
                for (const char* field : {"addressType", "endpoints", "ports"})
                    slice[field] = desired[i][field];
                api::metadata_of(slice)["labels"] =
                    desired[i].at("metadata").as_object().at("labels");
                slices_.remember(ctx_.service.update(slices_.info(), parts.ns,
                                                     api::meta_string(slice, "name"),
                                                     std::move(slice), options_));
            }
            for (; i < desired.size(); ++i)
                create(*endpoints, std::move(desired[i]));
            for (; i < existing.size(); ++i)
                remove(*existing[i]);
        } catch (const api::ApiError& e) {
            if (endpoints::namespace_terminating(e)) return;
            if (e.code() != 409 && e.code() != 404 && endpoints) {
                ctx_.events.record(*endpoints, kComponent, "Warning",
                                   "FailedToUpdateEndpointSlices",
                                   std::string("Error mirroring Endpoints ") + key +
                                       " to EndpointSlices: " + e.what());
            }
            throw;
        }
    }

  private:
    static bool mirroring_skipped(const json::object& endpoints) {
        const auto* meta = object_at(endpoints, "metadata");
        const auto* labels = meta ? object_at(*meta, "labels") : nullptr;
        return labels && string_at(*labels, kSkipMirrorLabel) == "true";
    }

    void create(const json::object& endpoints, json::object slice) {
        const std::string name = api::meta_string(endpoints, "name");
        auto& metadata = api::metadata_of(slice);
        metadata["generateName"] = name + "-";
        metadata["ownerReferences"] =
            json::array{json::object{{"apiVersion", "v1"},
                                     {"kind", "Endpoints"},
                                     {"name", name},
                                     {"uid", api::meta_string(endpoints, "uid")},
                                     {"controller", true},
                                     {"blockOwnerDeletion", true}}};
        slice["apiVersion"] = "discovery.k8s.io/v1";
        slice["kind"] = "EndpointSlice";
        slices_.remember(ctx_.service.create(
            slices_.info(), api::meta_string(endpoints, "namespace"), std::move(slice), options_));
    }

    void remove(const json::object& slice) {
        api::DeleteOptions options;
        options.precondition_uid = api::meta_string(slice, "uid");
        try {
            ctx_.service.remove(slices_.info(), api::meta_string(slice, "namespace"),
                                api::meta_string(slice, "name"), options);
        } catch (const api::ApiError& e) {
            if (e.code() != 404 && e.code() != 409) throw;
        }
        slices_.forget_deleted(slice);
    }

    ControllerContext& ctx_;
    Informer& services_;
    Informer& endpoints_;
    Informer& slices_;
    api::WriteOptions options_;
};

}  // namespace

std::unique_ptr<Controller> make_endpointslice_mirroring_controller(ControllerContext& ctx) {
    return std::make_unique<EndpointSliceMirroringController>(ctx);
}

}  // namespace kcube::controllers
