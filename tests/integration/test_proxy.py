"""The reverse proxy ([upstream NAME], [route PATH] upstream = NAME) in front of the real
gunicorn (Debian's package) running tests/integration/proxy_app.py: requests and headers
both ways, bodies streamed, 502/504, the keep-alive race, balancing, passive health."""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (HERE, FreshServerCase, ServerCase, build_request, chunked, free_port,
                     wait_until)

GUNICORN = shutil.which("gunicorn")
APP_KEEPALIVE = 2.0  # gunicorn's default --keep-alive, seconds


def start_gunicorn(port, workers=2):
    """gunicorn with gthread workers (the sync ones never keep a connection alive), on a
    port, or a unix socket when port is a path."""
    bind = port if isinstance(port, str) else "127.0.0.1:%d" % port
    proc = subprocess.Popen(
        [GUNICORN, "-k", "gthread", "--threads", "4", "-w", str(workers), "--keep-alive",
         str(int(APP_KEEPALIVE)), "-b", bind, "--chdir", HERE,
         "proxy_app:app"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)

    def up():
        try:
            if isinstance(port, str):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(0.2)
                s.connect(port[len("unix:"):])
                s.close()
            else:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return proc.poll() is not None and "dead"
    if wait_until(up, 15) is not True:
        proc.kill()
        raise AssertionError("gunicorn did not start on %s" % bind)
    return proc


def resolvable_name():
    """(name, IPv4 address) of this machine's name or localhost, or (None, None)."""
    for name in (socket.gethostname(), "localhost"):
        try:
            return name, socket.gethostbyname(name)
        except OSError:
            continue
    return None, None


class RawUpstream:
    """A one-shot app server that answers every request with fixed bytes (after delay s),
    or a request for a path in by_path with its own, then closes the connection (or holds it
    open, unread, in held, when keeps_open() says so)."""

    def __init__(self, answer, delay=0, host="127.0.0.1", by_path=None):
        self.answer = answer
        self.by_path = by_path or {}
        self.delay = delay
        self.held = []
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    got = c.recv(65536)
                    if not got:
                        break
                    data += got
                time.sleep(self.delay)
                path = data.split(b" ", 2)[1] if data.count(b" ") >= 2 else b""
                c.sendall(self.by_path.get(path, self.answer))
            except OSError:
                pass
            if self.keeps_open(data):
                self.held.append(c)
            else:
                c.close()

    def keeps_open(self, request):
        return False

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class StaleUpstream(RawUpstream):
    """Answers the first request of each connection (keep-alive), then closes the
    connection when the next request arrives, unanswered: the keep-alive race, every time."""

    def __init__(self):
        super().__init__(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
        self.closed_unanswered = 0

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        c.settimeout(10)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                got = c.recv(65536)
                if not got:
                    return
                data += got
            head, _, rest = data.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length: *(\d+)", head)
            need = int(m.group(1)) if m else 0
            while len(rest) < need:
                rest += c.recv(65536)
            c.sendall(self.answer)
            if c.recv(65536):  # the next request: dropped, as an app closing at its timeout
                self.closed_unanswered += 1
        except OSError:
            pass
        finally:
            c.close()


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


def ws_accept(key):
    import base64
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


def ws_frame(payload, opcode=1, mask=None):
    """One final WebSocket frame (payload < 126 bytes), masked when mask (4 bytes) is given."""
    head = bytes([0x80 | opcode, (0x80 if mask else 0) | len(payload)])
    if mask:
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def ws_reader(sock, first):
    """A recv(n) for ws_read_frame() on sock: the bytes read already (first), then more."""
    buf = [first]

    def recv(n):
        while len(buf[0]) < n:
            got = sock.recv(65536)
            if not got:
                raise AssertionError("tunnel closed")
            buf[0] += got
        out, buf[0] = buf[0][:n], buf[0][n:]
        return out
    return recv


def ws_read_frame(recv):
    """(opcode, payload) of one small frame, unmasked; recv(n) returns exactly n bytes."""
    b0, b1 = recv(2)
    mask = recv(4) if b1 & 0x80 else None
    payload = recv(b1 & 0x7F)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


class WsUpstream(RawUpstream):
    """A WebSocket app written by hand (RFC 6455): answers an upgrade with 101 and a first
    message in the same write, then echoes each text frame upper-cased; counts the
    connections that ended with the client's close (EOF). /force101 gets a 101 unasked."""

    def __init__(self):
        super().__init__(b"")
        self.eofs = 0
        self.upgrades = []  # the request heads it switched for

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        c.settimeout(10)
        buf = [b""]

        def recv(n):
            while len(buf[0]) < n:
                got = c.recv(65536)
                if not got:
                    raise EOFError
                buf[0] += got
            out, buf[0] = buf[0][:n], buf[0][n:]
            return out
        try:
            while b"\r\n\r\n" not in buf[0]:
                got = c.recv(65536)
                if not got:
                    return
                buf[0] += got
            head, _, buf[0] = buf[0].partition(b"\r\n\r\n")
            if b"/force101" in head.split(b"\r\n")[0]:  # a switch nobody asked for
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
                return
            key = re.search(rb"(?i)\r\nsec-websocket-key: *(\S+)", head)
            if not re.search(rb"(?i)\r\nupgrade: *websocket", head) or not key:
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            self.upgrades.append(head)
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + ws_accept(key.group(1))
                      + b"\r\n\r\n" + ws_frame(b"hello"))
            while True:
                opcode, payload = ws_read_frame(recv)
                if opcode == 8:
                    c.sendall(ws_frame(payload, 8))
                    continue
                c.sendall(ws_frame(payload.upper()))
        except EOFError:
            self.eofs += 1
        except OSError:
            pass
        finally:
            c.close()


class AppServerCase(ServerCase):
    """A forkd in front of app servers the class starts in setUpClass before calling this
    one's: gunicorn processes (cls.apps) and apps of this file (cls.upstreams), stopped when
    the class ends or forkd fails to start."""
    apps = ()
    upstreams = ()

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except BaseException:
            cls.stop_apps()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.stop_apps()

    @classmethod
    def stop_apps(cls):
        for p in cls.apps:
            p.send_signal(signal.SIGTERM)
        for p in cls.apps:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for up in cls.upstreams:
            up.close()


@unittest.skipIf(GUNICORN is None, "gunicorn is not installed (scripts/deps.sh test)")
class ProxyTest(AppServerCase):
    @classmethod
    def setUpClass(cls):
        cls.ports = [free_port(), free_port()]
        cls.dead = free_port()
        cls.sockdir = tempfile.mkdtemp(prefix="forkd-proxy-")
        cls.unix = "unix:" + os.path.join(cls.sockdir, "app.sock")
        cls.apps = [start_gunicorn(p) for p in cls.ports + [cls.unix]]
        cls.raw = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: X-Secret\r\n"
                              b"X-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 1\r\n\r\nraw",
                              # hop-by-hop fields with no Connection field naming them
                              by_path={b"/raw/chunked": b"HTTP/1.1 200 OK\r\n"
                                       b"Transfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n"
                                       b"X-Kept: 1\r\n\r\n3\r\nraw\r\n0\r\n\r\n"})
        cls.cut = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
                              + b"y" * 60000)
        cls.stale = StaleUpstream()
        cls.ws = WsUpstream()
        cls.bad = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nBad Name: 1\r\n\r\nraw")
        # servers = NAME:port: a name of this machine, resolved when the config loads (a
        # minimal root, as tests/fresh builds, may resolve neither: then the test skips)
        cls.hostname, named_ip = resolvable_name()
        cls.named = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnamed",
                                host=named_ip or "127.0.0.1")
        a, b = ("127.0.0.1:%d" % p for p in cls.ports)
        cls.config = {
            "upstream app": {"servers": a},
            "route /app/": {"upstream": "app"},
            "upstream pair": {"servers": "%s %s" % (a, b)},
            "route /pair/": {"upstream": "pair"},
            "upstream least": {"servers": "%s %s" % (a, b), "balance": "least_conn"},
            "route /least/": {"upstream": "least"},
            "upstream down": {"servers": "127.0.0.1:%d" % cls.dead},
            "route /down/": {"upstream": "down"},
            "upstream halfdown": {"servers": "127.0.0.1:%d %s" % (cls.dead, a)},
            "route /halfdown/": {"upstream": "halfdown"},
            "upstream slowapp": {"servers": a, "read_timeout": "500ms"},
            "route /slowapp/": {"upstream": "slowapp"},
            # pooled connections kept past gunicorn's keep-alive: the race happens
            "upstream racy": {"servers": a, "keepalive_timeout": "30s"},
            "route /racy/": {"upstream": "racy"},
            "upstream raw": {"servers": "127.0.0.1:%d" % cls.raw.port},
            "route /raw/": {"upstream": "raw"},
            "upstream bad": {"servers": "127.0.0.1:%d" % cls.bad.port},
            "route /bad/": {"upstream": "bad"},
            "upstream stale": {"servers": "127.0.0.1:%d" % cls.stale.port,
                               "keepalive_timeout": "30s"},
            "route /stale/": {"upstream": "stale"},
            "upstream cut": {"servers": "127.0.0.1:%d" % cls.cut.port},
            "route /cut/": {"upstream": "cut"},
            "upstream sock": {"servers": cls.unix, "balance": "least_conn"},
            "route /sock/": {"upstream": "sock"},
            # only test_status_shows_upstreams uses it: its counts are its own
            "upstream ws": {"servers": "127.0.0.1:%d" % cls.ws.port},
            "route /ws/": {"upstream": "ws"},
            "upstream wsidle": {"servers": "127.0.0.1:%d" % cls.ws.port, "read_timeout": "500ms"},
            "route /wsidle/": {"upstream": "wsidle"},
            "upstream named": {"servers": "%s:%d" % (cls.hostname or "127.0.0.1",
                                                     cls.named.port)},
            "route /named/": {"upstream": "named"},
            "upstream watched": {"servers": "127.0.0.1:%d %s" % (cls.dead, a)},
            "route /watched/": {"upstream": "watched"},
            "status": {"path": "/status"},
            "server": {"workers": "1"},
            "log": {"level": "info"},
        }
        cls.upstreams = [cls.raw, cls.bad, cls.stale, cls.cut, cls.named, cls.ws]
        super().setUpClass()

    @classmethod
    def stop_apps(cls):
        super().stop_apps()
        shutil.rmtree(cls.sockdir, ignore_errors=True)

    def echo(self, resp):
        import json
        self.assertEqual(resp.status, 200, resp)
        return json.loads(resp.body)

    def test_get_headers_both_ways(self):
        resp = self.request("GET", "/app/%7E/echo?a=b%20c", host="example.org", headers={
            "X-Forwarded-For": "203.0.113.9", "X-Request-Id": "forged",
            "Connection": "keep-alive, X-Foo", "X-Foo": "secret", "TE": "trailers",
            "Keep-Alive": "timeout=5", "Proxy-Authorization": "x", "X-Kept": "yes"})
        seen = self.echo(resp)
        self.assertEqual(seen["raw_uri"], "/app/%7E/echo?a=b%20c")
        h = seen["headers"]
        self.assertEqual(h["Host"], "example.org")
        self.assertEqual(h["X-Forwarded-For"], "203.0.113.9, 127.0.0.1")
        self.assertEqual(h["X-Forwarded-Proto"], "http")
        self.assertEqual(h["X-Forwarded-Host"], "example.org")
        self.assertEqual(h["X-Kept"], "yes")
        # one request id from the client's response to the app (an untrusted client's is not it)
        self.assertEqual(h["X-Request-Id"], resp.get("X-Request-Id"))
        for hop in ("X-Foo", "Te", "Keep-Alive", "Proxy-Authorization", "Connection"):
            self.assertNotIn(hop, h)
        self.assertEqual(resp.get("X-App"), "proxy_app")
        self.assertEqual(resp.get("Server"), "forkd")

    def test_unix_socket_upstream(self):
        seen = self.echo(self.request("GET", "/sock/echo?u=1"))
        self.assertEqual(seen["raw_uri"], "/sock/echo?u=1")
        self.assertEqual(seen["headers"]["X-Forwarded-For"], "127.0.0.1")

    def test_response_hop_by_hop_removed(self):
        resp = self.request("GET", "/raw/x")
        self.assertEqual(resp.body, b"raw")
        self.assertEqual(resp.get("X-Kept"), "1")
        self.assertNotIn("X-Secret", resp)
        self.assertNotIn("Keep-Alive", resp)

    def test_response_hop_by_hop_removed_without_connection(self):
        # the app's own framing and Keep-Alive never reach the client: one Transfer-Encoding,
        # forkd's (it was passed on beside forkd's, twice, before); chunked: no check_common
        resp, _ = self.exchange(build_request("GET", "/raw/chunked"))
        self.assertEqual(resp.body, b"raw")
        self.assertEqual(resp.get("X-Kept"), "1")
        self.assertEqual(resp.all("Transfer-Encoding"), ["chunked"])
        self.assertNotIn("Keep-Alive", resp)

    def test_post_body_forwarded_with_length(self):
        body = os.urandom(200000).hex().encode()
        # an answer larger than the proxy's buffer is streamed (chunked): no check_common
        resp, _ = self.exchange(build_request("POST", "/app/echo", body=body,
                                              headers={"Content-Length": str(len(body))}))
        seen = self.echo(resp)
        self.assertEqual(seen["method"], "POST")
        self.assertEqual(seen["content_length"], str(len(body)))
        self.assertEqual(seen["body"].encode(), body)
        seen = self.echo(self.request("POST", "/app/echo"))
        self.assertEqual(seen["content_length"], "0")

    def test_head(self):
        """HEAD: the app's Content-Length is passed on (what a GET gets), no body follows, and
        the next request on the connection is read right (nothing of a body left over)."""
        c = self.connect()
        c.send(build_request("HEAD", "/app/big?n=5000") + build_request("GET", "/app/big?n=7"))
        resp = c.read_response("HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Content-Length"), "5000")
        self.assertNotIn("Transfer-Encoding", resp)
        self.assertEqual(resp.body, b"")
        resp = c.read_response()
        self.assertEqual((resp.status, resp.body), (200, bytes(range(7))), self.server.log_text())
        resp = self.request("GET", "/app/big?n=5000")  # the same length for GET
        self.assertEqual(resp.get("Content-Length"), "5000")


    def test_app_head_of_many_fields_passes(self):
        """An app's 40 cookies and a 2 KB policy (6 KB of fields) reach the client whole:
        a response's header lines grow past their first KiB (they were a 502)."""
        resp = self.request("GET", "/app/cookies?n=40")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.all("Set-Cookie")), 40)
        self.assertEqual(resp.all("Set-Cookie")[39], "c39=%s; Path=/; HttpOnly" % ("v" * 80))
        self.assertTrue(resp.get("Content-Security-Policy").endswith("img-src x;"))
        self.assertEqual(resp.body, b"ok\n")
    def test_large_response_streamed(self):
        n = 8 * 1024 * 1024
        resp, _ = self.exchange(build_request("GET", "/app/big?n=%d" % n))
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(resp.body), n)
        want = hashlib.sha256(bytes(i % 251 for i in range(n))).hexdigest()
        self.assertEqual(hashlib.sha256(resp.body).hexdigest(), want)

    def test_chunked_upstream_body(self):
        resp, _ = self.exchange(build_request("GET", "/app/stream?n=300001&chunk=7777"))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"x" * 300001)

    def test_slow_client_holds_no_app_worker(self):
        """A client reading nothing of a 20 MB answer: the app still serves others."""
        c = self.connect()
        c.send(build_request("GET", "/app/big?n=20000000"))
        time.sleep(0.5)
        for _ in range(4):
            self.assertEqual(self.request("GET", "/app/echo").status, 200)

    def test_502_when_the_app_is_down(self):
        for _ in range(3):
            resp = self.request("GET", "/down/x")
            self.assertEqual(resp.status, 502)
        self.assertTrue(wait_until(lambda: "Connection refused" in self.server.log_text(), 5))
        # the only server, down: tried anyway, but said down once, not per request
        self.assertEqual(self.server.log_text().count("upstream down: server 127.0.0.1:%d failed"
                                                      % self.dead), 1)

    def test_body_cut_short_is_not_made_whole(self):
        """The app dies midway: the client's chunked body gets no last chunk, and a close."""
        c = self.connect()
        c.send(build_request("GET", "/cut/x"))
        data = b""
        while True:
            got = c.sock.recv(65536)
            if not got:
                break
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertFalse(body.endswith(b"0\r\n\r\n"), "a cut body was ended as whole")
        self.assertGreater(len(body), 50000)
        self.assertTrue(wait_until(lambda: "response cut short" in self.server.log_text(), 5))

    def test_502_on_a_bad_response(self):
        resp = self.request("GET", "/bad/x")
        self.assertEqual(resp.status, 502)
        self.assertTrue(wait_until(lambda: "bad header field name" in self.server.log_text(), 5))

    def test_504_on_read_timeout(self):
        t0 = time.monotonic()
        resp = self.request("GET", "/slowapp/slow?s=2")
        self.assertEqual(resp.status, 504)
        self.assertLess(time.monotonic() - t0, 1.8)
        self.assertTrue(wait_until(lambda: "read_timeout passed" in self.server.log_text(), 5))

    def race(self, prefix, n=4):
        """n requests on one client connection, spaced at the app's keep-alive timeout."""
        failed = 0
        c = self.connect()
        for i in range(n):
            if i:
                time.sleep(APP_KEEPALIVE)
            c.send(build_request("GET", prefix + "pid"))
            resp = c.read_response()
            failed += resp.status != 200
        return failed

    def test_keepalive_race_default_idle_timeout(self):
        self.assertEqual(self.race("/app/"), 0)

    def test_keepalive_race_replayed(self):
        """Pooled for 30 s, past the app's 2 s: a stale connection is replayed, never a 502."""
        self.assertEqual(self.race("/racy/"), 0)
        self.assertNotIn(b"/racy/", b"".join(l for l in self.server.access_lines()
                                             if b'" 502 ' in l))

    def test_stale_pooled_connection_replayed_once_for_idempotent_only(self):
        """The app closes a pooled connection as the request arrives: a GET is sent again on a
        new connection (200), a POST is not (502: it may have been acted on)."""
        self.assertEqual(self.request("GET", "/stale/a").body, b"fresh")  # pooled after
        before = self.stale.closed_unanswered
        # (the connection of a HEAD is never pooled again: HEAD goes last)
        for method in ("GET", "DELETE", "HEAD"):
            resp, _ = self.exchange(build_request(method, "/stale/b"), method)
            self.assertEqual(resp.status, 200, method)
        self.assertEqual(self.stale.closed_unanswered - before, 3)
        self.assertTrue(wait_until(lambda: self.server.log_text().count(
            "closed a pooled connection under a request: sent again") >= 3, 5))
        self.assertEqual(self.request("GET", "/stale/a").body, b"fresh")  # pooled after
        resp = self.request("POST", "/stale/c", body=b"x", headers={"Content-Length": "1"})
        self.assertEqual(resp.status, 502)
        self.assertEqual(self.stale.closed_unanswered - before, 4)

    def test_two_servers_balanced(self):
        for prefix in ("/pair/", "/least/"):
            ports = set()
            for _ in range(6):
                resp = self.request("GET", prefix + "pid")
                self.assertEqual(resp.status, 200)
                ports.add(resp.body.split()[1])
            self.assertEqual(ports, {str(p).encode() for p in self.ports}, prefix)

    def test_failing_server_skipped(self):
        for _ in range(6):
            self.assertEqual(self.request("GET", "/halfdown/pid").status, 200)
        log = self.server.log_text()
        self.assertRegex(log, r"upstream halfdown: server 127\.0\.0\.1:%d failed "
                         r"\(Connection refused\): skipped for 10000ms" % self.dead)
        # skipped: one failure line, not one per request
        self.assertEqual(len(re.findall(r"upstream halfdown: server .* failed", log)), 1)


    def ws_connect(self, path, port=None):
        """A WebSocket handshake through forkd: (the raw socket, the 101's head, what followed)."""
        key = b"dGhlIHNhbXBsZSBub25jZQ=="
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=5)
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: example.org\r\n"
                  b"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            self.assertTrue(got, "closed before the 101: %r" % data)
            data += got
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        self.assertIn(b"\r\nSec-WebSocket-Accept: " + ws_accept(key), head)
        self.assertRegex(head, rb"(?i)\r\nupgrade: websocket")
        self.assertIn(b"\r\nConnection: Upgrade", head)
        self.assertNotIn(b"Content-Length", head)
        return s, head, rest

    def test_websocket_passed_through(self):
        """An upgrade the app accepts: the 101 reaches the client, then frames pass both ways
        (the app's first one sent with its 101), until the client closes: the app sees it."""
        s, _, rest = self.ws_connect("/ws/chat")
        recv = ws_reader(s, rest)
        self.assertEqual(ws_read_frame(recv), (1, b"hello"))
        for word in (b"abc", b"forkd tunnels"):
            s.sendall(ws_frame(word, mask=os.urandom(4)))
            self.assertEqual(ws_read_frame(recv), (1, word.upper()))
        self.assertIn(b"X-Forwarded-For: 127.0.0.1", self.ws.upgrades[-1])
        eofs = self.ws.eofs
        s.close()
        self.assertTrue(wait_until(lambda: self.ws.eofs > eofs or None, 5),
                        "the app's side stayed open after the client closed")
        self.assertTrue(wait_until(lambda: any(b'"GET /ws/chat HTTP/1.1" 101 ' in l
                                                for l in self.server.access_lines()), 5))

    def test_websocket_idle_closed(self):
        """A tunnel where nothing passes for read_timeout (500 ms here) is closed both ways."""
        s, _, _ = self.ws_connect("/wsidle/chat")
        eofs = self.ws.eofs
        s.settimeout(5)
        t0 = time.monotonic()
        data = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
        self.assertLess(time.monotonic() - t0, 3)
        s.close()
        self.assertTrue(wait_until(lambda: self.ws.eofs > eofs or None, 5))

    def test_101_without_upgrade_asked_is_502(self):
        resp = self.request("GET", "/ws/force101")
        self.assertEqual(resp.status, 502)
        self.assertTrue(wait_until(lambda: "asked for no upgrade" in self.server.log_text(), 5))

    def test_server_by_name(self):
        """servers = NAME:port: resolved at load; the status shows the name as written."""
        import json
        if self.hostname is None:
            self.skipTest("neither this machine's name nor localhost resolves here")
        self.assertEqual(self.request("GET", "/named/x").body, b"named")
        st = json.loads(self.request("GET", "/status?json").body)
        named = [u for u in st["upstreams"] if u["name"] == "named"][0]
        self.assertEqual(named["servers"][0]["server"], "%s:%d" % (self.hostname, self.named.port))

    def test_status_shows_upstreams(self):
        """/status JSON and metrics: per upstream server its state (a refused connect: down
        for fail_timeout), requests, failures, requests in flight, pooled connections."""
        import json
        dead, live = "127.0.0.1:%d" % self.dead, "127.0.0.1:%d" % self.ports[0]

        def servers():
            st = json.loads(self.request("GET", "/status?json").body)
            ups = {u["name"]: u for u in st["upstreams"]}
            return {s["server"]: s for s in ups["watched"]["servers"]}
        before = servers()
        self.assertEqual(before[dead]["state"], "up")
        self.assertEqual((before[live]["requests"], before[live]["failures"]), (0, 0))
        for _ in range(4):
            self.assertEqual(self.request("GET", "/watched/pid").status, 200)
        s = servers()
        self.assertEqual((s[dead]["state"], s[dead]["down_workers"]), ("down", 1))
        self.assertEqual((s[dead]["requests"], s[dead]["failures"]), (1, 1))
        self.assertEqual(s[live]["state"], "up")
        self.assertEqual((s[live]["requests"], s[live]["failures"]), (4, 0))
        self.assertEqual(s[live]["active"], 0)
        self.assertEqual(s[live]["idle"], 1)  # pooled, for keepalive_timeout (1 s)
        # a request in flight is active; its connection is not idle meanwhile
        c = self.connect()
        c.send(build_request("GET", "/watched/slow?s=1"))
        self.assertTrue(wait_until(lambda: servers()[live]["active"] == 1 or None, 3))
        self.assertEqual(servers()[live]["idle"], 0)
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(wait_until(lambda: servers()[live]["idle"] == 0 or None, 3),
                        "a pooled connection outlived keepalive_timeout")
        metrics = self.request("GET", "/status/metrics").body.decode()
        self.assertIn('forkd_upstream_up{upstream="watched",server="%s"} 0\n' % dead, metrics)
        self.assertIn('forkd_upstream_up{upstream="watched",server="%s"} 1\n' % live, metrics)
        self.assertIn('forkd_upstream_requests_total{upstream="watched",server="%s"} 5\n' % live,
                      metrics)
        self.assertIn('forkd_upstream_failures_total{upstream="watched",server="%s"} 1\n' % dead,
                      metrics)
        self.assertIn("# TYPE forkd_upstream_idle_connections gauge\n", metrics)
        self.assertIn("forkd_draining 0\n", metrics)


class ProxyTunnelStopTest(FreshServerCase):
    """A WebSocket tunnel is one of the worker's connections: counted in /status (and so in
    max_connections), and a stop treats it as one: a fast stop ends it at once, a graceful
    one lets it run until it ends or graceful_timeout passes (then both sides are closed, as
    nginx's worker_shutdown_timeout does); the worker exits cleanly either way (no leak, no
    sanitizer report)."""

    def setUp(self):
        self.ws = WsUpstream()
        self.addCleanup(self.ws.close)

    def start(self, **server):
        return self.start_server({
            "upstream ws": {"servers": "127.0.0.1:%d" % self.ws.port},
            "route /ws/": {"upstream": "ws"}, "status": {"path": "/status"},
            "server": dict({"workers": "1"}, **server)})

    def open_tunnel(self, server):
        s, _, rest = ProxyTest.ws_connect(self, "/ws/chat", server.port)
        s.settimeout(10)
        recv = ws_reader(s, rest)
        self.assertEqual(ws_read_frame(recv), (1, b"hello"))
        return s, recv

    def echo(self, s, recv, word):
        s.sendall(ws_frame(word, mask=os.urandom(4)))
        self.assertEqual(ws_read_frame(recv), (1, word.upper()))

    def connections(self, server):
        conn = self.connect(server)  # closed by forkd after the answer: never counted here
        conn.send(build_request("GET", "/status/metrics", headers={"Connection": "close"}))
        body = conn.read_response().body.decode()
        return int(re.search(r"(?m)^forkd_connections\{[^}]*\} (\d+)$", body).group(1))

    def test_tunnel_counted_as_connection(self):
        server = self.start()
        before = self.connections(server)  # (the status request's own is counted after it)
        s, _ = self.open_tunnel(server)
        self.assertEqual(self.connections(server), before + 1)
        s.close()
        self.assertTrue(wait_until(lambda: self.connections(server) == before or None, 5))
        self.stop_and_check(server)

    def test_fast_stop_ends_tunnel(self):
        server = self.start()
        s, _ = self.open_tunnel(server)
        eofs = self.ws.eofs
        self.stop_and_check(server, signal.SIGTERM, within=5)
        self.assertEqual(s.recv(65536), b"")
        s.close()
        self.assertTrue(wait_until(lambda: self.ws.eofs > eofs or None, 5))

    def test_graceful_stop_waits_for_tunnel(self):
        """QUIT: the tunnel keeps working while the worker drains; the client's close ends
        it, and then the worker exits, well before graceful_timeout."""
        server = self.start(graceful_timeout="20s")
        s, recv = self.open_tunnel(server)
        server.send_signal(signal.SIGQUIT)
        time.sleep(1.5)
        self.echo(s, recv, b"still here")
        self.assertIsNone(server.proc.poll(), "forkd exited with a tunnel open")
        s.close()
        self.assertLess(self.stop_and_check(server, signal.SIGQUIT, within=10), 10)

    def test_graceful_timeout_ends_tunnel(self):
        server = self.start(graceful_timeout="2s")
        s, recv = self.open_tunnel(server)
        eofs = self.ws.eofs
        t0 = time.monotonic()
        server.send_signal(signal.SIGQUIT)
        self.echo(s, recv, b"draining")
        self.assertEqual(s.recv(65536), b"")  # closed at graceful_timeout
        self.assertGreater(time.monotonic() - t0, 1.5)
        s.close()
        self.stop_and_check(server, signal.SIGQUIT, within=10)
        self.assertTrue(wait_until(lambda: self.ws.eofs > eofs or None, 5))


class ProxyJsonLogTest(AppServerCase):
    """The JSON access log's upstream_us is what the app took (a raw app answering in 300 ms)."""

    @classmethod
    def setUpClass(cls):
        cls.app = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", delay=0.3)
        cls.config = {"upstream app": {"servers": "127.0.0.1:%d" % cls.app.port},
                      "route /app/": {"upstream": "app"}, "log": {"format": "json"}}
        cls.upstreams = [cls.app]
        super().setUpClass()

    def test_upstream_us(self):
        import json
        resp = self.request("GET", "/app/x")
        self.assertEqual(resp.body, b"ok")
        rid = resp.get("X-Request-Id")

        def record():
            for line in self.server.access_lines():
                r = json.loads(line.decode("ascii"))
                if r["request_id"] == rid:
                    return r
            return None
        r = wait_until(record, 5)
        self.assertIsNotNone(r, self.server.access_lines())
        self.assertTrue(300000 <= r["upstream_us"] <= r["request_us"], r)


if __name__ == "__main__":
    unittest.main()


class FirstByteUpstream(RawUpstream):
    """Reads a request with a Content-Length body, noting when its first body byte came
    (time.monotonic(), comparable with the test's), and answers with the body's length.
    pause: seconds it then stops reading (a slow app), before it reads the rest."""

    def __init__(self, pause=0):
        super().__init__(b"")
        self.first_at = []
        self.pause = pause

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += c.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                need = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while not rest:
                    rest += c.recv(65536)
                self.first_at.append(time.monotonic())
                time.sleep(self.pause)
                while len(rest) < need:
                    rest += c.recv(65536)
                n = b"%d" % len(rest)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(n), n))
            except (OSError, AttributeError):
                pass
            c.close()


class StuckUpstream(RawUpstream):
    """Takes connections and never reads from them: an app that cannot keep up."""

    def __init__(self):
        super().__init__(b"")

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)


class EarlyUpstream(RawUpstream):
    """Answers 413 as soon as a request's head is in, never reading its body, as an app that
    refuses an upload does; then closes (/early/close: a reset, its body unread) or holds the
    connection open, unread (any other path)."""

    def __init__(self):
        super().__init__(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                         b"Connection: close\r\n\r\ntoo large")

    def keeps_open(self, request):
        return not request.startswith(b"POST /early/close ")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class ProxyStreamedBodyTest(AppServerCase):
    """[route] body = stream on a proxied route: the body goes to the app as it comes, in the
    client's framing, with backpressure; never on a pooled connection (never replayed)."""

    @classmethod
    def setUpClass(cls):
        cls.app_port = free_port()
        cls.apps = [start_gunicorn(cls.app_port, workers=1)]
        cls.first = FirstByteUpstream()
        cls.late = FirstByteUpstream(pause=6.0)  # past min_rate's 5 s grace
        cls.stuck = StuckUpstream()
        cls.stale = StaleUpstream()
        cls.early = EarlyUpstream()
        app = "127.0.0.1:%d" % cls.app_port
        cls.config = {
            # paused time is not the client's: neither a 1 s body_timeout nor a min_rate
            # of 4 MB/s cuts an upload the app holds (test_app_pausing_cuts_nothing)
            "http": {"max_body_size": "256m", "body_timeout": "1s", "min_rate": "4m"},
            "upstream app": {"servers": app},
            "route /up/": {"upstream": "app", "body": "stream"},
            "route /whole/": {"upstream": "app"},
            "upstream first": {"servers": "127.0.0.1:%d" % cls.first.port},
            "route /first/": {"upstream": "first", "body": "stream"},
            "upstream late": {"servers": "127.0.0.1:%d" % cls.late.port},
            "route /late/": {"upstream": "late", "body": "stream"},
            "upstream stuck": {"servers": "127.0.0.1:%d" % cls.stuck.port, "send_timeout": "3s"},
            "route /stuck/": {"upstream": "stuck", "body": "stream"},
            "upstream stale": {"servers": "127.0.0.1:%d" % cls.stale.port,
                               "keepalive_timeout": "30s"},
            "route /stale/": {"upstream": "stale", "body": "stream"},
            "upstream early": {"servers": "127.0.0.1:%d" % cls.early.port, "send_timeout": "10s"},
            "route /early/": {"upstream": "early", "body": "stream"},
            "server": {"workers": "1"},
        }
        cls.upstreams = [cls.first, cls.late, cls.stuck, cls.stale, cls.early]
        super().setUpClass()

    def test_early_answer_refusing_the_body(self):
        """An app that answers 413 once the head is in and never reads the body: the client
        gets that answer at once (the rest of its body read and dropped), not a 502 once the
        app closed nor a 504 after send_timeout with its socket full; and the connection to
        the app is not reused. Then the client's connection serves its next request."""
        body = b"x" * (16 * 1024 * 1024)  # far more than the sockets between hold
        for path in ("/early/close", "/early/held"):
            with self.subTest(path=path):
                t0 = time.monotonic()
                resp, conn = self.exchange(build_request(
                    "POST", path, body=body, headers={"Content-Length": str(len(body))}))
                self.assertEqual((resp.status, resp.body), (413, b"too large"), resp)
                self.assertLess(time.monotonic() - t0, 5)
                conn.send(build_request("GET", "/whole/echo"))
                self.assertEqual(conn.read_response().status, 200)
        self.assertEqual(len(self.early.held), 1)  # two requests, two connections

    def hashed(self, path, body, headers):
        import json
        resp, _ = self.exchange(build_request("POST", path, body=body, headers=headers))
        self.assertEqual(resp.status, 200, resp)
        return json.loads(resp.body)

    def test_large_upload_reaches_the_app_intact(self):
        body = os.urandom(8 << 20)
        for path in ("/up/hash", "/whole/hash"):  # streamed, and whole as before
            with self.subTest(path=path):
                seen = self.hashed(path, body, {"Content-Length": str(len(body))})
                self.assertEqual(seen["length"], len(body))
                self.assertEqual(seen["sha256"], hashlib.sha256(body).hexdigest())
                self.assertEqual(seen["content_length"], str(len(body)))  # the client's framing

    def test_chunked_upload_streamed_chunked(self):
        pieces = [os.urandom(n) for n in (1, 70000, 3, 1 << 20)]
        seen = self.hashed("/up/hash", chunked(*pieces), {"Transfer-Encoding": "chunked"})
        self.assertEqual(seen["length"], sum(map(len, pieces)))
        self.assertEqual(seen["sha256"], hashlib.sha256(b"".join(pieces)).hexdigest())
        self.assertEqual(seen["transfer_encoding"], "chunked")
        self.assertIsNone(seen["content_length"])

    def test_no_body_and_get_still_answered(self):
        import json
        resp = self.request("GET", "/up/echo?x=1")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(json.loads(resp.body)["raw_uri"], "/up/echo?x=1")
        seen = self.hashed("/up/hash", b"", {})  # a POST with no body: Content-Length 0
        self.assertEqual((seen["length"], seen["content_length"]), (0, "0"))

    def test_app_gets_the_body_before_the_client_finished(self):
        half = b"a" * 50000
        with self.connect() as conn:
            conn.send(build_request("POST", "/first/x", headers={"Content-Length": "100000"})
                      + half)
            time.sleep(0.7)  # within body_timeout
            second_half_at = time.monotonic()
            conn.send(half)
            resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"100000"))
        self.assertLess(self.first.first_at[-1], second_half_at)

    def test_app_pausing_cuts_nothing(self):
        body = b"b" * (32 << 20)  # more than the sockets between hold: the client is paused
        with self.connect(timeout=30) as conn:
            conn.send(build_request("POST", "/late/x", headers={"Content-Length": str(len(body))})
                      + body)
            resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"%d" % len(body)))

    def test_app_not_reading_stalls_the_client(self):
        (pid,) = wait_until(self.server.worker_pids, 5)
        total = 128 << 20
        before = rss_kib(pid)
        s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(1.0)
        s.sendall(build_request("POST", "/stuck/x", headers={"Content-Length": str(total)}))
        sent, block, until = 0, b"z" * 65536, time.monotonic() + 20
        try:
            while sent < total and time.monotonic() < until:
                sent += s.send(block)
        except socket.timeout:
            pass  # stalled: no byte taken for 1 s
        grown = rss_kib(pid) - before
        s.close()
        # only the kernel's socket buffers took some; the worker held no more than a piece
        self.assertLess(sent, total // 4)
        self.assertLess(grown * 1024, total // 8, "worker grew %d KiB" % grown)

    def test_streamed_body_never_on_a_pooled_connection(self):
        # the app closes each kept connection at its next request: a pooled one would lose
        # this non-idempotent POST (502); a streamed body always gets a fresh connection
        for _ in range(3):
            resp, _ = self.exchange(build_request("POST", "/stale/x", body=b"hello",
                                                  headers={"Content-Length": "5"}))
            self.assertEqual((resp.status, resp.body), (200, b"fresh"))
