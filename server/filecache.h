/* filecache: per-worker cache of open files and their metadata (nginx open_file_cache). */
#ifndef FORKD_FILECACHE_H
#define FORKD_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "httpdate.h"

/*
 * One cached regular file. Small files are held in memory (data), larger
 * ones as an open descriptor (fd) sent with sendfile() at an offset, so any
 * number of responses share it. Entries are reference counted: the table
 * holds one reference, each response using the entry one more.
 */
typedef struct fc_entry {
    struct fc_entry *hnext;    /* hash chain */
    TAILQ_ENTRY(fc_entry) lru; /* most recently used first */
    uint32_t hash;
    int refs;
    int in_table;
    char *data; /* whole file, or NULL */
    int fd;     /* -1 when data holds the file */
    off_t size;
    time_t mtime;
    struct timespec mtim; /* with ino and dev: has the file changed? */
    ino_t ino;
    dev_t dev;
    uint64_t checked_ms; /* when it was last found unchanged */
    const char *content_type;
    char etag[48];
    char last_modified[HTTPDATE_LEN + 1];
    char path[]; /* the key: the path relative to the root */
} fc_entry_t;

typedef struct {
    fc_entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    TAILQ_HEAD(fc_lru, fc_entry) lru;
    size_t max_entries; /* 0: the cache is off */
    size_t max_file;    /* files up to this size are held in memory */
    uint32_t valid_ms;  /* an entry is trusted this long before it is checked again */
} filecache_t;

/* Set up an empty cache. 0 ok, -1 out of memory. */
int filecache_init(filecache_t *fc, size_t max_entries, size_t max_file, uint32_t valid_ms);

/* Drop every entry (those still referenced are freed on their last release). */
void filecache_destroy(filecache_t *fc);

/*
 * The entry for path (relative to root_fd) with a new reference for the
 * caller (release it with filecache_release()). Past valid_ms since its last
 * check (with valid_ms 0: always) one fstatat() tells whether the file is
 * still the same (inode, size, mtime); NULL when absent or changed: then open
 * the file and call filecache_put(). A changed entry is evicted at once (its
 * descriptor closed when no response holds it any more), so a deleted file's
 * space is freed. The stat follows symlinks, so a link swapped to point
 * elsewhere reads as changed and the open decides.
 */
fc_entry_t *filecache_get(filecache_t *fc, int root_fd, const char *path, uint64_t now_ms);

/*
 * Make an entry for the regular file open as fd (st from fstat()); replaces
 * any entry for path. Takes fd: it is kept, or closed once the contents are
 * read into memory. With the cache off (max_entries 0) the entry is the
 * caller's alone, freed with its last release. Returns the entry with a
 * reference for the caller, or NULL on failure (out of memory, read error:
 * fd is still the caller's).
 */
fc_entry_t *filecache_put(filecache_t *fc, const char *path, int fd, const struct stat *st,
                          const char *content_type, uint64_t now_ms);

/* Give back a reference from filecache_get() or filecache_put(). */
void filecache_release(filecache_t *fc, fc_entry_t *e);

#endif
