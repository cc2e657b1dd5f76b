/* status: read every live scoreboard slot and render it; loopback-only by default. */
#include "status.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "escape.h"
#include "forkd.h"

static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/*
 * 403 unless the client address is in [status] allow. A client of an
 * AF_UNIX listener has no address to match and is refused: forkd cannot tell
 * who connected, and a socket file's permissions are not an allow list.
 */
static int allowed(const forkd_req_t *req, forkd_resp_t *resp, const status_t *st)
{
    const struct sockaddr *sa = forkd_req_peer(req, NULL);
    const unsigned char *addr = NULL;

    if (sa->sa_family == AF_INET) {
        addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    }
    if (addr != NULL && net_cidr_match(st->allow, st->nallow, sa->sa_family, addr)) {
        return 1;
    }
    forkd_resp_error(resp, 403);
    return 0;
}

/* What a GET of [status] path answers with. */
typedef enum { VIEW_JSON, VIEW_PAGE, VIEW_EVENTS } view_t;

/* Does the Accept value v[0..len) list the media type type (parameters and q ignored)? */
static int accepts(const char *v, size_t len, const char *type)
{
    size_t tlen = strlen(type), i = 0;

    while (i < len) {
        size_t start, end;
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        start = i;
        while (i < len && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
            i++;
        }
        end = i;
        if (end - start == tlen && strncasecmp(v + start, type, tlen) == 0) {
            return 1;
        }
        while (i < len && v[i] != ',') {
            i++;
        }
    }
    return 0;
}

/*
 * The query picks the view: "json", "live" (the page) or "events" (its
 * stream); without one of these, Accept does: text/event-stream (what
 * EventSource sends), then text/html (a browser), else JSON.
 */
static view_t view(const forkd_req_t *req)
{
    size_t len;
    const char *q = forkd_req_query(req, &len), *accept;

    if (q != NULL) {
        if (len == 4 && memcmp(q, "json", 4) == 0) {
            return VIEW_JSON;
        }
        if (len == 4 && memcmp(q, "live", 4) == 0) {
            return VIEW_PAGE;
        }
        if (len == 6 && memcmp(q, "events", 6) == 0) {
            return VIEW_EVENTS;
        }
    }
    accept = forkd_req_header(req, "Accept", &len);
    if (accept != NULL && accepts(accept, len, "text/event-stream")) {
        return VIEW_EVENTS;
    }
    if (accept != NULL && accepts(accept, len, "text/html")) {
        return VIEW_PAGE;
    }
    return VIEW_JSON;
}

/* s[0..len) (len <= SB_CURRENT_LEN) as a JSON string, escaped into one buffer first. */
static void json_string(forkd_resp_t *resp, const char *s, size_t len)
{
    char out[ESCAPE_JSON_MAX(SB_CURRENT_LEN) + 1];

    *escape_json(out, s, len) = '\0';
    forkd_resp_printf(resp, "\"%s\"", out);
}

/* The service's stop as the master announced it (the health URL fails from drain_delay on). */
static const char *drain_name(int drain)
{
    return drain == SB_DRAIN_DELAY     ? "drain_delay"
           : drain == SB_DRAIN_CLOSING ? "closing"
                                       : "serving";
}

/* One upstream server's figures, summed over the live workers of the reader's generation. */
typedef struct {
    uint64_t active, idle, requests, failures;
    int down; /* workers that skip it now (passive health: until fail_timeout passes) */
} up_sum_t;

/* Sum scoreboard column at (the server's place in every worker's row) into out. */
static void up_sum(const status_t *st, int at, int64_t now_ms, up_sum_t *out)
{
    const sb_upstream_t *b;
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < SB_SLOTS; i++) {
        const sb_slot_t *s = &st->sb->slots[i];
        if (!scoreboard_live(s) || SB_GET(s->generation) != st->generation) {
            continue;
        }
        b = &st->sb->upstreams[i][at];
        out->active += SB_GET(b->active);
        out->idle += SB_GET(b->idle);
        out->requests += SB_GET(b->requests);
        out->failures += SB_GET(b->failures);
        out->down += SB_GET(b->down_until) > now_ms;
    }
}

/* "upstreams":[{"name":..,"servers":[{"server":..,"state":"up"|"down",...}]}] */
static void upstreams_json(forkd_resp_t *resp, const status_t *st, int64_t now_ms)
{
    const config_upstream_t *u;
    char label[ESCAPE_JSON_MAX(CONFIG_SERVER_LEN) + 1];
    up_sum_t sum;
    int i, k, at = 0;

    forkd_resp_printf(resp, "\"upstreams\":[");
    for (i = 0; i < st->cfg->nupstreams; i++) {
        u = &st->cfg->upstreams[i];
        forkd_resp_printf(resp, "%s\n{\"name\":\"%s\",\"servers\":[", i ? "," : "", u->name);
        for (k = 0; k < u->nservers; k++, at++) {
            up_sum(st, at, now_ms, &sum);
            *escape_json(label, u->servers[k], strlen(u->servers[k])) = '\0';
            forkd_resp_printf(resp,
                              "%s{\"server\":\"%s\",\"state\":\"%s\",\"down_workers\":%d,"
                              "\"active\":%llu,\"idle\":%llu,\"requests\":%llu,\"failures\":%llu}",
                              k ? "," : "", label, sum.down ? "down" : "up", sum.down,
                              (unsigned long long)sum.active, (unsigned long long)sum.idle,
                              (unsigned long long)sum.requests, (unsigned long long)sum.failures);
        }
        forkd_resp_printf(resp, "]}");
    }
    forkd_resp_printf(resp, "\n]");
}

static int status_path_get(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    status_t *st = self;
    scoreboard_t *sb = st->sb;
    time_t now = time(NULL);
    int64_t mono = (int64_t)forkd_now_ms(forkd_req_server(req));
    int i, first = 1;

    if (!allowed(req, resp, st)) {
        return FORKD_DONE;
    }
    switch (view(req)) {
    case VIEW_PAGE: return live_page(req, resp, &st->live);
    case VIEW_EVENTS: return live_events(req, resp, &st->live);
    case VIEW_JSON: break;
    }
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "application/json");
    forkd_resp_header(resp, "Cache-Control", "no-store");
    forkd_resp_header(resp, "Vary", "Accept");
    forkd_resp_printf(resp,
                      "{\"master_pid\":%d,\"uptime_s\":%lld,\"generation\":%d,\"draining\":%s,"
                      "\"drain\":\"%s\",\"workers\":[",
                      (int)SB_GET(sb->master_pid), (long long)(now - SB_GET(sb->started)),
                      (int)SB_GET(sb->generation),
                      SB_GET(sb->drain) != SB_SERVING ? "true" : "false",
                      drain_name(SB_GET(sb->drain)));
    for (i = 0; i < SB_SLOTS; i++) {
        sb_slot_t *s = &sb->slots[i];
        char current[SB_CURRENT_LEN];
        size_t current_len = 0;
        int state = SB_GET(s->state);
        if (!scoreboard_live(s)) {
            continue;
        }
        if (state == SB_BUSY) {
            current_len = scoreboard_current(s, current);
        }
        forkd_resp_printf(
            resp,
            "%s\n{\"slot\":%d,\"pid\":%d,\"generation\":%d,\"index\":%d,\"state\":\"%s\","
            "\"uptime_s\":%lld,\"heartbeat_age_ms\":%lld,\"accepted\":%llu,"
            "\"active\":%llu,\"requests\":%llu,\"bytes\":%llu,\"refused\":%llu,\"responses\":{",
            first ? "" : ",", i, (int)SB_GET(s->pid), (int)SB_GET(s->generation),
            (int)SB_GET(s->slot_index), scoreboard_state_name(state),
            (long long)(now - SB_GET(s->started)), (long long)(mono - SB_GET(s->heartbeat)),
            (unsigned long long)SB_GET(s->accepted), (unsigned long long)SB_GET(s->active),
            (unsigned long long)SB_GET(s->requests), (unsigned long long)SB_GET(s->bytes),
            (unsigned long long)SB_GET(s->refused));
        for (int k = 0; k < 5; k++) {
            forkd_resp_printf(resp, "%s\"%s\":%llu", k ? "," : "", classes[k],
                              (unsigned long long)SB_GET(s->status[k]));
        }
        forkd_resp_printf(resp, "},\"current\":");
        json_string(resp, current, current_len);
        forkd_resp_printf(resp, "}");
        first = 0;
    }
    forkd_resp_printf(resp, "\n],");
    upstreams_json(resp, st, mono);
    forkd_resp_printf(resp, "}\n");
    return FORKD_DONE;
}

/* One metric family: HELP, TYPE, then a sample per live worker. */
static void metric(forkd_resp_t *resp, scoreboard_t *sb, const char *name, const char *type,
                   const char *help, size_t offset)
{
    int i;

    forkd_resp_printf(resp, "# HELP forkd_%s %s\n# TYPE forkd_%s %s\n", name, help, name, type);
    for (i = 0; i < SB_SLOTS; i++) {
        sb_slot_t *s = &sb->slots[i];
        if (!scoreboard_live(s)) {
            continue;
        }
        forkd_resp_printf(resp, "forkd_%s{slot=\"%d\",pid=\"%d\",generation=\"%d\"} %llu\n", name,
                          i, (int)SB_GET(s->pid), (int)SB_GET(s->generation),
                          (unsigned long long)SB_GET(*(uint64_t *)((char *)s + offset)));
    }
}

/* s as a Prometheus label value into out (2 * strlen(s) + 1 bytes): \, " and LF escaped. */
static void label_value(char *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *out++ = '\\';
        }
        *out++ = *s == '\n' ? 'n' : *s;
    }
    *out = '\0';
}

/* One upstream metric family: a sample per server, field of the sums (up: 1 unless skipped). */
static void upstream_metric(forkd_resp_t *resp, const status_t *st, const up_sum_t *sums,
                            const char *name, const char *type, const char *help, int field)
{
    static const char *const fmt = "forkd_upstream_%s{upstream=\"%s\",server=\"%s\"} %llu\n";
    const config_upstream_t *u;
    char label[2 * CONFIG_SERVER_LEN + 1];
    const up_sum_t *s;
    uint64_t v;
    int i, k, at = 0;

    forkd_resp_printf(resp, "# HELP forkd_upstream_%s %s\n# TYPE forkd_upstream_%s %s\n", name,
                      help, name, type);
    for (i = 0; i < st->cfg->nupstreams; i++) {
        u = &st->cfg->upstreams[i];
        for (k = 0; k < u->nservers; k++, at++) {
            s = &sums[at];
            v = field == 0   ? (uint64_t)(s->down == 0)
                : field == 1 ? s->active
                : field == 2 ? s->idle
                : field == 3 ? s->requests
                             : s->failures;
            label_value(label, u->servers[k]);
            forkd_resp_printf(resp, fmt, name, u->name, label, (unsigned long long)v);
        }
    }
}

/* The upstream families and the drain gauge. */
static void upstream_metrics(forkd_resp_t *resp, const status_t *st, int64_t now_ms)
{
    up_sum_t sums[SB_UPSTREAM_SERVERS];
    int i, k, at = 0;

    forkd_resp_printf(resp,
                      "# HELP forkd_draining 1 once the service drains (the health URL fails).\n"
                      "# TYPE forkd_draining gauge\nforkd_draining %d\n",
                      SB_GET(st->sb->drain) != SB_SERVING);
    if (st->cfg->nupstreams == 0) {
        return;
    }
    for (i = 0; i < st->cfg->nupstreams; i++) {
        for (k = 0; k < st->cfg->upstreams[i].nservers; k++, at++) {
            up_sum(st, at, now_ms, &sums[at]);
        }
    }
    upstream_metric(resp, st, sums, "up", "gauge",
                    "1 unless a worker skips the server after a failure (fail_timeout).", 0);
    upstream_metric(resp, st, sums, "active_requests", "gauge", "Requests on the server now.", 1);
    upstream_metric(resp, st, sums, "idle_connections", "gauge",
                    "Pooled keep-alive connections to the server.", 2);
    upstream_metric(resp, st, sums, "requests_total", "counter", "Requests sent to the server.", 3);
    upstream_metric(resp, st, sums, "failures_total", "counter",
                    "Failed connects and answers (502, 504, cut short).", 4);
}

static int status_metrics(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const status_t *st = self;
    scoreboard_t *sb = st->sb;
    int i, k, live = 0;

    if (!allowed(req, resp, st)) {
        return FORKD_DONE;
    }
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain; version=0.0.4; charset=utf-8");
    forkd_resp_header(resp, "Cache-Control", "no-store");
    for (i = 0; i < SB_SLOTS; i++) {
        live += scoreboard_live(&sb->slots[i]);
    }
    forkd_resp_printf(resp,
                      "# HELP forkd_up_seconds Seconds since the master started.\n"
                      "# TYPE forkd_up_seconds gauge\nforkd_up_seconds %lld\n"
                      "# HELP forkd_generation Worker generation (grows with each reload).\n"
                      "# TYPE forkd_generation gauge\nforkd_generation %d\n"
                      "# HELP forkd_workers Worker processes alive.\n"
                      "# TYPE forkd_workers gauge\nforkd_workers %d\n",
                      (long long)(time(NULL) - SB_GET(sb->started)), (int)SB_GET(sb->generation),
                      live);
    metric(resp, sb, "accepted_total", "counter", "Connections accepted.",
           offsetof(sb_slot_t, accepted));
    metric(resp, sb, "proxy_refused_total", "counter",
           "Connections closed for a bad, late or untrusted PROXY header.",
           offsetof(sb_slot_t, proxy_refused));
    metric(resp, sb, "connections", "gauge", "Open connections.", offsetof(sb_slot_t, active));
    metric(resp, sb, "requests_total", "counter", "Requests answered.",
           offsetof(sb_slot_t, requests));
    metric(resp, sb, "response_bytes_total", "counter", "Response body bytes sent.",
           offsetof(sb_slot_t, bytes));
    metric(resp, sb, "refused_total", "counter",
           "Static requests refused by a site's access rules (dotfiles, deny): 404.",
           offsetof(sb_slot_t, refused));
    forkd_resp_printf(resp, "# HELP forkd_responses_total Responses by status class.\n"
                            "# TYPE forkd_responses_total counter\n");
    for (i = 0; i < SB_SLOTS; i++) {
        sb_slot_t *s = &sb->slots[i];
        if (!scoreboard_live(s)) {
            continue;
        }
        for (k = 0; k < 5; k++) {
            forkd_resp_printf(
                resp, "forkd_responses_total{slot=\"%d\",pid=\"%d\",class=\"%s\"} %llu\n", i,
                (int)SB_GET(s->pid), classes[k], (unsigned long long)SB_GET(s->status[k]));
        }
    }
    upstream_metrics(resp, st, (int64_t)forkd_now_ms(forkd_req_server(req)));
    return FORKD_DONE;
}

void status_init(status_t *st, scoreboard_t *sb, const config_t *cfg, int32_t generation)
{
    char err[NET_ERR_LEN];

    st->sb = sb;
    st->cfg = cfg;
    st->generation = generation;
    live_init(&st->live, sb);
    st->nallow = net_parse_cidr_list(cfg->allow, st->allow, err);
    if (st->nallow < 0) {
        st->nallow = 0; /* the config check refused it already: allow nobody */
    }
}

int status_register(router_t *r, status_t *st, const char *path, const char *metrics_path)
{
    unsigned get = HTTP_METHOD_BIT(HTTP_METHOD_GET) | HTTP_METHOD_BIT(HTTP_METHOD_HEAD);

    if (router_add(r, path, ROUTE_EXACT, get, status_path_get, st) != 0
        || router_add(r, metrics_path, ROUTE_EXACT, get, status_metrics, st) != 0) {
        return -1;
    }
    return 0;
}
