/* demo: sleep (timer, concurrency), work (CPU, parallelism) and echo (request bodies). */
#include "demo.h"

#include <time.h>
#include <unistd.h>

#include "worker.h"

/* The ms=N query parameter, 0..DEMO_MAX_MS; -1 when missing or bad. */
static long query_ms(const http_request_t *h)
{
    const char *q = h->query.p, *end = h->query.p + h->query.len;
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

static void answer(resp_t *resp, const char *what, long ms)
{
    resp->status = 200;
    resp->content_type = "application/json";
    resp_printf(resp, "{\"%s_ms\":%ld,\"pid\":%d}\n", what, ms, (int)getpid());
}

static void sleep_done(resp_t *resp, void *arg)
{
    answer(resp, "slept", (long)(intptr_t)arg);
    resp_finish(resp);
}

static int demo_sleep(req_t *req, resp_t *resp, void *ctx)
{
    long ms = query_ms(&req->h);
    (void)ctx;

    if (ms < 0) {
        resp_error(resp, 400);
        return HANDLER_DONE;
    }
    if (resp_timer(resp, (uint32_t)ms, sleep_done, (void *)(intptr_t)ms) != 0) {
        resp_error(resp, 500);
        return HANDLER_DONE;
    }
    return HANDLER_ASYNC;
}

static int demo_work(req_t *req, resp_t *resp, void *ctx)
{
    long ms = query_ms(&req->h);
    struct timespec t0, t;
    volatile unsigned long spin = 0;
    (void)ctx;

    if (ms < 0) {
        resp_error(resp, 400);
        return HANDLER_DONE;
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
    return HANDLER_DONE;
}

static int demo_echo(req_t *req, resp_t *resp, void *ctx)
{
    (void)ctx;
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp_body_mem(resp, req->body ? req->body : "", req->body_len);
    return HANDLER_DONE;
}

int demo_register(router_t *r, void *worker)
{
    unsigned get = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);

    if (router_add(r, "/demo/sleep", ROUTE_EXACT, get, demo_sleep, worker) != 0
        || router_add(r, "/demo/work", ROUTE_EXACT, get, demo_work, worker) != 0
        || router_add(r, "/demo/echo", ROUTE_EXACT | ROUTE_TAKES_BODY,
                      HTTP_METHOD_BIT(HTTP_METHOD_POST) | HTTP_METHOD_BIT(HTTP_METHOD_PUT),
                      demo_echo, worker)
               != 0) {
        return -1;
    }
    return 0;
}
