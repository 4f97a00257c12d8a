// Printers of the apps API group.
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

constexpr std::string_view kContainersDescription = "Names of each container in the template.";
constexpr std::string_view kImagesDescription =
    "Images referenced by each container in the template.";

const json::array* template_containers(const json::object& object) {
    return get_array(object, {"spec", "template", "spec", "containers"});
}

// spec.replicas as the API server defaults it when a client leaves it out.
std::int64_t desired_replicas(const json::object& object) {
    return get_int(object, {"spec", "replicas"}, 1);
}

std::string ready_of_desired(const json::object& object) {
    return std::to_string(get_int(object, {"status", "readyReplicas"})) + "/" +
           std::to_string(desired_replicas(object));
}

// --- Deployment --------------------------------------------------------------------------------

json::array deployment_cells(const json::object& deployment, Clock::time_point now) {
    auto [names, images] = container_cells(template_containers(deployment));
    // Unlike the other workloads, an empty selector prints as "" here, not "<none>".
    const auto selector = selector_string(get_object(deployment, {"spec", "selector"}));
    return json::array{
        name_of(deployment),
        ready_of_desired(deployment),
        get_int(deployment, {"status", "updatedReplicas"}),
        get_int(deployment, {"status", "availableReplicas"}),
        age(deployment, now),
        names,
        images,
        selector.value_or("<invalid>"),
    };
}

Printer deployment_printer() {
    return {{
                name_column(),
                column("Ready", "Number of the pod with ready state"),
                column("Up-to-date", doc::kDeploymentStatusUpdatedReplicas),
                column("Available", doc::kDeploymentStatusAvailableReplicas),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
                wide_column("Selector", doc::kDeploymentSpecSelector),
            },
            deployment_cells};
}

// --- ReplicaSet --------------------------------------------------------------------------------

json::array replica_set_cells(const json::object& rs, Clock::time_point now) {
    auto [names, images] = container_cells(template_containers(rs));
    return json::array{
        name_of(rs),
        desired_replicas(rs),
        get_int(rs, {"status", "replicas"}),
        get_int(rs, {"status", "readyReplicas"}),
        age(rs, now),
        names,
        images,
        format_label_selector(get_object(rs, {"spec", "selector"})),
    };
}

Printer replica_set_printer() {
    return {{
                name_column(),
                column("Desired", doc::kReplicaSetSpecReplicas, "integer"),
                column("Current", doc::kReplicaSetStatusReplicas, "integer"),
                column("Ready", doc::kReplicaSetStatusReadyReplicas, "integer"),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
                wide_column("Selector", doc::kReplicaSetSpecSelector),
            },
            replica_set_cells};
}

// --- StatefulSet -------------------------------------------------------------------------------

json::array stateful_set_cells(const json::object& sts, Clock::time_point now) {
    auto [names, images] = container_cells(template_containers(sts));
    return json::array{name_of(sts), ready_of_desired(sts), age(sts, now), names, images};
}

Printer stateful_set_printer() {
    return {{
                name_column(),
                column("Ready", "Number of the pod with ready state"),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
            },
            stateful_set_cells};
}

// --- DaemonSet ---------------------------------------------------------------------------------

json::array daemon_set_cells(const json::object& ds, Clock::time_point now) {
    auto [names, images] = container_cells(template_containers(ds));
    return json::array{
        name_of(ds),
        get_int(ds, {"status", "desiredNumberScheduled"}),
        get_int(ds, {"status", "currentNumberScheduled"}),
        get_int(ds, {"status", "numberReady"}),
        get_int(ds, {"status", "updatedNumberScheduled"}),
        get_int(ds, {"status", "numberAvailable"}),
        format_labels(get_object(ds, {"spec", "template", "spec", "nodeSelector"})),
        age(ds, now),
        names,
        images,
        format_label_selector(get_object(ds, {"spec", "selector"})),
    };
}

Printer daemon_set_printer() {
    return {{
                name_column(),
                column("Desired", doc::kDaemonSetStatusDesiredNumberScheduled, "integer"),
                column("Current", doc::kDaemonSetStatusCurrentNumberScheduled, "integer"),
                column("Ready", doc::kDaemonSetStatusNumberReady, "integer"),
                column("Up-to-date", doc::kDaemonSetStatusUpdatedNumberScheduled, "integer"),
                column("Available", doc::kDaemonSetStatusNumberAvailable, "integer"),
                column("Node Selector", doc::kPodSpecNodeSelector),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
                wide_column("Selector", doc::kDaemonSetSpecSelector),
            },
            daemon_set_cells};
}

// --- ControllerRevision ------------------------------------------------------------------------

// "daemonset.apps/fluentd": the lower-cased kind and group of the controlling owner and its
// name, "<none>" without one.
std::string revision_controller(const json::object& revision) {
    for (const json::object* owner : objects(revision, {"metadata", "ownerReferences"})) {
        if (!get_bool(*owner, {"controller"})) continue;
        const std::string_view api_version = get_string(*owner, {"apiVersion"});
        const size_t slash = api_version.find('/');
        const std::string_view group =
            slash == std::string_view::npos ? std::string_view{} : api_version.substr(0, slash);
        const std::string_view kind = get_string(*owner, {"kind"});
        const std::string name(get_string(*owner, {"name"}));
        if (kind.empty() && group.empty()) return name;
        const std::string group_kind =
            group.empty() ? std::string(kind) : std::string(kind) + "." + std::string(group);
        return lower_ascii(group_kind) + "/" + name;
    }
    return "<none>";
}

json::array controller_revision_cells(const json::object& revision, Clock::time_point now) {
    return json::array{name_of(revision), revision_controller(revision),
                       get_int(revision, {"revision"}), age(revision, now)};
}

Printer controller_revision_printer() {
    return {{
                name_column(),
                column("Controller", "Controller of the object"),
                column("Revision", doc::kControllerRevisionRevision),
                age_column(),
            },
            controller_revision_cells};
}

}  // namespace

const std::vector<KindPrinter>& apps_printers() {
    static const std::vector<KindPrinter> printers{
        {"apps", "Deployment", deployment_printer()},
        {"apps", "ReplicaSet", replica_set_printer()},
        {"apps", "StatefulSet", stateful_set_printer()},
        {"apps", "DaemonSet", daemon_set_printer()},
        {"apps", "ControllerRevision", controller_revision_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
