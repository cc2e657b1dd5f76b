/* test_http_parser: cmocka tests of the request head parser and the chunked decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

#define FIELDS_CAP 16
#define MAX_HEAD 8192
#define MAX_LINE 64
#define OUT_CAP 1024

/* A request plus the header array it points to. */
typedef struct {
    http_request_t req;
    http_header_t fields[FIELDS_CAP];
} fx_t;

/* Result of feeding a chunked body in pieces. */
typedef struct {
    ssize_t rc;      /* of the last call */
    size_t consumed; /* input bytes consumed over all calls */
    int status;
    char out[OUT_CAP];
    size_t out_len;
} dec_t;

static const http_limits_t default_limits = {MAX_HEAD, FIELDS_CAP};

/* ---- helpers ----------------------------------------------------------- */

static ssize_t parse_lim(fx_t *fx, const char *s, size_t len, const http_limits_t *lim)
{
    memset(fx, 0, sizeof(*fx));
    fx->req.headers = fx->fields;
    fx->req.headers_cap = FIELDS_CAP;
    return http_parse_request(s, len, lim, &fx->req);
}

static ssize_t parse(fx_t *fx, const char *s)
{
    return parse_lim(fx, s, strlen(s), &default_limits);
}

/* Parse s, asserting that all of it is consumed. */
static void parse_ok(fx_t *fx, const char *s)
{
    ssize_t rc = parse(fx, s);

    if (rc != (ssize_t)strlen(s)) {
        print_error("expected %zu for [%s], got %zd (%d %s)\n", strlen(s), s, rc, fx->req.status,
                    fx->req.reason ? fx->req.reason : "");
    }
    assert_int_equal(rc, strlen(s));
}

static void assert_ok(const char *s)
{
    fx_t fx;
    ssize_t rc = parse(&fx, s);

    if (rc != (ssize_t)strlen(s)) {
        print_error("expected %zu for [%s], got %zd (%d %s)\n", strlen(s), s, rc, fx.req.status,
                    fx.req.reason ? fx.req.reason : "");
    }
    assert_int_equal(rc, strlen(s));
}

static void assert_bad(const char *s, int status)
{
    fx_t fx;
    ssize_t rc = parse(&fx, s);

    if (rc != HTTP_PARSE_BAD || fx.req.status != status) {
        print_error("expected %d for [%s], got rc %zd status %d\n", status, s, rc, fx.req.status);
    }
    assert_int_equal(rc, HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, status);
    assert_non_null(fx.req.reason);
}

static void assert_slice(http_slice_t s, const char *want)
{
    if (s.len != strlen(want) || (s.len != 0 && memcmp(s.p, want, s.len) != 0)) {
        print_error("slice [%.*s] != [%s]\n", (int)s.len, s.p ? s.p : "", want);
    }
    assert_int_equal(s.len, strlen(want));
    if (s.len != 0) {
        assert_memory_equal(s.p, want, s.len);
    }
}

/* A request whose single header line is "name: value" after a Host line. */
static void with_field(char *buf, size_t cap, const char *version, const char *name,
                       const char *value)
{
    snprintf(buf, cap, "POST /x %s\r\nHost: h\r\n%s: %s\r\n\r\n", version, name, value);
}

/*
 * Feed in[0..n) to a fresh decoder: a first piece of `first` bytes, then
 * pieces of `step` bytes, each in its own exact-size heap buffer so that
 * ASan sees any read past a piece. Stops at the first call that does not
 * return NEED_MORE.
 */
static void decode(const char *in, size_t n, size_t first, size_t step, uint64_t max_body, dec_t *d)
{
    http_chunked_t st;
    size_t off = 0;
    size_t piece = first;

    memset(&st, 0, sizeof(st));
    memset(d, 0, sizeof(*d));
    d->rc = HTTP_PARSE_NEED_MORE;
    while (off < n) {
        size_t k = piece < n - off ? piece : n - off;
        char *buf = malloc(k);
        size_t data_len = (size_t)-1;

        assert_non_null(buf);
        memcpy(buf, in + off, k);
        d->rc = http_chunked_parse(&st, buf, k, max_body, MAX_LINE, &data_len);
        assert_true(data_len <= k);
        assert_true(d->out_len + data_len <= OUT_CAP);
        memcpy(d->out + d->out_len, buf, data_len);
        d->out_len += data_len;
        free(buf);
        if (d->rc >= 0) {
            assert_true((size_t)d->rc <= k);
            d->consumed += (size_t)d->rc;
            break;
        }
        if (d->rc == HTTP_PARSE_BAD) {
            d->status = st.status;
            assert_non_null(st.reason);
            break;
        }
        d->consumed += k;
        off += k;
        piece = step;
    }
}

static void decode_all(const char *in, uint64_t max_body, dec_t *d)
{
    decode(in, strlen(in), strlen(in), 1, max_body, d);
}

static void assert_chunked_bad(const char *in, int status)
{
    dec_t d;

    decode_all(in, UINT64_MAX, &d);
    if (d.rc != HTTP_PARSE_BAD || d.status != status) {
        print_error("expected %d for chunked [%s], got rc %zd status %d\n", status, in, d.rc,
                    d.status);
    }
    assert_int_equal(d.rc, HTTP_PARSE_BAD);
    assert_int_equal(d.status, status);
}

/* ---- request line ------------------------------------------------------ */

static void test_simple_get(void **state)
{
    static const char s[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    fx_t fx;

    (void)state;
    assert_int_equal(parse(&fx, s), sizeof(s) - 1);
    assert_int_equal(fx.req.method, HTTP_METHOD_GET);
    assert_slice(fx.req.method_name, "GET");
    assert_slice(fx.req.target, "/index.html");
    assert_int_equal(fx.req.target_form, HTTP_TARGET_ORIGIN);
    assert_slice(fx.req.path, "/index.html");
    assert_null(fx.req.query.p);
    assert_int_equal(fx.req.query.len, 0);
    assert_slice(fx.req.host, "example.com");
    assert_int_equal(fx.req.version_minor, 1);
    assert_int_equal(fx.req.nheaders, 2);
    assert_slice(fx.req.headers[0].name, "Host");
    assert_slice(fx.req.headers[1].name, "Accept");
    assert_slice(fx.req.headers[1].value, "*/*");
    assert_int_equal(fx.req.body_kind, HTTP_BODY_NONE);
    assert_int_equal(fx.req.flags, HTTP_REQ_HAS_HOST);
    assert_true(fx.req.path.p >= s && fx.req.path.p + fx.req.path.len <= s + sizeof(s));
}

static void test_pipelined_rest_not_consumed(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n";
    fx_t fx;

    (void)state;
    assert_int_equal(parse(&fx, s), strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

static void test_leading_crlf_skipped(void **state)
{
    static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    fx_t fx;

    (void)state;
    assert_int_equal(parse(&fx, s), sizeof(s) - 1);
    assert_slice(fx.req.method_name, "GET");
    assert_ptr_equal(fx.req.method_name.p, s + 4);
}

static void test_leading_bare_lf_rejected(void **state)
{
    (void)state;
    assert_bad("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_request_line_single_spaces(void **state)
{
    (void)state;
    assert_bad("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    assert_bad("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / \r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /\r\nHost: a\r\n\r\n", 400);
}

static void test_bare_lf_rejected(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    assert_bad("GET /\n HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET\n/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX\n: b\r\n\r\n", 400);
}

static void test_cr_without_lf_rejected(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400);
    assert_bad("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

/* ---- method ------------------------------------------------------------ */

static void test_method_known_names(void **state)
{
    static const struct {
        const char *name;
        http_method_t m;
    } known[] = {
        {"GET", HTTP_METHOD_GET},       {"HEAD", HTTP_METHOD_HEAD},
        {"POST", HTTP_METHOD_POST},     {"PUT", HTTP_METHOD_PUT},
        {"DELETE", HTTP_METHOD_DELETE}, {"OPTIONS", HTTP_METHOD_OPTIONS},
        {"TRACE", HTTP_METHOD_TRACE},   {"PATCH", HTTP_METHOD_PATCH},
    };
    char buf[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        fx_t fx;

        snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", known[i].name);
        assert_int_equal(parse(&fx, buf), strlen(buf));
        assert_int_equal(fx.req.method, known[i].m);
        assert_slice(fx.req.method_name, known[i].name);
        assert_string_equal(http_method_name(known[i].m), known[i].name);
    }
    assert_int_equal(http_method_from("CONNECT", 7), HTTP_METHOD_CONNECT);
}

static void test_method_case_sensitive(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "get / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(fx.req.method, HTTP_METHOD_OTHER);
    assert_int_equal(http_method_from("Get", 3), HTTP_METHOD_OTHER);
}

static void test_method_other_token_is_not_an_error(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(fx.req.method, HTTP_METHOD_OTHER);
    assert_slice(fx.req.method_name, "BREW");
    assert_ok("M-SEARCH!#$%&'*+.^_`|~9 / HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void test_method_invalid_bytes(void **state)
{
    (void)state;
    assert_bad("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET/ / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_method_every_byte(void **state)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c != 0 && strchr(tchars, c) != NULL);
        fx_t fx;
        ssize_t rc;

        snprintf(buf, sizeof(buf), "G%cT / HTTP/1.1\r\nHost: a\r\n\r\n", c ? c : '?');
        buf[1] = (char)c;
        rc = parse_lim(&fx, buf, 27, &default_limits);
        if (ok) {
            assert_int_equal(rc, 27);
        } else {
            assert_int_equal(rc, HTTP_PARSE_BAD);
            assert_int_equal(fx.req.status, 400);
        }
    }
}

static void test_method_empty(void **state)
{
    (void)state;
    assert_bad(" / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("\r\n / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_method_name_helpers(void **state)
{
    (void)state;
    assert_null(http_method_name(HTTP_METHOD_OTHER));
    assert_null(http_method_name(HTTP_METHOD_COUNT));
    assert_string_equal(http_method_name(HTTP_METHOD_CONNECT), "CONNECT");
    assert_int_equal(http_method_from("GETX", 4), HTTP_METHOD_OTHER);
    assert_int_equal(http_method_from("", 0), HTTP_METHOD_OTHER);
}

/* ---- HTTP-version ------------------------------------------------------ */

static void test_version_10(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(fx.req.version_minor, 0);
    assert_int_equal(fx.req.flags & HTTP_REQ_HAS_HOST, 0);
    assert_null(fx.req.host.p);
}

static void test_version_1x_is_11(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(fx.req.version_minor, 1);
    parse_ok(&fx, "GET / HTTP/1.9\r\nHost: a\r\n\r\n");
    assert_int_equal(fx.req.version_minor, 1);
    /* Treated as 1.1, so Host is required. */
    assert_bad("GET / HTTP/1.2\r\n\r\n", 400);
}

static void test_version_other_major_505(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    assert_bad("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    assert_bad("GET / HTTP/3.1\r\n\r\n", 505);
}

static void test_version_malformed_400(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/2.0x\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/10.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1:1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/x.1\r\nHost: a\r\n\r\n", 400);
}

/* ---- request-target ---------------------------------------------------- */

static void test_origin_form_query(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET /a/b?x=1&y=/?z HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.target, "/a/b?x=1&y=/?z");
    assert_slice(fx.req.path, "/a/b");
    assert_slice(fx.req.query, "x=1&y=/?z");

    parse_ok(&fx, "GET /? HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.path, "/");
    assert_non_null(fx.req.query.p);
    assert_int_equal(fx.req.query.len, 0);
}

static void test_origin_form_allowed_chars(void **state)
{
    fx_t fx;

    (void)state;
    assert_ok("GET /AZaz09-._~!$&'()*+,;=:@/%2F%c3%A9//?q=:@/?%20 HTTP/1.1\r\nHost: a\r\n\r\n");
    parse_ok(&fx, "GET /%41 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.path, "/%41"); /* still percent-encoded */
}

static void test_origin_form_invalid_bytes(void **state)
{
    static const char bad[] = "\"<>\\^`{|}#[]\x7f\x01\x80\xff";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) - 1; i++) {
        char path[64], query[64];

        snprintf(path, sizeof(path), "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", bad[i]);
        snprintf(query, sizeof(query), "GET /a?%cb HTTP/1.1\r\nHost: a\r\n\r\n", bad[i]);
        assert_bad(path, 400);
        assert_bad(query, 400);
    }
}

static void test_origin_form_every_byte(void **state)
{
    static const char allowed[] = "-._~!$&'()*+,;=:@/?";
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c != 0 && strchr(allowed, c) != NULL);
        fx_t fx;
        ssize_t rc;
        size_t n;

        strcpy(buf, "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n");
        n = strlen(buf);
        buf[5] = (char)c; /* in the path */
        rc = parse_lim(&fx, buf, n, &default_limits);
        assert_int_equal(rc, ok ? (ssize_t)n : HTTP_PARSE_BAD);
        buf[5] = 'a';
        buf[7] = (char)c; /* in the query */
        rc = parse_lim(&fx, buf, n, &default_limits);
        assert_int_equal(rc, ok ? (ssize_t)n : HTTP_PARSE_BAD);
        if (!ok) {
            assert_int_equal(fx.req.status, 400);
        }
    }
}

static void test_pct_encoding_invalid(void **state)
{
    (void)state;
    assert_bad("GET /% HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /%G0 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /%0G HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /?%%41 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET /?%4G HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a/%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a/?%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a%4/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_absolute_form(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET http://example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_int_equal(fx.req.target_form, HTTP_TARGET_ABSOLUTE);
    assert_slice(fx.req.target, "http://example.com:8080/a/b?q=1");
    assert_slice(fx.req.host, "example.com:8080");
    assert_slice(fx.req.path, "/a/b");
    assert_slice(fx.req.query, "q=1");
    assert_true(fx.req.flags & HTTP_REQ_HAS_HOST);
}

static void test_absolute_form_empty_path_is_root(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.path, "/");
    assert_null(fx.req.query.p);
    parse_ok(&fx, "GET https://a?x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.path, "/");
    assert_slice(fx.req.query, "x");
    assert_slice(fx.req.host, "a");
}

static void test_absolute_form_scheme_case_insensitive(void **state)
{
    (void)state;
    assert_ok("GET HTTP://a/ HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_ok("GET hTtPs://a/ HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void test_absolute_form_bad_scheme(void **state)
{
    (void)state;
    assert_bad("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET httpx://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http:a HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http: HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET :// HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_absolute_form_bad_authority(void **state)
{
    (void)state;
    assert_bad("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a:8x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://[::g]/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://[]/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a]/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a/[x] HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a/\"x\" HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET http://a/ HTTP/1.1\r\nHost: a\r\nHost-X: b\r\nHosT: c\r\n\r\n", 400);
}

static void test_absolute_form_ip_literal(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET http://[::1]:8080/x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_slice(fx.req.host, "[::1]:8080");
    assert_ok("GET http://[::ffff:1.2.3.4]:/ HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void test_absolute_form_still_needs_host_field(void **state)
{
    fx_t fx;

    (void)state;
    assert_bad("GET http://a/ HTTP/1.1\r\n\r\n", 400);
    assert_bad("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    parse_ok(&fx, "GET http://a/ HTTP/1.0\r\n\r\n");
    assert_slice(fx.req.host, "a");
}

static void test_asterisk_form_options(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(fx.req.target_form, HTTP_TARGET_ASTERISK);
    assert_slice(fx.req.target, "*");
    assert_null(fx.req.path.p);
    assert_null(fx.req.query.p);
    assert_slice(fx.req.host, "a");
}

static void test_asterisk_form_other_method(void **state)
{
    (void)state;
    assert_bad("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("BREW * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_connect_authority_form(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert_int_equal(fx.req.method, HTTP_METHOD_CONNECT);
    assert_int_equal(fx.req.target_form, HTTP_TARGET_AUTHORITY);
    assert_slice(fx.req.target, "example.com:443");
    assert_null(fx.req.path.p);
    assert_ok("CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void test_connect_needs_port(void **state)
{
    (void)state;
    assert_bad("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_connect_other_form(void **state)
{
    (void)state;
    assert_bad("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_authority_form_needs_connect(void **state)
{
    (void)state;
    assert_bad("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_bad("OPTIONS example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

/* ---- limits ------------------------------------------------------------ */

static void test_max_head_431(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    http_limits_t lim = {40, 16};
    fx_t fx;

    (void)state;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
    /* Exactly max_head bytes buffered, head incomplete: no NEED_MORE. */
    assert_int_equal(parse_lim(&fx, s, 40, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
    assert_int_equal(parse_lim(&fx, s, 39, &lim), HTTP_PARSE_NEED_MORE);
}

static void test_max_head_414(void **state)
{
    static const char s[] =
        "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n";
    http_limits_t lim = {40, 16};
    fx_t fx;

    (void)state;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 414);
    assert_int_equal(parse_lim(&fx, s, 40, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 414);
    assert_int_equal(parse_lim(&fx, s, 39, &lim), HTTP_PARSE_NEED_MORE);
}

static void test_max_head_exact_fit(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";
    http_limits_t lim = {27, 16};
    fx_t fx;

    (void)state;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), 27);
    lim.max_head = 26;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
}

static void test_max_head_counts_leading_crlf(void **state)
{
    static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    http_limits_t lim = {30, 16};
    fx_t fx;

    (void)state;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
    lim.max_head = 4;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 400);
}

static void test_never_need_more_at_max_head(void **state)
{
    static const char s[] = "\r\nGET /abc?d HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
    size_t max, len;

    (void)state;
    for (max = 1; max < sizeof(s) - 1; max++) {
        http_limits_t lim = {max, 16};

        for (len = max; len < sizeof(s); len++) {
            fx_t fx;

            assert_int_equal(parse_lim(&fx, s, len, &lim), HTTP_PARSE_BAD);
            assert_true(fx.req.status == 400 || fx.req.status == 414 || fx.req.status == 431);
        }
    }
}

static void test_max_headers_431(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    http_limits_t lim = {MAX_HEAD, 3};
    fx_t fx;

    (void)state;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), sizeof(s) - 1);
    assert_int_equal(fx.req.nheaders, 3);
    lim.max_headers = 2;
    assert_int_equal(parse_lim(&fx, s, sizeof(s) - 1, &lim), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
}

static void test_headers_cap_431(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    fx_t fx;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.req.headers = fx.fields;
    fx.req.headers_cap = 2;
    assert_int_equal(http_parse_request(s, sizeof(s) - 1, &default_limits, &fx.req),
                     HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 431);
    fx.req.headers_cap = 3;
    assert_int_equal(http_parse_request(s, sizeof(s) - 1, &default_limits, &fx.req), sizeof(s) - 1);
}

/* ---- field lines ------------------------------------------------------- */

static void test_field_ows_trimmed(void **state)
{
    static const char s[] =
        "GET / HTTP/1.1\r\nHost:a\r\nA: \t x y \t \r\nB:\r\nC:   \r\nD:z\r\n\r\n";
    fx_t fx;

    (void)state;
    assert_int_equal(parse(&fx, s), sizeof(s) - 1);
    assert_int_equal(fx.req.nheaders, 5);
    assert_slice(fx.req.headers[0].value, "a");
    assert_slice(fx.req.headers[1].value, "x y");
    assert_slice(fx.req.headers[2].value, "");
    assert_slice(fx.req.headers[3].value, "");
    assert_slice(fx.req.headers[4].name, "D");
    assert_slice(fx.req.headers[4].value, "z");
}

static void test_field_whitespace_before_colon(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n", 400);
}

static void test_field_obs_fold(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400);
}

static void test_field_whitespace_before_first_field(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

static void test_field_name_invalid(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX(: b\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", 400);
}

static void test_field_name_every_byte(void **state)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c != 0 && strchr(tchars, c) != NULL);
        fx_t fx;
        ssize_t rc;
        size_t n;

        if (c == ':') {
            continue; /* "X:Y: v" is field X with value "Y: v" */
        }
        strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\nXY: v\r\n\r\n");
        n = strlen(buf);
        *strchr(buf, 'Y') = (char)c;
        rc = parse_lim(&fx, buf, n, &default_limits);
        assert_int_equal(rc, ok ? (ssize_t)n : HTTP_PARSE_BAD);
    }
}

static void test_field_value_every_byte(void **state)
{
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        int ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        fx_t fx;
        ssize_t rc;
        size_t n;

        strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\nX: a-b\r\n\r\n");
        n = strlen(buf);
        *strchr(buf, '-') = (char)c;
        rc = parse_lim(&fx, buf, n, &default_limits);
        assert_int_equal(rc, ok ? (ssize_t)n : HTTP_PARSE_BAD);
        if (!ok) {
            assert_int_equal(fx.req.status, 400);
        }
    }
}

static void test_field_value_nul_del_cr(void **state)
{
    fx_t fx;

    (void)state;
    assert_int_equal(
        parse_lim(&fx, "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36, &default_limits),
        HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);
    assert_ok("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \"q\"\r\n\r\n");
}

static void test_find_header(void **state)
{
    fx_t fx;
    const http_header_t *h;

    (void)state;
    assert_true(parse(&fx, "GET / HTTP/1.1\r\nHost: a\r\nX-Foo: 1\r\nx-foo: 2\r\n\r\n") > 0);
    h = http_find_header(&fx.req, "X-FOO");
    assert_non_null(h);
    assert_slice(h->value, "1");
    assert_null(http_find_header(&fx.req, "X-Fo"));
    assert_null(http_find_header(&fx.req, "X-Fooo"));
}

static void test_slice_eq_nocase(void **state)
{
    http_slice_t s = {"Keep-Alive", 10};
    http_slice_t e = {NULL, 0};

    (void)state;
    assert_true(http_slice_eq_nocase(s, "keep-alive"));
    assert_false(http_slice_eq_nocase(s, "keep-aliv"));
    assert_false(http_slice_eq_nocase(s, "keep-alivee"));
    assert_true(http_slice_eq_nocase(e, ""));
    assert_false(http_slice_eq_nocase(e, "a"));
}

/* ---- Host -------------------------------------------------------------- */

static void test_host_required_in_11(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHosts: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHose: a\r\nHOS: b\r\nExpecT1: x\r\n\r\n", 400);
}

static void test_host_optional_in_10(void **state)
{
    fx_t fx;

    (void)state;
    parse_ok(&fx, "GET / HTTP/1.0\r\nHost: a:1\r\n\r\n");
    assert_slice(fx.req.host, "a:1");
    assert_true(fx.req.flags & HTTP_REQ_HAS_HOST);
}

static void test_host_duplicate(void **state)
{
    (void)state;
    assert_bad("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    assert_bad("GET / HTTP/1.1\r\nHost:\r\nHOST:\r\n\r\n", 400);
}

static void test_host_valid_values(void **state)
{
    static const char *const ok[] = {
        "",
        "a",
        "example.com",
        "a:80",
        "a:",
        "1.2.3.4:8080",
        "[::1]",
        "[::1]:443",
        "%41b",
        "xn--bcher-kva.example",
        "a-b_c~d!$&'()*+,;=",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char buf[128];
        fx_t fx;

        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", ok[i]);
        assert_int_equal(parse(&fx, buf), strlen(buf));
        assert_slice(fx.req.host, ok[i]);
        assert_true(fx.req.flags & HTTP_REQ_HAS_HOST);
    }
}

static void test_host_invalid_values(void **state)
{
    static const char *const bad[] = {
        "a b",     "u@a",    ":80", "a:8x", "[::1", "[]",     "a/b",
        "a:80:90", "[::1]x", "%4",  "a?",   "a#",   "[v1.x]", "a\"",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];

        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        assert_bad(buf, 400);
    }
}

/* ---- Content-Length ---------------------------------------------------- */

static void test_content_length_valid(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", " 42 ");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.body_kind, HTTP_BODY_LENGTH);
    assert_int_equal(fx.req.content_length, 42);
    with_field(buf, sizeof(buf), "HTTP/1.0", "content-length", "999999999999999999");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.content_length, 999999999999999999ull);
}

static void test_content_length_zero_is_none(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", "000");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.body_kind, HTTP_BODY_NONE);
    assert_int_equal(fx.req.content_length, 0);
}

static void test_content_length_invalid(void **state)
{
    static const char *const bad[] = {"",     "+1", "-1",  "1 2", "0x10",  "1,1",
                                      "1, 1", "1a", "1.0", "1e3", "\"1\"", "1\t2"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];

        with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", bad[i]);
        assert_bad(buf, 400);
    }
}

static void test_content_length_duplicate(void **state)
{
    (void)state;
    assert_bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400);
    assert_bad("POST / HTTP/1.0\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", 400);
}

static void test_content_length_too_many_digits(void **state)
{
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", "1000000000000000000");
    assert_bad(buf, 400);
    with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", "0000000000000000001");
    assert_bad(buf, 400);
    with_field(buf, sizeof(buf), "HTTP/1.1", "Content-Length", "99999999999999999999999");
    assert_bad(buf, 400);
}

/* ---- Transfer-Encoding ------------------------------------------------- */

static void test_te_chunked(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", "chunked");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.body_kind, HTTP_BODY_CHUNKED);
    with_field(buf, sizeof(buf), "HTTP/1.1", "transfer-encoding", " ChUnKeD ");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.body_kind, HTTP_BODY_CHUNKED);
}

static void test_te_chunked_not_last(void **state)
{
    static const char *const bad[] = {"chunked, gzip", "gzip", "identity", "chunked;x=1",
                                      "chunked x"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];

        with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", bad[i]);
        assert_bad(buf, 400);
    }
    assert_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: gzip\r\n\r\n",
               400);
}

static void test_te_chunked_twice(void **state)
{
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", "chunked, chunked");
    assert_bad(buf, 400);
    with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", "gzip, chunked, chunked");
    assert_bad(buf, 400);
    assert_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               400);
}

static void test_te_other_coding_501(void **state)
{
    static const char *const other[] = {"gzip, chunked",      "identity, chunked",
                                        "foo,chunked",        "gzip ,\tchunked",
                                        "chunked;x, chunked", "gzip;q=1 , chunked"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        char buf[128];

        with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", other[i]);
        assert_bad(buf, 501);
    }
}

static void test_te_list_spans_lines(void **state)
{
    fx_t fx;
    static const char s[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n";

    (void)state;
    assert_int_equal(parse(&fx, s), HTTP_PARSE_BAD);
    assert_int_equal(fx.req.status, 501);
}

static void test_te_empty_element(void **state)
{
    static const char *const bad[] = {"",    ", chunked", "chunked,", "gzip,,chunked",
                                      " , ", "chunked, "};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];

        with_field(buf, sizeof(buf), "HTTP/1.1", "Transfer-Encoding", bad[i]);
        assert_bad(buf, 400);
    }
}

static void test_te_with_content_length(void **state)
{
    (void)state;
    assert_bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               400);
    assert_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Content-Length: 3\r\n\r\n",
               400);
}

static void test_te_in_http10(void **state)
{
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.0", "Transfer-Encoding", "chunked");
    assert_bad(buf, 400);
}

/* ---- Connection, Expect ------------------------------------------------ */

static void test_connection_close(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Connection", "close");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & (HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE),
                     HTTP_REQ_CONN_CLOSE);
}

static void test_connection_keep_alive(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.0", "connection", "Keep-Alive");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & (HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE),
                     HTTP_REQ_CONN_KEEPALIVE);
}

static void test_connection_list(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Connection", "Upgrade,  CLOSE ,,x-close");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & (HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE),
                     HTTP_REQ_CONN_CLOSE);
    with_field(buf, sizeof(buf), "HTTP/1.1", "Connection", "closed, keep-alives, upgrade");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & (HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE), 0);
    with_field(buf, sizeof(buf), "HTTP/1.1", "Connection", "keep-alive\t,close");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & (HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE),
                     HTTP_REQ_CONN_CLOSE | HTTP_REQ_CONN_KEEPALIVE);
}

static void test_expect_continue(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Expect", "100-Continue");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_true(fx.req.flags & HTTP_REQ_EXPECT_CONTINUE);
}

static void test_expect_other_417(void **state)
{
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Expect", "100-continue, foo");
    assert_bad(buf, 417);
    with_field(buf, sizeof(buf), "HTTP/1.1", "expect", "200-ok");
    assert_bad(buf, 417);
}

static void test_expect_ignored_in_http10(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.0", "Expect", "100-continue");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & HTTP_REQ_EXPECT_CONTINUE, 0);
    with_field(buf, sizeof(buf), "HTTP/1.0", "Expect", "whatever");
    assert_int_equal(parse(&fx, buf), strlen(buf));
}

static void test_expect_empty_ignored(void **state)
{
    fx_t fx;
    char buf[128];

    (void)state;
    with_field(buf, sizeof(buf), "HTTP/1.1", "Expect", "");
    assert_int_equal(parse(&fx, buf), strlen(buf));
    assert_int_equal(fx.req.flags & HTTP_REQ_EXPECT_CONTINUE, 0);
}

static void test_status_precedence(void **state)
{
    (void)state;
    /* 400 before 501 before 417, whatever the field order. */
    assert_bad("POST / HTTP/1.1\r\nExpect: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400);
    assert_bad("POST / HTTP/1.1\r\nExpect: x\r\nTransfer-Encoding: gzip, chunked\r\nHost: a\r\n"
               "\r\n",
               501);
    assert_bad("POST / HTTP/1.1\r\nExpect: x\r\nHost: a\r\nX\r\n\r\n", 400);
}

/* ---- every prefix ------------------------------------------------------ */

static const char *const valid_requests[] = {
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET /sea%72ch?q=a%20b&x=/?y HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n",
    "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET https://[::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "GET /old HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Ows: \t v a l \t\r\nY:  \r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nConnection: close\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    "\r\n\r\nBREW /pot HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
};

static void test_every_prefix_needs_more(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++) {
        const char *s = valid_requests[i];
        size_t n = strlen(s);

        for (k = 0; k <= n; k++) {
            char *buf = malloc(k ? k : 1);
            fx_t fx;
            ssize_t rc;

            assert_non_null(buf);
            memcpy(buf, s, k);
            rc = parse_lim(&fx, buf, k, &default_limits);
            if (k < n && rc != HTTP_PARSE_NEED_MORE) {
                print_error("prefix %zu of [%s]: %zd %d %s\n", k, s, rc, fx.req.status,
                            fx.req.reason ? fx.req.reason : "");
            }
            assert_int_equal(rc, k < n ? HTTP_PARSE_NEED_MORE : (ssize_t)n);
            free(buf);
        }
    }
}

/* ---- chunked ----------------------------------------------------------- */

static const char chunked_body[] = "5\r\nhello\r\n1;ext=1;q=\"x y\"\r\n \r\n"
                                   "00a\r\n0123456789\r\nA ; e\r\nABCDEFGHIJ\r\n"
                                   "0\r\nX-Trailer: t\r\nY:\r\n\r\n";
static const char chunked_data[] = "hello 0123456789ABCDEFGHIJ";

static void test_chunked_simple(void **state)
{
    static const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    dec_t d;

    (void)state;
    decode_all(in, UINT64_MAX, &d);
    assert_int_equal(d.rc, 13);
    assert_int_equal(d.consumed, 13);
    assert_int_equal(d.out_len, 3);
    assert_memory_equal(d.out, "abc", 3);
}

static void test_chunked_every_split(void **state)
{
    size_t n = sizeof(chunked_body) - 1;
    size_t k;

    (void)state;
    for (k = 1; k <= n; k++) {
        dec_t d;

        decode(chunked_body, n, k, n, UINT64_MAX, &d);
        assert_int_equal(d.rc >= 0, 1);
        assert_int_equal(d.consumed, n);
        assert_int_equal(d.out_len, sizeof(chunked_data) - 1);
        assert_memory_equal(d.out, chunked_data, d.out_len);
    }
}

static void test_chunked_byte_at_a_time(void **state)
{
    size_t n = sizeof(chunked_body) - 1;
    dec_t d;

    (void)state;
    decode(chunked_body, n, 1, 1, UINT64_MAX, &d);
    assert_int_equal(d.rc, 1);
    assert_int_equal(d.consumed, n);
    assert_int_equal(d.out_len, sizeof(chunked_data) - 1);
    assert_memory_equal(d.out, chunked_data, d.out_len);
}

static void test_chunked_extensions_ignored(void **state)
{
    dec_t d;

    (void)state;
    decode_all("1;a=b;c\r\nx\r\n1\t;\"q\"\r\ny\r\n0;last\r\n\r\n", UINT64_MAX, &d);
    assert_true(d.rc > 0);
    assert_int_equal(d.out_len, 2);
    assert_memory_equal(d.out, "xy", 2);
}

static void test_chunked_extension_bad_bytes(void **state)
{
    (void)state;
    assert_chunked_bad("1;a\x01\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1;a\x80\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1;a\x7f\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1;a\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1;a\rx\r\n0\r\n\r\n", 400);
}

static void test_chunked_size_hex_only(void **state)
{
    dec_t d;

    (void)state;
    assert_chunked_bad("0x1\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad(" 1\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1 \r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("g\r\n", 400);
    assert_chunked_bad("+1\r\nx\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1\n", 400);
    assert_chunked_bad("1\rx", 400);
    decode_all("fF\r\n", UINT64_MAX, &d);
    assert_int_equal(d.rc, HTTP_PARSE_NEED_MORE);
}

static void test_chunked_data_must_end_in_crlf(void **state)
{
    (void)state;
    assert_chunked_bad("1\r\nab\r\n0\r\n\r\n", 400);
    assert_chunked_bad("1\r\na\n0\r\n\r\n", 400);
    assert_chunked_bad("1\r\na\r0\r\n\r\n", 400);
    assert_chunked_bad("1\r\na0\r\n\r\n", 400);
}

static void test_chunked_last_chunk_and_trailers(void **state)
{
    static const char in[] = "000\r\nA: 1\r\nB-c: x y\t\r\n\r\nnext";
    dec_t d;

    (void)state;
    decode_all(in, UINT64_MAX, &d);
    assert_int_equal(d.rc, sizeof(in) - 1 - 4);
    assert_int_equal(d.out_len, 0);
}

static void test_chunked_trailer_invalid(void **state)
{
    (void)state;
    assert_chunked_bad("0\r\nA: 1\r\n b\r\n\r\n", 400);
    assert_chunked_bad("0\r\n A: 1\r\n\r\n", 400);
    assert_chunked_bad("0\r\nA : 1\r\n\r\n", 400);
    assert_chunked_bad("0\r\nA\r\n\r\n", 400);
    assert_chunked_bad("0\r\n: 1\r\n\r\n", 400);
    assert_chunked_bad("0\r\nA: 1\n\r\n", 400);
    assert_chunked_bad("0\r\nA: \x01\r\n\r\n", 400);
    assert_chunked_bad("0\r\n\n", 400);
    assert_chunked_bad("0\r\n\rx", 400);
    assert_chunked_bad("0\r\nA: 1\rx\r\n", 400);
}

static void test_chunked_size_line_too_long(void **state)
{
    char in[256];
    dec_t d;

    (void)state;
    /* MAX_LINE bytes before CRLF pass, one more fails. */
    memset(in, 0, sizeof(in));
    memcpy(in, "1;", 2);
    memset(in + 2, 'e', MAX_LINE - 2);
    strcat(in, "\r\nx\r\n0\r\n\r\n");
    decode_all(in, UINT64_MAX, &d);
    assert_true(d.rc > 0);
    memset(in, 0, sizeof(in));
    memset(in, '0', MAX_LINE + 1);
    strcat(in, "\r\n\r\n");
    assert_chunked_bad(in, 400);
}

static void test_chunked_trailer_section_too_long(void **state)
{
    char in[256];
    dec_t d;

    (void)state;
    memset(in, 0, sizeof(in));
    memcpy(in, "0\r\nA:", 5);
    memset(in + 5, 'v', MAX_LINE - 3); /* "A:" + value + CRLF: MAX_LINE + 1 bytes */
    strcat(in, "\r\n\r\n");
    decode_all(in, UINT64_MAX, &d);
    assert_int_equal(d.rc, HTTP_PARSE_BAD);
    assert_int_equal(d.status, 400);
    memset(in, 0, sizeof(in));
    memcpy(in, "0\r\nA:", 5);
    memset(in + 5, 'v', MAX_LINE - 4);
    strcat(in, "\r\n\r\n");
    decode_all(in, UINT64_MAX, &d);
    assert_true(d.rc > 0);
}

static void test_chunked_max_body_413(void **state)
{
    static const char in[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    dec_t d;

    (void)state;
    decode_all(in, 11, &d);
    assert_int_equal(d.rc, sizeof(in) - 1);
    assert_int_equal(d.out_len, 11);
    decode_all(in, 10, &d);
    assert_int_equal(d.rc, HTTP_PARSE_BAD);
    assert_int_equal(d.status, 413);
    assert_int_equal(d.out_len, 5); /* the first chunk was delivered */
    decode_all("fffffffffffffffffffffffff\r\n", 1000, &d);
    assert_int_equal(d.status, 413);
}

static void test_chunked_size_overflow_400(void **state)
{
    dec_t d;

    (void)state;
    decode_all("1000000000000000\r\n", UINT64_MAX, &d); /* 2^60: allowed */
    assert_int_equal(d.rc, HTTP_PARSE_NEED_MORE);
    assert_chunked_bad("1000000000000001\r\n", 400);
    assert_chunked_bad("10000000000000000\r\n", 400);
    assert_chunked_bad("ffffffffffffffffffffffffffffffff\r\n", 400);
    /* Leading zeros are fine up to max_line. */
    decode_all("0000000000000000000000000000000000000001\r\nx\r\n", UINT64_MAX, &d);
    assert_int_equal(d.rc, HTTP_PARSE_NEED_MORE);
}

static void test_chunked_state_after_end(void **state)
{
    http_chunked_t st;
    char buf[32];
    size_t data_len;

    (void)state;
    memset(&st, 0, sizeof(st));
    memcpy(buf, "0\r\n\r\n", 5);
    assert_int_equal(http_chunked_parse(&st, buf, 5, 100, MAX_LINE, &data_len), 5);
    assert_int_equal(data_len, 0);
    memcpy(buf, "1\r\n", 3);
    assert_int_equal(http_chunked_parse(&st, buf, 3, 100, MAX_LINE, &data_len), 0);
    assert_int_equal(data_len, 0);

    memset(&st, 0, sizeof(st));
    memcpy(buf, "x", 1);
    assert_int_equal(http_chunked_parse(&st, buf, 1, 100, MAX_LINE, &data_len), HTTP_PARSE_BAD);
    memcpy(buf, "0\r\n\r\n", 5);
    assert_int_equal(http_chunked_parse(&st, buf, 5, 100, MAX_LINE, &data_len), HTTP_PARSE_BAD);
    assert_int_equal(st.status, 400);
}

static void test_chunked_data_len_on_need_more(void **state)
{
    http_chunked_t st;
    char buf[32];
    size_t data_len = 99;

    (void)state;
    memset(&st, 0, sizeof(st));
    memcpy(buf, "a\r\n01234", 8);
    assert_int_equal(http_chunked_parse(&st, buf, 8, 100, MAX_LINE, &data_len),
                     HTTP_PARSE_NEED_MORE);
    assert_int_equal(data_len, 5);
    assert_memory_equal(buf, "01234", 5);
    assert_int_equal(st.total, 5);
    assert_int_equal(http_chunked_parse(&st, buf, 0, 100, MAX_LINE, &data_len),
                     HTTP_PARSE_NEED_MORE);
    assert_int_equal(data_len, 0);
}

/*
 * http_head_bytes_plausible() agrees with the parser: a byte it calls
 * impossible makes every incomplete head holding it a 400 (in the request
 * line, a field name, a value), so a caller that parses again on such a byte
 * answers at once; and it passes every byte some position of a head takes.
 */
static void test_head_bytes_plausible(void **state)
{
    static const char *const prefixes[] = {"GET /a", "GET / HTTP/1.1\r\nHost: x\r\nX-A",
                                           "GET / HTTP/1.1\r\nHost: x\r\nX-A: v"};
    char buf[128];
    fx_t fx;
    size_t i, n;
    int c;
    (void)state;

    for (c = 0; c < 256; c++) {
        char b = (char)c;
        int ok = http_head_bytes_plausible(&b, 1);
        int want = c == '\t' || c == '\r' || c == '\n' || (c >= 0x20 && c != 0x7f);
        assert_int_equal(ok, want);
        for (i = 0; !ok && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
            n = strlen(prefixes[i]);
            memcpy(buf, prefixes[i], n);
            buf[n] = b;
            assert_int_equal(parse_lim(&fx, buf, n + 1, &default_limits), HTTP_PARSE_BAD);
            assert_int_equal(fx.req.status, 400);
        }
    }
    assert_false(http_head_bytes_plausible("a\rb", 3)); /* CR not followed by LF */
    assert_true(http_head_bytes_plausible("a\r", 2));   /* the LF may come next */
    assert_true(http_head_bytes_plausible("a\r\nb: \x80\xff", 7));
    assert_int_equal(parse(&fx, "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb"), HTTP_PARSE_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_pipelined_rest_not_consumed),
        cmocka_unit_test(test_leading_crlf_skipped),
        cmocka_unit_test(test_leading_bare_lf_rejected),
        cmocka_unit_test(test_request_line_single_spaces),
        cmocka_unit_test(test_bare_lf_rejected),
        cmocka_unit_test(test_cr_without_lf_rejected),
        cmocka_unit_test(test_method_known_names),
        cmocka_unit_test(test_method_case_sensitive),
        cmocka_unit_test(test_method_other_token_is_not_an_error),
        cmocka_unit_test(test_method_invalid_bytes),
        cmocka_unit_test(test_method_every_byte),
        cmocka_unit_test(test_method_empty),
        cmocka_unit_test(test_method_name_helpers),
        cmocka_unit_test(test_version_10),
        cmocka_unit_test(test_version_1x_is_11),
        cmocka_unit_test(test_version_other_major_505),
        cmocka_unit_test(test_version_malformed_400),
        cmocka_unit_test(test_origin_form_query),
        cmocka_unit_test(test_origin_form_allowed_chars),
        cmocka_unit_test(test_origin_form_invalid_bytes),
        cmocka_unit_test(test_origin_form_every_byte),
        cmocka_unit_test(test_pct_encoding_invalid),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_absolute_form_empty_path_is_root),
        cmocka_unit_test(test_absolute_form_scheme_case_insensitive),
        cmocka_unit_test(test_absolute_form_bad_scheme),
        cmocka_unit_test(test_absolute_form_bad_authority),
        cmocka_unit_test(test_absolute_form_ip_literal),
        cmocka_unit_test(test_absolute_form_still_needs_host_field),
        cmocka_unit_test(test_asterisk_form_options),
        cmocka_unit_test(test_asterisk_form_other_method),
        cmocka_unit_test(test_connect_authority_form),
        cmocka_unit_test(test_connect_needs_port),
        cmocka_unit_test(test_connect_other_form),
        cmocka_unit_test(test_authority_form_needs_connect),
        cmocka_unit_test(test_max_head_431),
        cmocka_unit_test(test_max_head_414),
        cmocka_unit_test(test_max_head_exact_fit),
        cmocka_unit_test(test_max_head_counts_leading_crlf),
        cmocka_unit_test(test_never_need_more_at_max_head),
        cmocka_unit_test(test_max_headers_431),
        cmocka_unit_test(test_headers_cap_431),
        cmocka_unit_test(test_field_ows_trimmed),
        cmocka_unit_test(test_field_whitespace_before_colon),
        cmocka_unit_test(test_field_obs_fold),
        cmocka_unit_test(test_field_whitespace_before_first_field),
        cmocka_unit_test(test_field_name_invalid),
        cmocka_unit_test(test_field_name_every_byte),
        cmocka_unit_test(test_field_value_every_byte),
        cmocka_unit_test(test_field_value_nul_del_cr),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_slice_eq_nocase),
        cmocka_unit_test(test_host_required_in_11),
        cmocka_unit_test(test_host_optional_in_10),
        cmocka_unit_test(test_host_duplicate),
        cmocka_unit_test(test_host_valid_values),
        cmocka_unit_test(test_host_invalid_values),
        cmocka_unit_test(test_content_length_valid),
        cmocka_unit_test(test_content_length_zero_is_none),
        cmocka_unit_test(test_content_length_invalid),
        cmocka_unit_test(test_content_length_duplicate),
        cmocka_unit_test(test_content_length_too_many_digits),
        cmocka_unit_test(test_te_chunked),
        cmocka_unit_test(test_te_chunked_not_last),
        cmocka_unit_test(test_te_chunked_twice),
        cmocka_unit_test(test_te_other_coding_501),
        cmocka_unit_test(test_te_list_spans_lines),
        cmocka_unit_test(test_te_empty_element),
        cmocka_unit_test(test_te_with_content_length),
        cmocka_unit_test(test_te_in_http10),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_connection_keep_alive),
        cmocka_unit_test(test_connection_list),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_expect_other_417),
        cmocka_unit_test(test_expect_ignored_in_http10),
        cmocka_unit_test(test_expect_empty_ignored),
        cmocka_unit_test(test_status_precedence),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_chunked_simple),
        cmocka_unit_test(test_chunked_every_split),
        cmocka_unit_test(test_chunked_byte_at_a_time),
        cmocka_unit_test(test_chunked_extensions_ignored),
        cmocka_unit_test(test_chunked_extension_bad_bytes),
        cmocka_unit_test(test_chunked_size_hex_only),
        cmocka_unit_test(test_chunked_data_must_end_in_crlf),
        cmocka_unit_test(test_chunked_last_chunk_and_trailers),
        cmocka_unit_test(test_chunked_trailer_invalid),
        cmocka_unit_test(test_chunked_size_line_too_long),
        cmocka_unit_test(test_chunked_trailer_section_too_long),
        cmocka_unit_test(test_chunked_max_body_413),
        cmocka_unit_test(test_chunked_size_overflow_400),
        cmocka_unit_test(test_chunked_state_after_end),
        cmocka_unit_test(test_chunked_data_len_on_need_more),
        cmocka_unit_test(test_head_bytes_plausible),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
