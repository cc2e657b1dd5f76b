"""test_respawn: supervision that never gives up and never lies (issue 11).

A replacement worker that fails its setup for a passing reason is retried with the
backoff, never given up on; zero serving workers is never reported healthy (STATUS=,
WATCHDOG=1); the backoff runs on CLOCK_MONOTONIC (the wall clock stepped back an hour
changes nothing); a reload that adds a listen address keeps the sockets it has.
"""

import os
import re
import shutil
import signal
import socket
import time
import unittest

from harness import Server, temp_site, wait_until
from test_supervision import OwnServerCase, get, status_json
from test_systemd import NotifyListener

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def serving(server):
    """Workers in their loop, as /status says (its generation only)."""
    try:
        doc = status_json(server)
    except (OSError, AssertionError):
        return 0
    return sum(1 for w in doc["workers"] if w["state"] in ("idle", "busy"))


class TestSetupFailureIsRetried(OwnServerCase):
    def test_a_replacement_that_cannot_set_up_is_retried_until_it_can(self):
        # the reproduction: mv www www.x; kill -9 W1; mv www.x www; kill -9 W2
        self.assertTrue(wait_until(lambda: serving(self.server) == 2, 5))
        w1, w2 = self.server.worker_pids()
        os.rename(self.docroot, self.docroot + ".x")
        os.kill(w1, signal.SIGKILL)
        self.assertTrue(self.wait_log(r"worker 1\.\d \(pid \d+\) could not set up"), self.log())
        os.rename(self.docroot + ".x", self.docroot)
        os.kill(w2, signal.SIGKILL)
        # the backoff is 1 s, then 2 s ...: both slots are filled again well within 10 s
        self.assertTrue(wait_until(lambda: serving(self.server) == 2, 10), self.log())
        self.assertEqual(get(self.server, "/").status, 200)
        self.assertNotIn("not respawning", self.log())
        self.assertNotIn(w1, self.server.worker_pids())


class TestZeroServingIsNotHealthy(unittest.TestCase):
    """With WatchdogSec= (WATCHDOG_USEC), WATCHDOG=1 stops once no worker has served
    for worker_timeout + 5 s, and STATUS= says how many serve."""

    config = {"server": {"workers": "1", "worker_timeout": "1s", "graceful_timeout": "2s"}}

    def setUp(self):
        self.tmpdir, self.docroot = temp_site("forkd-wd-")
        self.addCleanup(shutil.rmtree, self.tmpdir, True)
        self.notify = NotifyListener(os.path.join(self.tmpdir, "notify.sock"))
        self.addCleanup(self.notify.close)
        saved = dict(os.environ)
        os.environ.update(NOTIFY_SOCKET=self.notify.path, WATCHDOG_USEC="400000")
        try:
            self.server = Server(self.tmpdir, self.docroot, self.config).start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.addCleanup(self.server.kill)

    def test_watchdog_stops_while_no_worker_serves_and_resumes_after(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        self.notify.wait_for(lambda f: f.get("WATCHDOG") == "1")
        os.rename(self.docroot, self.docroot + ".x")
        (worker,) = self.server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        # no worker can set up now; after 1 s + 5 s of that the master stops saying it is fine
        watchdog_at, statuses = [], []
        while time.monotonic() - killed < 9:
            self.notify.pump()
            for msg in self.notify.messages:
                if "WATCHDOG=1" in msg:
                    watchdog_at.append(time.monotonic() - killed)
                statuses += re.findall(r"STATUS=(.*)", msg)
            del self.notify.messages[:]
            time.sleep(0.05)
        self.assertTrue(watchdog_at, "WATCHDOG=1 stopped at once: a replaceable worker is ours")
        self.assertLess(max(watchdog_at), 7.0, "WATCHDOG=1 went on with no worker serving: "
                        "%r" % watchdog_at)
        self.assertIn("0 of 1 workers serving", " | ".join(statuses))
        os.rename(self.docroot + ".x", self.docroot)
        # the backoff (1, 2, 4, 8 s) retries, a worker serves, the watchdog comes back
        self.notify.wait_for(lambda f: f.get("WATCHDOG") == "1", timeout=20)
        self.assertEqual(get(self.server, "/").status, 200)
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        self.assertNotIn("not respawning", self.server.log_text())


@unittest.skipUnless(os.path.exists(FAKETIME_LIB), "libfaketime is not installed (faketime)")
class TestBackoffIgnoresTheWallClock(unittest.TestCase):
    """libfaketime moves the wall clock (time(), CLOCK_REALTIME) of forkd alone, through a
    file it reads on every call; CLOCK_MONOTONIC stays true."""

    def test_stepping_the_clock_back_an_hour_during_a_backoff_leaves_no_slot_empty(self):
        tmpdir, docroot = temp_site("forkd-clock-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        offset = os.path.join(tmpdir, "faketime")
        with open(offset, "w") as f:
            f.write("+0\n")
        saved = dict(os.environ)
        os.environ.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=offset,
                          FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                          ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "")
                          + ":verify_asan_link_order=0")
        try:
            server = Server(tmpdir, docroot, {"server": {"workers": "1"},
                                              "status": {"path": "/status"}}).start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.addCleanup(server.kill)
        # quick deaths in a row (within 2 s of their start, nothing served) begin the backoff
        self.assertTrue(wait_until(lambda: serving(server) == 1, 5))
        for _ in range(4):
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            if wait_until(lambda: "respawning in 1s" in server.log_text(), 0.3):
                break
            self.assertTrue(wait_until(lambda: server.worker_pids() not in ([], [victim]), 2))
        self.assertIn("respawning in 1s", server.log_text())
        with open(offset, "w") as f:
            f.write("-3600\n")  # an hour back, in the middle of the backoff
        self.assertTrue(wait_until(lambda: serving(server) == 1, 5),
                        "the slot stayed empty after the clock went back:\n"
                        + server.log_text()[-2000:])
        self.assertEqual(server.stop(signal.SIGTERM), 0)


class TestReloadAddsAnAddress(OwnServerCase):
    config = {"server": {"workers": "1", "graceful_timeout": "2s"},
              "status": {"path": "/status"}}

    def test_adding_an_address_keeps_the_socket_of_the_one_that_stays(self):
        port = self.server.port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            extra = s.getsockname()[1]
        # the same address written as it is bound: no second bind(), no EADDRINUSE
        self.server.config["server"]["listen"] = "127.0.0.1:%d 127.0.0.1:%d" % (port, extra)
        self.rewrite_config("")
        # a connection queued on the kept socket across the reload is answered
        queued = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(queued.close)
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(self.wait_log(r"listening on 127\.0\.0\.1:%d" % extra), self.log())
        self.assertTrue(wait_until(lambda: status_json(self.server)["generation"] == 2, 5))
        self.assertNotIn("reload refused", self.log())
        self.assertNotRegex(self.log(), r"no longer listening on 127\.0\.0\.1:%d" % port)
        queued.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(queued.recv(64).startswith(b"HTTP/1.1 200"))
        for p in (port, extra):
            with socket.create_connection(("127.0.0.1", p), timeout=5) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(c.recv(64).startswith(b"HTTP/1.1 200"), p)
        # and removing it again closes only that one
        self.server.config["server"]["listen"] = "127.0.0.1:%d" % port
        self.rewrite_config("")
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(self.wait_log(r"no longer listening on 127\.0\.0\.1:%d" % extra),
                        self.log())
        self.assertTrue(wait_until(lambda: status_json(self.server)["generation"] == 3, 5))
        self.assertEqual(get(self.server, "/").status, 200)


if __name__ == "__main__":
    unittest.main()
