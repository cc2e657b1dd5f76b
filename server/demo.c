/* demo: sleep (timer, concurrency), work (CPU, parallelism) and echo (request bodies). */
#include "demo.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "forkd.h"

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

static void sleep_done(forkd_resp_t *resp, void *arg)
{
    answer(resp, "slept", (long)(intptr_t)arg);
    forkd_resp_finish(resp);
}

static int demo_sleep(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    long ms = query_ms(req);
    (void)self;

    if (ms < 0) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    if (forkd_resp_timer(resp, (uint32_t)ms, sleep_done, (void *)(intptr_t)ms) != 0) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
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

int demo_register(router_t *r)
{
    unsigned get = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);

    if (router_add(r, "/demo/sleep", ROUTE_EXACT, get, demo_sleep, NULL) != 0
        || router_add(r, "/demo/work", ROUTE_EXACT, get, demo_work, NULL) != 0
        || router_add(r, "/demo/echo", ROUTE_EXACT | ROUTE_TAKES_BODY,
                      HTTP_METHOD_BIT(HTTP_METHOD_POST) | HTTP_METHOD_BIT(HTTP_METHOD_PUT),
                      demo_echo, NULL)
               != 0) {
        return -1;
    }
    return 0;
}
