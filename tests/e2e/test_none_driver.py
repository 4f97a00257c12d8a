"""The none driver's life cycle on this host, with real kubectl: `kcube start --driver=none`,
status (text, -o json, exit codes), stop (state kept), start again (objects kept), logs,
kubectl, images, and `kcube delete` leaving nothing behind: no process, mount, network
namespace, interface or iptables/nftables rule of the cluster, no profile directory, no
kubeconfig entry.

Environment: KCUBE_BIN, KUBECTL. Needs root (the none driver runs the node on the host); its
own KCUBE_HOME and KUBECONFIG under a temporary directory.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

PROFILE = "e2e-none"
CRASH_PROFILE = "e2e-none-crash"
POD = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: localhost/kcube/busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
    ports: [{containerPort: 8080, hostPort: 18099}]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes: [{name: scratch, emptyDir: {medium: Memory}}]
"""
BRIDGE = "kcube0"
NETWORK_MARK = 'name: \\"kcube\\"'  # the CNI plugins' iptables comments, as iptables-save quotes


def loud(message):
    bar = "!" * 78
    sys.stderr.write("\n%s\n!! %s\n%s\n" % (bar, message, bar))
    sys.stderr.flush()


def processes():
    """pid -> argv of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv:
            out[int(name)] = argv
    return out


def mounts_under(path):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return found


def iptables_save():
    texts = []
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            texts.append(subprocess.run([tool], capture_output=True, text=True).stdout)
    return "\n".join(texts)


def cni_chains(saved):
    return {line.split()[0][1:] for line in saved.splitlines()
            if line.startswith(":CNI-")}


class NoneDriverLifeCycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("the none driver needs root")
        cls.bin = os.environ["KCUBE_BIN"]
        cls.kubectl_bin = os.environ["KUBECTL"]
        cls.tmp = tempfile.mkdtemp(prefix="kcube-e2e-none-")
        # `kcube kubectl` finds kubectl on PATH.
        bin_dir = os.path.join(cls.tmp, "bin")
        os.makedirs(bin_dir)
        os.symlink(cls.kubectl_bin, os.path.join(bin_dir, "kubectl"))
        cls.home = os.path.join(cls.tmp, "home")
        cls.kubeconfig = os.path.join(cls.tmp, "kubeconfig")
        cls.env = dict(os.environ, KCUBE_HOME=cls.home, KUBECONFIG=cls.kubeconfig,
                       PATH=bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        cls.chains_before = cni_chains(iptables_save())

    def setUp(self):
        self.use_profile(PROFILE)

    def use_profile(self, profile):
        self.profile = profile
        self.profile_dir = os.path.join(self.home, "profiles", profile)
        self.data_dir = os.path.join(self.profile_dir, "node")

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "tmp"):
            for profile in (PROFILE, CRASH_PROFILE):
                subprocess.run([cls.bin, "-p", profile, "delete"], env=cls.env,
                               capture_output=True, timeout=300)
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def kcube(self, *args, check=True, timeout=240):
        result = subprocess.run([self.bin, "-p", self.profile] + list(args), env=self.env,
                                capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError("kcube %s failed (%d):\nstdout: %s\nstderr: %s\nnode log:\n%s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr, self.node_log()))
        return result

    def kubectl(self, *args, check=True, timeout=60, input=None):
        result = subprocess.run([self.kubectl_bin, "--context", self.profile] + list(args),
                                env=self.env, input=input, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\n%s" % (
                " ".join(args), result.returncode, result.stderr))
        return result

    def node_log(self):
        try:
            with open(os.path.join(self.profile_dir, "logs", "node.log"), errors="replace") as f:
                return "".join(f.readlines()[-40:])
        except OSError:
            return "(no node.log)"

    def status(self):
        result = self.kcube("status", "-o", "json", check=False)
        return result.returncode, json.loads(result.stdout)

    def node_ready(self):
        nodes = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        for node in nodes:
            for condition in node.get("status", {}).get("conditions", []):
                if condition["type"] == "Ready" and condition["status"] == "True":
                    return node["metadata"]["name"]
        return None

    def node_pid(self):
        with open(os.path.join(self.profile_dir, "machine.json")) as f:
            return json.load(f)["pid"]

    def test_life_cycle(self):
        # ---- start ----------------------------------------------------------------------
        started = time.time()
        result = self.kcube("start", "--driver=none")
        sys.stderr.write("kcube start --driver=none took %.2f s\n" % (time.time() - started))
        for step in ("Starting node", "Waiting for the API server", "Waiting for node to be Ready",
                     "Configuring kubectl context",
                     'Done! kubectl is now configured to use "%s"' % PROFILE):
            self.assertIn(step, result.stderr)
        code, st = self.status()
        self.assertEqual(st, {"Name": PROFILE, "Host": "Running", "Kubelet": "Running",
                              "APIServer": "Running", "Kubeconfig": "Configured",
                              "Worker": False})
        self.assertEqual(code, 0)
        self.assertTrue(self.node_ready(), "no Ready node after start")
        text = self.kcube("status", check=False)
        self.assertIn("host: Running\n", text.stdout)
        self.assertIn("apiserver: Running\n", text.stdout)
        self.assertIn("kubeconfig: Configured\n", text.stdout)

        # The kubeconfig names the profile and kubectl is switched to it.
        current = subprocess.run([self.kubectl_bin, "config", "current-context"], env=self.env,
                                 capture_output=True, text=True).stdout.strip()
        self.assertEqual(current, self.profile)
        self.kubectl("create", "configmap", "kept", "--from-literal=k=v")

        # Starting a running cluster only refreshes the context.
        pid = self.node_pid()
        again = self.kcube("start")
        self.assertIn("already running", again.stderr)
        self.assertEqual(self.node_pid(), pid)

        # logs, kubectl
        self.assertTrue(self.kcube("logs", "-n", "5").stdout.strip())
        via = self.kcube("kubectl", "--", "get", "configmap", "kept", "-o",
                         "jsonpath={.data.k}")
        self.assertEqual(via.stdout, "v")

        self.images()

        # ---- stop -------------------------------------------------------------------------
        result = self.kcube("stop")
        self.assertIn('Stopping node "%s"' % PROFILE, result.stderr)
        self.assertIn("1 node stopped.", result.stderr)
        self.assertNotIn(pid, processes())
        code, st = self.status()
        self.assertEqual(code, 7)
        self.assertEqual([st["Host"], st["Kubelet"], st["APIServer"], st["Kubeconfig"]],
                         ["Stopped"] * 4)
        self.assertNotEqual(self.kubectl("get", "ns", check=False, timeout=20).returncode, 0)
        self.assertTrue(os.path.isdir(self.data_dir), "stop must keep the node's state")

        # ---- start again: the same objects --------------------------------------------------
        self.kcube("start")
        self.assertEqual(self.kubectl("get", "configmap", "kept", "-o",
                                      "jsonpath={.data.k}").stdout, "v")
        code, st = self.status()
        self.assertEqual((code, st["Host"], st["Kubelet"]), (0, "Running", "Running"))
        self.assertTrue(self.node_ready())

        # ---- delete leaves nothing ----------------------------------------------------------
        self.delete_leaves_nothing()

    def delete_leaves_nothing(self):
        data_dir = os.path.realpath(self.data_dir)
        sandboxes = set()
        for where in ("root", "state"):
            path = os.path.join(data_dir, "containerd", where, "io.containerd.grpc.v1.cri",
                                "sandboxes")
            if os.path.isdir(path):
                sandboxes.update(os.listdir(path))
        result = self.kcube("delete")
        self.assertIn('Removed all traces of the "%s" cluster.' % self.profile, result.stderr)
        left = {p: argv for p, argv in processes().items()
                if any(data_dir in a or self.data_dir in a for a in argv)}
        self.assertEqual(left, {}, "processes of the deleted cluster are still running")
        self.assertEqual(mounts_under(data_dir), [], "mounts (volumes, rootfs, netns) are left")
        self.assertFalse(os.path.exists(self.profile_dir), "the profile directory is still there")
        if not self.other_node_running():
            self.assertFalse(os.path.exists("/sys/class/net/" + BRIDGE),
                             "bridge %s is left" % BRIDGE)
            saved = iptables_save()
            self.assertNotIn(NETWORK_MARK, saved)
            self.assertEqual(cni_chains(saved) - self.chains_before, set(),
                             "CNI chains added by the cluster are left:\n" + saved)
            if shutil.which("nft"):
                ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True,
                                         text=True).stdout
                self.assertNotIn('"kcube"', ruleset)
                self.assertNotIn("table ip kcube", ruleset, "the service proxy's table is left")
        else:
            loud("another kcube node runs on this host: only this cluster's own rules are "
                 "checked, the shared bridge and chains may stay")
        saved = iptables_save()
        for sandbox in sandboxes:
            self.assertNotIn(sandbox, saved, "iptables rules of pod sandbox %s are left" % sandbox)
        cache = "/var/lib/cni/results"
        if os.path.isdir(cache):
            stale = [f for f in os.listdir(cache) if any(s in f for s in sandboxes)]
            self.assertEqual(stale, [], "libcni cache entries of the cluster are left")
        with open(self.kubeconfig) as f:
            kubeconfig = f.read()
        self.assertNotIn("name: " + self.profile + "\n", kubeconfig)
        gone = self.kcube("status", check=False)
        self.assertEqual(gone.returncode, 85, gone.stderr)
        # And again: nothing to do, still success.
        self.kcube("delete")

    def other_node_running(self):
        mine = os.path.realpath(self.data_dir)
        for argv in processes().values():
            if "node" in argv and "run" in argv and not any(mine in a for a in argv):
                return True
        return False

    def test_delete_after_crash(self):
        """A node that died (SIGKILL) leaves its containers, shims, mounts, network namespace,
        veth and iptables rules behind; delete removes them all."""
        self.use_profile(CRASH_PROFILE)
        self.kcube("start", "--driver=none")
        self.kubectl("apply", "-f", "-", input=POD)
        deadline = time.time() + 60
        while time.time() < deadline:
            phase = self.kubectl("get", "pod", "web", "-o", "jsonpath={.status.phase}").stdout
            if phase == "Running":
                break
            time.sleep(0.25)
        self.assertEqual(phase, "Running", self.node_log())
        os.kill(self.node_pid(), 9)
        time.sleep(1)
        data_dir = os.path.realpath(self.data_dir)
        shims = [p for p, argv in processes().items()
                 if "containerd-shim" in argv[0] and any(data_dir in a for a in argv)]
        self.assertTrue(shims, "expected the pod's shim to outlive the killed node")
        self.assertTrue(mounts_under(data_dir), "expected the pod's mounts to be left")
        if shutil.which("nft"):
            listed = subprocess.run(["nft", "list", "table", "ip", "kcube"], capture_output=True)
            self.assertEqual(0, listed.returncode, "expected the proxy's table to be left")
        code, st = self.status()
        self.assertEqual((code, st["Host"]), (7, "Stopped"))
        self.delete_leaves_nothing()

    def images(self):
        """image ls / rm / load (tarball and OCI layout directory) through the node's
        containerd."""
        listed = json.loads(self.kcube("image", "ls", "-o", "json").stdout)
        tags = [t for image in listed for t in image["repoTags"]]
        self.assertTrue(any("pause" in t for t in tags), tags)
        tarball = os.path.join(os.path.dirname(os.path.realpath(self.bin)), "images",
                               "busybox.tar")
        if not os.path.exists(tarball):
            loud("no %s: skipping image load" % tarball)
            return
        name = next((t for t in tags if "busybox" in t), None)
        if name:
            self.kcube("image", "rm", name)
            self.assertNotIn(name, self.kcube("image", "ls").stdout.split())
        result = self.kcube("image", "load", tarball)
        loaded = [line.split("Loaded image ", 1)[1] for line in result.stderr.splitlines()
                  if "Loaded image " in line]
        self.assertTrue(loaded, result.stderr)
        self.assertIn(loaded[0], self.kcube("image", "ls").stdout.split())
        # The same image as an OCI layout directory.
        self.kcube("image", "rm", loaded[0])
        layout = os.path.join(self.tmp, "layout")
        with tarfile.open(tarball) as t:
            t.extractall(layout)
        result = self.kcube("image", "load", layout)
        self.assertIn("Loaded image " + loaded[0], result.stderr)
        missing = self.kcube("image", "rm", "no-such-image:1", check=False)
        self.assertEqual(missing.returncode, 3, missing.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
