/*
 * upstream: one [upstream NAME] as a worker sees it: its servers'
 * addresses and passive health, the choice of a server for a request
 * (round robin or least connections), non-blocking connects, and the
 * worker's pool of idle keep-alive connections to them. Written on
 * forkd.h alone, like any handler's helper.
 */
#ifndef FORKD_UPSTREAM_H
#define FORKD_UPSTREAM_H

#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "forkd.h"
#include "scoreboard.h"

typedef struct upstream_idle upstream_idle_t;

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

typedef struct upstream {
    const config_upstream_t *cfg; /* borrowed */
    upstream_server_t servers[CONFIG_MAX_UPSTREAM_SERVERS];
    int n;
    unsigned next;         /* round robin: the server to try first next time */
    upstream_idle_t *idle; /* pooled connections, most recently used first */
    uint32_t nidle;        /* at most cfg->keepalive */
    forkd_server_t *srv;   /* the worker, known from its first request */
} upstream_t;

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
 * a non-blocking peek: a close or stray bytes from the app drop it), or -1
 * when there is none. The caller owns the fd.
 */
int upstream_take_idle(upstream_t *u, int i);

/*
 * Start a non-blocking connect to server i. Returns the fd (the connect may
 * be in progress: wait for it to be writable, then upstream_connect_error()),
 * or -1 with errno set when it failed at once (ECONNREFUSED on a unix socket).
 */
int upstream_connect(upstream_t *u, int i);

/* The error of a finished non-blocking connect on fd: 0 connected, else an errno. */
int upstream_connect_error(int fd);

/*
 * A request is done with fd (to server i): kept in the pool when reusable
 * and there is room (closed after keepalive_timeout idle, or as soon as the
 * app closes it), else closed. The pool takes fd either way.
 */
void upstream_release(upstream_t *u, int i, int fd, int reusable);

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
