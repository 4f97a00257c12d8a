#pragma once
// Small string helpers shared by the CLI and the config code.
#include <string>
#include <string_view>
#include <vector>

namespace kcube::strings {

std::string lower(std::string_view text);
// Go's %q of a string (double quotes, backslash escapes): how upstream's messages quote values.
std::string go_quote(std::string_view text);
std::string join(const std::vector<std::string_view>& items, std::string_view separator);
// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is a near miss (distance < 3), else "".
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace kcube::strings
