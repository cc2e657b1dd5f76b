/* compress: a static file's representation by Accept-Encoding: as is, a .br/.gz sibling, gzipped.
 */
#include "compress.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "beneath.h"
#include "encoding.h"

/* Opened as static.c opens files: a FIFO must not block us. */
#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY)

/*
 * The variant slots of an entry: its two siblings (indexed by encoding_t:
 * ENCODING_BR, ENCODING_GZIP) and the file gzipped here.
 */
#define SLOT_MADE 2
_Static_assert(ENCODING_BR == 0 && ENCODING_GZIP == 1, "sibling slots are the codings");
_Static_assert(SLOT_MADE < FILECACHE_VARIANTS, "filecache holds every variant slot");

/*
 * The largest file gzipped on the fly: compressing runs on the worker's
 * loop (about 5 ms for 64 KB at level 6, 35 ms for this), so a
 * cache_max_file raised to megabytes must not stall every client of the
 * worker for a second. Larger files go as they are (or from a .gz sibling).
 */
#define GZIP_MAX_FILE (1024 * 1024)

/*
 * variant_flags bit of a sibling slot: the sibling is there but larger than
 * cache_max_file, so it is not kept (its descriptor would escape the cache's
 * count): each response opens it.
 */
#define BIG(slot) (1u << (slot))

/* A new reference to v (NULL stays NULL). */
static fc_entry_t *ref(fc_entry_t *v)
{
    if (v != NULL) {
        v->refs++;
    }
    return v;
}

/*
 * Is a sibling with status sb usable for the file e: a regular file, not
 * older than the file? A sibling older than its file is stale (the file was
 * changed and the .gz not made again): sending it would serve the old
 * content to every client that takes the coding, so it is ignored and the
 * file is sent as is (or gzipped). gzip -k and brotli keep the file's mtime
 * on their output, so a fresh one is never older.
 */
static int sibling_ok(const fc_entry_t *e, const struct stat *sb)
{
    return S_ISREG(sb->st_mode)
           && (sb->st_mtim.tv_sec > e->mtim.tv_sec
               || (sb->st_mtim.tv_sec == e->mtim.tv_sec && sb->st_mtim.tv_nsec >= e->mtim.tv_nsec));
}

/*
 * Open the sibling path (checked on the way: beneath_open(), as every
 * file) and make its entry, with e's Content-Type. Kept in e's slot when
 * small enough to be held in memory; a larger one is for this response
 * alone (BIG). Returns it with a reference for the caller, or NULL: none
 * (recorded in the slot), or no memory (nothing recorded).
 */
static fc_entry_t *open_sibling(static_t *st, fc_entry_t *e, encoding_t c, const char *path,
                                uint64_t now)
{
    int fd = beneath_open(st->resolve, st->root_fd, path, OPEN_FLAGS);
    struct stat sb;
    fc_entry_t *v;

    if (fd < 0 || fstat(fd, &sb) != 0 || !sibling_ok(e, &sb)) {
        if (fd >= 0) {
            close(fd);
        }
        filecache_set_variant(e, c, NULL, now);
        return NULL;
    }
    v = filecache_detached(&st->fc, path, fd, &sb, e->content_type, now);
    if (v == NULL) {
        close(fd);
        return NULL;
    }
    v->encoding = encoding_name(c);
    if (v->fd >= 0) {
        filecache_set_variant(e, c, NULL, now);
        e->variant_flags |= BIG(c);
        return v;
    }
    e->variant_flags &= ~BIG(c);
    filecache_set_variant(e, c, ref(v), now);
    return v;
}

/*
 * The sibling rel + ".br" / ".gz" of e for coding c, or NULL when there is
 * none. What was found is trusted for cache_valid, as the file itself is:
 * past it (with 0: every time) one fstatat() says whether it is still there
 * and the same, so a sibling made, changed or removed shows as a file does.
 */
static fc_entry_t *sibling(static_t *st, fc_entry_t *e, const char *rel, encoding_t c, uint64_t now)
{
    const char *suffix = encoding_suffix(c);
    size_t rlen = strlen(rel), slen = strlen(suffix);
    char small[1024], *path = small;
    fc_entry_t *v = e->variant[c];
    struct stat sb;

    if ((e->variant_looked & (1u << c)) && st->fc.valid_ms > 0
        && now - e->variant_ms[c] < st->fc.valid_ms && !(e->variant_flags & BIG(c))) {
        return ref(v);
    }
    if (rlen + slen >= sizeof(small) && (path = malloc(rlen + slen + 1)) == NULL) {
        return NULL;
    }
    memcpy(path, rel, rlen);
    memcpy(path + rlen, suffix, slen + 1);
    if (fstatat(st->root_fd, path, &sb, 0) != 0 || !sibling_ok(e, &sb)) {
        filecache_set_variant(e, c, NULL, now);
        v = NULL;
    } else if (v != NULL && filecache_same(v, &sb)) {
        e->variant_ms[c] = now;
        v = ref(v);
    } else {
        v = open_sibling(st, e, c, path, now);
    }
    if (path != small) {
        free(path);
    }
    return v;
}

/*
 * e->data gzipped at level into a buffer of its own (*len bytes): a gzip
 * member with no name and no time in its header, so the same file at the
 * same level always gives the same bytes (a strong ETag may name them).
 * NULL when out of memory or when it would not be smaller than the file.
 */
static char *gzip_bytes(const fc_entry_t *e, int level, size_t *len)
{
    z_stream z;
    uLong bound;
    char *out;
    int rc;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    bound = deflateBound(&z, (uLong)e->size);
    out = malloc(bound);
    if (out != NULL) {
        z.next_in = (Bytef *)e->data;
        z.avail_in = (uInt)e->size;
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)bound;
        rc = deflate(&z, Z_FINISH);
        *len = z.total_out;
        if (rc != Z_STREAM_END || *len >= (size_t)e->size) {
            free(out);
            out = NULL;
        }
    }
    deflateEnd(&z);
    return out;
}

/*
 * e gzipped on the fly, once per version of the file: the compressed bytes
 * are a variant of e, freed with it (so a changed file is compressed
 * again). Only a file the cache holds in memory (up to cache_max_file) is
 * compressed: memory stays bounded by the cache's, and a larger file is sent
 * as it is (a .gz sibling serves those). NULL: not compressed.
 */
static fc_entry_t *gzipped(static_t *st, fc_entry_t *e, uint64_t now)
{
    fc_entry_t *v;
    size_t len;
    char *data;

    if (e->variant_looked & (1u << SLOT_MADE)) {
        return ref(e->variant[SLOT_MADE]);
    }
    if (e->data == NULL || (uint64_t)e->size < st->conf->gzip_min_length
        || e->size > GZIP_MAX_FILE) {
        return NULL;
    }
    data = gzip_bytes(e, st->conf->gzip_level, &len);
    v = data != NULL ? filecache_from_bytes(&st->fc, e, data, len, "-gz") : NULL;
    if (data != NULL && v == NULL) {
        free(data);
        return NULL; /* out of memory: maybe not next time */
    }
    if (v != NULL) {
        v->encoding = "gzip";
    }
    filecache_set_variant(e, SLOT_MADE, ref(v), now); /* NULL: no gain, not tried again */
    return v;
}

/* The representation of e in coding c (br or gzip) the site has, or NULL. */
static fc_entry_t *variant(static_t *st, fc_entry_t *e, const char *rel, encoding_t c, uint64_t now)
{
    fc_entry_t *v = NULL;

    if (st->conf->precompressed) {
        v = sibling(st, e, rel, c, now);
    }
    if (v == NULL && c == ENCODING_GZIP && st->conf->gzip && e->compressible) {
        v = gzipped(st, e, now);
    }
    return v;
}

/* Has e a sibling the last look found (whatever this client takes)? */
static int has_sibling(const fc_entry_t *e)
{
    return e->variant[ENCODING_BR] != NULL || e->variant[ENCODING_GZIP] != NULL
           || (e->variant_flags & (BIG(ENCODING_BR) | BIG(ENCODING_GZIP)));
}

fc_entry_t *compress_pick(static_t *st, forkd_req_t *req, forkd_resp_t *resp, fc_entry_t *e,
                          const char *rel, uint64_t now_ms)
{
    encoding_accept_t accept;
    encoding_t order[ENCODING_N];
    const char *name, *value;
    size_t i, name_len, value_len;
    fc_entry_t *v = NULL;
    int n, k;

    if (!st->conf->precompressed && !st->conf->gzip) {
        return e;
    }
    if (e->compressible < 0) {
        e->compressible = encoding_type_listed(st->conf->gzip_types, e->content_type);
    }
    encoding_init(&accept);
    for (i = 0; forkd_req_header_at(req, i, &name, &name_len, &value, &value_len) == 0; i++) {
        if (name_len == 15 && strncasecmp(name, "Accept-Encoding", 15) == 0) {
            encoding_note(&accept, value, value_len);
        }
    }
    n = encoding_order(&accept, order);
    for (k = 0; k < n && order[k] != ENCODING_IDENTITY && v == NULL; k++) {
        v = variant(st, e, rel, order[k], now_ms);
    }
    /*
     * Vary whenever the answer could have been another for another field:
     * a compressible type (gzip_types) on a site that compresses, or a
     * file with a sibling; a cache must not hand one client's encoding to
     * another.
     */
    if (v != NULL || e->compressible || has_sibling(e)) {
        forkd_resp_header(resp, "Vary", "Accept-Encoding");
    }
    if (v == NULL) {
        return e;
    }
    filecache_release(&st->fc, e);
    return v;
}
