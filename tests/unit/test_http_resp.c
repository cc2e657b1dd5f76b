/* test_http_resp: the upstream response head parser: framing, keep-alive, refusals, prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_resp.h"

#define MAX_HEAD 8192

static http_header_t hdrs[16];

static ssize_t parse(const char *s, size_t len, int head, http_response_t *r)
{
    memset(r, 0, sizeof(*r));
    r->headers = hdrs;
    r->headers_cap = 16;
    return http_parse_response(s, len, MAX_HEAD, head, r);
}

#define PARSE(s, head, r) parse(s, strlen(s), head, r)

/* A good head, then every proper prefix of it: NEED_MORE, never bad, never a length. */
static void check_prefixes(const char *s, size_t n)
{
    http_response_t r;
    size_t i;

    for (i = 0; i < n; i++) {
        if (parse(s, i, 0, &r) != HTTP_PARSE_NEED_MORE) {
            fail_msg("prefix %zu of %s: not need-more (%s)", i, s, r.error ? r.error : "-");
        }
    }
}

static void test_content_length(void **state)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length:  12 \r\nX-Empty:\r\n\r\nhello world!";
    http_response_t r;

    (void)state;
    assert_int_equal(PARSE(s, 0, &r), strlen(s) - 12);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.version_minor, 1);
    assert_int_equal(r.reason.len, 2);
    assert_int_equal(r.nheaders, 3);
    assert_memory_equal(r.headers[1].value.p, "12", 2);
    assert_int_equal(r.headers[1].value.len, 2);
    assert_int_equal(r.headers[2].value.len, 0);
    assert_int_equal(r.body, HTTP_RESP_BODY_LENGTH);
    assert_int_equal(r.content_length, 12);
    assert_int_equal(r.keep_alive, 1);
    check_prefixes(s, strlen(s) - 12);
}

/* The answer to HEAD, or a 304: no body, but the Content-Length a GET would get is kept. */
static void test_length_without_body(void **state)
{
    static const struct {
        const char *head;
        int head_request, has_length;
        uint64_t length;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1, 1, 5000},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 1, 0},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 0, 1, 7},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 0, 0},
        {"HTTP/1.1 200 OK\r\n\r\n", 1, 0, 0},
    };
    http_response_t r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (PARSE(cases[i].head, cases[i].head_request, &r) != (ssize_t)strlen(cases[i].head)
            || (r.body != HTTP_RESP_BODY_NONE && cases[i].head_request)
            || r.has_length != cases[i].has_length || r.content_length != cases[i].length) {
            fail_msg("case %zu: body %d has_length %d length %llu", i, r.body, r.has_length,
                     (unsigned long long)r.content_length);
        }
    }
}

static void test_framings(void **state)
{
    static const struct {
        const char *head;
        int head_request;
        http_resp_body_t body;
        int keep_alive;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, HTTP_RESP_BODY_CHUNKED, 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", 0, HTTP_RESP_BODY_CHUNKED,
         1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, HTTP_RESP_BODY_CLOSE, 0},
        /* both: chunked wins, and the connection is not trusted again */
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
         HTTP_RESP_BODY_CHUNKED, 0},
        {"HTTP/1.1 200 OK\r\n\r\n", 0, HTTP_RESP_BODY_CLOSE, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, HTTP_RESP_BODY_NONE, 1},
        {"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", 1, HTTP_RESP_BODY_NONE, 1},
        {"HTTP/1.1 204 No Content\r\n\r\n", 0, HTTP_RESP_BODY_NONE, 1},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 0, HTTP_RESP_BODY_NONE, 1},
        {"HTTP/1.1 100 Continue\r\n\r\n", 0, HTTP_RESP_BODY_NONE, 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", 0,
         HTTP_RESP_BODY_LENGTH, 0},
        {"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 1\r\n\r\n", 0,
         HTTP_RESP_BODY_LENGTH, 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, HTTP_RESP_BODY_LENGTH, 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 0,
         HTTP_RESP_BODY_LENGTH, 1},
        {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", 0, HTTP_RESP_BODY_LENGTH, 1},
        {"HTTP/1.1 200 \r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 0,
         HTTP_RESP_BODY_LENGTH, 1},
    };
    http_response_t r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (PARSE(cases[i].head, cases[i].head_request, &r) != (ssize_t)strlen(cases[i].head)
            || r.body != cases[i].body || r.keep_alive != cases[i].keep_alive) {
            fail_msg("case %zu: body %d keep-alive %d (%s): %s", i, r.body, r.keep_alive,
                     r.error ? r.error : "-", cases[i].head);
        }
        check_prefixes(cases[i].head, strlen(cases[i].head));
    }
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 600 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
    };
    http_response_t r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (PARSE(bad[i], 0, &r) != HTTP_PARSE_BAD || r.error == NULL) {
            fail_msg("case %zu accepted: %s", i, bad[i]);
        }
    }
}

static void test_limits(void **state)
{
    char big[MAX_HEAD + 64];
    http_response_t r;
    size_t n;
    int i;

    (void)state;
    n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    for (i = 0; i < 17; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: y\r\n", i);
    }
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
    assert_int_equal(parse(big, n, 0, &r), HTTP_PARSE_BAD);
    assert_string_equal(r.error, "too many header fields");

    memset(big, 'a', sizeof(big));
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    assert_int_equal(parse(big, MAX_HEAD - 1, 0, &r), HTTP_PARSE_NEED_MORE);
    assert_int_equal(parse(big, MAX_HEAD, 0, &r), HTTP_PARSE_BAD);
    assert_string_equal(r.error, "response head too large");
}

static void test_list_has(void **state)
{
    static const char v[] = " keep-alive ,X-Custom,, Te";
    http_slice_t s = {v, sizeof(v) - 1};

    (void)state;
    assert_true(http_list_has(s, "Keep-Alive"));
    assert_true(http_list_has(s, "x-custom"));
    assert_true(http_list_has(s, "te"));
    assert_false(http_list_has(s, "close"));
    assert_false(http_list_has(s, "keep"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length), cmocka_unit_test(test_length_without_body),
        cmocka_unit_test(test_framings),       cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_list_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
