/* pidfile: the master's pid file (and the test port file): written atomically, read carefully. */
#ifndef FORKD_PIDFILE_H
#define FORKD_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write "value\n" to path atomically (a reader sees the old file or the whole
 * new one): a temporary "<path>.tmp" created with O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode 0644 less the umask, then renamed over path. Nothing planted there is
 * followed or truncated: a stale temporary name (a file or a symbolic link)
 * is unlinked first, and rename() replaces a link at path, never its target.
 * 0 ok, -1 with err set.
 */
int pidfile_write(const char *path, long value, char *err, size_t errlen);

/* The pid in a pid file (not followed if a symbolic link), or -1 when missing or unreadable. */
pid_t pidfile_read(const char *path);

/* Remove path if it names pid (a newer master may own it by now). */
void pidfile_remove(const char *path, pid_t pid);

#endif
