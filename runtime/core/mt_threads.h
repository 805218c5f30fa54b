/*
 * mt_threads.h - the process-wide worker pool used by every multi-threaded
 * kernel (convolutions, image ops, loaders' decoding helpers).
 *
 * Workers are created once and wait (spinning briefly, then sleeping) for
 * work, so a parallel region costs microseconds, not a thread creation.
 * The number of threads comes from MTCNN_THREADS at start-up (default: the
 * online CPUs) and can be changed with mt_threads_set. A parallel call made
 * from inside a worker runs serially on that worker (no nesting, no
 * deadlock). Only one thread of the program should submit work at a time;
 * calls from other threads run serially on the caller.
 */
#ifndef MT_THREADS_H
#define MT_THREADS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Threads a parallel call uses (the caller counts as one). */
int mt_threads_count(void);

/* Sets the thread count (clamped to 1..MT_MAX_THREADS). */
#define MT_MAX_THREADS 64
void mt_threads_set(int n);

/* fn(ctx, begin, end, thread) over [0, n) split into k contiguous ranges, k =
 * min(threads, ceil(n / grain)); range r is [r*n/k, (r+1)*n/k) and is passed r
 * as its `thread` number (0 <= r < k), whichever thread happens to run it:
 * the split, and any per-range partial result, depend only on n and the
 * thread count. Ranges are claimed by idle threads, so a worker whose core
 * is busy elsewhere does not hold the caller up. */
typedef void (*mt_range_fn)(void *ctx, int64_t begin, int64_t end, int thread);
void mt_parallel_for(int64_t n, int64_t grain, mt_range_fn fn, void *ctx);

/* fn(ctx, task, thread) for task in [0, ntasks), handed out dynamically to
 * the threads (for tasks of unequal cost, e.g. pyramid levels); `thread` is
 * the running thread's number, below min(threads, ntasks), so two tasks
 * running at once never share it. */
typedef void (*mt_task_fn)(void *ctx, int64_t task, int thread);
void mt_parallel_tasks(int64_t ntasks, mt_task_fn fn, void *ctx);

/* Index of the calling thread within a parallel call (0 outside). */
int mt_thread_index(void);

/* Idle work: what the workers do while they wait between jobs. A training step is a chain of
 * short parallel jobs with serial work between them (the loss, the optimiser, the Lua glue),
 * where the workers would only spin; a loader gives them the next batch to make in pieces
 * instead. run(ctx) makes one short piece (a few microseconds: a job that arrives meanwhile is
 * not held up longer) and returns nonzero while more pieces may be waiting. It runs on a
 * worker, concurrently with the submitting thread and with other workers, and must not submit
 * parallel work. One client at a time. */
typedef struct mt_idle_work {
    int (*run)(void *ctx);
    void *ctx;
} mt_idle_work;

/* Makes w the pool's idle work; 0 when another client holds the place (nothing changes). w
 * must stay valid until mt_threads_idle_detach(w). */
int mt_threads_idle_attach(const mt_idle_work *w);

/* Removes w (if attached) and waits until no worker is still running one of its pieces. */
void mt_threads_idle_detach(const mt_idle_work *w);

/* New pieces are waiting: wakes the workers that went to sleep. */
void mt_threads_idle_wake(void);

#ifdef __cplusplus
}
#endif

#endif
