// pods/binding, shared by the HTTP route and the in-process scheduler.
#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"

namespace kcube::api {
namespace json = boost::json;

namespace {
constexpr int kMaxAttempts = 8;

// Sets PodScheduled=True, as upstream's binding storage does.
void mark_scheduled(json::object& pod) {
    auto& status = pod["status"];
    if (!status.is_object()) status = json::object{};
    auto& conditions = status.as_object()["conditions"];
    if (!conditions.is_array()) conditions = json::array{};
    json::object scheduled{
        {"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", now_rfc3339()}};
    for (auto& c : conditions.as_array()) {
        if (c.is_object() && field_value(c.as_object(), "type") == "PodScheduled") {
            c = std::move(scheduled);
            return;
        }
    }
    conditions.as_array().push_back(std::move(scheduled));
}
}  // namespace

void ResourceService::bind_pod(const std::string& ns, const std::string& name,
                               const std::string& node) {
    auto pods = registry().find("", "v1", "pods");
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        json::object pod = get(*pods, ns, name);
        const std::string assigned = field_value(pod, "spec.nodeName");
        if (!assigned.empty()) {
            throw conflict("", "pods/binding", name,
                           "pod " + name + " is already assigned to node \"" + assigned + "\"");
        }
        if (!meta_string(pod, "deletionTimestamp").empty()) {
            throw conflict("", "pods/binding", name, "pod " + name + " is being deleted");
        }
        auto& spec = pod["spec"];
        if (!spec.is_object()) spec = json::object{};
        spec.as_object()["nodeName"] = node;
        json::object updated;
        try {
            updated = update(*pods, ns, name, pod, {});
        } catch (const ApiError& e) {
            if (e.code() == 409 && e.reason() == "Conflict") continue;
            throw;
        }
        mark_scheduled(updated);
        try {
            update(*pods, ns, name, std::move(updated), {}, "status");
        } catch (const ApiError& e) {
            // The binding holds; the condition is informational and the next status write
            // (the kubelet's) sets it anyway.
            if (e.code() != 409) throw;
        }
        return;
    }
    throw conflict("", "pods/binding", name, "too many concurrent changes");
}

}  // namespace kcube::api
