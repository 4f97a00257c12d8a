// Node lifecycle (the node-lifecycle part of kube-controller-manager): a node whose kubelet
// stopped renewing its Lease for longer than the grace period gets its conditions set to
// Unknown and the unreachable taints; conditions the kubelet reports become taints
// (not-ready, pressure, unschedulable) and go away when the kubelet reports health again.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace json = boost::json;

namespace {

using Clock = std::chrono::system_clock;

constexpr const char* kComponent = "node-controller";
constexpr const char* kLeaseNamespace = "kube-node-lease";

// The conditions a kubelet posts; all become Unknown when it goes silent.
constexpr std::string_view kKubeletConditions[] = {"Ready", "MemoryPressure", "DiskPressure",
                                                   "PIDPressure"};

constexpr std::string_view kNotReady = "node.kubernetes.io/not-ready";
constexpr std::string_view kUnreachable = "node.kubernetes.io/unreachable";

// RFC 3339 with its fraction (a Lease's MicroTime): whole seconds are too coarse against a
// grace period of a few seconds.
bool parse_precise(std::string_view text, Clock::time_point& out) {
    if (!api::parse_time(text, out)) return false;
    const auto dot = text.find('.');
    if (dot == std::string_view::npos) return true;
    std::chrono::microseconds fraction{0};
    std::int64_t scale = 100000;
    for (std::size_t i = dot + 1;
         i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, scale /= 10) {
        fraction += std::chrono::microseconds((text[i] - '0') * scale);
    }
    out += fraction;
    return true;
}

// The taints this controller owns: it adds and removes exactly these.
bool managed_taint(std::string_view key) {
    static constexpr std::string_view kKeys[] = {
        kNotReady,
        kUnreachable,
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/network-unavailable",
        "node.kubernetes.io/unschedulable",
    };
    return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

std::string condition_status(const json::object& node, std::string_view type) {
    const auto* status = node.if_contains("status");
    if (!status || !status->is_object()) return "";
    const auto* condition = find_condition(status->as_object(), type);
    return condition ? api::field_value(*condition, "status") : "";
}

struct WantedTaint {
    std::string key, effect;
};

// The taints the node's state calls for (upstream's TaintNodesByCondition and the NoExecute
// taints of taint-based eviction).
std::vector<WantedTaint> wanted_taints(const json::object& node) {
    std::vector<WantedTaint> out;
    const std::string ready = condition_status(node, "Ready");
    if (ready == "False") {
        out.push_back({std::string(kNotReady), "NoSchedule"});
        out.push_back({std::string(kNotReady), "NoExecute"});
    } else if (ready == "Unknown") {
        out.push_back({std::string(kUnreachable), "NoSchedule"});
        out.push_back({std::string(kUnreachable), "NoExecute"});
    }
    if (ready == "True") {
        // Pressure is only believed from a kubelet that is alive.
        static constexpr std::pair<std::string_view, std::string_view> kPressure[] = {
            {"MemoryPressure", "node.kubernetes.io/memory-pressure"},
            {"DiskPressure", "node.kubernetes.io/disk-pressure"},
            {"PIDPressure", "node.kubernetes.io/pid-pressure"},
            {"NetworkUnavailable", "node.kubernetes.io/network-unavailable"},
        };
        for (const auto& [type, key] : kPressure) {
            if (condition_status(node, type) == "True")
                out.push_back({std::string(key), "NoSchedule"});
        }
    }
    if (api::field_value(node, "spec.unschedulable") == "true") {
        out.push_back({"node.kubernetes.io/unschedulable", "NoSchedule"});
    }
    return out;
}

// spec.taints with the managed ones made to match `wanted`; others kept as they are.
// Returns nullopt if nothing changes.
std::optional<json::array> reconcile_taints(const json::object& node,
                                            const std::vector<WantedTaint>& wanted) {
    json::array current;
    if (const auto* spec = node.if_contains("spec"); spec && spec->is_object()) {
        if (const auto* taints = spec->as_object().if_contains("taints");
            taints && taints->is_array()) {
            current = taints->as_array();
        }
    }
    auto is_wanted = [&](const json::object& taint) {
        return std::any_of(wanted.begin(), wanted.end(), [&](const WantedTaint& w) {
            return w.key == api::field_value(taint, "key") &&
                   w.effect == api::field_value(taint, "effect");
        });
    };
    json::array next;
    bool changed = false;
    for (const auto& t : current) {
        if (t.is_object() && managed_taint(api::field_value(t.as_object(), "key")) &&
            !is_wanted(t.as_object())) {
            changed = true;
            continue;
        }
        next.push_back(t);
    }
    for (const auto& w : wanted) {
        const bool present = std::any_of(next.begin(), next.end(), [&](const json::value& t) {
            return t.is_object() && api::field_value(t.as_object(), "key") == w.key &&
                   api::field_value(t.as_object(), "effect") == w.effect;
        });
        if (present) continue;
        json::object taint{{"key", w.key}, {"effect", w.effect}};
        // Eviction counts tolerationSeconds from when a NoExecute taint appeared.
        if (w.effect == "NoExecute") taint["timeAdded"] = api::now_rfc3339();
        next.push_back(std::move(taint));
        changed = true;
    }
    if (!changed) return std::nullopt;
    return next;
}

class NodeLifecycleController final : public Controller {
  public:
    explicit NodeLifecycleController(ControllerContext& ctx)
        : Controller("node-lifecycle"),
          ctx_(ctx),
          nodes_(ctx.informers.get("", "v1", "nodes")),
          leases_(ctx.informers.get("coordination.k8s.io", "v1", "leases")),
          node_info_(ctx.service.registry().find("", "v1", "nodes")) {
        nodes_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (const auto& node = now ? now : old) queue().add(api::meta_string(*node, "name"));
        });
        leases_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const auto& lease = now ? now : old;
            if (lease && api::meta_string(*lease, "namespace") == kLeaseNamespace) {
                queue().add(api::meta_string(*lease, "name"));
            }
        });
    }

  protected:
    void reconcile(const std::string& name) override {
        const ObjectPtr node = nodes_.get(name);
        if (!node) {
            ready_seen_.erase(name);
            return;
        }
        json::object current = *node;
        const auto grace = ctx_.settings.node_monitor_grace_period;
        // As upstream, a node gets a full grace period from when this controller first saw it:
        // after a restart of the node process its kubelet has time to renew.
        const Clock::time_point seen = std::max(last_heartbeat(current), started_);
        const auto silent = Clock::now() - seen;
        if (silent > grace) {
            mark_unknown(name, current);
        } else {
            // Look again when the heartbeat would be overdue; a renewal re-queues sooner.
            queue().add_after(name, grace - silent + std::chrono::milliseconds(100));
        }
        update_taints(name, current);
        record_transition(name, current);
    }

  private:
    // The newest sign of life: the Lease's renewTime, the Ready condition's heartbeat, or
    // the node's creation (a kubelet that never reported).
    Clock::time_point last_heartbeat(const json::object& node) const {
        Clock::time_point newest{};
        auto consider = [&newest](const std::string& text) {
            Clock::time_point t;
            if (!text.empty() && parse_precise(text, t)) newest = std::max(newest, t);
        };
        consider(api::meta_string(node, "creationTimestamp"));
        if (const auto* status = node.if_contains("status"); status && status->is_object()) {
            if (const auto* ready = find_condition(status->as_object(), "Ready")) {
                consider(api::field_value(*ready, "lastHeartbeatTime"));
            }
        }
        if (const ObjectPtr lease = leases_.get(kLeaseNamespace, api::meta_string(node, "name"))) {
            consider(api::field_value(*lease, "spec.renewTime"));
        }
        return newest;
    }

    // Every kubelet condition to Unknown, as upstream's tryUpdateNodeHealth does.
    void mark_unknown(const std::string& name, json::object& node) {
        auto& status = child_object(node, "status");
        auto& conditions = status["conditions"];
        if (!conditions.is_array()) conditions = json::array{};
        const std::string now = api::now_rfc3339();
        bool changed = false;
        for (std::string_view type : kKubeletConditions) {
            json::object* condition = nullptr;
            for (auto& c : conditions.as_array()) {
                if (c.is_object() && api::field_value(c.as_object(), "type") == type) {
                    condition = &c.as_object();
                }
            }
            if (!condition) {
                conditions.as_array().push_back(
                    json::object{{"type", type},
                                 {"status", "Unknown"},
                                 {"reason", "NodeStatusNeverUpdated"},
                                 {"message", "Kubelet never posted node status."},
                                 {"lastHeartbeatTime", api::meta_string(node, "creationTimestamp")},
                                 {"lastTransitionTime", now}});
                changed = true;
            } else if (api::field_value(*condition, "status") != "Unknown") {
                (*condition)["status"] = "Unknown";
                (*condition)["reason"] = "NodeStatusUnknown";
                (*condition)["message"] = "Kubelet stopped posting node status.";
                (*condition)["lastTransitionTime"] = now;
                changed = true;
            }
        }
        if (!changed) return;
        spdlog::info("node {}: no heartbeat for more than {}s, status now Unknown", name,
                     ctx_.settings.node_monitor_grace_period.count());
        json::object written = ctx_.service.update(*node_info_, "", name, node, {}, "status");
        nodes_.remember(written);
        node = std::move(written);
    }

    void update_taints(const std::string& name, json::object& node) {
        auto taints = reconcile_taints(node, wanted_taints(node));
        if (!taints) return;
        child_object(node, "spec")["taints"] = std::move(*taints);
        json::object written = ctx_.service.update(*node_info_, "", name, node, {});
        nodes_.remember(written);
        node = std::move(written);
    }

    // NodeReady / NodeNotReady events when the Ready condition changes under our eyes.
    void record_transition(const std::string& name, const json::object& node) {
        const bool ready = condition_status(node, "Ready") == "True";
        auto [it, first] = ready_seen_.try_emplace(name, ready);
        if (first || it->second == ready) return;
        it->second = ready;
        const std::string reason = ready ? "NodeReady" : "NodeNotReady";
        ctx_.events.record(node, kComponent, "Normal", reason,
                           "Node " + name + " status is now: " + reason);
    }

    ControllerContext& ctx_;
    Informer& nodes_;
    Informer& leases_;
    std::shared_ptr<const api::ResourceInfo> node_info_;
    std::map<std::string, bool> ready_seen_;  // worker thread only
    const Clock::time_point started_ = Clock::now();
};

}  // namespace

std::unique_ptr<Controller> make_node_lifecycle_controller(ControllerContext& ctx) {
    return std::make_unique<NodeLifecycleController>(ctx);
}

}  // namespace kcube::controllers
