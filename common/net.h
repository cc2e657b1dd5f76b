/* net: listen addresses ("host:port", "[::1]:port", "*:port") and listening sockets. */
#ifndef FORKD_NET_H
#define FORKD_NET_H

#include <sys/socket.h>

#define NET_ERR_LEN 256

typedef struct {
    struct sockaddr_storage ss;
    socklen_t len;
} net_addr_t;

/*
 * Parse "host:port", "[v6]:port" or "*:port" (port 0..65535; 0 = any free
 * port). host is a numeric address or "localhost"; "*" is every IPv4 address.
 * Returns 0, or -1 with err set.
 */
int net_parse_addr(const char *text, net_addr_t *addr, char err[NET_ERR_LEN]);

/*
 * Open a non-blocking, close-on-exec TCP socket bound to addr and listening
 * with the given backlog (SO_REUSEADDR; IPV6_V6ONLY for IPv6; SO_REUSEPORT
 * when reuse_port, so that several sockets share the address).
 * Returns the fd (caller closes), or -1 with err naming the failed call.
 */
int net_listen(const net_addr_t *addr, int backlog, int reuse_port, char err[NET_ERR_LEN]);

#define NET_MAX_CIDRS 16

/* An address block: family, 16 bytes of address (4 used for IPv4), prefix bits. */
typedef struct {
    int family;
    unsigned char addr[16];
    int bits;
} net_cidr_t;

/*
 * Parse a space separated list like "127.0.0.0/8 ::1/128 10.1.2.3" (a bare
 * address is a /32 or /128) into list (NET_MAX_CIDRS entries). Returns the
 * count, or -1 with err set.
 */
int net_parse_cidr_list(const char *text, net_cidr_t *list, char err[NET_ERR_LEN]);

/*
 * Is the address (family, 4 or 16 bytes) inside one of list[0..n)? An
 * IPv4-mapped IPv6 address is matched as IPv4.
 */
int net_cidr_match(const net_cidr_t *list, int n, int family, const unsigned char *addr);

/* The port a bound socket listens on, or -1. */
int net_local_port(int fd);

/* Format addr as "a.b.c.d" or "v6" (no port) into buf; returns buf. */
const char *net_ntop(const struct sockaddr_storage *ss, char *buf, size_t size);

#endif
