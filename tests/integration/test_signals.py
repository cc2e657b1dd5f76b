"""Stopping: SIGTERM exits 0 fast, SIGQUIT lets in-flight requests finish and
closes idle connections; a worker killed from outside is replaced."""

import os
import signal
import time

from harness import CRASH_MARKERS, FreshServerCase, build_request, wait_until


class SignalTests(FreshServerCase):
    def test_sigterm_exits_0_quickly(self):
        server = self.start_server({"server": {"workers": "2"}})
        idle = self.connect(server)
        idle.send(build_request("GET", "/"))
        idle.read_response()
        half = self.connect(server)
        half.send(b"GET / HTTP/1.1\r\nHo")
        took = self.stop_and_check(server, signal.SIGTERM)
        self.assertLess(took, 3, "SIGTERM took %.1fs" % took)
        self.assertTrue(idle.closed_by_peer(2))

    def test_sigterm_with_request_in_flight(self):
        server = self.start_server({"server": {"workers": "1"}})
        conn = self.connect(server)
        conn.send(build_request("GET", "/demo/sleep?ms=5000"))
        # the worker has the request once a later one on another connection is answered
        with server.connect() as probe:
            probe.send(build_request("GET", "/"))
            probe.read_response()
        took = self.stop_and_check(server, signal.SIGTERM)
        self.assertLess(took, 3, "SIGTERM waited for a 5 s request (%.1fs)" % took)

    def test_sigquit_finishes_in_flight_request(self):
        server = self.start_server({"server": {"workers": "1"}})
        conn = self.connect(server)
        started = time.monotonic()
        conn.send(build_request("GET", "/demo/sleep?ms=500"))
        with server.connect() as probe:
            probe.send(build_request("GET", "/"))
            probe.read_response()
        server.send_signal(signal.SIGQUIT)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, "in-flight request after SIGQUIT: %r" % resp)
        self.assertGreaterEqual(time.monotonic() - started, 0.45)
        self.assertEqual(resp.get("Connection", "").lower(), "close",
                         "a stopping server must not promise keep-alive")
        self.assertTrue(conn.closed_by_peer(3))
        self.stop_and_check(server, signal.SIGQUIT)  # already stopping: just wait

    def test_sigquit_closes_idle_keepalive(self):
        server = self.start_server()
        idle = self.connect(server)
        idle.send(build_request("GET", "/"))
        idle.read_response()
        server.send_signal(signal.SIGQUIT)
        self.assertTrue(idle.closed_by_peer(3), "idle keep-alive connection kept after SIGQUIT")
        self.stop_and_check(server, signal.SIGQUIT)

    def test_sigquit_idle_server_exits_0(self):
        server = self.start_server()
        took = self.stop_and_check(server, signal.SIGQUIT)
        self.assertLess(took, 3)

    def test_sigint_exits_0(self):
        server = self.start_server()
        self.stop_and_check(server, signal.SIGINT)

    def test_killed_worker_is_replaced(self):
        server = self.start_server({"server": {"workers": "2"}})
        self.assertTrue(wait_until(lambda: len(server.worker_pids()) == 2, 5))
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(server.worker_pids()) == 2
                                   and victim not in server.worker_pids(), 5),
                        "no new worker: %r" % server.worker_pids())
        for _ in range(10):
            with server.connect() as c:
                c.send(build_request("GET", "/"))
                self.assertEqual(c.read_response().status, 200)
        self.stop_and_check(server)
        # the death was ours; anything else about workers is not
        others = [l for l in server.bad_log_lines(CRASH_MARKERS) if str(victim) not in l]
        self.assertEqual(others, [])
