// The HorizontalPodAutoscaler printer, from the autoscaling/v2 form (the storage version; the
// upstream printer works on the same shape).
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

// A *Quantity as Go prints it: canonical, or "<nil>" for a nil pointer.
std::string quantity_or_nil(const json::object* object, Path path) {
    if (object == nullptr || !present(*object, path)) return "<nil>";
    return quantity_at(*object, path);
}

std::string percent(std::int64_t value) {
    return std::to_string(value) + "%";
}

// The status of the same metric source ("resource", "pods", ...) at the same index as the spec
// entry, or nullptr when there is none.
const json::object* source_status(const std::vector<const json::object*>& statuses, size_t index,
                                  std::string_view source) {
    if (index >= statuses.size()) return nullptr;
    return get_object(*statuses[index], {source});
}

// External and Object metrics: "current/target", or "current/target (avg)" for averages.
std::string value_metric(const json::object& spec, const json::object* status,
                         std::string_view source) {
    const json::object* target = get_object(spec, {source, "target"});
    if (target != nullptr && present(*target, {"averageValue"})) {
        const bool known = status != nullptr && present(*status, {"current", "averageValue"});
        return (known ? quantity_at(*status, {"current", "averageValue"}) : "<unknown>") + "/" +
               quantity_at(*target, {"averageValue"}) + " (avg)";
    }
    return (status ? quantity_or_nil(status, {"current", "value"}) : "<unknown>") + "/" +
           quantity_or_nil(target, {"value"});
}

// Resource and ContainerResource metrics: "cpu: 10%/50%" or "memory: 100Mi/200Mi".
std::string resource_metric(const json::object& spec, const json::object* status,
                            std::string_view source) {
    const std::string name(get_string(spec, {source, "name"}));
    const json::object* target = get_object(spec, {source, "target"});
    if (target != nullptr && present(*target, {"averageValue"})) {
        return name + ": " +
               (status ? quantity_or_nil(status, {"current", "averageValue"}) : "<unknown>") + "/" +
               quantity_at(*target, {"averageValue"});
    }
    const bool known = status != nullptr && present(*status, {"current", "averageUtilization"});
    const bool targeted = target != nullptr && present(*target, {"averageUtilization"});
    return name + ": " +
           (known ? percent(get_int(*status, {"current", "averageUtilization"})) : "<unknown>") +
           "/" + (targeted ? percent(get_int(*target, {"averageUtilization"})) : "<auto>");
}

std::string metric(const json::object& spec, const std::vector<const json::object*>& statuses,
                   size_t index) {
    const std::string_view type = get_string(spec, {"type"});
    if (type == "External") {
        return value_metric(spec, source_status(statuses, index, "external"), "external");
    }
    if (type == "Object") {
        return value_metric(spec, source_status(statuses, index, "object"), "object");
    }
    if (type == "Pods") {
        const json::object* status = source_status(statuses, index, "pods");
        return (status ? quantity_or_nil(status, {"current", "averageValue"}) : "<unknown>") + "/" +
               quantity_or_nil(get_object(spec, {"pods", "target"}), {"averageValue"});
    }
    if (type == "Resource") {
        return resource_metric(spec, source_status(statuses, index, "resource"), "resource");
    }
    if (type == "ContainerResource") {
        return resource_metric(spec, source_status(statuses, index, "containerResource"),
                               "containerResource");
    }
    return "<unknown type>";
}

// The first two metrics, then "+ N more...".
std::string hpa_targets(const json::object& hpa) {
    const auto specs = objects(hpa, {"spec", "metrics"});
    if (specs.empty()) return "<none>";
    const auto statuses = objects(hpa, {"status", "currentMetrics"});
    constexpr size_t kMax = 2;
    std::vector<std::string> list;
    for (size_t i = 0; i < specs.size() && i < kMax; ++i)
        list.push_back(metric(*specs[i], statuses, i));
    std::string text = join(list, ", ");
    if (specs.size() > kMax) text += " + " + std::to_string(specs.size() - kMax) + " more...";
    return text;
}

json::array hpa_cells(const json::object& hpa, Clock::time_point now) {
    const bool has_min = present(hpa, {"spec", "minReplicas"});
    return json::array{
        name_of(hpa),
        std::string(get_string(hpa, {"spec", "scaleTargetRef", "kind"})) + "/" +
            std::string(get_string(hpa, {"spec", "scaleTargetRef", "name"})),
        hpa_targets(hpa),
        has_min ? std::to_string(get_int(hpa, {"spec", "minReplicas"})) : "<unset>",
        get_int(hpa, {"spec", "maxReplicas"}),
        get_int(hpa, {"status", "currentReplicas"}),
        age(hpa, now),
    };
}

Printer hpa_printer() {
    return {{
                name_column(),
                column("Reference", doc::kHorizontalPodAutoscalerSpecScaleTargetRef),
                column("Targets", doc::kHorizontalPodAutoscalerSpecMetrics),
                column("MinPods", doc::kHorizontalPodAutoscalerSpecMinReplicas),
                column("MaxPods", doc::kHorizontalPodAutoscalerSpecMaxReplicas),
                column("Replicas", doc::kHorizontalPodAutoscalerStatusCurrentReplicas),
                age_column(),
            },
            hpa_cells};
}

}  // namespace

const std::vector<KindPrinter>& autoscaling_printers() {
    static const std::vector<KindPrinter> printers{
        {"autoscaling", "HorizontalPodAutoscaler", hpa_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
