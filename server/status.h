/*
 * status: the scoreboard as JSON ([status] path), a live page for browsers
 * and its event stream (live.c, at the same path), and Prometheus text
 * (metrics_path).
 */
#ifndef FORKD_STATUS_H
#define FORKD_STATUS_H

#include "config.h"
#include "forkd.h"
#include "live.h"
#include "net.h"
#include "router.h"
#include "scoreboard.h"

/* The status handlers' own context. */
typedef struct {
    scoreboard_t *sb;                /* borrowed: the master's, mapped in every worker */
    const config_t *cfg;             /* borrowed: the [upstream]s the scoreboard rows follow */
    int32_t generation;              /* this worker's: the workers whose rows follow cfg */
    net_cidr_t allow[NET_MAX_CIDRS]; /* clients allowed, from [status] allow */
    int nallow;
    live_t live; /* the live page's streams in this worker */
} status_t;

/*
 * Set up st for the scoreboard sb and the config cfg (both borrowed) of a
 * worker of generation: cfg's allow list (the config check accepted it;
 * one that does not parse allows nobody), and its [upstream]s, whose
 * figures are summed over the live workers of that generation (they share
 * cfg; another generation's rows may follow another config).
 */
void status_init(status_t *st, scoreboard_t *sb, const config_t *cfg, int32_t generation);

/*
 * Register the status route at path (JSON; ?live the page, ?events its
 * stream; see view() for Accept) and the Prometheus one at metrics_path
 * (both borrowed, like st, for the router's lifetime). 0 ok, -1 when the
 * router is full.
 */
int status_register(router_t *r, status_t *st, const char *path, const char *metrics_path);

#endif
