/* timecache: the worker's clocks: monotonic ms, and this second's Date and access-log texts. */
#ifndef FORKD_TIMECACHE_H
#define FORKD_TIMECACHE_H

#include <stdint.h>
#include <time.h>

#include "httpdate.h"

#define TIMECACHE_CLF_LEN 32 /* "28/Nov/2026:10:00:00 +0000" and its NUL, with room */

/* Texts for the current second, renewed by timecache_update(); zero it before the first call. */
typedef struct {
    time_t sec;                  /* the second the texts are for */
    char date[HTTPDATE_LEN + 1]; /* "Sun, 06 Nov 1994 08:49:37 GMT", for the Date header */
    char clf[TIMECACHE_CLF_LEN]; /* "06/Nov/1994:09:49:37 +0100" (local time), for the access log */
    char iso[TIMECACHE_CLF_LEN]; /* "1994-11-06T09:49:37+0100" (local time), for JSON lines */
} timecache_t;

/* Renew the texts if the second changed; one time() otherwise, cheap to call per response. */
void timecache_update(timecache_t *tc);

/*
 * Milliseconds of a monotonic clock (coarse: good to a few ms); what
 * timeouts are measured on. Inline: the request path reads it often.
 */
static inline uint64_t timecache_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
