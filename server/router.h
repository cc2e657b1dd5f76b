/* router: (method set, exact path or prefix) -> handler. */
#ifndef FORKD_ROUTER_H
#define FORKD_ROUTER_H

#include <stddef.h>

#include "config.h"
#include "forkd.h"
#include "http_parser.h"

/* every [route] of a config, and room for the built-in handlers' own */
#define ROUTER_MAX (CONFIG_MAX_ROUTES + 16)

#define ROUTE_EXACT 0
#define ROUTE_PREFIX 1
#define ROUTE_TAKES_BODY 2  /* the body is kept for forkd_req_body() (else it is discarded) */
#define ROUTE_BODY_STREAM 4 /* [route] body = stream: the body in pieces (phase C) */
#define ROUTE_NO_LOG 8      /* no access log line (the health URL a balancer polls) */

typedef struct {
    const char *path; /* borrowed for the router's lifetime */
    size_t len;
    int flags;        /* ROUTE_* */
    unsigned methods; /* HTTP_METHOD_BIT() set */
    forkd_handler_fn fn;
    void *self; /* the handler's own context, borrowed for the router's lifetime */
} route_t;

typedef struct {
    route_t routes[ROUTER_MAX];
    int n;
} router_t;

/*
 * Route path (exact, or a prefix with ROUTE_PREFIX) for the methods in the
 * set to fn, called with self. path and self are borrowed: they must outlive
 * the router. Of two routes with the same path, the first added wins.
 * 0 ok, -1 when full.
 */
int router_add(router_t *r, const char *path, int flags, unsigned methods, forkd_handler_fn fn,
               void *self);

/* The exact route for path, else the longest matching prefix route, else NULL. */
const route_t *router_match(const router_t *r, const char *path, size_t len);

/* Write the Allow header value for a method set ("GET, HEAD, OPTIONS"). */
void router_allow(unsigned methods, char *buf, size_t size);

#endif
