/* http: the request and response a handler sees, and the response API. */
#ifndef FORKD_HTTP_H
#define FORKD_HTTP_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http_parser.h"

#define RESP_XHDR_SIZE 1024 /* room for a handler's extra header lines */
#define RESP_GEN_SIZE 2048  /* generated bodies up to this size need no malloc */

/* What a handler returns. */
#define HANDLER_DONE 0  /* the response is filled in: send it */
#define HANDLER_ASYNC 1 /* the handler calls resp_finish() later (timer, I/O) */

typedef struct conn conn_t;
typedef struct resp resp_t;

/* A parsed request; every slice points into the connection's input buffer. */
typedef struct {
    http_request_t h;
    const char *path; /* decoded, dot segments removed, NUL-terminated */
    size_t path_len;
    const char *body; /* the request body, for routes that take one; else NULL */
    size_t body_len;
    conn_t *conn;
} req_t;

typedef void (*resp_timer_cb)(resp_t *resp, void *arg);

/*
 * A response under construction. It lives in the connection's pooled buffer
 * block from the request's start until the response is sent.
 */
struct resp {
    int status;
    const char *content_type; /* static or lives until sent; NULL = none */
    int close;                /* force "Connection: close" */

    char xhdr[RESP_XHDR_SIZE]; /* extra "Name: value\r\n" lines */
    size_t xhdr_len;

    /* body: at most one of memory (mem/mem_len) or file (fd/off/len) */
    const char *mem;
    size_t mem_len;
    char *mem_owned; /* malloc'd body to free after sending, or NULL */
    int fd;          /* -1 if none */
    int fd_owned;    /* the connection closes fd after sending */
    void *cache_ref; /* a file cache entry the body comes from, released after sending */
    off_t file_off;
    uint64_t file_len;
    int no_body; /* 204/304 or HEAD: headers only (Content-Length still sent for HEAD) */

    char gen[RESP_GEN_SIZE]; /* resp_printf() writes here first */
    size_t gen_len;

    struct event timer; /* for resp_timer() */
    resp_timer_cb timer_cb;
    void *timer_arg;
    conn_t *conn;
};

/* A request handler: fill resp and return HANDLER_DONE, or HANDLER_ASYNC. */
typedef int (*handler_fn)(req_t *req, resp_t *resp, void *ctx);

/* Make resp empty (no status, no headers, no body) for a new request on conn. */
void resp_reset(resp_t *resp, conn_t *conn);

/* Add one header line; 0 ok, -1 when the header area is full (logged by caller). */
int resp_header(resp_t *resp, const char *name, const char *value);

/* Append formatted text to the body (grows into malloc past RESP_GEN_SIZE). 0 ok, -1 ENOMEM. */
int resp_printf(resp_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Body from memory that stays valid until the response is sent (borrowed). */
void resp_body_mem(resp_t *resp, const char *p, size_t len);

/* Body from a file range (sent with sendfile); the response owns fd from now on. */
void resp_body_file(resp_t *resp, int fd, off_t off, uint64_t len);

/* Fill resp with a small HTML error page for status. */
void resp_error(resp_t *resp, int status);

/*
 * Call cb(resp, arg) after ms milliseconds from the worker's loop (one timer
 * per response). 0 ok, -1 on failure. The handler returns HANDLER_ASYNC.
 */
int resp_timer(resp_t *resp, uint32_t ms, resp_timer_cb cb, void *arg);

/* An async handler's response is ready: send it. */
void resp_finish(resp_t *resp);

/* Reason phrase for a status code ("Not Found"). */
const char *http_reason(int status);

#endif
