#include "common/log.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/fs.hpp"

namespace kcube::log {

void init(int verbosity, bool also_to_stderr) {
    auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    spdlog::level::level_enum level = spdlog::level::warn;
    if (also_to_stderr || verbosity >= 3) {
        level = spdlog::level::trace;
    } else if (verbosity == 2) {
        level = spdlog::level::debug;
    } else if (verbosity == 1) {
        level = spdlog::level::info;
    }
    stderr_sink->set_level(level);
    stderr_sink->set_pattern("%^%L%m%d %H:%M:%S.%f %t %s:%#] %v%$");
    auto logger = std::make_shared<spdlog::logger>("kcube", stderr_sink);
    logger->set_level(spdlog::level::trace);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

void attach_file(const std::filesystem::path& file) {
    fs::ensure_dir(file.parent_path());
    auto sink =
        std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file.string(), 5 * 1024 * 1024, 5);
    sink->set_level(spdlog::level::debug);
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%f %L %t] %v");
    spdlog::default_logger()->sinks().push_back(sink);
    spdlog::default_logger()->flush_on(spdlog::level::info);
}

}  // namespace kcube::log
