/* listing: a directory's entries as an HTML page, read through its descriptor only. */
#include "listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "errpage.h"

#define NAME_MAX_BYTES 256 /* a directory entry's name with its NUL (Linux: 255 bytes) */

typedef struct {
    char *name;
    off_t size;
    time_t mtime;
    int dir; /* a directory: listed first, with a trailing '/' */
    int reg; /* a regular file: its size is shown */
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap;
    int truncated; /* the directory has more than LISTING_MAX_ENTRIES to show */
} entries_t;

/* Directories first, then byte order (qsort). */
static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;

    if (x->dir != y->dir) {
        return y->dir - x->dir;
    }
    return strcmp(x->name, y->name);
}

/* s[0..len) as HTML text or attribute value into out (6 * len + 1 bytes). */
static char *html_escape(char *out, const char *s, size_t len)
{
    char *p = out;
    size_t i;

    for (i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': memcpy(p, "&amp;", 5), p += 5; break;
        case '<': memcpy(p, "&lt;", 4), p += 4; break;
        case '>': memcpy(p, "&gt;", 4), p += 4; break;
        case '"': memcpy(p, "&quot;", 6), p += 6; break;
        case '\'': memcpy(p, "&#39;", 5), p += 5; break;
        default: *p++ = s[i];
        }
    }
    *p = '\0';
    return out;
}

/*
 * s as a relative URL path segment into out (3 * strlen(s) + 1 bytes): all
 * but unreserved bytes (RFC 3986) as %XX, so '/', '?', '#', ':' (a scheme),
 * '&', '<' or '"' in a name can neither change the link nor leave the
 * attribute.
 */
static char *url_escape(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out;
    unsigned char c;

    for (; *s != '\0'; s++) {
        c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || strchr("-._~", c) != NULL) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Keep one entry (name copied); 0 ok, -1 out of memory. */
static int keep(entries_t *es, const char *name, const struct stat *sb)
{
    entry_t *e;

    if (es->n == es->cap) {
        size_t cap = es->cap ? 2 * es->cap : 64;
        entry_t *v = realloc(es->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        es->v = v;
        es->cap = cap;
    }
    e = &es->v[es->n];
    if ((e->name = strdup(name)) == NULL) {
        return -1;
    }
    e->size = sb->st_size;
    e->mtime = sb->st_mtime;
    e->dir = S_ISDIR(sb->st_mode);
    e->reg = S_ISREG(sb->st_mode);
    es->n++;
    return 0;
}

/*
 * Read the directory d (at URL path, path_len) into es: what the site's
 * rules would refuse left out, each entry stat'ed without following it.
 * 0 ok, -1 out of memory.
 */
static int read_entries(static_t *st, DIR *d, const char *path, size_t path_len, entries_t *es)
{
    struct dirent *de;
    struct stat sb;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
            || access_check(st->conf, path, path_len, de->d_name) != ACCESS_OK) {
            continue;
        }
        if (es->n == LISTING_MAX_ENTRIES) {
            es->truncated = 1; /* and no more reading: time is bounded too */
            break;
        }
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue; /* gone meanwhile */
        }
        if (keep(es, de->d_name, &sb) != 0) {
            return -1;
        }
    }
    return 0;
}

/* One row of the table. */
static void row(forkd_resp_t *resp, const entry_t *e)
{
    char href[3 * NAME_MAX_BYTES], text[6 * NAME_MAX_BYTES], date[32], size[32];
    size_t len = strlen(e->name);
    struct tm tm;

    if (len >= NAME_MAX_BYTES) {
        return;
    }
    gmtime_r(&e->mtime, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
    if (e->reg) {
        snprintf(size, sizeof(size), "%lld", (long long)e->size);
    } else {
        strcpy(size, "-");
    }
    forkd_resp_printf(resp, "<tr><td><a href=\"%s%s\">%s%s</a></td><td>%s</td><td>%s</td></tr>\n",
                      url_escape(href, e->name), e->dir ? "/" : "", html_escape(text, e->name, len),
                      e->dir ? "/" : "", date, size);
}

/* The page for es (sorted), path being the directory's URL path. 0 ok, -1 out of memory. */
static int page(forkd_resp_t *resp, const char *path, size_t path_len, const entries_t *es)
{
    char *title = malloc(6 * path_len + 1);
    size_t i;

    if (title == NULL) {
        return -1;
    }
    html_escape(title, path, path_len);
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/html; charset=utf-8");
    forkd_resp_printf(resp,
                      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                      "<title>Index of %s</title></head>\n<body><h1>Index of %s</h1><hr>\n"
                      "<table>\n<tr><th>Name</th><th>Modified (UTC)</th><th>Size</th></tr>\n",
                      title, title);
    free(title);
    if (path_len > 1) {
        forkd_resp_printf(resp, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for (i = 0; i < es->n; i++) {
        row(resp, &es->v[i]);
    }
    forkd_resp_printf(resp, "</table>\n");
    if (es->truncated) {
        forkd_resp_printf(resp, "<p>More entries than the %d listed (not sorted among them).</p>\n",
                          LISTING_MAX_ENTRIES);
    }
    forkd_resp_printf(resp, "<hr></body></html>\n");
    return 0;
}

int listing_send(static_t *st, forkd_req_t *req, forkd_resp_t *resp, int dfd)
{
    entries_t es = {NULL, 0, 0, 0};
    size_t path_len, i;
    const char *path = forkd_req_path(req, &path_len);
    DIR *d = fdopendir(dfd);
    int rc;

    if (d == NULL) {
        close(dfd);
        errpage_send(st, req, resp, 500);
        return FORKD_DONE;
    }
    rc = read_entries(st, d, path, path_len, &es);
    closedir(d);
    if (rc == 0 && es.n > 1) {
        qsort(es.v, es.n, sizeof(*es.v), entry_cmp);
    }
    if (rc != 0 || page(resp, path, path_len, &es) != 0) {
        errpage_send(st, req, resp, 503);
    }
    for (i = 0; i < es.n; i++) {
        free(es.v[i].name);
    }
    free(es.v);
    return FORKD_DONE;
}
