/* mt_cpu_pool.c - max pooling with Caffe's ceil-mode output size on the CPU. Windows that
 * run past the input are clipped. The backward pass recomputes each window's first maximum
 * (row-major scan order, the rule of Caffe and PyTorch) instead of storing indices, so it
 * needs no side buffer. The forward pass of interior windows only needs the maximum value
 * and takes unrolled paths for the 2x2 and 3x3 windows of MTCNN.
 *
 * Training's PReLU + max pooling pair also runs here as one pass each way (a convolution's
 * output in, the pooled map out; the pooled gradient in, the convolution's output gradient
 * out): each plane's PReLU values and pooling gradient live in a per-thread buffer of one
 * plane (in L1), never in a full-size activation. The arithmetic is that of the separate
 * passes, so the results are the same numbers (the slope gradient's partial sums are grouped
 * by range: equal to float rounding). */
#include "cpu/mt_cpu.h"
#include "cpu/mt_cpu_prelu.h"

#include "core/mt_threads.h"

#include <math.h>
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

/* Max pooling of one plane x (h x w) into y (oh x ow). Inlined into each target clone of
 * its callers. */
static inline __attribute__((always_inline)) void pool_plane_fwd(const pool_ctx *k,
                                                                 const float *x, float *y) {
    const int64_t fr = full_rows(k), fc = full_cols(k);
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

MT_TARGET_CLONES
static void pool_fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    pool_ctx *k = (pool_ctx *)vctx;
    for (int64_t p = begin; p < end; p++)
        pool_plane_fwd(k, k->x + p * k->h * k->w, k->y + p * k->oh * k->ow);
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

/* ---- PReLU + max pooling (training) --------------------------------------------------------- */

/* Outputs computed per vector step of the window scan (GCC vector extensions: one ymm on
 * AVX2 and AVX-512, two xmm on the baseline). */
#define SCAN_LANES 8
typedef float scan_vf __attribute__((vector_size(4 * SCAN_LANES)));
typedef int32_t scan_vi __attribute__((vector_size(4 * SCAN_LANES)));

/* *v = p[0], p[2], ..., p[14]: one tap of 8 consecutive stride-2 windows. */
static inline __attribute__((always_inline)) void load_even(const float *p, scan_vf *v) {
    scan_vf lo, hi;
    memcpy(&lo, p, sizeof lo);
    memcpy(&hi, p + SCAN_LANES, sizeof hi);
#if defined(__clang__) /* (the fuzzing build) */
    *v = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
#else
    const scan_vi even = {0, 2, 4, 6, 8, 10, 12, 14};
    *v = __builtin_shuffle(lo, hi, even);
#endif
}

/* Row r of the flat plane (w values, readable up to a multiple of SCAN_LANES past it) into
 * the padded row out, -inf past w. */
static inline __attribute__((always_inline)) void pad_row(const float *r, int64_t w, float *out) {
    const scan_vi lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const scan_vf ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                          -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int64_t c = 0; c < w; c += SCAN_LANES) {
        scan_vf v;
        memcpy(&v, r + c, sizeof v);
        const scan_vi in = lane < (scan_vi){0} + (int32_t)(w - c);
        v = (scan_vf)(((scan_vi)v & in) | ((scan_vi)ninf & ~in));
        memcpy(out + c, &v, sizeof v);
    }
}

/* SCAN_LANES consecutive outputs of stride-2 windows of kh x kw (constants once inlined)
 * over a buffer of row stride wp whose windows are all whole (clipped parts hold -inf,
 * which never wins a strict comparison): maxima into *y, plane offsets (base + 2 o + tap
 * offset in rows of w) into *at. A tap replaces the maximum only when strictly greater, so
 * the first maximum in scan order wins (window_argmax's rule). */
static inline __attribute__((always_inline)) void argmax_s2(const float *r, int64_t wp, int kh,
                                                            int kw, int32_t w, int32_t base,
                                                            scan_vf *y, scan_vf *at) {
    scan_vf m;
    load_even(r, &m);
    scan_vi t = {0, 2, 4, 6, 8, 10, 12, 14};
    t += base;
    for (int dy = 0; dy < kh; dy++)
        for (int dx = 0; dx < kw; dx++) {
            if (!dy && !dx) continue;
            scan_vf v;
            load_even(r + dy * wp + dx, &v);
            const scan_vi gt = v > m;
            const scan_vi tv = (scan_vi){0, 2, 4, 6, 8, 10, 12, 14} + (base + dy * w + dx);
            t = (tv & gt) | (t & ~gt);
            m = (scan_vf)(((scan_vi)v & gt) | ((scan_vi)m & ~gt));
        }
    *y = m;
    *at = __builtin_convertvector(t, scan_vf);
}

/* The padded plane layout of the stride-2 scan: rows of wp = 2 * (ow rounded up to
 * SCAN_LANES) + 2 * SCAN_LANES values (room for the last vector load, which reads past its
 * last window, and for whole vectors of w <= 2 ow + 1 values), hp = 2 (oh - 1) + kh rows. */
static int scan_s2_ok(const pool_ctx *k) {
    return k->sh == 2 && k->sw == 2 && ((k->kh == 3 && k->kw == 3) || (k->kh == 2 && k->kw == 2));
}

static int64_t scan_wp(const pool_ctx *k) {
    return 2 * ((k->ow + SCAN_LANES - 1) / SCAN_LANES * SCAN_LANES) + 2 * SCAN_LANES;
}

static int64_t scan_hp(const pool_ctx *k) { return 2 * (k->oh - 1) + k->kh; }

/* Max pooling with each window's first maximum of a plane held padded (scan_wp, scan_hp):
 * values into y, offsets in the unpadded plane (integers, exact in a float below 2^24)
 * into at. */
static inline __attribute__((always_inline)) void pool_plane_argmax_s2(const pool_ctx *k,
                                                                       const float *buf,
                                                                       int64_t wp, float *y,
                                                                       float *at) {
    const int32_t w = (int32_t)k->w;
    for (int64_t oy = 0; oy < k->oh; oy++) {
        const float *r = buf + 2 * oy * wp;
        const int32_t base = (int32_t)(2 * oy * k->w);
        for (int64_t ox = 0; ox < k->ow; ox += SCAN_LANES) {
            scan_vf vy, va;
            if (k->kh == 3)
                argmax_s2(r + 2 * ox, wp, 3, 3, w, base + 2 * (int32_t)ox, &vy, &va);
            else
                argmax_s2(r + 2 * ox, wp, 2, 2, w, base + 2 * (int32_t)ox, &vy, &va);
            float *yo = y + oy * k->ow + ox, *ao = at + oy * k->ow + ox;
            if (k->ow - ox >= SCAN_LANES) {
                memcpy(yo, &vy, sizeof vy);
                memcpy(ao, &va, sizeof va);
            } else {
                for (int64_t i = 0; i < k->ow - ox; i++) {
                    yo[i] = vy[i];
                    ao[i] = va[i];
                }
            }
        }
    }
}

/* Any other geometry: each window searched in place. */
static void pool_plane_argmax_any(const pool_ctx *k, const float *x, float *y, float *at) {
    for (int64_t oy = 0; oy < k->oh; oy++)
        for (int64_t ox = 0; ox < k->ow; ox++)
            at[oy * k->ow + ox] = (float)window_argmax(x, k, oy, ox, &y[oy * k->ow + ox]);
}

typedef struct prelu_pool_ctx {
    pool_ctx pk;     /* the geometry; pk.x: PReLU inputs, pk.y: pooled maps */
    const float *a;  /* slopes [c] */
    float *at;       /* [planes][oh * ow]: plane offsets of the maxima */
    int64_t c;       /* channels */
    float *planes;   /* [threads][plane_size]: one plane's PReLU values, or its gradient */
    int64_t plane_size;
    double *da_part; /* [ranges][c] partial slope gradients (NULL: not wanted) */
    int64_t n, ranges; /* items (planes or samples) split into ranges, handed out dynamically */
    unsigned char bad[MT_MAX_THREADS]; /* per thread: a position outside its plane was met */
} prelu_pool_ctx;

/* Ranges per thread: handed out as threads come free, so that a core busy with another
 * process holds the pass up less (the engine's rule). */
#define PRELU_POOL_RANGES_PER_THREAD 4

static int64_t prelu_pool_ranges(int64_t n, int64_t grain) {
    int64_t c = (n + grain - 1) / grain, most = PRELU_POOL_RANGES_PER_THREAD * mt_threads_count();
    if (c > most) c = most;
    if (c > n) c = n;
    return c < 1 ? 1 : c;
}

/* Planes [begin, end): PReLU into the thread's plane buffer (padded with -inf for the
 * stride-2 scan), then pooled from there. */
MT_TARGET_CLONES
static void prelu_pool_fwd_range(prelu_pool_ctx *k, int64_t begin, int64_t end, int thread) {
    const pool_ctx *pk = &k->pk;
    const int64_t hw = pk->h * pk->w, ohw = pk->oh * pk->ow;
    float *act = k->planes + (int64_t)thread * k->plane_size;
    if (scan_s2_ok(pk)) {
        /* the PReLU over the whole plane (long vector loops; a short row's scalar tail
         * branches on the sign), then its rows copied into the padded layout */
        const int64_t wp = scan_wp(pk), hp = scan_hp(pk), rows = pk->h < hp ? pk->h : hp;
        float *flat = act + wp * hp; /* hw values and SCAN_LANES of slack */
        for (int64_t i = 0; i < wp * hp; i++) act[i] = -INFINITY; /* rows write over */
        memset(flat + hw, 0, sizeof(float) * SCAN_LANES);
        for (int64_t p = begin; p < end; p++) {
            mt_prelu_row(pk->x + p * hw, k->a[p % k->c], flat, hw);
            for (int64_t r = 0; r < rows; r++) pad_row(flat + r * pk->w, pk->w, act + r * wp);
            pool_plane_argmax_s2(pk, act, wp, pk->y + p * ohw, k->at + p * ohw);
        }
        return;
    }
    for (int64_t p = begin; p < end; p++) {
        mt_prelu_row(pk->x + p * hw, k->a[p % k->c], act, hw);
        pool_plane_argmax_any(pk, act, pk->y + p * ohw, k->at + p * ohw);
    }
}

/* Samples [begin, end) of range `range`: per plane, the pooled gradient routed to the maxima
 * found by the forward pass (in the separate pass's order), then the PReLU gradient and the
 * range's slope sums from it. */
MT_TARGET_CLONES
static void prelu_pool_bwd_range(prelu_pool_ctx *k, int64_t begin, int64_t end, int range,
                                 int thread) {
    const pool_ctx *pk = &k->pk;
    const int64_t hw = pk->h * pk->w, ohw = pk->oh * pk->ow;
    float *g = k->planes + (int64_t)thread * k->plane_size;
    double *part = k->da_part ? k->da_part + (int64_t)range * mt_prelu_part_stride(k->c) : NULL;
    for (int64_t s = begin; s < end; s++)
        for (int64_t c = 0; c < k->c; c++) {
            const int64_t p = s * k->c + c;
            const float *x = pk->x + p * hw, *at = k->at + p * ohw, *dy = pk->dy + p * ohw;
            memset(g, 0, sizeof(float) * (size_t)hw);
            for (int64_t o = 0; o < ohw; o++) {
                const float f = at[o];
                if (!(f >= 0.0f && f < (float)hw)) { /* not from the forward pass */
                    k->bad[thread] = 1;
                    continue;
                }
                g[(int64_t)f] += dy[o];
            }
            if (part) part[c] += mt_prelu_negative_dot(x, g, hw);
            if (pk->dx) mt_prelu_grad_row(x, k->a[c], g, pk->dx + p * hw, hw);
        }
}

/* Task t of the split: items [n t / ranges, n (t + 1) / ranges); `thread` picks the plane
 * buffer (threads running at once never share it), t the slope partials. */
static void prelu_pool_fwd_task(void *vctx, int64_t t, int thread) {
    prelu_pool_ctx *k = (prelu_pool_ctx *)vctx;
    const int64_t b = k->n * t / k->ranges, e = k->n * (t + 1) / k->ranges;
    if (e > b) prelu_pool_fwd_range(k, b, e, thread);
}

static void prelu_pool_bwd_task(void *vctx, int64_t t, int thread) {
    prelu_pool_ctx *k = (prelu_pool_ctx *)vctx;
    const int64_t b = k->n * t / k->ranges, e = k->n * (t + 1) / k->ranges;
    if (e > b) prelu_pool_bwd_range(k, b, e, (int)t, thread);
}

mt_status mt_cpu_prelu_pool_forward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y,
                                    const mt_tensor *at, const mt_pool2d_desc *d) {
    prelu_pool_ctx k = {.pk = make_ctx(x, y->shape[2], y->shape[3], d), .a = mt_tensor_data(a),
                        .at = mt_tensor_data(at), .c = x->shape[1]};
    k.pk.y = mt_tensor_data(y);
    const int64_t hw = k.pk.h * k.pk.w, planes = x->shape[0] * x->shape[1];
    /* one plane buffer per thread number (a serial run passes the caller's) */
    k.plane_size = scan_s2_ok(&k.pk) ? scan_wp(&k.pk) * scan_hp(&k.pk) + hw + SCAN_LANES : hw;
    k.plane_size = (k.plane_size + 15) / 16 * 16; /* whole cache lines: no false sharing */
    k.planes = (float *)mt_cpu_scratch(
        1, sizeof(float) * (size_t)(k.plane_size * mt_threads_count()));
    if (!k.planes) return MT_ERR_OOM;
    k.n = planes;
    k.ranges = prelu_pool_ranges(planes, 8192 / (hw + 1) + 1);
    mt_parallel_tasks(k.ranges, prelu_pool_fwd_task, &k);
    return MT_OK;
}

mt_status mt_cpu_prelu_pool_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                     const mt_tensor *dy, const mt_tensor *dx, const mt_tensor *da,
                                     const mt_pool2d_desc *d) {
    prelu_pool_ctx k = {.pk = make_ctx(x, dy->shape[2], dy->shape[3], d), .a = mt_tensor_data(a),
                        .at = mt_tensor_data(at), .c = x->shape[1]};
    k.pk.dy = mt_tensor_data(dy);
    k.pk.dx = dx ? mt_tensor_data(dx) : NULL;
    const int64_t hw = k.pk.h * k.pk.w, n = x->shape[0];
    const int threads = mt_threads_count();
    k.n = n;
    k.ranges = prelu_pool_ranges(n, MT_PRELU_GRAIN_ELEMS / (k.c * hw + 1) + 1);
    k.plane_size = (hw + 15) / 16 * 16; /* whole cache lines: no false sharing */
    k.planes = (float *)mt_cpu_scratch(1, sizeof(float) * (size_t)(k.plane_size * threads));
    if (!k.planes) return MT_ERR_OOM;
    if (da) {
        /* one row per range, reduced in range order: the result depends only on the thread
         * count */
        const int64_t stride = mt_prelu_part_stride(k.c);
        k.da_part = (double *)mt_cpu_scratch(0, sizeof(double) * (size_t)(k.ranges * stride));
        if (!k.da_part) return MT_ERR_OOM;
        memset(k.da_part, 0, sizeof(double) * (size_t)(k.ranges * stride));
    }
    mt_parallel_tasks(k.ranges, prelu_pool_bwd_task, &k);
    for (int t = 0; t < threads; t++)
        if (k.bad[t])
            return mt_fail(MT_ERR_ARG, "prelu_pool_backward: the maxima positions hold a value "
                                       "outside the %lldx%lld input plane (they must come from "
                                       "prelu_pool_forward on this input)",
                           (long long)k.pk.h, (long long)k.pk.w);
    if (da) {
        float *gd = mt_tensor_data(da);
        for (int64_t c = 0; c < k.c; c++) {
            double s = 0.0;
            for (int64_t r = 0; r < k.ranges; r++)
                s += k.da_part[r * mt_prelu_part_stride(k.c) + c];
            gd[c] += (float)s;
        }
    }
    return MT_OK;
}
