/* beneath: open a path below a directory and never outside it, with or without openat2(). */
#ifndef FORKD_BENEATH_H
#define FORKD_BENEATH_H

#include <stddef.h>

/* Symlinks one resolution may follow before ELOOP: the kernel's MAXSYMLINKS. */
#define BENEATH_MAX_LINKS 40
/* Directories below the start one walk may hold open at once (deeper: ENAMETOOLONG). */
#define BENEATH_MAX_DEPTH 256
/* "FORKD_RESOLVE=walk" in the environment makes beneath_probe() choose BENEATH_WALK. */
#define BENEATH_ENV "FORKD_RESOLVE"

typedef enum {
    /* the kernel resolves: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) */
    BENEATH_OPENAT2,
    /*
     * forkd resolves: openat() one component at a time with O_NOFOLLOW
     * (O_PATH | O_DIRECTORY for directories), reading each symlink and
     * resolving its text itself; for where openat2() is refused (ENOSYS from
     * systemd's RestrictSUIDSGID= seccomp filter, EPERM from a
     * SystemCallFilter=, a kernel before 5.6).
     */
    BENEATH_WALK,
} beneath_mode_t;

/*
 * Decide how this process opens paths below a directory; call once at start
 * (the worker keeps the answer, the master logs it). Returns BENEATH_WALK when
 * the environment holds FORKD_RESOLVE=walk (other values are ignored) or when
 * a probe openat2(RESOLVE_BENEATH) of "/" fails, whatever the errno (the walk
 * is always safe, only slower); BENEATH_OPENAT2 when the probe works. The
 * probe's descriptor is closed. When why is not NULL, one line for the log
 * saying which mode and why is written there (whylen bytes, NUL-terminated),
 * e.g. "openat2() failed (Function not implemented): paths resolved by an
 * openat(O_NOFOLLOW) walk". Does not log; sets no global state.
 */
beneath_mode_t beneath_probe(char *why, size_t whylen);

/* The system call beneath_open() makes in mode, for error messages: "openat2" or "openat". */
const char *beneath_call(beneath_mode_t mode);

/*
 * Open rel (relative: no leading '/'; "" means dir_fd itself) below dir_fd
 * with flags (access mode and O_NONBLOCK, O_NOCTTY, O_DIRECTORY...; never
 * O_CREAT or O_PATH), plus O_CLOEXEC. Both modes give the same answers:
 * symlinks are followed while they stay below dir_fd, "..", absolute paths
 * and absolute symlinks that would leave it fail with EXDEV, more than
 * BENEATH_MAX_LINKS symlinks with ELOOP; magic links (/proc/PID/fd/N) are
 * never followed. Returns a descriptor the caller closes, or -1 with errno
 * set (EXDEV, ELOOP, ENOENT, ENOTDIR, EACCES, ENAMETOOLONG, EMFILE, ENXIO...
 * as from openat()).
 *
 * The walk checks each step and never looks ".." up in the kernel (it goes
 * back to the parent descriptor it holds), so a racing rename cannot lead it
 * above dir_fd; like openat2(RESOLVE_BENEATH) it trusts whoever may rename
 * directories inside the tree.
 */
int beneath_open(beneath_mode_t mode, int dir_fd, const char *rel, int flags);

#endif
