"""test_live_status: the live view of the workers at [status] path (issue 12, streaming).

`GET /status?live` (or a browser's Accept: text/html) is a self-contained HTML page that
follows `GET /status?events` (or Accept: text/event-stream), a Server-Sent Events stream
of the scoreboard: an event a second, a comment line when nothing changed. The stream is
read here with a raw socket (framing, event shape, rates, its end at reload and stop,
[status] allow), and the page is rendered by a real headless chromium, driven over the
DevTools protocol on a pipe (--remote-debugging-pipe, standard library only), while load
runs: the test reads the DOM the page built from the events. Where chromium is missing or
cannot start, the browser test is skipped and says why.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client

from harness import FreshServerCase, ServerCase, build_request, wait_until

CHROMIUM = shutil.which("chromium")
STATUS = {"path": "/status"}


# ---------------------------------------------------------------------------
# The stream, read raw


class EventStream:
    """An open GET of the event stream on a harness Conn: the head, then SSE lines
    (chunked framing undone for HTTP/1.1), parsed into events and comments."""

    def __init__(self, conn, target="/status?events", version="HTTP/1.1", headers=None):
        self.conn = conn
        conn.send(build_request("GET", target, version=version, headers=headers))
        self.status_line = conn.read_line()
        self.headers = {}
        while True:
            line = conn.read_line()
            if not line:
                break
            name, _, value = line.partition(b":")
            self.headers[name.decode().lower()] = value.strip().decode()
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.text = b""    # SSE bytes received, framing removed
        self.ended = False  # the body ended: last chunk, or the close of an HTTP/1.0 stream
        self.fields = []    # [(field, value)] of complete blocks, in order

    def _more(self):
        """Read one more piece of the body; False once it ended."""
        if self.ended:
            return False
        if not self.chunked:
            if not self.conn._fill():
                self.ended = True
                return False
            self.text += self.conn._take(len(self.conn.buf))
            return True
        size = int(self.conn.read_line().split(b";")[0], 16)
        if size == 0:
            if self.conn.read_line() != b"":
                raise AssertionError("trailer after the last chunk")
            self.ended = True
            return False
        self.text += self.conn.read_exact(size)
        if self.conn.read_exact(2) != b"\r\n":
            raise AssertionError("chunk not followed by CRLF")
        return True

    def blocks(self):
        """Complete SSE blocks received so far (each ended by a blank line)."""
        parts = self.text.split(b"\n\n")
        return parts[:-1]

    def read_until(self, predicate, timeout):
        """Read until predicate(self) is true; False at the deadline or the end of the body."""
        self.conn.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline or not self._more():
                return predicate(self)
        return True

    def events(self):
        """The data of each complete event block, parsed as JSON."""
        out = []
        for block in self.blocks():
            data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
            if data:
                out.append(json.loads(b"\n".join(data)))
        return out

    def comments(self):
        return [line for block in self.blocks() for line in block.split(b"\n")
                if line.startswith(b":")]


def http_get(port, target, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", target, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def sleeper(port, ms, stop):
    """Until stop is set: /demo/sleep?ms=N, one after another on new connections."""
    while not stop.is_set():
        try:
            http_get(port, "/demo/sleep?ms=%d" % ms)
        except OSError:
            pass


class Load:
    """n threads of /demo/sleep?ms=N: pending requests in both workers while it runs."""

    def __init__(self, port, n=12, ms=300):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=sleeper, args=(port, ms, self.stop), daemon=True)
                        for _ in range(n)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


class TestLiveStream(ServerCase):
    config = {"server": {"workers": "2"}, "status": STATUS}

    def open_stream(self, **kw):
        return EventStream(self.connect(timeout=5), **kw)

    def test_events_are_sse_with_every_worker_and_sane_rates(self):
        s = self.open_stream()
        self.assertIn(b" 200 ", s.status_line)
        self.assertEqual(s.headers.get("content-type"), "text/event-stream")
        self.assertEqual(s.headers.get("cache-control"), "no-store")
        self.assertTrue(s.chunked, "an HTTP/1.1 stream is chunked: %r" % s.headers)
        self.assertNotIn("content-length", s.headers)
        self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3), s.text)
        self.assertTrue(s.text.startswith(b"retry: 1000\n"), s.text[:100])
        with Load(self.port, n=6, ms=100):
            self.assertTrue(s.read_until(lambda s: len(s.events()) >= 3, 6), s.text)
        events = s.events()
        pids = sorted(self.server.worker_pids())
        for ev in events:
            self.assertEqual(ev["master_pid"], self.server.proc.pid)
            self.assertEqual(sorted(w["pid"] for w in ev["workers"]), pids)
            for w in ev["workers"]:
                for key in ("slot", "generation", "state", "connections", "requests",
                            "current"):
                    self.assertIn(key, w)
                self.assertTrue(w["rps"] is None or w["rps"] >= 0, w)
            self.assertEqual(ev["totals"]["workers"], 2)
            self.assertEqual(ev["totals"]["requests"], sum(w["requests"] for w in ev["workers"]))
        self.assertGreater(events[-1]["totals"]["requests"], events[0]["totals"]["requests"])
        self.assertGreater(max(ev["totals"]["rps"] or 0 for ev in events), 0)
        # the worker holding this stream shows it as its request in flight, at the least
        self.assertIn("GET /status?events", [w["current"] for w in events[0]["workers"]])

    def test_nothing_changed_sends_a_comment_line(self):
        s = self.open_stream()
        # quiet: the first event, one with rates of 0, then comments until something changes
        self.assertTrue(s.read_until(lambda s: b": no change" in s.comments(), 6), s.text)

    def test_accept_picks_the_stream_and_the_page(self):
        s = self.open_stream(target="/status", headers={"Accept": "text/event-stream"})
        self.assertEqual(s.headers.get("content-type"), "text/event-stream")
        status, headers, body = http_get(self.port, "/status",
                                         {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        self.assertEqual((status, headers["content-type"]), (200, "text/html; charset=utf-8"))
        self.assertEqual(headers.get("vary"), "Accept")
        for accept in (None, "*/*", "application/json"):
            status, headers, body = http_get(self.port, "/status",
                                             {"Accept": accept} if accept else {})
            self.assertEqual(headers["content-type"], "application/json", accept)
            json.loads(body)
        status, headers, body = http_get(self.port, "/status?json", {"Accept": "text/html"})
        self.assertEqual(headers["content-type"], "application/json")

    def test_page_is_self_contained_and_never_cached(self):
        status, headers, body = http_get(self.port, "/status?live")
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        page = body.decode()
        self.assertIn('new EventSource("?events")', page)
        for external in ("src=", "href=", "<link", "url(", "@import", "<img", "<iframe"):
            self.assertFalse(external in page, "the page loads nothing else: %r" % external)
        self.assertNotIn("innerHTML", page)

    def test_http10_stream_is_close_delimited(self):
        s = self.open_stream(version="HTTP/1.0")
        self.assertIn(b" 200 ", s.status_line)
        self.assertFalse(s.chunked)
        self.assertEqual(s.headers.get("connection"), "close")
        self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3), s.text)

    def test_head_has_no_body(self):
        conn = self.connect()
        conn.send(build_request("HEAD", "/status?events"))
        r = conn.read_response("HEAD")
        self.assertEqual((r.status, r.get("Content-Type")), (200, "text/event-stream"))
        self.assertEqual(r.get("Transfer-Encoding"), "chunked", "the head a GET gets")
        self.assertNotIn("Content-Length", r)
        conn.send(build_request("GET", "/status?json"))  # the connection serves on
        self.assertEqual(conn.read_response().status, 200)

    def test_client_gone_frees_the_stream(self):
        # many streams opened and dropped: each abort forgets its stream (ASan: no leak)
        for _ in range(20):
            s = self.open_stream()
            self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3))
            s.conn.close()
        s = self.open_stream()
        self.assertTrue(s.read_until(lambda s: len(s.events()) >= 2 or s.comments()[1:], 5),
                        s.text)


class TestLiveAllow(ServerCase):
    config = {"status": {"path": "/status", "allow": "10.0.0.0/8"}}

    def test_clients_outside_allow_get_403_for_page_and_stream(self):
        for target, headers in (("/status?live", {}), ("/status?events", {}),
                                ("/status", {"Accept": "text/event-stream"}),
                                ("/status", {"Accept": "text/html"})):
            status, _, _ = http_get(self.port, target, headers)
            self.assertEqual(status, 403, target)


class TestLiveStreamEnds(FreshServerCase):
    config = {"server": {"workers": "2", "graceful_timeout": "10s"}, "status": STATUS}

    def test_reload_ends_old_streams_cleanly(self):
        server = self.start_server(self.config)
        s = EventStream(self.connect(server, timeout=5))
        self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3))
        old = set(server.worker_pids())
        server.send_signal(signal.SIGHUP)
        started = time.monotonic()
        self.assertTrue(s.read_until(lambda s: s.ended, 5), "the stream did not end: %r" % s.text)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(s.text.endswith(b"\n\n"), "cut inside an event: %r" % s.text[-200:])
        self.assertTrue(s.conn.closed_by_peer(), "the draining worker closes the connection")
        # a new stream is served by the new generation
        self.assertTrue(wait_until(lambda: not old & set(server.worker_pids()), 10))
        s2 = EventStream(self.connect(server, timeout=5))
        self.assertTrue(s2.read_until(lambda s: len(s.events()) >= 1, 3))
        self.assertEqual(s2.events()[0]["generation"], 2)
        self.stop_and_check(server, signal.SIGTERM)

    def test_graceful_stop_ends_streams_and_does_not_wait_for_them(self):
        server = self.start_server(self.config)
        streams = [EventStream(self.connect(server, timeout=5)) for _ in range(3)]
        for s in streams:
            self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3))
        took = self.stop_and_check(server, signal.SIGQUIT)
        self.assertLess(took, 5, "graceful_timeout (10 s) is not waited for by open streams")
        for s in streams:
            self.assertTrue(s.read_until(lambda s: s.ended, 1), s.text[-200:])

    def test_fast_stop_with_streams_open_is_clean(self):
        server = self.start_server(self.config)
        streams = [EventStream(self.connect(server, timeout=5)) for _ in range(3)]
        for s in streams:
            self.assertTrue(s.read_until(lambda s: len(s.events()) >= 1, 3))
        self.stop_and_check(server, signal.SIGTERM)


# ---------------------------------------------------------------------------
# The page, in a real browser


class Chromium:
    """Debian's chromium, headless, driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: commands on its fd 3, replies on its fd 4, each a JSON
    message ended by NUL). start() raises OSError/RuntimeError when it cannot run."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="forkd-chromium-")
        self.proc = None
        self.next_id = 0
        self.buf = b""
        self.session = None

    def start(self):
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()

        def pipes_at_3_and_4():
            a, b = os.dup(cmd_r), os.dup(resp_w)  # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.stderr = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr,
            preexec_fn=pipes_at_3_and_4, pass_fds=(3, 4))
        os.close(cmd_r)
        os.close(resp_w)
        self.call("Browser.getVersion", timeout=30)  # its first start may be slow
        return self

    def log_tail(self):
        with open(os.path.join(self.profile, "stderr.log"), "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")

    def call(self, method, params=None, session=None, timeout=10):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:  # events and others: not waited for
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.resp_r], [], [], left)[0]:
                raise RuntimeError("chromium did not answer %s within %ss" % (method, timeout))
            data = os.read(self.resp_r, 1 << 20)
            if not data:
                raise RuntimeError("chromium closed its pipe:\n" + self.log_tail())
            self.buf += data

    def open(self, url, timeout=10):
        """A new tab showing url, once it has loaded."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        loaded = 'location.href === %s && document.readyState === "complete"' % json.dumps(url)
        if not wait_until(lambda: self.evaluate(loaded), timeout, 0.05):
            raise AssertionError("%s did not load within %ss" % (url, timeout))

    def evaluate(self, expression):
        """The JSON value of a script run in the page."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      self.session)
        if "exceptionDetails" in r:
            raise RuntimeError("script failed in the page: %r" % r["exceptionDetails"])
        return r["result"].get("value")

    def close(self):
        if self.proc is not None:
            try:
                self.call("Browser.close", timeout=5)
            except (OSError, RuntimeError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            os.close(self.cmd_w)
            os.close(self.resp_r)
            self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# What the page shows, read from its DOM as rendered.
READ_DOM = """JSON.stringify({
  link: document.getElementById("link").textContent,
  events: Number(document.getElementById("events").textContent),
  generation: document.getElementById("generation").textContent,
  rows: Array.from(document.querySelectorAll("#workers tr")).map(function (tr) {
    return {pid: Number(tr.querySelector(".pid").textContent),
            state: tr.querySelector(".state").textContent,
            requests: Number(tr.querySelector(".reqs").textContent),
            rps: tr.querySelector(".rps").textContent,
            current: tr.querySelector(".current").textContent};
  }),
  total_requests: Number(document.querySelector("#totals .reqs").textContent),
  total_workers: document.querySelector("#totals .workers").textContent
})"""


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/deps.sh test)")
class TestLivePageInChromium(ServerCase):
    config = {"server": {"workers": "2"}, "status": STATUS}

    def setUp(self):
        self.browser = Chromium()
        self.addCleanup(self.browser.close)
        try:
            self.browser.start()
        except (OSError, RuntimeError) as e:
            # make test prints no skip reasons: say it here
            print("\ntest_live_status: chromium cannot start here, the page is not rendered: %s"
                  % str(e)[:300], file=sys.stderr)
            self.skipTest("chromium cannot start here: %s" % str(e)[:300])

    def dom(self):
        return json.loads(self.browser.evaluate(READ_DOM))

    def test_page_follows_the_workers_under_load(self):
        pids = sorted(self.server.worker_pids())
        self.assertEqual(len(pids), 2)
        self.browser.open("http://127.0.0.1:%d/status?live" % self.port)
        snaps = []

        def shows(pred):
            def check():
                snaps.append(self.dom())
                return pred(snaps[-1])
            return check

        with Load(self.port, n=12, ms=300):
            self.assertTrue(wait_until(shows(lambda d: d["events"] >= 1), 10, 0.1),
                            "no event rendered: %r" % snaps[-1:])
            first = snaps[-1]
            # a later event, with both workers having served and a sleep in flight
            later = shows(lambda d: d["events"] > first["events"]
                          and d["total_requests"] > first["total_requests"]
                          and all(r["requests"] > 0 for r in d["rows"])
                          and any(r["current"].startswith("GET /demo/sleep?ms=300")
                                  for r in d["rows"]))
            self.assertTrue(wait_until(later, 10, 0.1), "page did not follow: %r" % snaps[-3:])
        last = snaps[-1]
        self.assertEqual(last["link"], "live")
        self.assertEqual(sorted(r["pid"] for r in last["rows"]), pids)
        self.assertEqual(last["total_workers"], "all 2 workers")
        self.assertEqual(last["total_requests"], sum(r["requests"] for r in last["rows"]))
        busy = [r for r in last["rows"] if r["current"].startswith("GET /demo/sleep")]
        self.assertTrue(all(r["state"] == "busy" for r in busy), last)
        self.assertTrue(any(float(r["rps"]) > 0 for r in last["rows"] if r["rps"] != "\u2013"),
                        last)

    def test_request_lines_are_shown_as_text(self):
        # the parser refuses '<' in a target, but '&' and ';' pass: a page that parsed the
        # request line as HTML would show "<b>bold</b>" (or make a <b>), not these entities
        target = "/demo/sleep?ms=2500&x=&lt;b&gt;bold&lt;/b&gt;&amp;"
        self.browser.open("http://127.0.0.1:%d/status?live" % self.port)
        # the stream first: a worker shows its newest pending request, and a stream that
        # came after the sleep would hide it
        self.assertTrue(wait_until(lambda: self.dom()["events"] >= 1, 10, 0.1))
        with self.server.connect(timeout=5) as c:
            c.send(build_request("GET", target))
            seen = []

            def shown():
                seen[:] = [self.dom()]
                return any(r["current"] == "GET " + target for r in seen[0]["rows"])
            self.assertTrue(wait_until(shown, 5, 0.1), seen)
            self.assertEqual(self.browser.evaluate(
                'document.querySelectorAll("#workers b, #workers img").length'), 0)
            self.assertEqual(c.read_response().status, 200)

    def test_page_reconnects_after_a_reload(self):
        self.browser.open("http://127.0.0.1:%d/status?live" % self.port)
        self.assertTrue(wait_until(lambda: self.dom()["events"] >= 1, 10, 0.1))
        old = set(self.server.worker_pids())
        generation = int(self.dom()["generation"])
        self.server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: int(self.dom()["generation"] or 0) > generation
                                   and self.dom()["link"] == "live", 15, 0.1), self.dom())
        self.assertTrue(wait_until(
            lambda: {r["pid"] for r in self.dom()["rows"]} == set(self.server.worker_pids())
            and not old & set(self.server.worker_pids()), 15, 0.2), self.dom())


if __name__ == "__main__":
    unittest.main()
