#!/usr/bin/env python3
"""haproxy: three forkd instances behind a real HAProxy, stopped and started
under load; every request must succeed.

usage: tests/scaleout/haproxy.py [--forkd BIN] [--drain-delay MS] [-v]
       (BIN defaults to $FORKD_BIN, else build/forkd; needs haproxy, ab, wrk)

HAProxy as a user sets it up: `option httpchk` on the instances' [health] path,
`inter 200ms fall 2 rise 1`, default retries (3, retry-on conn-failure, no
redispatch), keep-alive to the servers. Each forkd has drain_delay = 1s,
term = graceful. Under `ab -k` and under `wrk`, one after the other:

  roll-quit   QUIT each instance in turn, start it again once it exited
  roll-term   the same with TERM, a slow request (/demo/sleep) in flight on the
              instance being stopped: it must complete
  scale-in    QUIT one instance for good (started again after the run)

Exit status 0 when every run failed 0 requests (ab: failed + non-2xx; wrk:
socket errors + non-2xx) and every in-flight request completed with 200.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRAIN_DELAY_MS = 1000  # --drain-delay: 0 shows what a stop without it costs
ROLL_LOAD_S = 7  # each rolling run: the three stops and starts must be over before it ends
SCALE_IN_LOAD_S = 3
SLOW_MS = 1500

VERBOSE = False


def say(msg):
    print(msg, flush=True)


def debug(msg):
    if VERBOSE:
        say("  " + msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError("timed out after %.1fs waiting for %s" % (timeout, what))


def read_all(sock):
    """Every byte until the peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def http_get(port, path, timeout=5.0):
    """(status, body) of one HTTP/1.1 request on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = read_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class Forkd:
    """One forkd instance on its own fixed port (so a restart binds it again)."""

    def __init__(self, binary, workdir, name, docroot):
        self.binary = binary
        self.name = name
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.mkdir(self.dir)
        self.config = os.path.join(self.dir, "forkd.ini")
        with open(self.config, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\nworkers = 2\ndrain_delay = %dms\n"
                    "term = graceful\ngraceful_timeout = 10s\n"
                    "[static]\nroot = %s\n[health]\npath = /healthz\n[demo]\nenabled = yes\n"
                    "[log]\naccess_log = off\nerror_log = %s/error.log\n"
                    % (self.port, DRAIN_DELAY_MS, docroot, self.dir))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.log"), "ab"))

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start:\n%s" % (self.name, self.log()))
            try:
                return http_get(self.port, "/healthz", 1)[0] == 200
            except OSError:
                return False

        wait_for("%s to serve" % self.name, healthy, 10)

    def stop(self, sig):
        """Signal it and wait for its exit; the exit status must be 0."""
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=20)
        if rc != 0:
            raise RuntimeError("%s exited with %d:\n%s" % (self.name, rc, self.log()))

    def log(self):
        with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
            return f.read()[-3000:]

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class HAProxy:
    def __init__(self, workdir, servers):
        self.port = free_port()
        self.sock = os.path.join(workdir, "haproxy.sock")
        self.config = os.path.join(workdir, "haproxy.cfg")
        lines = [
            "global",
            "    stats socket %s mode 600 level admin" % self.sock,
            "    maxconn 2000",
            "defaults",
            "    mode http",
            "    timeout connect 1s",
            "    timeout client 30s",
            "    timeout server 30s",
            "frontend fe",
            "    bind 127.0.0.1:%d" % self.port,
            "    default_backend forkd",
            "backend forkd",
            "    option httpchk GET /healthz",
            "    http-check expect status 200",
            "    default-server inter 200ms fall 2 rise 1",
        ]
        lines += ["    server %s 127.0.0.1:%d check" % (s.name, s.port) for s in servers]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["haproxy", "-c", "-q", "-f", self.config], check=True)
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.config],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(workdir, "haproxy.log"), "ab"))

    def states(self):
        """{server name: "UP" / "DOWN" / ...} from the stats socket."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.sock)
            s.sendall(b"show stat\n")
            data = read_all(s)
        lines = data.decode().splitlines()
        cols = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == "forkd" and row.get("svname") not in ("BACKEND", None):
                out[row["svname"]] = row["status"]
        return out

    def wait_state(self, name, state, timeout=10):
        def there():
            try:
                return self.states().get(name) == state
            except OSError:
                return False

        wait_for("haproxy to see %s %s" % (name, state), there, timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


class Load:
    """ab -k or wrk against the balancer for seconds, in the background."""

    def __init__(self, tool, port, seconds):
        url = "http://127.0.0.1:%d/" % port
        if tool == "ab":
            # -r: count a receive error as a failure instead of stopping
            argv = ["ab", "-k", "-r", "-q", "-c", "16", "-t", str(seconds), "-n", "100000000", url]
        else:
            argv = ["wrk", "-t", "2", "-c", "16", "-d", "%ds" % seconds, "--timeout", "5s", url]
        self.tool = tool
        self.seconds = seconds
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    def result(self):
        """(requests, failed, output) once the run ended."""
        out = self.proc.communicate(timeout=self.seconds + 30)[0]
        if self.tool == "ab":
            done = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
            failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
            m = re.search(r"Non-2xx responses:\s+(\d+)", out)
            failed += int(m.group(1)) if m else 0
        else:
            done = int(re.search(r"(\d+) requests in", out).group(1))
            m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out)
            failed = sum(int(x) for x in m.groups()) if m else 0
            m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            failed += int(m.group(1)) if m else 0
        return done, failed, out

    def time_left(self):
        return self.started + self.seconds - time.monotonic()


class InFlight(threading.Thread):
    """A /demo/sleep request straight to one instance; status kept (None: failed)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.status = None
        self.error = None

    def run(self):
        try:
            self.status = http_get(self.port, "/demo/sleep?ms=%d" % SLOW_MS, SLOW_MS / 1000 + 10)[0]
        except OSError as e:
            self.error = e


def roll(lb, instances, sig, in_flight):
    """Stop each instance with sig, start it again, wait until the balancer uses it."""
    slow = []
    for inst in instances:
        t0 = time.monotonic()
        if in_flight:
            req = InFlight(inst.port)
            req.start()
            time.sleep(0.2)  # the request is in the worker
            slow.append(req)
        inst.stop(sig)
        stopped = time.monotonic() - t0
        inst.start()
        lb.wait_state(inst.name, "UP")
        debug("%s: exited %.2fs after %s, back UP after %.2fs"
              % (inst.name, stopped, signal.Signals(sig).name, time.monotonic() - t0))
    return slow


def scenario(lb, instances, name, tool):
    """One run under load; returns a list of failures (empty: passed)."""
    for inst in instances:
        lb.wait_state(inst.name, "UP")
    load = Load(tool, lb.port, SCALE_IN_LOAD_S if name == "scale-in" else ROLL_LOAD_S)
    time.sleep(0.5)
    slow = []
    if name == "roll-quit":
        roll(lb, instances, signal.SIGQUIT, False)
    elif name == "roll-term":
        slow = roll(lb, instances, signal.SIGTERM, True)
    else:
        instances[-1].stop(signal.SIGQUIT)
    left = load.time_left()
    done, failed, out = load.result()
    problems = []
    if left < 0.2:
        problems.append("the stops outlasted the load (%.1fs over)" % -left)
    if failed:
        problems.append("%d failed requests\n%s" % (failed, out))
    for req in slow:
        req.join(SLOW_MS / 1000 + 10)
        if req.status != 200:
            problems.append("in-flight request to :%d: %s" % (req.port, req.error or req.status))
    say("%-9s %-3s %7d requests, %d failed%s" % (name, tool, done, failed, (
        ", %d in-flight completed" % sum(r.status == 200 for r in slow)) if slow else ""))
    if name == "scale-in":
        instances[-1].start()
    return problems


def report(problems, started, workdir):
    """The run's last lines: its time, then each problem (logs kept) or 0 failed. Exit status."""
    say("%.0fs, %s" % (time.monotonic() - started, "FAILED" if problems else "0 failed"))
    for p in problems:
        say(p)
    if problems:
        say("logs kept in %s" % workdir)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main():
    global VERBOSE, DRAIN_DELAY_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forkd", default=os.environ.get("FORKD_BIN",
                                                      os.path.join(REPO, "build", "forkd")))
    ap.add_argument("--drain-delay", type=int, default=DRAIN_DELAY_MS, metavar="MS",
                    help="[server] drain_delay of the instances (default %(default)s)")
    ap.add_argument("-v", action="store_true", help="say how long each stop and start took")
    args = ap.parse_args()
    VERBOSE = args.v
    DRAIN_DELAY_MS = args.drain_delay
    for tool in ("haproxy", "ab", "wrk"):
        if shutil.which(tool) is None:
            say("haproxy.py: %s is not installed (sh scripts/deps.sh test)" % tool)
            return 2
    workdir = tempfile.mkdtemp(prefix="forkd-scaleout-")
    docroot = os.path.join(workdir, "www")
    os.mkdir(docroot)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<p>hello from behind the balancer</p>\n")
    instances = [Forkd(args.forkd, workdir, "f%d" % i, docroot) for i in range(3)]
    lb = None
    problems = []
    started = time.monotonic()
    try:
        for inst in instances:
            inst.start()
        lb = HAProxy(workdir, instances)
        for name in ("roll-quit", "roll-term", "scale-in"):
            for tool in ("ab", "wrk"):
                problems += ["%s under %s: %s" % (name, tool, p)
                             for p in scenario(lb, instances, name, tool)]
    finally:
        if lb is not None:
            lb.stop()
        for inst in instances:
            inst.kill()
    return report(problems, started, workdir)


if __name__ == "__main__":
    sys.exit(main())
