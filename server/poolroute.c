/* poolroute: a [route] pool = yes handler, called on a pool thread with a copy of its request. */
#include "poolroute.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/*
 * One call of a pool route's handler: the copy of the request it reads, the
 * response it fills, and after the struct the copied header array, then
 * the copied bytes (head, decoded path, body): one malloc.
 */
typedef struct {
    const poolroute_t *route;
    req_t req;
    resp_t resp;
    int rc; /* what the handler returned; -1 until it ran */
    struct sockaddr_storage peer;
    http_header_t headers[];
} call_t;

/* The bytes of the head all slices point into: from the method to the end of the last one. */
static void head_span(const http_request_t *h, const char **lo, const char **hi)
{
    const char *end = h->target.p + h->target.len;
    size_t i;

    for (i = 0; i < h->nheaders; i++) {
        const char *e = h->headers[i].value.p + h->headers[i].value.len;
        if ((uintptr_t)e > (uintptr_t)end) {
            end = e;
        }
    }
    *lo = h->method_name.p;
    *hi = end;
}

/* Point s into the copy at to of [lo, hi), if it points into that span (never a static "/"). */
static void move_slice(http_slice_t *s, const char *lo, const char *hi, char *to)
{
    uintptr_t p = (uintptr_t)s->p;

    if (s->p != NULL && p >= (uintptr_t)lo && p + s->len <= (uintptr_t)hi) {
        s->p = to + (p - (uintptr_t)lo);
    }
}

/* A call of route with a deep copy of req; NULL when out of memory. */
static call_t *call_new(const poolroute_t *route, const forkd_req_t *req)
{
    const http_request_t *h = &req->h;
    const char *lo, *hi;
    size_t span, i;
    call_t *call;
    char *head, *path, *body;

    head_span(h, &lo, &hi);
    span = (size_t)(hi - lo);
    call = malloc(sizeof(*call) + h->nheaders * sizeof(http_header_t) + span + req->path_len + 1
                  + req->body_len);
    if (call == NULL) {
        return NULL;
    }
    head = (char *)(call->headers + h->nheaders);
    path = head + span;
    body = path + req->path_len + 1;
    memcpy(head, lo, span);
    memcpy(path, req->path, req->path_len + 1);
    if (req->body_len > 0) {
        memcpy(body, req->body, req->body_len);
    }

    call->route = route;
    call->rc = -1;
    call->req = *req;
    call->req.h.headers = call->headers;
    call->req.h.headers_cap = h->nheaders;
    memcpy(call->headers, h->headers, h->nheaders * sizeof(http_header_t));
    for (i = 0; i < h->nheaders; i++) {
        move_slice(&call->headers[i].name, lo, hi, head);
        move_slice(&call->headers[i].value, lo, hi, head);
    }
    move_slice(&call->req.h.method_name, lo, hi, head);
    move_slice(&call->req.h.target, lo, hi, head);
    move_slice(&call->req.h.path, lo, hi, head);
    move_slice(&call->req.h.query, lo, hi, head);
    move_slice(&call->req.h.host, lo, hi, head);
    call->req.path = path;
    call->req.body = req->body != NULL ? body : NULL;
    memcpy(&call->peer, req->peer, req->peer_len);
    call->req.peer = (const struct sockaddr *)&call->peer;
    call->req.abort_cb = NULL;
    call->req.abort_arg = NULL;
    /* a response of the thread's own: no loop, no connection (what needs them refuses it) */
    resp_reset(&call->resp, NULL, NULL);
    call->resp.self = route->self;
    return call;
}

/* On a pool thread: the handler, on the copy. */
static void call_run(void *arg, const volatile int *cancelled)
{
    call_t *call = arg;

    call->req.cancelled = cancelled;
    call->rc = call->route->fn(&call->req, &call->resp, call->route->self);
    call->req.cancelled = NULL;
}

/* Back on the loop: the thread's answer goes into the real response, if its request is there. */
static void call_done(forkd_server_t *srv, forkd_ref_t ref, void *arg)
{
    call_t *call = arg;
    forkd_resp_t *resp = forkd_lookup(srv, ref);

    if (resp != NULL) {
        if (call->rc == FORKD_DONE) {
            resp_move(resp, &call->resp);
        } else {
            if (call->rc >= 0) {
                forkd_log(srv, FORKD_LOG_ERROR,
                          "a pool = yes handler returned %d, not FORKD_DONE: answered 500",
                          call->rc);
            }
            forkd_resp_error(resp, 500);
        }
        forkd_resp_finish(resp);
    }
    resp_cleanup(&call->resp); /* what was not moved: released here, on the loop */
    free(call);
}

int poolroute_handler(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    call_t *call = call_new(self, req);

    if (call == NULL) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    if (forkd_pool_submit(req, call_run, call_done, call) != 0) {
        free(call);
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    return FORKD_ASYNC;
}
