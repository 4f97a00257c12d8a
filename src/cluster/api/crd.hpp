#pragma once
// CustomResourceDefinitions: the resources a CRD defines, their structural schemas, and the
// validation of custom objects against them (types, required, enum, bounds).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/resources.hpp"

namespace kcube::api {

struct Schema;
class SchemaSet;

// One ResourceInfo per served version of `crd` (storage version first). Each carries its
// version's schema (custom_schema) and additionalPrinterColumns.
std::vector<ResourceInfo> resources_from_crd(const boost::json::object& crd);

// Upstream's CRD validation: names, group, name == plural.group, one storage version.
void validate_crd(const boost::json::object& crd, std::vector<StatusCause>& causes);

// Validates a custom object (after pruning) against its version's schema.
void validate_custom_object(const boost::json::value& object, const SchemaSet& schemas,
                            const Schema* schema, std::vector<StatusCause>& causes);

// A JSONPath of the simple forms printer columns use (".spec.replicas", ".status.conditions[0]
// .type", ".metadata.name") evaluated on `object`; "" when absent.
boost::json::value eval_simple_jsonpath(const boost::json::object& object, std::string_view path);

}  // namespace kcube::api
