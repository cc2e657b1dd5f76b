/* tunnel: bytes both ways between a client and an app after a protocol switch. */
#include "tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUNNEL_BUF 16384 /* bytes read from one side before they are written to the other */

/* One direction: read src, write dst. */
typedef struct {
    int src, dst;
    struct event *readable; /* src */
    struct event *writable; /* dst */
    char *buf;
    size_t cap, off, len; /* buf[off..len) still to write */
    int eof;              /* src ended: dst's write end is shut once buf is out */
    int shut;
} dir_t;

struct tunnel {
    tunnel_set_t *set;
    tunnel_t *prev, *next;
    dir_t up;   /* client -> app */
    dir_t down; /* app -> client */
    struct event *idle;
    uint32_t idle_ms;
    int client, app;
};

static void on_io(evutil_socket_t fd, short what, void *arg);

static void dir_free(dir_t *d)
{
    if (d->readable != NULL) {
        event_free(d->readable);
    }
    if (d->writable != NULL) {
        event_free(d->writable);
    }
    free(d->buf);
}

/* Close both sockets, free everything; t is gone. */
static void tunnel_free(tunnel_t *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        t->set->first = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    t->set->n--;
    dir_free(&t->up);
    dir_free(&t->down);
    if (t->idle != NULL) {
        event_free(t->idle);
    }
    close(t->client);
    close(t->app);
    if (t->set->closed != NULL) {
        t->set->closed(t->set->closed_arg);
    }
    free(t);
}

/*
 * Move what src has to dst until one of them would block (its event is
 * armed then). Returns 1 when bytes moved, 0 when none did, -1 when a side
 * failed (reset, a write to a closed side).
 */
static int pump(dir_t *d)
{
    ssize_t n;
    int moved = 0;

    for (;;) {
        if (d->off < d->len) {
            n = send(d->dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return event_add(d->writable, NULL) == 0 ? moved : -1;
            }
            if (n < 0) {
                return -1;
            }
            d->off += (size_t)n;
            moved = 1;
            continue;
        }
        if (d->eof) {
            if (!d->shut) {
                shutdown(d->dst, SHUT_WR); /* the other side reads the end, as sent */
                d->shut = 1;
            }
            return moved;
        }
        n = recv(d->src, d->buf, d->cap, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return event_add(d->readable, NULL) == 0 ? moved : -1;
        }
        if (n < 0) {
            return -1;
        }
        d->eof = n == 0;
        d->off = 0;
        d->len = (size_t)n;
        moved = 1;
    }
}

/* Pump both ways; end the tunnel when a side failed or both ended; else restart the idle timer. */
static void step(tunnel_t *t)
{
    struct timeval tv = {(time_t)(t->idle_ms / 1000), (suseconds_t)(t->idle_ms % 1000) * 1000};
    int up = pump(&t->up), down = pump(&t->down);

    if (up < 0 || down < 0 || (t->up.shut && t->down.shut)) {
        tunnel_free(t);
        return;
    }
    if ((up > 0 || down > 0) && t->idle_ms > 0) {
        event_add(t->idle, &tv);
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

/* Nothing passed either way for idle_ms: both sides are closed. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tunnel_free(arg);
}

/* Set a direction up with its first bytes (a copy). 0 ok, -1 out of memory. */
static int dir_init(dir_t *d, tunnel_t *t, struct event_base *base, int src, int dst,
                    const char *first, size_t n)
{
    d->src = src;
    d->dst = dst;
    d->cap = n > TUNNEL_BUF ? n : TUNNEL_BUF;
    d->buf = malloc(d->cap);
    d->readable = event_new(base, src, EV_READ, on_io, t);
    d->writable = event_new(base, dst, EV_WRITE, on_io, t);
    if (d->buf == NULL || d->readable == NULL || d->writable == NULL) {
        return -1;
    }
    if (n > 0) {
        memcpy(d->buf, first, n);
    }
    d->len = n;
    return 0;
}

int tunnel_start(tunnel_set_t *set, struct event_base *base, int client, int app,
                 const char *to_client, size_t nc, const char *to_app, size_t na, uint32_t idle_ms)
{
    tunnel_t *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        close(client);
        close(app);
        return -1;
    }
    t->set = set;
    t->next = set->first;
    if (t->next != NULL) {
        t->next->prev = t;
    }
    set->first = t;
    set->n++;
    t->client = client;
    t->app = app;
    t->idle_ms = idle_ms;
    t->idle = evtimer_new(base, on_idle, t);
    if (t->idle == NULL || dir_init(&t->up, t, base, client, app, to_app, na) != 0
        || dir_init(&t->down, t, base, app, client, to_client, nc) != 0) {
        tunnel_free(t);
        return -1;
    }
    if (idle_ms > 0) {
        struct timeval tv = {(time_t)(idle_ms / 1000), (suseconds_t)(idle_ms % 1000) * 1000};
        event_add(t->idle, &tv);
    }
    step(t);
    return 0;
}

void tunnel_close_all(tunnel_set_t *set)
{
    set->closed = NULL;
    while (set->first != NULL) {
        tunnel_free(set->first);
    }
}
