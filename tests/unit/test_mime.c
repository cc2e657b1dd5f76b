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
    assert_string_equal(type_of(t, "index.html"), "text/html; charset=utf-8");
    assert_string_equal(type_of(t, "a.PNG"), "image/png");
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
    assert_string_equal(type_of(t, "a.html"), "text/html; charset=utf-8");
    mime_free(t);
}

static void test_many_types_grow_table(void **state)
{
    mime_table_t *t = mime_load("/etc/mime.types");
    (void)state;
    assert_non_null(t);
    assert_string_equal(type_of(t, "x.css"), "text/css; charset=utf-8");
    mime_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_without_file),
        cmocka_unit_test(test_unknown_is_octet_stream),
        cmocka_unit_test(test_reads_mime_types_file),
        cmocka_unit_test(test_many_types_grow_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
