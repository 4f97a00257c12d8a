#pragma once
// Small object helpers the controllers share: owner references, conditions, pod state, and
// the stable hashes behind pod-template-hash and controller-revision-hash.
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace kcube::controllers {

// The ownerReference with controller: true, or nullptr.
const boost::json::object* controller_ref(const boost::json::object& object);
// An ownerReference pointing at `owner` (which carries apiVersion and kind), with
// controller and blockOwnerDeletion true, as upstream's controllers write them.
boost::json::object owner_reference(const boost::json::object& owner);
bool is_controlled_by(const boost::json::object& object, const boost::json::object& owner);

bool is_terminating(const boost::json::object& object);
std::string pod_phase(const boost::json::object& pod);
// The pod's Ready condition is True.
bool pod_ready(const boost::json::object& pod);
// Not finished (Succeeded/Failed) and not being deleted: counts towards replicas.
bool pod_active(const boost::json::object& pod);
// Ready for at least `min_ready_seconds` (the Ready condition's lastTransitionTime).
bool pod_available(const boost::json::object& pod, std::int64_t min_ready_seconds);

// object[key] if it is an object (array), else nullptr.
const boost::json::object* object_at(const boost::json::object& object, std::string_view key);
const boost::json::array* array_at(const boost::json::object& object, std::string_view key);
// object[key] as an object, made empty if absent or of another type.
boost::json::object& child_object(boost::json::object& object, std::string_view key);
// An integer at a dotted path ("spec.replicas"), or `fallback`.
// The string (or bool) at `key` of this object; "" (false) when absent or of another type.
std::string string_at(const boost::json::object& object, std::string_view key);
bool bool_at(const boost::json::object& object, std::string_view key);

std::int64_t int_at(const boost::json::object& object, std::string_view path,
                    std::int64_t fallback);

// Sets the condition of `type` in status.conditions (a list of {type,status,reason,message,
// lastTransitionTime, lastUpdateTime?}); lastTransitionTime moves only when status changes.
// Returns true if anything changed.
bool set_condition(boost::json::object& status, std::string_view type, std::string_view value,
                   std::string_view reason, std::string_view message,
                   bool with_update_time = false);
// The condition of `type`, or nullptr.
const boost::json::object* find_condition(const boost::json::object& status, std::string_view type);

// JSON with object keys sorted: the same value always gives the same text.
std::string canonical_json(const boost::json::value& value);
// FNV-1a 32-bit of `text`, written with upstream's "safe" alphabet (no vowels, so it never
// spells a word), like pod-template-hash values ("7d4b9c6f5").
std::string stable_hash(std::string_view text);

}  // namespace kcube::controllers
