"""[route] pool = yes (issue 12): a module's handler called on the worker's thread pool,
written as plain blocking code. It reads a copy of the request (method, path, query, headers,
body, peer) and answers by returning; the loop serves other clients meanwhile; what needs the
loop refuses it on the thread; a request that ends first (client gone, handler_timeout) is
seen by forkd_req_cancelled() and the thread's answer is dropped, its lent body released on
the loop."""

import socket
import threading
import time

from harness import build_request, wait_until
import test_modules


def setUpModule():
    test_modules.setUpModule()  # make examples: the installed-style header


# The tests' module: /p/ echoes the request it got on its thread after sleeping ?ms=N (in
# slices, polling forkd_req_cancelled()); ?async returns FORKD_ASYNC (wrong on the pool);
# /stats (on the loop) counts what the threads saw. Its body is lent memory with a release
# callback, which must run on the loop.
BLOCKER_C = r"""
#include <forkd/forkd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static pthread_t loop_thread;
static atomic_int cancelled_seen, released, released_off_loop, ran_on_loop;

static int blocker_init(forkd_server_t *srv, const forkd_config_t *keys, void **self)
{
    (void)srv;
    (void)keys;
    (void)self;
    loop_thread = pthread_self();
    return 0;
}

static void release(void *self, void *arg)
{
    (void)self;
    if (!pthread_equal(pthread_self(), loop_thread)) {
        atomic_fetch_add(&released_off_loop, 1);
    }
    atomic_fetch_add(&released, 1);
    free(arg);
}

static int timer_cb_unused;
static void on_timer(forkd_resp_t *resp, void *arg)
{
    (void)resp;
    (void)arg;
    timer_cb_unused++;
}

static void job(void *arg, const volatile int *cancelled)
{
    (void)arg;
    (void)cancelled;
}

static void done(forkd_server_t *srv, forkd_ref_t ref, void *arg)
{
    (void)srv;
    (void)ref;
    (void)arg;
}

static int echo(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    size_t plen, qlen = 0, hlen = 0, blen = 0, mlen;
    const char *path = forkd_req_path(req, &plen);
    const char *query = forkd_req_query(req, &qlen);
    const char *hdr = forkd_req_header(req, "X-Test", &hlen);
    const char *body = forkd_req_body(req, &blen);
    const char *method = forkd_req_method_name(req, &mlen);
    const struct sockaddr *peer = forkd_req_peer(req, NULL);
    int ms = 0, slept = 0, timer, submit;
    char *out;
    (void)self;

    if (!pthread_equal(pthread_self(), loop_thread)) {
        /* as it should be */
    } else {
        atomic_fetch_add(&ran_on_loop, 1);
    }
    if (query != NULL && qlen >= 5 && strncmp(query, "async", 5) == 0) {
        return FORKD_ASYNC;
    }
    if (query != NULL && qlen > 3 && strncmp(query, "ms=", 3) == 0) {
        ms = atoi(query + 3);
    }
    while (slept < ms && !forkd_req_cancelled(req)) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        slept += 10;
    }
    if (forkd_req_cancelled(req)) {
        atomic_fetch_add(&cancelled_seen, 1);
    }
    timer = forkd_resp_timer(resp, 10, on_timer, NULL);
    submit = forkd_pool_submit(req, job, done, NULL);
    forkd_resp_finish(resp); /* does nothing here */
    out = malloc(4096);
    if (out == NULL) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    snprintf(out, 4096,
             "method %.*s\npath %.*s\nquery %.*s\nx-test %.*s\nbody %zu %.*s\n"
             "peer %s\nthread %s\ntimer %d\nsubmit %d\n",
             (int)mlen, method, (int)plen, path, (int)qlen, query ? query : "", (int)hlen,
             hdr ? hdr : "", blen, (int)blen, body ? body : "",
             peer->sa_family == AF_INET ? "inet" : "other",
             pthread_equal(pthread_self(), loop_thread) ? "loop" : "pool", timer, submit);
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain");
    forkd_resp_header(resp, "X-Pool", "yes");
    forkd_resp_body_ref(resp, out, strlen(out), release, out);
    return FORKD_DONE;
}

static int stats(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    (void)req;
    (void)self;
    forkd_resp_status(resp, 200);
    forkd_resp_printf(resp, "cancelled %d\nreleased %d\nreleased_off_loop %d\nran_on_loop %d\n",
                      atomic_load(&cancelled_seen), atomic_load(&released),
                      atomic_load(&released_off_loop), atomic_load(&ran_on_loop));
    return FORKD_DONE;
}

static const forkd_handler_def_t handlers[] = {{"echo", echo}, {"stats", stats}, {NULL, NULL}};

const forkd_module_t forkd_module = {FORKD_ABI, "blocker", blocker_init, NULL, handlers};
"""


class PoolRoute(test_modules.ModuleServerCase):
    """One worker with 4 threads; /p/ on the pool, /stats on the loop, handler_timeout 1 s."""

    @classmethod
    def module_config(cls, directory):
        so = test_modules.build_module(directory, "blocker.so", BLOCKER_C)
        return {
            "server": {"workers": "1", "threads": "4"},
            "http": {"handler_timeout": "1s"},
            "module blocker": {"path": so},
            "route /p/": {"handler": "blocker:echo", "methods": "GET POST", "pool": "yes"},
            "route /stats": {"handler": "blocker:stats"},
        }

    def stats(self):
        resp = self.request("GET", "/stats")
        self.assertEqual(resp.status, 200, resp)
        return dict((k, int(v)) for k, v in
                    (line.split(" ") for line in resp.body.decode().splitlines()))

    def fields(self, resp):
        self.assertEqual(resp.status, 200, resp)
        return dict(line.split(" ", 1) if " " in line else (line, "")
                    for line in resp.body.decode().splitlines())

    def test_the_handler_reads_its_request_on_a_thread(self):
        resp = self.request("GET", "/p/some/where?ms=0", headers=[("X-Test", "hello there")])
        self.assertEqual(resp.get("X-Pool"), "yes")
        self.assertEqual(resp.get("Content-Type"), "text/plain")
        f = self.fields(resp)
        self.assertEqual(f["method"], "GET")
        self.assertEqual(f["path"], "/p/some/where")
        self.assertEqual(f["query"], "ms=0")
        self.assertEqual(f["x-test"], "hello there")
        self.assertEqual(f["peer"], "inet")
        self.assertEqual(f["thread"], "pool")
        # what needs the loop refuses it on the thread
        self.assertEqual((f["timer"], f["submit"]), ("-1", "-1"))
        self.assertEqual(self.stats()["ran_on_loop"], 0)

    def test_body_and_head(self):
        resp = self.request("POST", "/p/x", headers=[("Content-Length", "7")], body=b"abc=123")
        self.assertEqual(self.fields(resp)["body"], "7 abc=123")
        resp = self.request("HEAD", "/p/x")
        self.assertEqual((resp.status, resp.body), (200, b""), resp)
        self.assertGreater(int(resp.get("Content-Length")), 0)

    def test_lent_body_released_on_the_loop(self):
        before = self.stats()["released"]
        for _ in range(3):
            self.request("GET", "/p/x")
        self.assertTrue(wait_until(lambda: self.stats()["released"] >= before + 3, 5))
        self.assertEqual(self.stats()["released_off_loop"], 0)

    def test_threads_run_in_parallel_while_the_loop_serves(self):
        results = []
        lock = threading.Lock()

        def one():
            resp = self.request("GET", "/p/x?ms=400")
            with lock:
                results.append(resp.status)

        started = time.monotonic()
        workers = [threading.Thread(target=one) for _ in range(8)]
        for t in workers:
            t.start()
        time.sleep(0.1)
        # the loop answers at once while 4 threads are blocked and 4 requests wait
        t0 = time.monotonic()
        self.assertEqual(self.request("GET", "/stats").status, 200)
        loop_latency = time.monotonic() - t0
        for t in workers:
            t.join(10)
        elapsed = time.monotonic() - started
        self.assertEqual(results, [200] * 8)
        self.assertLess(loop_latency, 0.3)
        # 8 jobs of 0.4 s on 4 threads: two rounds, never eight in a row
        self.assertGreaterEqual(elapsed, 0.75)
        self.assertLess(elapsed, 2.5)

    def test_client_gone_cancels_the_thread(self):
        before = self.stats()
        conn = socket.create_connection(("127.0.0.1", self.port))
        conn.sendall(build_request("GET", "/p/x?ms=5000"))
        time.sleep(0.2)
        conn.close()
        # the handler sees forkd_req_cancelled() within its 10 ms slice, returns, and its
        # answer is dropped: released on the loop, never sent
        self.assertTrue(wait_until(
            lambda: self.stats()["cancelled"] == before["cancelled"] + 1, 2),
            self.stats())
        self.assertTrue(wait_until(
            lambda: self.stats()["released"] >= before["released"] + 1, 2))
        self.assertEqual(self.stats()["released_off_loop"], 0)

    def test_handler_timeout_answers_504_and_cancels(self):
        before = self.stats()["cancelled"]
        t0 = time.monotonic()
        resp = self.request("GET", "/p/x?ms=4000")
        self.assertEqual(resp.status, 504, resp)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertTrue(wait_until(lambda: self.stats()["cancelled"] == before + 1, 2))
        # the connection's next request is served (the copy, not its memory, was the thread's)
        self.assertEqual(self.fields(self.request("GET", "/p/after"))["path"], "/p/after")

    def test_async_on_the_pool_is_a_500(self):
        resp = self.request("GET", "/p/x?async")
        self.assertEqual(resp.status, 500, resp)
        self.assertTrue(wait_until(
            lambda: "returned 1, not FORKD_DONE" in self.server.log_text(), 2))

    def test_many_requests_many_disconnects(self):
        """Under ASan (make test): requests answered and abandoned in a mix, no report."""
        socks = []
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(build_request("GET", "/p/m?ms=%d" % (i % 3 * 20)))
            socks.append(s)
        for i, s in enumerate(socks):
            if i % 2:
                s.close()
        for i, s in enumerate(socks):
            if i % 2 == 0:
                s.settimeout(10)
                self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
                s.close()
        self.assertEqual(self.fields(self.request("GET", "/p/end"))["path"], "/p/end")
