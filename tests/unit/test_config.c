/* test_config: defaults, every value type, and file:line refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

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
    assert_string_equal(f->cfg.root, root);
    assert_string_equal(f->cfg.index, "index.html");
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
    assert_string_equal(f->cfg.index, "home.htm");
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
    assert_non_null(strstr(err, "/nonexistent/forkd.ini:0: cannot open"));
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
        cmocka_unit_test_setup_teardown(test_every_type_parsed, setup, teardown),
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
        cmocka_unit_test(test_durations_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
