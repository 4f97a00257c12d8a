// The Event printer. Upstream serves core/v1 and events.k8s.io/v1 Events from one internal
// type, so both print alike; only the JSON field names differ between the two versions.
#include <string>

#include "cluster/api/printers/core.hpp"
#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

// Where each field of the internal Event lives in one API version's JSON.
struct EventFields {
    std::string_view involved_object;
    std::string_view message;
    std::string_view source;
    std::string_view first_timestamp;
    std::string_view last_timestamp;
    std::string_view count;
    std::string_view reporting_controller;
};

constexpr EventFields kCoreFields{"involvedObject",    "message",       "source",
                                  "firstTimestamp",    "lastTimestamp", "count",
                                  "reportingComponent"};
constexpr EventFields kEventsFields{"regarding",
                                    "note",
                                    "deprecatedSource",
                                    "deprecatedFirstTimestamp",
                                    "deprecatedLastTimestamp",
                                    "deprecatedCount",
                                    "reportingController"};

std::string first_non_empty(std::string_view a, std::string_view b) {
    return std::string(a.empty() ? b : a);
}

// "kubelet, node-1": the source component and host, falling back to the reporting controller
// and instance of the newer API.
std::string event_source(const json::object& event, const EventFields& f) {
    const std::string component = first_non_empty(get_string(event, {f.source, "component"}),
                                                  get_string(event, {f.reporting_controller}));
    const std::string instance = first_non_empty(get_string(event, {f.source, "host"}),
                                                 get_string(event, {"reportingInstance"}));
    return instance.empty() ? component : component + ", " + instance;
}

// "pod/web-1", or only the kind when the object has no name.
std::string event_object(const json::object& event, const EventFields& f) {
    const std::string kind = lower_ascii(get_string(event, {f.involved_object, "kind"}));
    const std::string_view name = get_string(event, {f.involved_object, "name"});
    return name.empty() ? kind : kind + "/" + std::string(name);
}

json::array event_cells(const json::object& event, Clock::time_point now, const EventFields& f) {
    // Events from the newer API have an eventTime instead of a firstTimestamp, and a series
    // instead of a count.
    std::string first = since(event, {f.first_timestamp}, now);
    if (!time_at(event, {f.first_timestamp})) first = since(event, {"eventTime"}, now);
    std::string last = since(event, {f.last_timestamp}, now);
    if (!time_at(event, {f.last_timestamp})) last = first;
    std::int64_t occurrences = get_int(event, {f.count});
    if (present(event, {"series"})) {
        last = since(event, {"series", "lastObservedTime"}, now);
        occurrences = get_int(event, {"series", "count"});
    } else if (occurrences == 0) {
        occurrences = 1;
    }
    return json::array{
        last,
        get_string(event, {"type"}),
        get_string(event, {"reason"}),
        event_object(event, f),
        get_string(event, {f.involved_object, "fieldPath"}),
        event_source(event, f),
        trim_space(get_string(event, {f.message})),
        first,
        occurrences,
        name_of(event),
    };
}

json::array core_event_cells(const json::object& event, Clock::time_point now) {
    return event_cells(event, now, kCoreFields);
}

json::array events_event_cells(const json::object& event, Clock::time_point now) {
    return event_cells(event, now, kEventsFields);
}

// Upstream's Event table has no Age; Name is last and only in -o wide.
std::vector<TableColumn> event_columns() {
    TableColumn name = name_column();
    name.priority = 1;
    return {
        column("Last Seen", doc::kEventLastTimestamp),
        column("Type", doc::kEventType),
        column("Reason", doc::kEventReason),
        column("Object", doc::kEventInvolvedObject),
        wide_column("Subobject", doc::kObjectReferenceFieldPath),
        wide_column("Source", doc::kEventSource),
        column("Message", doc::kEventMessage),
        wide_column("First Seen", doc::kEventFirstTimestamp),
        wide_column("Count", doc::kEventCount),
        name,
    };
}

}  // namespace

Printer core_event_printer() {
    return Printer{event_columns(), core_event_cells};
}

Printer events_event_printer() {
    return Printer{event_columns(), events_event_cells};
}

}  // namespace kcube::api::printers
