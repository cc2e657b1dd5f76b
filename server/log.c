/* log: error log lines and the per-worker access log buffer. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "fmt.h"
#include "net.h"
#include "sdnotify.h"

#define ACCESSLOG_LINE_MAX (1024 + 512 + 512) /* client bytes of a line, before escaping */

int log_open_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen)
{
    const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    struct stat st;
    int fd, created = 0, tries;

    /* O_NONBLOCK: a FIFO planted in place of the file fails at once instead of blocking */
    for (tries = 0; tries < 2; tries++) {
        fd = open(path, flags);
        if (fd >= 0 || errno != ENOENT) {
            break;
        }
        fd = open(path, flags | O_CREAT | O_EXCL, 0644);
        if (fd >= 0 || errno != EEXIST) {
            created = fd >= 0;
            break;
        }
    }
    if (fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", path,
                 errno == ELOOP ? "it is a symbolic link (refused)" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "fstat(\"%s\") failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        snprintf(err, errlen, "\"%s\" refused: %s", path,
                 !S_ISREG(st.st_mode) ? "not a regular file" : "it has other hard links");
        close(fd);
        return -1;
    }
    if (created && owner != (uid_t)-1 && geteuid() == 0 && fchown(fd, owner, group) != 0) {
        snprintf(err, errlen, "fchown(\"%s\") failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int log_prepare_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen)
{
    int fd;

    if (path[0] == '\0') {
        return 0;
    }
    fd = log_open_file(path, owner, group, err, errlen);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

int log_open(log_t *log, const config_t *cfg, uid_t owner, gid_t group, char *err, size_t errlen)
{
    log->level = cfg->level;
    log->owner = owner;
    log->group = group;
    snprintf(log->path, sizeof(log->path), "%s", cfg->error_log);
    log->journal = log->path[0] == '\0' && sdnotify_stderr_is_journal();
    log->fd = STDERR_FILENO;
    if (log->path[0] == '\0') {
        return 0;
    }
    log->fd = log_open_file(log->path, owner, group, err, errlen);
    if (log->fd < 0) {
        log->fd = STDERR_FILENO;
        return -1;
    }
    return 0;
}

void log_msg(const log_t *log, log_level_t level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(log, level, fmt, ap);
    va_end(ap);
}

void log_vmsg(const log_t *log, log_level_t level, const char *fmt, va_list ap)
{
    char line[2048];
    struct tm tm;
    time_t now;
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
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
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
    fd = log_open_file(log->path, log->owner, log->group, err, errlen);
    if (fd < 0) {
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
    al->fd = log_open_file(path, (uid_t)-1, (gid_t)-1, err, errlen);
    if (al->fd < 0) {
        free(al->buf);
        al->buf = NULL;
        return -1;
    }
    return 0;
}

/* Room for one more line of up to need bytes (flushing when too full); NULL when off. */
static char *reserve(accesslog_t *al, const log_t *log, size_t need)
{
    if (al->fd < 0 || need > ACCESSLOG_BUF) {
        return NULL;
    }
    if (ACCESSLOG_BUF - al->len < need) {
        accesslog_flush(al, log);
    }
    return al->buf + al->len;
}

int accesslog_on(const accesslog_t *al)
{
    return al->fd >= 0;
}

/* '"value"' escaped and cut at 512 bytes, or '"-"' for an absent or empty one. */
static char *quoted_header(char *p, const char *v, size_t len)
{
    *p++ = '"';
    if (v == NULL || len == 0) {
        *p++ = '-';
    } else {
        p = escape_bytes(p, v, len > 512 ? 512 : len);
    }
    *p++ = '"';
    return p;
}

/* The client's address as net_peer_text() writes it: "unix:" for a unix socket's client. */
static const char *peer_text(const struct sockaddr *sa, char buf[NET_PEER_LEN])
{
    static const unsigned char none[16];
    const unsigned char *addr = none;

    if (sa->sa_family == AF_INET) {
        addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    }
    return net_peer_text(sa->sa_family, addr, buf);
}

void accesslog_write(accesslog_t *al, const log_t *log, const accesslog_entry_t *e)
{
    char *line, *p, addr[NET_PEER_LEN];
    const char *peer;
    size_t rl_len = e->request_line_len > 1024 ? 1024 : e->request_line_len;

    /* worst case: every client byte escaped to 4 */
    line = reserve(al, log, 256 + ESCAPE_MAX(ACCESSLOG_LINE_MAX));
    if (line == NULL) {
        return;
    }
    peer = peer_text(e->peer, addr);
    /* fmt_put(), not sprintf(): perf showed vfprintf at 1% of a worker with the log on */
    p = line + fmt_put(line, peer, strlen(peer));
    p += FMT_LIT(p, " - - [");
    p += fmt_put(p, e->time, strlen(e->time));
    p += FMT_LIT(p, "] \"");
    p = escape_bytes(p, e->request_line, rl_len);
    p += FMT_LIT(p, "\" ");
    p += fmt_uint(p, (uint64_t)e->status);
    *p++ = ' ';
    if (e->body_bytes) {
        p += fmt_uint(p, e->body_bytes);
        *p++ = ' ';
    } else {
        *p++ = '-';
        *p++ = ' ';
    }
    p = quoted_header(p, e->referer, e->referer_len);
    *p++ = ' ';
    p = quoted_header(p, e->user_agent, e->user_agent_len);
    *p++ = '\n';
    al->len += (size_t)(p - line);
}

/* The longest JSON line: its strings (cut as below) escaped to 6, and the fixed part. */
#define JSON_LINE_MAX                                                                              \
    (600 + ESCAPE_JSON_MAX(64 + 2 * NET_PEER_LEN + 32 + 1024 + 1024 + 512 + 512 + 512))

/* ',"name":"value"' with value escaped and cut at max bytes; "" for an absent one. */
static char *json_field(char *p, const char *name, const char *v, size_t len, size_t max)
{
    p += FMT_LIT(p, ",\"");
    p += fmt_put(p, name, strlen(name));
    p += FMT_LIT(p, "\":\"");
    if (v != NULL) {
        p = escape_json(p, v, len > max ? max : len);
    }
    *p++ = '"';
    return p;
}

/* ',"name":number' */
static char *json_number(char *p, const char *name, uint64_t v)
{
    p += FMT_LIT(p, ",\"");
    p += fmt_put(p, name, strlen(name));
    p += FMT_LIT(p, "\":");
    return p + fmt_uint(p, v);
}

void accesslog_write_json(accesslog_t *al, const log_t *log, const accesslog_entry_t *e)
{
    char *line, *p, addr[NET_PEER_LEN], direct[NET_PEER_LEN];
    const char *peer, *via;

    line = reserve(al, log, JSON_LINE_MAX);
    if (line == NULL) {
        return;
    }
    peer = peer_text(e->peer, addr);
    via = peer_text(e->direct, direct);
    p = line + FMT_LIT(line, "{\"time\":\"");
    p += fmt_put(p, e->iso_time, strlen(e->iso_time));
    *p++ = '"';
    p = json_field(p, "request_id", e->request_id, strlen(e->request_id), 64);
    p = json_field(p, "client", peer, strlen(peer), NET_PEER_LEN);
    p = json_field(p, "peer", via, strlen(via), NET_PEER_LEN);
    p = json_field(p, "method", e->method, e->method_len, 32);
    p = json_field(p, "target", e->target, e->target_len, 1024);
    p = json_field(p, "request", e->request_line, e->request_line_len, 1024);
    p = json_number(p, "status", (uint64_t)e->status);
    p = json_number(p, "bytes", e->body_bytes);
    p = json_number(p, "request_us", e->request_us);
    if (e->upstream_us >= 0) {
        p = json_number(p, "upstream_us", (uint64_t)e->upstream_us);
    } else {
        p += FMT_LIT(p, ",\"upstream_us\":null");
    }
    p = json_field(p, "referer", e->referer, e->referer_len, 512);
    p = json_field(p, "user_agent", e->user_agent, e->user_agent_len, 512);
    p = json_field(p, "forwarded_for", e->forwarded_for, e->forwarded_for_len, 512);
    *p++ = '}';
    *p++ = '\n';
    al->len += (size_t)(p - line);
}

/*
 * A write came up short inside a line and the rest of the file's space or
 * size is gone: take back the partial line, len bytes just written, so that
 * it is absent rather than torn. Only while it is still the file's end (the
 * descriptor's offset, after an O_APPEND write, equal to the size): if
 * another worker appended after it, cutting would take its lines too.
 */
static void take_back(int fd, size_t len)
{
    struct stat st;
    off_t end = lseek(fd, 0, SEEK_CUR);

    if (end >= (off_t)len && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == end) {
        (void)!ftruncate(fd, end - (off_t)len);
    }
}

/*
 * Write the buffer (whole lines) so that each line lands whole or not at
 * all (log_open_file() took a regular file only). A short write is
 * continued; when the rest cannot be written (disk full, file size limit,
 * quota) the partial line is taken back and the lines after it are dropped
 * and reported.
 */
void accesslog_flush(accesslog_t *al, const log_t *log)
{
    const char *p = al->buf;
    size_t left = al->len, line_start = 0, done = 0;
    ssize_t n = 0;

    if (al->fd < 0 || al->len == 0) {
        return;
    }
    while (left > 0) {
        n = write(al->fd, p + done, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (size_t)n;
        left -= (size_t)n;
        if (p[done - 1] == '\n') {
            line_start = done;
        } else {
            const char *nl = memrchr(p + line_start, '\n', done - line_start);
            line_start = nl != NULL ? (size_t)(nl - p) + 1 : line_start;
        }
    }
    if (left > 0) {
        int err = n < 0 ? errno : 0;
        if (done > line_start) {
            take_back(al->fd, done - line_start);
        }
        /* disk full or gone: keep serving, say so at most once a second */
        time_t now = time(NULL);
        if (now != al->last_error) {
            al->last_error = now;
            log_msg(log, LOG_LVL_ERROR, "write() to access log failed: %s (%zu bytes dropped)",
                    err != 0 ? strerror(err) : "short write", al->len - line_start);
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
    fd = log_open_file(path, (uid_t)-1, (gid_t)-1, err, errlen);
    if (fd < 0) {
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
