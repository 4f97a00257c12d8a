#!/usr/bin/env python3
"""Scheduler and controller benchmarks (issue: scheduler and controllers). Runs a real
`kcube node run` with the kubelet off several times and prints the median of each figure as a
Markdown table.

    python3 bench/controllers.py [--build build/release] [--runs 3] [--idle-seconds 30]

Figures:
- a 100-replica Deployment: from its creation until all 100 pods exist and are bound to the
  node (a Node object is registered; no kubelet, so the pods never run);
- controller CPU at idle: 50 Deployments (1 replica each, pods marked Ready by a stand-in
  kubelet that then stops), the node process's CPU time over --idle-seconds, as % of one core
  (/proc/PID/stat, 10 ms ticks), and its RSS then.
Build first: cmake --preset release && cmake --build --preset release
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from fake_kubelet import FakeKubelet  # noqa: E402
from node_fixture import Node  # noqa: E402


def deployment(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}}


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def time_to_bound(node, namespace, replicas):
    """Seconds from POSTing a Deployment to `replicas` pods bound, followed with a watch."""
    conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=node.ssl_context(),
                                       timeout=120)
    conn.request("GET", "/api/v1/namespaces/%s/pods?watch=1" % namespace)
    stream = conn.getresponse()
    start = time.monotonic()
    status, body = node.api("POST", "/apis/apps/v1/namespaces/%s/deployments" % namespace,
                            deployment("big", replicas))
    assert status == 201, body
    bound = set()
    while len(bound) < replicas:
        line = stream.readline()
        if not line:
            raise SystemExit("pod watch ended early")
        event = json.loads(line)
        pod = event["object"]
        if event["type"] != "DELETED" and pod.get("spec", {}).get("nodeName"):
            bound.add(pod["metadata"]["name"])
    elapsed = time.monotonic() - start
    conn.close()
    return elapsed


def one_run(run_index, idle_seconds):
    node = Node(disable="kubelet,proxy,dns").start()
    result = {}
    try:
        FakeKubelet(node, name="bench-node", policy=lambda pod: None).register()
        node.kubectl("create", "namespace", "bench")
        result["deploy_100_bound_s"] = time_to_bound(node, "bench", 100)

        node.kubectl("create", "namespace", "idle")
        kubelet = FakeKubelet(node, name="idle-node").start()
        for i in range(50):
            status, body = node.api("POST", "/apis/apps/v1/namespaces/idle/deployments",
                                    deployment("app-%02d" % i, 1))
            assert status == 201, body

        def all_available():
            listing = node.kubectl_json("get", "deployments", "-n", "idle")["items"]
            return len(listing) == 50 and all(
                d.get("status", {}).get("availableReplicas") == 1 for d in listing)
        node.wait_for(all_available, timeout=120, interval=0.5, what="50 deployments available")
        kubelet.stop()
        time.sleep(2)  # let the last status writes settle
        before = cpu_seconds(node.proc.pid)
        time.sleep(idle_seconds)
        result["idle_cpu_percent"] = (cpu_seconds(node.proc.pid) - before) / idle_seconds * 100
        result["rss_50_deployments_mib"] = rss_kib(node.proc.pid) / 1024
    finally:
        node.cleanup()
    print("run %d: %s" % (run_index, json.dumps({k: round(v, 3) for k, v in result.items()})),
          file=sys.stderr)
    return result


ROWS = [
    ("100-replica Deployment: created to all pods bound (kubelet off)", "deploy_100_bound_s", "s",
     "", ""),
    ("Controller CPU at idle, 50 Deployments", "idle_cpu_percent", "% of a core", "< 1 %", ""),
    ("Node RSS with those 50 Deployments and 150 pods", "rss_50_deployments_mib", "MiB", "", ""),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--kubectl", default=shutil.which("kubectl.1.32") or
                        "/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
    args = parser.parse_args()
    os.environ["KCUBE_BIN"] = os.path.abspath(os.path.join(args.build, "kcube"))
    os.environ["KUBECTL"] = args.kubectl
    runs = [one_run(i + 1, args.idle_seconds) for i in range(args.runs)]
    print("| measure (median of %d runs) | kcube | target |" % args.runs)
    print("|---|---|---|")
    for label, key, unit, target, _ in ROWS:
        value = statistics.median(r[key] for r in runs)
        print("| %s | %.2f %s | %s |" % (label, value, unit, target))


if __name__ == "__main__":
    main()
