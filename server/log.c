/* log: error log lines and the per-worker access log buffer. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdnotify.h"

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int log_open(log_t *log, const config_t *cfg, char *err, size_t errlen)
{
    log->level = cfg->level;
    snprintf(log->path, sizeof(log->path), "%s", cfg->error_log);
    log->journal = log->path[0] == '\0' && sdnotify_stderr_is_journal();
    if (log->path[0] == '\0') {
        log->fd = STDERR_FILENO;
        return 0;
    }
    log->fd = open_append(log->path);
    if (log->fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", log->path, strerror(errno));
        log->fd = STDERR_FILENO;
        return -1;
    }
    return 0;
}

void log_msg(const log_t *log, log_level_t level, const char *fmt, ...)
{
    char line[2048];
    struct tm tm;
    time_t now;
    va_list ap;
    int n, m;

    if (level > log->level) {
        return;
    }
    if (log->journal) {
        /* syslog priorities: err 3, warning 4, info 6, debug 7 */
        static const char prio[] = {'3', '4', '6', '7'};
        n = snprintf(line, sizeof(line), "<%c>[%s] %d: ", prio[level], config_level_name(level),
                     (int)getpid());
        goto message;
    }
    now = time(NULL);
    localtime_r(&now, &tm);
    n = snprintf(line, sizeof(line), "%04d/%02d/%02d %02d:%02d:%02d [%s] %d: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 config_level_name(level), (int)getpid());
message:
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        return;
    }
    n += m;
    if ((size_t)n > sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* one write per line: lines of several processes never interleave */
    if (write(log->fd, line, (size_t)n) < 0) {
        return;
    }
}

int log_reopen(log_t *log, char *err, size_t errlen)
{
    int fd;

    if (log->path[0] == '\0') {
        return 0;
    }
    fd = open_append(log->path);
    if (fd < 0) {
        snprintf(err, errlen, "reopening \"%s\" failed: %s", log->path, strerror(errno));
        return -1;
    }
    /* dup2 keeps the descriptor number: workers forked later inherit the new file */
    if (log->fd > STDERR_FILENO) {
        dup2(fd, log->fd);
        close(fd);
    } else {
        log->fd = fd;
    }
    return 0;
}

void log_close(log_t *log)
{
    if (log->fd > STDERR_FILENO) {
        close(log->fd);
    }
    log->fd = STDERR_FILENO;
}

int accesslog_open(accesslog_t *al, const char *path, char *err, size_t errlen)
{
    memset(al, 0, sizeof(*al));
    al->fd = -1;
    if (path[0] == '\0') {
        return 0;
    }
    al->buf = malloc(ACCESSLOG_BUF);
    if (al->buf == NULL) {
        snprintf(err, errlen, "malloc(%d) failed", ACCESSLOG_BUF);
        return -1;
    }
    al->fd = open_append(path);
    if (al->fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", path, strerror(errno));
        free(al->buf);
        al->buf = NULL;
        return -1;
    }
    return 0;
}

char *accesslog_reserve(accesslog_t *al, const log_t *log, size_t need)
{
    if (al->fd < 0 || need > ACCESSLOG_BUF) {
        return NULL;
    }
    if (ACCESSLOG_BUF - al->len < need) {
        accesslog_flush(al, log);
    }
    return al->buf + al->len;
}

void accesslog_commit(accesslog_t *al, size_t n)
{
    al->len += n;
}

void accesslog_flush(accesslog_t *al, const log_t *log)
{
    ssize_t n;

    if (al->fd < 0 || al->len == 0) {
        return;
    }
    n = write(al->fd, al->buf, al->len);
    if (n < 0 || (size_t)n != al->len) {
        /* disk full or gone: keep serving, say so at most once a second */
        time_t now = time(NULL);
        if (now != al->last_error) {
            al->last_error = now;
            log_msg(log, LOG_LVL_ERROR, "write() to access log failed: %s",
                    n < 0 ? strerror(errno) : "short write");
        }
    }
    al->len = 0;
}

int accesslog_reopen(accesslog_t *al, const log_t *log, const char *path, char *err, size_t errlen)
{
    int fd;

    accesslog_flush(al, log);
    if (al->fd < 0) {
        return 0;
    }
    fd = open_append(path);
    if (fd < 0) {
        snprintf(err, errlen, "reopening access log \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    /* same descriptor number, new file: nothing else needs to know */
    dup2(fd, al->fd);
    close(fd);
    return 0;
}

void accesslog_close(accesslog_t *al, const log_t *log)
{
    accesslog_flush(al, log);
    if (al->fd >= 0) {
        close(al->fd);
    }
    free(al->buf);
    al->buf = NULL;
    al->fd = -1;
}
