/* pool: threads that run blocking jobs, and their completions back on the event loop. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/*
 * Jobs go from the queue (submitted) to a thread (running) to the done list
 * (ended, complete not yet called); the lock guards all three. The eventfd
 * is written when the done list stops being empty, and read by the loop
 * before it takes the list, so a job that ends meanwhile wakes it again.
 */
struct pool {
    struct event_base *base;
    struct event *wake; /* eventfd readable; activated by hand with 0 threads */
    int efd;            /* the eventfd, -1 with 0 threads */
    unsigned nthreads;
    unsigned nstarted; /* threads created (and to be joined) */
    unsigned nindexed; /* threads that took their index in current[] */
    pthread_t *threads;
    pool_job_t **current; /* per thread: the job it runs, NULL when none */
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a job was queued, or the pool stops */
    pthread_cond_t ended; /* a job ended (pool_free() waits for the last) */
    pool_job_t *queue, **queue_tail;
    pool_job_t *done, **done_tail;
    unsigned running; /* jobs on a thread now */
    int stopping;
    int woken; /* the loop was told (eventfd written, or event activated) and has not looked */
};

static void on_wake(evutil_socket_t fd, short what, void *arg);

/* Append job to a list (lock held). */
static void append(pool_job_t ***tail, pool_job_t *job)
{
    job->next = NULL;
    **tail = job;
    *tail = &job->next;
}

/* job ended (or was skipped): hand it to the loop (lock held). */
static void finish(pool_t *p, pool_job_t *job)
{
    uint64_t one = 1;

    append(&p->done_tail, job);
    if (p->woken) {
        return;
    }
    p->woken = 1;
    if (p->efd < 0) {
        event_active(p->wake, EV_READ, 0);
    } else if (write(p->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, the loop is woken anyway */
    }
}

/* Run job unless it was cancelled first. */
static void run_job(pool_job_t *job)
{
    if (!__atomic_load_n(&job->cancelled, __ATOMIC_ACQUIRE)) {
        job->ran = 1;
        job->run(job->arg, &job->cancelled);
    }
}

/* A pool thread: take queued jobs until the pool stops. */
static void *thread_main(void *arg)
{
    pool_t *p = arg;
    pool_job_t *job;
    unsigned me;

    pthread_mutex_lock(&p->lock);
    me = p->nindexed++;
    for (;;) {
        while (!p->stopping && p->queue == NULL) {
            pthread_cond_wait(&p->work, &p->lock);
        }
        if (p->queue == NULL) {
            break; /* stopping: pool_free() took what was queued */
        }
        job = p->queue;
        p->queue = job->next;
        if (p->queue == NULL) {
            p->queue_tail = &p->queue;
        }
        p->current[me] = job;
        p->running++;
        pthread_mutex_unlock(&p->lock);
        run_job(job);
        pthread_mutex_lock(&p->lock);
        p->current[me] = NULL;
        p->running--;
        finish(p, job);
        pthread_cond_signal(&p->ended);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Stop and join the threads created so far (pool_new()'s failure, pool_free()). */
static void join_all(pool_t *p)
{
    unsigned i;

    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->nstarted; i++) {
        pthread_join(p->threads[i], NULL);
    }
    p->nstarted = 0;
}

/* Free what pool_new() made (threads joined, no job left). */
static void destroy(pool_t *p)
{
    if (p->wake != NULL) {
        event_free(p->wake);
    }
    if (p->efd >= 0) {
        close(p->efd);
    }
    pthread_cond_destroy(&p->ended);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->current);
    free(p->threads);
    free(p);
}

/* The conditions and the lock; ended waits on the monotonic clock. 0 ok, -1 failed. */
static int init_sync(pool_t *p)
{
    pthread_condattr_t attr;
    int rc = -1;

    if (pthread_condattr_init(&attr) != 0) {
        return -1;
    }
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0
        && pthread_mutex_init(&p->lock, NULL) == 0) {
        if (pthread_cond_init(&p->work, NULL) == 0) {
            if (pthread_cond_init(&p->ended, &attr) == 0) {
                rc = 0;
            } else {
                pthread_cond_destroy(&p->work);
                pthread_mutex_destroy(&p->lock);
            }
        } else {
            pthread_mutex_destroy(&p->lock);
        }
    }
    pthread_condattr_destroy(&attr);
    return rc;
}

/* Start the threads with every signal blocked (they inherit the mask). 0 ok, -1 failed. */
static int start_threads(pool_t *p)
{
    sigset_t all, old;
    unsigned i;
    int err = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < p->nthreads && err == 0; i++) {
        err = pthread_create(&p->threads[i], NULL, thread_main, p);
        if (err == 0) {
            p->nstarted++;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

pool_t *pool_new(struct event_base *base, unsigned threads)
{
    pool_t *p = calloc(1, sizeof(*p));
    int err;

    if (p == NULL) {
        return NULL;
    }
    p->base = base;
    p->nthreads = threads;
    p->efd = -1;
    p->queue_tail = &p->queue;
    p->done_tail = &p->done;
    if (init_sync(p) != 0) {
        err = errno;
        free(p);
        errno = err;
        return NULL;
    }
    if (threads > 0) {
        p->threads = calloc(threads, sizeof(*p->threads));
        p->current = calloc(threads, sizeof(*p->current));
        p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (p->threads == NULL || p->current == NULL || p->efd < 0) {
            goto fail;
        }
        p->wake = event_new(base, p->efd, EV_READ | EV_PERSIST, on_wake, p);
        if (p->wake == NULL || event_add(p->wake, NULL) != 0 || start_threads(p) != 0) {
            goto fail;
        }
    } else {
        p->wake = event_new(base, -1, 0, on_wake, p);
        if (p->wake == NULL) {
            goto fail;
        }
    }
    return p;
fail:
    err = errno ? errno : ENOMEM;
    join_all(p);
    destroy(p);
    errno = err;
    return NULL;
}

unsigned pool_threads(const pool_t *p)
{
    return p->nthreads;
}

int pool_submit(pool_t *p, pool_job_t *job)
{
    job->cancelled = 0;
    job->ran = 0;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (p->nthreads == 0) {
        pthread_mutex_unlock(&p->lock);
        run_job(job); /* on the loop: it waits for the job */
        pthread_mutex_lock(&p->lock);
        finish(p, job);
    } else {
        append(&p->queue_tail, job);
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void pool_cancel(pool_job_t *job)
{
    __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELEASE);
}

/* Call complete for every ended job (on the loop; the list is taken whole, under the lock). */
static void complete_done(pool_t *p)
{
    pool_job_t *job, *next;

    pthread_mutex_lock(&p->lock);
    job = p->done;
    p->done = NULL;
    p->done_tail = &p->done;
    p->woken = 0;
    pthread_mutex_unlock(&p->lock);
    for (; job != NULL; job = next) {
        next = job->next;
        job->complete(job);
    }
}

/* The loop is woken: read the eventfd first (a job ending after that writes it again). */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    pool_t *p = arg;
    uint64_t n;
    (void)what;

    if (fd >= 0 && read(fd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing new since the last look */
    }
    complete_done(p);
}

int pool_free(pool_t *p, uint32_t wait_ms)
{
    struct timespec deadline;
    pool_job_t *job;
    unsigned i;

    if (p == NULL) {
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(wait_ms / 1000);
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    while ((job = p->queue) != NULL) {
        p->queue = job->next;
        pool_cancel(job);
        finish(p, job);
    }
    p->queue_tail = &p->queue;
    for (i = 0; i < p->nthreads; i++) {
        if (p->current[i] != NULL) {
            pool_cancel(p->current[i]);
        }
    }
    pthread_cond_broadcast(&p->work);
    while (p->running > 0) {
        if (pthread_cond_timedwait(&p->ended, &p->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (p->running > 0) {
        /* left behind: a late thread only writes the eventfd, which stays open */
        pthread_mutex_unlock(&p->lock);
        event_free(p->wake);
        p->wake = NULL;
        return -1;
    }
    pthread_mutex_unlock(&p->lock);
    join_all(p);
    complete_done(p);
    destroy(p);
    return 0;
}
