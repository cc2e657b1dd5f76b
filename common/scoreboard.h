/* scoreboard: shared memory where each worker publishes its state and counters. */
#ifndef FORKD_SCOREBOARD_H
#define FORKD_SCOREBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SB_SLOTS 128       /* worker slots: every generation alive at once shares them */
#define SB_CURRENT_LEN 200 /* bytes of the request line being served */

typedef enum {
    SB_FREE = 0, /* no process */
    SB_STARTING,
    SB_IDLE,    /* in its loop, no request in progress */
    SB_BUSY,    /* running a handler (current holds the request line) */
    SB_DRAINING /* told to stop: finishing in-flight requests */
} sb_state_t;

/*
 * One worker's slot. Only that worker writes it (relaxed atomic stores), the
 * master and the /status handler of any worker read it, so counters may be a
 * moment old but never torn.
 */
typedef struct {
    int32_t pid;
    int32_t generation;
    int32_t slot_index; /* position among the workers of its generation */
    int32_t state;      /* sb_state_t */
    int64_t started;    /* unix seconds */
    int64_t heartbeat;  /* monotonic ms of the worker's last loop tick */
    uint64_t accepted;
    uint64_t active; /* open connections */
    uint64_t requests;
    uint64_t bytes;     /* response body bytes */
    uint64_t status[5]; /* responses 1xx .. 5xx */
    char current[SB_CURRENT_LEN];
    int32_t paused;         /* not accepting for now (out of descriptors or memory, or full) */
    uint64_t proxy_refused; /* connections closed for their PROXY header (or lack of trust) */
    uint64_t refused;       /* static requests refused by a site's access rules (dotfile, deny) */
    char pad[36];
} sb_slot_t;

#define SB_UPSTREAM_SERVERS 256 /* every [upstream]'s servers, in config order, per worker */

/*
 * One upstream server as one worker sees it, written by that worker only
 * (its proxy keeps its own pool and passive health); /status sums them.
 */
typedef struct {
    uint64_t active;    /* requests of the worker on it now */
    uint64_t idle;      /* the worker's pooled keep-alive connections to it */
    uint64_t requests;  /* requests sent to it (a retry elsewhere or a replay counts again) */
    uint64_t failures;  /* connects that failed, answers that failed (502, 504, cut short) */
    int64_t down_until; /* monotonic ms until which the worker skips it (fail_timeout) */
} sb_upstream_t;

/* The service's stop, as the master tells its workers (scoreboard_t.drain). */
typedef enum {
    SB_SERVING = 0,  /* no stop under way (a reload is not a drain) */
    SB_DRAIN_DELAY,  /* [server] drain_delay: serve on, health URL failing, no keep-alive */
    SB_DRAIN_CLOSING /* listening sockets closing: take what is queued, finish in-flight */
} sb_drain_t;

typedef struct {
    int32_t master_pid;
    int32_t generation;
    int32_t drain; /* sb_drain_t, written by the master before it signals the workers */
    int32_t pad;
    int64_t started; /* unix seconds */
    sb_slot_t slots[SB_SLOTS];
    sb_upstream_t upstreams[SB_SLOTS][SB_UPSTREAM_SERVERS]; /* by slot, like slots[] */
} scoreboard_t;

/* Map a zeroed scoreboard shared with future children; NULL on failure (errno set). */
scoreboard_t *scoreboard_create(void);

void scoreboard_destroy(scoreboard_t *sb);

/* A free slot index, zeroed with its upstream row, or -1 when all are taken. The caller (master)
 * fills it. */
int scoreboard_take(scoreboard_t *sb);

/* Relaxed atomic read/write helpers for 64-bit counters and 32-bit fields. */
#define SB_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define SB_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define SB_ADD(field, v) SB_SET(field, SB_GET(field) + (v))

/* Is a worker process in this slot (possibly still starting)? */
int scoreboard_live(const sb_slot_t *slot);

/*
 * The request line slot shows as being served, copied into out: the slot
 * is written by another (unprivileged) worker meanwhile, so one bounded
 * snapshot, its NUL not trusted. Returns its length (< SB_CURRENT_LEN);
 * out is NUL-terminated only when shorter than SB_CURRENT_LEN.
 */
size_t scoreboard_current(const sb_slot_t *slot, char out[SB_CURRENT_LEN]);

/* Name of a state for /status ("idle"). */
const char *scoreboard_state_name(int state);

#endif
