// Printers of the smaller API groups: storage, rbac, coordination, scheduling, node, policy and
// admissionregistration. Role and ClusterRole have no upstream printer (default table).
#include <string>

#include "cluster/api/printers/descriptions.hpp"
#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace json = boost::json;
namespace {

// --- StorageClass, CSIDriver, CSINode, VolumeAttachment ----------------------------------------

bool is_default_storage_class(const json::object& sc) {
    return get_string(sc, {"metadata", "annotations",
                           "storageclass.kubernetes.io/is-default-class"}) == "true" ||
           get_string(sc, {"metadata", "annotations",
                           "storageclass.beta.kubernetes.io/is-default-class"}) == "true";
}

std::string string_or(const json::object& object, Path path, std::string_view fallback) {
    return std::string(present(object, path) ? get_string(object, path) : fallback);
}

json::array storage_class_cells(const json::object& sc, Clock::time_point now) {
    std::string name(name_of(sc));
    if (is_default_storage_class(sc)) name += " (default)";
    return json::array{
        name,
        get_string(sc, {"provisioner"}),
        string_or(sc, {"reclaimPolicy"}, "Delete"),
        string_or(sc, {"volumeBindingMode"}, "Immediate"),
        get_bool(sc, {"allowVolumeExpansion"}),
        age(sc, now),
    };
}

Printer storage_class_printer() {
    return {{
                name_column(),
                column("Provisioner", doc::kStorageClassProvisioner),
                column("ReclaimPolicy", doc::kStorageClassReclaimPolicy),
                column("VolumeBindingMode", doc::kStorageClassVolumeBindingMode),
                column("AllowVolumeExpansion", doc::kStorageClassAllowVolumeExpansion),
                age_column(),
            },
            storage_class_cells};
}

// "aud1,aud2" of the token requests; "<unset>" when the field is missing.
std::string token_requests(const json::object& driver) {
    if (!present(driver, {"spec", "tokenRequests"})) return "<unset>";
    std::vector<std::string> audiences;
    for (const json::object* request : objects(driver, {"spec", "tokenRequests"})) {
        audiences.emplace_back(get_string(*request, {"audience"}));
    }
    return join(audiences, ",");
}

std::string lifecycle_modes(const json::object& driver) {
    std::vector<std::string> modes;
    if (const json::array* list = get_array(driver, {"spec", "volumeLifecycleModes"})) {
        for (const json::value& mode : *list) {
            modes.emplace_back(mode.is_string() ? std::string_view(mode.get_string()) : "");
        }
    }
    const std::string text = join(modes, ",");
    return text.empty() ? "<none>" : text;
}

json::array csi_driver_cells(const json::object& driver, Clock::time_point now) {
    return json::array{
        name_of(driver),
        get_bool(driver, {"spec", "attachRequired"}, true),
        get_bool(driver, {"spec", "podInfoOnMount"}),
        get_bool(driver, {"spec", "storageCapacity"}),
        token_requests(driver),
        get_bool(driver, {"spec", "requiresRepublish"}),
        lifecycle_modes(driver),
        age(driver, now),
    };
}

Printer csi_driver_printer() {
    return {{
                name_column(),
                column("AttachRequired", doc::kCSIDriverSpecAttachRequired, "boolean"),
                column("PodInfoOnMount", doc::kCSIDriverSpecPodInfoOnMount, "boolean"),
                column("StorageCapacity", doc::kCSIDriverSpecStorageCapacity, "boolean"),
                column("TokenRequests", doc::kCSIDriverSpecTokenRequests),
                column("RequiresRepublish", doc::kCSIDriverSpecRequiresRepublish, "boolean"),
                column("Modes", doc::kCSIDriverSpecVolumeLifecycleModes),
                age_column(),
            },
            csi_driver_cells};
}

json::array csi_node_cells(const json::object& node, Clock::time_point now) {
    return json::array{name_of(node), count(node, {"spec", "drivers"}), age(node, now)};
}

Printer csi_node_printer() {
    return {
        {
            name_column(),
            column("Drivers", "Drivers indicates the number of CSI drivers registered on the node",
                   "integer"),
            age_column(),
        },
        csi_node_cells};
}

json::array volume_attachment_cells(const json::object& va, Clock::time_point now) {
    return json::array{
        name_of(va),
        get_string(va, {"spec", "attacher"}),
        get_string(va, {"spec", "source", "persistentVolumeName"}),
        get_string(va, {"spec", "nodeName"}),
        get_bool(va, {"status", "attached"}),
        age(va, now),
    };
}

Printer volume_attachment_printer() {
    // Upstream gives the Attacher column the "name" format too.
    TableColumn attacher = column("Attacher", doc::kVolumeAttachmentSpecAttacher);
    attacher.format = "name";
    return {{
                name_column(),
                attacher,
                column("PV", doc::kVolumeAttachmentSourcePersistentVolumeName),
                column("Node", doc::kVolumeAttachmentSpecNodeName),
                column("Attached", doc::kVolumeAttachmentStatusAttached, "boolean"),
                age_column(),
            },
            volume_attachment_cells};
}

// --- RoleBinding, ClusterRoleBinding -----------------------------------------------------------

struct Subjects {
    std::vector<std::string> users;
    std::vector<std::string> groups;
    std::vector<std::string> service_accounts;  // "namespace/name"
};

Subjects binding_subjects(const json::object& binding) {
    Subjects subjects;
    for (const json::object* subject : objects(binding, {"subjects"})) {
        const std::string_view kind = get_string(*subject, {"kind"});
        const std::string name(get_string(*subject, {"name"}));
        if (kind == "ServiceAccount") {
            subjects.service_accounts.push_back(std::string(get_string(*subject, {"namespace"})) +
                                                "/" + name);
        } else if (kind == "User") {
            subjects.users.push_back(name);
        } else if (kind == "Group") {
            subjects.groups.push_back(name);
        }
    }
    return subjects;
}

json::array binding_cells(const json::object& binding, Clock::time_point now) {
    const Subjects subjects = binding_subjects(binding);
    return json::array{
        name_of(binding),
        std::string(get_string(binding, {"roleRef", "kind"})) + "/" +
            std::string(get_string(binding, {"roleRef", "name"})),
        age(binding, now),
        join(subjects.users, ", "),
        join(subjects.groups, ", "),
        join(subjects.service_accounts, ", "),
    };
}

// `what` is "roleBinding" or "clusterRoleBinding", as in upstream's descriptions.
Printer binding_printer(std::string_view role_ref_description, const std::string& what) {
    return {{
                name_column(),
                column("Role", role_ref_description),
                age_column(),
                wide_column("Users", "Users in the " + what),
                wide_column("Groups", "Groups in the " + what),
                wide_column("ServiceAccounts", "ServiceAccounts in the " + what),
            },
            binding_cells};
}

// --- Lease, PriorityClass, RuntimeClass, PodDisruptionBudget -----------------------------------

json::array lease_cells(const json::object& lease, Clock::time_point now) {
    return json::array{name_of(lease), get_string(lease, {"spec", "holderIdentity"}),
                       age(lease, now)};
}

Printer lease_printer() {
    return {{name_column(), column("Holder", doc::kLeaseSpecHolderIdentity), age_column()},
            lease_cells};
}

json::array priority_class_cells(const json::object& pc, Clock::time_point now) {
    return json::array{name_of(pc), get_int(pc, {"value"}), get_bool(pc, {"globalDefault"}),
                       age(pc, now), get_string(pc, {"preemptionPolicy"})};
}

Printer priority_class_printer() {
    return {{
                name_column(),
                column("Value", doc::kPriorityClassValue, "integer"),
                column("Global-Default", doc::kPriorityClassGlobalDefault, "boolean"),
                age_column(),
                column("PreemptionPolicy", doc::kPriorityClassPreemptionPolicy),
            },
            priority_class_cells};
}

json::array runtime_class_cells(const json::object& rc, Clock::time_point now) {
    return json::array{name_of(rc), get_string(rc, {"handler"}), age(rc, now)};
}

Printer runtime_class_printer() {
    // Upstream looks the description up in ObjectMeta's docs, which have no "handler": empty.
    return {{name_column(), column("Handler", ""), age_column()}, runtime_class_cells};
}

std::string int_or_string_or_na(const json::object& object, Path path) {
    return present(object, path) ? int_or_string(find(object, path)) : "N/A";
}

json::array pod_disruption_budget_cells(const json::object& pdb, Clock::time_point now) {
    return json::array{
        name_of(pdb),
        int_or_string_or_na(pdb, {"spec", "minAvailable"}),
        int_or_string_or_na(pdb, {"spec", "maxUnavailable"}),
        get_int(pdb, {"status", "disruptionsAllowed"}),
        age(pdb, now),
    };
}

Printer pod_disruption_budget_printer() {
    return {{
                name_column(),
                column("Min Available", "The minimum number of pods that must be available."),
                column("Max Unavailable", "The maximum number of pods that may be unavailable."),
                column("Allowed Disruptions",
                       "Calculated number of pods that may be disrupted at this time.", "integer"),
                age_column(),
            },
            pod_disruption_budget_cells};
}

// --- Admission webhooks ------------------------------------------------------------------------

json::array webhook_configuration_cells(const json::object& config, Clock::time_point now) {
    return json::array{name_of(config), count(config, {"webhooks"}), age(config, now)};
}

Printer webhook_configuration_printer() {
    return {{
                name_column(),
                column("Webhooks",
                       "Webhooks indicates the number of webhooks registered in this configuration",
                       "integer"),
                age_column(),
            },
            webhook_configuration_cells};
}

}  // namespace

const std::vector<KindPrinter>& cluster_printers() {
    static const std::vector<KindPrinter> printers{
        {"storage.k8s.io", "StorageClass", storage_class_printer()},
        {"storage.k8s.io", "CSIDriver", csi_driver_printer()},
        {"storage.k8s.io", "CSINode", csi_node_printer()},
        {"storage.k8s.io", "VolumeAttachment", volume_attachment_printer()},
        {"rbac.authorization.k8s.io", "RoleBinding",
         binding_printer(doc::kRoleBindingRoleRef, "roleBinding")},
        {"rbac.authorization.k8s.io", "ClusterRoleBinding",
         binding_printer(doc::kClusterRoleBindingRoleRef, "clusterRoleBinding")},
        {"coordination.k8s.io", "Lease", lease_printer()},
        {"scheduling.k8s.io", "PriorityClass", priority_class_printer()},
        {"node.k8s.io", "RuntimeClass", runtime_class_printer()},
        {"policy", "PodDisruptionBudget", pod_disruption_budget_printer()},
        {"admissionregistration.k8s.io", "MutatingWebhookConfiguration",
         webhook_configuration_printer()},
        {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
         webhook_configuration_printer()},
    };
    return printers;
}

}  // namespace kcube::api::printers
