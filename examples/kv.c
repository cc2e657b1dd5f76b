/*
 * kv: a key-value store over HTTP on SQLite, a real blocking library run on
 * the worker's thread pool. GET /kv/KEY answers the value (404 when there
 * is none), PUT /kv/KEY stores the request body as it, DELETE /kv/KEY
 * removes it. Each worker has its connection to the one database file;
 * SQLite's locking keeps the workers' writes apart.
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
 *
 * SQLite blocks (disk writes and fsync, waiting for another worker's lock),
 * so the handler hands each statement to forkd_pool_submit(): it runs on one
 * of the worker's threads while the loop serves other clients, and the
 * answer is sent from the loop once it is done. A job sees only its own
 * kv_job_t (a copy of the key and body): no forkd_ function is called on a
 * pool thread. The connection is opened serialized (SQLITE_OPEN_FULLMUTEX),
 * so the threads may share it.
 */
#include <forkd/forkd.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 255
#define BUSY_WAIT_MS 5000 /* how long a statement waits for another worker's lock */

/* The module's context, one per worker. */
typedef struct {
    sqlite3 *db;
} kv_t;

/* One request's statement: filled by the handler, run by a job, answered by done. */
typedef struct {
    sqlite3 *db;
    forkd_method_t method;
    char key[KEY_MAX + 1];
    char *value; /* malloc'd: PUT's body (a copy), the value GET found */
    size_t len;
    int status;        /* the answer: 200, 204, 404, or 500 (with error set, or out of memory) */
    const char *what;  /* the statement that failed */
    const char *error; /* sqlite3_errstr(): a static string, fine to pass between threads */
} kv_job_t;

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

static void job_failed(kv_job_t *j, const char *what, int rc)
{
    j->status = 500;
    j->what = what;
    j->error = sqlite3_errstr(rc);
}

/* GET: the value into j->value (malloc'd), 200; or 404. */
static void run_get(kv_job_t *j, sqlite3_stmt *st)
{
    const void *v;
    int rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        j->status = 404;
        return;
    }
    if (rc != SQLITE_ROW) {
        job_failed(j, "SELECT", rc);
        return;
    }
    v = sqlite3_column_blob(st, 0); /* NULL for an empty value */
    j->len = (size_t)sqlite3_column_bytes(st, 0);
    j->value = malloc(j->len + 1);
    if (j->value == NULL) {
        j->status = 500;
        return;
    }
    memcpy(j->value, v != NULL ? v : "", j->len);
    j->status = 200;
}

/*
 * PUT or DELETE. DELETE says whether a row went with RETURNING:
 * sqlite3_changes() is the connection's, which the worker's threads share.
 */
static void run_change(kv_job_t *j, sqlite3_stmt *st, const char *sql)
{
    int rc;

    if (j->method == FORKD_PUT) {
        sqlite3_bind_blob(st, 2, j->value, (int)j->len, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) { /* the deleted row: finish the statement */
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_ROW : SQLITE_ERROR;
    }
    if (rc == SQLITE_DONE && j->method == FORKD_DELETE) {
        j->status = 404;
    } else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        j->status = 204;
    } else {
        job_failed(j, sql, rc);
    }
}

/* On a pool thread: the statement, blocking as long as it takes. */
static void kv_job(void *arg, const volatile int *cancelled)
{
    kv_job_t *j = arg;
    const char *sql = j->method == FORKD_PUT      ? "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
                      : j->method == FORKD_DELETE ? "DELETE FROM kv WHERE k = ? RETURNING k"
                                                  : "SELECT v FROM kv WHERE k = ?";
    sqlite3_stmt *st;
    int rc;

    if (*cancelled) { /* the client is gone: no answer wanted */
        return;
    }
    rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        job_failed(j, sql, rc);
        return;
    }
    sqlite3_bind_text(st, 1, j->key, -1, SQLITE_STATIC);
    if (j->method == FORKD_GET || j->method == FORKD_HEAD) {
        run_get(j, st);
    } else {
        run_change(j, st, sql);
    }
    sqlite3_finalize(st);
}

/* Back on the loop: answer, if the request is still there, and free the job. */
static void kv_done(forkd_server_t *srv, forkd_ref_t ref, void *arg)
{
    kv_job_t *j = arg;
    forkd_resp_t *resp = forkd_lookup(srv, ref);

    if (j->error != NULL) {
        forkd_log(srv, FORKD_LOG_ERROR, "kv: %s: %s", j->what, j->error);
    }
    if (resp != NULL) {
        if (j->status == 200) {
            forkd_resp_status(resp, 200);
            forkd_resp_content_type(resp, "application/octet-stream");
            if (forkd_resp_body_copy(resp, j->value, j->len) != 0) {
                forkd_resp_error(resp, 500);
            }
        } else if (j->status == 204) {
            forkd_resp_status(resp, 204);
        } else {
            forkd_resp_error(resp, j->status ? j->status : 500);
        }
        forkd_resp_finish(resp);
    }
    free(j->value);
    free(j);
}

/* /…/KEY: the last segment of the path is the key. */
static int kv(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const kv_t *kv = self;
    const char *path = forkd_req_path(req, NULL), *key = strrchr(path, '/') + 1;
    const char *body;
    size_t len = 0;
    kv_job_t *j;

    if (key[0] == '\0' || strlen(key) > KEY_MAX) {
        forkd_resp_error(resp, 400);
        return FORKD_DONE;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    j->db = kv->db;
    j->method = forkd_req_method(req);
    strcpy(j->key, key);
    if (j->method == FORKD_PUT) {
        /* the job may outlive the request (a client that left): it keeps a copy */
        body = forkd_req_body(req, &len);
        j->len = len;
        j->value = len <= INT_MAX ? malloc(len + 1) : NULL;
        if (j->value == NULL) {
            free(j);
            forkd_resp_error(resp, len <= INT_MAX ? 503 : 413);
            return FORKD_DONE;
        }
        memcpy(j->value, body != NULL ? body : "", len);
    }
    if (forkd_pool_submit(req, kv_job, kv_done, j) != 0) {
        free(j->value);
        free(j);
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    return FORKD_ASYNC;
}

static const forkd_handler_def_t handlers[] = {
    {"kv", kv},
    {NULL, NULL},
};

const forkd_module_t forkd_module = {FORKD_ABI, "kv", kv_init, kv_fini, handlers};
