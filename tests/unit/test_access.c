/* test_access: the dotfile rule and deny prefixes on normalised paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"

typedef struct {
    const char *path;
    const char *name; /* appended: an index file, a listing's entry */
    access_t want;
} access_case_t;

static void check_cases(const config_site_t *site, const access_case_t *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        access_t got = access_check(site, cases[i].path, strlen(cases[i].path), cases[i].name);
        if (got != cases[i].want) {
            fail_msg("%s + %s: got %d, want %d", cases[i].path,
                     cases[i].name ? cases[i].name : "(none)", (int)got, (int)cases[i].want);
        }
    }
}

static void test_dotfiles_refused_by_default(void **state)
{
    static const access_case_t cases[] = {
        {"/.git/config", NULL, ACCESS_DOTFILE},
        {"/.htpasswd", NULL, ACCESS_DOTFILE},
        {"/.git", NULL, ACCESS_DOTFILE},
        {"/.git/", NULL, ACCESS_DOTFILE},
        {"/a/.hidden/x", NULL, ACCESS_DOTFILE},
        {"/a/b/.env", NULL, ACCESS_DOTFILE},
        {"/a/", ".index.html", ACCESS_DOTFILE},
        {"/", ".htaccess", ACCESS_DOTFILE},
        {"/", "index.html", ACCESS_OK},
        {"/a.b/c.d", NULL, ACCESS_OK},
        {"/a./b", NULL, ACCESS_OK},
        {"/", NULL, ACCESS_OK},
        {"/file.", NULL, ACCESS_OK},
    };
    config_site_t site;

    (void)state;
    memset(&site, 0, sizeof(site));
    check_cases(&site, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_well_known_served(void **state)
{
    static const access_case_t cases[] = {
        {"/.well-known/acme-challenge/x", NULL, ACCESS_OK},
        {"/.well-known/", NULL, ACCESS_OK},
        {"/.well-known", NULL, ACCESS_OK},
        {"/.well-known/", "index.html", ACCESS_OK},
        {"/", ".well-known", ACCESS_OK}, /* in the root's listing */
        {"/.well-known/.secret", NULL, ACCESS_DOTFILE},
        {"/.well-known/a/", ".x", ACCESS_DOTFILE},
        {"/.well-knownx/y", NULL, ACCESS_DOTFILE},
        {"/.well-kno", NULL, ACCESS_DOTFILE},
        {"/a/.well-known/x", NULL, ACCESS_DOTFILE}, /* RFC 8615: at the root only */
    };
    config_site_t site;

    (void)state;
    memset(&site, 0, sizeof(site));
    check_cases(&site, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_dotfiles_allowed(void **state)
{
    static const access_case_t cases[] = {
        {"/.git/config", NULL, ACCESS_OK},
        {"/", ".htaccess", ACCESS_OK},
        {"/private/.x", NULL, ACCESS_DENIED},
    };
    config_site_t site;

    (void)state;
    memset(&site, 0, sizeof(site));
    site.dotfiles = 1;
    strcpy(site.deny, "/private/");
    check_cases(&site, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_deny_prefixes_on_segment_boundaries(void **state)
{
    static const access_case_t cases[] = {
        {"/private/", NULL, ACCESS_DENIED},
        {"/private", NULL, ACCESS_DENIED},
        {"/private/a/b.txt", NULL, ACCESS_DENIED},
        {"/private/", "index.html", ACCESS_DENIED},
        {"/", "private", ACCESS_DENIED}, /* a listing's entry */
        {"/privateer", NULL, ACCESS_OK},
        {"/Private/x", NULL, ACCESS_OK},
        {"/backup", NULL, ACCESS_DENIED},
        {"/backup/", NULL, ACCESS_DENIED},
        {"/backups", NULL, ACCESS_OK},
        {"/a/config.php", NULL, ACCESS_DENIED},
        {"/a/config.php.txt", NULL, ACCESS_OK},
        {"/a/", "config.php", ACCESS_DENIED},
        {"/a/", "config.ph", ACCESS_OK},
        {"/", NULL, ACCESS_OK},
        {"/pri", NULL, ACCESS_OK},
    };
    config_site_t site;

    (void)state;
    memset(&site, 0, sizeof(site));
    strcpy(site.deny, "/private/  /backup\t/a/config.php");
    check_cases(&site, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_deny_root_refuses_everything(void **state)
{
    static const access_case_t cases[] = {
        {"/", NULL, ACCESS_DENIED},
        {"/x", NULL, ACCESS_DENIED},
        {"/", "index.html", ACCESS_DENIED},
    };
    config_site_t site;

    (void)state;
    memset(&site, 0, sizeof(site));
    strcpy(site.deny, "/");
    check_cases(&site, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(access_reason(ACCESS_DOTFILE), "dotfile");
    assert_string_equal(access_reason(ACCESS_DENIED), "deny");
    assert_string_equal(access_reason(ACCESS_OK), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotfiles_refused_by_default),
        cmocka_unit_test(test_well_known_served),
        cmocka_unit_test(test_dotfiles_allowed),
        cmocka_unit_test(test_deny_prefixes_on_segment_boundaries),
        cmocka_unit_test(test_deny_root_refuses_everything),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
