/* test_httpdate: IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "httpdate.h"

static void test_format_rfc_example(void **state)
{
    char buf[HTTPDATE_LEN + 1];
    (void)state;
    httpdate_format(784111777, buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_parse_imf_fixdate(void **state)
{
    const char *s = "Sun, 06 Nov 1994 08:49:37 GMT";
    time_t t;
    (void)state;
    assert_int_equal(httpdate_parse(s, strlen(s), &t), 0);
    assert_int_equal(t, 784111777);
}

static void test_parse_rfc850(void **state)
{
    const char *s = "Sunday, 06-Nov-94 08:49:37 GMT";
    time_t t;
    (void)state;
    assert_int_equal(httpdate_parse(s, strlen(s), &t), 0);
    assert_int_equal(t, 784111777);
}

static void test_parse_asctime(void **state)
{
    const char *s = "Sun Nov  6 08:49:37 1994";
    time_t t;
    (void)state;
    assert_int_equal(httpdate_parse(s, strlen(s), &t), 0);
    assert_int_equal(t, 784111777);
}

static void test_parse_rejects_garbage(void **state)
{
    const char *bad[] = {"", "yesterday", "Sun, 06 Nov 1994 08:49:37",
                         "Sun, 06 Nov 1994 08:49:37 GMT x",
                         /* what strptime() let through (issue 14) */
                         "Sun, 1 Dec 2024 12:00:00 GMT", "Sunday, 10 March 2024 12:00:00 GMT",
                         "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06 November 1994 08:49:37 GMT",
                         "sun, 06 nov 1994 08:49:37 gmt", "Sun,  06 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
                         "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Nov 1994 08:49:37 GMT",
                         "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                         "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, +6 Nov 1994 08:49:37 GMT",
                         "Sun, 06-Nov-94 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
                         "Sunday, 6-Nov-94 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
                         "Sun Nov 06 08:49:37 94", "Sunday Nov  6 08:49:37 1994"};
    time_t t;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(httpdate_parse(bad[i], strlen(bad[i]), &t), -1);
    }
}

static void test_parse_obsolete_forms_edges(void **state)
{
    time_t t;
    (void)state;
    assert_int_equal(httpdate_parse("Sun Nov 06 08:49:37 1994", 24, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(httpdate_parse("Wednesday, 29-Feb-12 00:00:00 GMT", 33, &t), 0);
    assert_int_equal(t, 1330473600);
    assert_int_equal(httpdate_parse("Tue, 30 Jun 2015 23:59:60 GMT", 29, &t), 0); /* leap second */
}

static void test_round_trip(void **state)
{
    char buf[HTTPDATE_LEN + 1];
    time_t t;
    (void)state;
    httpdate_format(1795000000, buf);
    assert_int_equal(httpdate_parse(buf, strlen(buf), &t), 0);
    assert_int_equal(t, 1795000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_rfc_example),
        cmocka_unit_test(test_parse_imf_fixdate),
        cmocka_unit_test(test_parse_rfc850),
        cmocka_unit_test(test_parse_asctime),
        cmocka_unit_test(test_parse_rejects_garbage),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_obsolete_forms_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
