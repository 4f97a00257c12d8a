#pragma once
// CronJob schedules, parsed and evaluated as upstream's controller does with robfig/cron's
// standard parser: five fields "minute hour day-of-month month day-of-week" with lists (1,5),
// ranges (1-5), steps (*/15, 10-50/10, 5/20), "*" or "?", month names JAN-DEC and day names
// SUN-SAT (any case); the macros @yearly @annually @monthly @weekly @daily @midnight @hourly;
// "@every <duration>"; and a leading "TZ=<zone>" or "CRON_TZ=<zone>".
//
// Day-of-month and day-of-week combine as in cron: if either is "*" (or "?"), both must match;
// otherwise either may.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/controllers/time_zone.hpp"

namespace kcube::controllers {

class CronSchedule {
  public:
    using Instant = std::chrono::sys_seconds;

    // Throws std::invalid_argument with robfig/cron's message ("expected exactly 5 fields,
    // found 4: [* * * *]", "end of range (60) above maximum (59): 0-60", ...).
    static CronSchedule parse(std::string_view spec);

    // The zone named in the spec itself ("TZ=..."), or "" if none.
    const std::string& zone_name() const { return zone_name_; }

    // The first activation strictly after `after`, with the fields read as wall-clock time in
    // `zone`; nullopt if there is none within five years (e.g. "0 0 30 2 *").
    std::optional<Instant> next(Instant after, const TimeZone& zone) const;
    // The last activation at or before `at` (nullopt if none within five years).
    std::optional<Instant> previous(Instant at, const TimeZone& zone) const;

    // The most recent activation after `earliest` and at or before `now`, and how many there
    // were (counting stops at `count_limit` + 1): what a controller that last ran at
    // `earliest` has missed.
    struct Missed {
        std::optional<Instant> most_recent;
        int count = 0;
    };
    Missed missed_since(Instant earliest, Instant now, const TimeZone& zone,
                        int count_limit = 100) const;

  private:
    bool day_matches(std::chrono::sys_days day) const;

    // Bit n set: value n allowed.
    std::uint64_t minutes_ = 0;
    std::uint64_t hours_ = 0;
    std::uint64_t days_of_month_ = 0;
    std::uint64_t months_ = 0;
    std::uint64_t days_of_week_ = 0;
    bool dom_star_ = false;
    bool dow_star_ = false;
    std::chrono::seconds every_{0};  // "@every": a fixed delay instead of fields
    std::string zone_name_;
};

}  // namespace kcube::controllers
