#pragma once
// Per-kind behaviour on writes: defaulting, what create/update reset or keep, and validation.
// Kinds without their own strategy get the generic one (name rules and metadata only).
#include <boost/json/object.hpp>
#include <vector>

#include "cluster/api/errors.hpp"
#include "cluster/api/resources.hpp"

namespace kcube::api {

struct Strategy {
    // kPathSegment: any name usable as a URL path segment (RBAC names such as
    // "system:aggregate-to-admin").
    enum class NameRule { kSubdomain, kLabel, kDns1035, kPathSegment };
    NameRule name_rule = NameRule::kSubdomain;
    // Fills defaults (as upstream's defaulters do); runs on create and on every update.
    void (*apply_defaults)(boost::json::object& object) = nullptr;
    // Create: e.g. a Namespace starts Active, a Deployment's status starts empty.
    void (*prepare_for_create)(boost::json::object& object) = nullptr;
    // Extra validation of the whole object; appends field errors.
    void (*validate)(const boost::json::object& object, std::vector<StatusCause>& causes) = nullptr;
};

const Strategy& strategy_for(const ResourceInfo& info);

}  // namespace kcube::api
