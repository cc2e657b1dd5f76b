/* master: open the listening sockets once, fork the workers, supervise them. */
#ifndef FORKD_MASTER_H
#define FORKD_MASTER_H

#include <sys/types.h>

#include "config.h"
#include "log.h"

/*
 * Run the server in the foreground until TERM/INT (fast stop) or QUIT
 * (graceful stop); HUP reloads cfg_path; USR2 runs argv again as a new
 * master that inherits the sockets. Takes ownership of cfg (malloc'd).
 * Returns the process exit status.
 */
int master_run(config_t *cfg, const char *cfg_path, log_t *log, char *const *argv);

/* The pid in a pid file, or -1 when it is missing or unreadable. */
pid_t master_read_pid(const char *path);

#endif
