/* realip: the client named by a trusted proxy's X-Forwarded-For, X-Real-IP or Forwarded. */
#include "realip.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char *const header_names[] = {"X-Forwarded-For", "X-Real-IP", "Forwarded"};

/* s[0..len) is a bare IPv4 or IPv6 address: into *out. 0 ok, -1 not an address. */
static int parse_addr(const char *s, size_t len, realip_addr_t *out)
{
    char text[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return -1;
}

/* Trim spaces and tabs around s[0..*len). */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t')) {
        (*len)--;
    }
    return s;
}

/* A port after an address: ":digits" (1..5 of them) is all of s[0..len). */
static int is_port(const char *s, size_t len)
{
    size_t i;

    if (len < 2 || len > 6 || s[0] != ':') {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/*
 * A Forwarded element ("for=...;proto=...;by=..."): its for= node as an
 * address. The node is a token or a quoted string: "1.2.3.4", "1.2.3.4:80",
 * "[v6]" or "[v6]:80" (brackets only quoted, as RFC 7239 requires of a
 * colon). 0 ok, -1 none or not an address ("unknown", "_hidden").
 */
static int forwarded_for(const char *s, size_t len, realip_addr_t *out)
{
    const char *end = s + len, *pair, *semi, *v, *colon;
    size_t plen, vlen;

    for (pair = s; pair < end; pair = semi + 1) {
        semi = memchr(pair, ';', (size_t)(end - pair));
        semi = semi ? semi : end;
        plen = (size_t)(semi - pair);
        pair = trim(pair, &plen);
        if (plen < 4 || strncasecmp(pair, "for=", 4) != 0) {
            continue;
        }
        v = pair + 4;
        vlen = plen - 4;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            v++;
            vlen -= 2;
            if (vlen > 0 && v[0] == '[') {
                const char *close = memchr(v, ']', vlen);
                if (close == NULL
                    || (close + 1 != v + vlen
                        && !is_port(close + 1, (size_t)(v + vlen - close - 1)))
                    || parse_addr(v + 1, (size_t)(close - v - 1), out) != 0
                    || out->family != AF_INET6) {
                    return -1;
                }
                return 0;
            }
            colon = memchr(v, ':', vlen);
            if (colon != NULL && is_port(colon, (size_t)(v + vlen - colon))) {
                vlen = (size_t)(colon - v);
            }
        }
        return parse_addr(v, vlen, out) == 0 && out->family == AF_INET ? 0 : -1;
    }
    return -1;
}

/*
 * One element of the list: an address into *out. 0 ok, -1 not one. XFF and
 * X-Real-IP: a bare address (nginx's reading: no port, no brackets).
 */
static int element(config_ip_header_t kind, const char *s, size_t len, realip_addr_t *out)
{
    s = trim(s, &len);
    return kind == CONFIG_IP_FORWARDED ? forwarded_for(s, len, out) : parse_addr(s, len, out);
}

/*
 * Walk value from its last element to its first: *out the last address
 * taken, *found set once one is. 1: the walk ends here (an untrusted
 * address, a broken element, X-Real-IP's one address); 0: every element was
 * a trusted address (or an empty one, mere list syntax: RFC 9110 5.6.1), go
 * on leftwards.
 */
static int walk_value(const http_slice_t *value, config_ip_header_t kind, const net_cidr_t *trusted,
                      int n, realip_addr_t *out, int *found)
{
    const char *s = value->p, *e;
    size_t end = value->len, i, elen;
    realip_addr_t a;

    if (kind == CONFIG_IP_REAL_IP) {
        if (element(kind, s, end, &a) == 0) {
            *out = a;
            *found = 1;
        }
        return 1;
    }
    /* a quoted Forwarded node holds no comma in RFC 7239's grammar: split on every one */
    for (i = end;; end = --i) {
        while (i > 0 && s[i - 1] != ',') {
            i--;
        }
        elen = end - i;
        e = trim(s + i, &elen);
        if (elen > 0) {
            if (element(kind, e, elen, &a) != 0) {
                return 1;
            }
            *out = a;
            *found = 1;
            if (!net_cidr_match(trusted, n, a.family, a.addr)) {
                return 1;
            }
        }
        if (i == 0) {
            return 0;
        }
    }
}

int realip_find(const http_request_t *req, config_ip_header_t kind, const net_cidr_t *trusted,
                int n, realip_addr_t *out)
{
    const char *name = header_names[kind];
    size_t nlen = strlen(name), i;
    int found = 0;

    for (i = req->nheaders; i-- > 0;) {
        const http_header_t *h = &req->headers[i];
        if (h->name.len == nlen && http_slice_eq_nocase(h->name, name)
            && walk_value(&h->value, kind, trusted, n, out, &found)) {
            break;
        }
    }
    return found;
}
