/*
 * proxy: the reverse proxy handler. [route PATH] upstream = NAME sends the
 * requests of PATH to the app servers of [upstream NAME] (gunicorn, ...):
 * the body read whole first, the request forwarded as HTTP/1.1 with
 * hop-by-hop headers dropped and X-Forwarded-* set, the answer streamed
 * back with backpressure; 502/504 when the app fails, with the reason in
 * the error log. Written on forkd.h alone, like any handler.
 */
#ifndef FORKD_PROXY_H
#define FORKD_PROXY_H

#include "config.h"
#include "router.h"
#include "upstream.h"

typedef struct proxy proxy_t;

/* What a proxied route's handler gets as self. */
typedef struct {
    proxy_t *p;
    upstream_t *u;
    int stream; /* body = stream: the request body goes to the app as it comes */
} proxy_route_t;

/* The proxy of one worker: every [upstream] of the config, and its routes' contexts. */
struct proxy {
    const config_t *cfg; /* borrowed */
    upstream_t ups[CONFIG_MAX_UPSTREAMS];
    proxy_route_t routes[CONFIG_MAX_ROUTES];
};

/*
 * Set up p for cfg's upstreams (cfg borrowed for p's life), their servers'
 * figures published in board (the worker's scoreboard row, borrowed; NULL:
 * none), in config order. 0 ok, -1 with err set.
 */
int proxy_init(proxy_t *p, const config_t *cfg, sb_upstream_t *board, char *err, size_t size);

/*
 * Route every [route] with upstream = to the proxy (body read whole, or
 * discarded with body = none). p must outlive the router. 0 ok, -1 full.
 */
int proxy_register(router_t *r, proxy_t *p);

/* Close the pooled connections (the worker exits, its requests ended). */
void proxy_fini(proxy_t *p);

#endif
