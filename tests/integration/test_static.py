"""Static files (RFC 9110 8, 13, 14, 15): docroot confinement, directories,
percent-decoding, Content-Type, validators, conditional and range requests,
405, and the sendfile path for a large file. Every row runs with openat2()
and again with the O_NOFOLLOW walk forced (FORKD_RESOLVE=walk), the way
forkd resolves paths under systemd's seccomp filters; then the file cache
closing what was deleted."""

import os
import random
import re
import socket
import time

from harness import (ServerCase, build_request, format_imf_fixdate, parse_imf_fixdate,
                     wait_until)

INDEX = b"<!DOCTYPE html><title>root</title><p>root index</p>\n"
SUB_INDEX = b"<p>sub index</p>\n"
SPACES = b"a file with spaces\n"
TXT = b"plain text\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
XYZ = b"unknown extension\n"  # *.qqqzz: in no mime.types
NOINDEX_FILE = b"in a dir without index\n"
BIG = random.Random(1234).randbytes(1 << 20)
RANGE = bytes(random.Random(99).randbytes(1000))
MTIME = 1577966400  # Thu, 02 Jan 2020 12:00:00 GMT: fixed, so validators are predictable
WEDNESDAY = 1577880000  # Wed, 01 Jan 2020 12:00:00 GMT
SPACED_DIR = "dir with spaces"
ODD_DIR = 'odd %?#"\u00e9'  # bytes a URI path must carry percent-encoded
ODD_DIR_URL = "/odd%20%25%3F%23%22%C3%A9"
FORGED = "x\n[error] forged"  # a socket file: open() gives ENXIO, logged with the path
MAX_LINKS = 40  # symlinks one lookup may follow (the kernel's MAXSYMLINKS)


class StaticTests(ServerCase):
    # the call a failed open is logged under: openat2, or openat (the walk) where it fails
    open_call = "openat2?"

    @classmethod
    def make_docroot(cls, root):
        def put(rel, data):
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (MTIME, MTIME))

        put("index.html", INDEX)
        put("sub/index.html", SUB_INDEX)
        put("noindex/file.txt", NOINDEX_FILE)
        put("file with spaces.txt", SPACES)
        put("plain.txt", TXT)
        put("image.png", PNG)
        put("data.qqqzz", XYZ)
        put("big.bin", BIG)
        put("range.bin", RANGE)
        put("wednesday.bin", RANGE)
        os.utime(os.path.join(root, "wednesday.bin"), (WEDNESDAY, WEDNESDAY))
        os.symlink("plain.txt", os.path.join(root, "link-inside.txt"))
        os.symlink("../index.html", os.path.join(root, "sub", "link-up.html"))
        os.symlink("/etc/passwd", os.path.join(root, "link-outside"))
        os.symlink("../../../../../../etc", os.path.join(root, "link-etc"))
        os.symlink(os.path.join(root, "plain.txt"), os.path.join(root, "link-abs-inside"))
        os.symlink("../../www/plain.txt", os.path.join(root, "sub", "link-out-and-in"))
        os.symlink("sub", os.path.join(root, "link-sub"))
        os.symlink("loop-b", os.path.join(root, "loop-a"))
        os.symlink("loop-a", os.path.join(root, "loop-b"))
        os.symlink("nope", os.path.join(root, "dangling"))
        for i in range(MAX_LINKS + 1):  # chain-0 -> chain-1 -> ... -> chain-40 -> plain.txt
            target = "plain.txt" if i == MAX_LINKS else "chain-%d" % (i + 1)
            os.symlink(target, os.path.join(root, "chain-%d" % i))
        put(SPACED_DIR + "/index.html", SUB_INDEX)
        put(ODD_DIR + "/index.html", SUB_INDEX)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(os.path.join(root, FORGED))
        os.mkfifo(os.path.join(root, "fifo.txt"))
        put("secret.txt", b"secret\n")
        os.chmod(os.path.join(root, "secret.txt"), 0o000)
        # a sibling of the docroot that must stay unreachable
        with open(os.path.join(os.path.dirname(root), "outside.txt"), "wb") as f:
            f.write(b"OUTSIDE THE ROOT\n")

    def get(self, target, headers=None, method="GET"):
        return self.request(method, target, headers=headers)

    def assertServes(self, target, data, ctype=None):
        resp = self.get(target)
        self.assertEqual(resp.status, 200, "%s: %r" % (target, resp))
        self.assertEqual(resp.body, data)
        if ctype is not None:
            self.assertEqual(resp.get("Content-Type", "").split(";")[0].strip(), ctype)
        return resp

    def assertNotServed(self, target, statuses=(400, 403, 404)):
        resp, conn = self.exchange(build_request("GET", target))
        self.assertIn(resp.status, statuses, "%s: %r" % (target, resp))
        for secret in (b"root:", b"OUTSIDE THE ROOT", b"secret"):
            self.assertNotIn(secret, resp.body)

    @property
    def etag(self):
        return self.get("/range.bin", method="HEAD").get("ETag")

    # -- paths

    def test_root_serves_index(self):
        self.assertServes("/", INDEX, "text/html")

    def test_index_by_name(self):
        self.assertServes("/index.html", INDEX, "text/html")

    def test_head_file(self):
        get = self.get("/plain.txt")
        head = self.get("/plain.txt", method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.get("Content-Length"), str(len(TXT)))
        for name in ("Content-Type", "ETag", "Last-Modified", "Content-Length"):
            self.assertEqual(head.get(name), get.get(name), name)

    def test_subdir_with_index(self):
        self.assertServes("/sub/", SUB_INDEX, "text/html")

    def test_dir_without_slash_301(self):
        resp = self.get("/sub")
        self.assertEqual(resp.status, 301)
        self.assertEqual(resp.get("Location"), "/sub/")

    def test_dir_without_slash_301_keeps_query(self):
        resp = self.get("/sub?a=1")
        self.assertEqual(resp.status, 301)
        self.assertEqual(resp.get("Location"), "/sub/?a=1")

    def test_dir_redirect_never_to_another_host(self):
        # the Location comes from the normalised path: "//host" would be another site
        resp = self.get("//evil.example/../sub")
        self.assertEqual(resp.status, 301)
        self.assertEqual(resp.get("Location"), "/sub/")

    def test_dir_redirect_percent_encoded(self):
        for target, location in (("/dir%20with%20spaces", "/dir%20with%20spaces/"),
                                 ("/di%72%20with%20spaces?q=1", "/dir%20with%20spaces/?q=1"),
                                 (ODD_DIR_URL, ODD_DIR_URL + "/"),
                                 ("/link-sub", "/link-sub/")):
            with self.subTest(target=target):
                resp = self.get(target)
                self.assertEqual((resp.status, resp.get("Location")), (301, location))
                self.assertServes(location, SUB_INDEX)

    def test_dir_without_index(self):
        resp = self.get("/noindex/")
        self.assertIn(resp.status, (403, 404))
        self.assertNotIn(b"file.txt", resp.body, "a directory listing was served")

    def test_missing_file_404(self):
        self.assertEqual(self.get("/nope.html").status, 404)

    def test_file_as_directory_404(self):
        self.assertEqual(self.get("/plain.txt/x").status, 404)

    def test_query_ignored_for_files(self):
        self.assertServes("/plain.txt?v=3&x", TXT)

    def test_percent_decoding(self):
        self.assertServes("/file%20with%20spaces.txt", SPACES)

    def test_percent_encoded_letters(self):
        self.assertServes("/%70lain.tx%74", TXT)

    def test_dot_segments(self):
        self.assertServes("/sub/../index.html", INDEX)

    def test_dot_segments_single(self):
        self.assertServes("/./sub/./index.html", SUB_INDEX)

    def test_trailing_dotdot_segment(self):
        # RFC 3986 5.2.4: "/sub/.." is "/"
        self.assertServes("/sub/..", INDEX)

    def test_trailing_dot_segment(self):
        self.assertServes("/sub/.", SUB_INDEX)

    def test_symlink_inside_root(self):
        self.assertServes("/link-inside.txt", TXT)

    def test_symlink_up_but_inside_root(self):
        self.assertServes("/sub/link-up.html", INDEX)

    def test_symlink_to_dir_inside_root(self):
        self.assertServes("/link-sub/index.html", SUB_INDEX)
        self.assertServes("/link-sub/", SUB_INDEX)

    def test_symlink_chain_at_the_limit(self):
        self.assertServes("/chain-1", TXT)  # 40 symlinks

    def test_dangling_symlink_404(self):
        self.assertEqual(self.get("/dangling").status, 404)

    def test_symlink_as_directory_404(self):
        self.assertEqual(self.get("/link-inside.txt/x").status, 404)

    # -- never outside the root

    def test_traversal_dotdot(self):
        self.assertNotServed("/../etc/passwd")

    def test_traversal_many_dotdot(self):
        self.assertNotServed("/../../../../../../../../etc/passwd")

    def test_traversal_to_sibling_of_root(self):
        self.assertNotServed("/../outside.txt")

    def test_traversal_encoded_dots(self):
        self.assertNotServed("/%2e%2e/%2e%2e/etc/passwd")

    def test_traversal_encoded_slash(self):
        self.assertNotServed("/sub/..%2f..%2fetc/passwd")

    def test_traversal_encoded_backslash(self):
        self.assertNotServed("/sub/..%5c..%5cetc/passwd")

    def test_nul_byte(self):
        self.assertNotServed("/%00")

    def test_nul_byte_in_name(self):
        self.assertNotServed("/index.html%00.txt")

    def test_symlink_outside_root(self):
        self.assertNotServed("/link-outside")

    def test_symlink_dir_outside_root(self):
        self.assertNotServed("/link-etc/passwd")

    def test_absolute_symlink_into_root_403(self):
        # like RESOLVE_BENEATH: an absolute symlink is refused even when it points inside
        self.assertNotServed("/link-abs-inside", (403,))

    def test_symlink_out_and_back_in_403(self):
        self.assertNotServed("/sub/link-out-and-in", (403,))

    def test_symlink_loop_403(self):
        self.assertNotServed("/loop-a", (403,))

    def test_symlink_chain_over_the_limit_403(self):
        self.assertNotServed("/chain-0", (403,))  # 41 symlinks: ELOOP

    def test_fifo_does_not_hang(self):
        conn = self.connect(timeout=3)
        started = time.monotonic()
        conn.send(build_request("GET", "/fifo.txt"))
        resp = conn.read_response()
        self.assertIn(resp.status, (403, 404))
        self.assertLess(time.monotonic() - started, 2)

    def test_error_log_escapes_client_path(self):
        # ENXIO (a socket file) maps to no status: logged, with the client's path escaped
        resp = self.get("/x%0a%5Berror%5D%20forged")
        self.assertEqual(resp.status, 500)
        line = re.compile(r"\b%s\(\"x\\x0a\[error\] forged\"\) failed: " % self.open_call)

        def logged():
            text = self.server.log_text()
            return text if line.search(text) else None

        text = wait_until(logged, 5)
        self.assertIsNotNone(text, "no escaped %s line in the error log:\n%s"
                             % (self.open_call, self.server.log_text()[-2000:]))
        forged = [ln for ln in text.splitlines() if ln.startswith("[error] forged")]
        self.assertEqual(forged, [], "a client forged an error-log line")

    def test_unreadable_file_403(self):
        if os.geteuid() == 0:
            self.skipTest("running as root: a mode 000 file is readable")
        self.assertNotServed("/secret.txt", (403, 404))

    # -- Content-Type

    def test_content_type_html(self):
        self.assertServes("/index.html", INDEX, "text/html")

    def test_content_type_png(self):
        self.assertServes("/image.png", PNG, "image/png")

    def test_content_type_text(self):
        self.assertServes("/plain.txt", TXT, "text/plain")

    def test_content_type_unknown(self):
        self.assertServes("/data.qqqzz", XYZ, "application/octet-stream")

    # -- validators and conditional requests

    def test_last_modified_and_etag(self):
        resp = self.get("/range.bin")
        self.assertEqual(resp.get("Last-Modified"), format_imf_fixdate(MTIME))
        etag = resp.get("ETag")
        self.assertRegex(etag or "", r'^(W/)?"[\x21\x23-\x7e]*"$', "ETag not an entity-tag")

    def test_etag_changes_with_content(self):
        path = os.path.join(self.docroot, "changing.txt")
        with open(path, "wb") as f:
            f.write(b"v1\n")
        os.utime(path, (MTIME, MTIME))
        first = self.get("/changing.txt").get("ETag")
        with open(path, "wb") as f:
            f.write(b"version 2\n")
        os.utime(path, (MTIME + 10, MTIME + 10))
        second = self.get("/changing.txt")
        self.assertEqual(second.body, b"version 2\n")
        self.assertNotEqual(first, second.get("ETag"))

    def test_if_none_match_etag_304(self):
        etag = self.etag
        resp = self.get("/range.bin", [("If-None-Match", etag)])
        self.assertEqual(resp.status, 304)
        self.assertEqual(resp.body, b"")
        self.assertEqual(resp.get("ETag"), etag)

    def test_if_none_match_304_has_no_body_on_keepalive(self):
        # 304 has no content: the next response on the connection must parse
        conn = self.connect()
        conn.send(build_request("GET", "/range.bin", headers=[("If-None-Match", self.etag)])
                  + build_request("GET", "/plain.txt"))
        self.assertEqual(conn.read_response().status, 304)
        self.assertEqual(conn.read_response().body, TXT)

    def test_if_none_match_weak_304(self):
        etag = self.etag
        weak = etag if etag.startswith("W/") else "W/" + etag
        self.assertEqual(self.get("/range.bin", [("If-None-Match", weak)]).status, 304)

    def test_if_none_match_star_304(self):
        self.assertEqual(self.get("/range.bin", [("If-None-Match", "*")]).status, 304)

    def test_if_none_match_in_list_304(self):
        value = '"nope", %s, "other"' % self.etag
        self.assertEqual(self.get("/range.bin", [("If-None-Match", value)]).status, 304)

    def test_if_none_match_other_200(self):
        resp = self.get("/range.bin", [("If-None-Match", '"not-the-etag"')])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_none_match_wins_over_if_modified_since(self):
        # RFC 9110 13.1.3: If-Modified-Since is ignored when If-None-Match is present
        resp = self.get("/range.bin", [("If-None-Match", '"not-the-etag"'),
                                       ("If-Modified-Since", format_imf_fixdate(MTIME))])
        self.assertEqual(resp.status, 200)

    def test_if_modified_since_equal_304(self):
        lm = self.get("/range.bin").get("Last-Modified")
        resp = self.get("/range.bin", [("If-Modified-Since", lm)])
        self.assertEqual((resp.status, resp.body), (304, b""))

    def test_if_modified_since_past_200(self):
        resp = self.get("/range.bin", [("If-Modified-Since", format_imf_fixdate(MTIME - 86400))])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_modified_since_garbage_ignored(self):
        resp = self.get("/range.bin", [("If-Modified-Since", "yesterday")])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_match_other_412(self):
        resp = self.get("/range.bin", [("If-Match", '"not-the-etag"')])
        self.assertEqual(resp.status, 412)
        self.assertNotEqual(resp.body, RANGE)

    def test_if_match_star_200(self):
        resp = self.get("/range.bin", [("If-Match", "*")])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_match_current_200(self):
        resp = self.get("/range.bin", [("If-Match", self.etag)])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_unmodified_since_past_412(self):
        resp = self.get("/range.bin", [("If-Unmodified-Since", format_imf_fixdate(MTIME - 60))])
        self.assertEqual(resp.status, 412)

    # -- ranges

    def assertPartial(self, resp, first, last, size=len(RANGE), data=RANGE):
        self.assertEqual(resp.status, 206, repr(resp))
        self.assertEqual(resp.get("Content-Range"), "bytes %d-%d/%d" % (first, last, size))
        self.assertEqual(resp.get("Content-Length"), str(last - first + 1))
        self.assertEqual(resp.body, data[first:last + 1])

    def test_range_first_100(self):
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=0-99")]), 0, 99)

    def test_range_middle(self):
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=500-509")]), 500, 509)

    def test_range_suffix(self):
        n = len(RANGE)
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=-100")]), n - 100, n - 1)

    def test_range_suffix_longer_than_file(self):
        n = len(RANGE)
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=-5000")]), 0, n - 1)

    def test_range_open_ended(self):
        n = len(RANGE)
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=100-")]), 100, n - 1)

    def test_range_single_byte(self):
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=0-0")]), 0, 0)

    def test_range_last_byte(self):
        n = len(RANGE)
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=%d-%d" % (n - 1, n - 1))]),
                           n - 1, n - 1)

    def test_range_end_clipped(self):
        n = len(RANGE)
        self.assertPartial(self.get("/range.bin", [("Range", "bytes=900-5000")]), 900, n - 1)

    def test_range_unsatisfiable_416(self):
        n = len(RANGE)
        resp = self.get("/range.bin", [("Range", "bytes=%d-" % n)])
        self.assertEqual(resp.status, 416, "Range: bytes=%d- on a %d-byte file: %r" % (n, n, resp))
        self.assertEqual(resp.get("Content-Range"), "bytes */%d" % n)

    def test_range_start_and_end_beyond_size_416(self):
        n = len(RANGE)
        resp = self.get("/range.bin", [("Range", "bytes=%d-%d" % (n + 10, n + 20))])
        self.assertEqual(resp.status, 416)
        self.assertEqual(resp.get("Content-Range"), "bytes */%d" % n)

    def test_range_reversed_ignored(self):
        resp = self.get("/range.bin", [("Range", "bytes=5-1")])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_range_other_unit_ignored(self):
        resp = self.get("/range.bin", [("Range", "items=0-1")])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_range_garbage_ignored(self):
        resp = self.get("/range.bin", [("Range", "bytes=abc")])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_multiple_ranges_whole_or_multipart(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-1,5-6")])
        if resp.status == 200:
            self.assertEqual(resp.body, RANGE)
        else:
            self.assertEqual(resp.status, 206)
            self.assertTrue(resp.get("Content-Type", "").startswith("multipart/byteranges"))

    def test_range_on_head_no_body(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-9")], method="HEAD")
        self.assertIn(resp.status, (200, 206))
        self.assertEqual(resp.body, b"")

    def test_if_range_current_etag_206(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-9"), ("If-Range", self.etag)])
        self.assertPartial(resp, 0, 9)

    def test_if_range_old_etag_full(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-9"), ("If-Range", '"old-etag"')])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_if_range_date_206(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-9"),
                                       ("If-Range", format_imf_fixdate(MTIME))])
        self.assertPartial(resp, 0, 9)

    def test_if_range_date_on_a_wednesday_206(self):
        # an HTTP-date starting with "W" ("Wed, ...") is a date, not a weak etag
        resp = self.get("/wednesday.bin", [("Range", "bytes=0-9"),
                                           ("If-Range", format_imf_fixdate(WEDNESDAY))])
        self.assertPartial(resp, 0, 9)

    def test_if_range_other_date_full(self):
        resp = self.get("/range.bin", [("Range", "bytes=0-9"),
                                       ("If-Range", format_imf_fixdate(MTIME - 3600))])
        self.assertEqual((resp.status, resp.body), (200, RANGE))

    def test_range_on_big_file(self):
        resp = self.get("/big.bin", [("Range", "bytes=1000000-1048575")])
        self.assertPartial(resp, 1000000, len(BIG) - 1, len(BIG), BIG)

    # -- large file, sendfile path

    def test_big_file_twice_on_one_connection(self):
        conn = self.connect()
        for _ in range(2):
            conn.send(build_request("GET", "/big.bin"))
            resp = conn.read_response()
            self.check_common(resp)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.get("Content-Length"), str(len(BIG)))
            self.assertTrue(resp.body == BIG, "1 MiB body differs from the file")
        conn.send(build_request("GET", "/plain.txt"))
        self.assertEqual(conn.read_response().body, TXT)

    def test_big_file_pipelined(self):
        # the second request waits in the input buffer while the first 1 MiB is
        # written in several partial sendfile() calls
        conn = self.connect()
        conn.send(build_request("GET", "/big.bin") * 2)
        for _ in range(2):
            resp = conn.read_response()
            self.assertTrue(resp.body == BIG, "1 MiB body differs from the file")

    # -- methods

    def assert405(self, method):
        resp = self.get("/plain.txt", [("Content-Length", "0")], method=method)
        self.assertEqual(resp.status, 405)
        allow = [m.strip() for m in resp.get("Allow", "").split(",")]
        self.assertIn("GET", allow)
        self.assertIn("HEAD", allow)
        self.assertNotIn(method, allow)

    def test_delete_405(self):
        self.assert405("DELETE")

    def test_put_405(self):
        self.assert405("PUT")

    def test_post_405(self):
        self.assert405("POST")


class StaticTestsWithoutCache(StaticTests):
    """Every static row again with [static] cache_entries = 0: files opened per request."""

    config = {"static": {"cache_entries": "0"}}


class WalkForced:
    """Mixin: the server runs with FORKD_RESOLVE=walk, as under systemd's seccomp filters."""

    open_call = "openat"

    @classmethod
    def setUpClass(cls):
        saved = os.environ.get("FORKD_RESOLVE")
        os.environ["FORKD_RESOLVE"] = "walk"
        try:
            super().setUpClass()
        finally:
            if saved is None:
                del os.environ["FORKD_RESOLVE"]
            else:
                os.environ["FORKD_RESOLVE"] = saved


class StaticTestsWalk(WalkForced, StaticTests):
    """Every static row again with paths resolved by the openat(O_NOFOLLOW) walk."""


class StaticTestsWalkWithoutCache(WalkForced, StaticTestsWithoutCache):
    """The walk with the cache off: every request opens its file."""


class StaticCacheEvictionTests(ServerCase):
    """One worker (so the one that cached a file is the one asked again), the cache on:
    a large file is cached as an open descriptor, which must go once the file is deleted."""

    config = {"server": {"workers": "1"}}

    def deleted_fds(self, path):
        """(pid, fd) of worker descriptors still open on the deleted file path."""
        held = []
        for pid in self.server.worker_pids():
            fddir = "/proc/%d/fd" % pid
            try:
                fds = os.listdir(fddir)
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(os.path.join(fddir, fd))
                except OSError:
                    continue
                if target == path + " (deleted)":
                    held.append((pid, fd))
        return held

    def put(self, name, size):
        path = os.path.join(self.docroot, name)
        data = random.Random(size).randbytes(size)
        with open(path, "wb") as f:
            f.write(data)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path, data

    def test_deleted_large_file_is_closed(self):
        path, data = self.put("deleted.bin", 256 << 10)  # above cache_max_file (64 KiB)
        self.assertEqual(self.request("GET", "/deleted.bin").body, data)
        os.unlink(path)
        self.assertEqual(self.request("GET", "/deleted.bin").status, 404)
        held = wait_until(lambda: not self.deleted_fds(path), 5)
        self.assertTrue(held, "a worker still holds the deleted file open: %r"
                        % self.deleted_fds(path))

    def test_deleted_while_sending(self):
        # the entry leaves the cache, the response sending from it keeps its descriptor
        path, data = self.put("sending.bin", 16 << 20)
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(build_request("GET", "/sending.bin"))
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "closed before the head")
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        os.unlink(path)
        self.assertEqual(self.request("GET", "/sending.bin").status, 404)
        self.assertTrue(self.deleted_fds(path), "the response lost its file before the end")
        body = bytearray(body)
        while len(body) < len(data):
            chunk = sock.recv(1 << 20)
            self.assertTrue(chunk, "closed after %d of %d bytes" % (len(body), len(data)))
            body += chunk
        self.assertTrue(bytes(body) == data, "the body differs from the deleted file")
        self.assertTrue(wait_until(lambda: not self.deleted_fds(path), 5),
                        "a worker still holds the deleted file open")
