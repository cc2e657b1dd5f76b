"""test_exhaustion: closing without destroying answers (issue 11).

A connection the server closes while the client still has requests on the wire must end
with a lingering close (FIN, drain, close), never a reset: a reset destroys the answers the
client has not read yet.
"""

import os
import signal

from harness import FreshServerCase, ServerCase, build_request

SMALL = b"ok\n"
GET = build_request("GET", "/t.txt")
# more than a worker reads at once (max_header_size + 1 KiB): the rest stays in the socket
PIPELINE_TAIL = GET * 500


def read_all_then_eof(test, conn, want, label):
    """Read `want` responses (all 200, only the last with Connection: close), then a clean
    EOF. A reset anywhere fails: it is what destroys answers in flight."""
    got = 0
    try:
        for i in range(want):
            resp = conn.read_response()
            test.assertEqual((resp.status, resp.body), (200, SMALL), "%s: response %d" % (label, i))
            test.assertEqual(resp.get("Connection", "").lower(),
                             "close" if i == want - 1 else "keep-alive",
                             "%s: response %d" % (label, i))
            got += 1
        rest = conn.read_until_close()
    except (ConnectionResetError, AssertionError) as e:
        if isinstance(e, ConnectionResetError):
            test.fail("%s: connection reset after %d of %d responses" % (label, got, want))
        raise
    test.assertEqual(rest, b"", "%s: bytes after the last response" % label)


class TestLingeringClose(ServerCase):
    config = {"server": {"workers": "1"}, "http": {"keepalive_requests": "1000"}}

    @classmethod
    def make_docroot(cls, root):
        super().make_docroot(root)
        with open(os.path.join(root, "t.txt"), "wb") as f:
            f.write(SMALL)

    def test_close_with_requests_still_unread_lingers(self):
        # (case, bytes sent in one go before reading, responses the client must get)
        table = [
            ("keepalive_requests reached with 1,200 pipelined", GET * 1200, 1000),
            ("HTTP/1.0 without keep-alive, more pipelined",
             build_request("GET", "/t.txt", version="HTTP/1.0") + PIPELINE_TAIL, 1),
            ("Connection: close, more pipelined",
             build_request("GET", "/t.txt", headers=[("Connection", "close")]) + PIPELINE_TAIL, 1),
            ("HTTP/1.0 keep-alive up to keepalive_requests",
             build_request("GET", "/t.txt", version="HTTP/1.0",
                           headers=[("Connection", "keep-alive")]) * 1100, 1000),
        ]
        for label, data, want in table:
            with self.subTest(label):
                conn = self.connect(timeout=10)
                conn.send(data)
                read_all_then_eof(self, conn, want, label)
                conn.close()


class TestLingeringCloseOnStop(FreshServerCase):
    def test_graceful_stop_with_pipelined_requests_behind(self):
        server = self.start_server({"server": {"workers": "1"}},
                                   files={"index.html": b"<p>i</p>\n", "t.txt": SMALL})
        conn = self.connect(server, timeout=10)
        # in flight when QUIT comes; more requests behind it, unread by the worker
        conn.send(build_request("GET", "/demo/sleep?ms=700") + PIPELINE_TAIL)
        with server.connect() as probe:  # the worker has the request once this is answered
            probe.send(build_request("GET", "/t.txt"))
            probe.read_response()
        server.send_signal(signal.SIGQUIT)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        try:
            rest = conn.read_until_close()
        except ConnectionResetError:
            self.fail("graceful stop reset a connection with pipelined requests behind")
        self.assertEqual(rest, b"", "a request after the last one was answered")
        conn.close()
        self.stop_and_check(server, signal.SIGQUIT)
