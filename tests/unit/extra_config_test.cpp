#include "config/extra_config.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "config/profile.hpp"

using namespace kcube::config;
using kcube::Error;

TEST_CASE("--extra-config entries are validated") {
    CHECK_NOTHROW(validate_extra_config("kubelet.resolv-conf=/etc/resolv.conf"));
    for (const char* bad :
         {"", "kubelet", "kubelet.resolv-conf", "kubelet.resolv-conf=", "resolv-conf=/x", "=x"}) {
        CAPTURE(bad);
        try {
            validate_extra_config(bad);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.reason() == "EXTRA_CONFIG_INVALID");
            CHECK(std::string(e.advice()).find("component.key=value") != std::string::npos);
        }
    }
    try {
        validate_extra_config("apiserver.feature-gates=X=true");
        FAIL("accepted an unsupported key");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("apiserver.feature-gates") != std::string::npos);
        CHECK(std::string(e.advice()).find("kubelet.resolv-conf") != std::string::npos);
    }
}

TEST_CASE("--extra-config merges by key and becomes node flags") {
    const auto merged = merge_extra_config({"kubelet.resolv-conf=/a"}, {"kubelet.resolv-conf=/b"});
    REQUIRE(merged.size() == 1);
    CHECK(merged[0] == "kubelet.resolv-conf=/b");
    CHECK(extra_config_node_args(merged) == std::vector<std::string>{"--resolv-conf", "/b"});
    // Values keep any '=' after the first.
    CHECK(extra_config_node_args({"kubelet.resolv-conf=/x=y"}) ==
          std::vector<std::string>{"--resolv-conf", "/x=y"});
}

TEST_CASE("the cluster config keeps --extra-config") {
    ClusterConfig config;
    config.name = "dev";
    config.driver = "none";
    config.kubernetes_version = "v1.32.0";
    config.extra_config = {"kubelet.resolv-conf=/etc/r.conf"};
    const auto back = cluster_config_from_json(to_json(config), "test");
    CHECK(back.extra_config == config.extra_config);
    // Older files without the field load with none.
    config.extra_config.clear();
    CHECK(cluster_config_from_json(to_json(config), "test").extra_config.empty());
}
