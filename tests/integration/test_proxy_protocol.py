"""The real client behind a load balancer: PROXY protocol v1/v2 on a proxy_protocol
listener (trusted from [server] proxy_from only), a trusted X-Forwarded-For (or
X-Real-IP, Forwarded) from [http] real_ip_from, the request id, the JSON access log,
and a real HAProxy (send-proxy, send-proxy-v2) in front.

The loopback network is 127.0.0.0/8: a client binding 127.0.0.3 is a peer that is
not trusted, 127.0.0.1 one that is.
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from harness import (IO_TIMEOUT, Conn, ProtocolError, ServerCase, build_request, free_port,
                     wait_until)

TRUSTED = "127.0.0.1"
UNTRUSTED = "127.0.0.3"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def conn_from(port, src, timeout=IO_TIMEOUT):
    """A harness Conn whose socket is bound to the source address src."""
    c = Conn.__new__(Conn)
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(src, 0))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.buf = bytearray()
    c.eof = False
    return c


def v1(src, dst="127.0.0.1", sport=40000, dport=80, proto=None):
    proto = proto or ("TCP6" if ":" in src else "TCP4")
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def v2(src=None, dst=None, sport=40000, dport=80, command=1, tlvs=b"", family=None):
    """A v2 header: PROXY (command 1) or LOCAL (0); src None: UNSPEC."""
    if src is None:
        fam, body = 0x00, b""
    elif ":" in src:
        fam = 0x21
        body = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                + struct.pack("!HH", sport, dport))
    else:
        fam = 0x11
        body = (socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
                + struct.pack("!HH", sport, dport))
    if family is not None:
        fam = family
    body += tlvs
    return V2_SIG + bytes([0x20 | command, fam]) + struct.pack("!H", len(body)) + body


class LogReading:
    def wait_access(self, pred, what):
        """The access log's lines once one satisfies pred (flushed once a second)."""
        got = wait_until(lambda: [l for l in self.server.access_lines() if pred(l)] or None,
                         5.0)
        self.assertIsNotNone(got, "no access log line %s in:\n%s"
                             % (what, b"\n".join(self.server.access_lines()[-10:])))
        return got

    def wait_error_log(self, text):
        ok = wait_until(lambda: text in self.server.log_text() or None, 5.0)
        self.assertTrue(ok, "error log lacks %r:\n%s" % (text, self.server.log_text()[-2000:]))


class ProxyProtocolTests(LogReading, ServerCase):
    config = {
        "server": {"listen": "127.0.0.1:0 proxy_protocol", "proxy_from": TRUSTED + "/32",
                   "workers": "1"},
        "http": {"header_timeout": "1s"},
        "status": {"path": "/status", "allow": "203.0.113.0/24 2001:db8::/32"},
    }

    def send_proxied(self, header, target="/", headers=None):
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        conn.send(header + build_request("GET", target, headers=headers))
        return conn.read_response(), conn

    def test_v1_tcp4_is_the_client_for_log_and_allow_list(self):
        resp, conn = self.send_proxied(v1("203.0.113.7"), "/status", [("User-Agent", "v1-4")])
        self.assertEqual(resp.status, 200, "203.0.113.7 is in [status] allow")
        self.wait_access(lambda l: l.startswith(b"203.0.113.7 ") and b"v1-4" in l, "by v1")
        # the connection stays the client's: a second request on it too
        conn.send(build_request("GET", "/"))
        self.assertEqual(conn.read_response().status, 200)

    def test_v1_tcp6_and_v2_tcp6(self):
        for i, header in enumerate((v1("2001:db8::9", "::1"), v2("2001:db8::a", "::1"))):
            ua = "six-%d" % i
            resp, _ = self.send_proxied(header, "/status", [("User-Agent", ua)])
            self.assertEqual(resp.status, 200)
            want = b"2001:db8::9 " if i == 0 else b"2001:db8::a "
            self.wait_access(lambda l: l.startswith(want) and ua.encode() in l, ua)

    def test_allow_list_judges_the_real_client(self):
        # the balancer (127.0.0.1) is not in allow; the client it names decides
        resp, _ = self.send_proxied(v1("198.51.100.4"), "/status")
        self.assertEqual(resp.status, 403)
        resp, _ = self.send_proxied(v2("203.0.113.8", "127.0.0.1"), "/status")
        self.assertEqual(resp.status, 200)

    def test_v2_with_tlvs_local_and_unspec(self):
        tlvs = b"\x01\x00\x02h2" + b"\x04\x00\x03\x00\x00\x00"  # ALPN, NOOP: skipped
        resp, _ = self.send_proxied(v2("203.0.113.9", "127.0.0.1", tlvs=tlvs), "/",
                                    [("User-Agent", "v2-tlv")])
        self.assertEqual(resp.status, 200)
        self.wait_access(lambda l: l.startswith(b"203.0.113.9 ") and b"v2-tlv" in l, "TLVs")
        # LOCAL (a balancer's own health check) and UNSPEC: the balancer is the client
        for name, header in (("local", v2("203.0.113.10", "127.0.0.1", command=0)),
                             ("unspec", v2())):
            resp, _ = self.send_proxied(header, "/status", [("User-Agent", name)])
            self.assertEqual(resp.status, 403, name)
            self.wait_access(lambda l: l.startswith(b"127.0.0.1 ") and name.encode() in l, name)

    def test_header_split_across_writes(self):
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        data = v2("203.0.113.11", "127.0.0.1") + build_request("GET", "/status")
        for i in range(0, len(data), 7):
            conn.send(data[i:i + 7])
            time.sleep(0.005)
        self.assertEqual(conn.read_response().status, 200)

    def assertRefused(self, data, reason, pause=None):
        """data on a new connection from the trusted peer: closed without a byte, logged."""
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        conn.send(data)
        try:
            self.assertTrue(conn.closed_by_peer(5.0), "still open after %r" % data[:40])
        except ConnectionResetError:
            pass  # closed over unread bytes: a reset is a close too, without an answer
        self.wait_error_log(reason)

    def test_malformed_headers_refused_others_unharmed(self):
        other = conn_from(self.port, TRUSTED)  # a client mid-request all along
        self.addCleanup(other.close)
        other.send(v1("203.0.113.12") + b"GET / HTTP/1.1\r\n")
        cases = [
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "no PROXY signature"),
            (V2_SIG[:11] + b"X" + b"\x21\x11\x00\x0c" + b"\x00" * 12, "no PROXY signature"),
            (b"PROXY UNKNOWN " + b"a" * 120 + b"\r\n", "longer than 107 bytes"),
            (b"PROXY TCP4 203.0.113.1 127.0.0.1 99999 80\r\n", "port not 0..65535"),
            (b"PROXY TCP4 ::1 ::1 1 2\r\n", "address not of its protocol"),
            (V2_SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12, "command not LOCAL or PROXY"),
            (V2_SIG + b"\x21\x11\x00\x08" + b"\x00" * 8, "shorter than its addresses"),
            (V2_SIG + b"\x21\x11\xff\xff", "longer than the buffer"),
        ]
        for data, reason in cases:
            with self.subTest(reason=reason):
                self.assertRefused(data, reason)
        other.send(b"Host: x\r\n\r\n")
        self.assertEqual(other.read_response().status, 200, "the other connection")

    def test_truncated_and_slow_headers_time_out(self):
        # a v2 header cut short, and a v1 line dripping: closed at header_timeout, no 408
        for data in (v2("203.0.113.13", "127.0.0.1")[:20], b"PROXY TCP4 203.0"):
            conn = conn_from(self.port, TRUSTED)
            self.addCleanup(conn.close)
            conn.send(data)
            started = time.monotonic()
            self.assertTrue(conn.closed_by_peer(5.0))
            self.assertLess(time.monotonic() - started, 3.0, "header_timeout is 1s")
        self.wait_error_log("PROXY header refused from 127.0.0.1: timed out")

    def test_untrusted_peer_closed_without_answer(self):
        conn = conn_from(self.port, UNTRUSTED)
        self.addCleanup(conn.close)
        try:
            conn.send(v1("203.0.113.14") + build_request("GET", "/status"))
            self.assertTrue(conn.closed_by_peer(5.0))
        except (ConnectionResetError, BrokenPipeError):
            pass
        self.wait_error_log("PROXY header refused from 127.0.0.3: not in [server] proxy_from")
        # and a plain request from it is no better
        conn = conn_from(self.port, UNTRUSTED)
        self.addCleanup(conn.close)
        try:
            conn.send(build_request("GET", "/"))
            self.assertTrue(conn.closed_by_peer(5.0))
        except (ConnectionResetError, BrokenPipeError):
            pass

    def refused_total(self):
        resp, _ = self.send_proxied(v1("203.0.113.16"), "/status/metrics")
        self.assertEqual(resp.status, 200)
        return sum(int(n) for n in
                   re.findall(rb"forkd_proxy_refused_total\{[^}]*\} (\d+)", resp.body))

    def test_untrusted_flood_counted_not_logged_line_by_line(self):
        before_lines = self.server.log_text().count("not in [server] proxy_from")
        before = self.refused_total()
        for _ in range(60):
            conn = conn_from(self.port, UNTRUSTED)
            try:
                conn.send(b"GET / HTTP/1.1\r\n\r\n")
                conn.closed_by_peer(5.0)
            except (ConnectionResetError, BrokenPipeError):
                pass
            conn.close()
        got = wait_until(lambda: self.refused_total() >= before + 60 or None, 5.0)
        self.assertTrue(got, "60 refusals counted")
        lines = self.server.log_text().count("not in [server] proxy_from") - before_lines
        self.assertGreaterEqual(lines, 1)
        self.assertLessEqual(lines, 6, "one line a second at most")

    def test_refusals_counted_in_metrics(self):
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        conn.send(b"junk\r\n")
        try:
            conn.closed_by_peer(5.0)
        except ConnectionResetError:
            pass
        resp, _ = self.send_proxied(v1("203.0.113.15"), "/status/metrics")
        self.assertEqual(resp.status, 200)
        m = re.search(rb"forkd_proxy_refused_total\{[^}]*\} (\d+)", resp.body)
        self.assertIsNotNone(m, resp.body[:2000])
        self.assertGreaterEqual(int(m.group(1)), 1)


class ForwardedHeaderTests(LogReading, ServerCase):
    """[http] real_ip_from: X-Forwarded-For believed from 127.0.0.1 only."""
    config = {
        "server": {"workers": "1"},
        "http": {"real_ip_from": TRUSTED + "/32 10.0.0.0/8"},
        "status": {"path": "/status", "allow": "203.0.113.0/24"},
    }

    def ask(self, src, headers, target="/status"):
        conn = conn_from(self.port, src)
        self.addCleanup(conn.close)
        conn.send(build_request("GET", target, headers=headers))
        return conn.read_response()

    def test_trusted_xff_is_the_client(self):
        # recursive: 10.0.0.5 is a trusted hop, 203.0.113.20 the client, 6.6.6.6 the client's lie
        xff = [("X-Forwarded-For", "6.6.6.6, 203.0.113.20, 10.0.0.5"), ("User-Agent", "xff-t")]
        self.assertEqual(self.ask(TRUSTED, xff).status, 200)
        self.wait_access(lambda l: l.startswith(b"203.0.113.20 ") and b"xff-t" in l, "trusted")

    def test_untrusted_xff_changes_nothing(self):
        xff = [("X-Forwarded-For", "203.0.113.21"), ("User-Agent", "xff-u")]
        self.assertEqual(self.ask(UNTRUSTED, xff).status, 403)
        self.wait_access(lambda l: l.startswith(b"127.0.0.3 ") and b"xff-u" in l, "untrusted")

    def test_a_client_spoofing_left_of_the_proxy_changes_nothing(self):
        # the proxy appends the real client (198.51.100.1, not allowed) to what the client sent
        xff = [("X-Forwarded-For", "203.0.113.22"), ("X-Forwarded-For", "198.51.100.1")]
        self.assertEqual(self.ask(TRUSTED, xff).status, 403)


class RealIpHeaderTests(LogReading, ServerCase):
    config = {
        "server": {"workers": "1"},
        "http": {"real_ip_from": TRUSTED, "real_ip_header": "Forwarded"},
        "status": {"path": "/status", "allow": "2001:db8::/32"},
    }

    def test_forwarded_for(self):
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        conn.send(build_request("GET", "/status", headers=[
            ("Forwarded", 'for="[2001:db8::7]:4711";proto=https'), ("X-Forwarded-For", "1.1.1.1")]))
        self.assertEqual(conn.read_response().status, 200)


class RequestIdJsonLogTests(LogReading, ServerCase):
    config = {
        "server": {"workers": "1", "listen": "127.0.0.1:0 proxy_protocol",
                   "proxy_from": TRUSTED},
        "log": {"format": "json"},
    }

    def exchange_from(self, src, header, headers):
        conn = conn_from(self.port, src)
        self.addCleanup(conn.close)
        conn.send(header + build_request("GET", "/?q=%22x", headers=headers))
        return conn.read_response()

    def records(self):
        out = []
        for line in self.server.access_lines():
            out.append(json.loads(line.decode("ascii")))  # every byte escaped: pure ASCII
        return out

    def test_json_line_fields_and_request_id(self):
        made = self.exchange_from(TRUSTED, v1("203.0.113.30"), [("User-Agent", 'a"b\xe9\\')])
        rid = made.get("X-Request-Id")
        self.assertRegex(rid or "", r"^[0-9a-f]{32}$", "a made id")
        taken = self.exchange_from(TRUSTED, v1("203.0.113.31"),
                                   [("X-Request-Id", "lb-1234.abc_X:9"),
                                    ("X-Forwarded-For", "203.0.113.31")])
        self.assertEqual(taken.get("X-Request-Id"), "lb-1234.abc_X:9", "a trusted id is taken")
        unsafe = self.exchange_from(TRUSTED, v1("203.0.113.32"),
                                    [("X-Request-Id", "bad id<script>")])
        self.assertRegex(unsafe.get("X-Request-Id") or "", r"^[0-9a-f]{32}$",
                         "an unsafe id is replaced")
        self.assertNotEqual(unsafe.get("X-Request-Id"), rid, "ids are unique")
        got = wait_until(lambda: len(self.records()) >= 3 or None, 5.0)
        self.assertTrue(got, self.server.access_lines())
        recs = {r["request_id"]: r for r in self.records()}
        r = recs[rid]
        for key in ("time", "request_id", "client", "peer", "method", "target", "status",
                    "bytes", "request_us", "upstream_us", "referer", "user_agent",
                    "forwarded_for"):
            self.assertIn(key, r)
        self.assertIsNone(r["upstream_us"], "a static file has no upstream")
        self.assertEqual(r["client"], "203.0.113.30")
        self.assertEqual(r["peer"], "127.0.0.1")
        self.assertEqual((r["method"], r["target"], r["status"]), ("GET", "/?q=%22x", 200))
        self.assertEqual(r["user_agent"], 'a"b\xe9\\')
        self.assertGreater(r["bytes"], 0)
        self.assertTrue(0 < r["request_us"] < 5_000_000, r["request_us"])
        self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")
        self.assertEqual(recs["lb-1234.abc_X:9"]["forwarded_for"], "203.0.113.31")

    def test_bad_request_still_logged_as_json(self):
        conn = conn_from(self.port, TRUSTED)
        self.addCleanup(conn.close)
        conn.send(v1("203.0.113.33") + b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = conn.read_response()
        self.assertEqual(resp.status, 400)
        self.assertTrue(resp.get("X-Request-Id"))
        got = wait_until(lambda: [r for r in self.records() if r["status"] == 400] or None, 5.0)
        self.assertTrue(got)
        self.assertEqual(got[0]["client"], "203.0.113.33")
        self.assertEqual(got[0]["method"], "")


class UntrustedRequestIdTests(ServerCase):
    config = {"server": {"workers": "1"}}

    def test_untrusted_id_is_not_taken(self):
        resp = self.request("GET", "/", headers=[("X-Request-Id", "client-chosen")])
        self.assertRegex(resp.get("X-Request-Id") or "", r"^[0-9a-f]{32}$")


class HAProxyTests(LogReading, ServerCase):
    """A real HAProxy in front: the access log shows the client HAProxy saw (127.0.0.5),
    not HAProxy (127.0.0.1)."""
    config = {
        "server": {"workers": "1", "listen": "127.0.0.1:0 proxy_protocol",
                   "proxy_from": TRUSTED},
        "status": {"path": "/status", "allow": "127.0.0.5"},
    }

    def haproxy(self, send_proxy):
        if shutil.which("haproxy") is None:
            self.skipTest("haproxy is not installed (scripts/deps.sh test)")
        tmp = tempfile.mkdtemp(prefix="forkd-haproxy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        port = free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n  log stderr local0 warning\n\n"
                    "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
                    "  timeout server 10s\n\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\n\n"
                    "backend be\n  option httpchk GET /\n"
                    "  server forkd 127.0.0.1:%d %s check inter 200ms\n"
                    % (port, self.port, send_proxy))
        proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

        def stop():
            proc.terminate()
            proc.wait(10)
        self.addCleanup(stop)
        return port

    def through(self, send_proxy):
        port = self.haproxy(send_proxy)
        ua = "haproxy-" + send_proxy

        def try_once():
            try:
                c = conn_from(port, "127.0.0.5")
                c.send(build_request("GET", "/status", headers=[("User-Agent", ua)]))
                r = c.read_response()
                c.close()
                return r if r.status != 503 else None  # 503: HAProxy has no server up yet
            except (OSError, ProtocolError):
                return None
        resp = wait_until(try_once, 10.0, interval=0.1)
        self.assertIsNotNone(resp, "no answer through haproxy")
        self.assertEqual(resp.status, 200, "127.0.0.5 is allowed; haproxy's 127.0.0.1 is not")
        self.wait_access(lambda l: l.startswith(b"127.0.0.5 ") and ua.encode() in l, ua)
        # its health checks (with the PROXY header too) are answered, never refused
        self.assertNotIn("PROXY header refused", self.server.log_text())

    def test_send_proxy_v1(self):
        self.through("send-proxy")

    def test_send_proxy_v2(self):
        self.through("send-proxy-v2")
