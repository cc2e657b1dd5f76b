/* net: listen addresses ("host:port", "[::1]:port", "*:port") and listening sockets. */
#ifndef FORKD_NET_H
#define FORKD_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#define NET_ERR_LEN 256

/* net_peer_text()'s buffer: an IPv6 address, or "unix:". */
#define NET_PEER_LEN INET6_ADDRSTRLEN

/* net_describe_addr()'s buffer: "unix:" and a 108-byte path, every byte escaped to 4. */
#define NET_DESCRIBE_LEN 512

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
 * address is a /32 or /128) into list (NET_MAX_CIDRS entries). An IPv4-mapped
 * entry (::ffff:a.b.c.d/n) is stored as the IPv4 block a.b.c.d/(n - 96),
 * since net_cidr_match() sees a mapped client as IPv4; a mapped prefix
 * shorter than /96 is refused (it would also cover unmapped IPv6 addresses).
 * Returns the count, or -1 with err set.
 */
int net_parse_cidr_list(const char *text, net_cidr_t *list, char err[NET_ERR_LEN]);

/*
 * Is the address (family, 4 or 16 bytes) inside one of list[0..n)? An
 * IPv4-mapped IPv6 address (a v4 client on a dual-stack [::] socket) is
 * matched as IPv4. Any other family (an AF_UNIX client has no address)
 * matches nothing.
 */
int net_cidr_match(const net_cidr_t *list, int n, int family, const unsigned char *addr);

/* The port a bound TCP socket listens on; -1 if getsockname() fails or fd is not IPv4/IPv6. */
int net_local_port(int fd);

/*
 * A client address for the access log, from the family and bytes (4 or 16)
 * conn keeps: "a.b.c.d", an IPv6 address, "unix:" for an AF_UNIX peer (what
 * nginx's $remote_addr says: a unix client has no address), "-" for any other
 * family. Always a NUL-terminated printable string; returns buf.
 */
const char *net_peer_text(int family, const unsigned char *addr, char buf[NET_PEER_LEN]);

/*
 * A socket address (len bytes, as getsockname() or accept() filled it) for a
 * log line: "127.0.0.1:8080", "[::1]:8080", "unix:/run/forkd.sock",
 * "unix:@name" for an abstract socket, "unix:" for an unnamed one, "-" for
 * another family. Path and name bytes that are not printable ASCII, '"' and
 * the backslash are written as "\xHH" (escape_bytes()). Returns buf.
 */
const char *net_describe_addr(const struct sockaddr_storage *ss, socklen_t len,
                              char buf[NET_DESCRIBE_LEN]);

/*
 * What a listening socket is bound to, for the start-up log: fd's local
 * address (getsockname()) as net_describe_addr() writes it, or "-" when
 * getsockname() fails. Returns buf.
 */
const char *net_describe_listener(int fd, char buf[NET_DESCRIBE_LEN]);

#endif
