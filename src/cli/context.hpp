#pragma once
// What every command gets: the global flags and the console. Resolved lazily, so a command that
// does not touch $KCUBE_HOME never fails on it.
#include <string>

#include "common/console.hpp"
#include "common/home.hpp"

namespace kcube::cli {

struct Context {
    std::string profile_flag;  // -p/--profile as given; empty when absent
    int verbosity = 0;
    bool also_log_to_stderr = false;
    Console console;
    // What kcube exits with when the command succeeds (kcube status: its bitmask).
    int exit_code = 0;

    KcubeHome home() const;
    // -p if given, else `profile` from config.yaml, else "kcube"; always a valid name.
    std::string profile() const;
    // Sends the log of this command to the profile's logs/kcube.log as well.
    void log_to_profile(const std::string& profile) const;
};

}  // namespace kcube::cli
