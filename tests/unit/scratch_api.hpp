#pragma once
// A real ResourceService (the whole registry and schemas) on a SQLite store in a scratch
// directory, for unit tests of components that read the API: the proxy, the DNS, the kubelet's
// node status. Header-only, so that only the tests that link the API pay for it.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <initializer_list>
#include <memory>
#include <string>

#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/service.hpp"
#include "cluster/store/store.hpp"
#include "test_support.hpp"

namespace kcube::testing {

struct ScratchApi {
    TempDir dir;
    std::shared_ptr<api::ResourceService> service;

    // With these namespaces made.
    explicit ScratchApi(std::initializer_list<const char*> namespaces = {"default"}) {
        std::shared_ptr<store::Store> store = store::open_sqlite_store(dir / "state.db");
        service = std::make_shared<api::ResourceService>(
            store, api::ResourceRegistry::with_builtins(), api::builtin_schemas());
        for (const char* name : namespaces) {
            create(
                "", "v1", "namespaces", "",
                boost::json::object{
                    {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
        }
    }

    const api::ResourceInfo& info(const std::string& group, const std::string& version,
                                  const std::string& plural) const {
        auto found = service->registry().find(group, version, plural);
        REQUIRE(found);
        return *found;
    }

    boost::json::object create(const std::string& group, const std::string& version,
                               const std::string& plural, const std::string& ns,
                               boost::json::object object) {
        return service->create(info(group, version, plural), ns, std::move(object), {});
    }
};

}  // namespace kcube::testing
