"""Compression (issue 14, "Compression"): name.br / name.gz siblings served by
Accept-Encoding ([static] precompressed, q-values, identity;q=0, *), each with
its own ETag, ranges and conditionals on the encoded bytes, Vary; gzip on the
fly ([static] gzip) compressed once per file version in the file cache, for
gzip_types above gzip_min_length; [site] overrides; forkd -t refuses bad keys
with file:line."""

import gzip
import os
import random
import unittest

from harness import ConfigCheckCase, ServerCase

MTIME = 1577966400  # Thu, 02 Jan 2020 12:00:00 GMT
PAGE = b"".join(b"<p>line %d of a page that compresses well</p>\n" % i for i in range(60))
PAGE_GZ = gzip.compress(PAGE, mtime=0)
PAGE_BR = b"brotli stand-in: forkd sends the sibling's bytes as they are\n"
STYLE = b"body { color: black; }\n" * 40
NOISE = random.Random(7).randbytes(3000)  # does not compress
BIG = b"".join(b"row %06d of a file larger than cache_max_file\n" % i for i in range(400))
BIG_GZ = gzip.compress(BIG, mtime=0)


def put(root, rel, data, mtime=MTIME):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))
    return path


class CompressionCase(ServerCase):
    def get(self, target, ae=None, method="GET", host="localhost", **headers):
        hdrs = [(k.replace("_", "-"), v) for k, v in headers.items()]
        if ae is not None:
            hdrs.append(("Accept-Encoding", ae))
        return self.request(method, target, headers=hdrs, host=host)


class TestPrecompressed(CompressionCase):
    config = {
        "static": {"cache_max_file": "4k"},  # BIG's sibling is opened per response
        "site plain": {"server_name": "plain.example", "precompressed": "no"},
    }

    @classmethod
    def make_docroot(cls, root):
        put(root, "page.html", PAGE)
        put(root, "page.html.gz", PAGE_GZ)
        put(root, "page.html.br", PAGE_BR)
        put(root, "style.css", STYLE)
        put(root, "style.css.gz", gzip.compress(STYLE, mtime=0))
        put(root, "noise.bin", NOISE)
        put(root, "noise.bin.gz", b"a sibling of any type is served")
        put(root, "stale.txt", PAGE)
        put(root, "stale.txt.gz", PAGE_GZ, mtime=MTIME - 60)  # older than its file
        put(root, "dir.txt", PAGE)
        os.mkdir(os.path.join(root, "dir.txt.gz"))  # not a regular file
        put(root, "big.txt", BIG)
        put(root, "big.txt.gz", BIG_GZ)
        put(root, "escape.txt", PAGE)
        outside = put(os.path.dirname(root), "outside.gz", b"outside the root")
        os.symlink(outside, os.path.join(root, "escape.txt.gz"))
        put(root, "later.txt", PAGE)

    def test_gzip_sibling_for_gzip(self):
        r = self.get("/page.html", "gzip")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(r.body, PAGE_GZ)
        self.assertEqual(gzip.decompress(r.body), PAGE)
        self.assertEqual(r.get("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.get("Vary"), "Accept-Encoding")

    def test_q_values_choose(self):
        cases = [
            ("gzip, br", "br"),
            ("br, gzip", "br"),  # equal q: br first, whatever the order written
            ("br;q=0.5, gzip", "gzip"),
            ("br;q=0, gzip", "gzip"),
            ("BR;Q=0.9, GZIP;q=0.8", "br"),
            ("*", "br"),
            ("*;q=0.5, br;q=0", "gzip"),
            ("x-gzip", "gzip"),
            ("gzip;q=0", None),
            ("gzip;q=0, br;q=0", None),
            ("deflate", None),
            ("", None),
            ("gzip;q=0.5, identity", None),  # identity preferred
            ("identity;q=0, gzip;q=0, br;q=0", None),  # nothing acceptable: identity anyway
            ("identity;q=0, gzip", "gzip"),
            ("gzip;q=2, br;q=0.1", "br"),  # a bad q skips that element only
        ]
        want_body = {"br": PAGE_BR, "gzip": PAGE_GZ, None: PAGE}
        for ae, coding in cases:
            with self.subTest(ae=ae):
                r = self.get("/page.html", ae)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.get("Content-Encoding"), coding)
                self.assertEqual(r.body, want_body[coding])
                self.assertEqual(r.get("Vary"), "Accept-Encoding")

    def test_accept_encoding_over_two_lines(self):
        r = self.request("GET", "/page.html", headers=[("Accept-Encoding", "gzip;q=0.5"),
                                                      ("Accept-Encoding", "br")])
        self.assertEqual(r.get("Content-Encoding"), "br")

    def test_identity_without_the_field_still_varies(self):
        r = self.get("/page.html")
        self.assertEqual(r.body, PAGE)
        self.assertNotIn("Content-Encoding", r)
        self.assertEqual(r.get("Vary"), "Accept-Encoding")

    def test_etags_differ(self):
        tags = {self.get("/page.html", ae).get("ETag") for ae in (None, "gzip", "br")}
        self.assertEqual(len(tags), 3, tags)
        self.assertTrue(all(tags), tags)

    def test_range_on_encoded_bytes(self):
        r = self.get("/page.html", "gzip", Range="bytes=0-9")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.get("Content-Range"), "bytes 0-9/%d" % len(PAGE_GZ))
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(r.body, PAGE_GZ[:10])
        r = self.get("/page.html", "gzip", Range="bytes=-5")
        self.assertEqual(r.body, PAGE_GZ[-5:])
        r = self.get("/page.html", "gzip", Range="bytes=%d-" % len(PAGE_GZ))
        self.assertEqual(r.status, 416)
        self.assertEqual(r.get("Content-Range"), "bytes */%d" % len(PAGE_GZ))
        self.assertNotIn("Content-Encoding", r)  # the error page is not gzip

    def test_several_ranges_of_encoded_bytes_whole(self):
        # a multipart body's parts cannot say Content-Encoding: the whole sibling instead
        r = self.get("/big.txt", "gzip", Range="bytes=0-1,100-101")
        self.assertEqual((r.status, r.get("Content-Encoding")), (200, "gzip"))
        self.assertEqual(r.body, BIG_GZ)
        r = self.get("/big.txt", Range="bytes=0-1,100-101")  # the file as is: multipart
        self.assertEqual(r.status, 206)
        self.assertTrue(r.get("Content-Type").startswith("multipart/byteranges; boundary="))
        self.assertNotIn("Content-Encoding", r)
        # one range of it, or ranges merged into one, stay a plain 206 of the encoded bytes
        r = self.get("/big.txt", "gzip", Range="bytes=0-1,2-3")
        self.assertEqual((r.status, r.get("Content-Range")), (206, "bytes 0-3/%d" % len(BIG_GZ)))
        self.assertEqual((r.get("Content-Encoding"), r.body), ("gzip", BIG_GZ[:4]))

    def test_conditionals_on_the_encoded_tag(self):
        tag = self.get("/page.html", "gzip").get("ETag")
        r = self.get("/page.html", "gzip", If_None_Match=tag)
        self.assertEqual(r.status, 304)
        self.assertEqual(r.get("ETag"), tag)
        self.assertEqual(r.get("Vary"), "Accept-Encoding")
        # the same tag names nothing of the identity representation
        self.assertEqual(self.get("/page.html", None, If_None_Match=tag).status, 200)
        # If-Range with the encoded tag: the range of the encoded bytes
        r = self.get("/page.html", "gzip", Range="bytes=0-3", If_Range=tag)
        self.assertEqual((r.status, r.body), (206, PAGE_GZ[:4]))
        self.assertEqual(self.get("/page.html", "gzip", If_Match=tag).status, 200)
        self.assertEqual(self.get("/page.html", "br", If_Match=tag).status, 412)

    def test_head_has_the_encoded_length(self):
        r = self.get("/page.html", "gzip", method="HEAD")
        self.assertEqual(int(r.get("Content-Length")), len(PAGE_GZ))
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(r.body, b"")

    def test_sibling_of_any_type(self):
        r = self.get("/noise.bin", "gzip")
        self.assertEqual((r.get("Content-Encoding"), r.body),
                         ("gzip", b"a sibling of any type is served"))
        self.assertEqual(r.get("Content-Type"), "application/octet-stream")
        self.assertEqual(r.get("Vary"), "Accept-Encoding")
        r = self.get("/style.css", "br, gzip")  # only .gz there
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), STYLE)

    def test_unusable_siblings_ignored(self):
        for target in ("/stale.txt", "/dir.txt", "/escape.txt"):
            with self.subTest(target=target):
                r = self.get(target, "gzip")
                self.assertEqual(r.status, 200)
                self.assertNotIn("Content-Encoding", r)
                self.assertEqual(r.body, PAGE)

    def test_large_sibling_sent_from_its_file(self):
        for _ in range(3):  # not kept by the cache: opened for each response
            r = self.get("/big.txt", "gzip")
            self.assertEqual((r.get("Content-Encoding"), r.body), ("gzip", BIG_GZ))
        r = self.get("/big.txt", "gzip", Range="bytes=1-2")
        self.assertEqual((r.status, r.body), (206, BIG_GZ[1:3]))

    def test_sibling_made_and_removed_shows_at_once(self):
        path = os.path.join(self.docroot, "later.txt.gz")
        self.assertNotIn("Content-Encoding", self.get("/later.txt", "gzip"))
        put(self.docroot, "later.txt.gz", PAGE_GZ)
        for _ in range(4):  # both workers
            self.assertEqual(self.get("/later.txt", "gzip").get("Content-Encoding"), "gzip")
        os.unlink(path)
        for _ in range(4):
            r = self.get("/later.txt", "gzip")
            self.assertNotIn("Content-Encoding", r)
            self.assertEqual(r.body, PAGE)

    def test_site_with_precompressed_off(self):
        r = self.get("/page.html", "gzip, br", host="plain.example")
        self.assertEqual(r.status, 200)
        self.assertNotIn("Content-Encoding", r)
        self.assertNotIn("Vary", r)
        self.assertEqual(r.body, PAGE)


class TestGzipOnTheFly(CompressionCase):
    config = {
        "static": {"gzip": "yes", "precompressed": "no", "cache_max_file": "64k"},
        "site nogzip": {"server_name": "nogzip.example", "gzip": "no"},
        "site types": {"server_name": "types.example", "gzip_types": "application/*",
                       "gzip_min_length": "10", "gzip_level": "1"},
    }

    @classmethod
    def make_docroot(cls, root):
        put(root, "page.html", PAGE * 8)
        put(root, "page.html.gz", b"never served: precompressed = no")
        put(root, "tiny.html", b"<p>below gzip_min_length</p>\n")
        put(root, "image.png", b"\x89PNG" + b"\0" * 4000)  # compresses, but not a listed type
        put(root, "noise.js", NOISE)  # a listed type that does not get smaller
        put(root, "data.json", b'{"key": "value"}\n' * 300)
        put(root, "huge.txt", b"a line of a file above cache_max_file\n" * 3000)
        put(root, "change.css", STYLE)

    def test_compressed_once_and_identical(self):
        bodies = set()
        for _ in range(6):  # both workers compress it: the same bytes, the same tag
            r = self.get("/page.html", "gzip")
            self.assertEqual(r.get("Content-Encoding"), "gzip")
            self.assertEqual(r.get("Vary"), "Accept-Encoding")
            self.assertEqual(r.get("Content-Type"), "text/html; charset=utf-8")
            self.assertEqual(gzip.decompress(r.body), PAGE * 8)
            self.assertLess(len(r.body), len(PAGE) * 8 // 4)
            bodies.add((r.body, r.get("ETag")))
        self.assertEqual(len(bodies), 1)

    def test_own_strong_etag_and_conditionals(self):
        plain = self.get("/page.html").get("ETag")
        r = self.get("/page.html", "gzip")
        tag = r.get("ETag")
        self.assertNotEqual(tag, plain)
        self.assertTrue(tag.endswith('-gz"'), tag)
        self.assertEqual(tag, plain[:-1] + '-gz"')
        self.assertEqual(self.get("/page.html", "gzip", If_None_Match=tag).status, 304)
        self.assertEqual(self.get("/page.html", "gzip", If_None_Match=plain).status, 200)
        part = self.get("/page.html", "gzip", Range="bytes=10-19", If_Range=tag)
        self.assertEqual((part.status, part.body), (206, r.body[10:20]))
        self.assertEqual(part.get("Content-Range"), "bytes 10-19/%d" % len(r.body))

    def test_head_same_length(self):
        got = self.get("/page.html", "gzip")
        head = self.get("/page.html", "gzip", method="HEAD")
        self.assertEqual(head.get("Content-Length"), got.get("Content-Length"))
        self.assertEqual(head.get("Content-Encoding"), "gzip")
        self.assertEqual(head.get("ETag"), got.get("ETag"))

    def test_not_compressed(self):
        cases = [
            ("/tiny.html", True),   # below gzip_min_length (a listed type: Vary)
            ("/image.png", False),  # not in gzip_types
            ("/noise.js", True),    # would not get smaller
            ("/huge.txt", True),    # above cache_max_file: not held in memory
        ]
        for target, vary in cases:
            with self.subTest(target=target):
                r = self.get(target, "gzip, br")
                self.assertEqual(r.status, 200)
                self.assertNotIn("Content-Encoding", r)
                self.assertEqual(r.get("Vary"), "Accept-Encoding" if vary else None)
                with open(os.path.join(self.docroot, target[1:]), "rb") as f:
                    self.assertEqual(r.body, f.read())

    def test_not_when_refused(self):
        for ae in (None, "gzip;q=0", "br", "identity"):
            with self.subTest(ae=ae):
                r = self.get("/page.html", ae)
                self.assertNotIn("Content-Encoding", r)
                self.assertEqual(r.body, PAGE * 8)
                self.assertEqual(r.get("Vary"), "Accept-Encoding")

    def test_file_change_compressed_again(self):
        r = self.get("/change.css", "gzip")
        self.assertEqual(gzip.decompress(r.body), STYLE)
        new = b"p { margin: 0 }\n" * 70
        path = put(self.docroot, "change.css", new, mtime=MTIME + 10)
        for _ in range(4):  # both workers
            r = self.get("/change.css", "gzip")
            self.assertEqual(gzip.decompress(r.body), new)
        # rewritten with the same size in place: the tag still changes
        same_size = new.replace(b"margin", b"border")
        with open(path, "r+b") as f:
            f.write(same_size)
        os.utime(path, ns=(MTIME * 10**9 + 20, MTIME * 10**9 + 20))
        r = self.get("/change.css", "gzip")
        self.assertEqual(gzip.decompress(r.body), same_size)

    def test_site_overrides(self):
        r = self.get("/page.html", "gzip", host="nogzip.example")
        self.assertNotIn("Content-Encoding", r)
        self.assertNotIn("Vary", r)
        # types.example: application/* only, from 10 bytes, level 1
        r = self.get("/data.json", "gzip", host="types.example")
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), b'{"key": "value"}\n' * 300)
        self.assertNotIn("Content-Encoding", self.get("/page.html", "gzip", host="types.example"))
        self.assertEqual(r.body[:3], b"\x1f\x8b\x08")


class TestGzipSizeCap(CompressionCase):
    """Compressing runs on the loop: above 1 MiB never, even when the cache holds the file."""

    config = {"static": {"gzip": "yes", "cache_max_file": "4m"}}
    LINE = b"a line of text that a page would have, more or less %07d\n"

    @classmethod
    def make_docroot(cls, root):
        put(root, "under.txt", b"".join(cls.LINE % i for i in range(15000)))  # 0.9 MiB
        put(root, "over.txt", b"".join(cls.LINE % i for i in range(20000)))  # 1.1 MiB

    def test_cap(self):
        r = self.get("/under.txt", "gzip")
        self.assertEqual(r.get("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), b"".join(self.LINE % i for i in range(15000)))
        r = self.get("/over.txt", "gzip")
        self.assertNotIn("Content-Encoding", r)
        self.assertEqual(len(r.body), 20000 * len(self.LINE % 0))


class TestCompressionConfig(ConfigCheckCase):
    def check(self, text, line=None, what=None):
        if line is not None:
            self.assertRefused(text, line, what)
            return
        _, r = self.check_t(text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_mistakes_refused_with_line(self):
        base = "[static]\nroot = www\n"
        self.check(base + "gzip = maybe\n", 3, "gzip")
        self.check(base + "precompressed = 1\n", 3, "precompressed")
        self.check(base + "gzip_level = 0\n", 3, "gzip_level")
        self.check(base + "gzip_level = 10\n", 3, "gzip_level")
        self.check(base + "gzip_min_length = ten\n", 3, "gzip_min_length")
        self.check(base + "gzip_types = text/html text\n", 3, "'text'")
        self.check(base + "gzip_types = */html\n", 3, "'*/html'")
        self.check(base + "gzip_types = text/ht*ml\n", 3, "'text/ht*ml'")
        self.check(base + "[site a]\nserver_name = a.example\ngzip_level = 11\n", 5, "gzip_level")

    def test_good_values(self):
        base = "[static]\nroot = www\n"
        self.check(base + "gzip = yes\ngzip_level = 9\ngzip_min_length = 1k\n"
                   "gzip_types = text/* application/json IMAGE/SVG+XML\n")
        self.check(base + "gzip_types = none\n[site a]\nserver_name = a\ngzip = yes\n")


if __name__ == "__main__":
    unittest.main()
