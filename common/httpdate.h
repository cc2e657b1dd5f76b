/* httpdate: HTTP dates (RFC 9110 5.6.7): IMF-fixdate out, the three formats in. */
#ifndef FORKD_HTTPDATE_H
#define FORKD_HTTPDATE_H

#include <stddef.h>
#include <time.h>

#define HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write t as IMF-fixdate into buf (at least HTTPDATE_LEN + 1 bytes), NUL-terminated. */
void httpdate_format(time_t t, char *buf);

/*
 * Parse an HTTP date of len bytes (IMF-fixdate, obsolete RFC 850 or asctime
 * form). Returns 0 and sets *t, or -1 when it is not a valid date.
 */
int httpdate_parse(const char *s, size_t len, time_t *t);

#endif
