"""test_limits: hostile clients and connection limits (issue: robustness).

max_connections closes the oldest idle keep-alive connection first and never refuses a
request in flight; min_rate closes slow bodies and slow readers; slowhttptest's
slowloris, slow-body, slow-read and range attacks run for a bounded time while a probe
client keeps requesting a page, which must never fail or wait a second.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

from harness import ServerCase, build_request, wait_until

SLOWHTTPTEST = shutil.which("slowhttptest")


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class TestMaxConnections(ServerCase):
    config = {"server": {"workers": "1"}, "http": {"max_connections": "20"}}

    def test_oldest_idle_keepalive_connection_makes_room(self):
        conns = []
        for _ in range(20):
            c = self.server.connect()
            c.send(build_request("GET", "/"))
            self.assertEqual(c.read_response().status, 200)
            conns.append(c)
        newcomer = self.server.connect()
        newcomer.send(build_request("GET", "/"))
        self.assertEqual(newcomer.read_response().status, 200)
        self.assertTrue(conns[0].closed_by_peer(3), "the oldest idle connection stays open")
        # the most recent idle ones survive
        conns[-1].send(build_request("GET", "/"))
        self.assertEqual(conns[-1].read_response().status, 200)
        for c in conns + [newcomer]:
            c.close()

    def test_requests_in_flight_are_never_refused_newcomers_wait(self):
        busy = []
        for _ in range(20):
            c = self.server.connect(timeout=10)
            c.send(build_request("GET", "/demo/sleep?ms=1500"))
            busy.append(c)
        time.sleep(0.3)  # all 20 are in the worker: it is full, none idle
        t0 = time.monotonic()
        late = self.server.connect(timeout=10)
        late.send(build_request("GET", "/"))
        self.assertEqual(late.read_response().status, 200)
        self.assertGreater(time.monotonic() - t0, 0.8, "served past max_connections")
        for c in busy:
            self.assertEqual(c.read_response().status, 200)
            c.close()
        late.close()
        self.assertRegex(self.server.log_text(), r"20 connections \(max_connections\)")


class TestMinRate(ServerCase):
    config = {"http": {"min_rate": "500", "body_timeout": "30s", "send_timeout": "30s"}}

    @classmethod
    def make_docroot(cls, root):
        super().make_docroot(root)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(16 * 1024 * 1024))

    def test_slow_body_gets_408_near_the_grace(self):
        c = self.server.connect(timeout=15)
        c.send(build_request("POST", "/demo/echo", headers=[("Content-Length", "100000")]))
        t0 = time.monotonic()
        r = None
        while time.monotonic() - t0 < 12:
            try:
                c.send(b"x" * 10)  # 10 bytes a second: far below 500 B/s
            except OSError:
                break
            c.sock.settimeout(1.0)
            try:
                r = c.read_response("POST")
                break
            except socket.timeout:
                continue
        self.assertIsNotNone(r, "the slow body was never cut")
        self.assertEqual(r.status, 408)
        self.assertLess(time.monotonic() - t0, 8)
        c.close()

    def test_slow_reader_is_disconnected(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(15)
        s.connect(("127.0.0.1", self.port))
        s.sendall(build_request("GET", "/big.bin"))
        got, t0 = 0, time.monotonic()
        closed = False
        while time.monotonic() - t0 < 14:
            try:
                data = s.recv(256)
            except (ConnectionResetError, socket.timeout):
                closed = True
                break
            if not data:
                closed = True
                break
            got += len(data)
            time.sleep(0.2)  # ~1.3 KB/s at most: reads through a tiny window
        s.close()
        self.assertTrue(closed, "a reader far below min_rate kept its connection")
        self.assertLess(got, 16 * 1024 * 1024)


class Probe(threading.Thread):
    """GET / every 100 ms on a new connection; records failures and the slowest answer."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop_flag = port, threading.Event()
        self.failures, self.count, self.worst = [], 0, 0.0

    def run(self):
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.sendall(build_request("GET", "/"))
                    data = b""
                    while b"</p>\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                if not data.startswith(b"HTTP/1.1 200 "):
                    self.failures.append(data[:80])
            except OSError as e:
                self.failures.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - t0)
            self.count += 1
            self.stop_flag.wait(0.1)


@unittest.skipUnless(SLOWHTTPTEST, "slowhttptest is not installed")
class TestSlowAttacks(ServerCase):
    """Each attack: 1,000 connections for 15 s at most, loopback only."""

    config = {"server": {"workers": "2"},
              "http": {"header_timeout": "5s", "body_timeout": "5s", "send_timeout": "5s",
                       "min_rate": "500"}}

    @classmethod
    def make_docroot(cls, root):
        super().make_docroot(root)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(4 * 1024 * 1024))

    def attack(self, mode, path="/", extra=(), min_probes=50):
        """Run one attack with the probe; returns (output, most attacker connections closed)."""
        probe = Probe(self.port)
        rss_before = rss_kib(self.server.worker_pids())
        stats = os.path.join(self.server.workdir, "slow%s" % mode)
        probe.start()
        out = subprocess.run([SLOWHTTPTEST, mode, "-c", "1000", "-r", "250", "-l", "15", "-i", "2",
                              "-p", "3", "-g", "-o", stats,
                              "-u", "http://127.0.0.1:%d%s" % (self.port, path)]
                             + list(extra), capture_output=True, text=True, timeout=60)
        probe.stop_flag.set()
        probe.join(10)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # no colours
        self.assertGreater(probe.count, min_probes, text[-1500:])
        self.assertEqual(probe.failures, [], text[-1500:])
        # a worker stalled by the attack would hold the probe for most of its 15 s; the
        # probe's worst was 0.98 and 1.21 s in loaded CI runs (a 1 s SYN retransmission
        # while 1000 attackers connect would explain it): 3 s tells the two apart
        self.assertLess(probe.worst, 3.0, "probe waited %.2fs" % probe.worst)
        self.assertNotRegex(text, r"service available:\s+NO")
        rss_after = rss_kib(self.server.worker_pids())
        self.assertLess(rss_after - rss_before, 64 * 1024, "worker RSS grew by %d KiB"
                        % (rss_after - rss_before))
        # the CSV has one row a second: Seconds,Closed,Pending,Connected,Service Available
        with open(stats + ".csv") as f:
            rows = [line.split(",") for line in f.read().splitlines()[1:] if line]
        closed = max((int(r[1]) for r in rows), default=0)
        print("\n    %s: probe %d requests, worst %.0f ms, 0 failed; attackers closed %d "
              "(slowhttptest); worker RSS %d -> %d KiB" % (mode, probe.count, probe.worst * 1000,
                                                          closed, rss_before, rss_after))
        return text, closed

    def test_slowloris(self):
        lines_before = self.server.log_text().count("\n")
        text, closed = self.attack("-H")
        self.assertGreater(closed, 500, "header_timeout did not close the attackers:\n" + text[-800:])
        # at the default level (info) client faults are one line a second per worker at
        # most, with a count of the others: not a line per attacker (issue 14)
        new = self.server.log_text().split("\n")[lines_before:]
        faults = [line for line in new if "client timed out reading the request" in line]
        self.assertLess(len(faults), 2 * 30, "a line per slowloris connection:\n"
                        + "\n".join(faults[:20]))
        self.assertTrue(any("more client faults since the last line" in line for line in new),
                        "\n".join(new[-20:]))

    def test_slow_body(self):
        text, closed = self.attack("-B", "/demo/echo", ["-s", "100000"])
        self.assertGreater(closed, 500, "slow bodies were not closed:\n" + text[-800:])

    def test_slow_read(self):
        def cut_count():
            # a line per worker and second, with the number of faults not logged since
            # (in this attack: the slow readers cut)
            log = self.server.log_text()
            return (log.count("client reads slower than min_rate")
                    + log.count("client timed out reading the response")
                    + sum(int(n) for n in re.findall(r"and (\d+) more client faults", log)))
        before = cut_count()
        self.attack("-X", "/big.bin", ["-k", "1", "-n", "2", "-w", "16", "-y", "32", "-z", "32"])
        # slowhttptest does not count resets in slow-read mode: the server's log does
        cut = cut_count() - before
        print("    -X: the server cut %d slow readers (min_rate / send_timeout)" % cut)
        self.assertGreater(cut, 500, "slow readers were not cut by min_rate / send_timeout")

    def test_range_attack(self):
        # hundreds of overlapping ranges: ignored (whole file), nothing to amplify
        self.attack("-R", "/big.bin", ["-a", "10", "-b", "3000"], min_probes=10)


if __name__ == "__main__":
    unittest.main()
