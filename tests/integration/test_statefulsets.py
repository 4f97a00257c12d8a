"""StatefulSets with real kubectl against `kcube node run` (kubelet off): a fake kubelet makes
pods Running and Ready a little after it first sees them, and checks that OrderedReady never
shows it pod N before pod N-1 was made Ready."""
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from fake_kubelet import FakeKubelet, running_ready  # noqa: E402
from node_fixture import Node  # noqa: E402

NS = "default"


class OrderedKubelet:
    """Ready `delay` seconds after first sight; records when each pod was made ready and any
    pod of an OrderedReady set seen before its predecessor was ready. Pods labelled
    hold=true stay not-ready until `release()`."""

    def __init__(self, delay=0.5):
        self.delay = delay
        self.first_seen = {}
        self.ready_at = {}  # pod name -> time the kubelet made its current incarnation ready
        self.violations = []
        self.held = True
        self.lock = threading.Lock()

    def release(self):
        self.held = False

    def __call__(self, pod):
        meta = pod["metadata"]
        name, uid = meta["name"], meta["uid"]
        labels = meta.get("labels", {})
        with self.lock:
            if uid not in self.first_seen:
                self.first_seen[uid] = time.time()
                self.ready_at.pop(name, None)
                set_name, _, ordinal = name.rpartition("-")
                if labels.get("ordered") == "true" and ordinal.isdigit() and int(ordinal) > 0:
                    previous = "%s-%d" % (set_name, int(ordinal) - 1)
                    if previous not in self.ready_at:
                        self.violations.append("%s seen before %s was ready" % (name, previous))
            if labels.get("hold") == "true" and self.held:
                return None
            if time.time() - self.first_seen[uid] < self.delay:
                return None
            self.ready_at[name] = time.time()
        return running_ready(pod)


def sts_manifest(name, replicas=3, image="nginx:1.25", labels=None, **spec):
    pod_labels = {"app": name}
    pod_labels.update(labels or {})
    body = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    body["spec"].update(spec)
    return json.dumps(body)


class StatefulSetTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.policy = OrderedKubelet()
        cls.kubelet = FakeKubelet(cls.node, policy=cls.policy).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.node.cleanup()

    def apply(self, manifest):
        self.node.kubectl("apply", "-f", "-", input=manifest)

    def sts(self, name):
        status, body = self.node.api("GET", "/apis/apps/v1/namespaces/%s/statefulsets/%s"
                                     % (NS, name))
        self.assertEqual(status, 200, body)
        return body

    def pods(self, app):
        selector = urllib.parse.quote("app=%s" % app)
        status, body = self.node.api("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s"
                                     % (NS, selector))
        self.assertEqual(status, 200, body)
        return {p["metadata"]["name"]: p for p in body["items"]}

    def events_for(self, name):
        listing = self.node.kubectl_json("get", "events", "-n", NS,
                                         "--field-selector", "involvedObject.name=%s" % name)
        return [(e["type"], e["reason"], e["message"], e.get("source", {}).get("component"))
                for e in listing["items"]]

    def rollout_status(self, name, timeout=90):
        return self.node.kubectl("rollout", "status", "statefulset/%s" % name,
                                 "--timeout=%ds" % timeout, timeout=timeout + 30)

    def test_ordered_creation_claims_and_scale_down(self):
        claim_template = {"metadata": {"name": "www", "labels": {"tier": "storage"}},
                          "spec": {"accessModes": ["ReadWriteOnce"],
                                   "resources": {"requests": {"storage": "1Gi"}}}}
        self.apply(sts_manifest("web", labels={"ordered": "true"},
                                volumeClaimTemplates=[claim_template]))
        out = self.rollout_status("web")
        self.assertIn("3 new pods have been updated", out.stdout)
        self.assertEqual(self.policy.violations, [])

        sts = self.sts("web")
        status = sts["status"]
        self.assertEqual((status["replicas"], status["readyReplicas"],
                          status["availableReplicas"], status["updatedReplicas"],
                          status["currentReplicas"]), (3, 3, 3, 3, 3))
        self.assertEqual(status["currentRevision"], status["updateRevision"])
        self.assertEqual(status["observedGeneration"], sts["metadata"]["generation"])
        self.assertEqual(status["collisionCount"], 0)

        pods = self.pods("web")
        self.assertEqual(sorted(pods), ["web-0", "web-1", "web-2"])
        for ordinal in range(3):
            pod = pods["web-%d" % ordinal]
            labels = pod["metadata"]["labels"]
            self.assertEqual(labels["statefulset.kubernetes.io/pod-name"], "web-%d" % ordinal)
            self.assertEqual(labels["apps.kubernetes.io/pod-index"], str(ordinal))
            self.assertEqual(labels["controller-revision-hash"], status["updateRevision"])
            self.assertEqual(pod["spec"]["hostname"], "web-%d" % ordinal)
            self.assertEqual(pod["spec"]["subdomain"], "web")
            volume = [v for v in pod["spec"]["volumes"] if v["name"] == "www"][0]
            self.assertEqual(volume["persistentVolumeClaim"]["claimName"], "www-web-%d" % ordinal)
            ref = pod["metadata"]["ownerReferences"][0]
            self.assertEqual((ref["kind"], ref["name"], ref["controller"]),
                             ("StatefulSet", "web", True))
        # web-1 was made only after web-0 was ready, web-2 after web-1.
        ready = self.policy.ready_at
        self.assertLess(ready["web-0"], ready["web-1"])
        self.assertLess(ready["web-1"], ready["web-2"])

        claims = self.node.kubectl_json("get", "pvc", "-n", NS)["items"]
        by_name = {c["metadata"]["name"]: c for c in claims}
        for ordinal in range(3):
            claim = by_name["www-web-%d" % ordinal]
            self.assertEqual(claim["metadata"]["labels"], {"tier": "storage", "app": "web"})
            self.assertEqual(claim["spec"]["resources"]["requests"]["storage"], "1Gi")

        revisions = self.node.kubectl_json("get", "controllerrevisions", "-n", NS)["items"]
        mine = [r for r in revisions if r["metadata"]["name"] == status["updateRevision"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["revision"], 1)
        self.assertEqual(mine[0]["metadata"]["ownerReferences"][0]["name"], "web")

        events = self.events_for("web")
        self.assertIn(("Normal", "SuccessfulCreate",
                       "create Pod web-0 in StatefulSet web successful",
                       "statefulset-controller"), events)
        self.assertIn(("Normal", "SuccessfulCreate",
                       "create Claim www-web-2 Pod web-2 in StatefulSet web success",
                       "statefulset-controller"), events)

        # Scale down: the highest ordinal goes first, and the claims stay.
        observed = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                names = tuple(sorted(self.pods("web")))
                if not observed or observed[-1] != names:
                    observed.append(names)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            self.node.kubectl("scale", "statefulset", "web", "--replicas=1")
            self.node.wait_for(lambda: sorted(self.pods("web")) == ["web-0"], timeout=60,
                               what="scale down to web-0")
        finally:
            done.set()
            sampler.join()
        for names in observed:
            self.assertEqual(list(names), ["web-%d" % i for i in range(len(names))],
                             "pods disappeared out of order: %s" % observed)
        self.node.wait_for(lambda: self.sts("web")["status"]["replicas"] == 1, timeout=30,
                           what="status.replicas 1")
        claims = {c["metadata"]["name"] for c in self.node.kubectl_json("get", "pvc")["items"]}
        self.assertTrue({"www-web-0", "www-web-1", "www-web-2"} <= claims)
        deletes = [e[2] for e in self.events_for("web") if e[1] == "SuccessfulDelete"]
        self.assertIn("delete Pod web-2 in StatefulSet web successful", deletes)
        self.assertIn("delete Pod web-1 in StatefulSet web successful", deletes)

        # Scale up again: the same names and the same claims.
        self.node.kubectl("scale", "statefulset", "web", "--replicas=3")
        self.rollout_status("web")
        self.assertEqual(sorted(self.pods("web")), ["web-0", "web-1", "web-2"])
        self.assertEqual(self.policy.violations, [])

    def test_rolling_update_with_partition(self):
        self.apply(sts_manifest("db", image="postgres:16.1",
                                updateStrategy={"type": "RollingUpdate",
                                                "rollingUpdate": {"partition": 2}}))
        self.rollout_status("db")
        before = self.pods("db")
        old_revision = self.sts("db")["status"]["updateRevision"]

        self.node.kubectl("set", "image", "statefulset/db", "app=postgres:16.2")
        out = self.rollout_status("db")
        self.assertIn("partitioned roll out complete: 1 new pods have been updated", out.stdout)
        sts = self.sts("db")
        new_revision = sts["status"]["updateRevision"]
        self.assertNotEqual(new_revision, old_revision)
        self.assertEqual(sts["status"]["currentRevision"], old_revision)
        self.assertEqual(sts["status"]["updatedReplicas"], 1)
        pods = self.pods("db")
        self.assertEqual(pods["db-2"]["metadata"]["labels"]["controller-revision-hash"],
                         new_revision)
        self.assertEqual(pods["db-2"]["spec"]["containers"][0]["image"], "postgres:16.2")
        for name in ("db-0", "db-1"):  # below the partition: untouched
            self.assertEqual(pods[name]["metadata"]["uid"], before[name]["metadata"]["uid"])
            self.assertEqual(pods[name]["metadata"]["labels"]["controller-revision-hash"],
                             old_revision)

        # Partition 0: the rest follow, highest ordinal first.
        self.node.kubectl("patch", "statefulset", "db", "--type=merge", "-p",
                          '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
        out = self.rollout_status("db")
        self.assertIn("3 new pods have been updated", out.stdout)
        self.node.wait_for(
            lambda: self.sts("db")["status"].get("currentRevision") == new_revision,
            timeout=30, what="currentRevision to follow")
        sts = self.sts("db")
        self.assertEqual((sts["status"]["currentReplicas"], sts["status"]["updatedReplicas"]),
                         (3, 3))
        pods = self.pods("db")
        for pod in pods.values():
            self.assertEqual(pod["metadata"]["labels"]["controller-revision-hash"], new_revision)
            self.assertEqual(pod["spec"]["containers"][0]["image"], "postgres:16.2")
        # Replaced from the top down: db-1 was made ready again before db-0.
        self.assertLess(self.policy.ready_at["db-1"], self.policy.ready_at["db-0"])
        deletes = [e[2] for e in self.events_for("db") if e[1] == "SuccessfulDelete"]
        self.assertEqual(deletes.count("delete Pod db-0 in StatefulSet db successful"), 1)

        history = self.node.kubectl("rollout", "history", "statefulset/db").stdout
        numbers = [line.split()[0] for line in history.splitlines()
                   if line.split() and line.split()[0].isdigit()]
        self.assertEqual(numbers, ["1", "2"], history)
        revisions = [r for r in self.node.kubectl_json("get", "controllerrevisions")["items"]
                     if r["metadata"]["ownerReferences"][0]["name"] == "db"]
        self.assertEqual(sorted(r["revision"] for r in revisions), [1, 2])

    def test_claim_retention_policy(self):
        claim_template = {"metadata": {"name": "data"},
                          "spec": {"accessModes": ["ReadWriteOnce"],
                                   "resources": {"requests": {"storage": "1Gi"}}}}
        self.apply(sts_manifest("keep", replicas=2, volumeClaimTemplates=[claim_template],
                                persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                                      "whenScaled": "Delete"}))
        self.rollout_status("keep")
        uid = self.sts("keep")["metadata"]["uid"]

        def owners(claim):
            status, body = self.node.api(
                "GET", "/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (NS, claim))
            if status == 404:
                return None
            return [(r["kind"], r["name"]) for r in body["metadata"].get("ownerReferences", [])]

        # whenDeleted=Delete: each claim is owned by the set (and so goes with it).
        self.node.wait_for(lambda: owners("data-keep-0") == [("StatefulSet", "keep")]
                           and owners("data-keep-1") == [("StatefulSet", "keep")],
                           timeout=30, what="claims owned by the set")
        status, claim = self.node.api(
            "GET", "/api/v1/namespaces/%s/persistentvolumeclaims/data-keep-0" % NS)
        self.assertEqual(claim["metadata"]["ownerReferences"][0]["uid"], uid)

        # whenScaled=Delete: the condemned pod's claim is handed to the pod before it goes
        # (the garbage collector, if running, may then delete the claim).
        self.node.kubectl("scale", "statefulset", "keep", "--replicas=1")
        self.node.wait_for(lambda: sorted(self.pods("keep")) == ["keep-0"], timeout=60,
                           what="scale down to keep-0")
        self.assertIn(owners("data-keep-1"), (None, [("Pod", "keep-1")]))
        self.assertEqual(owners("data-keep-0"), [("StatefulSet", "keep")])

    def test_parallel_pod_management(self):
        self.apply(sts_manifest("par", labels={"hold": "true"}, podManagementPolicy="Parallel"))
        # Nothing is ready (the kubelet holds them), yet all three exist.
        self.node.wait_for(lambda: sorted(self.pods("par")) == ["par-0", "par-1", "par-2"],
                           timeout=30, what="all pods at once")
        self.assertFalse(any(p.get("status", {}).get("phase") == "Running"
                             for p in self.pods("par").values()))
        self.policy.release()
        self.rollout_status("par")


if __name__ == "__main__":
    unittest.main(verbosity=2)
