#include "cluster/api/strategy.hpp"

#include <boost/json.hpp>

#include "cluster/api/crd.hpp"
#include "cluster/api/meta.hpp"
#include "common/base64.hpp"

namespace kcube::api {
namespace json = boost::json;
namespace {

json::object& child(json::object& parent, std::string_view key) {
    auto& value = parent[key];
    if (!value.is_object()) value = json::object{};
    return value.as_object();
}

template <typename T>
void set_default(json::object& object, std::string_view key, T value) {
    if (!object.contains(key) || object.at(key).is_null()) object[key] = value;
}

// Container defaults (upstream SetDefaults_Container and friends).
void default_container(json::object& container) {
    std::string image = container.contains("image") && container.at("image").is_string()
                            ? std::string(container.at("image").as_string())
                            : "";
    // imagePullPolicy: Always for :latest or untagged images, else IfNotPresent.
    const auto slash = image.rfind('/');
    const auto tag_at = image.find(':', slash == std::string::npos ? 0 : slash);
    const bool digest = image.find('@') != std::string::npos;
    const bool latest =
        !digest && (tag_at == std::string::npos || image.substr(tag_at) == ":latest");
    set_default(container, "imagePullPolicy", latest ? "Always" : "IfNotPresent");
    set_default(container, "terminationMessagePath", "/dev/termination-log");
    set_default(container, "terminationMessagePolicy", "File");
    set_default(container, "resources", json::object{});
    if (auto* ports = container.if_contains("ports"); ports && ports->is_array()) {
        for (auto& port : ports->as_array()) {
            if (port.is_object()) set_default(port.as_object(), "protocol", "TCP");
        }
    }
    for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
        if (auto* p = container.if_contains(probe); p && p->is_object()) {
            auto& o = p->as_object();
            set_default(o, "timeoutSeconds", 1);
            set_default(o, "periodSeconds", 10);
            set_default(o, "successThreshold", 1);
            set_default(o, "failureThreshold", 3);
            if (auto* http = o.if_contains("httpGet"); http && http->is_object()) {
                set_default(http->as_object(), "path", "/");
                set_default(http->as_object(), "scheme", "HTTP");
            }
        }
    }
}

// downwardAPI items' fieldRef.apiVersion (upstream SetDefaults_ObjectFieldSelector).
void default_downward_items(json::object& source) {
    if (auto* items = source.if_contains("items"); items && items->is_array()) {
        for (auto& item : items->as_array()) {
            if (!item.is_object()) continue;
            if (auto* ref = item.as_object().if_contains("fieldRef"); ref && ref->is_object()) {
                set_default(ref->as_object(), "apiVersion", "v1");
            }
        }
    }
}

// Volume source defaults (upstream SetDefaults_*VolumeSource): file modes 0644, the token's
// one-hour lifetime, hostPath's unset type.
void default_volume(json::object& volume) {
    for (const char* source : {"configMap", "secret", "downwardAPI", "projected"}) {
        if (auto* s = volume.if_contains(source); s && s->is_object()) {
            set_default(s->as_object(), "defaultMode", 420);
        }
    }
    if (auto* s = volume.if_contains("downwardAPI"); s && s->is_object()) {
        default_downward_items(s->as_object());
    }
    if (auto* s = volume.if_contains("hostPath"); s && s->is_object()) {
        set_default(s->as_object(), "type", "");
    }
    auto* projected = volume.if_contains("projected");
    auto* sources = projected && projected->is_object()
                        ? projected->as_object().if_contains("sources")
                        : nullptr;
    if (sources && sources->is_array()) {
        for (auto& s : sources->as_array()) {
            if (!s.is_object()) continue;
            if (auto* token = s.as_object().if_contains("serviceAccountToken");
                token && token->is_object()) {
                set_default(token->as_object(), "expirationSeconds", 3600);
            }
            if (auto* downward = s.as_object().if_contains("downwardAPI");
                downward && downward->is_object()) {
                default_downward_items(downward->as_object());
            }
        }
    }
}

void default_pod_spec(json::object& spec) {
    set_default(spec, "restartPolicy", "Always");
    set_default(spec, "terminationGracePeriodSeconds", 30);
    set_default(spec, "dnsPolicy", "ClusterFirst");
    set_default(spec, "securityContext", json::object{});
    set_default(spec, "schedulerName", "default-scheduler");
    set_default(spec, "enableServiceLinks", true);
    for (const char* list : {"containers", "initContainers"}) {
        if (auto* containers = spec.if_contains(list); containers && containers->is_array()) {
            for (auto& c : containers->as_array()) {
                if (c.is_object()) default_container(c.as_object());
            }
        }
    }
    if (auto* volumes = spec.if_contains("volumes"); volumes && volumes->is_array()) {
        for (auto& v : volumes->as_array()) {
            if (v.is_object()) default_volume(v.as_object());
        }
    }
}

void default_template(json::object& object) {
    auto& spec = child(object, "spec");
    auto& pod_template = child(spec, "template");
    default_pod_spec(child(pod_template, "spec"));
}

void default_pod(json::object& object) {
    auto& spec = child(object, "spec");
    default_pod_spec(spec);
    // The service account admission plugin's default.
    if (!spec.contains("serviceAccountName") && spec.contains("serviceAccount")) {
        spec["serviceAccountName"] = spec["serviceAccount"];
    }
    set_default(spec, "serviceAccountName", "default");
    set_default(spec, "serviceAccount", spec["serviceAccountName"]);
    set_default(spec, "priority", 0);
    set_default(spec, "preemptionPolicy", "PreemptLowerPriority");
    if (!spec.contains("tolerations")) {
        // DefaultTolerationSeconds admission: pods tolerate an unready node for 300 s.
        json::array tolerations;
        for (const char* taint :
             {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
            tolerations.push_back(json::object{{"key", taint},
                                               {"operator", "Exists"},
                                               {"effect", "NoExecute"},
                                               {"tolerationSeconds", 300}});
        }
        spec["tolerations"] = std::move(tolerations);
    }
}

// The ServiceAccount admission plugin's API credentials: a projected volume
// "kube-api-access-<random>" with a service-account token, the cluster CA (the kube-root-ca.crt
// ConfigMap) and the namespace, mounted read-only at upstream's path in every container and
// init container that does not mount something there itself. automountServiceAccountToken:
// false on the pod opts out (upstream also honours it on the ServiceAccount; kcube does not
// read the ServiceAccount here). Mirror pods get none, as upstream.
void mount_service_account_token(json::object& object) {
    constexpr std::string_view kMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
    constexpr std::string_view kVolumePrefix = "kube-api-access-";
    auto& spec = child(object, "spec");
    if (auto* automount = spec.if_contains("automountServiceAccountToken");
        automount && automount->is_bool() && !automount->as_bool()) {
        return;
    }
    if (auto* annotations = metadata_of(object).if_contains("annotations");
        annotations && annotations->is_object() &&
        annotations->as_object().contains("kubernetes.io/config.mirror")) {
        return;
    }
    std::string volume_name;
    auto* volumes = spec.if_contains("volumes");
    if (volumes && volumes->is_array()) {
        for (const auto& v : volumes->as_array()) {
            const auto* name = v.is_object() ? v.as_object().if_contains("name") : nullptr;
            if (name && name->is_string() && name->as_string().starts_with(kVolumePrefix)) {
                volume_name = std::string(name->as_string());
                break;
            }
        }
    }
    const bool has_volume = !volume_name.empty();
    if (!has_volume) volume_name = std::string(kVolumePrefix) + random_name_suffix();

    bool needed = false;
    for (const char* list : {"initContainers", "containers"}) {
        auto* containers = spec.if_contains(list);
        if (!containers || !containers->is_array()) continue;
        for (auto& c : containers->as_array()) {
            if (!c.is_object()) continue;
            auto& mounts = c.as_object()["volumeMounts"];
            if (!mounts.is_array()) mounts = json::array{};
            bool mounted = false;
            for (const auto& m : mounts.as_array()) {
                const auto* path = m.is_object() ? m.as_object().if_contains("mountPath") : nullptr;
                mounted = mounted || (path && path->is_string() && path->as_string() == kMountPath);
            }
            if (mounted) continue;
            mounts.as_array().push_back(
                json::object{{"name", volume_name}, {"readOnly", true}, {"mountPath", kMountPath}});
            needed = true;
        }
    }
    if (has_volume || !needed) return;
    json::array sources{
        json::object{
            {"serviceAccountToken", json::object{{"expirationSeconds", 3607}, {"path", "token"}}}},
        json::object{
            {"configMap", json::object{{"name", "kube-root-ca.crt"},
                                       {"items", json::array{json::object{{"key", "ca.crt"},
                                                                          {"path", "ca.crt"}}}}}}},
        json::object{
            {"downwardAPI",
             json::object{{"items", json::array{json::object{
                                        {"path", "namespace"},
                                        {"fieldRef",
                                         json::object{{"apiVersion", "v1"},
                                                      {"fieldPath", "metadata.namespace"}}}}}}}}}};
    if (!volumes || !volumes->is_array()) {
        spec["volumes"] = json::array{};
        volumes = spec.if_contains("volumes");
    }
    volumes->as_array().push_back(json::object{
        {"name", volume_name},
        {"projected", json::object{{"sources", std::move(sources)}, {"defaultMode", 420}}}});
}

void prepare_pod(json::object& object) {
    object["status"] = json::object{{"phase", "Pending"}};
    mount_service_account_token(object);
}

void default_deployment(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "replicas", 1);
    set_default(spec, "revisionHistoryLimit", 10);
    set_default(spec, "progressDeadlineSeconds", 600);
    auto& strategy = child(spec, "strategy");
    set_default(strategy, "type", "RollingUpdate");
    if (strategy["type"] == "RollingUpdate") {
        auto& rolling = child(strategy, "rollingUpdate");
        set_default(rolling, "maxUnavailable", "25%");
        set_default(rolling, "maxSurge", "25%");
    }
    default_template(object);
}

void default_replicaset(json::object& object) {
    set_default(child(object, "spec"), "replicas", 1);
    default_template(object);
}

void default_statefulset(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "replicas", 1);
    set_default(spec, "podManagementPolicy", "OrderedReady");
    set_default(spec, "revisionHistoryLimit", 10);
    auto& strategy = child(spec, "updateStrategy");
    set_default(strategy, "type", "RollingUpdate");
    if (strategy["type"] == "RollingUpdate")
        set_default(child(strategy, "rollingUpdate"), "partition", 0);
    set_default(child(spec, "persistentVolumeClaimRetentionPolicy"), "whenDeleted", "Retain");
    set_default(child(spec, "persistentVolumeClaimRetentionPolicy"), "whenScaled", "Retain");
    default_template(object);
}

void default_daemonset(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "revisionHistoryLimit", 10);
    auto& strategy = child(spec, "updateStrategy");
    set_default(strategy, "type", "RollingUpdate");
    if (strategy["type"] == "RollingUpdate") {
        set_default(child(strategy, "rollingUpdate"), "maxUnavailable", 1);
        set_default(child(strategy, "rollingUpdate"), "maxSurge", 0);
    }
    default_template(object);
}

void default_job(json::object& object) {
    auto& spec = child(object, "spec");
    // As upstream: with neither set, one pod that must succeed; a Job with only parallelism
    // keeps completions unset (a work queue: done when any pod succeeds).
    if (!spec.contains("completions") && !spec.contains("parallelism")) {
        spec["completions"] = 1;
    }
    set_default(spec, "parallelism", 1);
    set_default(spec, "backoffLimit", 6);
    set_default(spec, "completionMode", "NonIndexed");
    set_default(spec, "suspend", false);
    set_default(spec, "manualSelector", false);
    set_default(spec, "podReplacementPolicy", "TerminatingOrFailed");
    auto& pod_template = child(spec, "template");
    auto& template_spec = child(pod_template, "spec");
    default_pod_spec(template_spec);
    // Upstream generates the selector from the job's uid unless manualSelector is set.
    const std::string uid = meta_string(object, "uid");
    if (!uid.empty() && !spec.contains("selector")) {
        spec["selector"] = json::object{
            {"matchLabels", json::object{{"batch.kubernetes.io/controller-uid", uid}}}};
        auto& labels = child(child(pod_template, "metadata"), "labels");
        labels["batch.kubernetes.io/controller-uid"] = uid;
        labels["batch.kubernetes.io/job-name"] = meta_string(object, "name");
        labels["controller-uid"] = uid;
        labels["job-name"] = meta_string(object, "name");
    }
}

void default_cronjob(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "concurrencyPolicy", "Allow");
    set_default(spec, "suspend", false);
    set_default(spec, "successfulJobsHistoryLimit", 3);
    set_default(spec, "failedJobsHistoryLimit", 1);
    auto& job_spec = child(child(spec, "jobTemplate"), "spec");
    set_default(job_spec, "backoffLimit", 6);
    set_default(job_spec, "completionMode", "NonIndexed");
    set_default(job_spec, "suspend", false);
    default_pod_spec(child(child(job_spec, "template"), "spec"));
}

void default_service(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "type", "ClusterIP");
    set_default(spec, "sessionAffinity", "None");
    if (spec["type"] != "ExternalName") {
        set_default(spec, "internalTrafficPolicy", "Cluster");
        set_default(spec, "ipFamilyPolicy", "SingleStack");
        set_default(spec, "ipFamilies", json::array{"IPv4"});
    }
    if (spec["type"] == "NodePort" || spec["type"] == "LoadBalancer") {
        set_default(spec, "externalTrafficPolicy", "Cluster");
    }
    if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
        for (auto& port : ports->as_array()) {
            if (!port.is_object()) continue;
            auto& p = port.as_object();
            set_default(p, "protocol", "TCP");
            if (!p.contains("targetPort") && p.contains("port")) p["targetPort"] = p["port"];
        }
    }
}

void prepare_namespace(json::object& object) {
    object["spec"] = json::object{{"finalizers", json::array{"kubernetes"}}};
    object["status"] = json::object{{"phase", "Active"}};
}

void default_namespace(json::object& object) {
    // Upstream labels every namespace with its own name (kubernetes.io/metadata.name).
    auto& labels = child(metadata_of(object), "labels");
    labels["kubernetes.io/metadata.name"] = meta_string(object, "name");
}

void default_secret(json::object& object) {
    set_default(object, "type", "Opaque");
    // stringData is write-only: folded into data (base64) and never stored.
    auto* string_data = object.if_contains("stringData");
    if (string_data == nullptr) return;
    if (string_data->is_object()) {
        auto& data = child(object, "data");
        for (const auto& [key, value] : string_data->as_object()) {
            if (!value.is_string()) continue;
            data[key] = base64::encode(value.as_string());
        }
    }
    object.erase("stringData");
}

void prepare_with_empty_status(json::object& object) {
    object.erase("status");
}

void validate_configmap(const json::object& object, std::vector<StatusCause>& causes) {
    for (const char* field : {"data", "binaryData"}) {
        const auto* data = object.if_contains(field);
        if (data == nullptr || data->is_null()) continue;
        if (!data->is_object()) continue;
        for (const auto& [key, value] : data->as_object()) {
            (void)value;
            const std::string k(key);
            const bool ok = !k.empty() && k.size() <= 253 &&
                            k.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-_.") == std::string::npos;
            if (!ok) {
                causes.push_back({"FieldValueInvalid",
                                  "Invalid value: \"" + k +
                                      "\": a valid config key must consist of alphanumeric "
                                      "characters, '-', '_' or '.' (e.g. 'key.name',  or "
                                      "'KEY_NAME',  or 'key-name', regex used for validation is "
                                      "'[-._a-zA-Z0-9]+')",
                                  std::string(field)});
            }
        }
    }
}

void default_persistent_volume(json::object& object) {
    auto& spec = child(object, "spec");
    set_default(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_default(spec, "volumeMode", "Filesystem");
}

void default_persistent_volume_claim(json::object& object) {
    set_default(child(object, "spec"), "volumeMode", "Filesystem");
}

// A new volume is Pending until the binder makes it Available; a new claim is Pending.
void prepare_persistent_volume(json::object& object) {
    object["status"] = json::object{{"phase", "Pending"}};
}

}  // namespace

const Strategy& strategy_for(const ResourceInfo& info) {
    using NR = Strategy::NameRule;
    static const Strategy generic{};
    static const Strategy namespace_strategy{NR::kLabel, default_namespace, prepare_namespace,
                                             nullptr};
    static const Strategy pod{NR::kSubdomain, default_pod, prepare_pod, nullptr};
    static const Strategy service{NR::kDns1035, default_service, nullptr, nullptr};
    static const Strategy secret{NR::kSubdomain, default_secret, nullptr, nullptr};
    static const Strategy configmap{NR::kSubdomain, nullptr, nullptr, validate_configmap};
    static const Strategy deployment{NR::kSubdomain, default_deployment, prepare_with_empty_status,
                                     nullptr};
    static const Strategy replicaset{NR::kSubdomain, default_replicaset, prepare_with_empty_status,
                                     nullptr};
    static const Strategy statefulset{NR::kSubdomain, default_statefulset,
                                      prepare_with_empty_status, nullptr};
    static const Strategy daemonset{NR::kSubdomain, default_daemonset, prepare_with_empty_status,
                                    nullptr};
    static const Strategy job{NR::kLabel, default_job, prepare_with_empty_status, nullptr};
    static const Strategy cronjob{NR::kSubdomain, default_cronjob, prepare_with_empty_status,
                                  nullptr};
    static const Strategy crd{NR::kSubdomain, nullptr, prepare_with_empty_status, validate_crd};
    static const Strategy rbac{NR::kPathSegment, nullptr, nullptr, nullptr};
    static const Strategy persistent_volume{NR::kSubdomain, default_persistent_volume,
                                            prepare_persistent_volume, nullptr};
    static const Strategy persistent_volume_claim{NR::kSubdomain, default_persistent_volume_claim,
                                                  prepare_persistent_volume, nullptr};
    if (info.custom) return generic;
    if (info.group == "rbac.authorization.k8s.io") return rbac;
    if (info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions") {
        return crd;
    }
    if (info.group.empty()) {
        if (info.plural == "namespaces") return namespace_strategy;
        if (info.plural == "pods") return pod;
        if (info.plural == "services") return service;
        if (info.plural == "secrets") return secret;
        if (info.plural == "configmaps") return configmap;
        if (info.plural == "persistentvolumes") return persistent_volume;
        if (info.plural == "persistentvolumeclaims") return persistent_volume_claim;
    } else if (info.group == "apps") {
        if (info.plural == "deployments") return deployment;
        if (info.plural == "replicasets") return replicaset;
        if (info.plural == "statefulsets") return statefulset;
        if (info.plural == "daemonsets") return daemonset;
    } else if (info.group == "batch") {
        if (info.plural == "jobs") return job;
        if (info.plural == "cronjobs") return cronjob;
    }
    return generic;
}

}  // namespace kcube::api
