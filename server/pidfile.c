/* pidfile: tmp + rename, never through a link a less-privileged user planted. */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pidfile_write(const char *path, long value, char *err, size_t errlen)
{
    char tmp[4096 + 8], text[24];
    int fd, n;
    ssize_t w;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "\"%s\": path too long", path);
        return -1;
    }
    if (unlink(tmp) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "unlink(\"%s\") failed: %s", tmp, strerror(errno));
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", tmp, strerror(errno));
        return -1;
    }
    n = snprintf(text, sizeof(text), "%ld\n", value);
    w = write(fd, text, (size_t)n);
    if (w != n || close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "writing \"%s\" failed: %s", path,
                 w >= 0 && w != n ? "short write" : strerror(errno));
        if (w != n) {
            close(fd);
        }
        unlink(tmp);
        return -1;
    }
    return 0;
}

pid_t pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    long v;
    char *end;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    v = strtol(buf, &end, 10);
    if (v <= 0 || v > 0x7fffffff || (*end != '\n' && *end != '\0')) {
        return -1;
    }
    return (pid_t)v;
}

void pidfile_remove(const char *path, pid_t pid)
{
    if (path[0] != '\0' && pidfile_read(path) == pid) {
        unlink(path);
    }
}
