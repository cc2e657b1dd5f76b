/*
 * conn: client connections, each a state machine (read, parse, body,
 * handler, send, close), and the pool that owns them: the live ones, the
 * idle keep-alive ones, and the freed memory kept for the next ones.
 */
#ifndef FORKD_CONN_H
#define FORKD_CONN_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "scoreboard.h"

typedef struct conn_pool conn_pool_t;

/*
 * What a pool's owner (the worker) gives it: all borrowed for the pool's
 * lifetime. The callbacks are how the pool tells its owner about changes:
 * each gets owner, and may run from the loop or from inside the pool calls
 * below (a client may be answered and gone within conn_accept()).
 */
typedef struct {
    struct event_base *base;
    const config_t *cfg;
    const log_t *log;
    accesslog_t *alog;
    const router_t *router;
    sb_slot_t *slot; /* the worker's scoreboard slot: counters, state, current request */
    /*
     * The thread pool of forkd_pool_submit(), NULL for none (it fails). The
     * owner frees it (pool_free()) after conn_close_all() and before
     * conn_pool_free(): the jobs' completions still look requests up.
     */
    pool_t *jobs;
    /*
     * The worker as handlers see it, if the owner has one for them already
     * (its base and log set; the pool sets its conns): handlers that kept it
     * from elsewhere (a module's init) then reach these connections. NULL:
     * the pool makes its own.
     */
    forkd_server_t *srv;
    void *owner;
    /* A connection closed (conn_count() is already the new number); also from conn_close_*(). */
    void (*closed)(void *owner);
    /* A connection went idle between requests: at max_connections it can make room. */
    void (*idle)(void *owner);
    /*
     * size bytes could not be allocated for a connection. closed: 1 when a
     * client was closed for it, 0 when none had been taken yet (conn_reserve()).
     */
    void (*out_of_memory)(void *owner, size_t size, int closed);
} conn_env_t;

/* A pool serving with env (copied; what it points to is borrowed). NULL: out of memory. */
conn_pool_t *conn_pool_new(const conn_env_t *env);

/* Close every connection (conn_close_all()) and free the pool. NULL is a no-op. */
void conn_pool_free(conn_pool_t *p);

/*
 * Make sure the pool holds what the next accepted client needs (a conn_t
 * and a buffer block), so a worker out of memory finds out before it takes
 * a client, not after. 0 ready; -1 out of memory, told to out_of_memory():
 * accept nothing now.
 */
int conn_reserve(conn_pool_t *p);

/*
 * Take over an accepted socket (non-blocking) and start serving it. Out of
 * memory, the client gets a fixed 503 and a gentle close (never a reset).
 * proxy: it came on a proxy_protocol listener: a peer outside [server]
 * proxy_from is closed at once, and the PROXY header is read first.
 */
void conn_accept(conn_pool_t *p, int fd, const struct sockaddr_storage *peer, int proxy);

/*
 * Graceful stop: from now on each connection closes after its response and
 * idle ones close instead of waiting (see also conn_close_idle()).
 */
void conn_stop(conn_pool_t *p);

/*
 * The service drains ([server] drain_delay): from now on every response
 * carries "Connection: close" (a client, or a balancer's pooled connection,
 * goes elsewhere for its next request), while new connections are still
 * served and idle ones are left alone.
 */
void conn_keepalive_off(conn_pool_t *p);

/*
 * Close idle connections now (graceful stop), and lingering ones whose
 * answers are all acknowledged; busy ones close after their response.
 */
void conn_close_idle(conn_pool_t *p);

/* Close the oldest idle keep-alive connection; 0 done, -1 when there is none. */
int conn_close_oldest_idle(conn_pool_t *p);

/* Close every connection and free the memory kept for new ones (worker exit). */
void conn_close_all(conn_pool_t *p);

/* Connections open (accepted and not yet closed), WebSocket tunnels included. */
int conn_count(const conn_pool_t *p);

/* Of them, idle keep-alive connections waiting for a next request. */
int conn_idle_count(const conn_pool_t *p);

#endif
