/* master: open the listening sockets once, fork the workers, supervise them. */
#ifndef FORKD_MASTER_H
#define FORKD_MASTER_H

#include <sys/types.h>

#include "config.h"
#include "log.h"
#include "preflight.h"

/*
 * Run the server in the foreground until TERM/INT (fast stop) or QUIT
 * (graceful stop); HUP reloads cfg->path; USR2 runs argv again as a new
 * master that inherits the sockets. cfg has passed preflight_check(), which
 * filled as. Takes ownership of cfg (malloc'd). Returns the process exit
 * status: 0, or 1 when it could not start.
 */
int master_run(config_t *cfg, const run_as_t *as, log_t *log, char *const *argv);

/* How a reload asked for with master_request_reload() ended. */
#define MASTER_RELOAD_OK 0      /* the new generation serves */
#define MASTER_RELOAD_REFUSED 1 /* the config (or a check of it) failed: the old one serves on */
#define MASTER_RELOAD_FAILED 2  /* the new workers could not start: the old ones serve on */

/*
 * forkd -s reload: send HUP to the master at pid (sigqueue(), so it knows to
 * answer) and wait up to timeout_ms for its answer, a signal back once the
 * reload has settled. Returns a MASTER_RELOAD_* value, or -1 with errno set
 * (the signal could not be sent, or EAGAIN: no answer in time).
 */
int master_request_reload(pid_t pid, int timeout_ms);

#endif
