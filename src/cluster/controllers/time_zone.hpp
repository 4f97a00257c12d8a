#pragma once
// IANA time zones for CronJob schedules (spec.timeZone), read from the system's tz database
// (TZif files under /usr/share/zoneinfo, as Go's time.LoadLocation reads them). UTC and the
// fixed "Etc/GMT±N" zones work even without a tz database.
//
// Times are whole seconds since the epoch: `sys_seconds` for instants, and the same count read
// as wall-clock time for civil ("local") times, which is all cron arithmetic needs.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::controllers {

class TimeZone {
  public:
    using Instant = std::chrono::sys_seconds;
    // A wall-clock time in the zone, counted like an instant in UTC.
    using Civil = std::chrono::sys_seconds;

    static TimeZone utc();
    // The named zone ("Europe/Berlin", "UTC", "Etc/GMT+5"). Throws std::invalid_argument
    // ("unknown time zone <name>") if the name is not in the tz database.
    static TimeZone load(std::string_view name);
    // The zone this process runs in ($TZ, else /etc/localtime), as Go's time.Local; UTC if
    // neither names a readable zone.
    static TimeZone local();
    // From the contents of a TZif file (tests, and the loaders above). Throws
    // std::invalid_argument if `data` is not TZif.
    static TimeZone from_tzif(std::string name, std::string_view data);
    // From a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"). Throws std::invalid_argument.
    static TimeZone from_posix(std::string name, std::string_view rule);

    const std::string& name() const { return name_; }
    // Seconds east of UTC in effect at `t`.
    std::chrono::seconds offset_at(Instant t) const;
    Civil to_civil(Instant t) const { return Civil{t.time_since_epoch() + offset_at(t)}; }
    // The instant a wall-clock time names. A time skipped by a forward jump counts with the
    // offset before the jump (02:30 becomes 03:30 when clocks go from 02:00 to 03:00); a time
    // that occurs twice is its first occurrence.
    Instant to_instant(Civil civil) const;

  private:
    // A POSIX TZ rule: standard time, and optionally daylight time between two dates a year.
    struct Rule {
        std::int64_t std_offset = 0;  // seconds east of UTC
        std::int64_t dst_offset = 0;
        bool has_dst = false;
        struct Date {
            char kind = 'M';  // 'J' (Julian day 1..365, no Feb 29), 'D' (day 0..365), 'M'
            int month = 0, week = 0, day = 0;
            std::int64_t time = 7200;  // seconds after local midnight
        } start, end;
    };
    static Rule parse_rule(std::string_view text);
    // The rule's transitions in `year` as (instant, offset after) pairs, in order.
    std::vector<std::pair<std::int64_t, std::int64_t>> rule_transitions(int year) const;

    std::string name_;
    std::vector<std::int64_t> transitions_;  // instants, ascending
    std::vector<std::int64_t> offsets_;      // offset from transitions_[i] on
    std::int64_t initial_offset_ = 0;        // before the first transition
    std::optional<Rule> rule_;               // after the last transition
};

}  // namespace kcube::controllers
