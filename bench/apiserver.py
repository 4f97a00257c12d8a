#!/usr/bin/env python3
"""API server benchmarks (issue: in-tree API server). Runs a real `kcube node run` on loopback
several times and prints the median of each figure as a Markdown table.

    python3 bench/apiserver.py [--build build/release] [--runs 5]

Figures: launch to /readyz ok; idle RSS; GET of one object over keep-alive (p50, p99); LIST of
500 ConfigMaps of ~1 KiB; `kubectl apply` of 500 objects in one file; 100 watchers receiving 1000
updates. Build first: cmake --preset release && cmake --build --preset release
"""
import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readyz(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
    except (OSError, ssl.SSLError):
        return False


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def config_map_manifest(n):
    """n ConfigMaps of ~1 KiB as a multi-document YAML stream. (A `kind: List` file needs
    OpenAPI v2 for kubectl's client-side validation, which the node does not serve yet.)"""
    doc = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n  namespace: bench\n"
           "  labels: {bench: \"yes\"}\ndata:\n  index: \"%d\"\n  payload: " + "x" * 900 + "\n")
    return "---\n".join(doc % (i, i) for i in range(n))


def one_run(build, kubectl, run_index):
    tmp = tempfile.mkdtemp(prefix="kcube-bench-")
    data = os.path.join(tmp, "data")
    port = free_port()
    # The PKI is made on first run; a warm start (the figure users see on every start after
    # the first) reuses it, so make it once before timing.
    kcube = os.path.join(build, "kcube")
    args = [kcube, "node", "run", "--data-dir", data, "--listen-address", "127.0.0.1",
            "--port", str(port), "--disable", "kubelet,proxy,dns,controllers,scheduler"]
    ca = os.path.join(data, "pki", "ca.crt")
    result = {}
    for phase in ("cold", "warm"):
        start = time.monotonic()
        node = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (os.path.exists(ca) and readyz(port, ca)):
            if node.poll() is not None:
                raise SystemExit("node exited early")
            time.sleep(0.002)
        result["ready_%s_ms" % phase] = (time.monotonic() - start) * 1000
        if phase == "cold":
            node.send_signal(signal.SIGTERM)
            node.wait()
    try:
        time.sleep(2)
        result["idle_rss_mib"] = rss_kib(node.pid) / 1024
        env = dict(os.environ, KUBECONFIG=os.path.join(data, "admin.kubeconfig"))
        k = [kubectl, "--cache-dir", os.path.join(tmp, "cache")]
        subprocess.run(k + ["create", "namespace", "bench"], env=env, check=True,
                       capture_output=True)
        pki = os.path.join(data, "pki")
        tool = os.path.join(build, "kcube_http_bench")
        get = json.loads(subprocess.run(
            [tool, "--port", str(port), "--pki", pki, "get", "/api/v1/namespaces/default", "3000"],
            check=True, capture_output=True, text=True).stdout)
        result["get_p50_ms"] = get["p50_ms"]
        result["get_p99_ms"] = get["p99_ms"]
        manifest = os.path.join(tmp, "configmaps.yaml")
        with open(manifest, "w") as f:
            f.write(config_map_manifest(500))
        start = time.monotonic()
        subprocess.run(k + ["apply", "-f", manifest], env=env, check=True, capture_output=True)
        result["apply_500_s"] = time.monotonic() - start
        listing = json.loads(subprocess.run(
            [tool, "--port", str(port), "--pki", pki, "get", "/api/v1/namespaces/bench/configmaps",
             "200"], check=True, capture_output=True, text=True).stdout)
        result["list_500_p50_ms"] = listing["p50_ms"]
        result["list_500_bytes"] = listing["bytes"]
        watch = json.loads(subprocess.run(
            [tool, "--port", str(port), "--pki", pki, "watchers",
             "/api/v1/namespaces/default/configmaps", "100", "1000"],
            check=True, capture_output=True, text=True).stdout)
        result["watch_100x1000_s"] = watch["all_delivered_s"]
        result["rss_after_load_mib"] = rss_kib(node.pid) / 1024
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print("run %d: %s" % (run_index, json.dumps({k: round(v, 3) for k, v in result.items()})),
          file=sys.stderr)
    return result


ROWS = [
    ("Launch to /readyz ok, first start (creates PKI)", "ready_cold_ms", "ms", "", ""),
    ("Launch to /readyz ok, later starts", "ready_warm_ms", "ms", "< 300 ms", "6.4 s"),
    ("Idle RSS", "idle_rss_mib", "MiB", "< 30 MiB", "≈ 400 MiB (apiserver + etcd)"),
    ("GET one object, keep-alive, p50", "get_p50_ms", "ms", "< 0.3 ms", "1.4 ms"),
    ("GET one object, keep-alive, p99", "get_p99_ms", "ms", "", ""),
    ("LIST 500 ConfigMaps of ~1 KiB, p50", "list_500_p50_ms", "ms", "< 8 ms", "27 ms"),
    ("`kubectl apply` of 500 ConfigMaps in one file", "apply_500_s", "s", "", ""),
    ("100 watchers receive 1000 updates (all delivered)", "watch_100x1000_s", "s", "", ""),
    ("RSS after the runs above", "rss_after_load_mib", "MiB", "", ""),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kubectl", default=shutil.which("kubectl.1.32") or
                        "/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
    args = parser.parse_args()
    runs = [one_run(args.build, args.kubectl, i + 1) for i in range(args.runs)]
    print("| measure (median of %d runs) | kcube | target | upstream here |" % args.runs)
    print("|---|---|---|---|")
    for label, key, unit, target, upstream in ROWS:
        value = statistics.median(r[key] for r in runs)
        print("| %s | %.3g %s | %s | %s |" % (label, value, unit, target, upstream))


if __name__ == "__main__":
    main()
