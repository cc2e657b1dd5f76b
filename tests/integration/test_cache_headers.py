"""Caching headers and types (issue 14): [cache PATTERN] rules give Cache-Control and/or
Expires by exact path, longest prefix, then extension, per site or for all; on 200, 206
and 304, never on an error unless errors = yes, never on a redirect; /status and the
health URL keep no-store. [mime] lines override /etc/mime.types and the built-in types;
charset (per site) goes on text types."""

import os
import time
import unittest

from harness import ConfigCheckCase, ServerCase, class_tempdir, parse_imf_fixdate


class CacheRulesCase(ServerCase):
    @classmethod
    def setUpClass(cls):
        cls.other = class_tempdir(cls, "forkd-other-")
        with open(os.path.join(cls.other, "page.html"), "wb") as f:
            f.write(b"other site\n")
        with open(os.path.join(cls.other, "notes.md"), "wb") as f:
            f.write(b"# notes\n")
        cls.config = {
            "server": {"workers": "1"},
            "health": {"path": "/healthz"},
            "status": {"path": "/status"},
            "cache /assets/": {"cache_control": "max-age=31536000, immutable"},
            "cache *.html": {"cache_control": "no-cache"},
            "cache /assets/legacy/": {"expires": "1h"},
            "cache /missing/": {"cache_control": "max-age=60", "errors": "yes"},
            "cache *.md": {"cache_control": "max-age=5", "site": "other"},
            "mime": {"md": "text/markdown", "fkd": "application/x-forkd"},
            "site other": {"server_name": "other.example", "root": cls.other,
                           "charset": "iso-8859-1"},
        }
        super().setUpClass()

    @classmethod
    def make_docroot(cls, root):
        super().make_docroot(root)
        os.makedirs(os.path.join(root, "assets", "legacy"))
        os.makedirs(os.path.join(root, "dir"))
        files = {"assets/app.js": b"js", "assets/page.html": b"<p>a</p>",
                 "assets/legacy/old.css": b"css", "plain.txt": b"txt", "notes.md": b"# md",
                 "x.fkd": b"x", "dir/index.html": b"<p>d</p>"}
        for rel, data in files.items():
            with open(os.path.join(root, rel), "wb") as f:
                f.write(data)


class TestCacheRules(CacheRulesCase):
    def test_prefix_rule_wins_over_extension(self):
        r = self.request("GET", "/assets/page.html")
        self.assertEqual(r.get("Cache-Control"), "max-age=31536000, immutable")
        self.assertNotIn("Expires", r)

    def test_extension_rule_and_index_file(self):
        self.assertEqual(self.request("GET", "/index.html").get("Cache-Control"), "no-cache")
        # a directory URL is its index file: the .html rule applies
        self.assertEqual(self.request("GET", "/dir/").get("Cache-Control"), "no-cache")

    def test_no_rule_no_header(self):
        r = self.request("GET", "/plain.txt")
        self.assertNotIn("Cache-Control", r)
        self.assertNotIn("Expires", r)

    def test_expires_alone_gives_max_age_too(self):
        r = self.request("GET", "/assets/legacy/old.css")
        self.assertEqual(r.get("Cache-Control"), "max-age=3600")
        expires = parse_imf_fixdate(r.get("Expires"))
        self.assertLess(abs(expires - (time.time() + 3600)), 5)

    def test_304_and_206_carry_it(self):
        r = self.request("GET", "/assets/app.js")
        r304 = self.request("GET", "/assets/app.js", headers={"If-None-Match": r.get("ETag")})
        self.assertEqual(r304.status, 304)
        self.assertEqual(r304.get("Cache-Control"), "max-age=31536000, immutable")
        r206 = self.request("GET", "/assets/app.js", headers={"Range": "bytes=0-0"})
        self.assertEqual(r206.status, 206)
        self.assertEqual(r206.get("Cache-Control"), "max-age=31536000, immutable")

    def test_not_on_errors_unless_asked(self):
        self.assertEqual(self.request("GET", "/assets/nothing.js").status, 404)
        self.assertNotIn("Cache-Control", self.request("GET", "/assets/nothing.js"))
        r = self.request("GET", "/missing/x")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.get("Cache-Control"), "max-age=60")

    def test_not_on_redirect(self):
        r = self.request("GET", "/assets")
        self.assertEqual(r.status, 301)
        self.assertNotIn("Cache-Control", r)

    def test_status_and_health_keep_no_store(self):
        self.assertEqual(self.request("GET", "/healthz").get("Cache-Control"), "no-store")
        self.assertIn("no-store", self.request("GET", "/status").get("Cache-Control", ""))

    def test_site_rule_and_charset(self):
        r = self.request("GET", "/notes.md", host="other.example")
        self.assertEqual(r.get("Cache-Control"), "max-age=5")
        self.assertEqual(r.get("Content-Type"), "text/markdown; charset=iso-8859-1")
        r = self.request("GET", "/page.html", host="other.example")
        self.assertEqual(r.get("Content-Type"), "text/html; charset=iso-8859-1")
        self.assertEqual(r.get("Cache-Control"), "no-cache")  # a rule for every site
        # the default site: no *.md rule, the default charset
        r = self.request("GET", "/notes.md")
        self.assertNotIn("Cache-Control", r)
        self.assertEqual(r.get("Content-Type"), "text/markdown; charset=utf-8")

    def test_mime_lines(self):
        self.assertEqual(self.request("GET", "/x.fkd").get("Content-Type"), "application/x-forkd")
        self.assertEqual(self.request("GET", "/plain.txt").get("Content-Type"),
                         "text/plain; charset=utf-8")


class TestCacheRuleConfigErrors(ConfigCheckCase):
    def test_mistakes_refused_with_line(self):
        base = "[static]\nroot = www\n"
        self.assertRefused(base + "[cache assets]\ncache_control = no-cache\n", 3, "bad [cache assets]")
        self.assertRefused(base + "[cache /a/]\n", 3, "neither cache_control nor expires")
        self.assertRefused(base + "[cache /a/]\nexpires = soon\n", 4, "bad expires")
        self.assertRefused(base + "[cache /a/]\nexpires = 1h\nsite = nosuch\n", 5, "no [site nosuch]")
        self.assertRefused(base + "[cache /a/]\nmax_age = 1\n", 4, "unknown key")
        self.assertRefused(base + "[mime]\nmd = markdown\n", 4, "bad type")
        self.assertRefused(base + "[mime]\nm.d = text/markdown\n", 4, "bad extension")
        self.assertRefused(base + "charset = utf 8\n", 3, "bad charset")


if __name__ == "__main__":
    unittest.main()
