"""test_exhaustion: closing without destroying answers, and a worker out of memory (issue 11).

A connection the server closes while the client still has requests on the wire must end
with a lingering close (FIN, drain, close), never a reset: a reset destroys the answers the
client has not read yet. A worker that cannot allocate for new connections stops taking
clients (its sibling takes them, none is reset) and says so at most once a second.
"""

import json
import os
import re
import resource
import signal
import socket
import time

from harness import FreshServerCase, ServerCase, build_request, wait_until

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


def status_workers(server):
    with server.connect() as c:
        c.send(build_request("GET", "/status"))
        return json.loads(c.read_response().body)["workers"]


def vm_data_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmData for pid %d" % pid)


NOMEM_LINE = re.compile(r"out of memory: malloc\(\d+\) failed (\d+) times in the last second")


def asan_options(extra):
    old = os.environ.get("ASAN_OPTIONS")
    return (old + ":" if old else "") + extra


class TestWorkerOutOfMemory(ServerCase):
    """One worker may not grow its data segment (RLIMIT_DATA at what it has: under ASan
    too, whose shadow is already counted); its sibling is healthy."""

    config = {"server": {"workers": "2"}, "status": {"path": "/status"}}
    # ASan reports an allocation failure and dies unless told to return NULL as libc does
    wrapper = ["env", "ASAN_OPTIONS=" + asan_options("allocator_may_return_null=1")]

    def limit_one_worker(self):
        """Limit one worker (it may use no more memory than it has); returns its pid."""
        server = self.server
        # both in their loop (the one answering /status is busy doing so)
        self.assertTrue(wait_until(lambda: [w["state"] in ("idle", "busy")
                                            for w in status_workers(server)] == [True, True], 10))
        sick = min(status_workers(server), key=lambda w: w["slot"])["pid"]
        limit = resource.prlimit(sick, resource.RLIMIT_DATA)
        self.addCleanup(self.unlimit, sick, limit)
        resource.prlimit(sick, resource.RLIMIT_DATA, (vm_data_bytes(sick), limit[1]))
        return sick, limit

    @staticmethod
    def unlimit(pid, limit):
        try:
            resource.prlimit(pid, resource.RLIMIT_DATA, limit)
        except ProcessLookupError:
            pass

    def get(self, server, failures, label):
        """One request on a new connection; a reset or an EOF before the answer is counted."""
        try:
            with server.connect() as c:
                c.send(build_request("GET", "/"))
                status = c.read_response().status
        except (ConnectionResetError, AssertionError, socket.timeout) as e:
            failures.append("%s: %r" % (label, e))
            return
        if status != 200:
            failures.append("%s: status %d" % (label, status))

    def hold_then_answer(self, n, failures, label):
        """n clients at once, each holding a buffer block (its head incomplete) until all
        are connected; then each completes its request. Returns the connections (kept)."""
        held = [self.connect() for _ in range(n)]
        for c in held:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for i, c in enumerate(held):
            try:
                c.send(b"\r\n")
                resp = c.read_response()
                if resp.status != 200:
                    failures.append("%s %d: status %d" % (label, i, resp.status))
            except (ConnectionResetError, BrokenPipeError, AssertionError, socket.timeout) as e:
                failures.append("%s %d: %r" % (label, i, e))
        return held

    def test_sibling_takes_the_clients_and_errors_are_counted(self):
        server = self.server
        sick, limit = self.limit_one_worker()
        t0 = time.monotonic()
        failures = []
        # the sibling ends up holding these (keep-alive), the sick worker few or none: the
        # fair spread must not leave new clients to a worker that is not accepting
        held = self.hold_then_answer(40, failures, "first 40")
        # more rounds for a few seconds: the sick worker listens again each second and
        # must find out that it cannot take a client before it takes one
        rounds = 0
        while time.monotonic() - t0 < 3:
            rounds += 1
            for c in self.hold_then_answer(20, failures, "round %d:" % rounds):
                c.close()
        self.assertEqual(failures[:10], [], "%d clients failed while the sibling was healthy"
                         % len(failures))
        elapsed = time.monotonic() - t0
        text = server.log_text()
        lines = [l for l in text.splitlines() if NOMEM_LINE.search(l)]
        self.assertGreater(len(lines), 0, "the sick worker never said it is out of memory:\n"
                           + text[-3000:])
        self.assertTrue(all(str(sick) in l for l in lines), lines)
        self.assertLessEqual(len(lines), elapsed + 1, "more than one line a second:\n"
                             + "\n".join(lines))
        self.assertEqual([l for l in text.splitlines()
                          if "malloc" in l and not NOMEM_LINE.search(l)], [])
        # memory back: the worker takes clients again
        self.unlimit(sick, limit)
        before = [w["accepted"] for w in status_workers(server) if w["pid"] == sick][0]

        def sick_accepts():
            self.get(server, failures, "after")
            return [w["accepted"] for w in status_workers(server) if w["pid"] == sick][0] > before
        self.assertTrue(wait_until(sick_accepts, 10), "the worker never accepted again")
        self.assertEqual(failures, [])
        for c in held:
            c.close()
