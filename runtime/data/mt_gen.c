/* mt_gen.c - decoding and sampling a chunk of images on the worker pool (see mt_gen.h). */
#include "data/mt_gen.h"

#include "core/mt_threads.h"
#include "data/mt_record.h"
#include "image/mt_image_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Encoded files larger than this are refused (as mt_image_load does). */
#define MAX_FILE_BYTES ((size_t)1 << 30)

/* A growing buffer for one thread's file bytes: reused from image to image, so that reading
 * a file costs no fresh pages (page faults cost more than the read in a VM). */
typedef struct file_buf {
    uint8_t *p;
    size_t cap;
    mt_image *im; /* the decoded image, its buffer reused likewise */
} file_buf;

/* The buffers live from call to call (a run makes hundreds of calls); one call at a time
 * uses them. */
static file_buf pool[MT_MAX_THREADS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct gen_ctx {
    mt_gen_result *out;
    const mt_gen_image *images;
    mt_gen_kind kind;
    const mt_sample_params *p;
    uint64_t seed;
    file_buf *bufs;
    /* the first sampling failure (not an image's fault): it fails the call */
    int failed;
    mt_status fail_st;
    char fail_msg[512];
} gen_ctx;

static char *copy_message(const char *s) {
    size_t n = strlen(s);
    char *d = (char *)malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Appends set b to set a (the strip and every column); face indices of b become `face`. */
static mt_status join_sets(mt_sample_set *a, const mt_sample_set *b, int32_t face) {
    int64_t n = a->count + b->count, S = a->size;
    if (b->count == 0) return MT_OK;
    if (n * S > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "gen: %lld samples of side %d do not fit in one strip",
                       (long long)n, (int)S);
    mt_image *strip;
    MT_TRY(mt_image_new_uninit(&strip, (int)S, (int)(n * S)));
    size_t per = mt_image_bytes((int)S, (int)S);
    memcpy(strip->data, a->images->data, (size_t)a->count * per);
    memcpy(strip->data + (size_t)a->count * per, b->images->data, (size_t)b->count * per);
#define GROW(field, k)                                                                             \
    do {                                                                                           \
        void *v = realloc(a->field, (size_t)(n * (k) + 1) * sizeof *a->field);                     \
        if (!v) {                                                                                  \
            mt_image_free(strip);                                                                  \
            return mt_fail(MT_ERR_OOM, "gen: out of memory");                                      \
        }                                                                                          \
        a->field = v;                                                                              \
        memcpy(a->field + a->count * (k), b->field, (size_t)(b->count * (k)) * sizeof *a->field);  \
    } while (0)
    GROW(label, 1);
    GROW(box, 4);
    GROW(target, 4);
    GROW(landmark, 10);
    GROW(iou, 1);
    GROW(face, 1);
    GROW(aug, 1);
#undef GROW
    for (int64_t i = a->count; i < n; i++) a->face[i] = face;
    mt_image_free(a->images);
    a->images = strip;
    a->count = n;
    return MT_OK;
}

/* The landmark samples of every face of one image, in face order. */
static mt_status sample_landmarks(mt_sample_set **out, const mt_image *im, const mt_gen_image *g,
                                  const mt_sample_params *p, mt_rng *rng) {
    *out = NULL;
    for (int64_t f = 0; f < g->nfaces; f++) {
        mt_sample_set *s;
        MT_TRY(mt_sample_landmarks(&s, im, g->boxes + 4 * f, g->points + 10 * f, p, rng));
        if (!*out) {
            *out = s;
            continue;
        }
        mt_status st = join_sets(*out, s, (int32_t)f);
        mt_sample_set_free(s);
        if (st != MT_OK) {
            mt_sample_set_free(*out);
            *out = NULL;
            return st;
        }
    }
    if (!*out) { /* no face: an empty set of the right side */
        mt_sample_params q = *p;
        q.neg_count = 0;
        return mt_sample_detection(out, im, NULL, NULL, 0, &q, rng);
    }
    return MT_OK;
}

static void skip(mt_gen_result *r, int status, const char *msg) {
    r->status = status;
    r->message = copy_message(msg);
}

/* Reads the file at path into b. Returns 0, or the errno of a failed open (a missing file),
 * or -1 with *msg set for other failures (not a regular file, too large, read errors). */
static int read_file(const char *path, file_buf *b, size_t *n, char *msg, size_t msg_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno ? errno : ENOENT;
    struct stat sb;
    int rc = -1;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(msg, msg_size, "%s: not a regular file", path);
    } else if ((uint64_t)sb.st_size > MAX_FILE_BYTES) {
        snprintf(msg, msg_size, "%s: the file is too large (%.1f MiB)", path,
                 (double)sb.st_size / 1048576.0);
    } else {
        size_t size = (size_t)sb.st_size, got = 0;
        if (size + 1 > b->cap) {
            size_t cap = size + 1 > 2 * b->cap ? size + 1 : 2 * b->cap;
            uint8_t *p = (uint8_t *)realloc(b->p, cap);
            if (p) b->p = p, b->cap = cap;
        }
        if (size + 1 > b->cap) {
            snprintf(msg, msg_size, "%s: out of memory reading %zu bytes", path, size);
        } else {
            while (got < size) {
                ssize_t r = read(fd, b->p + got, size - got);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) break;
                got += (size_t)r;
            }
            if (got == size) rc = 0, *n = size;
            else snprintf(msg, msg_size, "%s: read error", path);
        }
    }
    close(fd);
    return rc;
}

static void gen_task(void *vctx, int64_t i, int thread) {
    gen_ctx *c = (gen_ctx *)vctx;
    const mt_gen_image *g = c->images + i;
    mt_gen_result *r = c->out + i;
    if (__atomic_load_n(&c->failed, __ATOMIC_RELAXED)) return;
    if (mt_interrupted()) {
        if (!__atomic_exchange_n(&c->failed, 1, __ATOMIC_ACQ_REL)) {
            c->fail_st = MT_ERR_INTERRUPTED;
            snprintf(c->fail_msg, sizeof c->fail_msg, "gen: interrupted");
        }
        return;
    }
    const mt_image *im = g->image;
    if (!im) {
        char msg[600];
        size_t n = 0;
        file_buf *b = c->bufs + thread;
        int rc = read_file(g->path, b, &n, msg, sizeof msg);
        if (rc != 0) {
            if (rc > 0) snprintf(msg, sizeof msg, "%s: %s", g->path, strerror(rc));
            skip(r, rc > 0 ? MT_GEN_MISSING : MT_GEN_BAD, msg);
            return;
        }
        if (mt_image_decode_reuse(&b->im, b->p, n, g->path, NULL) != MT_OK) {
            skip(r, MT_GEN_BAD, mt_last_error());
            return;
        }
        im = b->im;
    }
    r->width = im->width;
    r->height = im->height;
    mt_rng rng;
    mt_rng_seed(&rng, c->seed, (uint64_t)g->index);
    mt_status st;
    if (c->kind == MT_GEN_DETECTION)
        st = mt_sample_detection(&r->samples, im, g->boxes, NULL, g->nfaces, c->p, &rng);
    else if (c->kind == MT_GEN_HARD)
        st = mt_sample_windows(&r->samples, im, g->boxes, g->nfaces, g->windows, g->nwindows,
                               c->p, &r->windows);
    else if (c->kind == MT_GEN_LANDMARK_WINDOWS)
        st = mt_sample_landmark_windows(&r->samples, im, g->boxes, g->points, g->nfaces,
                                        g->windows, g->nwindows, c->p, &r->windows);
    else
        st = sample_landmarks(&r->samples, im, g, c->p, &rng);
    if (st != MT_OK && !__atomic_exchange_n(&c->failed, 1, __ATOMIC_ACQ_REL)) {
        c->fail_st = st;
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s: %s", g->path, mt_last_error());
    }
}

mt_status mt_gen_run(mt_gen_result *out, const mt_gen_image *images, int64_t n, mt_gen_kind kind,
                     const mt_sample_params *p, uint64_t seed) {
    if (n < 0) return mt_fail(MT_ERR_ARG, "gen: negative image count");
    memset(out, 0, (size_t)n * sizeof *out);
    if (kind != MT_GEN_DETECTION && kind != MT_GEN_LANDMARKS && kind != MT_GEN_HARD &&
        kind != MT_GEN_LANDMARK_WINDOWS)
        return mt_fail(MT_ERR_ARG, "gen: unknown kind %d", (int)kind);
    for (int64_t i = 0; i < n; i++) {
        const mt_gen_image *g = images + i;
        if (!g->path || g->nfaces < 0 || (g->nfaces > 0 && !g->boxes) ||
            ((kind == MT_GEN_LANDMARKS || kind == MT_GEN_LANDMARK_WINDOWS) && g->nfaces > 0 &&
             !g->points) || g->index < 0 ||
            ((kind == MT_GEN_HARD || kind == MT_GEN_LANDMARK_WINDOWS) &&
             (g->nwindows < 0 || (g->nwindows > 0 && !g->windows))))
            return mt_fail(MT_ERR_ARG, "gen: image %lld lacks its path, faces, windows or index",
                           (long long)i);
    }
    gen_ctx *c = (gen_ctx *)calloc(1, sizeof *c);
    if (!c) return mt_fail(MT_ERR_OOM, "gen: out of memory");
    c->out = out, c->images = images, c->kind = kind, c->p = p, c->seed = seed;
    pthread_mutex_lock(&pool_lock);
    c->bufs = pool;
    mt_parallel_tasks(n, gen_task, c);
    pthread_mutex_unlock(&pool_lock);
    int failed = c->failed;
    mt_status fail_st = c->fail_st;
    char fail_msg[512];
    memcpy(fail_msg, c->fail_msg, sizeof fail_msg);
    free(c);
    if (failed) {
        mt_gen_results_clear(out, n);
        return mt_fail(fail_st, "%s", fail_msg);
    }
    for (int64_t i = 0; i < n; i++)
        if (out[i].status != MT_GEN_OK && !out[i].message) {
            mt_gen_results_clear(out, n);
            return mt_fail(MT_ERR_OOM, "gen: out of memory");
        }
    return MT_OK;
}

struct mt_gen_job {
    pthread_t thread;
    mt_gen_result *out;
    const mt_gen_image *images;
    int64_t n;
    mt_gen_kind kind;
    mt_sample_params p;
    uint64_t seed;
    mt_status st;
    char msg[1024]; /* the thread's error message, handed to the waiter's thread */
};

static void *job_main(void *arg) {
    mt_gen_job *j = (mt_gen_job *)arg;
    j->st = mt_gen_run(j->out, j->images, j->n, j->kind, &j->p, j->seed);
    if (j->st != MT_OK) snprintf(j->msg, sizeof j->msg, "%s", mt_last_error());
    return NULL;
}

mt_status mt_gen_start(mt_gen_job **job, mt_gen_result *out, const mt_gen_image *images,
                       int64_t n, mt_gen_kind kind, const mt_sample_params *p, uint64_t seed) {
    *job = NULL;
    mt_gen_job *j = (mt_gen_job *)calloc(1, sizeof *j);
    if (!j) return mt_fail(MT_ERR_OOM, "gen: out of memory");
    j->out = out, j->images = images, j->n = n, j->kind = kind, j->p = *p, j->seed = seed;
    int rc = pthread_create(&j->thread, NULL, job_main, j);
    if (rc != 0) {
        free(j);
        return mt_fail(MT_ERR_OOM, "gen: cannot start a thread: %s", strerror(rc));
    }
    *job = j;
    return MT_OK;
}

mt_status mt_gen_wait(mt_gen_job *job) {
    pthread_join(job->thread, NULL);
    mt_status st = job->st;
    if (st != MT_OK) mt_fail(st, "%s", job->msg);
    free(job);
    return st;
}

mt_status mt_gen_write(mt_gen_result *results, const char *const *names, int64_t n, uint64_t seed,
                       double val_fraction, mt_record_writer *train, mt_record_writer *val,
                       int8_t *side) {
    for (int64_t i = 0; i < n; i++) {
        mt_gen_result *r = results + i;
        side[i] = -1;
        if (r->status != MT_GEN_OK || !r->samples) continue;
        int held_out = mt_gen_split_key(names[i], seed) < val_fraction;
        mt_record_writer *w = held_out ? val : train;
        const mt_sample_set *set = r->samples;
        size_t tile = mt_image_bytes(set->size, set->size);
        if (set->count > 0 && mt_record_writer_size(w) != set->size)
            return mt_fail(MT_ERR_ARG, "%s: the samples are %dx%d, the file holds %dx%d",
                           mt_record_writer_path(w), set->size, set->size,
                           mt_record_writer_size(w), mt_record_writer_size(w));
        mt_record_sample s;
        memset(&s, 0, sizeof s);
        mt_record_set_source(&s, names[i]);
        for (int64_t j = 0; j < set->count; j++) {
            s.pixels = set->images->data + (size_t)j * tile;
            s.label = set->label[j];
            s.aug = set->aug[j];
            memcpy(s.target, set->target + 4 * j, sizeof s.target);
            memcpy(s.landmark, set->landmark + 10 * j, sizeof s.landmark);
            memcpy(s.box, set->box + 4 * j, sizeof s.box);
            s.iou = set->iou[j];
            s.face = set->face[j];
            MT_TRY(mt_record_append(w, &s));
        }
        side[i] = (int8_t)held_out;
        mt_sample_set_free(r->samples);
        r->samples = NULL;
    }
    return MT_OK;
}

void mt_gen_results_clear(mt_gen_result *results, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        mt_sample_set_free(results[i].samples);
        free(results[i].message);
        memset(results + i, 0, sizeof results[i]);
    }
}

/* splitmix64's finaliser: every input bit reaches every output bit */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double mt_gen_split_key(const char *name, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the name's bytes */
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        h ^= *s;
        h *= 0x100000001b3ULL;
    }
    h = mix64(h ^ mix64(seed + 0x9e3779b97f4a7c15ULL));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}
