/* encoding: Accept-Encoding parsed into q values, and the order of codings to try. */
#include "encoding.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define Q_UNSET (-1)

static const char *const names[ENCODING_N] = {"br", "gzip", NULL};
static const char *const suffixes[ENCODING_N] = {".br", ".gz", NULL};

void encoding_init(encoding_accept_t *a)
{
    int i;

    a->present = 0;
    a->star = Q_UNSET;
    for (i = 0; i < ENCODING_N; i++) {
        a->q[i] = Q_UNSET;
    }
}

const char *encoding_name(encoding_t e)
{
    return (unsigned)e < ENCODING_N ? names[e] : NULL;
}

const char *encoding_suffix(encoding_t e)
{
    return (unsigned)e < ENCODING_N ? suffixes[e] : NULL;
}

/* A tchar of RFC 9110 5.6.2. */
static int tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t skip_ows(const char *v, size_t i, size_t len)
{
    while (i < len && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }
    return i;
}

/*
 * A qvalue ("0", "0.5", "1.000") at v[*i..len) into *q (thousandths); the
 * index moves past it. 0 ok, -1 not a qvalue.
 */
static int parse_q(const char *v, size_t *i, size_t len, int *q)
{
    size_t p = *i, digits = 0;
    int n, scale = 100;

    if (p >= len || (v[p] != '0' && v[p] != '1')) {
        return -1;
    }
    n = (v[p++] - '0') * 1000;
    if (p < len && v[p] == '.') {
        for (p++; p < len && isdigit((unsigned char)v[p]) && digits < 3; p++, digits++) {
            n += (v[p] - '0') * scale;
            scale /= 10;
        }
    }
    if (n > 1000 || (p < len && tchar((unsigned char)v[p]))) {
        return -1;
    }
    *q = n;
    *i = p;
    return 0;
}

/* The q slot a coding name (len bytes, any case) goes to, or NULL for one forkd does not serve. */
static int *slot(encoding_accept_t *a, const char *name, size_t len)
{
    if (len == 1 && name[0] == '*') {
        return &a->star;
    }
    if ((len == 4 && strncasecmp(name, "gzip", 4) == 0)
        || (len == 6 && strncasecmp(name, "x-gzip", 6) == 0)) {
        return &a->q[ENCODING_GZIP];
    }
    if (len == 2 && strncasecmp(name, "br", 2) == 0) {
        return &a->q[ENCODING_BR];
    }
    if (len == 8 && strncasecmp(name, "identity", 8) == 0) {
        return &a->q[ENCODING_IDENTITY];
    }
    return NULL;
}

/*
 * One list element at v[*i..len): "coding [OWS ; OWS q=qvalue]". Sets
 * *name, *name_len and *q (1000 without a weight); the index moves to the
 * next ',' or the end. 0 ok, -1 an element to skip.
 */
static int parse_element(const char *v, size_t *i, size_t len, const char **name, size_t *name_len,
                         int *q)
{
    size_t p = *i, start = p;
    int rc = 0;

    while (p < len && tchar((unsigned char)v[p])) {
        p++;
    }
    *name = v + start;
    *name_len = p - start;
    *q = 1000;
    p = skip_ows(v, p, len);
    if (*name_len == 0) {
        rc = -1;
    } else if (p < len && v[p] == ';') {
        p = skip_ows(v, p + 1, len);
        if (p + 1 < len && (v[p] == 'q' || v[p] == 'Q') && v[p + 1] == '=') {
            p += 2;
            rc = parse_q(v, &p, len, q);
            p = skip_ows(v, p, len);
        } else {
            rc = -1; /* Accept-Encoding's only parameter is the weight */
        }
    }
    if (p < len && v[p] != ',') {
        rc = -1;
    }
    while (p < len && v[p] != ',') {
        p++;
    }
    *i = p;
    return rc;
}

void encoding_note(encoding_accept_t *a, const char *v, size_t len)
{
    const char *name;
    size_t i = 0, name_len;
    int q, *s;

    a->present = 1;
    while (i < len) {
        i = skip_ows(v, i, len);
        if (i < len && v[i] == ',') {
            i++;
            continue;
        }
        if (i == len) {
            break;
        }
        if (parse_element(v, &i, len, &name, &name_len, &q) != 0) {
            continue;
        }
        s = slot(a, name, name_len);
        if (s != NULL && *s == Q_UNSET) {
            *s = q;
        }
    }
}

/*
 * The rank of a coding, twice its q: as named, else "*"'s. identity named
 * by neither ranks 1: acceptable, yet under any coding named with a q
 * above 0 (at least 1 thousandth, ranked 2).
 */
static int rank(const encoding_accept_t *a, encoding_t e)
{
    if (a->q[e] != Q_UNSET) {
        return a->q[e] * 2;
    }
    if (a->star != Q_UNSET) {
        return a->star * 2;
    }
    return e == ENCODING_IDENTITY ? 1 : 0;
}

int encoding_order(const encoding_accept_t *a, encoding_t out[ENCODING_N])
{
    int q[ENCODING_N], n = 0, i, j, best;
    int used[ENCODING_N] = {0};

    if (!a->present) {
        out[0] = ENCODING_IDENTITY;
        return 1;
    }
    for (i = 0; i < ENCODING_N; i++) {
        q[i] = rank(a, (encoding_t)i);
    }
    for (;;) {
        best = -1;
        for (j = 0; j < ENCODING_N; j++) { /* the enum's order breaks ties: br, gzip, identity */
            if (!used[j] && q[j] > 0 && (best < 0 || q[j] > q[best])) {
                best = j;
            }
        }
        if (best < 0) {
            break;
        }
        used[best] = 1;
        out[n++] = (encoding_t)best;
    }
    if (!used[ENCODING_IDENTITY]) {
        out[n++] = ENCODING_IDENTITY;
    }
    return n;
}

int encoding_type_listed(const char *types, const char *content_type)
{
    size_t tlen = strcspn(content_type, "; \t"), ilen, major;
    const char *p = types;

    for (; *p != '\0'; p += ilen) {
        p += strspn(p, " \t");
        ilen = strcspn(p, " \t");
        if (ilen == 0) {
            break;
        }
        if (ilen == tlen && strncasecmp(p, content_type, tlen) == 0) {
            return 1;
        }
        /* a star for the subtype: the major type and its slash match */
        major = ilen - 1;
        if (ilen >= 3 && p[ilen - 1] == '*' && p[ilen - 2] == '/' && tlen > major
            && strncasecmp(p, content_type, major) == 0) {
            return 1;
        }
    }
    return 0;
}
