/*
 * mt_cpu_engine_blocking.h - how the engine cuts its work: a product's rows into micro-tile
 * blocks, and work items into ranges that the threads take dynamically (per-range partial
 * sums are reduced in range order, so results do not depend on the threads).
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* ---- row blocking ------------------------------------------------------------------------- */

/* M rows split into blocks of at most ENGINE_MR_MAX rows, as even as possible (10 rows ->
 * one block of 10, 32 -> 11 + 11 + 10), so that no tile wastes rows on padding. Block b
 * starts at row b*base + min(b, extra) and has base + (b < extra) rows. */
typedef struct mblocks {
    int64_t n, base, extra;
} mblocks;

static mt_status plan_rows(mblocks *mb, int64_t m) {
    mb->n = (m + ENGINE_MR_MAX - 1) / ENGINE_MR_MAX;
    mb->base = mb->n ? m / mb->n : 0;
    mb->extra = mb->n ? m % mb->n : 0;
    return MT_OK;
}

static inline int64_t block_start(const mblocks *mb, int64_t b) {
    return b * mb->base + (b < mb->extra ? b : mb->extra);
}

static inline int block_rows(const mblocks *mb, int64_t b) {
    return (int)(mb->base + (b < mb->extra ? 1 : 0));
}

/* ---- work distribution ------------------------------------------------------------------- */

/* Splits [0, n) into contiguous ranges of at least `grain` items, at most 4 per thread, and
 * hands them out dynamically (mt_parallel_tasks): a thread whose core is busy with another
 * process takes fewer ranges instead of holding the others up (the machines are shared).
 * fn gets the range's index as its last argument, so per-range partial sums reduced in
 * range order do not depend on which thread ran which range. */
typedef struct ranges_job {
    mt_range_fn fn;
    void *ctx;
    int64_t n, count;
} ranges_job;

static void ranges_task(void *vctx, int64_t task, int thread) {
    (void)thread;
    const ranges_job *r = (const ranges_job *)vctx;
    const int64_t b = r->n * task / r->count, e = r->n * (task + 1) / r->count;
    if (e > b) r->fn(r->ctx, b, e, (int)task);
}

/* The number of ranges run_ranges will use for n items of the given grain. */
static int64_t range_count(int64_t n, int64_t grain) {
    int64_t c = (n + grain - 1) / grain, most = 4 * (int64_t)mt_threads_count();
    if (c > most) c = most;
    if (c > n) c = n;
    return c < 1 ? 1 : c;
}

static void run_ranges(int64_t n, int64_t grain, mt_range_fn fn, void *ctx) {
    if (n <= 0) return;
    ranges_job r = {.fn = fn, .ctx = ctx, .n = n, .count = range_count(n, grain)};
    if (r.count == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    mt_parallel_tasks(r.count, ranges_task, &r);
}

/* Grain (in work units of `flops` each) that gives a task at least ~100k FLOPs. */
static int64_t grain_for(double flops) {
    int64_t gr = (int64_t)(1e5 / (flops > 1 ? flops : 1));
    return gr < 1 ? 1 : gr;
}
