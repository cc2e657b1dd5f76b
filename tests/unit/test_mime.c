/* test_mime: extension lookups, built-in types, mime.types parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mime.h"

static const char *type_of(const mime_table_t *t, const char *name)
{
    return mime_type(t, name, strlen(name));
}

static void test_builtin_without_file(void **state)
{
    mime_table_t *t = mime_load(NULL);
    (void)state;
    assert_non_null(t);
    assert_string_equal(type_of(t, "index.html"), "text/html");
    assert_string_equal(type_of(t, "a.PNG"), "image/png");
    mime_free(t);
}

/* [mime] lines replace and add types; the charset goes on text types only, once. */
static void test_overrides_and_charset(void **state)
{
    mime_table_t *t = mime_load(NULL);
    (void)state;
    assert_int_equal(mime_set(t, "md", "text/markdown"), 0);
    assert_int_equal(mime_set(t, "HTML", "application/xhtml+xml"), 0);
    assert_int_equal(mime_set(t, "dat", "text/plain; charset=latin1"), 0);
    assert_int_equal(mime_add_charset(t, "utf-8"), 0);
    assert_string_equal(type_of(t, "a.md"), "text/markdown; charset=utf-8");
    assert_string_equal(type_of(t, "a.html"), "application/xhtml+xml; charset=utf-8");
    assert_string_equal(type_of(t, "a.css"), "text/css; charset=utf-8");
    assert_string_equal(type_of(t, "a.dat"), "text/plain; charset=latin1");
    assert_string_equal(type_of(t, "a.png"), "image/png");
    assert_string_equal(type_of(t, "a.json"), "application/json");
    mime_free(t);
}

static void test_unknown_is_octet_stream(void **state)
{
    mime_table_t *t = mime_load(NULL);
    (void)state;
    assert_string_equal(type_of(t, "file.nosuchext"), "application/octet-stream");
    assert_string_equal(type_of(t, "noext"), "application/octet-stream");
    assert_string_equal(type_of(t, "trailingdot."), "application/octet-stream");
    assert_string_equal(type_of(t, "dir.d/noext"), "application/octet-stream");
    mime_free(t);
}

static void test_reads_mime_types_file(void **state)
{
    char path[] = "/tmp/test_mime_XXXXXX";
    int fd = mkstemp(path);
    FILE *fp;
    mime_table_t *t;
    (void)state;

    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    fputs("# comment\napplication/x-forkd\tfkd fkd2\n\ntext/x-other  oth # trailing\n"
          "text/plain html\n",
          fp);
    fclose(fp);
    t = mime_load(path);
    unlink(path);
    assert_non_null(t);
    assert_string_equal(type_of(t, "a.fkd"), "application/x-forkd");
    assert_string_equal(type_of(t, "a.FKD2"), "application/x-forkd");
    assert_string_equal(type_of(t, "a.oth"), "text/x-other");
    /* built-ins win for the web's common types */
    assert_string_equal(type_of(t, "a.html"), "text/html");
    mime_free(t);
}

static void test_many_types_grow_table(void **state)
{
    mime_table_t *t = mime_load("/etc/mime.types");
    (void)state;
    assert_non_null(t);
    assert_int_equal(mime_add_charset(t, "utf-8"), 0);
    assert_string_equal(type_of(t, "x.css"), "text/css; charset=utf-8");
    assert_string_equal(type_of(t, "x.csv"), "text/csv; charset=utf-8");
    mime_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_without_file),
        cmocka_unit_test(test_overrides_and_charset),
        cmocka_unit_test(test_unknown_is_octet_stream),
        cmocka_unit_test(test_reads_mime_types_file),
        cmocka_unit_test(test_many_types_grow_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
