/* static: serve files below [static] root (GET, HEAD; conditionals and ranges). */
#ifndef FORKD_STATIC_H
#define FORKD_STATIC_H

#include "http.h"

/* Handler for the "/" prefix route; ctx is the worker_t. */
int static_handler(req_t *req, resp_t *resp, void *ctx);

/*
 * Open root for static_handler (an O_PATH directory descriptor kept by the
 * worker). Returns the fd, or -1 with errno set.
 */
int static_open_root(const char *root);

#endif
