#pragma once
// Unknown fields: upstream drops fields its types do not have (and reports them per the request's
// fieldValidation: Strict fails, Warn warns, Ignore stays silent). The same walk prunes custom
// resources against their structural schema.
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace kcube::api {

struct Schema;
class SchemaSet;

// Removes from `value` every field `schema` does not declare and returns their paths in
// upstream's form ("spec.template.spec.containers[0].foo"), in document order.
std::vector<std::string> prune_unknown_fields(boost::json::value& value, const SchemaSet& schemas,
                                              const Schema* schema);

}  // namespace kcube::api
