/* worker: one process's event loop, its listeners, pools and per-second state. */
#ifndef FORKD_WORKER_H
#define FORKD_WORKER_H

#include <sys/types.h>

#include "config.h"
#include "log.h"
#include "preflight.h"
#include "scoreboard.h"

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

/*
 * Run a worker until it is told to stop: build its event loop (after fork),
 * accept on the inherited listening fds, serve. Returns the process exit
 * status (0, or WORKER_EXIT_SETUP when it could not set up).
 */
int worker_run(const worker_args_t *args);

#endif
