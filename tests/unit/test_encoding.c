/* test_encoding: Accept-Encoding into the order of codings to try; gzip_types (server/encoding.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"

/* The order for the field's lines (NULL-ended; no line at all: no field) as "br,gzip,identity". */
static const char *order_of(const char *const *lines, char *buf, size_t len)
{
    encoding_accept_t a;
    encoding_t out[ENCODING_N];
    size_t at = 0;
    int n, i;

    encoding_init(&a);
    for (; *lines != NULL; lines++) {
        encoding_note(&a, *lines, strlen(*lines));
    }
    n = encoding_order(&a, out);
    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        const char *name = encoding_name(out[i]);
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", name ? name : "identity");
    }
    return buf;
}

static void test_order(void **state)
{
    static const struct {
        const char *value, *want;
    } cases[] = {
        {"", "identity"}, /* an empty field: no coding wanted */
        {"gzip", "gzip,identity"},
        {"gzip, deflate, br", "br,gzip,identity"}, /* equal q: br first */
        {"br;q=0.5, gzip", "gzip,br,identity"},
        {"gzip;q=0", "identity"},
        {"identity;q=0, gzip", "gzip,identity"}, /* refused identity still comes last */
        {"identity;q=0", "identity"},
        {"*", "br,gzip,identity"},
        {"*;q=0", "identity"},
        {"*;q=0, identity", "identity"},
        {"br;q=0, *", "gzip,identity"},
        {"*;q=0.3, gzip", "gzip,br,identity"},
        {"GZIP;Q=1.000", "gzip,identity"},
        {"x-gzip", "gzip,identity"},
        {"gzip;q=0.5, identity", "identity,gzip"},
        {"gzip;q=0.001", "gzip,identity"}, /* any q above 0 beats an unnamed identity */
        {"gzip;q=0.5, br;q=0.500", "br,gzip,identity"},
        {"gzip ;  q=0.2 ,br;q=0.1", "gzip,br,identity"},
        {"gzip;q=0, gzip", "identity"}, /* named twice: the first counts */
        {"deflate, compress", "identity"},
        {",, ,gzip,,", "gzip,identity"},
        /* elements that do not parse are skipped, the rest of the list counts */
        {"gzip;q=1.5, br", "br,identity"},
        {"gzip;q=1.01", "identity"},
        {"gzip;q=0.0001", "identity"},
        {"gzip;q=", "identity"},
        {"gzip;q=0.", "identity"},
        {"gzip;q=abc, br", "br,identity"},
        {"gzip;level=9, br", "br,identity"},
        {"gzip br", "identity"},
        {"@@, gzip", "gzip,identity"},
        {"gzip;q=0.5;q=1", "identity"},
    };
    char buf[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *lines[] = {cases[i].value, NULL};
        if (strcmp(order_of(lines, buf, sizeof(buf)), cases[i].want) != 0) {
            fail_msg("'%s': got %s, want %s", cases[i].value, buf, cases[i].want);
        }
    }
}

static void test_no_field_means_identity(void **state)
{
    const char *lines[] = {NULL};
    char buf[64];

    (void)state;
    assert_string_equal(order_of(lines, buf, sizeof(buf)), "identity");
}

static void test_lines_make_one_list(void **state)
{
    const char *lines[] = {"gzip;q=0.2", "br", NULL};
    const char *refused[] = {"gzip", "gzip;q=0", NULL}; /* the first line named it first */
    char buf[64];

    (void)state;
    assert_string_equal(order_of(lines, buf, sizeof(buf)), "br,gzip,identity");
    assert_string_equal(order_of(refused, buf, sizeof(buf)), "gzip,identity");
}

/* Every prefix of a list parses without reading past its length. */
static void test_every_prefix(void **state)
{
    static const char full[] = "br;q=0.9, gzip ; q=1.000, identity;q=0, *;q=0.1";
    encoding_accept_t a;
    encoding_t out[ENCODING_N];
    char copy[sizeof(full)];
    size_t len;

    (void)state;
    for (len = 0; len < sizeof(full); len++) {
        memcpy(copy, full, len);
        encoding_init(&a);
        encoding_note(&a, copy, len);
        assert_in_range(encoding_order(&a, out), 1, ENCODING_N);
    }
}

static void test_names_and_suffixes(void **state)
{
    (void)state;
    assert_string_equal(encoding_name(ENCODING_GZIP), "gzip");
    assert_string_equal(encoding_name(ENCODING_BR), "br");
    assert_null(encoding_name(ENCODING_IDENTITY));
    assert_string_equal(encoding_suffix(ENCODING_GZIP), ".gz");
    assert_string_equal(encoding_suffix(ENCODING_BR), ".br");
    assert_null(encoding_suffix(ENCODING_IDENTITY));
}

static void test_type_listed(void **state)
{
    static const struct {
        const char *types, *type;
        int want;
    } cases[] = {
        {"text/html text/css", "text/html; charset=utf-8", 1},
        {"text/html text/css", "text/css", 1},
        {"text/html", "text/htmlx", 0},
        {"text/htmlx", "text/html", 0},
        {"text/html", "image/png", 0},
        {"image/svg+xml", "IMAGE/SVG+XML", 1},
        {"text/*", "text/plain; charset=utf-8", 1},
        {"text/*", "textual/x", 0},
        {"text/*", "text/", 0},
        {"", "text/html", 0},
        {"  text/html  ", "text/html", 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (encoding_type_listed(cases[i].types, cases[i].type) != cases[i].want) {
            fail_msg("'%s' in '%s': want %d", cases[i].type, cases[i].types, cases[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_no_field_means_identity),
        cmocka_unit_test(test_lines_make_one_list),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_names_and_suffixes),
        cmocka_unit_test(test_type_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
