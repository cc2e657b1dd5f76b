/* access: the dotfile rule and deny prefixes, on a normalised path (pure: no I/O). */
#include "access.h"

#include <string.h>

/* The path being checked: a then b, without building it (b may be a listing's entry). */
typedef struct {
    const char *a;
    size_t alen;
    const char *b;
    size_t blen;
} path2_t;

static char at(const path2_t *p, size_t i)
{
    return i < p->alen ? p->a[i] : p->b[i - p->alen];
}

/* Does a segment of p start with '.' (other than a first ".well-known")? */
static int has_dotfile(const path2_t *p)
{
    static const char wk[] = "/.well-known";
    size_t i, len = p->alen + p->blen, start = 0;

    if (len >= sizeof(wk) - 1) {
        for (i = 0; i < sizeof(wk) - 1 && at(p, i) == wk[i]; i++) {
        }
        if (i == sizeof(wk) - 1 && (len == i || at(p, i) == '/')) {
            start = i; /* the namespace itself is served; dotfiles below it are not */
        }
    }
    for (i = start; i + 1 < len; i++) {
        if (at(p, i) == '/' && at(p, i + 1) == '.') {
            return 1;
        }
    }
    return 0;
}

/* Does the prefix pre[0..len) (a URL path) cover p, on a segment boundary? */
static int covers(const path2_t *p, const char *pre, size_t len)
{
    size_t i, plen = p->alen + p->blen;

    while (len > 0 && pre[len - 1] == '/') {
        len--; /* "/private/" and "/private" alike; "/" becomes "": everything */
    }
    if (plen < len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (at(p, i) != pre[i]) {
            return 0;
        }
    }
    return plen == len || at(p, len) == '/';
}

static int denied(const path2_t *p, const char *list)
{
    size_t len;

    while (*list != '\0') {
        list += strspn(list, " \t");
        len = strcspn(list, " \t");
        if (len > 0 && covers(p, list, len)) {
            return 1;
        }
        list += len;
    }
    return 0;
}

access_t access_check(const config_site_t *site, const char *dir, size_t dir_len, const char *name)
{
    path2_t p = {dir, dir_len, name != NULL ? name : "", name != NULL ? strlen(name) : 0};

    if (!site->dotfiles && has_dotfile(&p)) {
        return ACCESS_DOTFILE;
    }
    if (site->deny[0] != '\0' && denied(&p, site->deny)) {
        return ACCESS_DENIED;
    }
    return ACCESS_OK;
}

const char *access_reason(access_t why)
{
    switch (why) {
    case ACCESS_DOTFILE: return "dotfile";
    case ACCESS_DENIED: return "deny";
    case ACCESS_OK: break;
    }
    return "";
}
