"""Access rules, error pages and listings of the static handler (issue 14, "Access rules",
"Error pages and listings"): dotfiles refused (404) but /.well-known/, deny prefixes,
both per site; refusals counted in /status and logged at debug only; error_page_NNN
files served with their status; autoindex listings (off by default), escaped, sorted,
with what the rules refuse left out; forkd -t refuses bad values with file:line."""

import json
import os
import re
import shutil
import unittest

from harness import ConfigCheckCase, ServerCase

NOT_FOUND_PAGE = b"<!DOCTYPE html><title>gone</title><p>our own 404</p>\n"
FORBIDDEN_PAGE = b"<!DOCTYPE html><title>no</title><p>our own 403</p>\n"
ODD_NAME = '<b>&"x.txt'

FILES = {
    "index.html": b"<p>index</p>\n",
    ".htpasswd": b"user:hash\n",
    ".git/config": b"[core]\n",
    "a/.hidden/x": b"hidden\n",
    "a/b.txt": b"visible\n",
    ".well-known/acme-challenge/x": b"token\n",
    ".well-known/.secret": b"no\n",
    "private/secret.txt": b"secret\n",
    "backup/db.sql": b"dump\n",
    "privateer.txt": b"arr\n",
    "errors/404.html": NOT_FOUND_PAGE,
    "errors/403.html": FORBIDDEN_PAGE,
    "dir/zeta.txt": b"zz\n",
    "dir/alpha.txt": b"alpha",
    "dir/" + ODD_NAME: b"odd\n",
    "dir/.dot": b"dot\n",
    "dir/skip.txt": b"skip\n",
    "dir/sub/f": b"f\n",
}


def lay_out(root):
    for rel, data in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


class AccessCase(ServerCase):
    """[static] with the defaults (dotfiles deny, no listing) plus deny and error pages;
    [site open] allows dotfiles, denies nothing, lists; [site plain] lists, and names
    an error page that does not exist."""

    level = "info"

    @classmethod
    def make_docroot(cls, root):
        lay_out(root)

    @classmethod
    def setUpClass(cls):
        cls.config = {
            "log": {"level": cls.level},
            "status": {"path": "/status"},
            "static": {"deny": "/private/ /backup /dir/skip.txt",
                       "error_page_404": "/errors/404.html",
                       "error_page_403": "/errors/403.html"},
            "site open": {"server_name": "open.example", "root": "www", "dotfiles": "allow",
                          "deny": "", "error_page_404": "off", "autoindex": "yes"},
            "site plain": {"server_name": "plain.example", "root": "www", "autoindex": "yes",
                           "error_page_404": "/errors/nope.html"},
        }
        super().setUpClass()

    def get(self, target, host="localhost", method="GET", **kw):
        return self.request(method, target, host=host, **kw)

    def refused_count(self):
        resp = self.get("/status")
        self.assertEqual(resp.status, 200)
        return sum(w["refused"] for w in json.loads(resp.body)["workers"])


class TestAccessRules(AccessCase):
    def test_dotfiles_refused_404(self):
        for target in ("/.git/config", "/.htpasswd", "/a/.hidden/x", "/.git", "/.git/",
                       "/%2egit/config", "/a/%2Ehidden/x", "/%2e%68tpasswd", "//.git//config",
                       "/a/../.git/config", "/a/./.hidden/x", "/.well-known/.secret"):
            resp = self.get(target)
            self.assertEqual(resp.status, 404, target)
            self.assertEqual(resp.body, NOT_FOUND_PAGE, target)

    def test_well_known_served(self):
        resp = self.get("/.well-known/acme-challenge/x")
        self.assertEqual((resp.status, resp.body), (200, b"token\n"))

    def test_deny_prefixes_404(self):
        for target in ("/private/secret.txt", "/private/", "/private", "/backup/db.sql",
                       "/backup", "/dir/skip.txt", "/%70rivate/secret.txt"):
            resp = self.get(target)
            self.assertEqual(resp.status, 404, target)
            self.assertEqual(resp.body, NOT_FOUND_PAGE, target)
        resp = self.get("/privateer.txt")
        self.assertEqual((resp.status, resp.body), (200, b"arr\n"))
        self.assertEqual(self.get("/a/b.txt").status, 200)

    def test_site_overrides(self):
        for target, body in (("/.htpasswd", b"user:hash\n"), ("/.git/config", b"[core]\n"),
                             ("/private/secret.txt", b"secret\n")):
            resp = self.get(target, host="open.example")
            self.assertEqual((resp.status, resp.body), (200, body), target)
        # [site plain] inherits [static]'s rules
        self.assertEqual(self.get("/.htpasswd", host="plain.example").status, 404)
        self.assertEqual(self.get("/private/secret.txt", host="plain.example").status, 404)

    def test_refusals_counted_not_logged_at_info(self):
        before = self.refused_count()
        for target in ("/.git/config", "/.htpasswd", "/private/secret.txt"):
            self.assertEqual(self.get(target).status, 404)
        self.assertEqual(self.get("/nothing-here").status, 404)  # not a refusal
        self.assertEqual(self.refused_count() - before, 3)
        with open(self.server.error_log, "rb") as f:
            log = f.read()
        for word in (b".git", b"htpasswd", b"secret.txt", b"refused"):
            self.assertNotIn(word, log)
        resp = self.get("/status/metrics")
        self.assertIn(b"# TYPE forkd_refused_total counter", resp.body)


class TestErrorPages(AccessCase):
    def test_custom_404(self):
        resp = self.get("/nothing-here.html", headers={"Range": "bytes=0-3"})
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.body, NOT_FOUND_PAGE)
        self.assertTrue(resp.get("Content-Type").startswith("text/html"))  # the file's type
        for name in ("ETag", "Last-Modified", "Accept-Ranges", "Content-Range", "Location"):
            self.assertNotIn(name, resp, name)

    def test_custom_404_head(self):
        resp = self.get("/nothing-here.html", method="HEAD")
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.body, b"")
        self.assertEqual(int(resp.get("Content-Length")), len(NOT_FOUND_PAGE))

    def test_custom_403(self):
        resp = self.get("/dir/")  # a directory without index, no listing
        self.assertEqual((resp.status, resp.body), (403, FORBIDDEN_PAGE))

    def test_fallback_when_missing_or_off(self):
        for host in ("plain.example", "open.example"):
            resp = self.get("/nothing-here.html", host=host)
            self.assertEqual(resp.status, 404, host)
            self.assertIn(b"404 Not Found", resp.body, host)
            self.assertNotIn(b"our own", resp.body, host)

    def test_page_changes_show(self):
        path = os.path.join(self.docroot, "errors", "404.html")
        self.addCleanup(lambda: open(path, "wb").write(NOT_FOUND_PAGE))
        with open(path, "wb") as f:
            f.write(b"<p>new page, other length</p>\n")
        self.assertEqual(self.get("/nothing").body, b"<p>new page, other length</p>\n")
        os.unlink(path)
        resp = self.get("/nothing")
        self.assertEqual(resp.status, 404)
        self.assertIn(b"404 Not Found", resp.body)


class TestListing(AccessCase):
    def listing(self, host, target="/dir/"):
        resp = self.get(target, host=host)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.get("Content-Type"), "text/html; charset=utf-8")
        return resp.body.decode()

    def test_off_by_default(self):
        self.assertEqual(self.get("/dir/").status, 403)

    def test_names_escaped(self):
        body = self.listing("open.example")
        self.assertNotIn(ODD_NAME, body)
        self.assertIn('href="%3Cb%3E%26%22x.txt">&lt;b&gt;&amp;&quot;x.txt</a>', body)
        # the link leads to the file
        resp = self.get("/dir/%3Cb%3E%26%22x.txt", host="open.example")
        self.assertEqual((resp.status, resp.body), (200, b"odd\n"))

    def test_sorted_dirs_first_with_size_and_date(self):
        body = self.listing("open.example")
        names = re.findall(r'<a href="([^"]*)">', body)
        self.assertEqual(names, ["../", "sub/", ".dot", "%3Cb%3E%26%22x.txt", "alpha.txt",
                                 "skip.txt", "zeta.txt"])
        row = re.search(r'alpha\.txt</a></td><td>([^<]*)</td><td>([^<]*)</td>', body)
        self.assertRegex(row.group(1), r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
        self.assertEqual(row.group(2), "5")

    def test_rules_hide_entries(self):
        body = self.listing("plain.example")
        names = re.findall(r'<a href="([^"]*)">', body)
        self.assertEqual(names, ["../", "sub/", "%3Cb%3E%26%22x.txt", "alpha.txt", "zeta.txt"])
        root = self.listing("plain.example", "/a/")
        self.assertNotIn(".hidden", root)
        self.assertIn('href="b.txt"', root)

    def test_refused_directory_not_listed(self):
        self.assertEqual(self.get("/private/", host="plain.example").status, 404)
        self.assertEqual(self.get("/a/.hidden/", host="plain.example").status, 404)

    def test_head(self):
        resp = self.get("/dir/", host="open.example", method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"")
        self.assertGreater(int(resp.get("Content-Length")), 100)

    def test_huge_directory_bounded(self):
        many = os.path.join(self.docroot, "many")
        os.mkdir(many)
        self.addCleanup(shutil.rmtree, many, True)
        for i in range(2001):
            open(os.path.join(many, "f%04d" % i), "wb").close()
        body = self.listing("open.example", "/many/")
        self.assertEqual(len(re.findall(r'<a href="f\d{4}">', body)), 2000)
        self.assertIn("More entries than the 2000 listed", body)

    def test_index_wins_and_parent_link(self):
        resp = self.get("/", host="open.example")
        self.assertEqual((resp.status, resp.body), (200, b"<p>index</p>\n"))
        os.mkdir(os.path.join(self.docroot, "empty"))
        self.addCleanup(os.rmdir, os.path.join(self.docroot, "empty"))
        body = self.listing("open.example", "/empty/")
        self.assertIn('href="../"', body)
        self.assertIn("Index of /empty/", body)


class TestRefusalDebugLog(AccessCase):
    level = "debug"

    def test_refusal_logged_at_debug_escaped(self):
        self.assertEqual(self.get("/.git/con%0afig").status, 404)
        with open(self.server.error_log, "rb") as f:
            log = f.read()
        self.assertIn(b'refused "/.git/con\\x0afig" (dotfile): 404', log)


class TestAccessConfig(ConfigCheckCase):
    def run_t(self, text):
        return self.check_t(text)

    def test_good_keys_accepted(self):
        _, r = self.run_t("[static]\nroot = www\ndotfiles = allow\ndeny = /a/ /b\n"
                          "autoindex = yes\nerror_page_404 = /errors/404.html\n"
                          "error_page_503 = off\n[site s]\nserver_name = s.example\n"
                          "dotfiles = deny\ndeny =\nerror_page_403 = /e/403.html\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_mistakes_refused_with_line(self):
        base = "[static]\nroot = www\n"
        cases = [
            ("dotfiles = maybe\n", 3, "bad dotfiles"),
            ("autoindex = maybe\n", 3, "bad value for autoindex"),
            ("deny = private/\n", 3, "bad deny prefix 'private/'"),
            ("deny = /a/../b\n", 3, "bad deny prefix"),
            ("deny = /ok /a//b\n", 3, "bad deny prefix '/a//b'"),
            ("deny = /a%20b\n", 3, "bad deny prefix"),
            ("error_page_404 = errors/404.html\n", 3, "bad error_page_404"),
            ("error_page_404 = /.errors/404.html\n", 3, "bad error_page_404"),
            ("error_page_404 = /e/.404.html\n", 3, "bad error_page_404"),
            ("error_page_404 = /errors/\n", 3, "bad error_page_404"),
            ("error_page_404 = /e/../404.html\n", 3, "bad error_page_404"),
            ("error_page_418 = /e/418.html\n", 3, "error_page_403, error_page_404"),
            ("[site s]\nserver_name = s.example\nerror_page_301 = /x\n", 5, "error_page_404"),
            ("error_page_404 = /a\nerror_page_404 = /b\n", 4, "duplicate key"),
        ]
        for extra, line, what in cases:
            path, r = self.run_t(base + extra)
            self.assertNotEqual(r.returncode, 0, extra)
            self.assertIn("%s:%d:" % (path, line), r.stderr, extra)
            self.assertIn(what, r.stderr, extra)


if __name__ == "__main__":
    unittest.main()
