/* log: the error log (lines with time, level, pid) and the buffered access log. */
#ifndef FORKD_LOG_H
#define FORKD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"

#define ACCESSLOG_BUF 65536

typedef struct {
    int fd; /* 2 for stderr */
    log_level_t level;
    char path[CONFIG_PATH_MAX]; /* "" for stderr */
    int journal;                /* stderr is the journal: "<3>message" lines, no timestamp */
    uid_t owner;                /* a file forkd creates goes to them; (uid_t)-1: keep */
    gid_t group;
} log_t;

/*
 * Open path for appending log lines, trusting nothing a less-privileged user
 * could have planted there: a symbolic link (O_NOFOLLOW), anything but a
 * regular file (a FIFO fails at once) and a file with other hard links are
 * refused. A missing file is created (O_CREAT|O_EXCL, 0644 less the umask)
 * and, when running as root with owner != (uid_t)-1, given to owner:group so
 * unprivileged workers can reopen it; a file that was there is never chowned.
 * Returns the descriptor (caller closes), or -1 with err set.
 */
int log_open_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen);

/* log_open_file() and close: make sure the file exists for workers to open. "" is a no-op. */
int log_prepare_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen);

/*
 * Open the error log named by cfg (path or stderr) with log_open_file(),
 * remembering owner/group for log_reopen(). 0 ok, -1 with err set (the log
 * then writes to stderr).
 */
int log_open(log_t *log, const config_t *cfg, uid_t owner, gid_t group, char *err, size_t errlen);

/* Write one line "2026/11/28 10:00:00 [error] 123: message" if level is enabled. */
void log_msg(const log_t *log, log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_msg() with a va_list. */
void log_vmsg(const log_t *log, log_level_t level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Open the error log file again (after logrotate moved it). 0 ok, -1 with err set. */
int log_reopen(log_t *log, char *err, size_t errlen);

void log_close(log_t *log);

typedef struct {
    int fd;    /* -1 when off */
    char *buf; /* ACCESSLOG_BUF bytes, malloc'd */
    size_t len;
    time_t last_error; /* rate limit for write errors */
} accesslog_t;

/* Open the access log (path, or "" for off). 0 ok, -1 with err set. */
int accesslog_open(accesslog_t *al, const char *path, char *err, size_t errlen);

/* An answered request as its access log line tells it; every string borrowed, raw from the client.
 */
typedef struct {
    const struct sockaddr *peer; /* the client (a unix socket's client: its family alone) */
    const char *time;            /* "28/Nov/2026:10:00:00 +0000" (timecache_t clf) */
    const char *request_line;    /* as received: "GET / HTTP/1.1", or what came of it */
    size_t request_line_len;
    int status;
    uint64_t body_bytes; /* response body bytes sent */
    const char *referer; /* the Referer value, NULL when absent */
    size_t referer_len;
    const char *user_agent; /* the User-Agent value, NULL when absent */
    size_t user_agent_len;
    /* JSON lines only (accesslog_write_json()): */
    const char *method; /* the parsed request's, NULL for a request line that did not parse */
    size_t method_len;
    const char *target;
    size_t target_len;
    const struct sockaddr *direct; /* the socket's peer (a balancer, behind one) */
    const char *iso_time;          /* "2026-11-28T10:00:00+00:00" (timecache_t iso) */
    const char *request_id;        /* NUL-terminated, safe characters */
    uint64_t request_us;           /* from the request's first byte to its last response byte */
    int64_t upstream_us;           /* the handler's forkd_resp_upstream_time(), -1: none */
    const char *forwarded_for;     /* the X-Forwarded-For value, NULL when absent */
    size_t forwarded_for_len;
} accesslog_entry_t;

/* Is the access log on? When off, accesslog_write() does nothing: skip gathering the entry. */
int accesslog_on(const accesslog_t *al);

/*
 * Add e's line in Combined Log Format to the buffer (written out when full,
 * and by accesslog_flush()). Client bytes are escaped (escape_bytes()), the
 * request line cut at 1024 bytes and the Referer and User-Agent at 512.
 */
void accesslog_write(accesslog_t *al, const log_t *log, const accesslog_entry_t *e);

/*
 * Add e's line as one JSON object ([log] format = json): time, request_id,
 * client (the real client), peer (the socket's), method, target, status,
 * bytes, request_us, upstream_us (null when -1), referer, user_agent,
 * forwarded_for. Client bytes are
 * escaped (escape_json()) and cut as accesslog_write() cuts them; method and
 * target are "" for a request line that did not parse.
 */
void accesslog_write_json(accesslog_t *al, const log_t *log, const accesslog_entry_t *e);

/*
 * Write the buffered lines out, each whole or not at all: one write with
 * O_APPEND; a short write is continued, and a partial line that cannot be
 * completed (disk full, file size limit) is taken back while it is the
 * file's end.
 */
void accesslog_flush(accesslog_t *al, const log_t *log);

/*
 * Flush, then point the open access log at a new file at path (after
 * logrotate moved the old one). 0 ok (also when off), -1 with err set.
 */
int accesslog_reopen(accesslog_t *al, const log_t *log, const char *path, char *err, size_t errlen);

/* Flush and close. */
void accesslog_close(accesslog_t *al, const log_t *log);

#endif
