"""Apps are reachable the way users expect: `kcube start --driver=none`, then real kubectl and
real resolver clients (busybox's wget/nslookup in pods, dig on the host) exercise the service
proxy and the cluster DNS: ClusterIP by name and short name spread over replicas, NodePort from
the host at `kcube service --url`, headless Services, SRV and PTR, pod records, ExternalName,
hairpin, forwarding to the node's resolver, a Service with no endpoints refusing at once, and
the rules gone after `kcube stop`.

Environment: KCUBE_BIN, KUBECTL. Needs root (the none driver runs the node on the host).
"""
import ipaddress
import json
import os
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.request

import e2e_cluster
from e2e_cluster import wait_for

IMAGE = "localhost/kcube/busybox:1.35"
PROFILE = "e2e-services"
NS = "demo"
# The node's resolver for this test (kubelet.resolv-conf) names a DNS server the test runs.
UPSTREAM_IP = "127.0.0.153"
UPSTREAM_ZONE = "kcube-e2e.test"
UPSTREAM_ANSWER = "192.0.2.45"


class UpstreamDns:
    """A tiny authoritative server for UPSTREAM_ZONE on UPSTREAM_IP:53 (UDP): A queries for any
    name in the zone get UPSTREAM_ANSWER, everything else NXDOMAIN. It counts the queries."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((UPSTREAM_IP, 53))
        self.sock.settimeout(0.2)
        self.queries = []
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            try:
                self.sock.sendto(self.answer(data), peer)
            except Exception:  # a malformed query gets no answer
                pass

    def answer(self, data):
        ident, flags = struct.unpack("!HH", data[:4])
        pos, labels = 12, []
        while data[pos]:
            labels.append(data[pos + 1:pos + 1 + data[pos]].decode())
            pos += 1 + data[pos]
        question = data[12:pos + 5]
        qtype = struct.unpack("!H", data[pos + 1:pos + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        known = name.endswith(UPSTREAM_ZONE)
        answers = b""
        if known and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + \
                socket.inet_aton(UPSTREAM_ANSWER)
        rcode = 0 if known else 3
        header = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1,
                             1 if answers else 0, 0, 0)
        return header + question + answers

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()


def deployment(name, replicas):
    """Busybox httpd on 8080 answering with the pod's hostname, ready when it serves."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "httpd", "image": IMAGE,
                        "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html "
                                    "&& exec httpd -f -p 8080 -h /www"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                           "periodSeconds": 1},
                    }],
                },
            },
        },
    }


def service(name, selector, spec_extra=None, ports=None):
    spec = {"selector": {"app": selector},
            "ports": ports or [{"name": "http", "port": 8080, "targetPort": "http"}]}
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


class ServicesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("SKIPPED LOUDLY: the none driver needs root")
        cls.upstream = UpstreamDns()
        cls.c = e2e_cluster.Cluster(PROFILE)
        resolv = os.path.join(cls.c.tmp, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver %s\n" % UPSTREAM_IP)
        try:
            cls.c.kcube("start", "--driver=none", "--extra-config=kubelet.resolv-conf=" + resolv,
                        timeout=300)
            cls.c.kubectl("create", "namespace", NS)
            cls.apply(deployment("web", 3))
            cls.apply(service("web", "web"))
            cls.apply(service("web-np", "web", {"type": "NodePort"}))
            cls.apply(service("web-headless", "web", {"clusterIP": "None"}))
            cls.apply(service("self", "self"))
            cls.apply(deployment("self", 1))
            cls.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                       "spec": {"type": "ExternalName",
                                "externalName": "app." + UPSTREAM_ZONE}})
            cls.apply(service("db", "db", {"clusterIP": "None"}))
            cls.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                       "spec": {"serviceName": "db", "replicas": 2,
                                "selector": {"matchLabels": {"app": "db"}},
                                "template": deployment("db", 0)["spec"]["template"]}})
            cls.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
                       "spec": {"terminationGracePeriodSeconds": 1,
                                "containers": [{"name": "main", "image": IMAGE,
                                                "command": ["sleep", "3600"]}]}})
            for name in ("deployment/web", "deployment/self", "statefulset/db"):
                cls.c.kubectl("rollout", "status", name, "-n", NS, "--timeout=120s",
                              timeout=150)
            cls.c.kubectl("wait", "pod/client", "-n", NS, "--for=condition=Ready",
                          "--timeout=120s", timeout=150)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.cleanup()
        cls.upstream.stop()

    @classmethod
    def apply(cls, manifest):
        cls.c.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(manifest))

    def in_pod(self, script, pod="client", check=True, timeout=60):
        return self.c.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", script, check=check,
                              timeout=timeout)

    def web_pods(self, app="web"):
        items = self.c.kubectl_json("get", "pods", "-n", NS, "-l", "app=" + app)["items"]
        return {p["metadata"]["name"]: p["status"]["podIP"] for p in items
                if p["status"].get("phase") == "Running" and
                not p["metadata"].get("deletionTimestamp")}

    def cluster_ip(self, name, ns=NS):
        return self.c.kubectl_json("get", "service", name, "-n", ns)["spec"]["clusterIP"]

    # ---- ClusterIP through DNS -------------------------------------------------------------

    def test_1_cluster_ip_by_name_spreads_over_replicas(self):
        pods = self.web_pods()
        self.assertEqual(3, len(pods), pods)
        out = self.in_pod("for i in $(seq 40); do "
                          "wget -qO- http://web.demo.svc.cluster.local:8080 || echo FAILED; done")
        answers = out.stdout.split()
        self.assertNotIn("FAILED", answers, out.stdout + out.stderr)
        self.assertEqual(40, len(answers), out.stdout)
        self.assertEqual(set(pods), set(answers), "requests did not reach every replica")

        # The short name, through the search path the kubelet wrote (ndots:5).
        short = self.in_pod("wget -qO- http://web:8080").stdout.strip()
        self.assertIn(short, pods)
        resolv = self.in_pod("cat /etc/resolv.conf").stdout
        self.assertIn("nameserver 10.96.0.10", resolv)
        self.assertIn("search demo.svc.cluster.local svc.cluster.local cluster.local", resolv)
        self.assertIn("ndots:5", resolv)

    def test_2_node_port_from_the_host(self):
        url = self.c.kcube("service", "web-np", "-n", NS, "--url").stdout.strip()
        node_ip = self.c.kcube("ip").stdout.strip()
        node = self.c.kubectl_json("get", "nodes")["items"][0]
        internal = [a["address"] for a in node["status"]["addresses"]
                    if a["type"] == "InternalIP"]
        self.assertEqual([node_ip], internal)
        node_port = self.c.kubectl_json("get", "service", "web-np", "-n", NS)["spec"]["ports"][0][
            "nodePort"]
        self.assertEqual("http://%s:%d" % (node_ip, node_port), url)
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(200, r.status)
            self.assertIn(r.read().decode().strip(), self.web_pods())
        listing = self.c.kcube("service", "list", "-n", NS).stdout
        self.assertIn(url, listing)
        self.assertIn("No node port", listing)  # web is a ClusterIP Service
        # A ClusterIP Service has no URL for the host: a clear error, exit code 3.
        r = self.c.kcube("service", "web", "-n", NS, "--url", check=False)
        self.assertEqual(3, r.returncode, r.stderr)
        self.assertIn("has no node port", r.stderr)
        # The host reaches ClusterIPs too (the node's own output path).
        with urllib.request.urlopen("http://%s:8080/" % self.cluster_ip("web"), timeout=10) as r:
            self.assertEqual(200, r.status)

    # ---- DNS records ------------------------------------------------------------------------

    def test_3_headless_service_resolves_to_pod_ips(self):
        pods = self.web_pods()
        out = self.in_pod("nslookup web-headless.demo.svc.cluster.local").stdout
        addresses = {line.split()[-1] for line in out.splitlines()
                     if line.startswith("Address") and "#" not in line and ":53" not in line}
        self.assertEqual(set(pods.values()), addresses, out)
        # dig on the host, through the kube-dns ClusterIP.
        dig = subprocess.run(["dig", "+short", "@10.96.0.10", "web-headless.demo.svc.cluster.local"],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(set(pods.values()), set(dig.stdout.split()), dig.stdout + dig.stderr)

    def test_3b_statefulset_pods_by_name(self):
        pods = self.web_pods("db")
        self.assertEqual({"db-0", "db-1"}, set(pods), pods)
        for name, ip in pods.items():
            out = self.in_pod("nslookup %s.db.demo.svc.cluster.local" % name).stdout
            self.assertIn("Address: " + ip, out)
        out = self.in_pod("nslookup %s" % pods["db-0"]).stdout
        self.assertIn("db-0.db.demo.svc.cluster.local", out)

    def test_4_srv_and_ptr(self):
        out = self.in_pod("nslookup -type=srv _http._tcp.web.demo.svc.cluster.local").stdout
        self.assertIn("8080 web.demo.svc.cluster.local", out)
        ip = self.cluster_ip("web")
        out = self.in_pod("nslookup %s" % ip).stdout
        self.assertIn("web.demo.svc.cluster.local", out)
        pod_ip = next(iter(self.web_pods().values()))
        dashed = pod_ip.replace(".", "-")
        out = self.in_pod("nslookup %s.demo.pod.cluster.local" % dashed).stdout
        self.assertIn(pod_ip, out)
        dig = subprocess.run(["dig", "+short", "@10.96.0.10", "-x", pod_ip],
                             capture_output=True, text=True, timeout=20)
        self.assertTrue(dig.stdout.strip().endswith(".cluster.local."), dig.stdout + dig.stderr)
        self.assertEqual(
            ip, subprocess.run(["dig", "+short", "@10.96.0.10", "web.demo.svc.cluster.local"],
                               capture_output=True, text=True, timeout=20).stdout.strip())

    def test_5_forwarding_external_name_and_host_alias(self):
        before = len(self.upstream.queries)
        out = self.in_pod("nslookup app.%s" % UPSTREAM_ZONE).stdout
        self.assertIn(UPSTREAM_ANSWER, out)
        self.assertGreater(len(self.upstream.queries), before, "the upstream was not asked")
        out = self.in_pod("nslookup ext.demo.svc.cluster.local").stdout
        self.assertIn("app.%s" % UPSTREAM_ZONE, out)  # the CNAME
        node_ip = self.c.kcube("ip").stdout.strip()
        out = self.in_pod("nslookup host.kcube.internal").stdout
        self.assertIn(node_ip, out)
        r = self.in_pod("nslookup nothing-here.demo.svc.cluster.local", check=False)
        self.assertIn("NXDOMAIN", r.stdout + r.stderr)

    def test_5b_dns_policies(self):
        self.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "custom-dns"},
                    "spec": {"terminationGracePeriodSeconds": 1, "dnsPolicy": "None",
                             "dnsConfig": {"nameservers": ["10.96.0.10"],
                                           "searches": ["custom.example"],
                                           "options": [{"name": "ndots", "value": "2"}]},
                             "containers": [{"name": "main", "image": IMAGE,
                                             "command": ["sleep", "3600"]}]}})
        self.c.kubectl("wait", "pod/custom-dns", "-n", NS, "--for=condition=Ready",
                       "--timeout=60s", timeout=90)
        resolv = self.in_pod("cat /etc/resolv.conf", pod="custom-dns").stdout
        self.assertIn("nameserver 10.96.0.10", resolv)
        self.assertIn("search custom.example", resolv)
        self.assertIn("ndots:2", resolv)
        self.assertNotIn("svc.cluster.local", resolv)
        out = self.in_pod("nslookup web.demo.svc.cluster.local", pod="custom-dns").stdout
        self.assertIn(self.cluster_ip("web"), out)

    # ---- proxy behaviours ---------------------------------------------------------------

    def test_6_pod_reaches_itself_through_its_service(self):
        pods = self.web_pods("self")
        self.assertEqual(1, len(pods), pods)
        name = next(iter(pods))
        out = self.in_pod("wget -qO- http://self:8080", pod=name)
        self.assertEqual(name, out.stdout.strip())

    def test_6b_service_without_selector(self):
        name, ip = next(iter(self.web_pods().items()))
        # A hand-made EndpointSlice.
        self.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
                    "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
        self.apply({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "manual-1",
                                 "labels": {"kubernetes.io/service-name": "manual"}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
                    "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]})
        out = wait_for(lambda: self.in_pod("wget -qO- http://manual:80", check=False)
                       .stdout.strip(), 30, what="the selectorless Service answering")
        self.assertEqual(name, out)

        # Hand-made Endpoints: mirrored into an EndpointSlice (owned by the Endpoints).
        self.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual-ep"},
                    "spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}})
        self.apply({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual-ep"},
                    "subsets": [{"addresses": [{"ip": ip}],
                                 "ports": [{"name": "web", "port": 8080}]}]})
        out = wait_for(lambda: self.in_pod("wget -qO- http://manual-ep:80", check=False)
                       .stdout.strip(), 30, what="the Service with hand-made Endpoints answering")
        self.assertEqual(name, out)

        def mirrored():
            return self.c.kubectl_json("get", "endpointslices", "-n", NS, "-l",
                                       "kubernetes.io/service-name=manual-ep")["items"]
        slices = mirrored()
        self.assertEqual(1, len(slices), slices)
        labels = slices[0]["metadata"]["labels"]
        self.assertEqual("endpointslicemirroring-controller.k8s.io",
                         labels["endpointslice.kubernetes.io/managed-by"])
        self.assertEqual("Endpoints", slices[0]["metadata"]["ownerReferences"][0]["kind"])
        self.assertEqual([ip], slices[0]["endpoints"][0]["addresses"])
        self.assertEqual([{"name": "web", "port": 8080, "protocol": "TCP"}], slices[0]["ports"])
        # skip-mirror: the mirrored slice goes, and with it the Service's backend.
        self.c.kubectl("label", "endpoints", "manual-ep", "-n", NS,
                       "endpointslice.kubernetes.io/skip-mirror=true")
        wait_for(lambda: not mirrored(), 30, what="the mirrored slice removed")
        # The node's own Services are never mirrored: one slice each, the node's.
        for svc, ns in (("kubernetes", "default"), ("kube-dns", "kube-system")):
            own = self.c.kubectl_json("get", "endpointslices", "-n", ns, "-l",
                                      "kubernetes.io/service-name=" + svc)["items"]
            self.assertEqual(["node.kcube.io"],
                             [s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
                              for s in own])

    def test_7_no_endpoints_refuses_promptly(self):
        ip = self.cluster_ip("web")
        self.c.kubectl("scale", "deployment/web", "-n", NS, "--replicas=0")
        wait_for(lambda: not self.c.kubectl_json("get", "endpointslices", "-n", NS, "-l",
                                                 "kubernetes.io/service-name=web")["items"][0]
                 .get("endpoints"), 60, what="web's endpoints gone")
        started = time.monotonic()
        r = self.in_pod("wget -qO- http://%s:8080 2>&1; echo rc=$?" % ip, check=False)
        elapsed = time.monotonic() - started
        self.assertIn("refused", r.stdout.lower(), r.stdout + r.stderr)
        self.assertLess(elapsed, 5, "the connection was not refused at once")

    def test_8_stop_removes_rules_and_start_restores_them(self):
        def table_exists():
            return subprocess.run(["nft", "list", "table", "ip", "kcube"],
                                  capture_output=True).returncode == 0
        self.assertTrue(table_exists())
        self.c.kcube("stop")
        self.assertFalse(table_exists(), "kcube stop left the nftables table")
        self.c.kcube("start", timeout=300)
        self.c.kubectl("scale", "deployment/web", "-n", NS, "--replicas=1")
        self.c.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=120s",
                       timeout=150)
        self.c.kubectl("wait", "pod/client", "-n", NS, "--for=condition=Ready",
                       "--timeout=120s", timeout=150)
        out = wait_for(lambda: self.in_pod("wget -qO- http://web:8080", check=False).stdout.strip(),
                       60, what="web answering again after a restart")
        self.assertIn(out, self.web_pods())


if __name__ == "__main__":
    unittest.main(verbosity=2)
