/* uri: turn a request path into a safe file-system path below a root. */
#ifndef FORKD_URI_H
#define FORKD_URI_H

#include <stddef.h>

/*
 * Percent-decode the absolute path in[0..len) into out (outsz bytes,
 * NUL-terminated), merge repeated slashes and remove "." and ".." segments
 * (RFC 3986 5.2.4) after decoding, so "%2e%2e" counts as "..".
 * Returns the length written (the result starts with '/' and keeps a final
 * '/'), or -1 when the path is invalid: not starting with '/', a bad %-escape,
 * a decoded NUL byte, ".." above the root, or out too small.
 */
int uri_normalize_path(const char *in, size_t len, char *out, size_t outsz);

#endif
