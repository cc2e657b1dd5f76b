"""Several byte ranges (RFC 9110 14): 206 multipart/byteranges parsed back and
compared byte for byte with the file, for a file held in memory and one sent
with sendfile() (past cache_max_file); overlapping and adjacent ranges merged
(one left: a plain 206); unsatisfiable ones dropped, 416 when none is left;
[http] max_ranges (16 by default; beyond it, and with 0, the whole file);
a multipart body larger than the file is not sent (the whole file is);
Content-Length is exactly the bytes sent; curl reads it as well."""

import os
import random
import re
import shutil
import subprocess

from harness import ServerCase, build_request, format_imf_fixdate

SMALL = random.Random(14).randbytes(4000)  # below cache_max_file (64k): held in memory
LARGE = random.Random(41).randbytes(300000)  # above it: an fd, sendfile() at offsets
TINY = b"0123456789abcdefghij"  # any two parts' headers outweigh it
FILES = {"/small.txt": SMALL, "/large.bin": LARGE, "/tiny.txt": TINY}
CTYPES = {"/small.txt": "text/plain; charset=utf-8", "/large.bin": "application/octet-stream"}
MTIME = 1577966400


def parse_multipart(resp, data):
    """The parts of a multipart/byteranges body as [(first, last, headers, bytes)],
    checked strictly: one boundary, each part's Content-Range against the file's
    size, a close delimiter and nothing after it."""
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})",
                     resp.get("Content-Type", ""))
    assert m, "Content-Type: %r" % resp.get("Content-Type")
    delim = b"--" + m.group(1).encode()
    body = resp.body
    assert body.startswith(delim + b"\r\n"), body[:100]
    assert body.endswith(b"\r\n" + delim + b"--\r\n"), body[-100:]
    inner = body[len(delim) + 2:-(len(delim) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delim + b"\r\n"):
        head, sep, content = raw.partition(b"\r\n\r\n")
        assert sep, "part without an empty line: %r" % raw[:200]
        headers = {}
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(": ")
            assert name.lower() not in headers, "header twice in a part: %r" % head
            headers[name.lower()] = value
        cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", ""))
        assert cr, "part's Content-Range: %r" % headers
        first, last, size = (int(x) for x in cr.groups())
        assert size == len(data), (size, len(data))
        assert len(content) == last - first + 1, (first, last, len(content))
        parts.append((first, last, headers, content))
    return parts


class RangeTests(ServerCase):
    """[http] max_ranges at its default, 16."""

    @classmethod
    def make_docroot(cls, root):
        for path, data in FILES.items():
            with open(os.path.join(root, path[1:]), "wb") as f:
                f.write(data)
            os.utime(os.path.join(root, path[1:]), (MTIME, MTIME))

    def get(self, target, ranges, headers=(), method="GET"):
        """One request that closes the connection: the response, and a check that
        the server sent exactly Content-Length body bytes and nothing after them."""
        conn = self.connect()
        hdrs = [("Range", ranges)] if ranges is not None else []
        conn.send(build_request(method, target, headers=hdrs + list(headers)
                                + [("Connection", "close")]))
        resp = conn.read_response(method)
        self.check_common(resp, method)
        self.assertEqual(conn.read_until_close(), b"", "bytes past Content-Length")
        return resp

    def assertMultipart(self, target, ranges, want):
        """206 multipart with the parts want [(first, last)], in that order, each
        with the file's Content-Type and bytes."""
        data = FILES[target]
        resp = self.get(target, ranges)
        self.assertEqual(resp.status, 206, resp)
        self.assertIsNone(resp.get("Content-Range"), "a multipart 206 has none of its own")
        parts = parse_multipart(resp, data)
        self.assertEqual([(p[0], p[1]) for p in parts], want)
        for first, last, headers, content in parts:
            self.assertEqual(headers.get("content-type"), CTYPES[target])
            self.assertTrue(content == data[first:last + 1],
                            "part %d-%d differs from the file" % (first, last))
        return resp

    def assertSingle(self, target, ranges, first, last):
        data = FILES[target]
        resp = self.get(target, ranges)
        self.assertEqual(resp.status, 206, resp)
        self.assertEqual(resp.get("Content-Range"), "bytes %d-%d/%d" % (first, last, len(data)))
        self.assertEqual(resp.get("Content-Type"), CTYPES.get(target, resp.get("Content-Type")))
        self.assertTrue(resp.body == data[first:last + 1])
        return resp

    def assertWhole(self, target, ranges, headers=()):
        resp = self.get(target, ranges, headers)
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.get("Content-Range"))
        self.assertTrue(resp.body == FILES[target], "the whole file")
        return resp

    # -- multipart, both ways a file is sent

    def test_two_ranges_in_memory_file(self):
        self.assertMultipart("/small.txt", "bytes=0-1,5-6", [(0, 1), (5, 6)])

    def test_two_ranges_sendfile_file(self):
        self.assertMultipart("/large.bin", "bytes=0-1,5-6", [(0, 1), (5, 6)])

    def test_many_ranges_across_a_large_file(self):
        n = len(LARGE)
        self.assertMultipart("/large.bin", "bytes=100000-165535,-10,7-7,200000-",
                             [(7, 7), (100000, 165535), (200000, n - 1)])

    def test_sixteen_ranges_in_memory(self):
        spec = ",".join("%d-%d" % (i * 200, i * 200 + 99) for i in range(16))
        self.assertMultipart("/small.txt", "bytes=" + spec,
                             [(i * 200, i * 200 + 99) for i in range(16)])

    def test_parts_sorted(self):
        self.assertMultipart("/small.txt", "bytes=3000-3009,10-19", [(10, 19), (3000, 3009)])

    # -- merging

    def test_overlapping_merged_into_one_206(self):
        self.assertSingle("/small.txt", "bytes=0-9,5-19", 0, 19)
        self.assertSingle("/large.bin", "bytes=1000-1999,1500-2999,1200-1300", 1000, 2999)

    def test_adjacent_merged_into_one_206(self):
        self.assertSingle("/small.txt", "bytes=0-9,10-19", 0, 19)
        self.assertSingle("/large.bin", "bytes=-100,0-", 0, len(LARGE) - 1)

    def test_merged_and_apart(self):
        self.assertMultipart("/large.bin", "bytes=30-39,0-9,5-19", [(0, 19), (30, 39)])

    def test_amplification_costs_no_more_than_the_file(self):
        # 16 copies of the whole file asked for: one copy sent, as a plain 206
        resp = self.assertSingle("/large.bin", "bytes=" + ",".join(["0-"] * 16), 0,
                                 len(LARGE) - 1)
        self.assertEqual(int(resp.get("Content-Length")), len(LARGE))
        # overlapping ranges interleaved: merged into one range too
        spec = ",".join("%d-%d" % (i, i + 100000) for i in range(0, 16000, 1000))
        self.assertSingle("/large.bin", "bytes=" + spec, 0, 115000)

    def test_parts_heavier_than_the_file_whole_200(self):
        # two one-byte parts of a 20-byte file: their headers outweigh it
        self.assertWhole("/tiny.txt", "bytes=0-0,5-5")
        # yet one range of it is a plain 206
        self.assertSingle("/tiny.txt", "bytes=0-0,1-1", 0, 1)

    # -- unsatisfiable ranges, the cap

    def test_unsatisfiable_dropped(self):
        n = len(SMALL)
        self.assertSingle("/small.txt", "bytes=%d-,0-1" % n, 0, 1)
        self.assertMultipart("/large.bin", "bytes=5000000-,0-1,-0,10-11", [(0, 1), (10, 11)])

    def test_all_unsatisfiable_416(self):
        for target in ("/small.txt", "/large.bin"):
            n = len(FILES[target])
            resp = self.get(target, "bytes=%d-,%d-%d,-0" % (n, n + 5, n + 9))
            self.assertEqual(resp.status, 416, resp)
            self.assertEqual(resp.get("Content-Range"), "bytes */%d" % n)

    def test_syntax_error_anywhere_whole_200(self):
        self.assertWhole("/small.txt", "bytes=0-1,x-5")
        self.assertWhole("/large.bin", "bytes=0-1,7-3")

    def test_over_the_limit_whole_200(self):
        spec = ",".join("%d-%d" % (i * 100, i * 100 + 9) for i in range(17))
        resp = self.assertWhole("/small.txt", "bytes=" + spec)
        self.assertEqual(resp.get("Accept-Ranges"), "bytes")
        self.assertWhole("/large.bin", "bytes=" + ",".join(["0-0"] * 17))

    # -- what stays as it was

    def test_head_ignores_range(self):
        resp = self.get("/small.txt", "bytes=0-1,5-6", method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Content-Length"), str(len(SMALL)))

    def test_stale_if_range_whole_200(self):
        self.assertWhole("/large.bin", "bytes=0-1,5-6",
                         [("If-Range", format_imf_fixdate(MTIME - 60))])
        self.assertMultipart("/large.bin", "bytes=0-1,5-6", [(0, 1), (5, 6)])

    def test_keepalive_after_multipart(self):
        # pipelined: each body ends exactly where its Content-Length says
        conn = self.connect()
        req = build_request("GET", "/large.bin", headers=[("Range", "bytes=0-99,-100")])
        conn.send(req + build_request("GET", "/small.txt", headers=[("Range", "bytes=0-0,9-9")])
                  + build_request("GET", "/tiny.txt"))
        first = conn.read_response()
        self.assertEqual(len(parse_multipart(first, LARGE)), 2)
        second = conn.read_response()
        self.assertEqual([p[3] for p in parse_multipart(second, SMALL)], [SMALL[0:1], SMALL[9:10]])
        self.assertEqual(conn.read_response().body, TINY)

    def test_boundary_differs_per_response(self):
        a = self.get("/small.txt", "bytes=0-1,5-6").get("Content-Type")
        b = self.get("/small.txt", "bytes=0-1,5-6").get("Content-Type")
        self.assertNotEqual(a, b)

    def test_curl_reads_it(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed")
        for target in ("/small.txt", "/large.bin"):
            p = subprocess.run([curl, "-sS", "-r", "0-1,5-6", "-D", "-", "-o", "-",
                                "http://127.0.0.1:%d%s" % (self.port, target)],
                               capture_output=True, timeout=30)
            # curl checks the length: a short or long body is an error (18) here
            self.assertEqual(p.returncode, 0, p.stderr)
            head, _, body = p.stdout.partition(b"\r\n\r\n")
            self.assertIn(b"HTTP/1.1 206 Partial Content", head)
            ctype = re.search(rb"(?im)^Content-Type: (.*)\r$", head).group(1).decode()
            fake = type("R", (), {"get": lambda self, n, d=None: ctype, "body": body})()
            parts = parse_multipart(fake, FILES[target])
            self.assertEqual([p[3] for p in parts], [FILES[target][0:2], FILES[target][5:7]])


class RangesOffTests(ServerCase):
    """[http] max_ranges = 0: every Range is ignored, and Accept-Ranges says none."""

    config = {"http": {"max_ranges": "0"}}
    make_docroot = RangeTests.make_docroot
    get = RangeTests.get
    assertWhole = RangeTests.assertWhole

    def test_single_range_whole_200(self):
        resp = self.assertWhole("/small.txt", "bytes=0-1")
        self.assertEqual(resp.get("Accept-Ranges"), "none")
        self.assertWhole("/large.bin", "bytes=0-1,5-6")

    def test_unsatisfiable_is_not_416(self):
        self.assertWhole("/small.txt", "bytes=999999-")


class TwoRangesTests(ServerCase):
    """[http] max_ranges = 2: two ranges are served, three are the whole file."""

    config = {"http": {"max_ranges": "2"}}
    make_docroot = RangeTests.make_docroot
    get = RangeTests.get
    assertWhole = RangeTests.assertWhole
    assertMultipart = RangeTests.assertMultipart

    def test_at_and_over_the_limit(self):
        self.assertMultipart("/large.bin", "bytes=0-1,5-6", [(0, 1), (5, 6)])
        self.assertWhole("/large.bin", "bytes=0-1,5-6,9-9")
        # counted as listed, before merging
        self.assertWhole("/small.txt", "bytes=0-1,1-2,2-3")
