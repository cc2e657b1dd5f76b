/* test_net: listen addresses and CIDR allow lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

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

static void test_cidr_v4_mapped_entries_match_as_ipv4(void **state)
{
    static const struct {
        const char *entry;
        int bits;        /* of the IPv4 block it becomes */
        const char *in;  /* an IPv4 client inside it */
        const char *out; /* one outside, or NULL */
    } cases[] = {
        {"::ffff:127.0.0.1/128", 32, "127.0.0.1", "127.0.0.2"},
        {"::ffff:127.0.0.1", 32, "127.0.0.1", "128.0.0.1"},
        {"::ffff:10.0.0.0/104", 8, "10.200.3.4", "11.0.0.1"},
        {"::ffff:192.168.0.0/119", 23, "192.168.1.200", "192.168.2.1"},
        {"::ffff:0.0.0.0/96", 0, "203.0.113.9", NULL},
    };
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN], mapped[64];
    unsigned char v4[4], v6[16];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(net_parse_cidr_list(cases[i].entry, list, err), 1);
        assert_int_equal(list[0].family, AF_INET);
        assert_int_equal(list[0].bits, cases[i].bits);
        /* a client on an IPv4 socket, and the same client on a dual-stack [::] socket */
        inet_pton(AF_INET, cases[i].in, v4);
        assert_true(net_cidr_match(list, 1, AF_INET, v4));
        snprintf(mapped, sizeof(mapped), "::ffff:%s", cases[i].in);
        inet_pton(AF_INET6, mapped, v6);
        assert_true(net_cidr_match(list, 1, AF_INET6, v6));
        if (cases[i].out != NULL) {
            inet_pton(AF_INET, cases[i].out, v4);
            assert_false(net_cidr_match(list, 1, AF_INET, v4));
            snprintf(mapped, sizeof(mapped), "::ffff:%s", cases[i].out);
            inet_pton(AF_INET6, mapped, v6);
            assert_false(net_cidr_match(list, 1, AF_INET6, v6));
        }
    }
    /* ::1 is not mapped: it stays an IPv6 entry, and does not match 0.0.0.1 */
    assert_int_equal(net_parse_cidr_list("::1", list, err), 1);
    assert_int_equal(list[0].family, AF_INET6);
    inet_pton(AF_INET, "0.0.0.1", v4);
    assert_false(net_cidr_match(list, 1, AF_INET, v4));
}

static void test_cidr_short_v4_mapped_prefix_refused_with_reason(void **state)
{
    const char *bad[] = {"::ffff:0.0.0.0/95", "::ffff:127.0.0.1/64", "10.0.0.0/8 ::ffff:0:0/0"};
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(net_parse_cidr_list(bad[i], list, err), -1);
        assert_non_null(strstr(err, "IPv4-mapped prefix shorter than /96"));
    }
}

static void test_cidr_unix_client_matches_nothing(void **state)
{
    net_cidr_t list[NET_MAX_CIDRS];
    char err[NET_ERR_LEN];
    unsigned char none[16] = {0};
    (void)state;

    assert_int_equal(net_parse_cidr_list("0.0.0.0/0 ::/0", list, err), 2);
    assert_false(net_cidr_match(list, 2, AF_UNIX, none));
}

static void test_peer_text(void **state)
{
    static const struct {
        int family;
        const char *addr; /* for inet_pton, or NULL */
        const char *want;
    } cases[] = {
        {AF_INET, "127.0.0.1", "127.0.0.1"},
        {AF_INET6, "::1", "::1"},
        {AF_INET6, "::ffff:10.1.2.3", "::ffff:10.1.2.3"},
        {AF_UNIX, NULL, "unix:"},
        {AF_UNSPEC, NULL, "-"},
    };
    unsigned char addr[16];
    char buf[NET_PEER_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* the buffer holds a stack address's worth of garbage, as conn's did */
        memset(buf, 'x', sizeof(buf));
        memset(addr, 0xa5, sizeof(addr));
        if (cases[i].addr != NULL) {
            inet_pton(cases[i].family, cases[i].addr, addr);
        }
        assert_string_equal(net_peer_text(cases[i].family, addr, buf), cases[i].want);
    }
}

/* A sockaddr_un for path (len bytes of it, NULs included), and its socklen. */
static socklen_t unix_addr(struct sockaddr_storage *ss, const char *path, size_t len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;

    memset(ss, 0x5a, sizeof(*ss)); /* what follows the name must not be read */
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static void test_describe_addr(void **state)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    char buf[NET_DESCRIBE_LEN], full[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char want[sizeof(full) + 8];
    socklen_t len;
    (void)state;

    memset(&ss, 0, sizeof(ss));
    in4->sin_family = AF_INET;
    in4->sin_port = htons(8080);
    inet_pton(AF_INET, "127.0.0.1", &in4->sin_addr);
    assert_string_equal(net_describe_addr(&ss, sizeof(*in4), buf), "127.0.0.1:8080");

    memset(&ss, 0, sizeof(ss));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(8080);
    inet_pton(AF_INET6, "::1", &in6->sin6_addr);
    assert_string_equal(net_describe_addr(&ss, sizeof(*in6), buf), "[::1]:8080");

    len = unix_addr(&ss, "/run/forkd.sock", sizeof("/run/forkd.sock"));
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:/run/forkd.sock");
    /* a length without the trailing NUL (allowed by unix(7)) */
    len = unix_addr(&ss, "/run/forkd.sock", strlen("/run/forkd.sock"));
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:/run/forkd.sock");
    len = unix_addr(&ss, "\0forkd", 6);
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:@forkd");
    len = unix_addr(&ss, "", 0);
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:");
    len = unix_addr(&ss, "/tmp/a\nb\"", sizeof("/tmp/a\nb\""));
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:/tmp/a\\x0ab\\x22");
    len = unix_addr(&ss, "\0a\0b", 4);
    assert_string_equal(net_describe_addr(&ss, len, buf), "unix:@a\\x00b");

    /* a path that fills sun_path with no NUL: bounded by the struct, not by a NUL */
    memset(full, 'p', sizeof(full));
    len = unix_addr(&ss, full, sizeof(full));
    snprintf(want, sizeof(want), "unix:%.*s", (int)sizeof(full), full);
    assert_string_equal(net_describe_addr(&ss, len, buf), want);
    memset(full, '\n', sizeof(full));
    full[0] = '\0';
    len = unix_addr(&ss, full, sizeof(full));
    assert_int_equal(strlen(net_describe_addr(&ss, len, buf)),
                     strlen("unix:@") + 4 * (sizeof(full) - 1));

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNSPEC;
    assert_string_equal(net_describe_addr(&ss, sizeof(ss), buf), "-");
}

static void test_describe_listener(void **state)
{
    net_addr_t a;
    struct sockaddr_storage ss;
    char err[NET_ERR_LEN], buf[NET_DESCRIBE_LEN], want[64];
    socklen_t len;
    int fd;
    (void)state;

    assert_int_equal(net_parse_addr("127.0.0.1:0", &a, err), 0);
    fd = net_listen(&a, 4, 0, err);
    assert_true(fd >= 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", net_local_port(fd));
    assert_string_equal(net_describe_listener(fd, buf), want);
    close(fd);

    /* an abstract unix socket: no file to clean up */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    snprintf(want, sizeof(want), "%cforkd-test-net-%d", '\0', (int)getpid());
    len = unix_addr(&ss, want, 1 + strlen(want + 1));
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, 4), 0);
    snprintf(want, sizeof(want), "unix:@forkd-test-net-%d", (int)getpid());
    assert_string_equal(net_describe_listener(fd, buf), want);
    assert_int_equal(net_local_port(fd), -1); /* no port, not sun_path bytes */
    close(fd);

    assert_string_equal(net_describe_listener(-1, buf), "-");
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
        cmocka_unit_test(test_cidr_v4_mapped_entries_match_as_ipv4),
        cmocka_unit_test(test_cidr_short_v4_mapped_prefix_refused_with_reason),
        cmocka_unit_test(test_cidr_unix_client_matches_nothing),
        cmocka_unit_test(test_peer_text),
        cmocka_unit_test(test_describe_addr),
        cmocka_unit_test(test_describe_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
