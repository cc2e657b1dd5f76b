/*
 * encoding: content-coding negotiation (Accept-Encoding, RFC 9110 12.5.3)
 * and the compressible-type list of [static] gzip_types. Pure: no I/O, no
 * allocation, nothing kept between calls.
 */
#ifndef FORKD_ENCODING_H
#define FORKD_ENCODING_H

#include <stddef.h>

/* The codings forkd serves, in its own order of preference on equal q. */
typedef enum {
    ENCODING_BR = 0, /* a name.br sibling */
    ENCODING_GZIP,   /* a name.gz sibling, or compressed on the fly */
    ENCODING_IDENTITY,
    ENCODING_N
} encoding_t;

/*
 * What a request's Accept-Encoding fields say, noted line by line (the
 * field's value is the list all its lines make, RFC 9110 5.2). q values are
 * in thousandths; -1: the coding is not named.
 */
typedef struct {
    int present;       /* the field was sent (an empty value counts) */
    int q[ENCODING_N]; /* q of each coding as named (x-gzip counts as gzip) */
    int star;          /* q of "*", for codings not named */
} encoding_accept_t;

/* Start noting a request's Accept-Encoding lines. */
void encoding_init(encoding_accept_t *a);

/*
 * Note one Accept-Encoding line's value (len bytes): a list of codings,
 * each with an optional ";q=" weight. An element that does not parse (a
 * bad token or q value) is skipped, the rest of the list still counts. A
 * coding named twice keeps its first q.
 */
void encoding_note(encoding_accept_t *a, const char *v, size_t len);

/*
 * The codings to try for a response, best first, into out; returns how
 * many (1..ENCODING_N). Ordered by q, and on equal q br, gzip, identity.
 * Without the field, or with an empty one, only identity. identity that the
 * field does not name (nor "*") is acceptable but wanted least: after every
 * coding the client accepts. A coding with q 0 is left out, but identity is
 * always last when refused (identity;q=0 or *;q=0): a server with nothing
 * acceptable sends it anyway (RFC 9110 12.5.1 allows disregarding the field)
 * rather than a 406.
 */
int encoding_order(const encoding_accept_t *a, encoding_t out[ENCODING_N]);

/* The coding's name in Content-Encoding ("br", "gzip"); NULL for identity. */
const char *encoding_name(encoding_t e);

/* The file name suffix of a precompressed sibling (".br", ".gz"); NULL for identity. */
const char *encoding_suffix(encoding_t e);

/*
 * Is the media type of content_type (its parameters ignored, any case) in
 * types: blank separated "type/subtype" items; a subtype "*" (text/ then a
 * star) names every subtype of its type.
 */
int encoding_type_listed(const char *types, const char *content_type);

#endif
