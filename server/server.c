/* server: the worker as a handler sees it (forkd_server_t): its event loop, clock and log. */
#include "http.h"

#include <stdarg.h>

#include "timecache.h"

_Static_assert(FORKD_LOG_ERROR == LOG_LVL_ERROR && FORKD_LOG_WARN == LOG_LVL_WARN
                   && FORKD_LOG_INFO == LOG_LVL_INFO && FORKD_LOG_DEBUG == LOG_LVL_DEBUG,
               "forkd_log() levels are log_level_t");

struct event_base *forkd_event_base(forkd_server_t *srv)
{
    return srv->base;
}

uint64_t forkd_now_ms(forkd_server_t *srv)
{
    (void)srv;
    return timecache_now_ms();
}

void forkd_log(forkd_server_t *srv, int level, const char *fmt, ...)
{
    va_list ap;

    if (level < FORKD_LOG_ERROR || level > FORKD_LOG_DEBUG) {
        level = FORKD_LOG_ERROR;
    }
    va_start(ap, fmt);
    log_vmsg(srv->log, (log_level_t)level, fmt, ap);
    va_end(ap);
}
