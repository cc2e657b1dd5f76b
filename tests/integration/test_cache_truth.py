"""The file cache tells the truth, and conditionals read what the RFC says (issue 14):
with cache_valid = 0 a chmod or chown shows at once; an ETag never repeats for other
bytes of the same size (nanoseconds and inode, weak while the file may still change
within its timestamp's tick); a truncated large file is evicted after its first short
send; list headers are read across all their lines; only the three HTTP date forms
count; a suffix range on an empty file is satisfiable (200, range ignored).

As root the server runs its workers as nobody (a root worker reads a 000 file anyway),
in 0755 directories so that they can reach the docroot."""

import os
import pwd
import shutil
import socket
import tempfile
import time
import unittest

from harness import Server, build_request, format_imf_fixdate, ServerCase

try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    NOBODY = None
IS_ROOT = os.geteuid() == 0
OLD = 1577966400  # Thu, 02 Jan 2020 12:00:00 GMT


class TruthCase(ServerCase):
    """ServerCase whose workers cannot bypass permissions: as root, user = nobody."""

    base = {"server": {"workers": "1"}, "static": {"cache_valid": "0"}}
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.config = {k: dict(v) for k, v in cls.base.items()}
        for section, keys in cls.extra.items():
            cls.config.setdefault(section, {}).update(keys)
        if IS_ROOT and NOBODY is not None:
            cls.config["server"]["user"] = "nobody"
        super().setUpClass()

    @classmethod
    def make_docroot(cls, root):
        # called before the server starts: the workers (nobody) must reach the docroot
        os.chmod(os.path.dirname(root), 0o755)
        os.chmod(root, 0o755)

    def put(self, name, data, mtime_ns=None, mode=0o644):
        path = os.path.join(self.docroot, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        self.addCleanup(lambda: os.path.lexists(path) and os.unlink(path))
        return path

    def get(self, target, headers=None, method="GET"):
        return self.request(method, target, headers=headers or [])


class CacheValidZeroTests(TruthCase):
    """cache_valid = 0: "changes show at once", permissions and owner included."""

    def test_chmod_000_shows_at_once(self):
        path = self.put("perm.txt", b"readable\n")
        self.assertEqual(self.get("/perm.txt").status, 200)
        self.assertEqual(self.get("/perm.txt").body, b"readable\n")  # now from the cache
        if not IS_ROOT or NOBODY is None:
            os.chmod(path, 0o000)
        else:
            os.chmod(path, 0o600)  # root's file, nobody may not read it any more
        self.assertEqual(self.get("/perm.txt").status, 403)

    @unittest.skipUnless(IS_ROOT and NOBODY is not None, "needs root and a user nobody")
    def test_chown_shows_at_once(self):
        path = self.put("owned.txt", b"nobody's\n", mode=0o600)
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
        self.assertEqual(self.get("/owned.txt").status, 200)
        self.assertEqual(self.get("/owned.txt").status, 200)
        os.chown(path, 0, 0)  # mode, size and mtime unchanged: only the owner tells
        self.assertEqual(self.get("/owned.txt").status, 403)

    def test_same_second_rewrite_gets_a_new_etag(self):
        # two versions of the same size, the same second, other nanoseconds
        self.put("same.txt", b"version A\n", OLD * 10**9 + 100)
        old = self.get("/same.txt")
        tag = old.get("ETag")
        self.assertFalse(tag.startswith("W/"), "an old file gets a strong tag: %r" % tag)
        self.put("same.txt", b"version B\n", OLD * 10**9 + 200)
        resp = self.get("/same.txt", [("If-None-Match", tag)])
        self.assertEqual(resp.status, 200, "304 for new bytes under the old tag")
        self.assertEqual(resp.body, b"version B\n")
        resp = self.get("/same.txt", [("If-Range", tag), ("Range", "bytes=8-9")])
        self.assertEqual(resp.status, 200, "new bytes spliced onto the old copy: %r" % resp)
        self.assertEqual(resp.body, b"version B\n")

    def test_renamed_over_same_mtime_gets_a_new_etag(self):
        # an atomic replace (rename) with the very same mtime: the inode tells
        self.put("swap.txt", b"version A\n", OLD * 10**9)
        tag = self.get("/swap.txt").get("ETag")
        tmp = self.put("swap.tmp", b"version B\n", OLD * 10**9)
        os.rename(tmp, os.path.join(self.docroot, "swap.txt"))
        resp = self.get("/swap.txt", [("If-None-Match", tag)])
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"version B\n")

    def test_recent_file_has_a_weak_etag_until_a_second_passes(self):
        self.put("fresh.txt", b"just written\n")
        resp = self.get("/fresh.txt")
        tag = resp.get("ETag")
        self.assertTrue(tag.startswith('W/"'), "a file written just now: %r" % tag)
        # a weak tag never lets a range through If-Range: the whole file
        resp = self.get("/fresh.txt", [("If-Range", tag), ("Range", "bytes=0-3")])
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"just written\n")
        # If-None-Match compares weakly: the same version is not modified
        self.assertEqual(self.get("/fresh.txt", [("If-None-Match", tag)]).status, 304)
        time.sleep(1.2)
        strong = self.get("/fresh.txt").get("ETag")
        self.assertEqual(strong, tag[2:], "still weak after a second: %r" % strong)
        resp = self.get("/fresh.txt", [("If-Range", strong), ("Range", "bytes=0-3")])
        self.assertEqual(resp.status, 206)
        self.assertEqual(resp.body, b"just")


class ConditionalRfcTests(TruthCase):
    """RFC 9110 5.2 (list fields on several lines), 5.6.7 (dates), 14.1.2 (empty file)."""

    @classmethod
    def make_docroot(cls, root):
        super().make_docroot(root)
        for name, data in (("file.txt", b"some text\n"), ("empty.txt", b"")):
            path = os.path.join(root, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
            os.utime(path, (OLD, OLD))

    def test_if_match_on_two_lines(self):
        tag = self.get("/file.txt").get("ETag")
        resp = self.get("/file.txt", [("If-Match", '"xyz"'), ("If-Match", tag)])
        self.assertEqual(resp.status, 200)
        resp = self.get("/file.txt", [("If-Match", '"xyz"'), ("If-Match", '"abc"')])
        self.assertEqual(resp.status, 412)

    def test_if_none_match_on_two_lines(self):
        tag = self.get("/file.txt").get("ETag")
        resp = self.get("/file.txt", [("If-None-Match", '"xyz"'), ("If-None-Match", tag)])
        self.assertEqual(resp.status, 304)

    def test_only_the_three_date_forms(self):
        after = OLD + 86400
        valid = (format_imf_fixdate(after),
                 time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(after)),
                 time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(after)))
        for date in valid:
            resp = self.get("/file.txt", [("If-Modified-Since", date)])
            self.assertEqual(resp.status, 304, date)
        for date in ("Sun, 1 Dec 2024 12:00:00 GMT", "Sunday, 10 March 2024 12:00:00 GMT",
                     "Sun, 01 Dec 2024 12:00:00 UTC", "sun, 01 dec 2024 12:00:00 gmt",
                     "Sun, 01 Dec 2024 12:00 GMT", "2024-12-01T12:00:00Z"):
            resp = self.get("/file.txt", [("If-Modified-Since", date)])
            self.assertEqual(resp.status, 200, "an invalid date must be ignored: %r" % date)

    def test_suffix_range_on_empty_file(self):
        resp = self.get("/empty.txt", [("Range", "bytes=-1")])
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"")
        self.assertNotIn("Content-Range", resp)
        # a first-byte range on an empty file stays unsatisfiable
        self.assertEqual(self.get("/empty.txt", [("Range", "bytes=0-")]).status, 416)


class TruncatedLargeFileTests(TruthCase):
    """cache_valid = 60s: a large file truncated in place breaks one response, not a minute."""

    extra = {"static": {"cache_valid": "60s"}}

    def test_short_send_evicts(self):
        data = os.urandom(512 << 10)  # above cache_max_file: cached as a descriptor
        path = self.put("big.bin", data)
        self.assertEqual(self.get("/big.bin").body, data)
        os.truncate(path, 1000)
        # the response on its way promised the old length: it ends short ... (unless the
        # worker's check after the previous response already saw the truncation, when it
        # ran after the client had its bytes: then this answer is whole. Connection: close
        # ends the exchange either way instead of waiting on a kept-alive connection.)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(build_request("GET", "/big.bin", headers=[("Connection", "close")]))
            got = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        self.assertLess(len(got), len(data))
        # ... and the next one sees the file as it is
        for _ in range(3):
            resp = self.get("/big.bin")
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, data[:1000])


class RootSymlinkSwitchTests(unittest.TestCase):
    """A root that is a symlink switched to a new release (atomic deploy): every worker
    follows within cache_valid (the README's rule), none keeps serving the old tree."""

    def serve_releases(self, cache_valid):
        tmp = tempfile.mkdtemp(prefix="forkd-it-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        for rel in ("one", "two"):
            os.mkdir(os.path.join(tmp, rel))
            os.chmod(os.path.join(tmp, rel), 0o755)
            for name, size in (("index.html", 0), ("big.bin", 256 << 10)):
                with open(os.path.join(tmp, rel, name), "wb") as f:
                    f.write(rel.encode() + b"\n" + b"x" * size)
                os.chmod(os.path.join(tmp, rel, name), 0o644)
        current = os.path.join(tmp, "current")
        os.symlink("one", current)
        config = {"server": {"workers": "2"}, "static": {"cache_valid": cache_valid}}
        server = Server(tmp, current, config)
        server.start()
        self.addCleanup(server.kill)
        return tmp, current, server

    def releases_seen(self, server, n=40):
        """The first line of / and /big.bin over n new connections (both workers answer)."""
        seen = set()
        for i in range(n):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(build_request("GET", "/" if i % 2 else "/big.bin",
                                           headers=[("Connection", "close")]))
                got = b""
                while True:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    got += chunk
            head, _, body = got.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:100])
            seen.add(body.split(b"\n", 1)[0].decode())
        return seen

    def switch(self, tmp, current, to):
        tmp_link = os.path.join(tmp, "current.new")
        os.symlink(to, tmp_link)
        os.rename(tmp_link, current)  # atomic: never a moment without a root

    def test_switch_shows_at_once_with_cache_valid_0(self):
        tmp, current, server = self.serve_releases("0")
        self.assertEqual(self.releases_seen(server), {"one"})
        self.switch(tmp, current, "two")
        time.sleep(0.05)
        self.assertEqual(self.releases_seen(server), {"two"})
        self.assertEqual(len(server.worker_pids()), 2)

    def test_switch_shows_within_cache_valid(self):
        tmp, current, server = self.serve_releases("1s")
        self.assertEqual(self.releases_seen(server), {"one"})
        self.switch(tmp, current, "two")
        time.sleep(1.3)
        self.assertEqual(self.releases_seen(server), {"two"})
