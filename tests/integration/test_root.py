"""test_root: started as root with user = nobody, nothing the worker user can plant is trusted.

Issue 10, "Started as root". Each test plays the attack as it would happen on a host:
the worker user (nobody) owns a log or run directory and plants symlinks there, a
stray signal reaches a worker, a worker writes what it likes into its scoreboard slot.
The server must refuse, log why, and keep serving. Also: `forkd -t` means "this will
start", and an AF_UNIX listener (socket activation) is logged as one.

Runs only as root (it starts forkd as root and plays nobody) and when user nobody exists.
Temp dirs are made 0755 so that workers, once they are nobody, can open the docroot.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import unittest

from harness import (REPO, Conn, Server, build_request, forkd_bin, free_port,
                     merge_config, render_config, temp_site, wait_until)

try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    NOBODY = None
IS_ROOT = os.geteuid() == 0
WHY_SKIPPED = ("needs root (forkd is started as root and drops to nobody)" if not IS_ROOT
               else "needs a user named nobody" if NOBODY is None else "")
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")

VICTIM_TEXT = b"root's secret: nobody may read, change, truncate or own this file\n"
SYMLINK_REFUSED = r"(symbolic link|symlink)"
CONFIG_NAME = "forkd.ini"


# ---------------------------------------------------------------------------
# The host as the attack finds it


def nobody_site(prefix):
    """temp_site() that the worker user can read: (tmpdir, docroot), both 0755, root-owned."""
    tmpdir, docroot = temp_site(prefix, b"<p>root test</p>\n")
    os.chmod(tmpdir, 0o755)
    os.chmod(docroot, 0o755)
    os.chmod(os.path.join(docroot, "index.html"), 0o644)
    return tmpdir, docroot


def nobody_dir(path):
    """A directory the worker user owns (0755): it may plant anything in it."""
    os.mkdir(path)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    os.chmod(path, 0o755)
    return path


def as_nobody(*argv):
    """Run argv as the worker user, the attacker: its own uid and gid, no other group."""
    subprocess.run(argv, user=NOBODY.pw_uid, group=NOBODY.pw_gid, extra_groups=[], check=True,
                   capture_output=True, timeout=10)


def make_victim(path):
    """A root-owned 0600 file with known content, the target of a planted symlink."""
    with open(path, "wb") as f:
        f.write(VICTIM_TEXT)
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def proc_status(pid):
    """/proc/PID/status as {field: value}; {} once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    except OSError:
        return {}


def uid_of(pid):
    fields = proc_status(pid)
    return int(fields["Uid"].split()[0]) if "Uid" in fields else None


def alive(pid):
    """The process exists and is not a zombie."""
    state = proc_status(pid).get("State", "").strip()
    return state != "" and state[0] not in "ZX"


def running(pid):
    """Alive and not stopped (SIGTTIN's default action stops a process)."""
    return alive(pid) and proc_status(pid).get("State", "").strip()[:1] not in ("T", "t")


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def get(server, target="/"):
    with server.connect() as c:
        c.send(build_request("GET", target))
        return c.read_response()


class UnixConn(Conn):
    """harness.Conn over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=5.0):  # not Conn.__init__(): it connects over TCP
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = bytearray()
        self.eof = False


def line_number(config_text, key):
    """1-based line of the first `key = ...` line."""
    for i, line in enumerate(config_text.splitlines(), 1):
        if re.match(r"\s*%s\s*=" % re.escape(key), line):
            return i
    raise KeyError(key)


# ---------------------------------------------------------------------------
# One fixture: a root-started server with user = nobody


@unittest.skipUnless(IS_ROOT and NOBODY is not None, WHY_SKIPPED)
class RootCase(unittest.TestCase):
    """Each test starts its own servers with start(); cleanups kill master and workers."""

    base_config = {"server": {"workers": "2", "user": "nobody", "worker_timeout": "30s",
                              "graceful_timeout": "5s"}}

    def site(self):
        tmpdir, docroot = nobody_site("forkd-root-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        return tmpdir, docroot

    def server(self, config=None, logdir=None):
        """A Server (not started) in a fresh site; logdir: a nobody-owned dir for both logs."""
        tmpdir, docroot = self.site()
        server = Server(tmpdir, docroot, merge_config(self.base_config, config))
        if logdir is not None:
            logs = nobody_dir(os.path.join(tmpdir, logdir))
            server.error_log = os.path.join(logs, "error.log")
            server.access_log = os.path.join(logs, "access.log")
            server.config["log"].update(error_log=server.error_log,
                                        access_log=server.access_log)
        self.addCleanup(self.kill_all, server)
        return server

    def launch(self, server, *wrapper):
        """Run forkd on server's config as Server.start() would, under wrapper (a command
        that execs it, e.g. systemd-socket-activate), without waiting for anything."""
        with open(server.config_path, "w") as f:
            f.write(render_config(server.config))
        server._stderr = open(server.stderr_log, "ab")  # what Server.stop() closes
        server.proc = subprocess.Popen(list(wrapper) + [forkd_bin(), "-c", server.config_path],
                                       stdin=subprocess.DEVNULL, stdout=server._stderr,
                                       stderr=server._stderr, cwd=server.workdir)
        return server

    def start(self, config=None, logdir=None, umask=None):
        """A started server whose workers have all dropped to nobody (unless no user is set)."""
        server = self.server(config, logdir)
        old = os.umask(umask) if umask is not None else None
        try:
            server.start()
        finally:
            if old is not None:
                os.umask(old)
        want = int(server.config["server"].get("workers", "1"))
        uid = NOBODY.pw_uid if server.config["server"].get("user") else 0
        self.assertTrue(wait_until(lambda: len(server.worker_pids()) == want and
                                   all(uid_of(p) == uid for p in server.worker_pids()), 5),
                        "workers did not start as uid %d: %s\n%s"
                        % (uid, server.worker_pids(), server.log_text()[-2000:]))
        return server

    @staticmethod
    def kill_pids(pids):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @classmethod
    def kill_all(cls, server):
        """Workers first (today they can outlive a killed master), then the master."""
        if server.proc is not None and server.proc.poll() is None:
            cls.kill_pids(server.worker_pids())
        server.kill()
        if getattr(server, "_stderr", None) is not None:
            server._stderr.close()  # Server.stop() closes it, Server.kill() does not

    def connect(self, server, timeout=5.0):
        conn = server.connect(timeout)
        self.addCleanup(conn.close)
        return conn

    def stop_clean(self, server):
        rc = server.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "exit status %r after SIGTERM\n%s"
                         % (rc, server.log_text()[-3000:]))
        self.assertEqual(server.bad_log_lines(), [], "alerts or sanitizer reports in the logs")

    def all_log_text(self, server):
        """The logs, plus any log file the server's processes still hold after it was
        unlinked (the attacker's `ln -sf` removes the file forkd was writing to)."""
        text = server.log_text()
        seen = set()
        pids = [server.proc.pid] + server.worker_pids() if server.proc.poll() is None else []
        for pid in pids:
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                path = "/proc/%d/fd/%s" % (pid, fd)
                try:
                    target = os.readlink(path)
                    if (target.startswith(server.workdir) and target.endswith(" (deleted)")
                            and target not in seen):
                        seen.add(target)
                        with open(path, "rb") as f:
                            text += f.read().decode("utf-8", "replace")
                except OSError:
                    continue
        return text

    def assertVictimIntact(self, path):
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode), "%s is no longer a regular file" % path)
        self.assertEqual((st.st_uid, st.st_gid), (0, 0), "%s changed owner" % path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "%s changed mode" % path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), VICTIM_TEXT, "%s was written to" % path)


# ---------------------------------------------------------------------------
# 1. Log files: USR1 and HUP never follow what the worker user planted


class TestLogFiles(RootCase):
    # (log file replaced by a symlink, signal that makes forkd open it again): USR1
    # reopens both; after a HUP the new generation's workers open the access log
    SYMLINK_CASES = [("access.log", signal.SIGUSR1), ("error.log", signal.SIGUSR1),
                     ("access.log", signal.SIGHUP)]

    def test_a_planted_log_symlink_is_refused_on_reopen(self):
        for name, sig in self.SYMLINK_CASES:
            with self.subTest(log=name, signal=sig.name):
                self.check_planted_symlink(name, sig)

    def check_planted_symlink(self, name, sig):
        server = self.start({"status": {"path": "/status"}}, logdir="logs")
        self.assertEqual(get(server).status, 200)  # the access log exists
        path = os.path.join(os.path.dirname(server.error_log), name)
        victim = make_victim(os.path.join(server.workdir, "victim"))
        as_nobody("ln", "-sfn", victim, path)
        self.assertTrue(os.path.islink(path))
        server.send_signal(sig)
        said = re.compile(r"^.*(%s.*%s|%s.*%s).*$" % (re.escape(path), SYMLINK_REFUSED,
                                                     SYMLINK_REFUSED, re.escape(path)), re.M)
        logged = wait_until(lambda: said.search(self.all_log_text(server)), 5, interval=0.1)
        self.assertEqual(get(server, "/?after").status, 200, "no longer serving")
        # a stop flushes every access log buffer: whatever forkd opened got its bytes
        rc = server.stop(signal.SIGTERM)
        self.assertVictimIntact(victim)
        self.assertTrue(logged, "no error line refusing %s as a symbolic link:\n%s"
                        % (path, server.log_text()[-3000:]))
        self.assertEqual(rc, 0, server.log_text()[-3000:])
        self.assertEqual(server.bad_log_lines(), [])

    def test_a_log_file_forkd_did_not_create_is_never_chowned(self):
        try:
            uid, gid = pwd.getpwnam("daemon")[2:4]
        except KeyError:
            uid, gid = 4242, 4242
        server = self.server({"status": {"path": "/status"}})
        for path in (server.error_log, server.access_log):
            with open(path, "wb"):
                pass
            os.chown(path, uid, gid)
            os.chmod(path, 0o666)  # writable by the workers, yet not theirs
        server.start()
        self.assertEqual(get(server).status, 200)
        server.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: "log files reopened" in server.log_text(), 5))
        old = set(server.worker_pids())
        server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: server.worker_pids() and
                                   not old & set(server.worker_pids()), 10),
                        server.log_text()[-2000:])
        self.assertEqual(get(server).status, 200)
        self.stop_clean(server)
        for path in (server.error_log, server.access_log):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (uid, gid), "%s was chowned" % path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o666, path)


# ---------------------------------------------------------------------------
# 2. The pid file: no planted symlink followed, 0644 whatever the umask


class TestPidFile(RootCase):
    # names planted as symlinks to root-owned victims in the nobody-owned run dir
    PLANTED = [("forkd.pid.tmp",), ("forkd.pid",), ("forkd.pid.tmp", "forkd.pid")]

    def test_planted_pid_file_symlinks_are_not_followed(self):
        for names in self.PLANTED:
            with self.subTest(planted=names):
                self.check_pid_file(names)

    def check_pid_file(self, names):
        tmp, _ = self.site()  # a root-owned place for the victims
        run = nobody_dir(os.path.join(tmp, "run"))
        victims = {}
        for name in names:
            victims[name] = make_victim(os.path.join(tmp, "victim-" + name))
            as_nobody("ln", "-sfn", victims[name], os.path.join(run, name))
        pid_file = os.path.join(run, "forkd.pid")
        server = self.start({"server": {"pid_file": pid_file}}, umask=0)
        for victim in victims.values():
            self.assertVictimIntact(victim)
        st = os.lstat(pid_file)
        self.assertTrue(stat.S_ISREG(st.st_mode), "the pid file is not a regular file")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644, "pid file mode with umask 000")
        self.assertEqual(st.st_uid, 0)
        with open(pid_file) as f:
            self.assertEqual(f.read().strip(), str(server.proc.pid))
        self.assertEqual(get(server).status, 200)
        self.stop_clean(server)
        self.assertFalse(os.path.lexists(pid_file), "the pid file outlived the stop")
        for victim in victims.values():
            self.assertVictimIntact(victim)


# ---------------------------------------------------------------------------
# 3. An AF_UNIX listener passed by socket activation


@unittest.skipUnless(SOCKET_ACTIVATE, "systemd-socket-activate is not installed")
class TestUnixListener(RootCase):
    def test_unix_clients_are_logged_as_unix_and_the_socket_by_its_path(self):
        server = self.server({"server": {"listen": "127.0.0.1:1"},  # the passed socket wins
                              "status": {"path": "/status"}})
        sock = os.path.join(server.workdir, "x.sock")
        self.launch(server, SOCKET_ACTIVATE, "-l", sock)

        def ask(target):
            with UnixConn(sock) as c:
                c.send(build_request("GET", target))
                return c.read_response()

        def serves():
            try:
                return ask("/").status == 200
            except (OSError, AssertionError):
                return False
        self.assertTrue(wait_until(serves, 10, interval=0.1), "no answer on the unix socket")
        self.assertEqual(ask("/status").status, 403, "a unix client has no address to allow")
        self.stop_clean(server)

        lines = server.access_lines()
        self.assertGreaterEqual(len(lines), 2)
        for line in lines:
            self.assertRegex(line, rb'^unix: - - \[[^\]]+\] "GET /[^"]*" \d{3} ',
                             "access log line of a unix client")
            self.assertRegex(line, rb"^[\x20-\x7e]+$", "unprintable bytes in the line")
        self.assertRegex(server.log_text(), r"listening on .*unix:%s" % re.escape(sock),
                         "the start-up log does not name the socket")


# ---------------------------------------------------------------------------
# 4-6. The worker process: dies with the master, ignores the master's signals, its groups


class TestWorkerProcess(RootCase):
    def test_workers_exit_when_the_master_is_killed(self):
        server = self.start()
        workers = server.worker_pids()
        self.addCleanup(self.kill_pids, workers)  # kill_all() finds no master to ask
        server.proc.kill()
        server.proc.wait()
        gone = wait_until(lambda: not any(alive(p) for p in workers), 2.0)
        self.assertTrue(gone, "workers outlived the master: %s"
                        % [p for p in workers if alive(p)])
        # told by the parent-death signal, not found out by their once-a-second check
        self.assertNotIn("master process is gone", server.log_text(),
                         "a worker noticed the master's death only by polling getppid()")

    # the master's signals: a stray one sent to a worker is not the worker's business
    MASTER_SIGNALS = [signal.SIGHUP, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU,
                      signal.SIGWINCH]

    def test_a_stray_master_signal_neither_kills_a_worker_nor_cuts_its_request(self):
        for sig in self.MASTER_SIGNALS:
            with self.subTest(signal=sig.name):
                self.check_stray_signal(sig)

    def check_stray_signal(self, sig):
        server = self.start({"status": {"path": "/status"}})

        def accepted(status):
            status.send(build_request("GET", "/status"))
            return sum(w["accepted"] for w in json.loads(status.read_response().body)["workers"])

        with server.connect() as status:
            before = accepted(status)  # counts this keep-alive connection, once
            c = self.connect(server)
            c.send(build_request("GET", "/demo/sleep?ms=1500"))
            self.assertTrue(wait_until(lambda: accepted(status) > before, 2, interval=0.02),
                            "the request was not accepted")
            workers = server.worker_pids()
            for pid in workers:
                os.kill(pid, sig)
            try:
                r = c.read_response()
            except (OSError, AssertionError) as e:
                self.fail("%s cut the request: %r" % (sig.name, e))
        self.assertEqual(r.status, 200)
        self.assertIn(json.loads(r.body)["pid"], workers)
        self.assertEqual([p for p in workers if not running(p)], [],
                         "workers stopped or gone after %s" % sig.name)
        self.assertEqual(sorted(server.worker_pids()), sorted(workers))
        self.assertNotIn("killed by signal", server.log_text())
        self.stop_clean(server)

    def test_workers_get_the_users_supplementary_groups(self):
        server = self.start()
        want = sorted(os.getgrouplist("nobody", NOBODY.pw_gid))
        for pid in server.worker_pids():
            got = sorted(int(g) for g in proc_status(pid)["Groups"].split())
            self.assertEqual(got, want, "Groups: of worker %d (initgroups)" % pid)
        self.stop_clean(server)


# ---------------------------------------------------------------------------
# 7. [status] allow with an IPv4-mapped entry


class TestStatusAllowMapped(RootCase):
    CASES = [("::ffff:127.0.0.1/128", 200), ("::ffff:127.0.0.0/104", 200),
             ("::ffff:10.0.0.1/128", 403)]

    def test_a_v4_mapped_allow_entry_matches_the_ipv4_client(self):
        for allow, want in self.CASES:
            with self.subTest(allow=allow):
                server = self.start({"status": {"path": "/status", "allow": allow}})
                self.assertEqual(get(server, "/status").status, want)
                self.stop_clean(server)

    def test_a_v4_mapped_prefix_shorter_than_96_is_refused_with_its_line(self):
        server = self.server({"status": {"path": "/status", "allow": "::ffff:0.0.0.0/95"}})
        text = render_config(server.config)
        with open(server.config_path, "w") as f:
            f.write(text)
        out = subprocess.run([forkd_bin(), "-t", "-c", server.config_path], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertRegex(out.stderr, r"%s:%d: .*shorter than /96"
                         % (re.escape(CONFIG_NAME), line_number(text, "allow")))


# ---------------------------------------------------------------------------
# 8. A root start with no user


class TestNoUser(RootCase):
    base_config = {"server": {"workers": "2", "user": None}}

    def test_a_root_start_without_user_warns_once(self):
        server = self.start()
        self.assertEqual(get(server).status, 200)
        warnings = [l for l in server.log_text().splitlines()
                    if "[warn]" in l and "root" in l]
        self.assertEqual(len(warnings), 1, "want one warning that workers run as root:\n%s"
                         % server.log_text()[-2000:])
        self.stop_clean(server)


# ---------------------------------------------------------------------------
# 9. forkd -t means "this will start"


def _missing_dir_log(tmp, docroot):
    return {"log": {"access_log": os.path.join(tmp, "no", "such", "dir", "access.log")}}, \
        "access_log"


def _no_user(tmp, docroot):
    return {"server": {"user": "nosuchuser"}}, "user"


def _no_group(tmp, docroot):
    return {"server": {"group": "nosuchgroup"}}, "group"


def _missing_dir_pid(tmp, docroot):
    return {"server": {"pid_file": os.path.join(tmp, "no", "such", "dir", "forkd.pid")}}, \
        "pid_file"


def _log_not_writable_by_user(tmp, docroot):
    path = make_victim(os.path.join(tmp, "root-only.log"))
    return {"log": {"access_log": path}}, "access_log"


def _root_not_readable_by_user(tmp, docroot):
    private = os.path.join(tmp, "private")
    os.mkdir(private, 0o700)
    os.chmod(private, 0o700)
    shutil.copytree(docroot, os.path.join(private, "www"))
    return {"static": {"root": os.path.join(private, "www")}}, "root"


class TestCheckMeansStart(RootCase):
    # (name, builds the config change and names the key whose line -t must report)
    CASES = [("access_log in a missing directory", _missing_dir_log),
             ("user = nosuchuser", _no_user),
             ("group = nosuchgroup", _no_group),
             ("pid_file in a missing directory", _missing_dir_pid),
             ("access_log not writable by the user", _log_not_writable_by_user),
             ("root not readable by the user", _root_not_readable_by_user)]

    def write_config(self, change):
        """A config on a fixed free port (to see whether it is left open), with change."""
        server = self.server({"server": {"listen": "127.0.0.1:%d" % free_port()}})
        extra, key = change(server.workdir, server.docroot) if change else ({}, None)
        server.config = merge_config(server.config, extra)
        text = render_config(server.config)
        with open(server.config_path, "w") as f:
            f.write(text)
        return server, text, key

    def run_forkd(self, server, *args, timeout=10):
        return subprocess.run([forkd_bin()] + list(args) + ["-c", server.config_path],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=server.workdir, stdin=subprocess.DEVNULL)

    def test_the_fixture_config_checks_and_starts(self):
        # the cases below differ from this one by their one change only
        server, _, _ = self.write_config(None)
        out = self.run_forkd(server, "-t")
        self.assertEqual(out.returncode, 0, out.stderr)
        server.start()
        self.assertEqual(get(server).status, 200)
        self.stop_clean(server)

    def test_what_would_not_start_fails_the_check_and_the_start(self):
        for name, change in self.CASES:
            with self.subTest(case=name):
                server, text, key = self.write_config(change)
                reason = r"%s:%d: \S" % (re.escape(CONFIG_NAME), line_number(text, key))
                out = self.run_forkd(server, "-t")
                self.assertEqual(out.returncode, 1, "forkd -t passed: %s" % out.stderr)
                self.assertRegex(out.stderr, reason)
                port = int(server.config["server"]["listen"].rsplit(":", 1)[1])
                self.launch(server)
                log = ""
                try:
                    rc = server.proc.wait(5)
                except subprocess.TimeoutExpired:
                    rc = None
                    log = server.log_text()  # before the kill: what it said while it sat
                    self.kill_all(server)
                self.assertIsNotNone(rc, "the start did not fail within 5 s:\n%s" % log[-2000:])
                self.assertNotEqual(rc, 0)
                self.assertTrue(refused(port), "port %d left open" % port)
                # the same reason as -t, in the error log or on stderr (the journal)
                self.assertRegex(server.log_text(), reason, "no reason given")
                self.assertEqual(server.bad_log_lines(), [], "a failed start must exit clean")


# ---------------------------------------------------------------------------
# 10. The watchdog's line quotes the slot's request line, escaped and bounded


def sb_sizes():
    """SB_CURRENT_LEN and the size of the pad after current[], from common/scoreboard.h."""
    with open(os.path.join(REPO, "common", "scoreboard.h")) as f:
        text = f.read()
    current = int(re.search(r"#define SB_CURRENT_LEN (\d+)", text).group(1))
    pad = re.search(r"char current\[SB_CURRENT_LEN\];\s*char pad\[(\d+)\];", text)
    return current, int(pad.group(1)) if pad else 0


def overwrite_shared(pid, marker, data):
    """As a hostile worker would: write data over the scoreboard bytes that start
    with marker, in the shared mapping (MAP_SHARED|MAP_ANONYMOUS) of process pid."""
    with open("/proc/%d/maps" % pid) as f:
        maps = [l.split() for l in f if "/dev/zero" in l and l.split()[1].startswith("rw")]
    with open("/proc/%d/mem" % pid, "r+b", buffering=0) as mem:
        for fields in maps:
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            mem.seek(lo)
            at = mem.read(hi - lo).find(marker)
            if at >= 0:
                mem.seek(lo + at)
                mem.write(data)
                return True
    return False


class TestWatchdogLine(RootCase):
    base_config = {"server": {"workers": "2", "user": "nobody", "worker_timeout": "2s"},
                   "status": {"path": "/status"}}
    TARGET = "/demo/work?ms=4000&pad=" + "p" * 300

    def stuck_request(self, server):
        c = self.connect(server, timeout=15)
        c.send(build_request("GET", self.TARGET))
        return c

    def unresponsive_line(self, server):
        line = re.compile(r"^.*unresponsive.*$", re.M)
        found = wait_until(lambda: line.search(server.log_text()), 6, interval=0.05)
        self.assertTrue(found, "no unresponsive line:\n" + server.log_text()[-2000:])
        return found.group(0)

    def test_the_request_line_is_cut_at_the_slot_size(self):
        current, _ = sb_sizes()
        server = self.start()
        self.stuck_request(server)
        line = self.unresponsive_line(server)
        want = ("GET " + self.TARGET)[:current - 1]
        self.assertIn('request "%s"' % want, line)
        self.assertNotIn('request "%sp' % want, line)
        self.stop_clean(server)

    def test_a_hostile_slot_is_escaped_and_bounded(self):
        current, pad = sb_sizes()
        server = self.start()
        self.stuck_request(server)
        # a worker may write anything: a forged log line, terminal escapes, no NUL at all
        forged = b'GET /"\n2026/01/01 00:00:00 [error] 1: forged line\x1b[2J\r'
        hostile = (forged + b"h" * current)[:current]
        marker = ("GET " + self.TARGET)[:current - 1].encode()
        wrote = wait_until(lambda: overwrite_shared(server.proc.pid, marker,
                                                    hostile + b"Z" * pad), 1.5, interval=0.02)
        self.assertTrue(wrote, "the busy slot was not found in the scoreboard")
        # /status (the other worker) shows the slot's bytes: all of them, nothing after
        shown = [w["current"] for w in json.loads(get(server, "/status").body)["workers"]
                 if w["state"] == "busy"]
        self.assertIn(hostile.decode("latin-1"), shown)
        line = self.unresponsive_line(server)
        log = server.log_text()
        self.assertNotRegex(log, r"(?m)^2026/01/01 00:00:00 \[error\] 1: forged",
                            "the slot forged an error log line")
        self.assertNotIn("\x1b", log, "a raw escape byte reached the error log")
        self.assertNotIn("\r", log)
        self.assertIn("forged line", line, "the slot's text is not on the watchdog's line")
        quoted = line.split("request ", 1)[1]
        self.assertNotIn("Z", quoted, "bytes after the slot's current[] were read")
        self.assertLessEqual(quoted.count("h"), current)
        self.stop_clean(server)


if __name__ == "__main__":
    unittest.main()
