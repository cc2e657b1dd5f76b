"""Three forkd instances behind a real HAProxy (tests/scaleout/haproxy.py, the
script users run): rolling QUIT + restart, rolling graceful TERM with a request
in flight, and scale-in, each under ab -k and under wrk, fail 0 requests. The
same behind nginx's upstream at its defaults (tests/scaleout/nginx.py --quick):
a rolling QUIT + restart under ab -k fails 0 requests."""

import os
import subprocess
import sys
import unittest

from harness import REPO, forkd_bin


class ScaleOutTests(unittest.TestCase):
    def run_script(self, name, *args):
        script = os.path.join(REPO, "tests", "scaleout", name)
        p = subprocess.run([sys.executable, script, "--forkd", forkd_bin(), "-v"] + list(args),
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        if p.returncode == 2:
            self.skipTest(p.stdout.strip())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(", 0 failed", p.stdout.splitlines()[-1])

    def test_haproxy_rolling_stops_fail_nothing(self):
        self.run_script("haproxy.py")

    def test_nginx_rolling_restart_fails_nothing(self):
        self.run_script("nginx.py", "--quick")
