/*
 * test_upstream: an [upstream] as a worker sees it (server/upstream.c):
 * the choice of a server (round robin, least connections, servers tried or
 * down), and the idle keep-alive pool over real loopback connections: a
 * connection given back is taken again, one the app closed or wrote to is
 * not, the pool's bound, its idle timeout, and a detached socket left open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fake_server.h"
#include "upstream.h"

static char srv_place; /* an opaque forkd_server_t: upstream.c only passes it back */
#define SRV ((forkd_server_t *)(void *)&srv_place)

static config_upstream_t cfg;
static upstream_t u;
static int listener = -1; /* the app: a loopback listener the test accepts from */

/* An upstream of n servers on ports 1.. (pick tests) or of the test's listener (pool tests). */
static void make(int n, config_balance_t balance, int port)
{
    char err[256];
    int i;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.name, sizeof(cfg.name), "app");
    for (i = 0; i < n; i++) {
        snprintf(cfg.servers[i], sizeof(cfg.servers[i]), "127.0.0.1:%d", port ? port : i + 1);
    }
    cfg.nservers = n;
    cfg.balance = balance;
    cfg.keepalive = 2;
    cfg.keepalive_timeout = 1000;
    cfg.fail_timeout = 10000;
    assert_int_equal(upstream_init(&u, &cfg, NULL, err, sizeof(err)), 0);
    u.srv = SRV;
}

static int setup(void **state)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    (void)state;
    base = event_base_new();
    now_ms = 1000000;
    logged = 0;
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (base == NULL || listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&sa, &len) != 0) {
        return -1;
    }
    make(1, CONFIG_BALANCE_ROUND_ROBIN, ntohs(sa.sin_port));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    upstream_free(&u);
    close(listener);
    event_base_free(base);
    return 0;
}

static void on_event(upstream_conn_t *uc, short what, void *arg)
{
    (void)uc;
    (void)arg;
    (void)what;
}

/* A connection to the test's app, connected (the app's end returned in *app). */
static upstream_conn_t *connected(int *app)
{
    upstream_conn_t *uc = upstream_connect(&u, 0, on_event, NULL);

    assert_non_null(uc);
    *app = accept(listener, NULL, NULL);
    assert_true(*app >= 0);
    assert_int_equal(upstream_connect_error(uc), 0);
    return uc;
}

/* Let the loop see what happened on the pooled sockets. */
static void turn(void)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
}

static void test_round_robin_turns_and_skips_tried(void **state)
{
    (void)state;
    make(3, CONFIG_BALANCE_ROUND_ROBIN, 0);
    assert_int_equal(upstream_pick(&u, 0), 0);
    assert_int_equal(upstream_pick(&u, 0), 1);
    assert_int_equal(upstream_pick(&u, 0), 2);
    assert_int_equal(upstream_pick(&u, 0), 0);
    /* server 1 failed for this request: the next one after it */
    assert_int_equal(upstream_pick(&u, 1u << 1), 2);
    assert_int_equal(upstream_pick(&u, 7u), -1);
}

static void test_least_conn_takes_the_least_busy(void **state)
{
    (void)state;
    make(3, CONFIG_BALANCE_LEAST_CONN, 0);
    upstream_begin(&u, 0);
    upstream_begin(&u, 0);
    upstream_begin(&u, 2);
    assert_int_equal(upstream_pick(&u, 0), 1);
    upstream_begin(&u, 1);
    upstream_begin(&u, 1);
    assert_int_equal(upstream_pick(&u, 0), 2);
    upstream_end(&u, 0);
    upstream_end(&u, 0);
    assert_int_equal(upstream_pick(&u, 0), 0);
}

static void test_down_server_skipped_until_fail_timeout(void **state)
{
    (void)state;
    make(2, CONFIG_BALANCE_ROUND_ROBIN, 0);
    upstream_failed(&u, 0, "connection refused");
    assert_int_equal(logged, 1);
    assert_int_equal(upstream_pick(&u, 0), 1);
    assert_int_equal(upstream_pick(&u, 0), 1);
    /* failing again while down: skipped longer, not logged again */
    upstream_failed(&u, 0, "connection refused");
    assert_int_equal(logged, 1);
    /* every untried server down: the one whose time ends first, not a sure 502 */
    now_ms += 5;
    upstream_failed(&u, 1, "connection refused");
    assert_int_equal(logged, 2);
    assert_int_equal(upstream_pick(&u, 0), 0);
    assert_int_equal(upstream_pick(&u, 0), 0);
    /* both up again: in turn */
    now_ms += cfg.fail_timeout;
    assert_int_equal(upstream_pick(&u, 0), 1);
    assert_int_equal(upstream_pick(&u, 0), 0);
}

static void test_released_connection_is_taken_again(void **state)
{
    int app;
    upstream_conn_t *uc;

    (void)state;
    uc = connected(&app);
    upstream_release(uc, 1);
    assert_int_equal(u.nidle, 1);
    assert_int_equal(u.servers[0].idle, 1);
    turn(); /* quiet: stays pooled */
    assert_int_equal(u.nidle, 1);
    assert_ptr_equal(upstream_take_idle(&u, 0, on_event, NULL), uc);
    assert_int_equal(u.nidle, 0);
    assert_int_equal(u.servers[0].idle, 0);
    assert_null(upstream_take_idle(&u, 0, on_event, NULL));
    upstream_close(uc);
    close(app);
}

static void test_not_reusable_is_closed(void **state)
{
    int app;
    char c;
    upstream_conn_t *uc;

    (void)state;
    uc = connected(&app);
    upstream_release(uc, 0);
    assert_int_equal(u.nidle, 0);
    assert_int_equal(recv(app, &c, 1, 0), 0); /* the app sees the close */
    close(app);
}

static void test_app_close_drops_pooled_connection(void **state)
{
    int app;

    (void)state;
    upstream_release(connected(&app), 1);
    close(app);
    usleep(10000);
    turn(); /* its read event: the FIN */
    assert_int_equal(u.nidle, 0);
    assert_null(upstream_take_idle(&u, 0, on_event, NULL));
}

static void test_peek_refuses_closed_or_talkative_connection(void **state)
{
    int app1, app2;

    (void)state;
    upstream_release(connected(&app1), 1);
    upstream_release(connected(&app2), 1);
    assert_int_equal(u.nidle, 2);
    /* before the loop sees it: the check before reuse does */
    close(app1);
    assert_int_equal(send(app2, "x", 1, 0), 1);
    usleep(10000);
    assert_null(upstream_take_idle(&u, 0, on_event, NULL));
    assert_int_equal(u.nidle, 0);
    close(app2);
}

static void test_pool_bound(void **state)
{
    int app[3], i;
    upstream_conn_t *uc[3];
    char c;

    (void)state;
    for (i = 0; i < 3; i++) {
        uc[i] = connected(&app[i]);
    }
    for (i = 0; i < 3; i++) {
        upstream_release(uc[i], 1);
    }
    assert_int_equal(u.nidle, cfg.keepalive);
    assert_int_equal(recv(app[2], &c, 1, 0), 0); /* the third found the pool full */
    for (i = 0; i < 3; i++) {
        close(app[i]);
    }
}

static void test_idle_timeout_closes(void **state)
{
    int app;
    char c;

    (void)state;
    cfg.keepalive_timeout = 20;
    upstream_release(connected(&app), 1);
    usleep(40000);
    event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(u.nidle, 0);
    assert_int_equal(recv(app, &c, 1, 0), 0);
    close(app);
}

static void test_detach_keeps_socket_open(void **state)
{
    int app, fd;
    char c;
    upstream_conn_t *uc;

    (void)state;
    uc = connected(&app);
    assert_int_equal(upstream_watch(uc, EV_READ, 1000), 0);
    assert_true(upstream_reading(uc));
    fd = upstream_detach(uc);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    assert_int_equal(send(fd, "y", 1, 0), 1);
    assert_int_equal(recv(app, &c, 1, 0), 1);
    close(fd);
    close(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_robin_turns_and_skips_tried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_least_conn_takes_the_least_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_server_skipped_until_fail_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_released_connection_is_taken_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_reusable_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_close_drops_pooled_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peek_refuses_closed_or_talkative_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_keeps_socket_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
