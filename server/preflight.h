/* preflight: what a start with a config will need, checked before it is used. */
#ifndef FORKD_PREFLIGHT_H
#define FORKD_PREFLIGHT_H

#include <sys/types.h>

#include "config.h"

/* Who the workers run as. */
typedef struct {
    int drop;      /* 1: the master is root and [server] user is set: workers switch */
    uid_t uid;     /* the user's (or, when not dropping, our own) */
    gid_t gid;     /* [server] group's, else the user's primary group */
    char user[64]; /* for initgroups(); "" when not dropping */
} run_as_t;

/*
 * Resolve [server] user and group, then check that everything a start (or a
 * reload) with cfg opens can be opened by the process that will open it:
 * the pid file's directory and the error log by the master (us); the access
 * log and the docroot by the workers, after they drop to the user (checked
 * in a child that drops too). Log files must not be symbolic links, FIFOs or
 * hard links. The [module]s are test-loaded in that child (or in one of
 * our own user when not dropping): dlopen, ABI, every [route]'s function,
 * init and fini, within 10 s, so that no worker ever gets a module that
 * fails. Nothing else is created or changed (but what a module's init
 * does). `forkd -t`, the start and every reload call it, so "-t passes"
 * means "the start will get this far".
 * Returns 0 with *as filled, or -1 with err = "file:line: reason".
 */
int preflight_check(const config_t *cfg, run_as_t *as, char err[CONFIG_ERR_LEN]);

#endif
