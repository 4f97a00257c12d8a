#include "config/profile.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "test_support.hpp"

using namespace kcube::config;
using kcube::Error;

TEST_CASE("profile names") {
    CHECK(is_valid_profile_name("kcube"));
    CHECK(is_valid_profile_name("dev-2"));
    CHECK_FALSE(is_valid_profile_name(""));
    CHECK_FALSE(is_valid_profile_name("Upper_Case"));
    CHECK_FALSE(is_valid_profile_name("2fast"));
    CHECK_FALSE(is_valid_profile_name("trailing-"));
    CHECK_FALSE(is_valid_profile_name("../etc"));
    CHECK_FALSE(is_valid_profile_name(std::string(41, 'a')));
    try {
        validate_profile_name("Upper_Case");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.reason() == "PROFILE_INVALID_NAME");
        CHECK(e.advice().find("upper-case") != std::string::npos);
    }
}

TEST_CASE("cluster configs are saved atomically and listed; corrupt ones are listed as invalid") {
    kcube::testing::TempDir tmp;
    kcube::KcubeHome home(tmp.path());
    CHECK(list_profiles(home).valid.empty());
    ClusterConfig config;
    config.name = "alpha";
    config.driver = "none";
    config.kubernetes_version = "v1.32.0";
    config.addons = {"ingress"};
    save_cluster_config(home, config);
    CHECK(profile_exists(home, "alpha"));
    ClusterConfig loaded = load_cluster_config(home, "alpha");
    CHECK(loaded.driver == "none");
    CHECK(loaded.addons == std::vector<std::string>{"ingress"});
    CHECK(loaded.memory_mib == 2048);

    kcube::fs::write_file_atomic(home.profile_dir("broken") / "config.json", "{\"name\": 1");
    auto listing = list_profiles(home);
    REQUIRE(listing.valid.size() == 1);
    CHECK(listing.valid[0].name == "alpha");
    REQUIRE(listing.invalid.size() == 1);
    CHECK(listing.invalid[0].name == "broken");
    CHECK(listing.invalid[0].error.find("config.json") != std::string::npos);

    try {
        load_cluster_config(home, "missing");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.reason() == "PROFILE_NOT_FOUND");
        CHECK(e.exit_code() == kcube::ExitCode::kNotFound);
    }
}
