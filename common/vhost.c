/* vhost: Host to [site], exact names first, then the longest matching wildcard. */
#include "vhost.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

size_t vhost_host(const char *v, size_t len)
{
    const char *colon;

    if (len > 0 && v[0] == '[') {
        colon = memchr(v, ']', len);
        return colon != NULL ? (size_t)(colon - v) + 1 : len;
    }
    colon = memchr(v, ':', len);
    if (colon != NULL) {
        len = (size_t)(colon - v);
    }
    if (len > 0 && v[len - 1] == '.') {
        len--;
    }
    return len;
}

/*
 * How well one server_name item (n, nlen: lower case) names host: 0 not at
 * all, SIZE_MAX for an exact name, else 1 + the length of the wildcard's
 * domain ("*.example.com" names "a.example.com" and "b.a.example.com", not
 * "example.com").
 */
static size_t item_match(const char *n, size_t nlen, const char *host, size_t len)
{
    if (nlen >= 2 && n[0] == '*' && n[1] == '.') {
        /* the domain with its dot: ".example.com", after at least one byte of label */
        nlen -= 1;
        n += 1;
        if (len > nlen && strncasecmp(host + len - nlen, n, nlen) == 0) {
            return 1 + nlen;
        }
        return 0;
    }
    return nlen == len && strncasecmp(n, host, len) == 0 ? SIZE_MAX : 0;
}

int vhost_pick(const config_t *cfg, const char *host, size_t len)
{
    const char *p;
    size_t plen, score, best_score = 0;
    int i, best = -1;

    for (i = 0; i < cfg->nsites; i++) {
        for (p = cfg->sites[i].server_name; *p != '\0'; p += plen + (p[plen] == ' ')) {
            plen = strcspn(p, " ");
            score = item_match(p, plen, host, len);
            if (score > best_score) {
                best_score = score;
                best = i;
            }
        }
    }
    return best;
}
