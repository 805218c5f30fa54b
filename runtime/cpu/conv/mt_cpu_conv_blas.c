/* mt_cpu_conv_blas.c - convolution and fully connected layers as im2col + OpenBLAS sgemm,
 * the portable fallback. Samples are split over the project's thread pool and OpenBLAS runs
 * single-threaded inside each worker (its own threads would fight the pool for the cores). */
#include "cpu/conv/mt_cpu_conv.h"

#include "core/mt_threads.h"
#include "cpu/engine/mt_cpu_engine.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* Moves sample n between its planes x [cin,h,w] and its im2col matrix col [cin*kh*kw, oh*ow]:
 * gathers x into col (zeros where a window leaves the input) or, with scatter, adds col back
 * into x (the adjoint, col2im, into an input gradient the caller zeroes). */
static inline __attribute__((always_inline)) void im2col_walk(const mt_conv_geom *g, float *x,
                                                              float *col, bool scatter) {
    const int64_t p = g->oh * g->ow;
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *row = col + ((c * g->kh + ky) * g->kw + kx) * p;
                float *plane = x + c * g->h * g->w;
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->sh - g->ph + ky;
                    float *r = row + oy * g->ow;
                    if (iy < 0 || iy >= g->h) {
                        if (!scatter) memset(r, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    float *in = plane + iy * g->w;
                    if (scatter) {
                        for (int64_t ox = 0; ox < g->ow; ox++) {
                            int64_t ix = ox * g->sw - g->pw + kx;
                            if (ix >= 0 && ix < g->w) in[ix] += r[ox];
                        }
                    } else if (g->sw == 1 && g->pw == 0) {
                        memcpy(r, in + kx, sizeof(float) * (size_t)g->ow);
                    } else {
                        for (int64_t ox = 0; ox < g->ow; ox++) {
                            int64_t ix = ox * g->sw - g->pw + kx;
                            r[ox] = ix >= 0 && ix < g->w ? in[ix] : 0.0f;
                        }
                    }
                }
            }
}

/* The three passes of a convolution, one sample at a time. */
typedef enum conv_pass { CONV_FORWARD, CONV_INPUT_GRAD, CONV_PARAM_GRADS } conv_pass;

typedef struct conv_job {
    conv_pass pass;
    const mt_conv_geom *g;
    const float *x, *w, *b, *prelu, *dy;
    float *y, *dx;
    float *part; /* parameter gradients: [threads][cout*k + cout] partial sums */
    int failed;  /* a scratch allocation failed in some thread */
} conv_job;

static int64_t col_rows(const mt_conv_geom *g) { return g->cin * g->kh * g->kw; }

/* One thread's samples [begin, end) of the job's pass: the forward (y_n = w im2col(x_n),
 * then bias and PReLU), the input gradient (dx_n = col2im(w^T dy_n)) or the parameter
 * gradients (dw += dy_n im2col(x_n)^T, db += the row sums of dy_n, into this thread's
 * partial sums). */
static void conv_range(void *vctx, int64_t begin, int64_t end, int thread) {
    conv_job *j = (conv_job *)vctx;
    const mt_conv_geom *g = j->g;
    const int64_t k = col_rows(g), p = g->oh * g->ow, xsize = g->cin * g->h * g->w;
    float *col = (float *)mt_cpu_scratch(1, sizeof(float) * (size_t)(k * p));
    if (!col) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = j->part ? j->part + (int64_t)thread * (g->cout * k + g->cout) : NULL;
    for (int64_t n = begin; n < end; n++) {
        switch (j->pass) {
        case CONV_FORWARD: {
            float *yn = j->y + n * g->cout * p;
            im2col_walk(g, (float *)(j->x + n * xsize), col, false);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)p, (int)k,
                        1.0f, j->w, (int)k, col, (int)p, 0.0f, yn, (int)p);
            mt_cpu_bias_prelu_rows(yn, g->cout, p, g->cout, j->b, j->prelu);
            break;
        }
        case CONV_INPUT_GRAD: {
            float *dxn = j->dx + n * xsize;
            /* col = w^T dy_n, then scatter-add into dx_n */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)g->cout,
                        1.0f, j->w, (int)k, j->dy + n * g->cout * p, (int)p, 0.0f, col, (int)p);
            memset(dxn, 0, sizeof(float) * (size_t)xsize);
            im2col_walk(g, dxn, col, true);
            break;
        }
        case CONV_PARAM_GRADS: {
            const float *dyn = j->dy + n * g->cout * p;
            float *db = dw + g->cout * k;
            im2col_walk(g, (float *)(j->x + n * xsize), col, false);
            /* dw += dy_n col^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)k, (int)p,
                        1.0f, dyn, (int)p, col, (int)p, 1.0f, dw, (int)k);
            for (int64_t co = 0; co < g->cout; co++) {
                float s = 0.0f;
                for (int64_t i = 0; i < p; i++) s += dyn[co * p + i];
                db[co] += s;
            }
            break;
        }
        }
    }
}

/* Runs the job over its samples on the pool; what: the message if a buffer was missing. */
static mt_status run_samples(conv_job *j, const char *what) {
    pthread_once(&blas_once, blas_single_thread);
    mt_parallel_for(j->g->n, 1, conv_range, j);
    if (j->failed) return mt_fail(MT_ERR_OOM, "%s", what);
    return MT_OK;
}

static mt_status conv_forward(const mt_conv_geom *g, const float *x, const float *w,
                              const float *b, const float *prelu, float *y) {
    conv_job j = {CONV_FORWARD, .g = g, .x = x, .w = w, .b = b, .prelu = prelu, .y = y};
    return run_samples(&j, "conv2d: out of memory for the im2col buffer");
}

static mt_status conv_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                     float *dx) {
    conv_job j = {CONV_INPUT_GRAD, .g = g, .dy = dy, .w = w, .dx = dx};
    return run_samples(&j, "conv2d_backward: out of memory for the col buffer");
}

static mt_status conv_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                      float *dw, float *db) {
    const int64_t k = col_rows(g), per = g->cout * k + g->cout;
    int threads = mt_threads_count();
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * threads));
    if (!part) return MT_ERR_OOM;
    memset(part, 0, sizeof(float) * (size_t)(per * threads));
    conv_job j = {CONV_PARAM_GRADS, .g = g, .x = x, .dy = dy, .part = part};
    MT_TRY(run_samples(&j, "conv2d_backward: out of memory for the col buffer"));
    /* fixed order over threads */
    for (int t = 0; t < threads; t++) {
        const float *pw = part + (int64_t)t * per;
        for (int64_t i = 0; i < g->cout * k; i++) dw[i] += pw[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++) db[i] += pw[g->cout * k + i];
    }
    return MT_OK;
}

/* ---- fully connected: rows of the batch (or of the weight, for dw) split over threads ---- */

typedef struct linear_job {
    int64_t n, in, out;
    const float *x, *w, *b, *prelu, *dy;
    float *y, *dx, *dw, *db;
} linear_job;

/* Runs fn over rows [0, rows) in ranges of at least grain rows on the pool. */
static mt_status run_rows(linear_job *j, int64_t rows, int64_t grain,
                          void (*fn)(void *, int64_t, int64_t, int)) {
    pthread_once(&blas_once, blas_single_thread);
    mt_parallel_for(rows, grain, fn, j);
    return MT_OK;
}

static void lin_fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    linear_job *j = (linear_job *)vctx;
    float *y = j->y + begin * j->out;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(end - begin), (int)j->out,
                (int)j->in, 1.0f, j->x + begin * j->in, (int)j->in, j->w, (int)j->in, 0.0f, y,
                (int)j->out);
    for (int64_t r = 0; r < end - begin; r++)
        mt_cpu_bias_prelu_rows(y + r * j->out, j->out, 1, j->out, j->b, j->prelu);
}

static mt_status linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                const float *w, const float *b, const float *prelu, float *y) {
    linear_job j = {.n = n, .in = in, .out = out, .x = x, .w = w, .b = b, .prelu = prelu, .y = y};
    return run_rows(&j, n, 16, lin_fwd_range);
}

static void lin_bwd_input_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    linear_job *j = (linear_job *)vctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(end - begin), (int)j->in,
                (int)j->out, 1.0f, j->dy + begin * j->out, (int)j->out, j->w, (int)j->in, 0.0f,
                j->dx + begin * j->in, (int)j->in);
}

static mt_status linear_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                       const float *w, float *dx) {
    linear_job j = {.n = n, .in = in, .out = out, .dy = dy, .w = w, .dx = dx};
    return run_rows(&j, n, 16, lin_bwd_input_range);
}

/* Weight rows [begin, end) of dw += dy^T x and their biases. */
static void lin_bwd_params_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    linear_job *j = (linear_job *)vctx;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(end - begin), (int)j->in,
                (int)j->n, 1.0f, j->dy + begin, (int)j->out, j->x, (int)j->in, 1.0f,
                j->dw + begin * j->in, (int)j->in);
    if (j->db)
        for (int64_t o = begin; o < end; o++) {
            float s = 0.0f;
            for (int64_t i = 0; i < j->n; i++) s += j->dy[i * j->out + o];
            j->db[o] += s;
        }
}

static mt_status linear_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                        const float *dy, float *dw, float *db) {
    linear_job j = {.n = n, .in = in, .out = out, .x = x, .dy = dy, .dw = dw, .db = db};
    return run_rows(&j, out, 4, lin_bwd_params_range);
}

const mt_engine *mt_conv_blas_set(void) {
    static const mt_engine set = MT_CONV_SET("blas");
    return &set;
}
