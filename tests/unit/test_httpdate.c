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
                         "Sun, 06 Nov 1994 08:49:37 GMT x"};
    time_t t;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(httpdate_parse(bad[i], strlen(bad[i]), &t), -1);
    }
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
        cmocka_unit_test(test_format_rfc_example),    cmocka_unit_test(test_parse_imf_fixdate),
        cmocka_unit_test(test_parse_rfc850),          cmocka_unit_test(test_parse_asctime),
        cmocka_unit_test(test_parse_rejects_garbage), cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
