/* conditional: entity-tag lists, HTTP dates and byte ranges against a file's validators. */
#include "conditional.h"

#include <string.h>

#include "httpdate.h"

/* Keep a single field's value in *slot if it is the first of its name. */
static void keep_first(http_slice_t *slot, const char *value, size_t value_len)
{
    if (slot->p == NULL) {
        slot->p = value;
        slot->len = value_len;
    }
}

void conditional_init(conditional_t *c, const char *etag)
{
    memset(c, 0, sizeof(*c));
    c->etag = etag;
}

static int list_scan(const char *v, size_t len, const char *etag, int weak_ok);

/* One more line of a list of tags: it matches unless an earlier line stopped parsing. */
static void note_list(conditional_list_t *l, const char *value, size_t value_len, const char *etag,
                      int weak_ok)
{
    int rc;

    l->present = 1;
    if (l->broken || l->matched) {
        return;
    }
    rc = list_scan(value, value_len, etag, weak_ok);
    l->matched = rc > 0;
    l->broken = rc < 0;
}

void conditional_note(conditional_t *c, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    http_slice_t n = {name, name_len};

    /* the length first: most fields of a request are none of these, and differ in it */
    switch (name_len) {
    case 5:
        if (http_slice_eq_nocase(n, "range")) {
            keep_first(&c->range, value, value_len);
        }
        break;
    case 8:
        if (http_slice_eq_nocase(n, "if-match")) {
            note_list(&c->if_match, value, value_len, c->etag, 0); /* strong comparison */
        } else if (http_slice_eq_nocase(n, "if-range")) {
            keep_first(&c->if_range, value, value_len);
        }
        break;
    case 13:
        if (http_slice_eq_nocase(n, "if-none-match")) {
            note_list(&c->if_none_match, value, value_len, c->etag, 1); /* weak comparison */
        }
        break;
    case 17:
        if (http_slice_eq_nocase(n, "if-modified-since")) {
            keep_first(&c->if_modified_since, value, value_len);
        }
        break;
    case 19:
        if (http_slice_eq_nocase(n, "if-unmodified-since")) {
            keep_first(&c->if_unmodified_since, value, value_len);
        }
        break;
    default: break;
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

/* Split a tag ("x" or W/"x") into its weakness and its quoted part. */
static const char *tag_opaque(const char *etag, int *weak)
{
    *weak = etag[0] == 'W' && etag[1] == '/';
    return *weak ? etag + 2 : etag;
}

/*
 * Scan a list of tags (or "*") for etag: 1 matched, 0 not matched and the
 * whole list parsed, -1 not matched before an element that does not parse.
 */
static int list_scan(const char *v, size_t len, const char *etag, int weak_ok)
{
    size_t i = 0, elen, start;
    int weak, etag_weak;
    const char *opaque = tag_opaque(etag, &etag_weak);

    elen = strlen(opaque);
    if (len == 1 && v[0] == '*') {
        return 1;
    }
    for (i = skip_list_sep(v, 0, len); i < len; i = skip_list_sep(v, i, len)) {
        weak = 0;
        if (i + 2 <= len && v[i] == 'W' && v[i + 1] == '/') {
            weak = 1;
            i += 2;
        }
        if (i >= len || v[i] != '"') {
            return -1;
        }
        start = i++;
        while (i < len && v[i] != '"') {
            i++;
        }
        if (i >= len) {
            return -1;
        }
        i++;
        if ((weak_ok || (!weak && !etag_weak)) && i - start == elen
            && memcmp(v + start, opaque, elen) == 0) {
            return 1;
        }
    }
    return 0;
}

int conditional_etag_match(const char *v, size_t len, const char *etag, int weak_ok)
{
    return list_scan(v, len, etag, weak_ok) > 0;
}

int conditional_preconditions(const conditional_t *c, int get_or_head, time_t mtime)
{
    time_t t;

    if (c->if_match.present) {
        if (!c->if_match.matched) {
            return 412;
        }
    } else if (c->if_unmodified_since.p != NULL) {
        if (httpdate_parse(c->if_unmodified_since.p, c->if_unmodified_since.len, &t) == 0
            && mtime > t) {
            return 412;
        }
    }
    if (c->if_none_match.present) {
        if (c->if_none_match.matched) {
            return get_or_head ? 304 : 412;
        }
    } else if (get_or_head && c->if_modified_since.p != NULL) {
        if (httpdate_parse(c->if_modified_since.p, c->if_modified_since.len, &t) == 0
            && mtime <= t) {
            return 304;
        }
    }
    return 0;
}

int conditional_if_range_ok(const char *v, size_t len, const char *etag, time_t mtime)
{
    time_t t;

    if (len > 0 && (v[0] == '"' || (len > 1 && v[0] == 'W' && v[1] == '/'))) {
        /* an entity-tag: strong comparison, so a weak one on either side never matches */
        return v[0] == '"' && etag[0] == '"' && len == strlen(etag) && memcmp(v, etag, len) == 0;
    }
    return httpdate_parse(v, len, &t) == 0 && t == mtime;
}

int conditional_range(const conditional_t *c, int64_t size, time_t mtime, unsigned max,
                      byterange_t *r, size_t *n)
{
    if (c->range.p == NULL
        || (c->if_range.p != NULL
            && !conditional_if_range_ok(c->if_range.p, c->if_range.len, c->etag, mtime))) {
        return 0;
    }
    return byteranges_parse(c->range.p, c->range.len, size, max, r, n);
}
