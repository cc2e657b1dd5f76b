/*
 * kv: a key-value store over HTTP on SQLite, a real blocking library.
 * GET /kv/KEY answers the value (404 when there is none), PUT /kv/KEY
 * stores the request body as it, DELETE /kv/KEY removes it. Each worker
 * has its connection to the one database file; SQLite's locking keeps the
 * workers' writes apart.
 *
 *     [server]
 *     threads = 4
 *
 *     [module kv]
 *     path = /usr/local/lib/forkd/kv.so
 *     database = /var/lib/forkd/kv.sqlite
 *
 *     [route /kv/]
 *     handler = kv:kv
 *     methods = GET PUT DELETE
 *     pool = yes
 *
 * SQLite blocks (disk writes and fsync, waiting for another worker's lock):
 * with pool = yes the handler runs on one of the worker's threads and the
 * worker's loop serves on meanwhile. The connection is opened serialized
 * (SQLITE_OPEN_FULLMUTEX), so threads may share it.
 */
#include <forkd/forkd.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 255
#define BUSY_WAIT_MS 5000 /* how long a statement waits for another worker's lock */

typedef struct {
    sqlite3 *db;
    forkd_server_t *srv; /* for forkd_log() */
} kv_t;

static int kv_init(forkd_server_t *srv, const forkd_config_t *keys, void **self)
{
    const char *path = forkd_config_get(keys, "database");
    char *msg = NULL;
    kv_t *kv;
    int rc;

    if (path == NULL || path[0] == '\0') {
        forkd_log(srv, FORKD_LOG_ERROR, "kv: database = FILE is required");
        return -1;
    }
    kv = calloc(1, sizeof(*kv));
    if (kv == NULL) {
        forkd_log(srv, FORKD_LOG_ERROR, "kv: out of memory");
        return -1;
    }
    kv->srv = srv;
    rc = sqlite3_open_v2(path, &kv->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(kv->db, BUSY_WAIT_MS);
        rc = sqlite3_exec(kv->db,
                          "PRAGMA journal_mode = WAL;"
                          "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)",
                          NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        forkd_log(srv, FORKD_LOG_ERROR, "kv: database '%s': %s", path,
                  msg != NULL      ? msg
                  : kv->db != NULL ? sqlite3_errmsg(kv->db)
                                   : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(kv->db);
        free(kv);
        return -1;
    }
    *self = kv;
    return 0;
}

static void kv_fini(void *self)
{
    kv_t *kv = self;

    sqlite3_close(kv->db);
    free(kv);
}

/* A statement failed: log it (sqlite3_errstr(): thread-safe), answer 500. */
static int failed(const kv_t *kv, forkd_resp_t *resp, const char *what, int rc)
{
    forkd_log(kv->srv, FORKD_LOG_ERROR, "kv: %s: %s", what, sqlite3_errstr(rc));
    forkd_resp_error(resp, 500);
    return FORKD_DONE;
}

static int kv_get(const kv_t *kv, forkd_resp_t *resp, const char *key)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(kv->db, "SELECT v FROM kv WHERE k = ?", -1, &st, NULL);

    if (rc != SQLITE_OK) {
        return failed(kv, resp, "SELECT", rc);
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        forkd_resp_status(resp, 200);
        forkd_resp_content_type(resp, "application/octet-stream");
        const void *v = sqlite3_column_blob(st, 0); /* NULL for an empty value */
        if (forkd_resp_body_copy(resp, v != NULL ? v : "", (size_t)sqlite3_column_bytes(st, 0))
            != 0) {
            forkd_resp_error(resp, 500);
        }
    } else if (rc == SQLITE_DONE) {
        forkd_resp_error(resp, 404);
    } else {
        failed(kv, resp, "SELECT", rc);
    }
    sqlite3_finalize(st);
    return FORKD_DONE;
}

/*
 * PUT (value: the body) or DELETE (value NULL). DELETE says whether a row
 * went with RETURNING: sqlite3_changes() is the connection's, which the
 * worker's other threads share.
 */
static int kv_change(const kv_t *kv, forkd_resp_t *resp, const char *key, const char *value,
                     size_t len)
{
    const char *sql = value != NULL ? "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
                                    : "DELETE FROM kv WHERE k = ? RETURNING k";
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(kv->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        return failed(kv, resp, sql, rc);
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value != NULL) {
        sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) { /* the deleted row: finish the statement */
        int again = sqlite3_step(st);
        rc = again == SQLITE_DONE ? SQLITE_ROW : again;
    }
    if (rc == SQLITE_DONE && value == NULL) {
        forkd_resp_error(resp, 404);
    } else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        forkd_resp_status(resp, 204);
    } else {
        failed(kv, resp, sql, rc);
    }
    sqlite3_finalize(st);
    return FORKD_DONE;
}

/* /…/KEY: the last segment of the path is the key. */
static int kv(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const char *path = forkd_req_path(req, NULL), *key = strrchr(path, '/') + 1;
    const char *body;
    size_t len = 0;

    if (key[0] == '\0' || strlen(key) > KEY_MAX) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    switch (forkd_req_method(req)) {
    case FORKD_GET:
    case FORKD_HEAD: return kv_get(self, resp, key);
    case FORKD_PUT:
        body = forkd_req_body(req, &len);
        if (len > INT_MAX) { /* more than SQLite binds at once */
            forkd_resp_error(resp, 413);
            return FORKD_DONE;
        }
        return kv_change(self, resp, key, body != NULL ? body : "", body != NULL ? len : 0);
    case FORKD_DELETE: return kv_change(self, resp, key, NULL, 0);
    default: forkd_resp_error(resp, 405); return FORKD_DONE;
    }
}

static const forkd_handler_def_t handlers[] = {
    {"kv", kv},
    {NULL, NULL},
};

const forkd_module_t forkd_module = {FORKD_ABI, "kv", kv_init, kv_fini, handlers};
