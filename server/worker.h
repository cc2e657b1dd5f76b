/* worker: one process's event loop, its listeners, pools and per-second state. */
#ifndef FORKD_WORKER_H
#define FORKD_WORKER_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/queue.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "httpdate.h"
#include "log.h"
#include "net.h"
#include "preflight.h"
#include "router.h"
#include "scoreboard.h"
#include "static.h"
#include "status.h"

typedef struct conn conn_t;
typedef struct conn_block conn_block_t;

/* What the master hands a new worker. */
typedef struct {
    const config_t *cfg;
    log_t *log;
    const int *listen_fds;
    int nlisten;
    scoreboard_t *sb;
    int slot; /* scoreboard slot */
    pid_t master_pid;
    const run_as_t *as; /* the user to become before opening anything */
} worker_args_t;

/*
 * Worker exit status: its setup failed (logged). Before the first generation
 * served, the start failed; later it is retried with the crash-loop backoff.
 */
#define WORKER_EXIT_SETUP 2

typedef struct worker {
    const config_t *cfg;
    const worker_args_t *args;
    scoreboard_t *sb;
    sb_slot_t *slot; /* this worker's scoreboard slot */
    log_t *log;
    struct event_base *base;

    int listen_fds[CONFIG_MAX_LISTEN];
    struct event *listen_ev[CONFIG_MAX_LISTEN];
    int nlisten;
    int accept_paused;   /* after EMFILE: listeners off until the retry timer */
    int accept_full;     /* at max_connections: listeners off until one closes */
    int accept_yielding; /* over its share: listeners off until spread_timer */
    struct event *accept_retry;
    struct event *spread_timer;
    uint64_t yield_accepted; /* siblings' accept count when this worker yielded */
    int yield_stalls;        /* yields in a row that no sibling used */
    time_t last_emfile_log;
    time_t last_full_log;
    /* out of memory for new connections: counted, logged at most once a second */
    uint64_t nomem_logged_ms; /* monotonic ms of the last line */
    uint32_t nomem_fails;     /* allocations failed since that line */
    uint32_t nomem_closed;    /* of them, connections closed */
    size_t nomem_size;        /* bytes of the last one */

    accesslog_t alog;
    forkd_server_t srv; /* what handlers see of this worker */
    uint64_t req_ids;   /* the last request id given */
    router_t router;
    static_t files;  /* the static handler's context */
    status_t status; /* the status handlers' context */

    /* connections: every live one on a list (for shutdown), freed ones pooled */
    TAILQ_HEAD(conn_list, conn) conns; /* live connections */
    struct conn_list idle;             /* idle keep-alive connections, oldest first */
    struct conn_list free_conns;
    int nconns;
    int nfree_conns;
    conn_block_t *free_blocks;
    int nfree_blocks;
    size_t block_size; /* bytes of one conn_block_t with its arrays */

    /* Date header text, renewed once a second */
    time_t date_sec;
    char date[HTTPDATE_LEN + 1];
    char clf_date[32]; /* "28/Nov/2026:10:00:00 +0000" for the access log */

    struct event *sig_term, *sig_int, *sig_quit, *sig_usr1;
    struct event *tick;        /* once a second: heartbeat, access log flush */
    struct event *drain_timer; /* graceful stop: idle grace, then the hard deadline */
    int stopping;              /* no new connections; close each after its response */
    uint64_t drain_deadline;   /* ms: give up on in-flight requests */
} worker_t;

/*
 * Run a worker until it is told to stop: build its event loop (after fork),
 * accept on the inherited listening fds, serve. Returns the process exit
 * status (0, or WORKER_EXIT_SETUP when it could not set up).
 */
int worker_run(const worker_args_t *args);

/*
 * The serving half of a worker's setup, without listeners, signals or
 * timers: event base, access log, the handlers' contexts and routes.
 * The caller has set w->cfg, w->log, w->args, w->sb and w->slot, and
 * w->files.root_fd = -1. 0 ok, -1 logged. (The connection fuzzer uses it too.)
 */
int worker_init_serving(worker_t *w);

/* Refresh w->date / w->clf_date if the second changed; cheap to call often. */
void worker_update_time(worker_t *w);

/*
 * After max_connections paused accepting: resume once a connection closed or
 * went idle (an idle one can make room). Cheap; called by the connection code.
 */
void worker_check_accept(worker_t *w);

/* Called by the connection code when a connection goes away (for graceful stop). */
void worker_conn_closed(worker_t *w);

/*
 * The connection code could not allocate `size` bytes for a connection
 * (closed: 1 if that closed an accepted client, 0 if none was taken yet).
 * The worker stops accepting for a second, so its siblings take the new
 * clients, and logs the failures at most once a second with their count.
 */
void worker_out_of_memory(worker_t *w, size_t size, int closed);

#endif
