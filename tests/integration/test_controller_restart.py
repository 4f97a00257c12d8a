"""Controllers survive a crash of the node process: SIGKILL the node in the middle of a
Deployment rollout; after a restart the rollout finishes with the right number of pods, one
ReplicaSet per template and no duplicate pods (the controllers resync from the store)."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fake_kubelet import FakeKubelet, running_ready  # noqa: E402
from node_fixture import Node  # noqa: E402

REPLICAS = 6


def slow_ready(delay):
    """A kubelet policy: a pod becomes Running and Ready `delay` seconds after it is seen."""
    first_seen = {}

    def policy(pod):
        uid = pod["metadata"]["uid"]
        first_seen.setdefault(uid, time.time())
        if time.time() - first_seen[uid] < delay:
            return None
        return running_ready(pod)
    return policy


class ControllerRestart(unittest.TestCase):
    def setUp(self):
        self.node = Node(disable="kubelet,proxy,dns").start()
        self.kubelet = FakeKubelet(self.node, policy=slow_ready(0.5)).start()

    def tearDown(self):
        self.kubelet.stop()
        self.node.cleanup()

    def pods(self):
        return self.node.kubectl_json("get", "pods", "-l", "app=web")["items"]

    def test_sigkill_mid_rollout_converges_without_duplicates(self):
        node = self.node
        node.kubectl("create", "deployment", "web", "--image=registry.local/web:1",
                     "--replicas=%d" % REPLICAS)
        node.kubectl("patch", "deployment", "web", "--type=merge", "-p",
                     '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}')
        node.kubectl("rollout", "status", "deployment/web", "--timeout=90s", timeout=100)

        node.kubectl("set", "image", "deployment/web", "web=registry.local/web:2")

        def rollout_under_way():
            images = [p["spec"]["containers"][0]["image"] for p in self.pods()]
            return images.count("registry.local/web:2") >= 2 and \
                images.count("registry.local/web:1") >= 2
        node.wait_for(rollout_under_way, timeout=60, interval=0.05, what="rollout half way")
        node.kill(signal.SIGKILL)
        node.start()

        node.kubectl("rollout", "status", "deployment/web", "--timeout=120s", timeout=130)

        def settled():
            pods = self.pods()
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            return len(pods) == REPLICAS and all(
                p["spec"]["containers"][0]["image"] == "registry.local/web:2" for p in live)
        node.wait_for(settled, timeout=60, what="only new pods left")

        pods = self.pods()
        names = [p["metadata"]["name"] for p in pods]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(len(pods), REPLICAS)
        replica_sets = node.kubectl_json("get", "replicasets", "-l", "app=web")["items"]
        hashes = [rs["metadata"]["labels"]["pod-template-hash"] for rs in replica_sets]
        self.assertEqual(len(hashes), len(set(hashes)), "one ReplicaSet per template")
        self.assertEqual(len(replica_sets), 2, [rs["metadata"]["name"] for rs in replica_sets])
        by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs
                    for rs in replica_sets}
        self.assertEqual(by_image["registry.local/web:2"]["spec"]["replicas"], REPLICAS)
        self.assertEqual(by_image["registry.local/web:1"]["spec"]["replicas"], 0)
        owner_uids = {p["metadata"]["ownerReferences"][0]["uid"] for p in pods}
        self.assertEqual(owner_uids, {by_image["registry.local/web:2"]["metadata"]["uid"]})
        deployment = node.kubectl_json("get", "deployment", "web")
        self.assertEqual(deployment["status"].get("updatedReplicas"), REPLICAS)
        self.assertEqual(deployment["status"].get("availableReplicas"), REPLICAS)
        self.assertEqual(deployment["metadata"]["annotations"]
                         ["deployment.kubernetes.io/revision"], "2")

    def test_sigkill_while_scaling_up_creates_no_extra_pods(self):
        node = self.node
        node.kubectl("create", "deployment", "burst", "--image=registry.local/web:1",
                     "--replicas=1")
        node.kubectl("rollout", "status", "deployment/burst", "--timeout=60s", timeout=70)
        node.kubectl("scale", "deployment/burst", "--replicas=30")
        node.wait_for(lambda: len(node.kubectl_json("get", "pods", "-l", "app=burst")["items"])
                      >= 5, timeout=60, interval=0.02, what="scale-up under way")
        node.kill(signal.SIGKILL)
        node.start()
        node.kubectl("rollout", "status", "deployment/burst", "--timeout=120s", timeout=130)
        pods = node.kubectl_json("get", "pods", "-l", "app=burst")["items"]
        self.assertEqual(len(pods), 30)
        # And it stays at 30: nothing created late from a stale view.
        time.sleep(2)
        self.assertEqual(len(node.kubectl_json("get", "pods", "-l", "app=burst")["items"]), 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
