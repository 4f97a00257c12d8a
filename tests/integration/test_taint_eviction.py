"""Taint-based eviction (the taint-eviction-controller) against a real node process, with a fake
kubelet playing worker-1: `kubectl taint ... :NoExecute` deletes the pods that do not tolerate
the taint at once (DisruptionTarget condition, TaintManagerEviction event), leaves those that
tolerate it for good, deletes those with tolerationSeconds when the time is up, and removing
the taint in time cancels the pending eviction.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kubelet import FakeKubelet  # noqa: E402
from node_fixture import Node  # noqa: E402

TAINT = "k=v:NoExecute"


def pod_manifest(name, tolerations=None, finalizers=None):
    meta = {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    spec = {"nodeName": "worker-1",
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def toleration(seconds=None):
    t = {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


class TaintEvictionTest(unittest.TestCase):
    def setUp(self):
        self.node = Node().start()
        self.kubelet = FakeKubelet(self.node, name="worker-1").start()

    def tearDown(self):
        self.kubelet.stop()
        self.node.cleanup()

    def create(self, manifest):
        self.node.kubectl("create", "-f", "-", input=json.dumps(manifest))
        name = manifest["metadata"]["name"]
        self.node.wait_for(lambda: self.phase(name) == "Running", 30, what="%s running" % name)

    def pod(self, name):
        result = self.node.kubectl("get", "pod", name, "-o", "json", "--ignore-not-found")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def phase(self, name):
        pod = self.pod(name)
        return pod and pod.get("status", {}).get("phase")

    def gone(self, name):
        return self.pod(name) is None

    def eviction_events(self, name):
        events = self.node.kubectl_json(
            "get", "events", "--field-selector", "involvedObject.name=%s" % name)["items"]
        return [e for e in events if e.get("reason") == "TaintManagerEviction"]

    def taint(self, remove=False):
        self.node.kubectl("taint", "nodes", "worker-1", TAINT + ("-" if remove else ""))

    def test_untolerated_pod_is_evicted_at_once(self):
        # A finalizer holds the deleted pod so its DisruptionTarget condition can be seen.
        self.create(pod_manifest("victim", finalizers=["example.com/hold"]))
        self.create(pod_manifest("other-victim"))
        self.taint()
        pod = self.node.wait_for(
            lambda: (p := self.pod("victim")) and p["metadata"].get("deletionTimestamp") and p,
            30, what="victim marked for deletion")
        conditions = {c["type"]: c for c in pod["status"].get("conditions", [])}
        self.assertIn("DisruptionTarget", conditions)
        self.assertEqual(conditions["DisruptionTarget"]["status"], "True")
        self.assertEqual(conditions["DisruptionTarget"]["reason"], "DeletionByTaintManager")
        self.assertEqual(conditions["DisruptionTarget"]["message"],
                         "Taint manager: deleting due to NoExecute taint")
        self.node.wait_for(lambda: self.gone("other-victim"), 30, what="other-victim deleted")
        for name in ("victim", "other-victim"):
            events = self.node.wait_for(lambda: self.eviction_events(name), 30,
                                        what="TaintManagerEviction event for %s" % name)
            self.assertEqual(events[0]["message"], "Marking for deletion Pod default/%s" % name)
            self.assertEqual(events[0]["type"], "Normal")
            self.assertEqual(events[0]["source"].get("component"), "taint-eviction-controller")
        self.node.kubectl("patch", "pod", "victim", "--type=json",
                          "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
        self.node.wait_for(lambda: self.gone("victim"), 30, what="victim deleted")

    def test_tolerating_pod_stays(self):
        self.create(pod_manifest("tolerant", tolerations=[toleration()]))
        self.create(pod_manifest("intolerant"))
        self.taint()
        # The intolerant pod's eviction shows the controller has judged the node's taint.
        self.node.wait_for(lambda: self.gone("intolerant"), 30, what="intolerant deleted")
        pod = self.pod("tolerant")
        self.assertIsNotNone(pod)
        self.assertNotIn("deletionTimestamp", pod["metadata"])
        self.assertEqual(self.eviction_events("tolerant"), [])

    def test_toleration_seconds_delay_eviction(self):
        self.create(pod_manifest("timed", tolerations=[toleration(seconds=3)]))
        self.taint()
        tainted = time.time()
        self.node.wait_for(lambda: self.gone("timed"), 30, interval=0.05, what="timed deleted")
        elapsed = time.time() - tainted
        self.assertGreaterEqual(elapsed, 2.0, "evicted after %.2fs, before its 3s" % elapsed)
        self.assertLess(elapsed, 10.0, "evicted only after %.2fs" % elapsed)
        print("timed pod deleted %.2fs after the taint" % elapsed, file=sys.stderr)
        events = self.node.wait_for(lambda: self.eviction_events("timed"), 30,
                                    what="TaintManagerEviction event")
        self.assertEqual(events[0]["message"], "Marking for deletion Pod default/timed")

    def test_removing_taint_cancels_eviction(self):
        self.create(pod_manifest("reprieved", tolerations=[toleration(seconds=3)]))
        # Judged after "reprieved" (same node change, keys in order): once it is gone, the
        # reprieved pod's eviction is pending.
        self.create(pod_manifest("z-witness"))
        self.taint()
        tainted = time.time()
        self.node.wait_for(lambda: self.gone("z-witness"), 30, what="z-witness deleted")
        self.taint(remove=True)
        self.node.wait_for(lambda: self.cancelled("reprieved"), 30, what="eviction cancelled")
        # Well past the 3 s a pending eviction would have taken, the pod is still there.
        while time.time() < tainted + 6:
            pod = self.pod("reprieved")
            self.assertIsNotNone(pod, "reprieved pod was deleted")
            self.assertNotIn("deletionTimestamp", pod["metadata"])
            time.sleep(0.5)
        self.assertEqual([e["message"] for e in self.eviction_events("reprieved")],
                         ["Cancelling deletion of Pod default/reprieved"])

    def cancelled(self, name):
        return any(e["message"].startswith("Cancelling deletion")
                   for e in self.eviction_events(name))


if __name__ == "__main__":
    unittest.main(verbosity=2)
