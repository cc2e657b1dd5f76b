/* master: the supervisor loop. It never serves a request itself. */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "escape.h"
#include "filecache.h"
#include "listeners.h"
#include "net.h"
#include "pidfile.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "worker.h"

#define MAX_WORKERS 64         /* per generation; SB_SLOTS leaves room for draining ones */
#define RESPAWN_MAX_DELAY_S 32 /* crash-loop backoff cap */
#define QUICK_DEATH_S 2        /* dying sooner, having served nothing, counts toward backoff */
#define READY_WAIT_MS 5000     /* reload: how long the new generation may take to serve */
#define TICK_MS 100
#define STATUS_EVERY_MS 2000  /* systemd STATUS= line */
#define FRESH_BEAT_MS 5000    /* a worker whose heartbeat is this fresh is serving */
#define REPLACE_GRACE_MS 5000 /* time to replace a worker after worker_timeout killed it */
#define MAX_RELOAD_WAITERS 8  /* forkd -s reload processes waiting for the outcome */
#define RELOAD_ASK 0x666f726b /* sigqueue() value of a HUP that wants an answer ("fork") */
/* the answer's signal: ignored by default, so a stray one harms no process */
#define RELOAD_REPLY_SIGNAL SIGURG

/* A worker process as the master sees it; indexed by scoreboard slot. */
typedef struct {
    pid_t pid; /* 0 = slot unused */
    int generation;
    int index; /* 0..nworkers-1 in its generation */
    uint64_t started_ms;
    int draining;     /* sent QUIT (or TERM when stopping) */
    uint32_t sent;    /* bit (1 << sig) for each signal the master sent it */
    uint64_t kill_at; /* ms: SIGKILL if still alive then (0 = none) */
    int listen_set;   /* which socket set it was given */
} proc_t;

typedef struct {
    config_t *cfg; /* the current config (owned) */
    log_t *log;
    scoreboard_t *sb;

    /* set 0: the shared sockets; with reuse_port, set i is worker index i's own */
    listen_set_t sets[MAX_WORKERS];

    proc_t procs[SB_SLOTS];
    int nworkers; /* wanted in the current generation */
    int generation;
    int drain_pending;    /* reload: older generations wait for the new one to serve */
    uint64_t drain_after; /* ms: drain them anyway after this */

    int fails;              /* quick deaths in a row */
    uint64_t respawn_after; /* ms: no respawn before this (the crash-loop backoff) */
    int ever_served;        /* a worker has served: the config works */
    int start_failed;       /* no worker could set up before one ever served: exit 1 */
    int reload_failed;      /* the pending reload was reported failed (still retrying) */

    int stopping;         /* 0, SIGTERM (fast) or SIGQUIT (graceful) */
    uint64_t drain_until; /* ms: the drain_delay of a graceful stop ends (0 = none) */
    int inherited;        /* set 0 came from systemd or an upgrading master */
    int ready_sent;       /* READY=1 told for the current generation */
    pid_t upgrade_pid;    /* USR2: the new master we started, until it takes over */
    pid_t upgrade_parent; /* we are that new master: the old one to send QUIT */
    int handed_over;      /* the new master took over: we no longer speak for the service */
    int exit_status;      /* of the master: 1 when the first generation could not start */
    char exe[CONFIG_PATH_MAX];
    char *const *argv;
    uint64_t next_status, last_status_ms, next_watchdog, watchdog_ms;
    uint64_t last_requests;                   /* requests counted at the last STATUS= line */
    uint64_t retired_requests;                /* requests of workers that have exited */
    uint64_t last_serving_ms;                 /* when a worker last had a fresh heartbeat */
    pid_t reload_waiters[MAX_RELOAD_WAITERS]; /* forkd -s reload: told the outcome */
    int nreload_waiters;
    run_as_t as; /* who the workers run as */
} master_t;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The port file lets tests (and scripts) find a "port 0" server. */
static void write_port_file(master_t *m)
{
    const char *path = getenv("FORKD_PORT_FILE");

    char err[512];

    if (path != NULL && m->sets[0].n > 0
        && pidfile_write(path, net_local_port(m->sets[0].fds[0]), err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "port file: %s", err);
    }
}

/*
 * The socket set worker index i uses: with reuse_port its own (set i, bound
 * to the same address with SO_REUSEPORT, kept by the master across worker
 * restarts), else the shared set 0.
 */
static int set_for(master_t *m, int index)
{
    char err[NET_ERR_LEN + 256];

    if (!m->cfg->reuse_port) {
        return 0;
    }
    if (m->sets[index].n == 0
        && listeners_open(&m->sets[index], m->cfg, &m->sets[0], err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    return index;
}

/* Fork a worker of the current generation for index. 0 ok, -1 logged. */
static int spawn(master_t *m, int index)
{
    worker_args_t args;
    pid_t master_pid = getpid(), pid;
    int slot = scoreboard_take(m->sb), set;
    sb_slot_t *s;

    if (slot < 0) {
        log_msg(m->log, LOG_LVL_ERROR, "no free scoreboard slot for a worker");
        return -1;
    }
    set = set_for(m, index);
    if (set < 0) {
        SB_SET(m->sb->slots[slot].state, SB_FREE);
        return -1;
    }
    s = &m->sb->slots[slot];
    SB_SET(s->generation, m->generation);
    SB_SET(s->slot_index, index);
    SB_SET(s->started, (int64_t)time(NULL));
    SB_SET(s->heartbeat, (int64_t)now_ms());

    pid = fork();
    if (pid < 0) {
        log_msg(m->log, LOG_LVL_ERROR, "fork() failed: %s", strerror(errno));
        SB_SET(s->state, SB_FREE);
        return -1;
    }
    if (pid == 0) {
        /* no orphans serving a stale config: die with the master */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master_pid) {
            _exit(0);
        }
        /* the parent sets it too: whichever runs first, /status sees the worker sooner */
        SB_SET(s->pid, (int32_t)getpid());
        memset(&args, 0, sizeof(args));
        args.cfg = m->cfg;
        args.log = m->log;
        args.listen_fds = m->sets[set].fds;
        args.nlisten = m->sets[set].n;
        args.sb = m->sb;
        args.slot = slot;
        args.master_pid = master_pid;
        args.as = &m->as;
        _exit(worker_run(&args));
    }
    SB_SET(s->pid, (int32_t)pid);
    m->procs[slot].pid = pid;
    m->procs[slot].generation = m->generation;
    m->procs[slot].index = index;
    m->procs[slot].started_ms = now_ms();
    m->procs[slot].sent = 0;
    m->procs[slot].draining = 0;
    m->procs[slot].kill_at = 0;
    m->procs[slot].listen_set = set;
    log_msg(m->log, LOG_LVL_INFO, "worker %d.%d started (pid %d)", m->generation, index, (int)pid);
    return 0;
}

/* Signal one worker, remembering it: a death by a signal we sent is never a crash. */
static void signal_proc(proc_t *p, int sig)
{
    p->sent |= 1u << sig;
    kill(p->pid, sig);
}

/* Ask one worker to stop: QUIT drains within graceful_timeout, TERM stops now. */
static void stop_proc(master_t *m, proc_t *p, int sig)
{
    uint32_t grace = sig == SIGQUIT ? m->cfg->graceful_timeout : m->cfg->shutdown_timeout;

    signal_proc(p, sig);
    if (!p->draining || sig == SIGTERM) {
        /* the worker keeps its own deadline; this one is for a worker that cannot */
        p->kill_at = now_ms() + grace + 1000;
    }
    p->draining = 1;
}

static int live_procs(const master_t *m)
{
    int i, n = 0;

    for (i = 0; i < SB_SLOTS; i++) {
        n += m->procs[i].pid != 0;
    }
    return n;
}

/*
 * Workers that can take clients now: in their loop (idle or busy, not
 * starting, not draining) with a fresh heartbeat.
 */
static int count_serving(const master_t *m, uint64_t now)
{
    int i, state, n = 0;
    int64_t beat;

    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid == 0) {
            continue;
        }
        state = SB_GET(m->sb->slots[i].state);
        beat = SB_GET(m->sb->slots[i].heartbeat);
        if ((state == SB_IDLE || state == SB_BUSY) && beat != 0
            && now - (uint64_t)beat <= FRESH_BEAT_MS) {
            n++;
        }
    }
    return n;
}

/* Did the worker die of a signal the master itself sent it? */
static int killed_by_us(const proc_t *p, int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) < 32 && (p->sent & (1u << WTERMSIG(status)));
}

/* Say how a worker ended: at info when we asked for it, else as an error. */
static void log_death(master_t *m, const proc_t *p, pid_t pid, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && p->draining) {
        log_msg(m->log, LOG_LVL_INFO, "worker %d.%d (pid %d) exited", p->generation, p->index,
                (int)pid);
    } else if (killed_by_us(p, status)) {
        log_msg(m->log, LOG_LVL_INFO, "worker %d.%d (pid %d) ended by the master's %s",
                p->generation, p->index, (int)pid, strsignal(WTERMSIG(status)));
    } else if (WIFSIGNALED(status)) {
        log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) killed by signal %d", p->generation,
                p->index, (int)pid, WTERMSIG(status));
    } else if (WEXITSTATUS(status) == WORKER_EXIT_SETUP) {
        log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) could not set up (see above)",
                p->generation, p->index, (int)pid);
    } else {
        log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) exited with status %d", p->generation,
                p->index, (int)pid, WEXITSTATUS(status));
    }
}

/*
 * The crash-loop backoff. A worker that dies soon after its start without
 * having answered anything (a failed setup: the docroot moved for a moment,
 * no memory; a crash on the first request) is replaced at once the first
 * time, then after 1, 2, 4 ... 32 s while it goes on; one that served and
 * then died (killed, OOM) is replaced at once, so every slot stays filled.
 * Nothing is ever given up for good. All on CLOCK_MONOTONIC.
 */
static void note_death(master_t *m, const proc_t *p, uint64_t served, int setup_failed)
{
    uint64_t now = now_ms();
    int delay;

    if (!setup_failed && (now - p->started_ms >= QUICK_DEATH_S * 1000 || served != 0)) {
        m->fails = 0;
        return;
    }
    if (m->fails > 0) {
        delay = 1 << (m->fails - 1 < 5 ? m->fails - 1 : 5);
        m->respawn_after = now + (uint64_t)delay * 1000;
        if (setup_failed) {
            log_msg(m->log, LOG_LVL_ERROR, "worker could not set up: respawning in %ds", delay);
        } else {
            log_msg(m->log, LOG_LVL_ERROR, "worker died within %ds: respawning in %ds",
                    QUICK_DEATH_S, delay);
        }
    }
    m->fails++;
}

/*
 * Collect every exited worker and free its slot. A worker of the current
 * generation that did not stop on our request feeds the backoff; one that
 * could not set up before any worker ever served means the start failed.
 */
static void reap(master_t *m)
{
    int status, i, setup_failed;
    uint64_t served;
    pid_t pid;
    proc_t *p;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->upgrade_pid) {
            log_msg(m->log, LOG_LVL_ERROR,
                    "binary upgrade failed: the new master (pid %d) %s %d; "
                    "still serving",
                    (int)pid, WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            m->upgrade_pid = 0;
            continue;
        }
        for (i = 0; i < SB_SLOTS && m->procs[i].pid != pid; i++) {
        }
        if (i == SB_SLOTS) {
            continue;
        }
        p = &m->procs[i];
        p->pid = 0;
        served = SB_GET(m->sb->slots[i].requests);
        m->retired_requests += served; /* rates stay monotonic when workers leave */
        memset(&m->sb->slots[i], 0, sizeof(m->sb->slots[i]));
        log_death(m, p, pid, status);
        if (p->draining || p->generation != m->generation) {
            continue;
        }
        setup_failed = WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_SETUP;
        if (setup_failed && !m->ever_served && count_serving(m, now_ms()) == 0) {
            m->start_failed = 1;
        }
        if (!killed_by_us(p, status)) {
            note_death(m, p, served, setup_failed);
        }
    }
}

/*
 * Fill every empty index of the current generation (after the backoff).
 * Not once stopping, except during drain_delay: the service serves on then,
 * and a worker that died is replaced (it reads the drain from the scoreboard).
 */
static void respawn(master_t *m)
{
    int have[MAX_WORKERS] = {0};
    int i;

    if ((m->stopping && m->drain_until == 0) || now_ms() < m->respawn_after) {
        return;
    }
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation == m->generation && !p->draining
            && p->index < MAX_WORKERS) {
            have[p->index] = 1;
        }
    }
    for (i = 0; i < m->nworkers; i++) {
        if (!have[i] && spawn(m, i) != 0) {
            return;
        }
    }
}

/*
 * The watchdog: a worker whose heartbeat is older than worker_timeout is stuck
 * (a handler in a loop, a blocking call). Say what it was doing, then kill it;
 * reap() and respawn() replace it.
 */
static void check_heartbeats(master_t *m)
{
    uint64_t now = now_ms();
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        sb_slot_t *s = &m->sb->slots[i];
        int64_t beat;
        char raw[SB_CURRENT_LEN], current[ESCAPE_MAX(SB_CURRENT_LEN) + 1];

        if (p->pid == 0) {
            continue;
        }
        if (p->kill_at != 0 && now >= p->kill_at) {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) did not stop in time: SIGKILL",
                    p->generation, p->index, (int)p->pid);
            signal_proc(p, SIGKILL);
            p->kill_at = 0;
            continue;
        }
        beat = SB_GET(s->heartbeat);
        if (m->cfg->worker_timeout == 0 || beat == 0 || p->kill_at != 0
            || now - (uint64_t)beat < m->cfg->worker_timeout) {
            continue;
        }
        /* written by an unprivileged worker: a bounded snapshot, escaped */
        escape_str(current, sizeof(current), raw, scoreboard_current(s, raw));
        log_msg(m->log, LOG_LVL_ERROR,
                "worker %d.%d (pid %d) unresponsive for %llums (state %s, request \"%s\"): "
                "SIGKILL",
                p->generation, p->index, (int)p->pid, (unsigned long long)(now - (uint64_t)beat),
                scoreboard_state_name(SB_GET(s->state)),
                SB_GET(s->state) == SB_BUSY ? current : "");
        signal_proc(p, SIGKILL);
        p->kill_at = 0;
        SB_SET(s->heartbeat, 0);
    }
}

/*
 * A reload is settled: tell systemd (READY=1 with a STATUS= that says how)
 * and every `forkd -s reload` waiting for it (see master_request_reload()).
 */
static void reload_outcome(master_t *m, int result, const char *status)
{
    union sigval v;
    int i;

    sdnotify_send("READY=1\nSTATUS=%s", status);
    v.sival_int = result;
    for (i = 0; i < m->nreload_waiters; i++) {
        sigqueue(m->reload_waiters[i], RELOAD_REPLY_SIGNAL, v);
    }
    m->nreload_waiters = 0;
}

/*
 * Drain every worker of an older generation once the new one serves: all of
 * it, or at least one worker after READY_WAIT_MS. While none serves, the old
 * generation goes on serving and the new one is retried with the backoff;
 * a waiting `forkd -s reload` hears that the reload failed.
 */
static void drain_old(master_t *m)
{
    char status[96];
    int i, serving = 0;

    if (!m->drain_pending) {
        return;
    }
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation == m->generation && !p->draining
            && SB_GET(m->sb->slots[i].state) != SB_STARTING) {
            serving++;
        }
    }
    if (serving < m->nworkers && now_ms() < m->drain_after) {
        return;
    }
    if (serving == 0 && m->nworkers > 0) {
        if (!m->reload_failed) {
            m->reload_failed = 1;
            log_msg(m->log, LOG_LVL_ERROR,
                    "reload failed: no worker of generation %d could start within %dms; "
                    "the previous generation keeps serving (retrying)",
                    m->generation, READY_WAIT_MS);
            reload_outcome(m, MASTER_RELOAD_FAILED,
                           "reload failed: the new workers cannot start (retrying)");
        }
        return;
    }
    m->drain_pending = 0;
    snprintf(status, sizeof(status), "reloaded: generation %d serving", m->generation);
    reload_outcome(m, MASTER_RELOAD_OK, status);
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation != m->generation && !p->draining) {
            stop_proc(m, p, SIGQUIT);
        }
    }
}

/* [server] workers, with auto = the online CPUs. */
static int workers_wanted(const config_t *cfg)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (cfg->workers != 0) {
        return cfg->workers > MAX_WORKERS ? MAX_WORKERS : cfg->workers;
    }
    return ncpu < 1 ? 1 : ncpu > MAX_WORKERS ? MAX_WORKERS : (int)ncpu;
}

/* One line per socket of set: "<what> 127.0.0.1:8080". */
static void log_listeners(master_t *m, const listen_set_t *set, const char *what)
{
    char where[NET_DESCRIBE_LEN];
    int i;

    for (i = 0; i < set->n; i++) {
        log_msg(m->log, LOG_LVL_INFO, "%s %s", what, net_describe_listener(set->fds[i], where));
    }
}

/* After a reload changed listen: say which sockets of fresh were not in before. */
static void log_new_listeners(master_t *m, const listen_set_t *fresh, const listen_set_t *before)
{
    listen_set_t added = {.n = 0};
    int i, j;

    for (i = 0; i < fresh->n; i++) {
        for (j = 0; j < before->n && before->fds[j] != fresh->fds[i]; j++) {
        }
        if (j == before->n) {
            added.fds[added.n++] = fresh->fds[i];
        }
    }
    log_listeners(m, &added, "listening on");
}

/*
 * Make sure the access log exists for the workers, who open it as their user:
 * created by us (and handed to them) when missing, never followed if a link,
 * never chowned if it was there. Logged on failure.
 */
static void prepare_access_log(master_t *m, const config_t *cfg)
{
    char err[512];

    if (log_prepare_file(cfg->access_log, m->as.drop ? m->as.uid : (uid_t)-1, m->as.gid, err,
                         sizeof(err))
        != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "access log: %s", err);
    }
}

/* A reload refused before anything changed: say why; the old config serves on. */
static void refuse_reload(master_t *m, config_t *cfg, const char *why)
{
    char status[CONFIG_ERR_LEN + 32];

    log_msg(m->log, LOG_LVL_ERROR, "reload refused, still serving the old config: %s", why);
    snprintf(status, sizeof(status), "reload refused: %s", why);
    reload_outcome(m, MASTER_RELOAD_REFUSED, status);
    free(cfg);
}

/*
 * HUP: read the config again. Refused: log why and change nothing. Accepted:
 * a new generation of workers with it, and the old one drains once the new
 * one serves. Unchanged listen addresses keep their sockets, so no queued
 * connection is lost; changed ones get new sockets and the old ones close
 * with the last old worker.
 */
static void reload(master_t *m)
{
    config_t *cfg = malloc(sizeof(*cfg));
    char err[CONFIG_ERR_LEN];
    listen_set_t fresh, kept;
    run_as_t as;
    int i;

    sdnotify_send("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_ms() * 1000);
    if (cfg == NULL) {
        refuse_reload(m, cfg, "out of memory");
        return;
    }
    if (config_load(cfg, m->cfg->path, err) != 0 || preflight_check(cfg, &as, err) != 0) {
        refuse_reload(m, cfg, err);
        return;
    }
    if (m->inherited && !listeners_same(m->cfg, cfg)) {
        log_msg(m->log, LOG_LVL_WARN,
                "reload: listen changed, but the sockets were passed in "
                "(socket activation): keeping them");
        cfg->nlisten = m->cfg->nlisten;
        memcpy(cfg->listen, m->cfg->listen, sizeof(cfg->listen));
        cfg->reuse_port = 0;
    }
    if (!listeners_same(m->cfg, cfg)) {
        kept = m->sets[0];
        if (listeners_reopen(&fresh, &m->sets[0], m->cfg, cfg, err, sizeof(err)) != 0) {
            refuse_reload(m, cfg, err);
            return;
        }
        log_listeners(m, &m->sets[0], "no longer listening on");
        for (i = 0; i < MAX_WORKERS; i++) {
            listeners_close(&m->sets[i]); /* what is no longer wanted; old workers keep copies */
        }
        log_new_listeners(m, &fresh, &kept);
        m->sets[0] = fresh;
        write_port_file(m);
    }
    if (strcmp(cfg->error_log, m->cfg->error_log) != 0) {
        log_t fresh_log;
        if (log_open(&fresh_log, cfg, as.drop ? as.uid : (uid_t)-1, as.gid, err, sizeof(err))
            != 0) {
            log_msg(m->log, LOG_LVL_ERROR, "reload: error log: %s (keeping the old one)", err);
        } else {
            log_close(m->log);
            *m->log = fresh_log;
        }
    }
    m->log->level = cfg->level;
    m->as = as;
    prepare_access_log(m, cfg);
    free(m->cfg);
    m->cfg = cfg;
    m->generation++;
    SB_SET(m->sb->generation, m->generation);
    m->nworkers = workers_wanted(cfg);
    m->reload_failed = 0;
    m->fails = 0;
    m->respawn_after = 0;
    log_msg(m->log, LOG_LVL_INFO, "reloading: starting generation %d with %d worker%s",
            m->generation, m->nworkers, m->nworkers == 1 ? "" : "s");
    respawn(m);
    m->drain_pending = 1;
    m->drain_after = now_ms() + READY_WAIT_MS;
}

/* USR1: reopen our error log, create the access log for the workers, tell them to reopen. */
static void reopen_logs(master_t *m)
{
    char err[512];
    int i;

    if (log_reopen(m->log, err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "error log: %s (still writing to the old file)", err);
    }
    prepare_access_log(m, m->cfg);
    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            signal_proc(&m->procs[i], SIGUSR1);
        }
    }
    log_msg(m->log, LOG_LVL_INFO, "log files reopened");
}

/* TTOU / WINCH: gracefully stop the current generation's workers from index n up. */
static void shrink(master_t *m, int n)
{
    int i;

    m->nworkers = n;
    /*
     * With reuse_port the kernel would keep hashing clients to the sockets of
     * removed indexes: close them (connections queued there are lost, the
     * price of SO_REUSEPORT; set 0 stays for the next worker 0).
     */
    for (i = n > 1 ? n : 1; m->cfg->reuse_port && i < MAX_WORKERS; i++) {
        listeners_close(&m->sets[i]);
    }
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation == m->generation && p->index >= n && !p->draining) {
            stop_proc(m, p, SIGQUIT);
        }
    }
}

/*
 * Close the master's copies of every listening socket. The kernel goes on
 * queueing connections while any process holds one: the workers, which take
 * what is queued before they close theirs (worker.c close_listeners()), so
 * the socket stops listening with nothing queued and a client that comes
 * later is refused, which any balancer may retry, instead of reset. Sockets
 * passed by systemd stay open in systemd (README: socket activation).
 */
static void close_listeners(master_t *m)
{
    int i;

    for (i = 0; i < MAX_WORKERS; i++) {
        listeners_close(&m->sets[i]);
    }
}

/* Stop every worker with sig, after closing the master's listening sockets. */
static void stop_workers(master_t *m, int sig)
{
    int i;

    close_listeners(m);
    if (sig == SIGQUIT && !m->handed_over) { /* an upgrade is no drain: the new master serves */
        SB_SET(m->sb->drain, SB_DRAIN_CLOSING);
        sdnotify_send("STATUS=draining: listening sockets closed, finishing requests");
    }
    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            stop_proc(m, &m->procs[i], sig);
        }
    }
}

/*
 * [server] drain_delay: the stop is announced (the health URL fails, every
 * response says Connection: close) while the workers serve on, so a
 * balancer sees it and stops sending before any socket closes. The workers
 * learn it from the scoreboard when the QUIT arrives; drain_tick() ends it.
 */
static void begin_drain_delay(master_t *m)
{
    int i;

    m->drain_until = now_ms() + m->cfg->drain_delay;
    SB_SET(m->sb->drain, SB_DRAIN_DELAY);
    log_msg(m->log, LOG_LVL_INFO,
            "draining: the health URL fails and connections close after each response for "
            "%ums (drain_delay), then the listening sockets close",
            m->cfg->drain_delay);
    sdnotify_send("STOPPING=1\nSTATUS=draining: health URL failing, %ums before the listening "
                  "sockets close",
                  m->cfg->drain_delay);
    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            signal_proc(&m->procs[i], SIGQUIT);
        }
    }
}

/* The drain delay is over: close the sockets and let in-flight requests finish. */
static void drain_tick(master_t *m)
{
    if (m->drain_until == 0 || now_ms() < m->drain_until) {
        return;
    }
    m->drain_until = 0;
    log_msg(m->log, LOG_LVL_INFO, "drain_delay over: closing the listening sockets");
    stop_workers(m, SIGQUIT);
}

/*
 * Stop the service: sig SIGTERM now (in-flight requests are cut after
 * shutdown_timeout), SIGQUIT gracefully (after drain_delay, if any; not
 * after a binary upgrade handed the sockets to the new master, which
 * serves on them). received: the signal that asked for it (logged by its
 * name: SIGINT is not SIGTERM), 0 when the master stops on its own.
 */
static void begin_stop(master_t *m, int sig, int received)
{
    int was = m->stopping;

    if (!m->stopping || sig == SIGTERM) {
        if (received > 0) {
            log_msg(m->log, LOG_LVL_INFO, "SIG%s received: stopping %s", sigabbrev_np(received),
                    sig == SIGQUIT ? "gracefully" : "now");
        } else {
            log_msg(m->log, LOG_LVL_INFO, "stopping %s", sig == SIGQUIT ? "gracefully" : "now");
        }
    }
    m->stopping = sig;
    if (sig == SIGTERM) {
        m->drain_until = 0;
    }
    if (sig == SIGQUIT && !was && m->cfg->drain_delay > 0 && !m->handed_over) {
        begin_drain_delay(m);
        return;
    }
    if (m->drain_until != 0) {
        return; /* a second QUIT during the delay changes nothing */
    }
    sdnotify_send("STOPPING=1");
    stop_workers(m, sig);
}

/*
 * USR2: start the new binary as a new master that inherits our listening
 * sockets (FORKD_INHERIT_FDS). We keep serving; once its workers serve it
 * sends MAINPID=/READY=1 to systemd and QUIT to us. If it fails to start we
 * reap it and say so.
 */
static void upgrade(master_t *m)
{
    char fds[CONFIG_MAX_LISTEN * 8] = "", ppid[16], self[16];
    sigset_t none;
    pid_t pid;
    int i;

    if (m->upgrade_pid != 0 || m->stopping) {
        log_msg(m->log, LOG_LVL_WARN, "SIGUSR2 ignored: an upgrade or stop is in progress");
        return;
    }
    for (i = 0; i < m->sets[0].n; i++) {
        snprintf(fds + strlen(fds), sizeof(fds) - strlen(fds), "%s%d", i ? "," : "",
                 m->sets[0].fds[i]);
    }
    pid = fork();
    if (pid < 0) {
        log_msg(m->log, LOG_LVL_ERROR, "binary upgrade: fork() failed: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        for (i = 0; i < m->sets[0].n; i++) {
            fcntl(m->sets[0].fds[i], F_SETFD, 0); /* survive exec */
        }
        snprintf(ppid, sizeof(ppid), "%d", (int)getppid());
        setenv("FORKD_INHERIT_FDS", fds, 1);
        setenv("FORKD_UPGRADE_PARENT", ppid, 1);
        if (getenv("WATCHDOG_PID") != NULL) {
            /* systemd's watchdog names the main process; the new master will be it */
            snprintf(self, sizeof(self), "%d", (int)getpid());
            setenv("WATCHDOG_PID", self, 1);
        }
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(m->exe, m->argv);
        log_msg(m->log, LOG_LVL_ERROR, "binary upgrade: execv(\"%s\") failed: %s", m->exe,
                strerror(errno));
        _exit(127);
    }
    m->upgrade_pid = pid;
    log_msg(m->log, LOG_LVL_INFO, "binary upgrade: started %s as pid %d", m->exe, (int)pid);
}

/* Sum a counter over every live worker. */
static uint64_t sum_slots(const master_t *m, size_t offset)
{
    uint64_t total = 0;
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            total += SB_GET(*(uint64_t *)((char *)&m->sb->slots[i] + offset));
        }
    }
    return total;
}

/* READY=1 once the first generation serves; an upgraded master also takes over. */
static void tell_ready(master_t *m, int serving)
{
    m->ready_sent = 1;
    if (m->upgrade_parent > 0) {
        sdnotify_send("MAINPID=%d\nREADY=1\nSTATUS=upgraded: %d workers", (int)getpid(), serving);
        log_msg(m->log, LOG_LVL_INFO,
                "binary upgrade: serving; telling the old master (pid %d) to stop gracefully",
                (int)m->upgrade_parent);
        kill(m->upgrade_parent, SIGQUIT);
        m->upgrade_parent = 0;
    } else {
        sdnotify_send("READY=1\nSTATUS=%d workers", serving);
    }
}

/*
 * STATUS= every few seconds. The request count only grows: workers that
 * exited keep counting through retired_requests, so a reload never makes
 * the rate wrap. Fewer serving workers than wanted is said plainly.
 */
static void tell_status(master_t *m, uint64_t now, int serving)
{
    uint64_t requests = m->retired_requests + sum_slots(m, offsetof(sb_slot_t, requests));
    uint64_t elapsed = now - m->last_status_ms, rate = 0;
    char workers[48];

    if (requests > m->last_requests && elapsed > 0) {
        rate = (requests - m->last_requests) * 1000 / elapsed;
    }
    if (serving >= m->nworkers) {
        snprintf(workers, sizeof(workers), "%d workers", serving);
    } else {
        snprintf(workers, sizeof(workers), "%d of %d workers serving", serving, m->nworkers);
    }
    sdnotify_send("STATUS=%s, %llu req/s, %llu connections", workers, (unsigned long long)rate,
                  (unsigned long long)sum_slots(m, offsetof(sb_slot_t, active)));
    m->last_requests = requests;
    m->last_status_ms = now;
    m->next_status = now + STATUS_EVERY_MS;
}

/*
 * systemd's side: READY=1, STATUS= lines, and WATCHDOG=1. The watchdog
 * means "the master is alive and keeps workers serving": a stuck worker is
 * ours to replace (worker_timeout), so WATCHDOG=1 goes on while at least one
 * worker serves, and stops only when none has served for longer than it
 * takes us to notice a stuck one and replace it (or when the master itself
 * is stuck, which is what systemd's watchdog is for). WINCH (no workers
 * wanted) is healthy.
 */
static void notify_tick(master_t *m)
{
    uint64_t now = now_ms(), patience;
    int serving = count_serving(m, now);

    if (serving > 0 || m->nworkers == 0) {
        m->last_serving_ms = now;
        m->ever_served |= serving > 0;
    }
    if (!m->ready_sent && !m->stopping && serving >= m->nworkers) {
        tell_ready(m, serving);
    }
    if (m->ready_sent && !m->stopping && now >= m->next_status) {
        tell_status(m, now, serving);
    }
    patience = (m->cfg->worker_timeout != 0 ? m->cfg->worker_timeout : 60000) + REPLACE_GRACE_MS;
    if (m->watchdog_ms != 0 && now >= m->next_watchdog && now - m->last_serving_ms <= patience) {
        sdnotify_send("WATCHDOG=1");
        m->next_watchdog = now + m->watchdog_ms / 2;
    }
}

/*
 * The pid file: refuse to start while the pid it names is alive, then write
 * ours (pidfile_write(): atomic, nothing planted followed). 0 ok, -1 logged.
 */
static int write_pid_file(master_t *m)
{
    const char *path = m->cfg->pid_file;
    char err[512];
    pid_t old;

    if (path[0] == '\0') {
        return 0;
    }
    old = pidfile_read(path);
    if (old > 0 && old != getpid() && old != m->upgrade_parent
        && (kill(old, 0) == 0 || errno == EPERM)) {
        log_msg(m->log, LOG_LVL_ERROR, "forkd is already running (pid %d in %s)", (int)old, path);
        return -1;
    }
    if (pidfile_write(path, (long)getpid(), err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "pid file: %s", err);
        return -1;
    }
    return 0;
}

/*
 * A HUP that came from `forkd -s reload` (sigqueue() with RELOAD_ASK) wants
 * to hear how the reload ends; one from kill(1) does not, and nothing is
 * sent back to a process that did not ask.
 */
static void note_reload_waiter(master_t *m, const siginfo_t *info)
{
    union sigval v;

    if (info->si_code != SI_QUEUE || info->si_value.sival_int != RELOAD_ASK) {
        return;
    }
    if (m->stopping || m->nreload_waiters == MAX_RELOAD_WAITERS) {
        v.sival_int = MASTER_RELOAD_REFUSED;
        sigqueue(info->si_pid, RELOAD_REPLY_SIGNAL, v);
        return;
    }
    m->reload_waiters[m->nreload_waiters++] = info->si_pid;
}

/*
 * QUIT from the new master of a binary upgrade: it serves and has told
 * systemd it is the main process now. From here on we must not speak for
 * the service: a STOPPING=1 from us would make systemd stop the new master.
 */
static void handed_over(master_t *m)
{
    m->handed_over = 1;
    m->watchdog_ms = 0;
    unsetenv("NOTIFY_SOCKET"); /* sdnotify_send() is a no-op from now on */
    log_msg(m->log, LOG_LVL_INFO,
            "binary upgrade: the new master (pid %d) took over; stopping gracefully",
            (int)m->upgrade_pid);
}

/* One pass of the loop after a signal (or a tick, sig < 0): the master's whole job. */
static void handle(master_t *m, int sig, const siginfo_t *info)
{
    switch (sig) {
    case SIGTERM:
        /* [server] term = graceful: what containers and Kubernetes send means QUIT */
        if (m->cfg->term_graceful && m->stopping != SIGTERM) {
            begin_stop(m, SIGQUIT, SIGTERM);
            break;
        }
        begin_stop(m, SIGTERM, SIGTERM);
        break;
    case SIGINT: begin_stop(m, SIGTERM, SIGINT); break;
    case SIGQUIT:
        if (m->upgrade_pid != 0 && info->si_pid == m->upgrade_pid && !m->handed_over) {
            handed_over(m);
        }
        if (m->stopping != SIGTERM) {
            begin_stop(m, SIGQUIT, SIGQUIT);
        }
        break;
    case SIGHUP:
        note_reload_waiter(m, info);
        if (!m->stopping) {
            reload(m);
        }
        break;
    case SIGUSR1: reopen_logs(m); break;
    case SIGTTIN:
        if (!m->stopping && m->nworkers < MAX_WORKERS) {
            m->nworkers++;
            log_msg(m->log, LOG_LVL_INFO, "SIGTTIN: %d workers", m->nworkers); /* 2 or more */
        }
        break;
    case SIGTTOU:
        if (!m->stopping && m->nworkers > 1) {
            shrink(m, m->nworkers - 1);
            log_msg(m->log, LOG_LVL_INFO, "SIGTTOU: %d worker%s", m->nworkers,
                    m->nworkers == 1 ? "" : "s");
        }
        break;
    case SIGUSR2: upgrade(m); break;
    case SIGWINCH:
        if (!m->stopping) {
            shrink(m, 0);
            log_msg(m->log, LOG_LVL_INFO,
                    "SIGWINCH: workers stopping gracefully; "
                    "SIGHUP starts them again");
        }
        break;
    default: break;
    }
    reap(m);
    if (m->start_failed && !m->stopping) {
        /* the first generation cannot run: never sit on the port with no worker */
        log_msg(m->log, LOG_LVL_ERROR, "cannot start: the workers cannot run (see above)");
        m->exit_status = 1;
        begin_stop(m, SIGTERM, 0);
    }
    check_heartbeats(m);
    drain_tick(m);
    drain_old(m);
    respawn(m);
    notify_tick(m);
}

/*
 * Connections are descriptors: take the whole hard limit (systemd's
 * LimitNOFILE= sets both), and say how many connections that allows.
 */
static void raise_nofile(master_t *m)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_msg(m->log, LOG_LVL_WARN, "setrlimit(RLIMIT_NOFILE, %llu) failed: %s",
                    (unsigned long long)rl.rlim_max, strerror(errno));
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (m->cfg->cache_entries > filecache_fd_cap(rl.rlim_cur, m->cfg->max_connections)) {
        log_msg(m->log, LOG_LVL_WARN,
                "cache_entries %u: at most %zu cached files are held open per worker (open "
                "files limit %llu, max_connections %u); small files held in memory are not "
                "limited",
                m->cfg->cache_entries, filecache_fd_cap(rl.rlim_cur, m->cfg->max_connections),
                (unsigned long long)rl.rlim_cur, m->cfg->max_connections);
    }
    if ((uint64_t)m->cfg->max_connections + FILECACHE_FD_RESERVE > (uint64_t)rl.rlim_cur) {
        log_msg(m->log, LOG_LVL_WARN,
                "max_connections %u cannot be honoured: the open files limit is %llu "
                "(about %llu connections per worker; raise LimitNOFILE / ulimit -Hn)",
                m->cfg->max_connections, (unsigned long long)rl.rlim_cur,
                (unsigned long long)(rl.rlim_cur > FILECACHE_FD_RESERVE
                                         ? rl.rlim_cur - FILECACHE_FD_RESERVE
                                         : 0));
    } else {
        log_msg(m->log, LOG_LVL_INFO, "open files limit %llu", (unsigned long long)rl.rlim_cur);
    }
}

/*
 * Say once how static files will be opened: the workers make the same
 * choice (beneath_probe()), silently. Under a seccomp filter that refuses
 * openat2() (systemd's RestrictSUIDSGID=, DynamicUser=) it is the walk.
 */
static void log_resolve_mode(master_t *m)
{
    char why[160];

    beneath_probe(why, sizeof(why));
    log_msg(m->log, LOG_LVL_INFO, "static files: %s", why);
}

/*
 * Set 0 from systemd (LISTEN_FDS) or from the master we upgrade (then its pid
 * is in FORKD_UPGRADE_PARENT). 0 ok (possibly none), -1 logged.
 */
static int take_inherited(master_t *m)
{
    const char *parent = getenv("FORKD_UPGRADE_PARENT");
    int n = sdnotify_inherited_fds(m->sets[0].fds, CONFIG_MAX_LISTEN);

    if (parent != NULL) {
        m->upgrade_parent = (pid_t)atoi(parent);
        unsetenv("FORKD_UPGRADE_PARENT");
    }
    if (n < 0) {
        log_msg(m->log, LOG_LVL_ERROR,
                "the passed sockets (LISTEN_FDS / FORKD_INHERIT_FDS) "
                "are not usable listening sockets");
        return -1;
    }
    if (n > 0) {
        m->sets[0].n = n;
        m->inherited = 1;
        m->cfg->reuse_port = 0;
        log_msg(m->log, LOG_LVL_INFO,
                "serving on %d listening socket(s) passed by %s; [server] "
                "listen is not used",
                n, m->upgrade_parent ? "the old master" : "systemd");
    }
    return 0;
}

/*
 * Bring the master up: the scoreboard, the pid file, the listening sockets
 * (passed in, or bound), then the first workers. 0 ok, -1 logged; what was
 * made is undone by master_free().
 */
static int start(master_t *m)
{
    char err[NET_ERR_LEN + 256];

    m->sb = scoreboard_create();
    if (m->sb == NULL) {
        log_msg(m->log, LOG_LVL_ERROR, "mmap(scoreboard) failed: %s", strerror(errno));
        return -1;
    }
    SB_SET(m->sb->master_pid, (int32_t)getpid());
    SB_SET(m->sb->started, (int64_t)time(NULL));
    SB_SET(m->sb->generation, 1);

    raise_nofile(m);
    if (geteuid() == 0 && !m->as.drop) {
        log_msg(m->log, LOG_LVL_WARN,
                "running as root with no [server] user: the workers keep root's "
                "privileges (set user = an unprivileged account)");
    } else if (m->cfg->user[0] != '\0' && !m->as.drop) {
        log_msg(m->log, LOG_LVL_WARN, "user \"%s\" ignored: not running as root", m->cfg->user);
    }
    if (take_inherited(m) != 0 || write_pid_file(m) != 0) {
        return -1;
    }
    if (!m->inherited && listeners_open(&m->sets[0], m->cfg, NULL, err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "%s", err);
        pidfile_remove(m->cfg->pid_file, getpid());
        return -1;
    }
    log_listeners(m, &m->sets[0], m->inherited ? "listening on a passed socket:" : "listening on");
    write_port_file(m);
    log_resolve_mode(m);
    prepare_access_log(m, m->cfg);
    respawn(m);
    log_msg(m->log, LOG_LVL_INFO, "forkd started: %d worker%s", m->nworkers,
            m->nworkers == 1 ? "" : "s");
    return 0;
}

/* Close the sockets and free the scoreboard, the config and m. */
static void master_free(master_t *m)
{
    int i;

    for (i = 0; i < MAX_WORKERS; i++) {
        listeners_close(&m->sets[i]);
    }
    if (m->sb != NULL) {
        scoreboard_destroy(m->sb);
    }
    free(m->cfg);
    free(m);
}

int master_run(config_t *cfg, const run_as_t *as, log_t *log, char *const *argv)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                               SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};
    master_t *m = calloc(1, sizeof(master_t));
    struct timespec tick = {0, TICK_MS * 1000000L};
    sigset_t set;
    siginfo_t info;
    size_t i;
    int sig, rc;

    if (m == NULL) {
        log_msg(log, LOG_LVL_ERROR, "out of memory");
        free(cfg);
        return 1;
    }
    m->cfg = cfg;
    m->as = *as;
    m->log = log;
    m->argv = argv;
    m->generation = 1;
    m->watchdog_ms = sdnotify_watchdog_ms();
    m->last_serving_ms = now_ms();
    /* the binary as started: USR2 runs whatever is at this path now */
    if (readlink("/proc/self/exe", m->exe, sizeof(m->exe) - 1) < 0) {
        snprintf(m->exe, sizeof(m->exe), "%s", argv[0]);
    }
    m->nworkers = workers_wanted(cfg);

    /*
     * Signals stay blocked in the master and are taken synchronously with
     * sigtimedwait(): no handler code runs at a random point, and the loop
     * wakes every TICK_MS for the watchdog and timed work.
     */
    sigemptyset(&set);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&set, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);

    if (start(m) != 0) {
        master_free(m);
        return 1;
    }
    for (;;) {
        sig = sigtimedwait(&set, &info, &tick);
        handle(m, sig, &info);
        if (m->stopping && live_procs(m) == 0) {
            break;
        }
    }
    pidfile_remove(m->cfg->pid_file, getpid());
    log_msg(log, LOG_LVL_INFO, "forkd stopped");
    rc = m->exit_status;
    master_free(m);
    return rc;
}

int master_request_reload(pid_t pid, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms, now;
    struct timespec left;
    union sigval v;
    siginfo_t info;
    sigset_t reply;

    sigemptyset(&reply);
    sigaddset(&reply, RELOAD_REPLY_SIGNAL);
    sigprocmask(SIG_BLOCK, &reply, NULL);
    v.sival_int = RELOAD_ASK;
    if (sigqueue(pid, SIGHUP, v) != 0) {
        return -1;
    }
    while ((now = now_ms()) < deadline) {
        left.tv_sec = (time_t)((deadline - now) / 1000);
        left.tv_nsec = (long)((deadline - now) % 1000) * 1000000L;
        if (sigtimedwait(&reply, &info, &left) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        /* SIGURG from anyone else (a socket's out-of-band data, a stray kill) is not the answer */
        if (info.si_pid == pid && info.si_code == SI_QUEUE) {
            return info.si_value.sival_int;
        }
    }
    errno = EAGAIN;
    return -1;
}
