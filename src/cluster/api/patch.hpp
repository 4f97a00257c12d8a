#pragma once
// The patch types of the Kubernetes API, applied by the server to a stored object:
// JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch (merge keys,
// patch strategies and the $patch / $setElementOrder / $retainKeys / $deleteFromPrimitiveList
// directives), driven by the object's schema.
#include <boost/json/value.hpp>
#include <stdexcept>
#include <string>

namespace kcube::api {

struct Schema;
class SchemaSet;

// A patch that cannot be applied: malformed, or a test operation that failed. The API server
// answers it with 422 Unprocessable Entity (upstream's behaviour) unless `bad_request` is set,
// which means the patch document itself is malformed (400 Bad Request).
class PatchError : public std::runtime_error {
  public:
    PatchError(const std::string& message, bool bad_request = false)
        : std::runtime_error(message), bad_request_(bad_request) {}
    bool bad_request() const noexcept { return bad_request_; }

  private:
    bool bad_request_;
};

boost::json::value apply_json_patch(const boost::json::value& document,
                                    const boost::json::value& patch);

boost::json::value apply_merge_patch(const boost::json::value& document,
                                     const boost::json::value& patch);

// `schema` describes `document` (e.g. the resolved io.k8s.api.apps.v1.Deployment). Where the
// schema is unknown (nullptr, custom resources), lists are replaced as in a merge patch, which is
// upstream's behaviour for types without patch metadata.
boost::json::value apply_strategic_merge_patch(const boost::json::value& document,
                                               const boost::json::value& patch,
                                               const SchemaSet& schemas, const Schema* schema);

}  // namespace kcube::api
