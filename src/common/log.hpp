#pragma once
// Diagnostic logging (spdlog's default logger). Progress for people goes through Console instead.
#include <filesystem>

namespace kcube::log {

// Verbosity 0 shows warnings and errors on stderr, 1 adds info, 2 debug, 3+ trace.
// `also_to_stderr` sends everything that reaches the log file to stderr as well.
void init(int verbosity, bool also_to_stderr);

// Adds a rotating file sink at `file` (5 files of 5 MiB), creating its directory.
void attach_file(const std::filesystem::path& file);

}  // namespace kcube::log
