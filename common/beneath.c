/* beneath: openat2(RESOLVE_BENEATH), or the same containment by an O_NOFOLLOW walk. */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The path still to resolve: a request path (up to ~4 KiB) plus one symlink's text. */
#define WALK_PATH_MAX (2 * PATH_MAX + 256)

/* The walk's open directories: dirs[0] is the caller's, the others are the walk's own. */
typedef struct {
    int dirs[BENEATH_MAX_DEPTH + 1];
    int depth;
} walk_t;

/* openat2() below dir_fd; rel "" opens dir_fd itself. */
static int open_openat2(int dir_fd, const char *rel, int flags)
{
    struct open_how how;

    memset(&how, 0, sizeof(how));
    how.flags = (unsigned)flags | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dir_fd, rel[0] ? rel : ".", &how, sizeof(how));
}

beneath_mode_t beneath_probe(char *why, size_t whylen)
{
    const char *force = getenv(BENEATH_ENV);
    const char *walk = "paths resolved by an openat(O_NOFOLLOW) walk";
    int dir_fd, fd, err;

    if (force != NULL && strcmp(force, "walk") == 0) {
        if (why != NULL) {
            snprintf(why, whylen, "%s=walk: %s", BENEATH_ENV, walk);
        }
        return BENEATH_WALK;
    }
    dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    fd = dir_fd < 0 ? -1 : open_openat2(dir_fd, "", O_PATH | O_DIRECTORY);
    err = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (dir_fd >= 0) {
        close(dir_fd);
    }
    if (fd >= 0) {
        if (why != NULL) {
            snprintf(why, whylen, "paths resolved by openat2(RESOLVE_BENEATH)");
        }
        return BENEATH_OPENAT2;
    }
    if (why != NULL) {
        snprintf(why, whylen, "%s() failed (%s): %s", dir_fd < 0 ? "open" : "openat2",
                 strerror(err), walk);
    }
    return BENEATH_WALK;
}

const char *beneath_call(beneath_mode_t mode)
{
    return mode == BENEATH_OPENAT2 ? "openat2" : "openat";
}

/* Close the walk's own directories (not dirs[0], the caller's). */
static void walk_close(walk_t *wk)
{
    while (wk->depth > 0) {
        close(wk->dirs[wk->depth--]);
    }
}

/* walk_close(), then fail with err: returns -1 with errno = err. */
static int walk_fail(walk_t *wk, int err)
{
    walk_close(wk);
    errno = err;
    return -1;
}

/*
 * name in the current directory could not be opened as what we need
 * (openat() failed with err, ELOOP or ENOTDIR): if it is a symlink, replace
 * it in path with its text, so the walk goes on from *pos = path. The rest of
 * the path starts at rest ("" or "/..."). 0 ok, or the errno to fail with:
 * err when name is no symlink, ELOOP past *links symlinks, EXDEV for an
 * absolute one, ENOENT for an empty one, ENAMETOOLONG when it does not fit.
 */
static int follow(walk_t *wk, const char *name, int err, char *path, const char *rest,
                  const char **pos, int *links)
{
    char target[PATH_MAX];
    ssize_t n;
    size_t rlen = strlen(rest);

    n = readlinkat(wk->dirs[wk->depth], name, target, sizeof(target));
    if (n < 0) {
        return errno == EINVAL ? err : errno; /* EINVAL: not a symlink */
    }
    if ((size_t)n >= sizeof(target)) {
        return ENAMETOOLONG;
    }
    if (++*links > BENEATH_MAX_LINKS) {
        return ELOOP;
    }
    if (n == 0) {
        return ENOENT;
    }
    if (target[0] == '/') {
        return EXDEV; /* RESOLVE_BENEATH refuses absolute symlinks, even into the root */
    }
    if ((size_t)n + rlen + 1 > WALK_PATH_MAX) {
        return ENAMETOOLONG;
    }
    memmove(path + n, rest, rlen + 1); /* rest lies in path: move it first */
    memcpy(path, target, (size_t)n);
    *pos = path;
    return 0;
}

/*
 * The walk: each component is opened with O_NOFOLLOW from the directory
 * before it, a directory as O_PATH, the last one with the caller's flags; a
 * symlink is read and its text put in front of the rest of the path; ".."
 * goes back to the parent descriptor already held, and fails with EXDEV at
 * dir_fd. Returns a descriptor, or -1 with errno set.
 */
static int open_walk(int dir_fd, const char *rel, int flags)
{
    walk_t wk;
    char path[WALK_PATH_MAX], name[NAME_MAX + 1];
    const char *p = path, *start;
    size_t len = strlen(rel);
    int fd, err, links = 0, last;

    if (rel[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    if (len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, rel, len + 1);
    wk.dirs[0] = dir_fd;
    wk.depth = 0;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            /* ends at a directory: "", ".", ".." or a trailing slash */
            fd = openat(wk.dirs[wk.depth], ".", flags | O_CLOEXEC);
            if (fd < 0) {
                return walk_fail(&wk, errno);
            }
            walk_close(&wk);
            return fd;
        }
        start = p;
        while (*p != '\0' && *p != '/') {
            p++;
        }
        if ((size_t)(p - start) > NAME_MAX) {
            return walk_fail(&wk, ENAMETOOLONG);
        }
        memcpy(name, start, (size_t)(p - start));
        name[p - start] = '\0';
        if (strcmp(name, ".") == 0) {
            continue;
        }
        if (strcmp(name, "..") == 0) {
            if (wk.depth == 0) {
                return walk_fail(&wk, EXDEV);
            }
            close(wk.dirs[wk.depth--]);
            continue;
        }
        last = *p == '\0';
        if (last) {
            fd = openat(wk.dirs[wk.depth], name, flags | O_NOFOLLOW | O_CLOEXEC);
        } else {
            fd = openat(wk.dirs[wk.depth], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd >= 0 && last) {
            walk_close(&wk);
            return fd;
        }
        if (fd >= 0) {
            if (wk.depth == BENEATH_MAX_DEPTH) {
                close(fd);
                return walk_fail(&wk, ENAMETOOLONG);
            }
            wk.dirs[++wk.depth] = fd;
            continue;
        }
        /* O_NOFOLLOW on a symlink: ELOOP, or ENOTDIR where a directory was asked for */
        if (errno != ELOOP && errno != ENOTDIR) {
            return walk_fail(&wk, errno);
        }
        err = follow(&wk, name, errno, path, p, &p, &links);
        if (err != 0) {
            return walk_fail(&wk, err);
        }
    }
}

int beneath_open(beneath_mode_t mode, int dir_fd, const char *rel, int flags)
{
    if (mode == BENEATH_OPENAT2) {
        return open_openat2(dir_fd, rel, flags);
    }
    return open_walk(dir_fd, rel, flags);
}
