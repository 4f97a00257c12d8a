#pragma once
// The garbage collector's decisions about one object, as upstream's
// pkg/controller/garbagecollector makes them, as pure functions (unit-tested): what its
// ownerReferences say, and whether it stays, loses some references, or is deleted (and how).
#include <boost/json/object.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::controllers::ownership {

inline constexpr std::string_view kForegroundFinalizer = "foregroundDeletion";
inline constexpr std::string_view kOrphanFinalizer = "orphan";

struct OwnerRef {
    std::string api_version, kind, name, uid;
    bool block_owner_deletion = false;
};
std::vector<OwnerRef> owner_refs(const boost::json::object& object);
// "apps/v1" -> "apps", "v1" -> "".
std::string group_of(std::string_view api_version);

bool has_finalizer(const boost::json::object& object, std::string_view name);
// The object without that finalizer (false if it had none).
bool remove_finalizer(boost::json::object& object, std::string_view name);
// The object without ownerReferences to these uids (false if it had none).
bool remove_owner_refs(boost::json::object& object, const std::set<std::string>& uids);

// What became of an owner, looked up by kind, namespace, name and uid.
enum class OwnerState {
    kSolid,     // exists (and is not waiting for its dependents), or cannot be resolved
    kDangling,  // gone, or replaced by another object of the same name (other uid)
    kWaiting,   // being deleted in the foreground: waits for its dependents to go
};

struct Decision {
    enum class Action { kKeep, kRemoveRefs, kDelete } action = Action::kKeep;
    std::set<std::string> uids;  // kRemoveRefs: the references to drop
    std::string policy;          // kDelete: propagationPolicy
};
// Upstream's attemptToDeleteItem: an object with a solid owner stays (dropping references to
// dangling or waiting owners); without one it is deleted: in the foreground if an owner waits
// for it and it has dependents of its own, else as its own finalizers ask (orphan,
// foregroundDeletion) or in the background. An object without ownerReferences stays.
Decision decide(const boost::json::object& object, const std::vector<OwnerRef>& refs,
                const std::vector<OwnerState>& states, bool has_dependents);

}  // namespace kcube::controllers::ownership
