/* health: 200 "ok" while serving, 503 "draining" once the drain began; never cached. */
#include "health.h"

#include "forkd.h"

/*
 * The answer costs no lookup and no I/O, so a balancer may poll it often.
 * no-store: a cache between the balancer and us must not answer for us.
 */
static int health_get(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const health_t *h = self;
    (void)req;

    forkd_resp_status(resp, h->draining ? 503 : 200);
    forkd_resp_content_type(resp, "text/plain");
    forkd_resp_header(resp, "Cache-Control", "no-store");
    forkd_resp_printf(resp, "%s\n", h->draining ? "draining" : "ok");
    return FORKD_DONE;
}

int health_register(router_t *r, health_t *h, const char *path, int logged)
{
    unsigned get = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);

    h->draining = 0;
    return router_add(r, path, ROUTE_EXACT | (logged ? 0 : ROUTE_NO_LOG), get, health_get, h);
}
