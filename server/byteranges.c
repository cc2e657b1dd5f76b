/* byteranges: parse, sort and merge a Range list; the texts of a multipart/byteranges body. */
#include "byteranges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What parse_spec() found. */
#define SPEC_BAD (-1)   /* not a range-spec: the field is ignored */
#define SPEC_NONE 0     /* unsatisfiable: dropped from the list */
#define SPEC_RANGE 1    /* [first, last] within the resource */
#define SPEC_EMPTY_OK 2 /* a suffix range of an empty resource: satisfiable, no byte */

/* Parse a decimal of up to 18 digits at s[*i] (no overflow possible); -1 when none or longer. */
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
 * One range-spec at s[*i] ("a-b", "a-" or "-n"), moving *i past it. Returns
 * a SPEC_ code; with SPEC_RANGE, *out holds the bytes it asks for, clipped
 * to the resource.
 */
static int parse_spec(const char *s, size_t *i, size_t len, int64_t size, byterange_t *out)
{
    int64_t a, b = INT64_MAX;

    if (s[*i] == '-') {
        (*i)++;
        b = parse_pos(s, i, len);
        if (b < 0) {
            return SPEC_BAD;
        }
        if (b == 0) {
            return SPEC_NONE;
        }
        if (size == 0) {
            return SPEC_EMPTY_OK;
        }
        out->first = b >= size ? 0 : size - b;
        out->last = size - 1;
        return SPEC_RANGE;
    }
    a = parse_pos(s, i, len);
    if (a < 0 || *i >= len || s[*i] != '-') {
        return SPEC_BAD;
    }
    (*i)++;
    if (*i < len && s[*i] >= '0' && s[*i] <= '9' && ((b = parse_pos(s, i, len)) < 0 || b < a)) {
        return SPEC_BAD; /* too long, or "last < first" */
    }
    if (a >= size) {
        return SPEC_NONE;
    }
    out->first = a;
    out->last = b >= size ? size - 1 : b;
    return SPEC_RANGE;
}

static int by_first(const void *x, const void *y)
{
    const byterange_t *a = x, *b = y;

    return a->first < b->first ? -1 : a->first > b->first;
}

/* Sort r[0..n) and merge ranges that overlap or touch; returns how many are left. */
static size_t coalesce(byterange_t *r, size_t n)
{
    size_t i, out = 0;

    qsort(r, n, sizeof(*r), by_first);
    for (i = 1; i < n; i++) {
        if (r[i].first <= r[out].last + 1) {
            if (r[i].last > r[out].last) {
                r[out].last = r[i].last;
            }
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

/* Skip optional whitespace (SP, HTAB) at s[i]; returns the new position. */
static size_t skip_ows(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i;
}

/*
 * The list is RFC 9110 5.6.1's: elements separated by commas with optional
 * whitespace around them, empty elements allowed (and not counted), at
 * least one range-spec; nothing before the first element (the old single
 * range parser refused "bytes= 0-1", and still does).
 */
int byteranges_parse(const char *v, size_t len, int64_t size, unsigned max, byterange_t *r,
                     size_t *n)
{
    size_t i = 6, count = 0, kept = 0;
    int rc, empty_ok = 0;
    byterange_t one;

    if (max == 0 || len < 6 || strncasecmp(v, "bytes=", 6) != 0) {
        return 0;
    }
    for (;;) {
        if (i < len && v[i] != ',') {
            rc = parse_spec(v, &i, len, size, &one);
            if (rc == SPEC_BAD || ++count > max) {
                return 0;
            }
            if (rc == SPEC_RANGE) {
                r[kept++] = one;
            }
            empty_ok |= rc == SPEC_EMPTY_OK;
            i = skip_ows(v, i, len);
        }
        if (i >= len) {
            break;
        }
        if (v[i] != ',') {
            return 0;
        }
        i = skip_ows(v, i + 1, len);
    }
    if (count == 0 || empty_ok) {
        return 0;
    }
    if (kept == 0) {
        return -1;
    }
    *n = coalesce(r, kept);
    return 1;
}

void byteranges_boundary(char *out, uint64_t random)
{
    snprintf(out, BYTERANGES_BOUNDARY_LEN + 1, "forkd-%016llx", (unsigned long long)random);
}

size_t byteranges_text(char *out, const char *boundary, const char *ctype, const byterange_t *r,
                       size_t n, size_t i, int64_t size)
{
    /* the first delimiter opens the body: no CRLF before it (RFC 2046 5.1.1 allows none) */
    const char *crlf = i == 0 ? "" : "\r\n";
    int len;

    if (i >= n) {
        len = snprintf(out, BYTERANGES_TEXT_MAX, "%s--%s--\r\n", crlf, boundary);
        return (size_t)len;
    }
    if (ctype != NULL && strlen(ctype) > BYTERANGES_CTYPE_MAX) {
        ctype = NULL;
    }
    len = snprintf(out, BYTERANGES_TEXT_MAX,
                   "%s--%s\r\n%s%s%sContent-Range: bytes %lld-%lld/%lld\r\n\r\n", crlf, boundary,
                   ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                   (long long)r[i].first, (long long)r[i].last, (long long)size);
    return (size_t)len;
}

uint64_t byteranges_body_len(const char *boundary, const char *ctype, const byterange_t *r,
                             size_t n, int64_t size)
{
    char text[BYTERANGES_TEXT_MAX];
    uint64_t total = 0;
    size_t i;

    for (i = 0; i <= n; i++) {
        total += byteranges_text(text, boundary, ctype, r, n, i, size);
        if (i < n) {
            total += (uint64_t)(r[i].last - r[i].first + 1);
        }
    }
    return total;
}
