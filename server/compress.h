/*
 * compress: which representation of a static file answers a request: the
 * file as is, a precompressed sibling (name.br, name.gz; [static]
 * precompressed) or the file gzipped once per version in the worker's file
 * cache ([static] gzip).
 */
#ifndef FORKD_COMPRESS_H
#define FORKD_COMPRESS_H

#include <stdint.h>

#include "filecache.h"
#include "forkd.h"
#include "static.h"

/*
 * The entry to answer req with for the file e (rel: its path below the
 * site's root), by the request's Accept-Encoding and the site's keys: e
 * itself, or a variant whose encoding, ETag, size and bytes are the encoded
 * ones (its Content-Type and Last-Modified the file's). Adds
 * "Vary: Accept-Encoding" to resp when the answer depends on the field.
 * Takes the caller's reference to e and returns one to the entry chosen.
 */
fc_entry_t *compress_pick(static_t *st, forkd_req_t *req, forkd_resp_t *resp, fc_entry_t *e,
                          const char *rel, uint64_t now_ms);

#endif
