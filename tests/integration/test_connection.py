"""Message basics and connection management (RFC 9110 6.6, 9112 9): common
response headers, HEAD, keep-alive, HTTP/1.0, Connection: close, pipelining."""

import os
import socket

from harness import ServerCase, build_request, parse_imf_fixdate

INDEX = b"<!DOCTYPE html><title>forkd</title><p>index</p>\n"
ONE = b"one\n"
TWO = b"two two\n"


class ConnectionTests(ServerCase):
    @classmethod
    def make_docroot(cls, root):
        for name, data in (("index.html", INDEX), ("one.txt", ONE), ("two.txt", TWO)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)

    def test_get_has_date_server_length_connection(self):
        resp = self.request("GET", "/index.html")  # check_common: Date, Server, CL, Connection
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, INDEX)
        self.assertEqual(resp.get("Content-Length"), str(len(INDEX)))

    def test_error_response_has_common_headers(self):
        resp = self.request("GET", "/no-such-file")
        self.assertEqual(resp.status, 404)

    def test_date_is_current_imf_fixdate(self):
        resp = self.request("GET", "/")
        self.assertIsNotNone(parse_imf_fixdate(resp.get("Date")), resp.get("Date"))

    def test_head_same_headers_as_get_no_body(self):
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt"))
        get = conn.read_response("GET")
        conn.send(build_request("HEAD", "/one.txt"))
        head = conn.read_response("HEAD")
        self.check_common(head, "HEAD")
        strip = lambda r: sorted((n.lower(), v) for n, v in r.headers
                                         if n.lower() not in ("date", "x-request-id"))
        self.assertEqual(strip(head), strip(get))
        # a body after the HEAD response would show up as garbage before this one
        conn.send(build_request("GET", "/two.txt"))
        nxt = conn.read_response("GET")
        self.assertEqual((nxt.status, nxt.body), (200, TWO))

    def test_http11_keepalive_by_default(self):
        conn = self.connect()
        for _ in range(3):
            conn.send(build_request("GET", "/one.txt"))
            resp = conn.read_response()
            self.check_common(resp)
            self.assertEqual((resp.status, resp.body), (200, ONE))
            self.assertEqual(resp.get("Connection", "").lower(), "keep-alive")
        self.assertFalse(conn.closed_by_peer(0.3), "HTTP/1.1 connection closed without reason")

    def test_http10_closes_by_default(self):
        resp, conn = self.exchange(build_request("GET", "/one.txt", version="HTTP/1.0"))
        self.check_common(resp)
        self.assertEqual((resp.status, resp.body), (200, ONE))
        self.assertNotEqual(resp.get("Connection", "").lower(), "keep-alive")
        self.assertClosed(conn)

    def test_http10_without_host_is_ok(self):
        resp, conn = self.exchange(b"GET /one.txt HTTP/1.0\r\n\r\n")
        self.assertEqual((resp.status, resp.body), (200, ONE))

    def test_http10_keepalive_requested(self):
        conn = self.connect()
        req = build_request("GET", "/one.txt", version="HTTP/1.0",
                            headers=[("Connection", "keep-alive")])
        for _ in range(2):
            conn.send(req)
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, ONE))
            self.assertEqual(resp.get("Connection", "").lower(), "keep-alive")
            self.assertEqual(resp.get("Content-Length"), str(len(ONE)))

    def test_connection_close_closes_after_response(self):
        resp, conn = self.exchange(build_request("GET", "/one.txt",
                                                 headers=[("Connection", "close")]))
        self.check_common(resp)
        self.assertEqual((resp.status, resp.body), (200, ONE))
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        self.assertClosed(conn)

    def test_connection_close_any_case_and_list(self):
        # field names and connection options are case-insensitive; the value is a list
        resp, conn = self.exchange(build_request("GET", "/one.txt",
                                                 headers=[("CONNECTION", "foo, Close")]))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Connection", "").lower(), "close")
        self.assertClosed(conn)

    def test_pipelined_requests_answered_in_order(self):
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt") + build_request("GET", "/missing")
                  + build_request("HEAD", "/two.txt") + build_request("GET", "/two.txt"))
        r1 = conn.read_response("GET")
        r2 = conn.read_response("GET")
        r3 = conn.read_response("HEAD")
        r4 = conn.read_response("GET")
        self.assertEqual((r1.status, r1.body), (200, ONE))
        self.assertEqual(r2.status, 404)
        self.assertEqual((r3.status, r3.body, r3.get("Content-Length")), (200, b"", str(len(TWO))))
        self.assertEqual((r4.status, r4.body), (200, TWO))

    def test_pipelined_many_in_one_write(self):
        conn = self.connect()
        n = 40
        conn.send(b"".join(build_request("GET", "/one.txt" if i % 2 else "/two.txt")
                           for i in range(n)))
        for i in range(n):
            resp = conn.read_response()
            self.assertEqual(resp.body, ONE if i % 2 else TWO, "response %d out of order" % i)

    def test_pipelined_close_stops_processing(self):
        # requests after "Connection: close" must not be answered
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt", headers=[("Connection", "close")])
                  + build_request("GET", "/two.txt"))
        resp = conn.read_response()
        self.assertEqual(resp.body, ONE)
        self.assertClosed(conn)

    def test_request_split_in_many_writes(self):
        conn = self.connect()
        for b in build_request("GET", "/one.txt"):
            conn.send(bytes([b]))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, ONE))

    def test_half_close_after_request(self):
        # a client that shuts down its sending side still gets its answers
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt") + build_request("GET", "/two.txt"))
        conn.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(conn.read_response().body, ONE)
        self.assertEqual(conn.read_response().body, TWO)
        self.assertClosed(conn)

    def test_pipelined_more_than_input_buffer(self):
        # ~20 KiB of pipelined requests: more than max_header_size plus slack
        n = 500
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt", headers=[("X-Pad", "p" * 10)]) * n)
        for i in range(n):
            self.assertEqual(conn.read_response().body, ONE, "response %d" % i)

    def test_no_content_length_in_204(self):
        resp = self.request("OPTIONS", "*")  # check_common: no Content-Length in 1xx/204
        self.assertTrue(200 <= resp.status < 300)

    def test_leading_empty_line_ignored(self):
        # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line
        resp, conn = self.exchange(b"\r\n" + build_request("GET", "/one.txt"), "GET")
        self.assertEqual((resp.status, resp.body), (200, ONE))

    def test_options_asterisk(self):
        resp = self.request("OPTIONS", "*")
        self.assertTrue(200 <= resp.status < 300, "got %r" % resp)
        self.assertIn("Allow", resp)

    def test_options_on_a_file_lists_get_head(self):
        resp = self.request("OPTIONS", "/one.txt")
        self.assertTrue(200 <= resp.status < 300, "got %r" % resp)
        allow = [m.strip() for m in resp.get("Allow", "").split(",")]
        self.assertIn("GET", allow)
        self.assertIn("HEAD", allow)

    def test_absolute_form_target(self):
        resp = self.request("GET", "http://localhost/one.txt")
        self.assertEqual((resp.status, resp.body), (200, ONE))

    def test_http_1_2_treated_as_1_1(self):
        # RFC 9110 2.5: a higher minor version is answered as the highest we support
        conn = self.connect()
        conn.send(build_request("GET", "/one.txt", version="HTTP/1.2"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, ONE))
        self.assertEqual(resp.version, "1.1")
        conn.send(build_request("GET", "/two.txt", version="HTTP/1.2"))
        self.assertEqual(conn.read_response().body, TWO)


class KeepaliveRequestsTests(ServerCase):
    config = {"http": {"keepalive_requests": "3"}}

    def test_closes_after_n_requests(self):
        conn = self.connect()
        for i in range(3):
            conn.send(build_request("GET", "/"))
            resp = conn.read_response()
            self.assertEqual(resp.status, 200)
            want = "close" if i == 2 else "keep-alive"
            self.assertEqual(resp.get("Connection", "").lower(), want, "request %d" % (i + 1))
        self.assertClosed(conn)

    def test_pipelined_beyond_limit_gets_n_answers(self):
        conn = self.connect()
        conn.send(build_request("GET", "/") * 5)
        for _ in range(3):
            self.assertEqual(conn.read_response().status, 200)
        self.assertClosed(conn)
