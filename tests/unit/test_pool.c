/*
 * test_pool: the worker's thread pool (server/pool.c): jobs run on its
 * threads (or inline with 0), completions come back on the loop, a
 * cancelled job is skipped or told, pool_free() completes what is left.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pool.h"

/* What the jobs of one test share. */
typedef struct {
    struct event_base *base;
    int running; /* jobs in run now (atomic) */
    int most;    /* the most ever running at once (atomic) */
    int completed;
    int release;  /* a blocking job's run returns once this is set (atomic) */
    int entered;  /* blocking jobs that entered run (atomic) */
    int sig_open; /* a job found a signal open in its thread's mask (atomic) */
    pthread_t loop_thread;
    int completed_off_loop;
} shared_t;

typedef struct {
    pool_job_t job;
    shared_t *sh;
    int ms; /* how long run sleeps; -1: until released or cancelled */
    pthread_t ran_on;
    int saw_cancel;
} test_job_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static void job_run(void *arg, const volatile int *cancelled)
{
    test_job_t *j = arg;
    shared_t *sh = j->sh;
    int now = __atomic_add_fetch(&sh->running, 1, __ATOMIC_SEQ_CST), most;
    sigset_t mask;

    j->ran_on = pthread_self();
    while ((most = __atomic_load_n(&sh->most, __ATOMIC_SEQ_CST)) < now
           && !__atomic_compare_exchange_n(&sh->most, &most, now, 0, __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST)) {
    }
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    if (!sigismember(&mask, SIGTERM) || !sigismember(&mask, SIGINT)
        || !sigismember(&mask, SIGUSR1)) {
        __atomic_store_n(&sh->sig_open, 1, __ATOMIC_SEQ_CST);
    }
    if (j->ms >= 0) {
        sleep_ms(j->ms);
    } else {
        __atomic_add_fetch(&sh->entered, 1, __ATOMIC_SEQ_CST);
        while (!*cancelled && !__atomic_load_n(&sh->release, __ATOMIC_SEQ_CST)) {
            sleep_ms(1);
        }
        j->saw_cancel = *cancelled != 0;
    }
    __atomic_sub_fetch(&sh->running, 1, __ATOMIC_SEQ_CST);
}

static void job_complete(pool_job_t *job)
{
    test_job_t *j = (test_job_t *)job;

    if (!pthread_equal(pthread_self(), j->sh->loop_thread)) {
        j->sh->completed_off_loop = 1;
    }
    j->sh->completed++;
}

static void job_init(test_job_t *j, shared_t *sh, int ms)
{
    memset(j, 0, sizeof(*j));
    j->job.run = job_run;
    j->job.complete = job_complete;
    j->job.arg = j;
    j->sh = sh;
    j->ms = ms;
}

/* Run the loop until want completions, for at most ~5 s. */
static void loop_until(shared_t *sh, int want)
{
    int i;

    for (i = 0; i < 5000 && sh->completed < want; i++) {
        event_base_loop(sh->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (sh->completed < want) {
            sleep_ms(1);
        }
    }
}

/* Wait (at most ~5 s) until n blocking jobs entered run. */
static void wait_entered(shared_t *sh, int n)
{
    int i;

    for (i = 0; i < 5000 && __atomic_load_n(&sh->entered, __ATOMIC_SEQ_CST) < n; i++) {
        sleep_ms(1);
    }
    assert_int_equal(__atomic_load_n(&sh->entered, __ATOMIC_SEQ_CST), n);
}

/* A 1-thread pool running busy (until released or cancelled), queued waiting behind it. */
static pool_t *busy_and_queued(shared_t *sh, test_job_t *busy, test_job_t *queued)
{
    pool_t *p = pool_new(sh->base, 1);

    assert_non_null(p);
    job_init(busy, sh, -1);
    job_init(queued, sh, 0);
    assert_int_equal(pool_submit(p, &busy->job), 0);
    wait_entered(sh, 1);
    assert_int_equal(pool_submit(p, &queued->job), 0);
    return p;
}

static int setup(void **state)
{
    shared_t *sh = calloc(1, sizeof(*sh));

    if (sh == NULL || (sh->base = event_base_new()) == NULL) {
        free(sh);
        return -1;
    }
    sh->loop_thread = pthread_self();
    *state = sh;
    return 0;
}

static int teardown(void **state)
{
    shared_t *sh = *state;

    event_base_free(sh->base);
    free(sh);
    return 0;
}

/* 0 threads: the job runs inside pool_submit() on the caller; complete only from the loop. */
static void test_no_threads_runs_inline_completes_later(void **state)
{
    shared_t *sh = *state;
    pool_t *p = pool_new(sh->base, 0);
    test_job_t j;

    assert_non_null(p);
    assert_int_equal(pool_threads(p), 0);
    job_init(&j, sh, 0);
    assert_int_equal(pool_submit(p, &j.job), 0);
    assert_true(j.job.ran);
    assert_true(pthread_equal(j.ran_on, pthread_self()));
    assert_int_equal(sh->completed, 0);
    event_base_loop(sh->base, EVLOOP_NONBLOCK);
    assert_int_equal(sh->completed, 1);
    assert_int_equal(pool_free(p, 1000), 0);
}

/* 4 threads, 12 jobs: never more than 4 at once, all of them on other threads, all completed. */
static void test_threads_bound_concurrency(void **state)
{
    shared_t *sh = *state;
    pool_t *p = pool_new(sh->base, 4);
    test_job_t j[12];
    int i;

    assert_non_null(p);
    for (i = 0; i < 12; i++) {
        job_init(&j[i], sh, 30);
        assert_int_equal(pool_submit(p, &j[i].job), 0);
    }
    loop_until(sh, 12);
    assert_int_equal(sh->completed, 12);
    assert_int_equal(sh->completed_off_loop, 0);
    for (i = 0; i < 12; i++) {
        assert_true(j[i].job.ran);
        assert_false(pthread_equal(j[i].ran_on, pthread_self()));
    }
    assert_in_range(sh->most, 2, 4);
    assert_int_equal(sh->sig_open, 0);
    assert_int_equal(pool_free(p, 1000), 0);
}

/* A job cancelled while queued is skipped; its complete still comes. */
static void test_cancel_before_start_skips_run(void **state)
{
    shared_t *sh = *state;
    test_job_t busy, queued;
    pool_t *p = busy_and_queued(sh, &busy, &queued);

    pool_cancel(&queued.job);
    __atomic_store_n(&sh->release, 1, __ATOMIC_SEQ_CST);
    loop_until(sh, 2);
    assert_int_equal(sh->completed, 2);
    assert_true(busy.job.ran);
    assert_false(queued.job.ran);
    assert_false(busy.saw_cancel);
    assert_int_equal(pool_free(p, 1000), 0);
}

/* A running job sees its cancelled flag. */
static void test_cancel_running_job_is_seen(void **state)
{
    shared_t *sh = *state;
    pool_t *p = pool_new(sh->base, 2);
    test_job_t j;

    assert_non_null(p);
    job_init(&j, sh, -1);
    assert_int_equal(pool_submit(p, &j.job), 0);
    wait_entered(sh, 1);
    pool_cancel(&j.job);
    loop_until(sh, 1);
    assert_int_equal(sh->completed, 1);
    assert_true(j.job.ran);
    assert_true(j.saw_cancel);
    assert_int_equal(pool_free(p, 1000), 0);
}

/*
 * pool_free(): the running job is told to give up, the queued one skipped,
 * and both are completed before it returns.
 */
static void test_free_cancels_and_completes_everything(void **state)
{
    shared_t *sh = *state;
    test_job_t running, queued;
    pool_t *p = busy_and_queued(sh, &running, &queued);

    assert_int_equal(pool_free(p, 5000), 0);
    assert_int_equal(sh->completed, 2);
    assert_true(running.saw_cancel);
    assert_false(queued.job.ran);
}

/* Many short jobs from a busy loop: no completion is lost between wake-ups. */
static void test_no_completion_lost(void **state)
{
    enum { N = 2000 };
    shared_t *sh = *state;
    pool_t *p = pool_new(sh->base, 3);
    test_job_t *j = calloc(N, sizeof(*j));
    int i;

    assert_non_null(p);
    assert_non_null(j);
    for (i = 0; i < N; i++) {
        job_init(&j[i], sh, 0);
        assert_int_equal(pool_submit(p, &j[i].job), 0);
        if (i % 64 == 0) {
            event_base_loop(sh->base, EVLOOP_NONBLOCK);
        }
    }
    loop_until(sh, N);
    assert_int_equal(sh->completed, N);
    assert_int_equal(pool_free(p, 1000), 0);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_threads_runs_inline_completes_later, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_bound_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_start_skips_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_job_is_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_cancels_and_completes_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_completion_lost, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
