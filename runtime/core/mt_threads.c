/*
 * mt_threads.c - a persistent pool of worker threads.
 *
 * One job at a time. A job is cut into shares (one contiguous range per
 * thread, or one task each); every share is CLAIMED with an atomic counter
 * by whichever thread gets to it first, the submitting thread included. The
 * submitter waits only for shares that others have claimed and not finished,
 * so a worker that is descheduled (another process holds its core) delays
 * nothing: the submitter runs the shares nobody took. Which thread runs a
 * share does not change what the share computes, so results stay
 * reproducible.
 *
 * Workers spin on a generation counter for a short while (parallel regions
 * usually follow each other within microseconds) and then sleep on a
 * condition variable. A job lives on its submitter's stack; the `active`
 * count (see below) keeps late workers from touching it after it returns.
 * While they spin, workers also take pieces of the idle work, if a client
 * attached some (mt_threads_idle_attach), and a wake-up for new pieces
 * rouses the sleeping ones.
 */
#include "core/mt_threads.h"

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
    int kind; /* 0: ranges, 1: tasks */
    mt_range_fn range_fn;
    mt_task_fn task_fn;
    void *ctx;
    int64_t n;       /* elements (ranges) or tasks */
    int64_t shares;  /* ranges: one per thread taking part; tasks: n */
    int nthreads;    /* threads that may take part */
    atomic_llong next_share; /* the next share to claim */
    atomic_llong finished;   /* shares completed */
} job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_submit = PTHREAD_MUTEX_INITIALIZER; /* one submitter at a time */

static struct {
    int nworkers; /* started workers (threads - 1) */
    int wanted;   /* configured thread count */
    atomic_ulong generation;
    /* The job being worked on (on its submitter's stack), or NULL. A thread
     * counts itself in `active` BEFORE reading the pointer, and the
     * submitter clears the pointer and waits for `active` to drop to zero
     * before its job goes out of scope: nobody can touch a finished job. */
    _Atomic(job *) current;
    atomic_int active;
} pool;

/* The idle work (see mt_threads.h). As with jobs, a worker counts itself in `running` before
 * it reads the client, and detach waits for `running` to drop to zero after clearing it. */
static struct {
    _Atomic(const mt_idle_work *) client;
    atomic_int running;
    atomic_ulong posts; /* wake-ups for new pieces, changed under pool_lock */
    int sleeping;       /* workers asleep on pool_wake, under pool_lock */
} idle;

static _Thread_local int thread_index = 0;
static _Thread_local bool in_worker = false;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

int mt_thread_index(void) { return thread_index; }

/* Runs share s of job j on thread t. Range shares are fixed slices
 * [s*n/k, (s+1)*n/k) and see the share number as their "thread" (whatever
 * thread runs them), so per-thread partial results stay reproducible; tasks
 * see the number of the thread running them. */
static void run_share(const job *j, int64_t s, int t) {
    if (j->kind == 0) {
        int64_t k = j->nthreads;
        int64_t begin = j->n * s / k, end = j->n * (s + 1) / k;
        if (end > begin) j->range_fn(j->ctx, begin, end, (int)s);
    } else {
        j->task_fn(j->ctx, s, t);
    }
}

/* Claims and runs shares of the current job until none is left. Only
 * threads 0..nthreads-1 take part, so that the thread numbers a task sees
 * stay below the count its caller sized per-thread scratch for. */
static void work(int t) {
    atomic_fetch_add(&pool.active, 1);
    job *j = atomic_load(&pool.current);
    if (j && t < j->nthreads) {
        for (;;) {
            int64_t s = atomic_fetch_add(&j->next_share, 1);
            if (s >= j->shares) break;
            run_share(j, s, t);
            atomic_fetch_add_explicit(&j->finished, 1, memory_order_release);
        }
    }
    atomic_fetch_sub(&pool.active, 1);
}

/* Runs one piece of the idle work if there is a client; nonzero when more may be waiting.
 * Workers beyond the thread count now set (mt_threads_set lowered it) take none. */
static int idle_piece(int id) {
    if (!atomic_load_explicit(&idle.client, memory_order_relaxed)) return 0;
    if (id >= __atomic_load_n(&pool.wanted, __ATOMIC_RELAXED)) return 0;
    atomic_fetch_add(&idle.running, 1);
    const mt_idle_work *w = atomic_load(&idle.client);
    int more = w ? w->run(w->ctx) : 0;
    atomic_fetch_sub(&idle.running, 1);
    return more;
}

void mt_threads_idle_detach(const mt_idle_work *w) {
    const mt_idle_work *expected = w;
    if (!atomic_compare_exchange_strong(&idle.client, &expected, NULL)) return;
    while (atomic_load(&idle.running) > 0) cpu_relax();
}

void mt_threads_idle_wake(void) {
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add(&idle.posts, 1);
    if (idle.sleeping > 0) pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
}

typedef struct worker_start {
    int id;             /* 1..nworkers */
    unsigned long seen; /* the generation current when it was created */
} worker_start;

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    in_worker = true;
    thread_index = start.id;
    unsigned long seen = start.seen;
    for (;;) {
        /* wait for a new generation: spin (making pieces of the idle work, if any), then
         * sleep until a job or a wake-up for idle work comes */
        unsigned long posts = atomic_load(&idle.posts), g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
            if (idle_piece(start.id)) {
                spins = 0;
                continue;
            }
            if (++spins > SPIN_ROUNDS) break;
            cpu_relax();
        }
        if (g == seen) {
            pthread_mutex_lock(&pool_lock);
            idle.sleeping++;
            while ((g = atomic_load(&pool.generation)) == seen && atomic_load(&idle.posts) == posts)
                pthread_cond_wait(&pool_wake, &pool_lock);
            idle.sleeping--;
            pthread_mutex_unlock(&pool_lock);
            if (g == seen) continue; /* woken for idle work */
        }
        seen = g;
        work(start.id);
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
    /* workers are only ever added; extra ones find nothing to claim */
    while (pool.nworkers < n - 1) {
        worker_start *ws = (worker_start *)malloc(sizeof *ws);
        if (!ws) break;
        ws->id = pool.nworkers + 1;
        ws->seen = atomic_load(&pool.generation); /* stable: we hold the submit lock */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t tid;
        if (pthread_create(&tid, &attr, worker_main, ws) != 0) {
            free(ws);
            pthread_attr_destroy(&attr);
            break; /* fewer threads than asked: the caller claims more shares */
        }
        pthread_attr_destroy(&attr);
        pool.nworkers++;
    }
}

int mt_threads_idle_attach(const mt_idle_work *w) {
    const mt_idle_work *none = NULL;
    if (!atomic_compare_exchange_strong(&idle.client, &none, w)) return 0;
    /* workers start with the first job; idle work may come before any */
    int n = mt_threads_count();
    if (n > 1 && pthread_mutex_trylock(&pool_submit) == 0) {
        ensure_workers(n);
        pthread_mutex_unlock(&pool_submit);
    }
    return 1;
}

int mt_threads_count(void) {
    pthread_once(&init_once, pool_init);
    return pool.wanted;
}

void mt_threads_set(int n) {
    pthread_once(&init_once, pool_init);
    if (n < 1) n = 1;
    if (n > MT_MAX_THREADS) n = MT_MAX_THREADS;
    __atomic_store_n(&pool.wanted, n, __ATOMIC_RELAXED); /* workers read it for idle work */
}

/* Publishes j, works on it, and waits until every share is finished and no
 * other thread can still look at it. The caller holds pool_submit; it is
 * released here. */
static void submit(job *j) {
    ensure_workers(j->nthreads);
    atomic_store(&j->next_share, 0);
    atomic_store(&j->finished, 0);
    atomic_store(&pool.current, j);
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);

    in_worker = true; /* nested calls from the caller's shares run serially */
    thread_index = 0;
    work(0);
    in_worker = false;

    /* shares claimed by workers may still be running */
    while (atomic_load_explicit(&j->finished, memory_order_acquire) < j->shares) cpu_relax();
    atomic_store(&pool.current, NULL);
    while (atomic_load(&pool.active) > 0) cpu_relax();
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
    job j = {.kind = 0, .range_fn = fn, .ctx = ctx, .n = n, .shares = threads,
             .nthreads = threads};
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
    job j = {.kind = 1, .task_fn = fn, .ctx = ctx, .n = ntasks, .shares = ntasks,
             .nthreads = threads};
    submit(&j);
}
