"""The Debian `python3-kubernetes` client against a real node: list, watch, create, patch.
Run with Debian's /usr/bin/python3, where that package is installed."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from node_fixture import Node  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402


class PythonClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.api_client = config.new_client_from_config(config_file=cls.node.kubeconfig)
        cls.core = client.CoreV1Api(cls.api_client)
        cls.apps = client.AppsV1Api(cls.api_client)

    @classmethod
    def tearDownClass(cls):
        cls.api_client.close()
        cls.node.stop()
        cls.node.cleanup()

    def test_list_create_patch_watch(self):
        names = [ns.metadata.name for ns in self.core.list_namespace().items]
        self.assertIn("kube-system", names)
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
        cm = self.core.create_namespaced_config_map(
            "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="conf"), data={"a": "1"}))
        self.assertEqual(cm.data, {"a": "1"})
        patched = self.core.patch_namespaced_config_map("conf", "py", {"data": {"b": "2"}})
        self.assertEqual(patched.data, {"a": "1", "b": "2"})
        deployment = client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels={"app": "web"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "web"}),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="web",
                                                                         image="busybox")]))))
        created = self.apps.create_namespaced_deployment("py", deployment)
        self.assertEqual(created.spec.replicas, 1)
        self.assertEqual(created.spec.strategy.type, "RollingUpdate")

        listing = self.core.list_namespaced_config_map("py")
        events = []
        w = watch.Watch()

        def consume():
            for event in w.stream(self.core.list_namespaced_config_map, "py",
                                  resource_version=listing.metadata.resource_version,
                                  timeout_seconds=10):
                events.append((event["type"], event["object"].metadata.name))
                if len(events) == 2:
                    w.stop()

        thread = threading.Thread(target=consume)
        thread.start()
        self.core.create_namespaced_config_map(
            "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched")))
        self.core.delete_namespaced_config_map("watched", "py")
        thread.join(timeout=15)
        self.assertEqual(events, [("ADDED", "watched"), ("DELETED", "watched")])

        with self.assertRaises(client.exceptions.ApiException) as ctx:
            self.core.read_namespaced_config_map("missing", "py")
        self.assertEqual(ctx.exception.status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
