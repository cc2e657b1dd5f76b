/* master: the supervisor loop. It never serves a request itself. */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

#include "net.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "worker.h"

#define MAX_WORKERS 64         /* per generation; SB_SLOTS leaves room for draining ones */
#define RESPAWN_MAX_DELAY_S 32 /* crash-loop backoff cap */
#define QUICK_DEATH_S 2        /* dying sooner, having served nothing, counts toward backoff */
#define READY_WAIT_MS 5000     /* reload: how long the new generation may take to serve */
#define TICK_MS 100
#define STATUS_EVERY_MS 2000 /* systemd STATUS= line */
#define FRESH_BEAT_MS 5000   /* watchdog: heartbeats older than this are not "fine" */

/* A worker process as the master sees it; indexed by scoreboard slot. */
typedef struct {
    pid_t pid; /* 0 = slot unused */
    int generation;
    int index; /* 0..nworkers-1 in its generation */
    time_t started;
    int draining;     /* sent QUIT (or TERM when stopping) */
    uint64_t kill_at; /* ms: SIGKILL if still alive then (0 = none) */
    int listen_set;   /* which socket set it was given */
} proc_t;

/* One set of listening sockets, as opened for a listen= value. */
typedef struct {
    int fds[CONFIG_MAX_LISTEN];
    int n;
} listen_set_t;

typedef struct {
    const char *cfg_path;
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

    int fails;            /* quick deaths in a row */
    time_t respawn_after; /* no respawn before this */
    int fatal;            /* a worker said its config cannot work: do not respawn */

    int stopping;         /* 0, SIGTERM (fast) or SIGQUIT (graceful) */
    int inherited;        /* set 0 came from systemd or an upgrading master */
    int ready_sent;       /* READY=1 told for the current generation */
    pid_t upgrade_pid;    /* USR2: the new master we started, until it takes over */
    pid_t upgrade_parent; /* we are that new master: the old one to send QUIT */
    char exe[CONFIG_PATH_MAX];
    char *const *argv;
    uint64_t next_status, next_watchdog, watchdog_ms;
    uint64_t last_requests;
    uid_t uid;
    gid_t gid;
    int drop_privileges;
} master_t;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Write "value\n" to path atomically: a reader sees the old file or the whole
 * new one, never a half-written number (tmp file + rename). 0 ok, -1 logged.
 */
static int write_number_file(master_t *m, const char *path, long value)
{
    char tmp[CONFIG_PATH_MAX + 8];
    FILE *fp;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (fp == NULL) {
        log_msg(m->log, LOG_LVL_ERROR, "fopen(\"%s\") failed: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(fp, "%ld\n", value);
    if (fclose(fp) != 0 || rename(tmp, path) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "writing \"%s\" failed: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The port file lets tests (and scripts) find a "port 0" server. */
static void write_port_file(master_t *m)
{
    const char *path = getenv("FORKD_PORT_FILE");

    if (path != NULL && m->sets[0].n > 0) {
        write_number_file(m, path, net_local_port(m->sets[0].fds[0]));
    }
}

static void close_set(listen_set_t *set)
{
    int i;

    for (i = 0; i < set->n; i++) {
        close(set->fds[i]);
    }
    set->n = 0;
}

/*
 * Open one socket per listen address of cfg into set. With port 0 and
 * reuse_port, later sets bind the port the first set got. 0 ok, -1 logged.
 */
static int open_set(master_t *m, const config_t *cfg, listen_set_t *set, const listen_set_t *like)
{
    char err[NET_ERR_LEN];
    net_addr_t addr;
    int i, fd;

    set->n = 0;
    for (i = 0; i < cfg->nlisten; i++) {
        if (net_parse_addr(cfg->listen[i], &addr, err) != 0) {
            log_msg(m->log, LOG_LVL_ERROR, "listen %s: %s", cfg->listen[i], err);
            close_set(set);
            return -1;
        }
        if (like != NULL && like->n > i) {
            int port = net_local_port(like->fds[i]);
            ((struct sockaddr_in *)&addr.ss)->sin_port =
                htons((uint16_t)port); /* same offset in v6 */
        }
        fd = net_listen(&addr, SOMAXCONN, cfg->reuse_port, err);
        if (fd < 0) {
            log_msg(m->log, LOG_LVL_ERROR, "listen %s: %s", cfg->listen[i], err);
            close_set(set);
            return -1;
        }
        set->fds[set->n++] = fd;
    }
    return 0;
}

/*
 * The socket set worker index i uses: with reuse_port its own (set i, bound
 * to the same address with SO_REUSEPORT, kept by the master across worker
 * restarts), else the shared set 0.
 */
static int set_for(master_t *m, int index)
{
    if (!m->cfg->reuse_port) {
        return 0;
    }
    if (m->sets[index].n == 0 && open_set(m, m->cfg, &m->sets[index], &m->sets[0]) != 0) {
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
        args.uid = m->uid;
        args.gid = m->gid;
        args.drop_privileges = m->drop_privileges;
        _exit(worker_run(&args));
    }
    SB_SET(s->pid, (int32_t)pid);
    m->procs[slot].pid = pid;
    m->procs[slot].generation = m->generation;
    m->procs[slot].index = index;
    m->procs[slot].started = time(NULL);
    m->procs[slot].draining = 0;
    m->procs[slot].kill_at = 0;
    m->procs[slot].listen_set = set;
    log_msg(m->log, LOG_LVL_INFO, "worker %d.%d started (pid %d)", m->generation, index, (int)pid);
    return 0;
}

/* Ask one worker to stop: QUIT drains within graceful_timeout, TERM stops now. */
static void stop_proc(master_t *m, proc_t *p, int sig)
{
    uint32_t grace = sig == SIGQUIT ? m->cfg->graceful_timeout : m->cfg->shutdown_timeout;

    kill(p->pid, sig);
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

/* Collect every exited worker and free its slot; note crashes for the backoff. */
static void reap(master_t *m)
{
    int status, i;
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
        memset(&m->sb->slots[i], 0, sizeof(m->sb->slots[i]));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && p->draining) {
            log_msg(m->log, LOG_LVL_INFO, "worker %d.%d (pid %d) exited", p->generation, p->index,
                    (int)pid);
            continue;
        }
        if (WIFSIGNALED(status)) {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) killed by signal %d",
                    p->generation, p->index, (int)pid, WTERMSIG(status));
        } else {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) exited with status %d",
                    p->generation, p->index, (int)pid, WEXITSTATUS(status));
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL) {
            log_msg(m->log, LOG_LVL_ERROR,
                    "worker cannot run with this config: not respawning "
                    "(fix it and reload)");
            m->fatal = 1;
        }
        if (p->draining || p->generation != m->generation) {
            continue;
        }
        /*
         * A crash loop is a worker that dies soon after its start without
         * having answered anything (bad setup, a crash on the first request):
         * back off. One that served and then died (killed, OOM) is replaced
         * at once, so every slot stays filled.
         */
        if (time(NULL) - p->started < QUICK_DEATH_S && served == 0) {
            /* the first quick death is replaced at once; a second in a row starts the backoff */
            if (m->fails > 0) {
                int delay = 1 << (m->fails - 1 < 5 ? m->fails - 1 : 5);
                m->respawn_after = time(NULL) + delay;
                log_msg(m->log, LOG_LVL_ERROR, "worker died within %ds: respawning in %ds",
                        QUICK_DEATH_S, delay);
            }
            m->fails++;
        } else {
            m->fails = 0;
        }
    }
}

/* Fill every empty index of the current generation (after the backoff). */
static void respawn(master_t *m)
{
    int have[MAX_WORKERS] = {0};
    int i;

    if (m->stopping || m->fatal || time(NULL) < m->respawn_after) {
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
        char current[SB_CURRENT_LEN];

        if (p->pid == 0) {
            continue;
        }
        if (p->kill_at != 0 && now >= p->kill_at) {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d.%d (pid %d) did not stop in time: SIGKILL",
                    p->generation, p->index, (int)p->pid);
            kill(p->pid, SIGKILL);
            p->kill_at = 0;
            continue;
        }
        beat = SB_GET(s->heartbeat);
        if (m->cfg->worker_timeout == 0 || beat == 0 || p->kill_at != 0
            || now - (uint64_t)beat < m->cfg->worker_timeout) {
            continue;
        }
        snprintf(current, sizeof(current), "%s", s->current);
        log_msg(m->log, LOG_LVL_ERROR,
                "worker %d.%d (pid %d) unresponsive for %llums (state %s, request \"%s\"): "
                "SIGKILL",
                p->generation, p->index, (int)p->pid, (unsigned long long)(now - (uint64_t)beat),
                scoreboard_state_name(SB_GET(s->state)),
                SB_GET(s->state) == SB_BUSY ? current : "");
        kill(p->pid, SIGKILL);
        p->kill_at = 0;
        SB_SET(s->heartbeat, 0);
    }
}

/* Drain every worker of an older generation once the new one serves. */
static void drain_old(master_t *m)
{
    int i, serving = 0;

    if (!m->drain_pending) {
        return;
    }
    if (m->fatal) {
        /* the new workers cannot run: the old generation goes on serving */
        m->drain_pending = 0;
        log_msg(m->log, LOG_LVL_ERROR,
                "reload failed: the new workers cannot start; "
                "the previous generation keeps serving");
        sdnotify_send("READY=1\nSTATUS=reload failed: the new workers cannot start");
        return;
    }
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation == m->generation
            && SB_GET(m->sb->slots[i].state) != SB_STARTING) {
            serving++;
        }
    }
    if (serving < m->nworkers && now_ms() < m->drain_after) {
        return;
    }
    m->drain_pending = 0;
    sdnotify_send("READY=1\nSTATUS=reloaded: generation %d serving", m->generation);
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

static int same_listen(const config_t *a, const config_t *b)
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
    listen_set_t fresh;
    int i;

    sdnotify_send("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_ms() * 1000);
    if (cfg == NULL) {
        log_msg(m->log, LOG_LVL_ERROR, "reload refused: out of memory");
        sdnotify_send("READY=1\nSTATUS=reload refused: out of memory");
        return;
    }
    if (config_load(cfg, m->cfg_path, err) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "reload refused, still serving the old config: %s", err);
        sdnotify_send("READY=1\nSTATUS=reload refused: %s", err);
        free(cfg);
        return;
    }
    if (m->inherited && !same_listen(m->cfg, cfg)) {
        log_msg(m->log, LOG_LVL_WARN,
                "reload: listen changed, but the sockets were passed in "
                "(socket activation): keeping them");
        cfg->nlisten = m->cfg->nlisten;
        memcpy(cfg->listen, m->cfg->listen, sizeof(cfg->listen));
        cfg->reuse_port = 0;
    }
    if (!same_listen(m->cfg, cfg)) {
        if (open_set(m, cfg, &fresh, NULL) != 0) {
            log_msg(m->log, LOG_LVL_ERROR, "reload refused, still serving the old config");
            sdnotify_send("READY=1\nSTATUS=reload refused: cannot listen on the new address");
            free(cfg);
            return;
        }
        for (i = 0; i < MAX_WORKERS; i++) {
            close_set(&m->sets[i]); /* old workers keep their copies until they exit */
        }
        m->sets[0] = fresh;
        write_port_file(m);
    }
    if (strcmp(cfg->error_log, m->cfg->error_log) != 0) {
        log_t fresh_log;
        if (log_open(&fresh_log, cfg, err, sizeof(err)) != 0) {
            log_msg(m->log, LOG_LVL_ERROR, "reload: error log: %s (keeping the old one)", err);
        } else {
            log_close(m->log);
            *m->log = fresh_log;
        }
    }
    m->log->level = cfg->level;
    free(m->cfg);
    m->cfg = cfg;
    m->generation++;
    SB_SET(m->sb->generation, m->generation);
    m->nworkers = workers_wanted(cfg);
    m->fatal = 0;
    m->fails = 0;
    m->respawn_after = 0;
    log_msg(m->log, LOG_LVL_INFO, "reloading: starting generation %d with %d workers",
            m->generation, m->nworkers);
    respawn(m);
    m->drain_pending = 1;
    m->drain_after = now_ms() + READY_WAIT_MS;
}

/* USR1: reopen our error log, create the files for the workers, tell them to reopen. */
static void reopen_logs(master_t *m)
{
    const char *paths[] = {m->cfg->access_log, m->cfg->error_log};
    char err[512];
    int i, fd;

    if (log_reopen(m->log, err, sizeof(err)) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "%s", err);
    }
    for (i = 0; i < 2; i++) {
        if (paths[i][0] == '\0') {
            continue;
        }
        fd = open(paths[i], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (m->drop_privileges && fchown(fd, m->uid, m->gid) != 0) {
                log_msg(m->log, LOG_LVL_ERROR, "fchown(\"%s\") failed: %s", paths[i],
                        strerror(errno));
            }
            close(fd);
        }
    }
    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            kill(m->procs[i].pid, SIGUSR1);
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
        close_set(&m->sets[i]);
    }
    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        if (p->pid != 0 && p->generation == m->generation && p->index >= n && !p->draining) {
            stop_proc(m, p, SIGQUIT);
        }
    }
}

static void begin_stop(master_t *m, int sig)
{
    int i;

    if (!m->stopping || sig == SIGTERM) {
        log_msg(m->log, LOG_LVL_INFO, "%s: stopping %s", strsignal(sig),
                sig == SIGQUIT ? "gracefully" : "now");
    }
    m->stopping = sig;
    sdnotify_send("STOPPING=1");
    for (i = 0; i < SB_SLOTS; i++) {
        if (m->procs[i].pid != 0) {
            stop_proc(m, &m->procs[i], sig);
        }
    }
}

/*
 * USR2: start the new binary as a new master that inherits our listening
 * sockets (FORKD_INHERIT_FDS). We keep serving; once its workers serve it
 * sends MAINPID=/READY=1 to systemd and QUIT to us. If it fails to start we
 * reap it and say so.
 */
static void upgrade(master_t *m)
{
    char fds[CONFIG_MAX_LISTEN * 8] = "", ppid[16];
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

/*
 * systemd's side: READY=1 once the first generation serves (for an upgraded
 * master, with MAINPID= and a QUIT to the old one), a STATUS= line every few
 * seconds, and WATCHDOG=1 only while every worker's heartbeat is fresh.
 */
static void notify_tick(master_t *m)
{
    uint64_t now = now_ms(), requests;
    int i, live = 0, starting = 0, stale = 0;

    for (i = 0; i < SB_SLOTS; i++) {
        proc_t *p = &m->procs[i];
        int64_t beat = SB_GET(m->sb->slots[i].heartbeat);
        if (p->pid == 0) {
            continue;
        }
        live++;
        if (SB_GET(m->sb->slots[i].state) == SB_STARTING) {
            starting++;
        } else if (beat == 0 || now - (uint64_t)beat > FRESH_BEAT_MS) {
            stale++;
        }
    }
    if (!m->ready_sent && !m->stopping && live >= m->nworkers && starting == 0) {
        m->ready_sent = 1;
        if (m->upgrade_parent > 0) {
            sdnotify_send("MAINPID=%d\nREADY=1\nSTATUS=upgraded: %d workers", (int)getpid(), live);
            log_msg(m->log, LOG_LVL_INFO,
                    "binary upgrade: serving; telling the old master "
                    "(pid %d) to stop gracefully",
                    (int)m->upgrade_parent);
            kill(m->upgrade_parent, SIGQUIT);
            m->upgrade_parent = 0;
        } else {
            sdnotify_send("READY=1\nSTATUS=%d workers", live);
        }
    }
    if (m->ready_sent && !m->stopping && now >= m->next_status) {
        requests = sum_slots(m, offsetof(sb_slot_t, requests));
        sdnotify_send("STATUS=%d workers, %llu req/s, %llu connections", live,
                      (unsigned long long)((requests - m->last_requests) * 1000 / STATUS_EVERY_MS),
                      (unsigned long long)sum_slots(m, offsetof(sb_slot_t, active)));
        m->last_requests = requests;
        m->next_status = now + STATUS_EVERY_MS;
    }
    if (m->watchdog_ms != 0 && now >= m->next_watchdog && stale == 0) {
        sdnotify_send("WATCHDOG=1");
        m->next_watchdog = now + m->watchdog_ms / 2;
    }
}

/* Resolve [server] user/group. 0 ok, -1 logged. */
static int resolve_user(master_t *m)
{
    struct passwd *pw;
    struct group *gr;

    if (m->cfg->user[0] == '\0') {
        return 0;
    }
    if (geteuid() != 0) {
        log_msg(m->log, LOG_LVL_WARN, "user \"%s\" ignored: not running as root", m->cfg->user);
        return 0;
    }
    pw = getpwnam(m->cfg->user);
    if (pw == NULL) {
        log_msg(m->log, LOG_LVL_ERROR, "unknown user \"%s\"", m->cfg->user);
        return -1;
    }
    m->uid = pw->pw_uid;
    m->gid = pw->pw_gid;
    if (m->cfg->group[0] != '\0') {
        gr = getgrnam(m->cfg->group);
        if (gr == NULL) {
            log_msg(m->log, LOG_LVL_ERROR, "unknown group \"%s\"", m->cfg->group);
            return -1;
        }
        m->gid = gr->gr_gid;
    }
    m->drop_privileges = 1;
    return 0;
}

/*
 * The pid file: refuse to start while the pid it names is alive, then write
 * ours atomically (tmp + rename). 0 ok, -1 logged.
 */
static int write_pid_file(master_t *m)
{
    const char *path = m->cfg->pid_file;
    pid_t old;

    if (path[0] == '\0') {
        return 0;
    }
    old = master_read_pid(path);
    if (old > 0 && old != getpid() && old != m->upgrade_parent
        && (kill(old, 0) == 0 || errno == EPERM)) {
        log_msg(m->log, LOG_LVL_ERROR, "forkd is already running (pid %d in %s)", (int)old, path);
        return -1;
    }
    return write_number_file(m, path, (long)getpid());
}

static void remove_pid_file(master_t *m)
{
    if (m->cfg->pid_file[0] != '\0' && master_read_pid(m->cfg->pid_file) == getpid()) {
        unlink(m->cfg->pid_file);
    }
}

pid_t master_read_pid(const char *path)
{
    char buf[32];
    ssize_t n;
    long v;
    char *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    v = strtol(buf, &end, 10);
    if (v <= 0 || (*end != '\n' && *end != '\0')) {
        return -1;
    }
    return (pid_t)v;
}

/* One pass of the loop after a signal (or a tick): the master's whole job. */
static void handle(master_t *m, int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT: begin_stop(m, SIGTERM); break;
    case SIGQUIT:
        if (m->stopping != SIGTERM) {
            begin_stop(m, SIGQUIT);
        }
        break;
    case SIGHUP:
        if (!m->stopping) {
            reload(m);
        }
        break;
    case SIGUSR1: reopen_logs(m); break;
    case SIGTTIN:
        if (!m->stopping && m->nworkers < MAX_WORKERS) {
            m->nworkers++;
            log_msg(m->log, LOG_LVL_INFO, "SIGTTIN: %d workers", m->nworkers);
        }
        break;
    case SIGTTOU:
        if (!m->stopping && m->nworkers > 1) {
            shrink(m, m->nworkers - 1);
            log_msg(m->log, LOG_LVL_INFO, "SIGTTOU: %d workers", m->nworkers);
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
    check_heartbeats(m);
    drain_old(m);
    if (!m->stopping) {
        respawn(m);
    }
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
    if ((uint64_t)m->cfg->max_connections + 32 > (uint64_t)rl.rlim_cur) {
        log_msg(m->log, LOG_LVL_WARN,
                "max_connections %u cannot be honoured: the open files limit is %llu "
                "(about %llu connections per worker; raise LimitNOFILE / ulimit -Hn)",
                m->cfg->max_connections, (unsigned long long)rl.rlim_cur,
                (unsigned long long)(rl.rlim_cur > 32 ? rl.rlim_cur - 32 : 0));
    } else {
        log_msg(m->log, LOG_LVL_INFO, "open files limit %llu", (unsigned long long)rl.rlim_cur);
    }
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

int master_run(config_t *cfg, const char *cfg_path, log_t *log, char *const *argv)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                               SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};
    master_t *m = calloc(1, sizeof(master_t));
    struct timespec tick = {0, TICK_MS * 1000000L};
    sigset_t set;
    siginfo_t info;
    size_t i;
    int sig;

    if (m == NULL) {
        log_msg(log, LOG_LVL_ERROR, "out of memory");
        return 1;
    }
    m->cfg = cfg;
    m->cfg_path = cfg_path;
    m->log = log;
    m->argv = argv;
    m->generation = 1;
    m->watchdog_ms = sdnotify_watchdog_ms();
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

    m->sb = scoreboard_create();
    if (m->sb == NULL) {
        log_msg(log, LOG_LVL_ERROR, "mmap(scoreboard) failed: %s", strerror(errno));
        free(m);
        return 1;
    }
    SB_SET(m->sb->master_pid, (int32_t)getpid());
    SB_SET(m->sb->started, (int64_t)time(NULL));
    SB_SET(m->sb->generation, 1);

    raise_nofile(m);
    if (take_inherited(m) != 0 || resolve_user(m) != 0 || write_pid_file(m) != 0) {
        scoreboard_destroy(m->sb);
        free(m);
        return 1;
    }
    if (!m->inherited && open_set(m, cfg, &m->sets[0], NULL) != 0) {
        remove_pid_file(m);
        scoreboard_destroy(m->sb);
        free(m);
        return 1;
    }
    for (i = 0; i < (size_t)m->sets[0].n; i++) {
        log_msg(log, LOG_LVL_INFO, "listening on %s (port %d)",
                m->inherited ? "a passed socket" : cfg->listen[i],
                net_local_port(m->sets[0].fds[i]));
    }
    write_port_file(m);
    respawn(m);
    log_msg(log, LOG_LVL_INFO, "forkd started: %d workers", m->nworkers);

    for (;;) {
        sig = sigtimedwait(&set, &info, &tick);
        handle(m, sig);
        if (m->stopping && live_procs(m) == 0) {
            break;
        }
    }
    for (i = 0; i < MAX_WORKERS; i++) {
        close_set(&m->sets[i]);
    }
    remove_pid_file(m);
    log_msg(log, LOG_LVL_INFO, "forkd stopped");
    scoreboard_destroy(m->sb);
    free(m->cfg);
    free(m);
    return 0;
}
