/* cacherule: exact path, then longest prefix, then extension. */
#include "cacherule.h"

#include <string.h>
#include <strings.h>

/* The extension of path's last segment, without its dot ("" when none). */
static const char *extension(const char *path, size_t len, size_t *ext_len)
{
    size_t i = len;

    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') {
        i--;
    }
    if (i == 0 || path[i - 1] != '.') {
        *ext_len = 0;
        return "";
    }
    *ext_len = len - i;
    return path + i;
}

/* How specifically pattern names path: 0 not at all, then extension < prefix < exact. */
static size_t specificity(const char *pattern, const char *path, size_t len, const char *ext,
                          size_t ext_len)
{
    size_t plen = strlen(pattern);

    if (pattern[0] == '*') { /* "*.ext" */
        return plen - 2 == ext_len && ext_len > 0 && strncasecmp(pattern + 2, ext, ext_len) == 0;
    }
    if (pattern[plen - 1] == '/') {
        return plen <= len && memcmp(pattern, path, plen) == 0 ? 1 + plen : 0;
    }
    return plen == len && memcmp(pattern, path, len) == 0 ? (size_t)-1 : 0;
}

const config_cache_t *cacherule_find(const config_t *cfg, const char *site, const char *path,
                                     size_t len)
{
    const config_cache_t *best = NULL;
    size_t ext_len, score, best_score = 0;
    const char *ext = extension(path, len, &ext_len);
    int i;

    for (i = 0; i < cfg->ncache_rules; i++) {
        const config_cache_t *c = &cfg->cache_rules[i];
        if (c->site[0] != '\0' && strcmp(c->site, site) != 0) {
            continue;
        }
        score = specificity(c->pattern, path, len, ext, ext_len);
        if (score > best_score) {
            best_score = score;
            best = c;
        }
    }
    return best;
}

int cacherule_site_has(const config_t *cfg, const char *site)
{
    int i;

    for (i = 0; i < cfg->ncache_rules; i++) {
        if (cfg->cache_rules[i].site[0] == '\0' || strcmp(cfg->cache_rules[i].site, site) == 0) {
            return 1;
        }
    }
    return 0;
}
