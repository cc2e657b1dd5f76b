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
 * with the given backlog (SO_REUSEADDR; IPV6_V6ONLY for IPv6).
 * Returns the fd (caller closes), or -1 with err naming the failed call.
 */
int net_listen(const net_addr_t *addr, int backlog, char err[NET_ERR_LEN]);

/* The port a bound socket listens on, or -1. */
int net_local_port(int fd);

/* Format addr as "a.b.c.d" or "v6" (no port) into buf; returns buf. */
const char *net_ntop(const struct sockaddr_storage *ss, char *buf, size_t size);

#endif
