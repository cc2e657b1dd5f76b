"""harness: run the real forkd binary on port 0 and talk raw HTTP/1.1 to it.

Server      one forkd master (+ workers) with a temp config; port from FORKD_PORT_FILE.
Conn        a raw TCP connection with a small, strict HTTP/1.1 response reader.
ServerCase  unittest base class: one server per class (setUpClass/tearDownClass);
            after every test the logs are scanned for sanitizer reports and crashes.

Every wait has a deadline: nothing here sleeps a fixed time to "let things settle".
"""

import calendar
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Socket operations never block longer than this: no test can hang.
IO_TIMEOUT = 5.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

# Lines that fail a run whenever they show up in the error log or on stderr.
BAD_LOG_MARKERS = ("[alert]", "[crit]", "AddressSanitizer", "runtime error:", "LeakSanitizer")
# A worker that dies on its own is a bug too (the master logs and respawns it).
CRASH_MARKERS = ("killed by signal", "exited with status 1", "exited with status 2",
                 "exited with status 3", "exited with status 4", "exited with status 5",
                 "exited with status 6", "exited with status 7", "exited with status 8",
                 "exited with status 9")

IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT$")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def forkd_bin():
    """The binary under test: $FORKD_BIN (relative to the repo root), else build/forkd."""
    path = os.environ.get("FORKD_BIN", "build/forkd")
    if not os.path.isabs(path):
        path = os.path.join(REPO, path)
    return path


def parse_imf_fixdate(value):
    """Seconds since the epoch for an IMF-fixdate string, or None if it is not one."""
    m = IMF_FIXDATE.match(value or "")
    if not m:
        return None
    day, mon, year, hh, mi, ss = (int(m.group(2)), MONTHS.index(m.group(3)) + 1,
                                  int(m.group(4)), int(m.group(5)), int(m.group(6)),
                                  int(m.group(7)))
    return calendar.timegm((year, mon, day, hh, mi, ss, 0, 0, 0))


def format_imf_fixdate(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


def temp_site(prefix, index=b"<p>index</p>\n"):
    """A new temp dir holding www/index.html: (tmpdir, docroot). The caller removes tmpdir."""
    tmpdir = tempfile.mkdtemp(prefix=prefix)
    docroot = os.path.join(tmpdir, "www")
    os.mkdir(docroot)
    with open(os.path.join(docroot, "index.html"), "wb") as f:
        f.write(index)
    return tmpdir, docroot


def free_port():
    """A loopback port nothing listens on (bound, then closed), for a server to take."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.01):
    """Poll predicate() until it is true or the deadline passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------
# make, as a user's shell runs it


# make's own variables, set for a sub-make (MAKEOVERRIDES, the jobserver in MAKEFLAGS...)
MAKE_INTERNALS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def make_command_line(environ):
    """The NAME=value words given on the command line of the make that runs us (`make
    BUILD=/tmp/b test` reaches here as MAKEFLAGS="... -- SANITIZE=address,undefined
    BUILD=/tmp/b"), as a list of (name, word); backslash escapes are undone."""
    words, word, escaped = [], "", False
    for c in environ.get("MAKEFLAGS", "") + " ":
        if escaped:
            word, escaped = word + c, False
        elif c == "\\":
            escaped = True
        elif c == " ":
            if word:
                words.append(word)
            word = ""
        else:
            word += c
    if "--" not in words:
        return []
    found = []
    for word in words[words.index("--") + 1:]:
        m = re.match(r"([^:+?!=\s]+)\s*[:+?!]*=", word)
        if m:
            found.append((m.group(1), word))
    return found


def shell_make(*args, environ=None, input=None, cwd=REPO, timeout=300):
    """Run `make ARGS` in the checkout as a user's shell would, not as a sub-make of the
    `make test` running us: make's own variables and every variable given on that make's
    command line (make exports them: SANITIZE=address,undefined of `make test`, CI=1...)
    are left out. Only a BUILD= of that command line is passed on, on make's own command
    line, so that a developer's build directory is used, not the checkout's build/ (a
    BUILD= among args wins).
    Returns the CompletedProcess (text); environ defaults to os.environ, cwd to the checkout."""
    environ = os.environ if environ is None else environ
    given = make_command_line(environ)
    drop = set(MAKE_INTERNALS) | {name for name, _ in given}
    env = {k: v for k, v in environ.items() if k not in drop}
    explicit = any(a.startswith("BUILD=") for a in args)
    keep = [word for name, word in given if name == "BUILD" and not explicit]
    return subprocess.run(["make"] + keep + list(args), cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------
# Configuration


DEFAULT_CONFIG = {
    "server": {"listen": "127.0.0.1:0", "workers": "2"},
    "static": {"index": "index.html"},
    "http": {},
    "log": {"level": "info"},
    "demo": {"enabled": "yes"},
}


def render_config(sections):
    """INI text from {section: {key: value}}; a value of None drops the key."""
    out = []
    for section, keys in sections.items():
        out.append("[%s]" % section)
        for key, value in keys.items():
            if value is not None:
                out.append("%s = %s" % (key, value))
        out.append("")
    return "\n".join(out)


def merge_config(*layers):
    merged = {}
    for layer in layers:
        for section, keys in (layer or {}).items():
            merged.setdefault(section, {}).update(keys)
    return merged


# ---------------------------------------------------------------------------
# The server process


class ServerError(Exception):
    pass


class Server:
    """One forkd master started from a temp config in workdir.

    error_log goes to workdir/error.log; the process's own stdout/stderr (where
    sanitizers write) go to workdir/stderr.log. The access log, when enabled,
    is workdir/access.log. wrapper: a command forkd runs under, which must exec
    it (e.g. ["prlimit", "--nofile=256:256", "--"]), so proc.pid stays forkd's.
    """

    def __init__(self, workdir, docroot, config=None, access_log=True, wrapper=None):
        self.workdir = workdir
        self.wrapper = list(wrapper or [])
        self.docroot = docroot
        self.error_log = os.path.join(workdir, "error.log")
        self.stderr_log = os.path.join(workdir, "stderr.log")
        self.access_log = os.path.join(workdir, "access.log") if access_log else None
        self.port_file = os.path.join(workdir, "port")
        self.config_path = os.path.join(workdir, "forkd.ini")
        base = {
            "static": {"root": docroot},
            "log": {"error_log": self.error_log,
                    "access_log": self.access_log if access_log else "off"},
        }
        self.config = merge_config(DEFAULT_CONFIG, base, config)
        self.proc = None
        self.port = None
        self.returncode = None
        self._log_offsets = {}

    def start(self):
        with open(self.config_path, "w") as f:
            f.write(render_config(self.config))
        for path in (self.port_file,):
            if os.path.exists(path):
                os.unlink(path)
        env = dict(os.environ)
        env["FORKD_PORT_FILE"] = self.port_file
        self._stderr = open(self.stderr_log, "ab")
        argv = self.wrapper + [forkd_bin(), "-c", self.config_path]
        self.proc = subprocess.Popen(argv, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=self._stderr, cwd=self.workdir)
        _live_servers.add(self)

        def port_ready():
            if self.proc.poll() is not None:
                return "dead"
            try:
                with open(self.port_file) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.endswith("\n") else None

        got = wait_until(port_ready, START_TIMEOUT)
        if got is None or got == "dead":
            self.kill()
            raise ServerError("forkd did not write its port file within %ss (%s)\n%s"
                              % (START_TIMEOUT, "exited" if got == "dead" else "timeout",
                                 self.log_text()))
        self.port = int(got.strip())
        # the port is bound before the file is written: connects queue in the backlog
        return self

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the master and wait for it; returns the exit status (None if killed)."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        try:
            self.proc.send_signal(sig)
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = None
        finally:
            self._stderr.close()
            _live_servers.discard(self)
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # the workers follow (PR_SET_PDEATHSIG, set again after setuid)
            self.proc.wait()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
        _live_servers.discard(self)

    def worker_pids(self):
        """Children of the master (Linux /proc)."""
        pids = []
        try:
            for task in os.listdir("/proc/%d/task" % self.proc.pid):
                with open("/proc/%d/task/%s/children" % (self.proc.pid, task)) as f:
                    pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    # -- logs

    def _read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_text(self):
        return self._read(self.error_log) + self._read(self.stderr_log)

    def bad_log_lines(self, markers=BAD_LOG_MARKERS, new_only=False):
        """Lines holding one of markers; new_only: only since the last new_only call."""
        found = []
        for path in (self.error_log, self.stderr_log):
            text = self._read(path)
            start = self._log_offsets.get((path, markers), 0) if new_only else 0
            if new_only:
                self._log_offsets[(path, markers)] = len(text)
            for line in text[start:].splitlines():
                if any(m in line for m in markers):
                    found.append(line)
        return found

    def access_lines(self):
        if self.access_log is None or not os.path.exists(self.access_log):
            return []
        with open(self.access_log, "rb") as f:
            return f.read().split(b"\n")[:-1]

    def connect(self, timeout=IO_TIMEOUT):
        return Conn(self.port, timeout)


_live_servers = set()


def kill_leftovers():
    """Runner exit: no forkd started by this suite may outlive it."""
    for server in list(_live_servers):
        server.kill()


# ---------------------------------------------------------------------------
# Raw connection and response reader


class ProtocolError(AssertionError):
    """The server sent bytes that are not a valid HTTP/1.1 response."""


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head

    def all(self, name):
        name = name.lower()
        return [v for (n, v) in self.headers if n.lower() == name]

    def get(self, name, default=None):
        values = self.all(name)
        if len(values) > 1:
            raise ProtocolError("header %s sent %d times: %r" % (name, len(values), values))
        return values[0] if values else default

    def __contains__(self, name):
        return bool(self.all(name))

    def __repr__(self):
        return "<Response %d %s %r body=%d bytes>" % (self.status, self.reason,
                                                      self.headers, len(self.body))


STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3}) ([\t \x21-\x7e\x80-\xff]*)$")
TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class Conn:
    """A client connection. recv() results are buffered; every read has a timeout."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        """Read more bytes into buf; False at EOF."""
        if self.eof:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self, n):
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_line(self, limit=16384):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise ProtocolError("response line longer than %d bytes" % limit)
            if not self._fill():
                raise ProtocolError("connection closed in the middle of a line: %r" % self.buf)
        line = self._take(self.buf.index(b"\n") + 1)
        if not line.endswith(b"\r\n"):
            raise ProtocolError("response line not ended by CRLF: %r" % line)
        return line[:-2]

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed after %d of %d body bytes"
                                    % (len(self.buf), n))
        return self._take(n)

    def read_response(self, method="GET"):
        """One response (a 1xx interim one too). HEAD and 1xx/204/304 have no body."""
        if not self.buf and not self._fill():
            raise ProtocolError("connection closed before a response")
        raw = []
        line = self.read_line()
        raw.append(line)
        m = STATUS_LINE.match(line)
        if not m:
            raise ProtocolError("bad status line: %r" % line)
        version = "%s.%s" % (m.group(1).decode(), m.group(2).decode())
        status = int(m.group(3))
        reason = m.group(4).decode("latin-1")
        headers = []
        while True:
            line = self.read_line()
            raw.append(line)
            if line == b"":
                break
            name, sep, value = line.partition(b":")
            if not sep or not TOKEN.match(name):
                raise ProtocolError("bad header line: %r" % line)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        resp = Response(version, status, reason, headers, b"", b"\r\n".join(raw))
        if method == "HEAD" or status < 200 or status in (204, 304):
            return resp
        te = resp.all("transfer-encoding")
        cl = resp.all("content-length")
        if te:
            if cl:
                raise ProtocolError("response has both Transfer-Encoding and Content-Length")
            resp.body = self._read_chunked()
        elif cl:
            if len(cl) != 1 or not cl[0].isdigit():
                raise ProtocolError("bad Content-Length in response: %r" % cl)
            resp.body = self.read_exact(int(cl[0]))
        else:
            resp.body = self.read_until_close()
        return resp

    def _read_chunked(self):
        body = b""
        while True:
            size_line = self.read_line()
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while self.read_line() != b"":
                    pass
                return body
            body += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise ProtocolError("chunk data not followed by CRLF")

    def read_until_close(self):
        """Everything until EOF. A reset (RST) is an error: it can eat a response."""
        while self._fill():
            pass
        return self._take(len(self.buf))

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """True if the server closes the connection (EOF) within timeout, with no
        further bytes sent; False if it stays open. Raises on unexpected data or RST."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            data = self.read_until_close()
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)
        if data:
            raise ProtocolError("unexpected bytes before close: %r" % bytes(data[:200]))
        return True


def build_request(method="GET", target="/", version="HTTP/1.1", headers=None, body=b"",
                  host="localhost"):
    """Request bytes. headers: list of (name, value) or a dict; Host first unless host=None."""
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    if isinstance(headers, dict):
        headers = list(headers.items())
    for name, value in headers or []:
        lines.append("%s: %s" % (name, value))
    if isinstance(body, str):
        body = body.encode("latin-1")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*chunks, trailers=b""):
    """A chunked body from byte strings (the last-chunk is added)."""
    out = b""
    for c in chunks:
        if isinstance(c, str):
            c = c.encode("latin-1")
        out += b"%x\r\n%s\r\n" % (len(c), c)
    return out + b"0\r\n" + trailers + b"\r\n"


# ---------------------------------------------------------------------------
# unittest base class


def class_tempdir(cls, prefix):
    """A directory for test class cls, removed when the class is done, also when its
    setUpClass fails (a class cleanup)."""
    d = tempfile.mkdtemp(prefix=prefix)
    cls.addClassCleanup(shutil.rmtree, d, True)
    return d


class ServerCase(unittest.TestCase):
    """One server per test class. Subclasses set `config` (INI overrides) and may
    override make_docroot(root) to lay out files."""

    config = None
    access_log = True
    wrapper = None  # see Server
    # set by a test that kills a worker on purpose
    expect_worker_deaths = False

    @classmethod
    def make_docroot(cls, root):
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(b"<!DOCTYPE html><title>forkd</title><p>index</p>\n")

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="forkd-it-")
        cls.docroot = os.path.join(cls.tmpdir, "www")
        os.mkdir(cls.docroot)
        cls.make_docroot(cls.docroot)
        cls.server = Server(cls.tmpdir, cls.docroot, cls.config, cls.access_log, cls.wrapper)
        try:
            cls.server.start()
        except Exception:
            shutil.rmtree(cls.tmpdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        try:
            rc = server.stop(signal.SIGTERM)
            bad = server.bad_log_lines()
            if rc != 0:
                raise AssertionError("forkd exit status %r after SIGTERM (want 0)\n%s"
                                     % (rc, server.log_text()[-4000:]))
            if bad:
                raise AssertionError("error log/stderr has alerts or sanitizer reports:\n"
                                     + "\n".join(bad[:40]))
        finally:
            shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def tearDown(self):
        # pin a sanitizer report or a worker crash on the test that caused it
        markers = BAD_LOG_MARKERS if self.expect_worker_deaths else \
            BAD_LOG_MARKERS + CRASH_MARKERS
        found = self.server.bad_log_lines(markers, new_only=True)
        if found:
            self.fail("server log after this test:\n" + "\n".join(found[:40]))

    # -- helpers

    @property
    def port(self):
        return self.server.port

    def connect(self, timeout=IO_TIMEOUT):
        conn = Conn(self.server.port, timeout)
        self.addCleanup(conn.close)
        return conn

    def exchange(self, raw, method=None):
        """Send raw request bytes on a new connection; return (response, conn)."""
        conn = self.connect()
        conn.send(raw)
        if method is None:
            method = raw.split(b" ", 1)[0].decode("latin-1") if isinstance(raw, bytes) else "GET"
        return conn.read_response(method), conn

    def request(self, method="GET", target="/", **kw):
        """One request on a new connection; checks the headers every response must have."""
        raw = build_request(method, target, **kw)
        resp, conn = self.exchange(raw, method)
        self.check_common(resp, method)
        return resp

    def check_common(self, resp, method="GET"):
        """Date (IMF-fixdate, now), Server, Content-Length for bodies, Connection."""
        self.assertEqual(resp.version, "1.1", "response version")
        date = resp.get("Date")
        self.assertIsNotNone(date, "Date header missing: %r" % resp)
        t = parse_imf_fixdate(date)
        self.assertIsNotNone(t, "Date is not an IMF-fixdate: %r" % date)
        self.assertLess(abs(t - time.time()), 5, "Date is not the current time: %r" % date)
        self.assertTrue(resp.get("Server"), "Server header missing: %r" % resp)
        if resp.status < 200 or resp.status == 204:
            # RFC 9110 8.6: never a Content-Length in a 1xx or 204 response
            self.assertNotIn("Content-Length", resp, "Content-Length in a %d" % resp.status)
        if resp.status >= 200 and resp.status not in (204, 304):
            cl = resp.get("Content-Length")
            self.assertIsNotNone(cl, "Content-Length missing: %r" % resp)
            if method != "HEAD":
                self.assertEqual(int(cl), len(resp.body))
        conn = resp.get("Connection")
        self.assertIn((conn or "").lower(), ("keep-alive", "close"),
                      "Connection header missing or odd: %r" % resp)

    def assertClosed(self, conn, timeout=IO_TIMEOUT, msg=None):
        self.assertTrue(conn.closed_by_peer(timeout),
                        msg or "server did not close the connection within %ss" % timeout)

    def assertStatusIn(self, resp, statuses):
        self.assertIn(resp.status, statuses, "got %r" % resp)


class FreshServerCase(unittest.TestCase):
    """Tests that stop the server themselves (signals, access log): one server
    per test, started with start_server() and checked with stop_and_check()."""

    def start_server(self, config=None, files=None, access_log=True):
        tmpdir = tempfile.mkdtemp(prefix="forkd-it-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        docroot = os.path.join(tmpdir, "www")
        os.mkdir(docroot)
        for rel, data in (files or {"index.html": b"<p>index</p>\n"}).items():
            with open(os.path.join(docroot, rel), "wb") as f:
                f.write(data)
        server = Server(tmpdir, docroot, config, access_log)
        server.start()
        self.addCleanup(server.kill)
        return server

    def stop_and_check(self, server, sig=signal.SIGTERM, within=STOP_TIMEOUT):
        """Stop with sig; assert exit status 0 within `within` seconds and clean logs."""
        started = time.monotonic()
        rc = server.stop(sig, timeout=within)
        took = time.monotonic() - started
        self.assertEqual(rc, 0, "forkd exit status %r after signal %d (%.1fs)\n%s"
                         % (rc, sig, took, server.log_text()[-3000:]))
        bad = server.bad_log_lines()
        self.assertEqual(bad, [], "alerts or sanitizer reports in the logs")
        return took

    def connect(self, server, timeout=IO_TIMEOUT):
        conn = server.connect(timeout)
        self.addCleanup(conn.close)
        return conn


class ConfigCheckCase(unittest.TestCase):
    """forkd -t on config texts written in a temp dir that has a www/ docroot."""

    def check_t(self, text):
        """forkd -t -c FILE with text in FILE: (path, CompletedProcess)."""
        d = tempfile.mkdtemp(prefix="forkd-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        os.mkdir(os.path.join(d, "www"))
        path = os.path.join(d, "forkd.ini")
        with open(path, "w") as f:
            f.write(text)
        return path, subprocess.run([forkd_bin(), "-t", "-c", path], capture_output=True,
                                    text=True, timeout=30)

    def assertRefused(self, text, line, what):
        """forkd -t refuses text with "FILE:line:" and what in its message."""
        path, r = self.check_t(text)
        self.assertNotEqual(r.returncode, 0, text)
        self.assertIn("%s:%d:" % (path, line), r.stderr)
        self.assertIn(what, r.stderr)
