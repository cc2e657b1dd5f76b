/* conn_handler: calling a request's handler; an async one's pending request and pool jobs. */
#include "conn_internal.h"

#include <stdlib.h>

/* A forkd_pool_submit() job: the pool's part, then the handler's. */
struct job {
    pool_job_t pj;
    conn_pool_t *pool;
    uint64_t id; /* of its request */
    forkd_done_fn done;
    int linked; /* on its request's list (the request is the handler's) */
    LIST_ENTRY(job) link;
};

/*
 * Async handlers. A request whose handler returned FORKD_ASYNC is pending:
 * in the pool's index by id (what forkd_lookup() reads), on its list of
 * pending requests (the newest shows on the scoreboard), and its connection
 * watches for the client's close (EV_CLOSED, never EV_READ: a pipelined
 * request is not a close) and for handler_timeout.
 */

/* Tell the request's pool jobs it is gone; their done comes anyway, and finds no request. */
static void cancel_jobs(conn_block_t *b)
{
    job_t *j;

    while ((j = LIST_FIRST(&b->jobs)) != NULL) {
        LIST_REMOVE(j, link);
        j->linked = 0;
        pool_cancel(&j->pj);
    }
}

/*
 * The handler returned FORKD_ASYNC: index the request. Out of memory for
 * the index, the request cannot be pending: it ends at once (abort, 500).
 */
static void pending_begin(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;

    if (pending_put(&p->index, b->req.id, c) != 0) {
        log_msg(p->env.log, LOG_LVL_ERROR, "out of memory for the index of pending requests");
        b->pending = 1;
        TAILQ_INSERT_TAIL(&p->pending, b, pending_link);
        handler_pending_end(c, FORKD_ABORT_STOP);
        free(b->sbuf); /* a stream started in the handler's call: its head is not sent yet */
        b->sbuf = NULL;
        b->streaming = 0;
        resp_reset(&b->resp, p->srv, c);
        forkd_resp_error(&b->resp, 500);
        b->resp.close = 1;
        b->finished = 1; /* conn_request_next() sends it */
        return;
    }
    b->pending = 1;
    b->pending_since = timecache_now_ms();
    TAILQ_INSERT_TAIL(&p->pending, b, pending_link);
}

/*
 * The pending request of c ends: out of the index and the list, its jobs
 * cancelled. why 0: its handler finished it (the response goes out). Else
 * (FORKD_ABORT_*) the response lets go of what it held and the handler's
 * abort callback runs, once; the caller answers or closes. The jobs are
 * cancelled last, with whatever the callback may have submitted (through a
 * pointer it kept: forkd_pool_submit() refuses a request no longer pending).
 */
void handler_pending_end(conn_t *c, int why)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    forkd_abort_fn cb = b->req.abort_cb;
    forkd_ref_t ref = {b->req.id};

    b->pending = 0;
    pending_del(&p->index, b->req.id);
    TAILQ_REMOVE(&p->pending, b, pending_link);
    if (why != 0) {
        resp_cleanup(&b->resp);
        b->req.abort_cb = NULL;
        if (cb != NULL) {
            cb(p->srv, ref, why, b->req.abort_arg);
        }
        resp_cleanup(&b->resp); /* a timer the callback set through a kept pointer */
        conn_scoreboard_rest(p);
    }
    cancel_jobs(b);
}

/* handler_timeout passed: the handler is told, the client gets a 504 (kept alive if it may be). */
void handler_timed_out(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;

    log_msg(p->env.log, LOG_LVL_INFO, "request %llu: no answer after handler_timeout (%ums): 504",
            (unsigned long long)b->req.id, p->env.cfg->handler_timeout);
    handler_pending_end(c, FORKD_ABORT_TIMEOUT);
    resp_reset(&b->resp, p->srv, c);
    forkd_resp_error(&b->resp, 504);
    conn_start_response(c);
}

forkd_resp_t *forkd_lookup(forkd_server_t *srv, forkd_ref_t ref)
{
    conn_t *c = srv->conns != NULL ? pending_get(&srv->conns->index, ref.id) : NULL;

    return c != NULL ? &c->b->resp : NULL;
}

forkd_req_t *forkd_resp_req(forkd_resp_t *resp)
{
    return &resp->conn->b->req;
}

/* A job is over (on the loop): unlink it from its request, if that is still the handler's; done. */
static void job_complete(pool_job_t *pj)
{
    job_t *j = (job_t *)pj;
    forkd_ref_t ref = {j->id};

    if (j->linked) {
        LIST_REMOVE(j, link);
    }
    j->done(j->pool->srv, ref, pj->arg);
    free(j);
}

int forkd_pool_submit(forkd_req_t *req, forkd_job_fn job, forkd_done_fn done, void *arg)
{
    conn_block_t *b;
    conn_t *c;
    conn_pool_t *p;
    job_t *j;

    if (req->cancelled != NULL) {
        return -1; /* a pool = yes handler's copy, on its thread */
    }
    b = (conn_block_t *)(void *)((char *)req - offsetof(conn_block_t, req));
    c = b->resp.conn;
    p = c->pool;

    /* the handler's: in its call, or pending */
    if (p->env.jobs == NULL || c->b != b || !(b->calling || b->pending)) {
        return -1;
    }
    j = malloc(sizeof(*j));
    if (j == NULL) {
        return -1;
    }
    j->pj.run = job;
    j->pj.complete = job_complete;
    j->pj.arg = arg;
    j->pool = p;
    j->id = req->id;
    j->done = done;
    j->linked = 1;
    LIST_INSERT_HEAD(&b->jobs, j, link);
    if (pool_submit(p->env.jobs, &j->pj) != 0) {
        LIST_REMOVE(j, link);
        free(j);
        return -1;
    }
    return 0;
}

/* Body done (or none): run the handler, or answer the error decided before. */
void handler_dispatch(conn_t *c)
{
    conn_block_t *b = c->b;
    http_request_t *h = &b->req.h;
    const route_t *rt = b->route;
    resp_t *resp = &b->resp;
    char allow[128];
    int rc;

    c->state = CONN_HANDLER;
    if (b->pending_status != 0) {
        forkd_resp_error(resp, b->pending_status);
        if (b->pending_status == 405) {
            router_allow(rt->methods, allow, sizeof(allow));
            forkd_resp_header(resp, "Allow", allow);
        }
        if (b->pending_status >= 500 || b->pending_status == 400 || b->pending_status == 413) {
            resp->close = 1;
        }
        conn_start_response(c);
        return;
    }
    if (h->method == HTTP_METHOD_OPTIONS
        && (rt == NULL || !(rt->methods & HTTP_METHOD_BIT(HTTP_METHOD_OPTIONS)))) {
        router_allow(rt ? rt->methods
                        : HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD),
                     allow, sizeof(allow));
        resp->status = 204;
        forkd_resp_header(resp, "Allow", allow);
        conn_start_response(c);
        return;
    }
    b->req.body = b->body;
    b->req.body_len = b->body_len;
    resp->self = rt->self;
    b->finished = 0;
    b->body_reading = b->body_streamed;
    b->calling = 1;
    rc = rt->fn(&b->req, resp, rt->self);
    b->calling = 0;
    if (rc == FORKD_DONE || b->finished) {
        handler_done(c);
    } else {
        /* FORKD_ASYNC: forkd_resp_finish() continues when the handler is done */
        pending_begin(c);
    }
    conn_request_next(c);
}

/*
 * The handler answered (FORKD_DONE, or forkd_resp_finish()): the request
 * is no longer its (out of the pending index, its jobs told), its callbacks
 * are dropped, and a stream gets its last chunk. Called again, a no-op.
 */
void handler_done(conn_t *c)
{
    conn_block_t *b = c->b;

    if (b->pending) {
        handler_pending_end(c, 0);
    } else if (!LIST_EMPTY(&b->jobs)) {
        cancel_jobs(b);
    }
    b->finished = 1;
    b->writable_cb = NULL;
    b->body_cb = NULL;
    body_resume(c);            /* the rest of the body is read and discarded now: never held */
    resp_timer_stop(&b->resp); /* the request is no longer the handler's: nor is its timer */
    if (b->streaming && !b->stream_ended) {
        stream_last(b);
    }
}

/* An async handler's response is ready: send it, and run the connection on. */
void forkd_resp_finish(forkd_resp_t *resp)
{
    conn_t *c = resp->conn;

    if (c == NULL) {
        return; /* a pool = yes handler's own response, on its thread: it answers by returning */
    }
    if (c->b->calling) {
        /* from within the handler's (or a callback's) own call: handler_done() on its return */
        c->b->finished = 1;
        return;
    }
    if (!c->b->pending) {
        return; /* not the handler's (any more): a stale pointer, ignored */
    }
    handler_done(c);
    if (c->state == CONN_BODY) {
        return; /* sent once the rest of the body is read (state_body()) */
    }
    conn_request_next(c);
    conn_run(c);
}

void forkd_resp_abort(forkd_resp_t *resp)
{
    conn_t *c = resp->conn;

    if (c != NULL && c->b->pending && c->b->streaming) {
        c->b->stream_ended = 1; /* no last chunk: handler_done() adds none */
        c->keepalive = 0;       /* decided with the head: the close is what tells the client */
    }
    forkd_resp_close(resp);
    forkd_resp_finish(resp);
}
