/* Unit tests: vhost (Host to [site]) and cacherule ([cache PATTERN] to a file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cacherule.h"
#include "config.h"
#include "vhost.h"

static int setup(void **state)
{
    config_t *cfg = calloc(1, sizeof(*cfg));

    strcpy(cfg->sites[1].server_name, "a.example *.example.com");
    strcpy(cfg->sites[1].name, "one");
    strcpy(cfg->sites[2].server_name, "*.deep.example.com b.example.com");
    strcpy(cfg->sites[2].name, "two");
    cfg->nsites = 3;
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static int pick(const config_t *cfg, const char *host)
{
    return vhost_pick(cfg, host, vhost_host(host, strlen(host)));
}

static void test_host_without_port_and_dot(void **state)
{
    (void)state;
    assert_int_equal(vhost_host("a.example:8080", 14), 9);
    assert_int_equal(vhost_host("a.example.", 10), 9);
    assert_int_equal(vhost_host("[::1]:80", 8), 5);
    assert_int_equal(vhost_host("x", 1), 1);
}

static void test_exact_then_longest_wildcard(void **state)
{
    const config_t *cfg = *state;

    assert_int_equal(pick(cfg, "A.Example"), 1);
    assert_int_equal(pick(cfg, "x.example.com"), 1);
    assert_int_equal(pick(cfg, "x.deep.example.com:81"), 2);
    assert_int_equal(pick(cfg, "deep.example.com"), 1);
    assert_int_equal(pick(cfg, "b.example.com"), 2); /* exact beats *.example.com */
    assert_int_equal(pick(cfg, "example.com"), -1);  /* *.domain is not domain */
    assert_int_equal(pick(cfg, "xexample.com"), -1);
    assert_int_equal(pick(cfg, "other"), -1);
}

static void add_rule(config_t *cfg, const char *pattern, const char *site, const char *cc)
{
    config_cache_t *c = &cfg->cache_rules[cfg->ncache_rules++];

    strcpy(c->pattern, pattern);
    strcpy(c->site, site);
    strcpy(c->cache_control, cc);
    c->expires = -1;
}

static const char *rule(const config_t *cfg, const char *site, const char *path)
{
    const config_cache_t *c = cacherule_find(cfg, site, path, strlen(path));
    return c != NULL ? c->cache_control : "none";
}

static void test_cache_rule_precedence(void **state)
{
    config_t *cfg = *state;

    add_rule(cfg, "*.html", "", "no-cache");
    add_rule(cfg, "/assets/", "", "immutable");
    add_rule(cfg, "/assets/img/", "", "img");
    add_rule(cfg, "/assets/app.html", "", "exact");
    add_rule(cfg, "*.css", "two", "css-two");
    assert_string_equal(rule(cfg, "static", "/index.HTML"), "no-cache");
    assert_string_equal(rule(cfg, "static", "/assets/x.html"), "immutable");
    assert_string_equal(rule(cfg, "static", "/assets/img/a.png"), "img");
    assert_string_equal(rule(cfg, "static", "/assets/app.html"), "exact");
    assert_string_equal(rule(cfg, "static", "/assets"), "none");
    assert_string_equal(rule(cfg, "static", "/a.css"), "none");
    assert_string_equal(rule(cfg, "two", "/a.css"), "css-two");
    assert_string_equal(rule(cfg, "two", "/dir.html/file"), "none");
    assert_true(cacherule_site_has(cfg, "one"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_without_port_and_dot),
        cmocka_unit_test_setup_teardown(test_exact_then_longest_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_rule_precedence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
