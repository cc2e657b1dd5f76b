"""Access log: one Combined Log Format line per request, flushed at stop,
with request line and header fields escaped so no line or field can be forged."""

import datetime
import os
import re
import signal
import time

from harness import FreshServerCase, build_request, chunked

INDEX = b"<p>index</p>\n"
FIELD = rb'"((?:[^"\\\x00-\x1f\x7f]|\\.)*)"'
CLF = re.compile(
    rb"^(\S+) - - \[(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/(\d{4}):"
    rb"(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] " + FIELD + rb" (\d{3}) (\d+|-) "
    + FIELD + rb" " + FIELD + rb"$")


class AccessLogTests(FreshServerCase):
    def parsed_lines(self, server):
        lines = server.access_lines()
        out = []
        for line in lines:
            m = CLF.match(line)
            self.assertIsNotNone(m, "not a Combined Log Format line: %r" % line)
            out.append(m)
        return out

    def test_one_line_per_request_in_clf(self):
        server = self.start_server(files={"index.html": INDEX})
        conn = self.connect(server)
        sent = []  # (request line, status, bytes)

        def do(raw, method, status):
            conn.send(raw)
            resp = conn.read_response(method)
            self.assertEqual(resp.status, status)
            sent.append((raw.split(b"\r\n")[0], status))

        do(build_request("GET", "/", headers=[("User-Agent", "itest/1"),
                                              ("Referer", "http://r.example/")]), "GET", 200)
        do(build_request("HEAD", "/index.html"), "HEAD", 200)
        do(build_request("GET", "/missing?q=1"), "GET", 404)
        do(build_request("POST", "/demo/echo", headers=[("Content-Length", "3")], body=b"abc"),
           "POST", 200)
        do(build_request("POST", "/demo/echo", headers=[("Transfer-Encoding", "chunked")],
                         body=chunked(b"xy")), "POST", 200)
        # pipelined, and on further connections (possibly other workers)
        conn.send(build_request("GET", "/a1") + build_request("GET", "/a2"))
        for t in (b"/a1", b"/a2"):
            self.assertEqual(conn.read_response().status, 404)
            sent.append((b"GET " + t + b" HTTP/1.1", 404))
        for i in range(5):
            c = self.connect(server)
            c.send(build_request("GET", "/c%d" % i, version="HTTP/1.0", host=None))
            self.assertEqual(c.read_response().status, 404)
            sent.append((b"GET /c%d HTTP/1.0" % i, 404))
        conn.close()

        self.stop_and_check(server)
        parsed = self.parsed_lines(server)
        self.assertEqual(len(parsed), len(sent), "want %d lines, got:\n%s"
                         % (len(sent), b"\n".join(server.access_lines()).decode("latin-1")))
        logged = sorted((m.group(9), int(m.group(10))) for m in parsed)
        self.assertEqual(logged, sorted(sent))
        first = [m for m in parsed if m.group(9) == b"GET / HTTP/1.1"][0]
        self.assertEqual(first.group(1), b"127.0.0.1")
        self.assertEqual(first.group(11), str(len(INDEX)).encode())
        self.assertEqual(first.group(12), b"http://r.example/")
        self.assertEqual(first.group(13), b"itest/1")
        echo = [m for m in parsed if m.group(9).startswith(b"POST")]
        self.assertEqual(sorted(m.group(11) for m in echo), [b"2", b"3"])

    def test_timestamp_is_now(self):
        server = self.start_server()
        with self.connect(server) as conn:
            conn.send(build_request("GET", "/"))
            conn.read_response()
        self.stop_and_check(server)
        (m,) = self.parsed_lines(server)
        stamp = b"%s/%s/%s:%s:%s:%s %s" % tuple(m.group(i) for i in range(2, 9))
        t = datetime.datetime.strptime(stamp.decode(), "%d/%b/%Y:%H:%M:%S %z").timestamp()
        self.assertLess(abs(t - time.time()), 60, "log time %r is not now" % stamp)

    def test_control_bytes_and_quotes_escaped(self):
        server = self.start_server()
        evil = [
            b'GET /a"b\x01c HTTP/1.1\r\nHost: x\r\n\r\n',          # 400: bad target
            b'GET /x HTTP/1.1\x1b[31m\r\nHost: x\r\n\r\n',          # 400: bad version
            b'\x00\x7fGARBAGE\r\n\r\n',                             # 400: not a request
            b'GET /ok HTTP/1.1\r\nHost: x\r\nUser-Agent: a" "b\\\r\n'
            b'Referer: r"\xff\r\n\r\n',                             # 404, quoting in fields
        ]
        for raw in evil:
            with self.connect(server) as conn:
                conn.send(raw)
                conn.read_response()
        self.stop_and_check(server)
        lines = server.access_lines()
        self.assertEqual(len(lines), len(evil), lines)
        for line in lines:
            self.assertIsNone(re.search(rb"[\x00-\x1f\x7f]", line), "raw control byte: %r" % line)
        self.parsed_lines(server)  # every field is a well-formed quoted string

    def test_access_log_off(self):
        server = self.start_server(access_log=False)
        with self.connect(server) as conn:
            conn.send(build_request("GET", "/"))
            conn.read_response()
        self.stop_and_check(server)
        self.assertFalse(os.path.exists(os.path.join(server.workdir, "access.log")))

    def test_lines_flushed_on_graceful_stop(self):
        server = self.start_server()
        for i in range(20):
            with self.connect(server) as conn:
                conn.send(build_request("GET", "/", headers=[("Connection", "close")]))
                conn.read_response()
        self.stop_and_check(server, signal.SIGQUIT)
        self.assertEqual(len(self.parsed_lines(server)), 20)
