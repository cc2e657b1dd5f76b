"""Limits that are the configured ones (issue 14): a request-target's path is served or
refused by max_header_size and by what the kernel can name (ENAMETOOLONG: 404), never by
a buffer of the static handler (4.3 KB used to give 414, and 4,097-4,352 bytes 404)."""

import os
import time

from harness import ServerCase

DEEP = "/".join(["d%03d" % i for i in range(400)])  # 1,999 bytes of directories


class LongPathTests(ServerCase):
    config = {"http": {"max_header_size": "65536"}}

    @classmethod
    def make_docroot(cls, root):
        os.makedirs(os.path.join(root, DEEP))
        with open(os.path.join(root, DEEP, "file.txt"), "wb") as f:
            f.write(b"deep\n")
        with open(os.path.join(root, DEEP, "index.html"), "wb") as f:
            f.write(b"deep index\n")

    def test_long_existing_path_is_served(self):
        resp = self.request("GET", "/" + DEEP + "/file.txt")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"deep\n")
        resp = self.request("GET", "/" + DEEP + "/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"deep index\n")

    def test_missing_paths_of_any_length_are_404(self):
        for n in (1000, 4000, 4090, 4097, 4200, 4352, 4400, 8000, 30000, 60000):
            target = "/" + "/".join(["x" * 99] * (n // 100)) + "/" + "y" * (n % 100 + 1)
            resp = self.request("GET", target)
            self.assertEqual(resp.status, 404, "a %d-byte path: %r" % (len(target), resp))

    def test_a_long_name_is_404(self):
        self.assertEqual(self.request("GET", "/" + "n" * 300).status, 404)

    def test_beyond_the_head_size_is_the_parser_s_answer(self):
        resp = self.request("GET", "/" + "z" * 70000)
        self.assertIn(resp.status, (414, 431))


class EarlyInvalidByteTests(ServerCase):
    """A byte no head may hold, sent in a later packet of a head not yet complete, gets its
    400 at once: the client does not wait for header_timeout and a 408."""

    config = {"http": {"header_timeout": "5s"}}

    def drip(self, first, second):
        conn = self.connect(timeout=4)
        conn.send(first)
        time.sleep(0.2)  # the server has read and parsed the first part: "need more"
        started = time.monotonic()
        conn.send(second)
        resp = conn.read_response()
        return resp, time.monotonic() - started

    def test_impossible_bytes(self):
        for first, second in ((b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v", b"a\x01b"),  # a value
                              (b"GET /ind", b"ex\x7f"),  # the request line
                              (b"GET / HTTP/1.1\r\nHost: x\r", b"X")):  # CR without LF
            resp, took = self.drip(first, second)
            self.assertEqual(resp.status, 400, second)
            self.assertLess(took, 2, second)

    def test_valid_drip_still_served(self):
        resp, _ = self.drip(b"GET / HTTP/1.1\r\nHo", b"st: x\r\n\r\n")
        self.assertEqual(resp.status, 200)


class LongRedirectTests(ServerCase):
    """A directory's redirect keeps its whole absolute Location, however long the path and
    the query the head may carry: the response's header lines grow past their first KiB
    (a 2 KB path and a 30 KB query here, where a 1 KiB area gave a 500)."""

    config = {"http": {"max_header_size": "65536"}}

    @classmethod
    def make_docroot(cls, root):
        os.makedirs(os.path.join(root, DEEP, "a:b"))

    def test_long_directory_redirect(self):
        target = "/" + DEEP
        resp = self.request("GET", target + "?q=1")
        self.assertEqual(resp.status, 301, resp)
        self.assertEqual(resp.get("Location"), target + "/?q=1")
        resp = self.request("GET", target + "/")
        self.assertIn(resp.status, (403, 404))  # the directory itself, no index, no listing

    def test_long_query_kept(self):
        query = "q=" + "x" * 30000
        resp = self.request("GET", "/" + DEEP + "/a:b?" + query)
        self.assertEqual(resp.status, 301, resp)
        self.assertEqual(resp.get("Location"), "/" + DEEP + "/a:b/?" + query)

    def test_short_paths_stay_absolute(self):
        resp = self.request("GET", "/d000")
        self.assertEqual(resp.get("Location"), "/d000/")
