/* response: filling a response (forkd_resp_*), reason phrases and error pages. */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "httpdate.h"

void resp_reset(resp_t *resp, forkd_server_t *srv, conn_t *conn)
{
    resp->status = 0;
    resp->content_type = NULL;
    resp->close = 0;
    resp->upstream_us = -1;
    resp->head_len = -1;
    resp->tunnel_fd = -1;
    resp->tunnel_early = NULL;
    resp->tunnel_early_len = 0;
    resp->xhdr_len = 0;
    resp->xbig = NULL;
    resp->xbig_cap = 0;
    resp->mem = NULL;
    resp->mem_len = 0;
    resp->fd = -1;
    resp->fd_owned = 0;
    resp->file_off = 0;
    resp->file_len = 0;
    resp->parts_block = NULL;
    resp->parts = NULL;
    resp->nparts = resp->part = 0;
    resp->parts_len = 0;
    resp->release = NULL;
    resp->self = NULL;
    resp->no_body = 0;
    resp->framing = RESP_FRAME_LENGTH;
    resp->big = NULL;
    resp->big_cap = 0;
    resp->gen_len = 0;
    resp->timer_cb = NULL;
    resp->srv = srv;
    resp->conn = conn;
}

/* The file body or lent memory goes: close an owned fd, call the release callback. */
static void release_body(resp_t *resp)
{
    forkd_release_fn release = resp->release;

    if (resp->fd >= 0 && resp->fd_owned) {
        close(resp->fd);
    }
    resp->fd = -1;
    resp->fd_owned = 0;
    resp->file_off = 0;
    resp->file_len = 0;
    resp->release = NULL;
    if (release != NULL) {
        release(resp->self, resp->release_arg);
    }
}

/* Let go of lent memory, a file body or parts: the built text is the body again. */
static void drop_body(resp_t *resp)
{
    if (resp->fd >= 0 || resp->release != NULL) {
        release_body(resp);
    }
    free(resp->parts_block);
    resp->parts_block = NULL;
    resp->parts = NULL;
    resp->nparts = resp->part = 0;
    resp->parts_len = 0;
    resp->mem = NULL;
    resp->mem_len = 0;
}

/* A tunnel the response was to open and never will: the app's socket closes. */
static void drop_tunnel(resp_t *resp)
{
    if (resp->tunnel_fd >= 0) {
        close(resp->tunnel_fd);
        resp->tunnel_fd = -1;
    }
    free(resp->tunnel_early);
    resp->tunnel_early = NULL;
    resp->tunnel_early_len = 0;
}

void resp_cleanup(resp_t *resp)
{
    drop_body(resp);
    drop_tunnel(resp);
    if (resp->xbig != NULL) { /* the lines were there: none are left */
        free(resp->xbig);
        resp->xbig = NULL;
        resp->xbig_cap = 0;
        resp->xhdr_len = 0;
    }
    if (resp->big != NULL) {
        free(resp->big);
        resp->big = NULL;
        resp->big_cap = 0;
    }
    resp->gen_len = 0;
    resp_timer_stop(resp);
}

void resp_timer_stop(resp_t *resp)
{
    if (resp->timer_cb != NULL) {
        evtimer_del(&resp->timer);
        resp->timer_cb = NULL;
    }
}

/* The statuses forkd knows by name: code and reason phrase. */
#define STATUSES(X)                                                                                \
    X(100, "Continue")                                                                             \
    X(200, "OK")                                                                                   \
    X(201, "Created")                                                                              \
    X(202, "Accepted")                                                                             \
    X(204, "No Content")                                                                           \
    X(206, "Partial Content")                                                                      \
    X(301, "Moved Permanently")                                                                    \
    X(302, "Found")                                                                                \
    X(303, "See Other")                                                                            \
    X(304, "Not Modified")                                                                         \
    X(307, "Temporary Redirect")                                                                   \
    X(308, "Permanent Redirect")                                                                   \
    X(400, "Bad Request")                                                                          \
    X(401, "Unauthorized")                                                                         \
    X(403, "Forbidden")                                                                            \
    X(404, "Not Found")                                                                            \
    X(405, "Method Not Allowed")                                                                   \
    X(408, "Request Timeout")                                                                      \
    X(409, "Conflict")                                                                             \
    X(410, "Gone")                                                                                 \
    X(411, "Length Required")                                                                      \
    X(412, "Precondition Failed")                                                                  \
    X(413, "Content Too Large")                                                                    \
    X(414, "URI Too Long")                                                                         \
    X(415, "Unsupported Media Type")                                                               \
    X(416, "Range Not Satisfiable")                                                                \
    X(417, "Expectation Failed")                                                                   \
    X(421, "Misdirected Request")                                                                  \
    X(422, "Unprocessable Content")                                                                \
    X(429, "Too Many Requests")                                                                    \
    X(431, "Request Header Fields Too Large")                                                      \
    X(500, "Internal Server Error")                                                                \
    X(501, "Not Implemented")                                                                      \
    X(502, "Bad Gateway")                                                                          \
    X(503, "Service Unavailable")                                                                  \
    X(504, "Gateway Timeout")                                                                      \
    X(505, "HTTP Version Not Supported")

const char *http_reason(int status)
{
    switch (status) {
#define REASON(code, text)                                                                         \
    case code: return text;
        STATUSES(REASON)
#undef REASON
    default: return "Unknown";
    }
}

/* "HTTP/1.1 200 OK\r\n" whole for a status known by name, *len bytes; NULL for another. */
static const char *status_line(int status, size_t *len)
{
    switch (status) {
#define LINE(code, text)                                                                           \
    case code:                                                                                     \
        *len = sizeof("HTTP/1.1 " #code " " text "\r\n") - 1;                                      \
        return "HTTP/1.1 " #code " " text "\r\n";
        STATUSES(LINE)
#undef LINE
    default: return NULL;
    }
}

void forkd_resp_status(forkd_resp_t *resp, int status)
{
    resp->status = status;
}

int forkd_resp_get_status(const forkd_resp_t *resp)
{
    return resp->status;
}

/*
 * Room for need bytes of header lines: xhdr[] while they fit, else a
 * malloc'd area (the lines so far moved into it), RESP_XHDR_MAX at most.
 * The lines' area, or NULL.
 */
static char *xhdr_room(resp_t *resp, size_t need)
{
    size_t cap = resp->xbig != NULL ? resp->xbig_cap : sizeof(resp->xhdr);
    char *nb;

    if (need <= cap) {
        return resp->xbig != NULL ? resp->xbig : resp->xhdr;
    }
    if (need > RESP_XHDR_MAX) {
        return NULL;
    }
    cap = need * 2 < RESP_XHDR_MAX ? need * 2 : RESP_XHDR_MAX;
    nb = malloc(cap);
    if (nb == NULL) {
        return NULL;
    }
    memcpy(nb, resp->xbig != NULL ? resp->xbig : resp->xhdr, resp->xhdr_len);
    free(resp->xbig);
    resp->xbig = nb;
    resp->xbig_cap = cap;
    return nb;
}

int forkd_resp_header(forkd_resp_t *resp, const char *name, const char *value)
{
    return forkd_resp_header_len(resp, name, strlen(name), value, strlen(value));
}

int forkd_resp_header_len(forkd_resp_t *resp, const char *name, size_t nlen, const char *value,
                          size_t vlen)
{
    char *p, *area = xhdr_room(resp, resp->xhdr_len + nlen + vlen + 4);

    if (area == NULL) {
        return -1;
    }
    p = area + resp->xhdr_len;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    resp->xhdr_len = (size_t)(p - area);
    return 0;
}

size_t resp_head_size(const resp_t *resp)
{
    return resp->xbig != NULL ? RESP_HEAD_MAX - RESP_XHDR_SIZE + resp->xhdr_len : RESP_HEAD_MAX;
}

void forkd_resp_content_type(forkd_resp_t *resp, const char *type)
{
    resp->content_type = type;
}

void forkd_resp_close(forkd_resp_t *resp)
{
    resp->close = 1;
}

/*
 * Room for `more` bytes of built text past gen_len (plus a NUL for
 * vsnprintf()): gen[] while it fits, then a malloc'd buffer that at least
 * doubles. Returns where the text goes on, or NULL out of memory (nothing
 * changed).
 */
static char *built_room(resp_t *resp, size_t more)
{
    char *cur = resp->big ? resp->big : resp->gen;
    size_t cap = resp->big ? resp->big_cap : sizeof(resp->gen), ncap;
    char *nb;

    if (more < cap - resp->gen_len) {
        return cur + resp->gen_len;
    }
    ncap = cap * 2 + more;
    nb = malloc(ncap);
    if (nb == NULL) {
        return NULL;
    }
    memcpy(nb, cur, resp->gen_len);
    free(resp->big);
    resp->big = nb;
    resp->big_cap = ncap;
    return nb + resp->gen_len;
}

int forkd_resp_body_copy(forkd_resp_t *resp, const void *p, size_t len)
{
    char *dst;

    drop_body(resp);
    resp->gen_len = 0;
    dst = built_room(resp, len);
    if (dst == NULL) {
        return -1;
    }
    memcpy(dst, p, len);
    resp->gen_len = len;
    return 0;
}

int forkd_resp_printf(forkd_resp_t *resp, const char *fmt, ...)
{
    va_list ap;
    char *dst;
    size_t room;
    int n;

    if (resp->mem != NULL || resp->fd >= 0) {
        drop_body(resp); /* built text from the start */
        resp->gen_len = 0;
    }
    dst = (resp->big ? resp->big : resp->gen) + resp->gen_len;
    room = (resp->big ? resp->big_cap : sizeof(resp->gen)) - resp->gen_len;
    va_start(ap, fmt);
    n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n >= room) {
        dst = built_room(resp, (size_t)n);
        if (dst == NULL) {
            return -1;
        }
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    resp->gen_len += (size_t)n;
    return 0;
}

void forkd_resp_body_ref(forkd_resp_t *resp, const void *p, size_t len, forkd_release_fn release,
                         void *arg)
{
    drop_body(resp);
    resp->mem = len > 0 ? p : "";
    resp->mem_len = len;
    resp->release = release;
    resp->release_arg = arg;
}

void forkd_resp_body_file(forkd_resp_t *resp, int fd, off_t off, uint64_t len,
                          forkd_release_fn release, void *arg)
{
    drop_body(resp);
    resp->fd = fd;
    resp->fd_owned = release == NULL;
    resp->file_off = off;
    resp->file_len = len;
    resp->release = release;
    resp->release_arg = arg;
}

int forkd_resp_body_parts(forkd_resp_t *resp, int fd, const char *text, const forkd_part_t *parts,
                          size_t n, forkd_release_fn release, void *arg)
{
    size_t i, text_len = 0, head = n * sizeof(*parts);
    uint64_t total = 0;
    char *block;

    drop_body(resp);
    for (i = 0; i < n; i++) {
        text_len += parts[i].text_len;
        total += parts[i].len;
    }
    block = malloc(head + text_len + 1); /* + 1: never malloc(0) */
    if (block == NULL) {
        return -1;
    }
    if (n > 0) {
        memcpy(block, parts, head);
    }
    if (text_len > 0) {
        memcpy(block + head, text, text_len);
    }
    forkd_resp_body_file(resp, fd, n > 0 ? parts[0].off : 0, n > 0 ? parts[0].len : 0, release,
                         arg);
    resp->parts_block = block;
    resp->parts = (const forkd_part_t *)(const void *)block;
    resp->nparts = n;
    resp->part = 0;
    resp->parts_len = text_len + total;
    resp->mem = block + head;
    resp->mem_len = n > 0 ? parts[0].text_len : 0;
    return 0;
}

int resp_next_part(resp_t *resp)
{
    const forkd_part_t *p;

    if (resp->parts == NULL || resp->no_body || resp->part + 1 >= resp->nparts) {
        return 0;
    }
    p = &resp->parts[++resp->part];
    resp->mem_len += p->text_len;
    resp->file_off = p->off;
    resp->file_len = p->len;
    return 1;
}

void forkd_resp_upstream_time(forkd_resp_t *resp, uint64_t us)
{
    resp->upstream_us = us > INT64_MAX ? INT64_MAX : (int64_t)us;
}

void forkd_resp_head_length(forkd_resp_t *resp, uint64_t len)
{
    resp->head_len = len > INT64_MAX ? INT64_MAX : (int64_t)len;
}

void forkd_resp_error(forkd_resp_t *resp, int status)
{
    const char *reason = http_reason(status);

    drop_body(resp);
    drop_tunnel(resp); /* an error replaces a 101: nothing is switched */
    resp->status = status;
    resp->head_len = -1; /* the error page's own length, not the one a handler declared */
    resp->content_type = "text/html; charset=utf-8";
    resp->gen_len = 0;
    forkd_resp_printf(resp,
                      "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                      "<body><h1>%d %s</h1><hr><p>forkd</p></body></html>\n",
                      status, reason, status, reason);
}

/* The Content-Length of a sealed response that has one. */
static uint64_t content_length(const resp_t *resp)
{
    /* no_body here means HEAD: the length a GET would have had, when the handler knows it */
    if (resp->no_body && resp->head_len >= 0) {
        return (uint64_t)resp->head_len;
    }
    if (resp->parts != NULL) {
        return resp->parts_len;
    }
    return resp->fd >= 0 ? resp->file_len : resp->mem_len;
}

/* The status line and header lines of a sealed response (see resp_start()). */
static size_t write_head(const resp_t *resp, const char *date, int keepalive, char *out)
{
    char *p = out;
    size_t n;
    const char *line = status_line(resp->status, &n);

    if (line != NULL) {
        p += fmt_put(p, line, n);
    } else {
        p += FMT_LIT(p, "HTTP/1.1 ");
        p += fmt_uint(p, (uint64_t)resp->status);
        p += FMT_LIT(p, " Unknown\r\n");
    }
    p += FMT_LIT(p, "Server: forkd\r\nDate: ");
    p += fmt_put(p, date, HTTPDATE_LEN);
    p += FMT_LIT(p, "\r\n");
    if (resp->content_type != NULL && (n = strlen(resp->content_type)) <= RESP_CTYPE_MAX) {
        p += FMT_LIT(p, "Content-Type: ");
        p += fmt_put(p, resp->content_type, n);
        p += FMT_LIT(p, "\r\n");
    }
    if (resp->framing == RESP_FRAME_CHUNKED) {
        p += FMT_LIT(p, "Transfer-Encoding: chunked\r\n");
    } else if (resp->framing == RESP_FRAME_CLOSE) {
        /* nothing: the close ends the body */
    } else if (resp->status != 204 && resp->status != 304 && resp->status >= 200) {
        p += FMT_LIT(p, "Content-Length: ");
        p += fmt_uint(p, content_length(resp));
        p += FMT_LIT(p, "\r\n");
    }
    p += fmt_put(p, resp->xbig != NULL ? resp->xbig : resp->xhdr, resp->xhdr_len);
    if (resp->tunnel_fd >= 0) {
        p += FMT_LIT(p, "Connection: Upgrade\r\n\r\n"); /* forkd_resp_tunnel() */
    } else if (keepalive) {
        p += FMT_LIT(p, "Connection: keep-alive\r\n\r\n");
    } else {
        p += FMT_LIT(p, "Connection: close\r\n\r\n");
    }
    return (size_t)(p - out);
}

size_t resp_start(resp_t *resp, int head_request, const char *date, int keepalive, char *out)
{
    if (resp->status < 100 || resp->status > 599) {
        forkd_resp_error(resp, 500);
    }
    if (resp->mem == NULL && resp->fd < 0) {
        resp->mem = resp->big ? resp->big : resp->gen;
        resp->mem_len = resp->gen_len;
    }
    if (head_request || resp->status == 204 || resp->status == 304) {
        resp->no_body = 1;
    }
    return write_head(resp, date, keepalive, out);
}

size_t resp_stream_start(resp_t *resp, int head_request, int http10, const char *date,
                         int keepalive, char *out)
{
    if (resp->status < 200 || resp->status > 599) {
        resp->status = 500;
    }
    drop_body(resp);
    resp->gen_len = 0;
    resp->no_body = head_request || resp->status == 204 || resp->status == 304;
    if (resp->status == 204 || resp->status == 304) {
        resp->framing = RESP_FRAME_LENGTH; /* which sends none for them */
    } else {
        resp->framing = http10 ? RESP_FRAME_CLOSE : RESP_FRAME_CHUNKED;
    }
    return write_head(resp, date, keepalive, out);
}

void resp_move(resp_t *dst, resp_t *src)
{
    dst->status = src->status;
    dst->content_type = src->content_type;
    dst->close = src->close;
    dst->upstream_us = src->upstream_us;
    dst->head_len = src->head_len;
    if (src->xbig == NULL) {
        memcpy(dst->xhdr, src->xhdr, src->xhdr_len);
    }
    dst->xbig = src->xbig; /* taken, like big */
    dst->xbig_cap = src->xbig_cap;
    src->xbig = NULL;
    src->xbig_cap = 0;
    dst->xhdr_len = src->xhdr_len;
    dst->mem = src->mem;
    dst->mem_len = src->mem_len;
    dst->fd = src->fd;
    dst->fd_owned = src->fd_owned;
    dst->file_off = src->file_off;
    dst->file_len = src->file_len;
    dst->parts_block = src->parts_block;
    dst->parts = src->parts;
    dst->nparts = src->nparts;
    dst->part = src->part;
    dst->parts_len = src->parts_len;
    dst->release = src->release;
    dst->release_arg = src->release_arg;
    dst->self = src->self;
    dst->big = src->big;
    dst->big_cap = src->big_cap;
    if (src->big == NULL) {
        memcpy(dst->gen, src->gen, src->gen_len);
    }
    dst->gen_len = src->gen_len;
    /* src keeps nothing to release or free */
    src->mem = NULL;
    src->mem_len = 0;
    src->fd = -1;
    src->fd_owned = 0;
    src->release = NULL;
    src->parts_block = NULL;
    src->parts = NULL;
    src->nparts = src->part = 0;
    src->parts_len = 0;
    src->big = NULL;
    src->big_cap = 0;
    src->gen_len = 0;
}

size_t resp_busy(const char *date, char *out)
{
    char *p = out;

    p += FMT_LIT(p, "HTTP/1.1 503 Service Unavailable\r\nServer: forkd\r\nDate: ");
    p += fmt_put(p, date, HTTPDATE_LEN);
    p += FMT_LIT(p, "\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n");
    return (size_t)(p - out);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    resp_t *resp = arg;
    forkd_timer_fn cb = resp->timer_cb;
    (void)fd;
    (void)what;

    resp->timer_cb = NULL;
    cb(resp, resp->timer_arg);
}

int forkd_resp_timer(forkd_resp_t *resp, uint32_t ms, forkd_timer_fn cb, void *arg)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    if (resp->timer_cb != NULL || resp->srv == NULL /* a pool = yes handler's, on its thread */
        || evtimer_assign(&resp->timer, resp->srv->base, on_timer, resp) != 0) {
        return -1;
    }
    resp->timer_cb = cb;
    resp->timer_arg = arg;
    if (evtimer_add(&resp->timer, &tv) != 0) {
        resp->timer_cb = NULL;
        return -1;
    }
    return 0;
}
