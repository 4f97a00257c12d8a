#!/usr/bin/env python3
"""The none driver and the kubelet on real containerd (issue: kubelet). Needs root. Runs
`kcube start --driver=none` several times and prints the median of each figure as a Markdown
table.

    sudo python3 bench/kubelet.py [--build build/release] [--runs 3] [--pods 10]

Figures:
- cold start: `kcube start --driver=none` on a fresh profile until it returns (the API server
  answers and the Node is Ready; containerd started, images imported);
- warm start: `kcube start` again after `kcube stop` (state and images kept);
- pod create to Running: a Pod of the local test image POSTed, until the API reports it
  Running and Ready (followed with a watch);
- idle RSS with --pods pods running: the node process alone, and containerd plus its shims
  (reported separately), measured after the pods have run for 10 s.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from none_profile import Profile, rss_kib

IMAGE = "localhost/kcube/busybox:1.35"
PROFILE = "bench-kubelet"


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": IMAGE,
                                     "command": ["sleep", "3600"]}]}}


def pod_to_running(profile, name):
    """Seconds from `kubectl create` returning to the pod Running and Ready (kubectl wait
    polls a watch; its own start-up, ~0.1 s, is excluded by timing a no-op first)."""
    start = time.monotonic()
    profile.kubectl("create", "-f", "-", input=json.dumps(pod(name)))
    profile.kubectl("wait", "--for=condition=Ready", "pod/" + name, "--timeout=120s")
    elapsed = time.monotonic() - start
    t0 = time.monotonic()
    profile.kubectl("get", "pod", name, "-o", "name")
    overhead = time.monotonic() - t0  # one kubectl run, which `create` also cost
    return max(0.0, elapsed - 2 * overhead)


def run_once(kcube, kubectl, pods):
    profile = Profile(kcube, kubectl, PROFILE)
    try:
        cold = profile.timed("start", "--driver=none")
        created = pod_to_running(profile, "first")
        profile.kcube("stop")
        warm = profile.timed("start", "--driver=none")
        for i in range(pods - 1):
            profile.kubectl("create", "-f", "-", input=json.dumps(pod("idle-%d" % i)))
        profile.kubectl("wait", "--for=condition=Ready", "pods", "--all", "--timeout=180s")
        time.sleep(10)
        node = profile.node_pid()
        node_rss = rss_kib(node) if node else 0
        runtime_rss = sum(rss_kib(p) for p in profile.runtime_pids())
        return {"cold": cold, "warm": warm, "pod": created, "node_rss": node_rss / 1024.0,
                "runtime_rss": runtime_rss / 1024.0}
    finally:
        profile.delete()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pods", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/kubelet.py needs root (the none driver runs the node on the host)")
    kcube = os.path.abspath(os.path.join(args.build, "kcube"))
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl") or \
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
    results = [run_once(kcube, kubectl, args.pods) for _ in range(args.runs)]

    def median(key):
        return statistics.median(r[key] for r in results)
    print("| figure | median of %d | target |" % args.runs)
    print("|---|---|---|")
    print("| `kcube start --driver=none`, cold (fresh profile) to node Ready | %.2f s | < 2 s |"
          % median("cold"))
    print("| `kcube start --driver=none`, warm (after `kcube stop`) to node Ready | %.2f s | "
          "< 1 s |" % median("warm"))
    print("| pod create to Running and Ready (local image) | %.2f s | < 1 s |" % median("pod"))
    print("| node process RSS, %d pods running | %.0f MiB | < 40 MiB |" %
          (args.pods, median("node_rss")))
    print("| containerd + shims RSS, %d pods running (not counted above) | %.0f MiB | — |" %
          (args.pods, median("runtime_rss")))


if __name__ == "__main__":
    main()
