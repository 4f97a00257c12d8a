"""A real `kcube node run` on loopback for integration tests, and real kubectl against it.

Environment: KCUBE_BIN (the kcube binary), KUBECTL (a kubectl binary, 1.32 preferred).
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """Starts the node with the kubelet, proxy and DNS off (unless `disable` says otherwise)."""

    def __init__(self, disable="kubelet,proxy,dns", data_dir=None, port=None, extra_args=None):
        self.bin = os.environ["KCUBE_BIN"]
        self.kubectl_bin = os.environ["KUBECTL"]
        self.disable = disable
        self.tmp = tempfile.mkdtemp(prefix="kcube-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.proc = None
        self.log_path = os.path.join(self.tmp, "node.log")
        self.extra_args = list(extra_args or [])  # more `kcube node run` flags

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "admin.kubeconfig")

    @property
    def pki(self):
        return os.path.join(self.data_dir, "pki")

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "node", "run", "--data-dir", self.data_dir, "--listen-address",
             "127.0.0.1", "--port", str(self.port), "--disable", self.disable]
            + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("node exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            if self.ready():
                return self
            time.sleep(0.02)
        raise RuntimeError("node not ready after %ss:\n%s" % (timeout, self.logs()))

    def ready(self):
        try:
            return self.get_raw("/readyz", auth=False)[0] == 200
        except OSError:
            return False

    def ssl_context(self, auth=True):
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))
        if auth:
            ctx.load_cert_chain(os.path.join(self.pki, "admin.crt"),
                                os.path.join(self.pki, "admin.key"))
        return ctx

    def get_raw(self, path, auth=True, method="GET", body=None, headers=None):
        """(status, body bytes, headers) of a request made with Python's own HTTP client."""
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path),
                                     method=method, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(auth), timeout=10) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def stop(self):
        """SIGTERM and wait: the node must exit cleanly (status 0)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=20)
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.kill()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def kubectl(self, *args, input=None, check=True, timeout=60):
        """Runs kubectl against the node; returns CompletedProcess (text)."""
        cmd = [self.kubectl_bin, "--kubeconfig", self.kubeconfig,
               "--cache-dir", os.path.join(self.tmp, "kubectl-cache")] + list(args)
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\nstdout: %s\nstderr: %s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def api(self, method, path, body=None, content_type="application/json"):
        """(status, parsed JSON) of one API request with the admin certificate."""
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            data = data.encode() if isinstance(data, str) else data
            headers["Content-Type"] = content_type
        status, raw, _ = self.get_raw(path, method=method, body=data, headers=headers)
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def wait_for(self, predicate, timeout=30, interval=0.1, what="condition"):
        """Polls `predicate` until it returns something truthy; returns that, or fails."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out after %ss waiting for %s (last: %r)\nnode log:\n%s"
                             % (timeout, what, last, self.logs()))
