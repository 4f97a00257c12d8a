"""Jobs and CronJobs with real kubectl against `kcube node run` (kubelet off): a fake kubelet
decides how each pod ends, from its labels (outcome: succeed | fail | run, delay: seconds)."""
import calendar
import datetime
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from fake_kubelet import FakeKubelet, finished, running_ready  # noqa: E402
from node_fixture import Node  # noqa: E402

NS = "default"


class Outcomes:
    """The fake kubelet's policy: what happens to a pod is written in its labels."""

    def __init__(self):
        self.first_seen = {}

    def __call__(self, pod):
        labels = pod["metadata"].get("labels", {})
        uid = pod["metadata"]["uid"]
        seen = self.first_seen.setdefault(uid, time.time())
        if time.time() - seen < float(labels.get("delay", "0")):
            return None
        outcome = labels.get("outcome", "succeed")
        if outcome == "run":
            return running_ready(pod)
        return finished(pod, succeeded=outcome == "succeed")


def job_manifest(name, outcome="succeed", delay=0, **spec):
    body = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": {"outcome": outcome, "delay": str(delay)}},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "main", "image": "busybox:1.36",
                                         "command": ["sh", "-c", "true"]}]},
            },
        },
    }
    body["spec"].update(spec)
    return json.dumps(body)


def cronjob_manifest(name, schedule, outcome="succeed", **spec):
    job = json.loads(job_manifest("x", outcome))
    body = {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": job["spec"]}},
    }
    body["spec"].update(spec)
    return json.dumps(body)


class JobTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.kubelet = FakeKubelet(cls.node, policy=Outcomes()).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.node.cleanup()

    # --- helpers -----------------------------------------------------------------------------

    def apply(self, manifest):
        self.node.kubectl("apply", "-f", "-", input=manifest)

    def get(self, kind, name):
        status, body = self.node.api("GET", "/apis/batch/v1/namespaces/%s/%s/%s" % (NS, kind, name))
        return body if status == 200 else None

    def pods_of(self, job):
        selector = urllib.parse.quote("batch.kubernetes.io/job-name=%s" % job)
        status, body = self.node.api("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s"
                                     % (NS, selector))
        self.assertEqual(status, 200, body)
        return body["items"]

    def condition(self, job, kind):
        for c in (job or {}).get("status", {}).get("conditions", []):
            if c["type"] == kind and c["status"] == "True":
                return c
        return None

    def events_for(self, name):
        listing = self.node.kubectl_json("get", "events", "-n", NS,
                                         "--field-selector", "involvedObject.name=%s" % name)
        return [(e["type"], e["reason"], e["message"], e.get("source", {}).get("component"))
                for e in listing["items"]]

    def wait_event(self, name, reason, timeout=30):
        return self.node.wait_for(
            lambda: [e for e in self.events_for(name) if e[1] == reason], timeout=timeout,
            interval=0.5, what="%s event for %s" % (reason, name))

    # --- Jobs --------------------------------------------------------------------------------

    def test_completions_with_parallelism(self):
        self.apply(job_manifest("para", delay=1.5, completions=3, parallelism=2))
        most_active = 0
        done = threading.Event()

        def sample():
            nonlocal most_active
            while not done.is_set():
                running = [p for p in self.pods_of("para")
                           if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
                           and not p["metadata"].get("deletionTimestamp")]
                most_active = max(most_active, len(running))
                job = self.get("jobs", "para")
                most_active = max(most_active, (job or {}).get("status", {}).get("active", 0))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            waited = self.node.kubectl("wait", "--for=condition=complete", "job/para",
                                       "--timeout=90s", timeout=120)
        finally:
            done.set()
            sampler.join()
        self.assertIn("condition met", waited.stdout)
        self.assertEqual(most_active, 2, "parallelism 2 must run two pods at once, never more")

        job = self.get("jobs", "para")
        status = job["status"]
        self.assertEqual(status["succeeded"], 3)
        self.assertNotIn("active", status)
        self.assertEqual(status["ready"], 0)
        self.assertEqual(status["terminating"], 0)
        self.assertEqual(status["uncountedTerminatedPods"], {})
        self.assertIn("startTime", status)
        self.assertIn("completionTime", status)
        self.assertIsNotNone(self.condition(job, "SuccessCriteriaMet"))
        self.assertIsNotNone(self.condition(job, "Complete"))

        pods = self.pods_of("para")
        self.assertEqual(len(pods), 3)
        uid = job["metadata"]["uid"]
        for pod in pods:
            meta = pod["metadata"]
            self.assertTrue(meta["name"].startswith("para-"))
            self.assertEqual(meta["labels"]["job-name"], "para")
            self.assertEqual(meta["labels"]["controller-uid"], uid)
            self.assertEqual(meta["labels"]["batch.kubernetes.io/controller-uid"], uid)
            ref = meta["ownerReferences"][0]
            self.assertEqual((ref["kind"], ref["name"], ref["uid"], ref["controller"]),
                             ("Job", "para", uid, True))
            # Counted, so the tracking finalizer is gone.
            self.assertNotIn("batch.kubernetes.io/job-tracking", meta.get("finalizers", []))
            self.assertEqual(pod["status"]["phase"], "Succeeded")

        table = self.node.kubectl("get", "job", "para").stdout.splitlines()
        self.assertEqual(table[0].split()[:4], ["NAME", "STATUS", "COMPLETIONS", "DURATION"])
        self.assertEqual(table[1].split()[:3], ["para", "Complete", "3/3"])

        events = self.events_for("para")
        created = [e for e in events if e[1] == "SuccessfulCreate"]
        self.assertEqual(len(created), 3, events)
        for e in created:
            self.assertEqual(e[0], "Normal")
            self.assertTrue(e[2].startswith("Created pod: para-"), e)
            self.assertEqual(e[3], "job-controller")
        self.assertIn(("Normal", "Completed", "Job completed", "job-controller"), events)

    def test_backoff_limit(self):
        self.apply(job_manifest("failing", outcome="fail", backoffLimit=1))
        job = self.node.wait_for(
            lambda: self.condition(self.get("jobs", "failing"), "Failed")
            and self.get("jobs", "failing"), timeout=90, interval=0.5, what="Failed condition")
        failed = self.condition(job, "Failed")
        self.assertEqual(failed["reason"], "BackoffLimitExceeded")
        self.assertEqual(failed["message"], "Job has reached the specified backoff limit")
        target = self.condition(job, "FailureTarget")
        self.assertEqual(target["reason"], "BackoffLimitExceeded")
        self.assertEqual(job["status"]["failed"], 2)
        self.assertNotIn("succeeded", job["status"])
        self.assertNotIn("completionTime", job["status"])

        # The replacement came only after the 10 s back-off.
        pods = sorted(self.pods_of("failing"), key=lambda p: p["metadata"]["creationTimestamp"])
        self.assertEqual(len(pods), 2)
        created = [time.mktime(time.strptime(p["metadata"]["creationTimestamp"],
                                             "%Y-%m-%dT%H:%M:%SZ")) for p in pods]
        self.assertGreaterEqual(created[1] - created[0], 9)

        events = self.wait_event("failing", "BackoffLimitExceeded")
        self.assertEqual(events[0][:3], ("Warning", "BackoffLimitExceeded",
                                         "Job has reached the specified backoff limit"))
        table = self.node.kubectl("get", "job", "failing").stdout.splitlines()
        self.assertEqual(table[1].split()[:3], ["failing", "Failed", "0/1"])

    def test_active_deadline(self):
        self.apply(job_manifest("slow", outcome="run", parallelism=2, completions=4,
                                activeDeadlineSeconds=4))
        self.node.wait_for(lambda: len(self.pods_of("slow")) == 2, timeout=30,
                           what="two running pods")
        job = self.node.wait_for(
            lambda: self.condition(self.get("jobs", "slow"), "Failed")
            and self.get("jobs", "slow"), timeout=60, interval=0.5, what="deadline")
        failed = self.condition(job, "Failed")
        self.assertEqual(failed["reason"], "DeadlineExceeded")
        self.assertEqual(failed["message"], "Job was active longer than specified deadline")
        # Its running pods were stopped (and, being deleted, count as failed).
        self.node.wait_for(lambda: not self.pods_of("slow"), timeout=30, what="pods deleted")
        self.assertEqual(job["status"].get("failed"), 2)
        self.assertNotIn("active", job["status"])
        events = self.wait_event("slow", "DeadlineExceeded")
        self.assertEqual(events[0][0], "Warning")
        deleted = [e for e in self.events_for("slow") if e[1] == "SuccessfulDelete"]
        self.assertEqual(len(deleted), 2)

    def test_ttl_after_finished(self):
        self.apply(job_manifest("shortlived", ttlSecondsAfterFinished=3))
        self.node.kubectl("wait", "--for=condition=complete", "job/shortlived", "--timeout=60s",
                          timeout=90)
        finished_at = time.time()
        self.assertIsNotNone(self.get("jobs", "shortlived"))
        self.node.wait_for(lambda: self.get("jobs", "shortlived") is None, timeout=30,
                           what="the Job deleted after its TTL")
        self.assertGreaterEqual(time.time() - finished_at, 1.5)

    def test_suspend_and_resume(self):
        self.apply(job_manifest("paused", outcome="run", parallelism=2, completions=2,
                                suspend=True))
        job = self.node.wait_for(
            lambda: self.condition(self.get("jobs", "paused"), "Suspended")
            and self.get("jobs", "paused"), timeout=30, what="Suspended condition")
        self.assertEqual(self.condition(job, "Suspended")["reason"], "JobSuspended")
        self.assertEqual(self.pods_of("paused"), [])
        self.assertNotIn("startTime", job["status"])

        self.node.kubectl("patch", "job", "paused", "--type=merge", "-p",
                          '{"spec":{"suspend":false}}')
        self.node.wait_for(lambda: self.get("jobs", "paused")["status"].get("ready") == 2,
                           timeout=30, what="two ready pods after resuming")
        job = self.get("jobs", "paused")
        resumed = [c for c in job["status"]["conditions"] if c["type"] == "Suspended"][0]
        self.assertEqual((resumed["status"], resumed["reason"]), ("False", "JobResumed"))
        self.assertIn("startTime", job["status"])

        self.node.kubectl("patch", "job", "paused", "--type=merge", "-p",
                          '{"spec":{"suspend":true}}')
        self.node.wait_for(lambda: not self.pods_of("paused"), timeout=30,
                           what="pods deleted when suspended again")
        job = self.node.wait_for(
            lambda: self.condition(self.get("jobs", "paused"), "Suspended")
            and self.get("jobs", "paused"), timeout=30, what="Suspended again")
        self.assertNotIn("active", job["status"])
        reasons = [e[1] for e in self.events_for("paused")]
        for reason in ("Suspended", "Resumed", "SuccessfulCreate", "SuccessfulDelete"):
            self.assertIn(reason, reasons)

    def test_indexed_completion(self):
        self.apply(job_manifest("indexed", completions=3, parallelism=3,
                                completionMode="Indexed"))
        self.node.kubectl("wait", "--for=condition=complete", "job/indexed", "--timeout=60s",
                          timeout=90)
        job = self.get("jobs", "indexed")
        self.assertEqual(job["status"]["completedIndexes"], "0-2")
        self.assertEqual(job["status"]["succeeded"], 3)
        indexes = set()
        for pod in self.pods_of("indexed"):
            meta = pod["metadata"]
            index = meta["annotations"]["batch.kubernetes.io/job-completion-index"]
            self.assertEqual(meta["labels"]["batch.kubernetes.io/job-completion-index"], index)
            self.assertTrue(meta["name"].startswith("indexed-%s-" % index), meta["name"])
            self.assertEqual(pod["spec"]["hostname"], "indexed-%s" % index)
            env = pod["spec"]["containers"][0]["env"]
            self.assertEqual(env[0]["name"], "JOB_COMPLETION_INDEX")
            indexes.add(index)
        self.assertEqual(indexes, {"0", "1", "2"})

    # --- CronJobs ----------------------------------------------------------------------------

    def test_cronjobs(self):
        """One pass over two minute boundaries covers several CronJobs at once."""
        self.apply(cronjob_manifest("every-minute", "* * * * *", successfulJobsHistoryLimit=1))
        self.apply(cronjob_manifest("forbidden", "*/1 * * * *", outcome="run",
                                    concurrencyPolicy="Forbid"))
        self.apply(cronjob_manifest("sleeper", "* * * * *", suspend=True))
        self.apply(cronjob_manifest("zoned", "* * * * *", timeZone="Etc/GMT-2"))
        self.apply(cronjob_manifest("replacer", "* * * * *", outcome="run",
                                    concurrencyPolicy="Replace"))

        def jobs_of(cronjob):
            listing = self.node.kubectl_json("get", "jobs", "-n", NS)
            return [j for j in listing["items"]
                    if any(r["kind"] == "CronJob" and r["name"] == cronjob
                           for r in j["metadata"].get("ownerReferences", []))]

        first = self.node.wait_for(lambda: jobs_of("every-minute"), timeout=75, interval=0.5,
                                   what="a Job from the CronJob")[0]
        cronjob = self.get("cronjobs", "every-minute")
        scheduled = cronjob["status"]["lastScheduleTime"]
        epoch = calendar.timegm(time.strptime(scheduled, "%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(epoch % 60, 0)
        self.assertEqual(first["metadata"]["name"], "every-minute-%d" % (epoch // 60))
        self.assertEqual(
            first["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
            scheduled)
        ref = first["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["name"], ref["controller"]), ("every-minute", True))
        created = self.wait_event("every-minute", "SuccessfulCreate")
        self.assertEqual(created[0][:3], ("Normal", "SuccessfulCreate",
                                          "Created job %s" % first["metadata"]["name"]))
        self.assertEqual(created[0][3], "cronjob-controller")

        # It completes: no longer active, and lastSuccessfulTime is set.
        done = self.node.wait_for(
            lambda: (lambda c: "lastSuccessfulTime" in c["status"] and not c["status"].get("active")
                     and c)(self.get("cronjobs", "every-minute")),
            timeout=60, interval=0.5, what="lastSuccessfulTime")
        self.assertTrue(done["status"]["lastSuccessfulTime"] >= scheduled)
        self.wait_event("every-minute", "SawCompletedJob")

        # The Forbid CronJob's Job never ends; it is in status.active.
        running = self.node.wait_for(lambda: jobs_of("forbidden"), timeout=75, interval=0.5,
                                     what="the Forbid CronJob's first Job")[0]
        active = self.get("cronjobs", "forbidden")["status"]["active"]
        self.assertEqual([(a["kind"], a["name"], a["uid"]) for a in active],
                         [("Job", running["metadata"]["name"], running["metadata"]["uid"])])

        # Next minute: a second Job for the first CronJob, whose history limit of 1 deletes the
        # older one; the Forbid one declines to start another.
        self.node.wait_for(
            lambda: [e for e in self.events_for("every-minute") if e[1] == "SuccessfulDelete"],
            timeout=90, interval=0.5, what="history limit cleanup")
        deleted = [e for e in self.events_for("every-minute") if e[1] == "SuccessfulDelete"]
        self.assertEqual(deleted[0][2], "Deleted job %s" % first["metadata"]["name"])
        self.node.wait_for(lambda: [j["metadata"]["name"] for j in jobs_of("every-minute")]
                           != [first["metadata"]["name"]] and len(jobs_of("every-minute")) == 1,
                           timeout=30, what="only the newest Job kept")
        self.wait_event("forbidden", "JobAlreadyActive", timeout=60)
        self.assertEqual(len(jobs_of("forbidden")), 1)

        # Replace: the still-running Job of the first minute made way for the next one.
        replaced = self.wait_event("replacer", "SuccessfulDelete", timeout=30)
        old_name = replaced[0][2][len("Deleted job "):]
        newest = self.node.wait_for(
            lambda: [j for j in jobs_of("replacer") if j["metadata"]["name"] != old_name],
            timeout=30, what="the replacing Job")[0]
        active = self.get("cronjobs", "replacer")["status"]["active"]
        self.assertEqual([a["name"] for a in active], [newest["metadata"]["name"]])
        self.assertGreater(newest["metadata"]["name"], old_name)

        # spec.timeZone: the scheduled-timestamp annotation is written in that zone.
        zoned = self.node.wait_for(lambda: jobs_of("zoned"), timeout=30, interval=0.5,
                                   what="the zoned CronJob's Job")[0]
        stamp = zoned["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        self.assertTrue(stamp.endswith("+02:00"), stamp)
        minutes = int(zoned["metadata"]["name"].rsplit("-", 1)[1])
        self.assertEqual(datetime.datetime.fromisoformat(stamp).timestamp(), minutes * 60)

        # Suspended all along: nothing scheduled.
        self.assertEqual(jobs_of("sleeper"), [])
        self.assertNotIn("lastScheduleTime", self.get("cronjobs", "sleeper").get("status", {}))

        table = self.node.kubectl("get", "cronjob", "forbidden").stdout.splitlines()
        self.assertEqual(table[1].split()[:9],
                         ["forbidden", "*/1", "*", "*", "*", "*", "<none>", "False", "1"])

    def test_invalid_schedule_and_time_zone(self):
        """Upstream's API rejects both; if it lets them through, the controller says why."""
        result = self.node.kubectl("apply", "-f", "-",
                                   input=cronjob_manifest("broken", "61 * * * *"), check=False)
        if result.returncode != 0:
            self.assertIn("61", result.stderr)
        else:
            events = self.wait_event("broken", "UnparseableSchedule")
            self.assertEqual(events[0][:3], ("Warning", "UnparseableSchedule",
                                             'unparseable schedule: "61 * * * *" : '
                                             'end of range (61) above maximum (59): 61'))
        result = self.node.kubectl(
            "apply", "-f", "-", check=False,
            input=cronjob_manifest("martian", "* * * * *", timeZone="Mars/Olympus_Mons"))
        if result.returncode != 0:
            self.assertIn("Mars/Olympus_Mons", result.stderr)
        else:
            events = self.wait_event("martian", "UnknownTimeZone")
            self.assertEqual(events[0][:3], ("Warning", "UnknownTimeZone",
                                             'invalid timeZone: "Mars/Olympus_Mons": '
                                             'unknown time zone Mars/Olympus_Mons'))


if __name__ == "__main__":
    unittest.main(verbosity=2)
