#include "cluster/api/errors.hpp"

#include <boost/json.hpp>

namespace kcube::api {
namespace json = boost::json;

json::object ApiError::to_status() const {
    json::object status{
        {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object{}},
        {"status", "Failure"}, {"message", what()},  {"reason", reason_},
    };
    if (has_details_) {
        json::object details;
        if (!details_.name.empty()) details["name"] = details_.name;
        if (!details_.group.empty()) details["group"] = details_.group;
        if (!details_.kind.empty()) details["kind"] = details_.kind;
        if (!causes_.empty()) {
            json::array causes;
            for (const auto& c : causes_) {
                json::object cause{{"reason", c.type}, {"message", c.message}};
                if (!c.field.empty()) cause["field"] = c.field;
                causes.push_back(std::move(cause));
            }
            details["causes"] = std::move(causes);
        }
        if (retry_after_seconds_ > 0) details["retryAfterSeconds"] = retry_after_seconds_;
        status["details"] = std::move(details);
    }
    status["code"] = code_;
    return status;
}

std::string qualified_resource(std::string_view group, std::string_view resource) {
    std::string out(resource);
    if (!group.empty()) out += "." + std::string(group);
    return out;
}

ApiError not_found(std::string_view group, std::string_view resource, std::string_view name) {
    const std::string qualified = qualified_resource(group, resource);
    return ApiError(404, "NotFound", qualified + " \"" + std::string(name) + "\" not found")
        .with_details({std::string(group), std::string(resource), std::string(name)});
}

ApiError already_exists(std::string_view group, std::string_view resource, std::string_view name) {
    const std::string qualified = qualified_resource(group, resource);
    return ApiError(409, "AlreadyExists",
                    qualified + " \"" + std::string(name) + "\" already exists")
        .with_details({std::string(group), std::string(resource), std::string(name)});
}

ApiError conflict(std::string_view group, std::string_view resource, std::string_view name,
                  std::string_view why) {
    const std::string qualified = qualified_resource(group, resource);
    return ApiError(409, "Conflict",
                    "Operation cannot be fulfilled on " + qualified + " \"" + std::string(name) +
                        "\": " + std::string(why))
        .with_details({std::string(group), std::string(resource), std::string(name)});
}

ApiError invalid(std::string_view group, std::string_view kind, std::string_view name,
                 std::vector<StatusCause> causes) {
    // Upstream: `Deployment.apps "web" is invalid: [field: msg, field: msg]`.
    std::string qualified(kind);
    if (!group.empty()) qualified += "." + std::string(group);
    std::string message = qualified + " \"" + std::string(name) + "\" is invalid: ";
    if (causes.size() == 1) {
        message += causes[0].field + ": " + causes[0].message;
    } else {
        message += "[";
        for (size_t i = 0; i < causes.size(); ++i) {
            if (i > 0) message += ", ";
            message += causes[i].field + ": " + causes[i].message;
        }
        message += "]";
    }
    return ApiError(422, "Invalid", message)
        .with_details({std::string(group), std::string(kind), std::string(name)})
        .with_causes(std::move(causes));
}

ApiError bad_request(const std::string& message) {
    return ApiError(400, "BadRequest", message);
}
ApiError forbidden(const std::string& message) {
    return ApiError(403, "Forbidden", message);
}
ApiError unauthorized() {
    return ApiError(401, "Unauthorized", "Unauthorized");
}
ApiError method_not_allowed(const std::string& message) {
    return ApiError(405, "MethodNotAllowed", message);
}
ApiError gone(const std::string& message) {
    return ApiError(410, "Expired", message);
}
ApiError too_large(const std::string& message) {
    return ApiError(413, "RequestEntityTooLarge", message);
}
ApiError unsupported_media_type(const std::string& message) {
    return ApiError(415, "UnsupportedMediaType", message);
}
ApiError not_acceptable(const std::string& message) {
    return ApiError(406, "NotAcceptable", message);
}
ApiError internal_error(const std::string& message) {
    return ApiError(500, "InternalError", "Internal error occurred: " + message);
}

}  // namespace kcube::api
