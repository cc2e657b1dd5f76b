/*
 * module: the [module NAME] shared objects of a config, loaded (dlopen,
 * ABI check, every [route] handler resolved), set up (init, fini) and
 * routed; and the test-load that checks all of it in a throwaway process.
 */
#ifndef FORKD_MODULE_H
#define FORKD_MODULE_H

#include "config.h"
#include "forkd.h"
#include "http.h"
#include "log.h"
#include "poolroute.h"
#include "router.h"

/* forkd_config_t: what a module's init reads its keys through. */
struct forkd_config {
    const config_module_t *m; /* borrowed from the config */
};

typedef struct {
    const config_module_t *cfg; /* borrowed from the config */
    void *dl;                   /* dlopen() handle; NULL until loaded */
    const forkd_module_t *desc; /* the module's forkd_module, in the .so */
    struct forkd_config keys;   /* given to init */
    void *self;                 /* what init set */
    int inited;                 /* init succeeded: fini is due */
} module_t;

/* The modules of one config, in the worker that uses them. */
typedef struct {
    const config_t *cfg; /* borrowed */
    module_t mods[CONFIG_MAX_MODULES];
    int n;
    forkd_handler_fn route_fn[CONFIG_MAX_ROUTES]; /* cfg->routes[i]'s handler */
    poolroute_t pool_route[CONFIG_MAX_ROUTES];    /* for a pool = yes route: its handler, self */
    forkd_server_t srv;                           /* what init gets */
} modules_t;

/*
 * dlopen (RTLD_NOW | RTLD_LOCAL) every [module] of cfg, check its
 * forkd_module's ABI number, and find every [route]'s function in its
 * module's handlers. cfg is borrowed for the life of ms. A loaded .so stays
 * mapped until the process exits (a worker never unloads code: a reload
 * starts new workers). 0 ok, -1 with err = "file:line: reason" (the route's
 * handler line for a missing function, else the module's path line).
 */
int modules_load(modules_t *ms, const config_t *cfg, char err[CONFIG_ERR_LEN]);

/*
 * Call each module's init in file order, with a forkd_server_t of base and
 * log (both borrowed until modules_fini()). 0 ok; -1 with err =
 * "file:line: reason" when one failed (the modules set up before it are
 * finished again). The module's own reason went to log.
 */
int modules_init(modules_t *ms, struct event_base *base, const log_t *log,
                 char err[CONFIG_ERR_LEN]);

/*
 * Add every [route] with a handler = of the config to r (those with
 * upstream = are the proxy's), with the module's self, in file
 * order (a pool = yes route through poolroute_handler()); call it after
 * modules_init() and before the built-in handlers' routes, so that a
 * [route] wins over a built-in one of the same path. 0 ok, -1 when r is
 * full.
 */
int modules_route(modules_t *ms, router_t *r);

/* Call fini of every module whose init succeeded, last first (graceful exit). */
void modules_fini(modules_t *ms);

/*
 * The whole life of cfg's modules in this process, as a worker would live
 * it: load, init on a throwaway event base, fini. For preflight, in a
 * child that exits after it (the .so stay loaded). Before each init it
 * writes to progress_fd (-1: none) a NUL-terminated "file:line: [module
 * NAME] 'path': init (test-load)", for the caller to complete if the init
 * never returns or crashes. 0 ok, -1 with err = "file:line: reason", the
 * reason a failing init gave with forkd_log() included.
 */
int modules_test_load(const config_t *cfg, int progress_fd, char err[CONFIG_ERR_LEN]);

#endif
