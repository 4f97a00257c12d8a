#include "cluster/api/printers.hpp"

#include <boost/json/string.hpp>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api {
namespace json = boost::json;

const Printer* find_printer(std::string_view group, std::string_view kind) {
    using Registry = const std::vector<printers::KindPrinter>& (*)();
    static constexpr Registry kRegistries[] = {
        printers::core_printers,       printers::apps_printers,    printers::batch_printers,
        printers::networking_printers, printers::cluster_printers, printers::autoscaling_printers,
    };
    for (Registry registry : kRegistries) {
        for (const printers::KindPrinter& entry : registry()) {
            if (entry.group == group && entry.kind == kind) return &entry.printer;
        }
    }
    return nullptr;
}

namespace {

// The default table's "Created At" cell: the creation time in UTC, RFC 3339 with seconds, as
// Go's time.Time.UTC().Format(time.RFC3339) writes it; the client turns it into an age. An
// unset time is Go's zero time.
std::string created_at(const json::object& object) {
    using namespace std::chrono;
    const auto time = printers::time_at(object, {"metadata", "creationTimestamp"});
    if (!time) return "0001-01-01T00:00:00Z";
    const auto seconds = floor<std::chrono::seconds>(*time);
    const auto days = floor<std::chrono::days>(seconds);
    const year_month_day date{days};
    const hh_mm_ss clock{seconds - days};
    char text[32];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(date.year()),
                  unsigned(date.month()), unsigned(date.day()), int(clock.hours().count()),
                  int(clock.minutes().count()), int(clock.seconds().count()));
    return text;
}

json::array default_cells(const json::object& object, std::chrono::system_clock::time_point) {
    return json::array{printers::name_of(object), created_at(object)};
}

}  // namespace

const Printer& default_printer() {
    static const Printer printer{
        {
            printers::name_column(),
            TableColumn{"Created At", "date", "",
                        std::string(printers::doc::kObjectMetaCreationTimestamp), 0},
        },
        default_cells,
    };
    return printer;
}

std::string human_duration(std::chrono::system_clock::duration d) {
    using namespace std::chrono;
    const std::int64_t ns = duration_cast<nanoseconds>(d).count();
    // Go truncates toward zero, and so does integer division here.
    const std::int64_t seconds = ns / 1'000'000'000;
    const auto str = [](std::int64_t n) { return std::to_string(n); };
    // Up to two seconds in the future is tolerated as clock skew.
    if (seconds < -1) return "<invalid>";
    if (seconds < 0) return "0s";
    if (seconds < 60 * 2) return str(seconds) + "s";
    const std::int64_t minutes = ns / 60'000'000'000;
    if (minutes < 10) {
        const std::int64_t s = seconds % 60;
        return s == 0 ? str(minutes) + "m" : str(minutes) + "m" + str(s) + "s";
    }
    if (minutes < 60 * 3) return str(minutes) + "m";
    const std::int64_t hours = ns / 3'600'000'000'000;
    if (hours < 8) {
        const std::int64_t m = minutes % 60;
        return m == 0 ? str(hours) + "h" : str(hours) + "h" + str(m) + "m";
    }
    if (hours < 48) return str(hours) + "h";
    if (hours < 24 * 8) {
        const std::int64_t h = hours % 24;
        return h == 0 ? str(hours / 24) + "d" : str(hours / 24) + "d" + str(h) + "h";
    }
    if (hours < 24 * 365 * 2) return str(hours / 24) + "d";
    if (hours < 24 * 365 * 8) {
        const std::int64_t dy = (hours / 24) % 365;
        const std::int64_t years = hours / 24 / 365;
        return dy == 0 ? str(years) + "y" : str(years) + "y" + str(dy) + "d";
    }
    return str(hours / 24 / 365) + "y";
}

}  // namespace kcube::api
