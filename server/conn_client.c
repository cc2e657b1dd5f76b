/* conn_client: who the client is: the PROXY header, a trusted proxy's real_ip, the request id. */
#include "conn_internal.h"

#include <string.h>
#include <time.h>

#include "escape.h"
#include "fmt.h"
#include "proxy_proto.h"
#include "realip.h"

/* A request id taken from a trusted X-Request-Id: at most FORKD_REQ_XID_MAX bytes of these. */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"

/* The config's trusted lists (conn_pool_new(); the config check refused bad ones: trust none). */
void client_parse_trusted(conn_pool_t *p)
{
    char err[NET_ERR_LEN];

    p->nproxy_from = net_parse_cidr_list(p->env.cfg->proxy_from, p->proxy_from, err);
    p->nproxy_from = p->nproxy_from < 0 ? 0 : p->nproxy_from;
    p->nreal_ip_from = net_parse_cidr_list(p->env.cfg->real_ip_from, p->real_ip_from, err);
    p->nreal_ip_from = p->nreal_ip_from < 0 ? 0 : p->nreal_ip_from;
}

/* The address bytes of a client address (4 or 16), NULL for a unix socket's client. */
static const unsigned char *addr_bytes(const conn_addr_t *a)
{
    if (a->sa.sa_family == AF_INET) {
        return (const unsigned char *)&a->in.sin_addr;
    }
    return a->sa.sa_family == AF_INET6 ? a->in6.sin6_addr.s6_addr : NULL;
}

/* Is a in list[0..n)? */
int client_addr_in(const conn_addr_t *a, const net_cidr_t *list, int n)
{
    const unsigned char *bytes = addr_bytes(a);

    return bytes != NULL && net_cidr_match(list, n, a->sa.sa_family, bytes);
}

/* Set a to family's address bytes (4 or 16) and port; the length it takes. */
static socklen_t addr_set(conn_addr_t *a, int family, const unsigned char *bytes, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        a->in.sin_family = AF_INET;
        a->in.sin_port = htons(port);
        memcpy(&a->in.sin_addr, bytes, 4);
        return sizeof(a->in);
    }
    a->in6.sin6_family = AF_INET6;
    a->in6.sin6_port = htons(port);
    memcpy(a->in6.sin6_addr.s6_addr, bytes, 16);
    return sizeof(a->in6);
}

/*
 * A connection whose PROXY header is refused (broken, late, or from a peer
 * not in proxy_from): counted, logged at info, closed without a word (a
 * balancer marks the server down; anyone else learns nothing). Untrusted
 * peers are anyone on the network: their lines are limited to one a second
 * (a flood of connections must not become a flood of log lines), the others
 * are told as a count in the next one.
 */
void client_proxy_refused(conn_pool_t *p, const conn_addr_t *direct, const char *why,
                          const char *bytes, size_t len, int untrusted)
{
    char peer[NET_PEER_LEN], text[4 * 64 + 1], more[64] = "";
    const unsigned char *a = addr_bytes(direct);
    static const unsigned char none[16];
    time_t now;

    SB_ADD(p->env.slot->proxy_refused, 1);
    if (untrusted) {
        now = time(NULL);
        if (now == p->untrusted_logged) {
            p->untrusted_quiet++;
            return;
        }
        p->untrusted_logged = now;
        if (p->untrusted_quiet > 0) {
            snprintf(more, sizeof(more), " (and %llu more untrusted since the last line)",
                     (unsigned long long)p->untrusted_quiet);
            p->untrusted_quiet = 0;
        }
    }
    log_msg(p->env.log, LOG_LVL_INFO, "PROXY header refused from %s: %s%s%s%s%s",
            net_peer_text(direct->sa.sa_family, a ? a : none, peer), why, len ? " (\"" : "",
            len ? escape_str(text, sizeof(text), bytes, len > 64 ? 64 : len) : "", len ? "\")" : "",
            more);
}

/*
 * The PROXY header a proxy_protocol listener's client (a trusted balancer)
 * sends first: its client becomes the connection's peer (a LOCAL or UNSPEC
 * header leaves the balancer's), and the bytes after it are the request.
 * 1 taken; 0 waiting for more within header_timeout; -1 refused, the
 * connection lingering to its close (no answer: it spoke no HTTP).
 */
ssize_t client_take_proxy_header(conn_t *c)
{
    conn_block_t *b = c->b;
    proxy_header_t ph;
    ssize_t n = proxy_parse(b->in, b->in_len, b->in_cap, &ph);
    uint64_t now;

    if (n == PROXY_NEED_MORE) {
        now = timecache_now_ms();
        if (now < b->deadline) {
            conn_wait_for(c, EV_READ, b->deadline - now);
            return 0;
        }
        ph.reason = "timed out";
    }
    if (n < 0) {
        client_proxy_refused(c->pool, &c->direct, ph.reason, b->in, b->in_len, 0);
        conn_start_linger(c);
        return -1;
    }
    if (ph.family != AF_UNSPEC) {
        c->peer_len = addr_set(&c->peer, ph.family, ph.src, ph.src_port);
        b->req.peer_len = c->peer_len;
    }
    c->proxy_wait = 0;
    b->in_len -= (size_t)n;
    memmove(b->in, b->in + n, b->in_len);
    return 1;
}

/*
 * A peer in [http] real_ip_from names the client in real_ip_header: the
 * request's peer (handlers, the allow list, the access log) becomes that
 * address. From anyone else the header changes nothing.
 */
void client_find(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    realip_addr_t a;

    if (p->nreal_ip_from == 0 || !client_addr_in(&c->peer, p->real_ip_from, p->nreal_ip_from)
        || !realip_find(&b->req.h, p->env.cfg->real_ip_header, p->real_ip_from, p->nreal_ip_from,
                        &a)) {
        return;
    }
    b->req.peer_len = addr_set(&b->client, a.family, a.addr, 0);
    b->req.peer = &b->client.sa;
}

/* Is v[0..len) a request id to keep: 1..FORKD_REQ_XID_MAX bytes of ID_CHARS? */
static int id_ok(const char *v, size_t len)
{
    size_t i;

    if (len == 0 || len > FORKD_REQ_XID_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (v[i] == '\0' || strchr(ID_CHARS, v[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

/*
 * The request's id (X-Request-Id), decided on first use: the one a trusted
 * hop sent (the socket's peer in proxy_from, or the peer in real_ip_from),
 * when it is safe to echo and log; else one made here, unique across
 * workers and restarts: the worker's start time and pid, then its request
 * counter, 32 hex digits.
 */
const char *client_request_id(conn_t *c)
{
    conn_pool_t *p = c->pool;
    conn_block_t *b = c->b;
    const char *v;
    size_t len = 0;

    if (b->req.xid[0] != '\0') {
        return b->req.xid;
    }
    v = b->head_len == 0 ? NULL : conn_header_value(&b->req.h, "x-request-id", &len);
    if (v != NULL && id_ok(v, len)
        && (client_addr_in(&c->direct, p->proxy_from, p->nproxy_from)
            || client_addr_in(&c->peer, p->real_ip_from, p->nreal_ip_from))) {
        memcpy(b->req.xid, v, len);
        b->req.xid[len] = '\0';
        return b->req.xid;
    }
    /* per request: no printf (fmt.h) */
    memcpy(b->req.xid, p->id_prefix, 16);
    b->req.xid[16 + fmt_hex16(b->req.xid + 16, b->req.id)] = '\0';
    return b->req.xid;
}
