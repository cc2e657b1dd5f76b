"""Three forkd instances behind a real HAProxy (tests/scaleout/haproxy.py, the
script users run): rolling QUIT + restart, rolling graceful TERM with a request
in flight, and scale-in, each under ab -k and under wrk, fail 0 requests."""

import os
import subprocess
import sys
import unittest

from harness import REPO, forkd_bin


class ScaleOutTests(unittest.TestCase):
    def test_haproxy_rolling_stops_fail_nothing(self):
        script = os.path.join(REPO, "tests", "scaleout", "haproxy.py")
        p = subprocess.run([sys.executable, script, "--forkd", forkd_bin(), "-v"],
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        if p.returncode == 2:
            self.skipTest(p.stdout.strip())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(", 0 failed", p.stdout.splitlines()[-1])
