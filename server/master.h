/* master: open the listening sockets once, fork the workers, supervise them. */
#ifndef FORKD_MASTER_H
#define FORKD_MASTER_H

#include "config.h"
#include "log.h"

/*
 * Run the server in the foreground until TERM/INT (fast stop) or QUIT
 * (graceful stop). Returns the process exit status.
 */
int master_run(const config_t *cfg, log_t *log);

#endif
