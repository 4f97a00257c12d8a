"""The scheduler and the node lifecycle controller against a real node process, with fake
kubelets playing the nodes: pods are bound to nodes that fit them, unschedulable pods say why
(PodScheduled=False, FailedScheduling) and are placed once the cluster changes, and a node whose
kubelet goes silent becomes NotReady with the unreachable taints.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kubelet import FakeKubelet  # noqa: E402
from node_fixture import Node  # noqa: E402

AFFINITY_MSG = ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


def pod_manifest(name, **spec):
    container = {"name": "app", "image": "registry.k8s.io/pause:3.10"}
    container.update(spec.pop("container", {}))
    body = {"containers": [container]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


class SchedulerTestCase(unittest.TestCase):
    node_args = []

    def setUp(self):
        self.node = Node(extra_args=self.node_args).start()
        self.kubelets = []

    def tearDown(self):
        for kubelet in self.kubelets:
            kubelet.stop()
        self.node.cleanup()

    def kubelet(self, name, **kwargs):
        kubelet = FakeKubelet(self.node, name=name, **kwargs).start()
        self.kubelets.append(kubelet)
        return kubelet

    def create(self, manifest):
        self.node.kubectl("create", "-f", "-", input=json.dumps(manifest))

    def pod(self, name):
        return self.node.kubectl_json("get", "pod", name)

    def node_of(self, name):
        return self.pod(name)["spec"].get("nodeName")

    def wait_bound(self, name, timeout=30):
        return self.node.wait_for(lambda: self.node_of(name), timeout, what="%s bound" % name)

    def scheduled_condition(self, name):
        for c in self.pod(name).get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled":
                return c
        return None

    def wait_unschedulable(self, name, message=None, timeout=30):
        def check():
            c = self.scheduled_condition(name)
            if c and c["status"] == "False" and c.get("reason") == "Unschedulable":
                if message is None or c.get("message") == message:
                    return c
            return None
        return self.node.wait_for(check, timeout, what="%s unschedulable (%s)" % (name, message))

    def events(self, name, reason):
        listing = self.node.kubectl_json(
            "get", "events", "--field-selector",
            "involvedObject.name=%s,reason=%s" % (name, reason))
        return listing["items"]

    def wait_event(self, name, reason, message=None, timeout=30):
        def check():
            return [e for e in self.events(name, reason)
                    if message is None or e["message"] == message]
        return self.node.wait_for(check, timeout, what="%s event for %s" % (reason, name))


class TestScheduling(SchedulerTestCase):
    def test_pod_is_bound_with_a_scheduled_event(self):
        self.kubelet("worker-1")
        self.create(pod_manifest("web"))
        self.assertEqual(self.wait_bound("web"), "worker-1")
        events = self.wait_event("web", "Scheduled")
        self.assertEqual(events[0]["message"], "Successfully assigned default/web to worker-1")
        self.assertEqual(events[0]["source"]["component"], "default-scheduler")
        self.assertEqual(events[0]["type"], "Normal")
        cond = self.node.wait_for(lambda: self.scheduled_condition("web"), what="condition")
        self.assertEqual(cond["status"], "True")

    def test_unsatisfiable_node_selector_waits_for_a_matching_node(self):
        self.kubelet("worker-1")
        self.create(pod_manifest("picky", nodeSelector={"disk": "ssd"}))
        cond = self.wait_unschedulable("picky")
        self.assertEqual(cond["message"], AFFINITY_MSG)
        events = self.wait_event("picky", "FailedScheduling")
        self.assertEqual(events[0]["type"], "Warning")
        self.assertEqual(events[0]["message"], AFFINITY_MSG)
        self.assertEqual(events[0]["source"]["component"], "default-scheduler")
        pod = self.pod("picky")
        self.assertEqual(pod["status"].get("phase"), "Pending")
        self.assertNotIn("nodeName", pod["spec"])

        # A label added to the existing node makes it fit.
        self.node.kubectl("label", "node", "worker-1", "disk=ssd")
        self.assertEqual(self.wait_bound("picky"), "worker-1")
        self.wait_event("picky", "Scheduled", "Successfully assigned default/picky to worker-1")

        # A node that appears later with the right label gets the next one.
        self.create(pod_manifest("picky-hdd", nodeSelector={"disk": "hdd"}))
        self.wait_unschedulable("picky-hdd", AFFINITY_MSG)
        self.kubelet("worker-2", labels={"disk": "hdd"})
        self.assertEqual(self.wait_bound("picky-hdd"), "worker-2")

    def test_repeated_failures_do_not_rewrite_status(self):
        self.kubelet("worker-1")
        self.create(pod_manifest("stuck", nodeSelector={"disk": "ssd"}))
        self.wait_unschedulable("stuck", AFFINITY_MSG)
        rv = self.pod("stuck")["metadata"]["resourceVersion"]
        # Unrelated changes that make the scheduler look again: another node, another pod.
        self.kubelet("worker-2")
        self.create(pod_manifest("other"))
        self.wait_bound("other")
        self.wait_unschedulable("stuck", ("0/2 nodes are available: 2 node(s) didn't match Pod's "
                                          "node affinity/selector. preemption: 0/2 nodes are "
                                          "available: 2 Preemption is not helpful for "
                                          "scheduling."))
        rv2 = self.pod("stuck")["metadata"]["resourceVersion"]
        self.node.kubectl("label", "node", "worker-2", "unrelated=yes")
        self.node.kubectl("delete", "pod", "other", "--wait=false")
        self.node.wait_for(lambda: self.node.kubectl("get", "pod", "other", check=False)
                           .returncode != 0, what="other deleted")
        self.assertEqual(self.pod("stuck")["metadata"]["resourceVersion"], rv2)
        self.assertNotEqual(rv, rv2)
        events = self.events("stuck", "FailedScheduling")
        # One event per distinct message, never repeated for the same one.
        self.assertGreaterEqual(len(events), 2, events)
        for event in events:
            self.assertEqual(event.get("count", 1), 1, event)

    def test_no_nodes(self):
        self.create(pod_manifest("lonely"))
        self.wait_unschedulable("lonely", "no nodes available to schedule pods")
        self.kubelet("worker-1")
        self.assertEqual(self.wait_bound("lonely"), "worker-1")

    def test_pods_spread_over_two_nodes_and_affinity_picks_one(self):
        self.kubelet("worker-a", labels={"zone": "a"})
        self.kubelet("worker-b", labels={"zone": "b"})
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}
        for i in range(3):
            self.create(pod_manifest("zoned-%d" % i, affinity=affinity))
        for i in range(3):
            self.assertEqual(self.wait_bound("zoned-%d" % i), "worker-b")
        # Without constraints the emptier node wins: worker-a takes the next ones.
        for i in range(2):
            self.create(pod_manifest("free-%d" % i))
        self.assertEqual({self.wait_bound("free-%d" % i) for i in range(2)}, {"worker-a"})
        # A preferred term outweighs the emptier node.
        prefers_b = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 80, "preference": {
                "matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}}
        self.create(pod_manifest("prefers-b", affinity=prefers_b))
        self.assertEqual(self.wait_bound("prefers-b"), "worker-b")

        # NotIn and Exists; matchFields metadata.name.
        not_b = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]},
                                      {"key": "zone", "operator": "Exists"}]}]}}}
        self.create(pod_manifest("not-a", affinity=not_b))
        self.assertEqual(self.wait_bound("not-a"), "worker-b")
        by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["worker-b"]}]}]}}}
        self.create(pod_manifest("by-name", affinity=by_name))
        self.assertEqual(self.wait_bound("by-name"), "worker-b")
        nowhere = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["worker-z"]}]}]}}}
        self.create(pod_manifest("nowhere", affinity=nowhere))
        self.wait_unschedulable(
            "nowhere", "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) "
            "[NodeAffinity]. preemption: 0/2 nodes are available: 2 Preemption is not helpful "
            "for scheduling.")

    def test_pod_with_node_name_is_left_alone(self):
        self.kubelet("worker-1")
        self.kubelet("worker-2")
        self.create(pod_manifest("pinned", nodeName="worker-2"))
        self.assertEqual(self.wait_bound("pinned"), "worker-2")
        self.assertEqual(self.events("pinned", "Scheduled"), [])
        # Another scheduler's pod is not ours.
        self.create(pod_manifest("foreign", schedulerName="my-scheduler"))
        self.create(pod_manifest("ours"))
        self.wait_bound("ours")
        self.assertIsNone(self.node_of("foreign"))
        self.assertIsNone(self.scheduled_condition("foreign"))


class TestTaints(SchedulerTestCase):
    def test_taints_and_tolerations(self):
        self.kubelet("worker-1", taints=[{"key": "dedicated", "value": "gpu",
                                          "effect": "NoSchedule"}])
        self.create(pod_manifest("plain"))
        msg = ("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. "
               "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
        self.wait_unschedulable("plain", msg)
        self.wait_event("plain", "FailedScheduling", msg)

        self.create(pod_manifest("tolerant", tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]))
        self.assertEqual(self.wait_bound("tolerant"), "worker-1")
        self.create(pod_manifest("tolerates-all", tolerations=[{"operator": "Exists"}]))
        self.assertEqual(self.wait_bound("tolerates-all"), "worker-1")
        self.create(pod_manifest("wrong-value", tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "cpu"}]))
        self.wait_unschedulable("wrong-value", msg)

        # PreferNoSchedule does not keep pods off; removing the taint lets "plain" on.
        self.node.kubectl("taint", "node", "worker-1", "dedicated-")
        self.node.kubectl("taint", "node", "worker-1", "soft=yes:PreferNoSchedule")
        self.assertEqual(self.wait_bound("plain"), "worker-1")
        self.assertEqual(self.wait_bound("wrong-value"), "worker-1")

        # NoExecute filters too.
        self.node.kubectl("taint", "node", "worker-1", "evict=now:NoExecute")
        self.create(pod_manifest("late"))
        self.wait_unschedulable("late", msg.replace("{dedicated: gpu}", "{evict: now}"))

    def test_control_plane_taint(self):
        self.kubelet("control-plane", labels={"node-role.kubernetes.io/control-plane": ""},
                     taints=[{"key": "node-role.kubernetes.io/control-plane",
                              "effect": "NoSchedule"}])
        self.create(pod_manifest("app"))
        self.wait_unschedulable(
            "app", "0/1 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }. preemption: 0/1 nodes are available: "
            "1 Preemption is not helpful for scheduling.")
        self.create(pod_manifest("system", tolerations=[
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
             "effect": "NoSchedule"}]))
        self.assertEqual(self.wait_bound("system"), "control-plane")
        # Removing the taint (what a single-node cluster does) opens the node to everything.
        self.node.kubectl("taint", "node", "control-plane",
                          "node-role.kubernetes.io/control-plane:NoSchedule-")
        self.assertEqual(self.wait_bound("app"), "control-plane")

    def test_cordoned_node(self):
        self.kubelet("worker-1")
        self.node.kubectl("cordon", "worker-1")
        self.create(pod_manifest("app"))
        self.wait_unschedulable(
            "app", "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes "
            "are available: 1 Preemption is not helpful for scheduling.")
        self.node.kubectl("uncordon", "worker-1")
        self.assertEqual(self.wait_bound("app"), "worker-1")


class TestResources(SchedulerTestCase):
    def test_insufficient_cpu(self):
        self.kubelet("small", capacity={"cpu": "1", "memory": "1Gi", "pods": "110"})
        requests = {"resources": {"requests": {"cpu": "600m", "memory": "100Mi"}}}
        self.create(pod_manifest("first", container=requests))
        self.assertEqual(self.wait_bound("first"), "small")
        self.create(pod_manifest("second", container=requests))
        msg = ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
               "available: 1 No preemption victims found for incoming pod.")
        self.wait_unschedulable("second", msg)
        self.wait_event("second", "FailedScheduling", msg)
        # More than the node has at all: preemption cannot help.
        self.create(pod_manifest("huge", container={"resources": {"requests": {"memory": "2Gi"}}}))
        self.wait_unschedulable("huge", "0/1 nodes are available: 1 Insufficient memory. "
                                "preemption: 0/1 nodes are available: 1 Preemption is not "
                                "helpful for scheduling.")
        # The first pod going away frees the cpu.
        self.node.kubectl("delete", "pod", "first", "--wait=false")
        self.assertEqual(self.wait_bound("second"), "small")

    def test_finished_pods_free_their_requests(self):
        done = {"job": True}

        def policy(pod):
            from fake_kubelet import finished, running_ready
            if pod["metadata"]["name"].startswith("batch") and done["job"]:
                return finished(pod)
            return running_ready(pod)
        self.kubelet("small", capacity={"cpu": "1", "memory": "1Gi", "pods": "110"},
                     policy=policy)
        requests = {"resources": {"requests": {"cpu": "800m"}}}
        self.create(pod_manifest("batch", container=requests, restartPolicy="Never"))
        self.assertEqual(self.wait_bound("batch"), "small")
        self.node.wait_for(lambda: self.pod("batch")["status"].get("phase") == "Succeeded",
                           what="batch finished")
        self.create(pod_manifest("next", container=requests))
        self.assertEqual(self.wait_bound("next"), "small")

    def test_too_many_pods(self):
        self.kubelet("tiny", capacity={"cpu": "4", "memory": "8Gi", "pods": "1"})
        self.create(pod_manifest("one"))
        self.wait_bound("one")
        self.create(pod_manifest("two"))
        self.wait_unschedulable("two", "0/1 nodes are available: 1 Too many pods. preemption: "
                                "0/1 nodes are available: 1 No preemption victims found for "
                                "incoming pod.")

    def test_host_port_conflict(self):
        self.kubelet("worker-1")
        port = {"ports": [{"containerPort": 80, "hostPort": 8080}]}
        self.create(pod_manifest("web-1", container=port))
        self.assertEqual(self.wait_bound("web-1"), "worker-1")
        self.create(pod_manifest("web-2", container=port))
        msg = ("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod "
               "ports. preemption: 0/1 nodes are available: 1 No preemption victims found for "
               "incoming pod.")
        self.wait_unschedulable("web-2", msg)
        # Another protocol or another port does not conflict.
        self.create(pod_manifest("dns", container={
            "ports": [{"containerPort": 53, "hostPort": 8080, "protocol": "UDP"}]}))
        self.assertEqual(self.wait_bound("dns"), "worker-1")
        self.node.kubectl("delete", "pod", "web-1", "--wait=false")
        self.assertEqual(self.wait_bound("web-2"), "worker-1")


class TestNodeLifecycle(SchedulerTestCase):
    node_args = ["--node-monitor-grace-period", "3"]

    def node_obj(self, name):
        return self.node.kubectl_json("get", "node", name)

    def ready(self, name):
        for c in self.node_obj(name)["status"].get("conditions", []):
            if c["type"] == "Ready":
                return c
        return None

    def taints(self, name):
        return {(t["key"], t["effect"]): t
                for t in self.node_obj(name)["spec"].get("taints", [])}

    def test_silent_kubelet_makes_node_unknown_and_tainted(self):
        worker = self.kubelet("worker-1")
        self.create(pod_manifest("before"))
        self.wait_bound("before")
        # Heartbeats flowing: the node stays Ready past the grace period.
        self.node.wait_for(lambda: self.ready("worker-1")["status"] == "True", what="ready")

        worker.heartbeats = False
        cond = self.node.wait_for(
            lambda: (lambda c: c if c["status"] == "Unknown" else None)(self.ready("worker-1")),
            timeout=30, what="Ready=Unknown")
        self.assertEqual(cond["reason"], "NodeStatusUnknown")
        self.assertEqual(cond["message"], "Kubelet stopped posting node status.")
        taints = self.node.wait_for(
            lambda: (lambda t: t if len([k for k in t if k[0] == "node.kubernetes.io/unreachable"])
                     == 2 else None)(self.taints("worker-1")), what="unreachable taints")
        self.assertIn(("node.kubernetes.io/unreachable", "NoSchedule"), taints)
        self.assertIn("timeAdded", taints[("node.kubernetes.io/unreachable", "NoExecute")])
        status = self.node.kubectl("get", "node", "worker-1", "--no-headers").stdout.split()
        self.assertEqual(status[1], "NotReady")
        self.wait_event("worker-1", "NodeNotReady", "Node worker-1 status is now: NodeNotReady")

        self.create(pod_manifest("during"))
        self.wait_unschedulable(
            "during", "0/1 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/unreachable: }. preemption: 0/1 nodes are available: 1 "
            "Preemption is not helpful for scheduling.")

        worker.heartbeats = True
        self.node.wait_for(lambda: self.ready("worker-1")["status"] == "True", timeout=30,
                           what="Ready again")
        self.node.wait_for(lambda: not any(k[0] == "node.kubernetes.io/unreachable"
                                           for k in self.taints("worker-1")),
                           what="unreachable taints removed")
        self.assertEqual(self.wait_bound("during"), "worker-1")

    def test_kubelet_reporting_not_ready(self):
        worker = self.kubelet("worker-1")
        worker.set_ready(False)
        self.node.wait_for(lambda: {("node.kubernetes.io/not-ready", "NoSchedule"),
                                    ("node.kubernetes.io/not-ready", "NoExecute")}
                           <= set(self.taints("worker-1")), what="not-ready taints")
        self.create(pod_manifest("waiting"))
        self.wait_unschedulable(
            "waiting", "0/1 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 "
            "Preemption is not helpful for scheduling.")
        worker.set_ready(True)
        self.node.wait_for(lambda: not self.taints("worker-1"), what="taints removed")
        self.assertEqual(self.wait_bound("waiting"), "worker-1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
