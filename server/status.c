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
    forkd_resp_printf(resp, "{\"master_pid\":%d,\"uptime_s\":%lld,\"generation\":%d,\"workers\":[",
                      (int)SB_GET(sb->master_pid), (long long)(now - SB_GET(sb->started)),
                      (int)SB_GET(sb->generation));
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
            "\"active\":%llu,\"requests\":%llu,\"bytes\":%llu,\"responses\":{",
            first ? "" : ",", i, (int)SB_GET(s->pid), (int)SB_GET(s->generation),
            (int)SB_GET(s->slot_index), scoreboard_state_name(state),
            (long long)(now - SB_GET(s->started)), (long long)(mono - SB_GET(s->heartbeat)),
            (unsigned long long)SB_GET(s->accepted), (unsigned long long)SB_GET(s->active),
            (unsigned long long)SB_GET(s->requests), (unsigned long long)SB_GET(s->bytes));
        for (int k = 0; k < 5; k++) {
            forkd_resp_printf(resp, "%s\"%s\":%llu", k ? "," : "", classes[k],
                              (unsigned long long)SB_GET(s->status[k]));
        }
        forkd_resp_printf(resp, "},\"current\":");
        json_string(resp, current, current_len);
        forkd_resp_printf(resp, "}");
        first = 0;
    }
    forkd_resp_printf(resp, "\n]}\n");
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
    return FORKD_DONE;
}

void status_init(status_t *st, scoreboard_t *sb, const char *allow)
{
    char err[NET_ERR_LEN];

    st->sb = sb;
    live_init(&st->live, sb);
    st->nallow = net_parse_cidr_list(allow, st->allow, err);
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
