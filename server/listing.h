/* listing: the HTML index of a directory that has no index file (autoindex = yes). */
#ifndef FORKD_LISTING_H
#define FORKD_LISTING_H

#include "forkd.h"
#include "static.h"

/* Entries listed at most; past it the page says there are more (the rest is not read). */
#define LISTING_MAX_ENTRIES 2000

/*
 * Answer the request (a directory's URL, ending in '/') with a listing of
 * the directory open as dfd (opened below st's root by the caller; taken:
 * closed here). Entries are read through dfd alone, never by a path, and
 * never followed: a symlink is listed as itself (its own date, no size),
 * so nothing outside the root is looked at. Names the site's access rules
 * refuse (dotfiles, deny prefixes) are left out, as they would be refused.
 * Directories first, then files, each in byte order of their names; names
 * are percent-encoded in links and HTML-escaped in text. At most
 * LISTING_MAX_ENTRIES entries, the first the directory gives (readdir()
 * order), then reading stops: a huge directory costs bounded memory and
 * time (the page for 2000 names of 255 bytes, each byte escaped, is at most
 * a few MB; usual names make it ~200 KB). Returns FORKD_DONE.
 */
int listing_send(static_t *st, forkd_req_t *req, forkd_resp_t *resp, int dfd);

#endif
