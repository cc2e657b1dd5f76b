/*
 * realip: the client a chain of trusted proxies names in X-Forwarded-For,
 * X-Real-IP or Forwarded (nginx's real_ip_recursive: the nearest address
 * not itself a trusted proxy).
 */
#ifndef FORKD_REALIP_H
#define FORKD_REALIP_H

#include "config.h"
#include "http_parser.h"
#include "net.h"

/* A client address: AF_INET (4 bytes of addr used) or AF_INET6. */
typedef struct {
    int family;
    unsigned char addr[16];
} realip_addr_t;

/*
 * The client named by the header kind of req, for a request whose peer is a
 * trusted proxy (the caller checks that). The header's addresses (every line
 * of it, in order) are walked from the right: each trusted one (in
 * trusted[0..n)) is a proxy that passed the request on, the first that is
 * not is the client. When all are trusted, the leftmost is; an element that
 * is not an address ("unknown", a port where none belongs, garbage) ends the
 * walk at the address right of it. X-Real-IP holds one address. Forwarded's
 * for= takes a quoted "[v6]:port" or "v4:port" too. Returns 1 with *out
 * set, or 0 when no address was found (the peer stands).
 */
int realip_find(const http_request_t *req, config_ip_header_t kind, const net_cidr_t *trusted,
                int n, realip_addr_t *out);

#endif
