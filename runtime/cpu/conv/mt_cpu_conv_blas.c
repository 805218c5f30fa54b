/* mt_cpu_conv_blas.c - convolution and fully connected layers as im2col + OpenBLAS sgemm,
 * the portable fallback. Samples are split over the project's thread pool and OpenBLAS runs
 * single-threaded inside each worker (its own threads would fight the pool for the cores). */
#include "cpu/conv/mt_cpu_conv.h"

#include "core/mt_threads.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

void mt_im2col(const mt_conv_geom *g, const float *xn, float *col) {
    const int64_t p = g->oh * g->ow;
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *row = col + ((c * g->kh + ky) * g->kw + kx) * p;
                const float *plane = xn + c * g->h * g->w;
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->sh - g->ph + ky;
                    float *out = row + oy * g->ow;
                    if (iy < 0 || iy >= g->h) {
                        memset(out, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    const float *in = plane + iy * g->w;
                    if (g->sw == 1 && g->pw == 0) {
                        memcpy(out, in + kx, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    for (int64_t ox = 0; ox < g->ow; ox++) {
                        int64_t ix = ox * g->sw - g->pw + kx;
                        out[ox] = ix >= 0 && ix < g->w ? in[ix] : 0.0f;
                    }
                }
            }
}

void mt_col2im(const mt_conv_geom *g, const float *col, float *dxn) {
    const int64_t p = g->oh * g->ow;
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const float *row = col + ((c * g->kh + ky) * g->kw + kx) * p;
                float *plane = dxn + c * g->h * g->w;
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h) continue;
                    float *out = plane + iy * g->w;
                    const float *in = row + oy * g->ow;
                    for (int64_t ox = 0; ox < g->ow; ox++) {
                        int64_t ix = ox * g->sw - g->pw + kx;
                        if (ix >= 0 && ix < g->w) out[ix] += in[ox];
                    }
                }
            }
}

typedef struct conv_job {
    const mt_conv_geom *g;
    const float *x, *w, *b, *prelu, *dy;
    float *y, *dx;
    float *part; /* backward params: [threads][cout*k + cout] partial sums */
    int failed;  /* a scratch allocation failed in some thread */
} conv_job;

static int64_t col_rows(const mt_conv_geom *g) { return g->cin * g->kh * g->kw; }

static void fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    conv_job *j = (conv_job *)vctx;
    const mt_conv_geom *g = j->g;
    const int64_t k = col_rows(g), p = g->oh * g->ow;
    float *col = (float *)mt_cpu_scratch(1, sizeof(float) * (size_t)(k * p));
    if (!col) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t n = begin; n < end; n++) {
        const float *xn = j->x + n * g->cin * g->h * g->w;
        float *yn = j->y + n * g->cout * p;
        mt_im2col(g, xn, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)p, (int)k, 1.0f,
                    j->w, (int)k, col, (int)p, 0.0f, yn, (int)p);
        mt_cpu_bias_prelu_rows(yn, g->cout, p, g->cout, j->b, j->prelu);
    }
}

mt_status mt_conv_blas_forward(const mt_conv_geom *g, const float *x, const float *w,
                               const float *b, const float *prelu, float *y) {
    pthread_once(&blas_once, blas_single_thread);
    conv_job j = {.g = g, .x = x, .w = w, .b = b, .prelu = prelu, .y = y};
    mt_parallel_for(g->n, 1, fwd_range, &j);
    if (j.failed) return mt_fail(MT_ERR_OOM, "conv2d: out of memory for the im2col buffer");
    return MT_OK;
}

static void bwd_input_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    conv_job *j = (conv_job *)vctx;
    const mt_conv_geom *g = j->g;
    const int64_t k = col_rows(g), p = g->oh * g->ow;
    float *col = (float *)mt_cpu_scratch(1, sizeof(float) * (size_t)(k * p));
    if (!col) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t n = begin; n < end; n++) {
        const float *dyn = j->dy + n * g->cout * p;
        float *dxn = j->dx + n * g->cin * g->h * g->w;
        /* col = w^T dy_n, then scatter-add into dx_n */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)g->cout, 1.0f,
                    j->w, (int)k, dyn, (int)p, 0.0f, col, (int)p);
        memset(dxn, 0, sizeof(float) * (size_t)(g->cin * g->h * g->w));
        mt_col2im(g, col, dxn);
    }
}

mt_status mt_conv_blas_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                      float *dx) {
    pthread_once(&blas_once, blas_single_thread);
    conv_job j = {.g = g, .dy = dy, .w = w, .dx = dx};
    mt_parallel_for(g->n, 1, bwd_input_range, &j);
    if (j.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for the col buffer");
    return MT_OK;
}

static void bwd_params_range(void *vctx, int64_t begin, int64_t end, int thread) {
    conv_job *j = (conv_job *)vctx;
    const mt_conv_geom *g = j->g;
    const int64_t k = col_rows(g), p = g->oh * g->ow;
    float *col = (float *)mt_cpu_scratch(1, sizeof(float) * (size_t)(k * p));
    if (!col) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = j->part + (int64_t)thread * (g->cout * k + g->cout);
    float *db = dw + g->cout * k;
    for (int64_t n = begin; n < end; n++) {
        const float *xn = j->x + n * g->cin * g->h * g->w;
        const float *dyn = j->dy + n * g->cout * p;
        mt_im2col(g, xn, col);
        /* dw += dy_n col^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)k, (int)p, 1.0f,
                    dyn, (int)p, col, (int)p, 1.0f, dw, (int)k);
        for (int64_t co = 0; co < g->cout; co++) {
            float s = 0.0f;
            for (int64_t i = 0; i < p; i++) s += dyn[co * p + i];
            db[co] += s;
        }
    }
}

mt_status mt_conv_blas_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db) {
    pthread_once(&blas_once, blas_single_thread);
    const int64_t k = col_rows(g), per = g->cout * k + g->cout;
    int threads = mt_threads_count();
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * threads));
    if (!part) return MT_ERR_OOM;
    memset(part, 0, sizeof(float) * (size_t)(per * threads));
    conv_job j = {.g = g, .x = x, .dy = dy, .part = part};
    mt_parallel_for(g->n, 1, bwd_params_range, &j);
    if (j.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for the col buffer");
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

mt_status mt_linear_blas_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                 const float *w, const float *b, const float *prelu, float *y) {
    pthread_once(&blas_once, blas_single_thread);
    linear_job j = {.n = n, .in = in, .out = out, .x = x, .w = w, .b = b, .prelu = prelu, .y = y};
    mt_parallel_for(n, 16, lin_fwd_range, &j);
    return MT_OK;
}

static void lin_bwd_input_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    linear_job *j = (linear_job *)vctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(end - begin), (int)j->in,
                (int)j->out, 1.0f, j->dy + begin * j->out, (int)j->out, j->w, (int)j->in, 0.0f,
                j->dx + begin * j->in, (int)j->in);
}

mt_status mt_linear_blas_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                        const float *w, float *dx) {
    pthread_once(&blas_once, blas_single_thread);
    linear_job j = {.n = n, .in = in, .out = out, .dy = dy, .w = w, .dx = dx};
    mt_parallel_for(n, 16, lin_bwd_input_range, &j);
    return MT_OK;
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

mt_status mt_linear_blas_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                         const float *dy, float *dw, float *db) {
    pthread_once(&blas_once, blas_single_thread);
    linear_job j = {.n = n, .in = in, .out = out, .x = x, .dy = dy, .dw = dw, .db = db};
    mt_parallel_for(out, 4, lin_bwd_params_range, &j);
    return MT_OK;
}
