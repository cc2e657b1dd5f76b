/* static: files from the docroot, never anything outside it (beneath_open()). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "beneath.h"
#include "byteranges.h"
#include "compress.h"
#include "conditional.h"
#include "errpage.h"
#include "escape.h"
#include "filecache.h"
#include "forkd.h"
#include "cacherule.h"
#include "httpdate.h"
#include "listing.h"
#include "mime.h"
#include "vhost.h"

_Static_assert(CONFIG_MAX_RANGES <= BYTERANGES_MAX, "[http] max_ranges: serve_ranges() has room");

/* How every file and directory below the root is opened: a FIFO must not block us. */
#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY)

/* Open the root (following a symlink to it) and say which directory it is. */
static int open_root(const char *root, dev_t *dev, ino_t *ino)
{
    struct stat sb;
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0 && fstat(fd, &sb) != 0) {
        close(fd);
        return -1;
    }
    *dev = fd >= 0 ? sb.st_dev : 0;
    *ino = fd >= 0 ? sb.st_ino : 0;
    return fd;
}

/*
 * The rule for a root that is a symlink switched to a new release (an
 * atomic deploy): every worker follows the switch within cache_valid, as it
 * does for a changed file (with cache_valid 0 at most once per millisecond
 * of the event loop's clock: at once for a deploy, one stat() per busy
 * millisecond). The new tree is opened and the file cache emptied, so no
 * worker mixes the old release's cached files with the new one's. When the
 * root cannot be opened (mid-deploy) the old one serves on.
 */
static void follow_root(static_t *st, uint64_t now)
{
    struct stat sb;
    dev_t dev;
    ino_t ino;
    int fd;

    if (now - st->root_checked_ms < (st->fc.valid_ms > 0 ? st->fc.valid_ms : 1)) {
        return;
    }
    st->root_checked_ms = now;
    if (stat(st->root, &sb) != 0 || (sb.st_dev == st->root_dev && sb.st_ino == st->root_ino)) {
        return;
    }
    fd = open_root(st->root, &dev, &ino);
    if (fd < 0) {
        return;
    }
    close(st->root_fd);
    st->root_fd = fd;
    st->root_dev = dev;
    st->root_ino = ino;
    filecache_flush(&st->fc);
}

/* One site's part of static_init(): its cache (at most max_fds descriptors) and its root. */
static int site_init(static_t *st, const config_t *cfg, const config_site_t *site, size_t max_fds,
                     char *err, size_t errlen)
{
    st->conf = site;
    st->cfg = cfg;
    st->name = site->name[0] != '\0' ? site->name : "static";
    st->cache_rules = cacherule_site_has(cfg, st->name);
    st->index = site->index;
    st->root = site->root;
    st->root_checked_ms = 0;
    st->root_fd = -1;
    st->max_ranges = cfg->max_ranges;
    if (filecache_init(&st->fc, cfg->cache_entries, cfg->cache_max_file, cfg->cache_valid) != 0) {
        snprintf(err, errlen, "file cache: out of memory");
        return -1;
    }
    if (st->fc.max_fds > max_fds) {
        st->fc.max_fds = max_fds;
    }
    st->root_fd = open_root(st->root, &st->root_dev, &st->root_ino);
    if (st->root_fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", site->root, strerror(errno));
        return -1;
    }
    st->resolve = beneath_probe(NULL, 0); /* the master logs the choice */
    return 0;
}

/* /etc/mime.types, the built-in types, then [mime], with charset on the text types; or NULL. */
static mime_table_t *load_mime(const config_t *cfg, const char *charset)
{
    mime_table_t *t = mime_load("/etc/mime.types");
    int i;

    for (i = 0; t != NULL && i < cfg->nmime; i++) {
        if (mime_set(t, cfg->mime[i].name, cfg->mime[i].value) != 0) {
            mime_free(t);
            return NULL;
        }
    }
    if (t != NULL && mime_add_charset(t, charset) != 0) {
        mime_free(t);
        return NULL;
    }
    return t;
}

int static_init(static_sites_t *ss, const config_t *cfg, char *err, size_t errlen)
{
    filecache_t probe;
    uint64_t nofile;
    size_t max_fds;
    int i;

    ss->cfg = cfg;
    ss->nsites = 0;
    ss->mime = load_mime(cfg, cfg->sites[0].charset);
    ss->sites = calloc((size_t)cfg->nsites, sizeof(*ss->sites));
    if (ss->mime == NULL || ss->sites == NULL) {
        snprintf(err, errlen, "%s: %s", ss->mime == NULL ? "/etc/mime.types" : "sites",
                 strerror(errno));
        return -1;
    }
    /* cached descriptors count against the open files limit (the master warned once): shared */
    if (filecache_init(&probe, cfg->cache_entries, 0, 0) != 0) {
        snprintf(err, errlen, "file cache: out of memory");
        return -1;
    }
    max_fds = filecache_limit_fds(&probe, cfg->max_connections, &nofile) / (size_t)cfg->nsites;
    filecache_destroy(&probe);
    for (i = 0; i < cfg->nsites; i++) {
        ss->sites[i].mime = ss->mime;
        ss->nsites++;
        if (strcmp(cfg->sites[i].charset, cfg->sites[0].charset) != 0) {
            ss->sites[i].own_mime = ss->sites[i].mime = load_mime(cfg, cfg->sites[i].charset);
            if (ss->sites[i].mime == NULL) {
                snprintf(err, errlen, "/etc/mime.types: %s", strerror(errno));
                return -1;
            }
        }
        if (site_init(&ss->sites[i], cfg, &cfg->sites[i], max_fds, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

void static_count_to(static_sites_t *ss, sb_slot_t *slot)
{
    int i;

    for (i = 0; i < ss->nsites; i++) {
        ss->sites[i].slot = slot;
    }
}

void static_fini(static_sites_t *ss)
{
    int i;

    for (i = 0; ss->sites != NULL && i < ss->nsites; i++) {
        filecache_destroy(&ss->sites[i].fc);
        mime_free(ss->sites[i].own_mime);
        if (ss->sites[i].root_fd >= 0) {
            close(ss->sites[i].root_fd);
        }
    }
    free(ss->sites);
    ss->sites = NULL;
    ss->nsites = 0;
    mime_free(ss->mime);
    ss->mime = NULL;
}

static int errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return 404;
    case EACCES:
    case EPERM:
    case EXDEV: /* a symlink out of the root, or an absolute one */
    case ELOOP: return 403;
    case EMFILE:
    case ENFILE: return 503; /* and nothing in the cache to give back */
    default: return 500;
    }
}

/* May c stand in a URI path as it is? RFC 3986 pchar and '/'; any other byte is %XX. */
static int path_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("/-._~!$&'()*+,;=:@", c) != NULL);
}

/* path[0..len) percent-encoded into out (3 * len bytes at most); returns the length. */
static size_t encode_path(const char *path, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        /* "//" at the start would name a host */
        if (path_char_ok(c) && !(i == 1 && c == '/')) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    return n;
}

/*
 * 301 to the directory's URL with a slash, keeping the query. The Location
 * is built from the normalised path (decoded, dot segments and repeated
 * slashes gone), percent-encoded again, so "//evil.example/../sub" goes to
 * "/sub/", never to a "//host" another site; the raw target is never echoed.
 * The response's header lines grow as needed (RESP_XHDR_MAX holds the
 * longest path and query a head of max_header_size can bring), so a long
 * path is never the client's fault: only running out of memory is a 503.
 */
static int redirect_dir(forkd_req_t *req, forkd_resp_t *resp)
{
    size_t path_len, qlen, n;
    const char *path = forkd_req_path(req, &path_len);
    const char *q = forkd_req_query(req, &qlen);
    char *loc = malloc(3 * path_len + qlen + 3);

    if (loc == NULL) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    n = encode_path(path, path_len, loc);
    loc[n++] = '/';
    if (q != NULL) {
        loc[n++] = '?';
        memcpy(loc + n, q, qlen);
        n += qlen;
    }
    loc[n] = '\0';
    forkd_resp_error(resp, forkd_resp_header(resp, "Location", loc) == 0 ? 301 : 503);
    free(loc);
    return FORKD_DONE;
}

/* A response is done with the cache entry it was lent (forkd_release_fn; self: the sites). */
static void release_entry(void *self, void *entry)
{
    fc_entry_t *e = entry;

    (void)self;
    filecache_release_sent(e->owner, e);
}

/* A response is done with a body static built for it (forkd_release_fn). */
static void release_built(void *self, void *body)
{
    (void)self;
    free(body);
}

/* The body is e's bytes first..last: lent from e->data, or sent from e->fd; e goes with it. */
static void body_range(forkd_resp_t *resp, fc_entry_t *e, int64_t first, int64_t last)
{
    if (e->data != NULL) {
        forkd_resp_body_ref(resp, e->data + first, (size_t)(last - first + 1), release_entry, e);
    } else {
        /* shared: sendfile() with an offset never moves it */
        forkd_resp_body_file(resp, e->fd, (off_t)first, (uint64_t)(last - first + 1), release_entry,
                             e);
    }
}

/* 64 bits no client can guess, for a boundary it must not find in the file. */
static uint64_t boundary_bits(forkd_req_t *req)
{
    uint64_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        v = forkd_req_id(req) * 0x9e3779b97f4a7c15u ^ (uint64_t)forkd_now_ms(forkd_req_server(req));
    }
    return v;
}

/*
 * The multipart/byteranges body of the n (> 1) ranges r of e, for e held in
 * memory: one buffer, texts and bytes, len bytes, lent to the response
 * (e's reference is given back at once). 0 ok, -1 out of memory.
 */
static int multipart_memory(forkd_resp_t *resp, fc_entry_t *e, static_t *st, const char *boundary,
                            const byterange_t *r, size_t n, uint64_t len)
{
    char *body = malloc(len), *p = body, text[BYTERANGES_TEXT_MAX];
    size_t i, text_len;

    if (body == NULL) {
        return -1;
    }
    for (i = 0; i <= n; i++) {
        /* through text[]: byteranges_text() needs all its room, len has just enough */
        text_len = byteranges_text(text, boundary, e->content_type, r, n, i, e->size);
        memcpy(p, text, text_len);
        p += text_len;
        if (i < n) {
            memcpy(p, e->data + r[i].first, (size_t)(r[i].last - r[i].first + 1));
            p += r[i].last - r[i].first + 1;
        }
    }
    forkd_resp_body_ref(resp, body, len, release_built, body);
    filecache_release(&st->fc, e);
    return 0;
}

/*
 * The same for e open as a descriptor: n + 1 pieces, each part's text and
 * then its range of e->fd (sendfile()), the close delimiter last; e goes
 * with the response. The file is never read into memory. 0 ok, -1 out of
 * memory (e is still the caller's).
 */
static int multipart_file(forkd_resp_t *resp, fc_entry_t *e, const char *boundary,
                          const byterange_t *r, size_t n)
{
    char *text = malloc((n + 1) * BYTERANGES_TEXT_MAX);
    forkd_part_t *parts = calloc(n + 1, sizeof(*parts));
    size_t i, at = 0;
    int rc = -1;

    if (text != NULL && parts != NULL) {
        for (i = 0; i <= n; i++) {
            parts[i].text_len =
                byteranges_text(text + at, boundary, e->content_type, r, n, i, e->size);
            at += parts[i].text_len;
            if (i < n) {
                parts[i].off = (off_t)r[i].first;
                parts[i].len = (uint64_t)(r[i].last - r[i].first + 1);
            }
        }
        rc = forkd_resp_body_parts(resp, e->fd, text, parts, n + 1, release_entry, e);
    }
    free(text);
    free(parts);
    return rc;
}

/*
 * 206 with a multipart/byteranges body (RFC 9110 14.6) for the n (> 1)
 * sorted, disjoint ranges r of e. Declined (-1: the caller sends the whole
 * file, nothing set here) when that body would be larger than the file: a
 * request for many small ranges, whose part headers outweigh the bytes,
 * then costs no more than a plain GET, and the client still gets every byte
 * it asked for; or when the response's header area has no room left for
 * the Content-Type. 0 answered (a 503 when out of memory), e gone with the
 * response.
 */
static int serve_multipart(forkd_req_t *req, forkd_resp_t *resp, fc_entry_t *e, static_t *st,
                           const byterange_t *r, size_t n)
{
    char boundary[BYTERANGES_BOUNDARY_LEN + 1];
    char ctype[sizeof("multipart/byteranges; boundary=") + BYTERANGES_BOUNDARY_LEN];
    uint64_t len;

    byteranges_boundary(boundary, boundary_bits(req));
    len = byteranges_body_len(boundary, e->content_type, r, n, e->size);
    if (len > (uint64_t)e->size) {
        return -1;
    }
    /*
     * A header line of its own (forkd_resp_content_type() would borrow this
     * stack buffer), added first: when it does not fit nothing is set yet.
     */
    snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
    if (forkd_resp_header(resp, "Content-Type", ctype) != 0) {
        return -1;
    }
    forkd_resp_content_type(resp, NULL);
    if (e->data != NULL ? multipart_memory(resp, e, st, boundary, r, n, len) != 0
                        : multipart_file(resp, e, boundary, r, n) != 0) {
        filecache_release(&st->fc, e);
        forkd_resp_error(resp, 503);
        forkd_resp_content_type(resp,
                                NULL); /* one Content-Type line, even if it is the one above */
        forkd_resp_close(resp);
        return 0;
    }
    forkd_resp_status(resp, 206);
    return 0;
}

/*
 * The GET's Range, once the preconditions passed: a single-range 206, a
 * multipart 206, or, for a field to ignore, 200 with the whole file (the
 * status and Content-Type of a 200 are set already); returns 0. Or 416,
 * e released: returns 1. An encoded variant (e->encoding) is never split
 * into parts: its Content-Encoding would be read as the multipart body's
 * own, so a request for several ranges of it gets all of it.
 */
static int serve_ranges(forkd_req_t *req, forkd_resp_t *resp, fc_entry_t *e, static_t *st,
                        const conditional_t *cond)
{
    byterange_t r[BYTERANGES_MAX];
    size_t n = 0;
    char cr[96];
    int rc = conditional_range(cond, e->size, e->mtime, st->max_ranges, r, &n);

    if (rc < 0) {
        snprintf(cr, sizeof(cr), "bytes */%lld", (long long)e->size);
        filecache_release(&st->fc, e);
        forkd_resp_error(resp, 416);
        forkd_resp_header(resp, "Content-Range", cr);
        return 1;
    }
    if (rc > 0 && n == 1) {
        snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)r[0].first,
                 (long long)r[0].last, (long long)e->size);
        forkd_resp_header(resp, "Content-Range", cr);
        forkd_resp_status(resp, 206);
        body_range(resp, e, r[0].first, r[0].last);
        return 0;
    }
    if (rc > 0 && e->encoding == NULL && serve_multipart(req, resp, e, st, r, n) == 0) {
        return 0;
    }
    body_range(resp, e, 0, (int64_t)e->size - 1);
    return 0;
}

/*
 * Answer for one regular file: validators, preconditions, Range. The body
 * comes from e->data (held in memory) or e->fd (sendfile at an offset); the
 * response keeps the caller's reference to e until it is done with it.
 */
static int serve(forkd_req_t *req, forkd_resp_t *resp, fc_entry_t *e, static_t *st)
{
    const char *encoding = e->encoding; /* read now: a multipart body lets go of e at once */
    forkd_method_t method = forkd_req_method(req);
    conditional_t cond;
    const char *name, *value;
    size_t i, name_len, value_len;
    int status;

    forkd_resp_header(resp, "Last-Modified", e->last_modified);
    forkd_resp_header(resp, "ETag", e->etag);
    conditional_init(&cond, e->etag);
    for (i = 0; forkd_req_header_at(req, i, &name, &name_len, &value, &value_len) == 0; i++) {
        conditional_note(&cond, name, name_len, value, value_len);
    }
    status =
        conditional_preconditions(&cond, method == FORKD_GET || method == FORKD_HEAD, e->mtime);
    if (status != 0) {
        filecache_release(&st->fc, e);
        if (status == 304) {
            forkd_resp_status(resp, 304);
        } else {
            forkd_resp_error(resp, status);
        }
        return FORKD_DONE;
    }
    forkd_resp_content_type(resp, e->content_type);
    /* max_ranges = 0 turns ranges off: say so (RFC 9110 14.3) */
    forkd_resp_header(resp, "Accept-Ranges", st->max_ranges > 0 ? "bytes" : "none");
    forkd_resp_status(resp, 200);
    if (method == FORKD_GET && cond.range.p != NULL) {
        if (serve_ranges(req, resp, e, st, &cond) != 0) {
            return FORKD_DONE; /* 416: none of e's bytes, so no Content-Encoding */
        }
    } else {
        body_range(resp, e, 0, (int64_t)e->size - 1);
    }
    if (encoding != NULL) {
        forkd_resp_header(resp, "Content-Encoding", encoding);
    }
    return FORKD_DONE;
}

/*
 * Log "call("rel") failed: reason" at error level, rel escaped as in the
 * access log: it is the client's decoded path, and a "%0a" in it must not
 * start a forged line.
 */
static void log_failed(forkd_server_t *srv, const char *call, const char *rel, const char *reason)
{
    char esc[1024];

    forkd_log(srv, FORKD_LOG_ERROR, "%s(\"%s\") failed: %s", call,
              escape_str(esc, sizeof(esc), rel, strlen(rel)), reason);
}

/*
 * May a report about running out of descriptors be logged now? At most one
 * a second: otherwise counted, and *unreported says how many were not
 * logged since the last one (set when the answer is 1).
 */
static int fd_report_due(filecache_t *fc, uint64_t now, uint32_t *unreported)
{
    if (fc->fd_report_ms != 0 && now - fc->fd_report_ms < 1000) {
        fc->fd_unreported++;
        return 0;
    }
    fc->fd_report_ms = now;
    *unreported = fc->fd_unreported;
    fc->fd_unreported = 0;
    return 1;
}

/* " (N more since the last report)" for a report after N unlogged ones, else "". */
static const char *more_since(uint32_t more, char *buf, size_t len)
{
    if (more == 0) {
        return "";
    }
    snprintf(buf, len, " (%u more since the last report)", more);
    return buf;
}

/*
 * beneath_open() of rel for static_handler. Out of descriptors (EMFILE,
 * ENFILE), the file cache closes some it alone holds and the open is tried
 * once more (a warning, at most once a second). Returns the fd, or -1 with
 * errno set: EMFILE or ENFILE when nothing could be given back.
 */
static int open_file(static_t *st, forkd_server_t *srv, const char *rel, uint64_t now)
{
    int fd = beneath_open(st->resolve, st->root_fd, rel, OPEN_FLAGS);
    int err = errno, first_err = errno;
    size_t closed;
    uint32_t more;
    char since[64];

    if (fd >= 0 || (err != EMFILE && err != ENFILE)) {
        return fd;
    }
    closed = filecache_shed(&st->fc, FILECACHE_SHED_BATCH);
    if (closed == 0) {
        errno = err;
        return -1;
    }
    fd = beneath_open(st->resolve, st->root_fd, rel, OPEN_FLAGS);
    err = errno;
    if (fd_report_due(&st->fc, now, &more)) {
        forkd_log(
            srv, FORKD_LOG_WARN,
            "out of descriptors (%s): closed %zu cached files (%zu still open, at most %zu)%s",
            strerror(first_err), closed, st->fc.nfds, st->fc.max_fds,
            more_since(more, since, sizeof(since)));
    }
    errno = err;
    return fd;
}

/*
 * A file below root, a directory's index file, or a redirect to the
 * directory's URL, for rel: the request's path without its leading '/'
 * (and with the index file's name after a trailing '/').
 */
static int serve_path(forkd_req_t *req, forkd_resp_t *resp, static_t *st, const char *rel)
{
    forkd_server_t *srv = forkd_req_server(req);
    char why[160], since[64];
    struct stat sb;
    uint32_t more;
    int fd, status, err;
    uint64_t now = forkd_now_ms(srv);
    const char *name, *path;
    size_t path_len;
    fc_entry_t *e;

    path = forkd_req_path(req, &path_len);
    e = filecache_get(&st->fc, st->root_fd, rel, now);
    if (e != NULL) {
        return serve(req, resp, compress_pick(st, req, resp, e, rel, now), st);
    }

    fd = open_file(st, srv, rel, now);
    if (fd < 0) {
        err = errno;
        status = errno_status(err);
        if (status == 404 && path[path_len - 1] == '/') {
            /* a directory without an index file: its listing (autoindex), else 403 */
            struct stat dst;
            int dfd = beneath_open(st->resolve, st->root_fd, path + 1, OPEN_FLAGS);
            if (dfd >= 0) {
                status = fstat(dfd, &dst) == 0 && S_ISDIR(dst.st_mode) ? 403 : 404;
                if (status == 403 && st->conf->autoindex) {
                    return listing_send(st, req, resp, dfd);
                }
                close(dfd);
            }
        }
        if (status == 500) {
            log_failed(srv, beneath_call(st->resolve), rel, strerror(err));
        } else if (status == 503 && fd_report_due(&st->fc, now, &more)) {
            snprintf(why, sizeof(why), "%s, no cached file to close: 503%s", strerror(err),
                     more_since(more, since, sizeof(since)));
            log_failed(srv, beneath_call(st->resolve), rel, why);
        }
        errpage_send(st, req, resp, status);
        if (status == 503) {
            forkd_resp_header(resp, "Retry-After", "1");
        }
        return FORKD_DONE;
    }
    if (fstat(fd, &sb) != 0) {
        log_failed(srv, "fstat", rel, strerror(errno));
        close(fd);
        errpage_send(st, req, resp, 500);
        return FORKD_DONE;
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return redirect_dir(req, resp);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        errpage_send(st, req, resp, 403);
        return FORKD_DONE;
    }
    name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    e = filecache_put(&st->fc, rel, fd, &sb, mime_type(st->mime, name, strlen(name)), now);
    if (e == NULL) {
        log_failed(srv, "filecache_put", rel, "out of memory or read error");
        close(fd);
        errpage_send(st, req, resp, 500);
        return FORKD_DONE;
    }
    return serve(req, resp, compress_pick(st, req, resp, e, rel, now), st);
}

/*
 * Cache-Control and Expires from the [cache] rule for the file at path (a
 * URL path), on 200, 206 and 304 (RFC 9110 15.4.5: a 304 carries what the
 * 200 would), on errors only when the rule says errors = yes, never on a
 * redirect. expires alone gives Cache-Control: max-age too, as nginx does.
 */
static void cache_headers(const static_t *st, forkd_resp_t *resp, const char *path, size_t len)
{
    const config_cache_t *c = cacherule_find(st->cfg, st->name, path, len);
    int status = forkd_resp_get_status(resp);
    char buf[32], date[HTTPDATE_LEN + 1];

    if (c == NULL
        || !(status == 200 || status == 206 || status == 304 || (status >= 400 && c->errors))) {
        return;
    }
    if (c->cache_control[0] != '\0') {
        forkd_resp_header(resp, "Cache-Control", c->cache_control);
    } else {
        snprintf(buf, sizeof(buf), "max-age=%lld", (long long)c->expires);
        forkd_resp_header(resp, "Cache-Control", buf);
    }
    if (c->expires >= 0) {
        httpdate_format(time(NULL) + (time_t)c->expires, date);
        forkd_resp_header(resp, "Expires", date);
    }
}

/*
 * A path the site's access rules refuse: 404 (its existence is not told),
 * counted, and logged at debug only: scanners probe for /.git/config by the
 * thousand and must not fill the log at info.
 */
static int refuse(forkd_req_t *req, forkd_resp_t *resp, static_t *st, access_t why)
{
    size_t path_len;
    const char *path = forkd_req_path(req, &path_len);
    char esc[512];

    if (st->slot != NULL) {
        SB_ADD(st->slot->refused, 1);
    }
    forkd_log(forkd_req_server(req), FORKD_LOG_DEBUG, "refused \"%s\" (%s): 404",
              escape_str(esc, sizeof(esc), path, path_len), access_reason(why));
    errpage_send(st, req, resp, 404);
    return FORKD_DONE;
}

/*
 * The handler: rel built on the stack for the usual path, on the heap for a
 * longer one, so the only limits on a path are the configured head size and
 * what the kernel can name (ENAMETOOLONG: 404), never this buffer's size.
 */
static int site_handler(forkd_req_t *req, forkd_resp_t *resp, static_t *st)
{
    char small[1024], *file = small;
    const char *index = "", *path;
    size_t path_len, ilen = 0;
    access_t why;
    int rc;

    path = forkd_req_path(req, &path_len);
    if (path[path_len - 1] == '/') {
        index = st->index;
        ilen = strlen(index);
    }
    /* on the normalised path ("%2e", "//" and ".." are gone), index file included */
    if ((why = access_check(st->conf, path, path_len, index)) != ACCESS_OK) {
        return refuse(req, resp, st, why);
    }
    follow_root(st, forkd_now_ms(forkd_req_server(req)));
    if (path_len + ilen >= sizeof(small) && (file = malloc(path_len + ilen + 1)) == NULL) {
        errpage_send(st, req, resp, 503);
        return FORKD_DONE;
    }
    /* the file's URL path (with the index file's name); memcpy: this runs for every request */
    memcpy(file, path, path_len);
    memcpy(file + path_len, index, ilen);
    file[path_len + ilen] = '\0';
    rc = serve_path(req, resp, st, file + 1); /* relative to the root */
    if (st->cache_rules) {
        cache_headers(st, resp, file, path_len + ilen);
    }
    if (file != small) {
        free(file);
    }
    return rc;
}

/*
 * The site for the request's Host (vhost_pick()); a request without Host
 * (HTTP/1.0) goes to the default site, as does a Host no site names unless
 * [static] unknown_host says 404 or 421 (NULL: answer that).
 */
static static_t *pick_site(const static_sites_t *ss, forkd_req_t *req)
{
    size_t len;
    const char *host;
    int i;

    if (ss->nsites == 1 && ss->cfg->sites[0].server_name[0] == '\0') {
        return &ss->sites[0]; /* no [site] sections: nothing to choose */
    }
    host = forkd_req_header(req, "Host", &len);
    if (host == NULL) {
        return &ss->sites[0];
    }
    i = vhost_pick(ss->cfg, host, vhost_host(host, len));
    if (i < 0 && ss->cfg->unknown_host != CONFIG_UNKNOWN_HOST_SERVE) {
        return NULL;
    }
    return &ss->sites[i < 0 ? 0 : i];
}

static int static_handler(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    static_sites_t *ss = self;
    static_t *st = pick_site(ss, req);

    if (st == NULL) {
        forkd_resp_error(resp, ss->cfg->unknown_host == CONFIG_UNKNOWN_HOST_421 ? 421 : 404);
        return FORKD_DONE;
    }
    return site_handler(req, resp, st);
}

int static_register(router_t *r, static_sites_t *ss)
{
    return router_add(r, "/", ROUTE_PREFIX,
                      HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD),
                      static_handler, ss);
}
