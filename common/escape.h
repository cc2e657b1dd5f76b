/*
 * escape: client bytes made safe for a log line (no forged lines, fields or
 * terminals), or for a JSON string.
 */
#ifndef FORKD_ESCAPE_H
#define FORKD_ESCAPE_H

#include <stddef.h>

/* Bytes escape_bytes() may write for len input bytes (each can become "\xHH"). */
#define ESCAPE_MAX(len) (4 * (len))

/*
 * Copy s[0..len) to p, writing control bytes, bytes >= 0x7f, '"' and '\\' as
 * "\xHH". p needs ESCAPE_MAX(len) bytes; no NUL is written. Returns the end.
 */
char *escape_bytes(char *p, const char *s, size_t len);

/*
 * escape_bytes() into out (outsz bytes, NUL-terminated), cutting the input
 * where the next escaped byte would not fit. For error-log messages.
 * Returns out.
 */
char *escape_str(char *out, size_t outsz, const char *s, size_t len);

/* Bytes escape_json() may write for len input bytes (each can become "\u00HH"). */
#define ESCAPE_JSON_MAX(len) (6 * (len))

/*
 * Copy s[0..len) to p as the inside of a JSON string: control bytes, '"',
 * '\\' and bytes >= 0x7f as "\u00HH" (a byte read as Latin-1, so any bytes
 * give valid JSON). p needs ESCAPE_JSON_MAX(len) bytes; no NUL is written.
 * Returns the end.
 */
char *escape_json(char *p, const char *s, size_t len);

#endif
