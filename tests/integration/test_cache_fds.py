"""test_cache_fds: the open-file cache under a low open files limit (issue 11).

forkd runs under `prlimit --nofile=N:N` (the master raises its soft limit to the hard one,
so both are set). Files larger than cache_max_file (64k) are cached as open descriptors:
- 300 such files with 256 descriptors: the cache holds at most its share of the limit
  (said once in a warning), and every file, then an uncached one, is served 200;
- every descriptor in use (idle keep-alive connections): an open that fails with EMFILE
  makes the cache close descriptors it alone holds, and the request is served;
- nothing cached to give back: 503 with Retry-After, logged at most once a second.
"""

import os
import re
import time

from harness import ServerCase, build_request, wait_until

LARGE = 70 * 1024  # > cache_max_file: cached as an open descriptor
# an open or read of a file that failed and answered 500
FAILED_500 = re.compile(r'(openat2?|fstat|filecache_put)\("[^"]*"\) failed: (?!.*: 503)')
OUT_OF_FDS_503 = re.compile(r'openat2?\("[^"]*"\) failed: Too many open files, no cached '
                            r'file to close: 503')


def large_body(i):
    return (b"%07d" % i) * (LARGE // 7) + b"\n"


class CacheFdsMixin:
    """Helpers for a one-worker server started under prlimit."""

    @classmethod
    def make_docroot(cls, root):
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(b"<p>index</p>\n")
        for i in range(cls.nfiles):
            with open(os.path.join(root, "f%d.bin" % i), "wb") as f:
                f.write(large_body(i))

    def worker_fds(self):
        """The worker's descriptors: {fd: target}."""
        pids = self.server.worker_pids()
        self.assertEqual(len(pids), 1, "want one worker: %r" % pids)
        out = {}
        for fd in os.listdir("/proc/%d/fd" % pids[0]):
            try:
                out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pids[0], fd))
            except OSError:
                pass
        return out

    def cached_files(self):
        """How many files below the docroot the worker holds open."""
        prefix = os.path.join(self.docroot, "")
        return sum(1 for t in self.worker_fds().values() if t.startswith(prefix))

    def get(self, conn, target):
        conn.send(build_request("GET", target))
        resp = conn.read_response("GET")
        self.check_common(resp)
        return resp

    def assertLarge(self, resp, i):
        self.assertEqual(resp.status, 200, "f%d.bin: %r\n%s" % (i, resp, self.log_tail()))
        self.assertEqual(resp.body, large_body(i), "f%d.bin: wrong body" % i)

    def log_tail(self):
        return self.server.log_text()[-3000:]

    def use_every_descriptor(self, conn):
        """Open idle keep-alive connections (each served once, from memory) until the
        worker holds nofile descriptors; conn is already open. Returns them."""
        self.assertEqual(self.get(conn, "/index.html").status, 200)  # cached in memory
        held = []
        while len(self.worker_fds()) < self.nofile:
            c = self.connect()
            self.assertEqual(self.get(c, "/index.html").status, 200)
            held.append(c)
            self.assertLess(len(held), self.nofile, "the worker does not hold its connections")
        self.assertEqual(len(self.worker_fds()), self.nofile)
        return held


class TestCacheFdsCappedByTheLimit(CacheFdsMixin, ServerCase):
    """The issue's case, scaled: 300 large files with 256 descriptors. Today the cache
    keeps every one open until open() fails with EMFILE, then answers 500 to every
    uncached file."""

    nfiles = 300
    wrapper = ["prlimit", "--nofile=256:256", "--"]
    config = {"server": {"workers": "1"}, "http": {"max_connections": "64"}}
    # (256 - 32 reserved - 64 connections) / 2
    cap = 80
    warning = ("cache_entries 1024: at most 80 cached files are held open per worker (open "
               "files limit "
               "256, max_connections 64)")

    def test_every_file_then_uncached_ones_are_served(self):
        conn = self.connect()
        for i in range(self.nfiles):
            self.assertLarge(self.get(conn, "/f%d.bin" % i), i)
        with open(os.path.join(self.docroot, "new.bin"), "wb") as f:
            f.write(large_body(1000))
        with open(os.path.join(self.docroot, "small.txt"), "wb") as f:
            f.write(b"small\n")
        self.assertLarge(self.get(conn, "/new.bin"), 1000)
        resp = self.get(conn, "/small.txt")
        self.assertEqual((resp.status, resp.body), (200, b"small\n"))
        # a new connection too: accept() was not starved either
        self.assertLarge(self.get(self.connect(), "/f0.bin"), 0)

        self.assertTrue(wait_until(lambda: self.cached_files() <= self.cap, 5),
                        "%d files held open, cap %d" % (self.cached_files(), self.cap))
        log = self.server.log_text()
        self.assertEqual(log.count(self.warning), 1, log[-3000:])
        self.assertEqual(FAILED_500.findall(log), [], log[-3000:])
        self.assertNotIn("Too many open files", log)


class TestCacheGivesDescriptorsBack(CacheFdsMixin, ServerCase):
    """Every descriptor in use: the cache closes what it alone holds, the open is retried."""

    nfiles = 12
    nofile = 64
    wrapper = ["prlimit", "--nofile=64:64", "--"]
    # max_connections 8192 cannot be honoured: the cache keeps 1/8 of (64 - 32)
    config = {"server": {"workers": "1"}, "http": {"keepalive_timeout": "60s"}}
    cap = 4

    def test_emfile_closes_cached_descriptors_and_serves(self):
        conn = self.connect()
        for i in range(10):
            self.assertLarge(self.get(conn, "/f%d.bin" % i), i)
        self.assertTrue(wait_until(lambda: self.cached_files() == self.cap, 5),
                        "%d files held open, want %d" % (self.cached_files(), self.cap))
        self.use_every_descriptor(conn)
        # open() fails with EMFILE: the 4 cached descriptors no response holds are closed
        self.assertLarge(self.get(conn, "/f10.bin"), 10)
        self.assertLarge(self.get(conn, "/f11.bin"), 11)
        self.assertLarge(self.get(conn, "/f0.bin"), 0)
        log = self.server.log_text()
        self.assertIn("out of descriptors (Too many open files): closed 4 cached files", log)
        self.assertEqual(FAILED_500.findall(log), [], log[-3000:])
        self.assertEqual(OUT_OF_FDS_503.findall(log), [], log[-3000:])


class TestOutOfDescriptorsAnswers503(CacheFdsMixin, ServerCase):
    """Every descriptor in use and none cached (files held in memory): 503, not 500."""

    nfiles = 12
    nofile = 64
    wrapper = ["prlimit", "--nofile=64:64", "--"]
    config = {"server": {"workers": "1"}, "http": {"keepalive_timeout": "60s"},
              "static": {"cache_max_file": "1m"}}

    def test_503_with_retry_after_logged_once_a_second(self):
        conn = self.connect()
        held = self.use_every_descriptor(conn)
        t0 = time.monotonic()
        for i in range(5):
            resp = self.get(conn, "/f%d.bin" % i)
            self.assertEqual(resp.status, 503, "%r\n%s" % (resp, self.log_tail()))
            self.assertEqual(resp.get("Retry-After"), "1")
        took = time.monotonic() - t0
        lines = OUT_OF_FDS_503.findall(self.server.log_text())
        self.assertGreaterEqual(len(lines), 1, self.log_tail())
        self.assertLessEqual(len(lines), 1 + int(took), "more than one report a second")
        self.assertEqual(FAILED_500.findall(self.server.log_text()), [], self.log_tail())
        # a descriptor comes back: the same request is served
        held.pop().close()
        self.assertTrue(wait_until(lambda: len(self.worker_fds()) < self.nofile, 5))
        self.assertLarge(self.get(conn, "/f0.bin"), 0)
