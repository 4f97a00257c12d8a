#pragma once
// ObjectMeta handling shared by every resource: names, labels, annotations, uids and
// timestamps, with upstream's validation messages.
#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/errors.hpp"

namespace kcube::api {

// Parses an API document. Objects nest deeper than Boost.JSON's default limit of 32 (CRD
// schemas especially), so this allows 200 levels, as the patch code does.
boost::json::value parse_document(std::string_view text);

// metadata of `object` (created empty if missing or not an object).
boost::json::object& metadata_of(boost::json::object& object);
// metadata.<field> as a string, or "" when absent.
std::string meta_string(const boost::json::object& object, std::string_view field);

// RFC 3339 UTC with seconds ("2026-11-23T13:15:59Z"), as metav1.Time serialises.
std::string format_time(std::chrono::system_clock::time_point t);
std::string now_rfc3339();
// Parses what format_time writes (and fractional seconds); nullopt-like epoch on failure.
bool parse_time(std::string_view text, std::chrono::system_clock::time_point& out);

// A random RFC 4122 version-4 UUID.
std::string new_uid();
// generateName's suffix: five characters from upstream's alphabet (no vowels, no 0/1/3).
std::string random_name_suffix();

// Upstream's validation messages, appended to `causes` with the field path.
void validate_dns1123_subdomain(std::string_view value, const std::string& field,
                                std::vector<StatusCause>& causes);
void validate_dns1123_label(std::string_view value, const std::string& field,
                            std::vector<StatusCause>& causes);
void validate_dns1035_label(std::string_view value, const std::string& field,
                            std::vector<StatusCause>& causes);
// Upstream's path-segment rule: not "." or "..", and no "/" or "%".
void validate_path_segment_name(std::string_view value, const std::string& field,
                                std::vector<StatusCause>& causes);
void validate_labels(const boost::json::object& metadata, std::vector<StatusCause>& causes);
void validate_annotations(const boost::json::object& metadata, std::vector<StatusCause>& causes);
// A qualified name ("app", "example.com/app"), as label keys are.
void validate_qualified_name(std::string_view value, const std::string& field,
                             std::vector<StatusCause>& causes);
void validate_label_value(std::string_view value, const std::string& field,
                          std::vector<StatusCause>& causes);

}  // namespace kcube::api
