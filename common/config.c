/* config: one table of keys, their defaults and parsers, plus [module]/[route]/[upstream]. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http_parser.h"
#include "net.h"
#include "uri.h"

typedef enum {
    KEY_LISTEN,      /* space separated addresses */
    KEY_WORKERS,     /* number or "auto" */
    KEY_STRING,      /* copied as is, non-empty, no '/' */
    KEY_NAME,        /* user or group name */
    KEY_URLPATH,     /* "/..." */
    KEY_CIDRS,       /* space separated CIDR list */
    KEY_PATH,        /* made absolute against the config file's directory */
    KEY_PATH_OFF,    /* path or "off" ("" stored) */
    KEY_PATH_STDERR, /* path or "stderr" ("" stored) */
    KEY_DURATION,    /* uint32 milliseconds */
    KEY_SIZE32,
    KEY_SIZE64,
    KEY_UINT,
    KEY_BOOL,
    KEY_LEVEL,
    KEY_TERM,         /* "graceful" or "fast" */
    KEY_IP_HEADER,    /* a config_ip_header_t by its header's name, any case */
    KEY_LOG_FORMAT,   /* combined or json */
    KEY_HOSTS,        /* server_name: host names, exact or "*.suffix" */
    KEY_UNKNOWN_HOST, /* serve, 404 or 421 */
    KEY_CHARSET,      /* a charset name, or off ("" stored) */
    KEY_TYPES,        /* media types: "type/subtype" or "type/" and a star, blank separated */
    KEY_DOTFILES,     /* deny or allow (0, 1) */
    KEY_DENY,         /* URL path prefixes, blank separated, possibly none */
    KEY_ERROR_PAGE    /* a URL path of a file below the root, or off ("") */
} key_type_t;

typedef struct {
    const char *section;
    const char *name;
    key_type_t type;
    size_t offset;
    size_t size;       /* of the field, for strings */
    uint64_t min, max; /* numeric bounds, inclusive */
} key_def_t;

#define F(field) offsetof(config_t, field), sizeof(((config_t *)0)->field)

static const key_def_t keys[] = {
    {"server", "listen", KEY_LISTEN, F(listen), 0, 0},
    {"server", "workers", KEY_WORKERS, F(workers), 1, 512},
    {"server", "pid_file", KEY_PATH_OFF, F(pid_file), 0, 0},
    {"server", "user", KEY_NAME, F(user), 0, 0},
    {"server", "group", KEY_NAME, F(group), 0, 0},
    {"server", "shutdown_timeout", KEY_DURATION, F(shutdown_timeout), 100, 3600000},
    {"server", "graceful_timeout", KEY_DURATION, F(graceful_timeout), 100, 86400000},
    {"server", "worker_timeout", KEY_DURATION, F(worker_timeout), 0, 3600000},
    {"server", "drain_delay", KEY_DURATION, F(drain_delay), 0, 3600000},
    {"server", "term", KEY_TERM, F(term_graceful), 0, 0},
    {"server", "reuse_port", KEY_BOOL, F(reuse_port), 0, 0},
    {"server", "cpu_affinity", KEY_BOOL, F(cpu_affinity), 0, 0},
    {"server", "threads", KEY_UINT, F(threads), 0, CONFIG_MAX_THREADS},
    {"server", "proxy_from", KEY_CIDRS, F(proxy_from), 0, 0},
    {"static", "cache_entries", KEY_UINT, F(cache_entries), 0, 1000000},
    {"static", "cache_max_file", KEY_SIZE64, F(cache_max_file), 0, 64 * 1024 * 1024},
    {"static", "cache_valid", KEY_DURATION, F(cache_valid), 0, 3600000},
    {"static", "unknown_host", KEY_UNKNOWN_HOST, F(unknown_host), 0, 0},
    {"http", "keepalive_timeout", KEY_DURATION, F(keepalive_timeout), 0, 3600000},
    {"http", "keepalive_requests", KEY_UINT, F(keepalive_requests), 0, 100000000},
    {"http", "header_timeout", KEY_DURATION, F(header_timeout), 100, 3600000},
    {"http", "body_timeout", KEY_DURATION, F(body_timeout), 100, 3600000},
    {"http", "send_timeout", KEY_DURATION, F(send_timeout), 100, 3600000},
    {"http", "lingering_timeout", KEY_DURATION, F(lingering_timeout), 0, 60000},
    {"http", "max_header_size", KEY_SIZE32, F(max_header_size), 1024, 1048576},
    {"http", "max_headers", KEY_UINT, F(max_headers), 1, 1000},
    {"http", "max_body_size", KEY_SIZE64, F(max_body_size), 0, (uint64_t)1 << 40},
    {"http", "max_connections", KEY_UINT, F(max_connections), 1, 1000000},
    {"http", "min_rate", KEY_SIZE32, F(min_rate), 0, 1 << 30},
    {"http", "handler_timeout", KEY_DURATION, F(handler_timeout), 0, 3600000},
    {"http", "max_ranges", KEY_UINT, F(max_ranges), 0, CONFIG_MAX_RANGES},
    {"http", "real_ip_from", KEY_CIDRS, F(real_ip_from), 0, 0},
    {"http", "real_ip_header", KEY_IP_HEADER, F(real_ip_header), 0, 0},
    {"log", "access_log", KEY_PATH_OFF, F(access_log), 0, 0},
    {"log", "error_log", KEY_PATH_STDERR, F(error_log), 0, 0},
    {"log", "level", KEY_LEVEL, F(level), 0, 0},
    {"log", "format", KEY_LOG_FORMAT, F(log_format), 0, 0},
    {"demo", "enabled", KEY_BOOL, F(demo_enabled), 0, 0},
    {"status", "path", KEY_URLPATH, F(status_path), 0, 0},
    {"status", "metrics_path", KEY_URLPATH, F(metrics_path), 0, 0},
    {"status", "allow", KEY_CIDRS, F(allow), 0, 0},
    {"health", "path", KEY_URLPATH, F(health_path), 0, 0},
    {"health", "log", KEY_BOOL, F(health_log), 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

#define S(field) offsetof(config_site_t, field), sizeof(((config_site_t *)0)->field)

/*
 * A site's keys: in [static] (the default site, cfg->sites[0]) and in every
 * [site NAME] (offsets into config_site_t; the section name is not used).
 */
static const key_def_t site_keys[] = {
    {"site", "server_name", KEY_HOSTS, S(server_name), 0, 0},
    {"site", "root", KEY_PATH, S(root), 0, 0},
    {"site", "index", KEY_STRING, S(index), 0, 0},
    {"site", "charset", KEY_CHARSET, S(charset), 0, 0},
    {"site", "precompressed", KEY_BOOL, S(precompressed), 0, 0},
    {"site", "gzip", KEY_BOOL, S(gzip), 0, 0},
    {"site", "gzip_types", KEY_TYPES, S(gzip_types), 0, 0},
    {"site", "gzip_min_length", KEY_SIZE32, S(gzip_min_length), 0, 1 << 30},
    {"site", "gzip_level", KEY_UINT, S(gzip_level), 1, 9},
    {"site", "dotfiles", KEY_DOTFILES, S(dotfiles), 0, 0},
    {"site", "deny", KEY_DENY, S(deny), 0, 0},
    {"site", "autoindex", KEY_BOOL, S(autoindex), 0, 0},
    /* in config_error_page()'s order */
    {"site", "error_page_403", KEY_ERROR_PAGE, S(error_page[0]), 0, 0},
    {"site", "error_page_404", KEY_ERROR_PAGE, S(error_page[1]), 0, 0},
    {"site", "error_page_500", KEY_ERROR_PAGE, S(error_page[2]), 0, 0},
    {"site", "error_page_503", KEY_ERROR_PAGE, S(error_page[3]), 0, 0},
};

#define NSITE_KEYS (sizeof(site_keys) / sizeof(site_keys[0]))
_Static_assert(NSITE_KEYS <= CONFIG_SITE_KEYS, "config_site_t.key_line is too small");
_Static_assert(sizeof(CONFIG_GZIP_TYPES) <= sizeof(((config_site_t *)0)->gzip_types),
               "the default gzip_types fits its field");

_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "config_t.key_line is too small for the key table");
/* one malloc per load (never on a stack): 32 sites with their roots, 16 modules with their keys */
_Static_assert(sizeof(config_t) < 1024 * 1024, "config_t: one malloc per load, keep it small");

/* The section the lines being read belong to (inih cuts long section names). */
typedef enum {
    SECT_NONE,     /* before the first [section] */
    SECT_TABLE,    /* a section of keys[] */
    SECT_MODULE,   /* [module NAME]: cfg->modules[loader_t.cur] */
    SECT_ROUTE,    /* [route PATH]: cfg->routes[loader_t.cur] */
    SECT_UPSTREAM, /* [upstream NAME]: cfg->upstreams[loader_t.cur] */
    SECT_SITE,     /* [site NAME]: cfg->sites[loader_t.cur] */
    SECT_CACHE,    /* [cache PATTERN]: cfg->cache_rules[loader_t.cur] */
    SECT_MIME,     /* [mime]: cfg->mime */
    SECT_BAD       /* a refused header: its keys are not looked at */
} sect_t;

/* State of one config_load() call, shared by the inih reader and handler. */
typedef struct {
    config_t *cfg;
    FILE *fp;
    const char *path;
    char dir[CONFIG_PATH_MAX]; /* the file's directory, for relative paths */
    int line;                  /* lines read so far (= line being handled) */
    int err_line;              /* first error found by us, 0 if none */
    char err[CONFIG_ERR_LEN / 2];
    int nsettings;
    sect_t sect;  /* set by check_section() before inih hands over the keys */
    int cur;      /* index of the current module or route */
    int key_seen; /* a key since the last header: inih takes an indented line as more value */
} loader_t;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const bool_names[] = {"no", "yes"};
static const char *const term_names[] = {"fast", "graceful"}; /* term_graceful 0, 1 */
static const char *const ip_header_names[] = {"X-Forwarded-For", "X-Real-IP",
                                              "Forwarded"}; /* config_ip_header_t order */
static const char *const log_format_names[] = {"combined", "json"};
static const char *const unknown_host_names[] = {"serve", "404", "421"};  /* its enum's order */
static const char *const body_names[] = {"none", "whole", "stream"};      /* config_body_t order */
static const char *const balance_names[] = {"round_robin", "least_conn"}; /* config_balance_t */
static const char *const dotfiles_names[] = {"deny", "allow"}; /* config_site_t.dotfiles */
static const int error_statuses[CONFIG_ERROR_PAGES] = {403, 404, 500, 503};
/* an [upstream]'s keys, in the order of config_upstream_t.key_line */
static const char *const upstream_keys[] = {"servers",           "balance",         "keepalive",
                                            "keepalive_timeout", "connect_timeout", "read_timeout",
                                            "send_timeout",      "fail_timeout",    "buffer"};
#define UPSTREAM_NKEYS 9

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen[0], "127.0.0.1:8080");
    cfg->nlisten = 1;
    cfg->workers = 0;
    strcpy(cfg->sites[0].index, "index.html");
    strcpy(cfg->sites[0].charset, "utf-8");
    cfg->sites[0].precompressed = 1;
    strcpy(cfg->sites[0].gzip_types, CONFIG_GZIP_TYPES);
    cfg->sites[0].gzip_min_length = 256;
    cfg->sites[0].gzip_level = 6;
    cfg->nsites = 1;
    cfg->cache_entries = 1024;
    cfg->cache_max_file = 64 * 1024;
    cfg->cache_valid = 0;
    cfg->keepalive_timeout = 75000;
    cfg->keepalive_requests = 1000;
    cfg->header_timeout = 10000;
    cfg->body_timeout = 30000;
    cfg->send_timeout = 30000;
    cfg->lingering_timeout = 5000;
    cfg->max_header_size = 8192;
    cfg->max_headers = 100;
    cfg->max_body_size = 1024 * 1024;
    cfg->max_connections = 8192;
    cfg->min_rate = 500;
    cfg->level = LOG_LVL_INFO;
    cfg->shutdown_timeout = 10000;
    cfg->graceful_timeout = 30000;
    cfg->worker_timeout = 60000;
    cfg->threads = 0;
    cfg->handler_timeout = 60000;
    cfg->max_ranges = 16;
    strcpy(cfg->allow, "127.0.0.0/8 ::1/128");
}

int config_line(const config_t *cfg, const char *section, const char *name)
{
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
            return cfg->key_line[i];
        }
    }
    return strcmp(section, "static") == 0 ? config_site_line(cfg, 0, name) : 0;
}

int config_site_line(const config_t *cfg, int site, const char *name)
{
    size_t i;

    for (i = 0; i < NSITE_KEYS; i++) {
        if (strcmp(site_keys[i].name, name) == 0) {
            return cfg->sites[site].key_line[i];
        }
    }
    return 0;
}

int config_error_page(int status)
{
    int i;

    for (i = 0; i < CONFIG_ERROR_PAGES; i++) {
        if (error_statuses[i] == status) {
            return i;
        }
    }
    return -1;
}

const config_upstream_t *config_upstream(const config_t *cfg, const char *name)
{
    int i;

    for (i = 0; i < cfg->nupstreams; i++) {
        if (strcmp(cfg->upstreams[i].name, name) == 0) {
            return &cfg->upstreams[i];
        }
    }
    return NULL;
}

const config_module_t *config_module(const config_t *cfg, const char *name)
{
    int i;

    for (i = 0; i < cfg->nmodules; i++) {
        if (strcmp(cfg->modules[i].name, name) == 0) {
            return &cfg->modules[i];
        }
    }
    return NULL;
}

/* The key of m called name, or NULL. */
static const config_kv_t *find_kv(const config_module_t *m, const char *name)
{
    int i;

    for (i = 0; i < m->nkeys; i++) {
        if (strcmp(m->keys[i].name, name) == 0) {
            return &m->keys[i];
        }
    }
    return NULL;
}

const char *config_module_get(const config_module_t *m, const char *name)
{
    const config_kv_t *kv = find_kv(m, name);

    return kv ? kv->value : NULL;
}

const char *config_level_name(log_level_t lvl)
{
    return (unsigned)lvl < 4 ? level_names[lvl] : "?";
}

/* Parse an unsigned decimal with an optional suffix; 0 ok, -1 bad or overflow. */
static int parse_number(const char *s, uint64_t *v, const char **suffix)
{
    uint64_t n = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    while (isdigit((unsigned char)*p)) {
        if (n > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        n = n * 10 + (uint64_t)(*p - '0');
        p++;
    }
    *v = n;
    *suffix = p;
    return 0;
}

int config_parse_duration(const char *s, uint32_t *ms)
{
    uint64_t n, mult;
    const char *suf;

    if (parse_number(s, &n, &suf) != 0) {
        return -1;
    }
    if (*suf == '\0' || strcmp(suf, "s") == 0) {
        mult = 1000;
    } else if (strcmp(suf, "ms") == 0) {
        mult = 1;
    } else if (strcmp(suf, "m") == 0) {
        mult = 60000;
    } else if (strcmp(suf, "h") == 0) {
        mult = 3600000;
    } else {
        return -1;
    }
    if (n > UINT32_MAX / mult) {
        return -1;
    }
    *ms = (uint32_t)(n * mult);
    return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t n, mult;
    const char *suf;

    if (parse_number(s, &n, &suf) != 0) {
        return -1;
    }
    switch (tolower((unsigned char)*suf)) {
    case '\0': mult = 1; break;
    case 'k': mult = 1024; break;
    case 'm': mult = 1024 * 1024; break;
    case 'g': mult = 1024 * 1024 * 1024; break;
    default: return -1;
    }
    if (*suf != '\0' && suf[1] != '\0') {
        return -1;
    }
    if (n > UINT64_MAX / mult) {
        return -1;
    }
    *bytes = n * mult;
    return 0;
}

/*
 * A name (user, group, module, a module's key): 1 when s is 1 to size - 1
 * letters, digits, '.', '_' or '-', else 0.
 */
static int name_ok(const char *s, size_t size)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL) {
            return 0;
        }
    }
    return i > 0 && i < size;
}

/* Record the first error at the current line; returns 0 so inih carries on. */
__attribute__((format(printf, 2, 3))) static int fail(loader_t *ld, const char *fmt, ...)
{
    va_list ap;

    if (ld->err_line == 0) {
        ld->err_line = ld->line;
        va_start(ap, fmt);
        vsnprintf(ld->err, sizeof(ld->err), fmt, ap);
        va_end(ap);
    }
    return 0;
}

/* A path key: value made absolute against the file's directory into dst. */
static int set_path(loader_t *ld, const char *name, char *dst, size_t size, const char *value)
{
    int n;

    if (value[0] == '\0') {
        return fail(ld, "%s needs a path", name);
    }
    if (value[0] == '/') {
        n = snprintf(dst, size, "%s", value);
    } else {
        n = snprintf(dst, size, "%s/%s", ld->dir, value);
    }
    if (n < 0 || (size_t)n >= size) {
        return fail(ld, "path too long: '%s'", value);
    }
    return 1;
}

static int set_listen(loader_t *ld, config_t *cfg, const char *value)
{
    char buf[CONFIG_MAX_LISTEN * 128];
    char *tok, *save = NULL;
    char err[NET_ERR_LEN];
    net_addr_t addr;

    if (strlen(value) >= sizeof(buf)) {
        return fail(ld, "listen value too long");
    }
    strcpy(buf, value);
    cfg->nlisten = 0;
    memset(cfg->listen_proxy, 0, sizeof(cfg->listen_proxy));
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strcmp(tok, "proxy_protocol") == 0) {
            /* a flag of the address before it (nginx's spelling) */
            if (cfg->nlisten == 0 || cfg->listen_proxy[cfg->nlisten - 1]) {
                return fail(ld, "proxy_protocol must follow a listen address (once)");
            }
            cfg->listen_proxy[cfg->nlisten - 1] = 1;
            continue;
        }
        if (cfg->nlisten == CONFIG_MAX_LISTEN) {
            return fail(ld, "more than 8 listen addresses");
        }
        if (strlen(tok) >= sizeof(cfg->listen[0])) {
            return fail(ld, "listen address too long: '%s'", tok);
        }
        if (net_parse_addr(tok, &addr, err) != 0) {
            return fail(ld, "bad listen address '%s': %s", tok, err);
        }
        strcpy(cfg->listen[cfg->nlisten++], tok);
    }
    if (cfg->nlisten == 0) {
        return fail(ld, "listen needs at least one address");
    }
    return 1;
}

static int set_uint(loader_t *ld, const key_def_t *k, void *field, uint64_t v)
{
    char lim[64];

    if (v < k->min || v > k->max) {
        snprintf(lim, sizeof(lim), "%llu..%llu", (unsigned long long)k->min,
                 (unsigned long long)k->max);
        return fail(ld, "value out of range for %s (allowed %s)", k->name, lim);
    }
    if (k->size == sizeof(uint64_t)) {
        *(uint64_t *)field = v;
    } else if (k->size == sizeof(uint32_t)) {
        *(uint32_t *)field = (uint32_t)v;
    } else {
        *(int *)field = (int)v;
    }
    return 1;
}

/* Index of value in words[0..n), or -1. */
static int word_index(const char *value, const char *const *words, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (strcmp(value, words[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* yes or no into *field (1 or 0); returns 1 ok, 0 after recording an error. */
static int set_bool(loader_t *ld, const char *name, int *field, const char *value)
{
    int i = word_index(value, bool_names, 2);

    if (i < 0) {
        return fail(ld, "bad value for %s: '%s' (yes or no)", name, value);
    }
    *field = i;
    return 1;
}

/*
 * 1 when p[0..len) is an absolute URL path as requests are matched after
 * normalising: no control byte, blank, '%', '?' or '#', no empty segment
 * ("//"), no "." or ".." segment; with no_dot, no segment starting with '.'
 * at all (a dotfile). Else 0.
 */
static int url_path_ok(const char *p, size_t len, int no_dot)
{
    size_t i, seg;

    if (len == 0 || p[0] != '/') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f || strchr("%?#", p[i]) != NULL) {
            return 0;
        }
        if (p[i] != '/') {
            continue;
        }
        if (i + 1 < len && p[i + 1] == '/') {
            return 0;
        }
        for (seg = i + 1; seg < len && p[seg] != '/'; seg++) {
        }
        if (i + 1 < len && p[i + 1] == '.'
            && (no_dot || seg - i - 1 == 1 || (seg - i - 1 == 2 && p[i + 2] == '.'))) {
            return 0;
        }
    }
    return 1;
}

/* deny = /PREFIX ...: URL path prefixes (none: an empty value). 1 ok, 0 after an error. */
static int set_deny(loader_t *ld, char *field, size_t size, const char *value)
{
    const char *p = value;
    size_t len;

    if (strlen(value) >= size) {
        return fail(ld, "deny list too long (at most %zu bytes)", size - 1);
    }
    while (*p != '\0') {
        len = strcspn(p, " \t");
        if (len > 0 && !url_path_ok(p, len, 0)) {
            return fail(ld,
                        "bad deny prefix '%.*s' (an absolute URL path such as /private/: "
                        "no //, . or .. segment, %%, ? or #)",
                        (int)len, p);
        }
        p += len;
        p += strspn(p, " \t");
    }
    strcpy(field, value);
    return 1;
}

/*
 * error_page_NNN = /PATH: a file below the site's root, by its URL path;
 * never a dotfile (a page served in place of a refused one must not be one
 * the rules refuse) nor a directory. off: the built-in page. 1 ok, 0 after
 * an error.
 */
static int set_error_page(loader_t *ld, const char *name, char *field, size_t size,
                          const char *value)
{
    size_t len = strlen(value);

    if (strcmp(value, "off") == 0) {
        field[0] = '\0';
        return 1;
    }
    if (len >= size || !url_path_ok(value, len, 1) || value[len - 1] == '/') {
        return fail(ld,
                    "bad %s '%s' (off, or the URL path of a file below root, such as "
                    "/errors/404.html: up to %zu bytes, no segment starting with '.', no //, %%, "
                    "? or #)",
                    name, value, size - 1);
    }
    strcpy(field, value);
    return 1;
}

/* A server_name item: letters, digits, '-', '_' and inner dots, after an optional "*.". */
static int host_pattern_ok(const char *p, size_t len)
{
    size_t i = len >= 2 && p[0] == '*' && p[1] == '.' ? 2 : 0;

    if (i == len || p[i] == '.' || p[len - 1] == '.') {
        return 0;
    }
    for (; i < len; i++) {
        if (!isalnum((unsigned char)p[i]) && strchr(".-_", p[i]) == NULL) {
            return 0;
        }
        if (p[i] == '.' && p[i + 1] == '.') {
            return 0;
        }
    }
    return 1;
}

/* One media type "type/subtype" (or "type/" and a star): tokens of RFC 9110 5.6.2. */
static int media_type_ok(const char *p, size_t len)
{
    size_t slash = 0, i;

    for (i = 0; i < len; i++) {
        if (p[i] == '/') {
            if (slash != 0 || i == 0) {
                return 0;
            }
            slash = i;
        } else if (!isalnum((unsigned char)p[i]) && strchr("!#$%&'*+-.^_`|~", p[i]) == NULL) {
            return 0;
        }
    }
    /* a star is the whole subtype or nowhere */
    return slash != 0 && slash + 1 < len && memchr(p, '*', slash) == NULL
           && (memchr(p + slash + 1, '*', len - slash - 1) == NULL || len - slash - 1 == 1);
}

/*
 * gzip_types: blank separated media types (kept as written, matched in any
 * case); "" with a lone "none" (nothing is compressed on the fly). Returns
 * 1 ok, 0 after recording an error.
 */
static int set_types(loader_t *ld, const key_def_t *k, char *field, const char *value)
{
    const char *p = value;
    size_t len;

    if (strlen(value) >= k->size) {
        return fail(ld, "%s: too long (%zu bytes at most)", k->name, k->size - 1);
    }
    if (strcmp(value, "none") == 0) {
        field[0] = '\0';
        return 1;
    }
    for (; *p != '\0'; p += len) {
        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (len > 0 && !media_type_ok(p, len)) {
            return fail(ld, "bad media type '%.*s' in %s (type/subtype, or type/* for all)",
                        (int)len, p, k->name);
        }
    }
    strcpy(field, value);
    return 1;
}

/*
 * server_name: blank separated host names, each exact ("example.com") or a
 * wildcard for every name below a domain ("*.example.com"), kept in lower
 * case (Host is matched without regard to case). Returns 1 ok, 0 after
 * recording an error.
 */
static int set_hosts(loader_t *ld, char *field, size_t size, const char *value)
{
    const char *p = value;
    size_t n = 0, len, i;

    if (strlen(value) >= size) {
        return fail(ld, "server_name: too long (%zu bytes at most)", size - 1);
    }
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '\0') {
            break;
        }
        len = strcspn(p, " \t");
        if (!host_pattern_ok(p, len)) {
            return fail(ld, "bad server_name '%.*s' (a host name, or *.domain)", (int)len, p);
        }
        if (n > 0) {
            field[n++] = ' ';
        }
        for (i = 0; i < len; i++) {
            field[n++] = (char)tolower((unsigned char)p[i]);
        }
        p += len;
    }
    field[n] = '\0';
    if (n == 0) {
        return fail(ld, "server_name needs at least one name");
    }
    return 1;
}

/* Set one key from its text into the struct at base; returns 1 ok, 0 after recording an error. */
static int set_key(loader_t *ld, const key_def_t *k, void *base, const char *value)
{
    void *field = (char *)base + k->offset;
    uint64_t v;
    uint32_t ms;
    int i;

    switch (k->type) {
    case KEY_LISTEN: return set_listen(ld, ld->cfg, value);
    case KEY_WORKERS:
        if (strcmp(value, "auto") == 0) {
            *(int *)field = 0;
            return 1;
        }
        if (config_parse_size(value, &v) != 0
            || !isdigit((unsigned char)value[strlen(value) - 1])) {
            return fail(ld, "bad value for %s: '%s' (a number or auto)", k->name, value);
        }
        return set_uint(ld, k, field, v);
    case KEY_STRING:
        if (value[0] == '\0' || strlen(value) >= k->size || strchr(value, '/') != NULL) {
            return fail(ld, "bad value for %s: '%s'", k->name, value);
        }
        strcpy(field, value);
        return 1;
    case KEY_NAME:
        if (!name_ok(value, k->size)) {
            return fail(ld, "bad name for %s: '%s'", k->name, value);
        }
        strcpy(field, value);
        return 1;
    case KEY_URLPATH:
        if (value[0] != '/' || strlen(value) >= k->size || strpbrk(value, "?# \t%") != NULL) {
            return fail(ld, "bad path for %s: '%s' (an absolute URL path)", k->name, value);
        }
        strcpy(field, value);
        return 1;
    case KEY_CIDRS: {
        char err[NET_ERR_LEN];
        net_cidr_t list[NET_MAX_CIDRS];
        if (strlen(value) >= k->size || net_parse_cidr_list(value, list, err) < 0) {
            return fail(ld, "bad %s list: %s", k->name,
                        strlen(value) >= k->size ? "too long" : err);
        }
        strcpy(field, value);
        return 1;
    }
    case KEY_PATH: return set_path(ld, k->name, field, k->size, value);
    case KEY_PATH_OFF:
    case KEY_PATH_STDERR:
        if (strcmp(value, k->type == KEY_PATH_OFF ? "off" : "stderr") == 0) {
            ((char *)field)[0] = '\0';
            return 1;
        }
        return set_path(ld, k->name, field, k->size, value);
    case KEY_DURATION:
        if (config_parse_duration(value, &ms) != 0) {
            return fail(ld, "bad duration for %s: '%s' (e.g. 30s, 500ms, 2m)", k->name, value);
        }
        return set_uint(ld, k, field, ms);
    case KEY_SIZE32:
    case KEY_SIZE64:
        if (config_parse_size(value, &v) != 0) {
            return fail(ld, "bad size for %s: '%s' (e.g. 8192, 8k, 1m)", k->name, value);
        }
        return set_uint(ld, k, field, v);
    case KEY_UINT:
        if (config_parse_size(value, &v) != 0
            || !isdigit((unsigned char)value[strlen(value) - 1])) {
            return fail(ld, "bad number for %s: '%s'", k->name, value);
        }
        return set_uint(ld, k, field, v);
    case KEY_BOOL: return set_bool(ld, k->name, field, value);
    case KEY_LEVEL:
        if ((i = word_index(value, level_names, 4)) < 0) {
            return fail(ld, "bad level '%s' (error, warn, info or debug)", value);
        }
        *(log_level_t *)field = (log_level_t)i;
        return 1;
    case KEY_TERM:
        if ((i = word_index(value, term_names, 2)) < 0) {
            return fail(ld, "bad term '%s' (graceful or fast)", value);
        }
        *(int *)field = i;
        return 1;
    case KEY_IP_HEADER:
        for (i = 0; i < 3 && strcasecmp(value, ip_header_names[i]) != 0; i++) {
        }
        if (i == 3) {
            return fail(ld, "bad real_ip_header '%s' (X-Forwarded-For, X-Real-IP or Forwarded)",
                        value);
        }
        *(config_ip_header_t *)field = (config_ip_header_t)i;
        return 1;
    case KEY_LOG_FORMAT:
        if ((i = word_index(value, log_format_names, 2)) < 0) {
            return fail(ld, "bad log format '%s' (combined or json)", value);
        }
        *(config_log_format_t *)field = (config_log_format_t)i;
        return 1;
    case KEY_HOSTS: return set_hosts(ld, field, k->size, value);
    case KEY_CHARSET:
        if (strcmp(value, "off") == 0) {
            ((char *)field)[0] = '\0';
            return 1;
        }
        if (!name_ok(value, k->size)) {
            return fail(ld, "bad charset '%s' (e.g. utf-8, or off)", value);
        }
        strcpy(field, value);
        return 1;
    case KEY_UNKNOWN_HOST:
        if ((i = word_index(value, unknown_host_names, 3)) < 0) {
            return fail(ld, "bad unknown_host '%s' (serve, 404 or 421)", value);
        }
        *(config_unknown_host_t *)field = (config_unknown_host_t)i;
        return 1;
    case KEY_TYPES: return set_types(ld, k, field, value);
    case KEY_DOTFILES:
        if ((i = word_index(value, dotfiles_names, 2)) < 0) {
            return fail(ld, "bad dotfiles '%s' (deny or allow)", value);
        }
        *(int *)field = i;
        return 1;
    case KEY_DENY: return set_deny(ld, field, k->size, value);
    case KEY_ERROR_PAGE: return set_error_page(ld, k->name, field, k->size, value);
    }
    return 0;
}

static int duplicate(loader_t *ld, const char *name, int first_line)
{
    return fail(ld, "duplicate key '%s' (first set on line %d)", name, first_line);
}

/*
 * A line of a [module] section: path, or one of the module's own keys, kept
 * as written for its init. Returns 1 ok, 0 after recording an error.
 */
static int module_key(loader_t *ld, config_module_t *m, const char *name, const char *value)
{
    const config_kv_t *first;
    config_kv_t *kv;

    if (strcmp(name, "path") == 0) {
        if (m->path_line != 0) {
            return duplicate(ld, name, m->path_line);
        }
        m->path_line = ld->line;
        return set_path(ld, "[module] path", m->path, sizeof(m->path), value);
    }
    if (!name_ok(name, CONFIG_NAME_LEN)) {
        return fail(ld,
                    "bad key name '%s' in [module %s] (up to %d letters, digits, '.', '_', '-')",
                    name, m->name, CONFIG_NAME_LEN - 1);
    }
    if ((first = find_kv(m, name)) != NULL) {
        return duplicate(ld, name, first->line);
    }
    if (m->nkeys == CONFIG_MAX_MODULE_KEYS) {
        return fail(ld, "more than %d keys in [module %s]", CONFIG_MAX_MODULE_KEYS, m->name);
    }
    if (strlen(value) >= CONFIG_VALUE_LEN) {
        return fail(ld, "value of '%s' too long (at most %d bytes)", name, CONFIG_VALUE_LEN - 1);
    }
    kv = &m->keys[m->nkeys++];
    strcpy(kv->name, name);
    strcpy(kv->value, value);
    kv->line = ld->line;
    return 1;
}

/* 1 when s is a C identifier of 1 to size - 1 bytes, else 0. */
static int ident_ok(const char *s, size_t size)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') {
            return 0;
        }
    }
    return i > 0 && i < size && !isdigit((unsigned char)s[0]);
}

/* handler = MODULE:function; the module is looked up once the file is read. */
static int set_handler(loader_t *ld, config_route_t *r, const char *value)
{
    const char *colon = strchr(value, ':');
    size_t len = colon ? (size_t)(colon - value) : 0;

    if (colon == NULL || len >= sizeof(r->module)) {
        return fail(ld, "bad handler '%s' (MODULE:function)", value);
    }
    memcpy(r->module, value, len);
    r->module[len] = '\0';
    if (!name_ok(r->module, sizeof(r->module)) || !ident_ok(colon + 1, sizeof(r->function))) {
        return fail(ld, "bad handler '%s' (MODULE:function: a [module] name, a C identifier)",
                    value);
    }
    strcpy(r->function, colon + 1);
    return 1;
}

/* methods = GET HEAD POST ...: known methods, each once; GET brings HEAD along. */
static int set_methods(loader_t *ld, config_route_t *r, const char *value)
{
    char buf[CONFIG_VALUE_LEN];
    char *tok, *save = NULL;
    unsigned listed = 0, bit;
    http_method_t m;

    if (strlen(value) >= sizeof(buf)) {
        return fail(ld, "methods value too long");
    }
    strcpy(buf, value);
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        m = http_method_from(tok, strlen(tok));
        bit = HTTP_METHOD_BIT(m);
        if (m == HTTP_METHOD_OTHER) {
            return fail(ld, "unknown method '%s' (GET HEAD POST PUT DELETE OPTIONS TRACE PATCH)",
                        tok);
        }
        if (m == HTTP_METHOD_CONNECT) {
            return fail(ld, "CONNECT cannot be routed (forkd answers it 501)");
        }
        if (listed & bit) {
            return fail(ld, "method %s listed twice", tok);
        }
        listed |= bit;
    }
    if (listed == 0) {
        return fail(ld, "methods needs at least one method (e.g. GET HEAD POST)");
    }
    if (listed & HTTP_METHOD_BIT(HTTP_METHOD_GET)) {
        listed |= HTTP_METHOD_BIT(HTTP_METHOD_HEAD);
    }
    r->methods = listed;
    return 1;
}

/* A line of a [route] section. Returns 1 ok, 0 after recording an error. */
static int route_key(loader_t *ld, config_route_t *r, const char *name, const char *value)
{
    static const char *const names[] = {"handler", "methods", "body", "pool", "upstream"};
    int *lines[] = {&r->handler_line, &r->methods_line, &r->body_line, &r->pool_line,
                    &r->upstream_line};
    int i = word_index(name, names, 5), body;

    if (i < 0) {
        return fail(ld, "unknown key '%s' in [route %s]", name, r->path);
    }
    if (*lines[i] != 0) {
        return duplicate(ld, name, *lines[i]);
    }
    *lines[i] = ld->line;
    switch (i) {
    case 0: return set_handler(ld, r, value);
    case 1: return set_methods(ld, r, value);
    case 4:
        if (!name_ok(value, sizeof(r->upstream))) {
            return fail(ld, "bad upstream name '%s' (an [upstream NAME] of this file)", value);
        }
        strcpy(r->upstream, value);
        return 1;
    case 2:
        if ((body = word_index(value, body_names, 3)) < 0) {
            return fail(ld, "bad value for body: '%s' (whole, stream or none)", value);
        }
        r->body = (config_body_t)body;
        return 1;
    default: return set_bool(ld, name, &r->pool, value);
    }
}

/* The port of an IPv4 or IPv6 address. */
static unsigned addr_port(const net_addr_t *a)
{
    if (a->ss.ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    }
    return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

/*
 * A "name:port" server: the name (letters, digits, '-', '.') resolved now,
 * its first address into out.
 * Once per load, like nginx without a resolver: a reload resolves again.
 * Returns 1 ok, 0 after recording an error (not a name, a bad port, no
 * address).
 */
static int resolve_server(loader_t *ld, const char *tok, config_addr_t *out)
{
    char host[CONFIG_SERVER_LEN];
    const char *colon = strrchr(tok, ':');
    struct addrinfo hints, *res;
    size_t len = colon != NULL ? (size_t)(colon - tok) : 0, i;
    unsigned long port;
    char *end;
    int rc;

    if (len == 0 || len > 253 || colon[1] == '\0') {
        return fail(ld, "bad server '%s' (host:port, name:port or unix:/path)", tok);
    }
    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char)tok[i]) && tok[i] != '-' && tok[i] != '.') {
            return fail(ld, "bad server '%s' (host:port, name:port or unix:/path)", tok);
        }
    }
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || !isdigit((unsigned char)colon[1]) || port < 1 || port > 65535) {
        return fail(ld, "bad server '%s' (port 1..65535)", tok);
    }
    memcpy(host, tok, len);
    host[len] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
        return fail(ld, "cannot resolve server '%s': %s", tok, gai_strerror(rc));
    }
    out->family = (uint16_t)res->ai_family;
    out->port = (uint16_t)port;
    if (res->ai_family == AF_INET6) {
        memcpy(out->addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
    } else {
        memcpy(out->addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    }
    freeaddrinfo(res);
    return 1;
}

/*
 * servers = ITEM...: each "host:port" (a numeric address or localhost, port
 * 1..65535), "name:port" (resolved now) or "unix:/absolute/path". Returns 1
 * ok, 0 after recording an error.
 */
static int set_servers(loader_t *ld, config_upstream_t *u, const char *value)
{
    char buf[CONFIG_MAX_UPSTREAM_SERVERS * CONFIG_SERVER_LEN];
    char *tok, *save = NULL;
    char err[NET_ERR_LEN];
    net_addr_t addr;

    if (strlen(value) >= sizeof(buf)) {
        return fail(ld, "servers value too long");
    }
    strcpy(buf, value);
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (u->nservers == CONFIG_MAX_UPSTREAM_SERVERS) {
            return fail(ld, "more than %d servers in [upstream %s]", CONFIG_MAX_UPSTREAM_SERVERS,
                        u->name);
        }
        if (strncmp(tok, "unix:", 5) == 0) {
            if (tok[5] != '/' || strlen(tok + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                return fail(ld, "bad server '%s' (unix:/absolute/path, up to 107 bytes)", tok);
            }
        } else if (net_parse_addr(tok, &addr, err) != 0) {
            if (tok[0] == '[' || strchr(tok, ':') == NULL) { /* no name: the parser's reason */
                return fail(ld, "bad server '%s': %s (host:port or unix:/path)", tok, err);
            }
            if (!resolve_server(ld, tok, &u->resolved[u->nservers])) {
                return 0;
            }
        } else if (strchr(tok, '*') != NULL || addr_port(&addr) == 0) {
            return fail(ld, "bad server '%s' (a numeric address or localhost, port 1..65535)", tok);
        }
        strcpy(u->servers[u->nservers++], tok);
    }
    if (u->nservers == 0) {
        return fail(ld, "servers needs at least one host:port or unix:/path");
    }
    return 1;
}

/* A line of an [upstream] section. Returns 1 ok, 0 after recording an error. */
static int upstream_key(loader_t *ld, config_upstream_t *u, const char *name, const char *value)
{
    static const uint32_t max_ms[] = {0, 0, 0, 3600000, 3600000, 3600000, 3600000, 3600000};
    uint32_t *ms[] = {NULL,
                      NULL,
                      NULL,
                      &u->keepalive_timeout,
                      &u->connect_timeout,
                      &u->read_timeout,
                      &u->send_timeout,
                      &u->fail_timeout};
    int i = word_index(name, upstream_keys, UPSTREAM_NKEYS), b;
    uint64_t v;
    uint32_t d;

    if (i < 0) {
        return fail(ld, "unknown key '%s' in [upstream %s]", name, u->name);
    }
    if (u->key_line[i] != 0) {
        return duplicate(ld, name, u->key_line[i]);
    }
    u->key_line[i] = ld->line;
    switch (i) {
    case 0: return set_servers(ld, u, value);
    case 1:
        if ((b = word_index(value, balance_names, 2)) < 0) {
            return fail(ld, "bad balance '%s' (round_robin or least_conn)", value);
        }
        u->balance = (config_balance_t)b;
        return 1;
    case 2:
        if (config_parse_size(value, &v) != 0 || !isdigit((unsigned char)value[strlen(value) - 1])
            || v > 100000) {
            return fail(ld, "bad number for keepalive: '%s' (0..100000)", value);
        }
        u->keepalive = (uint32_t)v;
        return 1;
    case 8:
        if (config_parse_size(value, &v) != 0 || v < 4096 || v > 1024 * 1024 * 1024) {
            return fail(ld, "bad size for buffer: '%s' (4k..1g)", value);
        }
        u->buffer = (uint32_t)v;
        return 1;
    default:
        if (config_parse_duration(value, &d) != 0 || d > max_ms[i] || (i != 7 && d == 0)) {
            return fail(ld, "bad duration for %s: '%s' (e.g. 1s, 500ms; %s1h at most)", name, value,
                        i != 7 ? "not 0, " : "");
        }
        *ms[i] = d;
        return 1;
    }
}

/* expires: "off", or a duration in s, m, h or d (up to ten years); seconds into *secs. */
static int parse_expires(const char *value, int64_t *secs)
{
    static const char units[] = "smhd";
    static const int64_t mult[] = {1, 60, 3600, 86400};
    const char *suf, *u;
    uint64_t n;

    if (strcmp(value, "off") == 0) {
        *secs = -1;
        return 0;
    }
    if (parse_number(value, &n, &suf) != 0 || (suf[0] != '\0' && suf[1] != '\0')
        || (u = strchr(units, suf[0] == '\0' ? 's' : suf[0])) == NULL || n > 3650ULL * 86400) {
        return -1;
    }
    *secs = (int64_t)n * mult[u - units];
    return *secs > 3650LL * 86400 ? -1 : 0;
}

/* A line of a [cache PATTERN] section. Returns 1 ok, 0 after recording an error. */
static int cache_key(loader_t *ld, config_cache_t *c, const char *name, const char *value)
{
    static const char *const names[] = {"cache_control", "expires", "errors", "site"};
    int i = word_index(name, names, 4);
    size_t j;

    if (i < 0) {
        return fail(ld, "unknown key '%s' in [cache %s]", name, c->pattern);
    }
    if (c->key_line[i] != 0) {
        return duplicate(ld, name, c->key_line[i]);
    }
    c->key_line[i] = ld->line;
    switch (i) {
    case 0:
        for (j = 0; value[j] != '\0'; j++) {
            if ((unsigned char)value[j] < ' ' || value[j] == 0x7f) {
                break;
            }
        }
        if (value[0] == '\0' || value[j] != '\0' || j >= sizeof(c->cache_control)) {
            return fail(ld, "bad cache_control '%s' (a Cache-Control value, e.g. no-cache)", value);
        }
        strcpy(c->cache_control, value);
        return 1;
    case 1:
        if (parse_expires(value, &c->expires) != 0) {
            return fail(ld, "bad expires '%s' (off, or e.g. 3600, 30m, 12h, 365d)", value);
        }
        return 1;
    case 2: return set_bool(ld, name, &c->errors, value);
    default:
        if (!name_ok(value, sizeof(c->site))) {
            return fail(ld, "bad site '%s' (static, or a [site NAME] of this file)", value);
        }
        strcpy(c->site, value);
        return 1;
    }
}

/* A line of [mime]: extension = type. Returns 1 ok, 0 after recording an error. */
static int mime_key(loader_t *ld, const char *ext, const char *type)
{
    config_t *cfg = ld->cfg;
    const char *slash = strchr(type, '/');
    size_t i;
    int j;

    for (i = 0; ext[i] != '\0'; i++) {
        if (!isalnum((unsigned char)ext[i]) && strchr("-_+", ext[i]) == NULL) {
            break;
        }
    }
    if (i == 0 || ext[i] != '\0' || i > 15) {
        return fail(ld, "bad extension '%s' (up to 15 letters, digits, '-', '_', '+')", ext);
    }
    for (i = 0; type[i] != '\0' && (unsigned char)type[i] >= ' ' && type[i] != 0x7f; i++) {
    }
    if (slash == NULL || slash == type || slash[1] == '\0' || type[i] != '\0'
        || i >= CONFIG_VALUE_LEN) {
        return fail(ld, "bad type '%s' for %s (type/subtype, e.g. text/markdown)", type, ext);
    }
    for (j = 0; j < cfg->nmime; j++) {
        if (strcasecmp(cfg->mime[j].name, ext) == 0) {
            return duplicate(ld, ext, cfg->mime[j].line);
        }
    }
    if (cfg->nmime == CONFIG_MAX_MIME) {
        return fail(ld, "more than %d [mime] lines", CONFIG_MAX_MIME);
    }
    strcpy(cfg->mime[cfg->nmime].name, ext);
    strcpy(cfg->mime[cfg->nmime].value, type);
    cfg->mime[cfg->nmime++].line = ld->line;
    return 1;
}

/*
 * A key of cfg->sites[site] ([static] or a [site NAME]). Returns 1 ok, 0
 * after recording an error, -1 when name is not a site key.
 */
static int site_key(loader_t *ld, int site, const char *name, const char *value)
{
    config_site_t *s = &ld->cfg->sites[site];
    size_t i;

    for (i = 0; i < NSITE_KEYS; i++) {
        if (strcmp(site_keys[i].name, name) != 0) {
            continue;
        }
        if (s->key_line[i] != 0) {
            return duplicate(ld, name, s->key_line[i]);
        }
        s->key_line[i] = (uint16_t)(ld->line > UINT16_MAX ? UINT16_MAX : ld->line);
        return set_key(ld, &site_keys[i], s, value);
    }
    return -1;
}

/* An error_page key for a status that has none: say which ones do. Returns 0. */
static int bad_error_page_key(loader_t *ld, const char *name)
{
    return fail(ld,
                "unknown key '%s' (error pages: error_page_403, error_page_404, error_page_500, "
                "error_page_503)",
                name);
}

/* inih callback: one "name = value" line of a section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    loader_t *ld = user;
    size_t i;
    int known_section = 0, rc;

    ld->nsettings++;
    ld->key_seen = 1;
    if (section[0] == '\0') {
        return fail(ld, "'%s' is outside any [section]", name);
    }
    switch (ld->sect) {
    case SECT_MODULE: return module_key(ld, &ld->cfg->modules[ld->cur], name, value);
    case SECT_ROUTE: return route_key(ld, &ld->cfg->routes[ld->cur], name, value);
    case SECT_UPSTREAM: return upstream_key(ld, &ld->cfg->upstreams[ld->cur], name, value);
    case SECT_SITE:
        rc = site_key(ld, ld->cur, name, value);
        if (rc < 0 && strncmp(name, "error_page", 10) == 0) {
            return bad_error_page_key(ld, name);
        }
        return rc >= 0
                   ? rc
                   : fail(ld, "unknown key '%s' in [site %s]", name, ld->cfg->sites[ld->cur].name);
    case SECT_CACHE: return cache_key(ld, &ld->cfg->cache_rules[ld->cur], name, value);
    case SECT_MIME: return mime_key(ld, name, value);
    case SECT_BAD: return 1; /* the header's error is recorded */
    case SECT_NONE:
    case SECT_TABLE: break;
    }
    if (strcmp(section, "static") == 0 && (rc = site_key(ld, 0, name, value)) >= 0) {
        return rc;
    }
    for (i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0) {
            continue;
        }
        known_section = 1;
        if (strcmp(keys[i].name, name) != 0) {
            continue;
        }
        if (ld->cfg->key_line[i] != 0) {
            return duplicate(ld, name, ld->cfg->key_line[i]);
        }
        ld->cfg->key_line[i] = (uint16_t)(ld->line > UINT16_MAX ? UINT16_MAX : ld->line);
        return set_key(ld, &keys[i], ld->cfg, value);
    }
    if (!known_section) {
        return fail(ld, "unknown section [%s]", section);
    }
    if (strcmp(section, "static") == 0 && strncmp(name, "error_page", 10) == 0) {
        return bad_error_page_key(ld, name);
    }
    return fail(ld, "unknown key '%s' in section [%s]", name, section);
}

/* [module NAME]: a new module, its keys follow. */
static void open_module(loader_t *ld, const char *name)
{
    config_t *cfg = ld->cfg;
    const config_module_t *first = config_module(cfg, name);
    config_module_t *m;

    if (name[0] == '\0') {
        fail(ld, "[module] needs a name: [module NAME]");
    } else if (!name_ok(name, CONFIG_NAME_LEN)) {
        fail(ld, "bad module name '%s' (up to %d letters, digits, '.', '_', '-')", name,
             CONFIG_NAME_LEN - 1);
    } else if (first != NULL) {
        fail(ld, "duplicate [module %s] (first on line %d)", name, first->line);
    } else if (cfg->nmodules == CONFIG_MAX_MODULES) {
        fail(ld, "more than %d [module] sections", CONFIG_MAX_MODULES);
    } else {
        m = &cfg->modules[cfg->nmodules];
        strcpy(m->name, name);
        m->line = ld->line;
        ld->cur = cfg->nmodules++;
        ld->sect = SECT_MODULE;
    }
}

/*
 * [upstream NAME]: a new upstream with its defaults; its keys follow. The
 * idle timeout of its pooled connections defaults to 1 s, below gunicorn's
 * 2 s keep-alive (and uvicorn's 5 s, Node's 5 s): a connection the app is
 * about to close is dropped here first, so the race of a request sent on a
 * connection closing at the other end stays rare (and is replayed when safe).
 */
static void open_upstream(loader_t *ld, const char *name)
{
    config_t *cfg = ld->cfg;
    const config_upstream_t *first = config_upstream(cfg, name);
    config_upstream_t *u;

    if (name[0] == '\0') {
        fail(ld, "[upstream] needs a name: [upstream NAME]");
    } else if (!name_ok(name, CONFIG_NAME_LEN)) {
        fail(ld, "bad upstream name '%s' (up to %d letters, digits, '.', '_', '-')", name,
             CONFIG_NAME_LEN - 1);
    } else if (first != NULL) {
        fail(ld, "duplicate [upstream %s] (first on line %d)", name, first->line);
    } else if (cfg->nupstreams == CONFIG_MAX_UPSTREAMS) {
        fail(ld, "more than %d [upstream] sections", CONFIG_MAX_UPSTREAMS);
    } else {
        u = &cfg->upstreams[cfg->nupstreams];
        strcpy(u->name, name);
        u->line = ld->line;
        u->balance = CONFIG_BALANCE_ROUND_ROBIN;
        u->keepalive = 32;
        u->keepalive_timeout = 1000;
        u->connect_timeout = 5000;
        u->read_timeout = 60000;
        u->send_timeout = 60000;
        u->fail_timeout = 10000;
        u->buffer = 1024 * 1024;
        ld->cur = cfg->nupstreams++;
        ld->sect = SECT_UPSTREAM;
        return;
    }
    ld->sect = SECT_BAD;
}

static int route_path_ok(const char *path);

/*
 * [cache PATTERN]: a new rule for "/exact/path", "/prefix/" or "*.ext"; its
 * keys follow.
 */
static void open_cache(loader_t *ld, const char *pattern)
{
    config_t *cfg = ld->cfg;
    config_cache_t *c;
    size_t i, len = strlen(pattern);
    int ext = len > 2 && pattern[0] == '*' && pattern[1] == '.';

    for (i = 2; ext && i < len; i++) {
        ext = isalnum((unsigned char)pattern[i]) || strchr("-_+", pattern[i]) != NULL;
    }
    ld->sect = SECT_BAD;
    if (!ext && !route_path_ok(pattern)) {
        fail(ld, "bad [cache %s] (/path, /prefix/ or *.ext)", pattern);
        return;
    }
    for (i = 0; i < (size_t)cfg->ncache_rules; i++) {
        if (strcmp(cfg->cache_rules[i].pattern, pattern) == 0) {
            fail(ld, "duplicate [cache %s] (first on line %d)", pattern, cfg->cache_rules[i].line);
            return;
        }
    }
    if (cfg->ncache_rules == CONFIG_MAX_CACHE_RULES) {
        fail(ld, "more than %d [cache] sections", CONFIG_MAX_CACHE_RULES);
        return;
    }
    c = &cfg->cache_rules[cfg->ncache_rules];
    strcpy(c->pattern, pattern);
    c->expires = -1;
    c->line = ld->line;
    ld->cur = cfg->ncache_rules++;
    ld->sect = SECT_CACHE;
}

/* [site NAME]: a new site; its keys follow (the unset ones are [static]'s). */
static void open_site(loader_t *ld, const char *name)
{
    config_t *cfg = ld->cfg;
    int i;

    if (name[0] == '\0') {
        fail(ld, "[site] needs a name: [site NAME]");
    } else if (!name_ok(name, CONFIG_NAME_LEN)) {
        fail(ld, "bad site name '%s' (up to %d letters, digits, '.', '_', '-')", name,
             CONFIG_NAME_LEN - 1);
    } else if (cfg->nsites == CONFIG_MAX_SITES) {
        fail(ld, "more than %d [site] sections", CONFIG_MAX_SITES - 1);
    } else {
        for (i = 1; i < cfg->nsites; i++) {
            if (strcmp(cfg->sites[i].name, name) == 0) {
                fail(ld, "duplicate [site %s] (first on line %d)", name, cfg->sites[i].line);
                ld->sect = SECT_BAD;
                return;
            }
        }
        strcpy(cfg->sites[cfg->nsites].name, name);
        cfg->sites[cfg->nsites].line = ld->line;
        ld->cur = cfg->nsites++;
        ld->sect = SECT_SITE;
        return;
    }
    ld->sect = SECT_BAD;
}

/*
 * 1 when path is an absolute URL path as the router sees requests: already
 * normalized (decoded, no empty, "." or ".." segment), so that it can match.
 */
static int route_path_ok(const char *path)
{
    char norm[CONFIG_URLPATH_LEN];
    size_t i, len = strlen(path);

    if (path[0] != '/' || len >= sizeof(norm)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f || strchr("%?#", path[i]) != NULL) {
            return 0;
        }
    }
    return uri_normalize_path(path, len, norm, sizeof(norm)) == (int)len
           && memcmp(norm, path, len) == 0;
}

/* [route PATH]: a new route, methods GET HEAD until its keys say otherwise. */
static void open_route(loader_t *ld, const char *path)
{
    config_t *cfg = ld->cfg;
    config_route_t *r;
    int i;

    if (path[0] == '\0') {
        fail(ld, "[route] needs a path: [route /PATH]");
        return;
    }
    if (!route_path_ok(path)) {
        fail(ld, "bad route path '%s' (an absolute URL path: no //, . or .., %%, ?, #, spaces)",
             path);
        return;
    }
    for (i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].path, path) == 0) {
            fail(ld, "duplicate [route %s] (first on line %d)", path, cfg->routes[i].line);
            return;
        }
    }
    if (cfg->nroutes == CONFIG_MAX_ROUTES) {
        fail(ld, "more than %d [route] sections", CONFIG_MAX_ROUTES);
        return;
    }
    r = &cfg->routes[cfg->nroutes];
    strcpy(r->path, path);
    r->prefix = path[strlen(path) - 1] == '/';
    r->methods = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);
    r->line = ld->line;
    ld->cur = cfg->nroutes++;
    ld->sect = SECT_ROUTE;
}

/*
 * Of a header's text "word arg": arg, with the blanks around it dropped, into
 * out (size bytes; cut to size - 1 bytes, which the callers refuse as too long).
 * Returns 1 when text starts with word and then a blank or the end, else 0.
 */
static int header_arg(const char *text, size_t len, const char *word, char *out, size_t size)
{
    size_t wlen = strlen(word);

    if (len < wlen || strncmp(text, word, wlen) != 0
        || (len > wlen && text[wlen] != ' ' && text[wlen] != '\t')) {
        return 0;
    }
    text += wlen;
    len -= wlen;
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
        len--;
    }
    len = len < size ? len : size - 1;
    memcpy(out, text, len);
    out[len] = '\0';
    return 1;
}

/*
 * A "[section]" line: a section of keys[], [module NAME] or [route PATH].
 * inih only reports sections through their keys (so an empty unknown section
 * would pass unseen and a bad one would be blamed on its first key's line),
 * cuts their names at 49 bytes, and takes an indented line after a key for
 * more of its value. So headers are judged here, on their own line, and
 * ld->sect says where the keys that follow belong.
 */
static void check_section(loader_t *ld, const char *line)
{
    const char *p = line, *end;
    char arg[CONFIG_URLPATH_LEN + 1]; /* one more: a path that fills it is too long */
    size_t len, i;
    int indented, module = 0, route = 0, upstream = 0, site = 0, cache = 0, shown;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '[' || (end = strchr(p, ']')) == NULL) {
        return; /* not a section line; inih judges its syntax */
    }
    indented = p != line;
    p++;
    len = (size_t)(end - p);
    shown = (int)(len > 64 ? 64 : len);
    ld->sect = SECT_BAD;
    for (i = 0; i < NKEYS; i++) {
        if (strlen(keys[i].section) == len && strncmp(keys[i].section, p, len) == 0) {
            ld->sect = SECT_TABLE;
        }
    }
    if (ld->sect != SECT_TABLE) {
        module = header_arg(p, len, "module", arg, sizeof(arg));
        route = !module && header_arg(p, len, "route", arg, sizeof(arg));
        upstream = !module && !route && header_arg(p, len, "upstream", arg, sizeof(arg));
        site = !module && !route && !upstream && header_arg(p, len, "site", arg, sizeof(arg));
        cache = !module && !route && !upstream && !site
                && header_arg(p, len, "cache", arg, sizeof(arg));
        if (len == 4 && strncmp(p, "mime", 4) == 0) {
            ld->sect = SECT_MIME;
        }
    }
    if (ld->sect != SECT_TABLE && ld->sect != SECT_MIME && !module && !route && !upstream && !site
        && !cache) {
        fail(ld, "unknown section [%.*s]", shown, p);
        return;
    }
    if (indented && ld->key_seen) {
        ld->sect = SECT_BAD;
        fail(ld, "[%.*s] is indented after a key, which makes it more of that key's value", shown,
             p);
        return;
    }
    ld->key_seen = 0;
    if (module) {
        open_module(ld, arg);
    } else if (route) {
        open_route(ld, arg);
    } else if (upstream) {
        open_upstream(ld, arg);
    } else if (site) {
        open_site(ld, arg);
    } else if (cache) {
        open_cache(ld, arg);
    }
}

/*
 * inih reader: one line per call, counting lines for error messages, and
 * refusing NUL bytes and lines longer than inih's buffer (it would split them).
 */
static char *read_line(char *str, int num, void *stream)
{
    loader_t *ld = stream;
    int c, n = 0, too_long = 0, nul = 0;

    while ((c = getc(ld->fp)) != EOF) {
        if (c == '\0') {
            nul = 1;
        }
        if (n < num - 2) {
            str[n++] = (char)c;
        } else if (c != '\n') {
            too_long = 1;
        }
        if (c == '\n') {
            break;
        }
    }
    if (n == 0 && c == EOF) {
        return NULL;
    }
    str[n] = '\0';
    ld->line++;
    if (nul) {
        fail(ld, "NUL byte in line (binary file?)");
        str[0] = '\0';
    } else if (too_long) {
        fail(ld, "line longer than %d bytes", num - 2);
        str[0] = '\0';
    } else {
        check_section(ld, str);
    }
    return str;
}

/*
 * A [route] with upstream = NAME: NAME is an [upstream] of this file; every
 * method but CONNECT and TRACE unless methods = says otherwise; the body read
 * whole before the request goes to the app (so a slow client never holds an
 * app worker), or none; never on the thread pool. 0 ok, -1 with ld->err set.
 */
static int validate_upstream_route(loader_t *ld, config_route_t *r)
{
    const config_upstream_t *u = config_upstream(ld->cfg, r->upstream);
    static const http_method_t all[] = {HTTP_METHOD_GET,  HTTP_METHOD_HEAD,   HTTP_METHOD_POST,
                                        HTTP_METHOD_PUT,  HTTP_METHOD_DELETE, HTTP_METHOD_OPTIONS,
                                        HTTP_METHOD_PATCH};
    size_t k;

    ld->line = r->upstream_line;
    if (u == NULL) {
        fail(ld, "upstream %s: no [upstream %s] in this file", r->upstream, r->upstream);
        return -1;
    }
    r->upstream_index = (int)(u - ld->cfg->upstreams);
    if (r->pool) {
        ld->line = r->pool_line;
        fail(ld, "pool = yes cannot go with upstream = (the proxy never blocks)");
        return -1;
    }
    if (r->methods_line == 0) {
        r->methods = 0;
        for (k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
            r->methods |= HTTP_METHOD_BIT(all[k]);
        }
    }
    if (r->body_line == 0) {
        r->body = CONFIG_BODY_WHOLE; /* stream passes the body on as it comes (proxy.c) */
    }
    return 0;
}

/*
 * [module] and [route] checks that need the whole file: each module has its
 * path, each route a handler naming a module of this file (written before or
 * after it), and pool = yes a thread pool. Fills in what follows from them:
 * the route's module_index and its default body. 0 ok, -1 with ld->err set.
 */
static int validate_handlers(loader_t *ld)
{
    config_t *cfg = ld->cfg;
    const unsigned with_body = HTTP_METHOD_BIT(HTTP_METHOD_POST) | HTTP_METHOD_BIT(HTTP_METHOD_PUT)
                               | HTTP_METHOD_BIT(HTTP_METHOD_PATCH);
    const config_module_t *m;
    config_route_t *r;
    int i;

    for (i = 0; i < cfg->nmodules; i++) {
        if (cfg->modules[i].path_line == 0) {
            ld->line = cfg->modules[i].line;
            fail(ld, "[module %s] needs path = FILE.so", cfg->modules[i].name);
            return -1;
        }
    }
    for (i = 0; i < cfg->nupstreams; i++) {
        if (cfg->upstreams[i].nservers == 0) {
            ld->line = cfg->upstreams[i].line;
            fail(ld, "[upstream %s] needs servers = host:port or unix:/path ...",
                 cfg->upstreams[i].name);
            return -1;
        }
    }
    for (i = 0; i < cfg->nroutes; i++) {
        r = &cfg->routes[i];
        if (r->handler_line != 0 && r->upstream_line != 0) {
            ld->line = r->upstream_line;
            fail(ld, "[route %s] has both handler = and upstream = (one or the other)", r->path);
            return -1;
        }
        if (r->upstream_line != 0) {
            if (validate_upstream_route(ld, r) != 0) {
                return -1;
            }
            continue;
        }
        if (r->handler_line == 0) {
            ld->line = r->line;
            fail(ld, "[route %s] needs handler = MODULE:function or upstream = NAME", r->path);
            return -1;
        }
        ld->line = r->handler_line;
        if ((m = config_module(cfg, r->module)) == NULL) {
            fail(ld, "handler %s:%s: no [module %s] in this file", r->module, r->function,
                 r->module);
            return -1;
        }
        if (r->pool && cfg->threads == 0) {
            ld->line = r->pool_line;
            fail(ld, "pool = yes needs [server] threads > 0");
            return -1;
        }
        r->module_index = (int)(m - cfg->modules);
        if (r->body_line == 0) {
            r->body = (r->methods & with_body) ? CONFIG_BODY_WHOLE : CONFIG_BODY_NONE;
        }
        if (r->pool && r->body == CONFIG_BODY_STREAM) {
            /* a streamed body's pieces come on the loop; a pool handler gets it whole */
            ld->line = r->body_line;
            fail(ld, "body = stream cannot go with pool = yes (use body = whole)");
            return -1;
        }
    }
    return 0;
}

/*
 * A proxy_protocol listener believes PROXY headers from [server] proxy_from
 * only: with that empty it would refuse every client, a mistake said now.
 */
static int validate_proxy(loader_t *ld)
{
    const config_t *cfg = ld->cfg;
    int i;

    for (i = 0; i < cfg->nlisten; i++) {
        if (cfg->listen_proxy[i] && cfg->proxy_from[0] == '\0') {
            ld->line = config_line(cfg, "server", "listen");
            fail(ld,
                 "listen %s has proxy_protocol, but [server] proxy_from is empty "
                 "(the balancers' addresses)",
                 cfg->listen[i]);
            return -1;
        }
    }
    return 0;
}

/* The line a site's key was set on: in its section, else in [static] (0: a default). */
static int site_key_line(const config_t *cfg, int site, size_t key)
{
    return cfg->sites[site].key_line[key] != 0 ? cfg->sites[site].key_line[key]
                                               : cfg->sites[0].key_line[key];
}

/*
 * Is one of the names of site (its server_name) also another earlier site's?
 * 0 no, -1 with ld->err set.
 */
static int site_names_unique(loader_t *ld, int site)
{
    const config_t *cfg = ld->cfg;
    const char *p = cfg->sites[site].server_name, *q;
    size_t len, qlen;
    int j;

    for (; *p != '\0'; p += len + (p[len] == ' ')) {
        len = strcspn(p, " ");
        for (j = 0; j <= site; j++) {
            for (q = cfg->sites[j].server_name; *q != '\0'; q += qlen + (q[qlen] == ' ')) {
                qlen = strcspn(q, " ");
                if (qlen == len && memcmp(p, q, len) == 0 && (j < site || q < p)) {
                    ld->line = cfg->sites[site].key_line[0];
                    fail(ld, "server_name %.*s is also [%s%s]'s (line %d)", (int)len, p,
                         j == 0 ? "static" : "site ", cfg->sites[j].name,
                         cfg->sites[j].key_line[0]);
                    return -1;
                }
            }
        }
    }
    return 0;
}

/*
 * Every site: the keys its section left unset are [static]'s; it has a
 * server_name (else no request could reach it), names no other site has,
 * and a root that is a directory. 0 ok, -1 with ld->err set.
 */
static int validate_sites(loader_t *ld)
{
    config_t *cfg = ld->cfg;
    config_site_t *s;
    struct stat st;
    size_t k;
    int i;

    for (i = 0; i < cfg->nsites; i++) {
        s = &cfg->sites[i];
        for (k = 1; i > 0 && k < NSITE_KEYS; k++) { /* 0 is server_name: never inherited */
            if (s->key_line[k] == 0) {
                memcpy((char *)s + site_keys[k].offset,
                       (char *)&cfg->sites[0] + site_keys[k].offset, site_keys[k].size);
            }
        }
        if (i > 0 && s->key_line[0] == 0) {
            ld->line = s->line;
            fail(ld, "[site %s] has no server_name (no request could reach it)", s->name);
            return -1;
        }
        if (site_names_unique(ld, i) != 0) {
            return -1;
        }
        ld->line = site_key_line(cfg, i, 1);
        if (stat(s->root, &st) != 0) {
            fail(ld, "root '%s': %s", s->root, strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            fail(ld, "root '%s' is not a directory", s->root);
            return -1;
        }
    }
    return 0;
}

/* A [cache] rule sets something, on a site this file has. 0 ok, -1 with ld->err set. */
static int validate_cache_rules(loader_t *ld)
{
    const config_t *cfg = ld->cfg;
    const config_cache_t *c;
    int i, j;

    for (i = 0; i < cfg->ncache_rules; i++) {
        c = &cfg->cache_rules[i];
        if (c->cache_control[0] == '\0' && c->expires < 0) {
            ld->line = c->line;
            fail(ld, "[cache %s] sets neither cache_control nor expires", c->pattern);
            return -1;
        }
        for (j = 1; j < cfg->nsites && strcmp(cfg->sites[j].name, c->site) != 0; j++) {
        }
        if (c->site[0] != '\0' && strcmp(c->site, "static") != 0 && j == cfg->nsites) {
            ld->line = c->key_line[3];
            fail(ld, "[cache %s]: no [site %s] in this file", c->pattern, c->site);
            return -1;
        }
    }
    return 0;
}

/* Cross-key checks once the whole file is read; 0 ok, -1 with ld->err set. */
static int validate(loader_t *ld)
{
    config_t *cfg = ld->cfg;
    int root_line = config_line(cfg, "static", "root");

    if (ld->nsettings == 0) {
        ld->line = ld->line ? ld->line : 1;
        fail(ld, "no settings in the file (at least [static] root is needed)");
        return -1;
    }
    if (root_line == 0) {
        fail(ld, "[static] root is not set");
        return -1;
    }
    if (validate_sites(ld) != 0) {
        return -1;
    }
    if (validate_cache_rules(ld) != 0 || validate_handlers(ld) != 0) {
        return -1;
    }
    if (validate_proxy(ld) != 0) {
        return -1;
    }
    if (cfg->status_path[0] != '\0' && cfg->metrics_path[0] == '\0') {
        snprintf(cfg->metrics_path, sizeof(cfg->metrics_path), "%s/metrics",
                 strcmp(cfg->status_path, "/") == 0 ? "" : cfg->status_path);
    }
    return 0;
}

int config_load(config_t *cfg, const char *path, char err[CONFIG_ERR_LEN])
{
    loader_t ld;
    char *slash;
    int rc;

    config_defaults(cfg);
    memset(&ld, 0, sizeof(ld));
    ld.cfg = cfg;
    ld.path = path;

    if (strlen(path) >= sizeof(cfg->path)) {
        snprintf(err, CONFIG_ERR_LEN, "%.64s...:0: path too long", path);
        return -1;
    }
    if (path[0] == '/') {
        strcpy(ld.dir, path);
    } else {
        if (getcwd(ld.dir, sizeof(ld.dir)) == NULL
            || strlen(ld.dir) + 1 + strlen(path) >= sizeof(ld.dir)) {
            snprintf(err, CONFIG_ERR_LEN, "%s:0: cannot make the path absolute", path);
            return -1;
        }
        strcat(ld.dir, "/");
        strcat(ld.dir, path);
    }
    slash = strrchr(ld.dir, '/');
    *slash = '\0';
    if (ld.dir[0] == '\0') {
        strcpy(ld.dir, "/");
    }

    strcpy(cfg->path, path);
    ld.fp = fopen(path, "r");
    if (ld.fp == NULL) {
        snprintf(err, CONFIG_ERR_LEN, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    rc = ini_parse_stream(read_line, &ld, on_key, &ld);
    if (ferror(ld.fp)) {
        snprintf(err, CONFIG_ERR_LEN, "%s:%d: read error", path, ld.line);
        fclose(ld.fp);
        return -1;
    }
    fclose(ld.fp);

    if (rc > 0 && (ld.err_line == 0 || rc < ld.err_line)) {
        snprintf(err, CONFIG_ERR_LEN, "%s:%d: syntax error (expected [section] or key = value)",
                 path, rc);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, CONFIG_ERR_LEN, "%s:0: out of memory", path);
        return -1;
    }
    if (ld.err_line == 0 && validate(&ld) != 0 && ld.err_line == 0) {
        ld.err_line = ld.line;
    }
    if (ld.err_line != 0) {
        snprintf(err, CONFIG_ERR_LEN, "%.200s:%d: %s", path, ld.err_line, ld.err);
        return -1;
    }
    return 0;
}
