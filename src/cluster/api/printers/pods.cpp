// The Pod printer: upstream's printPod, whose Status column condenses phase, reason, init and
// app container states into one word, and whose Restarts column says when the last restart was.
#include <optional>
#include <string>
#include <unordered_map>

#include "cluster/api/printers/core.hpp"
#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

using Time = std::optional<Clock::time_point>;

// Restart counts and the latest restart (the end of a previous run), summed over containers.
struct Restarts {
    std::int64_t count = 0;
    Time last;

    void add(const json::object& status) {
        count += get_int(status, {"restartCount"});
        const Time finished = time_at(status, {"lastState", "terminated", "finishedAt"});
        if (finished && (!last || *last < *finished)) last = finished;
    }
};

// What the loops below work out about a pod.
struct PodSummary {
    std::string reason;
    std::int64_t ready = 0;
    std::int64_t total = 0;
    Restarts restarts;
};

// Whether the first condition of `type` has `status` (upstream's isPodInitializedConditionTrue).
bool has_condition(const json::object& pod, std::string_view type, std::string_view status) {
    for (const json::object* condition : objects(pod, {"status", "conditions"})) {
        if (get_string(*condition, {"type"}) == type) {
            return get_string(*condition, {"status"}) == status;
        }
    }
    return false;
}

// hasPodReadyCondition looks at every Ready condition, not only the first.
bool has_ready_condition(const json::object& pod) {
    for (const json::object* condition : objects(pod, {"status", "conditions"})) {
        if (get_string(*condition, {"type"}) == "Ready" &&
            get_string(*condition, {"status"}) == "True") {
            return true;
        }
    }
    return false;
}

// Sidecars: init containers with restartPolicy Always keep running beside the app containers.
std::unordered_map<std::string, bool> restartable_init_containers(const json::object& pod) {
    std::unordered_map<std::string, bool> restartable;
    for (const json::object* container : objects(pod, {"spec", "initContainers"})) {
        restartable[std::string(get_string(*container, {"name"}))] =
            get_string(*container, {"restartPolicy"}) == "Always";
    }
    return restartable;
}

// "Init:Error", "Init:Signal:9", "Init:ExitCode:1"; and without the prefix for app containers.
std::string terminated_reason(const json::object& terminated, std::string_view prefix) {
    const std::string_view reason = get_string(terminated, {"reason"});
    if (!reason.empty()) return std::string(prefix) + std::string(reason);
    const std::int64_t signal = get_int(terminated, {"signal"});
    if (signal != 0) return std::string(prefix) + "Signal:" + std::to_string(signal);
    return std::string(prefix) + "ExitCode:" + std::to_string(get_int(terminated, {"exitCode"}));
}

// Walks the init container statuses until the first one still in the way of the pod starting;
// returns whether the pod is still initializing, setting the reason to say why.
bool summarize_init_containers(const json::object& pod, PodSummary& summary,
                               Restarts& sidecar_restarts) {
    const auto restartable = restartable_init_containers(pod);
    const auto init_count = count(pod, {"spec", "initContainers"});
    const auto statuses = objects(pod, {"status", "initContainerStatuses"});
    for (size_t i = 0; i < statuses.size(); ++i) {
        const json::object& status = *statuses[i];
        summary.restarts.add(status);
        const auto it = restartable.find(std::string(get_string(status, {"name"})));
        const bool sidecar = it != restartable.end() && it->second;
        if (sidecar) sidecar_restarts.add(status);

        const json::object* terminated = get_object(status, {"state", "terminated"});
        const json::object* waiting = get_object(status, {"state", "waiting"});
        const std::string_view waiting_reason = waiting ? get_string(*waiting, {"reason"}) : "";
        if (terminated && get_int(*terminated, {"exitCode"}) == 0) continue;
        if (sidecar && get_bool(status, {"started"})) {
            if (get_bool(status, {"ready"})) ++summary.ready;
            continue;
        }
        if (terminated) {
            summary.reason = terminated_reason(*terminated, "Init:");
        } else if (!waiting_reason.empty() && waiting_reason != "PodInitializing") {
            summary.reason = "Init:" + std::string(waiting_reason);
        } else {
            summary.reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_count);
        }
        return true;
    }
    return false;
}

// App containers, last to first, so that the first container's state wins the reason.
void summarize_containers(const json::object& pod, PodSummary& summary) {
    bool has_running = false;
    const auto statuses = objects(pod, {"status", "containerStatuses"});
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
        const json::object& status = **it;
        summary.restarts.add(status);
        const json::object* terminated = get_object(status, {"state", "terminated"});
        const json::object* waiting = get_object(status, {"state", "waiting"});
        if (waiting && !get_string(*waiting, {"reason"}).empty()) {
            summary.reason = std::string(get_string(*waiting, {"reason"}));
        } else if (terminated) {
            summary.reason = terminated_reason(*terminated, "");
        } else if (get_bool(status, {"ready"}) && present(status, {"state", "running"})) {
            has_running = true;
            ++summary.ready;
        }
    }
    // A pod whose finished container says Completed while another still runs is not done.
    if (summary.reason == "Completed" && has_running) {
        summary.reason = has_ready_condition(pod) ? "Running" : "NotReady";
    }
}

PodSummary summarize(const json::object& pod) {
    PodSummary summary;
    const std::string_view phase = get_string(pod, {"status", "phase"});
    const std::string_view pod_reason = get_string(pod, {"status", "reason"});
    summary.reason = std::string(pod_reason.empty() ? phase : pod_reason);
    for (const json::object* condition : objects(pod, {"status", "conditions"})) {
        if (get_string(*condition, {"type"}) == "PodScheduled" &&
            get_string(*condition, {"reason"}) == "SchedulingGated") {
            summary.reason = "SchedulingGated";
        }
    }
    summary.total = count(pod, {"spec", "containers"});
    for (const json::object* container : objects(pod, {"spec", "initContainers"})) {
        if (get_string(*container, {"restartPolicy"}) == "Always") ++summary.total;
    }

    Restarts sidecar_restarts;
    const bool initializing = summarize_init_containers(pod, summary, sidecar_restarts);
    if (!initializing || has_condition(pod, "Initialized", "True")) {
        // Once initialized, only sidecar restarts count among the init containers.
        summary.restarts = sidecar_restarts;
        summarize_containers(pod, summary);
    }

    const bool deleting = present(pod, {"metadata", "deletionTimestamp"});
    if (deleting && pod_reason == "NodeLost") {
        summary.reason = "Unknown";
    } else if (deleting && phase != "Succeeded" && phase != "Failed") {
        summary.reason = "Terminating";
    }
    return summary;
}

std::string restarts_cell(const Restarts& restarts, Clock::time_point now) {
    std::string text = std::to_string(restarts.count);
    if (restarts.count != 0 && restarts.last) text += " (" + since(restarts.last, now) + " ago)";
    return text;
}

// The first pod IP; podIP wins over podIPs, as upstream's conversion from v1 makes it.
std::string pod_ip(const json::object& pod) {
    std::string_view ip = get_string(pod, {"status", "podIP"});
    if (ip.empty()) {
        const auto ips = objects(pod, {"status", "podIPs"});
        if (!ips.empty()) ip = get_string(*ips.front(), {"ip"});
    }
    return ip.empty() ? "<none>" : std::string(ip);
}

std::string or_none(std::string_view text) {
    return text.empty() ? "<none>" : std::string(text);
}

// "1/2": readiness gates whose condition is True, out of all gates.
std::string readiness_gates(const json::object& pod) {
    const auto gates = objects(pod, {"spec", "readinessGates"});
    if (gates.empty()) return "<none>";
    std::int64_t satisfied = 0;
    for (const json::object* gate : gates) {
        const std::string_view type = get_string(*gate, {"conditionType"});
        for (const json::object* condition : objects(pod, {"status", "conditions"})) {
            if (get_string(*condition, {"type"}) == type) {
                if (get_string(*condition, {"status"}) == "True") ++satisfied;
                break;
            }
        }
    }
    return std::to_string(satisfied) + "/" + std::to_string(gates.size());
}

json::array pod_cells(const json::object& pod, Clock::time_point now) {
    const PodSummary summary = summarize(pod);
    return json::array{
        name_of(pod),
        std::to_string(summary.ready) + "/" + std::to_string(summary.total),
        summary.reason,
        restarts_cell(summary.restarts, now),
        age(pod, now),
        pod_ip(pod),
        or_none(get_string(pod, {"spec", "nodeName"})),
        or_none(get_string(pod, {"status", "nominatedNodeName"})),
        readiness_gates(pod),
    };
}

// Upstream marks finished pods' rows Completed, so that clients can tell them apart.
json::array pod_conditions(const json::object& pod) {
    const std::string_view phase = get_string(pod, {"status", "phase"});
    if (phase != "Succeeded" && phase != "Failed") return {};
    return json::array{json::object{
        {"type", "Completed"},
        {"status", "True"},
        {"reason", phase},
        {"message",
         phase == "Succeeded" ? "The pod has completed successfully." : "The pod failed."},
    }};
}

}  // namespace

Printer pod_printer() {
    return Printer{
        {
            name_column(),
            column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "The aggregate status of the containers in this pod."),
            column("Restarts",
                   "The number of times the containers in this pod have been restarted and when "
                   "the last container in this pod has restarted."),
            age_column(),
            wide_column("IP", doc::kPodStatusPodIP),
            wide_column("Node", doc::kPodSpecNodeName),
            wide_column("Nominated Node", doc::kPodStatusNominatedNodeName),
            wide_column("Readiness Gates", doc::kPodSpecReadinessGates),
        },
        pod_cells,
        pod_conditions,
    };
}

}  // namespace kcube::api::printers
