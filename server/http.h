/*
 * http: behind forkd.h, the request and response as the server holds them,
 * and the response calls only the connection code makes. Handlers never
 * include this file: they see forkd.h.
 */
#ifndef FORKD_HTTP_H
#define FORKD_HTTP_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "forkd.h"
#include "http_parser.h"
#include "log.h"

#define RESP_XHDR_SIZE 1024 /* room for a handler's extra header lines, in the response */
/* more of them spill to a malloc'd area, up to this in all: a redirect to the longest
 * path (PATH_MAX, percent-encoded) with the longest query a 1 MiB head may carry */
#define RESP_XHDR_MAX (1024 * 1024 + 16384)
#define FORKD_REQ_XID_MAX 64 /* bytes of a request id taken from X-Request-Id */
#define RESP_GEN_SIZE 2048   /* built bodies up to this size need no malloc */
#define RESP_CTYPE_MAX 255   /* bytes of a Content-Type that is sent (a longer one is not) */
/*
 * What resp_head() writes at most: a status line of 9 + 11 + 1 + 31 bytes,
 * Server and Date (54), Content-Type (16 + RESP_CTYPE_MAX), Content-Length
 * (38), the handler's lines (RESP_XHDR_SIZE) and Connection with the empty
 * line (26): 1464 bytes, rounded up.
 */
#define RESP_HEAD_MAX 2048
#define RESP_BUSY_MAX 256 /* what resp_busy() writes at most */

/* How a response's body ends (its head says it). */
#define RESP_FRAME_LENGTH 0  /* Content-Length */
#define RESP_FRAME_CHUNKED 1 /* a streamed body, HTTP/1.1: Transfer-Encoding: chunked */
#define RESP_FRAME_CLOSE 2   /* a streamed body, HTTP/1.0: the connection's close */

typedef struct conn conn_t;
typedef struct forkd_req req_t;
typedef struct forkd_resp resp_t;

/* The worker as handlers see it (forkd_server_t). */
struct forkd_server {
    struct event_base *base;
    const log_t *log;
    struct conn_pool *conns; /* the connections it serves, for forkd_lookup(); NULL: none */
};

/* A parsed request; every slice points into the connection's input buffer. */
struct forkd_req {
    http_request_t h;
    const char *path; /* decoded, dot segments removed, NUL-terminated */
    size_t path_len;
    const char *body; /* the request body, for routes that take one; else NULL */
    size_t body_len;
    uint64_t id;
    const struct sockaddr *peer; /* the client: the connection's, or a trusted proxy's word */
    socklen_t peer_len;
    char xid[FORKD_REQ_XID_MAX + 1]; /* forkd_req_request_id(), "" until conn_client.c decides it */
    forkd_server_t *srv;
    forkd_abort_fn abort_cb; /* forkd_req_on_abort() */
    void *abort_arg;
    /* a pool = yes handler's copy, while its thread runs it: the job's flag; else NULL */
    const volatile int *cancelled;
};

/*
 * A response under construction. It lives in the connection's pooled buffer
 * block from the request's start until the response is sent.
 */
struct forkd_resp {
    int status;
    const char *content_type; /* borrowed until sent; NULL = none */
    int close;                /* force "Connection: close" */
    int64_t upstream_us;      /* forkd_resp_upstream_time(), -1 when not told */
    int64_t head_len;         /* forkd_resp_head_length(), -1 when not told */
    int tunnel_fd;            /* forkd_resp_tunnel(): the app's socket, -1 none */
    char *tunnel_early;       /* malloc'd: bytes for the client the app sent with its 101 */
    size_t tunnel_early_len;
    uint32_t tunnel_idle_ms;

    char xhdr[RESP_XHDR_SIZE]; /* extra "Name: value\r\n" lines */
    size_t xhdr_len;           /* of the lines, in xhdr[] or xbig */
    char *xbig;                /* malloc'd, xbig_cap bytes: the lines once past xhdr[] */
    size_t xbig_cap;

    /*
     * The body: lent memory (mem), a file (fd), else the text built in
     * gen[] (or big, once it outgrew gen[]), which resp_seal() points mem at.
     */
    const char *mem;
    size_t mem_len;
    int fd;       /* -1 if none */
    int fd_owned; /* the response closes fd when done */
    off_t file_off;
    uint64_t file_len;
    /*
     * forkd_resp_body_parts(): one malloc'd block, the parts then their
     * texts (mem points at those). mem_len and file_off/file_len describe
     * the texts up to and the range of parts[part], the piece being sent;
     * resp_next_part() moves on. parts_len: the whole body's length.
     */
    char *parts_block; /* NULL for any other body */
    const forkd_part_t *parts;
    size_t nparts, part;
    uint64_t parts_len;
    forkd_release_fn release; /* for lent memory or a borrowed fd, else NULL */
    void *release_arg;
    void *self;  /* the routed handler's context, for release */
    int no_body; /* 204/304 or HEAD: headers only (Content-Length still sent for HEAD) */
    int framing; /* RESP_FRAME_*: how the end of the body is told */

    char *big; /* malloc'd, big_cap bytes: built text past RESP_GEN_SIZE */
    size_t big_cap;
    char gen[RESP_GEN_SIZE];
    size_t gen_len; /* of the built text, in gen[] or big */

    struct event timer; /* for forkd_resp_timer() */
    forkd_timer_fn timer_cb;
    void *timer_arg;
    forkd_server_t *srv;
    conn_t *conn; /* for forkd_resp_finish() */
};

/* Make resp empty (no status, no headers, no body) for a new request on conn. */
void resp_reset(resp_t *resp, forkd_server_t *srv, conn_t *conn);

/*
 * Give back all the response holds: release lent memory or a borrowed fd,
 * close an owned fd, free the built text, cancel its timer. resp is empty
 * afterwards (resp_reset() before reuse).
 */
void resp_cleanup(resp_t *resp);

/* Cancel the response's forkd_resp_timer(), if one is set: its callback is never called. */
void resp_timer_stop(resp_t *resp);

/*
 * The response is filled in: seal it and write its head. The body sent is
 * the built text unless memory or a file was given, and none at all for
 * HEAD (head_request), 204 and 304; a status outside 100..599 (a handler
 * that set none) becomes a 500 page. The head goes into out (RESP_HEAD_MAX
 * bytes): the status line, Server, Date (date: HTTPDATE_LEN bytes of
 * IMF-fixdate), Content-Type, Content-Length (but for 1xx, 204, 304), the
 * handler's lines, Connection (keep-alive or close), the empty line.
 * Returns the head's length. No allocation, no printf: it runs for every
 * response.
 */
size_t resp_start(resp_t *resp, int head_request, const char *date, int keepalive, char *out);

/*
 * How many bytes resp_start() or resp_stream_start() may write for resp:
 * RESP_HEAD_MAX, or more when the handler's lines spilled past xhdr[] (a
 * long redirect, an app's many Set-Cookie or CSP lines).
 */
size_t resp_head_size(const resp_t *resp);

/*
 * A streamed response (forkd_resp_stream()) starts: its head into out
 * (RESP_HEAD_MAX bytes), as resp_start() writes it but with no
 * Content-Length: "Transfer-Encoding: chunked" unless http10 (the body then
 * ends with the connection, which keepalive 0 must say), and no body at
 * all for HEAD (head_request), 204 and 304 (resp->no_body set: writes are
 * dropped). A body set before is released, unsent; a status outside
 * 200..599 becomes 500 (a stream has no error page). Returns the head's length.
 */
size_t resp_stream_start(resp_t *resp, int head_request, int http10, const char *date,
                         int keepalive, char *out);

/*
 * The fixed 503 for a client refused for lack of memory, into out
 * (RESP_BUSY_MAX bytes), with date as in resp_head(). Returns its length.
 */
size_t resp_busy(const char *date, char *out);

/*
 * Move what src holds (status, headers, body, Content-Type) into dst, an
 * empty response of the same handler: src is left empty.
 */
void resp_move(resp_t *dst, resp_t *src);

/*
 * The piece of a forkd_resp_body_parts() body being sent is out: move on to
 * the next one (its text follows the texts sent so far in mem, so a count
 * of mem's bytes sent stays right; its range replaces file_off and
 * file_len). 1 when there was one, 0 at the end, for another body, or when
 * no body is sent (HEAD, 204, 304).
 */
int resp_next_part(resp_t *resp);

/* Reason phrase for a status code ("Not Found"); "Unknown" for one it does not know. */
const char *http_reason(int status);

#endif
