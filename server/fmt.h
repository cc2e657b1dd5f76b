/*
 * fmt: text appended to a buffer without printf, for what runs per request
 * (the response head, the access log line): sprintf() showed in profiles.
 * Each writes at p, no NUL, and returns the bytes written; the caller has
 * made room.
 */
#ifndef FORKD_FMT_H
#define FORKD_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* s[0..n) at p. */
static inline size_t fmt_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return n;
}

/* A string literal at p. */
#define FMT_LIT(p, s) fmt_put(p, s, sizeof(s) - 1)

/* The decimal digits of v at p (at most 20). */
static inline size_t fmt_uint(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++) {
        p[i] = tmp[n - 1 - i];
    }
    return n;
}

/* v as 16 lowercase hex digits at p (leading zeros kept: a fixed width). */
static inline size_t fmt_hex16(char *p, uint64_t v)
{
    int i;

    for (i = 15; i >= 0; i--) {
        p[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return 16;
}

#endif
