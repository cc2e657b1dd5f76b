/* test_config: defaults, every value type, and file:line refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "http_parser.h"

typedef struct {
    char dir[64];
    char path[128];
    char err[CONFIG_ERR_LEN];
    config_t cfg;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char root[128];

    strcpy(f->dir, "/tmp/test_config_XXXXXX");
    if (f == NULL || mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(root, sizeof(root), "%s/www", f->dir);
    mkdir(root, 0755);
    snprintf(f->path, sizeof(f->path), "%s/forkd.ini", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char root[128];

    snprintf(root, sizeof(root), "%s/www", f->dir);
    unlink(f->path);
    rmdir(root);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Write text as the config file and load it. */
static int load(fixture_t *f, const char *text, size_t len)
{
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
    return config_load(&f->cfg, f->path, f->err);
}

#define LOAD(f, text) load(f, text, sizeof(text) - 1)

/* The error starts with "path:line: " and mentions what. */
static void expect_error(fixture_t *f, int line, const char *what)
{
    char prefix[256];

    snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
    assert_memory_equal(f->err, prefix, strlen(prefix));
    assert_non_null(strstr(f->err, what));
}

static void test_minimal_file_gets_defaults(void **state)
{
    fixture_t *f = *state;
    char root[160];

    assert_int_equal(LOAD(f, "[static]\nroot = www\n"), 0);
    snprintf(root, sizeof(root), "%s/www", f->dir);
    assert_string_equal(f->cfg.sites[0].root, root);
    assert_string_equal(f->cfg.sites[0].index, "index.html");
    assert_int_equal(f->cfg.nlisten, 1);
    assert_string_equal(f->cfg.listen[0], "127.0.0.1:8080");
    assert_int_equal(f->cfg.workers, 0);
    assert_int_equal(f->cfg.keepalive_timeout, 75000);
    assert_int_equal(f->cfg.max_header_size, 8192);
    assert_int_equal(f->cfg.max_body_size, 1024 * 1024);
    assert_string_equal(f->cfg.access_log, "");
    assert_string_equal(f->cfg.error_log, "");
    assert_int_equal(f->cfg.demo_enabled, 0);
}

/* precompressed, gzip and its keys: defaults, [static] values a [site] inherits, its overrides. */
static void test_compression_keys(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n"), 0);
    assert_int_equal(f->cfg.sites[0].precompressed, 1);
    assert_int_equal(f->cfg.sites[0].gzip, 0);
    assert_int_equal(f->cfg.sites[0].gzip_level, 6);
    assert_int_equal(f->cfg.sites[0].gzip_min_length, 256);
    assert_string_equal(f->cfg.sites[0].gzip_types, CONFIG_GZIP_TYPES);
    assert_int_equal(LOAD(f, "[static]\nroot = www\ngzip = yes\ngzip_level = 9\n"
                             "gzip_types = text/* image/svg+xml\ngzip_min_length = 1k\n"
                             "precompressed = no\n"
                             "[site a]\nserver_name = a\ngzip_level = 1\n"
                             "[site b]\nserver_name = b\ngzip_types = none\ngzip = no\n"),
                     0);
    assert_int_equal(f->cfg.sites[1].gzip, 1);
    assert_int_equal(f->cfg.sites[1].precompressed, 0);
    assert_int_equal(f->cfg.sites[1].gzip_level, 1);
    assert_int_equal(f->cfg.sites[1].gzip_min_length, 1024);
    assert_string_equal(f->cfg.sites[1].gzip_types, "text/* image/svg+xml");
    assert_int_equal(f->cfg.sites[2].gzip, 0);
    assert_int_equal(f->cfg.sites[2].gzip_level, 9);
    assert_string_equal(f->cfg.sites[2].gzip_types, "");
    assert_int_equal(LOAD(f, "[static]\nroot = www\ngzip_types = text/html te@xt/css\n"), -1);
    expect_error(f, 3, "'te@xt/css'");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[site a]\nserver_name = a\ngzip_level = 0\n"),
                     -1);
    expect_error(f, 5, "gzip_level");
}

static void test_every_type_parsed(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[server]\nlisten = 127.0.0.1:0 [::1]:8081 *:80\nworkers = 3\n"
                             "[static]\nroot = www\nindex = home.htm\n"
                             "[http]\nkeepalive_timeout = 500ms\nheader_timeout = 2m\n"
                             "max_header_size = 16k\nmax_body_size = 2m\nmax_headers = 50\n"
                             "keepalive_requests = 7\n"
                             "[log]\naccess_log = /tmp/a.log\nerror_log = e.log\nlevel = debug\n"
                             "[demo]\nenabled = yes\n"),
                     0);
    assert_int_equal(f->cfg.nlisten, 3);
    assert_string_equal(f->cfg.listen[1], "[::1]:8081");
    assert_int_equal(f->cfg.workers, 3);
    assert_string_equal(f->cfg.sites[0].index, "home.htm");
    assert_int_equal(f->cfg.keepalive_timeout, 500);
    assert_int_equal(f->cfg.header_timeout, 120000);
    assert_int_equal(f->cfg.max_header_size, 16384);
    assert_int_equal(f->cfg.max_body_size, 2 * 1024 * 1024);
    assert_int_equal(f->cfg.max_headers, 50);
    assert_int_equal(f->cfg.keepalive_requests, 7);
    assert_string_equal(f->cfg.access_log, "/tmp/a.log");
    assert_non_null(strstr(f->cfg.error_log, "/e.log"));
    assert_int_equal(f->cfg.level, LOG_LVL_DEBUG);
    assert_int_equal(f->cfg.demo_enabled, 1);
}

/* The access, listing and error page keys: defaults, values, a [site] inheriting them. */
static void test_access_keys_inherited(void **state)
{
    fixture_t *f = *state;
    const config_site_t *st, *a, *b;

    assert_int_equal(LOAD(f, "[static]\nroot = www\ndeny = /private/ /b\n"
                             "error_page_404 = /e/404.html\nautoindex = yes\n"
                             "[site a]\nserver_name = a.example\n"
                             "[site b]\nserver_name = b.example\ndotfiles = allow\ndeny =\n"
                             "error_page_404 = off\nerror_page_503 = /e/503.html\n"
                             "autoindex = no\n"),
                     0);
    st = &f->cfg.sites[0];
    a = &f->cfg.sites[1];
    b = &f->cfg.sites[2];
    assert_int_equal(st->dotfiles, 0);
    assert_string_equal(st->deny, "/private/ /b");
    assert_string_equal(st->error_page[config_error_page(404)], "/e/404.html");
    assert_string_equal(st->error_page[config_error_page(403)], "");
    assert_int_equal(a->dotfiles, 0);
    assert_string_equal(a->deny, "/private/ /b");
    assert_string_equal(a->error_page[config_error_page(404)], "/e/404.html");
    assert_int_equal(a->autoindex, 1);
    assert_int_equal(b->dotfiles, 1);
    assert_string_equal(b->deny, "");
    assert_string_equal(b->error_page[config_error_page(404)], "");
    assert_string_equal(b->error_page[config_error_page(503)], "/e/503.html");
    assert_int_equal(b->autoindex, 0);
    assert_int_equal(config_error_page(418), -1);
    assert_int_equal(config_error_page(500), 2);
}

static void test_access_keys_refused(void **state)
{
    static const struct {
        const char *text;
        const char *what;
    } bad[] = {
        {"[static]\nroot = www\ndotfiles = no\n", "bad dotfiles"},
        {"[static]\nroot = www\ndeny = /a/./b\n", "bad deny prefix '/a/./b'"},
        {"[static]\nroot = www\ndeny = /a?b\n", "bad deny prefix"},
        {"[static]\nroot = www\nerror_page_404 = /.well-known/404.html\n", "bad error_page_404"},
        {"[static]\nroot = www\nerror_page_500 = http://x/500.html\n", "bad error_page_500"},
        {"[static]\nroot = www\nerror_page = 404 /e.html\n", "error_page_403, error_page_404"},
    };
    fixture_t *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(load(f, bad[i].text, strlen(bad[i].text)), -1);
        expect_error(f, 3, bad[i].what);
    }
}

static void test_real_client_keys(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[server]\nlisten = 127.0.0.1:0 [::1]:0 proxy_protocol\n"
                             "proxy_from = 10.0.0.0/8\n[static]\nroot = www\n"
                             "[http]\nreal_ip_from = 10.1.0.0/16\nreal_ip_header = forwarded\n"
                             "[log]\nformat = json\n"),
                     0);
    assert_int_equal(f->cfg.nlisten, 2);
    assert_string_equal(f->cfg.listen[1], "[::1]:0");
    assert_int_equal(f->cfg.listen_proxy[0], 0);
    assert_int_equal(f->cfg.listen_proxy[1], 1);
    assert_string_equal(f->cfg.proxy_from, "10.0.0.0/8");
    assert_string_equal(f->cfg.real_ip_from, "10.1.0.0/16");
    assert_int_equal(f->cfg.real_ip_header, CONFIG_IP_FORWARDED);
    assert_int_equal(f->cfg.log_format, CONFIG_LOG_JSON);
    /* the defaults */
    assert_int_equal(LOAD(f, "[static]\nroot = www\n"), 0);
    assert_int_equal(f->cfg.listen_proxy[0], 0);
    assert_int_equal(f->cfg.real_ip_header, CONFIG_IP_XFF);
    assert_int_equal(f->cfg.log_format, CONFIG_LOG_COMBINED);
}

static void test_off_and_stderr(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot=www\n[log]\naccess_log = off\nerror_log = stderr\n"),
                     0);
    assert_string_equal(f->cfg.access_log, "");
    assert_string_equal(f->cfg.error_log, "");
}

static void test_unknown_key_refused_with_line(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n\n[http]\nkeepalive = 5\n"), -1);
    expect_error(f, 5, "unknown key 'keepalive'");
}

static void test_unknown_section_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n[nope]\nx = 1\n"), -1);
    expect_error(f, 3, "unknown section [nope]");
}

static void test_empty_unknown_section_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n\n  [nope]  \n; nothing here\n"), -1);
    expect_error(f, 4, "unknown section [nope]");
}

static void test_bad_numbers_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n[server]\nworkers = -1\n"), -1);
    expect_error(f, 4, "workers");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[server]\nworkers = 0\n"), -1);
    expect_error(f, 4, "out of range");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[http]\nmax_headers = 12x\n"), -1);
    expect_error(f, 4, "max_headers");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[http]\nheader_timeout = 5 s\n"), -1);
    expect_error(f, 4, "bad duration");
    assert_int_equal(
        LOAD(f, "[static]\nroot = www\n[http]\nmax_body_size = 99999999999999999999\n"), -1);
    expect_error(f, 4, "bad size");
}

static void test_bad_listen_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n[server]\nlisten = 1.2.3:80\n"), -1);
    expect_error(f, 4, "bad listen address");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[server]\nlisten = 127.0.0.1:65536\n"), -1);
    expect_error(f, 4, "bad port");
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[server]\nlisten = [::1:80\n"), -1);
    expect_error(f, 4, "bad listen address");
}

static void test_duplicate_key_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n[static]\nroot = www\n"), -1);
    expect_error(f, 4, "duplicate key 'root' (first set on line 2)");
}

static void test_missing_root_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = nosuchdir\n"), -1);
    expect_error(f, 2, "No such file or directory");
    assert_int_equal(LOAD(f, "[server]\nworkers = 1\n"), -1);
    expect_error(f, 2, "root is not set");
}

static void test_empty_file_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, ""), -1);
    expect_error(f, 1, "no settings");
}

static void test_binary_garbage_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n\x7f\x45\x4c\x46\x02\x00\x01"), -1);
    expect_error(f, 3, "NUL byte");
}

static void test_syntax_error_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\njust words\n"), -1);
    expect_error(f, 3, "syntax error");
    assert_int_equal(LOAD(f, "[static\nroot = www\n"), -1);
    expect_error(f, 1, "syntax error");
}

static void test_key_outside_section_refused(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "root = www\n"), -1);
    expect_error(f, 1, "outside any [section]");
}

static void test_unreadable_file_refused(void **state)
{
    fixture_t *f = *state;
    char err[CONFIG_ERR_LEN];

    assert_int_equal(config_load(&f->cfg, "/nonexistent/forkd.ini", err), -1);
    assert_non_null(strstr(err, "cannot open /nonexistent/forkd.ini: No such file"));
}

static void test_threads_and_handler_timeout(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n"), 0);
    assert_int_equal(f->cfg.threads, 0);
    assert_int_equal(f->cfg.handler_timeout, 60000);
    assert_int_equal(f->cfg.nmodules, 0);
    assert_int_equal(f->cfg.nroutes, 0);
    assert_int_equal(
        LOAD(f, "[static]\nroot = www\n[server]\nthreads = 256\n[http]\nhandler_timeout = 0\n"), 0);
    assert_int_equal(f->cfg.threads, 256);
    assert_int_equal(f->cfg.handler_timeout, 0);
    assert_int_equal(config_line(&f->cfg, "server", "threads"), 4);
    assert_int_equal(config_line(&f->cfg, "http", "handler_timeout"), 6);
    assert_int_equal(LOAD(f, "[static]\nroot = www\n[http]\nhandler_timeout = 1500ms\n"), 0);
    assert_int_equal(f->cfg.handler_timeout, 1500);
}

/* Every field of [module] and [route] sections, and what their defaults are. */
static void test_modules_and_routes_parsed(void **state)
{
    fixture_t *f = *state;
    const config_module_t *m;
    const config_route_t *r;
    const unsigned get_head = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);
    char path[160];

    assert_int_equal(LOAD(f, "[static]\nroot = www\n"          /* 1-2 */
                             "[route /hello]\n"                /* 3: before its module */
                             "handler = hello:say_hi\n"        /* 4 */
                             "[module hello]\n"                /* 5 */
                             "path = lib/hello.so\n"           /* 6 */
                             "greeting = hi there ; comment\n" /* 7 */
                             "empty =\n"                       /* 8 */
                             "a.b-c_d = 2\n"                   /* 9 */
                             "[route /api/]\n"                 /* 10 */
                             "handler = db:query\n"            /* 11 */
                             "methods = POST GET\n"            /* 12 */
                             "pool = yes\n"                    /* 13 */
                             "[module   db]  \n"               /* 14 */
                             "path = /usr/lib/forkd/db.so\n"   /* 15 */
                             "[route /api]\n"                  /* 16: not /api/ */
                             "handler = db:up\n"               /* 17 */
                             "methods = PUT\n"                 /* 18 */
                             "body = stream\n"                 /* 19 */
                             "[server]\n"                      /* 20 */
                             "threads = 2\n"),                 /* 21: after pool = yes */
                     0);
    assert_int_equal(f->cfg.nmodules, 2);
    m = &f->cfg.modules[0];
    assert_string_equal(m->name, "hello");
    snprintf(path, sizeof(path), "%s/lib/hello.so", f->dir);
    assert_string_equal(m->path, path);
    assert_int_equal(m->line, 5);
    assert_int_equal(m->path_line, 6);
    assert_int_equal(m->nkeys, 3);
    assert_string_equal(m->keys[0].name, "greeting");
    assert_string_equal(m->keys[0].value, "hi there");
    assert_int_equal(m->keys[0].line, 7);
    assert_string_equal(m->keys[1].name, "empty");
    assert_string_equal(m->keys[1].value, "");
    assert_string_equal(m->keys[2].name, "a.b-c_d");
    assert_int_equal(m->keys[2].line, 9);
    assert_ptr_equal(config_module(&f->cfg, "hello"), m);
    assert_null(config_module(&f->cfg, "nope"));
    assert_string_equal(config_module_get(m, "greeting"), "hi there");
    assert_string_equal(config_module_get(m, "empty"), "");
    assert_null(config_module_get(m, "path"));
    assert_null(config_module_get(m, "nope"));
    m = &f->cfg.modules[1];
    assert_string_equal(m->name, "db");
    assert_string_equal(m->path, "/usr/lib/forkd/db.so");
    assert_int_equal(m->nkeys, 0);

    assert_int_equal(f->cfg.nroutes, 3);
    r = &f->cfg.routes[0];
    assert_string_equal(r->path, "/hello");
    assert_int_equal(r->prefix, 0);
    assert_string_equal(r->module, "hello");
    assert_string_equal(r->function, "say_hi");
    assert_int_equal(r->module_index, 0);
    assert_int_equal(r->methods, get_head);
    assert_int_equal(r->body, CONFIG_BODY_NONE);
    assert_int_equal(r->pool, 0);
    assert_int_equal(r->line, 3);
    assert_int_equal(r->handler_line, 4);
    assert_int_equal(r->methods_line, 0);
    assert_int_equal(r->body_line, 0);
    assert_int_equal(r->pool_line, 0);
    r = &f->cfg.routes[1];
    assert_string_equal(r->path, "/api/");
    assert_int_equal(r->prefix, 1);
    assert_int_equal(r->module_index, 1);
    assert_int_equal(r->methods, get_head | HTTP_METHOD_BIT(HTTP_METHOD_POST));
    assert_int_equal(r->body, CONFIG_BODY_WHOLE); /* POST carries a body */
    assert_int_equal(r->pool, 1);
    assert_int_equal(r->methods_line, 12);
    assert_int_equal(r->pool_line, 13);
    r = &f->cfg.routes[2];
    assert_string_equal(r->path, "/api");
    assert_int_equal(r->prefix, 0);
    assert_string_equal(r->function, "up");
    assert_int_equal(r->methods, HTTP_METHOD_BIT(HTTP_METHOD_PUT)); /* no GET: no HEAD */
    assert_int_equal(r->body, CONFIG_BODY_STREAM);
    assert_int_equal(r->body_line, 19);
    assert_int_equal(f->cfg.threads, 2);
}

/* A host name in servers = is resolved at load: the label stays as written, addrs is numeric. */
static void test_upstream_name_resolved(void **state)
{
    fixture_t *f = *state;
    char host[200], text[512];
    struct addrinfo hints = {0}, *res;
    const config_upstream_t *u;
    int n;

    hints.ai_socktype = SOCK_STREAM;
    if (gethostname(host, sizeof(host)) != 0 || getaddrinfo(host, NULL, &hints, &res) != 0) {
        skip(); /* this machine cannot resolve its own name */
    }
    freeaddrinfo(res);
    n = snprintf(text, sizeof(text),
                 "[static]\nroot = www\n[upstream app]\nservers = %s:8000 127.0.0.1:8001\n", host);
    assert_int_equal(load(f, text, (size_t)n), 0);
    u = &f->cfg.upstreams[0];
    assert_int_equal(u->nservers, 2);
    snprintf(text, sizeof(text), "%s:8000", host);
    assert_string_equal(u->servers[0], text);
    assert_true(u->resolved[0].family == AF_INET || u->resolved[0].family == AF_INET6);
    assert_int_equal(u->resolved[0].port, 8000);
    assert_int_equal(u->resolved[1].family, 0); /* numeric: parsed where it is used */
}

static void test_upstreams_parsed(void **state)
{
    fixture_t *f = *state;
    const config_upstream_t *u;
    const config_route_t *r;

    assert_int_equal(LOAD(f, "[static]\nroot = www\n"                        /* 1-2 */
                             "[route /app/]\n"                               /* 3 */
                             "upstream = app\n"                              /* 4: before it */
                             "[upstream app]\n"                              /* 5 */
                             "servers = 127.0.0.1:8000 unix:/run/app.sock\n" /* 6 */
                             "balance = least_conn\n"                        /* 7 */
                             "keepalive = 8\n"                               /* 8 */
                             "keepalive_timeout = 500ms\n"                   /* 9 */
                             "connect_timeout = 2s\n"                        /* 10 */
                             "read_timeout = 30s\n"                          /* 11 */
                             "send_timeout = 10s\n"                          /* 12 */
                             "fail_timeout = 0\nbuffer = 64k\n"              /* 13 */
                             "[upstream other]\n"                            /* 14 */
                             "servers = [::1]:9000\n"                        /* 15 */
                             "[route /x]\n"                                  /* 16 */
                             "upstream = other\n"                            /* 17 */
                             "methods = GET\n"                               /* 18 */
                             "body = stream\n"),                             /* 19 */
                     0);
    assert_int_equal(f->cfg.nupstreams, 2);
    u = &f->cfg.upstreams[0];
    assert_string_equal(u->name, "app");
    assert_int_equal(u->nservers, 2);
    assert_string_equal(u->servers[0], "127.0.0.1:8000");
    assert_string_equal(u->servers[1], "unix:/run/app.sock");
    assert_int_equal(u->balance, CONFIG_BALANCE_LEAST_CONN);
    assert_int_equal(u->keepalive, 8);
    assert_int_equal(u->keepalive_timeout, 500);
    assert_int_equal(u->connect_timeout, 2000);
    assert_int_equal(u->read_timeout, 30000);
    assert_int_equal(u->send_timeout, 10000);
    assert_int_equal(u->fail_timeout, 0);
    assert_int_equal(u->buffer, 64 * 1024);
    assert_int_equal(u->line, 5);
    u = &f->cfg.upstreams[1];
    assert_ptr_equal(config_upstream(&f->cfg, "other"), u);
    assert_null(config_upstream(&f->cfg, "nope"));
    /* the defaults */
    assert_int_equal(u->balance, CONFIG_BALANCE_ROUND_ROBIN);
    assert_int_equal(u->keepalive, 32);
    assert_int_equal(u->keepalive_timeout, 1000); /* below gunicorn's 2 s */
    assert_int_equal(u->connect_timeout, 5000);
    assert_int_equal(u->read_timeout, 60000);
    assert_int_equal(u->fail_timeout, 10000);
    assert_int_equal(u->buffer, 1024 * 1024);

    r = &f->cfg.routes[0];
    assert_string_equal(r->upstream, "app");
    assert_int_equal(r->upstream_index, 0);
    assert_int_equal(r->upstream_line, 4);
    assert_int_equal(r->body, CONFIG_BODY_WHOLE);
    assert_true(r->methods & HTTP_METHOD_BIT(HTTP_METHOD_POST));
    assert_true(r->methods & HTTP_METHOD_BIT(HTTP_METHOD_DELETE));
    assert_false(r->methods & HTTP_METHOD_BIT(HTTP_METHOD_TRACE));
    r = &f->cfg.routes[1];
    assert_int_equal(r->upstream_index, 1);
    assert_int_equal(r->body, CONFIG_BODY_STREAM); /* passed on as it comes (proxy.c) */
    assert_int_equal(r->methods,
                     HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD));
}

static void test_route_defaults_per_method(void **state)
{
    static const struct {
        const char *methods;
        config_body_t body;
    } cases[] = {
        {"GET", CONFIG_BODY_NONE},         {"HEAD", CONFIG_BODY_NONE},
        {"DELETE", CONFIG_BODY_NONE},      {"OPTIONS TRACE", CONFIG_BODY_NONE},
        {"POST", CONFIG_BODY_WHOLE},       {"PUT", CONFIG_BODY_WHOLE},
        {"GET\tPATCH", CONFIG_BODY_WHOLE}, {"DELETE  POST", CONFIG_BODY_WHOLE},
    };
    fixture_t *f = *state;
    char text[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "[static]\nroot = www\n[module m]\npath = m.so\n"
                 "[route /]\nhandler = m:f\nmethods = %s\n",
                 cases[i].methods);
        if (load(f, text, strlen(text)) != 0) {
            fail_msg("methods = %s refused: %s", cases[i].methods, f->err);
        }
        assert_int_equal(f->cfg.routes[0].body, cases[i].body);
        assert_int_equal(f->cfg.routes[0].prefix, 1);
    }
}

/* The text (after a valid "[static] root", lines 1-2) is refused at line for what. */
typedef struct {
    const char *text;
    int line;
    const char *what;
} refusal_t;

#define BASE "[static]\nroot = www\n"
#define MOD "[module m]\npath = m.so\n" /* lines 3-4 after BASE */

static const refusal_t refusals[] = {
    /* the real client: proxy_protocol, proxy_from, real_ip_*, [log] format */
    {"[server]\nlisten = 127.0.0.1:0 proxy_protocol\n", 4, "[server] proxy_from is empty"},
    {"[server]\nlisten = proxy_protocol 127.0.0.1:0\n", 4, "must follow a listen address"},
    {"[server]\nlisten = 127.0.0.1:0 proxy_protocol proxy_protocol\n", 4, "(once)"},
    {"[server]\nproxy_from = 10.0.0.0/33\n", 4, "bad proxy_from list"},
    {"[http]\nreal_ip_from = nowhere\n", 4, "bad real_ip_from list"},
    {"[http]\nreal_ip_header = X-Client-IP\n", 4, "bad real_ip_header"},
    {"[log]\nformat = clf\n", 4, "bad log format 'clf'"},
    /* [server] threads, [http] handler_timeout */
    {"[server]\nthreads = 257\n", 4, "out of range for threads (allowed 0..256)"},
    {"[server]\nthreads = -1\n", 4, "bad number for threads"},
    {"[server]\nthreads = 2k\n", 4, "bad number for threads"},
    {"[http]\nhandler_timeout = 2h\n", 4, "out of range for handler_timeout"},
    {"[http]\nhandler_timeout = soon\n", 4, "bad duration for handler_timeout"},
    /* [module NAME] headers */
    {"[module]\npath = m.so\n", 3, "[module] needs a name"},
    {"[module  ]\npath = m.so\n", 3, "[module] needs a name"},
    {"[module a b]\npath = m.so\n", 3, "bad module name 'a b'"},
    {"[module a:b]\npath = m.so\n", 3, "bad module name"},
    {"[module abcdefghijabcdefghijabcdefghijab]\n", 3, "bad module name"},
    {"[modules]\npath = m.so\n", 3, "unknown section [modules]"},
    {"[Module m]\npath = m.so\n", 3, "unknown section [Module m]"},
    {MOD "[module m]\npath = n.so\n", 5, "duplicate [module m] (first on line 3)"},
    {MOD "  [module n]\npath = n.so\n", 5, "indented after a key"},
    /* [module NAME] keys */
    {"[module m]\n", 3, "[module m] needs path = FILE.so"},
    {"[module m]\n\n[route /]\nhandler = m:f\n", 3, "[module m] needs path"},
    {"[module m]\nx = 1\n", 3, "[module m] needs path"},
    {"[module m]\npath =\n", 4, "path needs a path"},
    {MOD "path = n.so\n", 5, "duplicate key 'path' (first set on line 4)"},
    {MOD "k = 1\nj = 2\nk = 3\n", 7, "duplicate key 'k' (first set on line 5)"},
    {MOD "k = 1\n  more\n", 6, "duplicate key 'k' (first set on line 5)"},
    {MOD "two words = 1\n", 5, "bad key name 'two words' in [module m]"},
    {MOD "abcdefghijabcdefghijabcdefghijab = 1\n", 5, "bad key name"},
    /* [route PATH] headers */
    {"[route]\nhandler = m:f\n", 3, "[route] needs a path"},
    {"[route hello]\n", 3, "bad route path 'hello'"},
    {"[route /a//b]\n", 3, "bad route path"},
    {"[route /a/./b]\n", 3, "bad route path"},
    {"[route /a/..]\n", 3, "bad route path"},
    {"[route /a/../b/]\n", 3, "bad route path"},
    {"[route /a%20b]\n", 3, "bad route path"},
    {"[route /a?b]\n", 3, "bad route path"},
    {"[route /a#b]\n", 3, "bad route path"},
    {"[route /a b]\n", 3, "bad route path"},
    {"[route /a\x01]\n", 3, "bad route path"},
    {MOD "[route /a]\nhandler = m:f\n[route /a]\n", 7, "duplicate [route /a] (first on line 5)"},
    {MOD "[route /a]\nhandler = m:f\n\t[route /b]\n", 7, "indented after a key"},
    /* [route PATH] keys */
    {MOD "[route /a]\n", 5, "[route /a] needs handler = MODULE:function"},
    {MOD "[route /a]\nmethods = GET\n", 5, "[route /a] needs handler"},
    {MOD "[route /a]\nhandler = n:f\n", 6, "handler n:f: no [module n] in this file"},
    {"[route /a]\nhandler = n:f\n", 4, "no [module n]"},
    {MOD "[route /a]\nhandler = m\n", 6, "bad handler 'm' (MODULE:function)"},
    {MOD "[route /a]\nhandler = m:\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = :f\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = m:1f\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = m:f-g\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = m:f:g\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = m x:f\n", 6, "bad handler"},
    {MOD "[route /a]\nhandler = m:f\nhandler = m:g\n", 7,
     "duplicate key 'handler' (first set on line 6)"},
    {MOD "[route /a]\nhandler = m:f\nmethods = get\n", 7, "unknown method 'get'"},
    {MOD "[route /a]\nhandler = m:f\nmethods = GET FETCH\n", 7, "unknown method 'FETCH'"},
    {MOD "[route /a]\nhandler = m:f\nmethods = CONNECT\n", 7, "CONNECT cannot be routed"},
    {MOD "[route /a]\nhandler = m:f\nmethods = GET POST GET\n", 7, "method GET listed twice"},
    {MOD "[route /a]\nhandler = m:f\nmethods =\n", 7, "methods needs at least one method"},
    {MOD "[route /a]\nhandler = m:f\nbody = partial\n", 7, "bad value for body: 'partial'"},
    {MOD "[route /a]\nhandler = m:f\nbody = whole\nbody = none\n", 8, "duplicate key 'body'"},
    {MOD "[route /a]\nhandler = m:f\npool = maybe\n", 7, "bad value for pool: 'maybe'"},
    {MOD "[route /a]\nhandler = m:f\npool = yes\n", 7, "pool = yes needs [server] threads > 0"},
    {"[server]\nthreads = 0\n" MOD "[route /a]\nhandler = m:f\npool = yes\n", 9,
     "pool = yes needs [server] threads > 0"},
    {MOD "[route /a]\nhandler = m:f\ncolour = red\n", 7, "unknown key 'colour' in [route /a]"},
    {MOD "[route /a]\npath = /b\n", 6, "unknown key 'path' in [route /a]"},
    /* [upstream NAME] and upstream = */
    {"[upstream]\nservers = 127.0.0.1:1\n", 3, "[upstream] needs a name"},
    {"[upstream a b]\n", 3, "bad upstream name 'a b'"},
    {"[upstream app]\n", 3, "[upstream app] needs servers ="},
    {"[upstream app]\nservers = 127.0.0.1:1\n[upstream app]\n", 5,
     "duplicate [upstream app] (first on line 3)"},
    {"[upstream app]\nservers =\n", 4, "servers needs at least one"},
    {"[upstream app]\nservers = 127.0.0.1\n", 4, "bad server '127.0.0.1'"},
    {"[upstream app]\nservers = 127.0.0.1:0\n", 4, "port 1..65535"},
    {"[upstream app]\nservers = *:80\n", 4, "bad server '*:80'"},
    {"[upstream app]\nservers = no-such-host.invalid:80\n", 4,
     "cannot resolve server 'no-such-host.invalid:80'"},
    {"[upstream app]\nservers = app_1:80\n", 4, "bad server 'app_1:80'"},
    {"[upstream app]\nservers = localhost:http\n", 4, "port 1..65535"},
    {"[upstream app]\nservers = unix:run/app.sock\n", 4, "unix:/absolute/path"},
    {"[upstream app]\nservers = 127.0.0.1:1\nservers = 127.0.0.1:2\n", 5,
     "duplicate key 'servers' (first set on line 4)"},
    {"[upstream app]\nservers = 127.0.0.1:1\nbalance = random\n", 5, "bad balance 'random'"},
    {"[upstream app]\nservers = 127.0.0.1:1\nkeepalive = lots\n", 5, "bad number for keepalive"},
    {"[upstream app]\nservers = 127.0.0.1:1\nread_timeout = 0\n", 5,
     "bad duration for read_timeout"},
    {"[upstream app]\nservers = 127.0.0.1:1\nbuffer = 1k\n", 5, "bad size for buffer"},
    {"[upstream app]\nservers = 127.0.0.1:1\nconnect_timeout = 2d\n", 5, "bad duration"},
    {"[upstream app]\nservers = 127.0.0.1:1\nweight = 2\n", 5,
     "unknown key 'weight' in [upstream app]"},
    {"[route /a]\nupstream = app\n", 4, "upstream app: no [upstream app] in this file"},
    {"[route /a]\nupstream = a/b\n", 4, "bad upstream name"},
    {MOD "[upstream app]\nservers = 127.0.0.1:1\n[route /a]\nhandler = m:f\nupstream = app\n", 9,
     "has both handler = and upstream ="},
    {"[upstream app]\nservers = 127.0.0.1:1\n[route /a]\n", 5,
     "needs handler = MODULE:function or upstream = NAME"},
    {"[server]\nthreads = 1\n[upstream app]\nservers = 127.0.0.1:1\n[route /a]\nupstream = "
     "app\npool = yes\n",
     9, "pool = yes cannot go with upstream"},
};

static void test_module_and_route_refusals(void **state)
{
    fixture_t *f = *state;
    char text[512], prefix[256];
    size_t i;

    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        snprintf(text, sizeof(text), BASE "%s", refusals[i].text);
        snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, refusals[i].line);
        if (load(f, text, strlen(text)) != -1 || strncmp(f->err, prefix, strlen(prefix)) != 0
            || strstr(f->err, refusals[i].what) == NULL) {
            fail_msg("case %zu: want line %d '%s', got: %s\n%s", i, refusals[i].line,
                     refusals[i].what, f->err, text);
        }
    }
}

/* Append to buf (size bytes at most) the text fmt makes. */
static void append(char *buf, size_t size, const char *fmt, int i)
{
    size_t used = strlen(buf);

    assert_true(used + 64 < size);
    snprintf(buf + used, size - used, fmt, i, i);
}

/* As many sections and keys as the limits allow load; one more is refused on its line. */
static void test_module_and_route_limits(void **state)
{
    fixture_t *f = *state;
    const size_t size = 16384;
    char *text = malloc(size);
    int i;

    assert_non_null(text);
    /* 16 modules load, a 17th is refused */
    strcpy(text, BASE); /* lines 1-2 */
    for (i = 0; i < CONFIG_MAX_MODULES; i++) {
        append(text, size, "[module m%d]\npath = m%d.so\n", i); /* lines 3 + 2i, 4 + 2i */
    }
    assert_int_equal(load(f, text, strlen(text)), 0);
    assert_int_equal(f->cfg.nmodules, CONFIG_MAX_MODULES);
    assert_string_equal(f->cfg.modules[15].name, "m15");
    append(text, size, "[module m%d]\npath = m%d.so\n", CONFIG_MAX_MODULES);
    assert_int_equal(load(f, text, strlen(text)), -1);
    expect_error(f, 3 + 2 * CONFIG_MAX_MODULES, "more than 16 [module] sections");

    /* 32 keys in a module, then one more */
    strcpy(text, BASE MOD); /* lines 1-4 */
    for (i = 0; i < CONFIG_MAX_MODULE_KEYS; i++) {
        append(text, size, "key%d = value %d\n", i);
    }
    assert_int_equal(load(f, text, strlen(text)), 0);
    assert_int_equal(f->cfg.modules[0].nkeys, CONFIG_MAX_MODULE_KEYS);
    assert_string_equal(f->cfg.modules[0].keys[31].value, "value 31");
    append(text, size, "one%d = more%d\n", 0);
    assert_int_equal(load(f, text, strlen(text)), -1);
    expect_error(f, 5 + CONFIG_MAX_MODULE_KEYS, "more than 32 keys in [module m]");

    /* 64 routes, then one more */
    strcpy(text, BASE MOD);
    for (i = 0; i < CONFIG_MAX_ROUTES; i++) {
        append(text, size, "[route /r%d]\nhandler = m:f%d\n", i); /* lines 5 + 2i, 6 + 2i */
    }
    assert_int_equal(load(f, text, strlen(text)), 0);
    assert_int_equal(f->cfg.nroutes, CONFIG_MAX_ROUTES);
    assert_string_equal(f->cfg.routes[63].function, "f63");
    append(text, size, "[route /r%d]\nhandler = m:f%d\n", CONFIG_MAX_ROUTES);
    assert_int_equal(load(f, text, strlen(text)), -1);
    expect_error(f, 5 + 2 * CONFIG_MAX_ROUTES, "more than 64 [route] sections");

    free(text);
}

static void test_durations_and_sizes(void **state)
{
    uint32_t ms;
    uint64_t b;
    (void)state;

    assert_int_equal(config_parse_duration("10", &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(config_parse_duration("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(config_parse_duration("10x", &ms), -1);
    assert_int_equal(config_parse_duration("", &ms), -1);
    assert_int_equal(config_parse_duration("5000000h", &ms), -1);
    assert_int_equal(config_parse_size("8K", &b), 0);
    assert_int_equal(b, 8192);
    assert_int_equal(config_parse_size("1g", &b), 0);
    assert_int_equal(b, 1073741824);
    assert_int_equal(config_parse_size("1kb", &b), -1);
    assert_int_equal(config_parse_size("-1", &b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minimal_file_gets_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compression_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_type_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_client_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_and_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_refused_with_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_section_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_unknown_section_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_numbers_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_listen_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_root_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_garbage_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_outside_section_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_handler_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modules_and_routes_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstreams_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_name_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_defaults_per_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_and_route_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_and_route_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_keys_inherited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_keys_refused, setup, teardown),
        cmocka_unit_test(test_durations_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
