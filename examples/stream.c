/*
 * stream: streamed responses and request bodies. GET /stream?bytes=N sends
 * N bytes (the letters a..z over and over) as fast as the client reads
 * them, with backpressure: the handler writes while forkd_resp_write()
 * takes its bytes and asks forkd_resp_on_writable() for a call when the
 * client has read enough, so a worker streaming a gigabyte holds one
 * buffer, not the gigabyte. With tick=MS it sends one piece (piece=P bytes,
 * default 16 KiB) every MS ms instead, a quiet stream like Server-Sent
 * Events, from its own timer on the worker's event base that finds the
 * response again with forkd_lookup(); with start=MS the stream starts MS ms
 * after the request, from a timer. POST /upload (body = stream) counts the
 * body's bytes and checks them with Adler-32 as they arrive, and answers
 * "bytes N adler32 X" (with stream=1 it streams its answer, a line per
 * piece received). GET /stream/stats tells how many streams and uploads
 * ran, finished and were aborted (a client that went away mid-stream) in
 * this worker.
 *
 *     [module stream]
 *     path = /usr/local/lib/forkd/stream.so
 *
 *     [route /stream]
 *     handler = stream:stream
 *
 *     [route /stream/stats]
 *     handler = stream:stats
 *
 *     [route /upload]
 *     handler = stream:upload
 *     methods = POST
 *     body = stream
 *
 * Each request keeps its state in a malloc'd struct that the abort callback
 * frees if the client goes away first: the handler never keeps a pointer to
 * the request past its callbacks.
 */
#include <forkd/forkd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE_DEFAULT (16 * 1024)
#define PIECE_MAX (64 * 1024)
#define BYTES_DEFAULT (1024 * 1024)
#define ADLER_MOD 65521

/* The module's context, one per worker: the pattern streamed, and what happened. */
typedef struct {
    char pattern[PIECE_MAX + 26]; /* a..z repeated: offset o of a stream is pattern[o % 26] */
    uint64_t streams, streams_done, streams_aborted;
    uint64_t uploads, uploads_done, uploads_aborted;
} stream_mod_t;

/* One GET /stream: how much is left to send, and how. */
typedef struct {
    stream_mod_t *mod;
    uint64_t sent, left;
    size_t piece;
    uint32_t tick; /* ms between pieces; 0: as fast as the client reads */
    /* tick: the handler's own timer, which finds the response again by reference */
    forkd_server_t *srv;
    forkd_ref_t ref;
    struct event *ev;
} stream_t;

/* One POST /upload: the count and the checksum so far. */
typedef struct {
    stream_mod_t *mod;
    uint64_t bytes;
    uint32_t a, b; /* Adler-32's two sums */
    int early;     /* answer at the first piece, before the body ends */
    int streamed;  /* the answer is a stream: a line per piece, then the count */
    uint64_t pieces;
} upload_t;

static int stream_init(forkd_server_t *srv, const forkd_config_t *keys, void **self)
{
    stream_mod_t *m = calloc(1, sizeof(*m));
    size_t i;
    (void)keys;

    if (m == NULL) {
        forkd_log(srv, FORKD_LOG_ERROR, "stream: out of memory");
        return -1;
    }
    for (i = 0; i < sizeof(m->pattern); i++) {
        m->pattern[i] = (char)('a' + i % 26);
    }
    *self = m;
    return 0;
}

static void stream_fini(void *self)
{
    free(self);
}

/* The value of name=... in the query (digits), or def when absent or not a number. */
static uint64_t query_number(const forkd_req_t *req, const char *name, uint64_t def)
{
    size_t len, nlen = strlen(name), i = 0;
    const char *q = forkd_req_query(req, &len);
    uint64_t v;

    while (q != NULL && i < len) {
        if (len - i > nlen && memcmp(q + i, name, nlen) == 0 && q[i + nlen] == '=') {
            i += nlen + 1;
            if (i >= len || q[i] < '0' || q[i] > '9') {
                return def;
            }
            for (v = 0; i < len && q[i] >= '0' && q[i] <= '9'; i++) {
                if (v > (UINT64_MAX - 9) / 10) {
                    return def;
                }
                v = v * 10 + (uint64_t)(q[i] - '0');
            }
            return v;
        }
        while (i < len && q[i] != '&') {
            i++;
        }
        i++;
    }
    return def;
}

static void stream_free(stream_t *s)
{
    if (s->ev != NULL) {
        event_free(s->ev);
    }
    free(s);
}

/* The stream is all sent: end it. */
static void stream_end(forkd_resp_t *resp, stream_t *s)
{
    s->mod->streams_done++;
    stream_free(s);
    forkd_resp_finish(resp);
}

static void on_room(forkd_resp_t *resp, void *arg);
static void on_tick(evutil_socket_t fd, short what, void *arg);

/*
 * Write pieces until the server's buffer is full (then on_room() when it
 * has room again) or the stream is done. One buffer's worth per call at
 * most: a HEAD request takes every write (and drops it), and other clients
 * of the worker get their turn between calls.
 */
static void produce(forkd_resp_t *resp, stream_t *s)
{
    uint64_t budget = FORKD_STREAM_BUFFER;
    size_t n;
    ssize_t w;

    while (s->left > 0) {
        n = s->left < s->piece ? (size_t)s->left : s->piece;
        w = forkd_resp_write(resp, s->mod->pattern + s->sent % 26, n);
        if (w < 0) {
            return; /* not a stream: cannot happen once forkd_resp_stream() succeeded */
        }
        s->sent += (uint64_t)w;
        s->left -= (uint64_t)w;
        if (s->left > 0 && ((size_t)w < n || budget <= (uint64_t)w)) {
            forkd_resp_on_writable(resp, on_room, s);
            return;
        }
        budget -= (uint64_t)w;
    }
    stream_end(resp, s);
}

static void on_room(forkd_resp_t *resp, void *arg)
{
    produce(resp, arg);
}

/* Wait tick ms more, on the handler's own timer. 0 ok, -1 failed. */
static int tick_later(stream_t *s)
{
    struct timeval tv = {(time_t)(s->tick / 1000), (suseconds_t)(s->tick % 1000) * 1000};

    if (s->ev == NULL && (s->ev = evtimer_new(forkd_event_base(s->srv), on_tick, s)) == NULL) {
        return -1;
    }
    return evtimer_add(s->ev, &tv);
}

/*
 * tick=MS: one piece per tick, whatever the client reads (what it does not
 * take is dropped). The timer is the handler's own, as a feed from
 * elsewhere would be: it holds the request's reference, and
 * forkd_lookup() gives the response back (the abort callback frees s and
 * the timer first if the request ended).
 */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    stream_t *s = arg;
    forkd_resp_t *resp = forkd_lookup(s->srv, s->ref);
    size_t n = s->left < s->piece ? (size_t)s->left : s->piece;
    ssize_t w;
    (void)fd;
    (void)what;

    if (resp == NULL) {
        return; /* cannot happen: stream_aborted() freed this timer */
    }
    w = forkd_resp_write(resp, s->mod->pattern + s->sent % 26, n);
    if (w > 0) {
        s->sent += (uint64_t)w;
        s->left -= (uint64_t)w;
    }
    if (s->left == 0 || w < (ssize_t)n) {
        stream_end(resp, s); /* done, or the client fell behind: end short */
        return;
    }
    if (tick_later(s) != 0) {
        stream_end(resp, s);
    }
}

/* An abort callback's log line: what ended (FORKD_ABORT_* why), after how many bytes. */
static void log_abort(forkd_server_t *srv, const char *what, forkd_ref_t ref, int why,
                      uint64_t bytes)
{
    forkd_log(srv, FORKD_LOG_INFO, "%s: request %" PRIu64 " aborted (%d) after %" PRIu64 " bytes",
              what, ref.id, why, bytes);
}

static void stream_aborted(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    stream_t *s = arg;

    log_abort(srv, "stream", ref, why, s->sent);
    s->mod->streams_aborted++;
    stream_free(s);
}

/* The stream's head is out: send its body, at once or by ticks. */
static void stream_begin(forkd_resp_t *resp, stream_t *s)
{
    if (s->tick == 0) {
        produce(resp, s);
    } else if (tick_later(s) != 0) {
        stream_end(resp, s);
    }
}

/* start=MS: the stream starts later, from a timer (as one waiting for its first data would). */
static void on_start(forkd_resp_t *resp, void *arg)
{
    stream_t *s = arg;

    if (forkd_resp_stream(resp) != 0) {
        forkd_resp_error(resp, 500);
        s->mod->streams_done++;
        free(s);
        forkd_resp_finish(resp);
        return;
    }
    stream_begin(resp, s);
}

/* GET /stream?bytes=N[&piece=P][&tick=MS][&start=MS] */
static int stream(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    stream_mod_t *m = self;
    stream_t *s = calloc(1, sizeof(*s));
    uint64_t piece = query_number(req, "piece", PIECE_DEFAULT);
    uint32_t start;

    if (s == NULL) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    s->mod = m;
    s->left = query_number(req, "bytes", BYTES_DEFAULT);
    s->piece = piece == 0 || piece > PIECE_MAX ? PIECE_DEFAULT : (size_t)piece;
    s->tick = (uint32_t)query_number(req, "tick", 0);
    s->srv = forkd_req_server(req);
    s->ref = forkd_req_ref(req);
    start = (uint32_t)query_number(req, "start", 0);
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain");
    if (start != 0 ? forkd_resp_timer(resp, start, on_start, s) != 0
                   : forkd_resp_stream(resp) != 0) {
        free(s);
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    m->streams++;
    forkd_req_on_abort(req, stream_aborted, s);
    if (start == 0) {
        stream_begin(resp, s);
    }
    return FORKD_ASYNC;
}

/* GET /stream/stats */
static int stats(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const stream_mod_t *m = self;
    (void)req;

    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain");
    if (forkd_resp_printf(resp,
                          "streams %" PRIu64 " finished %" PRIu64 " aborted %" PRIu64 "\n"
                          "uploads %" PRIu64 " finished %" PRIu64 " aborted %" PRIu64 "\n",
                          m->streams, m->streams_done, m->streams_aborted, m->uploads,
                          m->uploads_done, m->uploads_aborted)
        != 0) {
        forkd_resp_error(resp, 500);
    }
    return FORKD_DONE;
}

/* Adler-32 over p[0..len) (RFC 1950), sums reduced often enough never to overflow. */
static void adler_update(upload_t *u, const unsigned char *p, size_t len)
{
    size_t i, n;

    while (len > 0) {
        n = len < 5552 ? len : 5552;
        for (i = 0; i < n; i++) {
            u->a += p[i];
            u->b += u->a;
        }
        u->a %= ADLER_MOD;
        u->b %= ADLER_MOD;
        p += n;
        len -= n;
    }
}

/* Answer the upload (status, text), and let go of it. */
static void upload_answer(forkd_resp_t *resp, upload_t *u, const char *what)
{
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain");
    if (forkd_resp_printf(resp, "%s %" PRIu64 " adler32 %08" PRIx32 "\n", what, u->bytes,
                          (u->b << 16) | u->a)
        != 0) {
        forkd_resp_error(resp, 500);
    }
    u->mod->uploads_done++;
    free(u);
    forkd_resp_finish(resp);
}

/* stream=1: one line into the streamed answer (a short one: the server's buffer takes it) */
static void upload_line(forkd_resp_t *resp, upload_t *u, const char *what, uint64_t n)
{
    char line[96];
    int len = snprintf(line, sizeof(line), "%s %" PRIu64 " adler32 %08" PRIx32 "\n", what, n,
                       (u->b << 16) | u->a);

    forkd_resp_write(resp, line, (size_t)len);
}

static void on_piece(forkd_resp_t *resp, const char *p, size_t len, int last, void *arg)
{
    upload_t *u = arg;

    u->bytes += len;
    adler_update(u, (const unsigned char *)p, len);
    if (u->streamed) {
        /* written while the body still comes: the server sends it all once the body is in */
        if (len > 0) {
            upload_line(resp, u, "piece", ++u->pieces);
        }
        if (last) {
            upload_line(resp, u, "bytes", u->bytes);
            u->mod->uploads_done++;
            free(u);
            forkd_resp_finish(resp);
        }
    } else if (last) {
        upload_answer(resp, u, "bytes");
    } else if (u->early) {
        upload_answer(resp, u, "early"); /* sent once the server has read the rest */
    }
}

static void upload_aborted(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    upload_t *u = arg;

    log_abort(srv, "upload", ref, why, u->bytes);
    u->mod->uploads_aborted++;
    free(u);
}

/* POST /upload[?early=1][?reject=1][?stream=1], body = stream */
static int upload(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    stream_mod_t *m = self;
    upload_t *u;

    if (query_number(req, "reject", 0) != 0) {
        /* refused before the body: a client that waits for 100 Continue never sends it */
        forkd_resp_error(resp, 403);
        return FORKD_DONE;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        forkd_resp_error(resp, 500);
        return FORKD_DONE;
    }
    u->mod = m;
    u->a = 1;
    u->early = query_number(req, "early", 0) != 0;
    if (query_number(req, "stream", 0) != 0) {
        forkd_resp_status(resp, 200);
        forkd_resp_content_type(resp, "text/plain");
        if (forkd_resp_stream(resp) != 0) {
            free(u);
            forkd_resp_error(resp, 500);
            return FORKD_DONE;
        }
        u->streamed = 1;
    }
    m->uploads++;
    forkd_req_on_abort(req, upload_aborted, u);
    forkd_req_on_body(req, on_piece, u);
    return FORKD_ASYNC;
}

static const forkd_handler_def_t handlers[] = {
    {"stream", stream},
    {"stats", stats},
    {"upload", upload},
    {NULL, NULL},
};

const forkd_module_t forkd_module = {FORKD_ABI, "stream", stream_init, stream_fini, handlers};
