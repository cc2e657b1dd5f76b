/* upstream: an [upstream]'s servers, passive health, balancing, connects and idle pool. */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

/*
 * Server i's figures into the scoreboard: every change is written at once
 * (a few relaxed stores), so /status in any worker reads them current.
 */
static void publish(const upstream_t *u, int i)
{
    const upstream_server_t *s = &u->servers[i];

    if (s->board == NULL) {
        return;
    }
    SB_SET(s->board->active, (uint64_t)s->active);
    SB_SET(s->board->idle, (uint64_t)s->idle);
    SB_SET(s->board->requests, s->requests);
    SB_SET(s->board->failures, s->failures);
    SB_SET(s->board->down_until, (int64_t)s->down_until);
}

/* The socket address of a server the config resolved from its name. */
static void resolved(const config_addr_t *r, upstream_server_t *s)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)&s->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s->ss;

    memset(&s->ss, 0, sizeof(s->ss));
    if (r->family == AF_INET6) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(r->port);
        memcpy(&in6->sin6_addr, r->addr, 16);
        s->len = sizeof(*in6);
    } else {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(r->port);
        memcpy(&in4->sin_addr, r->addr, 4);
        s->len = sizeof(*in4);
    }
}

int upstream_init(upstream_t *u, const config_upstream_t *cfg, sb_upstream_t *board, char *err,
                  size_t size)
{
    char nerr[NET_ERR_LEN];
    net_addr_t a;
    struct sockaddr_un *un;
    int i;

    memset(u, 0, sizeof(*u));
    LIST_INIT(&u->idle);
    u->cfg = cfg;
    for (i = 0; i < cfg->nservers; i++) {
        upstream_server_t *s = &u->servers[i];
        s->label = cfg->servers[i];
        s->board = board != NULL ? &board[i] : NULL;
        if (strncmp(s->label, "unix:", 5) == 0) {
            un = (struct sockaddr_un *)&s->ss;
            if (strlen(s->label + 5) >= sizeof(un->sun_path)) {
                snprintf(err, size, "[upstream %s] %s: path too long", cfg->name, s->label);
                return -1;
            }
            un->sun_family = AF_UNIX;
            strcpy(un->sun_path, s->label + 5);
            s->len = sizeof(*un);
        } else if (cfg->resolved[i].family != 0) { /* a name, resolved at load */
            resolved(&cfg->resolved[i], s);
        } else if (net_parse_addr(s->label, &a, nerr) == 0) {
            s->ss = a.ss;
            s->len = a.len;
        } else {
            snprintf(err, size, "[upstream %s] %s: %s", cfg->name, s->label, nerr);
            return -1;
        }
        u->n = i + 1;
    }
    return 0;
}

static uint64_t now_ms(const upstream_t *u)
{
    return u->srv != NULL ? forkd_now_ms(u->srv) : 0;
}

int upstream_pick(upstream_t *u, uint32_t tried)
{
    uint64_t now = now_ms(u);
    int i, k, best = -1, soonest = -1;

    for (k = 0; k < u->n; k++) {
        i = (int)((u->next + (unsigned)k) % (unsigned)u->n);
        if (tried & (1u << i)) {
            continue;
        }
        if (u->servers[i].down_until > now) {
            if (soonest < 0 || u->servers[i].down_until < u->servers[soonest].down_until) {
                soonest = i;
            }
            continue;
        }
        if (best < 0
            || (u->cfg->balance == CONFIG_BALANCE_LEAST_CONN
                && u->servers[i].active < u->servers[best].active)) {
            best = i;
        }
        if (u->cfg->balance == CONFIG_BALANCE_ROUND_ROBIN) {
            break;
        }
    }
    if (best < 0) {
        best = soonest;
    }
    if (best >= 0) {
        u->next = (unsigned)(best + 1) % (unsigned)u->n;
    }
    return best;
}

/* Leave the pool (still watched as it was). */
static void unpool(upstream_conn_t *uc)
{
    upstream_t *u = uc->u;

    LIST_REMOVE(uc, link);
    u->nidle--;
    u->servers[uc->server].idle--;
    publish(u, uc->server);
}

/* 1 when the idle connection fd is still open and quiet (nothing to read, no FIN). */
static int still_open(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

upstream_conn_t *upstream_take_idle(upstream_t *u, int i, upstream_event_fn fn, void *arg)
{
    upstream_conn_t *uc, *next;

    for (uc = LIST_FIRST(&u->idle); uc != NULL; uc = next) {
        next = LIST_NEXT(uc, link);
        if (uc->server != i) {
            continue;
        }
        unpool(uc);
        if (still_open(uc->fd)) {
            uc->fn = fn;
            uc->arg = arg;
            return uc;
        }
        upstream_close(uc);
    }
    return NULL;
}

static void on_conn_event(evutil_socket_t fd, short what, void *arg)
{
    upstream_conn_t *uc = arg;

    (void)fd;
    uc->fn(uc, what, uc->arg);
}

upstream_conn_t *upstream_connect(upstream_t *u, int i, upstream_event_fn fn, void *arg)
{
    const upstream_server_t *s = &u->servers[i];
    upstream_conn_t *uc = calloc(1, sizeof(*uc));
    int fd, one = 1, saved;

    if (uc == NULL) {
        return NULL;
    }
    fd = socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        free(uc);
        return NULL;
    }
    if (s->ss.ss_family != AF_UNIX) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (connect(fd, (const struct sockaddr *)&s->ss, s->len) != 0 && errno != EINPROGRESS) {
        saved = errno;
        close(fd);
        free(uc);
        errno = saved;
        return NULL;
    }
    uc->u = u;
    uc->fd = fd;
    uc->server = i;
    uc->fn = fn;
    uc->arg = arg;
    return uc;
}

int upstream_connect_error(const upstream_conn_t *uc)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(uc->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return errno;
    }
    return err;
}

int upstream_watch(upstream_conn_t *uc, short what, uint32_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (uc->what != what) {
        upstream_unwatch(uc);
        if (event_assign(&uc->ev, forkd_event_base(uc->u->srv), uc->fd, what | EV_PERSIST,
                         on_conn_event, uc)
            != 0) {
            return -1;
        }
        uc->what = what;
    }
    /* already added for what: only the timeout moves, no epoll_ctl() */
    if (ms == UPSTREAM_NO_TIMEOUT) {
        event_remove_timer(&uc->ev);
        return event_add(&uc->ev, NULL);
    }
    return event_add(&uc->ev, &tv);
}

void upstream_unwatch(upstream_conn_t *uc)
{
    if (uc->what != 0) {
        event_del(&uc->ev);
        uc->what = 0;
    }
}

int upstream_reading(const upstream_conn_t *uc)
{
    return uc->what == EV_READ;
}

void upstream_close(upstream_conn_t *uc)
{
    close(upstream_detach(uc));
}

int upstream_detach(upstream_conn_t *uc)
{
    int fd = uc->fd;

    upstream_unwatch(uc);
    free(uc);
    return fd;
}

/* The app closed a pooled connection, sent stray bytes, or it idled too long: drop it. */
static void on_idle_event(upstream_conn_t *uc, short what, void *arg)
{
    (void)what;
    (void)arg;
    unpool(uc);
    upstream_close(uc);
}

void upstream_release(upstream_conn_t *uc, int reusable)
{
    upstream_t *u = uc->u;

    uc->fn = on_idle_event;
    uc->arg = NULL;
    if (!reusable || u->srv == NULL || u->nidle >= u->cfg->keepalive
        || upstream_watch(uc, EV_READ, u->cfg->keepalive_timeout) != 0) {
        upstream_close(uc);
        return;
    }
    LIST_INSERT_HEAD(&u->idle, uc, link);
    u->nidle++;
    u->servers[uc->server].idle++;
    publish(u, uc->server);
}

void upstream_failed(upstream_t *u, int i, const char *why)
{
    upstream_server_t *s = &u->servers[i];
    uint64_t now = now_ms(u);
    int was_up = s->down_until <= now;

    s->down_until = now + u->cfg->fail_timeout;
    s->failures++;
    publish(u, i);
    if (u->srv != NULL && was_up) { /* one line when it goes down, not one per request */
        forkd_log(u->srv, FORKD_LOG_WARN, "upstream %s: server %s failed (%s): skipped for %ums",
                  u->cfg->name, s->label, why, u->cfg->fail_timeout);
    }
}

void upstream_begin(upstream_t *u, int i)
{
    u->servers[i].active++;
    u->servers[i].requests++;
    publish(u, i);
}

void upstream_end(upstream_t *u, int i)
{
    u->servers[i].active--;
    publish(u, i);
}

void upstream_count_failure(upstream_t *u, int i)
{
    u->servers[i].failures++;
    publish(u, i);
}

void upstream_free(upstream_t *u)
{
    upstream_conn_t *uc;

    while ((uc = LIST_FIRST(&u->idle)) != NULL) {
        unpool(uc);
        upstream_close(uc);
    }
}
