/* config: forkd's INI file (read with inih) into a validated config_t. */
#ifndef FORKD_CONFIG_H
#define FORKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERR_LEN 512
#define CONFIG_PATH_MAX 4096
#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_KEYS 64     /* room in config_t.key_line for every known key */
#define CONFIG_MAX_RANGES 256  /* [http] max_ranges at most */
#define CONFIG_MAX_THREADS 256 /* [server] threads */

/* [module NAME] and [route PATH] sections (config_t is malloc'd: these keep it ~250 KB) */
#define CONFIG_MAX_MODULES 16
#define CONFIG_MAX_MODULE_KEYS 32 /* a module's own keys (besides path) */
#define CONFIG_MAX_ROUTES 64
#define CONFIG_NAME_LEN 32     /* module names, their keys' names: up to 31 bytes */
#define CONFIG_VALUE_LEN 256   /* a module key's value: up to 255 bytes */
#define CONFIG_FUNC_LEN 64     /* the function of handler = MODULE:function: up to 63 bytes */
#define CONFIG_URLPATH_LEN 256 /* a route's path: up to 255 bytes */

/* [upstream NAME] sections: the app servers a [route] upstream = NAME proxies to */
#define CONFIG_MAX_UPSTREAMS 16
#define CONFIG_MAX_UPSTREAM_SERVERS 16
#define CONFIG_SERVER_LEN 128 /* "host:port" or "unix:/path" (sun_path holds 108 bytes) */

/* [site NAME] sections (virtual hosts); sites[0] is the default site, [static] */
#define CONFIG_MAX_SITES 32
#define CONFIG_SITE_KEYS 24  /* room in config_site_t.key_line for every site key */
#define CONFIG_HOSTS_LEN 512 /* a site's server_name list as written */
/* [static] gzip_types by default: every text type, and the text-like others a site serves */
#define CONFIG_GZIP_TYPES                                                                          \
    "text/* application/javascript application/json application/xml application/rss+xml "          \
    "application/atom+xml application/manifest+json application/wasm image/svg+xml font/ttf "      \
    "font/otf"
#define CONFIG_DENY_LEN 256 /* a site's deny list */
/* error_page_403, _404, _500, _503: the statuses the static handler answers with a page */
#define CONFIG_ERROR_PAGES 4
#define CONFIG_ERROR_PAGE_LEN 128 /* an error page's URL path: up to 127 bytes */

/* [cache PATTERN] sections (Cache-Control / Expires rules) and [mime] lines */
#define CONFIG_MAX_CACHE_RULES 64
#define CONFIG_MAX_MIME 64
#define CONFIG_CACHE_CONTROL_LEN 256

/* Log levels, most severe first (a message is written when level <= config level). */
typedef enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

/* What a route's handler gets of a request body ([route] body =). */
typedef enum {
    CONFIG_BODY_NONE = 0, /* read and discarded (within max_body_size) */
    CONFIG_BODY_WHOLE,    /* read whole, then the handler runs */
    CONFIG_BODY_STREAM    /* handed to the handler in pieces as it arrives */
} config_body_t;

/* One "name = value" line of a [module] section, as written. */
typedef struct {
    char name[CONFIG_NAME_LEN];
    char value[CONFIG_VALUE_LEN]; /* may be "" */
    int line;
} config_kv_t;

/* [module NAME]: a handler module to load, and its own keys for its init. */
typedef struct {
    char name[CONFIG_NAME_LEN]; /* letters, digits, '.', '_', '-' */
    char path[CONFIG_PATH_MAX]; /* the shared object, absolute */
    int line;                   /* of the [module NAME] line */
    int path_line;
    int nkeys;
    config_kv_t keys[CONFIG_MAX_MODULE_KEYS]; /* every key but path, in file order */
} config_module_t;

/* How an upstream picks a server for a new request. */
typedef enum {
    CONFIG_BALANCE_ROUND_ROBIN = 0, /* each in turn */
    CONFIG_BALANCE_LEAST_CONN       /* the one with the fewest requests in flight (this worker) */
} config_balance_t;

/* An address resolved from a name (family 0: none, the server is numeric or unix:). */
typedef struct {
    uint16_t family; /* AF_INET or AF_INET6 */
    uint16_t port;   /* host order */
    unsigned char addr[16];
} config_addr_t;

/* [upstream NAME]: app servers (gunicorn, ...) a route forwards requests to. */
typedef struct {
    char name[CONFIG_NAME_LEN]; /* letters, digits, '.', '_', '-' */
    char servers[CONFIG_MAX_UPSTREAM_SERVERS][CONFIG_SERVER_LEN]; /* as written */
    /* a server given by name: its address, resolved when the file was loaded */
    config_addr_t resolved[CONFIG_MAX_UPSTREAM_SERVERS];
    int nservers;
    config_balance_t balance;
    uint32_t keepalive;         /* idle connections kept per worker (all servers), 0 = none */
    uint32_t keepalive_timeout; /* ms an idle pooled connection is kept: below the app's own */
    uint32_t connect_timeout;   /* ms; then 504 */
    uint32_t read_timeout;      /* ms between two reads of the response; then 504 */
    uint32_t send_timeout;      /* ms between two writes of the request; then 504 */
    uint32_t fail_timeout;      /* ms a server that failed to connect is skipped */
    int line;                   /* of the [upstream NAME] line */
    uint32_t buffer;            /* bytes of an answer read ahead of a slow client, per request */
    int key_line[9];            /* of each key (config.c's upstream key order), 0 = default */
} config_upstream_t;

/* [route PATH]: requests for PATH go to a module's handler, or to an upstream. */
typedef struct {
    char path[CONFIG_URLPATH_LEN]; /* absolute, normalized (no //, . or .., no %) */
    int prefix;                    /* path ends in '/': it and everything below it */
    char module[CONFIG_NAME_LEN];  /* handler = MODULE:function */
    char function[CONFIG_FUNC_LEN];
    int module_index;               /* cfg->modules[module_index] is MODULE */
    char upstream[CONFIG_NAME_LEN]; /* upstream = NAME ("" for a handler route) */
    int upstream_index;             /* cfg->upstreams[upstream_index] is NAME */
    int upstream_line;
    unsigned methods; /* HTTP_METHOD_BIT() set (http_parser.h); GET brings HEAD */
    config_body_t body;
    int pool;         /* run on the worker's thread pool */
    int line;         /* of the [route PATH] line */
    int handler_line; /* lines of the keys, 0 when a key kept its default */
    int methods_line;
    int body_line;
    int pool_line;
} config_route_t;

/* What a Host that no site's server_name claims gets ([static] unknown_host). */
typedef enum {
    CONFIG_UNKNOWN_HOST_SERVE = 0, /* the default site, [static], serves it (as nginx does) */
    CONFIG_UNKNOWN_HOST_404,       /* 404 Not Found */
    CONFIG_UNKNOWN_HOST_421        /* 421 Misdirected Request (RFC 9110 15.5.20) */
} config_unknown_host_t;

/*
 * A site: [static] (sites[0], the default site) or a [site NAME]. A key a
 * [site NAME] does not set is [static]'s (copied once the file is read).
 */
typedef struct {
    char name[CONFIG_NAME_LEN];         /* "" for [static] */
    char server_name[CONFIG_HOSTS_LEN]; /* blank separated, lower case: exact or "*.suffix" */
    char root[CONFIG_PATH_MAX];         /* absolute after loading */
    char index[256];
    char charset[32];           /* added to text types' Content-Type ("" = none) */
    int precompressed;          /* serve name.br / name.gz beside name when the client takes them */
    int gzip;                   /* compress on the fly (once per file version, in the file cache) */
    char gzip_types[192];       /* media types gzip compresses, blank separated ("" none) */
    uint32_t gzip_min_length;   /* files smaller than this are sent as they are */
    int gzip_level;             /* zlib's level, 1 (fastest) .. 9 (smallest) */
    int dotfiles;               /* dotfiles = allow: serve a segment starting with '.' (else 404) */
    int autoindex;              /* list a directory that has no index file (else 403) */
    char deny[CONFIG_DENY_LEN]; /* URL path prefixes answered 404, blank separated, "" = none */
    /* error_page_NNN: a URL path below root, "" = the built-in page; see config_error_page() */
    char error_page[CONFIG_ERROR_PAGES][CONFIG_ERROR_PAGE_LEN];
    int line;                            /* of the [site NAME] line; 0 for [static] */
    uint16_t key_line[CONFIG_SITE_KEYS]; /* line of each site key set in the section, 0 = unset */
} config_site_t;

/*
 * [cache PATTERN]: Cache-Control and/or Expires for the files PATTERN names
 * ("/exact/path", "/prefix/" or "*.ext"), on one site or all.
 */
typedef struct {
    char pattern[CONFIG_URLPATH_LEN];             /* as written */
    char site[CONFIG_NAME_LEN];                   /* "" every site, "static" the default one */
    char cache_control[CONFIG_CACHE_CONTROL_LEN]; /* "" = from expires, or none */
    int64_t expires;                              /* seconds after the response; -1 = none */
    int errors;                                   /* on error responses (4xx, 5xx) too */
    int line;                                     /* of the [cache PATTERN] line */
    int key_line[4];                              /* cache_control, expires, errors, site */
} config_cache_t;

/* [http] real_ip_header: the header a trusted proxy names the client in */
typedef enum {
    CONFIG_IP_XFF = 0,  /* X-Forwarded-For: a comma separated list, client first */
    CONFIG_IP_REAL_IP,  /* X-Real-IP: one address */
    CONFIG_IP_FORWARDED /* Forwarded (RFC 7239): the for= parameters */
} config_ip_header_t;

/* [log] format */
typedef enum {
    CONFIG_LOG_COMBINED = 0, /* Combined Log Format, as Apache and nginx write it */
    CONFIG_LOG_JSON          /* one JSON object per line */
} config_log_format_t;

typedef struct {
    /* [server] */
    char listen[CONFIG_MAX_LISTEN][128]; /* "host:port" items as written */
    int nlisten;
    /* listen[i] was followed by the flag proxy_protocol: a PROXY header comes first */
    int listen_proxy[CONFIG_MAX_LISTEN];
    char proxy_from[512];           /* CIDRs whose PROXY headers are believed; "" = nobody */
    int workers;                    /* 0 = auto (one per online CPU) */
    char pid_file[CONFIG_PATH_MAX]; /* "" when none */
    char user[64];                  /* "" = keep the master's user */
    char group[64];
    uint32_t shutdown_timeout; /* fast stop: SIGKILL after this */
    uint32_t graceful_timeout; /* graceful stop/reload: drain for at most this */
    uint32_t worker_timeout;   /* no heartbeat this long: SIGKILL (0 = off) */
    uint32_t drain_delay;      /* stop: serve on, health failing, this long before closing */
    int term_graceful;         /* [server] term = graceful: TERM stops like QUIT */
    int reuse_port;            /* one SO_REUSEPORT socket per worker slot */
    int cpu_affinity;          /* worker slot i runs only on the i-th allowed CPU */
    uint32_t threads;          /* per worker thread pool for blocking handlers, 0 = none */

    /* [static]: the worker's file cache; the default site's keys are sites[0] */
    uint32_t cache_entries;  /* open-file cache size per worker and site, 0 = off */
    uint64_t cache_max_file; /* files up to this size are cached in memory */
    uint32_t cache_valid;    /* ms an entry is used before the file is checked again */
    config_unknown_host_t unknown_host;

    /* [static] (sites[0]) and the [site NAME] sections, in file order */
    config_site_t sites[CONFIG_MAX_SITES];
    int nsites; /* 1 + the [site NAME] sections */

    /* [http]: durations in milliseconds, sizes in bytes */
    uint32_t keepalive_timeout;
    uint32_t keepalive_requests;
    uint32_t header_timeout;
    uint32_t body_timeout;
    uint32_t send_timeout;
    uint32_t lingering_timeout;
    uint32_t max_header_size;
    uint32_t max_headers;
    uint64_t max_body_size;
    uint32_t max_connections; /* per worker: stop accepting above it */
    uint32_t min_rate;        /* bytes/s a body upload or a response download must keep */
    uint32_t handler_timeout; /* a pending handler or pool job: 504 after this (0 = none) */
    uint32_t max_ranges;      /* byte ranges one Range may list; 0 = Range is ignored */
    char real_ip_from[512];   /* CIDRs whose real_ip_header is believed; "" = nobody */
    config_ip_header_t real_ip_header;

    /* [log] */
    char access_log[CONFIG_PATH_MAX]; /* "" when off */
    char error_log[CONFIG_PATH_MAX];  /* "" for stderr */
    log_level_t level;
    config_log_format_t log_format;

    /* [demo] */
    int demo_enabled;

    /* [status] */
    char status_path[256];  /* "" = off */
    char metrics_path[256]; /* "" = status_path + "/metrics" */
    char allow[512];        /* CIDR list, checked by net_parse_cidr_list() */

    /* [health] */
    char health_path[256]; /* "" = off */
    int health_log;        /* its requests go to the access log */

    /* [module NAME] and [route PATH] sections, in file order */
    config_module_t modules[CONFIG_MAX_MODULES];
    int nmodules;
    config_route_t routes[CONFIG_MAX_ROUTES];
    int nroutes;

    /* [cache PATTERN] sections, in file order */
    config_cache_t cache_rules[CONFIG_MAX_CACHE_RULES];
    int ncache_rules;

    /* [mime]: extension = type, over /etc/mime.types and the built-in types */
    config_kv_t mime[CONFIG_MAX_MIME];
    int nmime;

    /* [upstream NAME] sections, in file order */
    config_upstream_t upstreams[CONFIG_MAX_UPSTREAMS];
    int nupstreams;

    /* where it came from, for messages about it after loading */
    char path[CONFIG_PATH_MAX];         /* the file as named to config_load() */
    uint16_t key_line[CONFIG_MAX_KEYS]; /* line of each key set in the file, 0 = default */
} config_t;

/* Fill cfg with the built-in defaults (what an empty section means). */
void config_defaults(config_t *cfg);

/*
 * Read and validate the INI file at path into cfg (defaults first).
 * Relative paths in it are taken relative to the file's directory.
 * Returns 0, or -1 with err holding "path:line: reason" (line 0 when the
 * file as a whole is at fault). cfg is only meaningful on success.
 */
int config_load(config_t *cfg, const char *path, char err[CONFIG_ERR_LEN]);

/*
 * The line of section/name in the file cfg was loaded from, or 0 when the key
 * kept its default (or is unknown). For "file:line: reason" messages about
 * checks made after loading (users, directories, files).
 */
int config_line(const config_t *cfg, const char *section, const char *name);

/* The [module NAME] section of cfg, or NULL. */
const config_module_t *config_module(const config_t *cfg, const char *name);

/* The line of a site key (cfg->sites[site]) in the file, or 0 when it was not set there. */
int config_site_line(const config_t *cfg, int site, const char *name);

/*
 * Where status's page is in config_site_t.error_page, or -1 for a status
 * that has no error_page_NNN key.
 */
int config_error_page(int status);

/* The [upstream NAME] section of cfg, or NULL. */
const config_upstream_t *config_upstream(const config_t *cfg, const char *name);

/*
 * The value of a module's own key (borrowed from m), or NULL when the
 * [module] section does not set it. Never "path": that is m->path.
 */
const char *config_module_get(const config_module_t *m, const char *name);

/* Parse a duration ("30", "30s", "500ms", "2m", "1h") to milliseconds. 0 ok, -1 bad. */
int config_parse_duration(const char *s, uint32_t *ms);

/* Parse a size ("512", "8k", "1m", "1g"; k = 1024) to bytes. 0 ok, -1 bad. */
int config_parse_size(const char *s, uint64_t *bytes);

/* Name of a log level ("error"...). */
const char *config_level_name(log_level_t lvl);

#endif
