#!/usr/bin/env python3
"""Service networking and cluster DNS (issue: services). Needs root. Prints the median of
each figure as a Markdown table.

    sudo python3 bench/services.py [--build build/release] [--runs 3] [--dns-seconds 10]

Figures:
- time to app serving: from `kcube start --driver=none` on a fresh profile to an HTTP 200 from
  a freshly created Deployment (the local busybox httpd image) through its Service, found by
  name through the cluster DNS: the host asks 10.96.0.10 for web.default.svc.cluster.local
  (dig, a real resolver client) and GETs the answer's port 8080 (through the service proxy),
  polling both every 50 ms until the 200. minikube's published figure for the same flow is
  ~50 s, kind ~33 s, k3d ~20 s;
- DNS queries per second: dnsperf (a real resolver client, UDP) against 10.96.0.10 with a mix
  of Service A, headless A, SRV, PTR and NXDOMAIN names for --dns-seconds, 20 clients.
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

from none_profile import Profile

IMAGE = "localhost/kcube/busybox:1.35"
PROFILE = "bench-services"

WEB = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "httpd", "image": IMAGE,
                                                    "command": ["httpd", "-f", "-p", "8080",
                                                                "-h", "/"],
                                                    "readinessProbe": {
                                                        "tcpSocket": {"port": 8080},
                                                        "periodSeconds": 1}}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]}},
]


def resolve(name):
    out = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "@10.96.0.10", name],
                         capture_output=True, text=True, timeout=10).stdout.split()
    return out[0] if out and re.match(r"^\d+\.\d+\.\d+\.\d+$", out[0]) else None


def serving(name):
    ip = resolve(name)
    if not ip:
        return False
    try:
        with urllib.request.urlopen("http://%s:8080/" % ip, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def time_to_serving(kcube, kubectl):
    profile = Profile(kcube, kubectl, PROFILE)
    try:
        start = time.monotonic()
        profile.kcube("start", "--driver=none")
        profile.kubectl("apply", "-f", "-",
                        input="".join("---\n" + json.dumps(o) + "\n" for o in WEB))
        deadline = start + 120
        while not serving("web.default.svc.cluster.local"):
            if time.monotonic() > deadline:
                raise SystemExit("the app did not serve within 120 s")
            time.sleep(0.05)
        return time.monotonic() - start
    finally:
        profile.delete()


def dns_qps(kcube, kubectl, seconds, runs):
    profile = Profile(kcube, kubectl, PROFILE)
    try:
        profile.kcube("start", "--driver=none")
        headless = dict(WEB[1], metadata={"name": "web-headless"},
                        spec=dict(WEB[1]["spec"], clusterIP="None"))
        profile.kubectl("apply", "-f", "-",
                        input="".join("---\n" + json.dumps(o) + "\n" for o in WEB + [headless]))
        profile.kubectl("rollout", "status", "deployment/web", "--timeout=120s")
        ip = json.loads(profile.kubectl("get", "service", "web", "-o", "json"))["spec"]["clusterIP"]
        reverse = ipaddress.ip_address(ip).reverse_pointer
        queries = os.path.join(profile.tmp, "queries.txt")
        with open(queries, "w") as f:
            f.write("web.default.svc.cluster.local A\n"
                    "kubernetes.default.svc.cluster.local A\n"
                    "web-headless.default.svc.cluster.local A\n"
                    "_http._tcp.web.default.svc.cluster.local SRV\n"
                    "%s PTR\n"
                    "missing.default.svc.cluster.local A\n" % reverse)
        results = []
        for _ in range(runs):
            out = subprocess.run(["dnsperf", "-s", "10.96.0.10", "-d", queries, "-l",
                                  str(seconds), "-c", "20", "-q", "200"],
                                 capture_output=True, text=True, timeout=seconds + 60).stdout
            qps = re.search(r"Queries per second:\s+([\d.]+)", out)
            lost = re.search(r"Queries lost:\s+(\d+)", out)
            if not qps:
                raise SystemExit("dnsperf said:\n" + out)
            results.append((float(qps.group(1)), int(lost.group(1)) if lost else -1))
        return results
    finally:
        profile.delete()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dns-seconds", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/services.py needs root (the none driver runs the node on the host)")
    for tool in ("dig", "dnsperf"):
        if not shutil.which(tool):
            sys.exit("bench/services.py needs %s (apt-get install bind9-dnsutils dnsperf)" % tool)
    kcube = os.path.abspath(os.path.join(args.build, "kcube"))
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl") or \
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
    serving_times = [time_to_serving(kcube, kubectl) for _ in range(args.runs)]
    dns = dns_qps(kcube, kubectl, args.dns_seconds, args.runs)
    print("| figure | median of %d | target |" % args.runs)
    print("|---|---|---|")
    print("| time to app serving: `kcube start --driver=none` (fresh) to HTTP 200 from a new "
          "Deployment through its Service and DNS | %.2f s | < 5 s (minikube ~50 s, kind ~33 s, "
          "k3d ~20 s) |" % statistics.median(serving_times))
    print("| cluster DNS, dnsperf (UDP, 20 clients, %d s, mixed A/SRV/PTR/NXDOMAIN) | %.0f "
          "queries/s (lost: %d) | — |" % (args.dns_seconds,
                                          statistics.median(q for q, _ in dns),
                                          max(lost for _, lost in dns)))


if __name__ == "__main__":
    main()
