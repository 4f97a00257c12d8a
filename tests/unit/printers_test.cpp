#include "cluster/api/printers.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/printers/support.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using kcube::api::find_printer;
using kcube::api::human_duration;
using kcube::api::Printer;

namespace {

// Every test looks at the cluster at this instant: 2024-01-10T12:00:00Z. Objects created at
// 11:55 are "5m" old, at 2024-01-08T12:00 "2d".
const auto kNow = std::chrono::sys_days{std::chrono::year{2024} / 1 / 10} + 12h;

json::object parse_object(std::string_view text) {
    return json::parse(text).as_object();
}

const Printer& printer(std::string_view group, std::string_view kind) {
    const Printer* p = find_printer(group, kind);
    REQUIRE_MESSAGE(p != nullptr, "no printer for " << group << "/" << kind);
    return *p;
}

// The cells `kind`'s printer computes for the object written as JSON; there must be one per
// column.
json::array row(std::string_view group, std::string_view kind, std::string_view object) {
    const Printer& p = printer(group, kind);
    json::array cells = p.cells(parse_object(object), kNow);
    CHECK(cells.size() == p.columns.size());
    return cells;
}

// Expected cells, written as a JSON array.
json::array cells(std::string_view text) {
    return json::parse(text).as_array();
}

std::vector<std::string> column_names(const Printer& p, int priority) {
    std::vector<std::string> names;
    for (const auto& column : p.columns) {
        if (column.priority == priority) names.push_back(column.name);
    }
    return names;
}

using Names = std::vector<std::string>;

// The Ready, Status and Restarts cells of a pod: where the interesting logic is.
std::string pod_state(std::string_view pod) {
    const json::array r = row("", "Pod", pod);
    return std::string(r[1].as_string()) + " " + std::string(r[2].as_string()) + " " +
           std::string(r[3].as_string());
}

}  // namespace

// --- human_duration ------------------------------------------------------------------------------

TEST_CASE("human_duration matches apimachinery's HumanDuration") {
    struct Case {
        std::chrono::nanoseconds d;
        const char* want;
    };
    const Case cases[] = {
        {1s, "1s"},
        {70s, "70s"},
        {190s, "3m10s"},
        {70min, "70m"},
        {47h, "47h"},
        {49h, "2d1h"},
        {(8 * 24 + 2) * 1h, "8d"},
        {367 * 24h, "367d"},
        {(365 * 2 * 24 + 25) * 1h, "2y1d"},
        {(365 * 8 * 24 + 2) * 1h, "8y"},
        // Boundaries, from upstream's TestHumanDurationBoundaries.
        {-2s, "<invalid>"},
        {-2s + 1ns, "0s"},
        {0s, "0s"},
        {1s - 1ms, "0s"},
        {2min - 1ms, "119s"},
        {2min, "2m"},
        {2min + 1s, "2m1s"},
        {10min - 1ms, "9m59s"},
        {10min, "10m"},
        {10min + 1s, "10m"},
        {3h - 1ms, "179m"},
        {3h, "3h"},
        {3h + 1min, "3h1m"},
        {8h - 1ms, "7h59m"},
        {8h, "8h"},
        {8h + 59min, "8h"},
        {48h - 1ms, "47h"},
        {48h, "2d"},
        {49h, "2d1h"},
        {8 * 24h - 1ms, "7d23h"},
        {8 * 24h, "8d"},
        {8 * 24h + 23h, "8d"},
        {2 * 365 * 24h - 1ms, "729d"},
        {2 * 365 * 24h, "2y"},
        {2 * 365 * 24h + 23h, "2y"},
        {2 * 365 * 24h + 24h - 1ms, "2y"},
        {2 * 365 * 24h + 24h, "2y1d"},
        {3 * 365 * 24h, "3y"},
        {7 * 365 * 24h, "7y"},
        {8 * 365 * 24h - 1ms, "7y364d"},
        {8 * 365 * 24h, "8y"},
        {8 * 365 * 24h + 364 * 24h, "8y"},
        {9 * 365 * 24h, "9y"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.d.count());
        CHECK(human_duration(
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(c.d)) == c.want);
    }
}

// --- Column definitions --------------------------------------------------------------------------

TEST_CASE("the Name column has the name format and Age is a string computed on the server") {
    const std::pair<std::string_view, std::string_view> kinds[] = {
        {"", "Pod"},
        {"", "Node"},
        {"", "Namespace"},
        {"", "Service"},
        {"", "Endpoints"},
        {"", "ConfigMap"},
        {"", "Secret"},
        {"", "ServiceAccount"},
        {"", "PersistentVolume"},
        {"", "PersistentVolumeClaim"},
        {"", "ResourceQuota"},
        {"apps", "Deployment"},
        {"apps", "ReplicaSet"},
        {"apps", "StatefulSet"},
        {"apps", "DaemonSet"},
        {"apps", "ControllerRevision"},
        {"batch", "Job"},
        {"batch", "CronJob"},
        {"networking.k8s.io", "Ingress"},
        {"networking.k8s.io", "IngressClass"},
        {"networking.k8s.io", "NetworkPolicy"},
        {"discovery.k8s.io", "EndpointSlice"},
        {"coordination.k8s.io", "Lease"},
        {"storage.k8s.io", "StorageClass"},
        {"rbac.authorization.k8s.io", "RoleBinding"},
        {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
    };
    for (const auto& [group, kind] : kinds) {
        CAPTURE(kind);
        const Printer& p = printer(group, kind);
        REQUIRE(!p.columns.empty());
        CHECK(p.columns[0].name == "Name");
        CHECK(p.columns[0].type == "string");
        CHECK(p.columns[0].format == "name");
        CHECK(p.columns[0].priority == 0);
        CHECK(p.columns[0].description.starts_with("Name must be unique within a namespace."));
        bool has_age = false;
        for (const auto& column : p.columns) {
            CHECK(!column.description.empty());
            if (column.name != "Age") continue;
            has_age = true;
            CHECK(column.type == "string");
            CHECK(column.priority == 0);
            CHECK(column.description.starts_with("CreationTimestamp is a timestamp"));
        }
        CHECK(has_age);
    }
}

TEST_CASE("default and wide columns of each printer") {
    const Printer& pod = printer("", "Pod");
    CHECK(column_names(pod, 0) == Names{"Name", "Ready", "Status", "Restarts", "Age"});
    CHECK(column_names(pod, 1) == Names{"IP", "Node", "Nominated Node", "Readiness Gates"});
    // Since 1.22 Restarts is a string: "5 (3m ago)".
    CHECK(pod.columns[3].type == "string");

    const Printer& node = printer("", "Node");
    CHECK(column_names(node, 0) == Names{"Name", "Status", "Roles", "Age", "Version"});
    CHECK(column_names(node, 1) ==
          Names{"Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"});

    const Printer& service = printer("", "Service");
    CHECK(column_names(service, 0) ==
          Names{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"});
    CHECK(column_names(service, 1) == Names{"Selector"});

    const Printer& event = printer("", "Event");
    CHECK(column_names(event, 0) == Names{"Last Seen", "Type", "Reason", "Object", "Message"});
    CHECK(column_names(event, 1) == Names{"Subobject", "Source", "First Seen", "Count", "Name"});
    CHECK(event.columns.back().format == "name");
    CHECK(column_names(printer("events.k8s.io", "Event"), 1) == column_names(event, 1));

    const Names workload_wide{"Containers", "Images", "Selector"};
    CHECK(column_names(printer("apps", "Deployment"), 0) ==
          Names{"Name", "Ready", "Up-to-date", "Available", "Age"});
    CHECK(column_names(printer("apps", "Deployment"), 1) == workload_wide);
    CHECK(column_names(printer("apps", "ReplicaSet"), 0) ==
          Names{"Name", "Desired", "Current", "Ready", "Age"});
    CHECK(column_names(printer("apps", "ReplicaSet"), 1) == workload_wide);
    CHECK(column_names(printer("apps", "DaemonSet"), 0) == Names{"Name", "Desired", "Current",
                                                                 "Ready", "Up-to-date", "Available",
                                                                 "Node Selector", "Age"});
    CHECK(column_names(printer("apps", "DaemonSet"), 1) == workload_wide);
    CHECK(column_names(printer("apps", "StatefulSet"), 0) == Names{"Name", "Ready", "Age"});
    CHECK(column_names(printer("apps", "StatefulSet"), 1) == Names{"Containers", "Images"});

    CHECK(column_names(printer("batch", "Job"), 0) ==
          Names{"Name", "Status", "Completions", "Duration", "Age"});
    CHECK(column_names(printer("batch", "Job"), 1) == workload_wide);
    CHECK(column_names(printer("batch", "CronJob"), 0) ==
          Names{"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"});
    CHECK(column_names(printer("batch", "CronJob"), 1) == workload_wide);

    CHECK(column_names(printer("", "PersistentVolume"), 0) ==
          Names{"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim",
                "StorageClass", "VolumeAttributesClass", "Reason", "Age"});
    CHECK(column_names(printer("", "PersistentVolume"), 1) == Names{"VolumeMode"});
    CHECK(column_names(printer("", "PersistentVolumeClaim"), 0) ==
          Names{"Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                "VolumeAttributesClass", "Age"});
    CHECK(column_names(printer("", "PersistentVolumeClaim"), 1) == Names{"VolumeMode"});
    // Kubernetes 1.32 order; 1.33 moves Age last.
    CHECK(column_names(printer("", "ResourceQuota"), 0) ==
          Names{"Name", "Age", "Request", "Limit"});

    CHECK(column_names(printer("networking.k8s.io", "Ingress"), 0) ==
          Names{"Name", "Class", "Hosts", "Address", "Ports", "Age"});
    CHECK(column_names(printer("storage.k8s.io", "StorageClass"), 0) ==
          Names{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion",
                "Age"});
    CHECK(column_names(printer("rbac.authorization.k8s.io", "RoleBinding"), 0) ==
          Names{"Name", "Role", "Age"});
    CHECK(column_names(printer("rbac.authorization.k8s.io", "ClusterRoleBinding"), 1) ==
          Names{"Users", "Groups", "ServiceAccounts"});
    CHECK(printer("rbac.authorization.k8s.io", "ClusterRoleBinding").columns[3].description ==
          "Users in the clusterRoleBinding");
}

TEST_CASE("column types follow upstream's definitions") {
    const auto type_of = [](const Printer& p, std::string_view name) {
        for (const auto& column : p.columns) {
            if (column.name == name) return column.type;
        }
        return std::string("<missing>");
    };
    CHECK(type_of(printer("apps", "ReplicaSet"), "Desired") == "integer");
    CHECK(type_of(printer("apps", "DaemonSet"), "Available") == "integer");
    CHECK(type_of(printer("apps", "Deployment"), "Up-to-date") == "string");
    CHECK(type_of(printer("batch", "CronJob"), "Suspend") == "boolean");
    CHECK(type_of(printer("batch", "CronJob"), "Active") == "integer");
    CHECK(type_of(printer("storage.k8s.io", "StorageClass"), "AllowVolumeExpansion") == "string");
    CHECK(type_of(printer("", "Secret"), "Data") == "string");
    CHECK(type_of(printer("scheduling.k8s.io", "PriorityClass"), "Global-Default") == "boolean");
}

// --- Default table -------------------------------------------------------------------------------

TEST_CASE("kinds without an upstream printer use the default Name / Created At table") {
    CHECK(find_printer("rbac.authorization.k8s.io", "Role") == nullptr);
    CHECK(find_printer("rbac.authorization.k8s.io", "ClusterRole") == nullptr);
    CHECK(find_printer("", "LimitRange") == nullptr);
    CHECK(find_printer("apiextensions.k8s.io", "CustomResourceDefinition") == nullptr);
    CHECK(find_printer("example.com", "Widget") == nullptr);
    // Group matters: core Pod is not a printer for some other group's Pod.
    CHECK(find_printer("example.com", "Pod") == nullptr);

    const Printer& p = kcube::api::default_printer();
    REQUIRE(p.columns.size() == 2);
    CHECK(p.columns[0].name == "Name");
    CHECK(p.columns[0].format == "name");
    CHECK(p.columns[1].name == "Created At");
    CHECK(p.columns[1].type == "date");
    CHECK(p.columns[1].priority == 0);

    const auto created = [&](std::string_view object) {
        return p.cells(parse_object(object), kNow);
    };
    CHECK(created(R"({"kind":"ClusterRole","metadata":{"name":"admin",
                     "creationTimestamp":"2024-01-08T12:00:00Z"},"rules":[]})") ==
          cells(R"(["admin","2024-01-08T12:00:00Z"])"));
    // Always UTC, whole seconds.
    CHECK(
        created(R"({"metadata":{"name":"x","creationTimestamp":"2024-01-10T13:55:00.5+02:00"}})") ==
        cells(R"(["x","2024-01-10T11:55:00Z"])"));
    // An unset time is Go's zero time.
    CHECK(created(R"({"metadata":{"name":"x"}})") == cells(R"(["x","0001-01-01T00:00:00Z"])"));
}

// --- Pod -----------------------------------------------------------------------------------------

TEST_CASE("a running pod, all columns") {
    CHECK(row("", "Pod", R"({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-7d4b9c-x2x9z", "namespace": "default",
                     "creationTimestamp": "2024-01-10T11:55:00Z", "labels": {"app": "web"}},
        "spec": {"nodeName": "kcube", "containers": [{"name": "nginx", "image": "nginx:1.25"}]},
        "status": {
            "phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
            "conditions": [{"type": "Initialized", "status": "True"},
                           {"type": "Ready", "status": "True"},
                           {"type": "ContainersReady", "status": "True"},
                           {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "nginx", "ready": true, "started": true,
                                   "restartCount": 0, "image": "nginx:1.25",
                                   "state": {"running": {"startedAt": "2024-01-10T11:55:03Z"}}}]}
    })") == cells(R"(["web-7d4b9c-x2x9z", "1/1", "Running", "0", "5m",
                      "10.244.0.5", "kcube", "<none>", "<none>"])"));
}

TEST_CASE("pod restarts say when the last one was") {
    CHECK(row("", "Pod", R"j({
        "metadata": {"name": "crashy", "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"nodeName": "kcube", "containers": [{"name": "app", "image": "busybox"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.9",
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 5,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                             "finishedAt": "2024-01-10T11:57:00Z"}},
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 2m40s restarting failed container"}}}]}
    })j") == cells(R"j(["crashy", "0/1", "CrashLoopBackOff", "5 (3m ago)", "2d",
                        "10.244.0.9", "kcube", "<none>", "<none>"])j"));

    // Without a last termination time there is nothing to say "ago" about.
    CHECK(pod_state(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}}]}})") ==
          "1/1 Running 2");

    // The latest termination among all containers counts.
    CHECK(
        pod_state(
            R"j({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-10T10:00:00Z"}}},
            {"name": "b", "ready": true, "restartCount": 2, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-10T11:59:30Z"}}}]}})j") ==
        "2/2 Running 3 (30s ago)");
}

TEST_CASE("pod status from container states (upstream's TestPrintPod cases)") {
    // Phase shows when no container has something to say.
    CHECK(pod_state(R"({"metadata": {"name": "test1"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3}]}})") == "1/2 podPhase 6");
    // A waiting container's reason overrides the phase.
    CHECK(pod_state(R"({"metadata": {"name": "test2"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}}]}})") ==
          "1/2 ContainerWaitingReason 6");
    // The first container wins over later ones.
    CHECK(pod_state(R"({"metadata": {"name": "test3"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "podPhase", "containerStatuses": [
            {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}},
            {"restartCount": 3,
             "state": {"terminated": {"reason": "ContainerTerminatedReason"}}}]}})") ==
          "0/2 ContainerWaitingReason 6");
    // Ready is not enough to count: the container must also be running.
    CHECK(pod_state(R"({"metadata": {"name": "test4"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"ready": true, "restartCount": 3}]}})") == "1/2 podPhase 6");
    // The pod's reason overrides the phase.
    CHECK(pod_state(R"({"metadata": {"name": "test5"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "podPhase", "reason": "podReason", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"ready": true, "restartCount": 3}]}})") == "1/2 podReason 6");
    // One container completed, one still running: NotReady without the Ready condition ...
    const std::string_view half_done = R"({"metadata": {"name": "test6"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"ready": true, "restartCount": 3,
             "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            {"ready": true, "restartCount": 3, "state": {"running": {}}}]%s}})";
    std::string without(half_done);
    without.replace(without.find("%s"), 2, "");
    CHECK(pod_state(without) == "1/2 NotReady 6");
    // ... and Running with it.
    std::string with(half_done);
    with.replace(with.find("%s"), 2, R"(, "conditions": [{"type": "Ready", "status": "True"}])");
    CHECK(pod_state(with) == "1/2 Running 6");
    // A terminated container without a reason shows its signal or exit code.
    CHECK(pod_state(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 137, "signal": 9}}}]}})") == "0/1 Signal:9 0");
    CHECK(pod_state(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 3}}}]}})") == "0/1 ExitCode:3 0");
}

TEST_CASE("pod status of phases and lifecycle") {
    // upstream's TestPrintNonTerminatedPod: the phase is printed for every phase.
    for (const char* phase : {"Running", "Pending", "Unknown", "Succeeded", "Failed"}) {
        CAPTURE(phase);
        std::string pod = R"({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "PHASE", "containerStatuses": [
                {"ready": true, "restartCount": 3, "state": {"running": {}}},
                {"restartCount": 3}]}})";
        pod.replace(pod.find("PHASE"), 5, phase);
        CHECK(pod_state(pod) == "1/2 " + std::string(phase) + " 6");
    }
    // A finished job's pod.
    CHECK(pod_state(R"({"metadata": {"name": "pi-x7k2p"}, "spec": {"containers": [{"name": "pi"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{"name": "pi", "ready": false,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})") ==
          "0/1 Completed 0");
    // Deleting a running pod: Terminating; a finished one keeps its status.
    CHECK(pod_state(R"({"metadata": {"name": "p", "deletionTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}}]}})") == "1/1 Terminating 0");
    CHECK(pod_state(R"({"metadata": {"name": "p", "deletionTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})") ==
          "0/1 Completed 0");
    // A pod on an unreachable node: NodeLost, and Unknown once it is being deleted.
    const std::string lost = R"({"metadata": {"name": "p"DELETION},
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "reason": "NodeLost", "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}}]}})";
    std::string alive = lost;
    alive.replace(alive.find("DELETION"), 8, "");
    CHECK(pod_state(alive) == "1/1 NodeLost 0");
    std::string deleted = lost;
    deleted.replace(deleted.find("DELETION"), 8,
                    R"(, "deletionTimestamp": "2024-01-10T11:59:00Z")");
    CHECK(pod_state(deleted) == "1/1 Unknown 0");
    // Evicted.
    CHECK(pod_state(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: memory."}})") == "0/1 Evicted 0");
    // Waiting for scheduling gates to be removed.
    CHECK(pod_state(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
            "status": "False", "reason": "SchedulingGated"}]}})") == "0/1 SchedulingGated 0");
    // Not scheduled yet: nothing to show in the wide columns.
    CHECK(row("", "Pod", R"({"metadata": {"name": "p", "creationTimestamp": "2024-01-10T11:59:58Z"},
        "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}})") ==
          cells(R"(["p", "0/1", "Pending", "0", "2s", "<none>", "<none>", "<none>", "<none>"])"));
}

TEST_CASE("pod status while init containers run") {
    // Two init containers before one app container.
    const auto pod = [](std::string_view init_statuses, std::string_view extra = "") {
        return std::string(R"j({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "init-a"}, {"name": "init-b"}],
                     "containers": [{"name": "app"}]},
            "status": {"phase": "Pending", "initContainerStatuses": )j") +
               std::string(init_statuses) + std::string(extra) +
               R"j(, "containerStatuses": [{"name": "app", "ready": false,
                   "state": {"waiting": {"reason": "PodInitializing"}}}]}})j";
    };
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "state": {"waiting": {"reason": "PodInitializing"}}},
        {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}])")) ==
          "0/1 Init:0/2 0");
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "init-b", "state": {"running": {}}}])")) == "0/1 Init:1/2 0");
    CHECK(pod_state(pod(R"j([
        {"name": "init-a", "restartCount": 4,
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-10T11:58:00Z"}},
         "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}])j")) ==
          "0/1 Init:CrashLoopBackOff 4 (2m ago)");
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
        {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}])")) ==
          "0/1 Init:Error 0");
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "state": {"terminated": {"exitCode": 2}}},
        {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}])")) ==
          "0/1 Init:ExitCode:2 0");
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "state": {"terminated": {"exitCode": 137, "signal": 9}}},
        {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}])")) ==
          "0/1 Init:Signal:9 0");
    // Once every init container is done the app containers decide.
    CHECK(pod_state(pod(R"([
        {"name": "init-a", "restartCount": 1, "state": {"terminated": {"exitCode": 0}}},
        {"name": "init-b", "state": {"terminated": {"exitCode": 0}}}])")) ==
          "0/1 PodInitializing 0");
}

TEST_CASE("sidecar containers count as containers of the pod") {
    CHECK(row("", "Pod", R"j({
        "metadata": {"name": "mesh", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"nodeName": "kcube",
                 "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
                                    {"name": "setup", "image": "busybox"}],
                 "containers": [{"name": "app", "image": "app"}]},
        "status": {"phase": "Running", "podIPs": [{"ip": "fd00::5"}],
            "conditions": [{"type": "Initialized", "status": "True"},
                           {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-10T11:50:00Z"}},
                 "state": {"running": {}}},
                {"name": "setup", "restartCount": 7, "state": {"terminated": {"exitCode": 0}}}],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-10T11:58:00Z"}}}]}
    })j") == cells(R"j(["mesh", "2/2", "Running", "3 (2m ago)", "5m",
                        "fd00::5", "kcube", "<none>", "<none>"])j"));
}

TEST_CASE("pod wide columns: nominated node and readiness gates") {
    CHECK(row("", "Pod", R"({
        "metadata": {"name": "gated", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"containers": [{"name": "a"}],
                 "readinessGates": [{"conditionType": "example.com/feature-1"},
                                    {"conditionType": "example.com/feature-2"}]},
        "status": {"phase": "Pending", "nominatedNodeName": "node-2",
                   "conditions": [{"type": "example.com/feature-1", "status": "True"},
                                  {"type": "example.com/feature-2", "status": "False"}]}
    })") == cells(R"(["gated", "0/1", "Pending", "0", "5m",
                      "<none>", "<none>", "node-2", "1/2"])"));
}

// --- Node ----------------------------------------------------------------------------------------

TEST_CASE("node status, roles and system info") {
    CHECK(row("", "Node", R"j({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "kcube", "creationTimestamp": "2024-01-08T12:00:00Z",
                     "labels": {"kubernetes.io/hostname": "kcube",
                                "node-role.kubernetes.io/control-plane": ""}},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "DiskPressure", "status": "False"},
                           {"type": "PIDPressure", "status": "False"},
                           {"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.49.2"},
                          {"type": "Hostname", "address": "kcube"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64",
                         "containerRuntimeVersion": "containerd://1.6.20"}}
    })j") == cells(R"j(["kcube", "Ready", "control-plane", "2d", "v1.32.0", "192.168.49.2",
                        "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64",
                        "containerd://1.6.20"])j"));

    CHECK(row("", "Node", R"({
        "metadata": {"name": "worker-1", "creationTimestamp": "2024-01-10T11:55:00Z",
                     "labels": {"node-role.kubernetes.io/worker": "",
                                "node-role.kubernetes.io/infra": "true",
                                "node-role.kubernetes.io/": "",
                                "kubernetes.io/role": "edge"}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "False"}],
                   "addresses": [{"type": "ExternalIP", "address": "203.0.113.7"}]}
    })") == cells(R"(["worker-1", "NotReady,SchedulingDisabled", "edge,infra,worker", "5m", "",
                      "<none>", "203.0.113.7", "<unknown>", "<unknown>", "<unknown>"])"));

    const auto status = [](std::string_view node) { return row("", "Node", node)[1]; };
    CHECK(status(R"({"metadata": {"name": "n"}})") == "Unknown");
    CHECK(status(R"({"metadata": {"name": "n"},
                     "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})") ==
          "NotReady");
    CHECK(status(R"({"metadata": {"name": "n"}, "spec": {"unschedulable": true}})") ==
          "Unknown,SchedulingDisabled");
}

// --- Service, Endpoints, EndpointSlice -----------------------------------------------------------

TEST_CASE("service types, IPs and ports") {
    CHECK(row("", "Service", R"({
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}
    })") == cells(R"(["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "2d",
                      "<none>"])"));

    CHECK(row("", "Service", R"({
        "metadata": {"name": "web", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.12.34"],
                 "selector": {"tier": "frontend", "app": "web"},
                 "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
                           {"port": 53, "nodePort": 30053, "protocol": "UDP"}]}
    })") == cells(R"(["web", "NodePort", "10.96.12.34", "<none>", "80:30080/TCP,53:30053/UDP",
                      "5m", "app=web,tier=frontend"])"));

    const auto external_ip = [](std::string_view service) {
        return row("", "Service", service)[3];
    };
    CHECK(external_ip(R"({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
        "clusterIP": "10.96.0.50", "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]},
        "status": {"loadBalancer": {}}})") == "<pending>");
    // Load balancer addresses sorted and unique, then the external IPs.
    CHECK(external_ip(R"({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
        "externalIPs": ["192.0.2.1"]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"},
            {"hostname": "lb.example.com"}, {"ip": "198.51.100.2"}, {"ip": "203.0.113.10"}]}}})") ==
          "198.51.100.2,203.0.113.10,lb.example.com,192.0.2.1");
    CHECK(external_ip(R"({"metadata": {"name": "svc"}, "spec": {"type": "ClusterIP",
        "externalIPs": ["192.0.2.5", "192.0.2.6"]}})") == "192.0.2.5,192.0.2.6");
    CHECK(row("", "Service", R"({"metadata": {"name": "db"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"}})") ==
          cells(R"(["db", "ExternalName", "<none>", "db.example.com", "<none>", "<unknown>",
                    "<none>"])"));
    // Headless.
    CHECK(row("", "Service", R"({"metadata": {"name": "h"}, "spec": {"type": "ClusterIP",
        "clusterIP": "None", "clusterIPs": ["None"], "selector": {"app": "db"},
        "ports": [{"port": 5432, "protocol": "TCP"}]}})")[2] == "None");
    // Only clusterIP given (older clients).
    CHECK(row("", "Service", R"({"metadata": {"name": "old"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10"}})")[2] == "10.96.0.10");
}

TEST_CASE("endpoints list at most three addresses") {
    const auto endpoints = [](std::string_view subsets) {
        return row("", "Endpoints",
                   R"({"metadata": {"name": "e", "creationTimestamp": "2024-01-10T11:55:00Z"},
                       "subsets": )" +
                       std::string(subsets) + "}")[1];
    };
    CHECK(endpoints(R"([{"addresses": [{"ip": "192.168.49.2"}],
                        "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}])") ==
          "192.168.49.2:8443");
    CHECK(endpoints(R"([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"},
                                       {"ip": "10.0.0.4"}, {"ip": "10.0.0.5"}],
                        "ports": [{"port": 80}]}])") ==
          "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...");
    CHECK(endpoints(R"([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                        "ports": [{"port": 80}, {"port": 443}]}])") ==
          "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");
    CHECK(endpoints(R"([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}])") ==
          "[fd00::1]:80");
    // Headless services without ports list bare addresses.
    CHECK(endpoints(R"([{"addresses": [{"ip": "10.0.0.1"}]}])") == "10.0.0.1");
    CHECK(endpoints("[]") == "<none>");
    CHECK(row("", "Endpoints", R"({"metadata": {"name": "e"}})") ==
          cells(R"(["e", "<none>", "<unknown>"])"));
}

TEST_CASE("endpoint slices") {
    CHECK(row("discovery.k8s.io", "EndpointSlice", R"({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc12", "creationTimestamp": "2024-01-10T11:55:00Z",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}},
                      {"addresses": ["10.244.0.6"], "conditions": {"ready": true}}]
    })") == cells(R"(["web-abc12", "IPv4", "80", "10.244.0.5,10.244.0.6", "5m"])"));
    CHECK(row("discovery.k8s.io", "EndpointSlice", R"({
        "metadata": {"name": "empty"}, "addressType": "IPv6"
    })") == cells(R"(["empty", "IPv6", "<unset>", "<unset>", "<unknown>"])"));
    CHECK(row("discovery.k8s.io", "EndpointSlice", R"({
        "metadata": {"name": "s"}, "addressType": "IPv4",
        "ports": [{"name": "dns"}, {}, {"port": 53}, {"port": 54}],
        "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3"]},
                      {"addresses": ["10.0.0.4"]}]
    })") == cells(R"(["s", "IPv4", "dns,*,53 + 1 more...",
                      "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "<unknown>"])"));
}

// --- ConfigMap, Secret, ServiceAccount, Namespace ------------------------------------------------

TEST_CASE("config maps, secrets, service accounts and namespaces") {
    CHECK(row("", "ConfigMap", R"({"metadata": {"name": "kube-root-ca.crt",
        "creationTimestamp": "2024-01-08T12:00:00Z"}, "data": {"ca.crt": "-----BEGIN..."}})") ==
          cells(R"(["kube-root-ca.crt", 1, "2d"])"));
    // Binary data counts too.
    CHECK(row("", "ConfigMap", R"({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"},
        "binaryData": {"c": "AAE="}})")[1] == 3);
    CHECK(row("", "Secret",
              R"({"metadata": {"name": "tls", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}})") ==
          cells(R"(["tls", "kubernetes.io/tls", 2, "5m"])"));
    CHECK(row("", "Secret", R"({"metadata": {"name": "empty"}, "type": "Opaque"})") ==
          cells(R"(["empty", "Opaque", 0, "<unknown>"])"));
    CHECK(row("", "ServiceAccount", R"({"metadata": {"name": "default",
        "creationTimestamp": "2024-01-08T12:00:00Z"}})") == cells(R"(["default", 0, "2d"])"));
    CHECK(row("", "ServiceAccount", R"({"metadata": {"name": "builder"},
        "secrets": [{"name": "builder-token"}]})")[1] == 1);
    CHECK(row("", "Namespace", R"({"metadata": {"name": "kube-system",
        "creationTimestamp": "2024-01-08T12:00:00Z"}, "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}})") == cells(R"(["kube-system", "Active", "2d"])"));
    CHECK(row("", "Namespace", R"({"metadata": {"name": "old",
        "deletionTimestamp": "2024-01-10T11:59:00Z"}, "status": {"phase": "Terminating"}})")[1] ==
          "Terminating");
}

// --- Events --------------------------------------------------------------------------------------

TEST_CASE("core/v1 events") {
    CHECK(row("", "Event", R"({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-1.17a8b2c3d4e5f6a7", "namespace": "default",
                     "creationTimestamp": "2024-01-10T11:00:00Z"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1",
                           "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled", "type": "Normal",
        "message": "Container image \"nginx:1.25\" already present on machine\n",
        "source": {"component": "kubelet", "host": "kcube"},
        "firstTimestamp": "2024-01-10T11:00:00Z", "lastTimestamp": "2024-01-10T11:58:00Z",
        "count": 3
    })") == cells(R"(["2m", "Normal", "Pulled", "pod/web-1", "spec.containers{nginx}",
                      "kubelet, kcube",
                      "Container image \"nginx:1.25\" already present on machine", "60m", 3,
                      "web-1.17a8b2c3d4e5f6a7"])"));

    // Written through the newer API: eventTime instead of timestamps, reporting fields
    // instead of source, and no count.
    CHECK(row("", "Event", R"({
        "metadata": {"name": "web-1.17a8b2c3d4e5f6a8", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1"},
        "reason": "Scheduled", "type": "Normal",
        "message": "Successfully assigned default/web-1 to kcube",
        "source": {}, "firstTimestamp": null, "lastTimestamp": null,
        "eventTime": "2024-01-10T11:59:30.123456Z",
        "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-kcube"
    })") == cells(R"(["29s", "Normal", "Scheduled", "pod/web-1", "",
                      "default-scheduler, default-scheduler-kcube",
                      "Successfully assigned default/web-1 to kcube", "29s", 1,
                      "web-1.17a8b2c3d4e5f6a8"])"));

    // A series: its last observation and count win.
    CHECK(row("", "Event", R"({
        "metadata": {"name": "n.1"}, "involvedObject": {"kind": "Node", "name": "kcube"},
        "reason": "Rebooted", "type": "Warning", "message": "  Node rebooted  ",
        "source": {"component": "kubelet"}, "eventTime": "2024-01-10T11:00:00.000000Z",
        "series": {"count": 5, "lastObservedTime": "2024-01-10T11:59:00.000000Z"}
    })") == cells(R"(["60s", "Warning", "Rebooted", "node/kcube", "", "kubelet",
                      "Node rebooted", "60m", 5, "n.1"])"));

    // An object without a name prints its kind only; no times at all print <unknown>.
    CHECK(row("", "Event", R"({"metadata": {"name": "x"}, "involvedObject": {"kind": "Cluster"},
        "reason": "R", "type": "Normal", "message": "m"})") ==
          cells(R"(["<unknown>", "Normal", "R", "cluster", "", "", "m", "<unknown>", 1, "x"])"));
}

TEST_CASE("events.k8s.io/v1 events print like core events") {
    CHECK(row("events.k8s.io", "Event", R"({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web-1.17a8b2c3d4e5f6a8", "namespace": "default"},
        "eventTime": "2024-01-10T11:59:30.000000Z",
        "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-kcube",
        "action": "Binding", "reason": "Scheduled", "type": "Normal",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web-1"},
        "note": "Successfully assigned default/web-1 to kcube"
    })") == cells(R"(["30s", "Normal", "Scheduled", "pod/web-1", "",
                      "default-scheduler, default-scheduler-kcube",
                      "Successfully assigned default/web-1 to kcube", "30s", 1,
                      "web-1.17a8b2c3d4e5f6a8"])"));
    // Events first written through core/v1 keep their old fields under deprecated* names.
    CHECK(row("events.k8s.io", "Event", R"({
        "metadata": {"name": "e"},
        "regarding": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "type": "Warning", "note": "Back-off restarting failed container",
        "deprecatedSource": {"component": "kubelet", "host": "kcube"},
        "deprecatedFirstTimestamp": "2024-01-10T10:00:00Z",
        "deprecatedLastTimestamp": "2024-01-10T11:55:00Z", "deprecatedCount": 12
    })") == cells(R"(["5m", "Warning", "BackOff", "pod/web-1", "spec.containers{app}",
                      "kubelet, kcube", "Back-off restarting failed container", "120m", 12,
                      "e"])"));
}

// --- PersistentVolume, PersistentVolumeClaim, ResourceQuota --------------------------------------

TEST_CASE("persistent volumes") {
    CHECK(row("", "PersistentVolume", R"({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "pvc-1234", "creationTimestamp": "2024-01-10T11:55:00Z",
                     "annotations": {"pv.kubernetes.io/provisioned-by": "k8s.io/minikube-hostpath"}},
        "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                 "volumeMode": "Filesystem",
                 "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"},
                 "hostPath": {"path": "/tmp/hostpath-provisioner/default/data"}},
        "status": {"phase": "Bound"}
    })") == cells(R"(["pvc-1234", "1Gi", "RWO,RWX", "Delete", "Bound", "default/data", "standard",
                      "<unset>", "", "5m", "Filesystem"])"));
    // Being deleted; the beta annotation wins over storageClassName.
    CHECK(row("", "PersistentVolume", R"({
        "metadata": {"name": "old", "deletionTimestamp": "2024-01-10T11:59:00Z",
                     "annotations": {"volume.beta.kubernetes.io/storage-class": "slow"}},
        "spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"],
                 "persistentVolumeReclaimPolicy": "Retain", "volumeAttributesClassName": "gold"},
        "status": {"phase": "Failed", "reason": "VolumeFailedRecycle"}
    })") == cells(R"(["old", "0", "ROX,RWOP", "Retain", "Terminating", "", "slow", "gold",
                      "VolumeFailedRecycle", "<unknown>", "<unset>"])"));
}

TEST_CASE("persistent volume claims show capacity only once bound") {
    CHECK(row("", "PersistentVolumeClaim", R"({
        "metadata": {"name": "data", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"}
    })") == cells(R"(["data", "Pending", "", "", "", "standard", "<unset>", "5m", "Filesystem"])"));
    CHECK(row("", "PersistentVolumeClaim", R"({
        "metadata": {"name": "data", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeMode": "Filesystem",
                 "volumeName": "pvc-1234"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                   "capacity": {"storage": "2048Mi"}}
    })") == cells(R"(["data", "Bound", "pvc-1234", "2Gi", "RWO", "standard", "<unset>", "5m",
                      "Filesystem"])"));
    CHECK(row("", "PersistentVolumeClaim", R"({"metadata": {"name": "c"},
        "spec": {"volumeName": "v"}})") ==
          cells(R"(["c", "", "v", "0", "", "", "<unset>", "<unknown>", "<unset>"])"));
}

TEST_CASE("resource quotas split requests and limits") {
    CHECK(row("", "ResourceQuota", R"({
        "metadata": {"name": "compute", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"hard": {"pods": "10"}},
        "status": {"hard": {"pods": "10", "requests.cpu": "2", "requests.memory": "2Gi",
                            "limits.cpu": "4", "limits.memory": "4096Mi"},
                   "used": {"pods": "3", "requests.cpu": "750m", "requests.memory": "512Mi",
                            "limits.cpu": "1500m"}}
    })") == cells(R"(["compute", "5m",
                      "pods: 3/10, requests.cpu: 750m/2, requests.memory: 512Mi/2Gi",
                      "limits.cpu: 1500m/4, limits.memory: 0/4Gi"])"));
    CHECK(row("", "ResourceQuota", R"({"metadata": {"name": "empty"}})") ==
          cells(R"(["empty", "<unknown>", "", ""])"));
}

TEST_CASE("quantities print in canonical form") {
    using kcube::api::printers::canonical_quantity;
    const std::pair<const char*, const char*> cases[] = {
        {"1Gi", "1Gi"},
        {"1024Mi", "1Gi"},
        {"1536Mi", "1536Mi"},
        {"1.5Gi", "1536Mi"},
        {"2048Ki", "2Mi"},
        {"1Ki", "1Ki"},
        {"0.5Ki", "512"},
        {"1024", "1024"},
        {"1000", "1k"},
        {"1500", "1500"},
        {"1000k", "1M"},
        {"0.5", "500m"},
        {"1.5", "1500m"},
        {"100m", "100m"},
        {"1000m", "1"},
        {"2000m", "2"},
        {"1e3", "1e3"},
        {"1.5e3", "1500"},
        {"0", "0"},
        {"0Gi", "0"},
        {"-1Gi", "-1Gi"},
        {"0.1n", "1n"},
        {"+5", "5"},
        {"10G", "10G"},
        {"not-a-quantity", "not-a-quantity"},
    };
    for (const auto& [input, canonical] : cases) {
        CAPTURE(input);
        CHECK(canonical_quantity(input) == canonical);
    }
}

// --- apps ----------------------------------------------------------------------------------------

TEST_CASE("deployments") {
    CHECK(row("apps", "Deployment", R"({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system",
                     "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                              "spec": {"containers": [{"name": "coredns",
                                  "image": "registry.k8s.io/coredns/coredns:v1.11.1"}]}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1, "availableReplicas": 1}
    })") == cells(R"(["coredns", "1/1", 1, 1, "2d", "coredns",
                      "registry.k8s.io/coredns/coredns:v1.11.1", "k8s-app=kube-dns"])"));

    // Scaled to zero; several containers; every kind of selector requirement, sorted by key.
    CHECK(row("apps", "Deployment", R"({
        "metadata": {"name": "web", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"replicas": 0,
                 "selector": {"matchLabels": {"app": "web"},
                              "matchExpressions": [
                                  {"key": "tier", "operator": "In", "values": ["frontend", "cache"]},
                                  {"key": "env", "operator": "NotIn", "values": ["prod"]},
                                  {"key": "canary", "operator": "DoesNotExist"},
                                  {"key": "app.kubernetes.io/name", "operator": "Exists"}]},
                 "template": {"spec": {"containers": [{"name": "app", "image": "web:2"},
                                                      {"name": "log", "image": "fluent-bit:3"}]}}},
        "status": {}
    })") == cells(R"j(["web", "0/0", 0, 0, "5m", "app,log", "web:2,fluent-bit:3",
        "app=web,app.kubernetes.io/name,!canary,env notin (prod),tier in (cache,frontend)"])j"));

    // An unknown operator makes the selector invalid.
    CHECK(row("apps", "Deployment", R"({"metadata": {"name": "bad"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}})")[7] ==
          "<invalid>");
    // A missing selector is empty here (Deployment prints the selector itself, not "<none>").
    CHECK(row("apps", "Deployment", R"({"metadata": {"name": "d"}})") ==
          cells(R"(["d", "0/1", 0, 0, "<unknown>", "", "", ""])"));
}

TEST_CASE("replica sets, stateful sets and daemon sets") {
    CHECK(row("apps", "ReplicaSet", R"({
        "metadata": {"name": "web-7d4b9c", "creationTimestamp": "2024-01-10T11:55:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "web", "controller": true}]},
        "spec": {"replicas": 3,
                 "selector": {"matchLabels": {"pod-template-hash": "7d4b9c", "app": "web"}},
                 "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
        "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
                   "availableReplicas": 2}
    })") == cells(R"(["web-7d4b9c", 3, 3, 2, "5m", "nginx", "nginx:1.25",
                      "app=web,pod-template-hash=7d4b9c"])"));
    CHECK(row("apps", "ReplicaSet", R"({"metadata": {"name": "rs"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}})") ==
          cells(R"(["rs", 1, 0, 0, "<unknown>", "", "", "<error>"])"));

    CHECK(row("apps", "StatefulSet", R"({
        "metadata": {"name": "db", "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2, "currentReplicas": 3}
    })") == cells(R"(["db", "2/3", "2d", "postgres", "postgres:16"])"));

    CHECK(row("apps", "DaemonSet", R"({
        "metadata": {"name": "kube-proxy", "namespace": "kube-system",
                     "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                     "containers": [{"name": "kube-proxy",
                                     "image": "registry.k8s.io/kube-proxy:v1.32.0"}]}}},
        "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1,
                   "updatedNumberScheduled": 1, "numberAvailable": 1, "numberMisscheduled": 0}
    })") == cells(R"(["kube-proxy", 1, 1, 1, 1, 1, "kubernetes.io/os=linux", "2d", "kube-proxy",
                      "registry.k8s.io/kube-proxy:v1.32.0", "k8s-app=kube-proxy"])"));
    CHECK(row("apps", "DaemonSet", R"({"metadata": {"name": "ds"}})") ==
          cells(R"(["ds", 0, 0, 0, 0, 0, "<none>", "<unknown>", "", "", "<none>"])"));
}

TEST_CASE("controller revisions name their controller with kind and group") {
    CHECK(row("apps", "ControllerRevision", R"({
        "metadata": {"name": "kube-proxy-6d4b7c8f9", "creationTimestamp": "2024-01-08T12:00:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                          "name": "kube-proxy", "uid": "u", "controller": true,
                                          "blockOwnerDeletion": true}]},
        "data": {}, "revision": 1
    })") == cells(R"(["kube-proxy-6d4b7c8f9", "daemonset.apps/kube-proxy", 1, "2d"])"));
    CHECK(row("apps", "ControllerRevision", R"({"metadata": {"name": "r",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]},
        "revision": 7})")[1] == "pod/p");
    // Owners that are not the controller do not count.
    CHECK(row("apps", "ControllerRevision", R"({"metadata": {"name": "r",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "s"}]},
        "revision": 2})") == cells(R"(["r", "<none>", 2, "<unknown>"])"));
}

// --- batch ---------------------------------------------------------------------------------------

TEST_CASE("job status, completions and duration") {
    CHECK(row("batch", "Job", R"({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"completions": 1, "parallelism": 1, "backoffLimit": 4,
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                 "template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "pi", "image": "perl:5.34"}]}}},
        "status": {"startTime": "2024-01-10T11:55:00Z", "completionTime": "2024-01-10T11:55:42Z",
                   "succeeded": 1, "ready": 0,
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}
    })") == cells(R"(["pi", "Complete", "1/1", "42s", "5m", "pi", "perl:5.34",
                      "batch.kubernetes.io/controller-uid=abc"])"));

    const auto job = [](std::string_view spec, std::string_view status,
                        std::string_view metadata = "") {
        return row("batch", "Job",
                   R"({"metadata": {"name": "j")" + std::string(metadata) + R"(}, "spec": )" +
                       std::string(spec) + R"(, "status": )" + std::string(status) + "}");
    };
    const json::array running =
        job(R"({"completions": 5, "parallelism": 2})",
            R"({"startTime": "2024-01-10T11:58:00Z", "succeeded": 2, "active": 2})");
    CHECK(running[1] == "Running");
    CHECK(running[2] == "2/5");
    CHECK(running[3] == "2m");
    CHECK(job(R"({"parallelism": 3})", "{}")[2] == "0/1 of 3");
    CHECK(job("{}", R"({"succeeded": 1})")[2] == "1/1");
    // Not started: no duration.
    CHECK(job("{}", "{}")[3] == "");
    CHECK(job(R"({"suspend": true})",
              R"({"conditions": [{"type": "Suspended", "status": "True"}]})")[1] == "Suspended");
    CHECK(job("{}", R"({"conditions": [{"type": "FailureTarget", "status": "True"},
                                       {"type": "Failed", "status": "True"}]})")[1] == "Failed");
    CHECK(job("{}", R"({"conditions": [{"type": "FailureTarget", "status": "True"}]})")[1] ==
          "FailureTarget");
    // A condition that is not True does not count.
    CHECK(job("{}", R"({"conditions": [{"type": "Complete", "status": "False"}]})")[1] ==
          "Running");
    CHECK(job("{}", "{}", R"(, "deletionTimestamp": "2024-01-10T11:59:00Z")")[1] == "Terminating");
    CHECK(job("{}", R"({"conditions": [{"type": "Complete", "status": "True"}]})",
              R"(, "deletionTimestamp": "2024-01-10T11:59:00Z")")[1] == "Complete");
}

TEST_CASE("cron jobs") {
    CHECK(row("batch", "CronJob", R"({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "hello", "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": false,
                 "concurrencyPolicy": "Allow",
                 "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                     "containers": [{"name": "hello", "image": "busybox:1.36"}]}}}}},
        "status": {"active": [{"kind": "Job", "name": "hello-28411195"}],
                   "lastScheduleTime": "2024-01-10T11:55:00Z"}
    })") == cells(R"(["hello", "*/5 * * * *", "Etc/UTC", "False", 1, "5m", "2d", "hello",
                      "busybox:1.36", "<none>"])"));
    CHECK(row("batch", "CronJob", R"({"metadata": {"name": "c"},
        "spec": {"schedule": "@daily", "suspend": true,
                 "jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}}}}})") ==
          cells(R"(["c", "@daily", "<none>", "True", 0, "<none>", "<unknown>", "", "", "a=b"])"));
    CHECK(row("batch", "CronJob",
              R"({"metadata": {"name": "c"}, "spec": {"schedule": "@daily"}})")[3] == "<unset>");
}

// --- networking ----------------------------------------------------------------------------------

TEST_CASE("ingresses") {
    CHECK(row("networking.k8s.io", "Ingress", R"({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"ingressClassName": "nginx",
                 "rules": [{"host": "foo.example.com", "http": {"paths": []}},
                           {"host": "bar.example.com"}],
                 "tls": [{"hosts": ["foo.example.com"], "secretName": "foo-tls"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}
    })") == cells(R"(["web", "nginx", "foo.example.com,bar.example.com", "192.168.49.2", "80, 443",
                      "5m"])"));
    CHECK(row("networking.k8s.io", "Ingress", R"({"metadata": {"name": "any"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                 "rules": [{"http": {"paths": []}}]}})") ==
          cells(R"(["any", "<none>", "*", "", "80", "<unknown>"])"));
    CHECK(row("networking.k8s.io", "Ingress", R"({"metadata": {"name": "many"},
        "spec": {"rules": [{"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"},
                           {"host": "e"}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"},
                                                {"ip": "10.0.0.9"}]}}})") ==
          cells(R"(["many", "<none>", "a,b,c + 2 more...", "10.0.0.9,lb.example.com", "80",
                    "<unknown>"])"));
}

TEST_CASE("ingress classes and network policies") {
    CHECK(row("networking.k8s.io", "IngressClass", R"({
        "metadata": {"name": "nginx", "creationTimestamp": "2024-01-08T12:00:00Z",
                     "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "k8s.io/ingress-nginx"}
    })") == cells(R"(["nginx", "k8s.io/ingress-nginx", "<none>", "2d"])"));
    CHECK(row("networking.k8s.io", "IngressClass", R"({"metadata": {"name": "lb"},
        "spec": {"controller": "example.com/lb", "parameters": {"apiGroup": "k8s.example.com",
                 "kind": "IngressParameters", "name": "external-lb"}}})")[2] ==
          "IngressParameters.k8s.example.com/external-lb");
    CHECK(row("networking.k8s.io", "IngressClass", R"({"metadata": {"name": "lb"},
        "spec": {"controller": "c", "parameters": {"kind": "ConfigMap", "name": "params"}}})")[2] ==
          "ConfigMap/params");

    CHECK(row("networking.k8s.io", "NetworkPolicy", R"({
        "metadata": {"name": "default-deny", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
    })") == cells(R"(["default-deny", "<none>", "5m"])"));
    CHECK(row("networking.k8s.io", "NetworkPolicy", R"({"metadata": {"name": "db"},
        "spec": {"podSelector": {"matchLabels": {"role": "db"}}}})")[1] == "role=db");
}

// --- cluster-wide kinds --------------------------------------------------------------------------

TEST_CASE("storage classes mark the default one") {
    CHECK(row("storage.k8s.io", "StorageClass", R"({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "creationTimestamp": "2024-01-08T12:00:00Z",
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "k8s.io/minikube-hostpath"
    })") == cells(R"j(["standard (default)", "k8s.io/minikube-hostpath", "Delete", "Immediate",
                      false, "2d"])j"));
    CHECK(row("storage.k8s.io", "StorageClass", R"({
        "metadata": {"name": "fast",
                     "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}},
        "provisioner": "csi.example.com", "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true
    })") == cells(R"j(["fast (default)", "csi.example.com", "Retain", "WaitForFirstConsumer", true,
                      "<unknown>"])j"));
    CHECK(row("storage.k8s.io", "StorageClass", R"({"metadata": {"name": "x",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
        "provisioner": "p"})")[0] == "x");
}

TEST_CASE("role bindings list their subjects in -o wide") {
    CHECK(row("rbac.authorization.k8s.io", "RoleBinding", R"({
        "metadata": {"name": "read-pods", "namespace": "default",
                     "creationTimestamp": "2024-01-10T11:55:00Z"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                     {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"},
                     {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]
    })") == cells(R"(["read-pods", "Role/pod-reader", "5m", "jane, bob", "devs",
                      "kube-system/default"])"));
    CHECK(row("rbac.authorization.k8s.io", "ClusterRoleBinding", R"({
        "metadata": {"name": "cluster-admin", "creationTimestamp": "2024-01-08T12:00:00Z"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                      "name": "system:masters"}]
    })") == cells(R"(["cluster-admin", "ClusterRole/cluster-admin", "2d", "", "system:masters",
                      ""])"));
}

TEST_CASE("leases, priority classes, runtime classes and disruption budgets") {
    CHECK(row("coordination.k8s.io", "Lease", R"({
        "metadata": {"name": "kcube", "namespace": "kube-node-lease",
                     "creationTimestamp": "2024-01-08T12:00:00Z"},
        "spec": {"holderIdentity": "kcube", "leaseDurationSeconds": 40,
                 "renewTime": "2024-01-10T11:59:50.000000Z"}
    })") == cells(R"(["kcube", "kcube", "2d"])"));
    CHECK(row("coordination.k8s.io", "Lease", R"({"metadata": {"name": "l"}, "spec": {}})")[1] ==
          "");

    CHECK(row("scheduling.k8s.io", "PriorityClass", R"({
        "metadata": {"name": "system-cluster-critical", "creationTimestamp": "2024-01-08T12:00:00Z"},
        "value": 2000000000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority",
        "description": "Used for system critical pods that must run in the cluster."
    })") == cells(R"(["system-cluster-critical", 2000000000, false, "2d",
                      "PreemptLowerPriority"])"));
    CHECK(row("node.k8s.io", "RuntimeClass", R"({"metadata": {"name": "gvisor"},
        "handler": "runsc"})") == cells(R"(["gvisor", "runsc", "<unknown>"])"));

    CHECK(row("policy", "PodDisruptionBudget", R"({
        "metadata": {"name": "web", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 2, "currentHealthy": 3, "desiredHealthy": 1}
    })") == cells(R"(["web", "1", "N/A", 2, "5m"])"));
    CHECK(row("policy", "PodDisruptionBudget", R"({"metadata": {"name": "p"},
        "spec": {"maxUnavailable": "25%"}})") == cells(R"(["p", "N/A", "25%", 0, "<unknown>"])"));
}

TEST_CASE("storage drivers, attachments and admission webhooks") {
    CHECK(row("storage.k8s.io", "CSIDriver", R"({"metadata": {"name": "hostpath.csi.k8s.io"},
        "spec": {"podInfoOnMount": true, "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                 "tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}]}})") ==
          cells(R"(["hostpath.csi.k8s.io", true, true, false, "vault,gcp", false,
                    "Persistent,Ephemeral", "<unknown>"])"));
    CHECK(row("storage.k8s.io", "CSIDriver", R"({"metadata": {"name": "d"},
        "spec": {"attachRequired": false}})") ==
          cells(R"(["d", false, false, false, "<unset>", false, "<none>", "<unknown>"])"));
    CHECK(row("storage.k8s.io", "CSINode", R"({"metadata": {"name": "kcube"},
        "spec": {"drivers": [{"name": "hostpath.csi.k8s.io", "nodeID": "kcube"}]}})") ==
          cells(R"(["kcube", 1, "<unknown>"])"));
    CHECK(row("storage.k8s.io", "VolumeAttachment", R"({"metadata": {"name": "csi-123"},
        "spec": {"attacher": "hostpath.csi.k8s.io", "nodeName": "kcube",
                 "source": {"persistentVolumeName": "pvc-1"}},
        "status": {"attached": true}})") ==
          cells(R"(["csi-123", "hostpath.csi.k8s.io", "pvc-1", "kcube", true, "<unknown>"])"));
    CHECK(row("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", R"({
        "metadata": {"name": "ingress-nginx-admission"},
        "webhooks": [{"name": "validate.nginx.ingress.kubernetes.io"}]})") ==
          cells(R"(["ingress-nginx-admission", 1, "<unknown>"])"));
    CHECK(row("admissionregistration.k8s.io", "MutatingWebhookConfiguration",
              R"({"metadata": {"name": "m"}})") == cells(R"(["m", 0, "<unknown>"])"));
}

TEST_CASE("replication controllers and pod templates") {
    CHECK(row("", "ReplicationController", R"({
        "metadata": {"name": "rc", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"replicas": 2, "selector": {"app": "rc"},
                 "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1}
    })") == cells(R"(["rc", 2, 2, 1, "5m", "c", "i", "app=rc"])"));
    CHECK(row("", "PodTemplate", R"({"metadata": {"name": "t"},
        "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}})") ==
          cells(R"(["t", "c", "i", "a=1,b=2"])"));
}

// --- Ages ----------------------------------------------------------------------------------------

TEST_CASE("ages of unset, malformed and future timestamps") {
    const auto age_of = [](std::string_view created) {
        return row(
            "", "Namespace",
            R"({"metadata": {"name": "n", "creationTimestamp": )" + std::string(created) + "}}")[2];
    };
    CHECK(age_of("null") == "<unknown>");
    CHECK(age_of(R"("yesterday")") == "<unknown>");
    CHECK(age_of(R"("0001-01-01T00:00:00Z")") == "<unknown>");
    CHECK(age_of(R"("2024-01-10T12:00:01Z")") == "0s");
    CHECK(age_of(R"("2024-01-10T12:00:05Z")") == "<invalid>");
    CHECK(age_of(R"("2024-01-10T11:59:59.5Z")") == "0s");
    CHECK(age_of(R"("2024-01-10T13:00:00+02:00")") == "60m");
    CHECK(age_of(R"("2023-01-10T12:00:00Z")") == "365d");
    CHECK(age_of(R"("1900-01-01T00:00:00Z")") == "124y");
}

// --- HorizontalPodAutoscaler and row conditions -------------------------------------------------

TEST_CASE("horizontal pod autoscalers summarize their metrics") {
    CHECK(row("autoscaling", "HorizontalPodAutoscaler", R"({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "creationTimestamp": "2024-01-10T11:55:00Z"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 50}}}]},
        "status": {"currentReplicas": 1, "desiredReplicas": 1,
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                       "current": {"averageUtilization": 12, "averageValue": "12m"}}}]}
    })") == cells(R"(["web", "Deployment/web", "cpu: 12%/50%", "1", 10, 1, "5m"])"));

    const auto targets = [](std::string_view metrics, std::string_view current = "[]") {
        return row("autoscaling", "HorizontalPodAutoscaler",
                   R"({"metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "metrics": )" +
                       std::string(metrics) + R"(}, "status": {"currentMetrics": )" +
                       std::string(current) + "}}")[2];
    };
    // Not measured yet.
    CHECK(targets(R"([{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80}}}])") == "cpu: <unknown>/80%");
    CHECK(targets(R"([{"type": "Resource", "resource": {"name": "memory",
                         "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
                      {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"},
                         "target": {"type": "AverageValue", "averageValue": "1000"}}},
                      {"type": "External", "external": {"metric": {"name": "queue"},
                         "target": {"type": "Value", "value": "30"}}}])",
                  R"([{"type": "Resource", "resource": {"name": "memory",
                         "current": {"averageValue": "102400Ki"}}},
                      {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"},
                         "current": {"averageValue": "500"}}}])") ==
          "memory: 100Mi/200Mi, 500/1k + 1 more...");
    CHECK(targets(R"([{"type": "External", "external": {"metric": {"name": "queue"},
        "target": {"type": "Value", "value": "30"}}}])") == "<unknown>/30");
    CHECK(targets(R"([{"type": "Object", "object": {"metric": {"name": "rps"},
        "target": {"type": "AverageValue", "averageValue": "0.5"}}}])") == "<unknown>/500m (avg)");
    CHECK(targets(R"([{"type": "Mystery"}])") == "<unknown type>");
    CHECK(row("autoscaling", "HorizontalPodAutoscaler", R"({"metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 5}})") ==
          cells(R"(["h", "StatefulSet/db", "<none>", "<unset>", 5, 0, "<unknown>"])"));
}

TEST_CASE("finished pods' rows carry the Completed condition") {
    const Printer& p = printer("", "Pod");
    const bool has_conditions = p.conditions != nullptr;
    REQUIRE(has_conditions);
    const auto conditions = [&](std::string_view phase) {
        return p.conditions(parse_object(R"({"metadata": {"name": "p"}, "status": {"phase": ")" +
                                         std::string(phase) + R"("}})"));
    };
    CHECK(conditions("Succeeded") == cells(R"([{"type": "Completed", "status": "True",
        "reason": "Succeeded", "message": "The pod has completed successfully."}])"));
    CHECK(conditions("Failed") == cells(R"([{"type": "Completed", "status": "True",
        "reason": "Failed", "message": "The pod failed."}])"));
    CHECK(conditions("Running").empty());
    // Other printers set no conditions.
    const bool deployment_has = printer("apps", "Deployment").conditions != nullptr;
    const bool default_has = kcube::api::default_printer().conditions != nullptr;
    CHECK_FALSE(deployment_has);
    CHECK_FALSE(default_has);
}
