/* mt_cpu_pool.c - max pooling with Caffe's ceil-mode output size on the CPU. Windows that
 * run past the input are clipped. The backward pass recomputes each window's first maximum
 * (row-major scan order, the rule of Caffe and PyTorch) instead of storing indices, so it
 * needs no side buffer. The forward pass of interior windows only needs the maximum value
 * and takes unrolled paths for the 2x2 and 3x3 windows of MTCNN. */
#include "mt_cpu.h"

#include "../mt_threads.h"

#include <string.h>

typedef struct pool_ctx {
    const float *x, *dy;
    float *y, *dx;
    int64_t h, w, oh, ow;
    int kh, kw, sh, sw;
} pool_ctx;

/* Offset (within the plane) of the first maximum of output cell (oy, ox)'s clipped window.
 * (Branches here measure faster than select chains: GCC does not keep the latter
 * branch-free.) */
static inline int64_t window_argmax(const float *x, const pool_ctx *k, int64_t oy, int64_t ox,
                                    float *value) {
    int64_t y0 = oy * k->sh, x0 = ox * k->sw;
    int64_t y1 = y0 + k->kh < k->h ? y0 + k->kh : k->h;
    int64_t x1 = x0 + k->kw < k->w ? x0 + k->kw : k->w;
    int64_t best = y0 * k->w + x0;
    float m = x[best];
    for (int64_t yy = y0; yy < y1; yy++)
        for (int64_t xx = x0; xx < x1; xx++) {
            const float v = x[yy * k->w + xx];
            if (v > m) {
                m = v;
                best = yy * k->w + xx;
            }
        }
    *value = m;
    return best;
}

/* Output columns [0, full) of a row (and rows [0, full_rows)) have unclipped windows. */
static int64_t full_cols(const pool_ctx *k) {
    if (k->w < k->kw) return 0;
    int64_t f = (k->w - k->kw) / k->sw + 1;
    return f < k->ow ? f : k->ow;
}

static int64_t full_rows(const pool_ctx *k) {
    if (k->h < k->kh) return 0;
    int64_t f = (k->h - k->kh) / k->sh + 1;
    return f < k->oh ? f : k->oh;
}

static inline float max2(float a, float b) { return b > a ? b : a; }

/* Rows up to this width take the separable forward path (a row of maxima on the stack). */
#define POOL_ROW_MAX 2048

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void pool_fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    pool_ctx *k = (pool_ctx *)vctx;
    const int64_t fr = full_rows(k), fc = full_cols(k);
    for (int64_t p = begin; p < end; p++) {
        const float *x = k->x + p * k->h * k->w;
        float *y = k->y + p * k->oh * k->ow;
        for (int64_t oy = 0; oy < k->oh; oy++) {
            int64_t ox = 0;
            float *yr = y + oy * k->ow;
            const float *r0 = x + oy * k->sh * k->w, *r1 = r0 + k->w, *r2 = r1 + k->w;
            if (oy < fr && (k->kh == 2 || k->kh == 3) && (k->kw == 2 || k->kw == 3) &&
                k->w <= POOL_ROW_MAX) {
                /* the rows' maximum first (contiguous, vectorised), then across columns */
                float col[POOL_ROW_MAX];
                if (k->kh == 2)
                    for (int64_t c = 0; c < k->w; c++) col[c] = max2(r0[c], r1[c]);
                else
                    for (int64_t c = 0; c < k->w; c++) col[c] = max2(max2(r0[c], r1[c]), r2[c]);
                if (k->kw == 2)
                    for (; ox < fc; ox++) yr[ox] = max2(col[ox * k->sw], col[ox * k->sw + 1]);
                else
                    for (; ox < fc; ox++)
                        yr[ox] = max2(max2(col[ox * k->sw], col[ox * k->sw + 1]),
                                      col[ox * k->sw + 2]);
            }
            for (; ox < k->ow; ox++) window_argmax(x, k, oy, ox, &yr[ox]);
        }
    }
}

/* Offset of the first element of (oy, ox)'s clipped window equal to m, its maximum from the
 * forward pass: scanned last to first with selects, so that the first match wins. Unlike
 * the search for the maximum, no step waits for the one before (no compare chain, no
 * branch that mispredicts on every other window); the first element when none matches (a
 * NaN maximum: the scalar search keeps the first element too). */
static inline int64_t window_match(const float *x, const pool_ctx *k, int64_t oy, int64_t ox,
                                   float m) {
    const int64_t y0 = oy * k->sh, x0 = ox * k->sw;
    const int64_t y1 = y0 + k->kh < k->h ? y0 + k->kh : k->h;
    const int64_t x1 = x0 + k->kw < k->w ? x0 + k->kw : k->w;
    int64_t best = y0 * k->w + x0;
    for (int64_t yy = y1 - 1; yy >= y0; yy--)
        for (int64_t xx = x1 - 1; xx >= x0; xx--) {
            const int64_t at = yy * k->w + xx;
            best = x[at] == m ? at : best;
        }
    return best;
}

static void pool_bwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    pool_ctx *k = (pool_ctx *)vctx;
    for (int64_t p = begin; p < end; p++) {
        const float *x = k->x + p * k->h * k->w;
        const float *dy = k->dy + p * k->oh * k->ow;
        float *dx = k->dx + p * k->h * k->w;
        memset(dx, 0, sizeof(float) * (size_t)(k->h * k->w));
        if (k->y) {
            const float *y = k->y + p * k->oh * k->ow;
            for (int64_t oy = 0; oy < k->oh; oy++)
                for (int64_t ox = 0; ox < k->ow; ox++)
                    dx[window_match(x, k, oy, ox, y[oy * k->ow + ox])] += dy[oy * k->ow + ox];
            continue;
        }
        for (int64_t oy = 0; oy < k->oh; oy++)
            for (int64_t ox = 0; ox < k->ow; ox++) {
                float v;
                dx[window_argmax(x, k, oy, ox, &v)] += dy[oy * k->ow + ox];
            }
    }
}

static pool_ctx make_ctx(const mt_tensor *x, int64_t oh, int64_t ow, const mt_pool2d_desc *d) {
    pool_ctx k = {.x = mt_tensor_data(x), .h = x->shape[2], .w = x->shape[3], .oh = oh, .ow = ow,
                  .kh = d->kernel_h, .kw = d->kernel_w, .sh = d->stride_h, .sw = d->stride_w};
    return k;
}

mt_status mt_cpu_maxpool2d_forward(const mt_tensor *x, const mt_tensor *y,
                                   const mt_pool2d_desc *d) {
    pool_ctx k = make_ctx(x, y->shape[2], y->shape[3], d);
    k.y = mt_tensor_data(y);
    int64_t planes = x->shape[0] * x->shape[1];
    mt_parallel_for(planes, 8192 / (k.h * k.w + 1) + 1, pool_fwd_range, &k);
    return MT_OK;
}

void mt_cpu_maxpool_forward_raw(const float *x, int64_t planes, int64_t h, int64_t w,
                                const mt_pool2d_desc *pd, int64_t ph, int64_t pw, float *y) {
    pool_ctx k = {.x = x, .y = y, .h = h, .w = w, .oh = ph, .ow = pw, .kh = pd->kernel_h,
                  .kw = pd->kernel_w, .sh = pd->stride_h, .sw = pd->stride_w};
    pool_fwd_range(&k, 0, planes, 0);
}

mt_status mt_cpu_maxpool2d_backward(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                    const mt_tensor *dx, const mt_pool2d_desc *d) {
    pool_ctx k = make_ctx(x, dy->shape[2], dy->shape[3], d);
    k.y = y ? mt_tensor_data(y) : NULL; /* read only here */
    k.dy = mt_tensor_data(dy);
    k.dx = mt_tensor_data(dx);
    int64_t planes = x->shape[0] * x->shape[1];
    mt_parallel_for(planes, 8192 / (k.h * k.w + 1) + 1, pool_bwd_range, &k);
    return MT_OK;
}
