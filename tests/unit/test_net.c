/* test_net: listen addresses and CIDR allow lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "net.h"

static void test_ipv4_host_port(void **state)
{
    net_addr_t a;
    char err[NET_ERR_LEN];
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a.ss;
    (void)state;

    assert_int_equal(net_parse_addr("127.0.0.1:8080", &a, err), 0);
    assert_int_equal(in4->sin_family, AF_INET);
    assert_int_equal(ntohs(in4->sin_port), 8080);
    assert_int_equal(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
}

static void test_star_and_localhost(void **state)
{
    net_addr_t a;
    char err[NET_ERR_LEN];
    (void)state;

    assert_int_equal(net_parse_addr("*:80", &a, err), 0);
    assert_int_equal(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr, htonl(INADDR_ANY));
    assert_int_equal(net_parse_addr("localhost:0", &a, err), 0);
    assert_int_equal(ntohl(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr), INADDR_LOOPBACK);
}

static void test_ipv6_in_brackets(void **state)
{
    net_addr_t a;
    char err[NET_ERR_LEN];
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;
    (void)state;

    assert_int_equal(net_parse_addr("[::1]:443", &a, err), 0);
    assert_int_equal(in6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(in6->sin6_port), 443);
    assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

static void test_bad_addresses_refused(void **state)
{
    const char *bad[] = {"8080",         "127.0.0.1", "127.0.0.1:",   "127.0.0.1:65536",
                         "127.0.0.1:-1", "1.2.3:80",  "::1:80",       "[::1]80",
                         "[::1",         ":80",       "[nothost]:80", "127.0.0.1:8o"};
    net_addr_t a;
    char err[NET_ERR_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(net_parse_addr(bad[i], &a, err), -1);
        assert_true(err[0] != '\0');
    }
}

static void test_cidr_list_matches(void **state)
{
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN];
    unsigned char v4[4], v6[16];
    (void)state;

    assert_int_equal(net_parse_cidr_list("127.0.0.0/8  10.1.2.3 ::1/128 2001:db8::/32", list, err),
                     4);
    inet_pton(AF_INET, "127.9.9.9", v4);
    assert_true(net_cidr_match(list, 4, AF_INET, v4));
    inet_pton(AF_INET, "10.1.2.3", v4);
    assert_true(net_cidr_match(list, 4, AF_INET, v4));
    inet_pton(AF_INET, "10.1.2.4", v4);
    assert_false(net_cidr_match(list, 4, AF_INET, v4));
    inet_pton(AF_INET6, "2001:db8:ffff::1", v6);
    assert_true(net_cidr_match(list, 4, AF_INET6, v6));
    inet_pton(AF_INET6, "2001:db9::1", v6);
    assert_false(net_cidr_match(list, 4, AF_INET6, v6));
}

static void test_cidr_odd_prefix_and_v4_mapped(void **state)
{
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN];
    unsigned char v4[4], v6[16];
    (void)state;

    assert_int_equal(net_parse_cidr_list("192.168.0.0/23", list, err), 1);
    inet_pton(AF_INET, "192.168.1.200", v4);
    assert_true(net_cidr_match(list, 1, AF_INET, v4));
    inet_pton(AF_INET, "192.168.2.1", v4);
    assert_false(net_cidr_match(list, 1, AF_INET, v4));
    inet_pton(AF_INET6, "::ffff:192.168.1.7", v6); /* an IPv4 client on a v6 socket */
    assert_true(net_cidr_match(list, 1, AF_INET6, v6));
}

static void test_cidr_bad_lists_refused(void **state)
{
    const char *bad[] = {
        "10.0.0.0/33",
        "::1/129",
        "10.0.0.0/",
        "10.0.0.0/8x",
        "nothing",
        "10.0.0.0 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 "
        "10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.16" /* 17 entries */};
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(net_parse_cidr_list(bad[i], list, err), -1);
    }
    assert_int_equal(net_parse_cidr_list("", list, err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_host_port),
        cmocka_unit_test(test_star_and_localhost),
        cmocka_unit_test(test_ipv6_in_brackets),
        cmocka_unit_test(test_bad_addresses_refused),
        cmocka_unit_test(test_cidr_list_matches),
        cmocka_unit_test(test_cidr_odd_prefix_and_v4_mapped),
        cmocka_unit_test(test_cidr_bad_lists_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
