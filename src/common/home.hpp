#pragma once
// The layout of $KCUBE_HOME (DESIGN.md, "State on the host"). Directories are created on demand
// by whoever writes into them, never up front, so read-only commands leave no trace.
#include <filesystem>
#include <string>

namespace kcube {

class KcubeHome {
  public:
    explicit KcubeHome(std::filesystem::path root) : root_(std::move(root)) {}
    // $KCUBE_HOME, else $HOME/.kcube. Throws Error when neither variable is usable.
    static KcubeHome from_environment();

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path config_file() const { return root_ / "config.yaml"; }
    std::filesystem::path profiles_dir() const { return root_ / "profiles"; }
    std::filesystem::path profile_dir(const std::string& profile) const {
        return profiles_dir() / profile;
    }
    std::filesystem::path profile_logs_dir(const std::string& profile) const {
        return profile_dir(profile) / "logs";
    }
    std::filesystem::path cache_dir() const { return root_ / "cache"; }
    // The CA shared by every profile.
    std::filesystem::path certs_dir() const { return root_ / "certs"; }

  private:
    std::filesystem::path root_;
};

}  // namespace kcube
