#pragma once
// Column descriptions of upstream's printers: the swagger documentation of the API field each
// column shows (pkg/printers/internalversion takes them from the versioned types' SwaggerDoc()).
// They travel in every Table's columnDefinitions, so they are kept verbatim. Texts come from the
// Kubernetes 1.20 API documentation; those known to have changed since (ObjectMeta name, pod IP,
// readiness gates) and newer fields (CronJob timeZone) carry their current text.
#include <string_view>

namespace kcube::api::printers::doc {

inline constexpr std::string_view kObjectMetaName =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
inline constexpr std::string_view kObjectMetaCreationTimestamp =
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
inline constexpr std::string_view kPodStatusPodIP =
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
    "allocated.";
inline constexpr std::string_view kPodSpecNodeName =
    "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the "
    "scheduler simply schedules this pod onto that node, assuming that it fits resource "
    "requirements.";
inline constexpr std::string_view kPodStatusNominatedNodeName =
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
    "scheduled right away as preemption victims receive their graceful termination periods. This "
    "field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to "
    "place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to "
    "give the resources on this node to a higher priority pod that is created after preemption. As "
    "a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
inline constexpr std::string_view kPodSpecReadinessGates =
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when "
    "all its containers are ready AND all conditions specified in the readiness gates have status "
    "equal to \"True\" More info: "
    "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
inline constexpr std::string_view kPodSpecNodeSelector =
    "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which "
    "must match a node's labels for the pod to be scheduled on that node. More info: "
    "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
inline constexpr std::string_view kReplicationControllerSpecReplicas =
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit "
    "zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/"
    "replicationcontroller#what-is-a-replicationcontroller";
inline constexpr std::string_view kReplicationControllerStatusReplicas =
    "Replicas is the most recently oberved number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/"
    "replicationcontroller#what-is-a-replicationcontroller";
inline constexpr std::string_view kReplicationControllerStatusReadyReplicas =
    "The number of ready replicas for this replication controller.";
inline constexpr std::string_view kReplicationControllerSpecSelector =
    "Selector is a label query over pods that should match the Replicas count. If Selector is "
    "empty, it is defaulted to the labels present on the Pod template. Label keys and values that "
    "must match in order to be controlled by this replication controller, if empty defaulted to "
    "labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
inline constexpr std::string_view kServiceSpecType =
    "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
    "ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a "
    "cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the "
    "selector or if that is not specified, by manual construction of an Endpoints object or "
    "EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints "
    "are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on "
    "ClusterIP and allocates a port on every node which routes to the same endpoints as the "
    "clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if "
    "supported in the current cloud) which routes to the same endpoints as the clusterIP. "
    "\"ExternalName\" aliases this service to the specified externalName. Several other fields do "
    "not apply to ExternalName services. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/"
    "#publishing-services-service-types";
inline constexpr std::string_view kServiceSpecClusterIP =
    "clusterIP is the IP address of the service and is usually assigned randomly. If an address is "
    "specified manually, is in-range (as per system configuration), and is not in use, it will be "
    "allocated to the service; otherwise creation of the service will fail. This field may not be "
    "changed through updates unless the type field is also being changed to ExternalName (which "
    "requires this field to be blank) or the type field is being changed from ExternalName (in "
    "which case this field may optionally be specified, as describe above).  Valid values are "
    "\"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a "
    "\"headless service\" (no virtual IP), which is useful when direct endpoint connections are "
    "preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and "
    "LoadBalancer. If this field is specified when creating a Service of type ExternalName, "
    "creation will fail. This field will be wiped when updating a Service to type ExternalName. "
    "More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/"
    "#virtual-ips-and-service-proxies";
inline constexpr std::string_view kServiceSpecExternalIPs =
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic "
    "for this service.  These IPs are not managed by Kubernetes.  The user is responsible for "
    "ensuring that traffic arrives at a node with this IP.  A common example is external "
    "load-balancers that are not part of the Kubernetes system.";
inline constexpr std::string_view kServiceSpecPorts =
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/"
    "#virtual-ips-and-service-proxies";
inline constexpr std::string_view kServiceSpecSelector =
    "Route service traffic to pods with label keys and values matching this selector. If empty or "
    "not present, the service is assumed to have an external process managing its endpoints, which "
    "Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. "
    "Ignored if type is ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/";
inline constexpr std::string_view kEndpointsSubsets =
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
    "according to the IPs they share. A single address with multiple ports, some of which are "
    "ready and some of which are not (because they come from different containers) will result in "
    "the address being displayed in different subsets for the different ports. No address will "
    "appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and "
    "ports that comprise a service.";
inline constexpr std::string_view kNodeSystemInfoKubeletVersion =
    "Kubelet Version reported by the node.";
inline constexpr std::string_view kNodeStatusAddresses =
    "List of addresses reachable to the node. Queried from cloud provider, if available. More "
    "info: https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field is declared "
    "as mergeable, but the merge key is not sufficiently unique, which can cause data corruption "
    "when it is merged. Callers should instead use a full-replacement patch. See "
    "http://pr.k8s.io/79391 for an example.";
inline constexpr std::string_view kNodeSystemInfoOSImage =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
inline constexpr std::string_view kNodeSystemInfoKernelVersion =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
inline constexpr std::string_view kNodeSystemInfoContainerRuntimeVersion =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
    "docker://1.5.0).";
inline constexpr std::string_view kEventLastTimestamp =
    "The time at which the most recent occurrence of this event was recorded.";
inline constexpr std::string_view kEventType =
    "Type of this event (Normal, Warning), new types could be added in the future";
inline constexpr std::string_view kEventReason =
    "This should be a short, machine understandable string that gives the reason for the "
    "transition into the object's current status.";
inline constexpr std::string_view kEventInvolvedObject = "The object that this event is about.";
inline constexpr std::string_view kObjectReferenceFieldPath =
    "If referring to a piece of an object instead of an entire object, this string should contain "
    "a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For "
    "example, if the object reference is to a container within a pod, this would take on a value "
    "like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that "
    "triggered the event) or if no container name is specified \"spec.containers[2]\" (container "
    "with index 2 in this pod). This syntax is chosen only to have some well-defined way of "
    "referencing a part of an object.";
inline constexpr std::string_view kEventSource =
    "The component reporting this event. Should be a short machine understandable string.";
inline constexpr std::string_view kEventMessage =
    "A human-readable description of the status of this operation.";
inline constexpr std::string_view kEventFirstTimestamp =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
inline constexpr std::string_view kEventCount = "The number of times this event has occurred.";
inline constexpr std::string_view kSecretType =
    "Used to facilitate programmatic handling of secret data.";
inline constexpr std::string_view kSecretData =
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or "
    "'.'. The serialized form of the secret data is a base64 encoded string, representing the "
    "arbitrary (possibly non-string) data value here. Described in "
    "https://tools.ietf.org/html/rfc4648#section-4";
inline constexpr std::string_view kServiceAccountSecrets =
    "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount. "
    "More info: https://kubernetes.io/docs/concepts/configuration/secret";
inline constexpr std::string_view kPersistentVolumeSpecCapacity =
    "A description of the persistent volume's resources and capacity. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
inline constexpr std::string_view kPersistentVolumeSpecAccessModes =
    "AccessModes contains all ways the volume can be mounted. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
inline constexpr std::string_view kPersistentVolumeSpecReclaimPolicy =
    "What happens to a persistent volume when released from its claim. Valid options are Retain "
    "(default for manually created PersistentVolumes), Delete (default for dynamically provisioned "
    "PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin "
    "underlying this PersistentVolume. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
inline constexpr std::string_view kPersistentVolumeStatusPhase =
    "Phase indicates if a volume is available, bound to a claim, or released by a claim. More "
    "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
inline constexpr std::string_view kPersistentVolumeSpecClaimRef =
    "ClaimRef is part of a bi-directional binding between PersistentVolume and "
    "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the "
    "authoritative bind between PV and PVC. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
inline constexpr std::string_view kPersistentVolumeStatusReason =
    "Reason is a brief CamelCase string that describes any failure and is meant for machine "
    "parsing and tidy display in the CLI.";
inline constexpr std::string_view kPersistentVolumeSpecVolumeMode =
    "volumeMode defines if a volume is intended to be used with a formatted filesystem or to "
    "remain in raw block state. Value of Filesystem is implied when not included in spec.";
inline constexpr std::string_view kPersistentVolumeClaimStatusPhase =
    "Phase represents the current phase of PersistentVolumeClaim.";
inline constexpr std::string_view kPersistentVolumeClaimSpecVolumeName =
    "VolumeName is the binding reference to the PersistentVolume backing this claim.";
inline constexpr std::string_view kPersistentVolumeClaimStatusCapacity =
    "Represents the actual resources of the underlying volume.";
inline constexpr std::string_view kPersistentVolumeClaimStatusAccessModes =
    "AccessModes contains the actual access modes the volume backing the PVC has. More info: "
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
inline constexpr std::string_view kPersistentVolumeClaimSpecVolumeMode =
    "volumeMode defines what type of volume is required by the claim. Value of Filesystem is "
    "implied when not included in claim spec.";
inline constexpr std::string_view kConfigMapData =
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', "
    "'_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys "
    "stored in Data must not overlap with the keys in the BinaryData field, this is enforced "
    "during validation process.";
inline constexpr std::string_view kReplicaSetSpecReplicas =
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit "
    "zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
    "#what-is-a-replicationcontroller";
inline constexpr std::string_view kReplicaSetStatusReplicas =
    "Replicas is the most recently oberved number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
    "#what-is-a-replicationcontroller";
inline constexpr std::string_view kReplicaSetStatusReadyReplicas =
    "The number of ready replicas for this replica set.";
inline constexpr std::string_view kReplicaSetSpecSelector =
    "Selector is a label query over pods that should match the replica count. If the selector is "
    "empty, it is defaulted to the labels present on the pod template. Label keys and values that "
    "must match in order to be controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
inline constexpr std::string_view kDaemonSetStatusDesiredNumberScheduled =
    "The total number of nodes that should be running the daemon pod (including nodes correctly "
    "running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
inline constexpr std::string_view kDaemonSetStatusCurrentNumberScheduled =
    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon "
    "pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
inline constexpr std::string_view kDaemonSetStatusNumberReady =
    "The number of nodes that should be running the daemon pod and have one or more of the daemon "
    "pod running and ready.";
inline constexpr std::string_view kDaemonSetStatusUpdatedNumberScheduled =
    "The total number of nodes that are running updated daemon pod";
inline constexpr std::string_view kDaemonSetStatusNumberAvailable =
    "The number of nodes that should be running the daemon pod and have one or more of the daemon "
    "pod running and available (ready for at least spec.minReadySeconds)";
inline constexpr std::string_view kDaemonSetSpecSelector =
    "A label query over pods that are managed by the daemon set. Must match in order to be "
    "controlled. If empty, defaulted to labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
inline constexpr std::string_view kDeploymentStatusUpdatedReplicas =
    "Total number of non-terminated pods targeted by this deployment that have the desired "
    "template spec.";
inline constexpr std::string_view kDeploymentStatusAvailableReplicas =
    "Total number of available pods (ready for at least minReadySeconds) targeted by this "
    "deployment.";
inline constexpr std::string_view kDeploymentSpecSelector =
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the "
    "ones affected by this deployment.";
inline constexpr std::string_view kNetworkPolicySpecPodSelector =
    "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is "
    "applied to any pods selected by this field. Multiple network policies can select the same set "
    "of pods.  In this case, the ingress rules for each are combined additively. This field is NOT "
    "optional and follows standard label selector semantics. An empty podSelector matches all pods "
    "in this namespace.";
inline constexpr std::string_view kJobStatusSucceeded =
    "The number of pods which reached phase Succeeded.";
inline constexpr std::string_view kJobSpecSelector =
    "A label query over pods that should match the pod count. Normally, the system sets this field "
    "for you. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
inline constexpr std::string_view kCronJobSpecSchedule =
    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
inline constexpr std::string_view kCronJobSpecTimeZone =
    "The time zone name for the given schedule, see "
    "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will "
    "default to the time zone of the kube-controller-manager process. The set of valid time zone "
    "names and the time zone offset is loaded from the system-wide time zone database by the API "
    "server during CronJob validation and the controller manager during execution. If no "
    "system-wide time zone database can be found a bundled version of the database is used "
    "instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a "
    "change in host configuration, the controller will stop creating new new Jobs and will create "
    "a system event with the reason UnknownTimeZone. More information can be found in "
    "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
inline constexpr std::string_view kCronJobSpecSuspend =
    "This flag tells the controller to suspend subsequent executions, it does not apply to already "
    "started executions.  Defaults to false.";
inline constexpr std::string_view kCronJobStatusActive =
    "A list of pointers to currently running jobs.";
inline constexpr std::string_view kCronJobStatusLastScheduleTime =
    "Information when was the last time the job was successfully scheduled.";
inline constexpr std::string_view kControllerRevisionRevision =
    "Revision indicates the revision of the state represented by Data.";
inline constexpr std::string_view kRoleBindingRoleRef =
    "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
    "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
inline constexpr std::string_view kClusterRoleBindingRoleRef =
    "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be "
    "resolved, the Authorizer must return an error.";
inline constexpr std::string_view kLeaseSpecHolderIdentity =
    "holderIdentity contains the identity of the holder of a current lease.";
inline constexpr std::string_view kStorageClassProvisioner =
    "Provisioner indicates the type of the provisioner.";
inline constexpr std::string_view kStorageClassReclaimPolicy =
    "Dynamically provisioned PersistentVolumes of this storage class are created with this "
    "reclaimPolicy. Defaults to Delete.";
inline constexpr std::string_view kStorageClassVolumeBindingMode =
    "VolumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When "
    "unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the "
    "VolumeScheduling feature.";
inline constexpr std::string_view kStorageClassAllowVolumeExpansion =
    "AllowVolumeExpansion shows whether the storage class allow volume expand";
inline constexpr std::string_view kVolumeAttachmentSpecAttacher =
    "Attacher indicates the name of the volume driver that MUST handle this request. This is the "
    "name returned by GetPluginName().";
inline constexpr std::string_view kVolumeAttachmentSourcePersistentVolumeName =
    "Name of the persistent volume to attach.";
inline constexpr std::string_view kVolumeAttachmentSpecNodeName =
    "The node that the volume should be attached to.";
inline constexpr std::string_view kVolumeAttachmentStatusAttached =
    "Indicates the volume is successfully attached. This field must only be set by the entity "
    "completing the attach operation, i.e. the external-attacher.";
inline constexpr std::string_view kCSIDriverSpecAttachRequired =
    "attachRequired indicates this CSI volume driver requires an attach operation (because it "
    "implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach "
    "controller should call the attach volume interface which checks the volumeattachment status "
    "and waits until the volume is attached before proceeding to mounting. The CSI "
    "external-attacher coordinates with CSI volume driver and updates the volumeattachment status "
    "when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and "
    "the value is specified to false, the attach operation will be skipped. Otherwise the attach "
    "operation will be called.";
inline constexpr std::string_view kCSIDriverSpecPodInfoOnMount =
    "If set to true, podInfoOnMount indicates this CSI volume driver requires additional pod "
    "information (like podName, podUID, etc.) during mount operations. If set to false, pod "
    "information will not be passed on mount. Default is false. The CSI driver specifies "
    "podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as "
    "VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing "
    "and validating the information passed in as VolumeContext. The following VolumeConext will be "
    "passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. "
    "\"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace "
    "\"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" "
    "iff the volume is an ephemeral inline volume\n                                defined by a "
    "CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in "
    "Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and "
    "\"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore "
    "this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode "
    "when deployed on such a cluster and the deployment determines which mode that is, for example "
    "via a command line parameter of the driver.";
inline constexpr std::string_view kCSIDriverSpecStorageCapacity =
    "If set to true, storageCapacity indicates that the CSI volume driver wants pod scheduling to "
    "consider the storage capacity that the driver deployment will report by creating "
    "CSIStorageCapacity objects with capacity information.\n\nThe check can be enabled immediately "
    "when deploying a driver. In that case, provisioning new volumes with late binding will pause "
    "until the driver deployment has published some suitable CSIStorageCapacity "
    "object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can "
    "be flipped later when storage capacity information has been published.\n\nThis is an alpha "
    "field and only available when the CSIStorageCapacity feature is enabled. The default is "
    "false.";
inline constexpr std::string_view kCSIDriverSpecTokenRequests =
    "TokenRequests indicates the CSI driver needs pods' service account tokens it is mounting "
    "volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in "
    "the CSI NodePublishVolume calls. The CSI driver should parse and validate the following "
    "VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<audience>\": {\n    "
    "\"token\": <token>,\n    \"expirationTimestamp\": <expiration timestamp in RFC3339>,\n  },\n  "
    "...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is "
    "empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger "
    "NodePublishVolume periodically.\n\nThis is an alpha feature and only available when the "
    "CSIServiceAccountToken feature is enabled.";
inline constexpr std::string_view kCSIDriverSpecRequiresRepublish =
    "RequiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically "
    "called to reflect any possible change in the mounted volume. This field defaults to "
    "false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to "
    "NodePublishVolume should only update the contents of the volume. New mount points will not be "
    "seen by a running container.\n\nThis is an alpha feature and only available when the "
    "CSIServiceAccountToken feature is enabled.";
inline constexpr std::string_view kCSIDriverSpecVolumeLifecycleModes =
    "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The "
    "default if the list is empty is \"Persistent\", which is the usage defined by the CSI "
    "specification and implemented in Kubernetes via the usual PV/PVC mechanism. The other mode is "
    "\"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with "
    "CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be "
    "aware of this because it is only going to get a NodePublishVolume call for such a volume. For "
    "more information about implementing this mode, see "
    "https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one "
    "or more of these modes and more modes may be added in the future. This field is beta.";
inline constexpr std::string_view kEndpointSliceAddressType =
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in "
    "this slice must be the same type. This field is immutable after creation. The following "
    "address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents "
    "an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.";
inline constexpr std::string_view kEndpointSlicePorts =
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port "
    "must have a unique name. When ports is empty, it indicates that there are no defined ports. "
    "When a port is defined with a nil port value, it indicates \"all ports\". Each slice may "
    "include a maximum of 100 ports.";
inline constexpr std::string_view kEndpointSliceEndpoints =
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of "
    "1000 endpoints.";
inline constexpr std::string_view kPriorityClassValue =
    "The value of this priority class. This is the actual priority that pods receive when they "
    "have the name of this class in their pod spec.";
inline constexpr std::string_view kPriorityClassGlobalDefault =
    "globalDefault specifies whether this PriorityClass should be considered as the default "
    "priority for pods that do not have any priority class. Only one PriorityClass can be marked "
    "as `globalDefault`. However, if more than one PriorityClasses exists with their "
    "`globalDefault` field set to true, the smallest value of such global default PriorityClasses "
    "will be used as the default priority.";
inline constexpr std::string_view kPriorityClassPreemptionPolicy =
    "PreemptionPolicy is the Policy for preempting pods with lower priority. One of Never, "
    "PreemptLowerPriority. Defaults to PreemptLowerPriority if unset. This field is beta-level, "
    "gated by the NonPreemptingPriority feature-gate.";
inline constexpr std::string_view kHorizontalPodAutoscalerSpecScaleTargetRef =
    "scaleTargetRef points to the target resource to scale, and is used to the pods for which "
    "metrics should be collected, as well as to actually change the replica count.";
inline constexpr std::string_view kHorizontalPodAutoscalerSpecMetrics =
    "metrics contains the specifications for which to use to calculate the desired replica count "
    "(the maximum replica count across all metrics will be used).  The desired replica count is "
    "calculated multiplying the ratio between the target value and the current value by the "
    "current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and "
    "vice-versa.  See the individual metric source types for more information about how each type "
    "of metric must respond.";
inline constexpr std::string_view kHorizontalPodAutoscalerSpecMinReplicas =
    "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale "
    "down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate "
    "HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling "
    "is active as long as at least one metric value is available.";
inline constexpr std::string_view kHorizontalPodAutoscalerSpecMaxReplicas =
    "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale "
    "up. It cannot be less that minReplicas.";
inline constexpr std::string_view kHorizontalPodAutoscalerStatusCurrentReplicas =
    "currentReplicas is current number of replicas of pods managed by this autoscaler, as last "
    "seen by the autoscaler.";

}  // namespace kcube::api::printers::doc
