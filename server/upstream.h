/*
 * upstream: one [upstream NAME] as a worker sees it: its servers'
 * addresses and passive health, the choice of a server for a request
 * (round robin or least connections), non-blocking connects, and the
 * worker's pool of idle keep-alive connections to them. Written on
 * forkd.h alone, like any handler's helper.
 */
#ifndef FORKD_UPSTREAM_H
#define FORKD_UPSTREAM_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "config.h"
#include "forkd.h"
#include "scoreboard.h"

typedef struct upstream upstream_t;
typedef struct upstream_conn upstream_conn_t;

/* Called when the connection is ready for what it was watched for, or its timeout passed. */
typedef void (*upstream_event_fn)(upstream_conn_t *uc, short what, void *arg);

/*
 * A connection to an app server, in a request's hands or pooled. It has one
 * persistent event for its life: a request that takes it from the pool,
 * sends and reads, and gives it back changes only its timeout and callback,
 * so a reused connection costs no epoll_ctl() (nginx keeps its idle
 * upstream connections registered the same way).
 */
struct upstream_conn {
    upstream_t *u;
    int fd;
    int server;           /* its index in u->servers */
    short what;           /* EV_READ or EV_WRITE the event is added for, 0: not added */
    struct event ev;      /* persistent */
    upstream_event_fn fn; /* the request's, or the pool's while pooled */
    void *arg;
    LIST_ENTRY(upstream_conn) link; /* on the pool, while pooled */
};

LIST_HEAD(upstream_idle_list, upstream_conn);

typedef struct {
    const char *label; /* as written in servers = (borrowed from the config) */
    struct sockaddr_storage ss;
    socklen_t len;
    uint64_t down_until;  /* forkd_now_ms() until which it is skipped after a failure */
    uint32_t active;      /* requests of this worker on it now */
    uint32_t idle;        /* of this worker's pooled connections, those to it */
    uint64_t requests;    /* sent to it */
    uint64_t failures;    /* failed connects and answers */
    sb_upstream_t *board; /* its figures in the scoreboard for /status, or NULL */
} upstream_server_t;

struct upstream {
    const config_upstream_t *cfg; /* borrowed */
    upstream_server_t servers[CONFIG_MAX_UPSTREAM_SERVERS];
    int n;
    unsigned next;                  /* round robin: the server to try first next time */
    struct upstream_idle_list idle; /* pooled connections, most recently used first */
    uint32_t nidle;                 /* at most cfg->keepalive */
    forkd_server_t *srv;            /* the worker, known from its first request */
};

/*
 * Resolve cfg's servers (numeric, as config.c checked them) into u.
 * cfg is borrowed for u's life; so is board (cfg->nservers entries of the
 * worker's scoreboard row, where each server's figures are published; NULL:
 * none). 0 ok, -1 with err set (a path too long).
 */
int upstream_init(upstream_t *u, const config_upstream_t *cfg, sb_upstream_t *board, char *err,
                  size_t size);

/*
 * The server for a new request: the next one up in turn (round robin) or
 * the one up with the fewest active requests (least_conn), skipping those
 * in tried (a bit per server: already failed for this request). When all
 * untried ones are down, the one whose down time ends first (a guess
 * beats a sure 502). -1 when every server was tried.
 */
int upstream_pick(upstream_t *u, uint32_t tried);

/*
 * A pooled connection to server i that is still open (each is checked with
 * a non-blocking peek: a close or stray bytes from the app drop it), or
 * NULL when there is none. The caller owns it; its events go to fn(arg)
 * from now on. It may still be watched for reading with the pool's
 * timeout: upstream_watch() sets the caller's before it waits.
 */
upstream_conn_t *upstream_take_idle(upstream_t *u, int i, upstream_event_fn fn, void *arg);

/*
 * Start a non-blocking connect to server i, its events going to fn(arg).
 * Returns the connection (the connect may be in progress: watch it for
 * EV_WRITE, then upstream_connect_error()), or NULL with errno set when it
 * failed at once (ECONNREFUSED on a unix socket) or memory ran out.
 */
upstream_conn_t *upstream_connect(upstream_t *u, int i, upstream_event_fn fn, void *arg);

/* The error of a finished non-blocking connect on uc: 0 connected, else an errno. */
int upstream_connect_error(const upstream_conn_t *uc);

#define UPSTREAM_NO_TIMEOUT UINT32_MAX /* upstream_watch(): wait as long as it takes */

/*
 * Wait for what (EV_READ, EV_WRITE or both) on uc for at most ms
 * (UPSTREAM_NO_TIMEOUT: no limit). The same what as before only moves the
 * timeout. 0 ok, -1 failed.
 */
int upstream_watch(upstream_conn_t *uc, short what, uint32_t ms);

/* Stop waiting on uc (until upstream_watch()). */
void upstream_unwatch(upstream_conn_t *uc);

/* 1 when uc is being waited on for reading. */
int upstream_reading(const upstream_conn_t *uc);

/*
 * A request is done with uc: kept in the pool when reusable and there is
 * room (closed after keepalive_timeout idle, or as soon as the app closes
 * it or sends a stray byte), else closed. The pool takes uc either way.
 */
void upstream_release(upstream_conn_t *uc, int reusable);

/* Close uc (never pooled: its state is unknown) and free it. */
void upstream_close(upstream_conn_t *uc);

/* Free uc but keep its socket open: returns the fd, the caller's now (a tunnel). */
int upstream_detach(upstream_conn_t *uc);

/*
 * Server i failed (why: "connection refused", ...): skipped for fail_timeout,
 * logged when it was up (a dead app tried again while all are down is not
 * logged per request).
 */
void upstream_failed(upstream_t *u, int i, const char *why);

/* A request starts on server i (counted in its requests and active ones). */
void upstream_begin(upstream_t *u, int i);

/* A request is no longer on server i (its answer was read, or it failed). */
void upstream_end(upstream_t *u, int i);

/* An answer from server i failed (502, 504, cut short): counted in its failures. */
void upstream_count_failure(upstream_t *u, int i);

/* Close every pooled connection (the worker exits). */
void upstream_free(upstream_t *u);

#endif
