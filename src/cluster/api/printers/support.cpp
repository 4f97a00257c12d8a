#include "cluster/api/printers/support.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <set>

#include "cluster/api/printers/descriptions.hpp"

namespace kcube::api::printers {
namespace json = boost::json;

// --- Reading JSON ------------------------------------------------------------------------------

const json::value* find(const json::object& object, Path path) {
    const json::object* current = &object;
    const json::value* value = nullptr;
    for (std::string_view key : path) {
        if (current == nullptr) return nullptr;
        value = current->if_contains(key);
        if (value == nullptr) return nullptr;
        current = value->if_object();
    }
    return value;
}

bool present(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    return value != nullptr && !value->is_null();
}

std::string_view get_string(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    if (value == nullptr || !value->is_string()) return {};
    return value->get_string();
}

std::int64_t get_int(const json::object& object, Path path, std::int64_t fallback) {
    const json::value* value = find(object, path);
    if (value == nullptr) return fallback;
    if (value->is_int64()) return value->get_int64();
    if (value->is_uint64()) return static_cast<std::int64_t>(value->get_uint64());
    // Clients may send 3.0 for 3; the API server would have stored an integer.
    if (value->is_double()) return static_cast<std::int64_t>(value->get_double());
    return fallback;
}

bool get_bool(const json::object& object, Path path, bool fallback) {
    const json::value* value = find(object, path);
    if (value == nullptr || !value->is_bool()) return fallback;
    return value->get_bool();
}

const json::object* get_object(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    return value == nullptr ? nullptr : value->if_object();
}

const json::array* get_array(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    return value == nullptr ? nullptr : value->if_array();
}

std::int64_t count(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    if (value == nullptr) return 0;
    if (const auto* members = value->if_object()) return static_cast<std::int64_t>(members->size());
    if (const auto* elements = value->if_array())
        return static_cast<std::int64_t>(elements->size());
    return 0;
}

std::vector<const json::object*> objects(const json::object& object, Path path) {
    std::vector<const json::object*> result;
    if (const json::array* elements = get_array(object, path)) {
        for (const json::value& element : *elements) {
            if (const auto* item = element.if_object()) result.push_back(item);
        }
    }
    return result;
}

std::string_view name_of(const json::object& object) {
    return get_string(object, {"metadata", "name"});
}

// --- Time --------------------------------------------------------------------------------------

namespace {

// Reads `width` decimal digits at `pos`.
bool read_digits(std::string_view text, size_t pos, size_t width, int& out) {
    if (pos + width > text.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + width; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

// Fractional seconds after the '.', as nanoseconds (digits past the ninth are dropped, as Go
// does). Advances `pos`.
bool read_fraction(std::string_view text, size_t& pos, std::int64_t& nanos) {
    nanos = 0;
    if (pos >= text.size() || text[pos] != '.') return true;
    ++pos;
    int digits = 0;
    for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
        if (digits < 9) {
            nanos = nanos * 10 + (text[pos] - '0');
            ++digits;
        }
    }
    if (digits == 0) return false;
    for (; digits < 9; ++digits)
        nanos *= 10;
    return true;
}

// "Z" or "+hh:mm"/"-hh:mm", as seconds east of UTC.
bool read_offset(std::string_view text, size_t pos, std::int64_t& offset) {
    if (pos + 1 == text.size() && text[pos] == 'Z') {
        offset = 0;
        return true;
    }
    int hours = 0;
    int minutes = 0;
    if (pos + 6 != text.size() || (text[pos] != '+' && text[pos] != '-') || text[pos + 3] != ':' ||
        !read_digits(text, pos + 1, 2, hours) || !read_digits(text, pos + 4, 2, minutes)) {
        return false;
    }
    offset = (hours * 3600 + minutes * 60) * (text[pos] == '-' ? -1 : 1);
    return true;
}

}  // namespace

std::optional<Clock::time_point> parse_time(std::string_view text) {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || !read_digits(text, 0, 4, y) ||
        !read_digits(text, 5, 2, mo) || !read_digits(text, 8, 2, d) ||
        !read_digits(text, 11, 2, h) || !read_digits(text, 14, 2, mi) ||
        !read_digits(text, 17, 2, s)) {
        return std::nullopt;
    }
    size_t pos = 19;
    std::int64_t nanos = 0;
    std::int64_t offset = 0;
    if (!read_fraction(text, pos, nanos) || !read_offset(text, pos, offset)) return std::nullopt;
    const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                              day{static_cast<unsigned>(d)}};
    if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;

    const std::int64_t seconds = std::int64_t{sys_days{date}.time_since_epoch().count()} * 86400 +
                                 h * 3600 + mi * 60 + s - offset;
    const std::int64_t go_zero =
        std::int64_t{sys_days{year{1} / 1 / 1}.time_since_epoch().count()} * 86400;
    if (seconds == go_zero && nanos == 0) return std::nullopt;
    // Clock::time_point holds nanoseconds since 1970 in 64 bits (years 1678 to 2261); clamp
    // anything outside so that ages stay finite, as Go saturates time.Since.
    const std::int64_t limit =
        duration_cast<std::chrono::seconds>(Clock::duration::max()).count() - 1;
    const std::int64_t clamped = std::clamp(seconds, -limit, limit);
    return Clock::time_point{
        duration_cast<Clock::duration>(std::chrono::seconds{clamped} + nanoseconds{nanos})};
}

std::optional<Clock::time_point> time_at(const json::object& object, Path path) {
    return parse_time(get_string(object, path));
}

std::string since(const std::optional<Clock::time_point>& time, Clock::time_point now) {
    using std::chrono::duration_cast;
    using std::chrono::seconds;
    if (!time) return "<unknown>";
    // Both ends fit the clock, their difference may not: saturate like Go's Time.Sub.
    const std::int64_t whole = duration_cast<seconds>(now.time_since_epoch()).count() -
                               duration_cast<seconds>(time->time_since_epoch()).count();
    const std::int64_t limit = duration_cast<seconds>(Clock::duration::max()).count() - 1;
    if (whole > limit) return human_duration(Clock::duration::max());
    if (whole < -limit) return human_duration(Clock::duration::min());
    return human_duration(now - *time);
}

std::string since(const json::object& object, Path path, Clock::time_point now) {
    return since(time_at(object, path), now);
}

std::string age(const json::object& object, Clock::time_point now) {
    return since(object, {"metadata", "creationTimestamp"}, now);
}

// --- Columns -----------------------------------------------------------------------------------

TableColumn name_column() {
    return TableColumn{"Name", "string", "name", std::string(doc::kObjectMetaName), 0};
}

TableColumn age_column() {
    return TableColumn{"Age", "string", "", std::string(doc::kObjectMetaCreationTimestamp), 0};
}

TableColumn column(std::string name, std::string_view description, std::string type) {
    return TableColumn{std::move(name), std::move(type), "", std::string(description), 0};
}

TableColumn wide_column(std::string name, std::string_view description, std::string type) {
    return TableColumn{std::move(name), std::move(type), "", std::string(description), 1};
}

// --- Formatting --------------------------------------------------------------------------------

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string result;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) result += separator;
        result += items[i];
    }
    return result;
}

std::string lower_ascii(std::string_view text) {
    std::string result(text);
    for (char& c : result)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
}

std::string trim_space(std::string_view text) {
    const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    return std::string(text);
}

std::string format_labels(const json::object* labels) {
    std::vector<std::string> pairs;
    if (labels != nullptr) {
        for (const auto& [key, value] : *labels) {
            std::string text = value.is_string() ? std::string(value.get_string()) : "";
            pairs.push_back(std::string(key) + "=" + text);
        }
    }
    // Upstream sorts the "key=value" strings, not the keys ("a.b=1" before "a=2").
    std::sort(pairs.begin(), pairs.end());
    return pairs.empty() ? "<none>" : join(pairs, ",");
}

namespace {

struct Requirement {
    std::string key;
    std::string text;
};

std::vector<std::string> string_values(const json::object& expression) {
    std::vector<std::string> values;
    if (const auto* list = expression.if_contains("values")) {
        if (const auto* elements = list->if_array()) {
            for (const json::value& v : *elements) {
                values.emplace_back(v.is_string() ? std::string_view(v.get_string()) : "");
            }
        }
    }
    return values;
}

// One matchExpressions entry as labels.Requirement prints it, or nullopt when upstream's
// NewRequirement would reject it.
std::optional<std::string> expression_text(const json::object& expression) {
    const std::string key(get_string(expression, {"key"}));
    const std::string_view op = get_string(expression, {"operator"});
    std::vector<std::string> values = string_values(expression);
    if (op == "Exists" || op == "DoesNotExist") {
        if (!values.empty()) return std::nullopt;
        return (op == "DoesNotExist" ? "!" : "") + key;
    }
    if (op != "In" && op != "NotIn") return std::nullopt;
    if (values.empty()) return std::nullopt;
    // Several values print sorted; the selector itself keeps its order.
    if (values.size() > 1) std::sort(values.begin(), values.end());
    return key + (op == "In" ? " in (" : " notin (") + join(values, ",") + ")";
}

}  // namespace

std::optional<std::string> selector_string(const json::object* selector) {
    if (selector == nullptr) return std::string();
    std::vector<Requirement> requirements;
    if (const json::object* match = get_object(*selector, {"matchLabels"})) {
        for (const auto& [key, value] : *match) {
            std::string text = value.is_string() ? std::string(value.get_string()) : "";
            requirements.push_back({std::string(key), std::string(key) + "=" + text});
        }
    }
    for (const json::object* expression : objects(*selector, {"matchExpressions"})) {
        std::optional<std::string> text = expression_text(*expression);
        if (!text) return std::nullopt;
        requirements.push_back({std::string(get_string(*expression, {"key"})), std::move(*text)});
    }
    std::stable_sort(requirements.begin(), requirements.end(),
                     [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
    std::vector<std::string> parts;
    for (auto& requirement : requirements)
        parts.push_back(std::move(requirement.text));
    return join(parts, ",");
}

std::string format_label_selector(const json::object* selector) {
    std::optional<std::string> text = selector_string(selector);
    if (!text) return "<error>";
    return text->empty() ? "<none>" : *text;
}

std::pair<std::string, std::string> container_cells(const json::array* containers) {
    std::vector<std::string> names;
    std::vector<std::string> images;
    if (containers != nullptr) {
        for (const json::value& element : *containers) {
            const json::object* container = element.if_object();
            names.emplace_back(container ? get_string(*container, {"name"}) : "");
            images.emplace_back(container ? get_string(*container, {"image"}) : "");
        }
    }
    return {join(names, ","), join(images, ",")};
}

std::string quantity_at(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    if (value == nullptr || value->is_null()) return "0";
    if (value->is_string()) return canonical_quantity(value->get_string());
    // A bare JSON number is also a valid quantity.
    return canonical_quantity(json::serialize(*value));
}

std::string int_or_string(const json::value* value) {
    if (value == nullptr) return "";
    if (value->is_string()) return std::string(value->get_string());
    if (value->is_int64()) return std::to_string(value->get_int64());
    if (value->is_uint64()) return std::to_string(value->get_uint64());
    return "";
}

std::string load_balancer_addresses(const json::object& object) {
    std::set<std::string> addresses;
    for (const json::object* ingress : objects(object, {"status", "loadBalancer", "ingress"})) {
        const std::string_view ip = get_string(*ingress, {"ip"});
        const std::string_view hostname = get_string(*ingress, {"hostname"});
        if (!ip.empty()) {
            addresses.insert(std::string(ip));
        } else if (!hostname.empty()) {
            addresses.insert(std::string(hostname));
        }
    }
    return join(std::vector<std::string>(addresses.begin(), addresses.end()), ",");
}

std::string access_modes(const json::array* modes) {
    const auto has = [modes](std::string_view mode) {
        if (modes == nullptr) return false;
        return std::any_of(modes->begin(), modes->end(), [mode](const json::value& v) {
            return v.is_string() && v.get_string() == mode;
        });
    };
    std::vector<std::string> abbreviations;
    if (has("ReadWriteOnce")) abbreviations.emplace_back("RWO");
    if (has("ReadOnlyMany")) abbreviations.emplace_back("ROX");
    if (has("ReadWriteMany")) abbreviations.emplace_back("RWX");
    if (has("ReadWriteOncePod")) abbreviations.emplace_back("RWOP");
    return join(abbreviations, ",");
}

std::string bool_ptr(const json::object& object, Path path) {
    const json::value* value = find(object, path);
    if (value == nullptr || !value->is_bool()) return "<unset>";
    return value->get_bool() ? "True" : "False";
}

}  // namespace kcube::api::printers
