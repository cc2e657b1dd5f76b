/* filecache: hash table + LRU list of reference-counted file entries. */
#include "filecache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    fc->max_entries = max_entries;
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

static void entry_free(fc_entry_t *e)
{
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
    e->in_table = 0;
    fc->count--;
    filecache_release(fc, e);
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
        if (fstatat(root_fd, path[0] ? path : ".", &st, 0) != 0 || st.st_ino != e->ino
            || st.st_dev != e->dev || st.st_size != e->size || st.st_mtim.tv_sec != e->mtim.tv_sec
            || st.st_mtim.tv_nsec != e->mtim.tv_nsec) {
            /*
             * Gone or changed: out of the table now, or a large file's
             * descriptor would keep a deleted file's blocks allocated while
             * the worker lives. Responses still sending from it hold their
             * own references; the last one frees it.
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
    e->refs++;
    return e;
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
    e->content_type = content_type;
    /* nginx's form: hex mtime and size; strong, it changes with either */
    snprintf(e->etag, sizeof(e->etag), "\"%llx-%llx\"", (unsigned long long)st->st_mtime,
             (unsigned long long)st->st_size);
    httpdate_format(st->st_mtime, e->last_modified);
}

fc_entry_t *filecache_put(filecache_t *fc, const char *path, int fd, const struct stat *st,
                          const char *content_type, uint64_t now_ms)
{
    size_t plen = strlen(path);
    fc_entry_t *e, *old;
    ssize_t n;
    size_t got = 0;

    e = malloc(sizeof(*e) + plen + 1);
    if (e == NULL) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    memcpy(e->path, path, plen + 1);
    e->hash = hash_path(path);
    e->checked_ms = now_ms;
    describe(e, fd, st, content_type);
    if (fc->max_entries == 0) {
        /* cache off: an entry for this response alone, the file sent from fd */
        e->refs = 1;
        return e;
    }

    if ((size_t)st->st_size <= fc->max_file) {
        /* small: read it once, answer from memory with a single writev() */
        e->data = malloc(st->st_size ? (size_t)st->st_size : 1);
        while (e->data != NULL && got < (size_t)st->st_size) {
            n = pread(fd, e->data + got, (size_t)st->st_size - got, (off_t)got);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
        if (e->data == NULL || got != (size_t)st->st_size) {
            free(e->data);
            free(e);
            return NULL;
        }
        close(fd);
        e->fd = -1;
    }

    old = find(fc, path, e->hash);
    if (old != NULL) {
        evict(fc, old);
    }
    while (fc->count >= fc->max_entries && !TAILQ_EMPTY(&fc->lru)) {
        evict(fc, TAILQ_LAST(&fc->lru, fc_lru));
    }
    e->hnext = fc->buckets[e->hash & (fc->nbuckets - 1)];
    fc->buckets[e->hash & (fc->nbuckets - 1)] = e;
    TAILQ_INSERT_HEAD(&fc->lru, e, lru);
    e->in_table = 1;
    e->refs = 2; /* the table's and the caller's */
    fc->count++;
    return e;
}

void filecache_release(filecache_t *fc, fc_entry_t *e)
{
    (void)fc;
    if (--e->refs == 0) {
        entry_free(e);
    }
}

void filecache_destroy(filecache_t *fc)
{
    while (!TAILQ_EMPTY(&fc->lru)) {
        evict(fc, TAILQ_FIRST(&fc->lru));
    }
    free(fc->buckets);
    fc->buckets = NULL;
}
