/* test_realip: the client a chain of trusted proxies names, walked from the right. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "realip.h"

typedef struct {
    config_ip_header_t kind;
    const char *lines[3]; /* header lines "Name: value" as the parser would give them */
    const char *want;     /* the client's address as text, NULL for none found */
} case_t;

/* The address text of what realip_find() found in c, or NULL. */
static void check(const case_t *c, const char *trusted_text)
{
    net_cidr_t trusted[NET_MAX_CIDRS];
    char err[NET_ERR_LEN], text[INET6_ADDRSTRLEN];
    http_header_t headers[3];
    http_request_t req;
    realip_addr_t out;
    int n = net_parse_cidr_list(trusted_text, trusted, err), i, found;

    assert_true(n >= 0);
    memset(&req, 0, sizeof(req));
    req.headers = headers;
    for (i = 0; i < 3 && c->lines[i] != NULL; i++) {
        const char *colon = strchr(c->lines[i], ':');
        headers[i].name = (http_slice_t){c->lines[i], (size_t)(colon - c->lines[i])};
        headers[i].value = (http_slice_t){colon + 2, strlen(colon + 2)};
    }
    req.nheaders = (size_t)i;
    found = realip_find(&req, c->kind, trusted, n, &out);
    if (c->want == NULL) {
        assert_int_equal(found, 0);
        return;
    }
    assert_int_equal(found, 1);
    inet_ntop(out.family, out.addr, text, sizeof(text));
    assert_string_equal(text, c->want);
}

static void test_x_forwarded_for(void **state)
{
    static const case_t cases[] = {
        /* the nearest untrusted address is the client; what a client wrote left of it is not */
        {CONFIG_IP_XFF, {"X-Forwarded-For: 203.0.113.7"}, "203.0.113.7"},
        {CONFIG_IP_XFF, {"X-Forwarded-For: 6.6.6.6, 203.0.113.7"}, "203.0.113.7"},
        {CONFIG_IP_XFF, {"x-forwarded-for: 6.6.6.6,203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
        /* every one trusted: the leftmost */
        {CONFIG_IP_XFF, {"X-Forwarded-For: 10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
        /* several lines are one list, in order (HAProxy adds a line of its own) */
        {CONFIG_IP_XFF,
         {"X-Forwarded-For: 6.6.6.6", "Host: x", "X-Forwarded-For: 10.0.0.9"},
         "6.6.6.6"},
        {CONFIG_IP_XFF,
         {"X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 2001:db8::5"},
         "2001:db8::5"},
        /* garbage ends the walk at the address right of it */
        {CONFIG_IP_XFF, {"X-Forwarded-For: junk, 10.0.0.4"}, "10.0.0.4"},
        {CONFIG_IP_XFF, {"X-Forwarded-For: 1.2.3.4:80"}, NULL},
        {CONFIG_IP_XFF, {"X-Forwarded-For: unknown"}, NULL},
        {CONFIG_IP_XFF, {"X-Forwarded-For: "}, NULL},
        {CONFIG_IP_XFF, {"X-Forwarded-For: , ,203.0.113.7 ,"}, "203.0.113.7"},
        {CONFIG_IP_XFF, {"X-Real-IP: 203.0.113.7"}, NULL}, /* another header */
        /* X-Real-IP: one address, whatever it is */
        {CONFIG_IP_REAL_IP, {"X-Real-IP: 10.0.0.3"}, "10.0.0.3"},
        {CONFIG_IP_REAL_IP, {"X-Real-IP: 1.2.3.4, 5.6.7.8"}, NULL},
        /* Forwarded: for= nodes, quoted with a port or brackets */
        {CONFIG_IP_FORWARDED, {"Forwarded: for=203.0.113.7;proto=https"}, "203.0.113.7"},
        {CONFIG_IP_FORWARDED,
         {"Forwarded: for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"},
         "2001:db8:cafe::17"},
        {CONFIG_IP_FORWARDED,
         {"Forwarded: proto=http;FOR=\"203.0.113.7:80\", for=10.0.0.2"},
         "203.0.113.7"},
        {CONFIG_IP_FORWARDED, {"Forwarded: for=unknown, for=10.0.0.2"}, "10.0.0.2"},
        {CONFIG_IP_FORWARDED, {"Forwarded: for=_hidden"}, NULL},
        {CONFIG_IP_FORWARDED, {"Forwarded: for=[::1]"}, NULL}, /* brackets need quotes */
        {CONFIG_IP_FORWARDED, {"Forwarded: by=1.2.3.4"}, NULL},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check(&cases[i], "10.0.0.0/8");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
