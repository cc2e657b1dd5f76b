/* live: the status page for browsers and the Server-Sent Events stream it follows. */
#include "live.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "forkd.h"

#define TICK_MS 1000
/* An event larger than this is sent without the request lines (many workers, escaped bytes). */
#define EVENT_MAX (FORKD_STREAM_BUFFER / 2)

/* retry: how long a browser waits to reconnect (a reload ends the old workers' streams) */
static const char opening[] = "retry: 1000\n"
                              ": forkd live status: an event a second, this comment when "
                              "nothing changed\n\n";
static const char heartbeat[] = ": no change\n\n";

/* The page. All it shows is set with textContent: nothing from the stream is parsed as HTML. */
static const char page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>forkd workers, live</title>\n"
    "<style>\n"
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "table{border-collapse:collapse}\n"
    "th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\n"
    "th{background:#f3f3f3}\n"
    "td.current,th.current{text-align:left;font-family:monospace;max-width:45em;"
    "overflow:hidden;text-overflow:ellipsis}\n"
    "tr.busy td.state{color:#a50;font-weight:bold}\n"
    "tr.draining,tr.starting{color:#888}\n"
    "tfoot td{font-weight:bold;border-top:2px solid #999}\n"
    ".bar{display:inline-block;height:.7em;background:#4a90d9;margin-right:.4em}\n"
    "#link.live{color:#080}#link.down{color:#b00}\n"
    "p.note{color:#555;max-width:50em}\n"
    "</style></head><body>\n"
    "<h1>forkd workers, live</h1>\n"
    "<p>master <span id=\"master\">?</span>, generation <span id=\"generation\">?</span>"
    " &middot; <span id=\"link\">connecting</span> &middot; <span id=\"events\">0</span>"
    " events, last change <span id=\"changed\">none yet</span></p>\n"
    "<table><thead><tr><th>slot</th><th>pid</th><th>gen</th><th>state</th>"
    "<th>connections</th><th>requests</th><th>req/s</th>"
    "<th class=\"current\">in flight (newest)</th></tr></thead>\n"
    "<tbody id=\"workers\"></tbody>\n"
    "<tfoot><tr id=\"totals\"><td colspan=\"4\" class=\"workers\"></td><td class=\"conns\"></td>"
    "<td class=\"reqs\"></td><td class=\"rps\"></td><td class=\"current\"></td></tr></tfoot>"
    "</table>\n"
    "<p class=\"note\">Connections open in one worker are served concurrently by its one event "
    "loop; busy workers side by side run in parallel on separate CPUs. Try "
    "<code>ab -c 50 -n 5000 'http://HOST/demo/sleep?ms=200'</code>.</p>\n"
    "<script>\n"
    "\"use strict\";\n"
    "(function () {\n"
    "  var byId = function (id) { return document.getElementById(id); };\n"
    "  var own = \"GET \" + location.pathname + \"?events\";\n"
    "  var count = 0;\n"
    "  function cell(tr, cls, text) {\n"
    "    var td = document.createElement(\"td\");\n"
    "    td.className = cls;\n"
    "    td.textContent = text;\n"
    "    tr.appendChild(td);\n"
    "    return td;\n"
    "  }\n"
    "  function rate(v) { return typeof v === \"number\" ? v.toFixed(1) : \"\\u2013\"; }\n"
    "  function rateCell(tr, v, max) {\n"
    "    var td = cell(tr, \"rps\", \"\"), bar = document.createElement(\"span\");\n"
    "    bar.className = \"bar\";\n"
    "    bar.style.width = Math.round(60 * (v || 0) / max) + \"px\";\n"
    "    td.appendChild(bar);\n"
    "    td.appendChild(document.createTextNode(rate(v)));\n"
    "  }\n"
    "  function row(w, max) {\n"
    "    var tr = document.createElement(\"tr\"), cur = w.current || \"\";\n"
    "    tr.className = String(w.state);\n"
    "    tr.dataset.pid = String(w.pid);\n"
    "    cell(tr, \"slot\", String(w.slot));\n"
    "    cell(tr, \"pid\", String(w.pid));\n"
    "    cell(tr, \"gen\", String(w.generation));\n"
    "    cell(tr, \"state\", String(w.state));\n"
    "    cell(tr, \"conns\", String(w.connections));\n"
    "    cell(tr, \"reqs\", String(w.requests));\n"
    "    rateCell(tr, w.rps, max);\n"
    "    if (cur === own) { cur += \"  (this page's event stream)\"; }\n"
    "    cell(tr, \"current\", cur);\n"
    "    return tr;\n"
    "  }\n"
    "  function render(s) {\n"
    "    var body = document.createElement(\"tbody\"), max = 1, t = s.totals, tr;\n"
    "    s.workers.forEach(function (w) { max = Math.max(max, w.rps || 0); });\n"
    "    s.workers.forEach(function (w) { body.appendChild(row(w, max)); });\n"
    "    body.id = \"workers\";\n"
    "    byId(\"workers\").replaceWith(body);\n"
    "    byId(\"master\").textContent = String(s.master_pid);\n"
    "    byId(\"generation\").textContent = String(s.generation);\n"
    "    tr = byId(\"totals\");\n"
    "    tr.querySelector(\".workers\").textContent = \"all \" + t.workers + \" workers\";\n"
    "    tr.querySelector(\".conns\").textContent = String(t.connections);\n"
    "    tr.querySelector(\".reqs\").textContent = String(t.requests);\n"
    "    tr.querySelector(\".rps\").textContent = rate(t.rps);\n"
    "    tr.querySelector(\".current\").textContent = t.busy + \" busy\";\n"
    "  }\n"
    "  var es = new EventSource(\"?events\");\n"
    "  es.onopen = function () {\n"
    "    byId(\"link\").textContent = \"live\";\n"
    "    byId(\"link\").className = \"live\";\n"
    "  };\n"
    "  es.onmessage = function (e) {\n"
    "    var s;\n"
    "    try { s = JSON.parse(e.data); } catch (err) { return; }\n"
    "    count++;\n"
    "    byId(\"events\").textContent = String(count);\n"
    "    byId(\"changed\").textContent = new Date().toLocaleTimeString();\n"
    "    render(s);\n"
    "  };\n"
    "  es.onerror = function () {\n"
    "    var closed = es.readyState === EventSource.CLOSED;\n"
    "    byId(\"link\").textContent = closed ? \"closed (reload the page)\" : \"reconnecting\";\n"
    "    byId(\"link\").className = \"down\";\n"
    "  };\n"
    "})();\n"
    "</script>\n"
    "</body></html>\n";

static void on_tick(evutil_socket_t fd, short what, void *arg);

/* Append formatted text to t; on failure t->failed is set (and stays set). */
static void text_printf(live_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(live_text_t *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed) {
        return;
    }
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap != 0 ? t->cap : 4096;
        while (cap - t->len <= (size_t)n) {
            cap *= 2;
        }
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void text_free(live_text_t *t)
{
    free(t->p);
    memset(t, 0, sizeof(*t));
}

void live_init(live_t *lv, scoreboard_t *sb)
{
    memset(lv, 0, sizeof(*lv));
    lv->sb = sb;
}

int live_page(forkd_req_t *req, forkd_resp_t *resp, live_t *lv)
{
    (void)req;
    (void)lv;
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/html; charset=utf-8");
    forkd_resp_header(resp, "Cache-Control", "no-store");
    forkd_resp_header(resp, "Vary", "Accept");
    forkd_resp_header(resp, "X-Content-Type-Options", "nosniff");
    /* inline script and style only, the stream from this server, nothing else */
    forkd_resp_header(resp, "Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; "
                      "style-src 'unsafe-inline'; connect-src 'self'");
    forkd_resp_body_ref(resp, page, sizeof(page) - 1, NULL, NULL);
    return FORKD_DONE;
}

/*
 * The requests a second of slot s since the last event, into out ("null"
 * when unknown: the first sample of this worker, or a slot that now holds
 * another process, so a reload never shows a negative or wrapped rate).
 * Returns the rate (0 when unknown) for the totals; *known says which.
 */
static double rate(const live_t *lv, int i, const live_sample_t *now, uint64_t elapsed_ms,
                   char out[32], int *known)
{
    const live_sample_t *p = &lv->prev[i];
    double r;

    *known = elapsed_ms > 0 && p->pid == now->pid && p->generation == now->generation
             && now->requests >= p->requests;
    if (!*known) {
        snprintf(out, 32, "null");
        return 0;
    }
    r = (double)(now->requests - p->requests) * 1000.0 / (double)elapsed_ms;
    snprintf(out, 32, "%.1f", r);
    return r;
}

/*
 * The event for the scoreboard as it is now: "data: {json}\n\n" into t,
 * rates against lv->prev, this moment's samples into samples.
 * with_current: the request lines too.
 */
static void build_event(const live_t *lv, live_text_t *t, uint64_t now_ms, int with_current,
                        live_sample_t samples[SB_SLOTS])
{
    scoreboard_t *sb = lv->sb;
    uint64_t elapsed = lv->prev_ms != 0 ? now_ms - lv->prev_ms : 0;
    unsigned long long conns = 0, requests = 0;
    double rps = 0;
    int i, workers = 0, busy = 0, rps_known = 0;

    t->len = 0;
    t->failed = 0;
    text_printf(t, "data: {\"master_pid\":%d,\"generation\":%d,\"workers\":[",
                (int)SB_GET(sb->master_pid), (int)SB_GET(sb->generation));
    for (i = 0; i < SB_SLOTS; i++) {
        sb_slot_t *s = &sb->slots[i];
        live_sample_t *now = &samples[i];
        char current[SB_CURRENT_LEN], escaped[ESCAPE_JSON_MAX(SB_CURRENT_LEN) + 1], r[32];
        int state = SB_GET(s->state), known;
        uint64_t active = SB_GET(s->active);

        memset(now, 0, sizeof(*now));
        if (!scoreboard_live(s)) {
            continue;
        }
        now->pid = SB_GET(s->pid);
        now->generation = SB_GET(s->generation);
        now->requests = SB_GET(s->requests);
        rps += rate(lv, i, now, elapsed, r, &known);
        rps_known |= known;
        escaped[0] = '\0';
        if (state == SB_BUSY && with_current) {
            *escape_json(escaped, current, scoreboard_current(s, current)) = '\0';
        }
        text_printf(t,
                    "%s{\"slot\":%d,\"pid\":%d,\"generation\":%d,\"index\":%d,\"state\":\"%s\","
                    "\"connections\":%llu,\"accepted\":%llu,\"requests\":%llu,\"rps\":%s,"
                    "\"current\":\"%s\"}",
                    workers ? "," : "", i, (int)now->pid, (int)now->generation,
                    (int)SB_GET(s->slot_index), scoreboard_state_name(state),
                    (unsigned long long)active, (unsigned long long)SB_GET(s->accepted),
                    (unsigned long long)now->requests, r, escaped);
        workers++;
        busy += state == SB_BUSY;
        conns += active;
        requests += now->requests;
    }
    text_printf(t,
                "],\"totals\":{\"workers\":%d,\"busy\":%d,\"connections\":%llu,"
                "\"requests\":%llu,\"rps\":",
                workers, busy, conns, requests);
    if (rps_known) {
        text_printf(t, "%.1f}}\n\n", rps);
    } else {
        text_printf(t, "null}}\n\n");
    }
}

/*
 * Sample the scoreboard into lv->next, then make it lv->last. Returns 1
 * when it differs from the event before, 0 when it is the same, -1 out of
 * memory (lv->last unchanged).
 */
static int sample(live_t *lv)
{
    live_sample_t samples[SB_SLOTS];
    uint64_t now = forkd_now_ms(lv->srv);
    live_text_t swap;
    int changed;

    build_event(lv, &lv->next, now, 1, samples);
    if (!lv->next.failed && lv->next.len > EVENT_MAX) {
        build_event(lv, &lv->next, now, 0, samples);
    }
    if (lv->next.failed) {
        return -1;
    }
    memcpy(lv->prev, samples, sizeof(lv->prev));
    lv->prev_ms = now;
    changed = lv->last.len != lv->next.len
              || (lv->last.len != 0 && memcmp(lv->last.p, lv->next.p, lv->last.len) != 0);
    swap = lv->last;
    lv->last = lv->next;
    lv->next = swap;
    return changed;
}

/* The state of this worker's own slot (SB_FREE if it is not found). */
static int own_state(const live_t *lv)
{
    int32_t pid = (int32_t)getpid();
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        const sb_slot_t *s = &lv->sb->slots[i];
        if (SB_GET(s->pid) == pid && scoreboard_live(s)) {
            return SB_GET(s->state);
        }
    }
    return SB_FREE;
}

/*
 * Write p[0..len) to a stream, all of it or not at all: 0 ok; -1 the client
 * has not read what waits for it (FORKD_STREAM_BUFFER) and must be dropped,
 * since the event is cut.
 */
static int send_text(forkd_resp_t *resp, const char *p, size_t len)
{
    return forkd_resp_write(resp, p, len) == (ssize_t)len ? 0 : -1;
}

/* No stream left: the timer and the buffers go (nothing is held while nobody watches). */
static void stop(live_t *lv)
{
    if (lv->tick != NULL) {
        event_free(lv->tick);
        lv->tick = NULL;
    }
    free(lv->streams);
    lv->streams = NULL;
    lv->nstreams = lv->cap = 0;
    text_free(&lv->last);
    text_free(&lv->next);
    memset(lv->prev, 0, sizeof(lv->prev));
    lv->prev_ms = 0;
}

/* Forget the streams marked ended during a tick; stop when none is left. */
static void sweep(live_t *lv)
{
    size_t i, n = 0;

    for (i = 0; i < lv->nstreams; i++) {
        if (lv->streams[i].id != 0) {
            lv->streams[n++] = lv->streams[i];
        }
    }
    lv->nstreams = n;
    if (n == 0) {
        stop(lv);
    }
}

/* The stream ref ended (client gone, worker stopping, or ended by us). */
static void forget(live_t *lv, forkd_ref_t ref)
{
    size_t i;

    for (i = 0; i < lv->nstreams; i++) {
        if (lv->streams[i].id == ref.id) {
            lv->streams[i].id = 0;
        }
    }
    if (!lv->ticking) {
        sweep(lv);
    }
}

static void on_abort(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg)
{
    (void)srv;
    (void)why;
    forget(arg, ref);
}

/*
 * Once a second while a stream is open: the new event (or a comment when
 * nothing changed) to every stream. A stream whose client has not read
 * the last FORKD_STREAM_BUFFER bytes is ended, not buffered for; when the
 * worker drains, every stream ends after this event (the browser then
 * reconnects, to a worker that serves on).
 */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    live_t *lv = arg;
    int changed = sample(lv), draining = own_state(lv) == SB_DRAINING;
    const char *msg = changed > 0 ? lv->last.p : heartbeat;
    size_t i, len = changed > 0 ? lv->last.len : sizeof(heartbeat) - 1;
    (void)fd;
    (void)what;

    lv->ticking = 1;
    for (i = 0; i < lv->nstreams; i++) {
        forkd_resp_t *resp;
        if (lv->streams[i].id == 0 || (resp = forkd_lookup(lv->srv, lv->streams[i])) == NULL) {
            lv->streams[i].id = 0;
            continue;
        }
        if (send_text(resp, msg, len) != 0) {
            forkd_log(lv->srv, FORKD_LOG_INFO,
                      "live status: request %llu reads its events too slowly: ended",
                      (unsigned long long)lv->streams[i].id);
        } else if (!draining) {
            continue;
        }
        lv->streams[i].id = 0;
        forkd_resp_finish(resp);
    }
    lv->ticking = 0;
    sweep(lv);
}

/* Room for one more stream, and the timer running. 0 ok, -1 out of memory. */
static int make_room(live_t *lv, forkd_req_t *req)
{
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};

    lv->srv = forkd_req_server(req);
    if (lv->nstreams == lv->cap) {
        size_t cap = lv->cap != 0 ? lv->cap * 2 : 8;
        forkd_ref_t *p = realloc(lv->streams, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        lv->streams = p;
        lv->cap = cap;
    }
    if (lv->tick == NULL) {
        lv->tick = event_new(forkd_event_base(lv->srv), -1, EV_PERSIST, on_tick, lv);
        if (lv->tick == NULL || event_add(lv->tick, &tv) != 0 || sample(lv) < 0) {
            stop(lv);
            return -1;
        }
    }
    return 0;
}

int live_events(forkd_req_t *req, forkd_resp_t *resp, live_t *lv)
{
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/event-stream");
    forkd_resp_header(resp, "Cache-Control", "no-store");
    forkd_resp_header(resp, "Vary", "Accept");
    forkd_resp_header(resp, "X-Accel-Buffering", "no"); /* a proxy in front: pass events on */
    if (forkd_req_method(req) == FORKD_HEAD) {
        /* the head a GET gets (chunked, no Content-Length), and nothing more */
        if (forkd_resp_stream(resp) == 0) {
            forkd_resp_finish(resp);
        }
        return FORKD_DONE;
    }
    if (make_room(lv, req) != 0 || forkd_resp_stream(resp) != 0) {
        if (lv->nstreams == 0) {
            stop(lv);
        }
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    if (send_text(resp, opening, sizeof(opening) - 1) != 0
        || send_text(resp, lv->last.p, lv->last.len) != 0 || own_state(lv) == SB_DRAINING) {
        /* draining: this one event, then the browser reconnects to a worker that serves on */
        if (lv->nstreams == 0) {
            stop(lv);
        }
        forkd_resp_finish(resp);
        return FORKD_DONE;
    }
    forkd_req_on_abort(req, on_abort, lv);
    lv->streams[lv->nstreams++] = forkd_req_ref(req);
    return FORKD_ASYNC;
}
