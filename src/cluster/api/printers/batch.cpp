// Printers of the batch API group.
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

constexpr std::string_view kContainersDescription = "Names of each container in the template.";
constexpr std::string_view kImagesDescription =
    "Images referenced by each container in the template.";

// --- Job ---------------------------------------------------------------------------------------

// "1/3" succeeded of completions; a job without completions needs one success, and says how
// many pods run in parallel when that is more than one ("0/1 of 3").
std::string job_completions(const json::object& job) {
    const std::string succeeded = std::to_string(get_int(job, {"status", "succeeded"}));
    if (present(job, {"spec", "completions"})) {
        return succeeded + "/" + std::to_string(get_int(job, {"spec", "completions"}));
    }
    const std::int64_t parallelism = get_int(job, {"spec", "parallelism"});
    if (parallelism > 1) return succeeded + "/1 of " + std::to_string(parallelism);
    return succeeded + "/1";
}

// From start to completion, or to now while the job runs; "" before it starts.
std::string job_duration(const json::object& job, Clock::time_point now) {
    const auto start = time_at(job, {"status", "startTime"});
    if (!start) return "";
    const auto end = time_at(job, {"status", "completionTime"});
    return human_duration(end.value_or(now) - *start);
}

// The status of the first condition of `type`, compared with "True".
bool job_condition(const json::object& job, std::string_view type) {
    for (const json::object* condition : objects(job, {"status", "conditions"})) {
        if (get_string(*condition, {"type"}) == type) {
            return get_string(*condition, {"status"}) == "True";
        }
    }
    return false;
}

std::string job_status(const json::object& job) {
    if (job_condition(job, "Complete")) return "Complete";
    if (job_condition(job, "Failed")) return "Failed";
    if (present(job, {"metadata", "deletionTimestamp"})) return "Terminating";
    if (job_condition(job, "Suspended")) return "Suspended";
    if (job_condition(job, "FailureTarget")) return "FailureTarget";
    return "Running";
}

json::array job_cells(const json::object& job, Clock::time_point now) {
    auto [names, images] =
        container_cells(get_array(job, {"spec", "template", "spec", "containers"}));
    return json::array{
        name_of(job),
        job_status(job),
        job_completions(job),
        job_duration(job, now),
        age(job, now),
        names,
        images,
        format_label_selector(get_object(job, {"spec", "selector"})),
    };
}

Printer job_printer() {
    return {{
                name_column(),
                column("Status", "Status of the job."),
                column("Completions", doc::kJobStatusSucceeded),
                column("Duration", "Time required to complete the job."),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
                wide_column("Selector", doc::kJobSpecSelector),
            },
            job_cells};
}

// --- CronJob -----------------------------------------------------------------------------------

json::array cron_job_cells(const json::object& cron_job, Clock::time_point now) {
    const json::object* job_spec = get_object(cron_job, {"spec", "jobTemplate", "spec"});
    const json::object empty;
    const json::object& spec = job_spec ? *job_spec : empty;
    auto [names, images] = container_cells(get_array(spec, {"template", "spec", "containers"}));
    const bool scheduled = present(cron_job, {"status", "lastScheduleTime"});
    const bool zoned = present(cron_job, {"spec", "timeZone"});
    return json::array{
        name_of(cron_job),
        get_string(cron_job, {"spec", "schedule"}),
        zoned ? std::string(get_string(cron_job, {"spec", "timeZone"})) : "<none>",
        bool_ptr(cron_job, {"spec", "suspend"}),
        count(cron_job, {"status", "active"}),
        scheduled ? since(cron_job, {"status", "lastScheduleTime"}, now) : "<none>",
        age(cron_job, now),
        names,
        images,
        format_label_selector(get_object(spec, {"selector"})),
    };
}

Printer cron_job_printer() {
    return {{
                name_column(),
                column("Schedule", doc::kCronJobSpecSchedule),
                column("Timezone", doc::kCronJobSpecTimeZone),
                column("Suspend", doc::kCronJobSpecSuspend, "boolean"),
                column("Active", doc::kCronJobStatusActive, "integer"),
                column("Last Schedule", doc::kCronJobStatusLastScheduleTime),
                age_column(),
                wide_column("Containers", kContainersDescription),
                wide_column("Images", kImagesDescription),
                wide_column("Selector", doc::kJobSpecSelector),
            },
            cron_job_cells};
}

}  // namespace

const std::vector<KindPrinter>& batch_printers() {
    static const std::vector<KindPrinter> printers{
        {"batch", "Job", job_printer()},
        {"batch", "CronJob", cron_job_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
