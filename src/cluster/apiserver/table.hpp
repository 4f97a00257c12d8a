#pragma once
// meta.k8s.io/v1 Table responses (Accept: ...;as=Table), which `kubectl get` prints as is.
#include <boost/json/object.hpp>
#include <string>

#include "cluster/api/resources.hpp"

namespace kcube::apiserver {

// `payload` is an XList (is_list) or a single object. `include_object`: "None", "Metadata"
// (default: rows carry PartialObjectMetadata) or "Object" (rows carry the whole object).
boost::json::object to_table(const api::ResourceInfo& info, const boost::json::object& payload,
                             bool is_list, const std::string& include_object);

// True when the Accept header asks for a Table (as=Table;g=meta.k8s.io).
bool wants_table(const std::string& accept);

}  // namespace kcube::apiserver
