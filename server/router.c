/* router: a short array scanned in order; a site has a handful of routes. */
#include "router.h"

#include <stdio.h>
#include <string.h>

int router_add(router_t *r, const char *path, int flags, unsigned methods, forkd_handler_fn fn,
               void *self)
{
    route_t *rt;

    if (r->n == ROUTER_MAX) {
        return -1;
    }
    rt = &r->routes[r->n++];
    rt->path = path;
    rt->len = strlen(path);
    rt->flags = flags;
    rt->methods = methods;
    rt->fn = fn;
    rt->self = self;
    return 0;
}

const route_t *router_match(const router_t *r, const char *path, size_t len)
{
    const route_t *best = NULL;
    int i;

    for (i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (rt->flags & ROUTE_PREFIX) {
            if (len >= rt->len && memcmp(path, rt->path, rt->len) == 0
                && (best == NULL || ((best->flags & ROUTE_PREFIX) && rt->len > best->len))) {
                best = rt;
            }
        } else if (len == rt->len && memcmp(path, rt->path, len) == 0) {
            return rt;
        }
    }
    return best;
}

void router_allow(unsigned methods, char *buf, size_t size)
{
    size_t used = 0;
    int m, n;

    buf[0] = '\0';
    methods |= HTTP_METHOD_BIT(HTTP_METHOD_OPTIONS); /* answered by the connection itself */
    for (m = 1; m < HTTP_METHOD_COUNT; m++) {
        if (!(methods & HTTP_METHOD_BIT(m))) {
            continue;
        }
        n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", http_method_name(m));
        if (n < 0 || (size_t)n >= size - used) {
            return;
        }
        used += (size_t)n;
    }
}
