"""SIGKILL the node during a stream of creates; after a restart nothing acknowledged is lost,
revisions stay monotonic, and a watch resumed from a seen revision gets each later event once."""
import http.client
import json
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from node_fixture import Node  # noqa: E402


class Client:
    """HTTPS keep-alive client with the node's admin certificate."""

    def __init__(self, node):
        self.conn = http.client.HTTPSConnection("127.0.0.1", node.port,
                                                context=node.ssl_context(), timeout=10)

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                          headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")


class CrashSafety(unittest.TestCase):
    def test_sigkill_during_creates_loses_nothing_acknowledged(self):
        node = Node(disable="kubelet,proxy,dns,controllers,scheduler").start()
        try:
            acknowledged = []  # (name, resourceVersion) in acknowledgement order
            stop = threading.Event()

            def create_forever():
                client = Client(node)
                i = 0
                while not stop.is_set():
                    name = "cm-%05d" % i
                    try:
                        status, body = client.request(
                            "POST", "/api/v1/namespaces/default/configmaps",
                            {"metadata": {"name": name}, "data": {"i": str(i)}})
                    except (OSError, http.client.HTTPException):
                        client.conn.close()
                        return  # the node was killed mid-request: not acknowledged
                    if status == 201:
                        acknowledged.append((name, int(body["metadata"]["resourceVersion"])))
                    i += 1

            writer = threading.Thread(target=create_forever)
            writer.start()
            while len(acknowledged) < 150:
                time.sleep(0.01)
            node.kill(signal.SIGKILL)
            stop.set()
            writer.join(timeout=20)
            self.assertGreaterEqual(len(acknowledged), 150)

            node.start()
            revisions = [rv for _, rv in acknowledged]
            self.assertEqual(revisions, sorted(revisions), "revisions must increase")
            self.assertEqual(len(set(revisions)), len(revisions))
            client = Client(node)
            for name, rv in acknowledged:
                status, body = client.request("GET", "/api/v1/namespaces/default/configmaps/" + name)
                self.assertEqual(status, 200, name + " was acknowledged but is gone")
                self.assertEqual(int(body["metadata"]["resourceVersion"]), rv)

            # A new write gets a revision above everything before the crash.
            status, body = client.request("POST", "/api/v1/namespaces/default/configmaps",
                                          {"metadata": {"name": "after-restart"}})
            self.assertEqual(status, 201)
            self.assertGreater(int(body["metadata"]["resourceVersion"]), revisions[-1])

            # A watch resumed from a revision seen before the crash replays each later event
            # exactly once.
            resume_from = revisions[len(revisions) // 2]
            expected = {name for name, rv in acknowledged if rv > resume_from}
            conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=node.ssl_context(),
                                               timeout=10)
            conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=2"
                                "&resourceVersion=%d" % resume_from)
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            seen = []
            lines = response.read().decode().splitlines()
            conn.close()
            for line in lines:
                event = json.loads(line)
                self.assertEqual(event["type"], "ADDED")
                seen.append(event["object"]["metadata"]["name"])
            self.assertEqual(len(seen), len(set(seen)), "an event was delivered twice")
            self.assertTrue(expected.issubset(set(seen)),
                            "missing events: %s" % sorted(expected - set(seen))[:5])
            self.assertIn("after-restart", seen)
            client.conn.close()
            self.assertEqual(node.stop(), 0)
        finally:
            node.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
