/*
 * pool: a worker's thread pool for blocking work ([server] threads). A job
 * runs on one of the pool's threads; its completion runs back on the
 * worker's event loop, woken through an eventfd. With 0 threads a job runs
 * at once on the loop itself, inside pool_submit() (it blocks the loop: that
 * is what the pool is for), and its completion still comes from the loop.
 * The pool knows nothing of requests: conn_handler.c builds forkd_pool_submit() on it.
 */
#ifndef FORKD_POOL_H
#define FORKD_POOL_H

#include <event2/event.h>
#include <stdint.h>

typedef struct pool pool_t;
typedef struct pool_job pool_job_t;

/*
 * A job, allocated and filled in by the caller (run, complete, arg), owned
 * by the pool from pool_submit() until complete is called.
 */
struct pool_job {
    /*
     * On a pool thread (or on the loop, with 0 threads): the work. cancelled
     * becomes non-zero once pool_cancel() was called; a long job polls it.
     * Not called at all for a job cancelled before a thread took it.
     */
    void (*run)(void *arg, const volatile int *cancelled);
    /*
     * On the loop, exactly once, after run returned (or instead of it): the
     * job is the caller's again (to free).
     */
    void (*complete)(pool_job_t *job);
    void *arg;
    int cancelled; /* written with atomics: read by the thread running the job */
    int ran;       /* run was called (set before complete) */
    pool_job_t *next;
};

/*
 * A pool of threads threads (0..CONFIG_MAX_THREADS) completing jobs on base
 * (borrowed until pool_free()). Its threads block every signal. NULL on
 * failure (errno set: eventfd, pthread_create or malloc).
 */
pool_t *pool_new(struct event_base *base, unsigned threads);

/*
 * Queue job (its run, complete and arg set; the rest is the pool's) for the
 * next free thread, or with 0 threads run it now. Its complete is called
 * later from the loop, never from inside pool_submit(). 0 ok; -1 when the
 * pool is stopping (pool_free() began): the job stays the caller's.
 */
int pool_submit(pool_t *p, pool_job_t *job);

/*
 * Tell job to give up: it is skipped if it has not started, and its
 * cancelled flag is set for its run to see. complete is still called. Only
 * between pool_submit() and complete, from the loop.
 */
void pool_cancel(pool_job_t *job);

/* The number of threads (0: jobs run on the loop). */
unsigned pool_threads(const pool_t *p);

/*
 * Stop: cancel every job, wait up to wait_ms for the running ones to
 * return, join the threads and call complete for every job left, then free
 * the pool. 0 done; -1 when jobs still ran at the deadline: their threads
 * and the pool are left behind (the process is about to exit) and their
 * complete is never called. NULL is a no-op (0).
 */
int pool_free(pool_t *p, uint32_t wait_ms);

#endif
