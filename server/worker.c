/* worker: the per-process event loop: accept, serve, flush the access log, stop on signal. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "demo.h"
#include "static.h"

#define ACCEPT_BATCH 64

static void on_accept(evutil_socket_t fd, short what, void *arg);

static void listeners_enable(worker_t *w, int on)
{
    int i;

    for (i = 0; i < w->nlisten; i++) {
        if (on) {
            event_add(w->listen_ev[i], NULL);
        } else {
            event_del(w->listen_ev[i]);
        }
    }
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;

    w->accept_paused = 0;
    if (!w->stopping) {
        listeners_enable(w, 1);
    }
}

/*
 * Out of descriptors: accepting again at once would spin on the same error.
 * Stop listening for a second (the kernel backlog holds new clients) and say
 * so at most once a second; connections being served go on.
 */
static void pause_accepting(worker_t *w, int err)
{
    struct timeval one = {1, 0};
    time_t now = time(NULL);

    if (now != w->last_emfile_log) {
        w->last_emfile_log = now;
        log_msg(w->log, LOG_LVL_ERROR, "accept4() failed: %s (pausing accept for 1s)",
                strerror(err));
    }
    w->accept_paused = 1;
    listeners_enable(w, 0);
    evtimer_add(w->accept_retry, &one);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    struct sockaddr_storage peer;
    socklen_t len;
    int i, cfd;
    (void)what;

    for (i = 0; i < ACCEPT_BATCH && !w->stopping; i++) {
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
            return;
        }
        conn_accept(w, cfd, &peer);
    }
}

void worker_update_time(worker_t *w)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == w->date_sec) {
        return;
    }
    w->date_sec = now;
    httpdate_format(now, w->date);
    localtime_r(&now, &tm);
    strftime(w->clf_date, sizeof(w->clf_date), "%d/%b/%Y:%H:%M:%S %z", &tm);
}

void worker_conn_closed(worker_t *w)
{
    if (w->stopping && w->nconns == 0) {
        event_base_loopbreak(w->base);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;

    accesslog_flush(&w->alog, w->log);
}

/* TERM/INT: stop now. QUIT: stop accepting, finish what is in flight. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;

    w->stopping = 1;
    listeners_enable(w, 0);
    if (sig == SIGQUIT) {
        conn_close_idle(w);
        if (w->nconns > 0) {
            return;
        }
    }
    event_base_loopbreak(w->base);
}

/* Everything the loop needs, built after fork. 0 ok, -1 logged. */
static int setup(worker_t *w, const int *listen_fds)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT};
    struct event **sev[] = {&w->sig_term, &w->sig_int, &w->sig_quit};
    struct timeval one = {1, 0};
    char err[512];
    int i;

    w->base = event_base_new();
    if (w->base == NULL) {
        log_msg(w->log, LOG_LVL_ERROR, "event_base_new() failed");
        return -1;
    }
    if (accesslog_open(&w->alog, w->cfg->access_log, err, sizeof(err)) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "access log: %s", err);
        return -1;
    }
    w->mime = mime_load("/etc/mime.types");
    w->root_fd = static_open_root(w->cfg->root);
    if (w->mime == NULL || w->root_fd < 0) {
        log_msg(w->log, LOG_LVL_ERROR, "open(\"%s\") failed: %s", w->cfg->root, strerror(errno));
        return -1;
    }
    if ((w->cfg->demo_enabled && demo_register(&w->router, w) != 0)
        || router_add(&w->router, "/", ROUTE_PREFIX,
                      HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD),
                      static_handler, w) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "router full");
        return -1;
    }
    w->block_size = conn_block_size(w->cfg);
    for (i = 0; i < w->nlisten; i++) {
        w->listen_fds[i] = listen_fds[i];
        w->listen_ev[i] = event_new(w->base, listen_fds[i], EV_READ | EV_PERSIST, on_accept, w);
        if (w->listen_ev[i] == NULL) {
            return -1;
        }
    }
    for (i = 0; i < 3; i++) {
        *sev[i] = evsignal_new(w->base, sigs[i], on_signal, w);
        if (*sev[i] == NULL || event_add(*sev[i], NULL) != 0) {
            return -1;
        }
    }
    w->accept_retry = evtimer_new(w->base, on_accept_retry, w);
    w->flush_timer = event_new(w->base, -1, EV_PERSIST, on_flush, w);
    if (w->accept_retry == NULL || w->flush_timer == NULL
        || event_add(w->flush_timer, &one) != 0) {
        return -1;
    }
    worker_update_time(w);
    listeners_enable(w, 1);
    return 0;
}

static void teardown(worker_t *w)
{
    struct event *evs[] = {w->sig_term, w->sig_int, w->sig_quit, w->accept_retry, w->flush_timer};
    size_t i;

    conn_close_all(w);
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
    mime_free(w->mime);
    if (w->root_fd >= 0) {
        close(w->root_fd);
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
}

int worker_run(const config_t *cfg, log_t *log, const int *listen_fds, int nlisten, int id)
{
    worker_t w;
    sigset_t none;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.id = id;
    w.cfg = cfg;
    w.log = log;
    w.nlisten = nlisten;
    w.root_fd = -1;

    /* the master blocks its signals; a worker takes them through its loop */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setup(&w, listen_fds) != 0) {
        rc = 2;
    } else {
        event_base_dispatch(w.base);
    }
    teardown(&w);
    return rc;
}
