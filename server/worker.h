/* worker: one process's event loop, its listeners, pools and per-second state. */
#ifndef FORKD_WORKER_H
#define FORKD_WORKER_H

#include <event2/event.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "httpdate.h"
#include "log.h"
#include "mime.h"
#include "router.h"

typedef struct conn conn_t;
typedef struct conn_block conn_block_t;

typedef struct worker {
    int id; /* 0..workers-1 */
    const config_t *cfg;
    log_t *log;
    struct event_base *base;

    int listen_fds[CONFIG_MAX_LISTEN];
    struct event *listen_ev[CONFIG_MAX_LISTEN];
    int nlisten;
    int accept_paused; /* after EMFILE: listeners off until the retry timer */
    struct event *accept_retry;
    time_t last_emfile_log;

    accesslog_t alog;
    mime_table_t *mime;
    router_t router;
    int root_fd; /* O_PATH descriptor of [static] root */

    /* connections: every live one on a list (for shutdown), freed ones pooled */
    conn_t *conns;
    conn_t *free_conns;
    int nconns;
    int nfree_conns;
    conn_block_t *free_blocks;
    int nfree_blocks;
    size_t block_size; /* bytes of one conn_block_t with its arrays */

    /* Date header text, renewed once a second */
    time_t date_sec;
    char date[HTTPDATE_LEN + 1];
    char clf_date[32]; /* "28/Nov/2026:10:00:00 +0000" for the access log */

    struct event *sig_term, *sig_int, *sig_quit;
    struct event *flush_timer;
    int stopping; /* graceful stop: no new connections, close when idle */
} worker_t;

/*
 * Run worker id until it is told to stop: build its event loop (after fork),
 * accept on the inherited listening fds, serve. Returns the process exit code.
 */
int worker_run(const config_t *cfg, log_t *log, const int *listen_fds, int nlisten, int id);

/* Refresh w->date / w->clf_date if the second changed; cheap to call often. */
void worker_update_time(worker_t *w);

/* Called by the connection code when a connection goes away (for graceful stop). */
void worker_conn_closed(worker_t *w);

#endif
