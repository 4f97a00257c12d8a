"""The DaemonSet controller against a real node process, with fake kubelets as the nodes: one
pod per eligible node (pinned by node affinity, placed by the scheduler), taints and node
selectors, rolling updates through ControllerRevisions, OnDelete, and status that
`kubectl rollout status` understands.
"""
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kubelet import FakeKubelet, running_ready  # noqa: E402
from node_fixture import Node  # noqa: E402


def daemonset(name, image="registry.k8s.io/pause:3.10", **spec_extra):
    template_spec = {"containers": [{"name": "app", "image": image}]}
    template_spec.update(spec_extra.pop("pod", {}))
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec}}
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name}, "spec": spec}


class DaemonSetTestCase(unittest.TestCase):
    def setUp(self):
        self.node = Node().start()
        self.kubelets = []

    def tearDown(self):
        for kubelet in self.kubelets:
            kubelet.stop()
        self.node.cleanup()

    def kubelet(self, name, **kwargs):
        kubelet = FakeKubelet(self.node, name=name, **kwargs).start()
        self.kubelets.append(kubelet)
        return kubelet

    def apply(self, manifest):
        self.node.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def pods(self, name):
        items = self.node.kubectl_json("get", "pods", "-l", "app=%s" % name)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ds(self, name):
        return self.node.kubectl_json("get", "ds", name)

    def bound_nodes(self, name):
        """Node names of the DaemonSet's live pods, once all of them are bound."""
        pods = self.pods(name)
        nodes = [p["spec"].get("nodeName") for p in pods]
        return sorted(nodes) if all(nodes) else None

    def wait_nodes(self, name, expected, timeout=40):
        return self.node.wait_for(lambda: self.bound_nodes(name) == sorted(expected), timeout,
                                  what="%s pods on %s (have %s)" % (name, expected,
                                                                    self.bound_nodes(name)))

    def rollout_status(self, name, timeout="60s"):
        return self.node.kubectl("rollout", "status", "ds/%s" % name, "--timeout", timeout,
                                 timeout=90)

    def events(self, name, reason):
        return self.node.kubectl_json(
            "get", "events", "--field-selector",
            "involvedObject.kind=DaemonSet,involvedObject.name=%s,reason=%s" % (name, reason)
        )["items"]


class TestDaemonSetPlacement(DaemonSetTestCase):
    def test_one_pod_per_node(self):
        self.kubelet("worker-1")
        self.kubelet("worker-2")
        self.apply(daemonset("agent"))
        self.wait_nodes("agent", ["worker-1", "worker-2"])
        out = self.rollout_status("agent")
        self.assertIn('daemon set "agent" successfully rolled out', out.stdout)

        ds = self.ds("agent")
        status = ds["status"]
        for field in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                      "numberAvailable", "updatedNumberScheduled"):
            self.assertEqual(status[field], 2, (field, status))
        self.assertEqual(status["numberMisscheduled"], 0)
        self.assertEqual(status["observedGeneration"], ds["metadata"]["generation"])

        revisions = self.node.kubectl_json("get", "controllerrevisions")["items"]
        self.assertEqual(len(revisions), 1)
        revision = revisions[0]
        hash_ = revision["metadata"]["labels"]["controller-revision-hash"]
        self.assertEqual(revision["metadata"]["name"], "agent-" + hash_)
        self.assertEqual(revision["revision"], 1)
        self.assertEqual(revision["metadata"]["ownerReferences"][0]["uid"], ds["metadata"]["uid"])

        for pod in self.pods("agent"):
            meta = pod["metadata"]
            self.assertTrue(meta["name"].startswith("agent-"))
            self.assertEqual(meta["generateName"], "agent-")
            self.assertEqual(meta["labels"]["controller-revision-hash"], hash_)
            self.assertEqual(meta["labels"]["pod-template-generation"], "1")
            ref = meta["ownerReferences"][0]
            self.assertEqual((ref["kind"], ref["name"], ref["controller"]),
                             ("DaemonSet", "agent", True))
            terms = pod["spec"]["affinity"]["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            self.assertEqual(terms, [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                       "values": [pod["spec"]["nodeName"]]}]}])
            tolerations = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
            for key, effect in [("node.kubernetes.io/not-ready", "NoExecute"),
                                ("node.kubernetes.io/unreachable", "NoExecute"),
                                ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                                ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                                ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                                ("node.kubernetes.io/unschedulable", "NoSchedule")]:
                self.assertIn((key, effect), tolerations)

        created = self.events("agent", "SuccessfulCreate")
        self.assertEqual(sorted(e["message"] for e in created),
                         sorted("Created pod: " + p["metadata"]["name"]
                                for p in self.pods("agent")))
        self.assertEqual(created[0]["source"]["component"], "daemonset-controller")

        # A node that joins later gets its pod.
        self.kubelet("worker-3")
        self.wait_nodes("agent", ["worker-1", "worker-2", "worker-3"])
        self.node.wait_for(lambda: self.ds("agent")["status"].get("numberReady") == 3,
                           what="3 ready")

        # A pod deleted by hand is replaced.
        victim = self.pods("agent")[0]
        self.node.kubectl("delete", "pod", victim["metadata"]["name"], "--wait=false")
        self.node.wait_for(lambda: len(self.pods("agent")) == 3 and victim["metadata"]["uid"]
                           not in {p["metadata"]["uid"] for p in self.pods("agent")},
                           what="replacement pod")
        self.wait_nodes("agent", ["worker-1", "worker-2", "worker-3"])

    def test_tainted_node_excluded_unless_tolerated(self):
        self.kubelet("worker-1")
        self.kubelet("gpu", taints=[{"key": "dedicated", "value": "gpu",
                                     "effect": "NoSchedule"}])
        self.apply(daemonset("logs"))
        self.wait_nodes("logs", ["worker-1"])
        self.rollout_status("logs")
        self.assertEqual(self.ds("logs")["status"]["desiredNumberScheduled"], 1)

        self.apply(daemonset("logs", pod={"tolerations": [
            {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}))
        self.wait_nodes("logs", ["gpu", "worker-1"])
        self.rollout_status("logs")
        self.assertEqual(self.ds("logs")["status"]["desiredNumberScheduled"], 2)

        # A NoExecute taint the pods do not tolerate removes them.
        self.node.kubectl("taint", "node", "gpu", "evict=yes:NoExecute")
        self.wait_nodes("logs", ["worker-1"])
        self.node.wait_for(lambda: self.ds("logs")["status"].get("desiredNumberScheduled") == 1,
                           what="desired 1")

    def test_node_selector(self):
        self.kubelet("worker-1", labels={"disk": "ssd"})
        self.kubelet("worker-2")
        self.apply(daemonset("ssd", pod={"nodeSelector": {"disk": "ssd"}}))
        self.wait_nodes("ssd", ["worker-1"])
        self.node.kubectl("label", "node", "worker-2", "disk=ssd")
        self.wait_nodes("ssd", ["worker-1", "worker-2"])
        self.node.kubectl("label", "node", "worker-1", "disk-")
        self.wait_nodes("ssd", ["worker-2"])
        deleted = self.node.wait_for(lambda: self.events("ssd", "SuccessfulDelete"),
                                     what="SuccessfulDelete event")
        self.assertTrue(deleted[0]["message"].startswith("Deleted pod: ssd-"))
        self.rollout_status("ssd")

    def test_cordoned_and_not_ready_nodes_keep_their_daemons(self):
        worker = self.kubelet("worker-1")
        self.apply(daemonset("keep"))
        self.wait_nodes("keep", ["worker-1"])
        self.node.kubectl("cordon", "worker-1")
        self.kubelet("worker-2")
        self.node.kubectl("cordon", "worker-2")
        # Daemons tolerate the unschedulable taint: the cordoned new node gets one too.
        self.wait_nodes("keep", ["worker-1", "worker-2"])
        uid = {p["spec"]["nodeName"]: p["metadata"]["uid"] for p in self.pods("keep")}
        worker.set_ready(False)
        self.node.wait_for(lambda: any(t["key"] == "node.kubernetes.io/not-ready"
                                       for t in self.node.kubectl_json("get", "node", "worker-1")
                                       ["spec"].get("taints", [])), what="not-ready taint")
        self.assertEqual({p["spec"]["nodeName"]: p["metadata"]["uid"]
                          for p in self.pods("keep")}, uid)


class TestDaemonSetUpdates(DaemonSetTestCase):
    def test_rolling_update(self):
        for i in range(3):
            self.kubelet("worker-%d" % i)
        self.apply(daemonset("roll", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}))
        self.wait_nodes("roll", ["worker-0", "worker-1", "worker-2"])
        self.rollout_status("roll")
        old_hash = self.pods("roll")[0]["metadata"]["labels"]["controller-revision-hash"]

        # Watch readiness while the rollout runs: never more than one node without a ready pod.
        fewest = [3]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                code, listing = self.node.api("GET", "/api/v1/namespaces/default/pods"
                                              "?labelSelector=app%3Droll")
                if code == 200:
                    ready_nodes = {p["spec"].get("nodeName") for p in listing["items"]
                                   if not p["metadata"].get("deletionTimestamp")
                                   and any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in p.get("status", {}).get("conditions", []))}
                    fewest[0] = min(fewest[0], len(ready_nodes))
                stop.wait(0.02)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.node.kubectl("set", "image", "ds/roll", "app=registry.k8s.io/pause:3.9")
        try:
            out = self.rollout_status("roll")
        finally:
            stop.set()
            watcher.join()
        self.assertGreaterEqual(fewest[0], 2)
        self.assertIn('daemon set "roll" successfully rolled out', out.stdout)
        pods = self.pods("roll")
        self.assertEqual(len(pods), 3)
        hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in pods}
        self.assertEqual(len(hashes), 1)
        self.assertNotEqual(hashes, {old_hash})
        self.assertEqual({p["spec"]["containers"][0]["image"] for p in pods},
                         {"registry.k8s.io/pause:3.9"})
        self.assertEqual({p["metadata"]["labels"]["pod-template-generation"] for p in pods},
                         {"2"})
        self.assertEqual(sorted(self.bound_nodes("roll")), ["worker-0", "worker-1", "worker-2"])
        status = self.ds("roll")["status"]
        self.assertEqual(status["updatedNumberScheduled"], 3)
        self.assertEqual(status["numberAvailable"], 3)

        revisions = sorted(r["revision"] for r in
                           self.node.kubectl_json("get", "controllerrevisions")["items"])
        self.assertEqual(revisions, [1, 2])
        history = self.node.kubectl("rollout", "history", "ds/roll").stdout
        self.assertIn("1 ", history)
        self.assertIn("2 ", history)

        # maxUnavailable 1: old pods went one at a time (each deletion before the next create).
        deletes = self.events("roll", "SuccessfulDelete")
        self.assertEqual(sum(e.get("count", 1) for e in deletes), 3)

    def test_rolling_update_with_surge(self):
        # New-image pods stay unready until the gate opens, so the surge (a node with an old
        # and a new pod) lasts until the test has seen it, however slow kubectl is.
        gate = threading.Event()

        def policy(pod):
            new = pod["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.9"
            return running_ready(pod) if not new or gate.is_set() else None
        self.kubelet("worker-1", policy=policy)
        self.kubelet("worker-2", policy=policy)
        self.apply(daemonset("surge", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
        self.wait_nodes("surge", ["worker-1", "worker-2"])
        self.rollout_status("surge")
        self.node.kubectl("set", "image", "ds/surge", "app=registry.k8s.io/pause:3.9")
        # The new pod starts next to the old one (maxUnavailable 0): a node has two, and no
        # old pod goes while its replacement is not ready.
        self.node.wait_for(lambda: len(self.pods("surge")) == 3, what="a surge pod")
        self.assertEqual(2, sum(p["spec"]["containers"][0]["image"] != "registry.k8s.io/pause:3.9"
                                for p in self.pods("surge")))
        gate.set()
        self.rollout_status("surge")
        self.wait_nodes("surge", ["worker-1", "worker-2"])
        self.assertEqual({p["spec"]["containers"][0]["image"] for p in self.pods("surge")},
                         {"registry.k8s.io/pause:3.9"})
        deletes = self.events("surge", "SuccessfulDelete")
        self.assertEqual(sum(e.get("count", 1) for e in deletes), 2)

    def test_on_delete(self):
        self.kubelet("worker-1")
        self.kubelet("worker-2")
        self.apply(daemonset("manual", updateStrategy={"type": "OnDelete"}))
        self.wait_nodes("manual", ["worker-1", "worker-2"])
        before = {p["metadata"]["uid"] for p in self.pods("manual")}
        self.node.kubectl("set", "image", "ds/manual", "app=registry.k8s.io/pause:3.9")
        self.node.wait_for(lambda: self.ds("manual")["status"].get("observedGeneration") == 2,
                           what="generation observed")
        self.assertEqual(self.ds("manual")["status"]["updatedNumberScheduled"], 0)
        self.assertEqual({p["metadata"]["uid"] for p in self.pods("manual")}, before)
        victim = [p for p in self.pods("manual") if p["spec"]["nodeName"] == "worker-1"][0]
        self.node.kubectl("delete", "pod", victim["metadata"]["name"], "--wait=false")
        self.node.wait_for(
            lambda: self.ds("manual")["status"].get("updatedNumberScheduled") == 1,
            what="one updated")
        images = {p["spec"]["nodeName"]: p["spec"]["containers"][0]["image"]
                  for p in self.pods("manual")}
        self.assertEqual(images, {"worker-1": "registry.k8s.io/pause:3.9",
                                  "worker-2": "registry.k8s.io/pause:3.10"})

    def test_rollout_undo(self):
        self.kubelet("worker-1")
        self.apply(daemonset("undo"))
        self.rollout_status("undo")
        self.node.kubectl("set", "image", "ds/undo", "app=registry.k8s.io/pause:3.9")
        self.rollout_status("undo")
        self.node.kubectl("rollout", "undo", "ds/undo")
        self.rollout_status("undo")
        self.node.wait_for(lambda: {p["spec"]["containers"][0]["image"]
                                    for p in self.pods("undo")} == {"registry.k8s.io/pause:3.10"},
                           what="back to the first image")
        revisions = {r["metadata"]["labels"]["controller-revision-hash"]: r["revision"]
                     for r in self.node.kubectl_json("get", "controllerrevisions")["items"]}
        self.assertEqual(sorted(revisions.values()), [2, 3])

    def test_delete_daemonset(self):
        self.kubelet("worker-1")
        self.apply(daemonset("gone"))
        self.wait_nodes("gone", ["worker-1"])
        self.node.kubectl("delete", "ds", "gone", "--wait=false")
        self.node.wait_for(lambda: self.node.kubectl("get", "ds", "gone", check=False)
                           .returncode != 0, what="daemonset deleted")
        # Whatever the garbage collector does with the pod, nothing makes new ones.
        count = len(self.pods("gone"))
        self.assertLessEqual(count, 1)
        self.kubelet("worker-2")
        self.node.wait_for(lambda: self.node.kubectl_json("get", "node", "worker-2"),
                           what="worker-2")
        self.assertLessEqual(len(self.pods("gone")), count)


if __name__ == "__main__":
    unittest.main(verbosity=2)
