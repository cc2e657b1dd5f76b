/* worker: the per-process event loop: accept, serve, flush the access log, stop on signal. */
#include "worker.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "demo.h"
#include "health.h"
#include "module.h"
#include "proxy.h"
#include "router.h"
#include "static.h"
#include "status.h"
#include "timecache.h"

#define ACCEPT_BATCH 64
#define SPREAD_SLACK 4           /* connections a worker may hold over its least-loaded sibling */
#define SPREAD_YIELD_MS 1        /* how long it then leaves new clients to the siblings */
#define DRAIN_IDLE_GRACE_MS 1000 /* keep-alive clients get this long to send one more request */

/* One worker process: its loop and listeners, the handlers' contexts, its connections. */
typedef struct worker {
    const config_t *cfg;
    const worker_args_t *args;
    scoreboard_t *sb;
    sb_slot_t *slot; /* this worker's scoreboard slot */
    log_t *log;
    struct event_base *base;

    int listen_fds[CONFIG_MAX_LISTEN];
    struct event *listen_ev[CONFIG_MAX_LISTEN];
    int nlisten;
    int accept_paused;   /* after EMFILE: listeners off until the retry timer */
    int accept_full;     /* at max_connections: listeners off until one closes */
    int accept_yielding; /* over its share: listeners off until spread_timer */
    struct event *accept_retry;
    struct event *spread_timer;
    uint64_t yield_accepted; /* siblings' accept count when this worker yielded */
    int yield_stalls;        /* yields in a row that no sibling used */
    time_t last_emfile_log;
    time_t last_full_log;
    /* out of memory for new connections: counted, logged at most once a second */
    uint64_t nomem_logged_ms; /* monotonic ms of the last line */
    uint32_t nomem_fails;     /* allocations failed since that line */
    uint32_t nomem_closed;    /* of them, connections closed */
    size_t nomem_size;        /* bytes of the last one */

    accesslog_t alog;
    router_t router;
    modules_t mods;       /* the [module]s, loaded after fork */
    proxy_t proxy;        /* the [upstream]s of [route] upstream = */
    static_sites_t files; /* the static handler's context */
    status_t status;      /* the status handlers' context */
    conn_pool_t *conns;   /* the connections */
    pool_t *jobs;         /* the thread pool ([server] threads) of forkd_pool_submit() */
    demo_t demo;          /* the demo handlers' context */
    health_t health;      /* the health URL's context: draining, set here */

    struct event *sig_term, *sig_int, *sig_quit, *sig_usr1;
    struct event *tick;        /* once a second: heartbeat, access log flush */
    struct event *drain_timer; /* graceful stop: idle grace, then the hard deadline */
    int stopping;              /* no new connections; close each after its response */
    uint64_t drain_deadline;   /* ms: give up on in-flight requests */
} worker_t;

static void on_accept(evutil_socket_t fd, short what, void *arg);

/*
 * Listeners on or off. The scoreboard says whether this worker is holding off
 * new clients because it cannot take them (out of descriptors or memory, or
 * full): the fair spread of its siblings must not leave clients to it.
 */
static void listeners_enable(worker_t *w, int on)
{
    int i;

    SB_SET(w->slot->paused, (int32_t)(w->accept_paused || w->accept_full));
    for (i = 0; i < w->nlisten; i++) {
        if (on) {
            event_add(w->listen_ev[i], NULL);
        } else {
            event_del(w->listen_ev[i]);
        }
    }
}

/* Listeners back on, unless something still holds them off. */
static void listeners_resume(worker_t *w)
{
    SB_SET(w->slot->paused, (int32_t)(w->accept_paused || w->accept_full));
    if (!w->stopping && !w->accept_paused && !w->accept_full && !w->accept_yielding) {
        listeners_enable(w, 1);
    }
}

/* One line for the allocation failures counted since the last one. */
static void nomem_report(worker_t *w)
{
    log_msg(w->log, LOG_LVL_ERROR,
            "out of memory: malloc(%zu) failed %u times in the last second (%u clients closed); "
            "new clients are left to the other workers meanwhile",
            w->nomem_size, w->nomem_fails, w->nomem_closed);
    w->nomem_logged_ms = timecache_now_ms();
    w->nomem_fails = w->nomem_closed = 0;
}

/*
 * The pause is over: report the allocation failures of that second, if any,
 * and listen again. Still out of memory, the next client finds out in
 * conn_reserve() before it is taken, and the pause starts over.
 */
static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;

    w->accept_paused = 0;
    if (w->nomem_fails > 0) {
        nomem_report(w);
    }
    listeners_resume(w);
}

/*
 * Stop listening for a second (the kernel backlog holds new clients, and the
 * siblings take them); connections being served go on.
 */
static void pause_a_second(worker_t *w)
{
    struct timeval one = {1, 0};

    if (w->accept_paused || w->stopping) {
        return;
    }
    w->accept_paused = 1;
    listeners_enable(w, 0);
    evtimer_add(w->accept_retry, &one);
}

/*
 * Out of descriptors: accepting again at once would spin on the same error.
 * Pause, and say so at most once a second.
 */
static void pause_accepting(worker_t *w, int err)
{
    time_t now = time(NULL);

    if (now != w->last_emfile_log) {
        w->last_emfile_log = now;
        log_msg(w->log, LOG_LVL_ERROR, "accept4() failed: %s (pausing accept for 1s)",
                strerror(err));
    }
    pause_a_second(w);
}

/*
 * The connections could not allocate size bytes (closed: 1 if that closed an
 * accepted client, 0 if none was taken yet): stop accepting for a second, so
 * the siblings take the new clients, and log the failures at most once a
 * second with their count. Lines: one at once when the trouble starts (not
 * paused, none for a second), then the count of each paused second from
 * on_accept_retry(): a pause starts at or after the last line, so lines are
 * at least a second apart.
 */
static void on_conn_out_of_memory(void *owner, size_t size, int closed)
{
    worker_t *w = owner;

    w->nomem_size = size;
    w->nomem_fails++;
    w->nomem_closed += closed ? 1 : 0;
    if (!w->accept_paused && timecache_now_ms() - w->nomem_logged_ms >= 1000) {
        nomem_report(w);
    }
    pause_a_second(w);
}

/*
 * max_connections: past 90% the oldest idle keep-alive connection makes
 * room for each new one; at the limit, if none is idle, stop accepting (the
 * kernel backlog holds newcomers) until a connection closes. 0 ok, -1 full.
 */
static int make_room(worker_t *w)
{
    uint32_t max = w->cfg->max_connections;
    time_t now;

    if ((uint32_t)conn_count(w->conns) < max - max / 10) {
        return 0;
    }
    if (conn_close_oldest_idle(w->conns) == 0 || (uint32_t)conn_count(w->conns) < max) {
        return 0;
    }
    now = time(NULL);
    if (now != w->last_full_log) {
        w->last_full_log = now;
        log_msg(w->log, LOG_LVL_WARN, "%u connections (max_connections): pausing accept", max);
    }
    w->accept_full = 1;
    listeners_enable(w, 0);
    return -1;
}

/*
 * Fair spread. Workers share one listening socket and all of them wake for a
 * new client, but whichever calls accept4() first takes the whole backlog: a
 * burst of clients could pile onto one worker while its siblings idle. So a
 * worker that holds clearly more connections than its least-loaded sibling of
 * the same generation leaves new clients to the others for SPREAD_YIELD_MS.
 * If no sibling accepted anything during two such periods in a row (all of
 * them busy in long handlers, say), it stops deferring and takes what waits.
 * reuse_port needs none of this: the kernel spreads clients over per-worker
 * sockets.
 */
typedef struct {
    int n;             /* siblings serving */
    uint64_t least;    /* fewest connections a sibling holds */
    uint64_t accepted; /* connections all siblings have accepted */
} siblings_t;

static void siblings_read(const worker_t *w, siblings_t *s)
{
    int32_t gen = SB_GET(w->slot->generation);
    const sb_slot_t *o;
    int i, state;

    memset(s, 0, sizeof(*s));
    s->least = UINT64_MAX;
    if (w->cfg->reuse_port) {
        return;
    }
    for (i = 0; i < SB_SLOTS; i++) {
        o = &w->sb->slots[i];
        if (o == w->slot || !scoreboard_live(o) || SB_GET(o->generation) != gen) {
            continue;
        }
        state = SB_GET(o->state);
        /* a sibling that is not accepting (paused, full) takes none of what we leave */
        if ((state != SB_IDLE && state != SB_BUSY) || SB_GET(o->paused)) {
            continue;
        }
        s->n++;
        s->accepted += SB_GET(o->accepted);
        if (SB_GET(o->active) < s->least) {
            s->least = SB_GET(o->active);
        }
    }
}

static int over_share(const worker_t *w, const siblings_t *s)
{
    return s->n > 0 && (uint64_t)conn_count(w->conns) >= s->least + SPREAD_SLACK + s->least / 8;
}

static void spread_yield(worker_t *w, const siblings_t *s)
{
    struct timeval tv = {0, SPREAD_YIELD_MS * 1000};

    w->accept_yielding = 1;
    w->yield_accepted = s->accepted;
    listeners_enable(w, 0);
    evtimer_add(w->spread_timer, &tv);
}

/*
 * Accept up to a batch from one listening socket. fair: yield when over this
 * worker's share (see above); 0 after a yield that no sibling used.
 * Returns 1 when it yielded.
 */
static int accept_batch(worker_t *w, int fd, int fair)
{
    struct sockaddr_storage peer;
    socklen_t len;
    siblings_t sib = {0, 0, 0};
    int i, cfd, proxy = 0;

    /* the i-th socket is the i-th listen address (passed sockets: in the order passed) */
    for (i = 0; i < w->nlisten; i++) {
        proxy |= w->listen_fds[i] == fd && w->cfg->listen_proxy[i];
    }

    if (fair) {
        siblings_read(w, &sib);
    }
    for (i = 0; i < ACCEPT_BATCH && !w->stopping && !w->accept_paused; i++) {
        if (make_room(w) != 0) {
            return 0;
        }
        if (over_share(w, &sib)) {
            spread_yield(w, &sib);
            return 1;
        }
        /* out of memory: find out before a client is taken, and leave it to a sibling */
        if (conn_reserve(w->conns) != 0) {
            return 0;
        }
        len = sizeof(peer);
        cfd = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                pause_accepting(w, errno);
            } else if (errno != EAGAIN) {
                log_msg(w->log, LOG_LVL_ERROR, "accept4() failed: %s", strerror(errno));
            }
            return 0;
        }
        SB_ADD(w->slot->accepted, 1);
        conn_accept(w->conns, cfd, &peer, proxy);
        SB_SET(w->slot->active, (uint64_t)conn_count(w->conns));
    }
    return 0;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    accept_batch(arg, fd, 1);
}

/* The yield is over: take what the siblings left, still fairly if they are accepting. */
static void on_spread_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    siblings_t sib;
    int i, fair;
    (void)fd;
    (void)what;

    w->accept_yielding = 0;
    if (w->stopping || w->accept_paused || w->accept_full) {
        return;
    }
    siblings_read(w, &sib);
    /* twice in a row: a sibling that was yielding too accepts within one period */
    w->yield_stalls = sib.accepted == w->yield_accepted ? w->yield_stalls + 1 : 0;
    fair = w->yield_stalls < 2;
    for (i = 0; i < w->nlisten; i++) {
        if (accept_batch(w, w->listen_fds[i], fair)) {
            return;
        }
    }
    listeners_resume(w);
}

/*
 * After max_connections paused accepting: resume once a connection closed or
 * went idle (an idle one can make room). Cheap: the connections call it as
 * each one goes idle.
 */
static void on_conn_idle(void *owner)
{
    worker_t *w = owner;

    if (w->accept_full
        && ((uint32_t)conn_count(w->conns) < w->cfg->max_connections
            || conn_idle_count(w->conns) > 0)) {
        w->accept_full = 0;
        listeners_resume(w);
    }
}

/* A connection went away: the scoreboard's count, room to accept, the end of a drain. */
static void on_conn_closed(void *owner)
{
    worker_t *w = owner;

    SB_SET(w->slot->active, (uint64_t)conn_count(w->conns));
    on_conn_idle(w);
    if (w->stopping && conn_count(w->conns) == 0) {
        event_base_loopbreak(w->base);
    }
}

/* Once a second: heartbeat for the master's watchdog, access log flush, orphan check. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;

    SB_SET(w->slot->heartbeat, (int64_t)timecache_now_ms());
    accesslog_flush(&w->alog, w->log);
    if (getppid() != w->args->master_pid) {
        /* the master is gone (PR_SET_PDEATHSIG should have told us already) */
        log_msg(w->log, LOG_LVL_ERROR, "master process is gone: exiting");
        w->stopping = 1;
        conn_stop(w->conns);
        event_base_loopbreak(w->base);
    }
}

/*
 * Draining: first a grace during which idle keep-alive connections may still
 * send one more request (answered with "Connection: close"), so a client is
 * never cut while its request is on the wire; then idle ones with no bytes
 * waiting are closed; at graceful_timeout everything is.
 */
static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    struct timeval tv;
    uint64_t now = timecache_now_ms();
    (void)fd;
    (void)what;

    if (now >= w->drain_deadline) {
        log_msg(w->log, LOG_LVL_WARN,
                "graceful stop: %d connections still open after %ums, closing",
                conn_count(w->conns), w->cfg->graceful_timeout);
        event_base_loopbreak(w->base);
        return;
    }
    conn_close_idle(w->conns);
    if (conn_count(w->conns) == 0) {
        event_base_loopbreak(w->base);
        return;
    }
    tv.tv_sec = 0;
    tv.tv_usec = 100000;
    evtimer_add(w->drain_timer, &tv);
}

/*
 * Stop deferring accepts (TCP_DEFER_ACCEPT) on this worker's listeners. A
 * deferred connection, handshake done but request not here yet, is in no
 * accept queue: close_listeners() cannot take it, and the close resets it
 * once the client sent its request (nginx in front saw a few per stop, each
 * a request it had to send elsewhere; a POST it may not). Undeferred, every
 * completed handshake is queued where the last drain finds it. A unix
 * listener refuses the option: nothing to do there.
 */
static void stop_deferring(worker_t *w)
{
    int i, off = 0;

    for (i = 0; i < w->nlisten; i++) {
        (void)setsockopt(w->listen_fds[i], IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof(off));
    }
}

/*
 * The service drains (the master said so in the scoreboard): the health URL
 * fails and every response closes its connection, so a balancer takes this
 * instance out; new clients are still served meanwhile. Accepts stop being
 * deferred now, so none is left deferred when the sockets close.
 */
static void announce_drain(worker_t *w)
{
    w->health.draining = 1;
    conn_keepalive_off(w->conns);
    stop_deferring(w);
}

/*
 * Stop listening for good: take every connection the kernel already
 * completed (it would be reset when the last copy of the socket closes),
 * then close this worker's copies. Once the master and every worker did, a
 * new client is refused instead. Called before w->stopping is set, which
 * accept_batch() honours.
 */
static void close_listeners(worker_t *w)
{
    uint64_t before;
    int i;

    stop_deferring(w); /* without a drain delay: at least no new deferred ones */
    for (i = 0; i < w->nlisten; i++) {
        do {
            before = SB_GET(w->slot->accepted);
            accept_batch(w, w->listen_fds[i], 0);
        } while (SB_GET(w->slot->accepted) - before == ACCEPT_BATCH);
        event_free(w->listen_ev[i]);
        w->listen_ev[i] = NULL;
        close(w->listen_fds[i]);
    }
    w->nlisten = 0;
}

/*
 * QUIT (the service stops, a reload retires this generation, or fewer
 * workers are wanted): no new connections, the in-flight ones finish.
 */
static void start_drain(worker_t *w)
{
    struct timeval tv;
    uint64_t grace = DRAIN_IDLE_GRACE_MS;

    if (w->stopping) {
        return;
    }
    if (SB_GET(w->sb->drain) != SB_SERVING) {
        announce_drain(w);
    }
    listeners_enable(w, 0);
    close_listeners(w);
    w->stopping = 1;
    conn_stop(w->conns);
    SB_SET(w->slot->state, SB_DRAINING);
    if (w->accept_paused) {
        evtimer_del(w->accept_retry);
    }
    if (w->accept_yielding) {
        evtimer_del(w->spread_timer);
    }
    w->drain_deadline = timecache_now_ms() + w->cfg->graceful_timeout;
    if (grace > w->cfg->graceful_timeout) {
        grace = w->cfg->graceful_timeout;
    }
    if (conn_count(w->conns) == 0) {
        event_base_loopbreak(w->base);
        return;
    }
    tv.tv_sec = (time_t)(grace / 1000);
    tv.tv_usec = (suseconds_t)(grace % 1000) * 1000;
    evtimer_add(w->drain_timer, &tv);
}

/* USR1: reopen the log files (logrotate moved them; the master created the new ones). */
static void reopen_logs(worker_t *w)
{
    char err[512];

    if (accesslog_reopen(&w->alog, w->log, w->cfg->access_log, err, sizeof(err)) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "%s", err);
    }
    if (log_reopen(w->log, err, sizeof(err)) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "%s", err);
    }
}

/* TERM/INT: stop now. QUIT: the drain delay, or a graceful stop. USR1: reopen logs. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;

    switch (sig) {
    case SIGQUIT:
        if (SB_GET(w->sb->drain) == SB_DRAIN_DELAY) {
            announce_drain(w);
        } else {
            start_drain(w);
        }
        break;
    case SIGUSR1: reopen_logs(w); break;
    default:
        w->stopping = 1;
        conn_stop(w->conns);
        event_base_loopbreak(w->base);
        break;
    }
}

/*
 * cpu_affinity: run only on the (slot index mod n)-th of the n CPUs this
 * process may use (inherited from the master, so a systemd CPUAffinity= is
 * respected). A failure costs nothing but the binding: logged, not fatal.
 */
static void bind_cpu(worker_t *w)
{
    cpu_set_t allowed, one;
    int i, n, want, cpu = -1;

    if (!w->cfg->cpu_affinity || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        return;
    }
    n = CPU_COUNT(&allowed);
    want = n > 0 ? SB_GET(w->slot->slot_index) % n : 0;
    for (i = 0; i < CPU_SETSIZE && cpu < 0; i++) {
        if (CPU_ISSET(i, &allowed) && want-- == 0) {
            cpu = i;
        }
    }
    if (cpu < 0) {
        return;
    }
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) {
        log_msg(w->log, LOG_LVL_WARN, "cpu_affinity: cannot bind to CPU %d: %s", cpu,
                strerror(errno));
        return;
    }
    log_msg(w->log, LOG_LVL_INFO, "bound to CPU %d", cpu);
}

/*
 * Become the configured user before opening anything (docroot, access log),
 * so a worker only ever opens what that user may: supplementary groups of
 * the user (initgroups), then gid, then uid. setuid() clears the parent-death
 * signal, so it is set again, and the master may have died in between.
 * 0 ok, -1 logged.
 */
static int drop_privileges(worker_t *w)
{
    const run_as_t *as = w->args->as;

    if (!as->drop) {
        return 0;
    }
    if (initgroups(as->user, as->gid) != 0 || setgid(as->gid) != 0 || setuid(as->uid) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "dropping privileges to %s (uid %d gid %d) failed: %s",
                as->user, (int)as->uid, (int)as->gid, strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != w->args->master_pid) {
        log_msg(w->log, LOG_LVL_ERROR, "master process is gone: exiting");
        return -1;
    }
    return 0;
}

/*
 * The serving half of a worker's setup, before listeners, signals and
 * timers: event base, access log, the handlers' contexts and routes, the
 * connection pool. 0 ok, -1 logged.
 */
static int init_serving(worker_t *w)
{
    char err[512];
    const config_t *cfg = w->cfg;
    conn_env_t env;

    w->base = event_base_new();
    if (w->base == NULL) {
        log_msg(w->log, LOG_LVL_ERROR, "event_base_new() failed");
        return -1;
    }
    if (accesslog_open(&w->alog, w->cfg->access_log, err, sizeof(err)) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "access log: %s", err);
        return -1;
    }
    if (static_init(&w->files, cfg, err, sizeof(err)) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    static_count_to(&w->files, w->slot);
    status_init(&w->status, w->sb, cfg, SB_GET(w->slot->generation));
    /* [route]s first: one of the same path as a built-in route wins */
    if (modules_load(&w->mods, cfg, err) != 0
        || modules_init(&w->mods, w->base, w->log, err) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    if (proxy_init(&w->proxy, cfg, w->sb->upstreams[w->slot - w->sb->slots], err, sizeof(err))
        != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    if (modules_route(&w->mods, &w->router) != 0 || proxy_register(&w->router, &w->proxy) != 0
        || (cfg->health_path[0] != '\0'
            && health_register(&w->router, &w->health, cfg->health_path, cfg->health_log) != 0)
        || (cfg->status_path[0] != '\0'
            && status_register(&w->router, &w->status, cfg->status_path, cfg->metrics_path) != 0)
        || (cfg->demo_enabled && demo_register(&w->router, &w->demo) != 0)
        || static_register(&w->router, &w->files) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "router full");
        return -1;
    }
    w->jobs = pool_new(w->base, cfg->threads);
    if (w->jobs == NULL) {
        log_msg(w->log, LOG_LVL_ERROR, "thread pool of %u threads: %s", cfg->threads,
                strerror(errno));
        return -1;
    }
    memset(&env, 0, sizeof(env));
    env.base = w->base;
    env.cfg = cfg;
    env.log = w->log;
    env.alog = &w->alog;
    env.router = &w->router;
    env.slot = w->slot;
    env.jobs = w->jobs;
    /* one forkd_server_t: the one a module's init kept reaches the connections too */
    env.srv = &w->mods.srv;
    env.owner = w;
    env.closed = on_conn_closed;
    env.idle = on_conn_idle;
    env.out_of_memory = on_conn_out_of_memory;
    w->conns = conn_pool_new(&env);
    if (w->conns == NULL) {
        log_msg(w->log, LOG_LVL_ERROR, "conn_pool_new() failed: out of memory");
        return -1;
    }
    return 0;
}

/*
 * Everything the loop needs, built after fork with the master's signals still
 * blocked (so a QUIT or USR1 that arrives now waits for its handler instead
 * of killing a half-made worker). 0 ok, -1 logged.
 */
static int setup(worker_t *w, const int *listen_fds)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1};
    /* the master's own signals: one sent to a worker by mistake must not kill it */
    static const int ignored[] = {SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};
    struct event **sev[] = {&w->sig_term, &w->sig_int, &w->sig_quit, &w->sig_usr1};
    struct timeval one = {1, 0};
    size_t k;
    int i;

    for (k = 0; k < sizeof(ignored) / sizeof(ignored[0]); k++) {
        signal(ignored[k], SIG_IGN);
    }
    bind_cpu(w);
    if (drop_privileges(w) != 0 || init_serving(w) != 0) {
        return -1;
    }
    for (i = 0; i < w->nlisten; i++) {
        w->listen_fds[i] = listen_fds[i];
        w->listen_ev[i] = event_new(w->base, listen_fds[i], EV_READ | EV_PERSIST, on_accept, w);
        if (w->listen_ev[i] == NULL) {
            return -1;
        }
    }
    for (i = 0; i < 4; i++) {
        *sev[i] = evsignal_new(w->base, sigs[i], on_signal, w);
        if (*sev[i] == NULL || event_add(*sev[i], NULL) != 0) {
            return -1;
        }
    }
    w->accept_retry = evtimer_new(w->base, on_accept_retry, w);
    w->spread_timer = evtimer_new(w->base, on_spread_timer, w);
    w->drain_timer = evtimer_new(w->base, on_drain_timer, w);
    w->tick = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    if (w->accept_retry == NULL || w->spread_timer == NULL || w->drain_timer == NULL
        || w->tick == NULL || event_add(w->tick, &one) != 0) {
        return -1;
    }
    SB_SET(w->slot->heartbeat, (int64_t)timecache_now_ms());
    SB_SET(w->slot->state, SB_IDLE);
    if (SB_GET(w->sb->drain) == SB_DRAIN_DELAY) {
        announce_drain(w); /* replacing a worker that died during drain_delay */
    }
    listeners_enable(w, 1);
    return 0;
}

/*
 * Close everything on the way out. Signals are blocked first: freeing the
 * signal events gives SIGUSR1 and SIGQUIT their default action back, and one
 * sent by the master now (a logrotate USR1) must not turn a clean exit into a
 * death by signal.
 */
static void teardown(worker_t *w)
{
    struct event *evs[] = {w->sig_term,     w->sig_int,      w->sig_quit,    w->sig_usr1,
                           w->accept_retry, w->spread_timer, w->drain_timer, w->tick};
    sigset_t all;
    size_t i;
    int jobs_left = 0;

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    /* pending requests end first (their jobs are cancelled), then the jobs' done run */
    if (w->conns != NULL) {
        conn_close_all(w->conns);
    }
    if (pool_free(w->jobs, w->cfg->graceful_timeout) != 0) {
        jobs_left = 1;
        log_msg(w->log, LOG_LVL_WARN,
                "thread pool: jobs still running after graceful_timeout (%ums), left behind",
                w->cfg->graceful_timeout);
    }
    w->jobs = NULL;
    conn_pool_free(w->conns);
    w->conns = NULL;
    if (w->proxy.cfg != NULL) {
        proxy_fini(&w->proxy);
    }
    if (!jobs_left) { /* else a job still running may use what a module's fini frees */
        modules_fini(&w->mods);
    }
    static_fini(&w->files);
    accesslog_close(&w->alog, w->log);
    for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i] != NULL) {
            event_free(evs[i]);
        }
    }
    for (i = 0; i < (size_t)w->nlisten; i++) {
        if (w->listen_ev[i] != NULL) {
            event_free(w->listen_ev[i]);
        }
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
}

int worker_run(const worker_args_t *args)
{
    worker_t w;
    sigset_t none;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.args = args;
    w.cfg = args->cfg;
    w.log = args->log;
    w.sb = args->sb;
    w.slot = &args->sb->slots[args->slot];
    w.nlisten = args->nlisten;

    if (setup(&w, args->listen_fds) != 0) {
        rc = WORKER_EXIT_SETUP;
    } else {
        /* the master blocks its signals; from here a worker takes them through its loop */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        event_base_dispatch(w.base);
    }
    teardown(&w);
    return rc;
}
