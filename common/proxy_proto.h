/*
 * proxy_proto: strict, zero-copy parser of the PROXY protocol header (HAProxy's
 * proxy-protocol.txt, versions 1 and 2) a load balancer sends before the
 * client's first byte, telling the client's address.
 */
#ifndef FORKD_PROXY_PROTO_H
#define FORKD_PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return codes of proxy_parse() (a positive value is the header's length in bytes). */
#define PROXY_NEED_MORE (-2) /* a valid start: read more */
#define PROXY_BAD (-1)       /* not a PROXY header, or a broken one: see reason */

/* A version 1 header is at most 107 bytes, CRLF included. */
#define PROXY_V1_MAX 107
/* A version 2 header's fixed part: 12-byte signature, ver/cmd, family, 2-byte length. */
#define PROXY_V2_HEAD 16

typedef struct {
    int version; /* 1 or 2 */
    int local;   /* v2 LOCAL (the balancer's own check): the connection's address stands */
    /*
     * AF_INET or AF_INET6 with src/dst (4 or 16 bytes) and ports in host
     * order; AF_UNSPEC when the header tells no usable address (v1 UNKNOWN,
     * v2 LOCAL, UNSPEC, UNIX or DGRAM): the connection's address stands.
     */
    int family;
    unsigned char src[16], dst[16];
    uint16_t src_port, dst_port;
    const char *reason; /* why PROXY_BAD; a static string */
} proxy_header_t;

/*
 * Parse the PROXY header at the start of buf[0..len). max bounds the whole
 * header (a v2 header announcing more is refused; a v1 header is refused
 * past 107 bytes regardless). Nothing is copied but the addresses; TLVs of
 * v2 are skipped, not read. Returns the header's length (the HTTP request
 * starts right after it), PROXY_NEED_MORE while buf is a valid beginning,
 * or PROXY_BAD with out->reason set.
 */
ssize_t proxy_parse(const char *buf, size_t len, size_t max, proxy_header_t *out);

#endif
