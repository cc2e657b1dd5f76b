/* config: one table of keys, their defaults and parsers; inih reads the file. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"

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
    KEY_LEVEL
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
    {"server", "reuse_port", KEY_BOOL, F(reuse_port), 0, 0},
    {"server", "cpu_affinity", KEY_BOOL, F(cpu_affinity), 0, 0},
    {"static", "root", KEY_PATH, F(root), 0, 0},
    {"static", "index", KEY_STRING, F(index), 0, 0},
    {"static", "cache_entries", KEY_UINT, F(cache_entries), 0, 1000000},
    {"static", "cache_max_file", KEY_SIZE64, F(cache_max_file), 0, 64 * 1024 * 1024},
    {"static", "cache_valid", KEY_DURATION, F(cache_valid), 0, 3600000},
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
    {"log", "access_log", KEY_PATH_OFF, F(access_log), 0, 0},
    {"log", "error_log", KEY_PATH_STDERR, F(error_log), 0, 0},
    {"log", "level", KEY_LEVEL, F(level), 0, 0},
    {"demo", "enabled", KEY_BOOL, F(demo_enabled), 0, 0},
    {"status", "path", KEY_URLPATH, F(status_path), 0, 0},
    {"status", "metrics_path", KEY_URLPATH, F(metrics_path), 0, 0},
    {"status", "allow", KEY_CIDRS, F(allow), 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "config_t.key_line is too small for the key table");

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
} loader_t;

static const char *level_names[] = {"error", "warn", "info", "debug"};

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen[0], "127.0.0.1:8080");
    cfg->nlisten = 1;
    cfg->workers = 0;
    strcpy(cfg->index, "index.html");
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
    return 0;
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

/* Record the first error at the current line; returns 0 so inih carries on. */
static int fail(loader_t *ld, const char *fmt, const char *a, const char *b)
{
    if (ld->err_line == 0) {
        ld->err_line = ld->line;
        snprintf(ld->err, sizeof(ld->err), fmt, a, b);
    }
    return 0;
}

static int set_path(loader_t *ld, char *dst, size_t size, const char *value)
{
    int n;

    if (value[0] == '/') {
        n = snprintf(dst, size, "%s", value);
    } else {
        n = snprintf(dst, size, "%s/%s", ld->dir, value);
    }
    if (n < 0 || (size_t)n >= size) {
        return fail(ld, "path too long: '%s'%s", value, "");
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
        return fail(ld, "listen value too long%s%s", "", "");
    }
    strcpy(buf, value);
    cfg->nlisten = 0;
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (cfg->nlisten == CONFIG_MAX_LISTEN) {
            return fail(ld, "more than 8 listen addresses%s%s", "", "");
        }
        if (strlen(tok) >= sizeof(cfg->listen[0])) {
            return fail(ld, "listen address too long: '%s'%s", tok, "");
        }
        if (net_parse_addr(tok, &addr, err) != 0) {
            return fail(ld, "bad listen address '%s': %s", tok, err);
        }
        strcpy(cfg->listen[cfg->nlisten++], tok);
    }
    if (cfg->nlisten == 0) {
        return fail(ld, "listen needs at least one address%s%s", "", "");
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

/* Set one key from its text; returns 1 ok, 0 after recording an error. */
static int set_key(loader_t *ld, const key_def_t *k, const char *value)
{
    void *field = (char *)ld->cfg + k->offset;
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
        for (i = 0; value[i] != '\0'; i++) {
            if (!isalnum((unsigned char)value[i]) && strchr("._-", value[i]) == NULL) {
                break;
            }
        }
        if (value[0] == '\0' || value[i] != '\0' || (size_t)i >= k->size) {
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
    case KEY_PATH:
        if (value[0] == '\0') {
            return fail(ld, "%s needs a path%s", k->name, "");
        }
        return set_path(ld, field, k->size, value);
    case KEY_PATH_OFF:
    case KEY_PATH_STDERR:
        if (strcmp(value, k->type == KEY_PATH_OFF ? "off" : "stderr") == 0) {
            ((char *)field)[0] = '\0';
            return 1;
        }
        if (value[0] == '\0') {
            return fail(ld, "%s needs a path%s", k->name, "");
        }
        return set_path(ld, field, k->size, value);
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
    case KEY_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
            *(int *)field = value[0] == 'y';
            return 1;
        }
        return fail(ld, "bad value for %s: '%s' (yes or no)", k->name, value);
    case KEY_LEVEL:
        for (i = 0; i < 4; i++) {
            if (strcmp(value, level_names[i]) == 0) {
                *(log_level_t *)field = (log_level_t)i;
                return 1;
            }
        }
        return fail(ld, "bad level '%s' (error, warn, info or debug)%s", value, "");
    }
    return 0;
}

/* inih callback: one "name = value" line of a section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    loader_t *ld = user;
    size_t i;
    int known_section = 0;

    ld->nsettings++;
    if (section[0] == '\0') {
        return fail(ld, "'%s' is outside any [section]%s", name, "");
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
            char first[32];
            snprintf(first, sizeof(first), "%d", ld->cfg->key_line[i]);
            return fail(ld, "duplicate key '%s' (first set on line %s)", name, first);
        }
        ld->cfg->key_line[i] = (uint16_t)(ld->line > UINT16_MAX ? UINT16_MAX : ld->line);
        return set_key(ld, &keys[i], value);
    }
    if (!known_section) {
        return fail(ld, "unknown section [%s]%s", section, "");
    }
    return fail(ld, "unknown key '%s' in section [%s]", name, section);
}

/*
 * A "[section]" line names a known section. inih only reports sections
 * through their keys, so an empty unknown section would pass unseen and a
 * bad one would be blamed on its first key's line.
 */
static void check_section(loader_t *ld, const char *line)
{
    const char *p = line, *end;
    size_t len, i;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '[' || (end = strchr(p, ']')) == NULL) {
        return; /* not a section line; inih judges its syntax */
    }
    p++;
    len = (size_t)(end - p);
    for (i = 0; i < NKEYS; i++) {
        if (strlen(keys[i].section) == len && strncmp(keys[i].section, p, len) == 0) {
            return;
        }
    }
    if (ld->err_line == 0) {
        ld->err_line = ld->line;
        snprintf(ld->err, sizeof(ld->err), "unknown section [%.*s]", (int)(len > 64 ? 64 : len), p);
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
        fail(ld, "NUL byte in line (binary file?)%s%s", "", "");
        str[0] = '\0';
    } else if (too_long) {
        fail(ld, "line longer than %s bytes%s", num == 200 ? "198" : "the limit", "");
        str[0] = '\0';
    } else {
        check_section(ld, str);
    }
    return str;
}

/* Cross-key checks once the whole file is read; 0 ok, -1 with ld->err set. */
static int validate(loader_t *ld)
{
    config_t *cfg = ld->cfg;
    struct stat st;
    int root_line = config_line(cfg, "static", "root");

    if (ld->nsettings == 0) {
        ld->line = ld->line ? ld->line : 1;
        fail(ld, "no settings in the file (at least [static] root is needed)%s%s", "", "");
        return -1;
    }
    if (root_line == 0) {
        fail(ld, "[static] root is not set%s%s", "", "");
        return -1;
    }
    ld->line = root_line;
    if (stat(cfg->root, &st) != 0) {
        fail(ld, "root '%s': %s", cfg->root, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(ld, "root '%s' is not a directory%s", cfg->root, "");
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
        snprintf(err, CONFIG_ERR_LEN, "%s:0: cannot open: %s", path, strerror(errno));
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
