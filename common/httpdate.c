/* httpdate: format and parse HTTP dates with libc (gmtime_r, strptime, timegm). */
#include "httpdate.h"

#include <string.h>

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/*
 * Day and month names are written from fixed English tables rather than with
 * strftime("%a"), which follows the process locale.
 */
void httpdate_format(time_t t, char *buf)
{
    struct tm tm;
    char *p = buf;
    int year;

    gmtime_r(&t, &tm);
    year = tm.tm_year + 1900;
    memcpy(p, days[tm.tm_wday], 3);
    p[3] = ',';
    p[4] = ' ';
    p[5] = (char)('0' + tm.tm_mday / 10);
    p[6] = (char)('0' + tm.tm_mday % 10);
    p[7] = ' ';
    memcpy(p + 8, months[tm.tm_mon], 3);
    p[11] = ' ';
    p[12] = (char)('0' + year / 1000 % 10);
    p[13] = (char)('0' + year / 100 % 10);
    p[14] = (char)('0' + year / 10 % 10);
    p[15] = (char)('0' + year % 10);
    p[16] = ' ';
    p[17] = (char)('0' + tm.tm_hour / 10);
    p[18] = (char)('0' + tm.tm_hour % 10);
    p[19] = ':';
    p[20] = (char)('0' + tm.tm_min / 10);
    p[21] = (char)('0' + tm.tm_min % 10);
    p[22] = ':';
    p[23] = (char)('0' + tm.tm_sec / 10);
    p[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(p + 25, " GMT", 5);
}

int httpdate_parse(const char *s, size_t len, time_t *t)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    char buf[64];
    struct tm tm;
    const char *end;
    size_t i;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(buf, formats[i], &tm);
        if (end != NULL && *end == '\0') {
            *t = timegm(&tm);
            return *t == (time_t)-1 ? -1 : 0;
        }
    }
    return -1;
}
