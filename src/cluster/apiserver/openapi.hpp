#pragma once
// OpenAPI v3, derived from the registry and the schemas: /openapi/v3 lists one document per
// group version; each document has the resources' paths (so kubectl sees that PATCH takes
// fieldValidation and validates on the server) and the schemas `kubectl explain` reads.
#include <boost/json/object.hpp>
#include <string>

namespace kcube::api {
class ResourceRegistry;
class SchemaSet;
}  // namespace kcube::api

namespace kcube::apiserver {

boost::json::object openapi_v3_root(const api::ResourceRegistry& registry);
// `gv_path` is "api/v1" or "apis/<group>/<version>"; empty object if not served.
boost::json::object openapi_v3_document(const api::ResourceRegistry& registry,
                                        const api::SchemaSet& schemas, const std::string& gv_path,
                                        const std::string& kubernetes_version);

}  // namespace kcube::apiserver
