"""What the none-driver benchmarks share: a profile of their own, driven through the real kcube
and kubectl, and reading processes' memory from /proc."""
import os
import shutil
import subprocess
import tempfile
import time


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes():
    """(pid, argv) of every process."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv:
            out.append((int(entry), argv))
    return out


class Profile:
    """A none-driver profile in a KCUBE_HOME and KUBECONFIG of its own (a temp dir)."""

    def __init__(self, kcube, kubectl, name):
        self.name = name
        self.kcube_bin = kcube
        self.kubectl_bin = kubectl
        self.tmp = tempfile.mkdtemp(prefix="kcube-bench-")
        self.env = dict(os.environ, KCUBE_HOME=os.path.join(self.tmp, "home"),
                        KUBECONFIG=os.path.join(self.tmp, "kubeconfig"))

    def kcube(self, *args):
        subprocess.run([self.kcube_bin, "-p", self.name] + list(args), env=self.env, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=600)

    def kubectl(self, *args, input=None):
        result = subprocess.run([self.kubectl_bin, "--context", self.name] + list(args),
                                env=self.env, input=input, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise SystemExit("kubectl %s failed: %s" % (" ".join(args), result.stderr))
        return result.stdout

    def timed(self, *args):
        start = time.monotonic()
        self.kcube(*args)
        return time.monotonic() - start

    def data_dir(self):
        return os.path.join(self.tmp, "home", "profiles", self.name, "node")

    def node_pid(self):
        data = self.data_dir()
        for pid, argv in processes():
            if "node" in argv and "run" in argv and data in argv:
                return pid
        return None

    def runtime_pids(self):
        data = self.data_dir()
        return [pid for pid, argv in processes()
                if any(data in a for a in argv) and
                os.path.basename(argv[0]).startswith("containerd")]

    def delete(self):
        subprocess.run([self.kcube_bin, "-p", self.name, "delete"], env=self.env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        shutil.rmtree(self.tmp, ignore_errors=True)
