#pragma once
// How a PersistentVolumeClaim and a PersistentVolume fit together, as upstream's
// component-helpers/storage/volume and the PV controller's volume index decide it: storage
// class, access modes, capacity, volume mode, label selector, node affinity and pre-binding.
// Pure functions of API objects, unit-tested; the PV binder controller acts on them.
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/controllers/runtime/informer.hpp"

namespace kcube::controllers::volumes {

inline constexpr std::string_view kBindCompleted = "pv.kubernetes.io/bind-completed";
inline constexpr std::string_view kBoundByController = "pv.kubernetes.io/bound-by-controller";
inline constexpr std::string_view kProvisionedBy = "pv.kubernetes.io/provisioned-by";
inline constexpr std::string_view kSelectedNode = "volume.kubernetes.io/selected-node";
inline constexpr std::string_view kStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kBetaStorageProvisioner =
    "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kBetaStorageClass = "volume.beta.kubernetes.io/storage-class";
inline constexpr std::string_view kDefaultClass = "storageclass.kubernetes.io/is-default-class";
inline constexpr std::string_view kBetaDefaultClass =
    "storageclass.beta.kubernetes.io/is-default-class";

// metadata.annotations[key], or "".
std::string annotation(const boost::json::object& object, std::string_view key);
bool has_annotation(const boost::json::object& object, std::string_view key);

// The claim's storage class (the beta annotation wins over spec.storageClassName); nullopt
// when neither is set (a default class may be assigned), "" for "no class".
std::optional<std::string> claim_class(const boost::json::object& claim);
std::string volume_class(const boost::json::object& volume);
// The default StorageClass (annotated is-default-class "true"; the newest if several), or
// nullptr.
const boost::json::object* default_class(const std::vector<ObjectPtr>& classes);

// Bytes of storage in a ResourceList at `path` ("spec.capacity", "spec.resources.requests").
std::optional<std::int64_t> storage_at(const boost::json::object& object, std::string_view path);
// The volume's claimRef names this claim (and its uid, if the claimRef has one).
bool bound_to_claim(const boost::json::object& volume, const boost::json::object& claim);
// Filesystem vs Block differ (unset means Filesystem).
bool volume_mode_mismatch(const boost::json::object& claim, const boost::json::object& volume);
// Every access mode the claim asks for is among the volume's.
bool access_modes_fit(const boost::json::object& claim, const boost::json::object& volume);
// The volume's required node affinity admits the node.
bool node_affinity_fits(const boost::json::object& volume, const boost::json::object& node);

// Why a volume the claim names (spec.volumeName) cannot serve it, or nullopt if it can
// (upstream's checkVolumeSatisfyClaim texts).
std::optional<std::string> volume_unsuitable(const boost::json::object& volume,
                                             const boost::json::object& claim);

// The volume to bind a claim to, as upstream's findBestMatchForClaim: a volume pre-bound to
// the claim, else the smallest Available volume of the claim's class that is big enough,
// matches the selector, volume mode and (for `node`) node affinity, looking first among
// volumes with the fewest access modes that include the claim's. With `delay_binding` and no
// node only pre-bound volumes count (the scheduler picks the node first).
const boost::json::object* find_matching_volume(const boost::json::object& claim,
                                                const std::vector<ObjectPtr>& volumes,
                                                const boost::json::object* node,
                                                bool delay_binding);

}  // namespace kcube::controllers::volumes
