/* test_log: the access log's lines land whole or not at all (server/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define LINE_LEN 100
#define LINES 20

/* Fill al's buffer with LINES lines of LINE_LEN bytes each, the last byte '\n'. */
static void fill(accesslog_t *al)
{
    int i;

    for (i = 0; i < LINES; i++) {
        memset(al->buf + al->len, 'a' + i, LINE_LEN - 1);
        al->buf[al->len + LINE_LEN - 1] = '\n';
        al->len += LINE_LEN;
    }
}

/* Read path and check it holds only whole lines from fill(); returns its size. */
static size_t check_whole(const char *path)
{
    char buf[LINES * LINE_LEN + 1];
    int fd = open(path, O_RDONLY);
    ssize_t n;
    size_t i;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_true(n >= 0);
    assert_int_equal((size_t)n % LINE_LEN, 0);
    for (i = 0; i < (size_t)n; i++) {
        assert_int_equal(buf[i], i % LINE_LEN == LINE_LEN - 1 ? '\n' : 'a' + (int)(i / LINE_LEN));
    }
    return (size_t)n;
}

/*
 * A file size limit falls inside the 11th line: the write comes up short
 * there, the rest fails (EFBIG). The file keeps the 10 whole lines, never
 * 10 and a half. Run in a child: the limit must not stay on this process.
 */
static void test_short_write_leaves_no_torn_line(void **state)
{
    char path[] = "/tmp/forkd-test-log-XXXXXX";
    int fd = mkstemp(path), status;
    pid_t pid;
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {10 * LINE_LEN + LINE_LEN / 2, 10 * LINE_LEN + LINE_LEN / 2};
        log_t log;
        accesslog_t al;
        char err[256];

        memset(&log, 0, sizeof(log));
        log.fd = open("/dev/null", O_WRONLY);
        log.level = LOG_LVL_ERROR;
        signal(SIGXFSZ, SIG_IGN);
        if (accesslog_open(&al, path, err, sizeof(err)) != 0 || setrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(2);
        }
        fill(&al);
        accesslog_flush(&al, &log);
        _exit(al.len == 0 ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(check_whole(path), 10 * LINE_LEN);
    unlink(path);
}

/* Nothing in the way: every line, once. */
static void test_flush_writes_all(void **state)
{
    char path[] = "/tmp/forkd-test-log-XXXXXX";
    int fd = mkstemp(path);
    log_t log;
    accesslog_t al;
    char err[256];
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    memset(&log, 0, sizeof(log));
    log.fd = -1;
    assert_int_equal(accesslog_open(&al, path, err, sizeof(err)), 0);
    fill(&al);
    accesslog_flush(&al, &log);
    assert_int_equal(al.len, 0);
    accesslog_close(&al, &log);
    assert_int_equal(check_whole(path), LINES * LINE_LEN);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_write_leaves_no_torn_line),
        cmocka_unit_test(test_flush_writes_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
