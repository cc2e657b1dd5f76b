/* static: files from the docroot, never anything outside it (openat2 RESOLVE_BENEATH). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conn.h"
#include "httpdate.h"
#include "worker.h"

#define ETAG_LEN 48

int static_open_root(const char *root)
{
    return open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Open rel (no leading '/') below root_fd. RESOLVE_BENEATH makes the kernel
 * refuse any "..", absolute symlink or symlink that leaves the root (EXDEV);
 * symlinks that stay inside it still work. O_NONBLOCK: a FIFO must not block us.
 */
static int open_beneath(int root_fd, const char *rel)
{
    struct open_how how;

    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, root_fd, rel[0] ? rel : ".", &how, sizeof(how));
}

static int errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV: /* a symlink out of the root */
    case ELOOP:
        return 403;
    default:
        return 500;
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

/* 301 to the directory's URL with a slash, keeping the query. */
static int redirect_dir(req_t *req, resp_t *resp)
{
    char loc[8192];
    const http_request_t *h = &req->h;
    int n;

    if (h->query.p != NULL) {
        n = snprintf(loc, sizeof(loc), "%.*s/?%.*s", (int)h->path.len, h->path.p,
                     (int)h->query.len, h->query.p);
    } else {
        n = snprintf(loc, sizeof(loc), "%.*s/", (int)h->path.len, h->path.p);
    }
    if (n < 0 || (size_t)n >= sizeof(loc) || resp_header(resp, "Location", loc) != 0) {
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

int static_handler(req_t *req, resp_t *resp, void *ctx)
{
    worker_t *w = ctx;
    const http_request_t *h = &req->h;
    const http_header_t *range, *ifr;
    char rel[4096 + 256], etag[ETAG_LEN], lm[HTTPDATE_LEN + 1], cr[96];
    struct stat st;
    int fd, n, rc, status;
    int64_t first = 0, last = 0;
    const char *name;

    n = snprintf(rel, sizeof(rel), "%s", req->path + 1);
    if (req->path[req->path_len - 1] == '/') {
        n = snprintf(rel, sizeof(rel), "%s%s", req->path + 1, w->cfg->index);
    }
    if (n < 0 || (size_t)n >= sizeof(rel)) {
        resp_error(resp, 414);
        return HANDLER_DONE;
    }
    fd = open_beneath(w->root_fd, rel);
    if (fd < 0) {
        status = errno_status(errno);
        if (status == 404 && req->path[req->path_len - 1] == '/') {
            /* a directory without an index file: no listing */
            struct stat dst;
            int dfd = open_beneath(w->root_fd, req->path + 1);
            if (dfd >= 0) {
                status = fstat(dfd, &dst) == 0 && S_ISDIR(dst.st_mode) ? 403 : 404;
                close(dfd);
            }
        }
        if (status == 500) {
            log_msg(w->log, LOG_LVL_ERROR, "openat2(\"%s\") failed: %s", rel, strerror(errno));
        }
        resp_error(resp, status);
        return HANDLER_DONE;
    }
    if (fstat(fd, &st) != 0) {
        log_msg(w->log, LOG_LVL_ERROR, "fstat(\"%s\") failed: %s", rel, strerror(errno));
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

    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size);
    httpdate_format(st.st_mtime, lm);
    resp_header(resp, "Last-Modified", lm);
    resp_header(resp, "ETag", etag);

    status = preconditions(h, etag, st.st_mtime);
    if (status != 0) {
        close(fd);
        if (status == 304) {
            resp->status = 304;
        } else {
            resp_error(resp, status);
        }
        return HANDLER_DONE;
    }

    name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    resp->content_type = mime_type(w->mime, name, strlen(name));
    resp_header(resp, "Accept-Ranges", "bytes");

    range = h->method == HTTP_METHOD_GET ? http_find_header(h, "range") : NULL;
    if (range != NULL) {
        ifr = http_find_header(h, "if-range");
        rc = ifr && !if_range_ok(&ifr->value, etag, st.st_mtime) ? 0
                                                                  : parse_range(&range->value, st.st_size, &first, &last);
        if (rc < 0) {
            close(fd);
            snprintf(cr, sizeof(cr), "bytes */%lld", (long long)st.st_size);
            resp_error(resp, 416);
            resp_header(resp, "Content-Range", cr);
            return HANDLER_DONE;
        }
        if (rc > 0) {
            snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                     (long long)st.st_size);
            resp_header(resp, "Content-Range", cr);
            resp->status = 206;
            resp_body_file(resp, fd, (off_t)first, (uint64_t)(last - first + 1));
            return HANDLER_DONE;
        }
    }
    resp->status = 200;
    resp_body_file(resp, fd, 0, (uint64_t)st.st_size);
    return HANDLER_DONE;
}
