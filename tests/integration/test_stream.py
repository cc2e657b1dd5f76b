"""Streaming (issue 12): responses a handler produces as it goes (forkd_resp_stream(),
chunked for HTTP/1.1, close-delimited for 1.0, no body for HEAD, with backpressure) and
request bodies handed to it in pieces (body = stream), through examples/stream.c built by
`make examples` (see test_modules.py for how). Read by real clients: curl (--raw and
decoded) and Python's http.client. A 1 GiB stream keeps the worker's memory flat; a slow
reader is cut by min_rate while a quiet stream is not; a client leaving mid-stream, a slow
or oversized upload and a graceful stop each reach the handler's abort callback."""

import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import unittest
import zlib

from harness import (IO_TIMEOUT, FreshServerCase, ServerCase, build_request, chunked,
                     wait_until)
from test_modules import EXAMPLES, setUpModule  # noqa: F401 (builds the examples)

CURL = shutil.which("curl")
GIB = 1 << 30


def pattern(n, start=0):
    """What /stream sends: a..z over and over, from offset start."""
    letters = b"abcdefghijklmnopqrstuvwxyz"
    reps = (start % 26 + n) // 26 + 1
    return (letters * reps)[start % 26:start % 26 + n]


def stream_sections(**http):
    return {
        "server": {"workers": "1"},
        "http": dict({"max_body_size": "1m"}, **http),
        "module stream": {"path": os.path.join(EXAMPLES, "stream.so")},
        "route /stream": {"handler": "stream:stream"},
        "route /stream/stats": {"handler": "stream:stats"},
        "route /upload": {"handler": "stream:upload", "methods": "POST", "body": "stream"},
    }


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def parse_chunked(raw):
    """The body of chunked bytes, checking the framing; raises on a bad one."""
    body, i = b"", 0
    while True:
        end = raw.index(b"\r\n", i)
        size = int(raw[i:end], 16)
        i = end + 2
        if size == 0:
            if raw[i:] != b"\r\n":
                raise AssertionError("bytes after the last chunk: %r" % raw[i:i + 50])
            return body
        body += raw[i:i + size]
        if raw[i + size:i + size + 2] != b"\r\n":
            raise AssertionError("chunk not followed by CRLF at %d" % (i + size))
        i += size + 2


class Stream(ServerCase):
    """One worker; handler_timeout short, to show that a started stream is not bound by it."""

    config = stream_sections(handler_timeout="2s", body_timeout="2s", send_timeout="30s",
                             min_rate="2000")

    def url(self, target):
        return "http://127.0.0.1:%d%s" % (self.port, target)

    def stats(self):
        """(streams, finished, aborted), (uploads, finished, aborted) of the worker."""
        body = self.request("GET", "/stream/stats").body.decode()
        nums = [int(n) for n in re.findall(r"\d+", body)]
        return tuple(nums[0:3]), tuple(nums[3:6])

    # -- responses

    def test_chunked_framing_on_the_wire(self):
        conn = self.connect()
        conn.send(build_request("GET", "/stream?bytes=100000&piece=7000"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.get("Transfer-Encoding"), "chunked")
        self.assertNotIn("Content-Length", resp)
        self.assertEqual(resp.get("Connection"), "keep-alive")
        self.assertEqual(resp.body, pattern(100000))

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_reads_it_raw_and_decoded(self):
        raw = subprocess.run([CURL, "-sS", "--raw", self.url("/stream?bytes=50000&piece=3000")],
                             capture_output=True, timeout=30, check=True).stdout
        self.assertGreater(raw.count(b"\r\n"), 2 * (50000 // 3000), "not in several chunks")
        self.assertEqual(parse_chunked(raw), pattern(50000))
        out = subprocess.run([CURL, "-sS", self.url("/stream?bytes=300000")],
                             capture_output=True, timeout=30, check=True).stdout
        self.assertEqual(out, pattern(300000))

    def test_http_client_reads_it_and_keeps_the_connection(self):
        hc = http.client.HTTPConnection("127.0.0.1", self.port, timeout=IO_TIMEOUT)
        self.addCleanup(hc.close)
        hc.request("GET", "/stream?bytes=200001")
        resp = hc.getresponse()
        self.assertTrue(resp.chunked, resp.getheaders())
        self.assertEqual(resp.read(), pattern(200001))
        sock = hc.sock
        hc.request("GET", "/stream?bytes=10")
        resp = hc.getresponse()
        self.assertEqual(resp.read(), pattern(10))
        self.assertIs(hc.sock, sock, "a second connection was opened")

    def test_keep_alive_after_a_chunked_response(self):
        conn = self.connect()
        conn.send(build_request("GET", "/stream?bytes=70000"))
        self.assertEqual(conn.read_response().body, pattern(70000))
        conn.send(build_request("GET", "/stream?bytes=5"))
        self.assertEqual(conn.read_response().body, b"abcde")
        # pipelined behind a stream
        conn.send(build_request("GET", "/stream?bytes=3") + build_request("GET", "/stream/stats"))
        self.assertEqual(conn.read_response().body, b"abc")
        self.assertEqual(conn.read_response().status, 200)

    def test_http10_is_close_delimited(self):
        conn = self.connect()
        conn.send(build_request("GET", "/stream?bytes=100000", version="HTTP/1.0",
                                headers={"Connection": "keep-alive"}))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertNotIn("Transfer-Encoding", resp)
        self.assertNotIn("Content-Length", resp)
        self.assertEqual(resp.get("Connection"), "close")
        self.assertEqual(resp.body, pattern(100000))  # read until the server's close

    def test_head_has_no_body_and_keeps_the_connection(self):
        conn = self.connect()
        conn.send(build_request("HEAD", "/stream?bytes=1000000"))
        resp = conn.read_response("HEAD")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.get("Transfer-Encoding"), "chunked")
        conn.send(build_request("GET", "/stream?bytes=4"))
        resp = conn.read_response()  # straight after the head: no body bytes came between
        self.assertEqual(resp.body, b"abcd")

    def test_a_quiet_stream_outlives_min_rate_and_handler_timeout(self):
        # 9 pieces of 10 bytes, 700 ms apart: 6.3 s at 14 bytes/s, far below min_rate and
        # longer than its grace and than handler_timeout (2 s); nothing waits for the client
        conn = self.connect(timeout=15)
        conn.send(build_request("GET", "/stream?bytes=90&piece=10&tick=700"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, pattern(90))

    def test_a_stream_started_later_is_not_cut_by_handler_timeout(self):
        # started from a timer 0.5 s after the request, then quiet for 2.5 s twice:
        # handler_timeout (2 s, counted from the handler's return) stops once it started
        conn = self.connect(timeout=15)
        conn.send(build_request("GET", "/stream?bytes=2&piece=1&tick=2500&start=500"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"ab"), resp)

    def test_slow_reader_is_cut_by_min_rate(self):
        before = self.stats()[0]
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(build_request("GET", "/stream?bytes=100000000"))
        sock.settimeout(1)
        started, cut = time.monotonic(), None
        while time.monotonic() - started < 20:
            try:
                sock.recv(16)  # a few bytes a second: far below min_rate (2000 B/s)
            except (socket.timeout, ConnectionResetError):
                pass
            if self.stats()[0][2] == before[2] + 1:  # the handler's abort callback ran
                cut = time.monotonic() - started
                break
            time.sleep(0.5)
        self.assertIsNotNone(cut, "a reader of a few bytes a second kept its stream 20 s")
        self.assertLess(cut, 15, "cut by send_timeout (30 s)? %.1fs" % cut)
        self.assertIn("slower than min_rate", self.server.log_text())
        # what the kernel still held for it, then the reset: never the 100 MB
        got = 0
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                got += len(data)
        except ConnectionResetError:
            pass
        self.assertLess(got, 50000000)

    def test_client_gone_mid_stream_aborts_the_handler(self):
        before = self.stats()[0]
        conn = self.connect()
        conn.send(build_request("GET", "/stream?bytes=10000000000"))
        conn.read_exact(300000)
        conn.close()
        self.assertTrue(wait_until(lambda: self.stats()[0][2] == before[2] + 1, 5),
                        "no abort after the client left: %r" % (self.stats(),))
        streams, finished, _ = self.stats()[0]
        self.assertEqual(streams, finished + self.stats()[0][2], "a stream neither ended")
        self.assertTrue(wait_until(
            lambda: any(re.search(rb'"GET /stream\?bytes=10000000000 HTTP/1.1" 499 \d{6,}', line)
                        for line in self.server.access_lines()), 5),
            "no 499 with the bytes sent in the access log: %r" % self.server.access_lines()[-5:])

    def test_client_gone_while_the_stream_is_quiet(self):
        before = self.stats()[0]
        conn = self.connect()
        conn.send(build_request("GET", "/stream?bytes=1000&piece=1&tick=1000"))
        self.assertTrue(conn.read_line().startswith(b"HTTP/1.1 200"))  # the head came at once
        conn.close()
        self.assertTrue(wait_until(lambda: self.stats()[0][2] == before[2] + 1, 3),
                        "no abort for a quiet stream whose client left: %r" % (self.stats(),))

    # -- request bodies

    def upload(self, body, target="/upload", chunks=None, headers=None):
        conn = self.connect()
        if chunks is not None:
            hdrs = dict({"Transfer-Encoding": "chunked"}, **(headers or {}))
            conn.send(build_request("POST", target, headers=hdrs, body=chunked(*chunks)))
        else:
            hdrs = dict({"Content-Length": str(len(body))}, **(headers or {}))
            conn.send(build_request("POST", target, headers=hdrs, body=body))
        return conn.read_response("POST"), conn

    def expected(self, data):
        return ("bytes %d adler32 %08x\n" % (len(data), zlib.adler32(data))).encode()

    def test_upload_with_content_length(self):
        data = os.urandom(700000)
        resp, conn = self.upload(data)
        self.assertEqual((resp.status, resp.body), (200, self.expected(data)), resp)
        conn.send(build_request("GET", "/stream?bytes=3"))  # kept alive
        self.assertEqual(conn.read_response().body, b"abc")

    def test_upload_chunked(self):
        pieces = [os.urandom(n) for n in (1, 5000, 70000, 3)]
        resp, conn = self.upload(None, chunks=pieces)
        self.assertEqual((resp.status, resp.body), (200, self.expected(b"".join(pieces))), resp)

    def test_upload_without_a_body(self):
        resp, _ = self.upload(b"")
        self.assertEqual(resp.body, self.expected(b""), resp)

    def test_upload_with_100_continue(self):
        data = os.urandom(5000)
        conn = self.connect()
        conn.send(build_request("POST", "/upload", headers={
            "Content-Length": str(len(data)), "Expect": "100-continue"}))
        self.assertEqual(conn.read_response("POST").status, 100)
        conn.send(data)
        resp = conn.read_response("POST")
        self.assertEqual(resp.body, self.expected(data), resp)

    def test_refused_before_100_continue_gets_the_answer_not_a_wait(self):
        conn = self.connect()
        conn.send(build_request("POST", "/upload?reject=1", headers={
            "Content-Length": "100000", "Expect": "100-continue"}))
        resp = conn.read_response("POST")
        self.assertEqual(resp.status, 403, resp)
        self.assertEqual(resp.get("Connection"), "close")

    def test_answer_before_the_body_ends_goes_out_after_it(self):
        conn = self.connect()
        conn.send(build_request("POST", "/upload?early=1",
                                headers={"Content-Length": "200000"}, body=b"x" * 1000))
        conn.settimeout(0.5)
        with self.assertRaises(socket.timeout, msg="answered before the body was read"):
            conn.read_response("POST")
        conn.settimeout(IO_TIMEOUT)
        conn.send(b"y" * 199000)
        resp = conn.read_response("POST")
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.body.startswith(b"early "), resp)
        conn.send(build_request("GET", "/stream?bytes=2"))  # the body was all read
        self.assertEqual(conn.read_response().body, b"ab")

    def test_answer_streamed_while_the_body_comes(self):
        # the handler streams from its call on, a line per piece: sent once the body is in
        data = os.urandom(300000)
        resp, conn = self.upload(data, target="/upload?stream=1")
        self.assertEqual(resp.get("Transfer-Encoding"), "chunked", resp)
        lines = resp.body.split(b"\n")
        self.assertEqual(lines[-1], b"")
        self.assertEqual(lines[-2] + b"\n", self.expected(data))
        self.assertGreaterEqual(len(lines), 3, resp.body)
        self.assertTrue(all(ln.startswith(b"piece ") for ln in lines[:-2]), resp.body)
        self.assertEqual(resp.get("Connection"), "keep-alive")
        conn.send(build_request("GET", "/stream?bytes=2"))  # the body was all read
        self.assertEqual(conn.read_response().body, b"ab")

    def test_oversized_upload_gets_413(self):
        resp, _ = self.upload(b"x" * (1024 * 1024 + 1))
        self.assertEqual(resp.status, 413, resp)
        before = self.stats()[1]
        conn = self.connect()
        conn.send(build_request("POST", "/upload", headers={"Transfer-Encoding": "chunked"}))
        try:
            for _ in range(20):
                conn.send(b"10000\r\n" + b"z" * 0x10000 + b"\r\n")
        except OSError:
            pass  # the server answered and may have closed: read its answer
        self.assertEqual(conn.read_response("POST").status, 413)
        self.assertTrue(wait_until(lambda: self.stats()[1][2] == before[2] + 1, 3),
                        "the handler was not told: %r" % (self.stats(),))

    def test_stalled_upload_is_cut_and_the_handler_told(self):
        before = self.stats()[1]
        conn = self.connect()
        conn.send(build_request("POST", "/upload", headers={"Content-Length": "100000"},
                                body=b"x" * 10))
        started = time.monotonic()
        resp = conn.read_response("POST")
        self.assertEqual(resp.status, 408, resp)
        self.assertLess(time.monotonic() - started, 4, "body_timeout is 2 s")
        self.assertTrue(wait_until(lambda: self.stats()[1][2] == before[2] + 1, 3),
                        "the handler was not told: %r" % (self.stats(),))

    def test_trickled_upload_is_cut_by_min_rate(self):
        # 20 bytes/s: never a pause of body_timeout (2 s), but far below min_rate (2000 B/s):
        # without min_rate the 100000 bytes would take 80 minutes
        before = self.stats()[1]
        conn = self.connect(timeout=15)
        conn.send(build_request("POST", "/upload", headers={"Content-Length": "100000"}))
        started = time.monotonic()
        try:
            while time.monotonic() - started < 20:
                if select.select([conn.sock], [], [], 0.5)[0]:
                    break  # answered
                conn.send(b"x" * 10)
        except OSError:
            pass  # cut: its answer is waiting
        resp = conn.read_response("POST")
        self.assertEqual(resp.status, 408, resp)
        self.assertLess(time.monotonic() - started, 20)
        self.assertTrue(wait_until(lambda: self.stats()[1][2] == before[2] + 1, 3),
                        "the handler was not told: %r" % (self.stats(),))

    def test_client_gone_mid_upload(self):
        before = self.stats()[1]
        conn = self.connect()
        conn.send(build_request("POST", "/upload", headers={"Content-Length": "100000"},
                                body=b"x" * 10))
        time.sleep(0.2)
        conn.close()
        self.assertTrue(wait_until(lambda: self.stats()[1][2] == before[2] + 1, 3),
                        "the handler was not told: %r" % (self.stats(),))


@unittest.skipUnless(CURL, "curl not installed")
class StreamMemory(ServerCase):
    """A 1 GiB stream to a client that reads it: the worker's RSS stays within 8 MiB of
    idle (the server holds one FORKD_STREAM_BUFFER per stream, never the body). Under ASan
    RSS is inflated, but by what is allocated: the delta still tells."""

    config = stream_sections()

    def test_one_gib_stream_keeps_rss_flat(self):
        url = "http://127.0.0.1:%d/stream?bytes=%d" % (self.port, GIB)
        subprocess.run([CURL, "-sS", "-o", os.devnull, url.replace(str(GIB), "1000000")],
                       check=True, timeout=30)  # warm: the first stream's pages are in
        pid = self.server.worker_pids()[0]
        idle = rss_kib(pid)
        curl = subprocess.Popen([CURL, "-sS", "-o", os.devnull, "-w", "%{size_download}", url],
                                stdout=subprocess.PIPE)
        peak = idle
        while curl.poll() is None:
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
        out = curl.communicate(timeout=10)[0]
        self.assertEqual(curl.returncode, 0)
        self.assertEqual(int(out), GIB, "curl did not read the whole chunked body")
        print("\n    1 GiB stream: worker RSS idle %d KiB, peak %d KiB (+%d KiB)"
              % (idle, peak, peak - idle), end=" ")
        self.assertLess(peak - idle, 8 * 1024, "worker RSS grew %d KiB" % (peak - idle))


class StreamAtStop(FreshServerCase):
    """A graceful stop lets a stream run until graceful_timeout, then aborts it (FORKD_ABORT_STOP):
    an endless stream never holds the old worker longer."""

    def test_open_stream_is_aborted_at_graceful_timeout(self):
        config = stream_sections()
        config["server"]["graceful_timeout"] = "1500ms"
        server = self.start_server(config)
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
        self.addCleanup(conn.close)
        conn.sendall(build_request("GET", "/stream?bytes=100000&piece=1&tick=200"))
        self.assertTrue(conn.recv(4096).startswith(b"HTTP/1.1 200"))
        time.sleep(0.3)
        self.stop_and_check(server, signal.SIGQUIT, within=10)
        self.assertRegex(server.log_text(), r"stream: request \d+ aborted \(3\)")


if __name__ == "__main__":
    unittest.main()
