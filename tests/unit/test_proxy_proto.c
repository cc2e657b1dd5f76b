/* test_proxy_proto: the PROXY protocol header parser, v1 and v2, good, broken and cut short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "proxy_proto.h"

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define MAX 4096

/* A v2 header: ver/cmd, fam, then body (len bytes), in out; returns its length. */
static size_t v2(char *out, unsigned char vc, unsigned char fam, const char *body, size_t len)
{
    memcpy(out, V2_SIG, 12);
    out[12] = (char)vc;
    out[13] = (char)fam;
    out[14] = (char)(len >> 8);
    out[15] = (char)(len & 0xff);
    memcpy(out + 16, body, len);
    return 16 + len;
}

/*
 * Every proper prefix of a good header says "need more" (never bad, never a
 * length), and the whole, followed by a request, says its length.
 */
static void expect_good(const char *buf, size_t len, proxy_header_t *out)
{
    char with_rest[MAX];
    size_t i;

    for (i = 0; i < len; i++) {
        assert_int_equal(proxy_parse(buf, i, MAX, out), PROXY_NEED_MORE);
    }
    memcpy(with_rest, buf, len);
    memcpy(with_rest + len, "GET / HTTP/1.1\r\n", 16);
    assert_int_equal(proxy_parse(with_rest, len + 16, MAX, out), (ssize_t)len);
}

static void test_v1_tcp4(void **state)
{
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    proxy_header_t out;
    (void)state;

    expect_good(h, strlen(h), &out);
    assert_int_equal(out.version, 1);
    assert_int_equal(out.family, AF_INET);
    assert_memory_equal(out.src, "\xc0\x00\x02\x01", 4);
    assert_memory_equal(out.dst, "\xc6\x33\x64\x02", 4);
    assert_int_equal(out.src_port, 56324);
    assert_int_equal(out.dst_port, 443);
}

static void test_v1_tcp6(void **state)
{
    const char *h = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
    proxy_header_t out;
    (void)state;

    expect_good(h, strlen(h), &out);
    assert_int_equal(out.family, AF_INET6);
    assert_memory_equal(out.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    assert_int_equal(out.src_port, 0);
    assert_int_equal(out.dst_port, 65535);
}

static void test_v1_unknown(void **state)
{
    const char *h1 = "PROXY UNKNOWN\r\n";
    const char *h2 = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    proxy_header_t out;
    (void)state;

    expect_good(h1, strlen(h1), &out);
    assert_int_equal(out.family, AF_UNSPEC);
    expect_good(h2, strlen(h2), &out);
    assert_int_equal(out.family, AF_UNSPEC);
}

static void test_v1_longest_line(void **state)
{
    /* the spec's worst case: 107 bytes */
    const char *h = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    proxy_header_t out;
    (void)state;

    assert_int_equal(strlen(h), PROXY_V1_MAX);
    expect_good(h, strlen(h), &out);
}

static void test_v1_bad(void **state)
{
    static const char *const cases[] = {
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",    /* LF alone */
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 \r\n", /* trailing space */
        "PROXY TCP4  192.0.2.1 198.51.100.2 56324 443\r\n", /* double space */
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",      /* a field missing */
        "PROXY TCP4 ::1 ::1 1 2\r\n",                       /* v6 under TCP4 */
        "PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n",           /* v4 under TCP6 */
        "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",  /* port out of range */
        "PROXY TCP4 192.0.2.1 198.51.100.2 080 443\r\n",    /* leading zero */
        "PROXY TCP4 192.0.2.1 198.51.100.2 +80 443\r\n",    /* sign */
        "PROXY UDP4 192.0.2.1 198.51.100.2 80 443\r\n",     /* protocol */
        "PROXY tcp4 192.0.2.1 198.51.100.2 80 443\r\n",     /* case */
        "PROXY TCP4 192.0.2.1\r198.51.100.2 80 443\r\n",    /* CR inside */
        "PROXY UNKNOWNX\r\n",
        "PROXY \r\n",
        "proxy TCP4 192.0.2.1 198.51.100.2 80 443\r\n",
        "GET / HTTP/1.1\r\n", /* no header at all */
    };
    proxy_header_t out;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(proxy_parse(cases[i], strlen(cases[i]), MAX, &out), PROXY_BAD);
        assert_non_null(out.reason);
    }
    /* the start of a v2 signature, then a wrong byte */
    assert_int_equal(proxy_parse("\r\n\r\n\0X", 6, MAX, &out), PROXY_BAD);
}

static void test_v1_too_long(void **state)
{
    char buf[200];
    proxy_header_t out;
    (void)state;

    memcpy(buf, "PROXY UNKNOWN ", 14);
    memset(buf + 14, 'a', sizeof(buf) - 14);
    assert_int_equal(proxy_parse(buf, PROXY_V1_MAX - 1, MAX, &out), PROXY_NEED_MORE);
    assert_int_equal(proxy_parse(buf, PROXY_V1_MAX, MAX, &out), PROXY_BAD);
    assert_int_equal(proxy_parse(buf, sizeof(buf), MAX, &out), PROXY_BAD);
    /* a CRLF at byte 108 is too late */
    buf[PROXY_V1_MAX - 1] = '\r';
    buf[PROXY_V1_MAX] = '\n';
    assert_int_equal(proxy_parse(buf, sizeof(buf), MAX, &out), PROXY_BAD);
}

static void test_v2_tcp4_with_tlvs(void **state)
{
    /* addresses, ports, then a PP2_TYPE_ALPN TLV and a NOOP: skipped */
    const char body[] = "\xc0\x00\x02\x01"
                        "\xc6\x33\x64\x02"
                        "\xdc\x04\x01\xbb"
                        "\x01\x00\x02h2"
                        "\x04\x00\x01\x00";
    char h[128];
    size_t len = v2(h, 0x21, 0x11, body, sizeof(body) - 1);
    proxy_header_t out;
    (void)state;

    expect_good(h, len, &out);
    assert_int_equal(out.version, 2);
    assert_int_equal(out.local, 0);
    assert_int_equal(out.family, AF_INET);
    assert_memory_equal(out.src, "\xc0\x00\x02\x01", 4);
    assert_int_equal(out.src_port, 56324);
    assert_int_equal(out.dst_port, 443);
}

static void test_v2_tcp6(void **state)
{
    char body[36] = {0};
    char h[128];
    size_t len;
    proxy_header_t out;
    (void)state;

    body[0] = 0x20;
    body[1] = 0x01;
    body[15] = 7;
    body[31] = 1;
    body[32] = 0x30;
    body[33] = 0x39;
    body[35] = 80;
    len = v2(h, 0x21, 0x21, body, sizeof(body));
    expect_good(h, len, &out);
    assert_int_equal(out.family, AF_INET6);
    assert_int_equal(out.src[0], 0x20);
    assert_int_equal(out.src[15], 7);
    assert_int_equal(out.src_port, 12345);
    assert_int_equal(out.dst_port, 80);
}

static void test_v2_local_unspec_unix_dgram(void **state)
{
    char h[300], body[216] = {0};
    size_t len;
    proxy_header_t out;
    (void)state;

    len = v2(h, 0x20, 0x00, "", 0); /* LOCAL, UNSPEC: HAProxy's health check */
    expect_good(h, len, &out);
    assert_int_equal(out.local, 1);
    assert_int_equal(out.family, AF_UNSPEC);
    len = v2(h, 0x20, 0x11, body, 12); /* LOCAL with addresses: they are not the client */
    expect_good(h, len, &out);
    assert_int_equal(out.family, AF_UNSPEC);
    len = v2(h, 0x21, 0x00, "", 0); /* PROXY, UNSPEC */
    expect_good(h, len, &out);
    assert_int_equal(out.local, 0);
    assert_int_equal(out.family, AF_UNSPEC);
    len = v2(h, 0x21, 0x31, body, sizeof(body)); /* unix stream */
    expect_good(h, len, &out);
    assert_int_equal(out.family, AF_UNSPEC);
    len = v2(h, 0x21, 0x12, body, 12); /* UDP */
    expect_good(h, len, &out);
    assert_int_equal(out.family, AF_UNSPEC);
}

static void test_v2_bad(void **state)
{
    static const unsigned char vc_fam[][2] = {
        {0x11, 0x11}, /* version 1 in binary */
        {0x31, 0x11}, /* version 3 */
        {0x22, 0x11}, /* command 2 */
        {0x21, 0x41}, /* family 4 */
        {0x21, 0x13}, /* transport 3 */
        {0x21, 0x10}, /* INET with UNSPEC transport */
        {0x21, 0x01}, /* UNSPEC family with STREAM */
    };
    char h[128], body[12] = {0};
    proxy_header_t out;
    size_t i, len;
    (void)state;

    for (i = 0; i < sizeof(vc_fam) / sizeof(vc_fam[0]); i++) {
        len = v2(h, vc_fam[i][0], vc_fam[i][1], body, sizeof(body));
        assert_int_equal(proxy_parse(h, len, MAX, &out), PROXY_BAD);
    }
    /* addresses longer than the length says */
    len = v2(h, 0x21, 0x11, body, 11);
    assert_int_equal(proxy_parse(h, len, MAX, &out), PROXY_BAD);
    len = v2(h, 0x21, 0x21, body, 12);
    assert_int_equal(proxy_parse(h, len, MAX, &out), PROXY_BAD);
    /* a signature off by one byte */
    len = v2(h, 0x21, 0x11, body, sizeof(body));
    h[11] = 'X';
    assert_int_equal(proxy_parse(h, len, MAX, &out), PROXY_BAD);
}

static void test_v2_longer_than_max(void **state)
{
    char h[16];
    proxy_header_t out;
    (void)state;

    v2(h, 0x21, 0x11, "", 0);
    h[14] = (char)0xff; /* 65280 bytes announced */
    assert_int_equal(proxy_parse(h, sizeof(h), MAX, &out), PROXY_BAD);
    h[14] = 0;
    h[15] = 100; /* 116 in all */
    assert_int_equal(proxy_parse(h, sizeof(h), 116, &out), PROXY_NEED_MORE);
    assert_int_equal(proxy_parse(h, sizeof(h), 115, &out), PROXY_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_tcp4),
        cmocka_unit_test(test_v1_tcp6),
        cmocka_unit_test(test_v1_unknown),
        cmocka_unit_test(test_v1_longest_line),
        cmocka_unit_test(test_v1_bad),
        cmocka_unit_test(test_v1_too_long),
        cmocka_unit_test(test_v2_tcp4_with_tlvs),
        cmocka_unit_test(test_v2_tcp6),
        cmocka_unit_test(test_v2_local_unspec_unix_dgram),
        cmocka_unit_test(test_v2_bad),
        cmocka_unit_test(test_v2_longer_than_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
