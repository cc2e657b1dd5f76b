/*
 * conn_internal: what the files of the connection code (conn.c and
 * conn_*.c) share, and only they include: the connection, its buffer block
 * and its pool, and the functions one of them calls in another. Handlers
 * see none of it: they have forkd.h.
 */
#ifndef FORKD_CONN_INTERNAL_H
#define FORKD_CONN_INTERNAL_H

#include "conn.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>

#include "http.h"
#include "http_parser.h"
#include "net.h"
#include "pending.h"
#include "timecache.h"
#include "tunnel.h"

#define MIN_RATE_GRACE_MS 5000  /* min_rate applies after this much of a body or response */
#define WAIT_FOREVER UINT64_MAX /* conn_wait_for(): no timeout */
/*
 * While a handler holds the request, the read event that brought it stays
 * (level-triggered: no epoll_ctl() on the way in or out of the handler);
 * it wakes on a FIN or a reset as on a pipelined request's bytes.
 * conn_check_client() tells them apart. Bytes that stay (a pipelined request)
 * would wake the loop for as long as the handler takes, so the first such
 * wake turns the event into this one: woken once by each change of the
 * socket (edge-triggered): more bytes, the client's FIN (EPOLLRDHUP), a
 * reset (EPOLLHUP/EPOLLERR, which libevent reports as read and write,
 * never as EV_CLOSED).
 */
#define CLIENT_GONE_EVENTS (EV_READ | EV_CLOSED | EV_ET)

typedef enum {
    CONN_IDLE,    /* between requests (or before the first): no buffers held */
    CONN_HEAD,    /* reading the request head */
    CONN_BODY,    /* reading (or discarding) the request body */
    CONN_HANDLER, /* an async handler has the request */
    CONN_SEND,    /* writing the response */
    CONN_STREAM,  /* writing a streamed response as its handler produces it */
    CONN_LINGER,  /* response sent, write side shut: draining input before close */
    CONN_CLOSE    /* to be closed and freed */
} conn_state_t;

typedef struct conn_block conn_block_t;
typedef struct job job_t;

/* A client address as accept() gives it (for a unix socket's client only its family). */
typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} conn_addr_t;

/*
 * The buffers a connection holds only while it works on a request: taken
 * from the pool on the first byte, given back when it goes idle.
 * headers[] (cfg max_headers entries), in[] and path[] follow the struct in
 * memory: one malloc per block.
 */
struct conn_block {
    conn_block_t *next_free;
    req_t req;
    resp_t resp;
    char out[RESP_HEAD_MAX]; /* head of the response */
    char *outp;              /* where it is: out[], or out_big for a head with many lines */
    char *out_big;           /* malloc'd, for the request's response only */
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
    const route_t *route;
    uint64_t start_us; /* the request's first byte came (monotonic µs; JSON log only) */
    /* the client a trusted proxy named in real_ip_header, when req.peer points here */
    conn_addr_t client;

    /*
     * An async handler's request. pending: it returned FORKD_ASYNC, the
     * request is in the pool's index and list until it is finished or ends
     * (handler_pending_end()). Outside a handler's request pending is 0 and jobs
     * empty.
     */
    uint8_t pending;
    uint8_t calling;        /* the handler is being called (handler_dispatch()) */
    uint8_t finished;       /* the handler answered (FORKD_DONE, forkd_resp_finish()) */
    uint64_t pending_since; /* ms: the handler returned FORKD_ASYNC */
    TAILQ_ENTRY(conn_block) pending_link; /* on the pool's pending list, oldest first */
    LIST_HEAD(, job) jobs;                /* its pool jobs whose done has not come yet */

    /*
     * A streamed response (forkd_resp_stream()): its head in out[], then the
     * body bytes the client has not taken yet, framed, in sbuf[s_off..s_len).
     * min_rate counts only while such bytes wait for the client (congested):
     * wait_ms of waiting, in which it took wait_bytes.
     */
    uint8_t streaming;
    uint8_t stream_ended; /* the last chunk is in sbuf (or the body just ends) */
    uint8_t congested;    /* waiting for the socket to take what sbuf holds */
    char *sbuf;           /* malloc'd, sbuf_cap bytes; NULL for a body-less stream */
    size_t sbuf_cap;      /* STREAM_MIN .. STREAM_CAP */
    size_t s_off, s_len;
    uint64_t stream_sent; /* body bytes written to the socket, framing included */
    uint64_t wait_since;  /* ms: the current wait for the socket began, 0: none */
    uint64_t wait_ms, wait_bytes;
    forkd_writable_fn writable_cb; /* forkd_resp_on_writable() */
    void *writable_arg;

    /*
     * A streamed request body (route body = stream): the handler runs after
     * the head; body_reading while the rest of the body is still to come.
     */
    uint8_t body_streamed; /* the handler was called at the head */
    uint8_t body_reading;
    /*
     * forkd_req_body_pause(): the handler cannot take more yet (its app is
     * slow). The client is then not read (its read event is off, so the
     * kernel's buffers fill and TCP holds the client back) and the paused
     * time is not the client's: on resume phase_start moves on by it, so
     * min_rate never cuts a client the handler held back.
     */
    uint8_t body_paused;
    uint64_t paused_at;    /* ms: the pause began */
    forkd_body_fn body_cb; /* forkd_req_on_body() */
    void *body_arg;

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
    conn_pool_t *pool;
    TAILQ_ENTRY(conn) link;      /* the pool's live list, or its list of free conn_t */
    TAILQ_ENTRY(conn) idle_link; /* the pool's idle keep-alive list, oldest first */
    conn_block_t *b;             /* NULL while idle */
    int fd;
    uint8_t state;
    short ev_what;       /* EV_READ or EV_WRITE as assigned to ev, 0 if unassigned */
    uint8_t keepalive;   /* this response keeps the connection */
    uint8_t idle_listed; /* on the pool's idle keep-alive list */
    uint32_t requests;
    uint64_t linger_deadline;
    uint8_t proxy_wait; /* on a proxy_protocol listener: the PROXY header comes first */
    /*
     * The client's address: the socket's peer, or the client a PROXY header
     * named. direct: the socket's peer always (the balancer, behind one).
     */
    conn_addr_t peer;
    socklen_t peer_len;
    conn_addr_t direct;
};

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(block_list, conn_block);

/* Every live connection on a list (for shutdown); freed ones and their blocks kept for reuse. */
struct conn_pool {
    conn_env_t env;
    struct conn_list conns; /* live connections */
    struct conn_list idle;  /* idle keep-alive connections, oldest first */
    struct conn_list free_conns;
    int nconns;
    int nidle;
    int nfree_conns;
    conn_block_t *free_blocks;
    int nfree_blocks;
    size_t block_size; /* bytes of one conn_block_t with its arrays */
    int stopping;      /* conn_stop(): close each connection after its response */
    int closing;       /* conn_keepalive_off(): no keep-alive, new clients still served */
    uint64_t req_ids;  /* the last request id given */
    timecache_t time;  /* the Date header and the access log's time */
    forkd_server_t own_srv;
    forkd_server_t *srv;       /* env.srv, or own_srv */
    pending_t index;           /* request id -> conn_t, for pending requests */
    struct block_list pending; /* pending requests, oldest first */
    /* [server] proxy_from and [http] real_ip_from, parsed */
    net_cidr_t proxy_from[NET_MAX_CIDRS];
    int nproxy_from;
    net_cidr_t real_ip_from[NET_MAX_CIDRS];
    int nreal_ip_from;
    time_t untrusted_logged;  /* the second of the last "not in proxy_from" line */
    uint64_t fault_logged;    /* the second of the last conn_fault() line at info */
    uint64_t fault_quiet;     /* client faults not logged since */
    uint64_t untrusted_quiet; /* refusals not logged since */
    tunnel_set_t tunnels;     /* connections handed over after a 101 (forkd_resp_tunnel()) */
    char id_prefix[17]; /* made request ids: this worker's start time and pid, 16 hex digits */
};

/*
 * conn.c: the state machine and its I/O. Each function's contract is
 * written above its definition.
 */
__attribute__((format(printf, 2, 3))) void conn_fault(struct conn_pool *p, const char *fmt, ...);
void conn_run(conn_t *c);
void conn_wait_for(conn_t *c, short what, uint64_t ms);
void conn_stop_waiting(conn_t *c);
void conn_abort(conn_t *c);
void conn_check_client(conn_t *c);
void conn_start_linger(conn_t *c);
void conn_start_response(conn_t *c);
void conn_start_error(conn_t *c, int status);
void conn_request_next(conn_t *c);
int conn_keep_alive(conn_t *c);
char *conn_head_buffer(conn_block_t *b);
void conn_access_log(conn_t *c, uint64_t body_bytes);
void conn_scoreboard_rest(conn_pool_t *p);
const char *conn_header_value(const http_request_t *h, const char *name, size_t *len);

/* conn_stream.c: a streamed response (forkd_resp_stream()). */
void stream_last(conn_block_t *b);
int stream_flush(conn_t *c);
uint64_t stream_wait(conn_t *c);
int stream_writable_due(const conn_block_t *b);
void stream_cut(conn_t *c, int reset);
void stream_event(conn_t *c, short what);

/* conn_body.c: the request body, kept or streamed to the handler. */
int body_unread(const conn_block_t *b);
int body_take(conn_t *c);
void body_send_continue(conn_t *c);
void body_begin_streamed(conn_t *c);
void body_resume(conn_t *c);
int body_hold(conn_t *c);

/* conn_handler.c: calling the handler; the async handler's pending request and pool jobs. */
void handler_dispatch(conn_t *c);
void handler_pending_end(conn_t *c, int why);
void handler_done(conn_t *c);
void handler_timed_out(conn_t *c);

/* conn_client.c: who the client is: trusted lists, the PROXY header, real_ip, request ids. */
void client_parse_trusted(conn_pool_t *p);
int client_addr_in(const conn_addr_t *a, const net_cidr_t *list, int n);
void client_proxy_refused(conn_pool_t *p, const conn_addr_t *direct, const char *why,
                          const char *bytes, size_t len, int untrusted);
ssize_t client_take_proxy_header(conn_t *c);
void client_find(conn_t *c);
const char *client_request_id(conn_t *c);

/* conn_tunnel.c: the hand-over after a 101 (forkd_resp_tunnel()). */
void conn_hand_over(conn_t *c);

#endif
