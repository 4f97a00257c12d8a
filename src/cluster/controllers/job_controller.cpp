// The Job controller (upstream pkg/controller/job, 1.32 behaviour): runs a Job's pods to the
// wanted number of completions, `parallelism` at a time, recreating failed pods after an
// exponential back-off until `backoffLimit` failures or `activeDeadlineSeconds`; marks the Job
// SuccessCriteriaMet/FailureTarget and then, once no pod is left running, Complete/Failed.
//
// Finished pods are counted exactly once with upstream's tracking finalizer: a pod carries
// "batch.kubernetes.io/job-tracking" until the controller has recorded its uid in
// status.uncountedTerminatedPods; the finalizer is removed, then the uid moves into the
// succeeded/failed counters. A restart in between neither loses nor double-counts a pod.
//
// Also here: ttlSecondsAfterFinished (upstream's separate TTL-after-finished controller).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr const char* kComponent = "job-controller";
constexpr const char* kTrackingFinalizer = "batch.kubernetes.io/job-tracking";
constexpr const char* kIndexKey = "batch.kubernetes.io/job-completion-index";
constexpr const char* kThisController = "kubernetes.io/job-controller";
// Keys of pods whose tracking finalizer may need removing after their Job went away.
constexpr std::string_view kOrphanPodPrefix = "pod:";
// Pod recreation after failures: 10 s, doubling, at most 10 minutes (upstream 1.32).
constexpr auto kPodFailureBackOff = 10s;
constexpr auto kMaxPodFailureBackOff = 10min;
// Upstream keeps status.uncountedTerminatedPods below ~20 KB this way.
constexpr std::size_t kMaxUncountedPods = 500;
// Upstream's names.SimpleNameGenerator keeps generateName prefixes to 58 characters.
constexpr std::size_t kMaxGenerateNameLength = 58;

// --- small object helpers ----------------------------------------------------------------------

const json::object& spec_of(const json::object& object) {
    static const json::object empty;
    const auto* spec = object_at(object, "spec");
    return spec ? *spec : empty;
}

bool has_finalizer(const json::object& object, std::string_view finalizer) {
    const auto* metadata = object_at(object, "metadata");
    const auto* finalizers = metadata ? array_at(*metadata, "finalizers") : nullptr;
    if (!finalizers) return false;
    return std::any_of(finalizers->begin(), finalizers->end(), [&](const json::value& f) {
        return f.is_string() && f.as_string() == finalizer;
    });
}

std::optional<Clock::time_point> time_field(const json::object& object, std::string_view path) {
    const std::string text = api::field_value(object, path);
    Clock::time_point out;
    if (text.empty() || !api::parse_time(text, out)) return std::nullopt;
    return out;
}

// A Job condition of `type` whose status is True, or nullptr.
const json::object* true_condition(const json::object& job, std::string_view type) {
    const auto* status = object_at(job, "status");
    const auto* condition = status ? find_condition(*status, type) : nullptr;
    return condition && api::field_value(*condition, "status") == "True" ? condition : nullptr;
}

// Complete or Failed: upstream's IsJobFinished.
const json::object* finished_condition(const json::object& job) {
    if (const auto* c = true_condition(job, "Complete")) return c;
    return true_condition(job, "Failed");
}

bool terminal(const json::object& pod) {
    const std::string phase = pod_phase(pod);
    return phase == "Succeeded" || phase == "Failed";
}

// When a Job replaces only Failed pods, a terminating pod is not yet a failure.
bool only_replace_failed(const json::object& job) {
    const auto& spec = spec_of(job);
    return api::field_value(spec, "podReplacementPolicy") == "Failed" ||
           spec.contains("podFailurePolicy");
}

bool pod_failed(const json::object& pod, const json::object& job) {
    const std::string phase = pod_phase(pod);
    if (phase == "Failed") return true;
    if (only_replace_failed(job)) return false;
    // Deleted pods count as failures: orphans that never reach the Failed phase.
    return is_terminating(pod) && phase != "Succeeded";
}

// The completion index of a pod of an Indexed Job, or -1.
int completion_index(const json::object& pod) {
    // The key has dots, so not a field path: look it up directly.
    const auto* metadata = object_at(pod, "metadata");
    const auto* annotations = metadata ? object_at(*metadata, "annotations") : nullptr;
    const auto* value = annotations ? annotations->if_contains(kIndexKey) : nullptr;
    if (!value || !value->is_string()) return -1;
    const std::string text(value->as_string());
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return -1;
    }
    return std::stoi(text);
}

// When a pod finished: its last container's finishedAt, else when it stopped being ready,
// else when it was deleted, else when it was created (upstream getFinishedTime).
Clock::time_point finish_time(const json::object& pod) {
    const auto* status = object_at(pod, "status");
    if (status) {
        if (const auto* containers = array_at(*status, "containerStatuses")) {
            std::optional<Clock::time_point> latest;
            bool all = !containers->empty();
            for (const auto& c : *containers) {
                if (!c.is_object()) continue;
                auto t = time_field(c.as_object(), "state.terminated.finishedAt");
                if (!t) {
                    all = false;
                    break;
                }
                if (!latest || *t > *latest) latest = t;
            }
            if (all && latest) return *latest;
        }
        if (const auto* ready = find_condition(*status, "Ready")) {
            if (api::field_value(*ready, "status") == "False") {
                if (auto t = time_field(*ready, "lastTransitionTime")) return *t;
            }
        }
    }
    if (auto deleted = time_field(pod, "metadata.deletionTimestamp")) {
        return *deleted -
               std::chrono::seconds(int_at(pod, "metadata.deletionGracePeriodSeconds", 0));
    }
    return time_field(pod, "metadata.creationTimestamp").value_or(Clock::time_point{});
}

// A Job condition as upstream writes one (both probe and transition time; no empty strings).
json::object job_condition(std::string_view type, std::string_view status, std::string_view reason,
                           std::string_view message) {
    const std::string now = api::now_rfc3339();
    json::object c{
        {"type", type}, {"status", status}, {"lastProbeTime", now}, {"lastTransitionTime", now}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    return c;
}

// Upstream ensureJobConditionStatus: replaces a condition that differs, appends a new one
// unless it would be False. Returns whether anything changed.
bool ensure_condition(json::object& status, std::string_view type, std::string_view value,
                      std::string_view reason, std::string_view message) {
    auto& conditions = status["conditions"];
    if (!conditions.is_array()) conditions = json::array{};
    for (auto& c : conditions.as_array()) {
        if (!c.is_object() || api::field_value(c.as_object(), "type") != type) continue;
        const auto& current = c.as_object();
        if (api::field_value(current, "status") == value &&
            api::field_value(current, "reason") == reason &&
            api::field_value(current, "message") == message) {
            return false;
        }
        c = job_condition(type, value, reason, message);
        return true;
    }
    if (value == "False") return false;
    conditions.as_array().push_back(job_condition(type, value, reason, message));
    return true;
}

// "1,3-5,7" (status.completedIndexes) to a set of indexes below `limit`.
std::set<int> parse_indexes(std::string_view text, std::int64_t limit) {
    std::set<int> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        const std::string part(text.substr(start, comma - start));
        start = comma + 1;
        try {
            const auto dash = part.find('-');
            const int first = std::stoi(part.substr(0, dash));
            const int last = dash == std::string::npos ? first : std::stoi(part.substr(dash + 1));
            for (int i = first; i <= last && i < limit; ++i)
                out.insert(i);
        } catch (const std::exception&) {
            continue;  // upstream skips what it cannot parse
        }
    }
    return out;
}

std::string format_indexes(const std::set<int>& indexes) {
    std::string out;
    for (auto it = indexes.begin(); it != indexes.end();) {
        const int first = *it;
        int last = first;
        for (++it; it != indexes.end() && *it == last + 1; ++it)
            last = *it;
        if (!out.empty()) out += ',';
        out += std::to_string(first);
        if (last > first) out += "-" + std::to_string(last);
    }
    return out;
}

// Upstream's controller.ActivePods order: the pods it is cheapest to lose come first.
bool cheaper_to_delete(const ObjectPtr& a, const ObjectPtr& b) {
    const bool a_bound = !api::field_value(*a, "spec.nodeName").empty();
    const bool b_bound = !api::field_value(*b, "spec.nodeName").empty();
    if (a_bound != b_bound) return !a_bound;
    auto rank = [](const json::object& pod) {
        const std::string phase = pod_phase(pod);
        return phase == "Pending" ? 0 : phase == "Unknown" ? 1 : phase == "Running" ? 2 : 3;
    };
    if (rank(*a) != rank(*b)) return rank(*a) < rank(*b);
    if (pod_ready(*a) != pod_ready(*b)) return !pod_ready(*a);
    return api::meta_string(*a, "creationTimestamp") > api::meta_string(*b, "creationTimestamp");
}

struct FinishedCondition {
    std::string type;  // SuccessCriteriaMet, FailureTarget, Complete, Failed
    std::string reason, message;
};

struct BackoffRecord {
    int failures_after_last_success = 0;
    std::optional<Clock::time_point> last_failure;
};

// Everything one sync of a Job works out.
struct JobSync {
    json::object job;  // the working copy; its status is what gets written
    std::string key;
    std::vector<ObjectPtr> pods;
    std::vector<ObjectPtr> active;
    std::set<std::string> uncounted_succeeded, uncounted_failed;  // as read at the start
    std::int64_t succeeded = 0, failed = 0, ready = 0, terminating = 0;
    bool indexed = false;
    std::optional<std::int64_t> completions;
    std::set<int> prev_succeeded_indexes, succeeded_indexes;
    std::optional<FinishedCondition> finished;
    BackoffRecord backoff;
    json::object last_written_status;
};

class JobController final : public Controller {
  public:
    explicit JobController(ControllerContext& ctx)
        : Controller("job-controller"),
          ctx_(ctx),
          jobs_info_(ctx.service.registry().find("batch", "v1", "jobs")),
          pods_info_(ctx.service.registry().find("", "v1", "pods")),
          jobs_(ctx.informers.get("batch", "v1", "jobs")),
          pods_(ctx.informers.get("", "v1", "pods")) {
        jobs_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const auto& job = now ? *now : *old;
            queue().add(object_key(job));
            if (!now) {
                // A deleted Job's pods may still carry the tracking finalizer.
                for (const auto& pod : pods_.owned_by(api::meta_string(job, "namespace"),
                                                      api::meta_string(job, "uid"))) {
                    if (has_finalizer(*pod, kTrackingFinalizer)) enqueue_orphan(*pod);
                }
            }
        });
        pods_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (old) enqueue_for_pod(*old);
            if (now) enqueue_for_pod(*now);
        });
    }

  protected:
    void reconcile(const std::string& key) override {
        if (key.starts_with(kOrphanPodPrefix)) {
            sync_orphan_pod(key.substr(kOrphanPodPrefix.size()));
            return;
        }
        const ObjectPtr job = jobs_.get(key);
        if (!job) {
            backoff_.erase(key);
            return;
        }
        if (managed_elsewhere(*job)) return;
        if (finished_condition(*job)) {
            backoff_.erase(key);
            remove_leftover_finalizers(*job);
            expire_if_due(key, *job);
            return;
        }
        sync_job(key, *job);
    }

  private:
    static bool managed_elsewhere(const json::object& job) {
        const std::string managed_by = api::field_value(job, "spec.managedBy");
        return !managed_by.empty() && managed_by != kThisController;
    }

    void enqueue_orphan(const json::object& pod) {
        queue().add(std::string(kOrphanPodPrefix) + object_key(pod));
    }

    // Informer thread: which Jobs (or orphan pods) a pod change concerns.
    void enqueue_for_pod(const json::object& pod) {
        const std::string ns = api::meta_string(pod, "namespace");
        if (const auto* ref = controller_ref(pod)) {
            if (api::field_value(*ref, "kind") != "Job") return;
            const std::string name = api::field_value(*ref, "name");
            const auto job = jobs_.get(ns, name);
            if (job && api::meta_string(*job, "uid") == api::field_value(*ref, "uid")) {
                queue().add(object_key(ns, name));
            } else if (has_finalizer(pod, kTrackingFinalizer)) {
                enqueue_orphan(pod);
            }
            return;
        }
        if (has_finalizer(pod, kTrackingFinalizer)) enqueue_orphan(pod);
        // An orphan: the Jobs whose selector it matches may adopt it.
        const auto* metadata = object_at(pod, "metadata");
        const auto* labels = metadata ? object_at(*metadata, "labels") : nullptr;
        for (const auto& job : jobs_.list(ns)) {
            const auto* selector = object_at(spec_of(*job), "selector");
            if (!selector) continue;
            const auto parsed = api::LabelSelector::from_object(*selector);
            if (!parsed.empty() && parsed.matches(labels)) queue().add(object_key(*job));
        }
    }

    // --- writes -----------------------------------------------------------------------------

    api::WriteOptions write_options() const {
        api::WriteOptions options;
        options.field_manager = kControllerFieldManager;
        return options;
    }

    void record(const json::object& job, const char* type, const std::string& reason,
                const std::string& message) {
        ctx_.events.record(job, kComponent, type, reason, message);
    }

    // Removes the tracking finalizer (a strategic merge patch, as upstream sends it).
    void remove_tracking_finalizer(const json::object& pod) {
        const std::string body =
            std::string(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":[")") +
            kTrackingFinalizer + R"("]}})";
        try {
            auto patched = ctx_.service.patch(*pods_info_, api::meta_string(pod, "namespace"),
                                              api::meta_string(pod, "name"),
                                              api::PatchType::kStrategic, body, write_options());
            pods_.remember(std::move(patched));
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;
        }
    }

    // Deletes a pod (gracefully, keeping its finalizers) and records SuccessfulDelete.
    // Returns false if it was already gone.
    bool delete_pod(const json::object& job, const json::object& pod) {
        const std::string name = api::meta_string(pod, "name");
        try {
            auto result =
                ctx_.service.remove(*pods_info_, api::meta_string(pod, "namespace"), name, {});
            pods_.removed(pod, std::move(result));
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return false;
            record(job, "Warning", "FailedDelete", "Error deleting: " + std::string(e.what()));
            throw;
        }
        record(job, "Normal", "SuccessfulDelete", "Deleted pod: " + name);
        return true;
    }

    // Writes sync.job's status if it differs from what was last written.
    void flush_status(JobSync& sync) {
        const auto& status = sync.job["status"].as_object();
        if (status == sync.last_written_status) return;
        auto written = ctx_.service.update(*jobs_info_, api::meta_string(sync.job, "namespace"),
                                           api::meta_string(sync.job, "name"), sync.job,
                                           write_options(), "status");
        jobs_.remember(written);
        sync.job = std::move(written);
        if (!sync.job["status"].is_object()) sync.job["status"] = json::object{};
        sync.last_written_status = sync.job["status"].as_object();
        // The failures now recorded as uncounted have entered the back-off as well.
        backoff_[sync.key] = sync.backoff;
    }

    // --- finished Jobs ----------------------------------------------------------------------

    void remove_leftover_finalizers(const json::object& job) {
        for (const auto& pod :
             pods_.owned_by(api::meta_string(job, "namespace"), api::meta_string(job, "uid"))) {
            if (is_controlled_by(*pod, job) && has_finalizer(*pod, kTrackingFinalizer)) {
                remove_tracking_finalizer(*pod);
            }
        }
    }

    // ttlSecondsAfterFinished: delete the Job (and, in the background, its pods) once due.
    void expire_if_due(const std::string& key, const json::object& job) {
        const auto* ttl = spec_of(job).if_contains("ttlSecondsAfterFinished");
        if (!ttl || !(ttl->is_int64() || ttl->is_uint64()) || is_terminating(job)) return;
        const auto* finished = finished_condition(job);
        const auto finished_at = time_field(*finished, "lastTransitionTime");
        if (!finished_at) return;
        const auto expires =
            *finished_at + std::chrono::seconds(int_at(spec_of(job), "ttlSecondsAfterFinished", 0));
        const auto now = Clock::now();
        if (now < expires) {
            queue().add_after(key, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       expires - now) +
                                       100ms);
            return;
        }
        // As upstream's TTL controller: check the live object, then delete exactly that one.
        const auto [ns, name] = split_key(key);
        json::object fresh;
        try {
            fresh = ctx_.service.get(*jobs_info_, ns, name);
        } catch (const api::ApiError& e) {
            if (e.code() == 404) return;
            throw;
        }
        if (api::meta_string(fresh, "uid") != api::meta_string(job, "uid") ||
            is_terminating(fresh)) {
            return;
        }
        api::DeleteOptions options;
        options.propagation_policy = "Background";
        options.precondition_uid = api::meta_string(job, "uid");
        try {
            ctx_.service.remove(*jobs_info_, ns, name, options);
        } catch (const api::ApiError& e) {
            if (e.code() != 404) throw;
        }
        jobs_.forget_deleted(job);
        spdlog::debug("job-controller: deleted {} after ttlSecondsAfterFinished", key);
    }

    // An orphaned pod (its Job gone, or finished) must not keep the tracking finalizer.
    void sync_orphan_pod(const std::string& pod_key) {
        const auto pod = pods_.get(pod_key);
        if (!pod || !has_finalizer(*pod, kTrackingFinalizer)) return;
        if (const auto* ref = controller_ref(*pod)) {
            if (api::field_value(*ref, "kind") != "Job" ||
                api::field_value(*ref, "apiVersion") != "batch/v1") {
                return;
            }
            const auto job =
                jobs_.get(api::meta_string(*pod, "namespace"), api::field_value(*ref, "name"));
            if (job && api::meta_string(*job, "uid") == api::field_value(*ref, "uid")) {
                if (managed_elsewhere(*job) || !finished_condition(*job)) return;
            }
        }
        remove_tracking_finalizer(*pod);
    }

    // --- the sync of a running Job ------------------------------------------------------------

    // The Job's pods: those it controls, plus matching orphans it adopts (with the finalizer).
    std::vector<ObjectPtr> pods_for_job(const json::object& job) {
        const std::string ns = api::meta_string(job, "namespace");
        const std::string uid = api::meta_string(job, "uid");
        const auto* selector_object = object_at(spec_of(job), "selector");
        const auto selector = selector_object ? api::LabelSelector::from_object(*selector_object)
                                              : api::LabelSelector{};
        std::vector<ObjectPtr> out;
        for (auto& pod : pods_.list(ns)) {
            if (const auto* ref = controller_ref(*pod)) {
                if (api::field_value(*ref, "uid") == uid) out.push_back(pod);
                continue;
            }
            if (selector.empty() || is_terminating(*pod) || is_terminating(job)) continue;
            const auto* metadata = object_at(*pod, "metadata");
            if (!selector.matches(object_at(*metadata, "labels"))) continue;
            json::object patch{
                {"metadata", json::object{{"ownerReferences", json::array{owner_reference(job)}},
                                          {"uid", api::meta_string(*pod, "uid")},
                                          {"finalizers", json::array{kTrackingFinalizer}}}}};
            try {
                auto adopted = ctx_.service.patch(*pods_info_, ns, api::meta_string(*pod, "name"),
                                                  api::PatchType::kStrategic,
                                                  json::serialize(patch), write_options());
                pods_.remember(adopted);
                out.push_back(pods_.get(ns, api::meta_string(adopted, "name")));
            } catch (const api::ApiError& e) {
                if (e.code() != 404 && e.code() != 409 && e.code() != 422) throw;
            }
        }
        out.erase(std::remove(out.begin(), out.end(), nullptr), out.end());
        return out;
    }

    BackoffRecord new_backoff_record(const std::string& key, std::vector<ObjectPtr> succeeded,
                                     std::vector<ObjectPtr> failed) const {
        BackoffRecord record;
        if (auto it = backoff_.find(key); it != backoff_.end()) record = it->second;
        auto by_finish = [](const ObjectPtr& a, const ObjectPtr& b) {
            return finish_time(*a) < finish_time(*b);
        };
        std::sort(succeeded.begin(), succeeded.end(), by_finish);
        std::sort(failed.begin(), failed.end(), by_finish);
        if (succeeded.empty()) {
            if (failed.empty()) return record;
            record.failures_after_last_success += static_cast<int>(failed.size());
            record.last_failure = finish_time(*failed.back());
            return record;
        }
        // Only failures after the last success count towards the back-off.
        record = {};
        const auto last_success = finish_time(*succeeded.back());
        for (auto it = failed.rbegin(); it != failed.rend(); ++it) {
            const auto t = finish_time(**it);
            if (t <= last_success) break;
            if (!record.last_failure) record.last_failure = t;
            ++record.failures_after_last_success;
        }
        return record;
    }

    static Clock::duration remaining_backoff(const BackoffRecord& record) {
        if (record.failures_after_last_success == 0 || !record.last_failure) return {};
        Clock::duration backoff = kPodFailureBackOff;
        for (int i = 1; i < record.failures_after_last_success; ++i) {
            backoff *= 2;
            if (backoff >= kMaxPodFailureBackOff) {
                backoff = kMaxPodFailureBackOff;
                break;
            }
        }
        const auto elapsed = Clock::now() - *record.last_failure;
        return elapsed >= backoff ? Clock::duration{} : backoff - elapsed;
    }

    // restartPolicy OnFailure: the container restarts of running pods count as failures.
    static bool past_backoff_limit_on_failure(const json::object& job,
                                              const std::vector<ObjectPtr>& pods) {
        if (api::field_value(job, "spec.template.spec.restartPolicy") != "OnFailure") return false;
        std::int64_t restarts = 0;
        for (const auto& pod : pods) {
            const std::string phase = pod_phase(*pod);
            if (phase != "Running" && phase != "Pending") continue;
            const auto* status = object_at(*pod, "status");
            if (!status) continue;
            for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
                if (const auto* statuses = array_at(*status, list)) {
                    for (const auto& s : *statuses) {
                        if (s.is_object()) restarts += int_at(s.as_object(), "restartCount", 0);
                    }
                }
            }
        }
        const std::int64_t limit = int_at(job, "spec.backoffLimit", 6);
        return limit == 0 ? restarts > 0 : restarts >= limit;
    }

    static bool suspended(const json::object& job) {
        return api::field_value(job, "spec.suspend") == "true";
    }

    // Seconds left before activeDeadlineSeconds, if it applies.
    static std::optional<Clock::duration> deadline_left(const json::object& job) {
        const auto& spec = spec_of(job);
        if (!spec.contains("activeDeadlineSeconds") || suspended(job)) return std::nullopt;
        const auto start = time_field(job, "status.startTime");
        if (!start) return std::nullopt;
        const auto allowed = std::chrono::seconds(int_at(spec, "activeDeadlineSeconds", 0));
        return *start + allowed - Clock::now();
    }

    void sync_job(const std::string& key, const json::object& cached) {
        JobSync sync;
        sync.key = key;
        sync.job = cached;
        if (!sync.job["status"].is_object()) sync.job["status"] = json::object{};
        sync.last_written_status = sync.job["status"].as_object();
        const auto& spec = spec_of(cached);

        const std::string mode = api::field_value(spec, "completionMode");
        if (!mode.empty() && mode != "NonIndexed" && mode != "Indexed") {
            record(cached, "Warning", "UnknownCompletionMode",
                   "Skipped Job sync because completion mode is unknown");
            return;
        }
        sync.indexed = mode == "Indexed";
        if (const auto* c = spec.if_contains("completions"); c && !c->is_null()) {
            sync.completions = int_at(spec, "completions", 1);
        }
        auto& status = sync.job["status"].as_object();
        if (const auto* uncounted = object_at(status, "uncountedTerminatedPods")) {
            for (const auto& [field, target] : {std::pair{"succeeded", &sync.uncounted_succeeded},
                                                std::pair{"failed", &sync.uncounted_failed}}) {
                if (const auto* uids = array_at(*uncounted, field)) {
                    for (const auto& uid : *uids) {
                        if (uid.is_string()) target->insert(std::string(uid.as_string()));
                    }
                }
            }
        }

        sync.pods = pods_for_job(cached);
        for (const auto& pod : sync.pods) {
            if (pod_active(*pod)) {
                sync.active.push_back(pod);
                if (pod_ready(*pod)) ++sync.ready;
            } else if (is_terminating(*pod) && !terminal(*pod)) {
                ++sync.terminating;
            }
        }

        // Finished pods not yet counted: they still carry the finalizer and are not uncounted.
        std::vector<ObjectPtr> new_succeeded, new_failed;
        for (const auto& pod : sync.pods) {
            if (!has_finalizer(*pod, kTrackingFinalizer)) continue;
            if (sync.indexed && !valid_index(sync, *pod)) continue;
            const std::string uid = api::meta_string(*pod, "uid");
            if (pod_phase(*pod) == "Succeeded" && !sync.uncounted_succeeded.contains(uid)) {
                new_succeeded.push_back(pod);
            } else if (pod_failed(*pod, cached) && !sync.uncounted_failed.contains(uid)) {
                new_failed.push_back(pod);
            }
        }
        sync.succeeded =
            int_at(status, "succeeded", 0) +
            static_cast<std::int64_t>(new_succeeded.size() + sync.uncounted_succeeded.size());
        sync.failed = int_at(status, "failed", 0) +
                      static_cast<std::int64_t>(new_failed.size() + sync.uncounted_failed.size());

        if (!status.contains("startTime") && !suspended(cached)) {
            status["startTime"] = api::now_rfc3339();
        }
        sync.backoff = new_backoff_record(key, new_succeeded, new_failed);

        decide_failure(sync);
        if (sync.indexed) {
            sync.prev_succeeded_indexes = parse_indexes(
                api::field_value(status, "completedIndexes"), sync.completions.value_or(0));
            sync.succeeded_indexes = sync.prev_succeeded_indexes;
            for (const auto& pod : sync.pods) {
                if (pod_phase(*pod) == "Succeeded" && has_finalizer(*pod, kTrackingFinalizer) &&
                    valid_index(sync, *pod)) {
                    sync.succeeded_indexes.insert(completion_index(*pod));
                }
            }
            sync.succeeded = static_cast<std::int64_t>(sync.succeeded_indexes.size());
        }

        std::int64_t active = static_cast<std::int64_t>(sync.active.size());
        if (sync.finished) {
            // Failing: stop every running pod first (their finalizers go once they are counted).
            std::int64_t deleted = 0;
            for (const auto& pod : sync.active) {
                const bool was_ready = pod_ready(*pod);
                delete_pod(sync.job, *pod);
                ++deleted;
                if (was_ready) --sync.ready;
            }
            if (deleted != active) sync.finished.reset();
            active -= deleted;
            sync.terminating += deleted;
        } else {
            bool managed = false;
            if (!is_terminating(cached)) {
                active = manage_job(sync);
                managed = true;
            }
            const bool complete = sync.completions
                                      ? sync.succeeded >= *sync.completions && active == 0
                                      : sync.succeeded > 0 && active == 0;
            if (complete) {
                sync.finished = FinishedCondition{"SuccessCriteriaMet", "", ""};
            } else if (managed) {
                update_suspended_condition(sync);
            }
        }

        if (active > 0) {
            status["active"] = active;
        } else {
            status.erase("active");
        }
        status["ready"] = sync.ready;
        status["terminating"] = sync.terminating;
        track_status_and_remove_finalizers(sync);
    }

    bool valid_index(const JobSync& sync, const json::object& pod) const {
        const int index = completion_index(pod);
        return index >= 0 && index < sync.completions.value_or(0);
    }

    // Conditions that fail the Job: backoffLimit, activeDeadlineSeconds (or ones already set).
    void decide_failure(JobSync& sync) {
        const auto& job = sync.job;
        if (const auto* met = true_condition(job, "SuccessCriteriaMet")) {
            sync.finished =
                FinishedCondition{"SuccessCriteriaMet", api::field_value(*met, "reason"),
                                  api::field_value(*met, "message")};
            return;
        }
        if (const auto* target = true_condition(job, "FailureTarget")) {
            sync.finished = FinishedCondition{"Failed", api::field_value(*target, "reason"),
                                              api::field_value(*target, "message")};
            return;
        }
        if (sync.failed > int_at(job, "spec.backoffLimit", 6) ||
            past_backoff_limit_on_failure(job, sync.pods)) {
            sync.finished = FinishedCondition{"FailureTarget", "BackoffLimitExceeded",
                                              "Job has reached the specified backoff limit"};
            return;
        }
        if (const auto left = deadline_left(job)) {
            if (*left <= Clock::duration::zero()) {
                sync.finished = FinishedCondition{"FailureTarget", "DeadlineExceeded",
                                                  "Job was active longer than specified deadline"};
            } else {
                queue().add_after(
                    sync.key,
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(*left));
            }
        }
    }

    void update_suspended_condition(JobSync& sync) {
        auto& status = sync.job["status"].as_object();
        if (suspended(sync.job)) {
            if (ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended")) {
                record(sync.job, "Normal", "Suspended", "Job suspended");
            }
        } else if (ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed")) {
            record(sync.job, "Normal", "Resumed", "Job resumed");
            // activeDeadlineSeconds counts from the resumption.
            status["startTime"] = api::now_rfc3339();
        }
    }

    // Deletes pods the Job no longer wants (suspended, too many): finalizer first, as upstream.
    std::int64_t delete_job_pods(JobSync& sync, const std::vector<ObjectPtr>& pods) {
        std::int64_t removed = 0;
        for (const auto& pod : pods) {
            remove_tracking_finalizer(*pod);
            const bool was_ready = pod_ready(*pod);
            if (delete_pod(sync.job, *pod)) {
                ++removed;
                if (was_ready) --sync.ready;
            }
        }
        sync.terminating += removed;
        return removed;
    }

    // Pods to delete when there are too many: repeated or invalid indexes first.
    std::vector<ObjectPtr> pods_for_removal(const JobSync& sync, std::int64_t at_least) const {
        std::vector<ObjectPtr> remove, keep;
        if (sync.indexed) {
            std::set<int> seen;
            auto ordered = sync.active;
            std::sort(ordered.begin(), ordered.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
                return completion_index(*a) < completion_index(*b);
            });
            for (const auto& pod : ordered) {
                const int index = completion_index(*pod);
                if (!valid_index(sync, *pod) || !seen.insert(index).second) {
                    remove.push_back(pod);
                } else {
                    keep.push_back(pod);
                }
            }
        } else {
            keep = sync.active;
        }
        if (static_cast<std::int64_t>(remove.size()) < at_least) {
            std::sort(keep.begin(), keep.end(), cheaper_to_delete);
            const auto more = static_cast<std::size_t>(at_least) - remove.size();
            remove.insert(remove.end(), keep.begin(),
                          keep.begin() + static_cast<std::ptrdiff_t>(std::min(more, keep.size())));
        }
        return remove;
    }

    // The lowest indexes neither succeeded nor running.
    std::vector<int> pending_indexes(const JobSync& sync, std::int64_t count) const {
        std::set<int> taken = sync.succeeded_indexes;
        for (const auto& pod : sync.active) {
            if (valid_index(sync, *pod)) taken.insert(completion_index(*pod));
        }
        std::vector<int> out;
        for (int i = 0;
             i < sync.completions.value_or(0) && static_cast<std::int64_t>(out.size()) < count;
             ++i) {
            if (!taken.contains(i)) out.push_back(i);
        }
        return out;
    }

    // Creates or deletes pods towards the wanted number running; returns the new active count.
    std::int64_t manage_job(JobSync& sync) {
        std::int64_t active = static_cast<std::int64_t>(sync.active.size());
        const std::int64_t parallelism = int_at(sync.job, "spec.parallelism", 1);
        if (suspended(sync.job)) {
            return active - delete_job_pods(sync, sync.active);
        }
        std::int64_t want = 0;
        if (!sync.completions) {
            // Without completions, once one pod succeeded the rest are left to finish.
            want = sync.succeeded > 0 ? active : parallelism;
        } else {
            want = std::clamp<std::int64_t>(*sync.completions - sync.succeeded, 0, parallelism);
        }
        const std::int64_t excess = active - want;
        auto to_remove = pods_for_removal(sync, std::max<std::int64_t>(excess, 0));
        if (!to_remove.empty()) return active - delete_job_pods(sync, to_remove);

        const std::int64_t terminating = only_replace_failed(sync.job) ? sync.terminating : 0;
        std::int64_t missing = want - terminating - active;
        if (missing <= 0) return active;
        if (const auto wait = remaining_backoff(sync.backoff); wait > Clock::duration::zero()) {
            queue().add_after(
                sync.key,
                std::max<std::chrono::steady_clock::duration>(
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait), 1s));
            return active;
        }
        std::vector<int> indexes;
        if (sync.indexed) {
            indexes = pending_indexes(sync, missing);
            missing = static_cast<std::int64_t>(indexes.size());
        }
        for (std::int64_t i = 0; i < missing; ++i) {
            create_pod(sync.job, sync.indexed
                                     ? std::optional<int>(indexes[static_cast<std::size_t>(i)])
                                     : std::nullopt);
            ++active;
        }
        return active;
    }

    // A pod from the Job's template (upstream GetPodFromTemplate plus the Job's additions).
    void create_pod(const json::object& job, std::optional<int> index) {
        const std::string ns = api::meta_string(job, "namespace");
        const std::string job_name = api::meta_string(job, "name");
        const auto* pod_template = object_at(spec_of(job), "template");
        const json::object empty;
        const auto* template_metadata =
            pod_template ? object_at(*pod_template, "metadata") : nullptr;
        json::object metadata;
        std::string prefix = job_name + "-";
        if (index) prefix += std::to_string(*index) + "-";
        if (prefix.size() > kMaxGenerateNameLength) prefix.resize(kMaxGenerateNameLength);
        metadata["generateName"] = prefix;
        metadata["namespace"] = ns;
        json::object labels, annotations;
        json::array finalizers;
        if (template_metadata) {
            if (const auto* l = object_at(*template_metadata, "labels")) labels = *l;
            if (const auto* a = object_at(*template_metadata, "annotations")) annotations = *a;
            if (const auto* f = array_at(*template_metadata, "finalizers")) finalizers = *f;
        }
        if (std::none_of(finalizers.begin(), finalizers.end(), [](const json::value& f) {
                return f.is_string() && f.as_string() == kTrackingFinalizer;
            })) {
            finalizers.emplace_back(kTrackingFinalizer);
        }
        json::object pod_spec;
        if (pod_template) {
            if (const auto* s = object_at(*pod_template, "spec")) pod_spec = *s;
        }
        if (index) {
            annotations[kIndexKey] = std::to_string(*index);
            labels[kIndexKey] = std::to_string(*index);
            pod_spec["hostname"] = job_name + "-" + std::to_string(*index);
            add_completion_index_env(pod_spec);
        }
        if (!labels.empty()) metadata["labels"] = std::move(labels);
        if (!annotations.empty()) metadata["annotations"] = std::move(annotations);
        metadata["finalizers"] = std::move(finalizers);
        metadata["ownerReferences"] = json::array{owner_reference(job)};
        json::object pod{{"apiVersion", "v1"},
                         {"kind", "Pod"},
                         {"metadata", std::move(metadata)},
                         {"spec", std::move(pod_spec)}};
        try {
            auto created = ctx_.service.create(*pods_info_, ns, std::move(pod), write_options());
            const std::string name = api::meta_string(created, "name");
            pods_.remember(std::move(created));
            record(job, "Normal", "SuccessfulCreate", "Created pod: " + name);
        } catch (const api::ApiError& e) {
            record(job, "Warning", "FailedCreate", std::string("Error creating: ") + e.what());
            throw;
        }
    }

    static void add_completion_index_env(json::object& pod_spec) {
        const std::string path = std::string("metadata.labels['") + kIndexKey + "']";
        for (const char* list : {"initContainers", "containers"}) {
            auto* containers = pod_spec.if_contains(list);
            if (!containers || !containers->is_array()) continue;
            for (auto& c : containers->as_array()) {
                if (!c.is_object()) continue;
                auto& env = c.as_object()["env"];
                if (!env.is_array()) env = json::array{};
                const bool present =
                    std::any_of(env.as_array().begin(), env.as_array().end(), [](const auto& e) {
                        return e.is_object() &&
                               api::field_value(e.as_object(), "name") == "JOB_COMPLETION_INDEX";
                    });
                if (present) continue;
                env.as_array().push_back(json::object{
                    {"name", "JOB_COMPLETION_INDEX"},
                    {"valueFrom", json::object{{"fieldRef", json::object{{"fieldPath", path}}}}}});
            }
        }
    }

    // Moves uids of uncounted pods whose finalizer is gone into the counters.
    static void clean_uncounted(json::object& status, const std::set<std::string>& with_finalizer) {
        auto& uncounted = status["uncountedTerminatedPods"];
        if (!uncounted.is_object()) uncounted = json::object{};
        for (const char* field : {"succeeded", "failed"}) {
            auto* uids = uncounted.as_object().if_contains(field);
            if (!uids || !uids->is_array()) continue;
            json::array keep;
            std::int64_t counted = 0;
            for (const auto& uid : uids->as_array()) {
                if (uid.is_string() && with_finalizer.contains(std::string(uid.as_string()))) {
                    keep.push_back(uid);
                } else {
                    ++counted;
                }
            }
            if (counted > 0) status[field] = int_at(status, field, 0) + counted;
            if (keep.empty()) {
                uncounted.as_object().erase(field);
            } else {
                *uids = std::move(keep);
            }
        }
    }

    static json::array& uncounted_list(json::object& status, const char* field) {
        auto& uncounted = status["uncountedTerminatedPods"];
        if (!uncounted.is_object()) uncounted = json::object{};
        auto& list = uncounted.as_object()[field];
        if (!list.is_array()) list = json::array{};
        return list.as_array();
    }

    static bool listed(json::object& status, const char* field, const std::string& uid) {
        const auto* uncounted = object_at(status, "uncountedTerminatedPods");
        const auto* uids = uncounted ? array_at(*uncounted, field) : nullptr;
        return uids && std::any_of(uids->begin(), uids->end(), [&](const json::value& v) {
                   return v.is_string() && v.as_string() == uid;
               });
    }

    // Upstream trackJobStatusAndRemoveFinalizers: record finished pods as uncounted, remove
    // their finalizers, count them, and finish the Job once nothing is left in flight.
    void track_status_and_remove_finalizers(JobSync& sync) {
        std::set<std::string> with_finalizer;
        for (const auto& pod : sync.pods) {
            if (has_finalizer(*pod, kTrackingFinalizer)) {
                with_finalizer.insert(api::meta_string(*pod, "uid"));
            }
        }
        {
            auto& status = sync.job["status"].as_object();
            clean_uncounted(status, with_finalizer);
        }
        auto pods = sync.pods;
        if (sync.indexed) {
            std::sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
                return completion_index(*a) < completion_index(*b);
            });
        }
        const bool job_deleting = is_terminating(sync.job);
        const bool failing = sync.finished && sync.finished->type != "SuccessCriteriaMet";
        std::vector<ObjectPtr> release;
        std::set<int> new_indexes;
        bool reached_max = false;
        for (const auto& pod : pods) {
            if (!has_finalizer(*pod, kTrackingFinalizer)) continue;
            const bool failed = pod_failed(*pod, sync.job);
            const bool succeeded = pod_phase(*pod) == "Succeeded";
            if (!(job_deleting || sync.finished || succeeded || failed)) continue;
            release.push_back(pod);
            auto& status = sync.job["status"].as_object();
            const std::string uid = api::meta_string(*pod, "uid");
            if (succeeded && !sync.uncounted_failed.contains(uid)) {
                if (sync.indexed) {
                    const int index = completion_index(*pod);
                    if (valid_index(sync, *pod) && !sync.prev_succeeded_indexes.contains(index)) {
                        new_indexes.insert(index);
                    }
                } else if (!listed(status, "succeeded", uid)) {
                    uncounted_list(status, "succeeded").emplace_back(uid);
                }
            } else if (failed || failing) {
                if (!listed(status, "failed", uid) && (!sync.indexed || valid_index(sync, *pod))) {
                    uncounted_list(status, "failed").emplace_back(uid);
                }
            }
            const auto* uncounted = object_at(status, "uncountedTerminatedPods");
            std::size_t in_flight = new_indexes.size();
            for (const char* field : {"succeeded", "failed"}) {
                if (const auto* uids = uncounted ? array_at(*uncounted, field) : nullptr) {
                    in_flight += uids->size();
                }
            }
            if (in_flight >= kMaxUncountedPods) {
                reached_max = true;
                break;
            }
        }
        auto& status = sync.job["status"].as_object();
        if (sync.indexed) {
            sync.succeeded_indexes.insert(new_indexes.begin(), new_indexes.end());
            const std::string completed = format_indexes(sync.succeeded_indexes);
            if (completed.empty()) {
                status.erase("completedIndexes");
            } else {
                status["completedIndexes"] = completed;
            }
            const auto succeeded = static_cast<std::int64_t>(sync.succeeded_indexes.size());
            if (succeeded > 0) {
                status["succeeded"] = succeeded;
            } else {
                status.erase("succeeded");
            }
        }
        // The interim conditions are written before any finalizer goes, so that a restart
        // finishes the Job the same way.
        if (sync.finished && sync.finished->type == "FailureTarget") {
            ensure_condition(status, "FailureTarget", "True", sync.finished->reason,
                             sync.finished->message);
            sync.finished =
                FinishedCondition{"Failed", sync.finished->reason, sync.finished->message};
        }
        if (sync.finished && sync.finished->type == "SuccessCriteriaMet") {
            if (!true_condition(sync.job, "SuccessCriteriaMet")) {
                ensure_condition(status, "SuccessCriteriaMet", "True", sync.finished->reason,
                                 sync.finished->message);
            }
            sync.finished =
                FinishedCondition{"Complete", sync.finished->reason, sync.finished->message};
        }
        normalise_status(status);
        flush_status(sync);

        std::optional<api::ApiError> removal_error;
        for (const auto& pod : release) {
            try {
                remove_tracking_finalizer(*pod);
                with_finalizer.erase(api::meta_string(*pod, "uid"));
            } catch (const api::ApiError& e) {
                if (!removal_error) removal_error = e;
            }
        }
        clean_uncounted(sync.job["status"].as_object(), with_finalizer);
        normalise_status(sync.job["status"].as_object());
        if (removal_error) {
            flush_status(sync);
            throw *removal_error;
        }
        const bool finished = !reached_max && enact_finished(sync);
        flush_status(sync);
        if (finished) record_finished(sync);
    }

    // Upstream omits empty uncounted lists and zero counters.
    static void normalise_status(json::object& status) {
        auto& uncounted = status["uncountedTerminatedPods"];
        if (!uncounted.is_object()) uncounted = json::object{};
        for (const char* field : {"succeeded", "failed"}) {
            if (const auto* list = array_at(uncounted.as_object(), field); list && list->empty()) {
                uncounted.as_object().erase(field);
            }
            if (int_at(status, field, 0) == 0) status.erase(field);
        }
    }

    // Complete/Failed once every finished pod is counted and none is still terminating.
    bool enact_finished(JobSync& sync) {
        if (!sync.finished) return false;
        auto& status = sync.job["status"].as_object();
        const auto* uncounted = object_at(status, "uncountedTerminatedPods");
        if (uncounted && (array_at(*uncounted, "succeeded") || array_at(*uncounted, "failed"))) {
            return false;
        }
        if (sync.terminating > 0) return false;
        ensure_condition(status, sync.finished->type, "True", sync.finished->reason,
                         sync.finished->message);
        if (sync.finished->type == "Complete") status["completionTime"] = api::now_rfc3339();
        return true;
    }

    void record_finished(const JobSync& sync) {
        if (sync.finished->type == "Complete") {
            if (sync.completions && int_at(sync.job, "status.succeeded", 0) > *sync.completions) {
                record(sync.job, "Warning", "TooManySucceededPods",
                       "Too many succeeded pods running after completion count reached");
            }
            record(sync.job, "Normal", "Completed", "Job completed");
        } else {
            record(sync.job, "Warning", sync.finished->reason, sync.finished->message);
        }
        // A TTL, if any, starts now.
        queue().add(sync.key);
    }

    ControllerContext& ctx_;
    std::shared_ptr<const api::ResourceInfo> jobs_info_;
    std::shared_ptr<const api::ResourceInfo> pods_info_;
    Informer& jobs_;
    Informer& pods_;
    // Pod failure back-off per Job key; only the worker thread touches it.
    std::map<std::string, BackoffRecord> backoff_;
};

}  // namespace

std::unique_ptr<Controller> make_job_controller(ControllerContext& ctx) {
    return std::make_unique<JobController>(ctx);
}

}  // namespace kcube::controllers
