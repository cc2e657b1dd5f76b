"""Behind a load balancer: the health URL ([health] path) answers 200 while
serving and 503 once the service drains; a graceful stop first serves on for
[server] drain_delay (health failing, Connection: close on every response),
then closes the listening sockets, in the master and in every worker, after
taking what the kernel already queued, so a new client is refused (safe for a
balancer to retry), never reset; in-flight requests finish. [server] term =
graceful makes TERM do the same; a reload is not a drain."""

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import FreshServerCase, build_request, forkd_bin, wait_until

HEALTH = {"health": {"path": "/healthz"}}


def with_health(server=None, health=None):
    cfg = {"health": dict(HEALTH["health"], **(health or {}))}
    if server:
        cfg["server"] = server
    return cfg


class DrainTests(FreshServerCase):
    def get(self, server, target, conn=None, method="GET"):
        """One request on conn (or a new connection): the response."""
        own = conn is None
        conn = conn or self.connect(server)
        conn.send(build_request(method, target))
        resp = conn.read_response(method)
        if own:
            conn.close()
        return resp

    def connect_error(self, server):
        """None if a connection opens, else the errno of the failed connect."""
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", server.port))
            return None
        except OSError as e:
            return e.errno
        finally:
            s.close()

    def start_in_flight(self, server, ms):
        """A /demo/sleep request of ms that a worker holds (answered later)."""
        conn = self.connect(server)
        conn.send(build_request("GET", "/demo/sleep?ms=%d" % ms))
        # the worker has read it once a later request on another connection is answered
        self.get(server, "/")
        return conn

    def test_health_ok_no_store_not_logged(self):
        server = self.start_server(with_health())
        resp = self.get(server, "/healthz")
        self.assertEqual((resp.status, resp.body), (200, b"ok\n"))
        self.assertEqual(resp.get("Cache-Control"), "no-store")
        self.assertEqual(self.get(server, "/healthz", method="HEAD").status, 200)
        self.assertEqual(self.get(server, "/").status, 200)
        self.stop_and_check(server, signal.SIGQUIT)
        lines = server.access_lines()
        self.assertTrue(any(b'"GET / ' in l for l in lines), lines)
        self.assertFalse(any(b"/healthz" in l for l in lines), lines)

    def test_health_logged_when_asked(self):
        server = self.start_server(with_health(health={"log": "yes"}))
        self.assertEqual(self.get(server, "/healthz").status, 200)
        self.stop_and_check(server, signal.SIGQUIT)
        self.assertTrue(any(b'"GET /healthz ' in l for l in server.access_lines()))

    def test_drain_delay_then_refused_in_flight_completes(self):
        server = self.start_server(with_health({"drain_delay": "1500ms"}))
        keepalive = self.connect(server)
        self.assertEqual(self.get(server, "/", keepalive).status, 200)
        slow = self.start_in_flight(server, 2500)
        server.send_signal(signal.SIGQUIT)
        t0 = time.monotonic()

        def health_fails():
            return self.get(server, "/healthz").status == 503 or None

        self.assertTrue(wait_until(health_fails, 1), "health URL still 200 after QUIT")
        resp = self.get(server, "/healthz")
        self.assertEqual((resp.status, resp.body), (503, b"draining\n"))
        self.assertEqual(resp.get("Cache-Control"), "no-store")
        # still serving new clients, each response closing its connection
        fresh = self.connect(server)
        resp = self.get(server, "/", fresh)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        self.assertTrue(fresh.closed_by_peer(2))
        # an idle keep-alive connection is left open, and its next answer closes it
        resp = self.get(server, "/", keepalive)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        self.assertTrue(keepalive.closed_by_peer(2))
        self.assertLess(time.monotonic() - t0, 1.3, "the checks above outlasted drain_delay")

        def refused():
            return self.connect_error(server) == errno.ECONNREFUSED or None

        self.assertTrue(wait_until(refused, 3), "new connections not refused after drain_delay")
        self.assertGreaterEqual(time.monotonic() - t0, 1.4, "refused before drain_delay ended")
        resp = slow.read_response()
        self.assertEqual(resp.status, 200, "the in-flight request was cut")
        self.stop_and_check(server, signal.SIGQUIT)
        self.assertIn("draining", server.log_text())

    def test_connection_opened_in_drain_delay_is_served(self):
        """A client that connects during drain_delay and sends its request only after the
        listening sockets closed (a proxy between its connect and its write) is answered,
        never reset: accepts stop being deferred (TCP_DEFER_ACCEPT) when the drain begins,
        so its connection is in the accept queue, where the drain takes it."""
        server = self.start_server(with_health({"drain_delay": "1s", "workers": "1"}))
        server.send_signal(signal.SIGQUIT)
        self.assertTrue(wait_until(lambda: self.get(server, "/healthz").status == 503 or None, 1))
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.addCleanup(s.close)

        def refused():
            return self.connect_error(server) == errno.ECONNREFUSED or None

        self.assertTrue(wait_until(refused, 3), "new connections not refused after drain_delay")
        s.sendall(build_request("GET", "/"))
        data = b""
        while True:
            got = s.recv(65536)  # a reset raises here
            if not got:
                break
            data += got
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        self.stop_and_check(server, signal.SIGQUIT)

    def test_status_says_draining(self):
        """/status (JSON and metrics) says when the service drains, as the health URL does."""
        import json
        cfg = with_health({"drain_delay": "2s"})
        cfg["status"] = {"path": "/status"}
        server = self.start_server(cfg)

        def status():
            return json.loads(self.get(server, "/status?json").body)
        st = status()
        self.assertEqual((st["draining"], st["drain"]), (False, "serving"))
        self.assertIn(b"forkd_draining 0\n", self.get(server, "/status/metrics").body)
        server.send_signal(signal.SIGQUIT)
        self.assertTrue(wait_until(lambda: self.get(server, "/healthz").status == 503 or None, 1))
        st = status()
        self.assertEqual((st["draining"], st["drain"]), (True, "drain_delay"))
        self.assertIn(b"forkd_draining 1\n", self.get(server, "/status/metrics").body)
        self.stop_and_check(server, signal.SIGQUIT)

    def test_worker_dying_during_drain_delay_is_replaced_draining(self):
        server = self.start_server(with_health({"drain_delay": "2s"}))
        server.send_signal(signal.SIGQUIT)
        self.assertTrue(wait_until(lambda: self.get(server, "/healthz").status == 503 or None, 1))
        before = set(server.worker_pids())
        victim = sorted(before)[0]
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(set(server.worker_pids()) - before) == 1 or None,
                                   1), "no replacement during drain_delay")
        # the replacement drains too: the health URL fails wherever the check lands
        statuses = {self.get(server, "/healthz").status for _ in range(30)}
        self.assertEqual(statuses, {503})
        self.stop_and_check(server, signal.SIGQUIT)

    def test_queued_connections_served_not_reset(self):
        # one worker, busy on its loop when the master closes its sockets: the connections
        # the kernel completed meanwhile are answered when it comes back, none reset, and
        # then the port refuses (no copy of the socket is left listening)
        server = self.start_server(with_health({"workers": "1", "drain_delay": "300ms"}))
        busy = self.connect(server)
        server.send_signal(signal.SIGQUIT)
        time.sleep(0.1)
        busy.send(build_request("GET", "/demo/work?ms=1500"))
        time.sleep(0.5)  # the master closed its sockets at 0.3 s; the worker is still busy
        queued = [self.connect(server) for _ in range(5)]
        for conn in queued:
            conn.send(build_request("GET", "/"))
        for i, conn in enumerate(queued):
            resp = conn.read_response()
            self.assertEqual(resp.status, 200, "queued connection %d" % i)
        self.assertEqual(busy.read_response().status, 200)
        refused = lambda: self.connect_error(server) == errno.ECONNREFUSED or None  # noqa: E731
        self.assertTrue(wait_until(refused, 2), "the port still accepts after the drain")
        self.stop_and_check(server, signal.SIGQUIT)

    def test_reuse_port_every_workers_socket_closes(self):
        # one SO_REUSEPORT socket per worker slot: all of them stop listening
        server = self.start_server(with_health({"workers": "3", "reuse_port": "yes",
                                                "drain_delay": "300ms"}))
        slow = self.start_in_flight(server, 1000)
        server.send_signal(signal.SIGQUIT)
        self.assertTrue(wait_until(lambda: self.get(server, "/healthz").status == 503 or None,
                                   0.25), "health URL still 200 during drain_delay")

        def refused_every_time():
            return all(self.connect_error(server) == errno.ECONNREFUSED
                       for _ in range(20)) or None

        self.assertTrue(wait_until(refused_every_time, 2), "a worker's socket still listens")
        self.assertEqual(slow.read_response().status, 200)
        self.stop_and_check(server, signal.SIGQUIT)

    def test_quit_without_drain_delay_refuses_at_once(self):
        server = self.start_server(with_health())
        slow = self.start_in_flight(server, 1000)
        server.send_signal(signal.SIGQUIT)

        def refused():
            return self.connect_error(server) == errno.ECONNREFUSED or None

        self.assertTrue(wait_until(refused, 0.8), "still accepting with a request in flight")
        self.assertEqual(slow.read_response().status, 200)
        self.stop_and_check(server, signal.SIGQUIT)

    def test_term_fast_by_default(self):
        server = self.start_server(with_health({"drain_delay": "3s"}))
        self.start_in_flight(server, 5000)
        took = self.stop_and_check(server, signal.SIGTERM)
        self.assertLess(took, 2, "TERM (term = fast) waited %.1fs" % took)

    def test_term_graceful_drains(self):
        server = self.start_server(with_health({"drain_delay": "600ms", "term": "graceful"}))
        slow = self.start_in_flight(server, 1500)
        server.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        self.assertTrue(wait_until(lambda: self.get(server, "/healthz").status == 503 or None, 1))
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(slow.read_response().status, 200, "TERM (term = graceful) cut it")
        self.assertGreaterEqual(time.monotonic() - t0, 1.3)
        self.assertEqual(self.connect_error(server), errno.ECONNREFUSED)
        self.stop_and_check(server, signal.SIGQUIT)

    def test_sigint_stays_fast_with_term_graceful(self):
        server = self.start_server(with_health({"drain_delay": "3s", "term": "graceful"}))
        self.start_in_flight(server, 5000)
        took = self.stop_and_check(server, signal.SIGINT)
        self.assertLess(took, 2, "SIGINT waited %.1fs" % took)

    def test_reload_is_not_a_drain(self):
        server = self.start_server(with_health({"drain_delay": "2s"}))
        old = set(server.worker_pids())
        server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: not (old & set(server.worker_pids())) or None, 5),
                        "the old generation did not exit")
        for _ in range(10):
            self.assertEqual(self.get(server, "/healthz").status, 200)
        self.assertIsNone(self.connect_error(server))
        self.stop_and_check(server, signal.SIGTERM)


class DrainConfigTests(unittest.TestCase):
    """forkd -t refuses a bad value of each key with FILE:LINE."""

    GOOD = "[static]\nroot = %s\n"

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="forkd-drain-cfg-")
        self.addCleanup(shutil.rmtree, self.tmpdir, True)

    def check(self, extra):
        path = os.path.join(self.tmpdir, "forkd.ini")
        with open(path, "w") as f:
            f.write(self.GOOD % self.tmpdir + extra)
        p = subprocess.run([forkd_bin(), "-t", "-c", path], capture_output=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        return path, p.returncode, p.stderr.decode("utf-8", "replace")

    def test_good_values(self):
        for extra in ("[server]\ndrain_delay = 5s\nterm = graceful\n[health]\npath = /healthz\n",
                      "[server]\ndrain_delay = 0\nterm = fast\n[health]\nlog = yes\n"):
            path, rc, err = self.check(extra)
            self.assertEqual(rc, 0, "%r: %s" % (extra, err))

    def test_refused_with_line(self):
        cases = [
            ("[health]\npath = healthz\n", 4),
            ("[health]\nlog = sometimes\n", 4),
            ("[server]\nterm = slow\n", 4),
            ("[server]\ndrain_delay = 5 parsecs\n", 4),
            ("[server]\ndrain_delay = 2h\n", 4),
        ]
        for extra, line in cases:
            path, rc, err = self.check(extra)
            self.assertEqual(rc, 1, "%r accepted" % extra)
            self.assertIn("%s:%d: " % (path, line), err, "%r: %s" % (extra, err))
