"""Demo endpoints: /demo/sleep is a timer (one worker serves many at once),
/demo/work burns CPU, parameters are checked; disabled demo means no routes."""

import json
import threading
import time

from harness import ServerCase, build_request


class DemoTests(ServerCase):
    config = {"server": {"workers": "1"}, "demo": {"enabled": "yes"}}

    def test_sleep_200_json(self):
        started = time.monotonic()
        resp = self.request("GET", "/demo/sleep?ms=100")
        took = time.monotonic() - started
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.get("Content-Type", "").startswith("application/json"))
        json.loads(resp.body)
        self.assertGreaterEqual(took, 0.09, "answered before the requested sleep")

    def test_sleep_head_no_body(self):
        resp = self.request("HEAD", "/demo/sleep?ms=10")
        self.assertEqual((resp.status, resp.body), (200, b""))

    def test_50_concurrent_sleeps_on_one_worker(self):
        n, results, errors = 50, [], []
        barrier = threading.Barrier(n + 1)

        def client():
            try:
                conn = self.server.connect()
                barrier.wait(5)
                conn.send(build_request("GET", "/demo/sleep?ms=200"))
                resp = conn.read_response()
                results.append(resp.status)
                conn.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        barrier.wait(5)
        started = time.monotonic()
        for t in threads:
            t.join(10)
        took = time.monotonic() - started
        self.assertEqual(errors, [])
        self.assertEqual(results, [200] * n)
        self.assertLess(took, 1.5, "50 x 200 ms sleeps took %.2fs on one worker" % took)

    def test_sleep_too_long_400(self):
        self.assertEqual(self.request("GET", "/demo/sleep?ms=20000").status, 400)

    def test_sleep_limit_overflow_400(self):
        self.assertEqual(self.request("GET", "/demo/sleep?ms=99999999999999999999999").status, 400)

    def test_sleep_bad_ms_400(self):
        self.assertEqual(self.request("GET", "/demo/sleep?ms=abc").status, 400)

    def test_sleep_negative_ms_400(self):
        self.assertEqual(self.request("GET", "/demo/sleep?ms=-5").status, 400)

    def test_sleep_missing_ms_400(self):
        self.assertEqual(self.request("GET", "/demo/sleep").status, 400)

    def test_sleep_ms_among_other_params(self):
        self.assertEqual(self.request("GET", "/demo/sleep?a=1&ms=5&b=2").status, 200)

    def test_work_200(self):
        started = time.monotonic()
        resp = self.request("GET", "/demo/work?ms=50")
        self.assertEqual(resp.status, 200)
        json.loads(resp.body)
        self.assertGreaterEqual(time.monotonic() - started, 0.045)

    def test_post_sleep_405(self):
        resp = self.request("POST", "/demo/sleep?ms=1", headers=[("Content-Length", "0")])
        self.assertEqual(resp.status, 405)
        self.assertIn("GET", resp.get("Allow", ""))

    def test_get_echo_405(self):
        resp = self.request("GET", "/demo/echo")
        self.assertEqual(resp.status, 405)
        self.assertIn("POST", resp.get("Allow", ""))

    def test_client_gone_during_sleep(self):
        # the timer fires for a closed connection: no crash, the worker goes on
        conn = self.connect()
        conn.send(build_request("GET", "/demo/sleep?ms=100"))
        conn.close()
        # one worker: this answer comes after the first timer has fired
        self.assertEqual(self.request("GET", "/demo/sleep?ms=200").status, 200)
        self.assertEqual(self.request("GET", "/demo/sleep?ms=1").status, 200)

    def test_pipelined_sleeps_in_order(self):
        conn = self.connect()
        conn.send(build_request("GET", "/demo/sleep?ms=60")
                  + build_request("GET", "/demo/sleep?ms=1"))
        first = json.loads(conn.read_response().body)
        second = json.loads(conn.read_response().body)
        self.assertEqual((first.get("slept_ms"), second.get("slept_ms")), (60, 1))


class DemoDisabledTests(ServerCase):
    config = {"demo": {"enabled": "no"}}

    def test_demo_routes_absent(self):
        for target in ("/demo/sleep?ms=1", "/demo/work?ms=1"):
            self.assertEqual(self.request("GET", target).status, 404, target)

    def test_echo_absent(self):
        resp = self.request("POST", "/demo/echo", headers=[("Content-Length", "2")], body=b"hi")
        self.assertIn(resp.status, (404, 405))
