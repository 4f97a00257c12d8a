#pragma once
// Helpers shared by unit tests: a scratch directory and running real programs (kubectl, openssl).
#include <filesystem>
#include <string>
#include <vector>

namespace kcube::testing {

// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

struct RunResult {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Runs argv[0] (looked up in PATH) with `argv`, extra environment entries "K=V" added, and
// waits for it. Never goes through a shell.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// The kubectl the build found (KCUBE_TEST_KUBECTL), for tests that check files with it.
std::string kubectl();

}  // namespace kcube::testing
