#include "cluster/kubelet/pod_status.hpp"

#include <boost/json.hpp>
#include <chrono>

#include "cluster/api/meta.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;

namespace {

std::string time_from_nanos(std::int64_t nanos) {
    if (nanos <= 0) return {};
    return api::format_time(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(nanos))));
}

json::object terminated_state(const ContainerRecord& c) {
    std::string reason = c.reason;
    if (reason.empty()) reason = c.exit_code == 0 ? "Completed" : "Error";
    json::object terminated{
        {"exitCode", c.exit_code}, {"reason", reason}, {"containerID", container_id_url(c.id)}};
    if (!c.message.empty()) terminated["message"] = c.message;
    if (auto t = time_from_nanos(c.started_at); !t.empty()) terminated["startedAt"] = t;
    if (auto t = time_from_nanos(c.finished_at); !t.empty()) terminated["finishedAt"] = t;
    return terminated;
}

json::object container_status(const PodStatusInputs& in, const json::object& spec_container,
                              bool init, bool initialized) {
    const std::string name = string_at(spec_container, "name");
    json::object status{{"name", name},
                        {"image", string_at(spec_container, "image")},
                        {"imageID", ""},
                        {"ready", false},
                        {"restartCount", 0}};
    const ContainerRecord* latest = in.runtime ? in.runtime->latest(name) : nullptr;
    // A container of an earlier sandbox that the current one has not re-created yet counts
    // as history only.
    const bool latest_is_current = latest && latest->sandbox_id == in.sandbox_id;
    auto waiting = in.waiting.find(name);
    json::object state;
    if (latest) {
        status["restartCount"] = latest->attempt;
        status["imageID"] = latest->image_ref;
        status["containerID"] = container_id_url(latest->id);
    }
    if (latest && latest->running() && latest_is_current) {
        json::object running;
        if (auto t = time_from_nanos(latest->started_at); !t.empty()) running["startedAt"] = t;
        state["running"] = running;
        const bool started = !in.started || in.started(name);
        status["started"] = started;
        status["ready"] = started && (!in.ready || in.ready(name));
        if (const ContainerRecord* before = in.runtime->previous(name); before && before->exited())
            status["lastState"] = json::object{{"terminated", terminated_state(*before)}};
    } else if (waiting != in.waiting.end() || !latest ||
               (!latest->exited() && !latest->running())) {
        std::string reason = waiting != in.waiting.end() ? waiting->second.reason : "";
        if (reason.empty())
            reason = !init && !initialized ? "PodInitializing" : "ContainerCreating";
        json::object w{{"reason", reason}};
        if (waiting != in.waiting.end() && !waiting->second.message.empty())
            w["message"] = waiting->second.message;
        state["waiting"] = w;
        status["started"] = false;
        if (latest && latest->exited())
            status["lastState"] = json::object{{"terminated", terminated_state(*latest)}};
    } else {
        // Exited (or running in a sandbox that is gone): terminated.
        ContainerRecord shown = *latest;
        if (latest->running()) shown.reason = "Error";
        state["terminated"] = terminated_state(shown);
        status["started"] = false;
        if (const ContainerRecord* before = in.runtime->previous(name); before && before->exited())
            status["lastState"] = json::object{{"terminated", terminated_state(*before)}};
    }
    status["state"] = state;
    if (!status.contains("lastState")) status["lastState"] = json::object{};
    return status;
}

bool init_done(const json::object& status) {
    const auto* state = object_at(status, "state");
    const auto* terminated = state ? object_at(*state, "terminated") : nullptr;
    return terminated && controllers::int_at(*terminated, "exitCode", 1) == 0;
}

bool has_terminated_last_state(const json::object& status) {
    const auto* last = object_at(status, "lastState");
    return last && object_at(*last, "terminated");
}

std::string names_list(const std::vector<std::string>& names) {
    std::string out = "[";
    for (std::size_t i = 0; i < names.size(); ++i)
        out += (i ? " " : "") + names[i];
    return out + "]";
}

void condition(json::object& status, const std::string& type, bool value,
               const std::string& reason = {}, const std::string& message = {}) {
    controllers::set_condition(status, type, value ? "True" : "False", value ? "" : reason,
                               value ? "" : message);
}

}  // namespace

std::string container_id_url(const std::string& id) {
    return "containerd://" + id;
}

std::string pod_qos_class(const json::object& pod) {
    const auto* spec = object_at(pod, "spec");
    if (!spec) return "BestEffort";
    bool any = false, guaranteed = true;
    for (const char* list : {"initContainers", "containers"}) {
        const auto* containers = array_at(*spec, list);
        if (!containers) continue;
        for (const auto& c : *containers) {
            if (!c.is_object()) continue;
            const auto* resources = object_at(c.as_object(), "resources");
            const auto* requests = resources ? object_at(*resources, "requests") : nullptr;
            const auto* limits = resources ? object_at(*resources, "limits") : nullptr;
            if ((requests && !requests->empty()) || (limits && !limits->empty())) any = true;
            for (const char* resource : {"cpu", "memory"}) {
                const json::value* limit = limits ? limits->if_contains(resource) : nullptr;
                const json::value* request = requests ? requests->if_contains(resource) : nullptr;
                if (!limit)
                    guaranteed = false;
                else if (request && json::serialize(*request) != json::serialize(*limit))
                    guaranteed = false;
            }
        }
    }
    if (!any) return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

std::string pod_phase_from(const json::object& pod, const json::object& status) {
    const auto* spec = object_at(pod, "spec");
    std::string policy = spec ? string_at(*spec, "restartPolicy") : "";
    if (policy.empty()) policy = "Always";
    int pending_init = 0, failed_init = 0;
    if (const auto* inits = array_at(status, "initContainerStatuses")) {
        for (const auto& s : *inits) {
            const auto& cs = s.as_object();
            const auto* state = object_at(cs, "state");
            const auto* terminated = state ? object_at(*state, "terminated") : nullptr;
            if (terminated) {
                if (controllers::int_at(*terminated, "exitCode", 0) != 0) ++failed_init;
            } else if (state && object_at(*state, "waiting") && has_terminated_last_state(cs)) {
                const auto* last = object_at(*object_at(cs, "lastState"), "terminated");
                if (controllers::int_at(*last, "exitCode", 0) != 0)
                    ++failed_init;
                else
                    ++pending_init;
            } else {
                ++pending_init;
            }
        }
    }
    int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
    const auto* statuses = array_at(status, "containerStatuses");
    const auto* containers = spec ? array_at(*spec, "containers") : nullptr;
    const std::size_t expected = containers ? containers->size() : 0;
    std::size_t seen = 0;
    if (statuses) {
        for (const auto& s : *statuses) {
            ++seen;
            const auto& cs = s.as_object();
            const auto* state = object_at(cs, "state");
            if (state && object_at(*state, "running")) {
                ++running;
            } else if (const auto* t = state ? object_at(*state, "terminated") : nullptr) {
                ++stopped;
                if (controllers::int_at(*t, "exitCode", 1) == 0) ++succeeded;
            } else if (state && object_at(*state, "waiting")) {
                if (has_terminated_last_state(cs))
                    ++stopped;
                else
                    ++waiting;
            } else {
                ++unknown;
            }
        }
    }
    if (seen < expected) unknown += static_cast<int>(expected - seen);
    if (failed_init > 0 && policy == "Never") return "Failed";
    if (pending_init > 0 || failed_init > 0) return "Pending";
    if (waiting > 0) return "Pending";
    if (running > 0 && unknown == 0) return "Running";
    if (running == 0 && stopped > 0 && unknown == 0) {
        if (policy == "Always") return "Running";
        if (stopped == succeeded) return "Succeeded";
        if (policy == "Never") return "Failed";
        return "Running";
    }
    return "Pending";
}

json::object compute_pod_status(const PodStatusInputs& in) {
    json::object status;
    if (const auto* current = object_at(in.pod, "status")) {
        // Conditions keep their transition times; PodScheduled and others are not ours.
        if (const auto* conditions = array_at(*current, "conditions"))
            status["conditions"] = *conditions;
        if (const auto* start = current->if_contains("startTime")) status["startTime"] = *start;
    }
    if (!status.contains("startTime")) status["startTime"] = api::now_rfc3339();
    static const json::object kEmpty;
    const auto* spec_ptr = object_at(in.pod, "spec");
    const json::object& spec = spec_ptr ? *spec_ptr : kEmpty;

    json::array init_statuses;
    std::vector<std::string> incomplete;
    bool initialized = true;
    if (const auto* inits = array_at(spec, "initContainers")) {
        for (const auto& c : *inits) {
            auto s = container_status(in, c.as_object(), true, true);
            if (!init_done(s)) {
                initialized = false;
                incomplete.push_back(string_at(c.as_object(), "name"));
            }
            init_statuses.push_back(std::move(s));
        }
    }
    json::array statuses;
    std::vector<std::string> unready;
    if (const auto* containers = array_at(spec, "containers")) {
        for (const auto& c : *containers) {
            auto s = container_status(in, c.as_object(), false, initialized);
            if (!s.at("ready").as_bool()) unready.push_back(string_at(c.as_object(), "name"));
            statuses.push_back(std::move(s));
        }
    }
    if (!init_statuses.empty()) status["initContainerStatuses"] = init_statuses;
    status["containerStatuses"] = statuses;
    const std::string phase = pod_phase_from(in.pod, status);
    status["phase"] = phase;

    condition(status, "PodReadyToStartContainers", in.sandbox_ready);
    condition(status, "Initialized", initialized, "ContainersNotInitialized",
              "containers with incomplete status: " + names_list(incomplete));
    const bool completed = phase == "Succeeded";
    const std::string unready_reason = completed ? "PodCompleted" : "ContainersNotReady";
    const std::string unready_message =
        completed ? "" : "containers with unready status: " + names_list(unready);
    condition(status, "ContainersReady", unready.empty() && !completed, unready_reason,
              unready_message);
    condition(status, "Ready", unready.empty() && !completed, unready_reason, unready_message);

    if (!in.host_ip.empty()) {
        status["hostIP"] = in.host_ip;
        status["hostIPs"] = json::array{json::object{{"ip", in.host_ip}}};
    }
    if (!in.pod_ip.empty()) {
        status["podIP"] = in.pod_ip;
        status["podIPs"] = json::array{json::object{{"ip", in.pod_ip}}};
    }
    status["qosClass"] = pod_qos_class(in.pod);
    return status;
}

}  // namespace kcube::kubelet
