/* static: files from the docroot, never anything outside it (beneath_open()). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "conn.h"
#include "escape.h"
#include "filecache.h"
#include "httpdate.h"
#include "worker.h"

/* How every file and directory below the root is opened: a FIFO must not block us. */
#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY)

int static_open_root(const char *root)
{
    return open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
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

/* Skip OWS and one comma between list elements; returns the new position. */
static size_t skip_list_sep(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) {
        i++;
    }
    return i;
}

/*
 * Does the If-Match / If-None-Match value (a list of entity-tags or "*")
 * match our strong etag? weak_ok: weak comparison (W/ prefixes ignored).
 * An unparsable list matches nothing.
 */
static int etag_match(const http_slice_t *v, const char *etag, int weak_ok)
{
    size_t i = 0, elen = strlen(etag), start;
    int weak;

    if (v->len == 1 && v->p[0] == '*') {
        return 1;
    }
    for (i = skip_list_sep(v->p, 0, v->len); i < v->len; i = skip_list_sep(v->p, i, v->len)) {
        weak = 0;
        if (i + 2 <= v->len && v->p[i] == 'W' && v->p[i + 1] == '/') {
            weak = 1;
            i += 2;
        }
        if (i >= v->len || v->p[i] != '"') {
            return 0;
        }
        start = i++;
        while (i < v->len && v->p[i] != '"') {
            i++;
        }
        if (i >= v->len) {
            return 0;
        }
        i++;
        if ((!weak || weak_ok) && i - start == elen && memcmp(v->p + start, etag, elen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Parse a decimal of up to 18 digits at s[*i]; -1 when none. */
static int64_t parse_pos(const char *s, size_t *i, size_t len)
{
    int64_t v = 0;
    size_t start = *i;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*i - start >= 18) {
            return -1;
        }
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return *i == start ? -1 : v;
}

/*
 * Parse a Range value for a file of size bytes. Returns 1 with [*first, *last]
 * for one satisfiable range, 0 when the header is to be ignored (bad syntax,
 * other unit, several ranges: answered with the whole file, as RFC 9110 14.2
 * allows), or -1 when unsatisfiable (416).
 */
static int parse_range(const http_slice_t *v, int64_t size, int64_t *first, int64_t *last)
{
    const char *s = v->p;
    size_t i = 6, len = v->len;
    int64_t a, b;

    if (len < 7 || strncasecmp(s, "bytes=", 6) != 0) {
        return 0;
    }
    if (s[i] == '-') {
        i++;
        b = parse_pos(s, &i, len);
        if (b < 0 || i != len) {
            return 0;
        }
        if (b == 0 || size == 0) {
            return -1;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    a = parse_pos(s, &i, len);
    if (a < 0 || i >= len || s[i] != '-') {
        return 0;
    }
    i++;
    if (i < len) {
        b = parse_pos(s, &i, len);
        if (b < 0 || i != len || b < a) {
            return 0; /* bad syntax, "last < first", or "a-b,c-d": several ranges */
        }
    } else {
        b = INT64_MAX; /* "a-": to the end */
    }
    if (a >= size) {
        return -1;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* Is the If-Range validator (etag or date) still current? */
static int if_range_ok(const http_slice_t *v, const char *etag, time_t mtime)
{
    time_t t;

    if (v->len > 0 && (v->p[0] == '"' || (v->len > 1 && v->p[0] == 'W' && v->p[1] == '/'))) {
        /* an entity-tag: strong comparison, so a weak one never matches */
        return v->p[0] == '"' && v->len == strlen(etag) && memcmp(v->p, etag, v->len) == 0;
    }
    return httpdate_parse(v->p, v->len, &t) == 0 && t == mtime;
}

/* May c stand in a URI path as it is? RFC 3986 pchar and '/'; any other byte is %XX. */
static int path_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("/-._~!$&'()*+,;=:@", c) != NULL);
}

/*
 * 301 to the directory's URL with a slash, keeping the query. The Location
 * is built from the normalised path (decoded, dot segments and repeated
 * slashes gone), percent-encoded again, so "//evil.example/../sub" goes to
 * "/sub/", never to a "//host" another site; the raw target is never echoed.
 * 414 when it does not fit.
 */
static int redirect_dir(req_t *req, resp_t *resp)
{
    static const char hex[] = "0123456789ABCDEF";
    char loc[8192];
    const http_slice_t *q = &req->h.query;
    size_t i, n = 0;

    for (i = 0; i < req->path_len && n + 3 < sizeof(loc); i++) {
        unsigned char c = (unsigned char)req->path[i];
        if (path_char_ok(c) && !(i == 1 && c == '/')) { /* "//" would name a host */
            loc[n++] = (char)c;
        } else {
            loc[n++] = '%';
            loc[n++] = hex[c >> 4];
            loc[n++] = hex[c & 15];
        }
    }
    if (i < req->path_len || n + 2 + (q->p != NULL ? q->len : 0) >= sizeof(loc)) {
        resp_error(resp, 414);
        return HANDLER_DONE;
    }
    loc[n++] = '/';
    if (q->p != NULL) {
        loc[n++] = '?';
        memcpy(loc + n, q->p, q->len);
        n += q->len;
    }
    loc[n] = '\0';
    if (resp_header(resp, "Location", loc) != 0) {
        resp_error(resp, 414);
        return HANDLER_DONE;
    }
    resp_error(resp, 301);
    return HANDLER_DONE;
}

/*
 * Conditional requests in the order of RFC 9110 13.2.2. Returns the status to
 * answer with instead of the file (304/412), or 0 to go on.
 */
static int preconditions(const http_request_t *h, const char *etag, time_t mtime)
{
    const http_header_t *hd;
    int get_or_head = h->method == HTTP_METHOD_GET || h->method == HTTP_METHOD_HEAD;
    time_t t;

    hd = http_find_header(h, "if-match");
    if (hd != NULL) {
        if (!etag_match(&hd->value, etag, 0)) {
            return 412;
        }
    } else if ((hd = http_find_header(h, "if-unmodified-since")) != NULL) {
        if (httpdate_parse(hd->value.p, hd->value.len, &t) == 0 && mtime > t) {
            return 412;
        }
    }
    hd = http_find_header(h, "if-none-match");
    if (hd != NULL) {
        if (etag_match(&hd->value, etag, 1)) {
            return get_or_head ? 304 : 412;
        }
    } else if (get_or_head && (hd = http_find_header(h, "if-modified-since")) != NULL) {
        if (httpdate_parse(hd->value.p, hd->value.len, &t) == 0 && mtime <= t) {
            return 304;
        }
    }
    return 0;
}

/*
 * Answer for one regular file: validators, preconditions, Range. The body
 * comes from e->data (held in memory) or e->fd (sendfile at an offset); the
 * response keeps a reference to e until it is sent.
 */
static int serve(req_t *req, resp_t *resp, fc_entry_t *e, filecache_t *fc)
{
    const http_request_t *h = &req->h;
    const http_header_t *range, *ifr;
    int64_t first = 0, last = 0;
    char cr[96];
    int rc, status;

    resp_header(resp, "Last-Modified", e->last_modified);
    resp_header(resp, "ETag", e->etag);
    status = preconditions(h, e->etag, e->mtime);
    if (status != 0) {
        filecache_release(fc, e);
        if (status == 304) {
            resp->status = 304;
        } else {
            resp_error(resp, status);
        }
        return HANDLER_DONE;
    }
    resp->content_type = e->content_type;
    resp_header(resp, "Accept-Ranges", "bytes");
    resp->status = 200;
    first = 0;
    last = (int64_t)e->size - 1;

    range = h->method == HTTP_METHOD_GET ? http_find_header(h, "range") : NULL;
    if (range != NULL) {
        ifr = http_find_header(h, "if-range");
        rc = ifr && !if_range_ok(&ifr->value, e->etag, e->mtime)
                 ? 0
                 : parse_range(&range->value, e->size, &first, &last);
        if (rc < 0) {
            snprintf(cr, sizeof(cr), "bytes */%lld", (long long)e->size);
            filecache_release(fc, e);
            resp_error(resp, 416);
            resp_header(resp, "Content-Range", cr);
            return HANDLER_DONE;
        }
        if (rc > 0) {
            snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                     (long long)e->size);
            resp_header(resp, "Content-Range", cr);
            resp->status = 206;
        } else {
            first = 0;
            last = (int64_t)e->size - 1;
        }
    }
    resp->cache_ref = e;
    if (e->data != NULL) {
        resp_body_mem(resp, e->data + first, (size_t)(last - first + 1));
    } else {
        resp->fd = e->fd; /* shared: sendfile() with an offset never moves it */
        resp->fd_owned = 0;
        resp->file_off = (off_t)first;
        resp->file_len = (uint64_t)(last - first + 1);
    }
    return HANDLER_DONE;
}

/*
 * Log "call("rel") failed: reason" at error level, rel escaped as in the
 * access log: it is the client's decoded path, and a "%0a" in it must not
 * start a forged line.
 */
static void log_failed(worker_t *w, const char *call, const char *rel, const char *reason)
{
    char esc[1024];

    log_msg(w->log, LOG_LVL_ERROR, "%s(\"%s\") failed: %s", call,
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
static int open_file(worker_t *w, const char *rel, uint64_t now)
{
    int fd = beneath_open(w->resolve, w->root_fd, rel, OPEN_FLAGS);
    int err = errno, first_err = errno;
    size_t closed;
    uint32_t more;
    char since[64];

    if (fd >= 0 || (err != EMFILE && err != ENFILE)) {
        return fd;
    }
    closed = filecache_shed(&w->fcache, FILECACHE_SHED_BATCH);
    if (closed == 0) {
        errno = err;
        return -1;
    }
    fd = beneath_open(w->resolve, w->root_fd, rel, OPEN_FLAGS);
    err = errno;
    if (fd_report_due(&w->fcache, now, &more)) {
        log_msg(w->log, LOG_LVL_WARN,
                "out of descriptors (%s): closed %zu cached files (%zu still open, at most %zu)%s",
                strerror(first_err), closed, w->fcache.nfds, w->fcache.max_fds,
                more_since(more, since, sizeof(since)));
    }
    errno = err;
    return fd;
}

int static_handler(req_t *req, resp_t *resp, void *ctx)
{
    worker_t *w = ctx;
    char rel[4096 + 256], why[160], since[64];
    struct stat st;
    uint32_t more;
    int fd, status, err;
    uint64_t now = conn_now_ms();
    const char *name, *index = "";
    size_t plen = req->path_len - 1, ilen = 0; /* the path without its leading '/' */
    fc_entry_t *e;

    if (req->path[req->path_len - 1] == '/') {
        index = w->cfg->index;
        ilen = strlen(index);
    }
    if (plen + ilen >= sizeof(rel)) {
        resp_error(resp, 414);
        return HANDLER_DONE;
    }
    /* memcpy, not snprintf(): this runs for every static request */
    memcpy(rel, req->path + 1, plen);
    memcpy(rel + plen, index, ilen);
    rel[plen + ilen] = '\0';
    e = filecache_get(&w->fcache, w->root_fd, rel, now);
    if (e != NULL) {
        return serve(req, resp, e, &w->fcache);
    }

    fd = open_file(w, rel, now);
    if (fd < 0) {
        err = errno;
        status = errno_status(err);
        if (status == 404 && req->path[req->path_len - 1] == '/') {
            /* a directory without an index file: no listing */
            struct stat dst;
            int dfd = beneath_open(w->resolve, w->root_fd, req->path + 1, OPEN_FLAGS);
            if (dfd >= 0) {
                status = fstat(dfd, &dst) == 0 && S_ISDIR(dst.st_mode) ? 403 : 404;
                close(dfd);
            }
        }
        if (status == 500) {
            log_failed(w, beneath_call(w->resolve), rel, strerror(err));
        } else if (status == 503 && fd_report_due(&w->fcache, now, &more)) {
            snprintf(why, sizeof(why), "%s, no cached file to close: 503%s", strerror(err),
                     more_since(more, since, sizeof(since)));
            log_failed(w, beneath_call(w->resolve), rel, why);
        }
        resp_error(resp, status);
        if (status == 503) {
            resp_header(resp, "Retry-After", "1");
        }
        return HANDLER_DONE;
    }
    if (fstat(fd, &st) != 0) {
        log_failed(w, "fstat", rel, strerror(errno));
        close(fd);
        resp_error(resp, 500);
        return HANDLER_DONE;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return redirect_dir(req, resp);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        resp_error(resp, 403);
        return HANDLER_DONE;
    }
    name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    e = filecache_put(&w->fcache, rel, fd, &st, mime_type(w->mime, name, strlen(name)), now);
    if (e == NULL) {
        log_failed(w, "filecache_put", rel, "out of memory or read error");
        close(fd);
        resp_error(resp, 500);
        return HANDLER_DONE;
    }
    return serve(req, resp, e, &w->fcache);
}
