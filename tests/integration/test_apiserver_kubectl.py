"""Real kubectl against a real `kcube node run` (kubelet, proxy and DNS off), on loopback."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from node_fixture import Node  # noqa: E402

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  mode: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["true"]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
"""


class ApiServerWithKubectl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.k = cls.node.kubectl
        cls.k("create", "namespace", "demo")

    @classmethod
    def tearDownClass(cls):
        code = cls.node.stop()
        cls.node.cleanup()
        assert code == 0, "node did not exit cleanly on SIGTERM: %s" % code

    # --- basics -------------------------------------------------------------------------------
    def test_health_version_and_anonymous_access(self):
        status, body, _ = self.node.get_raw("/healthz", auth=False)
        self.assertEqual((status, body), (200, b"ok"))
        status, body, _ = self.node.get_raw("/readyz?verbose", auth=False)
        self.assertEqual(status, 200)
        self.assertIn(b"readyz check passed", body)
        status, body, _ = self.node.get_raw("/version", auth=False)
        version = json.loads(body)
        self.assertEqual((version["major"], version["minor"]), ("1", "32"))
        status, body, _ = self.node.get_raw("/api/v1/namespaces", auth=False)
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["reason"], "Unauthorized")
        out = self.k("version", "-o", "json").stdout
        self.assertTrue(json.loads(out)["serverVersion"]["gitVersion"].startswith("v1.32."))

    def test_system_namespaces_exist(self):
        names = self.k("get", "namespaces", "-o", "name").stdout.split()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "demo"):
            self.assertIn("namespace/" + ns, names)
        table = self.k("get", "ns", "demo").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "STATUS", "AGE"])
        self.assertEqual(table[1].split()[:2], ["demo", "Active"])

    def test_api_resources_and_versions(self):
        versions = self.k("api-versions").stdout.split()
        for gv in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
                   "apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1"):
            self.assertIn(gv, versions)
        resources = self.k("api-resources").stdout
        lines = {l.split()[0]: l.split() for l in resources.splitlines()[1:]}
        self.assertEqual(lines["pods"][1:], ["po", "v1", "true", "Pod"])
        self.assertEqual(lines["deployments"][1:], ["deploy", "apps/v1", "true", "Deployment"])
        self.assertEqual(lines["nodes"][1:], ["no", "v1", "false", "Node"])

    # --- create, apply, output formats ----------------------------------------------------------
    def test_create_deployment_and_output_formats(self):
        self.k("create", "deployment", "web", "--image=busybox", "-n", "demo", "--", "httpd", "-f")
        table = self.k("get", "deployments", "-n", "demo").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
        self.assertEqual(table[1].split()[0], "web")
        wide = self.k("get", "deploy", "web", "-n", "demo", "-o", "wide").stdout.splitlines()
        self.assertEqual(wide[0].split()[5:], ["CONTAINERS", "IMAGES", "SELECTOR"])
        self.assertIn("app=web", wide[1])
        self.assertEqual(self.k("get", "deploy", "web", "-n", "demo", "-o", "name").stdout.strip(),
                         "deployment.apps/web")
        obj = self.node.kubectl_json("get", "deploy", "web", "-n", "demo")
        self.assertEqual(obj["kind"], "Deployment")
        self.assertEqual(obj["spec"]["replicas"], 1)
        self.assertEqual(obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")
        self.assertEqual(obj["spec"]["template"]["spec"]["restartPolicy"], "Always")
        self.assertEqual(obj["metadata"]["generation"], 1)
        self.assertRegex(obj["metadata"]["uid"], r"^[0-9a-f-]{36}$")
        yaml_out = self.k("get", "deploy", "web", "-n", "demo", "-o", "yaml").stdout
        self.assertIn("kind: Deployment", yaml_out)
        jp = self.k("get", "deploy", "web", "-n", "demo", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}").stdout
        self.assertEqual(jp, "busybox")
        cc = self.k("get", "deploy", "-n", "demo", "-o",
                    "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas").stdout.splitlines()
        self.assertEqual(cc[1].split(), ["web", "1"])

    def test_apply_multi_document_yaml_then_edit(self):
        out = self.k("apply", "-n", "demo", "-f", "-", input=MANIFEST).stdout
        for line in ("configmap/settings created", "secret/creds created", "service/web created",
                     "job.batch/once created", "ingress.networking.k8s.io/web created"):
            self.assertIn(line, out)
        secret = self.node.kubectl_json("get", "secret", "creds", "-n", "demo")
        self.assertEqual(secret["data"], {"password": "czNjcmV0"})
        self.assertNotIn("stringData", secret)
        svc = self.node.kubectl_json("get", "svc", "web", "-n", "demo")
        self.assertEqual(svc["spec"]["ports"][0]["protocol"], "TCP")
        # Apply again unchanged: nothing to do.
        out = self.k("apply", "-n", "demo", "-f", "-", input=MANIFEST).stdout
        self.assertIn("configmap/settings unchanged", out)
        # An out-of-band change is kept by a later apply of an edited manifest (3-way merge).
        self.k("label", "configmap", "settings", "-n", "demo", "extra=yes")
        edited = MANIFEST.replace("mode: fast", "mode: slow\n  size: big")
        out = self.k("apply", "-n", "demo", "-f", "-", input=edited).stdout
        self.assertIn("configmap/settings configured", out)
        cm = self.node.kubectl_json("get", "cm", "settings", "-n", "demo")
        self.assertEqual(cm["data"], {"mode": "slow", "size": "big"})
        self.assertEqual(cm["metadata"]["labels"], {"app": "web", "extra": "yes"})
        # Removing a key from the manifest removes it from the object.
        out = self.k("apply", "-n", "demo", "-f", "-", input=MANIFEST).stdout
        cm = self.node.kubectl_json("get", "cm", "settings", "-n", "demo")
        self.assertEqual(cm["data"], {"mode": "fast"})

    def test_every_output_format_for_each_kind(self):
        self.k("create", "namespace", "kinds")
        self.k("apply", "-n", "kinds", "-f", "-", input=MANIFEST)
        headers = {
            "configmap/settings": (["NAME", "DATA", "AGE"], []),
            "secret/creds": (["NAME", "TYPE", "DATA", "AGE"], []),
            "service/web": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
                            ["SELECTOR"]),
            "job.batch/once": (["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
                               ["CONTAINERS", "IMAGES", "SELECTOR"]),
            "ingress.networking.k8s.io/web": (["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
                                              []),
        }
        for ref, (columns, wide_extra) in headers.items():
            table = self.k("get", ref, "-n", "kinds").stdout.splitlines()
            self.assertEqual(table[0].split(), columns, ref)
            self.assertEqual(table[1].split()[0], ref.split("/")[1], ref)
            wide = self.k("get", ref, "-n", "kinds", "-o", "wide").stdout.splitlines()
            self.assertEqual(wide[0].split(), columns + wide_extra, ref)
            self.assertEqual(self.k("get", ref, "-n", "kinds", "-o", "name").stdout.strip(), ref)
            obj = self.node.kubectl_json("get", ref, "-n", "kinds")
            self.assertEqual(obj["metadata"]["name"], ref.split("/")[1])
            self.assertIn("name: " + ref.split("/")[1],
                          self.k("get", ref, "-n", "kinds", "-o", "yaml").stdout)
            self.assertEqual(self.k("get", ref, "-n", "kinds", "-o",
                                    "jsonpath={.metadata.namespace}").stdout, "kinds")
            cc = self.k("get", ref, "-n", "kinds", "-o",
                        "custom-columns=N:.metadata.name,NS:.metadata.namespace").stdout.split()
            self.assertEqual(cc, ["N", "NS", ref.split("/")[1], "kinds"])
        svc = self.k("get", "svc", "web", "-n", "kinds").stdout.splitlines()[1].split()
        self.assertEqual(svc[1], "NodePort")
        self.assertRegex(svc[2], r"^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$")
        self.assertRegex(svc[4], r"^80:3\d{4}/TCP$")

    def test_label_annotate_and_conflicts(self):
        self.k("create", "configmap", "labels", "-n", "demo", "--from-literal=a=b")
        self.k("label", "cm", "labels", "-n", "demo", "tier=db")
        r = self.k("label", "cm", "labels", "-n", "demo", "tier=web", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already has a value (db)", r.stderr)
        self.k("label", "cm", "labels", "-n", "demo", "tier=web", "--overwrite")
        self.k("annotate", "cm", "labels", "-n", "demo", "note=hello")
        cm = self.node.kubectl_json("get", "cm", "labels", "-n", "demo")
        self.assertEqual(cm["metadata"]["labels"]["tier"], "web")
        self.assertEqual(cm["metadata"]["annotations"]["note"], "hello")
        selected = self.k("get", "cm", "-n", "demo", "-l", "tier=web", "-o", "name").stdout.split()
        self.assertEqual(selected, ["configmap/labels"])
        none = self.k("get", "cm", "-n", "demo", "-l", "tier in (db)").stderr
        self.assertIn("No resources found in demo namespace.", none)

    def test_patch_types(self):
        self.k("create", "deployment", "patched", "--image=busybox", "-n", "demo")
        self.k("patch", "deploy", "patched", "-n", "demo", "-p", '{"spec":{"replicas":3}}')
        self.k("patch", "deploy", "patched", "-n", "demo", "--type=merge", "-p",
               '{"metadata":{"labels":{"merged":"yes"}}}')
        self.k("patch", "deploy", "patched", "-n", "demo", "--type=json", "-p",
               '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"busybox:2"}]')
        # Strategic merge by container name: adds env to the existing container.
        self.k("patch", "deploy", "patched", "-n", "demo", "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","env":[{"name":"A","value":"1"}]}]}}}}')
        d = self.node.kubectl_json("get", "deploy", "patched", "-n", "demo")
        self.assertEqual(d["spec"]["replicas"], 3)
        self.assertEqual(d["metadata"]["labels"]["merged"], "yes")
        containers = d["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(containers), 1)
        self.assertEqual(containers[0]["image"], "busybox:2")
        self.assertEqual(containers[0]["env"], [{"name": "A", "value": "1"}])
        self.assertEqual(d["metadata"]["generation"], 4)
        r = self.k("patch", "deploy", "patched", "-n", "demo", "--type=json", "-p",
                   '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_scale_subresource(self):
        self.k("create", "deployment", "scaled", "--image=busybox", "-n", "demo")
        self.k("scale", "deploy", "scaled", "-n", "demo", "--replicas=5")
        d = self.node.kubectl_json("get", "deploy", "scaled", "-n", "demo")
        self.assertEqual(d["spec"]["replicas"], 5)

    # --- watch ----------------------------------------------------------------------------------
    def test_watch_sees_a_create_from_another_client(self):
        cmd = [self.node.kubectl_bin, "--kubeconfig", self.node.kubeconfig, "get", "cm", "-n",
               "demo", "--watch", "-o", "name", "--request-timeout=0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []
        reader = threading.Thread(target=lambda: [seen.append(l.strip()) for l in proc.stdout])
        reader.start()
        try:
            time.sleep(1.0)
            self.k("create", "configmap", "watched", "-n", "demo")
            deadline = time.time() + 10
            while time.time() < deadline and "configmap/watched" not in seen:
                time.sleep(0.05)
            self.assertIn("configmap/watched", seen)
        finally:
            proc.kill()
            reader.join(timeout=5)

    # --- namespaces -------------------------------------------------------------------------------
    def test_delete_namespace_waits_for_its_contents(self):
        self.k("create", "namespace", "doomed")
        self.k("create", "configmap", "inside", "-n", "doomed")
        self.k("create", "deployment", "inside", "--image=busybox", "-n", "doomed")
        self.k("delete", "namespace", "doomed", "--wait", "--timeout=30s")
        r = self.k("get", "namespace", "doomed", check=False)
        self.assertIn('namespaces "doomed" not found', r.stderr)
        r = self.k("get", "cm", "-n", "doomed", "-o", "name")
        self.assertEqual(r.stdout.strip(), "")

    def test_no_new_content_in_a_terminating_namespace(self):
        self.k("create", "namespace", "closing")
        self.k("create", "configmap", "held", "-n", "closing")
        self.k("patch", "cm", "held", "-n", "closing", "--type=merge", "-p",
               '{"metadata":{"finalizers":["example.com/hold"]}}')
        self.k("delete", "namespace", "closing", "--wait=false")
        r = self.k("create", "configmap", "late", "-n", "closing", check=False)
        self.assertIn("because it is being terminated", r.stderr)
        ns = self.node.kubectl_json("get", "namespace", "closing")
        self.assertEqual(ns["status"]["phase"], "Terminating")
        self.k("patch", "cm", "held", "-n", "closing", "--type=merge", "-p",
               '{"metadata":{"finalizers":null}}')
        self.k("wait", "--for=delete", "namespace/closing", "--timeout=30s")

    # --- explain, auth, service accounts, custom resources -----------------------------------------
    def test_explain(self):
        out = self.k("explain", "deployment.spec.replicas").stdout
        self.assertIn("FIELD: replicas <integer>", out)
        self.assertIn("KIND:       Deployment", out)
        out = self.k("explain", "pods.spec.containers").stdout
        self.assertIn("image\t<string>", out)

    def test_auth_can_i_and_rbac(self):
        self.assertEqual(self.k("auth", "can-i", "create", "deployments", "-n", "demo").stdout.strip(),
                         "yes")
        r = self.k("auth", "can-i", "list", "pods", "--as=alice", check=False)
        self.assertEqual(r.stdout.strip(), "no")
        self.k("create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "demo")
        self.assertEqual(self.k("auth", "can-i", "list", "pods", "-n", "demo", "--as=alice").stdout.strip(),
                         "yes")
        r = self.k("auth", "can-i", "delete", "pods", "-n", "demo", "--as=alice", check=False)
        self.assertEqual(r.stdout.strip(), "no")
        r = self.k("get", "secrets", "-n", "demo", "--as=alice", check=False)
        self.assertIn('User "alice" cannot list resource "secrets" in API group "" in the namespace "demo"',
                      r.stderr)

    def test_service_account_token_is_a_working_credential(self):
        self.k("create", "serviceaccount", "bot", "-n", "demo")
        self.k("create", "rolebinding", "bot-edit", "--clusterrole=edit", "--serviceaccount=demo:bot",
               "-n", "demo")
        token = self.k("create", "token", "bot", "-n", "demo").stdout.strip()
        self.assertEqual(token.count("."), 2)
        as_bot = ["--token=" + token, "--kubeconfig=/dev/null",
                  "--server=https://127.0.0.1:%d" % self.node.port,
                  "--certificate-authority=" + os.path.join(self.node.pki, "ca.crt")]
        self.k(*as_bot, "create", "configmap", "from-bot", "-n", "demo")
        r = self.k(*as_bot, "get", "configmaps", "-n", "kube-system", check=False)
        self.assertIn('User "system:serviceaccount:demo:bot" cannot list', r.stderr)
        r = self.k("--token=not-a-token", "--kubeconfig=/dev/null",
                   "--server=https://127.0.0.1:%d" % self.node.port, "--insecure-skip-tls-verify",
                   "get", "pods", check=False)
        self.assertIn("Unauthorized", r.stderr)

    def test_custom_resource_definition_and_objects(self):
        crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              color: {type: string, enum: [red, blue]}
"""
        self.k("apply", "-f", "-", input=crd)
        self.k("wait", "--for=condition=established", "crd/widgets.example.com", "--timeout=20s")
        widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: demo}\n" \
                 "spec: {size: 3, color: red, extra: dropped}\n"
        self.k("apply", "--validate=false", "-f", "-", input=widget)
        table = self.k("get", "wg", "-n", "demo").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "SIZE"])
        self.assertEqual(table[1].split(), ["w1", "3"])
        obj = self.node.kubectl_json("get", "widget", "w1", "-n", "demo")
        self.assertEqual(obj["spec"], {"size": 3, "color": "red"})
        bad = widget.replace("size: 3", "size: three").replace("w1", "w2").replace(", extra: dropped", "")
        r = self.k("apply", "-f", "-", input=bad, check=False)
        self.assertIn("spec.size: Invalid value", r.stderr)
        self.assertIn("must be of type integer", r.stderr)
        r = self.k("apply", "-f", "-", input=widget.replace("color: red", "color: pink").replace("w1", "w3")
                   .replace(", extra: dropped", ""), check=False)
        self.assertIn('Unsupported value: "pink"', r.stderr)
        self.k("delete", "crd", "widgets.example.com", "--wait", "--timeout=30s")
        r = self.k("get", "widgets", "-n", "demo", check=False)
        self.assertNotEqual(r.returncode, 0)

    # --- errors -----------------------------------------------------------------------------------
    def test_error_cases(self):
        r = self.k("get", "pod", "missing", "-n", "demo", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('pods "missing" not found', r.stderr)
        r = self.k("create", "configmap", "Upper_Case", "-n", "demo", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('ConfigMap "Upper_Case" is invalid: metadata.name: Invalid value: "Upper_Case"',
                      r.stderr)
        self.k("create", "configmap", "dup", "-n", "demo")
        r = self.k("create", "configmap", "dup", "-n", "demo", check=False)
        self.assertIn('configmaps "dup" already exists', r.stderr)
        r = self.k("apply", "-f", "-", input="kind: [unclosed\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        unknown = MANIFEST.split("---")[0].replace("\ndata:", "\nbogus: 1\ndata:")
        r = self.k("apply", "-n", "demo", "-f", "-", input=unknown, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('strict decoding error: unknown field "bogus"', r.stderr)
        r = self.k("apply", "-n", "demo", "--validate=false", "-f", "-", input=unknown)
        r = self.k("create", "configmap", "x", "-n", "nowhere", check=False)
        self.assertIn('namespaces "nowhere" not found', r.stderr)

    def test_raw_api_errors_are_status_objects(self):
        status, body, _ = self.node.get_raw("/api/v1/namespaces/demo/configmaps", method="POST",
                                            body=b"{not json",
                                            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["reason"], "BadRequest")
        status, body, _ = self.node.get_raw("/api/v1/namespaces/demo/configmaps", method="POST",
                                            body=b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}",
                                            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        status, body, _ = self.node.get_raw("/apis/nope.example.com/v1/things")
        self.assertEqual(status, 404)
        status, _, _ = self.node.get_raw("/api/v1/namespaces/demo/configmaps/x", method="POST",
                                         body=b"{}", headers={"Content-Type": "application/json"})
        self.assertEqual(status, 405)
        # The server is still healthy after all that.
        self.assertEqual(self.node.get_raw("/readyz", auth=False)[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
