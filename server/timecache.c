/* timecache: clock_gettime(CLOCK_MONOTONIC_COARSE), and dates formatted once a second. */
#include "timecache.h"

void timecache_update(timecache_t *tc)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == tc->sec) {
        return;
    }
    tc->sec = now;
    httpdate_format(now, tc->date);
    localtime_r(&now, &tm);
    strftime(tc->clf, sizeof(tc->clf), "%d/%b/%Y:%H:%M:%S %z", &tm);
}

uint64_t timecache_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
