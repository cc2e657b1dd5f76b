#!/usr/bin/env python3
"""make bench: forkd side by side with nginx and a canned-response probe, on this machine.

Each row runs ROUNDS interleaved rounds (forkd, nginx, probe, forkd, ...) and reports
medians and the forkd/nginx and forkd/probe ratios. The proxy rows put forkd
([upstream] + [route] upstream =) and nginx (proxy_pass to an upstream with keepalive) in
front of the same app: one more probe (1 worker, its own port) standing for a fast app
server, so the rows measure what proxying costs. The small-file and proxy rows also report
the server's own CPU time per request (its processes' utime + stime over the run): the
load generator shares this machine's CPUs, so a request rate also measures how much CPU
the client was left, while CPU per request measures the server alone. The compression
rows (9, 10) fetch a 20 KB HTML page with Accept-Encoding: gzip from a site of its own
(Host): forkd gzip = yes (compressed once, served from its file cache) against nginx
gzip on at the same level (6), and forkd's precompressed .gz sibling against nginx
gzip_static on; wrk, as HTTP/1.1 (ab speaks 1.0, which nginx neither gzips by default
nor keeps alive without a length). A tool, not a
test: it asserts nothing; the numbers go into the README by hand with the command that
made them.
"""
import argparse
import gzip
import http.client
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = 612
BIG = 1024 * 1024
PAGE_KB = 20
GZIP_LEVEL = 6  # forkd's default gzip_level; nginx's gzip_comp_level set to match
CPUS = sorted(os.sched_getaffinity(0))  # before place() narrows this process's own set
SCALE = 1.0  # --smoke: every request count and duration shrunk (checks the rows run)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_seconds(server):
    """User + system CPU of the server's processes (master and workers) so far."""
    total = 0
    for pid in [server.proc.pid] + children(server.proc.pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class Server:
    def __init__(self, name, argv, port, workers_of=None):
        self.name, self.argv, self.port = name, argv, port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        time.sleep(0.3)

    def workers(self):
        return children(self.proc.pid) or [self.proc.pid]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_site(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "index.html"), "wb") as f:
        f.write((b"<!DOCTYPE html><html><body>" + b"x" * SMALL)[:SMALL - 15] + b"</body></html>\n")
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    # a page that compresses like HTML does (about 4:1), not like a run of one byte
    rnd = random.Random(20)
    words = ["forkd", "static", "server", "worker", "request", "cache", "file", "the", "of",
             "and", "a", "to", "in", "is", "for", "on", "with", "compress", "page", "site"]
    page = b"<!DOCTYPE html><html><head><title>bench</title></head><body>\n"
    while len(page) < PAGE_KB * 1024 - 16:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 14)))
        page += f'<p class="c{rnd.randint(1, 40)}">{line} {rnd.randint(0, 99999)}</p>\n'.encode()
    page = page[:PAGE_KB * 1024 - 15] + b"</body></html>\n"
    with open(os.path.join(d, "page.html"), "wb") as f:
        f.write(page)
    with open(os.path.join(d, "page.html.gz"), "wb") as f:  # as `gzip -9k` makes it
        f.write(gzip.compress(page, compresslevel=9, mtime=0))


def forkd_server(tmp, site, workers, binary, app_port):
    port = free_port()
    conf = os.path.join(tmp, "forkd.ini")
    with open(conf, "w") as f:
        f.write(f"[server]\nlisten = 127.0.0.1:{port}\nworkers = {workers}\n"
                # cache_valid 60s: the same trust as nginx's open_file_cache_valid below
                f"[static]\nroot = {site}\ncache_valid = 60s\n"
                f"[http]\nkeepalive_requests = 1000000\n"
                f"keepalive_timeout = 300s\n[log]\naccess_log = off\n"
                f"error_log = {tmp}/forkd-error.log\nlevel = warn\n"
                # the proxy rows: defaults (keepalive 32 per worker, X-Forwarded-*)
                f"[upstream app]\nservers = 127.0.0.1:{app_port}\n"
                f"[route /proxy/]\nupstream = app\n"
                # the compression rows: gzip once per version, and a .gz sibling
                f"[site gz]\nserver_name = gz.bench\nroot = {site}\ngzip = yes\n"
                f"precompressed = no\ngzip_level = {GZIP_LEVEL}\n"
                f"[site pre]\nserver_name = pre.bench\nroot = {site}\nprecompressed = yes\n")
    return Server("forkd", [binary, "-c", conf], port)


def nginx_server(tmp, site, workers, app_port):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile 40000;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{ text/html html; application/octet-stream bin; }}
    upstream app {{
        server 127.0.0.1:{app_port};
        keepalive 32;  # idle connections per worker, as forkd's [upstream] keepalive
    }}
    server {{
        listen 127.0.0.1:{port} deferred;
        root {site};
        location /proxy/ {{
            proxy_pass http://app;
            proxy_http_version 1.1;  # keep-alive to the app needs 1.1 and no Connection: close
            proxy_set_header Connection "";
            # the fields forkd sends the app, so both do the same work
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Request-Id $request_id;
        }}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name gz.bench;
        root {site};
        gzip on;
        gzip_comp_level {GZIP_LEVEL};
        gzip_min_length 256;
        gzip_vary on;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name pre.bench;
        root {site};
        gzip_static on;
        gzip_vary on;
    }}
}}
""")
    return Server("nginx", ["nginx", "-c", conf, "-e", f"{tmp}/nginx-error.log"], port)


def probe_server(tmp, workers, name="probe"):
    port = free_port()
    binary = os.path.join(tmp, "probe")
    if not os.path.exists(binary):
        subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-o", binary,
                        os.path.join(ROOT, "tests/bench/probe.c"), "-levent"], check=True)
    return Server(name, [binary, str(port), str(workers)], port)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return out.stdout + out.stderr


def ab(server, path, n, c, keepalive):
    """(requests per second, server CPU microseconds per request) or None."""
    n = max(100, int(n * SCALE))
    cpu = cpu_seconds(server)
    out = run(["ab"] + (["-k"] if keepalive else []) +
              ["-q", "-n", str(n), "-c", str(c), f"http://127.0.0.1:{server.port}{path}"])
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if not rps or not failed or int(failed.group(1)) != 0 or "Non-2xx" in out:
        print(f"  {server.name}: ab problem:\n{out[-800:]}", file=sys.stderr)
        return None
    return float(rps.group(1)), (cpu_seconds(server) - cpu) * 1e6 / n


def wrk(server, path, threads, conns, secs, metric):
    """errors, MiB/s, or (requests per second, server CPU microseconds per request)."""
    secs = max(1, round(secs * SCALE))
    cpu = cpu_seconds(server)
    out = run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s",
               f"http://127.0.0.1:{server.port}{path}"])
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    nerr = (sum(int(x) for x in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    if metric == "errors":
        reqs = re.search(r"(\d+) requests in", out)
        return nerr if reqs and int(reqs.group(1)) > 0 else None
    if nerr:
        print(f"  {server.name}: wrk saw {nerr} errors: not counted", file=sys.stderr)
        return None
    if metric == "rps":
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        reqs = re.search(r"(\d+) requests in", out)
        if not m or not reqs:
            return None
        return float(m.group(1)), (cpu_seconds(server) - cpu) * 1e6 / int(reqs.group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]B)", out)
    if not m:
        return None
    return float(m.group(1)) * {"KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]


def wrk_gzip(server, host, threads, conns, secs):
    """wrk's (requests per second, CPU per request) for /page.html on site host with
    Accept-Encoding: gzip, once one request showed the server answers it gzipped."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        c.request("GET", "/page.html", headers={"Host": host, "Accept-Encoding": "gzip"})
        r = c.getresponse()
        body = r.read()
        encoded = r.getheader("Content-Encoding") == "gzip" and len(gzip.decompress(body)) > 0
    finally:
        c.close()
    if not encoded:
        print(f"  {server.name}: {host}/page.html not sent gzipped: not counted", file=sys.stderr)
        return None
    secs = max(1, round(secs * SCALE))
    cpu = cpu_seconds(server)
    out = run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "-H", f"Host: {host}",
               "-H", "Accept-Encoding: gzip", f"http://127.0.0.1:{server.port}/page.html"])
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    reqs = re.search(r"(\d+) requests in", out)
    if errors or non2xx or not m or not reqs:
        print(f"  {server.name}: wrk problem:\n{out[-800:]}", file=sys.stderr)
        return None
    return float(m.group(1)), (cpu_seconds(server) - cpu) * 1e6 / int(reqs.group(1))


def idle_memory(server, nconns=3000):
    """Bytes of worker RSS per idle keep-alive connection (each has served one request)."""
    before = rss_kib(server.workers())
    socks = []
    try:
        for _ in range(nconns):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n")
            socks.append(s)
        for s in socks:
            s.settimeout(10)
            got = b""
            while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + int(
                    re.search(rb"Content-Length: (\d+)", got, re.I).group(1)):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed")
                got += chunk
        time.sleep(0.5)
        after = rss_kib(server.workers())
    finally:
        for s in socks:
            s.close()
    return (after - before) * 1024 / nconns


ROWS = [
    # (label, unit, higher_is_better, function(server) -> value or None, probe applies,
    #  pinned: the single-threaded client on one CPU, the servers on the others)
    ("ab -k -n 60000 -c 50, 612 B file", "req/s", True,
     lambda s: ab(s, "/index.html", 60000, 50, True), True, True),
    ("ab -n 15000 -c 50 (new connection each)", "req/s", True,
     lambda s: ab(s, "/index.html", 15000, 50, False), True, True),
    ("wrk -t2 -c100 -d3s, 612 B file", "req/s", True,
     lambda s: wrk(s, "/index.html", 2, 100, 3, "rps"), True, False),
    ("wrk -t2 -c20 -d3s, 1 MiB file", "MiB/s", True,
     lambda s: wrk(s, "/big.bin", 2, 20, 3, "mib"), False, False),
    ("RSS per idle keep-alive connection (3000)", "bytes", False, idle_memory, True, False),
    ("wrk -t2 -c10000 -d3s: errors", "errors", False,
     lambda s: wrk(s, "/index.html", 2, 10000, 3, "errors"), True, False),
    # rows 7, 8: proxied to the app probe (612 B, keep-alive); no probe column
    ("proxy: ab -k -n 30000 -c 50, app 612 B", "req/s", True,
     lambda s: ab(s, "/proxy/index.html", 30000, 50, True), False, True),
    ("proxy: wrk -t2 -c100 -d3s, app 612 B", "req/s", True,
     lambda s: wrk(s, "/proxy/index.html", 2, 100, 3, "rps"), False, False),
    # rows 9, 10: a 20 KB page, Accept-Encoding: gzip; no probe column
    (f"gzip: wrk -t2 -c100 -d3s, {PAGE_KB} KB HTML (forkd cache vs nginx gzip on, level 6)",
     "req/s", True, lambda s: wrk_gzip(s, "gz.bench", 2, 100, 3), False, False),
    (f"precompressed: wrk -t2 -c100 -d3s, {PAGE_KB} KB HTML + .gz (nginx gzip_static on)",
     "req/s", True, lambda s: wrk_gzip(s, "pre.bench", 2, 100, 3), False, False),
]


def place(servers, pinned):
    """
    ab is one thread: left to the scheduler it shares a CPU with a worker in
    some rounds and not in others, and its rate swings by a quarter between
    rounds for every server alike. Pinned rows give ab (this process's
    children) CPU 0 and every server process the other CPUs; other rows let
    all run anywhere (wrk has two threads and needs both CPUs).
    """
    client, rest = ({CPUS[0]}, set(CPUS[1:])) if pinned and len(CPUS) > 1 else (set(CPUS), set(CPUS))
    os.sched_setaffinity(0, client)
    for s in servers:
        for pid in [s.proc.pid] + children(s.proc.pid):
            try:
                os.sched_setaffinity(pid, rest)
            except OSError:
                pass  # a process that just exited


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", default="", help="comma separated row numbers (1-based; "
                    "7,8: the proxy rows; 9,10: compression)")
    ap.add_argument("--forkd", default=os.path.join(ROOT, "build/forkd"),
                    help="the forkd binary (make bench passes $(BUILD)/forkd)")
    ap.add_argument("--smoke", action="store_true",
                    help="1 round, counts / 20, 1 s wrk runs: checks the rows run, "
                         "measures nothing")
    ap.add_argument("--no-pin", action="store_true",
                    help="let ab and the servers share all CPUs (see place())")
    args = ap.parse_args()
    if args.smoke:
        global SCALE
        SCALE, args.rounds = 0.05, 1

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 25000:
        print(f"note: RLIMIT_NOFILE hard limit {hard}: the 10,000-connection row may fail",
              file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="forkd-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as nobody and must read the site
    site = os.path.join(tmp, "www")
    make_site(site)
    # the proxy rows' app: not measured, placed with the servers (off the client's CPU)
    app = probe_server(tmp, 1, "app")
    servers = [forkd_server(tmp, site, args.workers, args.forkd, app.port),
               nginx_server(tmp, site, args.workers, app.port), probe_server(tmp, args.workers)]
    wanted = {int(x) for x in args.rows.split(",") if x} or set(range(1, len(ROWS) + 1))
    results = []
    try:
        app.start()
        for s in servers:
            s.start()
        for i, (label, unit, higher, fn, probe_ok, pinned) in enumerate(ROWS, 1):
            if i not in wanted:
                continue
            place(servers + [app], pinned and not args.no_pin)
            vals = {s.name: [] for s in servers}
            cpu = {s.name: [] for s in servers}
            for r in range(args.rounds):
                for s in servers:
                    if s.name == "probe" and not probe_ok:
                        continue
                    if fn is idle_memory:
                        s.stop()  # a fresh process: pooled memory from earlier rows hides the cost
                        s.start()
                    v = fn(s)
                    if isinstance(v, tuple):
                        v, us = v
                        cpu[s.name].append(us)
                    if v is not None:
                        vals[s.name].append(v)
                    time.sleep(0.5)
            med = {k: (statistics.median(v) if v else None) for k, v in vals.items()}
            results.append((label, unit, higher, med))
            print(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in vals.items()), file=sys.stderr)
            if any(cpu.values()):
                # what the server spent, whatever share of the CPUs the client took
                med = {k: (statistics.median(v) if v else None) for k, v in cpu.items()}
                results.append((f"{label}: server CPU per request", "µs", False, med))
                print(f"  {label}, server CPU µs/request: " +
                      ", ".join(f"{k} {[round(x, 2) for x in v]}" for k, v in cpu.items()),
                      file=sys.stderr)
    finally:
        for s in servers + [app]:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, int):
            return f"{v:,}"
        return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"

    def ratio(a, b):
        if a is None or b is None:
            return "-"
        if b == 0:
            return "=" if a == 0 else "-"
        return f"{a / b:.2f}"

    pin = "ab rows pinned (ab on CPU 0, servers on the others)" if not args.no_pin else "unpinned"
    print(f"\nforkd vs nginx vs probe: {args.workers} workers each, medians of {args.rounds} "
          f"interleaved rounds, {pin}, {time.strftime('%Y-%m-%d')}\n")
    print("| benchmark | unit | forkd | nginx | probe | forkd/nginx | forkd/probe |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, unit, higher, med in results:
        print(f"| {label} | {unit} | {fmt(med['forkd'])} | {fmt(med['nginx'])} | "
              f"{fmt(med.get('probe'))} | {ratio(med['forkd'], med['nginx'])} | "
              f"{ratio(med['forkd'], med.get('probe'))} |")


if __name__ == "__main__":
    main()
