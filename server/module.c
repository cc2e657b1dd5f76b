/* module: dlopen the [module] shared objects, check and resolve them, init/fini, route. */
#include "module.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Static_assert(FORKD_METHOD_BIT(FORKD_GET) == HTTP_METHOD_BIT(HTTP_METHOD_GET)
                   && FORKD_METHOD_BIT(FORKD_PATCH) == HTTP_METHOD_BIT(HTTP_METHOD_PATCH),
               "FORKD_METHOD_BIT() sets are HTTP_METHOD_BIT() sets");

#define MODULE_SYMBOL "forkd_module"
#define LOG_CAPTURE 4096 /* of what a module logged during its test-load init */

/* err = "file:line: " + the message. Returns -1. */
static int blame(const config_t *cfg, int line, char err[CONFIG_ERR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int blame(const config_t *cfg, int line, char err[CONFIG_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(err, CONFIG_ERR_LEN, "%.200s:%d: ", cfg->path, line);
    va_start(ap, fmt);
    vsnprintf(err + n, CONFIG_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

const char *forkd_config_get(const forkd_config_t *keys, const char *name)
{
    return config_module_get(keys->m, name);
}

/* The function called name among m's handlers, or NULL. */
static forkd_handler_fn find_handler(const module_t *m, const char *name)
{
    const forkd_handler_def_t *h;

    for (h = m->desc->handlers; h != NULL && h->name != NULL; h++) {
        if (strcmp(h->name, name) == 0) {
            return h->fn;
        }
    }
    return NULL;
}

/* The names of m's handlers, ", "-separated, into buf ("none" when it has none). */
static void list_handlers(const module_t *m, char *buf, size_t size)
{
    const forkd_handler_def_t *h;
    size_t used = 0;
    int n;

    snprintf(buf, size, "none");
    for (h = m->desc->handlers; h != NULL && h->name != NULL; h++) {
        n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", h->name);
        if (n < 0 || (size_t)n >= size - used) {
            return;
        }
        used += (size_t)n;
    }
}

/* dlopen one module and check its descriptor. 0 ok, -1 with err set. */
static int load_one(const config_t *cfg, module_t *m, char err[CONFIG_ERR_LEN])
{
    const config_module_t *c = m->cfg;
    const char *why;

    m->dl = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        why = dlerror();
        return blame(cfg, c->path_line, err, "[module %s] cannot load: %s", c->name,
                     why != NULL ? why : "dlopen() failed");
    }
    m->desc = dlsym(m->dl, MODULE_SYMBOL);
    if (m->desc == NULL) {
        return blame(cfg, c->path_line, err,
                     "[module %s] '%s' is not a forkd module: it exports no " MODULE_SYMBOL,
                     c->name, c->path);
    }
    if (m->desc->abi != FORKD_ABI) {
        return blame(cfg, c->path_line, err,
                     "[module %s] '%s' was built for forkd ABI %d, this forkd has ABI %d: "
                     "rebuild it against this forkd's forkd.h",
                     c->name, c->path, m->desc->abi, FORKD_ABI);
    }
    m->keys.m = c;
    return 0;
}

int modules_load(modules_t *ms, const config_t *cfg, char err[CONFIG_ERR_LEN])
{
    const config_route_t *r;
    const module_t *m;
    char names[256];
    int i;

    memset(ms, 0, sizeof(*ms));
    ms->cfg = cfg;
    for (i = 0; i < cfg->nmodules; i++) {
        ms->mods[i].cfg = &cfg->modules[i];
        ms->n = i + 1;
        if (load_one(cfg, &ms->mods[i], err) != 0) {
            return -1;
        }
    }
    for (i = 0; i < cfg->nroutes; i++) {
        r = &cfg->routes[i];
        if (r->upstream[0] != '\0') {
            continue; /* the proxy's route (proxy_register()) */
        }
        m = &ms->mods[r->module_index];
        ms->route_fn[i] = find_handler(m, r->function);
        if (ms->route_fn[i] == NULL) {
            list_handlers(m, names, sizeof(names));
            return blame(cfg, r->handler_line, err,
                         "handler %s:%s: module %s ('%s') has no handler '%s' (it has: %s)",
                         r->module, r->function, r->module, m->cfg->path, r->function, names);
        }
    }
    return 0;
}

/*
 * init of each module in file order, naming each to progress_fd (-1: none)
 * first. Returns -1 when all succeeded, else the index of the one that
 * failed, after finishing those before it again.
 */
static int init_each(modules_t *ms, int progress_fd)
{
    char pending[CONFIG_ERR_LEN];
    module_t *m;
    ssize_t n;
    int i;

    for (i = 0; i < ms->n; i++) {
        m = &ms->mods[i];
        if (progress_fd >= 0) {
            blame(ms->cfg, m->cfg->path_line, pending, "[module %s] '%s': init (test-load)",
                  m->cfg->name, m->cfg->path);
            n = write(progress_fd, pending, strlen(pending) + 1);
            (void)n; /* a message lost: the caller still reports a hang */
        }
        if (m->desc->init != NULL && m->desc->init(&ms->srv, &m->keys, &m->self) != 0) {
            modules_fini(ms);
            return i;
        }
        m->inited = 1;
    }
    return -1;
}

int modules_init(modules_t *ms, struct event_base *base, const log_t *log, char err[CONFIG_ERR_LEN])
{
    const config_module_t *c;
    int failed, i;

    ms->srv.base = base;
    ms->srv.log = log;
    failed = init_each(ms, -1);
    if (failed < 0) {
        for (i = 0; i < ms->n; i++) {
            log_msg(log, LOG_LVL_DEBUG, "[module %s] '%s' (%s) ready", ms->mods[i].cfg->name,
                    ms->mods[i].cfg->path,
                    ms->mods[i].desc->name != NULL ? ms->mods[i].desc->name : "no name");
        }
        return 0;
    }
    c = ms->mods[failed].cfg;
    return blame(ms->cfg, c->path_line, err, "[module %s] '%s': init failed", c->name, c->path);
}

int modules_route(modules_t *ms, router_t *r)
{
    const config_route_t *rt;
    forkd_handler_fn fn;
    void *self;
    int i, flags;

    for (i = 0; i < ms->cfg->nroutes; i++) {
        rt = &ms->cfg->routes[i];
        if (rt->upstream[0] != '\0') {
            continue;
        }
        flags = rt->prefix ? ROUTE_PREFIX : ROUTE_EXACT;
        if (rt->body == CONFIG_BODY_WHOLE) {
            flags |= ROUTE_TAKES_BODY;
        } else if (rt->body == CONFIG_BODY_STREAM) {
            /* until bodies are streamed (phase C) such a route gets it whole */
            flags |= ROUTE_BODY_STREAM | ROUTE_TAKES_BODY;
        }
        fn = ms->route_fn[i];
        self = ms->mods[rt->module_index].self;
        if (rt->pool) {
            ms->pool_route[i].fn = fn;
            ms->pool_route[i].self = self;
            fn = poolroute_handler;
            self = &ms->pool_route[i];
        }
        if (router_add(r, rt->path, flags, rt->methods, fn, self) != 0) {
            return -1;
        }
    }
    return 0;
}

void modules_fini(modules_t *ms)
{
    module_t *m;
    int i;

    for (i = ms->n - 1; i >= 0; i--) {
        m = &ms->mods[i];
        if (m->inited) {
            m->inited = 0;
            if (m->desc->fini != NULL) {
                m->desc->fini(m->self);
            }
        }
    }
}

/*
 * The message of the last line in a log buffer, without the log's
 * "2026/12/02 10:00:00 [error] 123: " prefix, into out (size bytes); ""
 * when there is none.
 */
static void last_message(char *buf, size_t len, char *out, size_t size)
{
    char *line, *msg;

    out[0] = '\0';
    while (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len == 0) {
        return;
    }
    buf[len] = '\0';
    line = strrchr(buf, '\n');
    line = line != NULL ? line + 1 : buf;
    msg = strstr(line, "] ");
    msg = msg != NULL ? strstr(msg, ": ") : NULL;
    snprintf(out, size, "%s", msg != NULL ? msg + 2 : line);
}

/*
 * modules_init() with the log to a pipe, so that what a failing init said
 * goes into err after the module's "file:line: ... init failed: ". Then
 * fini. 0 ok, -1 with err set.
 */
static int init_captured(modules_t *ms, struct event_base *base, int progress_fd,
                         char err[CONFIG_ERR_LEN])
{
    char buf[LOG_CAPTURE + 1], said[CONFIG_ERR_LEN];
    const config_module_t *c;
    int fds[2], failed;
    size_t used = 0;
    ssize_t n;
    log_t log;

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        return blame(ms->cfg, 0, err, "pipe() failed: %s", strerror(errno));
    }
    memset(&log, 0, sizeof(log));
    log.fd = fds[1];
    log.level = LOG_LVL_ERROR;
    ms->srv.base = base;
    ms->srv.log = &log;
    failed = init_each(ms, progress_fd);
    if (failed >= 0) {
        while (used < LOG_CAPTURE && (n = read(fds[0], buf + used, LOG_CAPTURE - used)) > 0) {
            used += (size_t)n;
        }
        last_message(buf, used, said, sizeof(said));
        c = ms->mods[failed].cfg;
        blame(ms->cfg, c->path_line, err, "[module %s] '%s': init failed: %s", c->name, c->path,
              said[0] != '\0' ? said : "(it logged no reason)");
    }
    modules_fini(ms);
    close(fds[0]);
    close(fds[1]);
    return failed >= 0 ? -1 : 0;
}

int modules_test_load(const config_t *cfg, int progress_fd, char err[CONFIG_ERR_LEN])
{
    struct event_base *base;
    modules_t ms;
    int rc;

    if (cfg->nmodules == 0) {
        return 0;
    }
    if (modules_load(&ms, cfg, err) != 0) {
        return -1;
    }
    base = event_base_new();
    if (base == NULL) {
        return blame(cfg, 0, err, "event_base_new() failed");
    }
    rc = init_captured(&ms, base, progress_fd, err);
    event_base_free(base);
    return rc;
}
