#pragma once
// Internals shared by the three patch implementations (patch.cpp, patch_json.cpp,
// patch_strategic.cpp). Not part of the API: include patch.hpp instead.
#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace kcube::api::patch_detail {

// How deeply documents, patches and patch results may nest. Every patch implementation recurses
// (and Boost.JSON copies, compares and destroys recursively), so the nesting is bounded before
// any of that happens: a hostile document fails with a PatchError instead of exhausting the stack.
inline constexpr std::size_t kMaxDepth = 200;

// Nesting depth of `value`: 0 for a scalar, 1 + the deepest child for an object or array.
// Iterative, and stops counting once the depth exceeds `limit` (it then returns limit + 1).
std::size_t depth_of(const boost::json::value& value, std::size_t limit);

// Throws a PatchError (422, or 400 when `bad_request`) naming `what` if `value` nests deeper than
// `limit`.
void require_depth(const boost::json::value& value, std::size_t limit, std::string_view what,
                   bool bad_request);

// A short rendering of `value` for error messages (compact JSON, truncated).
std::string describe(const boost::json::value& value);

// The type name Go's encoding/json uses for a JSON value in its unmarshal errors ("object",
// "array", "string", "number", "bool", "null"), so messages read like upstream's.
std::string_view json_type_name(const boost::json::value& value);

}  // namespace kcube::api::patch_detail
