"""Message body framing (RFC 9112 6, 7; RFC 9110 10.1.1): Content-Length,
Transfer-Encoding, chunked decoding, size limits, Expect, and bodies sent to
routes that take none. Never a desynchronised answer on the connection."""

import os
import threading

from harness import ServerCase, build_request, chunked

INDEX = b"<p>index</p>\n"
OTHER = b"other file\n"
MAX_BODY = 64 * 1024


class FramingTests(ServerCase):
    config = {"http": {"max_body_size": "64k"}}

    @classmethod
    def make_docroot(cls, root):
        for name, data in (("index.html", INDEX), ("other.txt", OTHER)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)

    def post(self, headers, body, target="/demo/echo", method="POST"):
        return build_request(method, target, headers=headers, body=body)

    def expect_400_close(self, raw, statuses=(400,)):
        resp, conn = self.exchange(raw, "POST")
        self.check_common(resp)
        self.assertIn(resp.status, statuses, "request %r got %r" % (raw[:200], resp))
        self.assertEqual(resp.get("Connection", "").lower(), "close", repr(resp))
        self.assertClosed(conn)
        return resp

    def assertNextIsOther(self, conn):
        """After a request with a body, the next pipelined GET /other.txt must get
        its own answer, or the connection must be closed: never a desync."""
        try:
            resp = conn.read_response()
        except AssertionError as e:  # ProtocolError: closed before a response
            if conn.eof and not conn.buf:
                return
            raise e
        self.assertEqual((resp.status, resp.body), (200, OTHER),
                         "pipelined request after a body got %r" % resp)

    # -- Content-Length

    def test_echo_content_length(self):
        body = bytes(range(256)) * 4
        resp, conn = self.exchange(self.post([("Content-Length", len(body))], body))
        self.check_common(resp)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, body)
        self.assertTrue(resp.get("Content-Type", "").startswith("application/octet-stream"))

    def test_echo_put(self):
        resp, conn = self.exchange(self.post([("Content-Length", 5)], b"hello", method="PUT"))
        self.assertEqual((resp.status, resp.body), (200, b"hello"))

    def test_echo_body_sent_after_head(self):
        conn = self.connect()
        conn.send(self.post([("Content-Length", 11)], b""))
        conn.send(b"hello ")
        conn.send(b"world")
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello world"))

    def test_echo_empty_body(self):
        resp, conn = self.exchange(self.post([("Content-Length", 0)], b""))
        self.assertEqual((resp.status, resp.body), (200, b""))

    def test_post_without_length_has_empty_body(self):
        # RFC 9112 6.3: no Content-Length and no Transfer-Encoding: the body is empty
        conn = self.connect()
        conn.send(self.post([], b"") + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertIn(resp.status, (200, 411), repr(resp))
        if resp.status == 200:
            self.assertEqual(resp.body, b"")
        self.assertNextIsOther(conn)

    def test_content_length_leading_zeros(self):
        resp, conn = self.exchange(self.post([("Content-Length", "005")], b"hello"))
        self.assertEqual((resp.status, resp.body), (200, b"hello"))

    def test_large_body_then_pipelined_get_in_one_write(self):
        body = bytes(range(256)) * 80  # 20 KiB: more than the input buffer
        conn = self.connect()
        conn.send(self.post([("Content-Length", len(body))], body)
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, body))
        self.assertNextIsOther(conn)

    def test_pipelined_echo_then_get(self):
        conn = self.connect()
        conn.send(self.post([("Content-Length", 3)], b"abc")
                  + self.post([("Content-Length", 3)], b"def")
                  + build_request("GET", "/other.txt"))
        self.assertEqual(conn.read_response().body, b"abc")
        self.assertEqual(conn.read_response().body, b"def")
        self.assertNextIsOther(conn)

    def test_content_length_plus_sign(self):
        self.expect_400_close(self.post([("Content-Length", "+5")], b"hello"))

    def test_content_length_hex(self):
        self.expect_400_close(self.post([("Content-Length", "0x5")], b"hello"))

    def test_content_length_two_numbers(self):
        self.expect_400_close(self.post([("Content-Length", "5 5")], b"hello"))

    def test_content_length_negative(self):
        self.expect_400_close(self.post([("Content-Length", "-1")], b"hello"))

    def test_content_length_empty(self):
        self.expect_400_close(self.post([("Content-Length", "")], b"hello"))

    def test_content_length_overflow(self):
        self.expect_400_close(self.post([("Content-Length", "9" * 30)], b"hello"), (400, 413))

    def test_two_content_lengths_differing(self):
        self.expect_400_close(self.post([("Content-Length", "5"), ("Content-Length", "6")],
                                        b"hello!"))

    def test_two_content_lengths_same(self):
        # RFC 9112 6.3 lets a server take identical values as one; forkd refuses
        # any repetition. Either is fine; a mis-framed answer is not.
        conn = self.connect()
        conn.send(self.post([("Content-Length", "5"), ("Content-Length", "5")], b"hello")
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        if resp.status == 400:
            self.assertClosed(conn)
        else:
            self.assertEqual((resp.status, resp.body), (200, b"hello"))
            self.assertNextIsOther(conn)

    # -- Transfer-Encoding

    def test_te_and_content_length_400_and_close(self):
        # RFC 9112 6.1: request smuggling vector; reject (or ignore CL) and close
        self.expect_400_close(self.post([("Content-Length", "5"),
                                         ("Transfer-Encoding", "chunked")], chunked(b"hello")))

    def test_te_in_http10(self):
        raw = (b"POST /demo/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked(b"hello"))
        self.expect_400_close(raw)

    def test_te_gzip_chunked_501(self):
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "gzip, chunked")],
                                             chunked(b"hello")))
        self.check_common(resp)
        self.assertEqual(resp.status, 501)
        self.assertClosed(conn)

    def test_te_chunked_gzip_400(self):
        # chunked not last: the body length cannot be determined (RFC 9112 6.3)
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked, gzip")],
                                        chunked(b"hello")))

    def test_te_chunked_twice_400(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked, chunked")],
                                        chunked(b"hello")))

    def test_te_chunked_in_two_fields_400(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked"),
                                         ("Transfer-Encoding", "chunked")], chunked(b"hello")))

    def test_te_unknown_coding_501(self):
        # an unknown coding (RFC 9112 6.1: 501), chunked last so the framing is known
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "foo, chunked")],
                                             chunked(b"hello")))
        self.check_common(resp)
        self.assertEqual(resp.status, 501)
        self.assertClosed(conn)

    def test_te_unknown_coding_alone(self):
        # no chunked at the end: RFC 9112 6.3 says 400 and close; 501 (6.1) is
        # tolerated as long as the connection is closed
        self.expect_400_close(self.post([("Transfer-Encoding", "foo")], b"hello"), (400, 501))

    def test_te_chunked_case_insensitive(self):
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "Chunked")],
                                             chunked(b"hello")))
        self.assertEqual((resp.status, resp.body), (200, b"hello"))

    # -- chunked bodies

    def test_chunked_echo_decoded(self):
        parts = [b"hello ", b"\r\n0\r\n", bytes(range(256)), b"x" * 5000]
        conn = self.connect()
        conn.send(self.post([("Transfer-Encoding", "chunked")], chunked(*parts))
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.check_common(resp)
        self.assertEqual((resp.status, resp.body), (200, b"".join(parts)))
        self.assertNextIsOther(conn)

    def test_chunked_sent_byte_by_byte(self):
        conn = self.connect()
        conn.send(self.post([("Transfer-Encoding", "chunked")], b""))
        for b in chunked(b"abc", b"defgh", trailers=b"X-T: 1\r\n"):
            conn.send(bytes([b]))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"abcdefgh"))

    def test_chunked_uppercase_hex_and_leading_zeros(self):
        body = b"000A\r\n0123456789\r\n00\r\n\r\n"
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "chunked")], body))
        self.assertEqual((resp.status, resp.body), (200, b"0123456789"))

    def test_chunked_bad_hex_size(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"zz\r\nhello\r\n0\r\n\r\n"))

    def test_chunked_size_overflow(self):
        # 20 hex digits: 2^76 cannot be stored; must be refused, not wrapped around
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"10000000000000000005\r\nhello\r\n0\r\n\r\n"),
                              (400, 413))

    def test_chunked_missing_crlf_after_data(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"5\r\nhelloXX0\r\n\r\n"))

    def test_chunked_empty_size_line(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"\r\nhello\r\n0\r\n\r\n"))

    def test_chunked_bare_lf(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"5\nhello\n0\n\n"))

    def test_chunked_bad_trailer(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"5\r\nhello\r\n0\r\nnot a field\r\n\r\n"))

    def test_chunk_extension_too_long(self):
        self.expect_400_close(self.post([("Transfer-Encoding", "chunked")],
                                        b"5;" + b"e" * 20000 + b"\r\nhello\r\n0\r\n\r\n"),
                              (400, 413, 431))

    def test_chunk_extensions_ignored(self):
        body = b'5;name=value\r\nhello\r\n6;a;b="q x"\r\n world\r\n0;last\r\n\r\n'
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "chunked")], body))
        self.assertEqual((resp.status, resp.body), (200, b"hello world"))

    def test_trailers_accepted_not_merged(self):
        # a trailer "Content-Length: 1" must not be merged into the header section
        conn = self.connect()
        conn.send(self.post([("Transfer-Encoding", "chunked")],
                            chunked(b"hello", trailers=b"X-Trailer: v\r\nContent-Length: 1\r\n"))
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello"))
        self.assertNextIsOther(conn)

    # -- size limit

    def test_body_at_limit_accepted(self):
        body = b"m" * MAX_BODY
        resp, conn = self.exchange(self.post([("Content-Length", len(body))], body))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, body)

    def test_content_length_over_limit_413(self):
        # the answer comes without the body being sent; then the connection closes
        resp, conn = self.exchange(self.post([("Content-Length", MAX_BODY + 1)], b""))
        self.check_common(resp)
        self.assertEqual(resp.status, 413)
        self.assertClosed(conn)

    def test_chunked_over_limit_413(self):
        conn = self.connect()
        conn.send(self.post([("Transfer-Encoding", "chunked")], b""))
        # the server may answer and stop reading at any point: send from a thread
        data = b"%x\r\n%s\r\n" % (16384, b"c" * 16384)
        sender = threading.Thread(target=self._send_quietly, args=(conn, data * 6), daemon=True)
        sender.start()
        resp = conn.read_response()
        sender.join(5)
        self.check_common(resp)
        self.assertEqual(resp.status, 413)
        self.assertClosed(conn)

    def test_chunked_single_huge_chunk_413(self):
        resp, conn = self.exchange(self.post([("Transfer-Encoding", "chunked")],
                                             b"ffffffff\r\nabc"))
        self.assertEqual(resp.status, 413)
        self.assertClosed(conn)

    @staticmethod
    def _send_quietly(conn, data):
        try:
            conn.sock.sendall(data)
        except OSError:
            pass

    # -- bodies sent where none is taken

    def test_get_with_body_then_pipelined_get(self):
        conn = self.connect()
        conn.send(build_request("GET", "/index.html", headers=[("Content-Length", 12)],
                                body=b"GET / HTTP/1")
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, INDEX))
        self.assertNextIsOther(conn)

    def test_post_static_405_with_allow(self):
        resp = self.request("POST", "/index.html", headers=[("Content-Length", 0)])
        self.assertEqual(resp.status, 405)
        allow = [m.strip() for m in resp.get("Allow", "").split(",")]
        for m in ("GET", "HEAD"):
            self.assertIn(m, allow)

    def test_post_static_body_then_pipelined_get(self):
        conn = self.connect()
        conn.send(build_request("POST", "/index.html", headers=[("Content-Length", 18)],
                                body=b"GET /x HTTP/1.1\r\n\r\n"[:18])
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 405)
        self.assertNextIsOther(conn)

    def test_post_static_chunked_then_pipelined_get(self):
        conn = self.connect()
        conn.send(build_request("POST", "/index.html", headers=[("Transfer-Encoding", "chunked")],
                                body=chunked(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"))
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 405)
        self.assertNextIsOther(conn)

    def test_404_with_body_then_pipelined_get(self):
        conn = self.connect()
        conn.send(build_request("PUT", "/nothing/here", headers=[("Content-Length", 5)],
                                body=b"12345") + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        self.assertIn(resp.status, (404, 405))
        self.assertNextIsOther(conn)

    # -- Expect

    def test_expect_100_continue(self):
        conn = self.connect()
        conn.send(self.post([("Content-Length", 5), ("Expect", "100-continue")], b""))
        interim = conn.read_response()
        self.assertEqual(interim.status, 100, "want 100 Continue before the body, got %r"
                         % interim)
        self.assertEqual(interim.raw_head, b"HTTP/1.1 100 Continue\r\n")
        conn.send(b"hello")
        resp = conn.read_response()
        self.check_common(resp)
        self.assertEqual((resp.status, resp.body), (200, b"hello"))

    def test_expect_100_continue_chunked(self):
        conn = self.connect()
        conn.send(self.post([("Transfer-Encoding", "chunked"), ("Expect", "100-Continue")], b""))
        self.assertEqual(conn.read_response().status, 100)
        conn.send(chunked(b"hel", b"lo"))
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello"))

    def test_expect_100_continue_over_limit_413_without_100(self):
        conn = self.connect()
        conn.send(self.post([("Content-Length", MAX_BODY + 1), ("Expect", "100-continue")], b""))
        resp = conn.read_response()
        self.assertEqual(resp.status, 413, "want the final 413 instead of 100, got %r" % resp)
        self.assertClosed(conn)

    def test_expect_100_continue_on_static_no_desync(self):
        conn = self.connect()
        conn.send(build_request("POST", "/index.html",
                                headers=[("Content-Length", 5), ("Expect", "100-continue")]))
        resp = conn.read_response()
        self.assertEqual(resp.status, 405, "want the final status, not 100: %r" % resp)
        # the client may send the body anyway (RFC 9110 10.1.1); it must not be a request
        conn.send(b"GET /" + build_request("GET", "/other.txt"))
        self.assertNextIsOther(conn)

    def test_expect_ignored_in_http10(self):
        # RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 MUST be ignored
        conn = self.connect()
        conn.send(b"POST /demo/echo HTTP/1.0\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\nhello")
        resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello"), "got %r" % resp)

    def test_expect_100_continue_body_already_sent(self):
        # the body came with the head: a 100 may be omitted, never mis-framed
        conn = self.connect()
        conn.send(self.post([("Content-Length", 5), ("Expect", "100-continue")], b"hello")
                  + build_request("GET", "/other.txt"))
        resp = conn.read_response()
        if resp.status == 100:
            resp = conn.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello"))
        self.assertNextIsOther(conn)

    def test_expect_other_value_417(self):
        resp, conn = self.exchange(self.post([("Content-Length", 5), ("Expect", "fly")], b"hello"))
        self.check_common(resp)
        self.assertEqual(resp.status, 417)
