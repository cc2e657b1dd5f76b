/*
 * byteranges: a Range field's list of byte ranges (RFC 9110 14.1.2), sorted
 * and coalesced, and the texts of a multipart/byteranges body (RFC 9110
 * 14.6) around them. Pure: no I/O, no allocation, nothing kept between
 * calls.
 */
#ifndef FORKD_BYTERANGES_H
#define FORKD_BYTERANGES_H

#include <stddef.h>
#include <stdint.h>

/* The most ranges one Range field may list ([http] max_ranges at most). */
#define BYTERANGES_MAX 256
/* A boundary's length: "forkd-" and 16 hex digits. */
#define BYTERANGES_BOUNDARY_LEN 22
/* A part's Content-Type longer than this is left out of its headers. */
#define BYTERANGES_CTYPE_MAX 255
/*
 * What byteranges_text() writes at most: CRLF "--" boundary CRLF (28),
 * "Content-Type: " type CRLF (16 + BYTERANGES_CTYPE_MAX), "Content-Range:
 * bytes " three numbers of up to 19 digits "-" "/" CRLF (80), CRLF (2):
 * 381 bytes, rounded up.
 */
#define BYTERANGES_TEXT_MAX 512

/* The bytes first..last of a resource, both included. */
typedef struct {
    int64_t first, last;
} byterange_t;

/*
 * Parse a Range value for a resource of size bytes into r (room for max
 * ranges, max <= BYTERANGES_MAX): the satisfiable ones, sorted, and
 * overlapping or adjacent ones merged, so that together they never cover a
 * byte twice nor more than the resource. Unsatisfiable ranges of the list
 * are dropped (a first byte past the end, "-0"). Returns 1 with *n >= 1
 * ranges in r; 0 when the field is to be ignored, the whole resource sent
 * (RFC 9110 14.2 allows it): max is 0, another unit than bytes, bad syntax
 * anywhere in the list (a last byte before the first, a number of more than
 * 18 digits), more than max ranges listed (satisfiable or not, before any
 * merging), or a suffix range of an empty resource (satisfiable, yet no byte
 * to send); -1 when no range is satisfiable (416). r and *n are written only
 * when the answer is 1.
 */
int byteranges_parse(const char *v, size_t len, int64_t size, unsigned max, byterange_t *r,
                     size_t *n);

/*
 * A multipart boundary made from 64 random bits (the caller's: this module
 * draws none) into out (BYTERANGES_BOUNDARY_LEN + 1 bytes, NUL-terminated).
 */
void byteranges_boundary(char *out, uint64_t random);

/*
 * The text before part i of the n ranges r of a multipart/byteranges body
 * for a resource of size bytes (its delimiter, Content-Type: ctype unless
 * NULL or too long, Content-Range, the empty line), or with i == n the close
 * delimiter after the last part, into out (BYTERANGES_TEXT_MAX bytes, no
 * NUL). Returns its length.
 */
size_t byteranges_text(char *out, const char *boundary, const char *ctype, const byterange_t *r,
                       size_t n, size_t i, int64_t size);

/* The whole multipart body's length: every byteranges_text() and every range's bytes. */
uint64_t byteranges_body_len(const char *boundary, const char *ctype, const byterange_t *r,
                             size_t n, int64_t size);

#endif
