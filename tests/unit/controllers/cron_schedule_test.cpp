#include "cluster/controllers/cron_schedule.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cluster/controllers/time_zone.hpp"

using kcube::controllers::CronSchedule;
using kcube::controllers::TimeZone;
using namespace std::chrono;

namespace {

sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

std::string parse_error(const std::string& spec) {
    try {
        CronSchedule::parse(spec);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(parsed)";
}

sys_seconds next(const std::string& spec, sys_seconds after,
                 const TimeZone& zone = TimeZone::utc()) {
    auto t = CronSchedule::parse(spec).next(after, zone);
    REQUIRE(t.has_value());
    return *t;
}

}  // namespace

TEST_CASE("cron: malformed schedules are rejected with robfig/cron's messages") {
    CHECK(parse_error("") == "empty spec string");
    CHECK(parse_error("* * * *") == "expected exactly 5 fields, found 4: [* * * *]");
    CHECK(parse_error("0 * * * * *") == "expected exactly 5 fields, found 6: [0 * * * * *]");
    CHECK(parse_error("60 * * * *") == "end of range (60) above maximum (59): 60");
    CHECK(parse_error("* 24 * * *") == "end of range (24) above maximum (23): 24");
    CHECK(parse_error("* * 0 * *") == "beginning of range (0) below minimum (1): 0");
    CHECK(parse_error("* * * 13 *") == "end of range (13) above maximum (12): 13");
    CHECK(parse_error("* * * * 7") == "end of range (7) above maximum (6): 7");
    CHECK(parse_error("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1");
    CHECK(parse_error("*/0 * * * *") == "step of range should be a positive number: */0");
    CHECK(parse_error("1-2-3 * * * *") == "too many hyphens: 1-2-3");
    CHECK(parse_error("*/2/3 * * * *") == "too many slashes: */2/3");
    CHECK(parse_error("x * * * *") ==
          "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
    CHECK(parse_error("* * * foo *") ==
          "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax");
    CHECK(parse_error("@fortnightly") == "unrecognized descriptor: @fortnightly");
    CHECK(parse_error("@every 1x").starts_with("failed to parse duration @every 1x: "));
    CHECK(parse_error("TZ=Nowhere/Atlantis * * * * *") ==
          "provided bad location Nowhere/Atlantis: unknown time zone Nowhere/Atlantis");
}

TEST_CASE("cron: steps, ranges, lists and names") {
    const auto t = at(2024, 5, 6, 10, 7, 30);  // a Monday
    CHECK(next("*/15 * * * *", t) == at(2024, 5, 6, 10, 15));
    CHECK(next("* * * * *", t) == at(2024, 5, 6, 10, 8));
    CHECK(next("5/20 * * * *", t) == at(2024, 5, 6, 10, 25));
    CHECK(next("10-50/20 * * * *", at(2024, 5, 6, 10, 31)) == at(2024, 5, 6, 10, 50));
    CHECK(next("0,30 9-17 * * *", at(2024, 5, 6, 17, 30)) == at(2024, 5, 7, 9, 0));
    CHECK(next("0 0 1 jan,JUL *", t) == at(2024, 7, 1));
    CHECK(next("0 9 * * MON-FRI", at(2024, 5, 10, 10)) == at(2024, 5, 13, 9));
    CHECK(next("0 9 * * sun", t) == at(2024, 5, 12, 9));
    CHECK(next("? ? ? ? ?", t) == at(2024, 5, 6, 10, 8));
    // Exactly on an activation: the next one, never the same instant again.
    CHECK(next("0 * * * *", at(2024, 5, 6, 10)) == at(2024, 5, 6, 11));
}

TEST_CASE("cron: day-of-month and day-of-week combine as in cron") {
    // Both restricted: either matches (the 13th, or any Friday).
    CHECK(next("0 0 13 * 5", at(2024, 9, 1)) == at(2024, 9, 6));
    CHECK(next("0 0 13 * 5", at(2024, 9, 10)) == at(2024, 9, 13));
    // One of them "*": both must match, so only Fridays.
    CHECK(next("0 0 * * 5", at(2024, 9, 1)) == at(2024, 9, 6));
    // "*/1" keeps the star meaning, "*/2" does not (robfig/cron).
    CHECK(next("0 0 1 * */1", at(2024, 9, 2)) == at(2024, 10, 1));
    CHECK(next("0 0 1 * */2", at(2024, 9, 2)) == at(2024, 9, 3));
}

TEST_CASE("cron: macros") {
    const auto t = at(2024, 5, 6, 10, 7, 30);
    CHECK(next("@hourly", t) == at(2024, 5, 6, 11));
    CHECK(next("@daily", t) == at(2024, 5, 7));
    CHECK(next("@midnight", t) == at(2024, 5, 7));
    CHECK(next("@weekly", t) == at(2024, 5, 12));
    CHECK(next("@monthly", t) == at(2024, 6, 1));
    CHECK(next("@yearly", t) == at(2025, 1, 1));
    CHECK(next("@annually", t) == at(2025, 1, 1));
    CHECK(next("@every 1h30m", t) == t + minutes{90});
    CHECK(next("@every 10ms", t) == t + seconds{1});
}

TEST_CASE("cron: a schedule that never fires has no next time") {
    CHECK_FALSE(CronSchedule::parse("0 0 30 2 *").next(at(2024, 1, 1), TimeZone::utc()));
    CHECK(next("0 0 29 2 *", at(2024, 3, 1)) == at(2028, 2, 29));
}

TEST_CASE("cron: previous activation and missed runs") {
    const auto hourly = CronSchedule::parse("0 * * * *");
    CHECK(*hourly.previous(at(2024, 5, 6, 10, 30), TimeZone::utc()) == at(2024, 5, 6, 10));
    CHECK(*hourly.previous(at(2024, 5, 6, 10), TimeZone::utc()) == at(2024, 5, 6, 10));
    CHECK(*CronSchedule::parse("0 9 * * mon").previous(at(2024, 5, 6, 8), TimeZone::utc()) ==
          at(2024, 4, 29, 9));

    const auto minutely = CronSchedule::parse("* * * * *");
    auto missed =
        minutely.missed_since(at(2024, 5, 6, 10), at(2024, 5, 6, 10, 5, 30), TimeZone::utc());
    REQUIRE(missed.most_recent);
    CHECK(*missed.most_recent == at(2024, 5, 6, 10, 5));
    CHECK(missed.count == 5);
    // Nothing due yet.
    missed = minutely.missed_since(at(2024, 5, 6, 10), at(2024, 5, 6, 10, 0, 59), TimeZone::utc());
    CHECK_FALSE(missed.most_recent);
    // A long outage: the latest one, and a count that stops past the limit.
    missed = minutely.missed_since(at(2024, 5, 6), at(2024, 5, 9, 12, 0, 1), TimeZone::utc());
    CHECK(*missed.most_recent == at(2024, 5, 9, 12));
    CHECK(missed.count == 101);
    // "@every" counts from the last run.
    missed = CronSchedule::parse("@every 10m")
                 .missed_since(at(2024, 5, 6, 10, 1), at(2024, 5, 6, 10, 35), TimeZone::utc());
    CHECK(*missed.most_recent == at(2024, 5, 6, 10, 31));
    CHECK(missed.count == 3);
}

TEST_CASE("time zones: POSIX rules, daylight saving gaps and fixed zones") {
    const auto berlin = TimeZone::from_posix("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3");
    CHECK(berlin.offset_at(at(2024, 1, 15)) == hours{1});
    CHECK(berlin.offset_at(at(2024, 7, 15)) == hours{2});
    // Clocks go forward at 01:00 UTC on the last Sunday of March.
    CHECK(berlin.offset_at(at(2024, 3, 31, 0, 59, 59)) == hours{1});
    CHECK(berlin.offset_at(at(2024, 3, 31, 1)) == hours{2});
    CHECK(next("0 9 * * *", at(2024, 1, 10), berlin) == at(2024, 1, 10, 8));
    CHECK(next("0 9 * * *", at(2024, 7, 10), berlin) == at(2024, 7, 10, 7));
    // 02:30 does not exist on 2024-03-31 in Berlin: it runs at 03:30 local (01:30 UTC).
    CHECK(next("30 2 * * *", at(2024, 3, 30, 12), berlin) == at(2024, 3, 31, 1, 30));
    // 02:30 happens twice on 2024-10-27: once is enough.
    CHECK(next("30 2 * * *", at(2024, 10, 26, 12), berlin) == at(2024, 10, 27, 0, 30));
    CHECK(next("30 2 * * *", at(2024, 10, 27, 0, 30), berlin) == at(2024, 10, 28, 1, 30));

    const auto sydney = TimeZone::from_posix("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3");
    CHECK(sydney.offset_at(at(2024, 1, 15)) == hours{11});
    CHECK(sydney.offset_at(at(2024, 7, 15)) == hours{10});

    CHECK(TimeZone::load("UTC").offset_at(at(2024, 7, 1)) == seconds{0});
    CHECK(TimeZone::load("Etc/GMT+5").offset_at(at(2024, 7, 1)) == hours{-5});
    CHECK(TimeZone::load("Etc/GMT-14").offset_at(at(2024, 7, 1)) == hours{14});
    CHECK_THROWS_AS(TimeZone::load("Nowhere/Atlantis"), std::invalid_argument);
    CHECK_THROWS_AS(TimeZone::load("../../etc/passwd"), std::invalid_argument);
    CHECK_THROWS_AS(TimeZone::load("/etc/localtime"), std::invalid_argument);
}

TEST_CASE("time zones: the system tz database, when installed") {
    const std::filesystem::path file = "/usr/share/zoneinfo/America/New_York";
    if (!std::filesystem::exists(file)) return;
    const auto zone = TimeZone::load("America/New_York");
    CHECK(zone.offset_at(at(2024, 1, 15)) == hours{-5});
    CHECK(zone.offset_at(at(2024, 7, 15)) == hours{-4});
    // Far past the file's explicit transitions, its footer rule still applies.
    CHECK(zone.offset_at(at(2090, 7, 15)) == hours{-4});
    CHECK(zone.offset_at(at(2090, 12, 15)) == hours{-5});
    CHECK(next("0 12 * * *", at(2024, 7, 1), zone) == at(2024, 7, 1, 16));
    std::ifstream in(file, std::ios::binary);
    std::ostringstream data;
    data << in.rdbuf();
    CHECK(TimeZone::from_tzif("x", data.str()).offset_at(at(2024, 12, 1)) == hours{-5});
    CHECK_THROWS_AS(TimeZone::from_tzif("x", "not a zone"), std::invalid_argument);
}
