/*
 * poolroute: [route] pool = yes, a handler that is called on the worker's
 * thread pool instead of its loop: blocking code written as plainly as a
 * CGI script, while the loop serves everyone else.
 */
#ifndef FORKD_POOLROUTE_H
#define FORKD_POOLROUTE_H

#include "forkd.h"

/* A route's real handler and its self; what poolroute_handler() gets as its self. */
typedef struct {
    forkd_handler_fn fn;
    void *self;
} poolroute_t;

/*
 * The handler routed for a pool = yes route, with a poolroute_t as self: it
 * copies the request (head, decoded path, body, peer) and hands the call of
 * route->fn to forkd_pool_submit(); the thread fills a response of its own,
 * which is moved into the real one and sent once back on the loop. The
 * copy is what makes it safe: the real request may end meanwhile (client
 * gone, handler_timeout, stop) and its memory serve the connection's next
 * request while the thread still reads its copy; the thread's answer is
 * then dropped (released on the loop). Returns FORKD_ASYNC, or FORKD_DONE
 * with a 500 (out of memory) or 503 (the worker stops).
 */
int poolroute_handler(forkd_req_t *req, forkd_resp_t *resp, void *self);

#endif
