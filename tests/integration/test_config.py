"""Command line and configuration checking: -t accepts good files and refuses
bad ones with "FILE:LINE: reason" on stderr and exit status 1; -v, -h."""

import os
import re
import subprocess
import unittest

from harness import REPO, class_tempdir, forkd_bin

GOOD = """\
; a complete, valid configuration
[server]
listen = 127.0.0.1:0
workers = 2

[static]
root = www
index = index.html

[http]
keepalive_timeout = 75s
keepalive_requests = 1000
header_timeout = 500ms
body_timeout = 2m
send_timeout = 30
lingering_timeout = 5s
max_header_size = 8k
max_headers = 100
max_body_size = 1m

[log]
access_log = off
error_log = stderr
level = warn

[demo]
enabled = no
"""


def with_line(text, lineno, new):
    """GOOD with line lineno (1-based) replaced by new (which may hold newlines)."""
    lines = text.split("\n")
    lines[lineno - 1] = new
    return "\n".join(lines)


def line_of(text, start):
    for i, line in enumerate(text.split("\n"), 1):
        if line.startswith(start):
            return i
    raise KeyError(start)


class ConfigTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = class_tempdir(cls, "forkd-cfg-")
        os.mkdir(os.path.join(cls.tmpdir, "www"))

    def run_forkd(self, *args):
        return subprocess.run([forkd_bin()] + list(args), capture_output=True, timeout=20,
                              stdin=subprocess.DEVNULL)

    def check(self, text, name="forkd.ini", mode="w"):
        path = os.path.join(self.tmpdir, name)
        with open(path, mode) as f:
            f.write(text)
        return path, self.run_forkd("-t", "-c", path)

    def assertRefused(self, text, lineno, name="forkd.ini", mode="w"):
        path, p = self.check(text, name, mode)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, "want exit 1, got %d; stderr: %s" % (p.returncode, err))
        if lineno is None:
            self.assertRegex(err, r"%s:\d+: \S" % re.escape(path))
        else:
            self.assertIn("%s:%d: " % (path, lineno), err,
                          "stderr must name %s line %d: %r" % (path, lineno, err))
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error:", err)

    def test_good_config_ok(self):
        path, p = self.check(GOOD)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_shipped_config_ok(self):
        p = self.run_forkd("-t", "-c", os.path.join(REPO, "conf", "forkd.ini"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_workers_auto_ok(self):
        path, p = self.check(GOOD.replace("workers = 2", "workers = auto"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_unknown_key(self):
        self.assertRefused(with_line(GOOD, 5, "colour = blue"), 5)

    def test_unknown_section(self):
        # the error names the "[nope]" line itself, not the first key under it
        text = GOOD + "\n[nope]\nkey = 1\n"
        self.assertRefused(text, line_of(text, "[nope]"))

    def test_unknown_empty_section(self):
        # a section without keys is still unknown: refused on its header line
        text = GOOD + "[nope]\n"
        self.assertRefused(text, line_of(text, "[nope]"))

    def test_workers_negative(self):
        self.assertRefused(GOOD.replace("workers = 2", "workers = -1"), 4)

    def test_workers_not_a_number(self):
        self.assertRefused(GOOD.replace("workers = 2", "workers = two"), 4)

    def test_duplicate_key(self):
        n = line_of(GOOD, "max_headers")
        self.assertRefused(with_line(GOOD, n, "max_headers = 100\nmax_headers = 50"), n + 1)

    def test_bad_listen_address(self):
        self.assertRefused(GOOD.replace("127.0.0.1:0", "127.0.0.1:99999"), 3)

    def test_bad_listen_host(self):
        self.assertRefused(GOOD.replace("127.0.0.1:0", "not an address"), 3)

    def test_missing_root_dir(self):
        n = line_of(GOOD, "root")
        self.assertRefused(with_line(GOOD, n, "root = does-not-exist"), n)

    def test_root_is_a_file(self):
        with open(os.path.join(self.tmpdir, "afile"), "w") as f:
            f.write("x")
        n = line_of(GOOD, "root")
        self.assertRefused(with_line(GOOD, n, "root = afile"), n)

    def test_bad_duration(self):
        n = line_of(GOOD, "header_timeout")
        self.assertRefused(with_line(GOOD, n, "header_timeout = 10x"), n)

    def test_bad_size(self):
        n = line_of(GOOD, "max_body_size")
        self.assertRefused(with_line(GOOD, n, "max_body_size = 1q"), n)

    def test_size_overflow(self):
        n = line_of(GOOD, "max_body_size")
        self.assertRefused(with_line(GOOD, n, "max_body_size = 99999999999999999999999k"), n)

    def test_max_ranges(self):
        n = line_of(GOOD, "max_body_size")
        for good in ("0", "1", "256"):
            path, p = self.check(with_line(GOOD, n, "max_ranges = " + good))
            self.assertEqual(p.returncode, 0, p.stderr)
        for bad, why in (("257", b"out of range for max_ranges"),
                         ("-1", b"max_ranges"), ("some", b"bad number for max_ranges")):
            text = with_line(GOOD, n, "max_ranges = " + bad)
            self.assertRefused(text, n)
            self.assertIn(why, self.check(text)[1].stderr)

    def test_bad_level(self):
        n = line_of(GOOD, "level")
        self.assertRefused(with_line(GOOD, n, "level = verbose"), n)

    def test_bad_boolean(self):
        n = line_of(GOOD, "enabled")
        self.assertRefused(with_line(GOOD, n, "enabled = maybe"), n)

    def test_key_outside_section(self):
        self.assertRefused("workers = 2\n" + GOOD, 1)

    def test_syntax_error_line(self):
        self.assertRefused(with_line(GOOD, 4, "this is not ini"), 4)

    def test_empty_file(self):
        # refused (root is required); the message still has FILE:LINE:
        self.assertRefused("", None)

    def test_binary_garbage(self):
        self.assertRefused(bytes(range(256)) * 4, None, name="garbage.ini", mode="wb")

    def test_missing_file(self):
        p = self.run_forkd("-t", "-c", os.path.join(self.tmpdir, "nope.ini"))
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"nope.ini", p.stderr)

    def test_version(self):
        p = self.run_forkd("-v")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"forkd \d+\.\d+")

    def test_help(self):
        p = self.run_forkd("-h")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"-c", p.stdout)

    def test_bad_option(self):
        p = self.run_forkd("-Z")
        self.assertEqual(p.returncode, 1)


HANDLERS = GOOD + """
[route /hello]
handler = hello:say_hello

[module hello]
path = lib/hello.so
greeting = hi

[route /api/]
handler = hello:api
methods = GET POST
pool = yes
"""


class ModuleRouteConfigTests(unittest.TestCase):
    """[module NAME] / [route PATH] sections, [server] threads and [http]
    handler_timeout: -t reads them, and refuses each mistake with the line
    that holds it and why. The .so named does not exist: a file that reads
    well is refused for that alone, by the modules' test-load (whose own
    checks are test_modules.py's)."""

    # ConfigTests' temporary directory and its ways of running forkd -t
    setUpClass = classmethod(ConfigTests.setUpClass.__func__)
    tearDownClass = classmethod(ConfigTests.tearDownClass.__func__)
    run_forkd = ConfigTests.run_forkd
    check = ConfigTests.check
    assertRefused = ConfigTests.assertRefused

    def test_accepted(self):
        text = HANDLERS.replace("[server]\n", "[server]\nthreads = 4\n")
        text = text.replace("[http]\n", "[http]\nhandler_timeout = 0\n")
        path, p = self.check(text)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, rb"^forkd: [^\n]*:\d+: \[module hello\] cannot load: "
                         rb"[^\n]*/lib/hello.so: cannot open shared object file")

    def test_refused(self):
        threads = HANDLERS.replace("[server]\n", "[server]\nthreads = 4\n")
        cases = [
            # (name, text, start of the line at fault (its last occurrence), reason)
            ("threads too many", GOOD.replace("workers = 2", "threads = 1000"),
             "threads = 1000", "out of range for threads"),
            ("handler_timeout", GOOD.replace("max_headers = 100", "handler_timeout = 1y"),
             "handler_timeout", "bad duration for handler_timeout"),
            ("pool without threads", HANDLERS, "pool = yes",
             "pool = yes needs [server] threads > 0"),
            ("unknown module", threads.replace("handler = hello:api", "handler = db:api"),
             "handler = db:api", "no [module db] in this file"),
            ("module without path", threads.replace("path = lib/hello.so\n", ""),
             "[module hello]", "[module hello] needs path"),
            ("empty route", threads + "[route /empty]\n", "[route /empty]",
             "[route /empty] needs handler"),
            ("duplicate module", threads + "[module hello]\npath = b.so\n",
             "[module hello]\npath = b.so", "duplicate [module hello]"),
            ("duplicate route", threads + "\n[route /hello]\nhandler = hello:x\n",
             "[route /hello]\nhandler = hello:x", "duplicate [route /hello]"),
            ("bad route path", threads + "[route /a/../b]\nhandler = hello:x\n",
             "[route /a/../b]", "bad route path"),
            ("unknown method", threads.replace("GET POST", "GET BREW"), "methods",
             "unknown method 'BREW'"),
            ("bad body", threads.replace("pool = yes", "body = some"), "body",
             "bad value for body"),
            ("streamed body on the pool", threads.replace("pool = yes", "pool = yes\nbody = stream"),
             "body = stream", "body = stream cannot go with pool = yes"),
            ("unknown route key", threads.replace("pool = yes", "workers = 3"),
             "workers = 3", "unknown key 'workers' in [route /api/]"),
        ]
        for name, text, start, reason in cases:
            with self.subTest(name):
                self.assertRefused(text, text[:text.rindex(start)].count("\n") + 1)
                self.assertIn(reason, self.check(text)[1].stderr.decode("utf-8", "replace"))
