/* listeners: bind, keep and close the master's listening socket sets. */
#include "listeners.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

/* Bind listen address i of cfg (at like's port, when given and > 0). fd or -1 with err. */
static int open_one(const config_t *cfg, int i, int like_fd, char *err, size_t errlen)
{
    char why[NET_ERR_LEN];
    net_addr_t addr;
    int fd, port;

    if (net_parse_addr(cfg->listen[i], &addr, why) != 0) {
        snprintf(err, errlen, "listen %s: %s", cfg->listen[i], why);
        return -1;
    }
    if (like_fd >= 0 && (port = net_local_port(like_fd)) > 0) {
        ((struct sockaddr_in *)&addr.ss)->sin_port = htons((uint16_t)port); /* same offset in v6 */
    }
    fd = net_listen(&addr, SOMAXCONN, cfg->reuse_port, why);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: %s", cfg->listen[i], why);
    }
    return fd;
}

int listeners_open(listen_set_t *set, const config_t *cfg, const listen_set_t *like, char *err,
                   size_t errlen)
{
    int i, fd;

    set->n = 0;
    for (i = 0; i < cfg->nlisten; i++) {
        fd = open_one(cfg, i, like != NULL && like->n > i ? like->fds[i] : -1, err, errlen);
        if (fd < 0) {
            listeners_close(set);
            return -1;
        }
        set->fds[set->n++] = fd;
    }
    return 0;
}

void listeners_close(listen_set_t *set)
{
    int i;

    for (i = 0; i < set->n; i++) {
        close(set->fds[i]);
    }
    set->n = 0;
}

int listeners_same(const config_t *a, const config_t *b)
{
    int i;

    if (a->nlisten != b->nlisten || a->reuse_port != b->reuse_port) {
        return 0;
    }
    for (i = 0; i < a->nlisten; i++) {
        if (strcmp(a->listen[i], b->listen[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/*
 * Is the socket fd, opened for address text was, the one wanted for text
 * want? The same text, or the address the socket is bound to ("*:80" is
 * 0.0.0.0:80; "127.0.0.1:0" is bound to some port a new text may name).
 */
static int is_wanted(int fd, const char *was, const char *want)
{
    char err[NET_ERR_LEN];
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    net_addr_t addr;

    if (strcmp(was, want) == 0) {
        return 1;
    }
    memset(&bound, 0, sizeof(bound));
    return net_parse_addr(want, &addr, err) == 0
           && getsockname(fd, (struct sockaddr *)&bound, &len) == 0 && len == addr.len
           && memcmp(&bound, &addr.ss, len) == 0;
}

/* Index in cur (opened for old's listen) of a socket for cfg->listen[i], or -1. */
static int find_kept(const config_t *old, const config_t *cfg, int i, const listen_set_t *cur)
{
    int j;

    for (j = 0; j < old->nlisten && j < cur->n; j++) {
        if (cur->fds[j] >= 0 && is_wanted(cur->fds[j], old->listen[j], cfg->listen[i])) {
            return j;
        }
    }
    return -1;
}

int listeners_reopen(listen_set_t *fresh, listen_set_t *cur, const config_t *old,
                     const config_t *cfg, char *err, size_t errlen)
{
    int from[CONFIG_MAX_LISTEN]; /* cur's index a kept socket came from, or -1: new */
    int i, j, k, keep = old->reuse_port == cfg->reuse_port;

    fresh->n = 0;
    for (i = 0; i < cfg->nlisten; i++) {
        j = keep ? find_kept(old, cfg, i, cur) : -1;
        from[i] = j;
        if (j >= 0) {
            fresh->fds[fresh->n++] = cur->fds[j];
            cur->fds[j] = -1; /* taken: not matched twice */
            continue;
        }
        fresh->fds[fresh->n] = open_one(cfg, i, -1, err, errlen);
        if (fresh->fds[fresh->n] < 0) {
            for (k = 0; k < fresh->n; k++) { /* undo: give kept ones back, close new ones */
                if (from[k] >= 0) {
                    cur->fds[from[k]] = fresh->fds[k];
                } else {
                    close(fresh->fds[k]);
                }
            }
            fresh->n = 0;
            return -1;
        }
        fresh->n++;
    }
    /* cur keeps only what is no longer wanted */
    for (i = j = 0; i < cur->n; i++) {
        if (cur->fds[i] >= 0) {
            cur->fds[j++] = cur->fds[i];
        }
    }
    cur->n = j;
    return 0;
}
