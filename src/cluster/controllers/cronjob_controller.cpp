// The CronJob controller (upstream pkg/controller/cronjob, the v2 controller of 1.32): creates a
// Job for each scheduled time, named "<cronjob>-<scheduled time in minutes since the epoch>" so
// that a time is never run twice; honours concurrencyPolicy, startingDeadlineSeconds, suspend
// and the history limits; keeps status.active, lastScheduleTime and lastSuccessfulTime.
//
// Nothing polls: after each sync the CronJob is queued again for its next scheduled time.
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/cron_schedule.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/controllers/time_zone.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;
using Clock = std::chrono::system_clock;
using Instant = std::chrono::sys_seconds;
using namespace std::chrono_literals;

constexpr const char* kComponent = "cronjob-controller";
constexpr const char* kScheduledTimestampAnnotation =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";
// Upstream queues the next sync this much after the scheduled time, against clock skew.
constexpr auto kNextScheduleDelta = 100ms;

std::optional<Instant> instant_at(const json::object& object, std::string_view path) {
    const std::string text = api::field_value(object, path);
    Clock::time_point t;
    if (text.empty() || !api::parse_time(text, t)) return std::nullopt;
    return std::chrono::floor<std::chrono::seconds>(t);
}

// "Complete" or "Failed" if the Job finished (upstream getFinishedStatus), else "".
std::string finished_type(const json::object& job) {
    const auto* status = object_at(job, "status");
    const auto* conditions = status ? array_at(*status, "conditions") : nullptr;
    if (!conditions) return "";
    for (const auto& c : *conditions) {
        if (!c.is_object()) continue;
        const std::string type = api::field_value(c.as_object(), "type");
        if ((type == "Complete" || type == "Failed") &&
            api::field_value(c.as_object(), "status") == "True") {
            return type;
        }
    }
    return "";
}

// RFC 3339 in the zone's local time ("2024-05-06T10:00:00+02:00", "...Z" at UTC), as Go's
// time.RFC3339 formats a time.Time in a location.
std::string format_in_zone(Instant t, const TimeZone& zone) {
    using namespace std::chrono;
    const auto civil = zone.to_civil(t);
    const auto day = floor<days>(civil);
    const year_month_day ymd{day};
    const hh_mm_ss clock{civil - day};
    char text[40];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()));
    std::string out = text;
    const auto offset = zone.offset_at(t).count();
    if (offset == 0) return out + "Z";
    const auto magnitude = offset < 0 ? -offset : offset;
    std::snprintf(text, sizeof text, "%c%02d:%02d", offset < 0 ? '-' : '+',
                  static_cast<int>(magnitude / 3600), static_cast<int>(magnitude / 60 % 60));
    return out + text;
}

// RFC 1123 with a numeric zone, in UTC ("Mon, 06 May 2024 10:00:00 +0000"), for MissSchedule.
std::string format_rfc1123z(Instant t) {
    using namespace std::chrono;
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss clock{t - day};
    char text[48];
    std::snprintf(text, sizeof text, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                  kDays[weekday{day}.c_encoding()], static_cast<unsigned>(ymd.day()),
                  kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                  static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()));
    return text;
}

// A Go %q rendering of a string (enough for schedules and zone names).
std::string quoted(std::string_view text) {
    return json::serialize(json::string(text));
}

class CronJobController final : public Controller {
  public:
    explicit CronJobController(ControllerContext& ctx)
        : Controller("cronjob-controller"),
          ctx_(ctx),
          cronjobs_info_(ctx.service.registry().find("batch", "v1", "cronjobs")),
          jobs_info_(ctx.service.registry().find("batch", "v1", "jobs")),
          cronjobs_(ctx.informers.get("batch", "v1", "cronjobs")),
          jobs_(ctx.informers.get("batch", "v1", "jobs")),
          local_zone_(TimeZone::local()) {
        cronjobs_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (old && now && schedule_changed(*old, *now)) {
                // As upstream: a new schedule takes effect from its next time, not at once.
                if (auto delay = next_run_delay(*now)) {
                    queue().add_after(object_key(*now), *delay);
                    return;
                }
            }
            queue().add(object_key(now ? *now : *old));
        });
        jobs_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            for (const auto& job : {old, now}) {
                if (!job) continue;
                const auto* ref = controller_ref(*job);
                if (ref && api::field_value(*ref, "kind") == "CronJob") {
                    queue().add(object_key(api::meta_string(*job, "namespace"),
                                           api::field_value(*ref, "name")));
                }
            }
        });
    }

  protected:
    void reconcile(const std::string& key) override {
        const auto cached = cronjobs_.get(key);
        if (!cached) return;
        json::object cronjob = *cached;
        if (!cronjob["status"].is_object()) cronjob["status"] = json::object{};
        const std::string uid = api::meta_string(cronjob, "uid");
        std::vector<ObjectPtr> jobs;
        for (auto& job : jobs_.list(api::meta_string(cronjob, "namespace"))) {
            const auto* ref = controller_ref(*job);
            if (ref && api::field_value(*ref, "uid") == uid) jobs.push_back(std::move(job));
        }
        bool update = cleanup_finished_jobs(cronjob, jobs);
        const auto requeue = sync_cronjob(cronjob, jobs, update);
        if (update) {
            api::WriteOptions options;
            options.field_manager = kControllerFieldManager;
            auto written =
                ctx_.service.update(*cronjobs_info_, api::meta_string(cronjob, "namespace"),
                                    api::meta_string(cronjob, "name"), cronjob, options, "status");
            cronjobs_.remember(std::move(written));
        }
        if (requeue) queue().add_after(key, *requeue);
    }

  private:
    static bool schedule_changed(const json::object& old, const json::object& now) {
        return api::field_value(old, "spec.schedule") != api::field_value(now, "spec.schedule") ||
               api::field_value(old, "spec.timeZone") != api::field_value(now, "spec.timeZone");
    }

    void record(const json::object& cronjob, const char* type, const std::string& reason,
                const std::string& message) {
        ctx_.events.record(cronjob, kComponent, type, reason, message);
    }

    // The zone a schedule is read in: its own "TZ=", else spec.timeZone, else the node's.
    // Throws std::invalid_argument for an unknown zone.
    TimeZone zone_for(const json::object& cronjob, const CronSchedule& schedule) const {
        if (!schedule.zone_name().empty()) return TimeZone::load(schedule.zone_name());
        const auto* spec = object_at(cronjob, "spec");
        if (spec && spec->contains("timeZone") && !spec->at("timeZone").is_null()) {
            return TimeZone::load(api::field_value(*spec, "timeZone"));
        }
        return local_zone_;
    }

    // How long until the next scheduled time (plus upstream's padding), if it can be known.
    std::optional<std::chrono::steady_clock::duration> next_run_delay(
        const json::object& cronjob) const {
        try {
            const auto schedule = CronSchedule::parse(api::field_value(cronjob, "spec.schedule"));
            const auto zone = zone_for(cronjob, schedule);
            const auto now = Clock::now();
            const auto next = schedule.next(std::chrono::floor<std::chrono::seconds>(now), zone);
            if (!next) return std::nullopt;
            return std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next - now) +
                   kNextScheduleDelta;
        } catch (const std::invalid_argument&) {
            return std::nullopt;
        }
    }

    static bool in_active(const json::object& cronjob, std::string_view uid) {
        const auto* status = object_at(cronjob, "status");
        const auto* active = status ? array_at(*status, "active") : nullptr;
        if (!active) return false;
        return std::any_of(active->begin(), active->end(), [&](const json::value& ref) {
            return ref.is_object() && api::field_value(ref.as_object(), "uid") == uid;
        });
    }

    static bool in_active_by_name(const json::object& cronjob, std::string_view name) {
        const auto* status = object_at(cronjob, "status");
        const auto* active = status ? array_at(*status, "active") : nullptr;
        if (!active) return false;
        return std::any_of(active->begin(), active->end(), [&](const json::value& ref) {
            return ref.is_object() && api::field_value(ref.as_object(), "name") == name;
        });
    }

    static void delete_from_active(json::object& cronjob, std::string_view uid) {
        auto& status = child_object(cronjob, "status");
        auto* active = status.if_contains("active");
        if (!active || !active->is_array()) return;
        json::array keep;
        for (const auto& ref : active->as_array()) {
            if (!ref.is_object() || api::field_value(ref.as_object(), "uid") != uid) {
                keep.push_back(ref);
            }
        }
        if (keep.empty()) {
            status.erase("active");
        } else {
            *active = std::move(keep);
        }
    }

    // An ObjectReference to a Job, as client-go's reference.GetReference makes it.
    static json::object reference_to(const json::object& job) {
        return json::object{{"kind", "Job"},
                            {"namespace", api::meta_string(job, "namespace")},
                            {"name", api::meta_string(job, "name")},
                            {"uid", api::meta_string(job, "uid")},
                            {"apiVersion", "batch/v1"},
                            {"resourceVersion", api::meta_string(job, "resourceVersion")}};
    }

    // Deletes a Job (its pods in the background) and drops it from status.active.
    bool delete_job(json::object& cronjob, const json::object& job) {
        api::DeleteOptions options;
        options.propagation_policy = "Background";
        const std::string name = api::meta_string(job, "name");
        try {
            ctx_.service.remove(*jobs_info_, api::meta_string(job, "namespace"), name, options);
        } catch (const api::ApiError& e) {
            if (e.code() != 404) {
                record(cronjob, "Warning", "FailedDelete", std::string("Deleted job: ") + e.what());
                return false;
            }
        }
        jobs_.forget_deleted(job);
        delete_from_active(cronjob, api::meta_string(job, "uid"));
        record(cronjob, "Normal", "SuccessfulDelete", "Deleted job " + name);
        return true;
    }

    // successfulJobsHistoryLimit / failedJobsHistoryLimit: the oldest finished Jobs go.
    bool cleanup_finished_jobs(json::object& cronjob, std::vector<ObjectPtr>& jobs) {
        const auto* spec = object_at(cronjob, "spec");
        if (!spec) return false;
        const bool has_success_limit = spec->contains("successfulJobsHistoryLimit") &&
                                       !spec->at("successfulJobsHistoryLimit").is_null();
        const bool has_failed_limit = spec->contains("failedJobsHistoryLimit") &&
                                      !spec->at("failedJobsHistoryLimit").is_null();
        if (!has_success_limit && !has_failed_limit) return false;
        std::vector<ObjectPtr> succeeded, failed;
        for (const auto& job : jobs) {
            const std::string type = finished_type(*job);
            if (type == "Complete") succeeded.push_back(job);
            if (type == "Failed") failed.push_back(job);
        }
        bool update = false;
        std::set<std::string> deleted;
        auto remove_oldest = [&](std::vector<ObjectPtr>& list, std::int64_t limit) {
            const auto excess = static_cast<std::int64_t>(list.size()) - limit;
            if (excess <= 0) return;
            // By start time (never-started last), then name.
            std::sort(list.begin(), list.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
                const auto sa = instant_at(*a, "status.startTime");
                const auto sb = instant_at(*b, "status.startTime");
                if (!sb)
                    return sa.has_value() ||
                           api::meta_string(*a, "name") < api::meta_string(*b, "name");
                if (!sa) return false;
                if (*sa == *sb) return api::meta_string(*a, "name") < api::meta_string(*b, "name");
                return *sa < *sb;
            });
            for (std::int64_t i = 0; i < excess; ++i) {
                const auto& job = list[static_cast<std::size_t>(i)];
                if (delete_job(cronjob, *job)) {
                    update = true;
                    deleted.insert(api::meta_string(*job, "uid"));
                }
            }
        };
        if (has_success_limit)
            remove_oldest(succeeded, int_at(*spec, "successfulJobsHistoryLimit", 3));
        if (has_failed_limit) remove_oldest(failed, int_at(*spec, "failedJobsHistoryLimit", 1));
        std::erase_if(jobs, [&](const ObjectPtr& job) {
            return deleted.contains(api::meta_string(*job, "uid"));
        });
        return update;
    }

    // Upstream syncCronJob. Returns when to look again (nullopt: only when something changes).
    std::optional<std::chrono::steady_clock::duration> sync_cronjob(
        json::object& cronjob, const std::vector<ObjectPtr>& jobs, bool& update) {
        const std::string ns = api::meta_string(cronjob, "namespace");
        auto& status = child_object(cronjob, "status");
        std::set<std::string> children;
        for (const auto& job : jobs) {
            const std::string uid = api::meta_string(*job, "uid");
            children.insert(uid);
            const bool found = in_active(cronjob, uid);
            const std::string finished = finished_type(*job);
            if (!found && finished.empty()) {
                // Maybe our own status write is not in the cache yet: ask the API.
                const auto fresh =
                    ctx_.service.get(*cronjobs_info_, ns, api::meta_string(cronjob, "name"));
                if (in_active(fresh, uid)) continue;
                record(cronjob, "Warning", "UnexpectedJob",
                       "Saw a job that the controller did not create or forgot: " +
                           api::meta_string(*job, "name"));
            } else if (!finished.empty()) {
                if (found) {
                    delete_from_active(cronjob, uid);
                    record(cronjob, "Normal", "SawCompletedJob",
                           "Saw completed job: " + api::meta_string(*job, "name") +
                               ", condition: " + finished);
                    update = true;
                }
                if (finished == "Complete") {
                    const auto completed = instant_at(*job, "status.completionTime");
                    const auto last = instant_at(status, "lastSuccessfulTime");
                    if (completed && (!last || *completed > *last)) {
                        status["lastSuccessfulTime"] = api::format_time(*completed);
                        update = true;
                    }
                }
            }
        }
        // Active Jobs that no longer exist (checked against the API, not a slow cache).
        if (const auto* active = array_at(status, "active")) {
            const auto refs = *active;
            for (const auto& ref : refs) {
                if (!ref.is_object()) continue;
                const std::string uid = api::field_value(ref.as_object(), "uid");
                if (children.contains(uid)) continue;
                const std::string name = api::field_value(ref.as_object(), "name");
                try {
                    ctx_.service.get(*jobs_info_, ns, name);
                } catch (const api::ApiError& e) {
                    if (e.code() != 404) throw;
                    record(cronjob, "Normal", "MissingJob", "Active job went missing: " + name);
                    delete_from_active(cronjob, uid);
                    update = true;
                }
            }
        }
        if (is_terminating(cronjob)) return std::nullopt;

        const std::string schedule_text = api::field_value(cronjob, "spec.schedule");
        const auto* spec = object_at(cronjob, "spec");
        if (spec && spec->contains("timeZone") && !spec->at("timeZone").is_null()) {
            const std::string zone = api::field_value(*spec, "timeZone");
            try {
                TimeZone::load(zone);
            } catch (const std::invalid_argument& e) {
                record(cronjob, "Warning", "UnknownTimeZone",
                       "invalid timeZone: " + quoted(zone) + ": " + e.what());
                return std::nullopt;
            }
        }
        if (api::field_value(cronjob, "spec.suspend") == "true") return std::nullopt;

        std::optional<CronSchedule> schedule;
        std::optional<TimeZone> zone;
        if (schedule_text.find("TZ") != std::string::npos) {
            record(cronjob, "Warning", "UnsupportedSchedule",
                   "CRON_TZ or TZ used in schedule " + quoted(schedule_text) +
                       " is not officially supported, see "
                       "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for "
                       "more details");
        }
        try {
            schedule = CronSchedule::parse(schedule_text);
            zone = zone_for(cronjob, *schedule);
        } catch (const std::invalid_argument& e) {
            record(cronjob, "Warning", "UnparseableSchedule",
                   "unparseable schedule: " + quoted(schedule_text) + " : " + e.what());
            return std::nullopt;
        }

        const auto now = Clock::now();
        const Instant now_s = std::chrono::floor<std::chrono::seconds>(now);
        auto until_next = [&]() -> std::optional<std::chrono::steady_clock::duration> {
            const auto next = schedule->next(now_s, *zone);
            if (!next) return std::nullopt;
            return std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next - now) +
                   kNextScheduleDelta;
        };

        // The earliest time still to consider: the last run, or creation, or the deadline.
        Instant earliest =
            instant_at(status, "lastScheduleTime")
                .value_or(instant_at(cronjob, "metadata.creationTimestamp").value_or(now_s));
        const bool has_deadline = spec && spec->contains("startingDeadlineSeconds") &&
                                  !spec->at("startingDeadlineSeconds").is_null();
        const auto deadline = std::chrono::seconds(
            spec ? int_at(*spec, "startingDeadlineSeconds", 0) : std::int64_t{0});
        if (has_deadline && now_s - deadline > earliest) earliest = now_s - deadline;
        if (!schedule->next(earliest, *zone)) {
            record(cronjob, "Warning", "InvalidSchedule",
                   "invalid schedule: " + schedule_text +
                       " : time difference between two schedules is less than 1 second");
            return std::nullopt;
        }
        const auto missed = schedule->missed_since(earliest, now_s, *zone);
        if (!missed.most_recent) return until_next();
        if (missed.count > 100) {
            record(cronjob, "Warning", "TooManyMissedTimes",
                   "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                   "check clock skew");
        }
        const Instant scheduled = *missed.most_recent;
        if (has_deadline && scheduled + deadline < now_s) {
            record(cronjob, "Warning", "MissSchedule",
                   "Missed scheduled time to start a job: " + format_rfc1123z(scheduled));
            return until_next();
        }
        const std::string job_name = api::meta_string(cronjob, "name") + "-" +
                                     std::to_string(scheduled.time_since_epoch().count() / 60);
        if (in_active_by_name(cronjob, job_name) ||
            instant_at(status, "lastScheduleTime") == scheduled) {
            return until_next();
        }
        const std::string policy = api::field_value(cronjob, "spec.concurrencyPolicy");
        if (policy == "Forbid" && array_at(status, "active") &&
            !array_at(status, "active")->empty()) {
            record(cronjob, "Normal", "JobAlreadyActive",
                   "Not starting job because prior execution is running and concurrency policy "
                   "is Forbid");
            return until_next();
        }
        if (policy == "Replace" && array_at(status, "active")) {
            const auto refs = *array_at(status, "active");
            for (const auto& ref : refs) {
                if (!ref.is_object()) continue;
                json::object job;
                try {
                    job = ctx_.service.get(*jobs_info_, ns,
                                           api::field_value(ref.as_object(), "name"));
                } catch (const api::ApiError& e) {
                    record(cronjob, "Warning", "FailedGet", std::string("Get job: ") + e.what());
                    throw;
                }
                if (!delete_job(cronjob, job)) {
                    throw std::runtime_error("could not replace job " + ns + "/" +
                                             api::meta_string(job, "name"));
                }
                update = true;
            }
        }

        const auto created = create_job(cronjob, job_name, scheduled);
        if (!created) return until_next();
        auto& active = child_object(cronjob, "status")["active"];
        if (!active.is_array()) active = json::array{};
        active.as_array().push_back(reference_to(*created));
        child_object(cronjob, "status")["lastScheduleTime"] =
            api::format_time(Clock::time_point{scheduled.time_since_epoch()});
        update = true;
        return until_next();
    }

    // The Job for one scheduled time (upstream getJobFromTemplate2); nullopt if a Job of that
    // name exists that this CronJob does not control, or that it already tracks.
    std::optional<json::object> create_job(json::object& cronjob, const std::string& name,
                                           Instant scheduled) {
        const std::string ns = api::meta_string(cronjob, "namespace");
        const auto* spec = object_at(cronjob, "spec");
        const auto* job_template = spec ? object_at(*spec, "jobTemplate") : nullptr;
        const auto* template_metadata =
            job_template ? object_at(*job_template, "metadata") : nullptr;
        json::object metadata{{"name", name}, {"namespace", ns}};
        json::object annotations;
        if (template_metadata) {
            if (const auto* labels = object_at(*template_metadata, "labels")) {
                metadata["labels"] = *labels;
            }
            if (const auto* a = object_at(*template_metadata, "annotations")) annotations = *a;
        }
        // The annotation is in spec.timeZone (UTC without one), whatever zone the node is in.
        TimeZone annotation_zone = TimeZone::utc();
        const std::string zone_name = api::field_value(cronjob, "spec.timeZone");
        if (!zone_name.empty()) {
            try {
                annotation_zone = TimeZone::load(zone_name);
            } catch (const std::invalid_argument&) {
            }
        }
        annotations[kScheduledTimestampAnnotation] = format_in_zone(scheduled, annotation_zone);
        metadata["annotations"] = std::move(annotations);
        metadata["ownerReferences"] = json::array{owner_reference(cronjob)};
        json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", metadata}};
        if (job_template) {
            if (const auto* spec = object_at(*job_template, "spec")) job["spec"] = *spec;
        }
        api::WriteOptions options;
        options.field_manager = kControllerFieldManager;
        try {
            auto created = ctx_.service.create(*jobs_info_, ns, std::move(job), options);
            jobs_.remember(created);
            record(cronjob, "Normal", "SuccessfulCreate", "Created job " + name);
            return created;
        } catch (const api::ApiError& e) {
            if (e.code() != 409 || e.reason() != "AlreadyExists") {
                record(cronjob, "Warning", "FailedCreate",
                       std::string("Error creating job: ") + e.what());
                throw;
            }
        }
        // Created before, but the status did not record it (a crash in between, say).
        auto existing = ctx_.service.get(*jobs_info_, ns, name);
        if (!is_controlled_by(existing, cronjob) ||
            in_active(cronjob, api::meta_string(existing, "uid"))) {
            return std::nullopt;
        }
        return existing;
    }

    ControllerContext& ctx_;
    std::shared_ptr<const api::ResourceInfo> cronjobs_info_;
    std::shared_ptr<const api::ResourceInfo> jobs_info_;
    Informer& cronjobs_;
    Informer& jobs_;
    const TimeZone local_zone_;
};

}  // namespace

std::unique_ptr<Controller> make_cronjob_controller(ControllerContext& ctx) {
    return std::make_unique<CronJobController>(ctx);
}

}  // namespace kcube::controllers
