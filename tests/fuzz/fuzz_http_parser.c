/* fuzz_http_parser: libFuzzer harness checking the invariants of http_parse_request and
 * http_chunked_parse. */
#include "http_parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS_CAP 24
#define MAX_HEAD 4096
#define MAX_FIELDS 20

/* Like assert(), but never compiled out. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Output of feeding one chunked body in pieces. */
typedef struct {
    ssize_t rc;      /* of the last call */
    size_t consumed; /* input bytes consumed over all calls (not counted on BAD) */
    int status;
    uint64_t total;
    char *out; /* decoded bytes, capacity = input length */
    size_t out_len;
} decoded_t;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_next(uint64_t *s);
static int slice_within(http_slice_t s, const char *buf, size_t len);
static ssize_t parse_copy(const uint8_t *data, size_t len, const http_limits_t *lim,
                          http_request_t *req, http_header_t *fields, char **copy);
static void check_request(const char *buf, size_t len, const http_limits_t *lim,
                          const http_request_t *req, ssize_t rc);
static void check_prefix(const uint8_t *data, size_t size, const http_limits_t *lim,
                         ssize_t full_rc, int full_status, uint64_t *rng);
static void decode(const uint8_t *in, size_t n, uint64_t max_body, size_t max_line, uint64_t *rng,
                   int mode, decoded_t *d);
static void check_chunked(const uint8_t *in, size_t n, uint64_t *rng);

/* xorshift64*: the split points and limits derive from the input, so runs replay. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* An absent slice, the static "/" of absolute-form, or a slice of buf[0..len). */
static int slice_within(http_slice_t s, const char *buf, size_t len)
{
    if (s.p == NULL) {
        return s.len == 0;
    }
    if (s.len == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + len)) {
        return 1;
    }
    return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

/* Parse an exact-size heap copy of data[0..len), so ASan sees any overread. */
static ssize_t parse_copy(const uint8_t *data, size_t len, const http_limits_t *lim,
                          http_request_t *req, http_header_t *fields, char **copy)
{
    *copy = malloc(len ? len : 1);
    CHECK(*copy != NULL);
    memcpy(*copy, data, len);
    memset(req, 0xa5, sizeof(*req)); /* the parser must set every field it reports */
    req->headers = fields;
    req->headers_cap = FIELDS_CAP;
    return http_parse_request(*copy, len, lim, req);
}

static void check_request(const char *buf, size_t len, const http_limits_t *lim,
                          const http_request_t *req, ssize_t rc)
{
    size_t i;

    if (rc == HTTP_PARSE_NEED_MORE) {
        CHECK(len < lim->max_head);
        return;
    }
    if (rc == HTTP_PARSE_BAD) {
        CHECK(req->status == 400 || req->status == 414 || req->status == 417 || req->status == 431
              || req->status == 501 || req->status == 505);
        CHECK(req->reason != NULL);
        return;
    }
    CHECK(rc > 0 && (size_t)rc <= len && (size_t)rc <= lim->max_head);
    CHECK(req->status == 0);
    CHECK(req->nheaders <= FIELDS_CAP && req->nheaders <= lim->max_headers);
    CHECK(req->method_name.len > 0 && slice_within(req->method_name, buf, (size_t)rc));
    CHECK(req->method == http_method_from(req->method_name.p, req->method_name.len));
    CHECK(req->target.len > 0 && slice_within(req->target, buf, (size_t)rc));
    CHECK(slice_within(req->path, buf, (size_t)rc));
    CHECK(slice_within(req->query, buf, (size_t)rc));
    CHECK(slice_within(req->host, buf, (size_t)rc));
    CHECK(req->version_minor == 0 || req->version_minor == 1);
    switch (req->target_form) {
    case HTTP_TARGET_ORIGIN:
        CHECK(req->path.len > 0 && req->path.p == req->target.p && req->path.p[0] == '/');
        CHECK(req->method != HTTP_METHOD_CONNECT);
        break;
    case HTTP_TARGET_ABSOLUTE:
        CHECK(req->path.len > 0 && req->path.p[0] == '/' && req->host.len > 0);
        break;
    case HTTP_TARGET_AUTHORITY:
        CHECK(req->method == HTTP_METHOD_CONNECT && req->path.p == NULL);
        break;
    case HTTP_TARGET_ASTERISK:
        CHECK(req->method == HTTP_METHOD_OPTIONS && req->target.len == 1);
        break;
    default: CHECK(0);
    }
    if (req->version_minor == 1) {
        CHECK(req->flags & HTTP_REQ_HAS_HOST);
    }
    if (req->body_kind == HTTP_BODY_LENGTH) {
        CHECK(req->content_length > 0 && req->content_length < 1000000000000000000ULL);
    } else {
        CHECK(req->body_kind == HTTP_BODY_NONE || req->body_kind == HTTP_BODY_CHUNKED);
    }
    if (req->body_kind == HTTP_BODY_CHUNKED) {
        CHECK(req->version_minor == 1 && http_find_header(req, "content-length") == NULL);
    }
    for (i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        size_t j;

        CHECK(h->name.len > 0 && slice_within(h->name, buf, (size_t)rc));
        CHECK(slice_within(h->value, buf, (size_t)rc));
        CHECK(h->value.len == 0
              || (h->value.p[0] != ' ' && h->value.p[0] != '\t'
                  && h->value.p[h->value.len - 1] != ' ' && h->value.p[h->value.len - 1] != '\t'));
        for (j = 0; j < h->value.len; j++) {
            unsigned char c = (unsigned char)h->value.p[j];

            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        for (j = 0; j < h->name.len; j++) {
            CHECK(h->name.p[j] > 0x20 && h->name.p[j] < 0x7f && h->name.p[j] != ':');
        }
    }
}

/*
 * A prefix of the input must agree with the whole: a complete head is
 * NEED_MORE for every shorter prefix; a prefix that is complete or bad
 * gives the same answer as the whole input.
 */
static void check_prefix(const uint8_t *data, size_t size, const http_limits_t *lim,
                         ssize_t full_rc, int full_status, uint64_t *rng)
{
    http_header_t fields[FIELDS_CAP];
    http_request_t req;
    char *copy;
    size_t k;
    ssize_t rc;

    if (size == 0) {
        return;
    }
    k = (size_t)(rng_next(rng) % size);
    rc = parse_copy(data, k, lim, &req, fields, &copy);
    check_request(copy, k, lim, &req, rc);
    if (full_rc > 0 && k < (size_t)full_rc) {
        CHECK(rc == HTTP_PARSE_NEED_MORE);
    }
    if (rc > 0) {
        CHECK(rc == full_rc);
    }
    if (rc == HTTP_PARSE_BAD) {
        CHECK(full_rc == HTTP_PARSE_BAD && req.status == full_status);
    }
    free(copy);
}

/*
 * Decode in[0..n) with a fresh decoder. mode 0: one call; 1: one byte per
 * call; 2: random piece sizes. Each piece is an exact-size heap copy.
 */
static void decode(const uint8_t *in, size_t n, uint64_t max_body, size_t max_line, uint64_t *rng,
                   int mode, decoded_t *d)
{
    http_chunked_t st;
    size_t off = 0;

    memset(&st, 0, sizeof(st));
    d->rc = HTTP_PARSE_NEED_MORE;
    d->consumed = 0;
    d->status = 0;
    d->out_len = 0;
    while (off < n) {
        size_t k = mode == 0 ? n - off : mode == 1 ? 1 : 1 + (size_t)(rng_next(rng) % 64);
        size_t data_len = (size_t)-1;
        char *piece;

        if (k > n - off) {
            k = n - off;
        }
        piece = malloc(k);
        CHECK(piece != NULL);
        memcpy(piece, in + off, k);
        d->rc = http_chunked_parse(&st, piece, k, max_body, max_line, &data_len);
        CHECK(data_len <= k);
        CHECK(d->out_len + data_len <= n);
        memcpy(d->out + d->out_len, piece, data_len);
        d->out_len += data_len;
        free(piece);
        CHECK(st.total == d->out_len && st.total <= max_body);
        if (d->rc >= 0) {
            CHECK((size_t)d->rc <= k);
            d->consumed += (size_t)d->rc;
            break;
        }
        if (d->rc == HTTP_PARSE_BAD) {
            CHECK(st.status == 400 || st.status == 413);
            CHECK(st.reason != NULL);
            d->status = st.status;
            break;
        }
        CHECK(d->rc == HTTP_PARSE_NEED_MORE);
        d->consumed += k;
        off += k;
    }
    d->total = st.total;
    if (d->rc >= 0) {
        /* A finished decoder consumes nothing more. */
        char byte = '0';
        size_t data_len = (size_t)-1;

        CHECK(http_chunked_parse(&st, &byte, 1, max_body, max_line, &data_len) == 0);
        CHECK(data_len == 0);
    }
}

/* The decoded data, status and consumed count must not depend on how the input is split. */
static void check_chunked(const uint8_t *in, size_t n, uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    uint64_t max_body = (r & 1) ? UINT64_MAX : (r >> 8) % 4096;
    size_t max_line = 1 + (size_t)((r >> 32) % 128);
    decoded_t a, b;

    a.out = malloc(n ? n : 1);
    b.out = malloc(n ? n : 1);
    CHECK(a.out != NULL && b.out != NULL);

    decode(in, n, max_body, max_line, rng, 0, &a);
    decode(in, n, max_body, max_line, rng, n <= 512 ? (int)(r >> 1 & 1) + 1 : 2, &b);
    CHECK(a.rc == b.rc || (a.rc >= 0 && b.rc >= 0));
    CHECK(a.status == b.status);
    if (a.rc != HTTP_PARSE_BAD) {
        CHECK(a.consumed == b.consumed);
    }
    CHECK(a.out_len == b.out_len && memcmp(a.out, b.out, a.out_len) == 0);
    if (a.rc == HTTP_PARSE_NEED_MORE) {
        CHECK(a.consumed == n);
    }
    free(a.out);
    free(b.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_header_t fields[FIELDS_CAP];
    http_request_t req;
    http_limits_t lim = {MAX_HEAD, MAX_FIELDS};
    http_limits_t small;
    uint64_t rng = 0xcbf29ce484222325ULL;
    char *copy;
    ssize_t rc;
    size_t i;

    for (i = 0; i < size; i++) {
        rng = (rng ^ data[i]) * 0x100000001b3ULL;
    }
    rng |= 1;

    rc = parse_copy(data, size, &lim, &req, fields, &copy);
    check_request(copy, size, &lim, &req, rc);
    check_prefix(data, size, &lim, rc, req.status, &rng);
    if (rc > 0) {
        check_chunked(data + rc, size - (size_t)rc, &rng);
    }
    free(copy);

    /* Again with limits small enough to be hit. */
    small.max_head = 1 + (size_t)(rng_next(&rng) % (size + 8));
    small.max_headers = (size_t)(rng_next(&rng) % 6);
    rc = parse_copy(data, size, &small, &req, fields, &copy);
    check_request(copy, size, &small, &req, rc);
    check_prefix(data, size, &small, rc, req.status, &rng);
    free(copy);
    return 0;
}
