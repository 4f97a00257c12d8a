#pragma once
// Discovery documents derived from the resource registry: /api, /apis, /api/v1, /apis/G/V,
// and the aggregated (apidiscovery.k8s.io/v2) form kubectl 1.32 asks for first.
#include <boost/json/object.hpp>
#include <string>

#include "cluster/api/resources.hpp"

namespace kcube::apiserver {

boost::json::object api_versions(const std::string& server_address);        // GET /api
boost::json::object api_group_list(const api::ResourceRegistry& registry);  // GET /apis
boost::json::object api_group(const api::ResourceRegistry& registry, const std::string& group);
// GET /api/v1 or /apis/G/V; an empty object if the group version is not served.
boost::json::object api_resource_list(const api::ResourceRegistry& registry,
                                      const std::string& group, const std::string& version);
// Aggregated discovery: `legacy` true for /api (core group only), false for /apis.
boost::json::object aggregated_discovery(const api::ResourceRegistry& registry, bool legacy);

}  // namespace kcube::apiserver
