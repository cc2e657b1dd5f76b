/* router: (method set, exact path or prefix) -> handler. */
#ifndef FORKD_ROUTER_H
#define FORKD_ROUTER_H

#include <stddef.h>

#include "http.h"

#define ROUTER_MAX 32

#define ROUTE_EXACT 0
#define ROUTE_PREFIX 1
#define ROUTE_TAKES_BODY 2 /* the body is read into req->body (else it is discarded) */

typedef struct {
    const char *path; /* static string */
    size_t len;
    int flags;        /* ROUTE_* */
    unsigned methods; /* HTTP_METHOD_BIT() set */
    handler_fn fn;
    void *ctx;
} route_t;

typedef struct {
    route_t routes[ROUTER_MAX];
    int n;
} router_t;

/* Register a route; path must outlive the router. 0 ok, -1 when full. */
int router_add(router_t *r, const char *path, int flags, unsigned methods, handler_fn fn,
               void *ctx);

/* The exact route for path, else the longest matching prefix route, else NULL. */
const route_t *router_match(const router_t *r, const char *path, size_t len);

/* Write the Allow header value for a method set ("GET, HEAD, OPTIONS"). */
void router_allow(unsigned methods, char *buf, size_t size);

#endif
