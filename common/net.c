/* net: parse listen addresses and open listening sockets. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "escape.h"

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parse a decimal port 0..65535 that makes up all of s. */
static int parse_port(const char *s, unsigned *port)
{
    unsigned v = 0;

    if (*s == '\0') {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(*s - '0');
        if (v > 65535) {
            return -1;
        }
    }
    *port = v;
    return 0;
}

int net_parse_addr(const char *text, net_addr_t *addr, char err[NET_ERR_LEN])
{
    char host[64];
    const char *colon;
    unsigned port;
    size_t hlen;
    int v6 = text[0] == '[';
    struct sockaddr_in *in4 = (struct sockaddr_in *)&addr->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr->ss;

    memset(addr, 0, sizeof(*addr));
    if (v6) {
        const char *end = strchr(text, ']');
        if (end == NULL || end[1] != ':') {
            snprintf(err, NET_ERR_LEN, "expected [v6-address]:port");
            return -1;
        }
        hlen = (size_t)(end - text - 1);
        colon = end + 1;
        text++;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(err, NET_ERR_LEN, "expected host:port");
            return -1;
        }
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        snprintf(err, NET_ERR_LEN, "bad host");
        return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (parse_port(colon + 1, &port) != 0) {
        snprintf(err, NET_ERR_LEN, "bad port '%s' (0..65535)", colon + 1);
        return -1;
    }

    if (v6) {
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
            snprintf(err, NET_ERR_LEN, "bad IPv6 address '%s'", host);
            return -1;
        }
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        addr->len = sizeof(*in6);
        return 0;
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    addr->len = sizeof(*in4);
    if (strcmp(host, "*") == 0) {
        in4->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
        snprintf(err, NET_ERR_LEN, "bad IPv4 address '%s' (IPv6 goes in brackets)", host);
        return -1;
    }
    return 0;
}

int net_listen(const net_addr_t *addr, int backlog, int reuse_port, char err[NET_ERR_LEN])
{
    int fd, on = 1, defer = 1;

    fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, NET_ERR_LEN, "socket() failed: %s", strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
        snprintf(err, NET_ERR_LEN, "setsockopt(SO_REUSEADDR) failed: %s", strerror(errno));
        goto fail;
    }
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
        snprintf(err, NET_ERR_LEN, "setsockopt(SO_REUSEPORT) failed: %s", strerror(errno));
        goto fail;
    }
    if (addr->ss.ss_family == AF_INET6
        && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
        snprintf(err, NET_ERR_LEN, "setsockopt(IPV6_V6ONLY) failed: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
        snprintf(err, NET_ERR_LEN, "bind() failed: %s", strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog) != 0) {
        snprintf(err, NET_ERR_LEN, "listen() failed: %s", strerror(errno));
        goto fail;
    }
    /* wake a worker only once the request has arrived (nginx "deferred") */
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)) != 0) {
        snprintf(err, NET_ERR_LEN, "setsockopt(TCP_DEFER_ACCEPT) failed: %s", strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return -1;
}

const char *net_peer_text(int family, const unsigned char *addr, char buf[NET_PEER_LEN])
{
    if (family == AF_UNIX) {
        snprintf(buf, NET_PEER_LEN, "unix:");
    } else if ((family != AF_INET && family != AF_INET6)
               || inet_ntop(family, addr, buf, NET_PEER_LEN) == NULL) {
        snprintf(buf, NET_PEER_LEN, "-");
    }
    return buf;
}

/* "unix:" and the path, "unix:@" and the abstract name, or "unix:" when unnamed. */
static void describe_unix(const struct sockaddr_un *un, socklen_t len, char *buf)
{
    size_t off = offsetof(struct sockaddr_un, sun_path), n;
    const char *name = un->sun_path;
    char *p = buf + 5;

    memcpy(buf, "unix:", 5);
    n = len > off ? (size_t)len - off : 0;
    if (n > sizeof(un->sun_path)) {
        n = sizeof(un->sun_path);
    }
    if (n > 0 && name[0] == '\0') {
        /* abstract: the name is every byte after the NUL, as ss(8) shows it */
        *p++ = '@';
        name++;
        n--;
    } else {
        n = strnlen(name, n);
    }
    p = escape_bytes(p, name, n);
    *p = '\0';
}

const char *net_describe_addr(const struct sockaddr_storage *ss, socklen_t len,
                              char buf[NET_DESCRIBE_LEN])
{
    char host[INET6_ADDRSTRLEN];

    switch (ss->ss_family) {
    case AF_UNIX: describe_unix((const struct sockaddr_un *)ss, len, buf); break;
    case AF_INET: {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        snprintf(buf, NET_DESCRIBE_LEN, "%s:%u", host, (unsigned)ntohs(in4->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, NET_DESCRIBE_LEN, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
        break;
    }
    default: snprintf(buf, NET_DESCRIBE_LEN, "-"); break;
    }
    return buf;
}

const char *net_describe_listener(int fd, char buf[NET_DESCRIBE_LEN])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(buf, NET_DESCRIBE_LEN, "-");
        return buf;
    }
    return net_describe_addr(&ss, len, buf);
}

int net_parse_cidr_list(const char *text, net_cidr_t *list, char err[NET_ERR_LEN])
{
    char buf[128];
    const char *p = text, *end, *slash;
    size_t len;
    int n = 0, max;
    long bits;
    char *bend;

    for (;;) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            return n;
        }
        end = p;
        while (*end != '\0' && *end != ' ' && *end != '\t') {
            end++;
        }
        len = (size_t)(end - p);
        if (len >= sizeof(buf) || n == NET_MAX_CIDRS) {
            snprintf(err, NET_ERR_LEN, "%s",
                     n == NET_MAX_CIDRS ? "more than 16 entries" : "entry too long");
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        slash = strchr(buf, '/');
        if (slash != NULL) {
            buf[slash - buf] = '\0';
        }
        memset(&list[n], 0, sizeof(list[n]));
        if (inet_pton(AF_INET, buf, list[n].addr) == 1) {
            list[n].family = AF_INET;
            max = 32;
        } else if (inet_pton(AF_INET6, buf, list[n].addr) == 1) {
            list[n].family = AF_INET6;
            max = 128;
        } else {
            snprintf(err, NET_ERR_LEN, "bad address '%s'", buf);
            return -1;
        }
        list[n].bits = max;
        if (slash != NULL) {
            bits = strtol(slash + 1, &bend, 10);
            if (slash[1] < '0' || slash[1] > '9' || *bend != '\0' || bits > max) {
                snprintf(err, NET_ERR_LEN, "bad prefix length '/%s'", slash + 1);
                return -1;
            }
            list[n].bits = (int)bits;
        }
        if (list[n].family == AF_INET6 && memcmp(list[n].addr, v4mapped, 12) == 0) {
            if (list[n].bits < 96) {
                snprintf(err, NET_ERR_LEN,
                         "'%s/%d': an IPv4-mapped prefix shorter than /96 also covers "
                         "IPv6 addresses that are not mapped",
                         buf, list[n].bits);
                return -1;
            }
            /* stored as the IPv4 block it names: a mapped client is matched as IPv4 */
            list[n].family = AF_INET;
            memmove(list[n].addr, list[n].addr + 12, 4);
            memset(list[n].addr + 4, 0, 12);
            list[n].bits -= 96;
        }
        n++;
        p = end;
    }
}

int net_cidr_match(const net_cidr_t *list, int n, int family, const unsigned char *addr)
{
    int i, full, rest;

    if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
        family = AF_INET;
        addr += 12;
    }
    if (family != AF_INET && family != AF_INET6) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (list[i].family != family) {
            continue;
        }
        full = list[i].bits / 8;
        rest = list[i].bits % 8;
        if (memcmp(list[i].addr, addr, (size_t)full) != 0) {
            continue;
        }
        if (rest == 0 || ((list[i].addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0) {
            return 1;
        }
    }
    return 0;
}
