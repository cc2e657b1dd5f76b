/*
 * test_byteranges: Range lists parsed, capped, sorted and merged, and the
 * texts and length of a multipart/byteranges body (server/byteranges.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "byteranges.h"

#define UNTOUCHED (-7)

/* "a-b,c-d" for r[0..n), into out; "" for none. */
static const char *show(const byterange_t *r, size_t n, char *out, size_t len)
{
    size_t i, at = 0;

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        at += (size_t)snprintf(out + at, len - at, "%s%lld-%lld", i ? "," : "",
                               (long long)r[i].first, (long long)r[i].last);
    }
    return out;
}

/* One field parsed with at most max ranges; r and n must stay untouched unless the answer is 1. */
static int parse(const char *v, int64_t size, unsigned max, char *got, size_t got_len)
{
    byterange_t r[BYTERANGES_MAX];
    size_t n = UNTOUCHED, i;
    int rc;

    for (i = 0; i < BYTERANGES_MAX; i++) {
        r[i].first = r[i].last = UNTOUCHED;
    }
    rc = byteranges_parse(v, strlen(v), size, max, r, &n);
    if (rc == 1) {
        assert_true(n >= 1 && n <= max);
        show(r, n, got, got_len);
    } else {
        assert_int_equal(n, UNTOUCHED);
        got[0] = '\0';
    }
    return rc;
}

/* What a single Range always got (the parser conditional.c had), with max_ranges 1. */
static void test_one_range(void **state)
{
    static const struct {
        const char *value;
        int64_t size;
        int want;
        const char *ranges;
    } cases[] = {
        {"bytes=0-0", 10, 1, "0-0"},
        {"bytes=2-5", 10, 1, "2-5"},
        {"BYTES=2-5", 10, 1, "2-5"},
        {"bytes=2-", 10, 1, "2-9"},
        {"bytes=2-100", 10, 1, "2-9"},
        {"bytes=-3", 10, 1, "7-9"},
        {"bytes=-30", 10, 1, "0-9"},
        {"bytes=9-9", 10, 1, "9-9"},
        {"bytes=10-", 10, -1, ""},
        {"bytes=10-20", 10, -1, ""},
        {"bytes=-0", 10, -1, ""},
        {"bytes=-5", 0, 0, ""}, /* satisfiable, nothing to send: 200, empty */
        {"bytes=0-", 0, -1, ""},
        {"bytes=5-2", 10, 0, ""},     /* last < first: ignored */
        {"bytes=0-1,3-4", 10, 0, ""}, /* more ranges than max: the whole file */
        {"bytes=", 10, 0, ""},
        {"bytes=-", 10, 0, ""},
        {"bytes=a-b", 10, 0, ""},
        {"bytes=1", 10, 0, ""},
        {"bytes= 1-2", 10, 0, ""},
        {"items=0-1", 10, 0, ""},
        {"bytes=1234567890123456789-", 10, 0, ""}, /* 19 digits: refused, not overflowed */
        {"bytes=123456789012345678-", 10, -1, ""}, /* 18 digits: a number */
        {"bytes=0-1234567890123456789", 10, 0, ""},
        {"bytes=-1234567890123456789", 10, 0, ""},
    };
    char got[64];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse(cases[i].value, cases[i].size, 1, got, sizeof(got));

        if (rc != cases[i].want || strcmp(got, cases[i].ranges) != 0) {
            fail_msg("%s on %lld bytes: %d \"%s\", want %d \"%s\"", cases[i].value,
                     (long long)cases[i].size, rc, got, cases[i].want, cases[i].ranges);
        }
    }
}

static void test_lists_sorted_and_merged(void **state)
{
    static const struct {
        const char *value;
        int64_t size;
        int want;
        const char *ranges;
    } cases[] = {
        {"bytes=0-1,5-6", 10, 1, "0-1,5-6"},
        {"bytes=5-6,0-1", 10, 1, "0-1,5-6"}, /* sorted */
        {"bytes=0-4,2-8", 10, 1, "0-8"},     /* overlapping: merged */
        {"bytes=0-4,5-8", 10, 1, "0-8"},     /* adjacent: merged */
        {"bytes=0-4,6-8", 10, 1, "0-4,6-8"}, /* a byte apart: two */
        {"bytes=2-3,0-9", 10, 1, "0-9"},     /* one within another */
        {"bytes=-3,0-1", 10, 1, "0-1,7-9"},
        {"bytes=0-,5-6", 10, 1, "0-9"},
        {"bytes=8-,-1", 10, 1, "8-9"},
        {"bytes=20-30,0-1", 10, 1, "0-1"}, /* the unsatisfiable one dropped */
        {"bytes=-0,3-3", 10, 1, "3-3"},
        {"bytes=20-30,40-", 10, -1, ""}, /* none satisfiable: 416 */
        {"bytes=10-,-0", 10, -1, ""},
        {"bytes=0-1,,  3-4", 10, 1, "0-1,3-4"}, /* empty elements and whitespace */
        {"bytes=,0-1", 10, 1, "0-1"},
        {"bytes=0-1 ,\t3-4", 10, 1, "0-1,3-4"},
        {"bytes=0-1,", 10, 1, "0-1"},
        {"bytes=0-1,x", 10, 0, ""}, /* one bad element spoils the list */
        {"bytes=0-1,5-2", 10, 0, ""},
        {"bytes=0-1;3-4", 10, 0, ""},
        {"bytes=0-1 3-4", 10, 0, ""},
        {"bytes=,", 10, 0, ""},
        {"bytes=0-1,-5", 0, 0, ""}, /* an empty file with a suffix: whole, empty */
        {"bytes=0-1,3-", 0, -1, ""},
    };
    char got[128];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse(cases[i].value, cases[i].size, 16, got, sizeof(got));

        if (rc != cases[i].want || strcmp(got, cases[i].ranges) != 0) {
            fail_msg("%s on %lld bytes: %d \"%s\", want %d \"%s\"", cases[i].value,
                     (long long)cases[i].size, rc, got, cases[i].want, cases[i].ranges);
        }
    }
}

/* "bytes=" and count copies of spec, comma-separated, into out. */
static const char *repeat(const char *spec, unsigned count, char *out, size_t len)
{
    size_t at = (size_t)snprintf(out, len, "bytes=");
    unsigned i;

    for (i = 0; i < count; i++) {
        at += (size_t)snprintf(out + at, len - at, "%s%s", i ? "," : "", spec);
    }
    return out;
}

static void test_max_counts_every_range_listed(void **state)
{
    char v[8192], got[128];
    (void)state;

    /* overlapping copies merge into one range, yet each one counts against max */
    assert_int_equal(parse(repeat("0-", 16, v, sizeof(v)), 10, 16, got, sizeof(got)), 1);
    assert_string_equal(got, "0-9");
    assert_int_equal(parse(repeat("0-", 17, v, sizeof(v)), 10, 16, got, sizeof(got)), 0);
    /* unsatisfiable ones count too: the cap bounds the work, not the answer */
    assert_int_equal(parse(repeat("50-60", 17, v, sizeof(v)), 10, 16, got, sizeof(got)), 0);
    assert_int_equal(parse(repeat("50-60", 16, v, sizeof(v)), 10, 16, got, sizeof(got)), -1);
    /* empty elements do not */
    assert_int_equal(parse("bytes=0-0,,,,1-1", 10, 2, got, sizeof(got)), 1);
    assert_string_equal(got, "0-1");
    /* max 0: ranges are off, even a single one */
    assert_int_equal(parse("bytes=0-0", 10, 0, got, sizeof(got)), 0);
}

/* The largest cap, full: one-byte ranges, every other byte, none merged. */
static void test_largest_cap_full(void **state)
{
    char v[8192], got[8192];
    size_t at = (size_t)snprintf(v, sizeof(v), "bytes=");
    unsigned i;
    (void)state;

    for (i = 0; i < BYTERANGES_MAX; i++) {
        at += (size_t)snprintf(v + at, sizeof(v) - at, "%s%u-%u", i ? "," : "", 2 * i, 2 * i);
    }
    assert_int_equal(parse(v, 2 * BYTERANGES_MAX, BYTERANGES_MAX, got, sizeof(got)), 1);
    assert_string_equal(got, v + 6); /* already sorted and apart: the list as sent */
}

/* Every prefix of a list parses to an answer (never past its end), as a cut field would. */
static void test_every_prefix(void **state)
{
    static const char v[] = "bytes=0-1, 5-, -3,,20-30 ,7-7";
    char got[128];
    size_t len;
    (void)state;

    for (len = 0; len <= sizeof(v) - 1; len++) {
        byterange_t r[16];
        size_t n = 0;
        char *cut = malloc(len > 0 ? len : 1); /* ASan sees a read past len */
        int rc;

        assert_non_null(cut);
        memcpy(cut, v, len);
        rc = byteranges_parse(cut, len, 10, 16, r, &n);
        assert_true(rc >= -1 && rc <= 1);
        free(cut);
    }
    assert_int_equal(parse(v, 10, 16, got, sizeof(got)), 1);
    assert_string_equal(got, "0-1,5-9");
}

static void test_multipart_texts_and_length(void **state)
{
    byterange_t r[2] = {{0, 1}, {5, 6}};
    char b[BYTERANGES_BOUNDARY_LEN + 1], t[BYTERANGES_TEXT_MAX], ctype[400];
    size_t n;
    uint64_t want;
    (void)state;

    byteranges_boundary(b, 0x0123456789abcdefu);
    assert_string_equal(b, "forkd-0123456789abcdef");
    assert_int_equal(strlen(b), BYTERANGES_BOUNDARY_LEN);

    n = byteranges_text(t, b, "text/plain", r, 2, 0, 10);
    want = n;
    t[n] = '\0';
    assert_string_equal(t, "--forkd-0123456789abcdef\r\nContent-Type: text/plain\r\n"
                           "Content-Range: bytes 0-1/10\r\n\r\n");
    n = byteranges_text(t, b, "text/plain", r, 2, 1, 10);
    want += n;
    t[n] = '\0';
    assert_string_equal(t, "\r\n--forkd-0123456789abcdef\r\nContent-Type: text/plain\r\n"
                           "Content-Range: bytes 5-6/10\r\n\r\n");
    n = byteranges_text(t, b, "text/plain", r, 2, 2, 10);
    want += n;
    t[n] = '\0';
    assert_string_equal(t, "\r\n--forkd-0123456789abcdef--\r\n");
    assert_int_equal(byteranges_body_len(b, "text/plain", r, 2, 10), want + 2 + 2);

    /* no Content-Type: none, nor one too long to send */
    n = byteranges_text(t, b, NULL, r, 2, 1, 10);
    t[n] = '\0';
    assert_string_equal(t, "\r\n--forkd-0123456789abcdef\r\nContent-Range: bytes 5-6/10\r\n\r\n");
    memset(ctype, 'a', sizeof(ctype) - 1);
    ctype[sizeof(ctype) - 1] = '\0';
    assert_int_equal(byteranges_text(t, b, ctype, r, 2, 1, 10), n);
    ctype[BYTERANGES_CTYPE_MAX] = '\0';
    assert_true(byteranges_text(t, b, ctype, r, 2, 1, 10) > n + BYTERANGES_CTYPE_MAX);
}

/* The longest text fits BYTERANGES_TEXT_MAX: the longest type, the largest numbers. */
static void test_longest_text_fits(void **state)
{
    byterange_t r[2] = {{INT64_MAX - 3, INT64_MAX - 2}, {INT64_MAX - 2, INT64_MAX - 1}};
    char b[BYTERANGES_BOUNDARY_LEN + 1], t[BYTERANGES_TEXT_MAX], ctype[BYTERANGES_CTYPE_MAX + 1];
    (void)state;

    byteranges_boundary(b, UINT64_MAX);
    memset(ctype, 'a', sizeof(ctype) - 1);
    ctype[sizeof(ctype) - 1] = '\0';
    assert_true(byteranges_text(t, b, ctype, r, 2, 1, INT64_MAX) < BYTERANGES_TEXT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_range),
        cmocka_unit_test(test_lists_sorted_and_merged),
        cmocka_unit_test(test_max_counts_every_range_listed),
        cmocka_unit_test(test_largest_cap_full),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_multipart_texts_and_length),
        cmocka_unit_test(test_longest_text_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
