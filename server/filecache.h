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
 * Descriptors a worker holds besides its connections and its cached files:
 * stdio, the listening sockets, the error and access logs, epoll, libevent's
 * signal pipe, the docroot, the directories a walk (beneath_open()) holds
 * open. An idle worker holds about a dozen; the master's max_connections
 * warning counts the same 32.
 */
#define FILECACHE_FD_RESERVE 32
/* How many cached descriptors an open that fails with EMFILE or ENFILE frees at most. */
#define FILECACHE_SHED_BATCH 16

/*
 * How many other representations (content codings) of a file its entry may
 * own: what they are is server/compress.c's business.
 */
#define FILECACHE_VARIANTS 3

/*
 * One cached regular file. Small files are held in memory (data), larger
 * ones as an open descriptor (fd) sent with sendfile() at an offset, so any
 * number of responses share it. Entries are reference counted: the table
 * holds one reference, each response using the entry one more.
 */
struct filecache;

typedef struct fc_entry {
    struct filecache *owner;     /* the cache it came from: its release goes there */
    struct fc_entry *hnext;      /* hash chain */
    TAILQ_ENTRY(fc_entry) lru;   /* most recently used first */
    TAILQ_ENTRY(fc_entry) fdlru; /* the same order, entries holding an fd only */
    uint32_t hash;
    int refs;
    int in_table;
    char *data; /* whole file, or NULL */
    int fd;     /* -1 when data holds the file */
    off_t size;
    time_t mtime;
    struct timespec mtim; /* with ino, dev, mode and owner: has the file changed? */
    ino_t ino;
    dev_t dev;
    mode_t mode; /* chmod 000 is a change: the next open would fail */
    uid_t uid;
    gid_t gid;
    int weak;            /* the ETag is weak: the file had changed within a second of being read */
    uint64_t checked_ms; /* when it was last found unchanged */
    const char *content_type;
    /*
     * The file in other content codings (a name.gz sibling, the file
     * gzipped): entries of their own outside the table, one reference each
     * owned by this entry and given back with it, so they go when the file
     * changes. variant_ms: when slot i was last looked at; variant_looked
     * bit i: it was (variant[i] NULL then: there is none to keep).
     */
    struct fc_entry *variant[FILECACHE_VARIANTS];
    uint64_t variant_ms[FILECACHE_VARIANTS];
    unsigned variant_looked;
    unsigned variant_flags; /* compress.c's own bits about the variants */
    int compressible;       /* -1 not known yet, else whether its type is to be gzipped */
    const char *encoding;   /* Content-Encoding of the bytes ("gzip"), NULL for the file as is */
    char etag[72];          /* W/"ino-mtime_ns-size", hex (a variant adds a suffix) */
    char last_modified[HTTPDATE_LEN + 1];
    char path[]; /* the key: the path relative to the root */
} fc_entry_t;

typedef struct filecache {
    fc_entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    TAILQ_HEAD(fc_lru, fc_entry) lru;
    TAILQ_HEAD(fc_fdlru, fc_entry) fdlru;
    size_t nfds;        /* entries in the table holding a descriptor */
    size_t max_entries; /* 0: the cache is off */
    size_t max_fds;     /* at most this many of them hold a descriptor */
    size_t max_file;    /* files up to this size are held in memory */
    uint32_t valid_ms;  /* an entry is trusted this long before it is checked again */
    /* the owner's once-a-second report of running out of descriptors */
    uint64_t fd_report_ms;
    uint32_t fd_unreported;
} filecache_t;

/*
 * Set up an empty cache. Until filecache_limit_fds() every entry may hold a
 * descriptor. 0 ok, -1 out of memory.
 */
int filecache_init(filecache_t *fc, size_t max_entries, size_t max_file, uint32_t valid_ms);

/*
 * How many cached files a worker may hold open under an open files limit
 * of nofile (RLIM_INFINITY as UINT64_MAX) with max_connections connections.
 * Each connection needs a descriptor and FILECACHE_FD_RESERVE go to the
 * rest; of what is left the cache takes half, leaving the other half for
 * descriptors the table does not count: a response still sending a file
 * whose entry was evicted, a file opened per request (cache full or off),
 * the directories of a walk. When max_connections claims more than 3/4 of
 * the limit (it cannot be honoured: the master says so) the cache still
 * gets 1/8, so a low limit does not turn it off; filecache_shed() gives
 * those back on EMFILE. Pure: the master may call it to warn once.
 */
size_t filecache_fd_cap(uint64_t nofile, uint64_t max_connections);

/*
 * Cap the entries holding a descriptor at filecache_fd_cap() of this
 * process's RLIMIT_NOFILE (read now: call it in the worker, after the
 * master raised the limit). Entries held in memory are
 * not limited. Returns the new max_fds (smaller than max_entries when the
 * limit capped it) and the limit in *nofile.
 */
size_t filecache_limit_fds(filecache_t *fc, uint64_t max_connections, uint64_t *nofile);

/*
 * Out of descriptors (an open failed with EMFILE or ENFILE): close up to n
 * cached descriptors that no response holds (the table's reference only),
 * least recently used first, and drop their entries. Returns how many were
 * closed: 0 when every cached descriptor is in use (or none is cached).
 */
size_t filecache_shed(filecache_t *fc, size_t n);

/* Drop every entry (those still referenced are freed on their last release). */
void filecache_destroy(filecache_t *fc);

/*
 * The entry for path (relative to root_fd) with a new reference for the
 * caller (release it with filecache_release()). Past valid_ms since its last
 * check (with valid_ms 0: always) one fstatat() tells whether the file is
 * still the same (filecache_same()); NULL when absent or changed: then open
 * the file and call filecache_put(). A changed entry is evicted at once (its
 * descriptor closed when no response holds it any more), so a deleted file's
 * space is freed. The stat follows symlinks, so a link swapped to point
 * elsewhere reads as changed and the open decides.
 */
fc_entry_t *filecache_get(filecache_t *fc, int root_fd, const char *path, uint64_t now_ms);

/*
 * Does st still describe e's file: inode, device, size, mtime to the
 * nanosecond, mode and owner (a chmod 000 or chown must show as well)?
 */
int filecache_same(const fc_entry_t *e, const struct stat *st);

/*
 * Make an entry for the regular file open as fd (st from fstat()); replaces
 * any entry for path. Takes fd: it is kept, or closed once the contents are
 * read into memory. A file kept as fd, with max_fds of them in the table,
 * evicts the least recently used one of those (its descriptor closed when no
 * response holds it any more). With the cache off (max_entries 0), or a file
 * kept as fd with max_fds 0, the entry is the caller's alone, freed (fd
 * closed) with its last release. Returns the entry with a
 * reference for the caller, or NULL on failure (out of memory, read error:
 * fd is still the caller's).
 */
fc_entry_t *filecache_put(filecache_t *fc, const char *path, int fd, const struct stat *st,
                          const char *content_type, uint64_t now_ms);

/*
 * Give back the reference of a response that sent from e (or stopped
 * trying). A descriptor-backed entry whose open file no longer matches it
 * (truncated or rewritten in place: the send may have come up short) is
 * evicted at once, so the next request sees the file as it is instead of
 * the old length until valid_ms runs out. One fstat() per large-file response.
 */
void filecache_release_sent(filecache_t *fc, fc_entry_t *e);

/*
 * An entry for the regular file open as fd (st from fstat()) that is not
 * put in the table: held in memory (fd closed) when it is no larger than
 * max_file, else kept as fd. For a variant of another entry (a sibling
 * file). Returns it with one reference for the caller, or NULL (out of
 * memory, read error: fd is still the caller's).
 */
fc_entry_t *filecache_detached(filecache_t *fc, const char *path, int fd, const struct stat *st,
                               const char *content_type, uint64_t now_ms);

/*
 * An entry holding data[0..len) (taken: freed with the entry) as another
 * representation of of: of's validators and type, its ETag with suffix
 * before the closing quote. Not in the table; one reference for the
 * caller. NULL when out of memory (data is still the caller's).
 */
fc_entry_t *filecache_from_bytes(filecache_t *fc, const fc_entry_t *of, char *data, size_t len,
                                 const char *suffix);

/*
 * Set e's variant slot i to v (the caller's reference passes to e; v may be
 * NULL: there is none), giving back the one it held, looked at now_ms.
 */
void filecache_set_variant(fc_entry_t *e, int i, fc_entry_t *v, uint64_t now_ms);

/* Evict every entry (responses holding one keep it until they are done). */
void filecache_flush(filecache_t *fc);

/* Give back a reference from filecache_get() or filecache_put(). */
void filecache_release(filecache_t *fc, fc_entry_t *e);

#endif
