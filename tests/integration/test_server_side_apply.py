"""Server-side apply and managedFields with real kubectl against a real `kcube node run`."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from node_fixture import Node  # noqa: E402

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  mode: fast
  size: "3"
"""

CONFIG_MAP_CHANGED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: slow
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
"""


def entries(obj):
    return obj["metadata"].get("managedFields", [])


def entry(obj, manager, operation):
    for e in entries(obj):
        if e["manager"] == manager and e["operation"] == operation:
            return e
    return None


class ServerSideApply(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.k = cls.node.kubectl

    @classmethod
    def tearDownClass(cls):
        code = cls.node.stop()
        cls.node.cleanup()
        assert code == 0, "node did not exit cleanly on SIGTERM: %s" % code

    def apply(self, manifest, *flags, check=True):
        return self.k("apply", "--server-side", *flags, "-f", "-", input=manifest, check=check)

    def get(self, kind, name):
        return self.node.kubectl_json("get", kind, name, "--show-managed-fields")

    def test_apply_conflict_force_and_prune(self):
        out = self.apply(CONFIG_MAP).stdout
        self.assertIn("configmap/settings serverside-applied", out)
        cm = self.get("configmap", "settings")
        mine = entry(cm, "kubectl", "Apply")
        self.assertIsNotNone(mine, entries(cm))
        self.assertEqual(mine["fieldsType"], "FieldsV1")
        self.assertEqual(mine["apiVersion"], "v1")
        self.assertRegex(mine["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(mine["fieldsV1"], {"f:data": {"f:mode": {}, "f:size": {}},
                                            "f:metadata": {"f:labels": {"f:app": {}}}})

        conflict = self.apply(CONFIG_MAP_CHANGED, "--field-manager=other", check=False)
        self.assertNotEqual(conflict.returncode, 0)
        self.assertIn('Apply failed with 1 conflict: conflict with "kubectl": .data.mode',
                      conflict.stderr)

        self.apply(CONFIG_MAP_CHANGED, "--field-manager=other", "--force-conflicts")
        cm = self.get("configmap", "settings")
        self.assertEqual(cm["data"], {"mode": "slow", "size": "3"})
        self.assertEqual(entry(cm, "other", "Apply")["fieldsV1"], {"f:data": {"f:mode": {}}})
        self.assertEqual(entry(cm, "kubectl", "Apply")["fieldsV1"],
                         {"f:data": {"f:size": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})

        # kubectl no longer applies size and the label: they go; mode stays (other owns it).
        self.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
        cm = self.get("configmap", "settings")
        self.assertEqual(cm["data"], {"mode": "slow"})
        self.assertNotIn("labels", cm["metadata"])
        self.assertIsNone(entry(cm, "kubectl", "Apply"))

        shown = self.k("get", "configmap", "settings", "-o", "yaml",
                       "--show-managed-fields").stdout
        self.assertIn("managedFields:", shown)
        self.assertIn("manager: other", shown)
        self.assertNotIn("managedFields", self.k("get", "configmap", "settings",
                                                 "-o", "yaml").stdout)

    def test_client_side_apply_then_server_side(self):
        manifest = CONFIG_MAP.replace("settings", "csa")
        self.assertIn("created", self.k("apply", "-f", "-", input=manifest).stdout)
        cm = self.get("configmap", "csa")
        self.assertIsNotNone(entry(cm, "kubectl-client-side-apply", "Update"), entries(cm))

        # Another manager changing a client-side-applied value conflicts with that Update entry.
        changed = CONFIG_MAP_CHANGED.replace("settings", "csa")
        conflict = self.apply(changed, "--field-manager=other", check=False)
        self.assertIn('conflict with "kubectl-client-side-apply" using v1: .data.mode',
                      conflict.stderr)

        # kubectl itself upgrades to server-side apply without conflicts.
        upgraded = manifest.replace("fast", "faster")
        self.assertIn("serverside-applied", self.apply(upgraded).stdout)
        cm = self.get("configmap", "csa")
        self.assertEqual(cm["data"]["mode"], "faster")
        self.assertIsNone(entry(cm, "kubectl-client-side-apply", "Update"), entries(cm))
        self.assertIn("f:mode", entry(cm, "kubectl", "Apply")["fieldsV1"]["f:data"])
        last = json.loads(cm["metadata"]["annotations"][
            "kubectl.kubernetes.io/last-applied-configuration"])
        self.assertEqual(last["data"]["mode"], "faster")
        # ...and back to client-side apply, which still works from the annotation.
        self.k("apply", "-f", "-", input=manifest)
        self.assertEqual(self.get("configmap", "csa")["data"]["mode"], "fast")

    def test_deployment_scale_conflict_and_update_owners(self):
        self.apply(DEPLOYMENT)
        deploy = self.get("deployment", "web")
        fields = entry(deploy, "kubectl", "Apply")["fieldsV1"]
        container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
        self.assertIn('k:{"containerPort":80,"protocol":"TCP"}', container["f:ports"])
        self.assertEqual(fields["f:spec"]["f:selector"], {})

        self.k("scale", "deployment", "web", "--replicas=3")
        deploy = self.get("deployment", "web")
        scaled = [e for e in entries(deploy) if e.get("subresource") == "scale"]
        self.assertEqual(len(scaled), 1, entries(deploy))
        self.assertEqual(scaled[0]["operation"], "Update")
        self.assertEqual(scaled[0]["fieldsV1"], {"f:spec": {"f:replicas": {}}})
        conflict = self.apply(DEPLOYMENT, check=False)
        self.assertRegex(conflict.stderr, r'Apply failed with 1 conflict: conflict with "[^"]+" '
                         r'with subresource "scale" using apps/v1: \.spec\.replicas')
        self.apply(DEPLOYMENT, "--force-conflicts")
        self.assertEqual(self.get("deployment", "web")["spec"]["replicas"], 2)

        # An ordinary update takes only the fields it changes.
        self.k("label", "deployment", "web", "tier=front")
        deploy = self.get("deployment", "web")
        self.assertEqual(entry(deploy, "kubectl-label", "Update")["fieldsV1"],
                         {"f:metadata": {"f:labels": {".": {}, "f:tier": {}}}})

    def test_http_status_codes_and_validation(self):
        path = "/api/v1/namespaces/default/configmaps/raw"
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "raw"}, "data": {"a": "1"}}).encode()
        headers = {"Content-Type": "application/apply-patch+yaml"}
        status, raw, _ = self.node.get_raw(path, method="PATCH", body=body, headers=headers)
        self.assertEqual(status, 422, raw)
        self.assertEqual(json.loads(raw)["message"],
                         'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                         'is required for apply patch')
        status, raw, _ = self.node.get_raw(path + "?fieldManager=raw&dryRun=All", method="PATCH",
                                           body=body, headers=headers)
        self.assertEqual(status, 201, raw)
        status, _, _ = self.node.get_raw(path)
        self.assertEqual(status, 404)
        # YAML bodies too; the first apply creates (201), later ones update (200).
        status, raw, _ = self.node.get_raw(path + "?fieldManager=raw", method="PATCH",
                                           body=b"apiVersion: v1\nkind: ConfigMap\n"
                                                b"metadata: {name: raw}\ndata: {a: '2'}\n",
                                           headers=headers)
        self.assertEqual(status, 201, raw)
        self.assertEqual(json.loads(raw)["data"], {"a": "2"})
        status, raw, _ = self.node.get_raw(path + "?fieldManager=raw", method="PATCH",
                                           body=body, headers=headers)
        self.assertEqual(status, 200, raw)
        self.assertEqual(json.loads(raw)["data"], {"a": "1"})
        status, raw, _ = self.node.get_raw(
            path + "?fieldManager=raw", method="PATCH", headers=headers,
            body=b"apiVersion: v1\nkind: Secret\nmetadata: {name: raw}\n")
        self.assertEqual(status, 400, raw)
        self.assertEqual(json.loads(raw)["message"], "invalid object type: /v1, Kind=Secret")


if __name__ == "__main__":
    unittest.main(verbosity=2)
