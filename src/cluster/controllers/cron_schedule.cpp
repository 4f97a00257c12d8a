#include "cluster/controllers/cron_schedule.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>
#include <vector>

namespace kcube::controllers {
namespace {
using namespace std::chrono;

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument(message);
}

struct Bounds {
    unsigned min, max;
    const std::map<std::string, unsigned, std::less<>>* names = nullptr;
};

const std::map<std::string, unsigned, std::less<>> kMonthNames{
    {"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4},  {"may", 5},  {"jun", 6},
    {"jul", 7}, {"aug", 8}, {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, unsigned, std::less<>> kDayNames{
    {"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3}, {"thu", 4}, {"fri", 5}, {"sat", 6}};

const Bounds kMinutes{0, 59};
const Bounds kHours{0, 23};
const Bounds kDaysOfMonth{1, 31};
const Bounds kMonths{1, 12, &kMonthNames};
const Bounds kDaysOfWeek{0, 6, &kDayNames};

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto at = text.find(separator, start);
        parts.emplace_back(text.substr(start, at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

std::vector<std::string> fields_of(std::string_view text) {
    std::vector<std::string> fields;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
        const std::size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
        if (i > start) fields.emplace_back(text.substr(start, i - start));
    }
    return fields;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

// Go's strconv.Atoi, with robfig's wording around its errors.
unsigned must_parse_int(const std::string& expr) {
    std::string_view digits = expr;
    bool negative = false;
    if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
        negative = digits.front() == '-';
        digits.remove_prefix(1);
    }
    const bool ok = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    if (!ok) {
        fail("failed to parse int from " + expr + ": strconv.Atoi: parsing \"" + expr +
             "\": invalid syntax");
    }
    if (digits.size() > 18) {
        fail("failed to parse int from " + expr + ": strconv.Atoi: parsing \"" + expr +
             "\": value out of range");
    }
    const long long value = std::stoll(std::string(digits));
    if (negative && value != 0) {
        fail("negative number (-" + std::to_string(value) + ") not allowed: " + expr);
    }
    return static_cast<unsigned>(std::min<long long>(value, 1'000'000));
}

unsigned parse_int_or_name(const std::string& expr, const Bounds& bounds) {
    if (bounds.names) {
        std::string lower = expr;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (auto it = bounds.names->find(lower); it != bounds.names->end()) return it->second;
    }
    return must_parse_int(expr);
}

struct FieldBits {
    std::uint64_t bits = 0;
    bool star = false;
};

// One comma-separated element: "*", "?", "5", "1-5", "*/15", "10-50/10", "5/20", "mon-fri".
FieldBits parse_range(const std::string& expr, const Bounds& bounds) {
    const auto range_and_step = split(expr, '/');
    const auto low_and_high = split(range_and_step[0], '-');
    const bool single = low_and_high.size() == 1;
    unsigned start = 0, end = 0, step = 1;
    bool star = false;
    if (low_and_high[0] == "*" || low_and_high[0] == "?") {
        start = bounds.min;
        end = bounds.max;
        star = true;
    } else {
        start = parse_int_or_name(low_and_high[0], bounds);
        if (low_and_high.size() == 1) {
            end = start;
        } else if (low_and_high.size() == 2) {
            end = parse_int_or_name(low_and_high[1], bounds);
        } else {
            fail("too many hyphens: " + expr);
        }
    }
    if (range_and_step.size() == 2) {
        step = must_parse_int(range_and_step[1]);
        if (single) end = bounds.max;  // "N/step" means "N-max/step"
        if (step > 1) star = false;
    } else if (range_and_step.size() > 2) {
        fail("too many slashes: " + expr);
    }
    if (start < bounds.min) {
        fail("beginning of range (" + std::to_string(start) + ") below minimum (" +
             std::to_string(bounds.min) + "): " + expr);
    }
    if (end > bounds.max) {
        fail("end of range (" + std::to_string(end) + ") above maximum (" +
             std::to_string(bounds.max) + "): " + expr);
    }
    if (start > end) {
        fail("beginning of range (" + std::to_string(start) + ") beyond end of range (" +
             std::to_string(end) + "): " + expr);
    }
    if (step == 0) fail("step of range should be a positive number: " + expr);
    FieldBits out;
    out.star = star;
    for (unsigned value = start; value <= end; value += step)
        out.bits |= std::uint64_t{1} << value;
    return out;
}

FieldBits parse_field(const std::string& field, const Bounds& bounds) {
    FieldBits out;
    for (const auto& part : split(field, ',')) {
        const FieldBits bits = parse_range(part, bounds);
        out.bits |= bits.bits;
        out.star = out.star || bits.star;
    }
    return out;
}

// Go's time.ParseDuration, for "@every 1h30m".
seconds parse_go_duration(const std::string& text) {
    auto bad = [&]() -> seconds { fail("time: invalid duration \"" + text + "\""); };
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return seconds{0};
    if (s.empty()) return bad();
    static const std::vector<std::pair<std::string_view, double>> kUnits{
        {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"\xCE\xBCs", 1e-6},
        {"ms", 1e-3}, {"s", 1.0},   {"m", 60.0},         {"h", 3600.0}};
    double total = 0;
    while (!s.empty()) {
        std::size_t i = 0;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
            ++i;
        }
        if (i == 0) return bad();
        const std::string number(s.substr(0, i));
        if (number == ".") return bad();
        s.remove_prefix(i);
        std::size_t unit_length = 0;
        while (unit_length < s.size() &&
               !std::isdigit(static_cast<unsigned char>(s[unit_length])) && s[unit_length] != '.') {
            ++unit_length;
        }
        if (unit_length == 0) fail("time: missing unit in duration \"" + text + "\"");
        const std::string_view unit = s.substr(0, unit_length);
        s.remove_prefix(unit_length);
        auto it = std::find_if(kUnits.begin(), kUnits.end(),
                               [&](const auto& u) { return u.first == unit; });
        if (it == kUnits.end()) {
            fail("time: unknown unit \"" + std::string(unit) + "\" in duration \"" + text + "\"");
        }
        total += std::stod(number) * it->second;
    }
    if (negative) total = -total;
    return seconds{static_cast<std::int64_t>(total)};  // whole seconds, as robfig truncates
}

std::string go_slice(const std::vector<std::string>& fields) {
    std::string out = "[";
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += ' ';
        out += fields[i];
    }
    return out + "]";
}

TimeZone::Civil floor_minute(TimeZone::Civil t) {
    return floor<minutes>(t);
}

TimeZone::Civil start_of_next_month(const year_month_day& ymd) {
    const year_month next = ymd.year() / ymd.month() + months{1};
    return sys_days{next / 1};
}

TimeZone::Civil start_of_month(const year_month_day& ymd) {
    return sys_days{ymd.year() / ymd.month() / 1};
}

constexpr auto kSearchLimit = days{366 * 5};

}  // namespace

CronSchedule CronSchedule::parse(std::string_view spec) {
    if (spec.empty()) fail("empty spec string");
    CronSchedule schedule;
    std::string_view rest = spec;
    if (rest.starts_with("TZ=") || rest.starts_with("CRON_TZ=")) {
        const auto eq = rest.find('=');
        const auto space = rest.find(' ');
        const std::string zone(rest.substr(
            eq + 1, space == std::string_view::npos ? std::string_view::npos : space - eq - 1));
        try {
            TimeZone::load(zone);
        } catch (const std::invalid_argument& e) {
            fail("provided bad location " + zone + ": " + e.what());
        }
        schedule.zone_name_ = zone;
        rest = space == std::string_view::npos ? std::string_view{} : trim(rest.substr(space));
    }
    if (rest.starts_with("@")) {
        const std::string descriptor(rest);
        const char* fields = nullptr;
        if (descriptor == "@yearly" || descriptor == "@annually") {
            fields = "0 0 1 1 *";
        } else if (descriptor == "@monthly") {
            fields = "0 0 1 * *";
        } else if (descriptor == "@weekly") {
            fields = "0 0 * * 0";
        } else if (descriptor == "@daily" || descriptor == "@midnight") {
            fields = "0 0 * * *";
        } else if (descriptor == "@hourly") {
            fields = "0 * * * *";
        } else if (descriptor.starts_with("@every ")) {
            seconds delay{0};
            try {
                delay = parse_go_duration(descriptor.substr(7));
            } catch (const std::invalid_argument& e) {
                fail("failed to parse duration " + descriptor + ": " + e.what());
            }
            schedule.every_ = std::max(delay, seconds{1});
            return schedule;
        } else {
            fail("unrecognized descriptor: " + descriptor);
        }
        CronSchedule expanded = parse(fields);
        expanded.zone_name_ = schedule.zone_name_;
        return expanded;
    }
    const auto fields = fields_of(rest);
    if (fields.size() != 5) {
        fail("expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " +
             go_slice(fields));
    }
    schedule.minutes_ = parse_field(fields[0], kMinutes).bits;
    schedule.hours_ = parse_field(fields[1], kHours).bits;
    const FieldBits dom = parse_field(fields[2], kDaysOfMonth);
    schedule.months_ = parse_field(fields[3], kMonths).bits;
    const FieldBits dow = parse_field(fields[4], kDaysOfWeek);
    schedule.days_of_month_ = dom.bits;
    schedule.dom_star_ = dom.star;
    schedule.days_of_week_ = dow.bits;
    schedule.dow_star_ = dow.star;
    return schedule;
}

bool CronSchedule::day_matches(sys_days day) const {
    const year_month_day ymd{day};
    const bool dom = (days_of_month_ >> static_cast<unsigned>(ymd.day())) & 1u;
    const bool dow = (days_of_week_ >> weekday{day}.c_encoding()) & 1u;
    if (dom_star_ || dow_star_) return dom && dow;
    return dom || dow;
}

std::optional<CronSchedule::Instant> CronSchedule::next(Instant after, const TimeZone& zone) const {
    if (every_.count() > 0) return after + every_;
    TimeZone::Civil c = floor_minute(zone.to_civil(after)) + minutes{1};
    const TimeZone::Civil limit = c + kSearchLimit;
    while (c <= limit) {
        const sys_days day = floor<days>(c);
        const year_month_day ymd{day};
        const auto since_midnight = c - day;
        const auto hour = static_cast<unsigned>(duration_cast<hours>(since_midnight).count());
        const auto minute =
            static_cast<unsigned>(duration_cast<minutes>(since_midnight).count() % 60);
        if (!((months_ >> static_cast<unsigned>(ymd.month())) & 1u)) {
            c = start_of_next_month(ymd);
        } else if (!day_matches(day)) {
            c = day + days{1};
        } else if (!((hours_ >> hour) & 1u)) {
            c = day + hours{hour + 1};
        } else if (!((minutes_ >> minute) & 1u)) {
            c += minutes{1};
        } else {
            const Instant instant = zone.to_instant(c);
            if (instant > after) return instant;
            c += minutes{1};
        }
    }
    return std::nullopt;
}

std::optional<CronSchedule::Instant> CronSchedule::previous(Instant at,
                                                            const TimeZone& zone) const {
    if (every_.count() > 0) return std::nullopt;  // "@every" has no fixed grid
    TimeZone::Civil c = floor_minute(zone.to_civil(at));
    const TimeZone::Civil limit = c - kSearchLimit;
    while (c >= limit) {
        const sys_days day = floor<days>(c);
        const year_month_day ymd{day};
        const auto since_midnight = c - day;
        const auto hour = static_cast<unsigned>(duration_cast<hours>(since_midnight).count());
        const auto minute =
            static_cast<unsigned>(duration_cast<minutes>(since_midnight).count() % 60);
        if (!((months_ >> static_cast<unsigned>(ymd.month())) & 1u)) {
            c = start_of_month(ymd) - minutes{1};
        } else if (!day_matches(day)) {
            c = TimeZone::Civil{day} - minutes{1};
        } else if (!((hours_ >> hour) & 1u)) {
            c = day + hours{hour} - minutes{1};
        } else if (!((minutes_ >> minute) & 1u)) {
            c -= minutes{1};
        } else {
            const Instant instant = zone.to_instant(c);
            if (instant <= at) return instant;
            c -= minutes{1};
        }
    }
    return std::nullopt;
}

CronSchedule::Missed CronSchedule::missed_since(Instant earliest, Instant now, const TimeZone& zone,
                                                int count_limit) const {
    Missed missed;
    const auto first = next(earliest, zone);
    if (!first || *first > now) return missed;
    if (every_.count() > 0) {
        const auto periods = (now - *first) / every_;
        missed.most_recent = *first + periods * every_;
        missed.count = static_cast<int>(std::min<std::int64_t>(periods + 1, count_limit + 1));
        return missed;
    }
    missed.most_recent = previous(now, zone);
    if (!missed.most_recent || *missed.most_recent < *first) missed.most_recent = *first;
    missed.count = 1;
    for (auto t = *first; t < *missed.most_recent && missed.count <= count_limit;) {
        const auto following = next(t, zone);
        if (!following) break;
        t = *following;
        ++missed.count;
    }
    return missed;
}

}  // namespace kcube::controllers
