/* conn_body: the request body: read and kept for its handler, or streamed to it in pieces. */
#include "conn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Is part of the request body still unread (it would be parsed as the next request)? */
int body_unread(const conn_block_t *b)
{
    return b->body_left != 0 || (b->req.h.body_kind == HTTP_BODY_CHUNKED && !b->body_done);
}

/*
 * A piece of a streamed body (body = stream), p borrowed from in[]: to the
 * handler's forkd_req_on_body() callback while it holds the request, else
 * dropped. last: the body ends with it.
 */
static void body_piece(conn_t *c, const char *p, size_t len, int last)
{
    conn_block_t *b = c->b;
    forkd_body_fn cb = b->body_cb;

    if (last) {
        b->body_reading = 0;
    }
    if (cb == NULL || !b->pending || (len == 0 && !last)) {
        return;
    }
    b->calling = 1; /* forkd_resp_finish() from cb: handler_done() here, not conn_run() */
    cb(&b->resp, p, len, last, b->body_arg);
    b->calling = 0;
    if (b->finished) {
        handler_done(c);
    }
}

/* Take body bytes from in[in_off..in_len). 1 complete, 0 need more, -1 error started. */
int body_take(conn_t *c)
{
    conn_block_t *b = c->b;
    const config_t *cfg = c->pool->env.cfg;
    char *data = b->in + b->in_off;
    size_t avail = b->in_len - b->in_off, dlen, start = b->in_off;
    ssize_t n;

    if (b->req.h.body_kind != HTTP_BODY_CHUNKED) {
        /* Content-Length (or none, for a streamed body's handler: one empty last piece) */
        dlen = avail < b->body_left ? avail : (size_t)b->body_left;
        b->in_off += dlen;
        b->body_left -= dlen;
        n = b->body_left == 0 ? 1 : 0;
    } else {
        n = http_chunked_parse(&b->chunked, data, avail, cfg->max_body_size, cfg->max_header_size,
                               &dlen);
        if (n == HTTP_PARSE_BAD) {
            conn_fault(c->pool, "bad chunked body: %s", b->chunked.reason);
            conn_start_error(c, b->chunked.status);
            return -1;
        }
        b->in_off += n == HTTP_PARSE_NEED_MORE ? avail : (size_t)n;
        b->body_done = n >= 0;
        n = n >= 0 ? 1 : 0;
    }
    b->body_bytes += b->in_off - start; /* body bytes only, not a pipelined request after it */
    if (b->body_reading) {
        body_piece(c, data, dlen, n == 1);
    } else if (b->keep_body && dlen > 0) {
        if (b->body_len + dlen > b->body_cap) {
            size_t cap = b->body_cap ? b->body_cap * 2 : 4096;
            char *nb;
            while (cap < b->body_len + dlen) {
                cap *= 2;
            }
            nb = realloc(b->body, cap);
            if (nb == NULL) {
                conn_start_error(c, 500);
                return -1;
            }
            b->body = nb;
            b->body_cap = cap;
        }
        memcpy(b->body + b->body_len, data, dlen);
        b->body_len += dlen;
    }
    if (b->in_off == b->in_len) {
        /* all consumed: read further body bytes right after the head */
        b->in_len = b->in_off = b->head_len;
    }
    return (int)n;
}

void body_send_continue(conn_t *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";

    /* the socket is fresh for this request: a 25-byte write does not block */
    if (write(c->fd, msg, sizeof(msg) - 1) < 0) {
        c->b->resp.close = 1;
    }
}

/*
 * body = stream: the handler runs now, before the body, which then goes to
 * it in pieces (body_piece()). A client waiting for 100 Continue that the
 * handler already answered (a refusal, say) gets that answer instead, and
 * the connection closes after it: its body is never sent.
 */
void body_begin_streamed(conn_t *c)
{
    conn_block_t *b = c->b;
    const http_request_t *h = &b->req.h;

    b->body_left = h->body_kind == HTTP_BODY_LENGTH ? h->content_length : 0;
    b->phase_start = timecache_now_ms();
    b->body_bytes = 0;
    b->body_streamed = 1;
    handler_dispatch(c); /* conn_request_next(): CONN_BODY while body_reading */
    if (!(h->flags & HTTP_REQ_EXPECT_CONTINUE) || h->body_kind == HTTP_BODY_NONE
        || b->in_off != b->in_len || c->state != CONN_BODY) {
        return;
    }
    if (b->finished && !b->streaming) {
        b->body_reading = 0;
        b->resp.close = 1;
        conn_start_response(c);
        return;
    }
    body_send_continue(c);
}

/*
 * Reading a streamed body resumes (forkd_req_body_pause(req, 0), or the
 * handler answered): the paused time is taken off min_rate's clock, then
 * the connection runs state_body() again, by its event, so that bytes
 * already in in[] go to the handler first and the callbacks never run
 * inside the handler's own call to us. Within a call of ours conn_run() follows
 * anyway. Not paused: nothing to do.
 */
void body_resume(conn_t *c)
{
    conn_block_t *b = c->b;

    if (!b->body_paused) {
        return;
    }
    b->body_paused = 0;
    b->phase_start += timecache_now_ms() - b->paused_at;
    if (!b->calling && c->state == CONN_BODY && c->ev_what != 0) {
        event_active(&c->ev, EV_READ, 1);
    }
}

int forkd_req_body_pause(forkd_req_t *req, int paused)
{
    conn_block_t *b = (conn_block_t *)(void *)((char *)req - offsetof(conn_block_t, req));
    conn_t *c = b->resp.conn;

    if (req->cancelled != NULL || c == NULL || !b->body_reading || b->finished) {
        return -1; /* a pool = yes copy, or no body still coming to this handler */
    }
    if (paused && !b->body_paused) {
        b->body_paused = 1;
        b->paused_at = timecache_now_ms();
    } else if (!paused) {
        body_resume(c);
    }
    return 0;
}

void forkd_req_on_body(forkd_req_t *req, forkd_body_fn cb, void *arg)
{
    conn_block_t *b = (conn_block_t *)(void *)((char *)req - offsetof(conn_block_t, req));

    if (req->cancelled != NULL) {
        return; /* a pool = yes handler's copy, on its thread */
    }
    b->body_cb = cb;
    b->body_arg = arg;
}

/*
 * The handler paused the body: wait for its resume with the read event off
 * and no timer (the handler's own timeouts bound the wait; a client gone
 * meanwhile is seen when reading resumes). The event stays assigned for
 * body_resume()'s event_active().
 */
int body_hold(conn_t *c)
{
    if (c->ev_what != EV_READ) {
        conn_wait_for(c, EV_READ, WAIT_FOREVER);
    }
    conn_stop_waiting(c);
    return 0;
}
