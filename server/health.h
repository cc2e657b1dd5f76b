/*
 * health: the URL a load balancer or a Kubernetes readiness probe polls
 * ([health] path): 200 while this instance takes new clients, 503 once it
 * drains (QUIT, or TERM with [server] term = graceful).
 */
#ifndef FORKD_HEALTH_H
#define FORKD_HEALTH_H

#include "router.h"

/*
 * The health handler's own context. draining is its only input: the worker
 * sets it when the service starts to drain (it never goes back to 0 in a
 * worker's life; a reload is not a drain).
 */
typedef struct {
    int draining;
} health_t;

/*
 * Route GET and HEAD of path (borrowed, like h, for the router's lifetime)
 * to the health answer; logged: its requests go to the access log (off by
 * default: a balancer polls it every second or two). h->draining starts 0.
 * 0 ok, -1 when the router is full.
 */
int health_register(router_t *r, health_t *h, const char *path, int logged);

#endif
