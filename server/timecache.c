/* timecache: the Date and access-log texts, formatted once a second. */
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
    strftime(tc->iso, sizeof(tc->iso), "%Y-%m-%dT%H:%M:%S%z", &tm);
}
