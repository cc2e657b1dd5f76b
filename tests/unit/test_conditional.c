/*
 * test_conditional: entity-tag lists, preconditions, If-Range (server/conditional.c);
 * the Range list itself: test_byteranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conditional.h"

#define ETAG "\"5f3e-1a2b\""
#define MTIME ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define MTIME_TEXT "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE_TEXT "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER_TEXT "Sun, 06 Nov 1994 08:49:38 GMT"

static http_slice_t text(const char *s)
{
    return (http_slice_t){s, strlen(s)};
}

static void test_etag_lists(void **state)
{
    static const struct {
        const char *list;
        int weak_ok, want;
    } cases[] = {
        {"*", 0, 1},
        {ETAG, 0, 1},
        {"\"other\", " ETAG, 0, 1},
        {"\"other\",," ETAG "  ", 1, 1},
        {"W/" ETAG, 0, 0}, /* strong comparison: a weak tag never matches */
        {"W/" ETAG, 1, 1},
        {"\"5f3e-1a2b", 1, 0},       /* unterminated */
        {"5f3e-1a2b", 1, 0},         /* not quoted */
        {"\"x\", bad, " ETAG, 1, 0}, /* unparsable from "bad" on */
        {"\"5F3E-1A2B\"", 1, 0},     /* case matters */
        {"", 1, 0},
        {"**", 1, 0},
    };
    static const char weak_tag[] = "W/" ETAG; /* a file changed within the last second */
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            conditional_etag_match(cases[i].list, strlen(cases[i].list), ETAG, cases[i].weak_ok),
            cases[i].want);
    }
    assert_true(conditional_etag_match(ETAG, strlen(ETAG), weak_tag, 1));
    assert_true(conditional_etag_match(weak_tag, strlen(weak_tag), weak_tag, 1));
    assert_false(conditional_etag_match(ETAG, strlen(ETAG), weak_tag, 0));
    assert_false(conditional_etag_match(weak_tag, strlen(weak_tag), weak_tag, 0));
}

static void test_note_keeps_first_of_each_name_any_case(void **state)
{
    conditional_t c;
    (void)state;

    conditional_init(&c, "\"b\"");
    conditional_note(&c, "Host", 4, "x", 1);
    conditional_note(&c, "If-Range", 8, "\"r\"", 3);
    conditional_note(&c, "if-range", 8, "\"s\"", 3);
    conditional_note(&c, "range", 5, "bytes=0-1", 9);
    conditional_note(&c, "If-None-Match", 13, "*", 1);
    conditional_note(&c, "If-Modified-Since", 17, MTIME_TEXT, strlen(MTIME_TEXT));
    conditional_note(&c, "If-Unmodified-Since", 19, "", 0);
    conditional_note(&c, "If-Matches", 10, "\"c\"", 3);
    assert_memory_equal(c.if_range.p, "\"r\"", 3);
    assert_int_equal(c.range.len, 9);
    assert_true(c.if_none_match.present);
    assert_true(c.if_none_match.matched);
    assert_int_equal(c.if_modified_since.len, strlen(MTIME_TEXT));
    /* present with an empty value is not absent */
    assert_non_null(c.if_unmodified_since.p);
    assert_int_equal(c.if_unmodified_since.len, 0);
}

static void test_note_ignores_other_fields(void **state)
{
    static const char *const names[] = {"Host",          "Rangee",       "Ranges",
                                        "If-Match-",     "If-Rang",      "If-None-Matc",
                                        "Content-Range", "Accept-Ranges"};
    conditional_t c, zero;
    size_t i;
    (void)state;

    conditional_init(&c, ETAG);
    conditional_init(&zero, ETAG);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        conditional_note(&c, names[i], strlen(names[i]), "\"v\"", 3);
    }
    assert_memory_equal(&c, &zero, sizeof(c));
}

/* One precondition case: the fields set (NULL: absent), GET/HEAD or not, the status. */
typedef struct {
    const char *if_match, *if_unmodified_since, *if_none_match, *if_modified_since;
    int get_or_head, want;
} precondition_case_t;

static void test_preconditions_in_rfc_order(void **state)
{
    static const precondition_case_t cases[] = {
        {NULL, NULL, NULL, NULL, 1, 0},
        {ETAG, NULL, NULL, NULL, 1, 0},
        {"\"other\"", NULL, NULL, NULL, 1, 412},
        {"W/" ETAG, NULL, NULL, NULL, 1, 412},
        /* If-Match present: If-Unmodified-Since is not looked at */
        {ETAG, BEFORE_TEXT, NULL, NULL, 1, 0},
        {NULL, BEFORE_TEXT, NULL, NULL, 1, 412},
        {NULL, MTIME_TEXT, NULL, NULL, 1, 0},
        {NULL, "yesterday", NULL, NULL, 1, 0}, /* a bad date is ignored */
        {NULL, NULL, ETAG, NULL, 1, 304},
        {NULL, NULL, "W/" ETAG, NULL, 1, 304}, /* weak comparison */
        {NULL, NULL, ETAG, NULL, 0, 412},      /* not GET or HEAD */
        {NULL, NULL, "*", NULL, 0, 412},
        {NULL, NULL, "\"other\"", NULL, 1, 0},
        /* If-None-Match present: If-Modified-Since is not looked at */
        {NULL, NULL, "\"other\"", AFTER_TEXT, 1, 0},
        {NULL, NULL, NULL, MTIME_TEXT, 1, 304},
        {NULL, NULL, NULL, AFTER_TEXT, 1, 304},
        {NULL, NULL, NULL, BEFORE_TEXT, 1, 0},
        {NULL, NULL, NULL, MTIME_TEXT, 0, 0}, /* only for GET and HEAD */
        {NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:37 UTC", 1, 0},
        {NULL, NULL, NULL, "Sun, 6 Nov 1994 08:49:37 GMT", 1, 0}, /* not a date: ignored */
        {NULL, NULL, NULL, "Sunday, 06 November 1994 08:49:37 GMT", 1, 0},
        /* If-Match fails before If-None-Match is looked at */
        {"\"other\"", NULL, ETAG, NULL, 1, 412},
        {ETAG, NULL, ETAG, NULL, 1, 304},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const precondition_case_t *k = &cases[i];
        conditional_t c;

        conditional_init(&c, ETAG);
        if (k->if_match != NULL) {
            conditional_note(&c, "If-Match", 8, k->if_match, strlen(k->if_match));
        }
        if (k->if_unmodified_since != NULL) {
            c.if_unmodified_since = text(k->if_unmodified_since);
        }
        if (k->if_none_match != NULL) {
            conditional_note(&c, "If-None-Match", 13, k->if_none_match, strlen(k->if_none_match));
        }
        if (k->if_modified_since != NULL) {
            c.if_modified_since = text(k->if_modified_since);
        }
        assert_int_equal(conditional_preconditions(&c, k->get_or_head, MTIME), k->want);
    }
}

/* The preconditions' answer for a field name sent on two lines, first then second. */
static int two_lines(const char *name, const char *first, const char *second)
{
    conditional_t c;

    conditional_init(&c, ETAG);
    conditional_note(&c, name, strlen(name), first, strlen(first));
    conditional_note(&c, name, strlen(name), second, strlen(second));
    return conditional_preconditions(&c, 1, MTIME);
}

/* RFC 9110 5.2: a list field sent on several lines is one list. */
static void test_list_fields_read_across_lines(void **state)
{
    (void)state;
    assert_int_equal(two_lines("If-Match", "\"xyz\"", ETAG), 0);
    assert_int_equal(two_lines("If-Match", "\"a\"", "\"b\""), 412);
    assert_int_equal(two_lines("If-None-Match", "\"xyz\"", "W/" ETAG), 304);
    assert_int_equal(two_lines("if-none-match", "\"xyz\", " ETAG, "\"abc\""), 304);
    /* a line that does not parse spoils what follows, as in one list */
    assert_int_equal(two_lines("If-None-Match", "bad", ETAG), 0);
}

static void test_if_range(void **state)
{
    (void)state;
    assert_true(conditional_if_range_ok(ETAG, strlen(ETAG), ETAG, MTIME));
    assert_false(conditional_if_range_ok("\"other\"", 7, ETAG, MTIME));
    assert_false(conditional_if_range_ok("W/" ETAG, strlen("W/" ETAG), ETAG, MTIME));
    assert_true(conditional_if_range_ok(MTIME_TEXT, strlen(MTIME_TEXT), ETAG, MTIME));
    assert_false(conditional_if_range_ok(AFTER_TEXT, strlen(AFTER_TEXT), ETAG, MTIME));
    assert_false(conditional_if_range_ok("", 0, ETAG, MTIME));
    /* a weak tag of ours (a file changed within the last second) never lets a range through */
    assert_false(conditional_if_range_ok("W/" ETAG, strlen("W/" ETAG), "W/" ETAG, MTIME));
}

static void test_range_follows_if_range(void **state)
{
    conditional_t c;
    byterange_t r[4];
    size_t n = 0;
    (void)state;

    conditional_init(&c, ETAG);
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 0);
    c.range = text("bytes=1-2");
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].first, 1);
    assert_int_equal(r[0].last, 2);
    c.if_range = text("\"old\"");
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 0);
    c.if_range = text(MTIME_TEXT);
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 1);
    c.range = text("bytes=20-");
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), -1);
    /* a current If-Range lets a list through as well; a stale one sends it all */
    c.range = text("bytes=0-1,4-5");
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 1);
    assert_int_equal(n, 2);
    c.if_range = text(AFTER_TEXT);
    assert_int_equal(conditional_range(&c, 10, MTIME, 4, r, &n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_lists),
        cmocka_unit_test(test_note_keeps_first_of_each_name_any_case),
        cmocka_unit_test(test_note_ignores_other_fields),
        cmocka_unit_test(test_list_fields_read_across_lines),
        cmocka_unit_test(test_preconditions_in_rfc_order),
        cmocka_unit_test(test_if_range),
        cmocka_unit_test(test_range_follows_if_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
