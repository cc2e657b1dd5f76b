"""Load with ApacheBench: keep-alive and new-connection runs without a single
failed request."""

import re
import shutil
import subprocess

from harness import ServerCase

AB = shutil.which("ab")


class LoadTests(ServerCase):
    config = {"server": {"workers": "2"}, "http": {"keepalive_requests": "100000"}}

    def ab(self, *args, n):
        if AB is None:
            self.skipTest("ab (apache2-utils) is not installed")
        cmd = [AB, "-q", "-r", "-s", "10", "-n", str(n), "-c", "50"] + list(args) \
            + ["http://127.0.0.1:%d/" % self.port]
        p = subprocess.run(cmd, capture_output=True, timeout=90)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "%s\n%s%s" % (" ".join(cmd), out,
                                                        p.stderr.decode("utf-8", "replace")))
        complete = re.search(r"^Complete requests:\s+(\d+)", out, re.M)
        failed = re.search(r"^Failed requests:\s+(\d+)", out, re.M)
        self.assertIsNotNone(complete, out)
        self.assertEqual(int(complete.group(1)), n, out)
        self.assertEqual(int(failed.group(1)), 0, out)
        non2xx = re.search(r"^Non-2xx responses:\s+(\d+)", out, re.M)
        self.assertIsNone(non2xx, out)
        return out

    def test_ab_keepalive_20000(self):
        out = self.ab("-k", n=20000)
        self.assertRegex(out, r"Keep-Alive requests:\s+20000")

    def test_ab_new_connections_5000(self):
        self.ab(n=5000)
