/* filecache: hash table + LRU list of reference-counted file entries. */
#include "filecache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uint32_t hash_path(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

int filecache_init(filecache_t *fc, size_t max_entries, size_t max_file, uint32_t valid_ms)
{
    memset(fc, 0, sizeof(*fc));
    TAILQ_INIT(&fc->lru);
    TAILQ_INIT(&fc->fdlru);
    fc->max_entries = max_entries;
    fc->max_fds = max_entries;
    fc->max_file = max_file;
    fc->valid_ms = valid_ms;
    if (max_entries == 0) {
        return 0;
    }
    fc->nbuckets = 64;
    while (fc->nbuckets < max_entries) {
        fc->nbuckets *= 2;
    }
    fc->buckets = calloc(fc->nbuckets, sizeof(fc_entry_t *));
    return fc->buckets ? 0 : -1;
}

size_t filecache_fd_cap(uint64_t nofile, uint64_t max_connections)
{
    uint64_t usable = nofile > FILECACHE_FD_RESERVE ? nofile - FILECACHE_FD_RESERVE : 0;
    uint64_t conns = usable - usable / 4; /* connections count for 3/4 at most */
    uint64_t cap;

    if (max_connections < conns) {
        conns = max_connections;
    }
    cap = (usable - conns) / 2;
    return cap > SIZE_MAX ? SIZE_MAX : (size_t)cap;
}

size_t filecache_limit_fds(filecache_t *fc, uint64_t max_connections, uint64_t *nofile)
{
    struct rlimit rl;
    size_t cap;

    *nofile = getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY
                  ? UINT64_MAX
                  : (uint64_t)rl.rlim_cur;
    cap = filecache_fd_cap(*nofile, max_connections);
    fc->max_fds = fc->max_entries < cap ? fc->max_entries : cap;
    return fc->max_fds;
}

static void entry_free(fc_entry_t *e)
{
    int i;

    for (i = 0; i < FILECACHE_VARIANTS; i++) {
        if (e->variant[i] != NULL) {
            filecache_release(e->variant[i]->owner, e->variant[i]);
        }
    }
    if (e->fd >= 0) {
        close(e->fd);
    }
    free(e->data);
    free(e);
}

/* Take e out of the table; it lives on while responses hold it. */
static void evict(filecache_t *fc, fc_entry_t *e)
{
    fc_entry_t **pp = &fc->buckets[e->hash & (fc->nbuckets - 1)];

    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    TAILQ_REMOVE(&fc->lru, e, lru);
    if (e->fd >= 0) {
        TAILQ_REMOVE(&fc->fdlru, e, fdlru);
        fc->nfds--;
    }
    e->in_table = 0;
    fc->count--;
    filecache_release(fc, e);
}

int filecache_same(const fc_entry_t *e, const struct stat *st)
{
    return st->st_ino == e->ino && st->st_dev == e->dev && st->st_size == e->size
           && st->st_mtim.tv_sec == e->mtim.tv_sec && st->st_mtim.tv_nsec == e->mtim.tv_nsec
           && st->st_mode == e->mode && st->st_uid == e->uid && st->st_gid == e->gid;
}

/*
 * Was the file modified less than a second ago (by the wall clock, which
 * mtime follows)? A file's timestamps move in clock ticks, so two writes of
 * the same size within one tick leave inode, mtime and size alike: a tag
 * made of them is only safe as a strong validator once the file has been
 * still for a while (Apache's rule, the second it uses).
 */
static int recently_changed(const struct stat *st)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec - st->st_mtim.tv_sec < 1
           || (now.tv_sec - st->st_mtim.tv_sec == 1 && now.tv_nsec < st->st_mtim.tv_nsec);
}

static fc_entry_t *find(filecache_t *fc, const char *path, uint32_t h)
{
    fc_entry_t *e = fc->buckets[h & (fc->nbuckets - 1)];

    while (e != NULL && (e->hash != h || strcmp(e->path, path) != 0)) {
        e = e->hnext;
    }
    return e;
}

fc_entry_t *filecache_get(filecache_t *fc, int root_fd, const char *path, uint64_t now_ms)
{
    struct stat st;
    fc_entry_t *e;

    if (fc->max_entries == 0) {
        return NULL;
    }
    e = find(fc, path, hash_path(path));
    if (e == NULL) {
        return NULL;
    }
    if (fc->valid_ms == 0 || now_ms - e->checked_ms >= fc->valid_ms) {
        if (fstatat(root_fd, path[0] ? path : ".", &st, 0) != 0 || !filecache_same(e, &st)
            || (e->weak && !recently_changed(&st))) {
            /*
             * Gone or changed: out of the table now, or a large file's
             * descriptor would keep a deleted file's blocks allocated while
             * the worker lives. Responses still sending from it hold their
             * own references; the last one frees it. A weak ETag whose
             * second has passed goes too: read again, it gets a strong one.
             */
            evict(fc, e);
            return NULL;
        }
        e->checked_ms = now_ms;
    }
    if (TAILQ_FIRST(&fc->lru) != e) {
        TAILQ_REMOVE(&fc->lru, e, lru);
        TAILQ_INSERT_HEAD(&fc->lru, e, lru);
    }
    if (e->fd >= 0 && TAILQ_FIRST(&fc->fdlru) != e) {
        TAILQ_REMOVE(&fc->fdlru, e, fdlru);
        TAILQ_INSERT_HEAD(&fc->fdlru, e, fdlru);
    }
    e->refs++;
    return e;
}

size_t filecache_shed(filecache_t *fc, size_t n)
{
    fc_entry_t *e, *prev;
    size_t closed = 0;

    for (e = TAILQ_LAST(&fc->fdlru, fc_fdlru); e != NULL && closed < n; e = prev) {
        prev = TAILQ_PREV(e, fc_fdlru, fdlru);
        if (e->refs == 1) {
            evict(fc, e); /* the last reference: entry_free() closes the fd */
            closed++;
        }
    }
    return closed;
}

/* Fill e's metadata (size, mtime, ETag, Last-Modified, type) for the file open as fd. */
static void describe(fc_entry_t *e, int fd, const struct stat *st, const char *content_type)
{
    e->fd = fd;
    e->size = st->st_size;
    e->mtime = st->st_mtime;
    e->mtim = st->st_mtim;
    e->ino = st->st_ino;
    e->dev = st->st_dev;
    e->mode = st->st_mode;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->content_type = content_type;
    /*
     * Hex inode, mtime in nanoseconds and size: a rewrite in the same second
     * changes the nanoseconds, a rename over the file the inode (nginx's
     * "mtime-size" repeats for both). Weak while the file may still change
     * within its timestamp's tick, so If-Range never splices with it.
     */
    e->weak = recently_changed(st);
    snprintf(e->etag, sizeof(e->etag), "%s\"%llx-%llx-%llx\"", e->weak ? "W/" : "",
             (unsigned long long)st->st_ino,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull
                 + (unsigned long long)st->st_mtim.tv_nsec,
             (unsigned long long)st->st_size);
    httpdate_format(st->st_mtime, e->last_modified);
}

/* A new entry for path (not in the table, one reference), described from st; NULL: no memory. */
static fc_entry_t *entry_new(filecache_t *fc, const char *path, int fd, const struct stat *st,
                             const char *content_type, uint64_t now_ms)
{
    size_t plen = strlen(path);
    fc_entry_t *e = malloc(sizeof(*e) + plen + 1);

    if (e == NULL) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    e->owner = fc;
    memcpy(e->path, path, plen + 1);
    e->hash = hash_path(path);
    e->checked_ms = now_ms;
    e->compressible = -1;
    e->refs = 1;
    describe(e, fd, st, content_type);
    return e;
}

/*
 * Read e's file (open as e->fd) into e->data, once, so it is answered from
 * memory with a single writev(); the descriptor is closed. 0 ok, -1 out of
 * memory or a short read (e unchanged).
 */
static int read_in(fc_entry_t *e)
{
    size_t got = 0, size = (size_t)e->size;
    char *data = malloc(size ? size : 1);
    ssize_t n;

    while (data != NULL && got < size) {
        n = pread(e->fd, data + got, size - got, (off_t)got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    if (data == NULL || got != size) {
        free(data);
        return -1;
    }
    close(e->fd);
    e->fd = -1;
    e->data = data;
    return 0;
}

fc_entry_t *filecache_detached(filecache_t *fc, const char *path, int fd, const struct stat *st,
                               const char *content_type, uint64_t now_ms)
{
    fc_entry_t *e = entry_new(fc, path, fd, st, content_type, now_ms);

    if (e != NULL && (uint64_t)st->st_size <= fc->max_file && fc->max_entries > 0
        && read_in(e) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

fc_entry_t *filecache_from_bytes(filecache_t *fc, const fc_entry_t *of, char *data, size_t len,
                                 const char *suffix)
{
    fc_entry_t *e = malloc(sizeof(*e) + strlen(of->path) + 1);
    size_t tlen = strlen(of->etag);

    if (e == NULL || tlen + strlen(suffix) >= sizeof(e->etag)) {
        free(e);
        return NULL;
    }
    memcpy(e, of, sizeof(*e) + strlen(of->path) + 1);
    e->owner = fc;
    e->hnext = NULL;
    e->refs = 1;
    e->in_table = 0;
    e->fd = -1;
    e->data = data;
    e->size = (off_t)len;
    memset(e->variant, 0, sizeof(e->variant));
    e->variant_looked = 0;
    e->variant_flags = 0;
    e->encoding = NULL;
    /* "tag" becomes "tag-suffix": the bytes differ, so must the validator */
    memcpy(e->etag + tlen - 1, suffix, strlen(suffix));
    memcpy(e->etag + tlen - 1 + strlen(suffix), "\"", 2);
    return e;
}

void filecache_set_variant(fc_entry_t *e, int i, fc_entry_t *v, uint64_t now_ms)
{
    if (e->variant[i] != NULL) {
        filecache_release(e->variant[i]->owner, e->variant[i]);
    }
    e->variant[i] = v;
    e->variant_ms[i] = now_ms;
    e->variant_looked |= 1u << i;
}

fc_entry_t *filecache_put(filecache_t *fc, const char *path, int fd, const struct stat *st,
                          const char *content_type, uint64_t now_ms)
{
    fc_entry_t *e, *old;
    int small = (uint64_t)st->st_size <= fc->max_file;

    e = entry_new(fc, path, fd, st, content_type, now_ms);
    if (e == NULL) {
        return NULL;
    }
    if (fc->max_entries == 0 || (!small && fc->max_fds == 0)) {
        /* cache off, or no descriptor to spare: for this response alone, sent from fd */
        return e;
    }
    if (small && read_in(e) != 0) {
        free(e);
        return NULL;
    }

    old = find(fc, path, e->hash);
    if (old != NULL) {
        evict(fc, old);
    }
    while (fc->count >= fc->max_entries && !TAILQ_EMPTY(&fc->lru)) {
        evict(fc, TAILQ_LAST(&fc->lru, fc_lru));
    }
    while (e->fd >= 0 && fc->nfds >= fc->max_fds && !TAILQ_EMPTY(&fc->fdlru)) {
        evict(fc, TAILQ_LAST(&fc->fdlru, fc_fdlru));
    }
    e->hnext = fc->buckets[e->hash & (fc->nbuckets - 1)];
    fc->buckets[e->hash & (fc->nbuckets - 1)] = e;
    TAILQ_INSERT_HEAD(&fc->lru, e, lru);
    if (e->fd >= 0) {
        TAILQ_INSERT_HEAD(&fc->fdlru, e, fdlru);
        fc->nfds++;
    }
    e->in_table = 1;
    e->refs = 2; /* the table's and the caller's */
    fc->count++;
    return e;
}

void filecache_release_sent(filecache_t *fc, fc_entry_t *e)
{
    struct stat st;

    if (e->in_table && e->fd >= 0 && (fstat(e->fd, &st) != 0 || !filecache_same(e, &st))) {
        evict(fc, e); /* truncated or rewritten in place: the next request opens it afresh */
    }
    filecache_release(fc, e);
}

void filecache_release(filecache_t *fc, fc_entry_t *e)
{
    (void)fc;
    if (--e->refs == 0) {
        entry_free(e);
    }
}

void filecache_flush(filecache_t *fc)
{
    while (!TAILQ_EMPTY(&fc->lru)) {
        evict(fc, TAILQ_FIRST(&fc->lru));
    }
}

void filecache_destroy(filecache_t *fc)
{
    filecache_flush(fc);
    free(fc->buckets);
    fc->buckets = NULL;
}
