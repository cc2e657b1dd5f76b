/* vhost: which [site] a request's Host names (server_name: exact names and *.domain). */
#ifndef FORKD_VHOST_H
#define FORKD_VHOST_H

#include <stddef.h>

#include "config.h"

/*
 * The host of a Host field value: without its port and a trailing dot, so
 * "Example.COM.:8080" gives "Example.COM" (case is left to vhost_pick()); an
 * IPv6 literal keeps its brackets. Returns the length of the host at v.
 */
size_t vhost_host(const char *v, size_t len);

/*
 * The site (index into cfg->sites) that serves host (from vhost_host(),
 * any case): a site naming it exactly, else the site whose wildcard
 * "*.domain" names the longest domain it ends with (as nginx chooses), else
 * -1. Pure: a linear scan of the names, for the few sites a server has.
 */
int vhost_pick(const config_t *cfg, const char *host, size_t len);

#endif
