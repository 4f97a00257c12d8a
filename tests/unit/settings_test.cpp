#include "config/settings.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/version.hpp"
#include "test_support.hpp"

using kcube::Error;
using kcube::ExitCode;
using kcube::config::normalize;
using kcube::config::Settings;

namespace {
// The reason code of the Error `fn` throws; "" if it throws nothing.
template <typename Fn>
std::string reason_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.reason();
    }
    return "";
}
}  // namespace

TEST_CASE("sizes accept units and a bare number means MiB") {
    CHECK(normalize("memory", "2048") == "2048");
    CHECK(normalize("memory", "2g") == "2048");
    CHECK(normalize("memory", "2GB") == "2048");
    CHECK(normalize("memory", "1.5GiB") == "1536");
    CHECK(normalize("memory", "4096mb") == "4096");
    CHECK(normalize("memory", "max") == "max");
    CHECK(normalize("disk-size", "20g") == "20480");
    CHECK(reason_of([] { normalize("memory", "lots"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("memory", "2x"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("memory", "-1g"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("memory", "100mb"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("disk-size", "max"); }) == "CONFIG_INVALID_VALUE");
}

TEST_CASE("cpus, driver, runtime, accel and booleans are validated") {
    CHECK(normalize("cpus", "4") == "4");
    CHECK(normalize("cpus", "MAX") == "max");
    CHECK(reason_of([] { normalize("cpus", "0"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("cpus", "2.5"); }) == "CONFIG_INVALID_VALUE");
    CHECK(normalize("driver", "QEMU") == "qemu");
    CHECK(reason_of([] { normalize("driver", "hyperv"); }) == "CONFIG_INVALID_VALUE");
    CHECK(normalize("container-runtime", "containerd") == "containerd");
    CHECK(reason_of([] { normalize("container-runtime", "cri-o"); }) == "CONFIG_INVALID_VALUE");
    CHECK(normalize("qemu-accel", "tcg") == "tcg");
    CHECK(normalize("embed-certs", "yes") == "true");
    CHECK(reason_of([] { normalize("embed-certs", "maybe"); }) == "CONFIG_INVALID_VALUE");
}

TEST_CASE("kubernetes-version is normalised and limited to what the node can serve") {
    CHECK(normalize("kubernetes-version", "1.32") == "v1.32.0");
    CHECK(normalize("kubernetes-version", "v1.30.4") == "v1.30.4");
    CHECK(normalize("kubernetes-version", "stable") == kcube::kKubernetesVersion);
    CHECK(reason_of([] { normalize("kubernetes-version", "v1.20.0"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("kubernetes-version", "v2.0.0"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("kubernetes-version", "one"); }) == "CONFIG_INVALID_VALUE");
    CHECK(reason_of([] { normalize("kubernetes-version", "1.32.0.1"); }) == "CONFIG_INVALID_VALUE");
}

TEST_CASE("addons are checked against the known addons and stored sorted without duplicates") {
    CHECK(normalize("addons", "ingress, dashboard,ingress") == "dashboard,ingress");
    CHECK(reason_of([] { normalize("addons", "ingress,nope"); }) == "CONFIG_INVALID_VALUE");
}

TEST_CASE("unknown keys are refused with the valid keys and a suggestion") {
    try {
        normalize("cpu", "2");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.exit_code() == ExitCode::kUsage);
        CHECK(e.reason() == "CONFIG_UNKNOWN_KEY");
        CHECK(std::string(e.what()).find("did you mean \"cpus\"") != std::string::npos);
        CHECK(e.advice().find("kubernetes-version") != std::string::npos);
    }
    Settings settings;
    CHECK(reason_of([&] { settings.get("nope"); }) == "CONFIG_UNKNOWN_KEY");
    CHECK(reason_of([&] { settings.unset("nope"); }) == "CONFIG_UNKNOWN_KEY");
}

TEST_CASE("settings round-trip through config.yaml") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "home/config.yaml";
    CHECK(Settings::load(file).values().empty());
    Settings settings;
    settings.set("memory", "4g");
    settings.set("embed-certs", "true");
    settings.set("driver", "none");
    settings.save(file);
    Settings loaded = Settings::load(file);
    CHECK(loaded.get("memory") == std::optional<std::string>("4096"));
    CHECK(loaded.get("embed-certs") == std::optional<std::string>("true"));
    CHECK(loaded.get("cpus") == std::nullopt);
    CHECK(loaded.unset("driver"));
    CHECK_FALSE(loaded.unset("driver"));
    loaded.save(file);
    CHECK(Settings::load(file).values().size() == 2);
}

TEST_CASE("a corrupt config.yaml is reported with its name and never rewritten") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "config.yaml";
    for (const std::string bad : {"cpus: [1, 2\n", "- a list\n", "cpus: zero\n", "colour: red\n"}) {
        kcube::fs::write_file_atomic(file, bad);
        try {
            Settings::load(file);
            FAIL("expected an error for: " << bad);
        } catch (const Error& e) {
            CHECK(e.reason() == "CONFIG_PARSE");
            CHECK(e.exit_code() == ExitCode::kState);
            CHECK(std::string(e.what()).find(file.string()) != std::string::npos);
        }
        CHECK(kcube::fs::read_file(file) == bad);
    }
}
