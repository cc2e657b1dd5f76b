/* response: what handlers call to fill a response; reason phrases and error pages. */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

void resp_reset(resp_t *resp, conn_t *conn)
{
    resp->status = 0;
    resp->content_type = NULL;
    resp->close = 0;
    resp->xhdr_len = 0;
    resp->mem = NULL;
    resp->mem_len = 0;
    resp->mem_owned = NULL;
    resp->fd = -1;
    resp->fd_owned = 0;
    resp->cache_ref = NULL;
    resp->file_off = 0;
    resp->file_len = 0;
    resp->no_body = 0;
    resp->gen_len = 0;
    resp->timer_cb = NULL;
    resp->conn = conn;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int resp_header(resp_t *resp, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    char *p;

    if (resp->xhdr_len + nlen + vlen + 4 > sizeof(resp->xhdr)) {
        return -1;
    }
    p = resp->xhdr + resp->xhdr_len;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    resp->xhdr_len = (size_t)(p - resp->xhdr);
    return 0;
}

int resp_printf(resp_t *resp, const char *fmt, ...)
{
    va_list ap;
    char *buf = resp->mem_owned ? resp->mem_owned : resp->gen;
    size_t cap = resp->mem_owned ? resp->mem_len : sizeof(resp->gen);
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + resp->gen_len, cap - resp->gen_len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n >= cap - resp->gen_len) {
        /* grow into malloc: mem_len is the capacity until the response starts */
        size_t ncap = cap * 2 + (size_t)n;
        char *nb = malloc(ncap);
        if (nb == NULL) {
            return -1;
        }
        memcpy(nb, buf, resp->gen_len);
        free(resp->mem_owned);
        resp->mem_owned = nb;
        resp->mem_len = ncap;
        va_start(ap, fmt);
        vsnprintf(nb + resp->gen_len, ncap - resp->gen_len, fmt, ap);
        va_end(ap);
    }
    resp->gen_len += (size_t)n;
    return 0;
}

void resp_body_mem(resp_t *resp, const char *p, size_t len)
{
    resp->mem = p;
    resp->mem_len = len;
}

void resp_body_file(resp_t *resp, int fd, off_t off, uint64_t len)
{
    if (resp->fd >= 0 && resp->fd_owned) {
        close(resp->fd);
    }
    resp->fd = fd;
    resp->fd_owned = 1;
    resp->file_off = off;
    resp->file_len = len;
}

void resp_error(resp_t *resp, int status)
{
    const char *reason = http_reason(status);

    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    resp->gen_len = 0;
    resp_printf(resp,
                "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                "<body><h1>%d %s</h1><hr><p>forkd</p></body></html>\n",
                status, reason, status, reason);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    resp_t *resp = arg;
    resp_timer_cb cb = resp->timer_cb;
    (void)fd;
    (void)what;

    resp->timer_cb = NULL;
    cb(resp, resp->timer_arg);
}

int resp_timer(resp_t *resp, uint32_t ms, resp_timer_cb cb, void *arg)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    if (evtimer_assign(&resp->timer, resp->conn->w->base, on_timer, resp) != 0) {
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

void resp_finish(resp_t *resp)
{
    conn_resume(resp->conn);
}
