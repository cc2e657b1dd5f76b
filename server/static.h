/* static: serve files below [static] root (GET, HEAD; conditionals and ranges). */
#ifndef FORKD_STATIC_H
#define FORKD_STATIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "beneath.h"
#include "config.h"
#include "filecache.h"
#include "forkd.h"
#include "mime.h"
#include "router.h"
#include "scoreboard.h"

/*
 * One site's files ([static] or a [site NAME]). Zeroed with root_fd = -1 it
 * holds nothing.
 */
typedef struct {
    int root_fd;      /* O_PATH descriptor of [static] root */
    const char *root; /* [static] root, borrowed from the config */
    dev_t root_dev;   /* what root_fd is: a root that is a symlink switched */
    ino_t root_ino;   /* to a new release is opened again (static_handler) */
    uint64_t root_checked_ms;
    beneath_mode_t resolve; /* how files below root_fd are opened (beneath_probe()) */
    filecache_t fc;         /* open files and their validators */
    mime_table_t *mime;
    const char *index;   /* the site's index, borrowed from the config */
    unsigned max_ranges; /* [http] max_ranges: 0 = Range ignored */
    const config_site_t *conf;
    const config_t *cfg;
    const char *name;       /* "static" for [static], else the [site NAME]'s name */
    int cache_rules;        /* a [cache] rule may apply to this site */
    mime_table_t *own_mime; /* mime, when this site's charset is not [static]'s */
    sb_slot_t *slot;        /* the worker's: refusals are counted there (NULL: not counted) */
} static_t;

/*
 * The static handler's own context: its sites (sites[0] is [static], the
 * default) and how a Host none of them names is answered. Zeroed it holds
 * nothing, and static_fini() on it does nothing.
 */
typedef struct {
    static_t *sites;
    int nsites;
    const config_t *cfg;
    mime_table_t *mime; /* /etc/mime.types, shared by the sites */
} static_sites_t;

/*
 * Build ss from cfg (borrowed for ss's lifetime): for each site its file
 * cache (their descriptors together capped by the open files limit) and its
 * root opened as the user the worker runs as; the MIME table; the resolve
 * mode. 0 ok; -1 with err set, what was taken still to be given back with
 * static_fini().
 */
int static_init(static_sites_t *ss, const config_t *cfg, char *err, size_t errlen);

/* Count the sites' refusals (access rules) in slot, the worker's scoreboard slot. */
void static_count_to(static_sites_t *ss, sb_slot_t *slot);

/* Give back all ss holds (a cache entry a response still holds goes with its release). */
void static_fini(static_sites_t *ss);

/* Route "/" (a prefix: every path no other route takes) for GET and HEAD to ss. 0 ok, -1 full. */
int static_register(router_t *r, static_sites_t *ss);

#endif
