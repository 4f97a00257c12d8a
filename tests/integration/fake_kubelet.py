"""A stand-in kubelet for controller tests (the real one is off): registers a Node, renews its
Lease, and writes the status of pods bound to it through the API, as a kubelet would.

What happens to a pod is decided by `policy(pod)`, which returns the status to write (or None to
leave the pod alone); the default makes every pod Running and Ready. Terminating pods are
deleted with grace 0, as a kubelet does once their containers stopped.
"""
import threading
import time
import urllib.parse


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def running_ready(pod, ready=True):
    """The status a kubelet writes for a pod whose containers all run."""
    containers = pod["spec"].get("containers", [])
    return {
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now()},
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": now()},
            {"type": "ContainersReady", "status": "True" if ready else "False",
             "lastTransitionTime": now()},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
        ],
        "hostIP": "10.0.0.1",
        "podIP": pod.get("_ip", "10.244.0.%d" % (hash(pod["metadata"]["name"]) % 250 + 2)),
        "startTime": now(),
        "containerStatuses": [
            {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready,
             "restartCount": 0, "started": True,
             "state": {"running": {"startedAt": now()}}} for c in containers],
    }


def finished(pod, succeeded=True):
    """The status of a pod whose containers exited 0 (or 1)."""
    code = 0 if succeeded else 1
    return {
        "phase": "Succeeded" if succeeded else "Failed",
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted",
                        "lastTransitionTime": now()}],
        "startTime": now(),
        "containerStatuses": [
            {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
             "restartCount": 0,
             "state": {"terminated": {"exitCode": code,
                                      "reason": "Completed" if succeeded else "Error",
                                      "startedAt": now(), "finishedAt": now()}}}
            for c in pod["spec"].get("containers", [])],
    }


class FakeKubelet:
    def __init__(self, node, name="worker-1", capacity=None, labels=None, taints=None,
                 policy=None, interval=0.1):
        self.node = node
        self.name = name
        self.capacity = capacity or {"cpu": "4", "memory": "8Gi", "pods": "110",
                                     "ephemeral-storage": "50Gi"}
        self.labels = labels or {}
        self.taints = taints or []
        self.policy = policy or (lambda pod: running_ready(pod))
        self.interval = interval
        self.heartbeats = True  # clear to stop Lease renewal (node lifecycle tests)
        self.ready = True  # the Ready status this kubelet reports (see set_ready)
        self.handled = {}  # pod uid -> the status written
        self._stop = threading.Event()
        self._thread = None

    def register(self):
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64"}
        labels.update(self.labels)
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels},
                "spec": {"taints": self.taints} if self.taints else {}}
        status, created = self.node.api("POST", "/api/v1/nodes", body)
        assert status in (201, 409), (status, created)
        node_status = {
            "capacity": self.capacity, "allocatable": self.capacity,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                          {"type": "Hostname", "address": self.name}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "containerRuntimeVersion": "fake://1",
                         "operatingSystem": "linux", "architecture": "amd64"},
        }
        status, body = self.node.api("PATCH", "/api/v1/nodes/%s/status" % self.name,
                                     {"status": node_status},
                                     "application/merge-patch+json")
        assert status == 200, (status, body)
        self.renew_lease()

    def renew_lease(self):
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s" % self.name
        micro = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        status, _ = self.node.api("PATCH", path, {"spec": {"renewTime": micro}},
                                  "application/merge-patch+json")
        if status == 404:
            self.node.api("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                          {"metadata": {"name": self.name},
                           "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                                    "renewTime": micro}})

    def post_ready(self, ready=True):
        """Writes the node's Ready condition as this kubelet sees it (True or False)."""
        condition = {"type": "Ready", "status": "True" if ready else "False",
                     "reason": "KubeletReady" if ready else "KubeletNotReady",
                     "message": "kubelet is posting ready status" if ready
                     else "container runtime is down",
                     "lastHeartbeatTime": now(), "lastTransitionTime": now()}
        status, body = self.node.api("PATCH", "/api/v1/nodes/%s/status" % self.name,
                                     {"status": {"conditions": [condition]}},
                                     "application/strategic-merge-patch+json")
        assert status == 200, (status, body)

    def set_ready(self, ready):
        """Makes this kubelet report Ready=True or Ready=False from now on."""
        self.ready = ready
        self.post_ready(ready)

    def repost_ready(self):
        """Like a kubelet whose view differs from the node object's (after the node lifecycle
        controller set Unknown while heartbeats were off): posts its own Ready status again."""
        status, node = self.node.api("GET", "/api/v1/nodes/%s" % self.name)
        if status != 200:
            return
        want = "True" if self.ready else "False"
        have = [c.get("status") for c in node.get("status", {}).get("conditions", [])
                if c.get("type") == "Ready"]
        if have != [want]:
            self.post_ready(self.ready)

    def start(self):
        self.register()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self):
        last_lease = time.time()
        while not self._stop.is_set():
            try:
                self.sync_pods()
                if self.heartbeats and time.time() - last_lease > 2:
                    self.renew_lease()
                    self.repost_ready()
                    last_lease = time.time()
            except Exception as e:  # keep playing the kubelet; a test sees the effects
                print("fake kubelet:", e)
            self._stop.wait(self.interval)

    def sync_pods(self):
        selector = urllib.parse.quote("spec.nodeName=%s" % self.name)
        status, listing = self.node.api("GET", "/api/v1/pods?fieldSelector=" + selector)
        if status != 200:
            return
        for pod in listing["items"]:
            meta = pod["metadata"]
            path = "/api/v1/namespaces/%s/pods/%s" % (meta["namespace"], meta["name"])
            if meta.get("deletionTimestamp"):
                self.node.api("DELETE", path + "?gracePeriodSeconds=0")
                continue
            if meta["uid"] in self.handled:
                continue
            new_status = self.policy(pod)
            if new_status is None:
                continue
            code, body = self.node.api("PATCH", path + "/status", {"status": new_status},
                                       "application/merge-patch+json")
            if code == 200:
                self.handled[meta["uid"]] = new_status


def set_pod_ready(node, namespace, name, ready=True):
    """Re-writes a running pod's readiness through the API, as a kubelet does when a readiness
    probe starts or stops passing: the Ready and ContainersReady conditions (with a new
    lastTransitionTime when they change) and each container's ready flag."""
    path = "/api/v1/namespaces/%s/pods/%s" % (namespace, name)
    status, pod = node.api("GET", path)
    assert status == 200, (status, pod)
    pod_status = pod.get("status", {})
    value = "True" if ready else "False"
    conditions = []
    for condition in pod_status.get("conditions", []):
        if condition.get("type") in ("Ready", "ContainersReady"):
            condition = dict(condition)
            if condition.get("status") != value:
                condition["lastTransitionTime"] = now()
            condition["status"] = value
        conditions.append(condition)
    containers = [dict(c, ready=ready) for c in pod_status.get("containerStatuses", [])]
    code, body = node.api("PATCH", path + "/status",
                          {"status": {"conditions": conditions, "containerStatuses": containers}},
                          "application/merge-patch+json")
    assert code == 200, (code, body)
    return body
