/* status: the scoreboard as JSON ([status] path) and Prometheus text (metrics_path). */
#ifndef FORKD_STATUS_H
#define FORKD_STATUS_H

#include "router.h"

/* Register both routes; ctx is the worker. 0 ok, -1 when the router is full. */
int status_register(router_t *r, void *worker);

#endif
