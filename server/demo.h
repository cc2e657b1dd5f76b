/* demo: endpoints that show concurrency (sleep) and parallelism (work) at work. */
#ifndef FORKD_DEMO_H
#define FORKD_DEMO_H

#include "router.h"

#define DEMO_MAX_MS 10000

/*
 * Register /demo/sleep?ms=N (answers from a timer after N ms: many overlap
 * on one worker), /demo/work?ms=N (burns N ms of CPU in its worker) and
 * /demo/echo (POST: the request body back). They need no context.
 * 0 ok, -1 when the router is full.
 */
int demo_register(router_t *r);

#endif
