#pragma once
// API errors as upstream sends them: a metav1 Status with code, reason, message and details.
// Everything below the HTTP layer throws ApiError; the HTTP layer only serialises it.
#include <boost/json/object.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::api {

struct StatusCause {
    std::string type;     // "FieldValueInvalid", "FieldValueRequired", "FieldValueNotSupported"...
    std::string message;  // "Invalid value: \"Upper_Case\": a lowercase RFC 1123 subdomain..."
    std::string field;    // "metadata.name"
};

struct ResourceRef {
    std::string group;  // "" for core
    std::string kind;   // details.kind is the resource (plural) for most errors, as upstream does
    std::string name;
};

class ApiError : public std::runtime_error {
  public:
    ApiError(int code, std::string reason, const std::string& message)
        : std::runtime_error(message), code_(code), reason_(std::move(reason)) {}

    int code() const noexcept { return code_; }
    const std::string& reason() const noexcept { return reason_; }
    // The metav1.Status JSON object.
    boost::json::object to_status() const;

    ApiError& with_details(ResourceRef ref) {
        details_ = std::move(ref);
        has_details_ = true;
        return *this;
    }
    ApiError& with_causes(std::vector<StatusCause> causes) {
        causes_ = std::move(causes);
        has_details_ = true;
        return *this;
    }
    ApiError& with_retry_after(int seconds) {
        retry_after_seconds_ = seconds;
        return *this;
    }
    int retry_after_seconds() const noexcept { return retry_after_seconds_; }

  private:
    int code_;
    std::string reason_;
    ResourceRef details_;
    std::vector<StatusCause> causes_;
    bool has_details_ = false;
    int retry_after_seconds_ = 0;
};

// `resource` is the plural resource name with group ("deployments.apps"), as upstream's
// qualified resource prints it; `group` goes into details.
ApiError not_found(std::string_view group, std::string_view resource, std::string_view name);
ApiError already_exists(std::string_view group, std::string_view resource, std::string_view name);
// Operation cannot be fulfilled on deployments.apps "web": the object has been modified; ...
ApiError conflict(std::string_view group, std::string_view resource, std::string_view name,
                  std::string_view why);
// `kind` is the Kind ("Pod"), `name` the object's name; causes list the field errors.
ApiError invalid(std::string_view group, std::string_view kind, std::string_view name,
                 std::vector<StatusCause> causes);
ApiError bad_request(const std::string& message);
ApiError forbidden(const std::string& message);
ApiError unauthorized();
ApiError method_not_allowed(const std::string& message);
ApiError gone(const std::string& message);
ApiError too_large(const std::string& message);
ApiError unsupported_media_type(const std::string& message);
ApiError not_acceptable(const std::string& message);
ApiError internal_error(const std::string& message);

// "group/resource" qualified name as upstream prints it: "pods", "deployments.apps".
std::string qualified_resource(std::string_view group, std::string_view resource);

}  // namespace kcube::api
