"""Request head strictness (RFC 9112 2-5, RFC 9110 5, 7.2, 9.1, 15.6): every
malformed head gets its 4xx/5xx, and errors end with a clean close."""

import os

from harness import ServerCase, build_request

INDEX = b"<p>index</p>\n"


class ParserTests(ServerCase):
    config = {"http": {"max_header_size": "8k", "max_headers": "100"}}

    @classmethod
    def make_docroot(cls, root):
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(INDEX)

    def expect_status(self, raw, statuses, close=True):
        """Send raw bytes; the response must have one of statuses (an int or a tuple)
        and carry the usual headers. close=True: the server must say
        "Connection: close" and close; close=None: it may keep the connection,
        but then it must serve the next request on it."""
        if isinstance(statuses, int):
            statuses = (statuses,)
        resp, conn = self.exchange(raw, "GET")
        self.check_common(resp)
        self.assertIn(resp.status, statuses, "request %r got %r" % (raw[:120], resp))
        if close or resp.get("Connection", "").lower() == "close":
            self.assertEqual(resp.get("Connection", "").lower(), "close", repr(resp))
            self.assertClosed(conn)
        else:
            conn.send(build_request("GET", "/"))
            nxt = conn.read_response()
            self.assertEqual((nxt.status, nxt.body), (200, INDEX))
        return resp

    # -- request line

    def test_double_space_in_request_line(self):
        self.expect_status(b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_missing_version(self):
        self.expect_status(b"GET /\r\nHost: x\r\n\r\n", 400)

    def test_lowercase_http_version(self):
        self.expect_status(b"GET / http/1.1\r\nHost: x\r\n\r\n", 400)

    def test_bare_lf_line_endings(self):
        self.expect_status(b"GET / HTTP/1.1\nHost: x\n\n", 400)

    def test_tab_separators(self):
        self.expect_status(b"GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_trailing_space_after_version(self):
        self.expect_status(b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400)

    def test_unknown_method_501(self):
        self.expect_status(build_request("FOO", "/"), 501, close=None)

    def test_lowercase_method_is_not_get(self):
        # methods are case-sensitive (RFC 9110 9.1): "get" is an unknown method
        self.expect_status(build_request("get", "/"), (400, 501), close=None)

    def test_connect_501(self):
        self.expect_status(build_request("CONNECT", "localhost:443", host="localhost:443"), 501)

    def test_http_2_0_505(self):
        self.expect_status(build_request("GET", "/", version="HTTP/2.0"), 505)

    def test_http_version_garbage(self):
        self.expect_status(build_request("GET", "/", version="HTTP/1.x"), 400)

    # -- request target

    def test_target_with_space(self):
        self.expect_status(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_target_with_double_quote(self):
        self.expect_status(build_request("GET", '/a"b'), 400)

    def test_target_with_less_than(self):
        self.expect_status(build_request("GET", "/a<b"), 400)

    def test_target_with_non_ascii(self):
        self.expect_status(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_target_with_fragment(self):
        self.expect_status(build_request("GET", "/index.html#top"), 400)

    def test_target_bad_percent_escape(self):
        self.expect_status(build_request("GET", "/%zzindex.html"), 400)

    def test_target_truncated_percent_escape(self):
        self.expect_status(build_request("GET", "/index.html%4"), 400)

    def test_target_not_starting_with_slash(self):
        self.expect_status(build_request("GET", "index.html"), 400)

    def test_target_too_long_414(self):
        self.expect_status(build_request("GET", "/" + "a" * 9000), 414)

    def test_target_long_but_within_limit(self):
        # a well-formed 7 KB target under max_header_size (8k): no such file (404),
        # or longer than the server wants to handle (414, RFC 9112 3); never 400
        resp, conn = self.exchange(build_request("GET", "/" + "a" * 7000))
        self.assertIn(resp.status, (404, 414), "7001-byte target: %r" % resp)

    def test_raw_nul_in_target(self):
        self.expect_status(b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_asterisk_with_get_400(self):
        # asterisk-form is for OPTIONS only (RFC 9112 3.2.4)
        self.expect_status(build_request("GET", "*"), 400)

    def test_authority_form_with_get_400(self):
        # authority-form is for CONNECT only (RFC 9112 3.2.3)
        self.expect_status(build_request("GET", "localhost:80"), 400)

    # -- header section

    def test_one_huge_header_431(self):
        self.expect_status(build_request("GET", "/", headers=[("X-Big", "a" * 9000)]), 431)

    def test_headers_total_too_large_431(self):
        headers = [("X-H%d" % i, "v" * 90) for i in range(95)]  # ~9.5k
        self.expect_status(build_request("GET", "/", headers=headers), 431)

    def test_too_many_headers_431(self):
        headers = [("X-H%d" % i, "v") for i in range(100)]  # + Host = 101
        self.expect_status(build_request("GET", "/", headers=headers), 431)

    def test_max_headers_exactly_is_ok(self):
        headers = [("X-H%d" % i, "v") for i in range(99)]  # + Host = 100
        resp, conn = self.exchange(build_request("GET", "/", headers=headers))
        self.assertEqual((resp.status, resp.body), (200, INDEX))

    def test_whitespace_before_colon(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400)

    def test_obs_fold(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400)

    def test_first_header_line_starting_with_space(self):
        self.expect_status(b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400)

    def test_nul_in_header_value(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400)

    def test_ctl_in_header_value(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400)

    def test_bare_cr_in_header_value(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400)

    def test_bad_char_in_header_name(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n", 400)

    def test_header_line_without_colon(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400)

    def test_empty_header_name(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n", 400)

    def test_http11_without_host(self):
        self.expect_status(b"GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n", 400)

    def test_two_host_headers(self):
        self.expect_status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)

    def test_host_with_invalid_value(self):
        # RFC 9112 3.2: 400 for a Host header field with an invalid field value
        self.expect_status(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400)

    def test_header_value_ows_trimmed(self):
        resp, conn = self.exchange(b"GET / HTTP/1.1\r\nHost:  \t x \t\r\nConnection:  close  \r\n\r\n")
        self.assertEqual((resp.status, resp.body), (200, INDEX))
        self.assertClosed(conn)

    # -- errors end with a clean close

    def test_400_is_readable_despite_unread_garbage(self):
        # the client keeps sending after its bad request: the server must not close
        # with unread input (RST) before we have read the 400
        conn = self.connect()
        conn.send(b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n" + b"garbage\r\n" * 20000)
        resp = conn.read_response()
        self.check_common(resp)
        self.assertEqual(resp.status, 400)
        self.assertClosed(conn)

    def test_431_is_readable_despite_unread_garbage(self):
        conn = self.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"
                  + b"more" * 20000)
        resp = conn.read_response()
        self.assertEqual(resp.status, 431)
        self.assertClosed(conn)

    def test_error_body_is_complete(self):
        resp, conn = self.exchange(build_request("FOO", "/"))
        self.assertEqual(resp.status, 501)
        self.assertEqual(len(resp.body), int(resp.get("Content-Length")))
