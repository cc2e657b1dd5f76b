/* master: the supervisor loop. It never serves a request itself. */
#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "worker.h"

#define MAX_WORKERS 512
#define STOP_TIMEOUT_S 10 /* TERM, then SIGKILL for workers that are still there */
#define RESPAWN_MAX_DELAY_S 32

typedef struct {
    const config_t *cfg;
    log_t *log;
    int listen_fds[CONFIG_MAX_LISTEN];
    int nlisten;
    int nworkers;
    pid_t pids[MAX_WORKERS]; /* 0 = empty slot */
    time_t started[MAX_WORKERS];
    int fails;            /* quick deaths in a row, for the respawn backoff */
    time_t respawn_after; /* no respawn before this time */
    int stopping;         /* 0, or the signal that asked us to stop */
} master_t;

/* The port file lets tests (and scripts) find a "port 0" server: tmp + rename. */
static void write_port_file(master_t *m)
{
    const char *path = getenv("FORKD_PORT_FILE");
    char tmp[4096];
    FILE *fp;

    if (path == NULL || m->nlisten == 0) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (fp == NULL) {
        log_msg(m->log, LOG_LVL_ERROR, "fopen(\"%s\") failed: %s", tmp, strerror(errno));
        return;
    }
    fprintf(fp, "%d\n", net_local_port(m->listen_fds[0]));
    if (fclose(fp) != 0 || rename(tmp, path) != 0) {
        log_msg(m->log, LOG_LVL_ERROR, "writing \"%s\" failed: %s", path, strerror(errno));
    }
}

static int open_listeners(master_t *m)
{
    char err[NET_ERR_LEN];
    net_addr_t addr;
    int i, fd;

    for (i = 0; i < m->cfg->nlisten; i++) {
        if (net_parse_addr(m->cfg->listen[i], &addr, err) != 0) {
            log_msg(m->log, LOG_LVL_ERROR, "listen %s: %s", m->cfg->listen[i], err);
            return -1;
        }
        fd = net_listen(&addr, SOMAXCONN, err);
        if (fd < 0) {
            log_msg(m->log, LOG_LVL_ERROR, "listen %s: %s", m->cfg->listen[i], err);
            return -1;
        }
        m->listen_fds[m->nlisten++] = fd;
        log_msg(m->log, LOG_LVL_INFO, "listening on %s (port %d)", m->cfg->listen[i],
                net_local_port(fd));
    }
    return 0;
}

/* Fork the worker for slot i. 0 ok, -1 logged. */
static int spawn(master_t *m, int i)
{
    pid_t master_pid = getpid(), pid;

    pid = fork();
    if (pid < 0) {
        log_msg(m->log, LOG_LVL_ERROR, "fork() failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* no orphans serving a stale config: die with the master */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master_pid) {
            _exit(0);
        }
        _exit(worker_run(m->cfg, m->log, m->listen_fds, m->nlisten, i));
    }
    m->pids[i] = pid;
    m->started[i] = time(NULL);
    log_msg(m->log, LOG_LVL_INFO, "worker %d started (pid %d)", i, (int)pid);
    return 0;
}

static int live_workers(const master_t *m)
{
    int i, n = 0;

    for (i = 0; i < m->nworkers; i++) {
        n += m->pids[i] != 0;
    }
    return n;
}

static void signal_workers(const master_t *m, int sig)
{
    int i;

    for (i = 0; i < m->nworkers; i++) {
        if (m->pids[i] != 0) {
            kill(m->pids[i], sig);
        }
    }
}

/* Collect every exited worker; a quick death grows the respawn backoff. */
static void reap(master_t *m)
{
    int status, i;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < m->nworkers && m->pids[i] != pid; i++) {
        }
        if (i == m->nworkers) {
            continue;
        }
        m->pids[i] = 0;
        if (m->stopping) {
            continue;
        }
        if (WIFSIGNALED(status)) {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d (pid %d) killed by signal %d", i, (int)pid,
                    WTERMSIG(status));
        } else {
            log_msg(m->log, LOG_LVL_ERROR, "worker %d (pid %d) exited with status %d", i,
                    (int)pid, WEXITSTATUS(status));
        }
        if (time(NULL) - m->started[i] < 2) {
            int delay = 1 << (m->fails < 5 ? m->fails : 5);
            m->fails++;
            m->respawn_after = time(NULL) + delay;
            log_msg(m->log, LOG_LVL_ERROR, "worker died within 2s: respawning in %ds", delay);
        } else {
            m->fails = 0;
        }
    }
}

static void respawn(master_t *m)
{
    int i;

    if (m->stopping || time(NULL) < m->respawn_after) {
        return;
    }
    for (i = 0; i < m->nworkers; i++) {
        if (m->pids[i] == 0 && spawn(m, i) != 0) {
            return;
        }
    }
}

int master_run(const config_t *cfg, log_t *log)
{
    master_t m;
    sigset_t set;
    siginfo_t info;
    struct timespec tick = {1, 0};
    time_t deadline = 0;
    int sig, i;
    long ncpu;

    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.log = log;
    m.nworkers = cfg->workers;
    if (m.nworkers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        m.nworkers = ncpu < 1 ? 1 : ncpu > MAX_WORKERS ? MAX_WORKERS : (int)ncpu;
    }

    /*
     * Signals stay blocked in the master and are taken synchronously with
     * sigtimedwait(): no handler code runs at a random point, and the loop
     * wakes once a second for timed work.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);

    if (open_listeners(&m) != 0) {
        return 1;
    }
    write_port_file(&m);
    for (i = 0; i < m.nworkers; i++) {
        if (spawn(&m, i) != 0) {
            m.stopping = SIGTERM;
            signal_workers(&m, SIGTERM);
            break;
        }
    }
    log_msg(log, LOG_LVL_INFO, "forkd started: %d workers", m.nworkers);

    for (;;) {
        sig = sigtimedwait(&set, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            if (!m.stopping) {
                log_msg(log, LOG_LVL_INFO, "%s: stopping %s", strsignal(sig),
                        sig == SIGQUIT ? "gracefully" : "now");
                m.stopping = sig;
                deadline = time(NULL) + STOP_TIMEOUT_S;
            }
            signal_workers(&m, sig == SIGINT ? SIGTERM : sig);
        } else if (sig == SIGHUP) {
            log_msg(log, LOG_LVL_WARN, "SIGHUP: reload is not supported yet, ignored");
        }
        reap(&m);
        if (m.stopping) {
            if (live_workers(&m) == 0) {
                break;
            }
            if (time(NULL) >= deadline) {
                log_msg(log, LOG_LVL_ERROR, "workers still running after %ds: SIGKILL",
                        STOP_TIMEOUT_S);
                signal_workers(&m, SIGKILL);
                deadline = time(NULL) + STOP_TIMEOUT_S;
            }
        } else {
            respawn(&m);
        }
    }
    for (i = 0; i < m.nlisten; i++) {
        close(m.listen_fds[i]);
    }
    log_msg(log, LOG_LVL_INFO, "forkd stopped");
    return 0;
}
