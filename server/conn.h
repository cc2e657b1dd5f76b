/* conn: one client connection's state machine (read, parse, body, handler, send, close). */
#ifndef FORKD_CONN_H
#define FORKD_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "http.h"
#include "http_parser.h"
#include "worker.h"

#define CONN_OUT_SIZE 2048 /* status line and header lines of one response */
#define CONN_IN_SLACK 1024 /* input room past max_header_size for body bytes */

typedef enum {
    CONN_IDLE,    /* between requests (or before the first): no buffers held */
    CONN_HEAD,    /* reading the request head */
    CONN_BODY,    /* reading (or discarding) the request body */
    CONN_HANDLER, /* an async handler has the request */
    CONN_SEND,    /* writing the response */
    CONN_LINGER,  /* response sent, write side shut: draining input before close */
    CONN_CLOSE    /* to be closed and freed */
} conn_state_t;

/*
 * The buffers a connection holds only while it works on a request: taken
 * from the worker's pool on the first byte, given back when it goes idle.
 * headers[] (cfg max_headers entries), in[] and path[] follow the struct in
 * memory: one malloc per block.
 */
struct conn_block {
    conn_block_t *next_free;
    req_t req;
    resp_t resp;
    char out[CONN_OUT_SIZE]; /* head of the response */
    size_t out_len;
    size_t out_sent; /* of out */
    size_t mem_sent; /* of resp.mem */
    uint64_t file_sent;

    uint64_t deadline;    /* ms (monotonic) the current head must be complete by */
    uint64_t phase_start; /* ms: the body read or the response write began (min_rate) */
    uint64_t body_bytes;  /* raw body bytes taken so far */
    uint64_t body_left;   /* Content-Length bytes still to read */
    http_chunked_t chunked;
    int body_done; /* the chunked body has been read to its end */
    char *body;    /* kept body (ROUTE_TAKES_BODY), malloc'd */
    size_t body_len, body_cap;
    int keep_body;
    int pending_status; /* error decided before the body was read, 0 if none */
    const void *route;

    size_t in_len; /* bytes in in[] */
    size_t in_off; /* bytes of in[] consumed */
    size_t head_len;
    size_t parsed_len; /* in_len when the parser last said "need more" */
    http_header_t *headers;
    char *in;
    size_t in_cap;
    char *path; /* the decoded request path: max_header_size + 1 bytes */
};

struct conn {
    struct event ev; /* the one I/O event (read or write, with timeout) */
    worker_t *w;
    TAILQ_ENTRY(conn) link;      /* the worker's live list, or its pool of free conn_t */
    TAILQ_ENTRY(conn) idle_link; /* the worker's idle keep-alive list, oldest first */
    conn_block_t *b;             /* NULL while idle */
    int fd;
    uint8_t state;
    short ev_what;       /* EV_READ or EV_WRITE as assigned to ev, 0 if unassigned */
    uint8_t keepalive;   /* this response keeps the connection */
    uint8_t idle_listed; /* on the worker's idle keep-alive list */
    uint32_t requests;
    uint64_t linger_deadline;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer; /* the client's address; for a unix socket's client only its family */
    socklen_t peer_len;
};

/*
 * Make sure the pools hold what the next accepted client needs (a conn_t and
 * a buffer block), so a worker out of memory finds out before it takes a
 * client, not after. 0 ready; -1 out of memory, told to worker_out_of_memory():
 * accept nothing now.
 */
int conn_reserve(worker_t *w);

/*
 * Take over an accepted socket (non-blocking) and start serving it. Out of
 * memory, the client gets a fixed 503 and a gentle close (never a reset).
 */
void conn_accept(worker_t *w, int fd, const struct sockaddr_storage *peer);

/*
 * Close idle connections now (graceful stop), and lingering ones whose
 * answers are all acknowledged; busy ones close after their response.
 */
void conn_close_idle(worker_t *w);

/* Close the oldest idle keep-alive connection; 0 done, -1 when there is none. */
int conn_close_oldest_idle(worker_t *w);

/* Close every connection and free all pooled memory (worker exit). */
void conn_close_all(worker_t *w);

/* Bytes of one pooled block for this configuration. */
size_t conn_block_size(const config_t *cfg);

/* Milliseconds of a monotonic clock (coarse: good to a few ms). */
uint64_t conn_now_ms(void);

#endif
