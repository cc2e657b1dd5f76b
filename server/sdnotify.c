/* sdnotify: thin wrappers over libsystemd's sd-daemon API. */
#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int sdnotify_send(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (getenv("NOTIFY_SOCKET") == NULL) {
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* 0: keep NOTIFY_SOCKET, workers and an upgraded master still use it */
    return sd_notify(0, msg);
}

uint64_t sdnotify_watchdog_ms(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0) {
        return 0;
    }
    return usec / 1000;
}

/* "3,4,5" from an upgrading master; -1 when malformed. */
static int parse_fd_list(const char *s, int *fds, int max)
{
    int n = 0;
    long v;
    char *end;

    while (*s != '\0') {
        v = strtol(s, &end, 10);
        if (end == s || v < 3 || v > 65535 || n == max || (*end != ',' && *end != '\0')) {
            return -1;
        }
        fds[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int sdnotify_inherited_fds(int *fds, int max)
{
    const char *own = getenv("FORKD_INHERIT_FDS");
    int n, i;

    if (own != NULL) {
        n = parse_fd_list(own, fds, max);
        unsetenv("FORKD_INHERIT_FDS");
    } else {
        n = sd_listen_fds(1); /* 1: unset LISTEN_FDS and friends */
        if (n > max) {
            n = -1;
        }
        for (i = 0; i < n; i++) {
            fds[i] = SD_LISTEN_FDS_START + i;
        }
    }
    for (i = 0; i < n; i++) {
        if (sd_is_socket(fds[i], 0, SOCK_STREAM, 1) <= 0) {
            return -1;
        }
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return n;
}

int sdnotify_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0) {
        return 0;
    }
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
