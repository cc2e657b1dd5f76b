/* conn: a connection's state machine and its I/O, from accept to the response's last byte. */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "conn_internal.h"
#include "http.h"
#include "http_parser.h"
#include "pending.h"
#include "timecache.h"
#include "tunnel.h"
#include "uri.h"

#define FREE_CONNS_MAX 4096
#define FREE_BLOCKS_MAX 64
#define CONN_IN_SLACK 1024 /* input room past max_header_size for body bytes */

static void on_event(evutil_socket_t fd, short what, void *arg);
static void begin_request(conn_t *c);
static int state_handler(conn_t *c);
static void send_busy(conn_pool_t *p, int fd);

/*
 * A client's fault: a bad request, a timeout, a slow reader, a reset. With
 * [log] level = debug every one is a line; at info (the default) at most one
 * a second per worker, saying how many more came since the last, so a
 * slowloris of 10,000 connections writes a line a second, not 10,000 (nginx
 * logs these at info too, but its default level is error, where they vanish).
 */
__attribute__((format(printf, 2, 3))) void conn_fault(struct conn_pool *p, const char *fmt, ...)
{
    const log_t *log = p->env.log;
    uint64_t sec = timecache_now_ms() / 1000;
    char msg[512];
    va_list ap;

    if (log->level < LOG_LVL_INFO) {
        return;
    }
    if (log->level == LOG_LVL_INFO && sec == p->fault_logged) {
        p->fault_quiet++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log->level > LOG_LVL_INFO) {
        log_msg(log, LOG_LVL_DEBUG, "%s", msg);
        return;
    }
    if (p->fault_quiet > 0) {
        log_msg(log, LOG_LVL_INFO, "%s (and %llu more client faults since the last line)", msg,
                (unsigned long long)p->fault_quiet);
    } else {
        log_msg(log, LOG_LVL_INFO, "%s", msg);
    }
    p->fault_logged = sec;
    p->fault_quiet = 0;
}

conn_pool_t *conn_pool_new(const conn_env_t *env)
{
    const config_t *cfg = env->cfg;
    conn_pool_t *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->env = *env;
    TAILQ_INIT(&p->conns);
    TAILQ_INIT(&p->idle);
    TAILQ_INIT(&p->free_conns);
    p->block_size = sizeof(conn_block_t) + cfg->max_headers * sizeof(http_header_t)
                    + cfg->max_header_size + CONN_IN_SLACK + cfg->max_header_size + 1;
    p->srv = env->srv != NULL ? env->srv : &p->own_srv;
    p->srv->base = env->base;
    p->srv->log = env->log;
    p->srv->conns = p;
    pending_init(&p->index);
    TAILQ_INIT(&p->pending);
    p->tunnels.closed = env->closed;
    p->tunnels.closed_arg = env->owner;
    timecache_update(&p->time);
    client_parse_trusted(p);
    snprintf(p->id_prefix, sizeof(p->id_prefix), "%08x%08x", (unsigned)time(NULL),
             (unsigned)getpid());
    return p;
}

void conn_pool_free(conn_pool_t *p)
{
    if (p == NULL) {
        return;
    }
    conn_close_all(p);
    tunnel_close_all(&p->tunnels);
    pending_free(&p->index);
    if (p->srv->conns == p) {
        p->srv->conns = NULL;
    }
    free(p);
}

void conn_stop(conn_pool_t *p)
{
    p->stopping = 1;
}

void conn_keepalive_off(conn_pool_t *p)
{
    p->closing = 1;
}

int conn_count(const conn_pool_t *p)
{
    return p->nconns + p->tunnels.n; /* a tunnel is its client's connection, passed on */
}

int conn_idle_count(const conn_pool_t *p)
{
    return p->nidle;
}

/*
 * Wait for what (EV_READ or EV_WRITE, or CLIENT_GONE_EVENTS) for at most ms
 * (WAIT_FOREVER: no limit); one event per connection.
 */
void conn_wait_for(conn_t *c, short what, uint64_t ms)
{
    struct timeval tv;

    if (ms == 0) {
        ms = 1;
    }
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    if (c->ev_what != what) {
        if (c->ev_what != 0) {
            event_del(&c->ev);
        }
        /* persistent: between requests only the timeout changes, no epoll_ctl() */
        event_assign(&c->ev, c->pool->env.base, c->fd, what | EV_PERSIST, on_event, c);
        c->ev_what = what;
    } else if (ms == WAIT_FOREVER) {
        /* event_add() without a timeout keeps the one set before (a handler_timeout) */
        event_remove_timer(&c->ev);
    }
    event_add(&c->ev, ms == WAIT_FOREVER ? NULL : &tv);
}

void conn_stop_waiting(conn_t *c)
{
    if (c->ev_what != 0) {
        event_del(&c->ev);
    }
}

/*
 * The idle keep-alive list, oldest first: at max_connections the oldest idle
 * connection makes room for a new one (never one with a request in flight).
 */
static void idle_add(conn_t *c)
{
    conn_pool_t *p = c->pool;

    TAILQ_INSERT_TAIL(&p->idle, c, idle_link);
    c->idle_listed = 1;
    p->nidle++;
    p->env.idle(p->env.owner); /* at max_connections, an idle one can make room */
}

static void idle_remove(conn_t *c)
{
    if (!c->idle_listed) {
        return;
    }
    TAILQ_REMOVE(&c->pool->idle, c, idle_link);
    c->pool->nidle--;
    c->idle_listed = 0;
}

/*
 * min_rate: how long to wait for the socket before a body upload or a
 * response download that has moved `bytes` since phase_start falls below
 * min_rate bytes/s (after a grace). 0: it already has.
 */
static uint64_t rate_wait(conn_t *c, uint64_t bytes, uint32_t timeout)
{
    uint32_t rate = c->pool->env.cfg->min_rate;
    uint64_t now, until, need;

    if (rate == 0) {
        return timeout;
    }
    now = timecache_now_ms();
    need = bytes * 1000 / rate;
    until = c->b->phase_start + (need > MIN_RATE_GRACE_MS ? need : MIN_RATE_GRACE_MS);
    if (now >= until) {
        return 0;
    }
    return until - now < timeout ? until - now : timeout;
}

/*
 * Close with a reset: for a client that stopped reading, the response still
 * queued in the kernel would otherwise keep its memory until delivered at the
 * attacker's pace (nginx: reset_timedout_connection).
 */
void conn_abort(conn_t *c)
{
    struct linger lg = {1, 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    c->state = CONN_CLOSE;
}

/* A new buffer block (malloc, caller owns it); NULL when out of memory. */
static conn_block_t *block_new(conn_pool_t *p)
{
    char *mem = malloc(p->block_size);
    conn_block_t *b;

    if (mem == NULL) {
        return NULL;
    }
    b = (conn_block_t *)mem;
    b->headers = (http_header_t *)(mem + sizeof(conn_block_t));
    b->in = (char *)(b->headers + p->env.cfg->max_headers);
    b->in_cap = p->env.cfg->max_header_size + CONN_IN_SLACK;
    b->path = b->in + b->in_cap;
    /* request_cleanup() frees these: a fresh block must not hold malloc's leftovers */
    b->body = NULL;
    b->body_len = b->body_cap = 0;
    b->sbuf = NULL;
    b->out_big = NULL;
    b->outp = b->out;
    b->streaming = 0;
    b->pending = 0;
    b->calling = 0;
    LIST_INIT(&b->jobs);
    return b;
}

/* Take a buffer block from the pool (or malloc); NULL when out of memory. */
static conn_block_t *block_get(conn_pool_t *p)
{
    conn_block_t *b = p->free_blocks;

    if (b != NULL) {
        p->free_blocks = b->next_free;
        p->nfree_blocks--;
    } else if ((b = block_new(p)) == NULL) {
        return NULL;
    }
    b->in_len = 0;
    b->in_off = 0;
    return b;
}

static void block_put(conn_pool_t *p, conn_block_t *b)
{
    if (p->nfree_blocks >= FREE_BLOCKS_MAX) {
        free(b);
        return;
    }
    b->next_free = p->free_blocks;
    p->free_blocks = b;
    p->nfree_blocks++;
}

/* Release what the current request holds: its response's body and timer, the kept request body. */
static void request_cleanup(conn_t *c)
{
    conn_block_t *b = c->b;

    resp_cleanup(&b->resp);
    free(b->out_big);
    b->out_big = NULL;
    b->outp = b->out;
    free(b->body);
    b->body = NULL;
    b->body_len = b->body_cap = 0;
    free(b->sbuf);
    b->sbuf = NULL;
    b->streaming = 0;
    b->writable_cb = NULL;
    b->body_cb = NULL;
}

/* Reset the request and response for the next request on this block. */
static void request_init(conn_t *c)
{
    conn_block_t *b = c->b;

    memset(&b->req, 0, sizeof(b->req));
    b->req.h.headers = b->headers;
    b->req.h.headers_cap = c->pool->env.cfg->max_headers;
    b->req.id = ++c->pool->req_ids;
    b->req.peer = &c->peer.sa;
    b->req.peer_len = c->peer_len;
    b->req.srv = c->pool->srv;
    resp_reset(&b->resp, c->pool->srv, c);
    b->out_len = b->out_sent = b->mem_sent = 0;
    b->outp = b->out;
    b->file_sent = 0;
    b->body_done = 0;
    b->body_left = 0;
    b->keep_body = 0;
    b->pending_status = 0;
    b->route = NULL;
    b->finished = 0;
    b->streaming = b->stream_ended = b->congested = 0;
    b->s_off = b->s_len = 0;
    b->stream_sent = b->wait_since = b->wait_ms = b->wait_bytes = 0;
    b->writable_cb = NULL;
    b->body_reading = b->body_streamed = b->body_paused = 0;
    b->body_cb = NULL;
    b->head_len = 0;
    b->parsed_len = 0;
    memset(&b->chunked, 0, sizeof(b->chunked));
}

static void conn_free(conn_t *c)
{
    conn_pool_t *p = c->pool;

    conn_stop_waiting(c);
    idle_remove(c);
    if (c->b != NULL) {
        if (c->b->pending) {
            handler_pending_end(c, FORKD_ABORT_STOP);
        }
        request_cleanup(c);
        block_put(p, c->b);
        c->b = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    TAILQ_REMOVE(&p->conns, c, link);
    p->nconns--;
    if (p->nfree_conns < FREE_CONNS_MAX) {
        TAILQ_INSERT_HEAD(&p->free_conns, c, link);
        p->nfree_conns++;
    } else {
        free(c);
    }
    p->env.closed(p->env.owner);
}

/*
 * No memory for a conn_t: answer the fixed 503, then close as gently as a
 * connection with no state can: shut our side and drop what the client sent
 * so far (a close() over unread bytes would reset, and the reset could
 * destroy the 503).
 */
static void refuse(conn_pool_t *p, int fd)
{
    char buf[4096];
    int i;

    send_busy(p, fd);
    shutdown(fd, SHUT_WR);
    for (i = 0; i < 16 && read(fd, buf, sizeof(buf)) > 0; i++) {
    }
    close(fd);
}

int conn_reserve(conn_pool_t *p)
{
    conn_t *c;
    conn_block_t *b;

    if (p->nfree_conns == 0) {
        c = malloc(sizeof(*c));
        if (c == NULL) {
            p->env.out_of_memory(p->env.owner, sizeof(*c), 0);
            return -1;
        }
        TAILQ_INSERT_HEAD(&p->free_conns, c, link);
        p->nfree_conns++;
    }
    if (p->free_blocks == NULL) {
        b = block_new(p);
        if (b == NULL) {
            p->env.out_of_memory(p->env.owner, p->block_size, 0);
            return -1;
        }
        block_put(p, b);
    }
    return 0;
}

void conn_accept(conn_pool_t *p, int fd, const struct sockaddr_storage *peer, int proxy)
{
    conn_t *c;
    conn_addr_t from;

    if (proxy) {
        memcpy(&from, peer, sizeof(from));
        if (!client_addr_in(&from, p->proxy_from, p->nproxy_from)) {
            client_proxy_refused(p, &from, "not in [server] proxy_from", NULL, 0, 1);
            close(fd);
            return;
        }
    }
    c = TAILQ_FIRST(&p->free_conns);
    if (c != NULL) {
        TAILQ_REMOVE(&p->free_conns, c, link);
        p->nfree_conns--;
    } else {
        c = malloc(sizeof(*c));
        if (c == NULL) {
            refuse(p, fd);
            p->env.out_of_memory(p->env.owner, sizeof(*c), 1);
            return;
        }
    }
    memset(c, 0, sizeof(*c));
    c->pool = p;
    c->fd = fd;
    c->state = CONN_IDLE;
    /* an AF_UNIX peer (a socket-activated unix listener) has no address: its family alone */
    if (peer->ss_family == AF_INET6) {
        c->peer.in6 = *(const struct sockaddr_in6 *)peer;
        c->peer_len = sizeof(c->peer.in6);
    } else if (peer->ss_family == AF_INET) {
        c->peer.in = *(const struct sockaddr_in *)peer;
        c->peer_len = sizeof(c->peer.in);
    } else {
        c->peer.sa.sa_family = peer->ss_family;
        c->peer_len = sizeof(sa_family_t);
    }
    c->direct = c->peer;
    c->proxy_wait = (uint8_t)proxy;
    TAILQ_INSERT_HEAD(&p->conns, c, link);
    p->nconns++;

    /* the first request usually came with the connection (TCP_DEFER_ACCEPT) */
    on_event(fd, EV_READ, c);
}

/* A monotonic clock in µs (the access log's request time). */
static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A request's first byte is in: its head (and a PROXY header before it) is due within
 * header_timeout. */
static void head_begins(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;

    c->state = CONN_HEAD;
    c->b->deadline = timecache_now_ms() + cfg->header_timeout;
    if (cfg->log_format == CONFIG_LOG_JSON) {
        c->b->start_us = now_us(); /* for request_us: the JSON log alone reads it */
    }
}

/* Input bytes: read what the socket has into in[] and run the state machine. */
static void do_read(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    ssize_t n;

    if (b == NULL) {
        b = c->b = block_get(p);
        if (b == NULL) {
            /*
             * A new client gets the fixed 503 (it may retry); a keep-alive one
             * just the close, after which clients retry an idempotent request
             * by themselves. Either way a lingering close, never a reset.
             */
            if (c->requests == 0) {
                send_busy(p, c->fd);
            }
            idle_remove(c);
            conn_start_linger(c);
            p->env.out_of_memory(p->env.owner, p->block_size, 1);
            return;
        }
        request_init(c);
    }
    if (b->in_len == b->in_cap) {
        /* full: the parser has already answered 414/431 for a head this big */
        return;
    }
    n = read(c->fd, b->in + b->in_len, b->in_cap - b->in_len);
    if (n > 0) {
        if (c->state == CONN_IDLE) {
            idle_remove(c);
            head_begins(c);
        }
        b->in_len += (size_t)n;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (c->state == CONN_IDLE) {
            /* nothing came after all: idle connections hold no buffers */
            block_put(p, b);
            c->b = NULL;
        }
        return;
    }
    /* EOF or error: between requests this is the normal end */
    if (n < 0 && errno != ECONNRESET) {
        conn_fault(p, "read() failed: %s", strerror(errno));
    }
    if (b->pending) {
        handler_pending_end(c, FORKD_ABORT_CLIENT); /* its body was still coming (body = stream) */
    }
    c->state = CONN_CLOSE;
}

/* Draining after an error response, so the client reads it before our close. */
static void do_linger(conn_t *c)
{
    char buf[4096];
    ssize_t n;

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0);
    if (n == 0 || (errno != EAGAIN && errno != EINTR) || timecache_now_ms() >= c->linger_deadline) {
        c->state = CONN_CLOSE;
    }
}

/*
 * The socket changed while a handler holds the request (CLIENT_GONE_EVENTS):
 * did the client go away? An error (a reset) or the end of input with
 * nothing left to read is a client gone: the request is aborted and the
 * connection closed. Bytes still to read (a pipelined request, in the
 * socket or in in[]) are a client that waits for its answers, even if it
 * shut down its sending side after them.
 */
void conn_check_client(conn_t *c)
{
    conn_block_t *b = c->b;
    int err = 0;
    socklen_t len = sizeof(err);
    char byte;
    ssize_t n;

    if (!b->pending) {
        return;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 || (n == 0 && b->in_len > b->in_off)) {
            return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return; /* nothing to tell yet */
        }
    }
    log_msg(c->pool->env.log, LOG_LVL_DEBUG, "request %llu aborted: client gone",
            (unsigned long long)b->req.id);
    handler_pending_end(c, FORKD_ABORT_CLIENT);
    /* in the access log as nginx's 499 (client closed request): with what a stream sent */
    b->resp.status = 499;
    conn_access_log(c, b->stream_sent);
    c->state = CONN_CLOSE;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)fd;

    if (what & EV_TIMEOUT) {
        switch (c->state) {
        case CONN_HEAD:
            if (c->proxy_wait) {
                /* a balancer's header is never slow: no 408 to something that spoke no HTTP */
                client_proxy_refused(c->pool, &c->direct, "timed out", c->b->in, c->b->in_len, 0);
                conn_start_linger(c);
                break;
            }
            /* fall through */
        case CONN_BODY:
            /* 408 to a client that started a request and stalled (slowloris) */
            conn_fault(c->pool, "client timed out reading the request %s",
                       c->state == CONN_HEAD ? "head" : "body");
            conn_start_error(c, 408);
            break;
        case CONN_SEND:
            conn_fault(c->pool, "client timed out reading the response");
            conn_abort(c);
            break;
        case CONN_STREAM:
            /* send_timeout, or min_rate over the time data waited for it (state_stream()) */
            conn_fault(c->pool, "client reads the stream slower than min_rate or timed out");
            stream_cut(c, 1);
            break;
        case CONN_HANDLER: break; /* handler_timeout: state_handler() looks at the clock */
        default:
            c->state = CONN_CLOSE; /* idle keep-alive, or done lingering */
            break;
        }
        conn_run(c);
        return;
    }
    switch (c->state) {
    case CONN_IDLE:
    case CONN_HEAD:
    case CONN_BODY: do_read(c); break;
    case CONN_LINGER: do_linger(c); break;
    case CONN_HANDLER:
        conn_check_client(c);
        if (c->state == CONN_HANDLER && c->ev_what == EV_READ) {
            conn_wait_for(c, CLIENT_GONE_EVENTS,
                          WAIT_FOREVER); /* state_handler() sets the timeout */
        }
        break;
    case CONN_STREAM: stream_event(c, what); break;
    default: break;
    }
    conn_run(c);
}

/* Start lingering: shut our side, drain input up to lingering_timeout. */
void conn_start_linger(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;

    if (c->b != NULL) {
        request_cleanup(c);
        block_put(c->pool, c->b);
        c->b = NULL;
    }
    if (cfg->lingering_timeout == 0 || shutdown(c->fd, SHUT_WR) != 0) {
        c->state = CONN_CLOSE;
        return;
    }
    c->state = CONN_LINGER;
    c->linger_deadline = timecache_now_ms() + cfg->lingering_timeout;
}

/* The first value of header name in the request, *len bytes; NULL when absent. */
const char *conn_header_value(const http_request_t *h, const char *name, size_t *len)
{
    const http_header_t *hd = h->nheaders ? http_find_header(h, name) : NULL;

    *len = hd ? hd->value.len : 0;
    return hd ? hd->value.p : NULL;
}

/* The access log line for the request just answered (the log is on). */
static void write_access_log(conn_t *c, uint64_t body_bytes)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    const http_request_t *h = &b->req.h;
    accesslog_entry_t e = {0};

    if (b->head_len != 0) {
        /* method SP target SP version: the parsed request line */
        e.request_line = h->method_name.p;
        e.request_line_len = (size_t)(h->target.p + h->target.len - h->method_name.p) + 9;
    } else {
        /* a head that did not parse: its first line, as far as it came */
        e.request_line = b->in;
        e.request_line_len = 0;
        while (e.request_line_len < b->in_len && b->in[e.request_line_len] != '\r'
               && b->in[e.request_line_len] != '\n') {
            e.request_line_len++;
        }
    }
    e.peer = b->req.peer;
    e.time = p->time.clf;
    e.status = b->resp.status;
    e.body_bytes = body_bytes;
    e.referer = conn_header_value(h, "referer", &e.referer_len);
    e.user_agent = conn_header_value(h, "user-agent", &e.user_agent_len);
    if (p->env.cfg->log_format == CONFIG_LOG_JSON) {
        e.direct = &c->direct.sa;
        e.iso_time = p->time.iso;
        e.request_id = client_request_id(c);
        e.request_us = now_us() - b->start_us;
        e.upstream_us = b->resp.upstream_us;
        e.forwarded_for = conn_header_value(h, "x-forwarded-for", &e.forwarded_for_len);
        if (b->head_len != 0) {
            e.method = h->method_name.p;
            e.method_len = h->method_name.len;
            e.target = h->target.p;
            e.target_len = h->target.len;
        }
        accesslog_write_json(p->env.alog, p->env.log, &e);
        return;
    }
    accesslog_write(p->env.alog, p->env.log, &e);
}

/* The access log line for the request just answered, if the log is on. */
void conn_access_log(conn_t *c, uint64_t body_bytes)
{
    const route_t *rt = c->b->route;

    if (accesslog_on(c->pool->env.alog) && (rt == NULL || !(rt->flags & ROUTE_NO_LOG))) {
        write_access_log(c, body_bytes);
    }
}

/* Did the client end the connection with this request (close, or HTTP/1.0 alone)? */
static int client_closes(const http_request_t *h)
{
    return (h->flags & HTTP_REQ_CONN_CLOSE)
           || (h->version_minor == 0 && !(h->flags & HTTP_REQ_CONN_KEEPALIVE));
}

/* Does this response keep the connection open for another request? */
int conn_keep_alive(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;
    conn_block_t *b = c->b;

    if (b->resp.close || c->pool->stopping || c->pool->closing || b->head_len == 0
        || cfg->keepalive_timeout == 0 || c->requests + 1 >= cfg->keepalive_requests
        || client_closes(&b->req.h)) {
        return 0;
    }
    /* a streamed body still coming (body = stream) is read to its end before the response */
    return !body_unread(b) || b->body_reading;
}

/*
 * Closing after this response: may the client have sent, or be sending,
 * bytes we have not read? A close() then resets the connection, and the
 * reset destroys the answers the client has not read yet (all of them when
 * it pipelines). So linger (RFC 9112 9.6): when bytes wait in in[] or in the
 * socket (pipelined requests, an unread body), and whenever the close is our
 * decision (keepalive_requests, a graceful stop, keep-alive off) rather than
 * the client's, since it may be sending its next request right now.
 */
static int close_needs_linger(conn_t *c)
{
    conn_block_t *b = c->b;
    int pending = 0;

    if (b->resp.close || b->head_len == 0 || b->in_len > b->in_off || body_unread(b)
        || !client_closes(&b->req.h)) {
        return 1;
    }
    return ioctl(c->fd, FIONREAD, &pending) != 0 || pending > 0;
}

/*
 * Refuse a client for lack of memory: a fixed 503 built on the stack (no
 * allocation), so it may retry where a reset would tell it nothing. The
 * socket holds nothing of ours yet: a write this short does not block.
 */
static void send_busy(conn_pool_t *p, int fd)
{
    char msg[RESP_BUSY_MAX];
    ssize_t n;

    timecache_update(&p->time);
    n = send(fd, msg, resp_busy(p->time.date, msg), MSG_NOSIGNAL);
    (void)n; /* nothing more to do for a client that is gone */
}

/*
 * Where the response's head is written: out[], or, for a head whose header
 * lines spilled past the response's own area (a long redirect, an app's
 * many cookies), a buffer of its own. Out of memory for that, the extra
 * lines go and the response becomes a 503: better than a head cut short.
 */
char *conn_head_buffer(conn_block_t *b)
{
    size_t need = resp_head_size(&b->resp);

    if (need > sizeof(b->out)) {
        b->out_big = malloc(need);
        if (b->out_big == NULL) {
            resp_cleanup(&b->resp);
            b->resp.xhdr_len = 0;
            forkd_resp_error(&b->resp, 503);
        }
    }
    b->outp = b->out_big != NULL ? b->out_big : b->out;
    return b->outp;
}

/* Make the response ready to send: body source, HEAD handling, head bytes. */
void conn_start_response(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;

    timecache_update(&p->time);
    forkd_resp_header(&b->resp, "X-Request-Id", client_request_id(c));
    /* a 101 that opens a tunnel: no close after it (nor MSG_MORE holding its last bytes) */
    c->keepalive = (uint8_t)(conn_keep_alive(c) || b->resp.tunnel_fd >= 0);
    b->out_len = resp_start(&b->resp, b->req.h.method == HTTP_METHOD_HEAD, p->time.date,
                            c->keepalive, conn_head_buffer(b));
    b->phase_start = timecache_now_ms();
    c->state = CONN_SEND;
}

/* Send a 4xx/5xx page and close after it; the request may be unparsed. */
void conn_start_error(conn_t *c, int status)
{
    conn_block_t *b = c->b;

    if (b == NULL) {
        c->state = CONN_CLOSE;
        return;
    }
    if (b->pending) {
        handler_pending_end(c, FORKD_ABORT_CLIENT); /* its streamed body broke a rule */
    }
    b->body_reading = 0;
    request_cleanup(c); /* whatever the request held: it checks each piece itself */
    resp_reset(&b->resp, c->pool->srv, c);
    forkd_resp_error(&b->resp, status);
    b->resp.close = 1;
    conn_start_response(c);
}

/*
 * Write as much of the head, the body's memory and then its file range as
 * the socket takes. 1 done, 0 again later, -1 error.
 */
static int send_piece(conn_t *c)
{
    conn_block_t *b = c->b;
    resp_t *resp = &b->resp;
    struct iovec iov[2];
    int iovcnt = 0;
    ssize_t n;
    size_t mem_len = resp->no_body ? 0 : resp->mem_len;
    int with_file = !resp->no_body && resp->fd >= 0 && resp->file_len > 0;

    while (b->out_sent < b->out_len || b->mem_sent < mem_len) {
        iovcnt = 0;
        if (b->out_sent < b->out_len) {
            iov[iovcnt].iov_base = b->outp + b->out_sent;
            iov[iovcnt++].iov_len = b->out_len - b->out_sent;
        }
        if (b->mem_sent < mem_len) {
            iov[iovcnt].iov_base = (char *)resp->mem + b->mem_sent;
            iov[iovcnt++].iov_len = mem_len - b->mem_sent;
        }
        if (with_file || !c->keepalive) {
            /*
             * MSG_MORE holds a short tail back: the head goes out in one segment
             * with the file's start, and a last response leaves in one segment
             * with the FIN that close() or shutdown() adds right after (what
             * nginx gets from tcp_nopush): one packet and one ACK fewer.
             */
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
            n = sendmsg(c->fd, &msg, MSG_MORE | MSG_NOSIGNAL);
        } else {
            n = writev(c->fd, iov, iovcnt);
        }
        if (n < 0) {
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        }
        if ((size_t)n <= b->out_len - b->out_sent) {
            b->out_sent += (size_t)n;
        } else {
            n -= (ssize_t)(b->out_len - b->out_sent);
            b->out_sent = b->out_len;
            b->mem_sent += (size_t)n;
        }
    }
    while (with_file && resp->file_len > 0) {
        size_t chunk = resp->file_len > (1u << 30) ? (1u << 30) : (size_t)resp->file_len;
        n = sendfile(c->fd, resp->fd, &resp->file_off, chunk);
        if (n < 0) {
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        }
        if (n == 0) {
            /* the file shrank under us: the promised length cannot be kept */
            log_msg(c->pool->env.log, LOG_LVL_ERROR,
                    "sendfile() hit end of file early (file truncated?)");
            return -1;
        }
        resp->file_len -= (uint64_t)n;
        b->file_sent += (uint64_t)n;
    }
    return 1;
}

/*
 * Write as much of the response as the socket takes: a body of parts
 * (forkd_resp_body_parts()) one piece after the other. 1 done, 0 again
 * later, -1 error.
 */
static int send_some(conn_t *c)
{
    int rc;

    while ((rc = send_piece(c)) == 1 && resp_next_part(&c->b->resp)) {
    }
    return rc;
}

/* Count the answered request in this worker's scoreboard slot. */
static void scoreboard_done(conn_t *c, uint64_t body_bytes)
{
    sb_slot_t *slot = c->pool->env.slot;
    int cls = c->b->resp.status / 100 - 1;

    SB_ADD(slot->requests, 1);
    SB_ADD(slot->bytes, body_bytes);
    if (cls >= 0 && cls < 5) {
        SB_ADD(slot->status[cls], 1);
    }
    conn_scoreboard_rest(c->pool);
}

/* Publish a request line as the one being served, for /status and the master's watchdog log. */
static void scoreboard_show(sb_slot_t *slot, const http_request_t *h)
{
    size_t n = (size_t)(h->target.p + h->target.len - h->method_name.p);

    if (n > SB_CURRENT_LEN - 1) {
        n = SB_CURRENT_LEN - 1;
    }
    memcpy(slot->current, h->method_name.p, n);
    slot->current[n] = '\0';
    SB_SET(slot->state, SB_BUSY);
}

static void scoreboard_busy(conn_t *c)
{
    scoreboard_show(c->pool->env.slot, &c->b->req.h);
}

/*
 * Between requests: the worker is busy as long as a handler holds a request
 * (the slot shows the newest of them), else idle (or draining).
 */
void conn_scoreboard_rest(conn_pool_t *p)
{
    if (!TAILQ_EMPTY(&p->pending) && !p->stopping) {
        scoreboard_show(p->env.slot, &TAILQ_LAST(&p->pending, block_list)->req.h);
        return;
    }
    SB_SET(p->env.slot->state, p->stopping ? SB_DRAINING : SB_IDLE);
}

/* The response is out: log it, then close, linger, or go on to the next request. */
static void finish_response(conn_t *c, uint64_t body_bytes)
{
    conn_block_t *b = c->b;
    size_t rest;

    conn_access_log(c, body_bytes);
    scoreboard_done(c, body_bytes);
    c->requests++;
    if (b->resp.tunnel_fd >= 0) {
        conn_hand_over(c);
        return;
    }
    if (!c->keepalive) {
        if (close_needs_linger(c)) {
            conn_start_linger(c);
        } else {
            c->state = CONN_CLOSE;
        }
        return;
    }
    request_cleanup(c);
    if (c->requests == 1 && c->peer.sa.sa_family != AF_UNIX) {
        /*
         * Kept alive: from now on a small response must not wait for the ACK
         * of the previous one (Nagle). A connection that closes after one
         * response never needs this syscall (nginx does the same).
         */
        int on = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    rest = b->in_len - b->in_off;
    if (rest == 0) {
        block_put(c->pool, b);
        c->b = NULL;
        c->state = CONN_IDLE;
        idle_add(c);
        return;
    }
    /* pipelined: the next request is already here */
    memmove(b->in, b->in + b->in_off, rest);
    b->in_len = rest;
    b->in_off = 0;
    request_init(c);
    head_begins(c);
}

/* The head is parsed: route it, decide errors, and set up reading the body. */
static void begin_request(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    http_request_t *h = &b->req.h;
    const route_t *rt = NULL;
    int len, status = 0, has_body;

    client_find(c);
    client_request_id(c); /* before the handler: forkd_req_request_id() */

    if (h->method == HTTP_METHOD_OTHER || h->method == HTTP_METHOD_CONNECT) {
        status = 501;
    } else if (h->target_form == HTTP_TARGET_ASTERISK) {
        status = 0; /* OPTIONS *: answered in handler_dispatch() */
    } else {
        /* the decoded path is never longer than the target, itself within the head */
        len = uri_normalize_path(h->path.p, h->path.len, b->path, p->env.cfg->max_header_size + 1);
        if (len < 0) {
            status = 400;
        } else {
            b->req.path = b->path;
            b->req.path_len = (size_t)len;
            rt = router_match(p->env.router, b->path, (size_t)len);
            if (rt == NULL) {
                status = 404;
            } else if (!(rt->methods & HTTP_METHOD_BIT(h->method))
                       && h->method != HTTP_METHOD_OPTIONS) {
                status = 405;
            }
        }
    }
    b->route = rt;
    has_body = h->body_kind == HTTP_BODY_CHUNKED
               || (h->body_kind == HTTP_BODY_LENGTH && h->content_length > 0);
    if (h->body_kind == HTTP_BODY_LENGTH && h->content_length > p->env.cfg->max_body_size) {
        status = 413;
    }
    b->pending_status = status;
    if (status == 0 && rt != NULL && (rt->flags & ROUTE_BODY_STREAM)) {
        body_begin_streamed(c); /* with no body too: the handler gets its one last piece */
        return;
    }
    if (!has_body) {
        handler_dispatch(c);
        return;
    }
    if (status == 413 || (status != 0 && (h->flags & HTTP_REQ_EXPECT_CONTINUE))) {
        /* the client waits for our word before sending: answer now and close */
        b->resp.close = 1;
        b->body_left = h->body_kind == HTTP_BODY_LENGTH ? h->content_length : 1;
        handler_dispatch(c);
        return;
    }
    b->body_left = h->body_kind == HTTP_BODY_LENGTH ? h->content_length : 0;
    b->phase_start = timecache_now_ms();
    b->body_bytes = 0;
    b->keep_body = status == 0 && rt != NULL && (rt->flags & ROUTE_TAKES_BODY);
    if ((h->flags & HTTP_REQ_EXPECT_CONTINUE) && b->in_off == b->in_len) {
        body_send_continue(c);
    }
    c->state = CONN_BODY;
}

/*
 * What the request waits for next: the rest of a streamed body (read
 * first: the response goes out after it), then its stream, its response,
 * or its handler.
 */
void conn_request_next(conn_t *c)
{
    conn_block_t *b = c->b;

    if (b->body_reading) {
        c->state = CONN_BODY;
    } else if (b->streaming) {
        c->state = CONN_STREAM;
    } else if (b->finished) {
        conn_start_response(c);
    } else {
        c->state = CONN_HANDLER;
    }
}

/*
 * One function per state: conn_run() calls the one of the connection's state
 * until it has to wait. Each returns 1 to go on (the state changed), or 0
 * when the connection waits: for the socket or a timeout (an event is set),
 * for its handler, or for nothing more (it is freed).
 */

/* Between requests: hold no buffers, and wait for the next request (or close when stopping). */
static int state_idle(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;
    conn_block_t *b = c->b;

    if (b != NULL && b->in_len == 0) {
        block_put(c->pool, b);
        c->b = NULL;
    }
    if (c->pool->stopping) {
        c->state = CONN_CLOSE;
        return 1;
    }
    conn_wait_for(c, EV_READ, c->requests ? cfg->keepalive_timeout : cfg->header_timeout);
    return 0;
}

/* Parse the head read so far: wait for more within header_timeout, answer an error, or route it. */
static int state_head(conn_t *c)
{
    const config_t *cfg = c->pool->env.cfg;
    conn_block_t *b = c->b;
    http_limits_t lim;
    uint64_t now;
    ssize_t n;

    if (c->proxy_wait && (n = client_take_proxy_header(c)) <= 0) {
        return n < 0;
    }
    /*
     * The parser starts over on each call: a client dripping a byte at a
     * time would cost O(n^2). A head can only end (or break a rule that
     * ends it) with a new '\n', by reaching the size limit, or by a byte
     * no head may hold (checked from the byte before: it may be a CR).
     */
    if (b->in_len < cfg->max_header_size && b->parsed_len > 0
        && memchr(b->in + b->parsed_len, '\n', b->in_len - b->parsed_len) == NULL
        && http_head_bytes_plausible(b->in + b->parsed_len - 1, b->in_len - b->parsed_len + 1)) {
        n = HTTP_PARSE_NEED_MORE;
    } else {
        lim.max_head = cfg->max_header_size;
        lim.max_headers = cfg->max_headers;
        n = http_parse_request(b->in, b->in_len, &lim, &b->req.h);
    }
    b->parsed_len = b->in_len;
    if (n == HTTP_PARSE_NEED_MORE) {
        now = timecache_now_ms();
        if (now >= b->deadline) {
            conn_start_error(c, 408);
            return 1;
        }
        conn_wait_for(c, EV_READ, b->deadline - now);
        return 0;
    }
    if (n == HTTP_PARSE_BAD) {
        conn_fault(c->pool, "bad request: %s (%d)", b->req.h.reason, b->req.h.status);
        conn_start_error(c, b->req.h.status);
        return 1;
    }
    b->head_len = b->in_off = (size_t)n;
    scoreboard_busy(c);
    begin_request(c);
    return 1;
}

/* Take the body bytes read so far: wait for more (min_rate, body_timeout), or dispatch. */
static int state_body(conn_t *c)
{
    conn_block_t *b = c->b;
    uint64_t ms;
    int rc;

    if (b->body_paused) {
        return body_hold(c); /* bytes in in[] wait too: delivered on resume */
    }
    rc = body_take(c);
    if (rc == 0 && b->body_paused) {
        return body_hold(c); /* paused from the piece's callback */
    }
    if (rc == 0) {
        ms = rate_wait(c, b->body_bytes, c->pool->env.cfg->body_timeout);
        if (ms == 0) {
            conn_fault(c->pool, "request body slower than min_rate");
            conn_start_error(c, 408);
            return 1;
        }
        conn_wait_for(c, EV_READ, ms);
        return 0;
    }
    if (rc == 1 && !b->body_streamed) {
        handler_dispatch(c);
    } else if (rc == 1) {
        b->pending_since = timecache_now_ms(); /* handler_timeout from the body's end */
        conn_request_next(c);
    }
    return 1;
}

/* Write what the socket takes: wait for room (min_rate, send_timeout), or finish the response. */
static int state_send(conn_t *c)
{
    conn_block_t *b = c->b;
    uint64_t sent, ms;
    int queued = 0, rc = send_some(c);

    if (rc == 0) {
        /* what the client has taken: bytes still queued in the kernel do not count */
        sent = b->out_sent + b->mem_sent + b->file_sent;
        if (ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued > 0) {
            sent = sent > (uint64_t)queued ? sent - (uint64_t)queued : 0;
        }
        ms = rate_wait(c, sent, c->pool->env.cfg->send_timeout);
        if (ms == 0) {
            conn_fault(c->pool, "client reads slower than min_rate");
            conn_abort(c);
            return 1;
        }
        conn_wait_for(c, EV_WRITE, ms);
        return 0;
    }
    if (rc < 0) {
        if (errno != EPIPE && errno != ECONNRESET) {
            conn_fault(c->pool, "writev() failed: %s", strerror(errno));
        }
        c->state = CONN_CLOSE;
        return 1;
    }
    finish_response(c, b->mem_sent + b->file_sent);
    return 1;
}

/*
 * An async handler holds the request: watch for the client's close (see
 * conn_check_client()) within handler_timeout, or answer 504 at its end.
 */
static int state_handler(conn_t *c)
{
    conn_block_t *b = c->b;
    uint32_t limit = c->pool->env.cfg->handler_timeout;
    uint64_t ms = WAIT_FOREVER, now;

    if (!b->pending) {
        conn_stop_waiting(c); /* forkd_resp_finish() runs it again */
        return 0;
    }
    if (limit != 0) {
        now = timecache_now_ms();
        if (now >= b->pending_since + limit) {
            handler_timed_out(c);
            return 1;
        }
        ms = b->pending_since + limit - now;
    }
    conn_wait_for(c, c->ev_what == CLIENT_GONE_EVENTS ? CLIENT_GONE_EVENTS : EV_READ, ms);
    return 0;
}

/*
 * A streamed response: write what waits; when all is out, end the request
 * if its handler finished it, else wait for the handler (and watch for
 * the client's close, as state_handler() does, without handler_timeout).
 * When the socket is full, wait for it within send_timeout and min_rate
 * (stream_wait()). The room callback, when due, runs from the loop
 * (stream_event()): one call per turn of the loop, however often it asks.
 */
static int state_stream(conn_t *c)
{
    conn_block_t *b = c->b;
    int rc = stream_flush(c);
    uint64_t ms;

    if (rc < 0) {
        if (errno != EPIPE && errno != ECONNRESET) {
            conn_fault(c->pool, "writev() failed: %s", strerror(errno));
        }
        stream_cut(c, 0);
        return 1;
    }
    if (rc == 1) {
        b->congested = 0;
        if (b->finished) {
            finish_response(c, b->stream_sent);
            return 1;
        }
        conn_wait_for(c, CLIENT_GONE_EVENTS, WAIT_FOREVER);
    } else {
        ms = stream_wait(c);
        if (ms == 0) {
            conn_fault(c->pool, "client reads the stream slower than min_rate");
            stream_cut(c, 1);
            return 1;
        }
        b->congested = 1;
        b->wait_since = timecache_now_ms();
        conn_wait_for(c, EV_WRITE, ms);
    }
    if (stream_writable_due(b)) {
        event_active(&c->ev, EV_WRITE, 1);
    }
    return 0;
}

/* Lingering close: wait for the client's input (do_linger() drains it) until the deadline. */
static int state_linger(conn_t *c)
{
    uint64_t now = timecache_now_ms();

    if (now >= c->linger_deadline) {
        c->state = CONN_CLOSE;
        return 1;
    }
    conn_wait_for(c, EV_READ, c->linger_deadline - now);
    return 0;
}

/* Drive the state machine until it has to wait for the socket, a timer or a handler. */
void conn_run(conn_t *c)
{
    int more;

    do {
        switch (c->state) {
        case CONN_IDLE: more = state_idle(c); break;
        case CONN_HEAD: more = state_head(c); break;
        case CONN_BODY: more = state_body(c); break;
        case CONN_HANDLER: more = state_handler(c); break;
        case CONN_SEND: more = state_send(c); break;
        case CONN_STREAM: more = state_stream(c); break;
        case CONN_LINGER: more = state_linger(c); break;
        case CONN_CLOSE:
        default:
            conn_free(c);
            more = 0;
            break;
        }
    } while (more);
}

/* Nothing queued in the socket: no input unread (1), or no output unacknowledged (0). */
static int socket_quiet(int fd, int input)
{
    int n = 0;

    return ioctl(fd, input ? FIONREAD : SIOCOUTQ, &n) == 0 && n == 0;
}

void conn_close_idle(conn_pool_t *p)
{
    conn_t *c, *next;

    for (c = TAILQ_FIRST(&p->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        /*
         * Bytes waiting: a request is arriving, let the read event answer it.
         * A lingering connection whose answers the client has all acknowledged
         * has nothing left to lose: the stop need not wait for its client.
         */
        if (((c->state == CONN_IDLE && c->b == NULL)
             || (c->state == CONN_LINGER && socket_quiet(c->fd, 0)))
            && socket_quiet(c->fd, 1)) {
            conn_free(c);
        }
    }
}

int conn_close_oldest_idle(conn_pool_t *p)
{
    if (TAILQ_EMPTY(&p->idle)) {
        return -1;
    }
    conn_free(TAILQ_FIRST(&p->idle));
    return 0;
}

void conn_close_all(conn_pool_t *p)
{
    conn_block_t *b;
    conn_t *c;

    while (!TAILQ_EMPTY(&p->conns)) {
        conn_free(TAILQ_FIRST(&p->conns));
    }
    while ((c = TAILQ_FIRST(&p->free_conns)) != NULL) {
        TAILQ_REMOVE(&p->free_conns, c, link);
        free(c);
    }
    while ((b = p->free_blocks) != NULL) {
        p->free_blocks = b->next_free;
        free(b);
    }
    p->nfree_conns = p->nfree_blocks = 0;
}
