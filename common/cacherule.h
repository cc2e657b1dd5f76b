/* cacherule: which [cache PATTERN] rule gives a site's file its Cache-Control / Expires. */
#ifndef FORKD_CACHERULE_H
#define FORKD_CACHERULE_H

#include <stddef.h>

#include "config.h"

/*
 * The rule of cfg for path (the request's decoded, normalised path) on the
 * site named site ("static" for [static], else a [site NAME]'s name), or
 * NULL. Rules without site = apply to every site. The most specific wins:
 * the exact path, else the longest prefix ("/assets/"), else the file's
 * extension ("*.html", any case). Pure: a scan of the rules.
 */
const config_cache_t *cacherule_find(const config_t *cfg, const char *site, const char *path,
                                     size_t len);

/* Does a rule of cfg apply to the site named site (one for every site counts)? */
int cacherule_site_has(const config_t *cfg, const char *site);

#endif
