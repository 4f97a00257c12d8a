#pragma once
// The kcube command line: parses, runs the chosen command, and maps failures to exit codes.
namespace kcube::cli {

// Returns the process exit code (README.md, "Exit codes").
int run(int argc, char** argv);

}  // namespace kcube::cli
