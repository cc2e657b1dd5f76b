/* test_escape: client bytes escaped for log lines and JSON strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

static void expect_escaped(const char *in, size_t len, const char *want)
{
    char out[256];
    char *end = escape_bytes(out, in, len);

    assert_true((size_t)(end - out) <= ESCAPE_MAX(len));
    *end = '\0';
    assert_string_equal(out, want);
}

static void test_printable_bytes_unchanged(void **state)
{
    (void)state;
    expect_escaped("GET /a?b=c HTTP/1.1", 19, "GET /a?b=c HTTP/1.1");
}

static void test_line_breaks_quotes_and_high_bytes_escaped(void **state)
{
    (void)state;
    expect_escaped("a\nb\r\"\\\x7f\xff", 8, "a\\x0ab\\x0d\\x22\\x5c\\x7f\\xff");
    expect_escaped("\0x", 2, "\\x00x");
    expect_escaped("\x1b[31m", 5, "\\x1b[31m");
}

static void test_escape_str_stops_before_overflow(void **state)
{
    char out[8];
    (void)state;

    /* "ab" + "\x0a" = 6 bytes; the next "\x0a" would need 4 more */
    assert_string_equal(escape_str(out, sizeof(out), "ab\n\n", 4), "ab\\x0a");
    assert_string_equal(escape_str(out, sizeof(out), "abcdefghij", 10), "abcdefg");
    assert_string_equal(escape_str(out, 1, "abc", 3), "");
}

static void test_json_escapes_controls_quotes_and_high_bytes(void **state)
{
    char out[64], *end;
    (void)state;

    end = escape_json(out, "GET /a\"b\\c\n\x7f\xe9<", 14);
    assert_true((size_t)(end - out) <= ESCAPE_JSON_MAX(14));
    *end = '\0';
    assert_string_equal(out, "GET /a\\u0022b\\u005cc\\u000a\\u007f\\u00e9<");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_bytes_unchanged),
        cmocka_unit_test(test_line_breaks_quotes_and_high_bytes_escaped),
        cmocka_unit_test(test_escape_str_stops_before_overflow),
        cmocka_unit_test(test_json_escapes_controls_quotes_and_high_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
