#include "cluster/controllers/time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace kcube::controllers {
namespace {
using namespace std::chrono;

constexpr std::int64_t kDay = 86400;

[[noreturn]] void unknown_zone(std::string_view name) {
    throw std::invalid_argument("unknown time zone " + std::string(name));
}

std::int64_t read_be(std::string_view data, std::size_t at, int bytes) {
    if (at + static_cast<std::size_t>(bytes) > data.size()) {
        throw std::invalid_argument("truncated TZif data");
    }
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) {
        value = (value << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]);
    }
    // Sign-extend the 32- or 64-bit two's complement value.
    if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
    return static_cast<std::int64_t>(value);
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Go's LoadLocation refuses names that could leave the zoneinfo directory.
bool safe_zone_name(std::string_view name) {
    if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos) {
        return false;
    }
    return name != ".." && !name.starts_with("../") &&
           name.find("/../") == std::string_view::npos && !name.ends_with("/..");
}

// "Etc/GMT+5" is five hours *behind* UTC (POSIX sign convention); nullopt if not such a name.
std::optional<std::int64_t> etc_gmt_offset(std::string_view name) {
    if (name == "UTC" || name == "Etc/UTC" || name == "GMT" || name == "Etc/GMT" ||
        name == "Etc/Universal" || name == "Universal" || name == "Etc/Zulu" || name == "Zulu") {
        return 0;
    }
    constexpr std::string_view prefix = "Etc/GMT";
    if (!name.starts_with(prefix) || name.size() < prefix.size() + 2) return std::nullopt;
    const char sign = name[prefix.size()];
    if (sign != '+' && sign != '-') return std::nullopt;
    const std::string_view digits = name.substr(prefix.size() + 1);
    if (digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    const int hours = std::stoi(std::string(digits));
    if ((sign == '+' && hours > 12) || (sign == '-' && hours > 14)) return std::nullopt;
    return (sign == '+' ? -hours : hours) * std::int64_t{3600};
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
    return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

bool leap_year(int y) {
    return year{y}.is_leap();
}

// Parses POSIX "[+-]hh[:mm[:ss]]" at `pos`; returns seconds.
std::int64_t parse_posix_time(std::string_view text, std::size_t& pos) {
    int sign = 1;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        if (text[pos] == '-') sign = -1;
        ++pos;
    }
    std::int64_t total = 0;
    for (int part = 0; part < 3; ++part) {
        if (part > 0) {
            if (pos >= text.size() || text[pos] != ':') break;
            ++pos;
        }
        const std::size_t start = pos;
        std::int64_t value = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            value = value * 10 + (text[pos] - '0');
            ++pos;
        }
        if (pos == start) throw std::invalid_argument("bad time in TZ rule");
        total += value * (part == 0 ? 3600 : part == 1 ? 60 : 1);
    }
    return sign * total;
}

int parse_number(std::string_view text, std::size_t& pos) {
    const std::size_t start = pos;
    int value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        value = value * 10 + (text[pos] - '0');
        ++pos;
    }
    if (pos == start) throw std::invalid_argument("bad number in TZ rule");
    return value;
}

std::string_view parse_abbreviation(std::string_view text, std::size_t& pos) {
    const std::size_t start = pos;
    if (pos < text.size() && text[pos] == '<') {
        const auto close = text.find('>', pos);
        if (close == std::string_view::npos) throw std::invalid_argument("bad TZ abbreviation");
        pos = close + 1;
        return text.substr(start + 1, close - start - 1);
    }
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) {
        ++pos;
    }
    if (pos - start < 3) throw std::invalid_argument("bad TZ abbreviation");
    return text.substr(start, pos - start);
}

}  // namespace

TimeZone::Rule TimeZone::parse_rule(std::string_view text) {
    Rule rule;
    std::size_t pos = 0;
    parse_abbreviation(text, pos);
    rule.std_offset = -parse_posix_time(text, pos);
    rule.dst_offset = rule.std_offset;
    if (pos >= text.size()) return rule;
    parse_abbreviation(text, pos);
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (pos < text.size() && text[pos] != ',') rule.dst_offset = -parse_posix_time(text, pos);
    auto parse_date = [&](Rule::Date& date) {
        if (pos >= text.size() || text[pos] != ',') throw std::invalid_argument("bad TZ rule");
        ++pos;
        if (pos < text.size() && text[pos] == 'J') {
            ++pos;
            date.kind = 'J';
            date.day = parse_number(text, pos);
        } else if (pos < text.size() && text[pos] == 'M') {
            ++pos;
            date.kind = 'M';
            date.month = parse_number(text, pos);
            if (pos >= text.size() || text[pos] != '.') throw std::invalid_argument("bad TZ rule");
            ++pos;
            date.week = parse_number(text, pos);
            if (pos >= text.size() || text[pos] != '.') throw std::invalid_argument("bad TZ rule");
            ++pos;
            date.day = parse_number(text, pos);
            if (date.month < 1 || date.month > 12 || date.week < 1 || date.week > 5 ||
                date.day > 6) {
                throw std::invalid_argument("bad TZ rule");
            }
        } else {
            date.kind = 'D';
            date.day = parse_number(text, pos);
        }
        if (pos < text.size() && text[pos] == '/') {
            ++pos;
            date.time = parse_posix_time(text, pos);
        }
    };
    if (pos >= text.size()) {
        // No dates given: the US rules, as POSIX implementations (and Go) assume.
        rule.start = {'M', 3, 2, 0, 7200};
        rule.end = {'M', 11, 1, 0, 7200};
        return rule;
    }
    parse_date(rule.start);
    parse_date(rule.end);
    if (pos != text.size()) throw std::invalid_argument("bad TZ rule");
    return rule;
}

std::vector<std::pair<std::int64_t, std::int64_t>> TimeZone::rule_transitions(int y) const {
    const Rule& rule = *rule_;
    auto local_midnight = [&](const Rule::Date& date) -> std::int64_t {
        switch (date.kind) {
            case 'J': {
                int day_of_year = date.day - 1;
                if (leap_year(y) && date.day >= 60) ++day_of_year;
                return (days_from_civil(y, 1, 1) + day_of_year) * kDay;
            }
            case 'D':
                return (days_from_civil(y, 1, 1) + date.day) * kDay;
            default: {
                const auto first = days_from_civil(y, static_cast<unsigned>(date.month), 1);
                const unsigned first_weekday = weekday{sys_days{days{first}}}.c_encoding();
                int day =
                    1 + (date.day - static_cast<int>(first_weekday) + 7) % 7 + (date.week - 1) * 7;
                const year_month_day_last month_end{
                    year{y}, month_day_last{month{static_cast<unsigned>(date.month)}}};
                const auto days_in_month = static_cast<int>(static_cast<unsigned>(month_end.day()));
                while (day > days_in_month)
                    day -= 7;
                return (first + day - 1) * kDay;
            }
        }
    };
    // Daylight time starts at a wall-clock time of standard time, and ends at one of daylight.
    const std::int64_t start = local_midnight(rule.start) + rule.start.time - rule.std_offset;
    const std::int64_t end = local_midnight(rule.end) + rule.end.time - rule.dst_offset;
    std::vector<std::pair<std::int64_t, std::int64_t>> out{{start, rule.dst_offset},
                                                           {end, rule.std_offset}};
    std::sort(out.begin(), out.end());
    return out;
}

TimeZone TimeZone::utc() {
    TimeZone zone;
    zone.name_ = "UTC";
    return zone;
}

TimeZone TimeZone::from_posix(std::string name, std::string_view rule) {
    TimeZone zone;
    zone.name_ = std::move(name);
    zone.rule_ = parse_rule(rule);
    zone.initial_offset_ = zone.rule_->std_offset;
    return zone;
}

TimeZone TimeZone::from_tzif(std::string name, std::string_view data) {
    if (!data.starts_with("TZif") || data.size() < 44) {
        throw std::invalid_argument("not a TZif file");
    }
    struct Counts {
        std::int64_t isut, isstd, leap, time, type, chars;
    };
    auto counts_at = [&](std::size_t at) {
        return Counts{read_be(data, at + 20, 4), read_be(data, at + 24, 4),
                      read_be(data, at + 28, 4), read_be(data, at + 32, 4),
                      read_be(data, at + 36, 4), read_be(data, at + 40, 4)};
    };
    const char version = data[4];
    std::size_t header = 0;
    Counts counts = counts_at(header);
    int time_size = 4;
    if (version >= '2') {
        // Skip the 32-bit block; the 64-bit one after it covers all times.
        const std::size_t v1_size =
            static_cast<std::size_t>(counts.time * 5 + counts.type * 6 + counts.chars +
                                     counts.leap * 8 + counts.isstd + counts.isut);
        header = 44 + v1_size;
        if (data.substr(header, 4) != "TZif") throw std::invalid_argument("bad TZif v2 header");
        counts = counts_at(header);
        time_size = 8;
    }
    TimeZone zone;
    zone.name_ = std::move(name);
    std::size_t at = header + 44;
    std::vector<std::int64_t> times;
    for (std::int64_t i = 0; i < counts.time; ++i, at += static_cast<std::size_t>(time_size)) {
        times.push_back(read_be(data, at, time_size));
    }
    std::vector<std::size_t> type_of;
    for (std::int64_t i = 0; i < counts.time; ++i, ++at) {
        type_of.push_back(static_cast<std::size_t>(read_be(data, at, 1)));
    }
    std::vector<std::int64_t> type_offsets;
    for (std::int64_t i = 0; i < counts.type; ++i, at += 6) {
        type_offsets.push_back(read_be(data, at, 4));
    }
    if (type_offsets.empty()) throw std::invalid_argument("TZif data without local time types");
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (type_of[i] >= type_offsets.size()) throw std::invalid_argument("bad TZif type index");
        zone.transitions_.push_back(times[i]);
        zone.offsets_.push_back(type_offsets[type_of[i]]);
    }
    zone.initial_offset_ = type_offsets.front();
    if (version >= '2') {
        at +=
            static_cast<std::size_t>(counts.chars + counts.leap * 12 + counts.isstd + counts.isut);
        // The footer: "\n<POSIX TZ rule>\n", which governs times after the last transition.
        if (at < data.size() && data[at] == '\n') {
            const auto end = data.find('\n', at + 1);
            const std::string_view footer =
                data.substr(at + 1, end == std::string_view::npos ? end : end - at - 1);
            if (!footer.empty()) zone.rule_ = parse_rule(footer);
        }
    }
    return zone;
}

TimeZone TimeZone::load(std::string_view name) {
    if (name.empty() || name == "UTC") return utc();
    if (name == "Local") return local();
    if (!safe_zone_name(name)) unknown_zone(name);
    std::vector<std::string> directories;
    if (const char* env = std::getenv("ZONEINFO"); env && *env) directories.emplace_back(env);
    directories.insert(directories.end(), {"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo",
                                           "/usr/lib/locale/TZ", "/etc/zoneinfo"});
    for (const auto& directory : directories) {
        if (auto data = read_file(directory + "/" + std::string(name))) {
            try {
                return from_tzif(std::string(name), *data);
            } catch (const std::invalid_argument&) {
                unknown_zone(name);
            }
        }
    }
    if (auto offset = etc_gmt_offset(name)) {
        TimeZone zone;
        zone.name_ = std::string(name);
        zone.initial_offset_ = *offset;
        return zone;
    }
    unknown_zone(name);
}

TimeZone TimeZone::local() {
    const char* tz = std::getenv("TZ");
    try {
        if (tz == nullptr) {
            if (auto data = read_file("/etc/localtime")) return from_tzif("Local", *data);
            return utc();
        }
        std::string_view name(tz);
        if (name.starts_with(':')) name.remove_prefix(1);
        if (name.empty()) return utc();
        if (name.starts_with('/')) {
            if (auto data = read_file(std::string(name))) return from_tzif("Local", *data);
            return utc();
        }
        return load(name);
    } catch (const std::invalid_argument&) {
        return utc();
    }
}

std::chrono::seconds TimeZone::offset_at(Instant t) const {
    const std::int64_t at = t.time_since_epoch().count();
    if (!transitions_.empty() && at < transitions_.front()) return seconds{initial_offset_};
    std::int64_t offset = initial_offset_;
    std::int64_t since = std::numeric_limits<std::int64_t>::min();
    if (!transitions_.empty()) {
        const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), at);
        const auto index = static_cast<std::size_t>(std::distance(transitions_.begin(), it)) - 1;
        offset = offsets_[index];
        since = transitions_[index];
        if (index + 1 < transitions_.size()) return seconds{offset};
    }
    if (!rule_) return seconds{offset};
    if (!rule_->has_dst) return seconds{rule_->std_offset};
    // After the last listed transition the footer rule decides: find its latest change <= t.
    const int y = static_cast<int>(year_month_day{floor<days>(t)}.year());
    std::int64_t best_time = std::numeric_limits<std::int64_t>::min();
    std::int64_t best_offset = rule_->std_offset;
    for (int candidate = y - 1; candidate <= y + 1; ++candidate) {
        for (const auto& [when, value] : rule_transitions(candidate)) {
            if (when <= at && when > best_time) {
                best_time = when;
                best_offset = value;
            }
        }
    }
    if (best_time < since) return seconds{offset};
    return seconds{best_offset};
}

TimeZone::Instant TimeZone::to_instant(Civil civil) const {
    // Offsets a day either side bracket any single transition near this wall-clock time.
    const auto before = offset_at(Instant{civil.time_since_epoch() - days{1}});
    const auto after = offset_at(Instant{civil.time_since_epoch() + days{1}});
    std::optional<Instant> best;
    for (const auto offset : {before, after}) {
        const Instant candidate{civil.time_since_epoch() - offset};
        if (offset_at(candidate) == offset && (!best || candidate < *best)) best = candidate;
    }
    if (best) return *best;
    return Instant{civil.time_since_epoch() - before};  // in a gap: the offset before the jump
}

}  // namespace kcube::controllers
