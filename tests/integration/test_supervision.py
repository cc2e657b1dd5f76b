"""test_supervision: the master's process model, signal by signal (issue: pre-fork process model).

Each rule is checked on the real binary: worker count, respawn, reload under load with
zero failed requests, refused reloads, TTIN/TTOU/WINCH, QUIT/TERM, the watchdog, the
pid file and forkd -s, USR1, the scoreboard's /status and /metrics.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import (IO_TIMEOUT, Server, ServerCase, build_request, forkd_bin, render_config,
                     temp_site, wait_until)

AB = shutil.which("ab")


def get(server, target, headers=None):
    with server.connect() as c:
        c.send(build_request("GET", target, headers=headers))
        return c.read_response()


def status_json(server):
    r = get(server, "/status")
    assert r.status == 200, r
    return json.loads(r.body)


def live_workers(server):
    return sorted(w["pid"] for w in status_json(server)["workers"])


class OwnServerCase(unittest.TestCase):
    """A fresh server per test, for tests that stop, kill or reshape it."""

    config = {"server": {"workers": "2", "worker_timeout": "30s", "graceful_timeout": "5s"},
              "status": {"path": "/status"}}
    site_mode = None  # e.g. 0o755 when workers run as another user

    def setUp(self):
        self.tmpdir, self.docroot = temp_site("forkd-sup-", b"<!DOCTYPE html><p>index</p>\n")
        if self.site_mode is not None:
            os.chmod(self.tmpdir, self.site_mode)
        self.server = Server(self.tmpdir, self.docroot, self.config, access_log=True).start()
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == self.workers(), 5),
                        self.server.worker_pids())

    def workers(self):
        return int(self.config["server"]["workers"])

    def tearDown(self):
        if self.server.returncode is None:
            rc = self.server.stop(signal.SIGTERM)
            self.assertEqual(rc, 0, self.server.log_text()[-3000:])
        bad = self.server.bad_log_lines()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.assertEqual(bad, [], "sanitizer or alert lines in the log")

    def master(self):
        return self.server.proc.pid

    def log(self):
        return self.server.log_text()

    def wait_log(self, pattern, timeout=5):
        return wait_until(lambda: re.search(pattern, self.log()), timeout)

    def rewrite_config(self, extra):
        """Write the server's config again with extra lines appended (for reload tests)."""
        with open(self.server.config_path, "w") as f:
            f.write(render_config(self.server.config) + extra)


class TestWorkers(OwnServerCase):
    def test_exactly_the_configured_number_of_workers(self):
        # /proc shows a child from fork() on; its scoreboard slot is filled a moment later
        self.assertTrue(wait_until(lambda: len(live_workers(self.server)) == 2, 5))
        self.assertEqual(len(self.server.worker_pids()), 2)
        self.assertEqual(sorted(live_workers(self.server)), sorted(self.server.worker_pids()))

    def test_killed_worker_is_replaced_within_a_second_other_keeps_serving(self):
        victim, other = self.server.worker_pids()
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        replaced = wait_until(lambda: len(self.server.worker_pids()) == 2
                              and victim not in self.server.worker_pids(), 1.0)
        self.assertTrue(replaced, "no new worker within 1s: %s" % self.server.worker_pids())
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertIn(other, self.server.worker_pids(), "the other worker was restarted too")
        # the new worker serves: keep asking until both pids have answered
        seen = set()
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.add(json.loads(get(self.server, "/demo/sleep?ms=0").body)["pid"])
        self.assertEqual(seen, set(self.server.worker_pids()))
        self.assertTrue(self.wait_log(r"killed by signal 9"))

    def test_a_crash_loop_backs_off(self):
        def kill_one():
            pids = self.server.worker_pids()
            os.kill(pids[0], signal.SIGKILL)
            return pids[0]

        def respawned(victim):
            pids = self.server.worker_pids()
            return len(pids) == 2 and victim not in pids

        victim = kill_one()
        self.assertTrue(wait_until(lambda: respawned(victim), 3))
        delays = []
        for _ in range(3):  # kill the newest worker at once: it "died within 2s"
            newest = max(self.server.worker_pids())
            os.kill(newest, signal.SIGKILL)
            t0 = time.monotonic()
            self.assertTrue(wait_until(lambda: respawned(newest), 10))
            delays.append(time.monotonic() - t0)
        self.assertRegex(self.log(), r"worker died within 2s: respawning in 1s")
        self.assertRegex(self.log(), r"worker died within 2s: respawning in 2s")
        # the first quick death in a row is replaced at once, then 1 s, then 2 s
        self.assertGreater(delays[-1], 1.8, delays)
        self.assertGreater(delays[-2], 0.8, delays)
        self.assertEqual(get(self.server, "/").status, 200)

    def test_ttin_adds_and_ttou_removes_a_worker(self):
        os.kill(self.master(), signal.SIGTTIN)
        self.assertTrue(wait_until(lambda: len(live_workers(self.server)) == 3, 5))
        os.kill(self.master(), signal.SIGTTOU)
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2, 5),
                        self.server.worker_pids())
        self.assertEqual(get(self.server, "/").status, 200)

    def test_winch_stops_workers_and_hup_brings_them_back(self):
        os.kill(self.master(), signal.SIGWINCH)
        self.assertTrue(wait_until(lambda: self.server.worker_pids() == [], 5))
        self.assertIsNone(self.server.proc.poll(), "the master must stay")
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2, 5))
        self.assertEqual(get(self.server, "/").status, 200)


class TestStopping(OwnServerCase):
    config = {"server": {"workers": "2", "pid_file": "forkd.pid", "graceful_timeout": "5s"},
              "status": {"path": "/status"}}

    def pid_file(self):
        return os.path.join(self.tmpdir, "forkd.pid")

    def test_pid_file_written_and_removed_on_quit(self):
        with open(self.pid_file()) as f:
            self.assertEqual(int(f.read()), self.master())
        self.assertEqual(self.server.stop(signal.SIGQUIT), 0)
        self.assertFalse(os.path.exists(self.pid_file()))

    def test_quit_finishes_in_flight_request(self):
        c = self.server.connect()
        c.send(build_request("GET", "/demo/sleep?ms=700"))
        time.sleep(0.2)  # the request is in the worker's hands
        self.server.send_signal(signal.SIGQUIT)
        r = c.read_response()
        c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.get("Connection"), "close")
        self.assertEqual(self.server.stop(signal.SIGQUIT), 0)

    def test_term_stops_fast_even_with_requests_in_flight(self):
        c = self.server.connect()
        c.send(build_request("GET", "/demo/sleep?ms=8000"))
        time.sleep(0.2)
        t0 = time.monotonic()
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 2.0)
        c.close()

    def test_second_instance_refuses_the_same_pid_file(self):
        out = subprocess.run([forkd_bin(), "-c", self.server.config_path], cwd=self.tmpdir,
                             capture_output=True, text=True, timeout=10,
                             env=dict(os.environ, FORKD_PORT_FILE=os.path.join(self.tmpdir, "p2")))
        self.assertEqual(out.returncode, 1)
        self.assertRegex(self.log() + out.stderr, r"already running \(pid %d" % self.master())
        self.assertIsNone(self.server.proc.poll())

    def test_forkd_s_reload_and_quit_go_through_the_pid_file(self):
        gen = status_json(self.server)["generation"]
        subprocess.run([forkd_bin(), "-s", "reload", "-c", self.server.config_path], check=True,
                       cwd=self.tmpdir, timeout=10)
        self.assertTrue(wait_until(lambda: status_json(self.server)["generation"] == gen + 1, 5))
        subprocess.run([forkd_bin(), "-s", "quit", "-c", self.server.config_path], check=True,
                       cwd=self.tmpdir, timeout=10)
        self.assertEqual(self.server.proc.wait(10), 0)
        self.server.returncode = 0
        self.server.stop()

    def test_master_killed_workers_exit(self):
        workers = self.server.worker_pids()
        self.server.proc.kill()
        self.server.proc.wait()
        self.server.returncode = -9

        def gone():
            return all(not os.path.exists("/proc/%d" % p) or
                       open("/proc/%d/stat" % p).read().split()[2] == "Z" for p in workers)
        self.assertTrue(wait_until(gone, 1.0), "workers outlived the master")
        self.server.stop()
        # a new forkd binds the same address at once (SO_REUSEADDR, no TIME_WAIT trouble)
        again = Server(self.tmpdir, self.docroot,
                       {"server": {"listen": "127.0.0.1:%d" % self.server.port, "workers": "1"}})
        again.start()
        try:
            self.assertEqual(again.port, self.server.port)
            self.assertEqual(get(again, "/").status, 200)
        finally:
            self.assertEqual(again.stop(), 0)


class TestReload(OwnServerCase):
    config = {"server": {"workers": "2", "graceful_timeout": "10s"},
              "http": {"keepalive_requests": "100000"},
              "status": {"path": "/status"}}

    def ab_with_reloads(self, args, n):
        """ab runs back to back (each must finish clean) while 10 HUPs arrive 0.3 s apart,
        so every reload lands while a run is in flight."""
        url = "http://127.0.0.1:%d/" % self.server.port
        proc = subprocess.Popen([AB] + args + ["-n", str(n), url], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        outputs, hups = [], 0
        while hups < 10:
            time.sleep(0.3)
            if proc.poll() is not None:
                outputs.append(proc.communicate()[0])
                proc = subprocess.Popen([AB] + args + ["-n", str(n), url],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            os.kill(self.master(), signal.SIGHUP)
            hups += 1
        outputs.append(proc.communicate(timeout=300)[0])
        for out in outputs:
            self.assertIn("Complete requests:      %d" % n, out, out)
            self.assertIn("Failed requests:        0", out, out)
        self.assertTrue(wait_until(lambda: status_json(self.server)["generation"] == 11, 5))

    @unittest.skipUnless(AB, "ab (apache2-utils) is not installed")
    def test_keepalive_load_survives_ten_reloads(self):
        self.ab_with_reloads(["-k", "-q", "-c", "50"], 150000)

    @unittest.skipUnless(AB, "ab (apache2-utils) is not installed")
    def test_new_connection_load_survives_ten_reloads(self):
        self.ab_with_reloads(["-q", "-c", "50"], 20000)

    def test_changed_listen_gets_a_new_socket_and_the_old_one_closes(self):
        import socket as so
        with so.socket() as s:
            s.bind(("127.0.0.1", 0))
            new_port = s.getsockname()[1]
        old_port = self.server.port
        self.server.config["server"]["listen"] = "127.0.0.1:%d" % new_port
        self.rewrite_config("")
        os.kill(self.master(), signal.SIGHUP)

        def new_serves():
            try:
                with so.create_connection(("127.0.0.1", new_port), timeout=2) as s:
                    s.sendall(build_request("GET", "/"))
                    return s.recv(12) == b"HTTP/1.1 200"
            except OSError:
                return False
        self.assertTrue(wait_until(new_serves, 5, interval=0.05))
        with open(self.server.port_file) as f:
            self.assertEqual(int(f.read()), new_port)

        def old_refused():
            try:
                so.create_connection(("127.0.0.1", old_port), timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
        self.assertTrue(wait_until(old_refused, 15, interval=0.1),
                        "the old socket outlived the old generation")
        self.server.port = new_port  # for tearDown's checks

    def test_invalid_config_changes_nothing_and_is_logged_with_its_line(self):
        self.assertTrue(wait_until(lambda: len(live_workers(self.server)) == 2, 5))
        before = live_workers(self.server)
        self.rewrite_config("[http]\nkeepalive_timeout = soon\n")
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(self.wait_log(r"reload refused.*forkd\.ini:\d+: bad duration"))
        lines = open(self.server.config_path).read().splitlines()
        want = lines.index("keepalive_timeout = soon") + 1
        self.assertRegex(self.log(), r"forkd\.ini:%d: " % want)
        self.assertEqual(live_workers(self.server), before)
        self.assertEqual(status_json(self.server)["generation"], 1)
        self.assertEqual(get(self.server, "/").status, 200)

    def test_every_kind_of_broken_file_is_refused_on_hup(self):
        good = render_config(self.server.config)
        broken = [
            good + "[http]\ncolour = blue\n",             # unknown key
            good + "[nope]\n",                             # unknown section
            good + "[server]\nworkers = -1\n",            # bad number
            good + "[http]\nmax_body_size = 1q\n",        # bad size
            good + "[http]\nheader_timeout = soon\n",     # bad duration
            good + "[log]\nlevel = loud\n",               # bad level
            good + "[demo]\nenabled = maybe\n",           # bad boolean
            good + "[server]\nlisten = 1.2.3:80\n",       # bad address
            good + "[server]\nworkers = 3\nworkers = 4\n",  # duplicate key
            good.replace(self.docroot, self.docroot + "/missing"),  # missing root
            good + "just words\n",                         # syntax
            good + "\x00\x01\x02binary\n",              # garbage
            "",                                            # empty file
        ]
        self.assertTrue(wait_until(lambda: len(live_workers(self.server)) == 2, 5))
        before = live_workers(self.server)
        for i, text in enumerate(broken, 1):
            with open(self.server.config_path, "w") as f:
                f.write(text)
            os.kill(self.master(), signal.SIGHUP)
            self.assertTrue(wait_until(lambda: len(re.findall(r"reload refused, still serving the "
                                                              r"old config: \S*forkd\.ini:\d+: ",
                                                              self.log())) >= i, 5),
                            "case %d not refused with file:line: %r" % (i, text[-60:]))
        self.assertEqual(status_json(self.server)["generation"], 1)
        self.assertEqual(live_workers(self.server), before)
        self.assertEqual(get(self.server, "/").status, 200)

    def test_valid_reload_applies_the_new_config(self):
        self.assertEqual(get(self.server, "/nope.txt").status, 404)
        with open(os.path.join(self.docroot, "other.html"), "wb") as f:
            f.write(b"other\n")
        self.server.config["static"]["index"] = "other.html"
        self.rewrite_config("")
        old = set(self.server.worker_pids())
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(wait_until(lambda: get(self.server, "/").body == b"other\n", 5))
        self.assertTrue(wait_until(lambda: not (old & set(self.server.worker_pids())), 5),
                        "the old generation did not drain")


class TestWatchdog(OwnServerCase):
    config = {"server": {"workers": "2", "worker_timeout": "2s"},
              "status": {"path": "/status"}}

    def test_stuck_worker_is_killed_logged_with_its_request_and_replaced(self):
        before = set(self.server.worker_pids())
        c = self.server.connect(timeout=15)
        c.send(build_request("GET", "/demo/work?ms=10000"))
        self.assertTrue(self.wait_log(r'unresponsive for \d+ms \(state busy, request '
                                      r'"GET /demo/work\?ms=10000"\): SIGKILL', 6), self.log())
        self.assertTrue(c.closed_by_peer(5))
        c.close()
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2
                                   and set(self.server.worker_pids()) != before, 3))
        self.assertEqual(get(self.server, "/").status, 200)


class TestUnstartableReload(OwnServerCase):
    config = {"server": {"workers": "1"}, "status": {"path": "/status"}}

    def test_reload_the_workers_could_not_start_with_is_refused_before_a_fork(self):
        # an access log in a missing directory: valid syntax, but no worker could open it;
        # the reload's preflight says so with file:line, and no new worker is tried
        self.server.config["log"]["access_log"] = os.path.join(self.tmpdir, "no", "dir.log")
        self.rewrite_config("")
        before = set(self.server.worker_pids())
        os.kill(self.master(), signal.SIGHUP)
        self.assertTrue(self.wait_log(r"reload refused, still serving the old config: "
                                      r"\S*forkd\.ini:\d+: access_log: directory '\S*/no': "
                                      r"No such file or directory"), self.log())
        self.assertNotIn("exited with status", self.log())
        self.assertEqual(set(self.server.worker_pids()), before)
        self.assertEqual(status_json(self.server)["generation"], 1)
        self.assertEqual(get(self.server, "/").status, 200)


class TestLogs(OwnServerCase):
    def test_usr1_reopens_the_access_log(self):
        self.assertEqual(get(self.server, "/").status, 200)
        access = self.server.access_log
        os.rename(access, access + ".1")
        os.kill(self.master(), signal.SIGUSR1)
        self.assertTrue(self.wait_log(r"log files reopened"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not os.path.exists(access):
            time.sleep(0.05)
        # workers reopen on their own signal: keep requesting until a line lands in the new file
        def landed():
            get(self.server, "/?after-rotate")
            return os.path.exists(access) and b"after-rotate" in open(access, "rb").read()
        self.assertTrue(wait_until(landed, 5, interval=0.3))


class TestReusePort(OwnServerCase):
    config = {"server": {"workers": "2", "reuse_port": "yes"}, "status": {"path": "/status"}}

    def test_each_worker_serves_and_a_restart_keeps_serving(self):
        pids = set()
        for _ in range(200):
            with self.server.connect() as c:  # new connections hash across the sockets
                c.send(build_request("GET", "/demo/sleep?ms=0"))
                pids.add(json.loads(c.read_response().body)["pid"])
        self.assertEqual(pids, set(self.server.worker_pids()))
        os.kill(self.server.worker_pids()[0], signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2, 2))
        for _ in range(50):
            self.assertEqual(get(self.server, "/").status, 200)


def cpus_allowed(pid):
    with open("/proc/%d/status" % pid) as f:
        line = [l for l in f if l.startswith("Cpus_allowed_list:")][0]
    cpus = set()
    for part in line.split(":", 1)[1].strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


@unittest.skipUnless(len(os.sched_getaffinity(0)) >= 2, "needs two CPUs")
class TestCpuAffinity(OwnServerCase):
    config = {"server": {"workers": "2", "cpu_affinity": "yes"}, "status": {"path": "/status"}}

    def bound(self):
        """Each worker's CPUs, once both have bound themselves (during their setup)."""
        mine = sorted(os.sched_getaffinity(0))
        want = [{mine[0]}, {mine[1]}]
        got = []
        def done():
            got[:] = sorted((cpus_allowed(p) for p in self.server.worker_pids()), key=min)
            return got == want
        wait_until(done, 3)
        return got, want

    def test_each_worker_runs_on_its_own_cpu_and_the_master_anywhere(self):
        got, want = self.bound()
        self.assertEqual(got, want)
        self.assertEqual(cpus_allowed(self.master()), os.sched_getaffinity(0))
        self.assertEqual(get(self.server, "/").status, 200)

    def test_a_replaced_worker_takes_its_slot_cpu_again(self):
        self.assertEqual(*self.bound())
        pid = self.server.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(self.server.worker_pids()) == 2
                                   and pid not in self.server.worker_pids(), 3))
        self.assertEqual(*self.bound())


class TestSpread(OwnServerCase):
    """A burst of clients on the shared socket ends up spread over the workers."""

    def setUp(self):
        super().setUp()
        # a worker still starting is no sibling to leave clients to: wait until both serve
        # (the one answering this /status is busy with it)
        def serving():
            states = [w["state"] for w in status_json(self.server)["workers"]]
            return len(states) == 2 and all(s in ("idle", "busy") for s in states)
        self.assertTrue(wait_until(serving, 10), status_json(self.server))

    def open_clients(self, n):
        socks = [self.server.connect() for _ in range(n)]
        # TCP_DEFER_ACCEPT: a client becomes acceptable when its request lands, so
        # these n arrive together, as one accept batch would take them
        for c in socks:
            c.send(build_request("GET", "/"))
        for c in socks:
            self.assertEqual(c.read_response().status, 200)
        return socks

    def test_a_burst_of_keepalive_clients_spreads_over_the_workers(self):
        socks = self.open_clients(60)
        try:
            active = [w["active"] for w in status_json(self.server)["workers"]]
            # the 60 (the status request's own connection may not be counted yet);
            # each worker within its share of 30 give or take the slack
            self.assertIn(sum(active), (60, 61), active)
            self.assertGreaterEqual(min(active), 20, active)
        finally:
            for c in socks:
                c.close()

    def test_a_busy_worker_does_not_hold_new_clients_back(self):
        busy = self.server.connect(timeout=15)
        busy.send(build_request("GET", "/demo/work?ms=3000"))
        time.sleep(0.3)
        start = time.monotonic()
        socks = self.open_clients(40)  # all on the other worker, past its share
        self.assertLess(time.monotonic() - start, 2.0)
        for c in socks:
            c.close()
        self.assertEqual(busy.read_response().status, 200)
        busy.close()


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class TestUser(OwnServerCase):
    config = {"server": {"workers": "2", "user": "nobody", "group": "nogroup"},
              "status": {"path": "/status"}}
    site_mode = 0o755  # the workers open the docroot as nobody

    def ids(self, pid):
        with open("/proc/%d/status" % pid) as f:
            fields = dict(line.split(":", 1) for line in f.read().splitlines())
        return [int(x) for x in fields["Uid"].split()], [int(x) for x in fields["Gid"].split()]

    def test_workers_run_as_the_user_and_still_serve(self):
        import grp
        import pwd
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        # a worker drops privileges at the end of its setup: wait for both to get there
        self.assertTrue(wait_until(lambda: all(self.ids(p)[0][0] == nobody
                                               for p in self.server.worker_pids()), 5))
        for pid in self.server.worker_pids():
            uids, gids = self.ids(pid)
            self.assertEqual(set(uids), {nobody})  # real, effective, saved, fs: no way back
            self.assertEqual(set(gids), {nogroup})
        self.assertEqual(self.ids(self.master())[0][1], 0, "the master keeps root to bind and reopen")
        self.assertEqual(get(self.server, "/").status, 200)


class TestStatus(ServerCase):
    config = {"server": {"workers": "2"}, "status": {"path": "/status"}}

    def test_status_json_lists_every_worker_with_its_counters(self):
        for _ in range(5):
            get(self.server, "/")
        doc = status_json(self.server)
        self.assertEqual(doc["master_pid"], self.server.proc.pid)
        self.assertEqual(doc["generation"], 1)
        self.assertGreaterEqual(doc["uptime_s"], 0)
        self.assertEqual(sorted(w["pid"] for w in doc["workers"]), sorted(self.server.worker_pids()))
        for w in doc["workers"]:
            for key in ("generation", "state", "uptime_s", "heartbeat_age_ms", "accepted",
                        "active", "requests", "bytes", "responses", "current"):
                self.assertIn(key, w)
        self.assertGreaterEqual(sum(w["requests"] for w in doc["workers"]), 5)
        self.assertGreaterEqual(sum(w["responses"]["2xx"] for w in doc["workers"]), 5)
        self.assertGreaterEqual(sum(w["accepted"] for w in doc["workers"]), 6)

    def test_a_request_in_progress_shows_as_current(self):
        # /demo/work holds its worker, so the other worker answers /status and the
        # busy one's request line stays put (a sleeping worker would serve /status itself)
        target = "/demo/work?ms=1500&q=%22a%5C%22"
        with self.server.connect(timeout=5) as c:
            c.send(build_request("GET", target))
            seen = []
            def shown():
                seen[:] = [w for w in status_json(self.server)["workers"]
                           if w["current"] == "GET " + target]
                return seen
            self.assertTrue(wait_until(shown, 1.0, interval=0.05))
            self.assertEqual(seen[0]["state"], "busy")
            self.assertEqual(c.read_response().status, 200)

    def test_metrics_is_prometheus_text(self):
        r = get(self.server, "/status/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.get("Content-Type").startswith("text/plain; version=0.0.4"))
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})?'
                            r' -?[0-9.eE+]+$')
        typed = set()
        for line in r.body.decode().splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                self.assertIn(kind, ("counter", "gauge"))
                typed.add(name)
            elif line.startswith("# HELP "):
                continue
            else:
                self.assertRegex(line, sample)
                self.assertIn(re.split(r"[{ ]", line)[0], typed, "sample before its TYPE")
        self.assertIn("forkd_requests_total", typed)
        self.assertIn("forkd_workers", typed)


class TestStatusAllow(ServerCase):
    config = {"status": {"path": "/status", "allow": "10.0.0.0/8"}}

    def test_clients_outside_allow_get_403(self):
        self.assertEqual(get(self.server, "/status").status, 403)
        self.assertEqual(get(self.server, "/status/metrics").status, 403)


if __name__ == "__main__":
    unittest.main()
