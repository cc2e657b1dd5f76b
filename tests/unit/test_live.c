/*
 * test_live: the live status streams (server/live.c) against a model of the
 * streaming API: events and their rates, the comment when nothing changed, a
 * slow reader ended rather than buffered for, aborts, the drain, HEAD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fake_server.h"
#include "live.h"

#define MAX_STREAMS 4
#define OUT_CAP 16384

/* The model: a request and its response in one, as many as a test opens. */
struct forkd_req {
    uint64_t id;
    forkd_method_t method;
    int status, streaming, finished, errored;
    size_t room; /* what forkd_resp_write() still takes (the client's unread backlog) */
    char out[OUT_CAP];
    size_t out_len;
    forkd_abort_fn on_abort;
    void *abort_arg;
};
struct forkd_resp {
    struct forkd_req req;
};

static struct forkd_resp streams[MAX_STREAMS];
static scoreboard_t *sb;

static int setup(void **state)
{
    (void)state;
    memset(streams, 0, sizeof(streams));
    base = event_base_new();
    sb = calloc(1, sizeof(*sb));
    now_ms = 1000000;
    logged = 0;
    SB_SET(sb->master_pid, 1);
    SB_SET(sb->generation, 1);
    return base != NULL && sb != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    event_base_free(base);
    free(sb);
    return 0;
}

/* Slot i holds a worker (pid, state, requests); own: this process, for the drain. */
static void worker(int i, int32_t pid, int state, uint64_t requests)
{
    SB_SET(sb->slots[i].pid, pid);
    SB_SET(sb->slots[i].generation, 1);
    SB_SET(sb->slots[i].state, state);
    SB_SET(sb->slots[i].requests, requests);
}

static forkd_resp_t *request(int i, forkd_method_t method)
{
    forkd_resp_t *r = &streams[i];

    memset(r, 0, sizeof(*r));
    r->req.id = (uint64_t)i + 100;
    r->req.method = method;
    r->req.room = FORKD_STREAM_BUFFER;
    return r;
}

/* The tick, as the loop would call it. */
static void tick(live_t *lv)
{
    assert_non_null(lv->tick);
    now_ms += 1000;
    event_get_callback(lv->tick)(-1, EV_TIMEOUT, event_get_callback_arg(lv->tick));
}

static const char *out(forkd_resp_t *r)
{
    r->req.out[r->req.out_len] = '\0';
    return r->req.out;
}

static void clear(forkd_resp_t *r)
{
    r->req.out_len = 0;
}

/* -- the streaming API, modelled */

forkd_method_t forkd_req_method(const forkd_req_t *req)
{
    return req->method;
}

forkd_ref_t forkd_req_ref(const forkd_req_t *req)
{
    forkd_ref_t ref = {req->id};
    return ref;
}

forkd_server_t *forkd_req_server(const forkd_req_t *req)
{
    (void)req;
    return (forkd_server_t *)&base; /* any non-NULL pointer: only handed back */
}

void forkd_req_on_abort(forkd_req_t *req, forkd_abort_fn cb, void *arg)
{
    req->on_abort = cb;
    req->abort_arg = arg;
}

void forkd_resp_status(forkd_resp_t *resp, int status)
{
    resp->req.status = status;
}

int forkd_resp_header(forkd_resp_t *resp, const char *name, const char *value)
{
    (void)resp;
    (void)name;
    (void)value;
    return 0;
}

void forkd_resp_content_type(forkd_resp_t *resp, const char *type)
{
    (void)resp;
    (void)type;
}

void forkd_resp_body_ref(forkd_resp_t *resp, const void *p, size_t len, forkd_release_fn release,
                         void *arg)
{
    (void)resp;
    (void)p;
    (void)len;
    (void)release;
    (void)arg;
}

void forkd_resp_error(forkd_resp_t *resp, int status)
{
    resp->req.status = status;
    resp->req.errored = 1;
}

int forkd_resp_stream(forkd_resp_t *resp)
{
    assert_false(resp->req.streaming);
    resp->req.streaming = 1;
    return 0;
}

ssize_t forkd_resp_write(forkd_resp_t *resp, const void *p, size_t len)
{
    size_t take = len < resp->req.room ? len : resp->req.room;

    assert_true(resp->req.streaming && !resp->req.finished);
    if (resp->req.method == FORKD_HEAD) {
        return (ssize_t)len;
    }
    assert_true(resp->req.out_len + take < OUT_CAP);
    memcpy(resp->req.out + resp->req.out_len, p, take);
    resp->req.out_len += take;
    resp->req.room -= take;
    return (ssize_t)take;
}

void forkd_resp_finish(forkd_resp_t *resp)
{
    assert_false(resp->req.finished);
    resp->req.finished = 1;
}

forkd_resp_t *forkd_lookup(forkd_server_t *srv, forkd_ref_t ref)
{
    int i;

    (void)srv;
    for (i = 0; i < MAX_STREAMS; i++) {
        if (streams[i].req.id == ref.id && streams[i].req.streaming && !streams[i].req.finished) {
            return &streams[i];
        }
    }
    return NULL;
}

/* The client goes away: the server's abort callback. */
static void client_gone(forkd_resp_t *r)
{
    r->req.finished = 1;
    r->req.on_abort((forkd_server_t *)&base, forkd_req_ref(&r->req), FORKD_ABORT_CLIENT,
                    r->req.abort_arg);
}

/* -- the tests */

static void test_first_event_at_once_then_rates_from_deltas(void **state)
{
    live_t lv;
    forkd_resp_t *r = request(0, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_BUSY, 10);
    worker(1, 4002, SB_IDLE, 20);
    live_init(&lv, sb);
    assert_int_equal(live_events(&r->req, r, &lv), FORKD_ASYNC);
    assert_true(strncmp(out(r), "retry: 1000\n", 12) == 0);
    assert_non_null(strstr(out(r), "\ndata: {\"master_pid\":1,\"generation\":1,\"workers\":["));
    assert_non_null(strstr(out(r), "\"pid\":4001,"));
    assert_non_null(strstr(out(r), "\"rps\":null"));
    assert_non_null(strstr(out(r), "\"totals\":{\"workers\":2,\"busy\":1,\"connections\":0,"
                                   "\"requests\":30,\"rps\":null}}\n\n"));
    clear(r);
    SB_SET(sb->slots[0].requests, 60); /* 50 more in the 1 s tick */
    tick(&lv);
    assert_non_null(strstr(out(r), "\"requests\":60,\"rps\":50.0,"));
    assert_non_null(strstr(out(r), "\"requests\":20,\"rps\":0.0,"));
    assert_non_null(strstr(out(r), "\"requests\":80,\"rps\":50.0}}\n\n"));
    client_gone(r);
    assert_null(lv.tick);
}

static void test_a_new_process_in_a_slot_has_no_rate_yet(void **state)
{
    live_t lv;
    forkd_resp_t *r = request(0, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_IDLE, 900);
    live_init(&lv, sb);
    live_events(&r->req, r, &lv);
    tick(&lv);
    clear(r);
    worker(0, 4003, SB_IDLE, 5); /* a reload: another process, counting from 0 */
    tick(&lv);
    assert_non_null(strstr(out(r), "\"pid\":4003,"));
    assert_non_null(strstr(out(r), "\"rps\":null"));
    assert_null(strstr(out(r), "-"));
    clear(r);
    worker(0, 4003, SB_IDLE, 2); /* the same pid again, restarted (a counter never drops) */
    tick(&lv);
    assert_non_null(strstr(out(r), "\"requests\":2,\"rps\":null"));
    client_gone(r);
}

static void test_nothing_changed_is_a_comment(void **state)
{
    live_t lv;
    forkd_resp_t *r = request(0, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_IDLE, 7);
    live_init(&lv, sb);
    live_events(&r->req, r, &lv);
    tick(&lv); /* the rates become known: 0.0 */
    clear(r);
    tick(&lv);
    assert_string_equal(out(r), ": no change\n\n");
    client_gone(r);
}

static void test_request_lines_are_escaped_json(void **state)
{
    live_t lv;
    forkd_resp_t *r = request(0, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_BUSY, 0);
    memcpy(sb->slots[0].current, "GET /a\"b\\c\n", 12);
    live_init(&lv, sb);
    live_events(&r->req, r, &lv);
    assert_non_null(strstr(out(r), "\"current\":\"GET /a\\u0022b\\u005cc\\u000a\"}"));
    client_gone(r);
}

static void test_slow_reader_is_ended_not_buffered_for(void **state)
{
    live_t lv;
    forkd_resp_t *slow = request(0, FORKD_GET), *fast = request(1, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_IDLE, 0);
    live_init(&lv, sb);
    live_events(&slow->req, slow, &lv);
    live_events(&fast->req, fast, &lv);
    slow->req.room = 10; /* its client stopped reading: less room than an event */
    SB_SET(sb->slots[0].requests, 3);
    tick(&lv);
    assert_true(slow->req.finished);
    assert_int_equal(slow->req.room, 0); /* what it took was all it was offered */
    assert_int_equal(logged, 1);
    assert_false(fast->req.finished);
    assert_int_equal(lv.nstreams, 1);
    SB_SET(sb->slots[0].requests, 4);
    clear(fast);
    tick(&lv);
    assert_non_null(strstr(out(fast), "\"requests\":4,"));
    client_gone(fast);
    assert_null(lv.tick);
    assert_int_equal(lv.nstreams, 0);
}

static void test_abort_forgets_the_stream_and_the_last_stops_the_timer(void **state)
{
    live_t lv;
    forkd_resp_t *a = request(0, FORKD_GET), *b = request(1, FORKD_GET);
    (void)state;

    worker(0, 4001, SB_IDLE, 0);
    live_init(&lv, sb);
    live_events(&a->req, a, &lv);
    live_events(&b->req, b, &lv);
    assert_int_equal(lv.nstreams, 2);
    client_gone(a);
    assert_int_equal(lv.nstreams, 1);
    assert_non_null(lv.tick);
    tick(&lv);
    assert_false(b->req.finished);
    client_gone(b);
    assert_null(lv.tick);
    assert_null(lv.streams);
}

static void test_draining_worker_ends_its_streams(void **state)
{
    live_t lv;
    forkd_resp_t *a = request(0, FORKD_GET), *b = request(1, FORKD_GET);
    (void)state;

    worker(0, (int32_t)getpid(), SB_BUSY, 0);
    live_init(&lv, sb);
    live_events(&a->req, a, &lv);
    SB_SET(sb->slots[0].state, SB_DRAINING);
    /* a stream opened while draining gets one event and ends */
    assert_int_equal(live_events(&b->req, b, &lv), FORKD_DONE);
    assert_true(b->req.finished);
    assert_non_null(strstr(out(b), "data: {"));
    clear(a);
    tick(&lv);
    assert_true(a->req.finished);
    assert_non_null(strstr(out(a), "\"state\":\"draining\""));
    assert_null(lv.tick);
}

static void test_head_is_the_head_alone(void **state)
{
    live_t lv;
    forkd_resp_t *r = request(0, FORKD_HEAD);
    (void)state;

    worker(0, 4001, SB_IDLE, 0);
    live_init(&lv, sb);
    assert_int_equal(live_events(&r->req, r, &lv), FORKD_DONE);
    assert_true(r->req.streaming && r->req.finished);
    assert_int_equal(r->req.status, 200);
    assert_null(lv.tick);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_event_at_once_then_rates_from_deltas, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_new_process_in_a_slot_has_no_rate_yet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nothing_changed_is_a_comment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_lines_are_escaped_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_is_ended_not_buffered_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abort_forgets_the_stream_and_the_last_stops_the_timer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_draining_worker_ends_its_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_is_the_head_alone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
