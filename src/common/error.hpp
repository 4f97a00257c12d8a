#pragma once
// The one error type users see: a stable reason code, what failed, and what to do about it.
#include <stdexcept>
#include <string>

namespace kcube {

// Process exit codes; documented in README.md ("Exit codes"). Never renumber.
enum class ExitCode : int {
    kOk = 0,
    kInternal = 1,  // a bug or an unexpected failure
    kUsage = 2,     // unknown command/flag/key, invalid argument or value
    kNotFound = 3,  // a named thing (profile, config key, file) does not exist
    kState = 4,     // kcube's own state on disk is corrupt or unreadable
    kHost = 5,      // the host lacks something: permission, disk space, a program
    kDriver = 6,    // no usable driver, or the chosen one is missing or unhealthy
    kCluster = 7,   // the cluster failed to start, stop or become ready, or is not running
    // `kcube status` of a profile that does not exist: minikube's code (ExGuestNotFound), kept
    // apart from status's own exit codes 1-7, which are a bitmask of what is not running.
    kNoCluster = 85,
};

class Error : public std::runtime_error {
  public:
    Error(ExitCode code, std::string reason, const std::string& message, std::string advice = {})
        : std::runtime_error(message),
          code_(code),
          reason_(std::move(reason)),
          advice_(std::move(advice)) {}

    ExitCode exit_code() const noexcept { return code_; }
    // Upper-case and stable, e.g. CONFIG_UNKNOWN_KEY; scripts may match on it.
    const std::string& reason() const noexcept { return reason_; }
    const std::string& advice() const noexcept { return advice_; }

  private:
    ExitCode code_;
    std::string reason_;
    std::string advice_;
};

// The text of errno `err`, for messages.
std::string errno_text(int err);

}  // namespace kcube
