"""test_faults: exhausted resources, garbage, smuggling attempts and dying workers (issue: robustness).

A worker SIGKILLed every 200 ms for 20 s under ab; out of file descriptors; an access log
on a full disk (a 16 KiB tmpfs); a flood of connections that send nothing; random bytes;
a table of Transfer-Encoding obfuscations that must each get 400/501 and a close.
"""

import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import ServerCase, build_request, wait_until

AB = shutil.which("ab")


def get_status(port, target="/"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(build_request("GET", target))
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


class TestWorkerKillStorm(ServerCase):
    config = {"server": {"workers": "2"}}
    expect_worker_deaths = True

    @unittest.skipUnless(AB, "ab is not installed")
    def test_slots_stay_filled_and_only_in_flight_requests_fail(self):
        stop = threading.Event()
        kills = []

        def killer():
            rnd = random.Random(6)
            while not stop.is_set():
                pids = self.server.worker_pids()
                if pids:
                    try:
                        os.kill(rnd.choice(pids), signal.SIGKILL)
                        kills.append(time.monotonic())
                    except ProcessLookupError:
                        pass
                stop.wait(0.2)

        t = threading.Thread(target=killer, daemon=True)
        ab = subprocess.Popen([AB, "-q", "-r", "-t", "20", "-n", "10000000", "-c", "50",
                               "http://127.0.0.1:%d/" % self.port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t.start()
        out = ab.communicate(timeout=120)[0]
        stop.set()
        t.join()
        complete = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
        failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
        print("\n    kill storm: %d kills, %d complete, %d failed" % (len(kills), complete, failed))
        self.assertGreater(len(kills), 60)
        self.assertGreater(complete, 1000, out)
        # a killed worker loses at most the connections it held (ab -c 50 in all)
        self.assertLessEqual(failed, 50 * len(kills), out)
        # workers that served are replaced at once; one killed before its first answer
        # counts as a crash loop and may wait out a backoff
        backoffs = self.server.log_text().count("respawning in")
        print("    %d backoffs" % backoffs)
        self.assertLess(backoffs, len(kills) // 4, "most kills were treated as crash loops")
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2, 35))
        for _ in range(20):
            self.assertEqual(get_status(self.port), 200)


@unittest.skipUnless(os.geteuid() == 0, "mounting a tiny tmpfs needs root")
class TestAccessLogDiskFull(unittest.TestCase):
    """The access log on a 16 KiB tmpfs that fills up: ENOSPC on every flush. (A log file
    must be a regular file: /dev/full is refused at start.)"""

    def test_requests_still_served_and_errors_logged_once_a_second(self):
        from harness import Server, temp_site
        tmp, docroot = temp_site("forkd-full-")
        self.addCleanup(shutil.rmtree, tmp, True)
        full = os.path.join(tmp, "full")
        os.mkdir(full)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", full], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", full])
        server = Server(tmp, docroot, {"log": {"access_log": os.path.join(full, "access.log")}},
                        access_log=False).start()
        self.addCleanup(server.kill)
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 2.5:
            self.assertEqual(get_status(server.port), 200)
            n += 1
        self.assertTrue(wait_until(lambda: "access log failed" in server.log_text(), 3))
        errors = server.log_text().count("write() to access log failed")
        self.assertGreaterEqual(errors, 1)
        self.assertLessEqual(errors, 2 * 4, "more than one error a second per worker")
        self.assertGreater(n, 20)
        self.assertEqual(server.stop(), 0)


class TestOutOfDescriptors(unittest.TestCase):
    """A worker with 64 descriptors: it pauses accepting instead of spinning, then resumes."""

    def test_emfile_pauses_accept_and_recovers(self):
        from harness import Server, temp_site
        tmp, _ = temp_site("forkd-fd-", b"<p>ok</p>\n")
        try:
            old = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, old[1]))
            # forkd raises its soft limit to the hard one: lower both for the child only
            real_popen = subprocess.Popen

            def limited(*a, **kw):
                kw["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
                return real_popen(*a, **kw)
            subprocess.Popen = limited
            try:
                server = Server(tmp, os.path.join(tmp, "www"), {"server": {"workers": "1"}}).start()
            finally:
                subprocess.Popen = real_popen
                resource.setrlimit(resource.RLIMIT_NOFILE, old)
            held = []
            try:
                for _ in range(80):  # more than the worker can hold
                    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    held.append(s)
                self.assertIn("max_connections 8192 cannot be honoured: the open files limit "
                              "is 64", server.log_text())
                self.assertTrue(wait_until(lambda: "pausing accept" in server.log_text(), 5),
                                server.log_text()[-2000:])
                for s in held[:10]:  # those accepted were served
                    s.settimeout(5)
                    self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 200"))
                for s in held:
                    s.close()
                held = []
                # descriptors come back: the worker accepts again
                self.assertTrue(wait_until(lambda: get_status(server.port) == 200, 5))
                self.assertLessEqual(server.log_text().count("pausing accept"), 10)
            finally:
                for s in held:
                    s.close()
                self.assertEqual(server.stop(), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestFloodAndGarbage(ServerCase):
    config = {"server": {"workers": "2"}, "http": {"header_timeout": "3s"}}

    def test_silent_connection_flood_leaves_the_probe_served(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        n = min(10000, hard - 200)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        socks = []
        try:
            for _ in range(n):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                except OSError:
                    break
            self.assertGreater(len(socks), n // 2)
            t0 = time.monotonic()
            self.assertEqual(get_status(self.port), 200)
            self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            for s in socks:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_random_bytes_on_a_thousand_connections(self):
        rnd = random.Random(1)
        statuses = {}
        for i in range(1000):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(bytes(rnd.getrandbits(8) for _ in range(1024)))
                s.shutdown(socket.SHUT_WR)
                data = b""
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except ConnectionResetError:
                    pass
            code = data[9:12] if data.startswith(b"HTTP/1.1 ") else b"-"
            statuses[code] = statuses.get(code, 0) + 1
        self.assertTrue(set(statuses) <= {b"400", b"501", b"505", b"414", b"431", b"-"}, statuses)
        self.assertEqual(get_status(self.port), 200)

    def test_transfer_encoding_obfuscations_are_refused_and_closed(self):
        table = [
            b"Transfer-Encoding : chunked",
            b" Transfer-Encoding: chunked",
            b"Transfer-Encoding:\x0bchunked",
            b"Transfer-Encoding:\x0cchunked",
            b"Transfer-Encoding: chunked\x00",
            b"Transfer-Encoding: \x00chunked",
            b"Transfer-Encoding: chunked\r\n\tfoo",
            b"Transfer-Encoding\t: chunked",
            b"Transfer\x00Encoding: chunked",
            b"Transfer-Encoding: chunked, chunked",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            b"Transfer-Encoding: chunked, identity",
            b"Transfer-Encoding: identity, chunked",
            b"Transfer-Encoding: xchunked",
            b"Transfer-Encoding: chunked-false",
            b"Transfer-Encoding: \"chunked\"",
            b"Transfer-Encoding: chunked;q=1",
            b"Transfer-Encoding: chunked\r\nContent-Length: 4",
            b"Content-Length: 4\r\nTransfer-Encoding: chunked",
            b"Transfer-Encoding: ,chunked",
            b"Transfer-Encoding: chunked,",
            b"Transfer-Encoding:",
            b"Transfer-Encoding: gzip",
            b"Transfer-Encoding: cHuNkEd, gzip",
        ]
        for line in table:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"POST /demo/echo HTTP/1.1\r\nHost: x\r\n" + line
                          + b"\r\n\r\n4\r\nabcd\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except ConnectionResetError:
                    pass
            self.assertRegex(data[:12], rb"^HTTP/1\.1 (400|501)", line)
            self.assertEqual(data.count(b"HTTP/1.1 "), 1,
                             "a second response: the connection went on after %r" % line)


if __name__ == "__main__":
    unittest.main()
