/* proxy: the reverse proxy handler: forward a request to an upstream, stream its answer back. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http_parser.h"
#include "http_resp.h"

#define PX_BUF 32768      /* the response head, then body bytes the client has not taken */
#define PX_MAX_HEAD 16384 /* an app's response head longer than this: 502 */
#define PX_MAX_HEADERS 64
#define PX_CHUNK_LINE 4096 /* a chunk size line or trailer section longer than this: 502 */
#define PX_UP_MAX 65536    /* body = stream: body held before the connect is up, at most */

typedef enum {
    PX_CONNECTING, /* waiting for the connect to finish */
    PX_SENDING,    /* writing the request */
    PX_HEAD,       /* reading the response head */
    PX_BODY        /* streaming the response body */
} px_state_t;

/* One proxied request, from the handler's call to its response's end (or abort). */
typedef struct {
    proxy_route_t *route;
    upstream_t *u;
    forkd_server_t *srv;
    forkd_ref_t ref;
    int idempotent; /* may be sent again (RFC 9110 9.2.2) */
    uint64_t t0_us; /* when the handler was called: the access log's upstream_us counts from it */
    int head_request;
    int upgrade; /* the client asked to switch protocols (WebSocket): Upgrade passed on */

    upstream_conn_t *uc; /* to the app server; NULL none */
    int server;          /* its index in u->servers */
    uint32_t tried;      /* servers whose connect failed for this request */
    int reused;          /* fd came from the pool */
    int replayed;        /* sent once more already */
    int active;          /* counted in the server's active */
    px_state_t state;

    char *out; /* the request to send: head and body (body = stream: the head) */
    size_t out_len, out_off;

    /*
     * body = stream: the body goes on as the client sends it, in up (framed
     * as chunks when chunked_up) until the app's socket takes it. While the
     * socket is full (or the connect not up and PX_UP_MAX held), the client
     * is not read (forkd_req_body_pause()): memory stays bounded. Never on a
     * pooled connection and never replayed: a body already passed on cannot
     * be sent again, so a fresh connection rules out the keep-alive race.
     */
    int body_stream;
    int chunked_up;
    int body_in;      /* the client's last piece came */
    int paused;       /* the client's body is paused */
    int held;         /* an answer the app sent early waits in buf: not read on (early_read()) */
    int body_cut;     /* the app answered before the whole body was sent: never pooled */
    forkd_req_t *req; /* for the pause: valid while px lives (the abort frees px) */
    struct evbuffer *up;

    size_t len;             /* of buf */
    struct evbuffer *ahead; /* body read from the app that the client has not taken yet */
    http_response_t resp;
    http_chunked_t chunked;
    uint64_t left; /* HTTP_RESP_BODY_LENGTH: body bytes still to read */
    int body_done; /* the whole body has been read */
    int streaming; /* forkd_resp_stream() started */

    /* not zeroed when px is made (px_new()): filled before they are read */
    http_header_t hdrs[PX_MAX_HEADERS];
    char buf[PX_BUF]; /* response bytes read (head), then decoded body waiting for the client */
} px_t;

static void on_upstream(upstream_conn_t *uc, short what, void *arg);
static void start(px_t *px);
static void answer(px_t *px);

/* ---- request ---- */

/* 1 when name is a hop-by-hop field by itself (RFC 9110 7.6.1), whatever Connection says. */
static int hop_field(const char *name, size_t len)
{
    static const char *const hop[] = {
        "connection",       "keep-alive",         "te",
        "trailer",          "transfer-encoding",  "upgrade",
        "proxy-connection", "proxy-authenticate", "proxy-authorization"};
    size_t i;

    for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++) {
        if (strlen(hop[i]) == len && strncasecmp(name, hop[i], len) == 0) {
            return 1;
        }
    }
    return len >= 6 && strncasecmp(name, "proxy-", 6) == 0;
}

/* 1 when the Connection value connection lists name: hop-by-hop for this message. */
static int connection_lists(http_slice_t connection, const char *name, size_t len)
{
    char low[64];

    if (connection.len == 0 || len >= sizeof(low)) {
        return 0;
    }
    memcpy(low, name, len);
    low[len] = '\0';
    return http_list_has(connection, low);
}

/* 1 when name is one of the fields the proxy sets itself. */
static int own_field(const char *name, size_t len)
{
    /* Expect: forkd answered 100-continue itself and has the body already */
    static const char *const own[] = {"content-length",   "x-forwarded-for", "x-forwarded-proto",
                                      "x-forwarded-host", "x-request-id",    "expect"};
    size_t i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (strlen(own[i]) == len && strncasecmp(name, own[i], len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The client's address as text ("unix" for a client of a unix socket). */
static void peer_text(const forkd_req_t *req, char *out, size_t size)
{
    const struct sockaddr *sa = forkd_req_peer(req, NULL);

    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
    } else {
        snprintf(out, size, "unix");
    }
}

/* A growing text buffer for the request head. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} text_t;

static void put(text_t *t, const char *s, size_t n)
{
    char *np;
    size_t cap;

    if (t->failed) {
        return;
    }
    if (t->len + n > t->cap) {
        cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n) {
            cap *= 2;
        }
        if ((np = realloc(t->p, cap)) == NULL) {
            t->failed = 1;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void puts_(text_t *t, const char *s)
{
    put(t, s, strlen(s));
}

/*
 * body = stream: the framing the app gets, the client's own: its
 * Content-Length, or chunks (the server has removed the client's, the
 * pieces are framed again as they go). No body: Content-Length 0 for the
 * methods that carry one, as for a whole body. Returns 1 when a body
 * follows.
 */
static int stream_framing(px_t *px, const forkd_req_t *req, text_t *t)
{
    forkd_method_t m = forkd_req_method(req);
    const char *p;
    char num[40];
    size_t n;
    unsigned long long len = 0;

    if (forkd_req_header(req, "Transfer-Encoding", &n) != NULL) {
        px->chunked_up = 1; /* the server refuses any coding but chunked last */
        puts_(t, "Transfer-Encoding: chunked\r\n");
        return 1;
    }
    if ((p = forkd_req_header(req, "Content-Length", &n)) != NULL && n < sizeof(num)) {
        memcpy(num, p, n); /* digits only: the server's parser checked them */
        num[n] = '\0';
        len = strtoull(num, NULL, 10);
    }
    if (p != NULL || m == FORKD_POST || m == FORKD_PUT || m == FORKD_PATCH) {
        snprintf(num, sizeof(num), "Content-Length: %llu\r\n", len);
        puts_(t, num);
    }
    return len > 0;
}

/*
 * The request to send upstream: request line with the target as received,
 * the client's fields but hop-by-hop ones and those set here, Host kept
 * (the upstream's address when the client sent none), X-Forwarded-For
 * with the client appended, X-Forwarded-Proto, X-Request-Id (forkd's, as
 * the response carries it), X-Forwarded-Host, Content-Length, then the body. 0 ok, -1 out of
 * memory.
 */
static int build_request(px_t *px, const forkd_req_t *req)
{
    text_t t = {NULL, 0, 0, 0};
    const char *p, *name, *value, *xff = NULL, *host;
    size_t n, nlen, vlen, xff_len = 0, body_len = 0, i, count;
    http_slice_t connection = {NULL, 0};
    char addr[INET6_ADDRSTRLEN + 8], num[32];
    const char *body = forkd_req_body(req, &body_len);
    forkd_method_t m = forkd_req_method(req);
    int has_body = body_len > 0;

    p = forkd_req_method_name(req, &n);
    put(&t, p, n);
    put(&t, " ", 1);
    p = forkd_req_raw_path(req, &n);
    put(&t, p, n);
    if ((p = forkd_req_query(req, &n)) != NULL) {
        put(&t, "?", 1);
        put(&t, p, n);
    }
    puts_(&t, " HTTP/1.1\r\n");
    if ((p = forkd_req_header(req, "Connection", &n)) != NULL) {
        connection.p = p;
        connection.len = n;
    }
    count = forkd_req_header_count(req);
    for (i = 0; i < count; i++) {
        forkd_req_header_at(req, i, &name, &nlen, &value, &vlen);
        if (nlen == 15 && strncasecmp(name, "x-forwarded-for", 15) == 0 && xff == NULL) {
            xff = value;
            xff_len = vlen;
        }
        if (hop_field(name, nlen) || connection_lists(connection, name, nlen)
            || own_field(name, nlen)) {
            continue;
        }
        put(&t, name, nlen);
        put(&t, ": ", 2);
        put(&t, value, vlen);
        put(&t, "\r\n", 2);
    }
    host = forkd_req_header(req, "Host", &n);
    if (host == NULL) {
        puts_(&t, "Host: ");
        /* an HTTP/1.0 client: HTTP/1.1 needs one (a unix socket's app gets "localhost") */
        p = px->u->servers[0].label;
        puts_(&t, strncmp(p, "unix:", 5) == 0 ? "localhost" : p);
        puts_(&t, "\r\n");
    }
    peer_text(req, addr, sizeof(addr));
    puts_(&t, "X-Forwarded-For: ");
    if (xff != NULL && xff_len > 0) {
        put(&t, xff, xff_len);
        puts_(&t, ", ");
    }
    puts_(&t, addr);
    puts_(&t, "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ");
    /* the id the response and the access log carry: one id from the client to the app */
    puts_(&t, forkd_req_request_id(req));
    puts_(&t, "\r\n");
    if (host != NULL) {
        puts_(&t, "X-Forwarded-Host: ");
        put(&t, host, n);
        puts_(&t, "\r\n");
    }
    if (px->body_stream) {
        has_body = stream_framing(px, req, &t);
    } else if (body_len > 0 || m == FORKD_POST || m == FORKD_PUT || m == FORKD_PATCH) {
        snprintf(num, sizeof(num), "Content-Length: %zu\r\n", body_len);
        puts_(&t, num);
    }
    if ((p = forkd_req_header(req, "Upgrade", &n)) != NULL && http_list_has(connection, "upgrade")
        && !has_body) {
        /* hop-by-hop, so dropped above: a switch the app may accept is asked for again */
        px->upgrade = 1;
        puts_(&t, "Upgrade: ");
        put(&t, p, n);
        puts_(&t, "\r\nConnection: Upgrade\r\n");
    } else if (px->u->cfg->keepalive == 0) {
        puts_(&t, "Connection: close\r\n");
    }
    puts_(&t, "\r\n");
    if (body_len > 0) {
        put(&t, body, body_len);
    }
    if (t.failed) {
        free(t.p);
        return -1;
    }
    px->out = t.p;
    px->out_len = t.len;
    return 0;
}

/* ---- the upstream connection ---- */

/* Watch the connection for what (EV_READ or EV_WRITE) with timeout ms. 0 ok, -1 failed. */
static int watch(px_t *px, short what, uint32_t ms)
{
    return upstream_watch(px->uc, what, ms);
}

/* Leave the server's active count (the request is no longer on it). */
static void leave(px_t *px)
{
    if (px->active) {
        upstream_end(px->u, px->server);
        px->active = 0;
    }
}

/* Close the connection (never pooled: its state is unknown). */
static void drop_conn(px_t *px)
{
    leave(px);
    if (px->uc != NULL) {
        upstream_close(px->uc);
        px->uc = NULL;
    }
}

static void px_free(px_t *px)
{
    drop_conn(px);
    free(px->out);
    if (px->up != NULL) {
        evbuffer_free(px->up);
    }
    if (px->ahead != NULL) {
        evbuffer_free(px->ahead);
    }
    free(px);
}

/* The request's response, or NULL when it is gone (then px is already freed by the abort). */
static forkd_resp_t *resp_of(px_t *px)
{
    return forkd_lookup(px->srv, px->ref);
}

/*
 * End the request with an error: 502/504 with why in the error log, or,
 * once the answer has started, the client's connection closed (a body cut
 * short must not look complete).
 */
static void fail(px_t *px, int status, const char *why)
{
    forkd_resp_t *resp = resp_of(px);

    forkd_log(px->srv, FORKD_LOG_ERROR, "upstream %s: server %s: %s (%s)", px->u->cfg->name,
              px->u->servers[px->server].label, why,
              px->streaming   ? "response cut short, client closed"
              : status == 504 ? "504"
                              : "502");
    if (px->state != PX_CONNECTING) { /* upstream_failed() counted a failed connect */
        upstream_count_failure(px->u, px->server);
    }
    drop_conn(px);
    if (resp != NULL) {
        if (px->streaming) {
            forkd_resp_abort(resp); /* no last chunk: the client sees the body is cut */
        } else {
            forkd_resp_error(resp, status);
            forkd_resp_finish(resp);
        }
    }
    px_free(px);
}

/*
 * The answer is complete: the connection goes back to the pool if it may,
 * the response ends. Never after HEAD: an app may send the body anyway
 * (gunicorn 20 does), late enough to pass the pool's peek and be read as
 * the next request's answer.
 */
static void done(px_t *px, int reusable)
{
    forkd_resp_t *resp = resp_of(px);

    reusable &= !px->head_request && !px->body_cut;
    leave(px);
    upstream_release(px->uc, reusable);
    px->uc = NULL;
    if (resp != NULL) {
        forkd_resp_finish(resp);
    }
    px_free(px);
}

/*
 * A reused pooled connection failed before any byte of the answer: the app
 * closed it as we sent (the keep-alive race). Send once more on a new
 * connection if the method allows. Returns 1 when replayed, else 0.
 */
static int replay(px_t *px)
{
    if (!px->reused || px->replayed || !px->idempotent || px->len > 0 || px->body_stream) {
        return 0;
    }
    forkd_log(px->srv, FORKD_LOG_INFO,
              "upstream %s: server %s closed a pooled connection under a request: sent again",
              px->u->cfg->name, px->u->servers[px->server].label);
    drop_conn(px);
    px->replayed = 1;
    px->reused = 0;
    px->out_off = 0;
    start(px);
    return 1;
}

/* The connect to the chosen server failed: try another one, else 502/504. */
static void connect_failed(px_t *px, int err, int timed_out)
{
    char why[128];

    snprintf(why, sizeof(why), "connect: %s", timed_out ? "timed out" : strerror(err));
    upstream_failed(px->u, px->server, why + 9);
    drop_conn(px);
    px->tried |= 1u << px->server;
    if (upstream_pick(px->u, px->tried) >= 0) {
        start(px);
        return;
    }
    fail(px, timed_out ? 504 : 502, why);
}

/* Pause (1) or resume (0) reading the client's body, once each way. */
static void hold_client(px_t *px, int paused)
{
    if (px->paused != paused) {
        px->paused = paused;
        forkd_req_body_pause(px->req, paused); /* -1: the body is all in, nothing to hold */
    }
}

/*
 * body = stream: what to wait for while the body goes out: room in the
 * app's socket when it is full (within send_timeout), and all along an
 * answer the app sends early (early_read()), unless one is held already.
 * Waiting for the client's next piece only has no timer here: the client's
 * body_timeout and min_rate bound that wait. 0 ok, -1 ended (failed).
 */
static int sending_watch(px_t *px, int full)
{
    short what = (short)((full ? EV_WRITE : 0) | (px->held ? 0 : EV_READ));

    if (what == 0) {
        upstream_unwatch(px->uc);
        return 0;
    }
    if (watch(px, what, full ? px->u->cfg->send_timeout : UPSTREAM_NO_TIMEOUT) != 0) {
        fail(px, 502, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Parse the head of the answer in buf into px->resp, dropping the interim
 * 1xx answers before it (a 101 is final: a switch). Returns its length,
 * HTTP_PARSE_NEED_MORE, or HTTP_PARSE_BAD (px->resp.error says why).
 */
static ssize_t parse_head(px_t *px)
{
    ssize_t hl;

    for (;;) {
        px->resp.headers = px->hdrs;
        px->resp.headers_cap = PX_MAX_HEADERS;
        hl = http_parse_response(px->buf, px->len, PX_MAX_HEAD, px->head_request, &px->resp);
        if (hl < 0 || px->resp.status >= 200 || px->resp.status == 101) {
            return hl;
        }
        memmove(px->buf, px->buf + hl, px->len - (size_t)hl);
        px->len -= (size_t)hl;
    }
}

/* The status of the answer whole in buf, 0 while its head is not, -1 when it does not parse. */
static int early_status(px_t *px)
{
    ssize_t hl = parse_head(px);

    return hl == HTTP_PARSE_NEED_MORE ? 0 : hl < 0 ? -1 : px->resp.status;
}

/*
 * body = stream: the app answered before the whole body was sent. The
 * answer goes to the client now; the rest of the body is not sent (the
 * client's is read and dropped: on_piece()) and the connection is not
 * pooled.
 */
static void answer_early(px_t *px)
{
    px->body_cut = 1;
    px->state = PX_HEAD;
    hold_client(px, 0);
    answer(px);
}

/*
 * body = stream: the app sent bytes while the body was still going out.
 * An error answer (4xx, 5xx: a 413, a 401) is the app refusing the body
 * (RFC 9112 9.5): answered now. Any other answer is held in buf until the
 * body is sent (an app may answer as it reads), and reading stops
 * meanwhile, as it does when buf is full. An app that closed or reset is
 * answered from what it sent when that is a whole head, else 502. Returns
 * 1 when px moved on or ended, 0 when the body goes on.
 */
static int early_read(px_t *px)
{
    ssize_t n;
    int status;

    if (px->len == sizeof(px->buf)) {
        return 0; /* held (below): not watched for reading */
    }
    n = recv(px->uc->fd, px->buf + px->len, sizeof(px->buf) - px->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return 0;
    }
    px->len += n > 0 ? (size_t)n : 0;
    status = early_status(px);
    if (n <= 0 && status == 0) {
        fail(px, 502,
             n == 0 ? "closed the connection while the request body was sent" : strerror(errno));
        return 1;
    }
    if (n <= 0 || status < 0 || status >= 400) {
        answer_early(px);
        return 1;
    }
    if (status > 0 || px->len == sizeof(px->buf)) {
        px->held = 1;
        return sending_watch(px, (px->uc->what & EV_WRITE) != 0) != 0; /* still full or not */
    }
    return 0;
}

/*
 * body = stream: a send failed (the app closed or reset the connection):
 * an answer it sent before, when its head is whole, is the answer (an app
 * that refused the body and closed); else 502.
 */
static void send_failed(px_t *px, int err)
{
    ssize_t n = 0;

    if (px->len < sizeof(px->buf)) {
        n = recv(px->uc->fd, px->buf + px->len, sizeof(px->buf) - px->len, MSG_DONTWAIT);
    }
    px->len += n > 0 ? (size_t)n : 0;
    if (early_status(px) != 0) {
        answer_early(px);
        return;
    }
    fail(px, 502, strerror(err));
}

/*
 * body = stream: send what of the body the client gave. The app's socket
 * full: the client waits (paused) while we wait for room, within
 * send_timeout. Returns 1 once the whole body is sent, 0 waiting (for the
 * socket, or for the client's next piece: on_piece()), -1 ended (failed,
 * or answered early).
 */
static int send_body(px_t *px)
{
    struct evbuffer_iovec v;
    ssize_t n;

    while (evbuffer_peek(px->up, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
        n = send(px->uc->fd, v.iov_base, v.iov_len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            hold_client(px, 1);
            return sending_watch(px, 1);
        }
        if (n < 0) {
            send_failed(px, errno);
            return -1;
        }
        evbuffer_drain(px->up, (size_t)n);
    }
    hold_client(px, 0);
    if (px->body_in) {
        return 1;
    }
    return sending_watch(px, 0);
}

/* Send (more of) the request; then wait for the answer. */
static void send_request(px_t *px)
{
    ssize_t n;

    while (px->out_off < px->out_len) {
        n = send(px->uc->fd, px->out + px->out_off, px->out_len - px->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && px->body_stream) {
            sending_watch(px, 1);
            return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (watch(px, EV_WRITE, px->u->cfg->send_timeout) != 0) {
                fail(px, 502, "out of memory");
            }
            return;
        }
        if (n < 0 && px->body_stream) {
            send_failed(px, errno);
            return;
        }
        if (n < 0) {
            if (!replay(px)) {
                fail(px, 502, strerror(errno));
            }
            return;
        }
        px->out_off += (size_t)n;
    }
    if (px->body_stream && send_body(px) != 1) {
        return;
    }
    px->state = PX_HEAD;
    px->held = 0;
    if (px->len > 0) {
        answer(px); /* what the app sent while the body went out */
    } else if (watch(px, EV_READ, px->u->cfg->read_timeout) != 0) {
        fail(px, 502, "out of memory");
    }
}

/*
 * Start (or start over) on a server: a pooled connection to it when one is
 * still open, else a new connect.
 */
static void start(px_t *px)
{
    upstream_t *u = px->u;
    int i = upstream_pick(u, px->tried);

    px->state = PX_CONNECTING; /* a failure from here on is a connect's (counted apart) */
    if (i < 0) {
        fail(px, 502, "no server left to try");
        return;
    }
    px->server = i;
    px->uc = px->replayed || px->body_stream ? NULL : upstream_take_idle(u, i, on_upstream, px);
    px->reused = px->uc != NULL;
    upstream_begin(u, i);
    px->active = 1;
    if (px->reused) {
        px->state = PX_SENDING;
        send_request(px);
        return;
    }
    px->uc = upstream_connect(u, i, on_upstream, px);
    if (px->uc == NULL) {
        connect_failed(px, errno, 0);
        return;
    }
    px->state = PX_CONNECTING;
    if (watch(px, EV_WRITE, u->cfg->connect_timeout) != 0) {
        fail(px, 502, "out of memory");
    }
}

/* ---- the answer ---- */

/* Microseconds of the monotonic clock (forkd_now_ms() is too coarse for upstream_us). */
static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* What the app took so far, for the JSON access log: to its head, then to its last byte. */
static void upstream_time(px_t *px, forkd_resp_t *resp)
{
    forkd_resp_upstream_time(resp, now_us() - px->t0_us);
}

static void on_writable(forkd_resp_t *resp, void *arg);

/*
 * The response's status and header fields from the app's head, but
 * hop-by-hop and our own (Upgrade kept on a 101: the switch it names).
 */
static int copy_head(px_t *px, forkd_resp_t *resp)
{
    static const char *const skip[] = {"content-length", "date", "server"};
    const http_header_t *h;
    size_t i, k, nconn = 0;
    size_t conn[PX_MAX_HEADERS]; /* the Connection fields: every one counts */
    int skipped;

    forkd_resp_status(resp, px->resp.status);
    for (i = 0; i < px->resp.nheaders; i++) {
        if (http_slice_eq_nocase(px->resp.headers[i].name, "connection")) {
            conn[nconn++] = i;
        }
    }
    for (i = 0; i < px->resp.nheaders; i++) {
        h = &px->resp.headers[i];
        skipped = hop_field(h->name.p, h->name.len);
        for (k = 0; k < nconn && !skipped; k++) {
            skipped = connection_lists(px->resp.headers[conn[k]].value, h->name.p, h->name.len);
        }
        for (k = 0; k < sizeof(skip) / sizeof(skip[0]) && !skipped; k++) {
            skipped = http_slice_eq_nocase(h->name, skip[k]);
        }
        if (px->resp.status == 101 && http_slice_eq_nocase(h->name, "upgrade")) {
            skipped = 0;
        }
        if (!skipped
            && forkd_resp_header_len(resp, h->name.p, h->name.len, h->value.p, h->value.len) != 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * Hand what was read ahead to the client, as much as it takes now; when
 * some is left, on_writable() is due once it took enough.
 */
static void flush(px_t *px, forkd_resp_t *resp)
{
    struct evbuffer_iovec v;
    ssize_t took;

    while (evbuffer_peek(px->ahead, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
        took = forkd_resp_write(resp, v.iov_base, v.iov_len);
        if (took <= 0) {
            break;
        }
        evbuffer_drain(px->ahead, (size_t)took);
        if ((size_t)took < v.iov_len) {
            break;
        }
    }
    if (evbuffer_get_length(px->ahead) > 0) {
        forkd_resp_on_writable(resp, on_writable, px);
    }
}

/*
 * Turn the raw body bytes buf[0..len) into body for the client, appended
 * to what waits for it, by the framing. Returns 0, or -1 when the chunked
 * framing is bad or memory ran out. Sets body_done; bytes after the body
 * mean the connection is not reused.
 */
static int decode(px_t *px)
{
    size_t data = 0;
    ssize_t rc;

    switch (px->resp.body) {
    case HTTP_RESP_BODY_LENGTH:
        data = px->len < px->left ? px->len : (size_t)px->left;
        px->resp.keep_alive &= px->len == data;
        px->left -= data;
        px->body_done = px->left == 0;
        break;
    case HTTP_RESP_BODY_CHUNKED:
        rc = http_chunked_parse(&px->chunked, px->buf, px->len, UINT64_MAX, PX_CHUNK_LINE, &data);
        if (rc == HTTP_PARSE_BAD) {
            return -1;
        }
        if (rc >= 0) {
            px->body_done = 1;
            px->resp.keep_alive &= (size_t)rc == px->len;
        }
        break;
    case HTTP_RESP_BODY_CLOSE: data = px->len; break;
    case HTTP_RESP_BODY_NONE: px->body_done = 1; break;
    }
    px->len = 0;
    return data > 0 && evbuffer_add(px->ahead, px->buf, data) != 0 ? -1 : 0;
}

/*
 * After body bytes came or the client took some: pass on what it takes,
 * end once all is read and taken, and read the app while less than
 * [upstream] buffer waits for the client (so a slow client frees the app
 * early, within that bound; beyond it the app waits: backpressure).
 */
static void pump(px_t *px, forkd_resp_t *resp)
{
    size_t waiting;

    flush(px, resp);
    waiting = evbuffer_get_length(px->ahead);
    if (px->body_done) {
        if (waiting == 0) {
            done(px, px->resp.keep_alive);
        }
        return;
    }
    if (waiting >= px->u->cfg->buffer) {
        upstream_unwatch(px->uc);
    } else if (!upstream_reading(px->uc) && watch(px, EV_READ, px->u->cfg->read_timeout) != 0) {
        fail(px, 502, "out of memory");
    }
}

/* Body bytes are in buf[0..len): pass them on. */
static void body(px_t *px)
{
    forkd_resp_t *resp = resp_of(px);

    if (resp == NULL) {
        return;
    }
    if (decode(px) != 0) {
        fail(px, 502, "bad chunked framing in the response body (or out of memory)");
        return;
    }
    if (px->body_done) {
        upstream_time(px, resp);
    }
    pump(px, resp);
}

/* The client took what waited: pass on more, read more from the app. */
static void on_writable(forkd_resp_t *resp, void *arg)
{
    pump(arg, resp);
}

/*
 * The response the app's head fills (its time noted, its status and fields
 * copied), or NULL when the request is gone or it failed (answered 502).
 */
static forkd_resp_t *answer_head(px_t *px)
{
    forkd_resp_t *resp = resp_of(px);

    if (resp == NULL) {
        return NULL;
    }
    upstream_time(px, resp);
    if (copy_head(px, resp) != 0) {
        fail(px, 502,
             "response header fields too large for forkd's response head (or out of memory)");
        return NULL;
    }
    return resp;
}

/* The head is in buf[0..n): answer with it, then the body. */
static void head(px_t *px, size_t n)
{
    forkd_resp_t *resp = answer_head(px);
    int whole;

    if (resp == NULL) {
        return;
    }
    memmove(px->buf, px->buf + n, px->len - n);
    px->len -= n;
    px->left = px->resp.body == HTTP_RESP_BODY_LENGTH ? px->resp.content_length : 0;
    /* a body already here whole goes out with a Content-Length; else it is streamed */
    whole = px->resp.body == HTTP_RESP_BODY_NONE
            || (px->resp.body == HTTP_RESP_BODY_LENGTH && px->len >= px->left);
    if (px->head_request && px->resp.has_length) {
        /* HEAD: the app's Content-Length is the answer's, though no body follows */
        forkd_resp_head_length(resp, px->resp.content_length);
    } else if (px->head_request) {
        whole =
            0; /* the app's GET would be chunked or close-delimited: the stream's head says so */
    }
    if (whole) {
        if (px->resp.body == HTTP_RESP_BODY_LENGTH
            && forkd_resp_body_copy(resp, px->buf, (size_t)px->left) != 0) {
            fail(px, 502, "out of memory");
            return;
        }
        done(px, px->resp.keep_alive && px->len == px->left);
        return;
    }
    if ((px->ahead = evbuffer_new()) == NULL || forkd_resp_stream(resp) != 0) {
        fail(px, 502, "cannot start the response stream (or out of memory)");
        return;
    }
    px->streaming = 1;
    px->state = PX_BODY;
    body(px);
}

/*
 * The app switched protocols (101) for a client that asked to: the answer
 * goes out with its Upgrade field, then the client's connection and the
 * app's are joined (forkd_resp_tunnel(): bytes both ways, idle for at most
 * read_timeout). buf[n..len) is what the app sent past its head.
 */
static void switch_protocols(px_t *px, size_t n)
{
    forkd_resp_t *resp = answer_head(px);

    if (resp == NULL) {
        return;
    }
    if (forkd_resp_tunnel(resp, px->uc->fd, px->buf + n, px->len - n, px->u->cfg->read_timeout)
        != 0) {
        fail(px, 502, "101 Switching Protocols: the request cannot be switched (or out of memory)");
        return;
    }
    leave(px);
    (void)upstream_detach(px->uc); /* the socket is the tunnel's */
    px->uc = NULL;
    forkd_resp_finish(resp);
    px_free(px);
}

/* Read from the app: the head, then the body. */
static void read_upstream(px_t *px)
{
    ssize_t n;

    if (px->len == sizeof(px->buf)) {
        fail(px, 502, "response head too large");
        return;
    }
    n = recv(px->uc->fd, px->buf + px->len, sizeof(px->buf) - px->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        watch(px, EV_READ, px->u->cfg->read_timeout);
        return;
    }
    if (n <= 0) {
        if (px->state == PX_HEAD && replay(px)) {
            return;
        }
        if (px->state == PX_BODY && n == 0 && px->resp.body == HTTP_RESP_BODY_CLOSE) {
            done(px, 0);
            return;
        }
        fail(px, 502, n == 0 ? "closed the connection before the response ended" : strerror(errno));
        return;
    }
    px->len += (size_t)n;
    if (px->state == PX_BODY) {
        body(px);
        return;
    }
    answer(px);
}

/*
 * Act on what buf holds of the answer: its head (and a small body) whole,
 * answer the client (interim 1xx answers dropped); else wait for more.
 */
static void answer(px_t *px)
{
    ssize_t hl = parse_head(px);

    if (hl == HTTP_PARSE_NEED_MORE) {
        watch(px, EV_READ, px->u->cfg->read_timeout);
    } else if (hl < 0) {
        fail(px, 502, px->resp.error);
    } else if (px->resp.status == 101 && px->upgrade) {
        switch_protocols(px, (size_t)hl);
    } else if (px->resp.status == 101) {
        fail(px, 502, "101 Switching Protocols to a request that asked for no upgrade");
    } else if (px->resp.body == HTTP_RESP_BODY_LENGTH
               && px->resp.content_length <= sizeof(px->buf) - (size_t)hl
               && px->len - (size_t)hl < px->resp.content_length) {
        /* a small body on its way: wait for it, to answer with a Content-Length */
        watch(px, EV_READ, px->u->cfg->read_timeout);
    } else {
        head(px, (size_t)hl);
    }
}

static void on_upstream(upstream_conn_t *uc, short what, void *arg)
{
    px_t *px = arg;
    int err;

    (void)uc;
    if (what & EV_TIMEOUT) {
        switch (px->state) {
        case PX_CONNECTING: connect_failed(px, ETIMEDOUT, 1); return;
        case PX_SENDING: fail(px, 504, "send_timeout passed sending the request"); return;
        default: fail(px, 504, "read_timeout passed waiting for the response"); return;
        }
    }
    switch (px->state) {
    case PX_CONNECTING:
        if ((err = upstream_connect_error(px->uc)) != 0) {
            connect_failed(px, err, 0);
            return;
        }
        px->state = PX_SENDING;
        send_request(px);
        return;
    case PX_SENDING:
        if ((what & EV_READ) && early_read(px)) {
            return;
        }
        if (what & EV_WRITE) {
            send_request(px);
        }
        return;
    default: read_upstream(px); return;
    }
}

/* ---- the handler ---- */

/* The client went away (or the worker stops): close the app connection, never pooled. */
static void on_abort(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    (void)srv;
    (void)ref;
    (void)why;
    px_free(arg);
}

/*
 * body = stream: a piece of the client's body, borrowed for the call:
 * framed and queued for the app, sent at once when the connection is up.
 */
static void on_piece(forkd_resp_t *resp, const char *p, size_t len, int last, void *arg)
{
    px_t *px = arg;
    int bad = 0;

    (void)resp;
    if (px->body_cut) {
        return; /* the app answered without it */
    }
    if (px->chunked_up && len > 0) {
        bad |= evbuffer_add_printf(px->up, "%zx\r\n", len) < 0;
        bad |= evbuffer_add(px->up, p, len) != 0 || evbuffer_add(px->up, "\r\n", 2) != 0;
    } else if (len > 0) {
        bad |= evbuffer_add(px->up, p, len) != 0;
    }
    if (last && px->chunked_up) {
        bad |= evbuffer_add(px->up, "0\r\n\r\n", 5) != 0;
    }
    px->body_in |= last;
    if (bad) {
        fail(px, 502, "out of memory");
    } else if (px->state == PX_SENDING) {
        send_request(px);
    } else if (evbuffer_get_length(px->up) >= PX_UP_MAX) {
        hold_client(px, 1); /* connecting: held until send_body() has sent it */
    }
}

/* A px_t zeroed but for its buffers (32 KiB and more: zeroing them cost more than the rest). */
static px_t *px_new(void)
{
    px_t *px = malloc(sizeof(*px));

    if (px != NULL) {
        memset(px, 0, offsetof(px_t, hdrs));
    }
    return px;
}

static int proxy_handler(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    proxy_route_t *route = self;
    forkd_method_t m = forkd_req_method(req);
    px_t *px = px_new();

    if (px == NULL) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    px->route = route;
    px->u = route->u;
    px->srv = forkd_req_server(req);
    px->u->srv = px->srv;
    px->ref = forkd_req_ref(req);
    px->t0_us = now_us();
    px->body_stream = route->stream;
    px->req = req;
    px->up = route->stream ? evbuffer_new() : NULL;
    px->head_request = m == FORKD_HEAD;
    px->idempotent = m == FORKD_GET || m == FORKD_HEAD || m == FORKD_PUT || m == FORKD_DELETE
                     || m == FORKD_OPTIONS || m == FORKD_TRACE;
    if ((px->body_stream && px->up == NULL) || build_request(px, req) != 0) {
        px_free(px);
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    forkd_req_on_abort(req, on_abort, px);
    if (px->body_stream) {
        forkd_req_on_body(req, on_piece, px);
    }
    start(px);
    return FORKD_ASYNC;
}

/* Every upstream's servers have a place in a worker's scoreboard row. */
_Static_assert(CONFIG_MAX_UPSTREAMS *CONFIG_MAX_UPSTREAM_SERVERS <= SB_UPSTREAM_SERVERS,
               "the scoreboard's upstream row is too short for the config's limits");

int proxy_init(proxy_t *p, const config_t *cfg, sb_upstream_t *board, char *err, size_t size)
{
    int i, at = 0;

    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    for (i = 0; i < cfg->nupstreams; i++) {
        if (upstream_init(&p->ups[i], &cfg->upstreams[i], board != NULL ? board + at : NULL, err,
                          size)
            != 0) {
            return -1;
        }
        at += cfg->upstreams[i].nservers;
    }
    return 0;
}

int proxy_register(router_t *r, proxy_t *p)
{
    const config_route_t *rt;
    int i, flags;

    for (i = 0; i < p->cfg->nroutes; i++) {
        rt = &p->cfg->routes[i];
        if (rt->upstream[0] == '\0') {
            continue;
        }
        p->routes[i].p = p;
        p->routes[i].u = &p->ups[rt->upstream_index];
        flags = rt->prefix ? ROUTE_PREFIX : ROUTE_EXACT;
        if (rt->body == CONFIG_BODY_WHOLE) {
            flags |= ROUTE_TAKES_BODY;
        }
        p->routes[i].stream = rt->body == CONFIG_BODY_STREAM;
        if (p->routes[i].stream) {
            flags |= ROUTE_BODY_STREAM | ROUTE_TAKES_BODY; /* as a module's route (module.c) */
        }
        if (router_add(r, rt->path, flags, rt->methods, proxy_handler, &p->routes[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

void proxy_fini(proxy_t *p)
{
    int i;

    for (i = 0; i < p->cfg->nupstreams; i++) {
        upstream_free(&p->ups[i]);
    }
}
