/* proxy_proto: strict, zero-copy parser of the PROXY protocol header, versions 1 and 2. */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#define V1_PREFIX "PROXY "
#define V1_PREFIX_LEN 6
#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN 12

/* v2 byte 13: the version (high nibble) and command (low) */
#define V2_VERSION 0x20
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
/* v2 byte 14: the address family (high nibble) and transport (low) */
#define V2_AF_UNSPEC 0x0
#define V2_AF_INET 0x1
#define V2_AF_INET6 0x2
#define V2_AF_UNIX 0x3
#define V2_PROTO_STREAM 0x1
#define V2_PROTO_DGRAM 0x2
/* bytes of the addresses and ports after the fixed part */
#define V2_INET_LEN 12
#define V2_INET6_LEN 36

static ssize_t bad(proxy_header_t *out, const char *reason)
{
    out->reason = reason;
    return PROXY_BAD;
}

/*
 * A decimal port in s[0..len): 0..65535, digits only, no leading zero
 * (strict: one spelling per value). 0 ok, -1 bad.
 */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 5 || (s[0] == '0' && len > 1)) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535) {
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

/* An address of family af in s[0..len) into addr (inet_pton() wants a NUL: copied to a bounded
 * buffer). 0 ok, -1 bad. */
static int parse_addr(int af, const char *s, size_t len, unsigned char *addr)
{
    char text[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(af, text, addr) == 1 ? 0 : -1;
}

/*
 * The i-th of n space-separated fields of line[0..len) (single spaces, none
 * empty): set *f and *flen. 0 ok, -1 when the line does not split into
 * exactly n fields.
 */
static int split_fields(const char *line, size_t len, const char **f, size_t *flen, int n)
{
    int i = 0;
    size_t start = 0, j;

    for (j = 0; j <= len; j++) {
        if (j == len || line[j] == ' ') {
            if (j == start || i == n) {
                return -1;
            }
            f[i] = line + start;
            flen[i++] = j - start;
            start = j + 1;
        }
    }
    return i == n ? 0 : -1;
}

/*
 * Version 1: "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN
 * ...\r\n" (the rest of an UNKNOWN line is ignored, as the spec says).
 */
static ssize_t parse_v1(const char *buf, size_t len, proxy_header_t *out)
{
    size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
    const char *nl = memchr(buf, '\n', scan);
    const char *f[5];
    size_t flen[5], line_len;
    int af;

    out->version = 1;
    if (nl == NULL) {
        return len >= PROXY_V1_MAX ? bad(out, "v1 line longer than 107 bytes") : PROXY_NEED_MORE;
    }
    if (nl == buf || nl[-1] != '\r') {
        return bad(out, "v1 line not ended by CRLF");
    }
    line_len = (size_t)(nl - 1 - buf) - V1_PREFIX_LEN;
    if (memchr(buf, '\r', (size_t)(nl - 1 - buf)) != NULL) {
        return bad(out, "v1 line holds a CR");
    }
    if (line_len >= 7 && memcmp(buf + V1_PREFIX_LEN, "UNKNOWN", 7) == 0
        && (line_len == 7 || buf[V1_PREFIX_LEN + 7] == ' ')) {
        out->family = AF_UNSPEC;
        return nl + 1 - buf;
    }
    if (split_fields(buf + V1_PREFIX_LEN, line_len, f, flen, 5) < 0) {
        return bad(out, "v1 line not PROTO SRC DST SPORT DPORT");
    }
    if (flen[0] == 4 && memcmp(f[0], "TCP4", 4) == 0) {
        af = AF_INET;
    } else if (flen[0] == 4 && memcmp(f[0], "TCP6", 4) == 0) {
        af = AF_INET6;
    } else {
        return bad(out, "v1 protocol not TCP4, TCP6 or UNKNOWN");
    }
    if (parse_addr(af, f[1], flen[1], out->src) < 0
        || parse_addr(af, f[2], flen[2], out->dst) < 0) {
        return bad(out, "v1 address not of its protocol");
    }
    if (parse_port(f[3], flen[3], &out->src_port) < 0
        || parse_port(f[4], flen[4], &out->dst_port) < 0) {
        return bad(out, "v1 port not 0..65535");
    }
    out->family = af;
    return nl + 1 - buf;
}

/* Version 2: the signature, then ver/cmd, family/transport, length, addresses and TLVs. */
static ssize_t parse_v2(const unsigned char *buf, size_t len, size_t max, proxy_header_t *out)
{
    size_t body, total;
    int cmd, fam, proto;

    out->version = 2;
    if (len < PROXY_V2_HEAD) {
        return PROXY_NEED_MORE;
    }
    if ((buf[12] & 0xf0) != V2_VERSION) {
        return bad(out, "v2 version not 2");
    }
    cmd = buf[12] & 0x0f;
    fam = buf[13] >> 4;
    proto = buf[13] & 0x0f;
    body = (size_t)buf[14] << 8 | buf[15];
    total = PROXY_V2_HEAD + body;
    if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY) {
        return bad(out, "v2 command not LOCAL or PROXY");
    }
    if (fam > V2_AF_UNIX || proto > V2_PROTO_DGRAM || (fam == V2_AF_UNSPEC) != (proto == 0)) {
        return bad(out, "v2 family or transport unknown");
    }
    if (total > max) {
        return bad(out, "v2 header longer than the buffer");
    }
    if ((fam == V2_AF_INET && body < V2_INET_LEN) || (fam == V2_AF_INET6 && body < V2_INET6_LEN)) {
        return bad(out, "v2 length shorter than its addresses");
    }
    if (len < total) {
        return PROXY_NEED_MORE;
    }
    out->local = cmd == V2_CMD_LOCAL;
    out->family = AF_UNSPEC;
    if (out->local || proto != V2_PROTO_STREAM) {
        return (ssize_t)total; /* a check, or a transport HTTP is not carried over */
    }
    if (fam == V2_AF_INET) {
        out->family = AF_INET;
        memcpy(out->src, buf + 16, 4);
        memcpy(out->dst, buf + 20, 4);
        out->src_port = (uint16_t)(buf[24] << 8 | buf[25]);
        out->dst_port = (uint16_t)(buf[26] << 8 | buf[27]);
    } else if (fam == V2_AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->src, buf + 16, 16);
        memcpy(out->dst, buf + 32, 16);
        out->src_port = (uint16_t)(buf[48] << 8 | buf[49]);
        out->dst_port = (uint16_t)(buf[50] << 8 | buf[51]);
    }
    return (ssize_t)total;
}

ssize_t proxy_parse(const char *buf, size_t len, size_t max, proxy_header_t *out)
{
    size_t n;

    memset(out, 0, sizeof(*out));
    out->family = AF_UNSPEC;
    n = len < V2_SIG_LEN ? len : V2_SIG_LEN;
    if (n > 0 && memcmp(buf, V2_SIG, n) == 0) {
        return n < V2_SIG_LEN ? PROXY_NEED_MORE
                              : parse_v2((const unsigned char *)buf, len, max, out);
    }
    n = len < V1_PREFIX_LEN ? len : V1_PREFIX_LEN;
    if (memcmp(buf, V1_PREFIX, n) != 0) {
        return bad(out, "no PROXY signature");
    }
    return n < V1_PREFIX_LEN ? PROXY_NEED_MORE : parse_v1(buf, len, out);
}
