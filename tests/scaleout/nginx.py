#!/usr/bin/env python3
"""nginx: three forkd instances behind a real nginx `upstream` at its default settings,
restarted one after the other under load; every request must succeed.

usage: tests/scaleout/nginx.py [--forkd BIN] [--drain-delay MS] [--spacing MS] [--quick] [-v]
       (BIN defaults to $FORKD_BIN, else build/forkd; needs nginx, ab, wrk)

nginx as a user sets it up: `upstream` with the three instances and nothing else
(max_fails=1 fail_timeout=10s, round robin), `proxy_pass`, default
`proxy_next_upstream error timeout` (nginx has no active health check: it learns an
instance is gone from a refused connect). Two ways to reach the instances:

  close       nginx's default: HTTP/1.0, one connection per request
  keepalive   `keepalive 16`, `proxy_http_version 1.1`, an empty Connection header

Each forkd has drain_delay = 3s, term = graceful. The roll: QUIT each instance, start it
again once it exited, wait --spacing (the drain delay by default), next one; under
`ab -k` and under `wrk` (--quick: keepalive under ab only, about 30 s, what make test
runs). Exit status 0 when every run failed 0 requests (ab: failed +
non-2xx; wrk: socket errors + non-2xx).

Why 3 s: nginx cannot see the drain (no health check); it sees the refused connects once
an instance's listening sockets close, retries them on another instance (no failure),
and marks the instance down for fail_timeout (10 s) from the last one, although it is
back a moment later. When the third instance closes while the first two are both still
marked, nginx has no server left: 502 "no live upstreams" until a mark ends. So the
first instance's mark must end before the third one closes: two steps of the roll (each
drain delay + restart + spacing) must take more than fail_timeout. With 1 s and 1 s
(--drain-delay 1000) they take about 5 s and every roll ends in 502s.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import haproxy  # the instances, the load and the helpers are the same as behind HAProxy
from haproxy import Forkd, Load, debug, free_port, http_get, report, say, wait_for

DRAIN_DELAY_MS = 3000  # see above: 2 x (drain delay + restart + spacing) > fail_timeout


class Nginx:
    def __init__(self, workdir, servers, keepalive):
        self.port = free_port()
        self.dir = os.path.join(workdir, "nginx-" + ("keepalive" if keepalive else "close"))
        os.mkdir(self.dir)
        self.config = os.path.join(self.dir, "nginx.conf")
        upstream = "".join("        server 127.0.0.1:%d;\n" % s.port for s in servers)
        if keepalive:
            upstream += "        keepalive 16;\n"
            extra = ("            proxy_http_version 1.1;\n"
                     "            proxy_set_header Connection \"\";\n")
        else:
            extra = ""
        temp = "".join("    %s_temp_path %s/%s;\n" % (t, self.dir, t)
                       for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(self.config, "w") as f:
            f.write("daemon off;\nmaster_process on;\nworker_processes 2;\n"
                    "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
                    "events { worker_connections 1024; }\n"
                    "http {\n    access_log off;\n%s"
                    "    upstream forkd {\n%s    }\n"
                    "    server {\n        listen 127.0.0.1:%d;\n"
                    "        location / {\n            proxy_pass http://forkd;\n%s"
                    "        }\n    }\n}\n"
                    % (self.dir, self.dir, temp, upstream, self.port, extra))
        subprocess.run(["nginx", "-t", "-q", "-c", self.config, "-e", self.dir + "/error.log"],
                       check=True)
        self.proc = subprocess.Popen(["nginx", "-c", self.config, "-e", self.dir + "/error.log"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def serving():
            try:
                return http_get(self.port, "/", 1)[0] == 200
            except OSError:
                return False

        wait_for("nginx to serve", serving, 10)

    def errors(self):
        """nginx's [error] lines (a failed connect it retried elsewhere is one too)."""
        with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
            return [l for l in f if "[error]" in l]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def roll(instances, spacing_s):
    """QUIT each instance, start it again, wait spacing_s, the next one."""
    for inst in instances:
        t0 = time.monotonic()
        inst.stop(signal.SIGQUIT)
        stopped = time.monotonic() - t0
        inst.start()
        debug("%s: exited %.2fs after QUIT, serving again after %.2fs"
              % (inst.name, stopped, time.monotonic() - t0))
        time.sleep(spacing_s)


def scenario(lb, instances, name, tool, spacing_s):
    """One roll under load; returns a list of problems (empty: passed)."""
    before = len(lb.errors())
    # three stops, starts and spacings must be over before the load ends
    load = Load(tool, lb.port, round(3 * (haproxy.DRAIN_DELAY_MS / 1000 + spacing_s + 1.5) + 2))
    time.sleep(0.5)
    roll(instances, spacing_s)
    left = load.time_left()
    done, failed, out = load.result()
    problems = []
    if left < 0.2:
        problems.append("the roll outlasted the load (%.1fs over)" % -left)
    if failed:
        problems.append("%d failed requests\n%s" % (failed, out))
    retried = len(lb.errors()) - before
    say("%-9s %-4s %7d requests, %d failed (nginx logged %d errors)" % (name, tool, done, failed,
                                                                        retried))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forkd", default=os.environ.get("FORKD_BIN",
                                                      os.path.join(haproxy.REPO, "build",
                                                                   "forkd")))
    ap.add_argument("--drain-delay", type=int, default=DRAIN_DELAY_MS, metavar="MS",
                    help="[server] drain_delay of the instances (default %(default)s)")
    ap.add_argument("--spacing", type=int, default=None, metavar="MS",
                    help="wait between one instance back and the next stop (default: the "
                         "drain delay)")
    ap.add_argument("--quick", action="store_true", help="keepalive under ab only")
    ap.add_argument("-v", action="store_true", help="say how long each stop and start took")
    args = ap.parse_args()
    haproxy.VERBOSE = args.v
    haproxy.DRAIN_DELAY_MS = args.drain_delay
    spacing_s = (args.drain_delay if args.spacing is None else args.spacing) / 1000
    for tool in ("nginx", "ab", "wrk"):
        if shutil.which(tool) is None:
            say("nginx.py: %s is not installed (sh scripts/deps.sh test bench)" % tool)
            return 2
    workdir = tempfile.mkdtemp(prefix="forkd-scaleout-nginx-")
    os.chmod(workdir, 0o755)  # nginx workers may run as nobody
    docroot = os.path.join(workdir, "www")
    os.mkdir(docroot)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<p>hello from behind nginx</p>\n")
    instances = [Forkd(args.forkd, workdir, "f%d" % i, docroot) for i in range(3)]
    problems = []
    started = time.monotonic()
    try:
        for inst in instances:
            inst.start()
        for keepalive in (True,) if args.quick else (False, True):
            lb = Nginx(workdir, instances, keepalive)
            name = "keepalive" if keepalive else "close"
            try:
                for tool in ("ab",) if args.quick else ("ab", "wrk"):
                    problems += ["%s under %s: %s" % (name, tool, p)
                                 for p in scenario(lb, instances, name, tool, spacing_s)]
            finally:
                lb.stop()
    finally:
        for inst in instances:
            inst.kill()
    return report(problems, started, workdir)


if __name__ == "__main__":
    sys.exit(main())
