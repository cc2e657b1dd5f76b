/* conn_stream: a response its handler writes as it goes: a bounded buffer, chunk framing. */
#include "conn_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/*
 * A stream's buffer: FORKD_STREAM_BUFFER bytes of body waiting for the
 * client, with room for one chunk's framing ("%zx\r\n" and the CRLF after
 * the data) and the last chunk past that.
 */
#define STREAM_FRAME_MAX 20
#define STREAM_LAST "0\r\n\r\n"
#define STREAM_CAP (FORKD_STREAM_BUFFER + STREAM_FRAME_MAX + sizeof(STREAM_LAST))
/* A stream's buffer starts this small (a quiet stream's events fit) and grows to STREAM_CAP. */
#define STREAM_MIN 4096

/*
 * Streamed responses. forkd_resp_stream() builds the head in out[] and
 * gives the request a buffer that grows from STREAM_MIN to STREAM_CAP
 * bytes as the handler fills it; forkd_resp_write() frames
 * what it takes into it, and the connection (CONN_STREAM, state_stream())
 * writes the head and the buffer out as the socket takes them. Writes only
 * fill the buffer and ask the loop to write (stream_kick()): a handler's
 * call never closes its own connection under it.
 *
 * A graceful stop lets a stream run on, like any response in flight, until
 * [server] graceful_timeout: then conn_close_all() aborts it with
 * FORKD_ABORT_STOP. Aborting at the stop itself would cut every download
 * that a reload happens to meet; waiting for streams without a bound would
 * let one Server-Sent Events client hold the old generation forever. So an
 * endless stream delays a worker's exit by graceful_timeout at most, and
 * its client (an EventSource reconnects by itself) comes back to the new one.
 */

/* The block whose response resp is, while it is the current request of its connection; else NULL.
 */
static conn_block_t *resp_block(forkd_resp_t *resp)
{
    conn_block_t *b = (conn_block_t *)(void *)((char *)resp - offsetof(conn_block_t, resp));

    /* no conn: a pool = yes handler's own response, on its thread */
    return resp->conn != NULL && resp->conn->b == b ? b : NULL;
}

/* The stream's buffer has had something to write: write it from the loop, soon. */
static void stream_kick(conn_t *c)
{
    /* within a call of ours (the handler, a callback) conn_run() follows: nothing to ask */
    if (!c->b->calling && c->state == CONN_STREAM && c->ev_what != 0) {
        event_active(&c->ev, EV_WRITE, 1);
    }
}

/*
 * Room for n more bytes at the end of sbuf (what waits plus n never passes
 * STREAM_CAP): move what waits to its start, or grow the buffer (at least
 * doubling, up to STREAM_CAP). 0 ok, -1 out of memory (nothing changed).
 */
static int stream_room(conn_block_t *b, size_t n)
{
    size_t cap = b->sbuf_cap;
    char *nb;

    if (b->s_len + n <= cap) {
        return 0;
    }
    memmove(b->sbuf, b->sbuf + b->s_off, b->s_len - b->s_off);
    b->s_len -= b->s_off;
    b->s_off = 0;
    if (b->s_len + n <= cap) {
        return 0;
    }
    while (cap < b->s_len + n) {
        cap *= 2;
    }
    cap = cap < STREAM_CAP ? cap : STREAM_CAP;
    nb = realloc(b->sbuf, cap);
    if (nb == NULL) {
        return -1;
    }
    b->sbuf = nb;
    b->sbuf_cap = cap;
    return 0;
}

/* The chunk-size line of a chunk of n bytes ("1f4\r\n") at p; returns its length. */
static size_t chunk_line(char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t len = 0, i;

    do {
        tmp[len++] = hex[n & 15];
        n >>= 4;
    } while (n != 0);
    for (i = 0; i < len; i++) {
        p[i] = tmp[len - 1 - i];
    }
    p[len++] = '\r';
    p[len++] = '\n';
    return len;
}

/* The body ends: the last chunk, for a chunked one. */
void stream_last(conn_block_t *b)
{
    b->stream_ended = 1;
    /* forkd_resp_write() left room for it: no growth, no failure */
    if (b->sbuf != NULL && b->resp.framing == RESP_FRAME_CHUNKED
        && stream_room(b, sizeof(STREAM_LAST) - 1) == 0) {
        memcpy(b->sbuf + b->s_len, STREAM_LAST, sizeof(STREAM_LAST) - 1);
        b->s_len += sizeof(STREAM_LAST) - 1;
    }
}

/*
 * Write the head and the buffer as far as the socket takes them. 1 all
 * written, 0 the socket is full, -1 error (errno).
 */
int stream_flush(conn_t *c)
{
    conn_block_t *b = c->b;
    struct iovec iov[2];
    int iovcnt;
    size_t head;
    ssize_t n;

    while (b->out_sent < b->out_len || b->s_off < b->s_len) {
        iovcnt = 0;
        if (b->out_sent < b->out_len) {
            iov[iovcnt].iov_base = b->outp + b->out_sent;
            iov[iovcnt++].iov_len = b->out_len - b->out_sent;
        }
        if (b->s_off < b->s_len) {
            iov[iovcnt].iov_base = b->sbuf + b->s_off;
            iov[iovcnt++].iov_len = b->s_len - b->s_off;
        }
        n = writev(c->fd, iov, iovcnt);
        if (n < 0) {
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        }
        head = b->out_len - b->out_sent < (size_t)n ? b->out_len - b->out_sent : (size_t)n;
        b->out_sent += head;
        b->s_off += (size_t)n - head;
        b->stream_sent += (size_t)n - head;
        if (b->congested) {
            b->wait_bytes += (size_t)n - head;
        }
    }
    b->s_off = b->s_len = 0;
    return 1;
}

/*
 * min_rate for a stream: how long to wait more for a socket that does not
 * take what waits for it (within send_timeout). Only the time spent waiting
 * so counts (wait_ms), against what the client took meanwhile (wait_bytes):
 * a quiet stream is the handler's choice, a slow reader is not. 0: the
 * client is already below min_rate.
 */
uint64_t stream_wait(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;
    conn_block_t *b = c->b;
    uint64_t allowed;

    if (cfg->min_rate == 0) {
        return cfg->send_timeout;
    }
    allowed = b->wait_bytes * 1000 / cfg->min_rate;
    if (allowed < MIN_RATE_GRACE_MS) {
        allowed = MIN_RATE_GRACE_MS;
    }
    if (b->wait_ms >= allowed) {
        return 0;
    }
    return allowed - b->wait_ms < cfg->send_timeout ? allowed - b->wait_ms : cfg->send_timeout;
}

/* Is the handler's room callback due (it asked, and half the buffer or more is free)? */
int stream_writable_due(const conn_block_t *b)
{
    return b->writable_cb != NULL && b->pending && b->s_len - b->s_off <= FORKD_STREAM_BUFFER / 2;
}

/*
 * The client cannot take the stream: it is gone (reset: -1 from the
 * socket), or slower than min_rate (reset 1: the bytes queued for it are
 * dropped, as for conn_abort()). The handler is told (FORKD_ABORT_CLIENT)
 * if it still holds the request; the access log has what was sent.
 */
void stream_cut(conn_t *c, int reset)
{
    conn_block_t *b = c->b;

    if (b->pending) {
        handler_pending_end(c, FORKD_ABORT_CLIENT);
        b->resp.status = 499; /* as conn_check_client() logs it: the body is not complete */
    }
    conn_access_log(c, b->stream_sent);
    if (reset) {
        conn_abort(c);
    } else {
        c->state = CONN_CLOSE;
    }
}

/*
 * The stream's socket changed, or stream_kick() asked: account the time
 * waited for the client, see whether a change of the socket is the client
 * going away (conn_check_client()), and call the room callback when due (once:
 * state_stream() asks the loop again if it is due again).
 */
void stream_event(conn_t *c, short what)
{
    conn_block_t *b = c->b;
    forkd_writable_fn cb;

    if (b->wait_since != 0) {
        b->wait_ms += timecache_now_ms() - b->wait_since;
        b->wait_since = 0;
    }
    if ((what & (EV_READ | EV_CLOSED)) && c->ev_what == CLIENT_GONE_EVENTS) {
        conn_check_client(c);
        if (c->state != CONN_STREAM) {
            return;
        }
    }
    if (stream_writable_due(b)) {
        cb = b->writable_cb;
        b->writable_cb = NULL;
        b->calling = 1; /* forkd_resp_finish() from cb: handler_done() here, not conn_run() */
        cb(&b->resp, b->writable_arg);
        b->calling = 0;
        if (b->finished) {
            handler_done(c);
        }
    }
}

int forkd_resp_stream(forkd_resp_t *resp)
{
    conn_block_t *b = resp_block(resp);
    conn_t *c = resp->conn;
    conn_pool_t *p;
    int head, http10;

    if (b == NULL || !(b->calling || b->pending) || b->finished || b->streaming) {
        return -1;
    }
    p = c->pool;
    head = b->req.h.method == HTTP_METHOD_HEAD;
    http10 = b->req.h.version_minor == 0;
    if (!head && resp->status != 204 && resp->status != 304) {
        b->sbuf = malloc(STREAM_MIN);
        b->sbuf_cap = STREAM_MIN;
        if (b->sbuf == NULL) {
            return -1;
        }
        if (http10) {
            resp->close = 1; /* the close ends the body */
        }
    }
    timecache_update(&p->time);
    forkd_resp_header(resp, "X-Request-Id", client_request_id(c));
    c->keepalive = (uint8_t)conn_keep_alive(c);
    b->out_len =
        resp_stream_start(resp, head, http10, p->time.date, c->keepalive, conn_head_buffer(b));
    b->out_sent = 0;
    b->streaming = 1;
    if (c->state == CONN_HANDLER) {
        c->state = CONN_STREAM; /* handler_timeout stops here */
    }
    stream_kick(c);
    return 0;
}

ssize_t forkd_resp_write(forkd_resp_t *resp, const void *p, size_t len)
{
    conn_block_t *b = resp_block(resp);
    size_t waiting, take;
    char *dst;

    if (b == NULL || !b->streaming || b->finished) {
        return -1;
    }
    if (len > SSIZE_MAX) {
        len = SSIZE_MAX;
    }
    if (b->sbuf == NULL || len == 0) {
        return (ssize_t)len; /* no body (HEAD, 204, 304): taken and dropped */
    }
    waiting = b->s_len - b->s_off;
    take = waiting < FORKD_STREAM_BUFFER ? FORKD_STREAM_BUFFER - waiting : 0;
    if (take > len) {
        take = len;
    }
    if (take == 0) {
        return 0;
    }
    /* room for the last chunk too, so that stream_last() never needs memory */
    if (stream_room(b, take + STREAM_FRAME_MAX + sizeof(STREAM_LAST)) != 0) {
        return 0; /* out of memory: nothing taken, the room callback tries again */
    }
    dst = b->sbuf + b->s_len;
    if (resp->framing == RESP_FRAME_CHUNKED) {
        dst += chunk_line(dst, take);
    }
    memcpy(dst, p, take);
    dst += take;
    if (resp->framing == RESP_FRAME_CHUNKED) {
        *dst++ = '\r';
        *dst++ = '\n';
    }
    b->s_len = (size_t)(dst - b->sbuf);
    stream_kick(resp->conn);
    return (ssize_t)take;
}

int forkd_resp_on_writable(forkd_resp_t *resp, forkd_writable_fn cb, void *arg)
{
    conn_block_t *b = resp_block(resp);

    if (b == NULL || !b->streaming || b->finished) {
        return -1;
    }
    b->writable_cb = cb;
    b->writable_arg = arg;
    if (stream_writable_due(b)) {
        stream_kick(resp->conn); /* "soon after this call" */
    }
    return 0;
}
