/* test_uri: percent-decoding and dot-segment removal of request paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uri.h"

static void expect_path(const char *in, const char *want)
{
    char out[256];
    int n = uri_normalize_path(in, strlen(in), out, sizeof(out));

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void expect_bad(const char *in)
{
    char out[256];

    assert_int_equal(uri_normalize_path(in, strlen(in), out, sizeof(out)), -1);
}

static void test_plain_paths_unchanged(void **state)
{
    (void)state;
    expect_path("/", "/");
    expect_path("/a/b.html", "/a/b.html");
    expect_path("/a/b/", "/a/b/");
}

static void test_dot_segments_removed(void **state)
{
    (void)state;
    expect_path("/a/./b", "/a/b");
    expect_path("/a/../b", "/b");
    expect_path("/a/b/..", "/a/");
    expect_path("/a/.", "/a/");
    expect_path("/a/b/../../c", "/c");
}

static void test_repeated_slashes_merged(void **state)
{
    (void)state;
    expect_path("//a///b//", "/a/b/");
}

static void test_percent_decoded(void **state)
{
    (void)state;
    expect_path("/a%20b", "/a b");
    expect_path("/%41%62", "/Ab");
    expect_path("/a%2fb", "/a/b");
}

static void test_above_root_rejected(void **state)
{
    (void)state;
    expect_bad("/..");
    expect_bad("/../etc/passwd");
    expect_bad("/a/../../etc");
}

static void test_encoded_traversal_rejected(void **state)
{
    (void)state;
    expect_bad("/%2e%2e/etc/passwd");
    expect_bad("/%2E%2E");
    expect_bad("/a/..%2f..%2fetc");
}

static void test_bad_escapes_rejected(void **state)
{
    (void)state;
    expect_bad("/%");
    expect_bad("/a%2");
    expect_bad("/%zz");
    expect_bad("/%00");
    expect_bad("/index.html%00.txt");
}

static void test_not_absolute_rejected(void **state)
{
    (void)state;
    expect_bad("");
    expect_bad("a/b");
}

static void test_output_too_small_rejected(void **state)
{
    char out[4];
    (void)state;
    assert_int_equal(uri_normalize_path("/abcdef", 7, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths_unchanged),
        cmocka_unit_test(test_dot_segments_removed),
        cmocka_unit_test(test_repeated_slashes_merged),
        cmocka_unit_test(test_percent_decoded),
        cmocka_unit_test(test_above_root_rejected),
        cmocka_unit_test(test_encoded_traversal_rejected),
        cmocka_unit_test(test_bad_escapes_rejected),
        cmocka_unit_test(test_not_absolute_rejected),
        cmocka_unit_test(test_output_too_small_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
