"""[site NAME] sections (issue 14, "Sites"): server_name picks a site by Host (exact
names before wildcards, the longest wildcard first, any case, without the port and a
trailing dot); each site has its own root and index; a Host no site names goes to the
default site ([static]), or gets 404 / 421 with [static] unknown_host; HUP reloads the
sites; forkd -t refuses a site's mistakes with file:line."""

import os
import signal
import unittest

from harness import ConfigCheckCase, ServerCase, build_request, class_tempdir, wait_until


def make_site(base, name, files):
    root = os.path.join(base, name)
    os.mkdir(root)
    for rel, data in files.items():
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    return root


class SitesCase(ServerCase):
    """A default site and three [site]s: exact, wildcard, longer wildcard."""

    unknown_host = None

    @classmethod
    def setUpClass(cls):
        cls.sites_dir = class_tempdir(cls, "forkd-sites-")
        a = make_site(cls.sites_dir, "a", {"index.html": b"site a\n", "only-a.txt": b"A"})
        b = make_site(cls.sites_dir, "b", {"home.htm": b"site b home\n", "index.html": b"no"})
        c = make_site(cls.sites_dir, "c", {"index.html": b"site c\n"})
        cls.config = {
            "server": {"workers": "2"},
            "static": {"unknown_host": cls.unknown_host},
            "site a": {"server_name": "a.example  A2.example.org", "root": a},
            "site b": {"server_name": "*.example.com", "root": b, "index": "home.htm"},
            "site c": {"server_name": "*.deep.example.com", "root": c},
        }
        super().setUpClass()

    def body(self, host, target="/"):
        resp = self.request("GET", target, host=host)
        return resp.status, resp.body


class TestSites(SitesCase):
    def test_exact_name_any_case_with_port_and_dot(self):
        for host in ("a.example", "A.EXAMPLE", "a.example:8080", "a.example.", "a2.example.org"):
            self.assertEqual(self.body(host), (200, b"site a\n"), host)

    def test_own_root_and_index(self):
        self.assertEqual(self.body("x.example.com"), (200, b"site b home\n"))
        self.assertEqual(self.body("a.example", "/only-a.txt"), (200, b"A"))
        self.assertEqual(self.body("x.example.com", "/only-a.txt")[0], 404)

    def test_longest_wildcard_wins(self):
        self.assertEqual(self.body("x.deep.example.com"), (200, b"site c\n"))
        # the wildcard names what is below the domain, not the domain itself
        self.assertEqual(self.body("deep.example.com"), (200, b"site b home\n"))

    def test_unknown_host_goes_to_the_default_site(self):
        status, body = self.body("example.com")
        self.assertEqual(status, 200)
        self.assertIn(b"<p>index</p>", body)
        self.assertIn(b"<p>index</p>", self.body("127.0.0.1")[1])

    def test_no_host_http10_gets_the_default_site(self):
        resp, _ = self.exchange(build_request("GET", "/", version="HTTP/1.0", host=None))
        self.assertEqual(resp.status, 200)
        self.assertIn(b"<p>index</p>", resp.body)

    def test_hup_reloads_sites(self):
        with open(self.server.config_path) as f:
            text = f.read()
        new_root = make_site(self.sites_dir, "d", {"index.html": b"site d\n"})
        with open(self.server.config_path, "a") as f:
            f.write("\n[site d]\nserver_name = d.example\nroot = %s\n" % new_root)
        self.addCleanup(lambda: open(self.server.config_path, "w").write(text))
        self.server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.body("d.example")[1] == b"site d\n" or None, 10),
                        "the new [site d] did not serve after HUP")


class TestUnknownHost421(SitesCase):
    unknown_host = "421"

    def test_unknown_host_421(self):
        self.assertEqual(self.body("nobody.example")[0], 421)
        self.assertEqual(self.body("a.example"), (200, b"site a\n"))


class TestUnknownHost404(SitesCase):
    unknown_host = "404"

    def test_unknown_host_404(self):
        self.assertEqual(self.body("nobody.example")[0], 404)
        self.assertEqual(self.body("y.example.com"), (200, b"site b home\n"))


class TestSiteConfigErrors(ConfigCheckCase):
    def test_mistakes_refused_with_line(self):
        base = "[static]\nroot = www\n"
        self.assertRefused(base + "[site a]\nroot = www\n", 3, "no server_name")
        self.assertRefused(base + "[site a]\nserver_name = a.example\nroot = nowhere\n", 5, "nowhere")
        self.assertRefused(base + "[site a]\nserver_name = a..example\n", 4, "bad server_name")
        self.assertRefused(base + "[site a]\nserver_name = a.*.example\n", 4, "bad server_name")
        self.assertRefused(base + "[site a]\nserver_name = x.example\n[site b]\nserver_name = X.example\n",
                   6, "also [site a]")
        self.assertRefused(base + "[site a]\nserver_name = a.example\nlisten = 1\n", 5, "unknown key")
        self.assertRefused(base + "[site a]\nserver_name = a\n[site a]\nserver_name = b\n", 5,
                   "duplicate [site a]")
        self.assertRefused(base + "unknown_host = maybe\n", 3, "bad unknown_host")

    def test_site_inherits_static_keys(self):
        _, r = self.check_t("[static]\nroot = www\n[site a]\nserver_name = a.example\n")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
