"""Cluster housekeeping with real kubectl against `kcube node run` (kubelet off, played by
fake_kubelet): the garbage collector (background, foreground and orphan deletion), namespace
deletion, the default ServiceAccount and kube-root-ca.crt in every namespace, Endpoints and
EndpointSlices following pod readiness (named target ports included), and the PV binder.

Owner chains are made by hand (ConfigMaps, Secrets, Pods with ownerReferences), so that these
tests exercise the housekeeping controllers on their own."""
import json
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from fake_kubelet import FakeKubelet, running_ready, set_pod_ready  # noqa: E402
from node_fixture import Node  # noqa: E402

KUBELET_NODE = "worker-1"
TIMEOUT = 60


def kubelet_policy(pod):
    """Pods start Running; Ready unless labelled start-ready=false."""
    ready = pod["metadata"].get("labels", {}).get("start-ready") != "false"
    return running_ready(pod, ready=ready)


def ref(obj, controller=False, block=False):
    """An ownerReference to `obj` (as kubectl returns it)."""
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
           "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
    if controller:
        out["controller"] = True
    if block:
        out["blockOwnerDeletion"] = True
    return out


class Housekeeping(unittest.TestCase):
    node = None
    kubelet = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node(disable="kubelet,proxy,dns").start()
        cls.kubelet = FakeKubelet(cls.node, name=KUBELET_NODE, policy=kubelet_policy).start()

    @classmethod
    def tearDownClass(cls):
        if cls.kubelet:
            cls.kubelet.stop()
        if cls.node:
            cls.node.cleanup()

    def setUp(self):
        self.ns = "hk-" + uuid.uuid4().hex[:8]
        self.node.kubectl("create", "namespace", self.ns)
        # Claims left Pending must not take later tests' volumes.
        self.addCleanup(self.node.kubectl, "delete", "namespace", self.ns, "--wait=false",
                        "--ignore-not-found", check=False)

    # ---- helpers ------------------------------------------------------------------------

    def create(self, manifest):
        """kubectl create of one object in the test namespace; returns it as stored."""
        manifest.setdefault("metadata", {}).setdefault("namespace", self.ns)
        out = self.node.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(manifest))
        return json.loads(out.stdout)

    def configmap(self, name, owners=(), finalizers=()):
        meta = {"name": name}
        if owners:
            meta["ownerReferences"] = list(owners)
        if finalizers:
            meta["finalizers"] = list(finalizers)
        return self.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                            "data": {"k": "v"}})

    def pod(self, name, owners=(), labels=None, ports=None, node_name=KUBELET_NODE, **spec):
        meta = {"name": name, "labels": labels or {}}
        if owners:
            meta["ownerReferences"] = list(owners)
        container = {"name": "app", "image": "registry.local/app:1"}
        if ports:
            container["ports"] = ports
        body = {"containers": [container]}
        if node_name:
            body["nodeName"] = node_name
        body.update(spec)
        return self.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body})

    def get(self, kind, name, ns=None):
        """The object, or None if it does not exist."""
        where = [] if ns == "" else ["-n", ns or self.ns]  # "": cluster-scoped
        out = self.node.kubectl("get", kind, name, *where, "--ignore-not-found", "-o", "json")
        return json.loads(out.stdout) if out.stdout.strip() else None

    def gone(self, kind, name, ns=None):
        return self.get(kind, name, ns) is None

    def wait_gone(self, kind, name, ns=None, timeout=TIMEOUT):
        self.node.wait_for(lambda: self.gone(kind, name, ns), timeout=timeout,
                           what="%s/%s to be deleted" % (kind, name))

    def events(self, name):
        return self.node.kubectl_json("get", "events", "-n", self.ns, "--field-selector",
                                      "involvedObject.name=" + name)["items"]

    def wait_event(self, name, reason):
        def found():
            return [e for e in self.events(name) if e["reason"] == reason]
        return self.node.wait_for(found, timeout=TIMEOUT,
                                  what="event %s on %s" % (reason, name))[0]

    # ---- garbage collector --------------------------------------------------------------

    def test_background_cascade_deletes_dependents(self):
        owner = self.configmap("owner")
        other = self.configmap("other-owner")
        child = self.configmap("child", [ref(owner, controller=True, block=True)])
        secret = self.create({"apiVersion": "v1", "kind": "Secret",
                              "metadata": {"name": "child-secret", "ownerReferences": [ref(owner)]},
                              "stringData": {"a": "b"}})
        grandchild = self.configmap("grandchild", [ref(child)])
        pod = self.pod("child-pod", [ref(owner)])
        shared = self.configmap("shared", [ref(owner), ref(other)])
        self.assertEqual(secret["metadata"]["ownerReferences"][0]["uid"], owner["metadata"]["uid"])

        self.node.kubectl("delete", "configmap", "owner", "-n", self.ns)
        for kind, name in [("configmap", "child"), ("secret", "child-secret"),
                           ("configmap", "grandchild"), ("pod", "child-pod")]:
            self.wait_gone(kind, name)
        self.assertEqual(grandchild["metadata"]["name"], "grandchild")
        self.assertEqual(pod["metadata"]["name"], "child-pod")

        # An object with another owner left stays, without the reference to the gone one.
        def shared_refs():
            obj = self.get("configmap", "shared")
            self.assertIsNotNone(obj)
            refs = [r["name"] for r in obj["metadata"].get("ownerReferences", [])]
            return refs if refs == ["other-owner"] else None
        self.node.wait_for(shared_refs, timeout=TIMEOUT, what="shared to lose its gone owner")
        self.assertIsNotNone(self.get("configmap", "other-owner"))
        self.assertEqual(shared["metadata"]["name"], "shared")

    def test_dependents_of_an_owner_that_never_existed_or_was_replaced_are_collected(self):
        owner = self.configmap("owner")
        fake = dict(ref(owner), uid=str(uuid.uuid4()))  # same name, another uid
        self.configmap("replaced-owner-child", [fake])
        self.configmap("absent-owner-child",
                       [{"apiVersion": "v1", "kind": "ConfigMap", "name": "nobody",
                         "uid": str(uuid.uuid4())}])
        self.configmap("real-child", [ref(owner)])
        self.wait_gone("configmap", "replaced-owner-child")
        self.wait_gone("configmap", "absent-owner-child")
        self.assertIsNotNone(self.get("configmap", "real-child"))
        self.assertIsNotNone(self.get("configmap", "owner"))

    def test_foreground_deletion_waits_for_blocking_dependents(self):
        top = self.configmap("top")
        # The middle object holds on (a finalizer of the test's own), so the wait is visible.
        middle = self.configmap("middle", [ref(top, controller=True, block=True)],
                                finalizers=["example.com/hold"])
        self.pod("leaf", [ref(middle, controller=True, block=True)])
        self.configmap("loose", [ref(top)])  # not blocking: deleted, but not waited for

        self.node.kubectl("delete", "configmap", "top", "-n", self.ns, "--cascade=foreground",
                          "--wait=false")

        def top_waiting():
            obj = self.get("configmap", "top")
            return obj if obj and "foregroundDeletion" in obj["metadata"].get("finalizers", []) \
                and obj["metadata"].get("deletionTimestamp") else None
        self.node.wait_for(top_waiting, timeout=TIMEOUT, what="top waiting for its dependents")
        # The middle object is deleted in the foreground (it has a dependent of its own): its
        # leaf goes although the middle object itself stays (held by its finalizer). Deleted
        # in the background, the middle object would still own the leaf.
        self.node.wait_for(lambda: (self.get("configmap", "middle") or {}).get(
            "metadata", {}).get("deletionTimestamp"), timeout=TIMEOUT, what="middle deleted")
        self.wait_gone("pod", "leaf")
        self.wait_gone("configmap", "loose")
        # Still held by the middle object's own finalizer: top must not go yet.
        time.sleep(1)
        self.assertIsNotNone(top_waiting(), "owner went before its blocking dependent")
        self.assertIsNotNone(self.get("configmap", "middle"))

        # Nothing blocks the middle object any more: only the test's own finalizer is left.
        def only_hold():
            finalizers = self.get("configmap", "middle")["metadata"].get("finalizers", [])
            return finalizers == ["example.com/hold"]
        self.node.wait_for(only_hold, timeout=TIMEOUT, what="middle to lose foregroundDeletion")
        self.node.kubectl("patch", "configmap", "middle", "-n", self.ns, "--type=merge", "-p",
                          '{"metadata":{"finalizers":null}}')
        self.wait_gone("configmap", "middle")
        self.wait_gone("configmap", "top")

    def test_foreground_deletion_without_dependents_completes(self):
        self.configmap("alone")
        self.node.kubectl("delete", "configmap", "alone", "-n", self.ns, "--cascade=foreground",
                          "--timeout=%ds" % TIMEOUT, timeout=TIMEOUT + 10)
        self.assertTrue(self.gone("configmap", "alone"))

    def test_orphan_deletion_leaves_dependents_without_the_reference(self):
        owner = self.configmap("owner")
        keeper = self.configmap("keeper")
        self.configmap("dependent", [ref(owner, controller=True, block=True), ref(keeper)])
        self.pod("dependent-pod", [ref(owner, controller=True, block=True)])

        self.node.kubectl("delete", "configmap", "owner", "-n", self.ns, "--cascade=orphan",
                          "--timeout=%ds" % TIMEOUT, timeout=TIMEOUT + 10)
        self.wait_gone("configmap", "owner")
        dependent = self.get("configmap", "dependent")
        self.assertIsNotNone(dependent)
        self.assertEqual([r["name"] for r in dependent["metadata"]["ownerReferences"]], ["keeper"])
        pod = self.get("pod", "dependent-pod")
        self.assertIsNotNone(pod)
        self.assertNotIn("ownerReferences", pod["metadata"])
        # And they stay: nothing collects them later.
        time.sleep(1)
        self.assertIsNotNone(self.get("configmap", "dependent"))
        self.assertIsNotNone(self.get("pod", "dependent-pod"))

    def test_deployment_cascades(self):
        """With the Deployment and ReplicaSet controllers: background and foreground deletion
        take the ReplicaSets and Pods along, --cascade=orphan leaves them ownerless."""
        def count(kind):
            return len(self.node.kubectl_json("get", kind, "-n", self.ns, "-l", "app=web")["items"])
        for cascade in ("background", "foreground", "orphan"):
            self.node.kubectl("create", "deployment", "web", "-n", self.ns, "--replicas=2",
                              "--image=registry.local/web:1")
            self.node.wait_for(lambda: count("pods") == 2 and count("replicasets") == 1,
                               timeout=TIMEOUT, what="deployment web up (%s)" % cascade)
            self.node.kubectl("delete", "deployment", "web", "-n", self.ns,
                              "--cascade=" + cascade, "--timeout=%ds" % TIMEOUT,
                              timeout=TIMEOUT + 10)
            if cascade != "orphan":
                self.node.wait_for(lambda: count("pods") == 0 and count("replicasets") == 0,
                                   timeout=TIMEOUT, what="pods and replicasets gone (%s)" % cascade)
                continue
            time.sleep(1)
            replicasets = self.node.kubectl_json("get", "replicasets", "-n", self.ns, "-l",
                                                 "app=web")["items"]
            self.assertEqual(len(replicasets), 1)
            self.assertNotIn("ownerReferences", replicasets[0]["metadata"])
            self.assertEqual(count("pods"), 2)

    def test_custom_resource_owners(self):
        group = "hk%s.example.com" % uuid.uuid4().hex[:6]
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets." + group},
               "spec": {"group": group, "scope": "Namespaced",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {
                                          "type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
        self.node.kubectl("create", "-f", "-", input=json.dumps(crd))
        self.addCleanup(self.node.kubectl, "delete", "crd", "widgets." + group, "--wait=false",
                        check=False)
        resource = "widgets." + group
        self.node.wait_for(lambda: self.node.kubectl("get", resource, "-n", self.ns,
                                                     check=False).returncode == 0,
                           timeout=TIMEOUT, what="widgets served")
        for cascade in ("background", "foreground", "orphan"):
            widget = self.create({"apiVersion": group + "/v1", "kind": "Widget",
                                  "metadata": {"name": "w-" + cascade}})
            self.configmap("part-" + cascade, [ref(widget, controller=True, block=True)])
            self.node.kubectl("delete", resource, "w-" + cascade, "-n", self.ns,
                              "--cascade=" + cascade, "--timeout=%ds" % TIMEOUT,
                              timeout=TIMEOUT + 10)
            if cascade == "orphan":
                part = self.get("configmap", "part-orphan")
                self.assertIsNotNone(part)
                self.assertNotIn("ownerReferences", part["metadata"])
            else:
                self.wait_gone("configmap", "part-" + cascade)

    # ---- namespaces, service accounts, root CA ------------------------------------------

    def test_new_namespace_gets_default_service_account_and_root_ca(self):
        sa = self.node.wait_for(lambda: self.get("serviceaccount", "default"), timeout=TIMEOUT,
                                what="default ServiceAccount")
        with open(os.path.join(self.node.pki, "ca.crt")) as f:
            ca = f.read()

        def root_ca():
            cm = self.get("configmap", "kube-root-ca.crt")
            return cm if cm and cm.get("data", {}).get("ca.crt") == ca else None
        cm = self.node.wait_for(root_ca, timeout=TIMEOUT, what="kube-root-ca.crt")
        self.assertIn("kubernetes.io/description", cm["metadata"]["annotations"])

        # Deleted: made again. Edited: put back.
        self.node.kubectl("delete", "serviceaccount", "default", "-n", self.ns)
        self.node.wait_for(lambda: (self.get("serviceaccount", "default") or {}).get(
            "metadata", {}).get("uid") not in (None, sa["metadata"]["uid"]), timeout=TIMEOUT,
            what="default ServiceAccount made again")
        self.node.kubectl("patch", "configmap", "kube-root-ca.crt", "-n", self.ns,
                          "--type=merge", "-p", '{"data":{"ca.crt":"tampered"}}')
        self.node.wait_for(root_ca, timeout=TIMEOUT, what="kube-root-ca.crt restored")
        self.node.kubectl("delete", "configmap", "kube-root-ca.crt", "-n", self.ns)
        self.node.wait_for(root_ca, timeout=TIMEOUT, what="kube-root-ca.crt made again")

        # Namespaces made before the node started have them too.
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.assertIsNotNone(self.get("serviceaccount", "default", ns))
            self.assertIsNotNone(self.get("configmap", "kube-root-ca.crt", ns))

    def test_deleting_a_namespace_removes_everything_in_it(self):
        ns = self.ns
        owner = self.configmap("owner")
        self.configmap("owned", [ref(owner)])
        self.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                     "stringData": {"a": "b"}})
        self.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                     "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}})
        self.pod("running", labels={"app": "x"})
        self.pod("unscheduled", node_name=None)
        self.configmap("held", finalizers=["example.com/hold"])
        self.node.wait_for(lambda: self.get("endpoints", "svc"), timeout=TIMEOUT,
                           what="endpoints of svc")

        self.node.kubectl("delete", "namespace", ns, "--wait=false")
        for kind, name in [("configmap", "owner"), ("configmap", "owned"), ("secret", "s"),
                           ("service", "svc"), ("endpoints", "svc"), ("pod", "running"),
                           ("pod", "unscheduled"), ("serviceaccount", "default")]:
            self.wait_gone(kind, name, ns)
        # A finalizer of someone else's holds the namespace until it is removed.
        held = self.get("configmap", "held", ns)
        self.assertTrue(held["metadata"].get("deletionTimestamp"))
        phase = self.node.kubectl("get", "namespace", ns, "-o",
                                  "jsonpath={.status.phase}").stdout
        self.assertEqual(phase, "Terminating")
        self.node.kubectl("patch", "configmap", "held", "-n", ns, "--type=merge", "-p",
                          '{"metadata":{"finalizers":null}}')
        self.node.wait_for(
            lambda: not self.node.kubectl("get", "namespace", ns, "--ignore-not-found",
                                          "-o", "name").stdout.strip(),
            timeout=TIMEOUT, what="namespace %s to be gone" % ns)

    # ---- endpoints and endpoint slices --------------------------------------------------

    def endpoints_view(self, name):
        """{"ready": {(pod, port)}, "not_ready": {(pod, port)}} from the Endpoints object."""
        ep = self.get("endpoints", name)
        if ep is None:
            return None
        view = {"ready": set(), "not_ready": set()}
        for subset in ep.get("subsets", []):
            ports = [p["port"] for p in subset.get("ports", [])] or [None]
            for key, field in (("ready", "addresses"), ("not_ready", "notReadyAddresses")):
                for address in subset.get(field, []):
                    for port in ports:
                        view[key].add((address["targetRef"]["name"], port))
        return view

    def slices(self, service):
        return self.node.kubectl_json("get", "endpointslices", "-n", self.ns, "-l",
                                      "kubernetes.io/service-name=" + service)["items"]

    def slices_view(self, service):
        """{(pod, port): ready} over the Service's EndpointSlices."""
        view = {}
        for s in self.slices(service):
            ports = [p["port"] for p in s.get("ports") or []] or [None]
            for e in s.get("endpoints") or []:
                for port in ports:
                    view[(e["targetRef"]["name"], port)] = e["conditions"]["ready"]
        return view

    def test_endpoints_and_slices_follow_pod_readiness(self):
        http = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        alt = [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
        self.pod("web-a", labels={"app": "web"}, ports=http)
        self.pod("web-b", labels={"app": "web", "start-ready": "false"}, ports=http)
        self.pod("web-c", labels={"app": "web"}, ports=alt)
        self.pod("other", labels={"app": "other"}, ports=http)
        svc = self.create({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "web", "labels": {"tier": "front"}},
                           "spec": {"selector": {"app": "web"},
                                    "ports": [{"name": "http", "port": 80,
                                               "targetPort": "http"}]}})

        expected = {"ready": {("web-a", 8080), ("web-c", 9090)},
                    "not_ready": {("web-b", 8080)}}
        self.node.wait_for(lambda: self.endpoints_view("web") == expected, timeout=TIMEOUT,
                           what="endpoints %s" % expected)
        ep = self.get("endpoints", "web")
        self.assertEqual(ep["metadata"]["labels"], {"tier": "front"})
        self.assertIn("endpoints.kubernetes.io/last-change-trigger-time",
                      ep["metadata"].get("annotations", {}))
        # Pods resolving the named port differently are in separate subsets.
        self.assertEqual(len(ep["subsets"]), 2)
        address = [a for s in ep["subsets"] for a in s.get("addresses", [])
                   if a["targetRef"]["name"] == "web-a"][0]
        pod_a = self.get("pod", "web-a")
        self.assertEqual(address["ip"], pod_a["status"]["podIP"])
        self.assertEqual(address["nodeName"], KUBELET_NODE)
        self.assertEqual(address["targetRef"]["uid"], pod_a["metadata"]["uid"])
        self.assertEqual(address["targetRef"]["kind"], "Pod")

        slice_expected = {("web-a", 8080): True, ("web-b", 8080): False, ("web-c", 9090): True}
        self.node.wait_for(lambda: self.slices_view("web") == slice_expected, timeout=TIMEOUT,
                           what="slices %s" % slice_expected)
        slices = self.slices("web")
        self.assertEqual(len(slices), 2)  # one per port resolution
        for s in slices:
            self.assertEqual(s["addressType"], "IPv4")
            self.assertTrue(s["metadata"]["name"].startswith("web-"))
            self.assertEqual(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
                             "endpointslice-controller.k8s.io")
            self.assertEqual(s["metadata"]["labels"]["tier"], "front")
            self.assertEqual(s["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"])
            for e in s["endpoints"]:
                self.assertEqual(e["nodeName"], KUBELET_NODE)
                self.assertEqual(e["conditions"]["serving"], e["conditions"]["ready"])
                self.assertFalse(e["conditions"]["terminating"])
        slice_names = sorted(s["metadata"]["name"] for s in slices)

        # Readiness flips both ways.
        set_pod_ready(self.node, self.ns, "web-b", True)
        set_pod_ready(self.node, self.ns, "web-a", False)
        expected = {"ready": {("web-b", 8080), ("web-c", 9090)},
                    "not_ready": {("web-a", 8080)}}
        self.node.wait_for(lambda: self.endpoints_view("web") == expected, timeout=TIMEOUT,
                           what="endpoints %s" % expected)
        slice_expected = {("web-a", 8080): False, ("web-b", 8080): True, ("web-c", 9090): True}
        self.node.wait_for(lambda: self.slices_view("web") == slice_expected, timeout=TIMEOUT,
                           what="slices %s" % slice_expected)
        # Updated in place: the same slices, no new ones.
        self.assertEqual(sorted(s["metadata"]["name"] for s in self.slices("web")), slice_names)

        # A pod leaving (relabelled) and one deleted.
        self.node.kubectl("label", "pod", "web-c", "-n", self.ns, "app=gone", "--overwrite")
        self.node.kubectl("delete", "pod", "web-a", "-n", self.ns)
        expected = {"ready": {("web-b", 8080)}, "not_ready": set()}
        self.node.wait_for(lambda: self.endpoints_view("web") == expected, timeout=TIMEOUT,
                           what="endpoints %s" % expected)
        self.node.wait_for(lambda: self.slices_view("web") == {("web-b", 8080): True},
                           timeout=TIMEOUT, what="slices after pods left")

        # The Service goes: so do its Endpoints and slices.
        self.node.kubectl("delete", "service", "web", "-n", self.ns)
        self.wait_gone("endpoints", "web")
        self.node.wait_for(lambda: not self.slices("web"), timeout=TIMEOUT,
                           what="slices of web to be deleted")

    def test_publish_not_ready_and_headless_hostnames(self):
        self.pod("db-0", labels={"app": "db", "start-ready": "false"},
                 hostname="db-0", subdomain="db")
        self.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                     "spec": {"clusterIP": "None", "selector": {"app": "db"},
                              "publishNotReadyAddresses": True}})

        def address():
            ep = self.get("endpoints", "db")
            for subset in (ep or {}).get("subsets", []):
                for a in subset.get("addresses", []):
                    return a
            return None
        a = self.node.wait_for(address, timeout=TIMEOUT, what="published not-ready address")
        self.assertEqual(a["hostname"], "db-0")
        ep = self.get("endpoints", "db")
        self.assertIn("service.kubernetes.io/headless", ep["metadata"]["labels"])
        self.assertNotIn("ports", ep["subsets"][0])

        def slice_endpoint():
            for s in self.slices("db"):
                for e in s.get("endpoints") or []:
                    return e
            return None
        e = self.node.wait_for(slice_endpoint, timeout=TIMEOUT, what="slice endpoint of db")
        self.assertTrue(e["conditions"]["ready"])
        self.assertFalse(e["conditions"]["serving"])
        self.assertEqual(e["hostname"], "db-0")

    def test_service_without_selector_keeps_user_endpoints_and_mirrors_them(self):
        self.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
                     "spec": {"ports": [{"port": 5432}]}})
        self.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
                     "subsets": [{"addresses": [{"ip": "192.0.2.10"}],
                                  "ports": [{"port": 5432}]}]})
        # A selector-based service nearby is served, so the controller has looked.
        self.pod("p", labels={"app": "p"})
        self.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "p"},
                     "spec": {"selector": {"app": "p"}, "ports": [{"port": 80}]}})
        self.node.wait_for(lambda: self.endpoints_view("p") == {"ready": {("p", 80)},
                                                                 "not_ready": set()},
                           timeout=TIMEOUT, what="endpoints of p")
        ep = self.get("endpoints", "external")
        self.assertEqual(ep["subsets"][0]["addresses"][0]["ip"], "192.0.2.10")
        # The endpointslice controller leaves it; the mirroring controller mirrors the
        # user's Endpoints into one slice of its own, owned by the Endpoints.
        mirrored = self.node.wait_for(lambda: self.slices("external"), timeout=TIMEOUT,
                                      what="the mirrored slice of external")
        self.assertEqual(1, len(mirrored), mirrored)
        self.assertEqual(mirrored[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
                         "endpointslicemirroring-controller.k8s.io")
        self.assertEqual(mirrored[0]["endpoints"][0]["addresses"], ["192.0.2.10"])
        self.assertEqual(mirrored[0]["metadata"]["ownerReferences"][0]["kind"], "Endpoints")
        # Deleting the Service leaves the user's Endpoints alone; the mirror goes.
        self.node.kubectl("delete", "service", "external", "-n", self.ns)
        self.node.wait_for(lambda: not self.slices("external"), timeout=TIMEOUT,
                           what="the mirrored slice removed with its Service")
        self.assertIsNotNone(self.get("endpoints", "external"))

    # ---- persistent volumes -------------------------------------------------------------

    def pv(self, name, size, modes=("ReadWriteOnce",), policy="Retain", storage_class="",
           **spec):
        body = {"capacity": {"storage": size}, "accessModes": list(modes),
                "persistentVolumeReclaimPolicy": policy, "storageClassName": storage_class,
                "hostPath": {"path": "/tmp/" + name}}
        body.update(spec)
        manifest = {"apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": name}, "spec": body}
        self.addCleanup(self.node.kubectl, "delete", "pv", name, "--ignore-not-found",
                        "--wait=false", check=False)
        out = self.node.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(manifest))
        return json.loads(out.stdout)

    def pvc(self, name, size, modes=("ReadWriteOnce",), storage_class="", **extra):
        spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
        if storage_class is not None:
            spec["storageClassName"] = storage_class
        spec.update(extra.pop("spec", {}))
        meta = {"name": name}
        meta.update(extra)
        return self.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": meta, "spec": spec})

    def phase(self, kind, name, ns=None):
        obj = self.get(kind, name, ns)
        return obj and obj.get("status", {}).get("phase")

    def test_claim_binds_to_the_smallest_matching_volume(self):
        tag = self.ns
        self.pv(tag + "-1g", "1Gi")
        self.pv(tag + "-5g", "5Gi")
        self.pv(tag + "-rox", "1Gi", modes=("ReadOnlyMany",))
        self.pv(tag + "-gold", "1Gi", storage_class="gold-" + tag)
        self.node.wait_for(lambda: self.phase("pv", tag + "-1g", "") == "Available",
                           timeout=TIMEOUT, what="PV Available")
        self.pvc("data", "500Mi")
        self.node.wait_for(lambda: self.phase("pvc", "data") == "Bound", timeout=TIMEOUT,
                           what="claim Bound")
        claim = self.get("pvc", "data")
        self.assertEqual(claim["spec"]["volumeName"], tag + "-1g")
        self.assertEqual(claim["status"]["capacity"]["storage"], "1Gi")
        self.assertEqual(claim["status"]["accessModes"], ["ReadWriteOnce"])
        annotations = claim["metadata"]["annotations"]
        self.assertEqual(annotations["pv.kubernetes.io/bind-completed"], "yes")
        self.assertEqual(annotations["pv.kubernetes.io/bound-by-controller"], "yes")
        self.node.wait_for(lambda: self.phase("pv", tag + "-1g", "") == "Bound", timeout=TIMEOUT,
                           what="PV Bound")
        volume = self.get("pv", tag + "-1g", "")
        self.assertEqual(volume["spec"]["claimRef"]["name"], "data")
        self.assertEqual(volume["spec"]["claimRef"]["namespace"], self.ns)
        self.assertEqual(volume["spec"]["claimRef"]["uid"], claim["metadata"]["uid"])
        self.assertEqual(volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"],
                         "yes")
        out = self.node.kubectl("get", "pvc", "data", "-n", self.ns, "--no-headers").stdout
        self.assertIn("Bound", out)
        self.assertIn(tag + "-1g", out)

        # Retain: the volume is Released when its claim goes, and stays.
        self.node.kubectl("delete", "pvc", "data", "-n", self.ns)
        self.node.wait_for(lambda: self.phase("pv", tag + "-1g", "") == "Released",
                           timeout=TIMEOUT, what="PV Released")
        self.assertEqual(self.phase("pv", tag + "-5g", ""), "Available")

    def test_claim_without_a_match_stays_pending(self):
        tag = self.ns
        self.pv(tag + "-small", "1Gi")
        self.pvc("too-big", "100Gi")
        event = self.wait_event("too-big", "FailedBinding")
        self.assertEqual(event["message"],
                         "no persistent volumes available for this claim and no storage class "
                         "is set")
        self.assertEqual(event["source"]["component"], "persistentvolume-controller")
        self.assertEqual(self.phase("pvc", "too-big"), "Pending")
        self.assertEqual(self.phase("pv", tag + "-small", ""), "Available")

    def test_prebound_volume_and_claim(self):
        tag = self.ns
        # The claim names a volume (spec.volumeName), and a volume names a claim (claimRef).
        self.pv(tag + "-named", "2Gi")
        self.pv(tag + "-reserved", "2Gi",
                claimRef={"namespace": self.ns, "name": "wants-any"})
        self.pv(tag + "-decoy", "2Gi")
        self.pvc("wants-named", "1Gi", spec={"volumeName": tag + "-named"})
        self.pvc("wants-any", "1Gi")
        self.node.wait_for(lambda: self.phase("pvc", "wants-named") == "Bound" and
                           self.phase("pvc", "wants-any") == "Bound",
                           timeout=TIMEOUT, what="both claims Bound")
        self.assertEqual(self.get("pvc", "wants-any")["spec"]["volumeName"], tag + "-reserved")
        named = self.get("pvc", "wants-named")
        self.assertNotIn("pv.kubernetes.io/bound-by-controller",
                         named["metadata"].get("annotations", {}))
        self.assertEqual(self.phase("pv", tag + "-decoy", ""), "Available")

    def test_delete_policy_and_storage_classes(self):
        tag = self.ns
        self.pv(tag + "-del", "1Gi", policy="Delete")
        self.pvc("scratch", "1Gi")
        self.node.wait_for(lambda: self.phase("pvc", "scratch") == "Bound", timeout=TIMEOUT,
                           what="claim Bound")
        self.node.kubectl("delete", "pvc", "scratch", "-n", self.ns)
        self.wait_gone("pv", tag + "-del", "")

        # A class with an external provisioner: the claim waits for it.
        dynamic = "dyn-" + tag
        self.node.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": dynamic}, "provisioner": "example.com/provisioner"}))
        self.addCleanup(self.node.kubectl, "delete", "storageclass", dynamic, check=False)
        self.pvc("dynamic", "1Gi", storage_class=dynamic)
        event = self.wait_event("dynamic", "ExternalProvisioning")
        self.assertIn("external provisioner 'example.com/provisioner'", event["message"])
        claim = self.get("pvc", "dynamic")
        annotations = claim["metadata"]["annotations"]
        self.assertEqual(annotations["volume.kubernetes.io/storage-provisioner"],
                         "example.com/provisioner")
        self.assertEqual(claim["status"]["phase"], "Pending")

        # WaitForFirstConsumer: no binding until the scheduler picked a node.
        local = "local-" + tag
        self.node.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": local}, "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer"}))
        self.addCleanup(self.node.kubectl, "delete", "storageclass", local, check=False)
        affinity = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [KUBELET_NODE]}]}]}}
        self.pv(tag + "-local", "1Gi", storage_class=local, nodeAffinity=affinity)
        self.pvc("late", "1Gi", storage_class=local)
        event = self.wait_event("late", "WaitForFirstConsumer")
        self.assertEqual(event["message"],
                         "waiting for first consumer to be created before binding")
        self.assertEqual(self.phase("pvc", "late"), "Pending")
        self.node.kubectl("annotate", "pvc", "late", "-n", self.ns,
                          "volume.kubernetes.io/selected-node=" + KUBELET_NODE)
        self.node.wait_for(lambda: self.phase("pvc", "late") == "Bound", timeout=TIMEOUT,
                           what="delayed claim Bound")
        self.assertEqual(self.get("pvc", "late")["spec"]["volumeName"], tag + "-local")


class HousekeepingAfterRestart(unittest.TestCase):
    """Owners deleted while the controllers were not running: after they start, the
    dependents are collected, and missing per-namespace objects are made."""

    def setUp(self):
        self.node = Node(disable="kubelet,proxy,dns,controllers").start()

    def tearDown(self):
        self.node.cleanup()

    def test_controllers_converge_after_start(self):
        node = self.node
        node.kubectl("create", "namespace", "late")
        node.kubectl("create", "configmap", "owner", "-n", "late")
        owner = node.kubectl_json("get", "configmap", "owner", "-n", "late")
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "child", "namespace": "late",
                              "ownerReferences": [ref(owner)]}}
        node.kubectl("create", "-f", "-", input=json.dumps(child))
        node.kubectl("delete", "configmap", "owner", "-n", "late")
        self.assertTrue(node.kubectl("get", "configmap", "child", "-n", "late", "-o", "name")
                        .stdout.strip())
        self.assertEqual(node.stop(), 0)

        node.log.close()
        node.disable = "kubelet,proxy,dns"
        node.start()
        node.wait_for(lambda: not node.kubectl("get", "configmap", "child", "-n", "late",
                                               "--ignore-not-found", "-o", "name").stdout.strip(),
                      timeout=TIMEOUT, what="child of the deleted owner to be collected")
        node.wait_for(lambda: node.kubectl("get", "serviceaccount", "default", "-n", "late",
                                           "--ignore-not-found", "-o", "name").stdout.strip(),
                      timeout=TIMEOUT, what="default ServiceAccount in late")
        node.wait_for(lambda: node.kubectl("get", "configmap", "kube-root-ca.crt", "-n", "late",
                                           "--ignore-not-found", "-o", "name").stdout.strip(),
                      timeout=TIMEOUT, what="kube-root-ca.crt in late")


if __name__ == "__main__":
    unittest.main(verbosity=2)
