#include "cluster/controllers/runtime/object_util.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <vector>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"

namespace kcube::controllers {
namespace json = boost::json;

const json::object* controller_ref(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (!metadata || !metadata->is_object()) return nullptr;
    const auto* refs = metadata->as_object().if_contains("ownerReferences");
    if (!refs || !refs->is_array()) return nullptr;
    for (const auto& ref : refs->as_array()) {
        if (!ref.is_object()) continue;
        const auto* controller = ref.as_object().if_contains("controller");
        if (controller && controller->is_bool() && controller->as_bool()) return &ref.as_object();
    }
    return nullptr;
}

json::object owner_reference(const json::object& owner) {
    return json::object{{"apiVersion", api::field_value(owner, "apiVersion")},
                        {"kind", api::field_value(owner, "kind")},
                        {"name", api::meta_string(owner, "name")},
                        {"uid", api::meta_string(owner, "uid")},
                        {"controller", true},
                        {"blockOwnerDeletion", true}};
}

bool is_controlled_by(const json::object& object, const json::object& owner) {
    const auto* ref = controller_ref(object);
    return ref && api::field_value(*ref, "uid") == api::meta_string(owner, "uid");
}

bool is_terminating(const json::object& object) {
    return !api::meta_string(object, "deletionTimestamp").empty();
}

std::string pod_phase(const json::object& pod) {
    return api::field_value(pod, "status.phase");
}

const json::object* find_condition(const json::object& status, std::string_view type) {
    const auto* conditions = status.if_contains("conditions");
    if (!conditions || !conditions->is_array()) return nullptr;
    for (const auto& c : conditions->as_array()) {
        if (c.is_object() && api::field_value(c.as_object(), "type") == type) {
            return &c.as_object();
        }
    }
    return nullptr;
}

bool pod_ready(const json::object& pod) {
    const auto* status = pod.if_contains("status");
    if (!status || !status->is_object()) return false;
    const auto* ready = find_condition(status->as_object(), "Ready");
    return ready && api::field_value(*ready, "status") == "True";
}

bool pod_active(const json::object& pod) {
    const std::string phase = pod_phase(pod);
    return phase != "Succeeded" && phase != "Failed" && !is_terminating(pod);
}

bool pod_available(const json::object& pod, std::int64_t min_ready_seconds) {
    if (!pod_ready(pod)) return false;
    if (min_ready_seconds <= 0) return true;
    const auto* ready = find_condition(pod.at("status").as_object(), "Ready");
    std::chrono::system_clock::time_point since;
    if (!api::parse_time(api::field_value(*ready, "lastTransitionTime"), since)) return true;
    return std::chrono::system_clock::now() - since >= std::chrono::seconds(min_ready_seconds);
}

const json::object* object_at(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_object() ? &value->as_object() : nullptr;
}

const json::array* array_at(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_array() ? &value->as_array() : nullptr;
}

json::object& child_object(json::object& object, std::string_view key) {
    auto& value = object[key];
    if (!value.is_object()) value = json::object{};
    return value.as_object();
}

std::int64_t int_at(const json::object& object, std::string_view path, std::int64_t fallback) {
    const json::object* current = &object;
    while (true) {
        const auto dot = path.find('.');
        const auto* value = current->if_contains(path.substr(0, dot));
        if (!value) return fallback;
        if (dot == std::string_view::npos) {
            if (value->is_int64()) return value->as_int64();
            if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
            if (value->is_double()) return static_cast<std::int64_t>(value->as_double());
            return fallback;
        }
        if (!value->is_object()) return fallback;
        current = &value->as_object();
        path.remove_prefix(dot + 1);
    }
}

bool set_condition(json::object& status, std::string_view type, std::string_view value,
                   std::string_view reason, std::string_view message, bool with_update_time) {
    auto& conditions = status["conditions"];
    if (!conditions.is_array()) conditions = json::array{};
    const std::string now = api::now_rfc3339();
    for (auto& c : conditions.as_array()) {
        if (!c.is_object() || api::field_value(c.as_object(), "type") != type) continue;
        auto& condition = c.as_object();
        const bool status_changed = api::field_value(condition, "status") != value;
        const bool changed = status_changed || api::field_value(condition, "reason") != reason ||
                             api::field_value(condition, "message") != message;
        if (!changed) return false;
        if (status_changed) condition["lastTransitionTime"] = now;
        if (with_update_time) condition["lastUpdateTime"] = now;
        condition["status"] = value;
        condition["reason"] = reason;
        condition["message"] = message;
        return true;
    }
    json::object condition{{"type", type}, {"status", value}};
    if (with_update_time) condition["lastUpdateTime"] = now;
    condition["lastTransitionTime"] = now;
    condition["reason"] = reason;
    condition["message"] = message;
    conditions.as_array().push_back(std::move(condition));
    return true;
}

std::string canonical_json(const json::value& value) {
    if (value.is_object()) {
        std::vector<std::pair<std::string_view, const json::value*>> members;
        for (const auto& member : value.as_object()) {
            members.emplace_back(member.key(), &member.value());
        }
        std::sort(members.begin(), members.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        std::string out = "{";
        for (const auto& [key, v] : members) {
            if (out.size() > 1) out += ',';
            out += json::serialize(json::string(key));
            out += ':';
            out += canonical_json(*v);
        }
        return out + "}";
    }
    if (value.is_array()) {
        std::string out = "[";
        for (const auto& item : value.as_array()) {
            if (out.size() > 1) out += ',';
            out += canonical_json(item);
        }
        return out + "]";
    }
    return json::serialize(value);
}

std::string stable_hash(std::string_view text) {
    std::uint32_t hash = 2166136261u;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 16777619u;
    }
    // As upstream: the decimal number, each character mapped into a 27-letter alphabet.
    static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::string out;
    for (unsigned char c : std::to_string(hash))
        out += kAlphabet[c % kAlphabet.size()];
    return out;
}

std::string string_at(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

bool bool_at(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_bool() && value->as_bool();
}

}  // namespace kcube::controllers
