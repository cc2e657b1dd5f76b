/* errpage: a site's own error pages (error_page_NNN), else the built-in one. */
#ifndef FORKD_ERRPAGE_H
#define FORKD_ERRPAGE_H

#include "forkd.h"
#include "static.h"

/*
 * Answer status for site st: the file its error_page_NNN names (below its
 * root, opened like any file there and through the same cache), with status
 * as it is (never a redirect), the file's Content-Type and no validators or
 * ranges (the page stands for an error, not for a resource a cache may keep
 * or resume). When no page is set for status, or it cannot be served (gone,
 * unreadable, not a regular file, out of descriptors), the built-in page:
 * forkd_resp_error(). Headers already added stay. HEAD gets no body (the
 * response layer's rule).
 */
void errpage_send(static_t *st, forkd_req_t *req, forkd_resp_t *resp, int status);

#endif
