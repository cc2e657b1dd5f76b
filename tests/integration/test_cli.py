"""What a sysadmin reads from the command line and the log (issue 14): forkd -V (version,
libraries, build flags), --help and --version; a missing config says "cannot open FILE:
reason"; -s with no server running says so plainly; "1 worker"; SIGINT logged as SIGINT."""

import os
import signal
import subprocess
import tempfile

from harness import FreshServerCase, forkd_bin, render_config, wait_until


def run(*args):
    return subprocess.run([forkd_bin()] + list(args), capture_output=True, text=True, timeout=30)


class CommandLineTests(FreshServerCase):
    def test_capital_v_names_libraries_and_flags(self):
        r = run("-V")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("forkd "), r.stdout)
        for lib in ("libevent ", "inih ", "libsystemd "):
            self.assertIn(lib, r.stdout)
        self.assertRegex(r.stdout, r"build flags: \S*cc .*-O")
        self.assertNotIn("unknown", r.stdout)

    def test_long_forms(self):
        self.assertEqual(run("--version").stdout, run("-v").stdout)
        self.assertEqual(run("--version").returncode, 0)
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, run("-h").stdout)
        self.assertIn("--help", r.stdout)
        self.assertNotEqual(run("--nope").returncode, 0)

    def test_missing_config(self):
        path = "/nonexistent-dir/forkd.ini"
        r = run("-c", path, "-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open %s: No such file or directory" % path, r.stderr)
        self.assertNotIn(":0:", r.stderr)

    def config_with_pid_file(self, pid_text=None):
        tmp = tempfile.mkdtemp(prefix="forkd-cli-")
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp])
        pid_file = os.path.join(tmp, "forkd.pid")
        if pid_text is not None:
            with open(pid_file, "w") as f:
                f.write(pid_text)
        path = os.path.join(tmp, "forkd.ini")
        with open(path, "w") as f:
            f.write(render_config({"server": {"pid_file": pid_file}, "static": {"root": tmp}}))
        return path

    def test_signal_with_nothing_running(self):
        env = dict(os.environ)
        env.pop("MAINPID", None)
        for pid_text in (None, "%d\n" % self.dead_pid()):
            path = self.config_with_pid_file(pid_text)
            for sig in ("stop", "reload"):
                r = subprocess.run([forkd_bin(), "-c", path, "-s", sig], capture_output=True,
                                   text=True, timeout=30, env=env)
                self.assertEqual(r.returncode, 1)
                self.assertIn("forkd is not running", r.stderr, (pid_text, sig))

    def dead_pid(self):
        p = subprocess.Popen(["true"])
        p.wait()
        return p.pid

    def test_one_worker_and_sigint(self):
        server = self.start_server({"server": {"workers": "1"}})
        wait_until(lambda: "forkd started:" in server.log_text(), 10)
        self.assertIn("forkd started: 1 worker\n", server.log_text())
        self.stop_and_check(server, signal.SIGINT)
        log = server.log_text()
        self.assertIn("SIGINT received: stopping now", log)
        self.assertNotIn("Terminated", log)
