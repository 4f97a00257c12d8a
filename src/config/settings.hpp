#pragma once
// Global settings in $KCUBE_HOME/config.yaml (`kcube config`). Every key is known and
// validated; values are stored in a normalised form so every reader agrees on them.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::config {

struct KeyInfo {
    std::string_view name;
    std::string_view description;
    std::string_view example;
};

// Every key `kcube config` accepts, in display order.
const std::vector<KeyInfo>& known_keys();

// The drivers kcube knows by name (whether or not this build or host can run them).
const std::vector<std::string_view>& known_drivers();
const std::vector<std::string_view>& known_addons();

// Validates `value` for `key` and returns its normalised form ("2g" -> "2048" for memory).
// Throws Error(kUsage): CONFIG_UNKNOWN_KEY (listing valid keys) or CONFIG_INVALID_VALUE.
std::string normalize(std::string_view key, std::string_view value);

// A size such as 2048, 2048mb, 2g or 1.5GiB in MiB; a bare number is MiB (as in minikube).
// Throws Error(kUsage, CONFIG_INVALID_VALUE) naming `what`.
long long parse_size_mib(std::string_view text, std::string_view what);

class Settings {
  public:
    // Missing file: empty settings. Unparseable file or unknown/invalid stored keys:
    // Error(kState, CONFIG_PARSE) naming the file; it is never overwritten then.
    static Settings load(const std::filesystem::path& file);
    // Atomic write, mode 0600.
    void save(const std::filesystem::path& file) const;

    std::optional<std::string> get(std::string_view key) const;
    void set(std::string_view key, std::string_view value);  // validates via normalize()
    bool unset(std::string_view key);                        // false if it was not set
    const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

  private:
    std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace kcube::config
