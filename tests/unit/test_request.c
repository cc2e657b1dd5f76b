/* test_request: what a handler reads of a parsed request (forkd_req_*, server/request.c). */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

/* req parsed from text as the connection code fills it; 0 ok. */
static int parse(req_t *req, http_header_t *headers, size_t cap, const char *text)
{
    http_limits_t lim = {8192, cap};

    memset(req, 0, sizeof(*req));
    req->h.headers = headers;
    req->h.headers_cap = cap;
    if (http_parse_request(text, strlen(text), &lim, &req->h) <= 0) {
        return -1;
    }
    req->path = "/a b";
    req->path_len = 4;
    return 0;
}

static void test_request_line_parts(void **state)
{
    http_header_t headers[8];
    req_t req;
    size_t len = 99;
    const char *p;
    (void)state;

    assert_int_equal(parse(&req, headers, 8, "PATCH /a%20b?x=1&y HTTP/1.0\r\n\r\n"), 0);
    assert_int_equal(forkd_req_method(&req), FORKD_PATCH);
    p = forkd_req_method_name(&req, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "PATCH", 5);
    assert_string_equal(forkd_req_path(&req, &len), "/a b");
    assert_int_equal(len, 4);
    p = forkd_req_query(&req, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "x=1&y", 5);
    assert_int_equal(forkd_req_version(&req), 10);
    /* len may be NULL */
    assert_non_null(forkd_req_query(&req, NULL));

    assert_int_equal(parse(&req, headers, 8, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    assert_int_equal(forkd_req_version(&req), 11);
    len = 99;
    assert_null(forkd_req_query(&req, &len));
    assert_int_equal(len, 0);
}

static void test_headers_by_name_and_in_order(void **state)
{
    http_header_t headers[8];
    req_t req;
    const char *name, *value;
    size_t nlen, vlen, len = 99;
    (void)state;

    assert_int_equal(parse(&req, headers, 8,
                           "GET / HTTP/1.1\r\nHost: h\r\nX-Twice: one\r\nx-twice: two\r\n"
                           "X-Empty:\r\n\r\n"),
                     0);
    assert_memory_equal(forkd_req_header(&req, "x-TWICE", &len), "one", 3); /* the first */
    assert_int_equal(len, 3);
    assert_non_null(forkd_req_header(&req, "x-empty", &len)); /* present, empty */
    assert_int_equal(len, 0);
    len = 99;
    assert_null(forkd_req_header(&req, "x-none", &len));
    assert_int_equal(len, 0);

    assert_int_equal(forkd_req_header_count(&req), 4);
    assert_int_equal(forkd_req_header_at(&req, 2, &name, &nlen, &value, &vlen), 0);
    assert_int_equal(nlen, 7);
    assert_memory_equal(name, "x-twice", 7); /* as sent */
    assert_int_equal(vlen, 3);
    assert_memory_equal(value, "two", 3);
    assert_int_equal(forkd_req_header_at(&req, 4, &name, &nlen, &value, &vlen), -1);
}

static void test_body_peer_id_server(void **state)
{
    http_header_t headers[8];
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
    forkd_server_t srv;
    req_t req;
    size_t len = 99;
    socklen_t slen = 0;
    (void)state;

    assert_int_equal(parse(&req, headers, 8, "POST / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    assert_null(forkd_req_body(&req, &len));
    assert_int_equal(len, 0);
    req.body = "abc";
    req.body_len = 3;
    assert_string_equal(forkd_req_body(&req, &len), "abc");
    assert_int_equal(len, 3);
    req.peer = (const struct sockaddr *)&in;
    req.peer_len = sizeof(in);
    assert_ptr_equal(forkd_req_peer(&req, &slen), &in);
    assert_int_equal(slen, sizeof(in));
    req.id = 42;
    assert_int_equal(forkd_req_id(&req), 42);
    assert_string_equal(forkd_req_request_id(&req), ""); /* conn_client.c decides it */
    strcpy(req.xid, "lb-7");
    assert_string_equal(forkd_req_request_id(&req), "lb-7");
    req.srv = &srv;
    assert_ptr_equal(forkd_req_server(&req), &srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line_parts),
        cmocka_unit_test(test_headers_by_name_and_in_order),
        cmocka_unit_test(test_body_peer_id_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
