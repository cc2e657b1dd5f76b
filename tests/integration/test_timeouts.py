"""Timeouts (RFC 9110 15.5.9, RFC 9112 9.5): slow heads get 408, idle
keep-alive and silent connections are closed, stalled bodies get 408."""

import time

from harness import ServerCase, build_request

# every wait below is bounded by the server's 1 s timeouts plus this slack
SLACK = 3.0


class TimeoutTests(ServerCase):
    config = {"http": {"header_timeout": "1s", "keepalive_timeout": "1s",
                       "body_timeout": "1s", "lingering_timeout": "1s"}}

    def test_half_head_gets_408_and_close(self):
        conn = self.connect(timeout=1 + SLACK)
        started = time.monotonic()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        resp = conn.read_response()
        took = time.monotonic() - started
        self.check_common(resp)
        self.assertEqual(resp.status, 408)
        self.assertGreaterEqual(took, 0.8, "408 came before header_timeout")
        self.assertClosed(conn)

    def test_slowloris_head_is_bounded(self):
        # header_timeout is for the whole head: a byte every 200 ms does not extend it
        conn = self.connect(timeout=0.2)
        started = time.monotonic()
        conn.send(b"GET / HTTP/1.1\r\n")
        got = None
        while time.monotonic() - started < 1 + SLACK:
            try:
                conn.send(b"X-Slow: 1\r\n")
            except OSError:
                break
            try:
                got = conn.read_response()
                break
            except TimeoutError:
                continue
            except AssertionError:
                break  # closed
        took = time.monotonic() - started
        self.assertLess(took, 1 + SLACK, "a slow head kept the connection %.1fs" % took)
        if got is not None:
            self.assertEqual(got.status, 408)

    def test_idle_keepalive_closed(self):
        conn = self.connect()
        conn.send(build_request("GET", "/"))
        self.assertEqual(conn.read_response().status, 200)
        started = time.monotonic()
        self.assertClosed(conn, 1 + SLACK)
        self.assertGreaterEqual(time.monotonic() - started, 0.8, "closed before keepalive_timeout")

    def test_silent_connection_closed(self):
        # nothing is sent: header_timeout closes it, no response is needed
        conn = self.connect()
        started = time.monotonic()
        self.assertClosed(conn, 1 + SLACK, "a connection that sends nothing was not closed")
        self.assertGreaterEqual(time.monotonic() - started, 0.8)

    def test_stalled_body_408(self):
        conn = self.connect(timeout=1 + SLACK)
        conn.send(build_request("POST", "/demo/echo", headers=[("Content-Length", "10")],
                                body=b"12345"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 408)
        self.assertClosed(conn)

    def test_keepalive_survives_short_pause(self):
        conn = self.connect()
        conn.send(build_request("GET", "/"))
        conn.read_response()
        self.assertFalse(conn.closed_by_peer(0.3))
        conn.send(build_request("GET", "/"))
        self.assertEqual(conn.read_response().status, 200)


class KeepaliveOffTests(ServerCase):
    config = {"http": {"keepalive_timeout": "0"}}

    def test_keepalive_timeout_0_disables_keepalive(self):
        resp, conn = self.exchange(build_request("GET", "/"))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        self.assertClosed(conn)
