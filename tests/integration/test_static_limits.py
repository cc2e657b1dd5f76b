"""Limits that are the configured ones (issue 14): a request-target's path is served or
refused by max_header_size and by what the kernel can name (ENAMETOOLONG: 404), never by
a buffer of the static handler (4.3 KB used to give 414, and 4,097-4,352 bytes 404)."""

import os

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
