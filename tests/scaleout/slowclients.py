#!/usr/bin/env python3
"""slowclients: slowhttptest's slow body and slow read attacks on gunicorn (2 sync workers),
straight at it and through forkd's reverse proxy, while a probe client asks for a page
every 250 ms (2 s timeout). gunicorn's docs ask for a buffering proxy in front for this.

usage: tests/scaleout/slowclients.py [--forkd BIN] [--seconds N]
       (BIN defaults to $FORKD_BIN, else build/forkd; needs gunicorn and slowhttptest)

  slow-body  slowhttptest -B: 200 connections each sending a POST body of 8 KiB a few
             bytes every 10 s (forkd reads the body whole before the app sees the request)
  slow-read  slowhttptest -X: 200 connections asking for a 1 MB page and reading 1 byte
             a second (forkd takes the answer as fast as the app gives it: its
             buffer and the kernel socket buffers to the app hold it, the app worker is free)

Prints, per attack and target, how many probe requests were answered. Exit status 0 when
every probe through forkd was answered (the direct figures are shown, not judged: they
show why the proxy is there).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP_DIR = os.path.join(REPO, "tests", "integration")
PROBE_EVERY = 0.25
PROBE_TIMEOUT = 2.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("process for port %d exited" % port)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on port %d" % port)


def probe_once(port):
    try:
        with socket.create_connection(("127.0.0.1", port), PROBE_TIMEOUT) as s:
            s.settimeout(PROBE_TIMEOUT)
            s.sendall(b"GET /app/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Probe(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.total, self.stop = port, 0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            self.total += 1
            self.ok += probe_once(self.port)
            self.stop.wait(max(0.0, PROBE_EVERY - (time.monotonic() - t0)))


def attack(kind, port, seconds):
    common = ["slowhttptest", "-c", "200", "-r", "100", "-l", str(seconds), "-p", "3"]
    if kind == "slow-body":
        args = ["-B", "-i", "10", "-s", "8192", "-t", "POST",
                "-u", "http://127.0.0.1:%d/app/echo" % port]
    else:
        args = ["-X", "-w", "1", "-y", "2", "-n", "1", "-z", "1", "-k", "1",
                "-u", "http://127.0.0.1:%d/app/big?n=1000000" % port]
    return subprocess.Popen(common + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tempfile.gettempdir())


def measure(kind, port, seconds):
    a = attack(kind, port, seconds)
    time.sleep(3)  # let the attack's connections open
    p = Probe(port)
    p.start()
    time.sleep(seconds - 4)
    p.stop.set()
    p.join()
    a.send_signal(signal.SIGINT)
    try:
        a.wait(10)
    except subprocess.TimeoutExpired:
        a.kill()
    time.sleep(2)  # the app recovers before the next run
    return p.ok, p.total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forkd", default=os.environ.get("FORKD_BIN",
                                                      os.path.join(REPO, "build", "forkd")))
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("attacks", nargs="*", default=["slow-body", "slow-read"])
    opts = ap.parse_args()
    for tool in ("gunicorn", "slowhttptest"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is not installed (sh scripts/deps.sh test)" % tool)
    work = tempfile.mkdtemp(prefix="forkd-slow-")
    app_port, forkd_port = free_port(), free_port()
    app = subprocess.Popen(["gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % app_port,
                            "--chdir", APP_DIR, "proxy_app:app"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.mkdir(os.path.join(work, "www"))
    with open(os.path.join(work, "forkd.ini"), "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\nworkers = 1\n[static]\nroot = www\n"
                "[log]\nerror_log = error.log\n[upstream app]\nservers = 127.0.0.1:%d\n"
                "[route /app/]\nupstream = app\n" % (forkd_port, app_port))
    forkd = subprocess.Popen([opts.forkd, "-c", os.path.join(work, "forkd.ini")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = 0
    try:
        wait_port(app_port, app)
        wait_port(forkd_port, forkd)
        print("%-10s %-18s %s" % ("attack", "target", "probe answered"))
        for kind in opts.attacks:
            for name, port in (("gunicorn direct", app_port), ("through forkd", forkd_port)):
                ok, total = measure(kind, port, opts.seconds)
                print("%-10s %-18s %d/%d" % (kind, name, ok, total), flush=True)
                if port == forkd_port and ok != total:
                    failed = 1
    finally:
        for proc in (forkd, app):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
