/*
 * live: the workers watched live from a browser: an HTML page ([status] path
 * ?live) that follows a Server-Sent Events stream of the scoreboard (?events).
 */
#ifndef FORKD_LIVE_H
#define FORKD_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "forkd.h"
#include "scoreboard.h"

/* What this worker last saw of a slot, for its request rate. */
typedef struct {
    int32_t pid; /* 0: no sample */
    int32_t generation;
    uint64_t requests;
} live_sample_t;

/* Text built for the streams. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the text is incomplete */
} live_text_t;

/*
 * The live view's context in one worker: its open streams, and the one
 * timer that writes them all an event a second while there is one.
 */
typedef struct {
    scoreboard_t *sb;     /* borrowed: the master's, mapped in every worker */
    forkd_server_t *srv;  /* the worker, from the first stream's request */
    struct event *tick;   /* once a second while a stream is open, else NULL */
    forkd_ref_t *streams; /* the open streams; id 0: ended during a tick */
    size_t nstreams, cap;
    int ticking;                  /* in the tick: an ended stream is only marked */
    live_sample_t prev[SB_SLOTS]; /* the samples of the last event, at prev_ms */
    uint64_t prev_ms;
    live_text_t last, next; /* the last event sent (data: ...), the one being built */
} live_t;

/* Set up lv for the scoreboard sb (borrowed). Nothing is allocated until a stream opens. */
void live_init(live_t *lv, scoreboard_t *sb);

/*
 * The page (self-contained HTML, script and style inline), which follows
 * the stream at the same path with the query "events". FORKD_DONE.
 */
int live_page(forkd_req_t *req, forkd_resp_t *resp, live_t *lv);

/*
 * Start a text/event-stream response: at once the current event, then one
 * a second (a comment line when nothing changed), until the client goes,
 * reads too slowly (its stream is ended rather than buffered), or the
 * worker drains (the stream ends, the browser reconnects to another).
 * FORKD_ASYNC; FORKD_DONE for HEAD (the head alone), a draining worker
 * (one event) or when it could not start (503).
 */
int live_events(forkd_req_t *req, forkd_resp_t *resp, live_t *lv);

#endif
