#include "config/settings.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/strings.hpp"
#include "common/version.hpp"
#include "config/profile.hpp"

namespace kcube::config {
namespace {

using strings::join;
using strings::lower;

[[noreturn]] void invalid(std::string_view key, std::string_view value, std::string_view why,
                          std::string advice) {
    throw Error(ExitCode::kUsage, "CONFIG_INVALID_VALUE",
                "invalid value \"" + std::string(value) + "\" for " + std::string(key) + ": " +
                    std::string(why),
                std::move(advice));
}

std::string one_of(std::string_view key, std::string_view value,
                   const std::vector<std::string_view>& allowed) {
    const std::string v = lower(value);
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        invalid(key, value, "not one of " + join(allowed, ", "),
                "Use one of: " + join(allowed, ", ") + ".");
    }
    return v;
}

std::optional<long long> parse_int(std::string_view text) {
    long long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return n;
}

std::string normalize_cpus(std::string_view value) {
    if (lower(value) == "max") return "max";
    auto n = parse_int(value);
    if (!n || *n < 1 || *n > 1024) {
        invalid("cpus", value, "expected a whole number of CPUs from 1 to 1024, or \"max\"",
                "For example: kcube config set cpus 2");
    }
    return std::to_string(*n);
}

std::string normalize_size(std::string_view key, std::string_view value, long long minimum_mib) {
    if (key == "memory" && lower(value) == "max") return "max";
    const long long mib = parse_size_mib(value, key);
    if (mib < minimum_mib) {
        invalid(key, value, "must be at least " + std::to_string(minimum_mib) + " MiB",
                "For example: kcube config set " + std::string(key) + " " +
                    std::to_string(minimum_mib * 4) + "mb");
    }
    return std::to_string(mib);
}

// Accepts v1.32, 1.32.0, v1.32.4, "stable"; stores vMAJOR.MINOR.PATCH.
std::string normalize_kubernetes_version(std::string_view value) {
    const std::string v = lower(value);
    if (v == "stable" || v == "latest") return kKubernetesVersion;
    std::string_view rest = v;
    if (!rest.empty() && rest.front() == 'v') rest.remove_prefix(1);
    std::vector<long long> parts;
    std::stringstream stream{std::string(rest)};
    for (std::string part; std::getline(stream, part, '.');) {
        parts.push_back(parse_int(part).value_or(-1));
    }
    const bool well_formed =
        (parts.size() == 2 || parts.size() == 3) &&
        std::all_of(parts.begin(), parts.end(), [](long long p) { return p >= 0; });
    if (!well_formed) {
        invalid("kubernetes-version", value, "expected a version such as v1.32.0",
                "Use a version from v1.27.0 to v1.33.x, or \"stable\".");
    }
    if (parts[0] != 1 || parts[1] < 27 || parts[1] > 33) {
        invalid(
            "kubernetes-version", value, "kcube serves Kubernetes API versions v1.27 to v1.33",
            std::string("Use a version in that range; the default is ") + kKubernetesVersion + ".");
    }
    return "v1." + std::to_string(parts[1]) + "." +
           std::to_string(parts.size() == 3 ? parts[2] : 0);
}

std::string normalize_addons(std::string_view value) {
    std::set<std::string> chosen;
    std::stringstream stream{std::string(value)};
    for (std::string item; std::getline(stream, item, ',');) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) continue;
        chosen.insert(one_of("addons", item, known_addons()));
    }
    std::string out;
    for (const auto& a : chosen)
        out += (out.empty() ? "" : ",") + a;
    return out;
}

std::string normalize_bool(std::string_view key, std::string_view value) {
    const std::string v = lower(value);
    if (v == "true" || v == "yes" || v == "1" || v == "on") return "true";
    if (v == "false" || v == "no" || v == "0" || v == "off") return "false";
    invalid(key, value, "expected true or false",
            "For example: kcube config set " + std::string(key) + " true");
}

[[noreturn]] void unknown_key(std::string_view key) {
    std::vector<std::string_view> names;
    for (const auto& info : known_keys())
        names.push_back(info.name);
    std::string message = "unknown config key \"" + std::string(key) + "\"";
    if (auto hint = strings::closest(key, names); !hint.empty()) {
        message += "; did you mean \"" + hint + "\"?";
    }
    throw Error(ExitCode::kUsage, "CONFIG_UNKNOWN_KEY", message,
                "Valid keys: " + join(names, ", ") + ". See: kcube config --help");
}

}  // namespace

const std::vector<KeyInfo>& known_keys() {
    static const std::vector<KeyInfo> keys = {
        {"driver", "driver used by `kcube start` when --driver is not given", "qemu"},
        {"cpus", "CPUs for new clusters (a number or \"max\")", "2"},
        {"memory", "memory for new clusters (MiB, or with a unit: 2g, 2048mb, \"max\")", "2g"},
        {"disk-size", "disk size for new clusters (MiB, or with a unit: 20g)", "20g"},
        {"kubernetes-version", "Kubernetes API version the node reports (v1.27-v1.33)", "v1.32.0"},
        {"container-runtime", "container runtime in the node (containerd)", "containerd"},
        {"addons", "comma-separated addons enabled on new clusters", "ingress,dashboard"},
        {"profile", "default profile when -p is not given", "kcube"},
        {"qemu-accel", "QEMU accelerator: auto, kvm or tcg", "auto"},
        {"embed-certs", "embed certificates in the kubeconfig instead of file paths", "false"},
    };
    return keys;
}

const std::vector<std::string_view>& known_drivers() {
    static const std::vector<std::string_view> drivers = {"qemu",   "kvm2", "podman",
                                                          "docker", "none", "virtualbox"};
    return drivers;
}

const std::vector<std::string_view>& known_addons() {
    static const std::vector<std::string_view> addons = {
        "dashboard", "default-storageclass", "ingress", "metrics-server", "storage-provisioner"};
    return addons;
}

long long parse_size_mib(std::string_view text, std::string_view what) {
    const std::string v = lower(text);
    size_t unit_at = 0;
    while (unit_at < v.size() &&
           (std::isdigit(static_cast<unsigned char>(v[unit_at])) || v[unit_at] == '.')) {
        ++unit_at;
    }
    const std::string number = v.substr(0, unit_at);
    const std::string unit = v.substr(unit_at);
    double amount = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), amount);
    static const std::map<std::string, double, std::less<>> mib_per_unit = {
        {"", 1.0},           {"b", 1.0 / 1048576}, {"k", 1.0 / 1024}, {"kb", 1.0 / 1024},
        {"kib", 1.0 / 1024}, {"m", 1.0},           {"mb", 1.0},       {"mib", 1.0},
        {"g", 1024.0},       {"gb", 1024.0},       {"gib", 1024.0},   {"t", 1048576.0},
        {"tb", 1048576.0},   {"tib", 1048576.0}};
    auto factor = mib_per_unit.find(unit);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        factor == mib_per_unit.end() || amount <= 0) {
        invalid(what, text, "expected a size such as 4096, 4096mb or 4g",
                "Units: b, k, m, g, t (a bare number is MiB).");
    }
    return std::llround(amount * factor->second);
}

std::string normalize(std::string_view key, std::string_view value) {
    if (key == "driver") return one_of(key, value, known_drivers());
    if (key == "cpus") return normalize_cpus(value);
    if (key == "memory") return normalize_size(key, value, 256);
    if (key == "disk-size") return normalize_size(key, value, 1024);
    if (key == "kubernetes-version") return normalize_kubernetes_version(value);
    if (key == "container-runtime") return one_of(key, value, {"containerd"});
    if (key == "addons") return normalize_addons(value);
    if (key == "profile") {
        validate_profile_name(value);
        return std::string(value);
    }
    if (key == "qemu-accel") return one_of(key, value, {"auto", "kvm", "tcg"});
    if (key == "embed-certs") return normalize_bool(key, value);
    unknown_key(key);
}

Settings Settings::load(const std::filesystem::path& file) {
    Settings settings;
    if (!std::filesystem::exists(file)) return settings;
    const std::string text = fs::read_file(file);
    auto corrupt = [&](const std::string& why) {
        return Error(ExitCode::kState, "CONFIG_PARSE", "cannot read " + file.string() + ": " + why,
                     "Fix the file by hand, or remove it to start from defaults "
                     "(kcube will not overwrite it).");
    };
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw corrupt(e.what());
    }
    if (!root || root.IsNull()) return settings;
    if (!root.IsMap()) throw corrupt("expected a map of key: value");
    for (const auto& item : root) {
        const std::string key = item.first.as<std::string>();
        if (!item.second.IsScalar()) throw corrupt("value of " + key + " is not a plain value");
        try {
            settings.values_[key] = normalize(key, item.second.Scalar());
        } catch (const Error& e) {
            throw corrupt(e.what());
        }
    }
    return settings;
}

void Settings::save(const std::filesystem::path& file) const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    for (const auto& [key, value] : values_) {
        // Quoted, so that "true" or "2048" round-trip as the strings we stored.
        out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
    }
    out << YAML::EndMap;
    std::string text = values_.empty() ? std::string("{}") : std::string(out.c_str());
    fs::write_file_atomic(file, text + "\n", 0600);
}

std::optional<std::string> Settings::get(std::string_view key) const {
    if (std::none_of(known_keys().begin(), known_keys().end(),
                     [&](const KeyInfo& k) { return k.name == key; })) {
        unknown_key(key);
    }
    if (auto it = values_.find(key); it != values_.end()) return it->second;
    return std::nullopt;
}

void Settings::set(std::string_view key, std::string_view value) {
    values_[std::string(key)] = normalize(key, value);
}

bool Settings::unset(std::string_view key) {
    get(key);  // rejects unknown keys
    return values_.erase(std::string(key)) > 0;
}

}  // namespace kcube::config
