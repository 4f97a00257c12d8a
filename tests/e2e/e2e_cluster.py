"""What the e2e tests share: a cluster profile driven through the real kcube and kubectl
binaries (KCUBE_BIN, KUBECTL), and waiting for conditions."""
import json
import os
import shutil
import subprocess
import tempfile
import time


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One profile in a KCUBE_HOME and KUBECONFIG of its own (so tests never touch the user's)."""

    def __init__(self, profile):
        self.profile = profile
        self.bin = os.environ["KCUBE_BIN"]
        self.kubectl_bin = os.environ["KUBECTL"]
        self.tmp = tempfile.mkdtemp(prefix="kcube-%s-" % profile)
        self.env = dict(os.environ, KCUBE_HOME=os.path.join(self.tmp, "home"),
                        KUBECONFIG=os.path.join(self.tmp, "kubeconfig"))

    def kcube(self, *args, check=True, timeout=180):
        result = subprocess.run([self.bin, "-p", self.profile] + list(args), env=self.env,
                                capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError("kcube %s failed (%d):\n%s\n%s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def kubectl_cmd(self, *args):
        return [self.kubectl_bin, "--context", self.profile,
                "--cache-dir", os.path.join(self.tmp, "kubectl-cache")] + list(args)

    def kubectl(self, *args, input=None, check=True, timeout=90):
        result = subprocess.run(self.kubectl_cmd(*args), env=self.env, input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\nstdout: %s\nstderr: %s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def node_log(self):
        return self.kcube("logs", "-n", "80", check=False).stdout

    def cleanup(self):
        self.kcube("delete", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_for(predicate, timeout=60, interval=0.25, what="condition", diagnose=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    extra = diagnose() if diagnose else ""
    raise AssertionError("timed out after %ss waiting for %s (last: %r)\n%s" % (
        timeout, what, last, extra))


def container_status(pod, name=None):
    statuses = pod.get("status", {}).get("containerStatuses", [])
    for s in statuses:
        if name is None or s["name"] == name:
            return s
    return {}
