/* test_router: exact and prefix routes, the Allow header text (server/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

#define GET_HEAD (HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD))

static int handler_a(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    (void)req;
    (void)resp;
    (void)self;
    return FORKD_DONE;
}

/* The self of the route matched for path, or NULL when none is. */
static const char *match(const router_t *r, const char *path)
{
    const route_t *rt = router_match(r, path, strlen(path));

    return rt != NULL ? rt->self : NULL;
}

static void test_exact_and_longest_prefix(void **state)
{
    router_t r;
    (void)state;

    memset(&r, 0, sizeof(r));
    assert_int_equal(router_add(&r, "/", ROUTE_PREFIX, GET_HEAD, handler_a, "root"), 0);
    assert_int_equal(router_add(&r, "/a/", ROUTE_PREFIX, GET_HEAD, handler_a, "a-prefix"), 0);
    assert_int_equal(router_add(&r, "/a/b/", ROUTE_PREFIX, GET_HEAD, handler_a, "ab-prefix"), 0);
    assert_int_equal(router_add(&r, "/a/x", ROUTE_EXACT, GET_HEAD, handler_a, "ax"), 0);
    assert_string_equal(match(&r, "/"), "root");
    assert_string_equal(match(&r, "/index.html"), "root");
    assert_string_equal(match(&r, "/a/"), "a-prefix");
    assert_string_equal(match(&r, "/a/y"), "a-prefix");
    assert_string_equal(match(&r, "/a/b/c"), "ab-prefix");
    assert_string_equal(match(&r, "/a/x"), "ax"); /* exact beats any prefix */
    assert_string_equal(match(&r, "/a/xy"), "a-prefix");
    assert_string_equal(match(&r, "/a"), "root"); /* "/a/" is not a prefix of "/a" */
}

static void test_longest_prefix_whatever_the_order(void **state)
{
    router_t r;
    (void)state;

    memset(&r, 0, sizeof(r));
    assert_int_equal(router_add(&r, "/a/b/", ROUTE_PREFIX, GET_HEAD, handler_a, "ab-prefix"), 0);
    assert_int_equal(router_add(&r, "/a/", ROUTE_PREFIX, GET_HEAD, handler_a, "a-prefix"), 0);
    assert_int_equal(router_add(&r, "/", ROUTE_PREFIX, GET_HEAD, handler_a, "root"), 0);
    assert_string_equal(match(&r, "/a/b/c"), "ab-prefix");
    assert_string_equal(match(&r, "/a/c"), "a-prefix");
    assert_string_equal(match(&r, "/c"), "root");
}

static void test_exact_route_alone(void **state)
{
    router_t r;
    const route_t *rt;
    (void)state;

    memset(&r, 0, sizeof(r));
    assert_int_equal(router_add(&r, "/status", ROUTE_EXACT, GET_HEAD, handler_a, "s"), 0);
    assert_null(match(&r, "/"));
    assert_null(match(&r, "/status/"));
    assert_null(match(&r, "/statu"));
    rt = router_match(&r, "/status", 7);
    assert_non_null(rt);
    assert_ptr_equal(rt->fn, handler_a);
    assert_int_equal(rt->methods, GET_HEAD);
    assert_int_equal(rt->len, 7);
    /* only len bytes of path count */
    assert_non_null(router_match(&r, "/status/x", 7));
}

static void test_full_router_refuses(void **state)
{
    static char paths[ROUTER_MAX + 1][16];
    router_t r;
    int i;
    (void)state;

    memset(&r, 0, sizeof(r));
    for (i = 0; i < ROUTER_MAX; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/r%d", i);
        assert_int_equal(router_add(&r, paths[i], ROUTE_EXACT, GET_HEAD, handler_a, NULL), 0);
    }
    assert_int_equal(router_add(&r, "/more", ROUTE_EXACT, GET_HEAD, handler_a, NULL), -1);
    assert_int_equal(r.n, ROUTER_MAX);
    assert_null(match(&r, "/more"));
}

static void test_allow_lists_methods_and_options(void **state)
{
    char buf[128];
    (void)state;

    router_allow(GET_HEAD, buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, OPTIONS");
    router_allow(HTTP_METHOD_BIT(HTTP_METHOD_POST) | HTTP_METHOD_BIT(HTTP_METHOD_PUT), buf,
                 sizeof(buf));
    assert_string_equal(buf, "POST, PUT, OPTIONS");
    router_allow(0, buf, sizeof(buf));
    assert_string_equal(buf, "OPTIONS");
    /* too small: what fits, NUL-terminated (here the first two names) */
    router_allow(GET_HEAD, buf, 10);
    assert_string_equal(buf, "GET, HEAD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_longest_prefix),
        cmocka_unit_test(test_longest_prefix_whatever_the_order),
        cmocka_unit_test(test_exact_route_alone),
        cmocka_unit_test(test_full_router_refuses),
        cmocka_unit_test(test_allow_lists_methods_and_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
