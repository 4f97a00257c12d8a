#include "cluster/api/meta.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <random>
#include <regex>

namespace kcube::api {
namespace json = boost::json;

json::value parse_document(std::string_view text) {
    json::parse_options options;
    options.max_depth = 200;
    return json::parse(text, {}, options);
}

json::object& metadata_of(json::object& object) {
    auto& value = object["metadata"];
    if (!value.is_object()) value = json::object{};
    return value.as_object();
}

std::string meta_string(const json::object& object, std::string_view field) {
    const auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return "";
    const auto* value = metadata->as_object().if_contains(field);
    if (value == nullptr || !value->is_string()) return "";
    return std::string(value->as_string());
}

std::string format_time(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buffer;
}

std::string now_rfc3339() {
    return format_time(std::chrono::system_clock::now());
}

bool parse_time(std::string_view text, std::chrono::system_clock::time_point& out) {
    std::tm utc{};
    int consumed = 0;
    const std::string s(text);
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
                    &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
        return false;
    }
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    out = std::chrono::system_clock::from_time_t(::timegm(&utc));
    return true;
}

namespace {
std::mt19937_64& generator() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return engine;
}
}  // namespace

std::string new_uid() {
    std::uniform_int_distribution<std::uint64_t> dist;
    std::uint64_t hi = dist(generator()), lo = dist(generator());
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    char buffer[37];
    std::snprintf(buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                  static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buffer;
}

std::string random_name_suffix() {
    static constexpr std::string_view alphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::uniform_int_distribution<size_t> dist(0, alphabet.size() - 1);
    std::string out;
    for (int i = 0; i < 5; ++i)
        out += alphabet[dist(generator())];
    return out;
}

namespace {

void add(std::vector<StatusCause>& causes, const std::string& field, std::string_view value,
         const std::string& detail) {
    std::string quoted;
    json::string js(value);
    quoted = json::serialize(js);
    causes.push_back({"FieldValueInvalid", "Invalid value: " + quoted + ": " + detail, field});
}

const std::regex& dns1123_label_re() {
    static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    return re;
}
const std::regex& dns1123_subdomain_re() {
    static const std::regex re(
        "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
    return re;
}
const std::regex& dns1035_label_re() {
    static const std::regex re("^[a-z]([-a-z0-9]*[a-z0-9])?$");
    return re;
}
const std::regex& qualified_name_re() {
    static const std::regex re("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$");
    return re;
}

}  // namespace

void validate_dns1123_subdomain(std::string_view value, const std::string& field,
                                std::vector<StatusCause>& causes) {
    const std::string v(value);
    if (v.size() > 253) {
        add(causes, field, value, "must be no more than 253 characters");
    }
    if (!std::regex_match(v, dns1123_subdomain_re())) {
        add(causes, field, value,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    }
}

void validate_dns1123_label(std::string_view value, const std::string& field,
                            std::vector<StatusCause>& causes) {
    const std::string v(value);
    if (v.size() > 63) add(causes, field, value, "must be no more than 63 characters");
    if (!std::regex_match(v, dns1123_label_re())) {
        add(causes, field, value,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    }
}

void validate_dns1035_label(std::string_view value, const std::string& field,
                            std::vector<StatusCause>& causes) {
    const std::string v(value);
    if (v.size() > 63) add(causes, field, value, "must be no more than 63 characters");
    if (!std::regex_match(v, dns1035_label_re())) {
        add(causes, field, value,
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')");
    }
}

void validate_path_segment_name(std::string_view value, const std::string& field,
                                std::vector<StatusCause>& causes) {
    if (value == "." || value == "..") {
        add(causes, field, value, "may not be '" + std::string(value) + "'");
        return;
    }
    for (const char* bad : {"/", "%"}) {
        if (value.find(bad) != std::string_view::npos) {
            add(causes, field, value, std::string("may not contain '") + bad + "'");
        }
    }
}

void validate_qualified_name(std::string_view value, const std::string& field,
                             std::vector<StatusCause>& causes) {
    std::string_view name = value;
    if (auto slash = value.find('/'); slash != std::string_view::npos) {
        const std::string_view prefix = value.substr(0, slash);
        name = value.substr(slash + 1);
        if (prefix.empty()) {
            add(causes, field, value, "prefix part must be non-empty");
        } else {
            std::vector<StatusCause> prefix_causes;
            validate_dns1123_subdomain(prefix, field, prefix_causes);
            if (!prefix_causes.empty()) {
                add(causes, field, value,
                    "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                    "alphanumeric characters, '-' or '.', and must start and end with an "
                    "alphanumeric character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
            }
        }
    }
    if (name.empty()) {
        add(causes, field, value, "name part must be non-empty");
    } else if (name.size() > 63) {
        add(causes, field, value, "name part must be no more than 63 characters");
    } else if (!std::regex_match(std::string(name), qualified_name_re())) {
        add(causes, field, value,
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    }
}

void validate_label_value(std::string_view value, const std::string& field,
                          std::vector<StatusCause>& causes) {
    if (value.empty()) return;
    if (value.size() > 63) add(causes, field, value, "must be no more than 63 characters");
    if (!std::regex_match(std::string(value), qualified_name_re())) {
        add(causes, field, value,
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    }
}

void validate_labels(const json::object& metadata, std::vector<StatusCause>& causes) {
    const auto* labels = metadata.if_contains("labels");
    if (labels == nullptr || labels->is_null()) return;
    if (!labels->is_object()) {
        causes.push_back({"FieldValueInvalid", "must be a map of strings", "metadata.labels"});
        return;
    }
    for (const auto& [key, value] : labels->as_object()) {
        validate_qualified_name(key, "metadata.labels", causes);
        if (!value.is_string()) {
            causes.push_back(
                {"FieldValueInvalid", "label values must be strings", "metadata.labels"});
            continue;
        }
        validate_label_value(value.as_string(), "metadata.labels", causes);
    }
}

void validate_annotations(const json::object& metadata, std::vector<StatusCause>& causes) {
    const auto* annotations = metadata.if_contains("annotations");
    if (annotations == nullptr || annotations->is_null()) return;
    if (!annotations->is_object()) {
        causes.push_back({"FieldValueInvalid", "must be a map of strings", "metadata.annotations"});
        return;
    }
    size_t total = 0;
    for (const auto& [key, value] : annotations->as_object()) {
        validate_qualified_name(key, "metadata.annotations", causes);
        total += key.size() + (value.is_string() ? value.as_string().size() : 0);
    }
    if (total > 256 * 1024) {
        causes.push_back({"FieldValueTooLong", "Too long: must have at most 262144 bytes",
                          "metadata.annotations"});
    }
}

}  // namespace kcube::api
