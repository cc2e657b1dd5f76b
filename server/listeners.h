/* listeners: the master's listening sockets, opened once and kept across reloads. */
#ifndef FORKD_LISTENERS_H
#define FORKD_LISTENERS_H

#include <stddef.h>

#include "config.h"

/* One set of listening sockets, one per listen= address, in the config's order. */
typedef struct {
    int fds[CONFIG_MAX_LISTEN];
    int n;
} listen_set_t;

/*
 * Open one socket per listen address of cfg into set. like (may be NULL):
 * with port 0 and reuse_port, bind the ports like's sockets got, so every
 * worker's SO_REUSEPORT socket shares them. 0 ok; -1 with err naming the
 * address and the reason, and nothing left open.
 */
int listeners_open(listen_set_t *set, const config_t *cfg, const listen_set_t *like, char *err,
                   size_t errlen);

/* Close every socket of set (workers keep their own copies). */
void listeners_close(listen_set_t *set);

/* Do a and b ask for the same sockets (the same addresses in order, the same reuse_port)? */
int listeners_same(const config_t *a, const config_t *b);

/*
 * A reload changed listen from old's to cfg's addresses, cur being the open
 * set for old. Each address cfg shares with old keeps its socket (moved from
 * cur to fresh: no queued connection is lost, and no second bind() fails with
 * EADDRINUSE); the others are bound anew. A change of reuse_port binds all
 * anew. On success cur holds the sockets no longer wanted (the caller closes
 * them; old workers keep their copies until they exit). -1 with err naming
 * the address that could not be bound: then cur and fresh are as before.
 */
int listeners_reopen(listen_set_t *fresh, listen_set_t *cur, const config_t *old,
                     const config_t *cfg, char *err, size_t errlen);

#endif
