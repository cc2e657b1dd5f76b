/*
 * conditional: conditional requests and byte ranges (RFC 9110 13 and 14)
 * decided from header values and a file's validators. Pure: no I/O, no
 * allocation, nothing kept between calls.
 */
#ifndef FORKD_CONDITIONAL_H
#define FORKD_CONDITIONAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "byteranges.h"
#include "http_parser.h"

/*
 * An If-Match or If-None-Match field, evaluated line by line as the lines
 * arrive: the field's value is the list all its lines make together
 * (RFC 9110 5.2), so a tag on a second line counts as much as one on the
 * first.
 */
typedef struct {
    int present; /* the field was sent, on one line or more */
    int matched; /* an element matched the resource's tag before any unparsable one */
    int broken;  /* an unparsable element was met: what follows it matches nothing */
} conditional_list_t;

/*
 * The request header fields conditionals and ranges depend on. The single
 * fields keep the value of their first line, borrowed from the request (p is
 * NULL for a field the request does not have); the two lists of tags are
 * matched against etag as they are noted. conditional_init() before
 * conditional_note().
 */
typedef struct {
    const char *etag; /* the resource's, with its quotes (and W/ when weak) */
    conditional_list_t if_match;
    conditional_list_t if_none_match;
    http_slice_t if_modified_since;
    http_slice_t if_unmodified_since;
    http_slice_t range;
    http_slice_t if_range;
} conditional_t;

/* Start noting a request's fields for a resource whose entity-tag is etag (kept, not copied). */
void conditional_init(conditional_t *c, const char *etag);

/*
 * Note one header field of the request (name as received, any case): kept
 * when it is one of conditional_t's (a single field: its first line), else
 * ignored. Cheap for the other fields: one pass over a request's fields with
 * this costs less than looking the six names up.
 */
void conditional_note(conditional_t *c, const char *name, size_t name_len, const char *value,
                      size_t value_len);

/*
 * Does an If-Match / If-None-Match value (a list of entity-tags, or "*")
 * match etag (with its quotes; W/ before them when weak)? weak_ok: weak
 * comparison (W/ prefixes ignored), else a weak tag on either side never
 * matches. An unparsable list matches nothing from where it stops parsing.
 */
int conditional_etag_match(const char *v, size_t len, const char *etag, int weak_ok);

/*
 * The preconditions in the order of RFC 9110 13.2.2 for a resource with
 * c->etag and mtime: If-Match (else If-Unmodified-Since), then If-None-Match
 * (else, for GET and HEAD, If-Modified-Since). get_or_head: the request's
 * method is GET or HEAD. Returns the status to answer with instead of the
 * resource, 304 or 412, or 0 to go on. A date that does not parse is
 * ignored.
 */
int conditional_preconditions(const conditional_t *c, int get_or_head, time_t mtime);

/*
 * Is an If-Range validator still current: an entity-tag equal to etag
 * (strong comparison: a weak one on either side never is), or a date equal
 * to mtime?
 */
int conditional_if_range_ok(const char *v, size_t len, const char *etag, time_t mtime);

/*
 * The ranges of a GET for a resource of size bytes: c's Range, unless its
 * If-Range is no longer current, parsed by byteranges_parse() with at most
 * max ranges into r. Returns what byteranges_parse() does, and 0 when there
 * is no Range or If-Range says to send it all.
 */
int conditional_range(const conditional_t *c, int64_t size, time_t mtime, unsigned max,
                      byterange_t *r, size_t *n);

#endif
