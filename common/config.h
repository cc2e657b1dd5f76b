/* config: forkd's INI file (read with inih) into a validated config_t. */
#ifndef FORKD_CONFIG_H
#define FORKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERR_LEN 512
#define CONFIG_PATH_MAX 4096
#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_KEYS 64 /* room in config_t.key_line for every known key */

/* Log levels, most severe first (a message is written when level <= config level). */
typedef enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

typedef struct {
    /* [server] */
    char listen[CONFIG_MAX_LISTEN][128]; /* "host:port" items as written */
    int nlisten;
    int workers;                    /* 0 = auto (one per online CPU) */
    char pid_file[CONFIG_PATH_MAX]; /* "" when none */
    char user[64];                  /* "" = keep the master's user */
    char group[64];
    uint32_t shutdown_timeout; /* fast stop: SIGKILL after this */
    uint32_t graceful_timeout; /* graceful stop/reload: drain for at most this */
    uint32_t worker_timeout;   /* no heartbeat this long: SIGKILL (0 = off) */
    int reuse_port;            /* one SO_REUSEPORT socket per worker slot */
    int cpu_affinity;          /* worker slot i runs only on the i-th allowed CPU */

    /* [static] */
    char root[CONFIG_PATH_MAX]; /* absolute after loading */
    char index[256];
    uint32_t cache_entries;  /* open-file cache size per worker, 0 = off */
    uint64_t cache_max_file; /* files up to this size are cached in memory */
    uint32_t cache_valid;    /* ms an entry is used before the file is checked again */

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

    /* [log] */
    char access_log[CONFIG_PATH_MAX]; /* "" when off */
    char error_log[CONFIG_PATH_MAX];  /* "" for stderr */
    log_level_t level;

    /* [demo] */
    int demo_enabled;

    /* [status] */
    char status_path[256];  /* "" = off */
    char metrics_path[256]; /* "" = status_path + "/metrics" */
    char allow[512];        /* CIDR list, checked by net_parse_cidr_list() */

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

/* Parse a duration ("30", "30s", "500ms", "2m", "1h") to milliseconds. 0 ok, -1 bad. */
int config_parse_duration(const char *s, uint32_t *ms);

/* Parse a size ("512", "8k", "1m", "1g"; k = 1024) to bytes. 0 ok, -1 bad. */
int config_parse_size(const char *s, uint64_t *bytes);

/* Name of a log level ("error"...). */
const char *config_level_name(log_level_t lvl);

#endif
