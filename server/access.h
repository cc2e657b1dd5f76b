/* access: which request paths a site refuses (dotfiles, deny prefixes); pure code. */
#ifndef FORKD_ACCESS_H
#define FORKD_ACCESS_H

#include <stddef.h>

#include "config.h"

typedef enum {
    ACCESS_OK = 0,  /* served (or refused by the file system's own answer) */
    ACCESS_DOTFILE, /* a segment starts with '.' (dotfiles = deny), outside /.well-known/ */
    ACCESS_DENIED   /* under one of the site's deny prefixes */
} access_t;

/*
 * May site serve the URL path dir[0..dir_len) followed by name (NULL or ""
 * for none: a directory's index file, or an entry of a listing)? dir is the
 * request's normalised path (decoded, no "//", "." or ".." segment: what
 * forkd_req_path() gives), so "%2e" and "//" are already what they mean.
 *
 * Dotfiles: with site->dotfiles 0 (deny), any segment starting with '.' is
 * refused, except the first one when it is ".well-known" (RFC 8615: ACME
 * challenges and the like live there). Deny prefixes match on a segment
 * boundary: "/private/" and "/private" both refuse "/private",
 * "/private/" and everything below it, never "/privateer". Comparison is
 * exact bytes (the file system's names are case sensitive).
 */
access_t access_check(const config_site_t *site, const char *dir, size_t dir_len, const char *name);

/* A word for a refusal in log lines: "dotfile", "deny", or "" for ACCESS_OK. */
const char *access_reason(access_t why);

#endif
