/* httpdate: format and parse HTTP dates (the three forms of RFC 9110 5.6.7, nothing else). */
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

/* Index of the name of n bytes at s in table (entries of width w, compared exactly), or -1. */
static int name_index(const char *s, size_t n, const char *table, size_t w, int count)
{
    int i;

    for (i = 0; i < count; i++) {
        const char *name = table + (size_t)i * w;
        if (strlen(name) == n && memcmp(s, name, n) == 0) {
            return i;
        }
    }
    return -1;
}

/* The n decimal digits at s (a leading space allowed when space_ok), or -1. */
static int digits(const char *s, size_t n, int space_ok)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == ' ' && i == 0 && space_ok && n > 1) {
            continue;
        }
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "HH:MM:SS" at s into tm; 0 ok, -1 not a time of day (60 seconds: a leap second). */
static int parse_time_of_day(const char *s, struct tm *tm)
{
    tm->tm_hour = digits(s, 2, 0);
    tm->tm_min = digits(s + 3, 2, 0);
    tm->tm_sec = digits(s + 6, 2, 0);
    return s[2] == ':' && s[5] == ':' && tm->tm_hour >= 0 && tm->tm_hour <= 23 && tm->tm_min >= 0
                   && tm->tm_min <= 59 && tm->tm_sec >= 0 && tm->tm_sec <= 60
               ? 0
               : -1;
}

/* Is day a day of month (1-based) in year? */
static int day_exists(int year, int month, int day)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return day >= 1 && day <= mdays[month] && !(month == 1 && day == 29 && !leap);
}

/*
 * The three forms of RFC 9110 5.6.7, each at fixed positions, in English,
 * case-sensitive, "GMT" where the form has it; nothing else is a date
 * ("Sun, 1 Dec 2024 ..." and "Sunday, 10 March 2024 ..." are not). strptime()
 * was lenient (one-digit days, full names in IMF-fixdate, any spaces), which
 * turned a malformed If-Modified-Since into a 304.
 */
int httpdate_parse(const char *s, size_t len, time_t *t)
{
    static const char long_days[7][10] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
    struct tm tm;
    const char *comma = len > 0 ? memchr(s, ',', len) : NULL;
    const char *p;

    memset(&tm, 0, sizeof(tm));
    if (len == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' && s[16] == ' '
        && memcmp(s + 25, " GMT", 4) == 0) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        p = s + 17;
        tm.tm_mday = digits(s + 5, 2, 0);
        tm.tm_mon = name_index(s + 8, 3, months[0], 4, 12);
        tm.tm_year = digits(s + 12, 4, 0);
        if (name_index(s, 3, days[0], 4, 7) < 0 || tm.tm_year < 0) {
            return -1;
        }
    } else if (len == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        p = s + 11;
        tm.tm_mday = digits(s + 8, 2, 1);
        tm.tm_mon = name_index(s + 4, 3, months[0], 4, 12);
        tm.tm_year = digits(s + 20, 4, 0);
        if (name_index(s, 3, days[0], 4, 7) < 0 || tm.tm_year < 0) {
            return -1;
        }
    } else if (comma != NULL && len == (size_t)(comma - s) + 24 && comma[1] == ' '
               && comma[4] == '-' && comma[8] == '-' && comma[11] == ' '
               && memcmp(comma + 20, " GMT", 4) == 0) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years as strptime's %y */
        p = comma + 12;
        tm.tm_mday = digits(comma + 2, 2, 0);
        tm.tm_mon = name_index(comma + 5, 3, months[0], 4, 12);
        tm.tm_year = digits(comma + 9, 2, 0);
        if (name_index(s, (size_t)(comma - s), long_days[0], 10, 7) < 0 || tm.tm_year < 0) {
            return -1;
        }
        tm.tm_year += tm.tm_year < 69 ? 2000 : 1900;
    } else {
        return -1;
    }
    if (tm.tm_mon < 0 || tm.tm_mday < 0 || !day_exists(tm.tm_year, tm.tm_mon, tm.tm_mday)
        || parse_time_of_day(p, &tm) != 0) {
        return -1;
    }
    tm.tm_year -= 1900;
    *t = timegm(&tm);
    return *t == (time_t)-1 ? -1 : 0;
}
