"""test_async: async handlers, cancellation and the thread pool (issue 12, phase B).

/demo/block?ms=N is a blocking sleep: on the worker's thread pool ([server] threads), or
on its loop with threads = 0, which then serves nobody else meanwhile (the stall is shown
and measured). A client that goes away while its request is pending (/demo/sleep, a timer;
/demo/block, a pool job) gets its handler's abort callback run within milliseconds, which
the demo logs ("demo: request N aborted: client gone (A aborted, P pending)"); a pipelined
request, or a half-close behind one, is never taken for a close. [http] handler_timeout
answers 504, tells the job to give up and keeps the connection. A stop with requests
pending runs their abort callbacks, waits for the jobs, and leaks nothing (ASan). A worker
stays busy on the scoreboard while a request is pending, showing it.

When a request is "taken" (read by the worker, so its handler has it) is read from the
kernel: the server side of the connection has no unread bytes (/proc/net/tcp). When the
loop itself blocks is read from /proc/PID/syscall (clock_nanosleep).
"""

import json
import os
import re
import signal
import socket
import struct
import threading
import time

from harness import FreshServerCase, ServerCase, build_request, wait_until

SYS_CLOCK_NANOSLEEP = 230  # x86_64
ABORT_LINE = re.compile(r"demo: request (\d+) aborted: ([a-z_ ]+) \((\d+) aborted, (\d+) pending\)")


def unread_bytes(port):
    """{client port: bytes the server has not read} for every connection to 127.0.0.1:port."""
    local = ":%04X" % port
    found = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == "0100007F" + local and fields[3] == "01":  # ESTABLISHED
                found[int(fields[2].split(":")[1], 16)] = int(fields[4].split(":")[1], 16)
    return found


def wait_taken(test, port, conns, timeout=5):
    """Wait until the server has read everything each of conns sent (its handler has it)."""
    ports = [c.sock.getsockname()[1] for c in conns]

    def taken():
        unread = unread_bytes(port)
        return all(unread.get(p) == 0 for p in ports)

    test.assertTrue(wait_until(taken, timeout, 0.002), "the worker did not read the requests")


def aborts(server):
    """The demo's abort lines so far: [(request id, reason, aborted, pending)]."""
    return [(int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)))
            for m in ABORT_LINE.finditer(server.log_text())]


def close_reset(conn):
    """Close with a reset (RST) instead of a FIN."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


class PoolTests(ServerCase):
    """One worker with 4 threads: blocking handlers run beside the event loop."""

    config = {"server": {"workers": "1", "threads": "4"}}

    def test_fifty_blocks_take_threads_rounds_while_static_answers(self):
        n, ms = 50, 200
        statuses, errors, static_ms = [], [], []
        barrier = threading.Barrier(n + 1)
        done = threading.Event()

        def block_client():
            try:
                conn = self.server.connect(timeout=15)
                barrier.wait(5)
                conn.send(build_request("GET", "/demo/block?ms=%d" % ms))
                statuses.append(conn.read_response().status)
                conn.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        def static_client():
            try:
                conn = self.server.connect()
                while not done.is_set():
                    t0 = time.monotonic()
                    conn.send(build_request("GET", "/index.html"))
                    resp = conn.read_response()
                    static_ms.append((time.monotonic() - t0) * 1000)
                    if resp.status != 200:
                        errors.append("static GET: %d" % resp.status)
                    if resp.get("Connection") == "close":  # keepalive_requests
                        conn.close()
                        conn = self.server.connect()
                conn.close()
            except Exception as e:  # noqa: BLE001
                errors.append("static: " + repr(e))

        threads = [threading.Thread(target=block_client, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        barrier.wait(5)
        started = time.monotonic()
        prober = threading.Thread(target=static_client, daemon=True)
        prober.start()
        for t in threads:
            t.join(20)
        took = time.monotonic() - started
        done.set()
        prober.join(10)
        print("\n    %d x /demo/block?ms=%d on 4 threads: %.2fs; meanwhile %d static GETs, "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (n, ms, took, len(static_ms), percentile(static_ms, 50),
                 percentile(static_ms, 99), max(static_ms)))
        self.assertEqual(errors, [])
        self.assertEqual(statuses, [200] * n)
        # 13 rounds of 4 x 200 ms: not 1 thread (10 s), not unbounded (0.2 s)
        self.assertGreaterEqual(took, 2.0, "more than 4 jobs ran at once")
        self.assertLess(took, 6.0, "the jobs did not run 4 at a time")
        self.assertGreater(len(static_ms), 20, "the loop did not serve static files meanwhile")
        self.assertLess(percentile(static_ms, 99), 500, "static GETs waited behind the jobs")

    def test_pipelined_request_behind_pending_one_is_not_a_close(self):
        # (how the second request comes, whether the client then shuts its sending side);
        # and the bytes waiting do not keep waking the loop meanwhile (a spin burns 300 ms)
        cases = [("same write", False), ("same write", True),
                 ("while pending", False), ("while pending", True)]
        self.assertEqual(self.request("GET", "/index.html").status, 200)
        (pid,) = wait_until(self.server.worker_pids, 5)
        for pending in ("/demo/sleep?ms=300", "/demo/block?ms=300"):
            for how, half_close in cases:
                with self.subTest(pending=pending, how=how, half_close=half_close):
                    before = len(aborts(self.server))
                    cpu = cpu_seconds(pid)
                    conn = self.connect()
                    first = build_request("GET", pending)
                    second = build_request("GET", "/index.html")
                    if how == "same write":
                        conn.send(first + second)
                    else:
                        conn.send(first)
                        wait_taken(self, self.port, [conn])
                        conn.send(second)
                    if half_close:
                        conn.sock.shutdown(socket.SHUT_WR)
                    one = conn.read_response()
                    two = conn.read_response()
                    self.assertEqual(one.status, 200)
                    self.assertIn(b"_ms", one.body)
                    self.assertEqual(two.status, 200)
                    self.assertIn(b"index", two.body)
                    if half_close:
                        self.assertClosed(conn)
                    self.assertEqual(len(aborts(self.server)), before, "taken for a close")
                    self.assertLess(cpu_seconds(pid) - cpu, 0.1, "the worker spun meanwhile")

    def test_client_gone_aborts_pending_request_at_once(self):
        # (pending request, how the client goes): the abort callback within 100 ms
        cases = [(target, how) for target in ("/demo/sleep?ms=5000", "/demo/block?ms=5000")
                 for how in ("close", "reset", "shutdown")]
        figures = []
        for target, how in cases:
            with self.subTest(target=target, how=how):
                before = len(aborts(self.server))
                conn = self.connect()
                conn.send(build_request("GET", target))
                wait_taken(self, self.port, [conn])
                t0 = time.monotonic()
                if how == "reset":
                    close_reset(conn)
                elif how == "shutdown":
                    # nothing more will come: a client gone, as for nginx
                    conn.sock.shutdown(socket.SHUT_WR)
                else:
                    conn.close()
                self.assertTrue(wait_until(lambda: len(aborts(self.server)) > before, 5, 0.001),
                                "no abort callback")
                took_ms = (time.monotonic() - t0) * 1000
                figures.append("%s %s %.1f ms" % (target.split("?")[0], how, took_ms))
                line = aborts(self.server)[-1]
                self.assertEqual(line[1], "client gone")
                self.assertEqual(line[3], 0, "still pending after the abort")
                self.assertLess(took_ms, 1000)
                conn.close()
        print("\n    abort after the client left: " + ", ".join(figures))
        # the worker serves on, and a block job of a gone request gave up early
        self.assertEqual(self.request("GET", "/demo/block?ms=1").status, 200)
        self.assertTrue(wait_until(
            lambda: len(re.findall(r"block job of request \d+ ended after \d+ of 5000 ms",
                                   self.server.log_text())) >= 3, 5))
        self.assertTrue(wait_until(lambda: self.server.access_lines()
                                   and sum(b'" 499 ' in line for line in self.server.access_lines())
                                   >= len(cases), 5), "aborted requests missing in the access log")

    def test_bad_ms_400_and_head(self):
        for target in ("/demo/block", "/demo/block?ms=abc", "/demo/block?ms=10001"):
            with self.subTest(target=target):
                self.assertEqual(self.request("GET", target).status, 400)
        resp = self.request("HEAD", "/demo/block?ms=1")
        self.assertEqual((resp.status, resp.body), (200, b""))
        body = json.loads(self.request("GET", "/demo/block?ms=5").body)
        self.assertEqual(body["blocked_ms"], 5)


class NoPoolTests(ServerCase):
    """threads = 0: /demo/block sleeps on the loop itself, and the worker serves nobody."""

    config = {"server": {"workers": "1", "threads": "0"}}

    def worker_in_nanosleep(self, pid):
        try:
            with open("/proc/%d/syscall" % pid) as f:
                return f.read().split()[0] == str(SYS_CLOCK_NANOSLEEP)
        except (OSError, IndexError):
            return False

    def test_blocking_on_the_loop_stalls_static_requests(self):
        static = self.connect()
        static.send(build_request("GET", "/index.html"))
        self.assertEqual(static.read_response().status, 200)
        (pid,) = wait_until(self.server.worker_pids, 5)
        blocker = self.connect()
        t_block = time.monotonic()
        blocker.send(build_request("GET", "/demo/block?ms=1000"))
        self.assertTrue(wait_until(lambda: self.worker_in_nanosleep(pid), 5, 0.001),
                        "the worker's loop never slept")
        t0 = time.monotonic()
        static.send(build_request("GET", "/index.html"))
        self.assertEqual(static.read_response().status, 200)
        waited = time.monotonic() - t0
        self.assertEqual(blocker.read_response().status, 200)
        print("\n    threads = 0: a static GET sent %.0f ms into a 1000 ms /demo/block waited "
              "%.0f ms" % ((t0 - t_block) * 1000, waited * 1000))
        self.assertGreaterEqual(waited, 0.5, "the static GET did not wait for the loop")


class HandlerTimeoutTests(ServerCase):
    """handler_timeout = 1s: 504, the job told to give up, the connection kept."""

    config = {"server": {"workers": "1", "threads": "1"}, "http": {"handler_timeout": "1s"}}

    def test_pending_past_handler_timeout_gets_504_and_connection_stays(self):
        for target in ("/demo/block?ms=3000", "/demo/sleep?ms=3000"):
            with self.subTest(target=target):
                before = len(aborts(self.server))
                conn = self.connect()
                t0 = time.monotonic()
                conn.send(build_request("GET", target))
                resp = conn.read_response()
                took = time.monotonic() - t0
                self.check_common(resp)
                self.assertEqual(resp.status, 504)
                self.assertIn(b"504 Gateway Timeout", resp.body)
                self.assertEqual(resp.get("Connection"), "keep-alive")
                self.assertGreaterEqual(took, 0.9)
                self.assertLess(took, 2.5)
                line = aborts(self.server)[-1]
                self.assertGreater(len(aborts(self.server)), before)
                self.assertEqual((line[1], line[3]), ("handler_timeout", 0))
                # the same connection serves on
                conn.send(build_request("GET", "/index.html"))
                self.assertEqual(conn.read_response().status, 200)
        # the job saw its cancel flag: it ended well before its 3000 ms, and its late done
        # (the request gone) was harmless
        self.assertTrue(wait_until(lambda: re.search(
            r"block job of request \d+ ended after (\d+) of 3000 ms", self.server.log_text()), 5))
        slept = int(re.search(r"block job of request \d+ ended after (\d+) of 3000 ms",
                              self.server.log_text()).group(1))
        self.assertLess(slept, 2000)
        # the one thread is free again
        self.assertEqual(self.request("GET", "/demo/block?ms=10").status, 200)


class ScoreboardTests(ServerCase):
    """A worker stays busy while a handler holds a request, and shows it (the watchdog's line)."""

    config = {"server": {"workers": "2"}, "status": {"path": "/status"}}

    def test_pending_request_shows_after_other_requests_end(self):
        pending = self.connect(timeout=10)
        pending.send(build_request("GET", "/demo/sleep?ms=5000&tag=pending-one"))
        wait_taken(self, self.port, [pending])
        # Requests on held connections (the workers share them out) until a /status
        # answered by one worker shows the other busy with the pending request, after that
        # other one had answered a request of its own since: before, its slot said idle.
        deadline, held, shown = time.monotonic() + 10, [], None
        while shown is None and time.monotonic() < deadline:
            other = self.connect()
            held.append(other)
            other.send(build_request("GET", "/demo/sleep?ms=1"))
            served_by = json.loads(other.read_response().body)["pid"]
            probe = self.connect()
            held.append(probe)
            probe.send(build_request("GET", "/status"))
            for w in json.loads(probe.read_response().body)["workers"]:
                if w["pid"] == served_by and w["state"] == "busy" \
                        and "tag=pending-one" in w["current"]:
                    shown = w
        self.assertIsNotNone(shown, "no worker showed the pending request after serving another")
        self.assertEqual(shown["current"], "GET /demo/sleep?ms=5000&tag=pending-one")
        pending.close()


class ThousandDisconnectsTests(FreshServerCase):
    """1,000 clients gone while pending, 100 at a time, under ASan: counts right, no leak."""

    def test_thousand_disconnects(self):
        server = self.start_server({"server": {"workers": "1", "threads": "4"},
                                    "status": {"path": "/status"}})
        total, batch = 1000, 100
        for round_ in range(total // batch):
            conns = []
            for i in range(batch):
                conn = self.connect(server)
                target = "/demo/sleep?ms=5000" if i % 2 else "/demo/block?ms=5000"
                conn.send(build_request("GET", target))
                conns.append(conn)
            wait_taken(self, server.port, conns, 10)
            for i, conn in enumerate(conns):
                if i % 3 == 0:
                    close_reset(conn)
                else:
                    conn.close()
            want = (round_ + 1) * batch
            self.assertTrue(wait_until(lambda: len(aborts(server)) >= want, 10),
                            "%d aborts of %d" % (len(aborts(server)), want))
        lines = aborts(server)
        self.assertEqual(len(lines), total)
        self.assertEqual(len({line[0] for line in lines}), total, "a request aborted twice")
        self.assertEqual(lines[-1][2:], (total, 0), "the demo's counts after the last abort")
        self.assertTrue(all(line[1] == "client gone" for line in lines))
        # the worker serves on; its connections are back to the one asking (on its second
        # request: the scoreboard counts a connection once its first request is answered)
        conn = self.connect(server)
        conn.send(build_request("GET", "/index.html"))
        self.assertEqual(conn.read_response().status, 200)
        conn.send(build_request("GET", "/status"))
        status = json.loads(conn.read_response().body)
        (worker,) = status["workers"]
        self.assertEqual(worker["active"], 1)
        conn.close()
        self.assertTrue(wait_until(lambda: sum(b'" 499 ' in line
                                               for line in server.access_lines()) == total, 5))
        # nothing was left pending: a stop would abort it ("worker stopping")
        self.stop_and_check(server)
        self.assertNotIn("worker stopping", server.log_text())


class StopWithPendingTests(FreshServerCase):
    """A stop while requests are pending: abort callbacks, jobs joined, exit 0, no leak."""

    def test_fast_stop_aborts_pending_and_joins_jobs(self):
        for target in ("/demo/sleep?ms=10000", "/demo/block?ms=10000"):
            with self.subTest(target=target):
                server = self.start_server({"server": {"workers": "1", "threads": "2"}})
                conn = self.connect(server)
                conn.send(build_request("GET", target))
                wait_taken(self, server.port, [conn])
                took = self.stop_and_check(server, signal.SIGTERM)
                self.assertLess(took, 5, "the stop waited for the 10 s request")
                self.assertEqual([line[1] for line in aborts(server)], ["worker stopping"])

    def test_graceful_stop_answers_pending_block(self):
        server = self.start_server({"server": {"workers": "1", "threads": "2"}})
        conn = self.connect(server)
        conn.send(build_request("GET", "/demo/block?ms=700"))
        wait_taken(self, server.port, [conn])
        server.send_signal(signal.SIGQUIT)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection"), "close")
        self.stop_and_check(server, signal.SIGQUIT)
        self.assertEqual(aborts(server), [])
