#pragma once
// Results on stdout: text tables for people, JSON/YAML for scripts (`-o json`).
#include <boost/json/fwd.hpp>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kcube::cli {

enum class Format { kText, kJson, kYaml };

// Adds -o/--output (text|json|yaml, or a subset) to `command`.
void add_output_flag(CLI::App& command, Format& format, bool with_yaml = false);

// Indented JSON, keys in insertion order, with a trailing newline.
std::string pretty_json(const boost::json::value& value);
// Block-style YAML of the same value (via yaml-cpp), with a trailing newline.
std::string to_yaml(const boost::json::value& value);

// Columns separated by three spaces, headers upper-case, like kubectl.
std::string table(const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows);

}  // namespace kcube::cli
