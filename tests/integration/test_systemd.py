"""test_systemd: forkd as a systemd service, checked with systemd's own protocol and tools.

The notify tests play systemd's side: an AF_UNIX datagram socket named by NOTIFY_SOCKET
receives what forkd sends. Socket activation uses systemd-socket-activate; the unit is
checked with systemd-analyze; make install is run into a DESTDIR.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import (MAKE_INTERNALS, REPO, Server, build_request, class_tempdir, forkd_bin,
                     make_command_line, render_config, shell_make, temp_site, wait_until)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")


def get(port, target="/"):
    from harness import Conn
    with Conn(port) as c:
        c.send(build_request("GET", target))
        return c.read_response()


class NotifyListener:
    """systemd's end of NOTIFY_SOCKET: collects every datagram with its arrival order."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.messages = []

    def pump(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return

    def wait_for(self, predicate, timeout=10):
        """Wait for a message satisfying predicate(fields) after those already consumed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            for i, msg in enumerate(self.messages):
                fields = dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)
                if predicate(fields):
                    del self.messages[:i + 1]
                    return fields
            time.sleep(0.02)
        raise AssertionError("no such notify message; got %r" % self.messages)

    def close(self):
        self.sock.close()


class NotifyServerCase(unittest.TestCase):
    """A server whose NOTIFY_SOCKET we hold; its binary is a copy we may replace (USR2)."""

    config = {"server": {"workers": "2", "pid_file": "forkd.pid", "graceful_timeout": "5s"},
              "status": {"path": "/status"}}

    def setUp(self):
        self.tmpdir, self.docroot = temp_site("forkd-sd-")
        self.binary = os.path.join(self.tmpdir, "forkd")
        shutil.copy2(forkd_bin(), self.binary)
        self.notify = NotifyListener(os.path.join(self.tmpdir, "notify.sock"))
        saved = dict(os.environ)
        os.environ["NOTIFY_SOCKET"] = self.notify.path
        os.environ["FORKD_BIN"] = self.binary
        try:
            self.server = Server(self.tmpdir, self.docroot, self.config).start()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def tearDown(self):
        pid = self.pid_from_file()
        if pid and pid != self.server.proc.pid:
            os.kill(pid, signal.SIGTERM)  # an upgraded master is not our child
            wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10)
        if self.server.proc.poll() is None:
            self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        else:
            self.server.stop()
        bad = self.server.bad_log_lines()
        self.notify.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.assertEqual(bad, [])

    def pid_from_file(self):
        try:
            with open(os.path.join(self.tmpdir, "forkd.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None


class NotifyCase(NotifyServerCase):
    """READY, RELOADING, STOPPING and the binary upgrade's hand-over, as systemd sees them."""

    def test_ready_reload_and_stopping_in_order(self):
        ready = self.notify.wait_for(lambda f: f.get("READY") == "1")
        self.assertIn("STATUS", ready)
        self.assertEqual(get(self.server.port).status, 200)
        self.server.send_signal(signal.SIGHUP)
        reloading = self.notify.wait_for(lambda f: "RELOADING" in f)
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$")
        # MONOTONIC_USEC is CLOCK_MONOTONIC, within a few seconds of ours
        self.assertLess(abs(int(reloading["MONOTONIC_USEC"]) / 1e6 - time.monotonic()), 5)
        after = self.notify.wait_for(lambda f: f.get("READY") == "1")
        self.assertRegex(after.get("STATUS", ""), r"generation 2")
        self.assertEqual(get(self.server.port).status, 200)
        self.server.send_signal(signal.SIGTERM)
        self.notify.wait_for(lambda f: f.get("STOPPING") == "1")
        self.assertEqual(self.server.proc.wait(10), 0)

    def test_refused_reload_says_why_and_stays_ready(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        with open(self.server.config_path, "a") as f:
            f.write("[http]\nmax_headers = many\n")
        self.server.send_signal(signal.SIGHUP)
        self.notify.wait_for(lambda f: f.get("RELOADING") == "1")
        refused = self.notify.wait_for(lambda f: f.get("READY") == "1")
        self.assertRegex(refused.get("STATUS", ""), r"reload refused: .*forkd\.ini:\d+: ")
        self.assertEqual(get(self.server.port).status, 200)

    def test_usr2_upgrade_hands_over_without_failed_requests(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        old = self.server.proc.pid
        self.server.send_signal(signal.SIGUSR2)
        took = self.notify.wait_for(lambda f: "MAINPID" in f)
        new = int(took["MAINPID"])
        self.assertNotEqual(new, old)
        self.assertEqual(took.get("READY"), "1")
        # the old master drains and exits 0; the pid file follows the new one
        self.assertEqual(self.server.proc.wait(15), 0)
        self.assertEqual(self.pid_from_file(), new)
        self.assertEqual(get(self.server.port).status, 200)
        os.kill(new, signal.SIGTERM)
        self.notify.wait_for(lambda f: f.get("STOPPING") == "1")
        self.assertTrue(wait_until(lambda: not os.path.exists("/proc/%d" % new), 10))

    @unittest.skipUnless(shutil.which("ab"), "ab is not installed")
    def test_usr2_under_keepalive_load_fails_nothing(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        ab = subprocess.Popen(["ab", "-k", "-q", "-n", "60000", "-c", "20",
                               "http://127.0.0.1:%d/" % self.server.port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.3)
        self.server.send_signal(signal.SIGUSR2)
        self.notify.wait_for(lambda f: "MAINPID" in f)
        out = ab.communicate(timeout=120)[0]
        self.assertIn("Failed requests:        0", out, out)
        self.assertIn("Complete requests:      60000", out, out)

    def test_failed_upgrade_keeps_the_old_master(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        with open(self.binary + ".new", "w") as f:
            f.write("#!/bin/sh\nexit 3\n")
        os.chmod(self.binary + ".new", 0o755)
        os.rename(self.binary + ".new", self.binary)
        self.server.send_signal(signal.SIGUSR2)
        self.assertTrue(wait_until(lambda: re.search(
            r"binary upgrade failed: the new master \(pid \d+\) exited with status 3; still serving",
            self.server.log_text()), 10), self.server.log_text())
        self.assertIsNone(self.server.proc.poll())
        self.assertEqual(get(self.server.port).status, 200)


class TestJournal(unittest.TestCase):
    def test_stderr_on_the_journal_gets_syslog_priorities(self):
        tmp = tempfile.mkdtemp(prefix="forkd-j-")
        try:
            os.mkdir(os.path.join(tmp, "www"))
            conf = os.path.join(tmp, "forkd.ini")
            with open(conf, "w") as f:
                f.write(render_config({"server": {"listen": "127.0.0.1:0", "workers": "1"},
                                       "static": {"root": "www"}}))
            err = open(os.path.join(tmp, "stderr"), "wb")
            st = os.fstat(err.fileno())
            env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino),
                       FORKD_PORT_FILE=os.path.join(tmp, "port"))
            p = subprocess.Popen([forkd_bin(), "-c", conf], stderr=err, env=env)
            self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(tmp, "port")), 10))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            err.close()
            lines = open(os.path.join(tmp, "stderr")).read().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^<[3467]>\[(error|warn|info|debug)\] \d+: ")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class DrainNotifyTests(NotifyServerCase):
    """A graceful stop with [server] drain_delay tells systemd it is draining."""

    config = {"server": {"workers": "2", "pid_file": "forkd.pid", "drain_delay": "600ms"},
              "health": {"path": "/healthz"}}

    def test_quit_says_draining_then_stops(self):
        self.notify.wait_for(lambda f: f.get("READY") == "1")
        self.server.send_signal(signal.SIGQUIT)
        first = self.notify.wait_for(lambda f: f.get("STOPPING") == "1")
        self.assertRegex(first.get("STATUS", ""), r"^draining: health URL failing")
        self.assertEqual(get(self.server.port, "/healthz").status, 503)
        closing = self.notify.wait_for(lambda f: "STATUS" in f)
        self.assertRegex(closing["STATUS"], r"^draining: listening sockets closed")
        self.assertEqual(self.server.proc.wait(10), 0)


@unittest.skipUnless(SOCKET_ACTIVATE, "systemd-socket-activate is not installed")
class TestSocketActivation(unittest.TestCase):
    def test_serves_on_the_passed_socket(self):
        tmp, _ = temp_site("forkd-sa-", b"activated\n")
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            conf = os.path.join(tmp, "forkd.ini")
            with open(conf, "w") as f:
                # listen names another port: the passed socket must win
                f.write(render_config({"server": {"listen": "127.0.0.1:1", "workers": "2"},
                                       "static": {"root": "www"},
                                       "log": {"error_log": "error.log"}}))
            p = subprocess.Popen([SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % port, forkd_bin(),
                                  "-c", conf], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            try:
                def serves():
                    try:
                        return get(port).body == b"activated\n"
                    except OSError:
                        return False
                self.assertTrue(wait_until(serves, 10, interval=0.1))
                for _ in range(20):
                    self.assertEqual(get(port).status, 200)
                log = open(os.path.join(tmp, "error.log")).read()
                self.assertIn("passed by systemd", log)
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(10), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(ANALYZE, "systemd-analyze is not installed")
class TestInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = class_tempdir(cls, "forkd-install-")
        out = shell_make("-s", "install", "DESTDIR=" + cls.dest)
        assert out.returncode == 0, out.stdout + out.stderr

    def path(self, rel):
        return os.path.join(self.dest, rel.lstrip("/"))

    def test_layout(self):
        for rel, mode in (("usr/local/sbin/forkd", 0o755), ("etc/forkd/forkd.ini", 0o644),
                          ("usr/local/lib/systemd/system/forkd.service", None),
                          ("usr/local/lib/systemd/system/forkd.socket", None),
                          ("etc/logrotate.d/forkd", None),
                          ("usr/local/share/forkd/www/index.html", None),
                          ("usr/local/share/man/man8/forkd.8", None),
                          ("usr/local/share/man/man5/forkd.ini.5", None)):
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
            if mode is not None:
                self.assertEqual(stat.S_IMODE(os.stat(self.path(rel)).st_mode) & 0o111,
                                 mode & 0o111, rel)
        unit = open(self.path("usr/local/lib/systemd/system/forkd.service")).read()
        self.assertIn("ExecStart=/usr/local/sbin/forkd -c /etc/forkd/forkd.ini", unit)
        self.assertNotRegex(unit, r"@[A-Z]+@", "an install placeholder was left in the unit")
        self.assertIn("USR1", open(self.path("etc/logrotate.d/forkd")).read())

    def test_make_runs_as_from_a_shell(self):
        # what `make BUILD=/tmp/b test` hands its sub-make, and so these tests
        parent = dict(os.environ, MAKELEVEL="1", MFLAGS="-s", SANITIZE="address,undefined",
                      CI="1", BUILD="/tmp/b", MAKEOVERRIDES="${-*-command-variables-*-}",
                      MAKEFLAGS="s -- SANITIZE=address,undefined CI=1 BUILD=/tmp/b")
        self.assertEqual(make_command_line(parent), [
            ("SANITIZE", "SANITIZE=address,undefined"), ("CI", "CI=1"), ("BUILD", "BUILD=/tmp/b")])
        self.assertEqual(make_command_line({"MAKEFLAGS": r" -- A=x\ y B:=2"}),
                         [("A", "A=x y"), ("B", "B:=2")])
        # the make it runs sees BUILD on its command line, nothing else of the parent's
        script = ("all:\n\t@echo 'BUILD=$(BUILD) $(origin BUILD) SANITIZE=$(SANITIZE) CI=$(CI) "
                  "LEVEL=$(MAKELEVEL)'\n")
        out = shell_make("-s", "-f", "/dev/stdin", environ=parent, input=script)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "BUILD=/tmp/b command line SANITIZE= CI= LEVEL=0")

    def test_install_is_a_release_build_whatever_the_callers_sanitize(self):
        # make -n: what `make install` would run, from an empty build directory
        build = tempfile.mkdtemp(prefix="forkd-build-")
        sanitize = "SANITIZE=address,undefined"
        base = {k: v for k, v in os.environ.items() if k not in MAKE_INTERNALS}
        cases = (("on its command line", [sanitize], {}),
                 ("from a parent make", [], {"MAKEFLAGS": " -- " + sanitize,
                                             "SANITIZE": "address,undefined", "MAKELEVEL": "1"}))
        try:
            for name, args, env in cases:
                with self.subTest(name):
                    out = subprocess.run(["make", "-n", "install", "BUILD=" + build,
                                          "DESTDIR=" + build + "/dest"] + args, cwd=REPO,
                                         env=dict(base, **env), capture_output=True,
                                         text=True, timeout=60)
                    self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                    sanitized = [ln for ln in out.stdout.splitlines() if "-fsanitize" in ln]
                    self.assertFalse(sanitized, "built with sanitizers: %s" % sanitized[:1])
                    self.assertIn("-o %s/forkd " % build, out.stdout)
                    self.assertIn("install -m 755 %s/forkd " % build, out.stdout)
        finally:
            shutil.rmtree(build, ignore_errors=True)

    def test_existing_config_is_never_overwritten(self):
        ini = self.path("etc/forkd/forkd.ini")
        with open(ini, "a") as f:
            f.write("; admin's change\n")
        out = shell_make("-s", "install", "DESTDIR=" + self.dest)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("; admin's change", open(ini).read())

    def test_installed_config_is_valid_once_its_directories_exist(self):
        text = open(self.path("etc/forkd/forkd.ini")).read()
        self.assertIn("listen = *:80 [::]:80", text)  # IPv4 and IPv6
        conf = self.path("etc/forkd/check.ini")
        # systemd makes /run/forkd and /var/log/forkd (RuntimeDirectory=, LogsDirectory=)
        for d in ("/usr/local/share/forkd/www", "/run/forkd", "/var/log/forkd"):
            os.makedirs(self.path(d), exist_ok=True)
            text = text.replace(d, self.path(d))
        with open(conf, "w") as f:
            f.write(text)
        out = subprocess.run([forkd_bin(), "-t", "-c", conf], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_systemd_analyze_verify_passes(self):
        # point the unit at the installed binary, and man at the installed pages
        unitdir = tempfile.mkdtemp(prefix="forkd-unit-")
        try:
            for name in ("forkd.service", "forkd.socket"):
                text = open(self.path("usr/local/lib/systemd/system/" + name)).read()
                with open(os.path.join(unitdir, name), "w") as f:
                    f.write(text.replace("/usr/local/sbin/", self.path("usr/local/sbin") + "/"))
            env = dict(os.environ, MANPATH=self.path("usr/local/share/man"))
            out = subprocess.run([ANALYZE, "verify", os.path.join(unitdir, "forkd.service"),
                                  os.path.join(unitdir, "forkd.socket")],
                                 capture_output=True, text=True, env=env, cwd=unitdir)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        finally:
            shutil.rmtree(unitdir, ignore_errors=True)

    def test_security_exposure_is_at_most_2(self):
        out = subprocess.run([ANALYZE, "security", "--offline=true",
                              self.path("usr/local/lib/systemd/system/forkd.service")],
                             capture_output=True, text=True)
        m = re.search(r"Overall exposure level for forkd\.service: ([\d.]+)", out.stdout)
        self.assertIsNotNone(m, out.stdout + out.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, out.stdout)


if __name__ == "__main__":
    unittest.main()
