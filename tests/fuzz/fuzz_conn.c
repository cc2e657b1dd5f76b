/*
 * fuzz_conn: whole-connection fuzzer. Each input is the byte stream a client
 * sends on one connection (any number of pipelined requests, bodies, garbage);
 * it goes through a socketpair into the worker's real connection code
 * (conn.c, router, static files, response writer, file cache) driven by a
 * real libevent loop, like h2o's fuzz driver. ASan/UBSan watch it all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "worker.h"

#define MAX_ROUNDS 2000

static config_t cfg;
static log_t nolog;
static worker_args_t args;
static worker_t w;

static void put_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    if (fp == NULL || fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char root[] = "/tmp/forkd-fuzz-XXXXXX";
    static char big[100000];
    char sub[600];
    (void)argc;
    (void)argv;

    if (mkdtemp(root) == NULL) {
        abort();
    }
    put_file(root, "index.html", "<p>index</p>\n", 13);
    memset(big, 'b', sizeof(big));
    put_file(root, "big.bin", big, sizeof(big)); /* past cache_max_file: sendfile path */
    snprintf(sub, sizeof(sub), "%s/sub", root);
    mkdir(sub, 0755);
    put_file(sub, "a.txt", "a\n", 2);

    config_defaults(&cfg);
    snprintf(cfg.root, sizeof(cfg.root), "%s", root);
    cfg.max_header_size = 2048;
    cfg.max_headers = 20;
    cfg.max_body_size = 4096;
    cfg.lingering_timeout = 0;
    cfg.demo_enabled = 1;
    cfg.min_rate = 0;
    cfg.cache_entries = 16;
    snprintf(cfg.status_path, sizeof(cfg.status_path), "/status");
    snprintf(cfg.metrics_path, sizeof(cfg.metrics_path), "/status/metrics");

    nolog.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    nolog.level = LOG_LVL_DEBUG; /* the log lines are code too */

    args.sb = scoreboard_create();
    args.master_pid = getppid();
    w.args = &args;
    w.cfg = &cfg;
    w.log = &nolog;
    w.sb = args.sb;
    w.files.root_fd = -1;
    if (w.sb == NULL) {
        abort();
    }
    w.slot = &args.sb->slots[0];
    /* the worker's own setup, minus listeners and signals: the same routes as forkd */
    if (worker_init_serving(&w) != 0) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_storage peer;
    char sink[65536];
    size_t sent = 0;
    ssize_t n;
    int sv[2], round;

    /* the demo timers and CPU burner would only make runs slow, not find bugs */
    if (memmem(data, size, "/demo/work", 10) != NULL || memmem(data, size, "/demo/sleep", 11)) {
        return 0;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        abort();
    }
    memset(&peer, 0, sizeof(peer));
    peer.ss_family = AF_UNIX;
    n = write(sv[1], data, size);
    sent = n > 0 ? (size_t)n : 0;
    if (sent == size) {
        shutdown(sv[1], SHUT_WR);
    }
    conn_accept(&w, sv[0], &peer);
    for (round = 0; round < MAX_ROUNDS && w.nconns > 0; round++) {
        while (read(sv[1], sink, sizeof(sink)) > 0) {
        }
        if (sent < size) {
            n = write(sv[1], data + sent, size - sent);
            if (n > 0) {
                sent += (size_t)n;
            }
            if (sent == size) {
                shutdown(sv[1], SHUT_WR);
            }
        }
        event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    /* a connection still open (waiting for a timeout) is closed like at worker exit */
    if (w.nconns > 0) {
        conn_close_all(&w);
    }
    close(sv[1]);
    return 0;
}
