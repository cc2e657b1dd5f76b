/* conn_tunnel: a connection that leaves HTTP after a 101, handed over to a tunnel to the app. */
#include "conn_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * The 101 of forkd_resp_tunnel() is out: the socket leaves HTTP for a
 * tunnel to the app, with what each side sent past the switch (the client's
 * bytes after its request, the app's after its 101). The conn_t goes as if
 * closed, its socket kept open by the tunnel.
 */
void conn_hand_over(conn_t *c)
{
    conn_block_t *b = c->b;
    resp_t *resp = &b->resp;
    int app = resp->tunnel_fd;

    resp->tunnel_fd = -1;
    if (tunnel_start(&c->pool->tunnels, c->pool->env.base, c->fd, app, resp->tunnel_early,
                     resp->tunnel_early_len, b->in + b->in_off, b->in_len - b->in_off,
                     resp->tunnel_idle_ms)
        != 0) {
        log_msg(c->pool->env.log, LOG_LVL_ERROR, "out of memory for a tunnel: closed");
    }
    c->fd = -1; /* the tunnel's now (or closed by it) */
    c->state = CONN_CLOSE;
}

int forkd_resp_tunnel(forkd_resp_t *resp, int fd, const void *early, size_t len, uint32_t idle_ms)
{
    conn_t *c = resp->conn;
    conn_block_t *b;
    size_t n;

    if (c == NULL || resp->status != 101 || resp->tunnel_fd >= 0 || fd < 0) {
        return -1;
    }
    b = c->b;
    if (b->streaming || b->req.h.version_minor == 0 || body_unread(b)
        || b->req.h.body_kind != HTTP_BODY_NONE
        || conn_header_value(&b->req.h, "upgrade", &n) == NULL) {
        return -1;
    }
    if (len > 0 && (resp->tunnel_early = malloc(len)) == NULL) {
        return -1;
    }
    if (len > 0) {
        memcpy(resp->tunnel_early, early, len);
    }
    resp->tunnel_early_len = len;
    resp->tunnel_fd = fd;
    resp->tunnel_idle_ms = idle_ms;
    return 0;
}
