/*
 * tunnel: a client's connection after a 101 (Switching Protocols), joined
 * to the app's: bytes pass both ways unread until both sides closed, either
 * fails, or nothing passes for the idle time. A half-close is passed on
 * (the other side's write end is shut once what it was sent is out). Knows
 * nothing of HTTP: conn_tunnel.c hands it the two sockets and what each side was
 * already sent.
 */
#ifndef FORKD_TUNNEL_H
#define FORKD_TUNNEL_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tunnel tunnel_t;

/*
 * A worker's live tunnels: counted among its connections (max_connections,
 * /status, a graceful stop waits for them), closed all when it exits.
 */
typedef struct {
    tunnel_t *first;
    int n;
    void (*closed)(void *arg); /* a tunnel ended (n is one less), or NULL */
    void *closed_arg;
} tunnel_set_t;

/*
 * Join client and app (non-blocking sockets, both owned by the tunnel from
 * here on, closed by it, also when this fails) on base. to_client[0..nc)
 * and to_app[0..na) go out first (copied: bytes already read from the
 * other side). idle_ms: both directions quiet this long ends it (0: never).
 * 0 ok, -1 out of memory (both sockets closed).
 */
int tunnel_start(tunnel_set_t *set, struct event_base *base, int client, int app,
                 const char *to_client, size_t nc, const char *to_app, size_t na, uint32_t idle_ms);

/* End every tunnel of set (the worker exits: closed is not called). */
void tunnel_close_all(tunnel_set_t *set);

#endif
