/*
 * mt_threads.c - a persistent pool of worker threads.
 *
 * One job at a time: the submitting thread publishes the job, bumps a
 * generation counter and takes part itself; workers spin on the counter for
 * a short while (a parallel region usually follows another within
 * microseconds) and then sleep on a condition variable. The submitter waits
 * for the count of finished workers.
 */
#include "mt_threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ROUNDS 20000

typedef struct job {
    int kind; /* 0: range, 1: tasks */
    mt_range_fn range_fn;
    mt_task_fn task_fn;
    void *ctx;
    int64_t n, grain;
    int nthreads;            /* threads taking part, caller included */
    atomic_llong next_task;  /* for dynamic tasks */
} job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_submit = PTHREAD_MUTEX_INITIALIZER; /* one submitter at a time */

static struct {
    pthread_t workers[MT_MAX_THREADS];
    int nworkers;           /* started workers (threads - 1) */
    int wanted;             /* configured thread count */
    atomic_ulong generation;
    atomic_int done;
    job current;
    bool started;
} pool;

static _Thread_local int thread_index = 0;
static _Thread_local bool in_worker = false;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

int mt_thread_index(void) { return thread_index; }

/* Runs this thread's share of the current job. */
static void run_share(job *j, int t) {
    if (j->kind == 0) {
        /* contiguous ranges: thread t gets [t*n/k, (t+1)*n/k) */
        int64_t k = j->nthreads;
        int64_t begin = j->n * t / k, end = j->n * (t + 1) / k;
        if (end > begin) j->range_fn(j->ctx, begin, end, t);
    } else {
        for (;;) {
            int64_t task = atomic_fetch_add(&j->next_task, 1);
            if (task >= j->n) break;
            j->task_fn(j->ctx, task, t);
        }
    }
}

typedef struct worker_start {
    int id;             /* 1..nworkers */
    unsigned long seen; /* the generation current when it was created */
} worker_start;

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    int me = start.id;
    in_worker = true;
    thread_index = me;
    unsigned long seen = start.seen;
    for (;;) {
        /* wait for a new generation: spin, then sleep */
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen &&
               spins < SPIN_ROUNDS) {
            cpu_relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&pool_lock);
            while ((g = atomic_load(&pool.generation)) == seen)
                pthread_cond_wait(&pool_wake, &pool_lock);
            pthread_mutex_unlock(&pool_lock);
        }
        seen = g;
        job *j = &pool.current;
        if (me < j->nthreads) run_share(j, me);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
    return NULL;
}

static void pool_init(void) {
    const char *env = getenv("MTCNN_THREADS");
    int n = env ? atoi(env) : 0;
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    if (n > MT_MAX_THREADS) n = MT_MAX_THREADS;
    pool.wanted = n;
}

static void ensure_workers(int n) {
    /* workers are only ever added; extra ones simply sit out smaller jobs */
    while (pool.nworkers < n - 1) {
        worker_start *ws = (worker_start *)malloc(sizeof *ws);
        if (!ws) break;
        ws->id = pool.nworkers + 1;
        ws->seen = atomic_load(&pool.generation); /* stable: we hold the submit lock */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&pool.workers[ws->id - 1], &attr, worker_main, ws) != 0) {
            free(ws);
            pthread_attr_destroy(&attr);
            break; /* fewer threads than asked: the caller's share grows */
        }
        pthread_attr_destroy(&attr);
        pool.nworkers++;
    }
}

int mt_threads_count(void) {
    pthread_once(&init_once, pool_init);
    return pool.wanted;
}

void mt_threads_set(int n) {
    pthread_once(&init_once, pool_init);
    if (n < 1) n = 1;
    if (n > MT_MAX_THREADS) n = MT_MAX_THREADS;
    pool.wanted = n;
}

/* Publishes j to the workers, runs the caller's share, waits for the rest.
 * The caller holds pool_submit; it is released here. */
static void submit(job *j) {
    ensure_workers(j->nthreads);
    if (j->nthreads > pool.nworkers + 1) j->nthreads = pool.nworkers + 1;
    pool.current.kind = j->kind;
    pool.current.range_fn = j->range_fn;
    pool.current.task_fn = j->task_fn;
    pool.current.ctx = j->ctx;
    pool.current.n = j->n;
    pool.current.grain = j->grain;
    pool.current.nthreads = j->nthreads;
    atomic_store(&pool.current.next_task, 0);
    atomic_store(&pool.done, 0);
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);

    in_worker = true; /* nested calls from the caller's share run serially */
    thread_index = 0;
    run_share(&pool.current, 0);
    in_worker = false;

    /* every started worker acknowledges the generation, taking part or not */
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < pool.nworkers) cpu_relax();
    pthread_mutex_unlock(&pool_submit);
}

void mt_parallel_for(int64_t n, int64_t grain, mt_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int threads = mt_threads_count();
    int64_t useful = (n + grain - 1) / grain;
    if (useful < threads) threads = (int)useful;
    if (threads <= 1 || in_worker || pthread_mutex_trylock(&pool_submit) != 0) {
        fn(ctx, 0, n, thread_index);
        return;
    }
    job j = {.kind = 0, .range_fn = fn, .ctx = ctx, .n = n, .grain = grain, .nthreads = threads};
    submit(&j);
}

void mt_parallel_tasks(int64_t ntasks, mt_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    int threads = mt_threads_count();
    if (ntasks < threads) threads = (int)ntasks;
    if (threads <= 1 || in_worker || pthread_mutex_trylock(&pool_submit) != 0) {
        for (int64_t t = 0; t < ntasks; t++) fn(ctx, t, thread_index);
        return;
    }
    job j = {.kind = 1, .task_fn = fn, .ctx = ctx, .n = ntasks, .nthreads = threads};
    submit(&j);
}
