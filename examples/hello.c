/*
 * hello: the smallest forkd module. GET /hello answers "<greeting>, world!"
 * with the greeting of its [module] section:
 *
 *     [module hello]
 *     path = /usr/local/lib/forkd/hello.so
 *     greeting = Bonjour
 *
 *     [route /hello]
 *     handler = hello:hello
 */
#include <forkd/forkd.h>
#include <stdlib.h>
#include <string.h>

/* The module's own context: one per worker, made by init, given to each request. */
typedef struct {
    char *greeting;
} hello_t;

/* Keep a copy of the greeting key (default "Hello"). 0 ok, -1 out of memory. */
static int hello_init(forkd_server_t *srv, const forkd_config_t *keys, void **self)
{
    const char *greeting = forkd_config_get(keys, "greeting");
    hello_t *h = calloc(1, sizeof(*h));

    if (h == NULL || (h->greeting = strdup(greeting != NULL ? greeting : "Hello")) == NULL) {
        free(h);
        forkd_log(srv, FORKD_LOG_ERROR, "hello: out of memory");
        return -1;
    }
    *self = h;
    return 0;
}

static void hello_fini(void *self)
{
    hello_t *h = self;

    free(h->greeting);
    free(h);
}

static int hello(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const hello_t *h = self;
    (void)req;

    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain; charset=utf-8");
    if (forkd_resp_printf(resp, "%s, world!\n", h->greeting) != 0) {
        forkd_resp_error(resp, 500);
    }
    return FORKD_DONE;
}

static const forkd_handler_def_t handlers[] = {
    {"hello", hello},
    {NULL, NULL},
};

const forkd_module_t forkd_module = {FORKD_ABI, "hello", hello_init, hello_fini, handlers};
