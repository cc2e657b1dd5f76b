/*
 * fuzz_conn: whole-connection fuzzer. Each input is the byte stream a client
 * sends on one connection (any number of pipelined requests, bodies, garbage);
 * it goes through a socketpair into the real connection code (conn*.c, router,
 * the handlers static, status and demo with the file cache, the response
 * writer, a streamed response and a streamed request body) driven by a real libevent loop, like
 * h2o's fuzz driver. The pool is set up as the worker sets it up, without a worker. ASan/UBSan
 * watch it all. An input that starts like a PROXY header (v1 "PROXY", or v2's first byte)
 * comes from a trusted balancer (127.0.0.1) on a proxy_protocol listener; X-Forwarded-For
 * is believed from 127.0.0.0/8, and the access log writes JSON lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "demo.h"
#include "router.h"
#include "static.h"
#include "status.h"

#define MAX_ROUNDS 2000

static config_t cfg;
static log_t nolog;
static accesslog_t alog;
static router_t router;
static static_sites_t files;
static status_t status;
static demo_t demo;
static struct event_base *base;
static conn_pool_t *pool;

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

/* The worker's side of the pool: nothing to pause or resume here. */
static void ignore(void *owner)
{
    (void)owner;
}

static void ignore_nomem(void *owner, size_t size, int closed)
{
    (void)owner;
    (void)size;
    (void)closed;
}

/*
 * Streaming through the public API: /fz/stream sends 3 buffers' worth with
 * backpressure, /fz/upload (body = stream) answers the count of its body.
 * Each keeps a malloc'd left-over count that its end or its abort frees.
 */
static void fz_room(forkd_resp_t *resp, void *arg);

static void fz_aborted(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    (void)srv;
    (void)ref;
    (void)why;
    free(arg);
}

static void fz_room(forkd_resp_t *resp, void *arg)
{
    static const char piece[5000] = {'s'};
    size_t *left = arg;
    ssize_t w;

    while (*left > 0) {
        w = forkd_resp_write(resp, piece, *left < sizeof(piece) ? *left : sizeof(piece));
        if (w <= 0) {
            forkd_resp_on_writable(resp, fz_room, left);
            return;
        }
        *left -= (size_t)w;
    }
    free(left);
    forkd_resp_finish(resp);
}

static int fz_stream(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    size_t *left = malloc(sizeof(*left));
    (void)self;

    forkd_resp_status(resp, 200);
    if (left == NULL || forkd_resp_stream(resp) != 0) {
        free(left);
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    *left = 3 * FORKD_STREAM_BUFFER;
    forkd_req_on_abort(req, fz_aborted, left);
    fz_room(resp, left);
    return FORKD_ASYNC;
}

static void fz_piece(forkd_resp_t *resp, const char *p, size_t len, int last, void *arg)
{
    size_t *count = arg;
    (void)p;

    *count += len;
    if (last || *count > 100) { /* over 100 bytes: answered before the body ends */
        forkd_resp_status(resp, 200);
        forkd_resp_printf(resp, "%zu\n", *count);
        free(count);
        forkd_resp_finish(resp);
    }
}

static int fz_upload(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    size_t *count = calloc(1, sizeof(*count));
    (void)self;

    if (count == NULL) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    forkd_req_on_abort(req, fz_aborted, count);
    forkd_req_on_body(req, fz_piece, count);
    return FORKD_ASYNC;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char root[] = "/tmp/forkd-fuzz-XXXXXX";
    static char big[100000];
    char sub[600], path[600], err[512];
    scoreboard_t *sb;
    conn_env_t env;
    (void)argc;
    (void)argv;

    if (mkdtemp(root) == NULL) {
        abort();
    }
    put_file(root, "index.html", "<p>index</p>\n", 13);
    memset(big, 'b', sizeof(big));
    put_file(root, "big.bin", big, sizeof(big)); /* past cache_max_file: sendfile path */
    /* held in memory, yet large enough for a multipart answer (byte ranges) */
    put_file(root, "mid.txt", big, 4096);
    /* a precompressed sibling (its bytes are sent as they are) and gzip on the fly */
    put_file(root, "mid.txt.gz", "gz", 2);
    put_file(root, "index.html.br", "br", 2);
    snprintf(sub, sizeof(sub), "%s/sub", root);
    mkdir(sub, 0755);
    put_file(sub, "a.txt", "a\n", 2);

    config_defaults(&cfg);
    snprintf(cfg.sites[0].root, sizeof(cfg.sites[0].root), "%s", root);
    cfg.sites[0].gzip = 1;
    cfg.sites[0].gzip_min_length = 16;
    /* a second site by Host, a [cache] rule and a [mime] line: the request shapes of issue 14 */
    cfg.sites[1] = cfg.sites[0];
    snprintf(cfg.sites[1].name, sizeof(cfg.sites[1].name), "two");
    snprintf(cfg.sites[1].server_name, sizeof(cfg.sites[1].server_name), "two.fz *.fz.example");
    snprintf(cfg.sites[1].root, sizeof(cfg.sites[1].root), "%s", sub);
    snprintf(cfg.sites[1].charset, sizeof(cfg.sites[1].charset), "latin1");
    cfg.nsites = 2;
    snprintf(cfg.cache_rules[0].pattern, sizeof(cfg.cache_rules[0].pattern), "*.txt");
    snprintf(cfg.cache_rules[0].cache_control, sizeof(cfg.cache_rules[0].cache_control),
             "no-cache");
    cfg.cache_rules[0].expires = 60;
    cfg.cache_rules[0].errors = 1;
    cfg.ncache_rules = 1;
    snprintf(cfg.mime[0].name, sizeof(cfg.mime[0].name), "bin");
    snprintf(cfg.mime[0].value, sizeof(cfg.mime[0].value), "text/x-fz");
    cfg.nmime = 1;
    cfg.max_header_size = 2048;
    cfg.max_headers = 20;
    cfg.max_body_size = 4096;
    cfg.lingering_timeout = 0;
    cfg.demo_enabled = 1;
    cfg.min_rate = 0;
    cfg.cache_entries = 16;
    snprintf(cfg.status_path, sizeof(cfg.status_path), "/status");
    snprintf(cfg.metrics_path, sizeof(cfg.metrics_path), "/status/metrics");
    snprintf(cfg.proxy_from, sizeof(cfg.proxy_from), "127.0.0.1");
    snprintf(cfg.real_ip_from, sizeof(cfg.real_ip_from), "127.0.0.0/8");
    cfg.log_format = CONFIG_LOG_JSON;
    snprintf(path, sizeof(path), "%s/access.log", root);

    nolog.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    nolog.level = LOG_LVL_DEBUG; /* the log lines are code too */

    sb = scoreboard_create();
    base = event_base_new();
    /* the routes a worker registers, in its order */
    if (sb == NULL || base == NULL || accesslog_open(&alog, path, err, sizeof(err)) != 0
        || static_init(&files, &cfg, err, sizeof(err)) != 0) {
        abort();
    }
    status_init(&status, sb, &cfg, 0);
    if (router_add(&router, "/fz/stream", ROUTE_EXACT,
                   HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD), fz_stream,
                   NULL)
            != 0
        || router_add(&router, "/fz/upload", ROUTE_EXACT | ROUTE_BODY_STREAM,
                      HTTP_METHOD_BIT(HTTP_METHOD_POST), fz_upload, NULL)
               != 0
        || status_register(&router, &status, cfg.status_path, cfg.metrics_path) != 0
        || demo_register(&router, &demo) != 0 || static_register(&router, &files) != 0) {
        abort();
    }
    memset(&env, 0, sizeof(env));
    env.base = base;
    env.cfg = &cfg;
    env.log = &nolog;
    env.alog = &alog;
    env.router = &router;
    env.slot = &sb->slots[0];
    env.closed = ignore;
    env.idle = ignore;
    env.out_of_memory = ignore_nomem;
    pool = conn_pool_new(&env);
    if (pool == NULL) {
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
    int sv[2], round, proxy;

    /* the demo timers and CPU burner would only make runs slow, not find bugs */
    if (memmem(data, size, "/demo/work", 10) != NULL || memmem(data, size, "/demo/sleep", 11)) {
        return 0;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        abort();
    }
    memset(&peer, 0, sizeof(peer));
    peer.ss_family = AF_UNIX;
    proxy = size > 0 && (data[0] == 'P' || data[0] == '\r');
    if (proxy) {
        struct sockaddr_in *in = (struct sockaddr_in *)&peer;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    n = write(sv[1], data, size);
    sent = n > 0 ? (size_t)n : 0;
    if (sent == size) {
        shutdown(sv[1], SHUT_WR);
    }
    conn_accept(pool, sv[0], &peer, proxy);
    for (round = 0; round < MAX_ROUNDS && conn_count(pool) > 0; round++) {
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
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    /* a connection still open (waiting for a timeout) is closed like at worker exit */
    if (conn_count(pool) > 0) {
        conn_close_all(pool);
    }
    close(sv[1]);
    /* the lines are written (escaping is code too), then forgotten: the file stays small */
    accesslog_flush(&alog, &nolog);
    if (ftruncate(alog.fd, 0) != 0) {
        abort();
    }
    return 0;
}
