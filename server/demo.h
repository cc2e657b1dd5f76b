/*
 * demo: endpoints that show concurrency (sleep), parallelism (work) and
 * blocking code (block) at work.
 */
#ifndef FORKD_DEMO_H
#define FORKD_DEMO_H

#include <stdint.h>

#include "router.h"

#define DEMO_MAX_MS 10000

/* The demo handlers' context: their counts in this worker. */
typedef struct {
    uint64_t pending; /* sleeps and blocks not answered yet */
    uint64_t aborted; /* of them, ended without an answer (client gone, timeout, stop) */
} demo_t;

/*
 * Register /demo/sleep?ms=N (answers from a timer after N ms: many overlap
 * on one worker), /demo/work?ms=N (burns N ms of CPU in its worker),
 * /demo/block?ms=N (a blocking sleep of N ms: on the worker's thread pool,
 * or on its loop when [server] threads = 0) and /demo/echo (POST: the
 * request body back). An aborted sleep or block is logged at info, with
 * the counts. d is zeroed here and borrowed for the router's lifetime.
 * 0 ok, -1 when the router is full.
 */
int demo_register(router_t *r, demo_t *d);

#endif
