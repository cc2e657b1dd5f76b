/*
 * demo: sleep (timer, concurrency), work (CPU, parallelism), block (blocking
 * code, on the thread pool) and echo (request bodies).
 */
#include "demo.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "forkd.h"

#define BLOCK_SLICE_NS 10000000ULL /* a cancelled /demo/block job gives up within this */

/* A /demo/block job: its length, and how long it slept (less when cancelled). */
typedef struct {
    demo_t *d;
    long ms;
    long slept_ms;
} block_t;

/* The ms=N query parameter, 0..DEMO_MAX_MS; -1 when missing or bad. */
static long query_ms(const forkd_req_t *req)
{
    size_t len;
    const char *q = forkd_req_query(req, &len), *end = q != NULL ? q + len : NULL;
    long v = -1;

    while (q != NULL && q < end) {
        if (end - q > 3 && q[0] == 'm' && q[1] == 's' && q[2] == '=') {
            q += 3;
            v = 0;
            if (q == end || *q == '&') {
                return -1;
            }
            for (; q < end && *q != '&'; q++) {
                if (*q < '0' || *q > '9' || v > DEMO_MAX_MS) {
                    return -1;
                }
                v = v * 10 + (*q - '0');
            }
            return v > DEMO_MAX_MS ? -1 : v;
        }
        while (q < end && *q != '&') {
            q++;
        }
        q++;
    }
    return -1;
}

static void answer(forkd_resp_t *resp, const char *what, long ms)
{
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "application/json");
    forkd_resp_printf(resp, "{\"%s_ms\":%ld,\"pid\":%d}\n", what, ms, (int)getpid());
}

static const char *abort_reason(int why)
{
    switch (why) {
    case FORKD_ABORT_CLIENT: return "client gone";
    case FORKD_ABORT_TIMEOUT: return "handler_timeout";
    default: return "worker stopping";
    }
}

/* A pending sleep or block ended unanswered: count it, and say so (tests read the line). */
static void on_abort(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    demo_t *d = arg;

    d->pending--;
    d->aborted++;
    forkd_log(srv, FORKD_LOG_INFO, "demo: request %llu aborted: %s (%llu aborted, %llu pending)",
              (unsigned long long)ref.id, abort_reason(why), (unsigned long long)d->aborted,
              (unsigned long long)d->pending);
}

/* The timer of a sleep: it is still pending (an aborted request drops its timer). */
static void sleep_done(forkd_resp_t *resp, void *arg)
{
    demo_t *d = arg;

    d->pending--;
    answer(resp, "slept", query_ms(forkd_resp_req(resp)));
    forkd_resp_finish(resp);
}

static int demo_sleep(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    demo_t *d = self;
    long ms = query_ms(req);

    if (ms < 0) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    if (forkd_resp_timer(resp, (uint32_t)ms, sleep_done, d) != 0) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    d->pending++;
    forkd_req_on_abort(req, on_abort, d);
    return FORKD_ASYNC;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The job of /demo/block, on a pool thread (on the loop with threads = 0):
 * a blocking sleep, as a blocking library call would be, in slices so that
 * a cancelled job (its request gone) gives up early.
 */
static void block_run(void *arg, const volatile int *cancelled)
{
    block_t *bl = arg;
    uint64_t start = mono_ns(), until = start + (uint64_t)bl->ms * 1000000ULL, now = start, end;
    struct timespec ts;

    while (!*cancelled && now < until) {
        end = until - now > BLOCK_SLICE_NS ? now + BLOCK_SLICE_NS : until;
        ts.tv_sec = (time_t)(end / 1000000000ULL);
        ts.tv_nsec = (long)(end % 1000000000ULL);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        now = mono_ns();
    }
    bl->slept_ms = (long)((now - start) / 1000000ULL);
}

/* Back on the loop: answer, unless the request is gone (then on_abort counted it). */
static void block_done(forkd_server_t *srv, forkd_ref_t ref, void *arg)
{
    block_t *bl = arg;
    forkd_resp_t *resp = forkd_lookup(srv, ref);

    if (resp != NULL) {
        bl->d->pending--;
        answer(resp, "blocked", bl->ms);
        forkd_resp_finish(resp);
    } else {
        forkd_log(srv, FORKD_LOG_INFO, "demo: block job of request %llu ended after %ld of %ld ms",
                  (unsigned long long)ref.id, bl->slept_ms, bl->ms);
    }
    free(bl);
}

/* Blocking code done right: on the pool, so the loop serves on (with threads = 0, it cannot). */
static int demo_block(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    demo_t *d = self;
    long ms = query_ms(req);
    block_t *bl;

    if (ms < 0) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    bl = malloc(sizeof(*bl));
    if (bl == NULL) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    bl->d = d;
    bl->ms = ms;
    bl->slept_ms = 0;
    if (forkd_pool_submit(req, block_run, block_done, bl) != 0) {
        free(bl);
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    d->pending++;
    forkd_req_on_abort(req, on_abort, d);
    return FORKD_ASYNC;
}

static int demo_work(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    long ms = query_ms(req);
    struct timespec t0, t;
    volatile unsigned long spin = 0;
    (void)self;

    if (ms < 0) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    /* on purpose: this worker's loop serves nobody else meanwhile */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 10000; i++) {
            spin += (unsigned long)i;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    answer(resp, "worked", ms);
    return FORKD_DONE;
}

/* The request body is borrowed as it is: it lives until the response is sent. */
static int demo_echo(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    size_t len;
    const char *body = forkd_req_body(req, &len);
    (void)self;

    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "application/octet-stream");
    forkd_resp_body_ref(resp, body, len, NULL, NULL);
    return FORKD_DONE;
}

int demo_register(router_t *r, demo_t *d)
{
    unsigned get = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);

    d->pending = 0;
    d->aborted = 0;
    if (router_add(r, "/demo/sleep", ROUTE_EXACT, get, demo_sleep, d) != 0
        || router_add(r, "/demo/work", ROUTE_EXACT, get, demo_work, NULL) != 0
        || router_add(r, "/demo/block", ROUTE_EXACT, get, demo_block, d) != 0
        || router_add(r, "/demo/echo", ROUTE_EXACT | ROUTE_TAKES_BODY,
                      HTTP_METHOD_BIT(HTTP_METHOD_POST) | HTTP_METHOD_BIT(HTTP_METHOD_PUT),
                      demo_echo, NULL)
               != 0) {
        return -1;
    }
    return 0;
}
