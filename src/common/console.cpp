#include "common/console.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/error.hpp"

namespace kcube {

Console::Console(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) == 1) {}

void Console::line(std::string_view marker, std::string_view message) const {
    std::fprintf(out_, "%.*s %.*s\n", static_cast<int>(marker.size()), marker.data(),
                 static_cast<int>(message.size()), message.data());
    std::fflush(out_);
}

void Console::step(std::string_view message) const {
    spdlog::info("{}", message);
    line(tty_ ? "\u2022" : "*", message);
}

void Console::warn(std::string_view message) const {
    spdlog::debug("warning shown: {}", message);
    line(tty_ ? "\u26a0" : "!", message);
}

void Console::success(std::string_view message) const {
    spdlog::info("{}", message);
    line(tty_ ? "\u2714" : "+", message);
}

void Console::error(const Error& error) const {
    spdlog::debug("exiting with {}: {}", error.reason(), error.what());
    std::fprintf(out_, "%s Exiting due to %s: %s\n", tty_ ? "\u2716" : "X", error.reason().c_str(),
                 error.what());
    if (!error.advice().empty()) {
        std::fprintf(out_, "%s %s\n", tty_ ? "\u2192" : "  Fix:", error.advice().c_str());
    }
    std::fflush(out_);
}

}  // namespace kcube
