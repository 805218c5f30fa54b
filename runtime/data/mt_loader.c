/* mt_loader.c - batches from record files: permutations, augmentation, and the ring of batch
 * buffers filled by producer threads (see mt_loader.h). */
#include "data/mt_loader.h"

#include "core/mt_threads.h"
#include "detect/mt_box.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- permutations ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct perm {
    uint64_t n, mask;
    int half;
    uint64_t keys[4];
} perm;

static void perm_init(perm *p, uint64_t n, uint64_t key) {
    int bits = 2;
    while (bits < 64 && ((uint64_t)1 << bits) < n) bits++;
    if (bits & 1) bits++;
    p->n = n;
    p->half = bits / 2;
    p->mask = ((uint64_t)1 << p->half) - 1;
    for (int r = 0; r < 4; r++) p->keys[r] = mix64(key + 0x9e3779b97f4a7c15ull * (uint64_t)(r + 1));
}

/* A bijection of [0, n): a balanced Feistel network on 2 * half bits, walked
 * along its cycle until the value falls back into range. */
static uint64_t perm_apply(const perm *p, uint64_t q) {
    do {
        uint64_t L = q >> p->half, R = q & p->mask;
        for (int r = 0; r < 4; r++) {
            uint64_t t = L ^ (mix64(R ^ p->keys[r]) & p->mask);
            L = R;
            R = t;
        }
        q = (L << p->half) | R;
    } while (q >= p->n);
    return q;
}

/* ---- the loader -------------------------------------------------------------------------- */

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HANDED };

typedef struct slot {
    mt_loader_batch batch;
    int state;
    mt_status status;
    char error[512];
} slot;

typedef struct stream {
    mt_record_file **files;
    int nfiles;
    int64_t *start; /* nfiles + 1 prefix sums of the files' counts */
    int64_t total;
    int per_batch;
    int64_t pass_batches; /* floor(total / per_batch) */
} stream;

struct mt_loader {
    mt_loader_config cfg;
    stream streams[MT_LOADER_MAX_STREAMS];
    int nstreams;
    int64_t rows, epoch_batches;
    int nslots;
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t can_fill, filled;
    int sync_ready; /* the mutex and conditions were initialised */
    int64_t next_fill, next_take;
    int stop;
    int nthreads;
    pthread_t *threads;
    int64_t taken, waited; /* batches handed out; those the caller had to wait for */
    double wait_seconds;   /* time the caller spent waiting */
    /* workers = 0: the batch after the one handed out is made ahead, in pieces of
     * piece_rows rows, by the kernel pool's workers while they wait between jobs (idle work,
     * mt_threads.h); mt_loader_next makes the pieces nobody took */
    mt_idle_work idle;
    int idle_attached;
    slot *ahead;                  /* the slot being made ahead, NULL if none */
    int64_t ahead_batch;
    int64_t piece_rows, pieces;
    atomic_llong piece_next;      /* the next piece to claim (>= pieces: none left) */
    atomic_llong pieces_done;     /* (the first failing piece writes the slot's error under mu) */
};

mt_loader_config mt_loader_config_default(void) {
    mt_loader_config c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.shuffle = 1;
    c.workers = 1;
    c.mirror_p = 0.5;
    c.jitter = mt_jitter_default();
    c.norm = MT_NORM_MTCNN;
    return c;
}

/* The file and the index within it of position q of a stream. */
static void locate(const stream *s, int64_t q, int *file, int64_t *index) {
    int lo = 0, hi = s->nfiles - 1;
    while (lo < hi) { /* last file whose start <= q */
        int mid = (lo + hi + 1) / 2;
        if (s->start[mid] <= q) lo = mid;
        else hi = mid - 1;
    }
    *file = lo;
    *index = q - s->start[lo];
}

#define PREFETCH_ROWS 8

/* Asks for every cache line of record idx of f ahead of its use. (GCC deletes a loop of
 * nothing but __builtin_prefetch as a loop without effects: on x86-64 the instruction is
 * written out.) */
static inline void prefetch_record(const mt_record_file *f, int64_t idx) {
    if (idx >= f->count) return; /* (mt_record_check reports it when the row is read) */
    const uint8_t *rec = mt_record_ptr(f, idx);
    for (size_t o = 0; o < f->record_bytes; o += 64) {
#if defined(__x86_64__) && defined(__GNUC__)
        __asm__ volatile("prefetcht0 %0" : : "m"(rec[o]));
#else
        __builtin_prefetch(rec + o, 0, 3);
#endif
    }
}

/* Random numbers each row draws: the mirror, and the colour map with the jitter on. */
static uint64_t draws_per_row(const mt_loader_config *cfg) { return cfg->jitter_on ? 5 : 1; }

/* Fills rows [r0, r1) of the slot's buffer with those of batch number b (the batch's other
 * fields are set by the caller). Runs on a loader worker, on a kernel pool worker (a piece
 * of a batch made ahead) or on the caller; reads only the configuration and the files, and
 * gives every row the same values whichever rows are filled together. */
static mt_status fill_rows(const mt_loader *ld, slot *sl, int64_t b, int64_t r0, int64_t r1) {
    const mt_loader_config *cfg = &ld->cfg;
    mt_loader_batch *bt = &sl->batch;
    int S = cfg->size;
    int64_t plane3 = 3 * (int64_t)S * S;
    float *img = mt_tensor_data(bt->images), *lab = mt_tensor_data(bt->labels);
    float *box = mt_tensor_data(bt->boxes), *lmk = mt_tensor_data(bt->landmarks);
    mt_rng rng;
    mt_rng_seed(&rng, mix64(cfg->seed ^ 0x4d54434e4e4c4452ull), (uint64_t)b);
    /* the rows draw one sequence in order: skip the draws of the rows before r0 */
    mt_rng_advance(&rng, (uint64_t)r0 * draws_per_row(cfg));
    int64_t first = 0; /* the first row of the stream */
    for (int si = 0; si < ld->nstreams; first += ld->streams[si].per_batch, si++) {
        const stream *s = &ld->streams[si];
        int64_t j0 = r0 > first ? r0 - first : 0, j1 = r1 - first;
        if (j1 > s->per_batch) j1 = s->per_batch;
        if (j0 >= j1) continue;
        int64_t pass = b / s->pass_batches, k = b % s->pass_batches;
        perm p = {0, 0, 0, {0, 0, 0, 0}};
        if (cfg->shuffle) {
            uint64_t key = mix64(cfg->seed) ^ mix64(((uint64_t)si + 1) * 0x632be59bd9b4e019ull) ^
                           mix64((uint64_t)pass * 0x85ebca6b27d4eb4full + 7);
            perm_init(&p, (uint64_t)s->total, key);
        }
        for (int64_t j = j0; j < j1; j++) {
            int64_t row = first + j;
            if (j + PREFETCH_ROWS < s->per_batch) {
                /* shuffled rows are scattered over the files and the gather waits on memory:
                 * the record of a row a few ahead is requested now */
                int64_t q = k * s->per_batch + j + PREFETCH_ROWS;
                if (cfg->shuffle) q = (int64_t)perm_apply(&p, (uint64_t)q);
                int pf;
                int64_t pi;
                locate(s, q, &pf, &pi);
                prefetch_record(s->files[pf], pi);
            }
            int64_t q = k * s->per_batch + j;
            if (cfg->shuffle) q = (int64_t)perm_apply(&p, (uint64_t)q);
            int fi;
            int64_t idx;
            locate(s, q, &fi, &idx);
            mt_record_file *f = s->files[fi];
            MT_TRY(mt_record_check(f, idx));
            const uint8_t *rec = mt_record_ptr(f, idx);
            /* every row takes the same numbers from rng, whatever its label */
            int flip_draw = mt_rng_unit(&rng) < cfg->mirror_p;
            mt_colour_map map;
            if (cfg->jitter_on) mt_jitter_draw(&cfg->jitter, rec, (int64_t)S * S, &rng, &map);
            mt_record_sample smp;
            mt_record_decode(rec, S, &smp);
            int flip = flip_draw && (smp.label == 1 || smp.label == -2 ||
                                     (cfg->mirror_part && smp.label == -1));
            mt_sample_to_planes(smp.pixels, S, flip, cfg->jitter_on ? &map : NULL, cfg->norm,
                                img + row * plane3);
            lab[row] = (float)smp.label;
            double t[4], l[10];
            for (int c = 0; c < 4; c++) t[c] = smp.target[c];
            for (int c = 0; c < 10; c++) l[c] = smp.landmark[c];
            if (flip && smp.label != -2) mt_targets_mirror(t);
            if (flip && smp.label == -2) mt_landmarks_mirror(l);
            for (int c = 0; c < 4; c++) box[row * 4 + c] = (float)t[c];
            for (int c = 0; c < 10; c++) lmk[row * 10 + c] = (float)l[c];
            bt->stream[row] = si;
            bt->file[row] = fi;
            bt->index[row] = idx;
            bt->mirrored[row] = (uint8_t)flip;
        }
    }
    return MT_OK;
}

static void begin_batch(const mt_loader *ld, slot *sl, int64_t b) {
    sl->batch.number = b;
    sl->batch.epoch = b / ld->epoch_batches;
    sl->status = MT_OK;
    sl->error[0] = '\0';
}

/* Fills the slot with batch number b. */
static void fill_slot(const mt_loader *ld, slot *sl, int64_t b) {
    begin_batch(ld, sl, b);
    sl->status = fill_rows(ld, sl, b, 0, ld->rows);
    if (sl->status != MT_OK) snprintf(sl->error, sizeof sl->error, "%s", mt_last_error());
}

/* ---- batches made ahead in the kernel pool's idle time (workers = 0) --------------------- */

/* Claims and makes one piece of the batch made ahead; nonzero while more may be left. Runs
 * on a kernel pool worker (mt_threads_idle_*) or, for the pieces nobody took, on the caller
 * of mt_loader_next. The counters are reset only after every piece of the batch before is
 * done, so a claim below `pieces` always belongs to the current batch made ahead. */
static int ahead_piece(void *arg) {
    mt_loader *ld = (mt_loader *)arg;
    if (atomic_load_explicit(&ld->piece_next, memory_order_relaxed) >= ld->pieces) return 0;
    int64_t c = atomic_fetch_add_explicit(&ld->piece_next, 1, memory_order_acquire);
    if (c >= ld->pieces) return 0;
    slot *sl = ld->ahead;
    int64_t r0 = c * ld->piece_rows, r1 = r0 + ld->piece_rows;
    if (r1 > ld->rows) r1 = ld->rows;
    mt_status st = fill_rows(ld, sl, ld->ahead_batch, r0, r1);
    if (st != MT_OK) {
        pthread_mutex_lock(&ld->mu);
        if (sl->status == MT_OK) {
            sl->status = st;
            snprintf(sl->error, sizeof sl->error, "%s", mt_last_error());
        }
        pthread_mutex_unlock(&ld->mu);
    }
    atomic_fetch_add_explicit(&ld->pieces_done, 1, memory_order_release);
    return c + 1 < ld->pieces;
}

/* Starts making batch b ahead in sl (a free slot). */
static void ahead_start(mt_loader *ld, slot *sl, int64_t b) {
    begin_batch(ld, sl, b);
    sl->state = SLOT_FILLING;
    ld->ahead = sl;
    ld->ahead_batch = b;
    atomic_store(&ld->pieces_done, 0);
    atomic_store_explicit(&ld->piece_next, 0, memory_order_release); /* publishes the above */
    mt_threads_idle_wake();
}

/* Makes the pieces of the batch made ahead that nobody took and waits for those taken. */
static void ahead_finish(mt_loader *ld) {
    while (ahead_piece(ld)) {
    }
    /* a piece runs for microseconds, unless its worker lost its core to another process */
    for (int spins = 0; atomic_load_explicit(&ld->pieces_done, memory_order_acquire) < ld->pieces;)
        if (++spins % 1024 == 0) sched_yield();
    ld->ahead->state = SLOT_READY;
    ld->ahead = NULL;
}

static void *worker_main(void *arg) {
    mt_loader *ld = (mt_loader *)arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        slot *sl = NULL;
        while (!ld->stop) {
            sl = &ld->slots[ld->next_fill % ld->nslots];
            if (sl->state == SLOT_FREE) break;
            pthread_cond_wait(&ld->can_fill, &ld->mu);
        }
        if (ld->stop) break;
        int64_t b = ld->next_fill++;
        sl->state = SLOT_FILLING;
        pthread_mutex_unlock(&ld->mu);
        fill_slot(ld, sl, b);
        pthread_mutex_lock(&ld->mu);
        sl->state = SLOT_READY;
        pthread_cond_broadcast(&ld->filled);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void free_batch(mt_loader_batch *bt) {
    mt_tensor_release(bt->images);
    mt_tensor_release(bt->labels);
    mt_tensor_release(bt->boxes);
    mt_tensor_release(bt->landmarks);
    free(bt->stream);
    free(bt->file);
    free(bt->index);
    free(bt->mirrored);
    memset(bt, 0, sizeof *bt);
}

static mt_status new_tensors(mt_loader_batch *bt, int64_t rows, int size) {
    int64_t si[4] = {rows, 3, size, size}, sl[1] = {rows}, sb[2] = {rows, 4}, sm[2] = {rows, 10};
    if (!bt->images) MT_TRY(mt_tensor_new(&bt->images, MT_CPU, 4, si));
    if (!bt->labels) MT_TRY(mt_tensor_new(&bt->labels, MT_CPU, 1, sl));
    if (!bt->boxes) MT_TRY(mt_tensor_new(&bt->boxes, MT_CPU, 2, sb));
    if (!bt->landmarks) MT_TRY(mt_tensor_new(&bt->landmarks, MT_CPU, 2, sm));
    return MT_OK;
}

static mt_status alloc_batch(mt_loader_batch *bt, int64_t rows, int size) {
    memset(bt, 0, sizeof *bt);
    bt->rows = rows;
    bt->stream = (int32_t *)calloc((size_t)rows, sizeof(int32_t));
    bt->file = (int32_t *)calloc((size_t)rows, sizeof(int32_t));
    bt->index = (int64_t *)calloc((size_t)rows, sizeof(int64_t));
    bt->mirrored = (uint8_t *)calloc((size_t)rows, 1);
    if (!bt->stream || !bt->file || !bt->index || !bt->mirrored)
        return mt_fail(MT_ERR_OOM, "loader: out of memory for a batch of %" PRId64 " rows", rows);
    return new_tensors(bt, rows, size);
}

mt_status mt_loader_batch_renew(mt_loader_batch *b) {
    mt_tensor **ts[4] = {&b->images, &b->labels, &b->boxes, &b->landmarks};
    for (int i = 0; i < 4; i++) {
        mt_tensor *t = *ts[i];
        if (__atomic_load_n(&t->refcount, __ATOMIC_ACQUIRE) > 1 ||
            __atomic_load_n(&t->buf->refcount, __ATOMIC_ACQUIRE) > 1) {
            mt_tensor *fresh;
            MT_TRY(mt_tensor_new(&fresh, MT_CPU, t->ndim, t->shape));
            mt_tensor_release(t);
            *ts[i] = fresh;
        }
    }
    return MT_OK;
}

static mt_status check_config(const mt_loader_config *cfg) {
    if (cfg->size < 1 || cfg->size > MT_RECORD_MAX_SIZE)
        return mt_fail(MT_ERR_ARG, "loader: sample side %d out of range", cfg->size);
    if (cfg->nstreams < 1 || cfg->nstreams > MT_LOADER_MAX_STREAMS)
        return mt_fail(MT_ERR_ARG, "loader: %d streams (1..%d)", cfg->nstreams, MT_LOADER_MAX_STREAMS);
    if (cfg->workers < 0 || cfg->workers > MT_LOADER_MAX_WORKERS)
        return mt_fail(MT_ERR_ARG, "loader: %d workers (0..%d)", cfg->workers, MT_LOADER_MAX_WORKERS);
    if (cfg->slots < 0 || cfg->slots > MT_LOADER_MAX_SLOTS)
        return mt_fail(MT_ERR_ARG, "loader: %d batch buffers (1..%d)", cfg->slots, MT_LOADER_MAX_SLOTS);
    if (cfg->start_batch < 0 || cfg->epoch_batches < 0)
        return mt_fail(MT_ERR_ARG, "loader: negative start batch or epoch length");
    if (!(cfg->mirror_p >= 0 && cfg->mirror_p <= 1))
        return mt_fail(MT_ERR_ARG, "loader: mirror probability %g outside [0, 1]", cfg->mirror_p);
    const mt_jitter *j = &cfg->jitter;
    if (cfg->jitter_on && !(j->brightness >= 0 && j->brightness <= 1 && j->contrast >= 0 &&
                            j->contrast <= 1 && j->saturation >= 0 && j->saturation <= 1 &&
                            j->hue >= 0 && j->hue <= 0.5))
        return mt_fail(MT_ERR_ARG, "loader: jitter ranges must lie in [0, 1] (hue [0, 0.5])");
    for (int i = 0; i < cfg->nstreams; i++) {
        const mt_loader_stream *s = &cfg->streams[i];
        if (s->nfiles < 1 || !s->files)
            return mt_fail(MT_ERR_ARG, "loader: stream %d has no files", i + 1);
        if (s->per_batch < 1)
            return mt_fail(MT_ERR_ARG, "loader: stream %d gives %d rows per batch", i + 1, s->per_batch);
        int64_t total = 0;
        for (int k = 0; k < s->nfiles; k++) {
            const mt_record_file *f = s->files[k];
            if (f->size != cfg->size)
                return mt_fail(MT_ERR_FORMAT, "loader: %s holds %dx%d samples, the net takes %dx%d",
                               f->path, f->size, f->size, cfg->size, cfg->size);
            total += f->count;
        }
        if (total < s->per_batch)
            return mt_fail(MT_ERR_ARG, "loader: stream %d (%s%s) has %" PRId64 " samples, fewer than "
                           "the %d each batch takes from it", i + 1, s->files[0]->path,
                           s->nfiles > 1 ? ", ..." : "", total, s->per_batch);
    }
    return MT_OK;
}

mt_status mt_loader_new(mt_loader **out, const mt_loader_config *cfg) {
    *out = NULL;
    MT_TRY(check_config(cfg));
    mt_loader *ld = (mt_loader *)calloc(1, sizeof *ld);
    if (!ld) return mt_fail(MT_ERR_OOM, "loader: out of memory");
    ld->cfg = *cfg;
    ld->nstreams = cfg->nstreams;
    int64_t total = 0;
    mt_status st = MT_OK;
    for (int i = 0; i < cfg->nstreams && st == MT_OK; i++) {
        const mt_loader_stream *src = &cfg->streams[i];
        stream *s = &ld->streams[i];
        s->files = (mt_record_file **)calloc((size_t)src->nfiles, sizeof *s->files);
        s->start = (int64_t *)calloc((size_t)src->nfiles + 1, sizeof *s->start);
        if (!s->files || !s->start) {
            st = mt_fail(MT_ERR_OOM, "loader: out of memory");
            break;
        }
        s->nfiles = src->nfiles;
        for (int k = 0; k < src->nfiles; k++) {
            s->files[k] = src->files[k];
            mt_record_file_retain(s->files[k]);
            s->start[k + 1] = s->start[k] + s->files[k]->count;
        }
        s->total = s->start[s->nfiles];
        s->per_batch = src->per_batch;
        s->pass_batches = s->total / s->per_batch;
        ld->rows += s->per_batch;
        total += s->total;
    }
    if (st == MT_OK) {
        ld->epoch_batches = cfg->epoch_batches > 0   ? cfg->epoch_batches
                            : cfg->nstreams == 1     ? ld->streams[0].pass_batches
                                                     : total / ld->rows;
        if (ld->epoch_batches < 1) ld->epoch_batches = 1;
        ld->nslots = cfg->slots > 0 ? cfg->slots : cfg->workers + 2;
        ld->slots = (slot *)calloc((size_t)ld->nslots, sizeof(slot));
        if (!ld->slots) st = mt_fail(MT_ERR_OOM, "loader: out of memory");
    }
    for (int i = 0; st == MT_OK && i < ld->nslots; i++)
        st = alloc_batch(&ld->slots[i].batch, ld->rows, cfg->size);
    ld->next_fill = ld->next_take = cfg->start_batch;
    if (st == MT_OK) {
        if (pthread_mutex_init(&ld->mu, NULL) != 0 || pthread_cond_init(&ld->can_fill, NULL) != 0 ||
            pthread_cond_init(&ld->filled, NULL) != 0)
            st = mt_fail(MT_ERR_IO, "loader: cannot create its locks");
        else
            ld->sync_ready = 1;
    }
    if (st == MT_OK && cfg->workers == 0) {
        /* pieces of about 16 KB of records: short enough not to hold up a job that arrives */
        size_t bytes = ld->streams[0].files[0]->record_bytes;
        ld->piece_rows = bytes < 16384 ? (int64_t)(16384 / bytes) : 1;
        ld->pieces = (ld->rows + ld->piece_rows - 1) / ld->piece_rows;
        atomic_init(&ld->piece_next, ld->pieces);
        atomic_init(&ld->pieces_done, ld->pieces);
        ld->idle.run = ahead_piece;
        ld->idle.ctx = ld;
        /* another loader may hold the pool's idle work: this one then makes its batches in
         * mt_loader_next */
        ld->idle_attached = mt_threads_idle_attach(&ld->idle);
    }
    if (st == MT_OK && cfg->workers > 0) {
        ld->threads = (pthread_t *)calloc((size_t)cfg->workers, sizeof(pthread_t));
        if (!ld->threads) st = mt_fail(MT_ERR_OOM, "loader: out of memory");
        /* workers take no signals: Ctrl-C belongs to the main thread */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (int i = 0; st == MT_OK && i < cfg->workers; i++) {
            if (pthread_create(&ld->threads[i], NULL, worker_main, ld) != 0)
                st = mt_fail(MT_ERR_IO, "loader: cannot start worker thread %d", i + 1);
            else
                ld->nthreads++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (st != MT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_loader_free(ld);
        return mt_fail(st, "%s", msg);
    }
    *out = ld;
    return MT_OK;
}

mt_status mt_loader_next(mt_loader *ld, mt_loader_batch **out) {
    *out = NULL;
    int64_t b = ld->next_take;
    slot *sl = &ld->slots[b % ld->nslots];
    if (ld->nthreads == 0) {
        double t0 = now_seconds();
        if (ld->ahead && ld->ahead_batch == b) {
            /* made ahead: the pieces still unclaimed or running are waited for */
            if (atomic_load(&ld->pieces_done) < ld->pieces) ld->waited++;
            ahead_finish(ld);
        } else {
            if (sl->state != SLOT_FREE)
                return mt_fail(MT_ERR_ARG, "loader: the buffer of batch %" PRId64 " is still held; "
                               "release the batch taken before it", b);
            ld->waited++; /* made while the caller waits */
            fill_slot(ld, sl, b);
        }
        ld->wait_seconds += now_seconds() - t0;
        ld->next_take++;
        ld->taken++;
        /* a damaged batch is skipped (its buffer is free again) */
        sl->state = sl->status == MT_OK ? SLOT_HANDED : SLOT_FREE;
        slot *next = &ld->slots[ld->next_take % ld->nslots];
        if (ld->idle_attached && next != sl && next->state == SLOT_FREE)
            ahead_start(ld, next, ld->next_take);
        if (sl->status != MT_OK) return mt_fail(sl->status, "%s", sl->error);
        *out = &sl->batch;
        return MT_OK;
    }
    pthread_mutex_lock(&ld->mu);
    double t0 = 0;
    while (!(sl->state == SLOT_READY && sl->batch.number == b)) {
        if (sl->state == SLOT_HANDED) {
            pthread_mutex_unlock(&ld->mu);
            return mt_fail(MT_ERR_ARG, "loader: the buffer of batch %" PRId64 " is still held; "
                           "release the batch taken before it", b);
        }
        if (t0 == 0) t0 = now_seconds();
        pthread_cond_wait(&ld->filled, &ld->mu);
    }
    if (t0 != 0) {
        ld->waited++;
        ld->wait_seconds += now_seconds() - t0;
    }
    ld->taken++;
    ld->next_take++;
    if (sl->status != MT_OK) {
        mt_status st = sl->status;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", sl->error);
        sl->state = SLOT_FREE;
        pthread_cond_broadcast(&ld->can_fill);
        pthread_mutex_unlock(&ld->mu);
        return mt_fail(st, "%s", msg);
    }
    sl->state = SLOT_HANDED;
    pthread_mutex_unlock(&ld->mu);
    *out = &sl->batch;
    return MT_OK;
}

void mt_loader_release(mt_loader *ld, mt_loader_batch *b) {
    slot *sl = (slot *)((char *)b - offsetof(slot, batch));
    if (ld->nthreads == 0) {
        sl->state = SLOT_FREE;
        return;
    }
    pthread_mutex_lock(&ld->mu);
    sl->state = SLOT_FREE;
    pthread_cond_broadcast(&ld->can_fill);
    pthread_mutex_unlock(&ld->mu);
}

void mt_loader_free(mt_loader *ld) {
    if (!ld) return;
    if (ld->idle_attached) mt_threads_idle_detach(&ld->idle); /* no piece runs after this */
    if (ld->nthreads > 0) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->can_fill);
        pthread_cond_broadcast(&ld->filled);
        pthread_mutex_unlock(&ld->mu);
        for (int i = 0; i < ld->nthreads; i++) pthread_join(ld->threads[i], NULL);
    }
    free(ld->threads);
    if (ld->sync_ready) {
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->can_fill);
        pthread_cond_destroy(&ld->filled);
    }
    if (ld->slots)
        for (int i = 0; i < ld->nslots; i++) free_batch(&ld->slots[i].batch);
    free(ld->slots);
    for (int i = 0; i < ld->nstreams; i++) {
        stream *s = &ld->streams[i];
        if (s->files)
            for (int k = 0; k < s->nfiles; k++) mt_record_file_release(s->files[k]);
        free(s->files);
        free(s->start);
    }
    free(ld);
}

int64_t mt_loader_epoch_batches(const mt_loader *ld) { return ld->epoch_batches; }

void mt_loader_wait_stats(const mt_loader *ld, int64_t *taken, int64_t *waited, double *seconds) {
    *taken = ld->taken;
    *waited = ld->waited;
    *seconds = ld->wait_seconds;
}
int64_t mt_loader_batch_rows(const mt_loader *ld) { return ld->rows; }
int64_t mt_loader_stream_samples(const mt_loader *ld, int s) {
    return s >= 0 && s < ld->nstreams ? ld->streams[s].total : 0;
}
