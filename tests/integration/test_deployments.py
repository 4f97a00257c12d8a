"""Deployments and ReplicaSets with real kubectl against `kcube node run` (kubelet off): the
scheduler binds pods to a node played by FakeKubelet, which marks them Running and Ready a
moment after it first sees them, so that rollouts take observable steps.

Run: KCUBE_BIN=build/x/kcube KUBECTL=.../kubectl.1.32 python3 tests/integration/test_deployments.py
"""
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_kubelet import FakeKubelet, running_ready  # noqa: E402
from node_fixture import Node  # noqa: E402

# How long the fake kubelet takes to make a pod Ready once it sees it bound.
READY_DELAY = 0.4
# Pods whose image contains this never become Ready (a rollout that cannot progress).
NEVER_READY = "never-ready"


class SlowKubelet:
    """The kubelet policy: Running and Ready READY_DELAY after first seeing the pod, except
    for images that never get ready."""

    def __init__(self):
        self.first_seen = {}

    def __call__(self, pod):
        image = pod["spec"]["containers"][0].get("image", "")
        if NEVER_READY in image:
            return running_ready(pod, ready=False)
        first = self.first_seen.setdefault(pod["metadata"]["uid"], time.time())
        if time.time() - first < READY_DELAY:
            return None
        return running_ready(pod)


def pod_ready(pod):
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


def manifest(name, replicas=3, image="registry.example/web:1", strategy=None, extra_spec=None,
             namespace="default"):
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if strategy:
        spec["strategy"] = strategy
    spec.update(extra_spec or {})
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": name, "namespace": namespace}, "spec": spec})


class PodSampler:
    """Lists a deployment's pods over and over while a rollout runs (each list is one
    consistent snapshot) and keeps what it saw."""

    def __init__(self, node, app, namespace="default"):
        self.node = node
        self.path = "/api/v1/namespaces/%s/pods?labelSelector=%s" % (
            namespace, urllib.parse.quote("app=%s" % app))
        self.samples = []  # [(live pods, ready live pods, images of all pods incl. terminating)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        while not self._stop.is_set():
            status, listing = self.node.api("GET", self.path)
            if status == 200:
                pods = listing["items"]
                live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                self.samples.append((
                    len(live),
                    len([p for p in live if pod_ready(p)]),
                    [p["spec"]["containers"][0]["image"] for p in pods],
                    [p["spec"]["containers"][0]["image"] for p in live]))
            self._stop.wait(0.03)


class DeploymentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.kubelet = FakeKubelet(cls.node, name="worker-1", policy=SlowKubelet()).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.node.cleanup()

    # ---- helpers

    def kubectl(self, *args, **kw):
        return self.node.kubectl(*args, **kw)

    def get(self, kind, name, namespace="default"):
        return self.node.kubectl_json("get", kind, name, "-n", namespace)

    def status(self, kind, name, namespace="default"):
        return self.get(kind, name, namespace).get("status", {})

    def pods(self, app, namespace="default", live=True):
        items = self.node.kubectl_json("get", "pods", "-n", namespace, "-l", "app=" + app)["items"]
        if live:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return items

    def replica_sets(self, app, namespace="default"):
        items = self.node.kubectl_json("get", "rs", "-n", namespace, "-l", "app=" + app)["items"]
        return sorted(items, key=lambda rs: int(
            rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")))

    def wait_rolled_out(self, name, namespace="default", timeout=90):
        result = self.kubectl("rollout", "status", "deployment/" + name, "-n", namespace,
                              "--timeout=%ds" % timeout, timeout=timeout + 30)
        self.assertIn('deployment "%s" successfully rolled out' % name, result.stdout)

    def wait_pods(self, app, count, image=None, ready=True, namespace="default", timeout=60):
        def check():
            pods = self.pods(app, namespace)
            if len(pods) != count:
                return False
            if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
                return False
            if ready and not all(pod_ready(p) for p in pods):
                return False
            return pods
        return self.node.wait_for(check, timeout=timeout,
                                  what="%d pods of %s (image %s)" % (count, app, image))

    def events(self, namespace="default"):
        return self.node.kubectl_json("get", "events", "-n", namespace)["items"]

    def wait_event(self, reason, message, namespace="default", timeout=30):
        def check():
            return [e for e in self.events(namespace)
                    if e["reason"] == reason and e["message"] == message]
        return self.node.wait_for(check, timeout=timeout, what="event %s %r" % (reason, message))

    # ---- tests

    def test_create_scale_up_and_down(self):
        self.kubectl("create", "deployment", "web", "--image=registry.example/web:1",
                     "--replicas=2")
        self.wait_rolled_out("web")
        pods = self.wait_pods("web", 2)
        [rs] = self.replica_sets("web")
        name = rs["metadata"]["name"]
        hash_label = rs["metadata"]["labels"]["pod-template-hash"]
        self.assertEqual(name, "web-" + hash_label)
        self.assertEqual(rs["spec"]["selector"]["matchLabels"],
                         {"app": "web", "pod-template-hash": hash_label})
        annotations = rs["metadata"]["annotations"]
        self.assertEqual(annotations["deployment.kubernetes.io/revision"], "1")
        self.assertEqual(annotations["deployment.kubernetes.io/desired-replicas"], "2")
        self.assertEqual(annotations["deployment.kubernetes.io/max-replicas"], "3")
        owner = rs["metadata"]["ownerReferences"][0]
        self.assertEqual((owner["kind"], owner["name"], owner["controller"]),
                         ("Deployment", "web", True))
        for pod in pods:
            self.assertTrue(pod["metadata"]["name"].startswith(name + "-"))
            self.assertEqual(pod["metadata"]["labels"]["pod-template-hash"], hash_label)
            self.assertEqual(pod["metadata"]["ownerReferences"][0]["name"], name)
        d = self.get("deployment", "web")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        self.assertEqual(d["status"]["observedGeneration"], d["metadata"]["generation"])

        self.kubectl("scale", "deployment", "web", "--replicas=5")
        self.wait_pods("web", 5)
        self.wait_rolled_out("web")
        self.kubectl("scale", "deployment", "web", "--replicas=1")
        self.wait_pods("web", 1)
        self.wait_rolled_out("web")
        d = self.get("deployment", "web")
        self.assertEqual((d["status"]["replicas"], d["status"]["readyReplicas"],
                          d["status"]["availableReplicas"], d["status"]["updatedReplicas"]),
                         (1, 1, 1, 1))
        [rs] = self.replica_sets("web")
        self.assertEqual(rs["spec"]["replicas"], 1)
        self.assertEqual(rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
                         "1")

        # Upstream's events and texts.
        for message in ("Scaled up replica set %s from 0 to 2" % name,
                        "Scaled up replica set %s from 2 to 5" % name,
                        "Scaled down replica set %s from 5 to 1" % name):
            [event] = self.wait_event("ScalingReplicaSet", message)
            self.assertEqual(event["involvedObject"]["kind"], "Deployment")
            self.assertEqual(event["source"]["component"], "deployment-controller")
        created = self.wait_event("SuccessfulCreate", "Created pod: " + pods[0]["metadata"]["name"])
        self.assertEqual(created[0]["involvedObject"]["name"], name)
        self.assertEqual(created[0]["source"]["component"], "replicaset-controller")
        self.node.wait_for(lambda: [e for e in self.events() if e["reason"] == "SuccessfulDelete"
                                    and e["message"].startswith("Deleted pod: " + name)],
                           what="SuccessfulDelete events")
        described = self.kubectl("describe", "deployment", "web").stdout
        self.assertIn("ScalingReplicaSet", described)
        self.assertIn("Scaled down replica set %s from 5 to 1" % name, described)

    def test_rolling_update_honours_surge_and_unavailable(self):
        strategy = {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
        self.kubectl("apply", "-f", "-", input=manifest("roll", 4, "registry.example/roll:1",
                                                         strategy))
        self.wait_rolled_out("roll")
        self.wait_pods("roll", 4, "registry.example/roll:1")

        with PodSampler(self.node, "roll") as sampler:
            self.kubectl("set", "image", "deployment/roll", "app=registry.example/roll:2")
            # The change cause goes to the new ReplicaSet (whenever the annotation lands).
            self.kubectl("annotate", "deployment/roll", "kubernetes.io/change-cause=to v2")
            self.wait_rolled_out("roll")
            self.wait_pods("roll", 4, "registry.example/roll:2")
        samples = sampler.samples
        self.assertGreater(len(samples), 10)
        most = max(s[0] for s in samples)
        fewest_ready = min(s[1] for s in samples)
        self.assertLessEqual(most, 4 + 1, "more pods than replicas + maxSurge")
        self.assertGreaterEqual(fewest_ready, 4 - 1,
                                "fewer ready pods than replicas - maxUnavailable")
        # The rollout was gradual: some moment had both templates running.
        self.assertTrue(any(len(set(s[3])) == 2 for s in samples), "no mixed moment observed")

        old, new = self.replica_sets("roll")
        self.assertEqual(old["spec"]["replicas"], 0)
        self.assertEqual(new["spec"]["replicas"], 4)
        self.assertEqual(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        d = self.get("deployment", "roll")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        self.node.wait_for(lambda: self.replica_sets("roll")[-1]["metadata"]["annotations"].get(
            "kubernetes.io/change-cause") == "to v2", what="change-cause copied")
        history = self.kubectl("rollout", "history", "deployment/roll").stdout
        self.assertRegex(history, r"(?m)^1\s+<none>")
        self.assertRegex(history, r"(?m)^2\s+to v2")
        revision = self.kubectl("rollout", "history", "deployment/roll", "--revision=1").stdout
        self.assertIn("registry.example/roll:1", revision)

        # Undo returns to revision 1's template, which becomes revision 3 (its ReplicaSet is
        # reused and remembers it was revision 1).
        with PodSampler(self.node, "roll") as sampler:
            self.kubectl("rollout", "undo", "deployment/roll")
            self.wait_rolled_out("roll")
            self.wait_pods("roll", 4, "registry.example/roll:1")
        self.assertLessEqual(max(s[0] for s in sampler.samples), 5)
        self.assertGreaterEqual(min(s[1] for s in sampler.samples), 3)
        rss = self.replica_sets("roll")
        self.assertEqual(len(rss), 2)
        reused = rss[-1]
        self.assertEqual(reused["metadata"]["name"], old["metadata"]["name"])
        self.assertEqual(reused["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                         "3")
        self.assertEqual(
            reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1")
        self.assertEqual(reused["spec"]["replicas"], 4)
        history = self.kubectl("rollout", "history", "deployment/roll").stdout
        self.assertRegex(history, r"(?m)^2\s+to v2")
        self.assertRegex(history, r"(?m)^3\s+<none>")
        self.assertNotRegex(history, r"(?m)^1\s+<none>")

        # And undo to an explicit revision.
        self.kubectl("rollout", "undo", "deployment/roll", "--to-revision=2")
        self.wait_rolled_out("roll")
        self.wait_pods("roll", 4, "registry.example/roll:2")

    def test_percentages_and_history_limit(self):
        # 25%/25% of 4: one surge pod, one unavailable pod; only one old ReplicaSet is kept.
        self.kubectl("apply", "-f", "-", input=manifest(
            "pct", 4, "registry.example/pct:1", extra_spec={"revisionHistoryLimit": 1}))
        self.wait_rolled_out("pct")
        for version in (2, 3, 4):
            with PodSampler(self.node, "pct") as sampler:
                self.kubectl("set", "image", "deployment/pct",
                             "app=registry.example/pct:%d" % version)
                self.wait_rolled_out("pct")
                self.wait_pods("pct", 4, "registry.example/pct:%d" % version)
            self.assertLessEqual(max(s[0] for s in sampler.samples), 5)
            self.assertGreaterEqual(min(s[1] for s in sampler.samples), 3)
        self.node.wait_for(lambda: len(self.replica_sets("pct")) == 2, what="history cleanup")
        revisions = [rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                     for rs in self.replica_sets("pct")]
        self.assertEqual(revisions, ["3", "4"])

    def test_recreate_stops_old_pods_before_starting_new_ones(self):
        self.kubectl("apply", "-f", "-", input=manifest("rec", 3, "registry.example/rec:1",
                                                         {"type": "Recreate"}))
        self.wait_rolled_out("rec")
        self.wait_pods("rec", 3, "registry.example/rec:1")
        with PodSampler(self.node, "rec") as sampler:
            self.kubectl("set", "image", "deployment/rec", "app=registry.example/rec:2")
            self.wait_rolled_out("rec")
            self.wait_pods("rec", 3, "registry.example/rec:2")
        # Old pods (terminating ones included) and new pods never exist at the same time.
        self.assertFalse([s for s in sampler.samples if len(set(s[2])) > 1],
                         "old and new pods coexisted")
        self.assertTrue(any(s[2] and set(s[2]) == {"registry.example/rec:1"}
                            for s in sampler.samples), "the old pods were never observed")
        old, new = self.replica_sets("rec")
        self.assertEqual((old["spec"]["replicas"], new["spec"]["replicas"]), (0, 3))
        name = new["metadata"]["name"]
        self.wait_event("ScalingReplicaSet", "Scaled down replica set %s from 3 to 0"
                        % old["metadata"]["name"])
        self.wait_event("ScalingReplicaSet", "Scaled up replica set %s from 0 to 3" % name)

    def test_pause_resume_and_restart(self):
        self.kubectl("apply", "-f", "-", input=manifest("pause", 2, "registry.example/pause:1"))
        self.wait_rolled_out("pause")
        self.kubectl("rollout", "pause", "deployment/pause")
        self.kubectl("set", "image", "deployment/pause", "app=registry.example/pause:2")

        def paused_observed():
            d = self.get("deployment", "pause")
            cond = {c["type"]: c for c in d.get("status", {}).get("conditions", [])}
            return (d.get("status", {}).get("observedGeneration") == d["metadata"]["generation"]
                    and cond.get("Progressing", {}).get("reason") == "DeploymentPaused" and cond)
        cond = self.node.wait_for(paused_observed, what="paused deployment observed")
        self.assertEqual(cond["Progressing"]["status"], "Unknown")
        self.assertEqual(cond["Progressing"]["message"], "Deployment is paused")
        # Nothing rolled out while paused.
        self.assertEqual(len(self.replica_sets("pause")), 1)
        self.wait_pods("pause", 2, "registry.example/pause:1")
        # Scaling a paused deployment still works.
        self.kubectl("scale", "deployment/pause", "--replicas=3")
        self.wait_pods("pause", 3, "registry.example/pause:1")

        self.kubectl("rollout", "resume", "deployment/pause")
        self.wait_rolled_out("pause")
        self.wait_pods("pause", 3, "registry.example/pause:2")
        self.assertEqual(len(self.replica_sets("pause")), 2)

        before = {p["metadata"]["name"] for p in self.pods("pause")}
        self.kubectl("rollout", "restart", "deployment/pause")
        self.wait_rolled_out("pause")
        pods = self.node.wait_for(
            lambda: (lambda ps: len(ps) == 3 and all(pod_ready(p) for p in ps)
                     and not ({p["metadata"]["name"] for p in ps} & before) and ps)(
                         self.pods("pause")),
            what="every pod replaced by the restart")
        for pod in pods:
            self.assertIn("kubectl.kubernetes.io/restartedAt", pod["metadata"]["annotations"])
        self.assertEqual(len(self.replica_sets("pause")), 3)

    def test_conditions_and_progress_deadline(self):
        self.kubectl("apply", "-f", "-", input=manifest("cond", 2, "registry.example/cond:1"))
        self.wait_rolled_out("cond")
        d = self.get("deployment", "cond")
        [rs] = self.replica_sets("cond")
        cond = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual((cond["Available"]["status"], cond["Available"]["reason"],
                          cond["Available"]["message"]),
                         ("True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability."))
        self.assertEqual((cond["Progressing"]["status"], cond["Progressing"]["reason"],
                          cond["Progressing"]["message"]),
                         ("True", "NewReplicaSetAvailable",
                          'ReplicaSet "%s" has successfully progressed.' % rs["metadata"]["name"]))
        for c in cond.values():
            self.assertIn("lastUpdateTime", c)
            self.assertIn("lastTransitionTime", c)

        # A template whose pods never get ready, with a short deadline: the rollout stalls
        # (maxUnavailable 25% of 2 is 0, so the old pods stay) and then times out.
        self.kubectl("patch", "deployment/cond", "-p",
                     json.dumps({"spec": {"progressDeadlineSeconds": 3}}))
        self.kubectl("set", "image", "deployment/cond",
                     "app=registry.example/cond:%s" % NEVER_READY)

        def timed_out():
            d = self.get("deployment", "cond")
            cond = {c["type"]: c for c in d.get("status", {}).get("conditions", [])}
            return cond.get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded" and cond
        cond = self.node.wait_for(timed_out, timeout=40, what="ProgressDeadlineExceeded")
        new = self.replica_sets("cond")[-1]["metadata"]["name"]
        self.assertEqual(cond["Progressing"]["status"], "False")
        self.assertEqual(cond["Progressing"]["message"],
                         'ReplicaSet "%s" has timed out progressing.' % new)
        self.assertEqual(cond["Available"]["status"], "True")
        status = self.kubectl("rollout", "status", "deployment/cond", "--timeout=20s",
                              check=False, timeout=60)
        self.assertNotEqual(status.returncode, 0)
        self.assertIn("exceeded its progress deadline", status.stderr)
        self.assertEqual(len([p for p in self.pods("cond")
                              if p["spec"]["containers"][0]["image"].endswith(":1")]), 2)

    def test_proportional_scaling_during_a_rollout(self):
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}
        self.kubectl("apply", "-f", "-", input=manifest("prop", 4, "registry.example/prop:1",
                                                         strategy))
        self.wait_rolled_out("prop")
        # Stuck half-way: two surge pods that never get ready, the four old ones stay.
        self.kubectl("set", "image", "deployment/prop", "app=registry.example/prop:" + NEVER_READY)
        self.node.wait_for(lambda: [rs["spec"]["replicas"] for rs in self.replica_sets("prop")]
                           == [4, 2], what="rollout stuck at 4 old + 2 new")
        # Scaling to 8 spreads the 4 extra replicas (plus surge) over both: 4*10/6 and 2*10/6.
        self.kubectl("scale", "deployment/prop", "--replicas=8")
        self.node.wait_for(lambda: [rs["spec"]["replicas"] for rs in self.replica_sets("prop")]
                           == [7, 3], what="proportional sizes 7 and 3")
        for rs in self.replica_sets("prop"):
            annotations = rs["metadata"]["annotations"]
            self.assertEqual(annotations["deployment.kubernetes.io/desired-replicas"], "8")
            self.assertEqual(annotations["deployment.kubernetes.io/max-replicas"], "10")
        self.node.wait_for(lambda: len(self.pods("prop")) == 10, what="10 pods")

    def test_replicaset_adopts_releases_and_prefers_unready_pods(self):
        orphan = {"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
                  "spec": {"containers": [{"name": "app", "image": "registry.example/a:1"}]}}
        self.kubectl("apply", "-f", "-", input=json.dumps(orphan))
        self.node.wait_for(lambda: pod_ready(self.get("pod", "orphan")), what="orphan running")
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "adopt"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "adopt"}},
                       "template": {"metadata": {"labels": {"app": "adopt"}},
                                    "spec": {"containers": [{"name": "app",
                                                             "image": "registry.example/a:1"}]}}}}
        self.kubectl("apply", "-f", "-", input=json.dumps(rs))
        pods = self.wait_pods("adopt", 3)
        owners = {p["metadata"]["name"]: p["metadata"]["ownerReferences"][0] for p in pods}
        self.assertIn("orphan", owners)
        self.assertEqual((owners["orphan"]["kind"], owners["orphan"]["name"],
                          owners["orphan"]["controller"]), ("ReplicaSet", "adopt", True))
        self.node.wait_for(
            lambda: self.status("rs", "adopt").get("readyReplicas") == 3,
            what="readyReplicas 3")
        status = self.get("rs", "adopt")["status"]
        self.assertEqual((status["replicas"], status["fullyLabeledReplicas"],
                          status["availableReplicas"]), (3, 3, 3))

        # A pod relabelled out of the selector is released and replaced.
        self.kubectl("label", "pod", "orphan", "app=elsewhere", "--overwrite")
        self.node.wait_for(lambda: "ownerReferences" not in self.get("pod", "orphan")["metadata"],
                           what="orphan released")
        pods = self.wait_pods("adopt", 3)
        self.assertNotIn("orphan", {p["metadata"]["name"] for p in pods})

        # Scaling down removes the pod that is not ready, not a ready one.
        victim = pods[1]["metadata"]["name"]
        not_ready = running_ready(pods[1], ready=False)
        code, body = self.node.api(
            "PATCH", "/api/v1/namespaces/default/pods/%s/status" % victim,
            {"status": not_ready}, "application/merge-patch+json")
        self.assertEqual(code, 200, body)
        self.node.wait_for(lambda: self.status("rs", "adopt").get("readyReplicas") == 2,
                           what="readyReplicas 2")
        self.kubectl("scale", "rs", "adopt", "--replicas=2")
        remaining = self.node.wait_for(lambda: (lambda ps: len(ps) == 2 and ps)(self.pods("adopt")),
                                       what="2 pods")
        self.assertNotIn(victim, {p["metadata"]["name"] for p in remaining})
        self.wait_event("SuccessfulDelete", "Deleted pod: " + victim)

    def test_min_ready_seconds(self):
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "slow"},
              "spec": {"replicas": 1, "minReadySeconds": 4,
                       "selector": {"matchLabels": {"app": "slow"}},
                       "template": {"metadata": {"labels": {"app": "slow"}},
                                    "spec": {"containers": [{"name": "app",
                                                             "image": "registry.example/s:1"}]}}}}
        self.kubectl("apply", "-f", "-", input=json.dumps(rs))
        # Ready first; available only once it has been ready for minReadySeconds (the
        # controller looks again then: nothing else changes in between).
        status = self.node.wait_for(
            lambda: (lambda st: st.get("readyReplicas") == 1 and st)(
                self.status("rs", "slow")), what="ready")
        ready_at = time.time()
        self.assertNotEqual(status.get("availableReplicas"), 1)
        self.node.wait_for(lambda: self.status("rs", "slow").get("availableReplicas") == 1,
                           timeout=30, interval=0.1, what="available after minReadySeconds")
        waited = time.time() - ready_at
        self.assertGreater(waited, 1)
        self.assertLess(waited, 15)


if __name__ == "__main__":
    unittest.main(verbosity=2)
