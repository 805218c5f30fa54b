/*
 * mt_resize.c - bilinear and area resizing with OpenCV's weights, for whole
 * images, zero-padded crops, uint8 outputs and float tensors.
 *
 * One resize = two weight tables (one per axis: for every output index a
 * list of (source index, weight) taps) and a row loop: for every output row
 * the source rows of its vertical taps are summed into an accumulator row
 * (only the columns the horizontal taps read), then the horizontal taps turn
 * that row into the output row, which is normalised and stored. Rows and
 * columns outside the image contribute nothing, which is the same as reading
 * black pixels from a zero-padded copy.
 */
/* Sums are evaluated as written (no fused multiply-add), whatever the target
 * of a function: the results are then the same on every x86-64 machine. */
#pragma GCC optimize("fp-contract=off")

#include "image/mt_resize.h"

#include "core/mt_alloc.h"
#include "core/mt_threads.h"
#include "image/mt_warp.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- weight tables ------------------------------------------------------------------------- */

typedef struct axis_tab {
    int *start; /* n_out + 1 offsets into idx and w */
    int *idx;   /* per tap: the source index (the horizontal table is then remapped to slots) */
    float *w;   /* per tap: the weight */
} axis_tab;

enum { TAB_AREA, TAB_LINEAR, TAB_LINEAR_AREA };

/* enough taps for any table of these sizes (area: at most n_in + 2 n_out) */
static size_t taps_capacity(int n_in, int n_out) { return 2 * ((size_t)n_in + (size_t)n_out) + 8; }

/* OpenCV's computeResizeAreaTab: output d covers source [d*scale, (d+1)*scale);
 * whole source pixels weigh 1/cell, the partial ones at both ends their
 * covered fraction, and fractions up to 1e-3 are dropped. */
static void area_axis(axis_tab *t, int n_in, int n_out, double scale) {
    int k = 0;
    for (int d = 0; d < n_out; d++) {
        t->start[d] = k;
        double f1 = d * scale, f2 = f1 + scale;
        double cell = fmin(scale, n_in - f1);
        int s1 = (int)ceil(f1), s2 = (int)floor(f2);
        if (s2 > n_in - 1) s2 = n_in - 1;
        if (s1 > s2) s1 = s2;
        if (s1 - f1 > 1e-3) {
            t->idx[k] = s1 - 1;
            t->w[k++] = (float)((s1 - f1) / cell);
        }
        for (int s = s1; s < s2; s++) {
            t->idx[k] = s;
            t->w[k++] = (float)(1.0 / cell);
        }
        if (f2 - s2 > 1e-3) {
            t->idx[k] = s2;
            t->w[k++] = (float)(fmin(fmin(f2 - s2, 1.0), cell) / cell);
        }
    }
    t->start[n_out] = k;
}

/* OpenCV's linear coefficients. INTER_LINEAR: source coordinate
 * (d + 0.5) * scale - 0.5; INTER_AREA when enlarging (area_mode): left
 * neighbour floor(d * scale), weight from the overlap of the pixel areas.
 * Horizontally OpenCV clamps (before 0: weight on pixel 0; at or past the
 * last pixel: the last pixel alone); vertically it clips the two row indices
 * and keeps both weights. Both are reproduced. */
static void linear_axis(axis_tab *t, int n_in, int n_out, double scale, double inv_scale,
                        int area_mode, int horizontal) {
    int k = 0;
    for (int d = 0; d < n_out; d++) {
        t->start[d] = k;
        float f;
        int s;
        if (!area_mode) {
            f = (float)((d + 0.5) * scale - 0.5);
            s = (int)floorf(f);
            f -= (float)s;
        } else {
            s = (int)floor(d * scale);
            f = (float)((d + 1) - (s + 1) * inv_scale);
            f = f <= 0 ? 0.0f : f - floorf(f);
        }
        if (horizontal) {
            if (s < 0) f = 0.0f, s = 0;
            if (s >= n_in - 1) {
                t->idx[k] = n_in - 1;
                t->w[k++] = 1.0f;
                continue;
            }
            t->idx[k] = s;
            t->w[k++] = 1.0f - f;
            t->idx[k] = s + 1;
            t->w[k++] = f;
        } else {
            int s0 = s < 0 ? 0 : (s > n_in - 1 ? n_in - 1 : s);
            int s1 = s + 1 < 0 ? 0 : (s + 1 > n_in - 1 ? n_in - 1 : s + 1);
            t->idx[k] = s0;
            t->w[k++] = 1.0f - f;
            t->idx[k] = s1;
            t->w[k++] = f;
        }
    }
    t->start[n_out] = k;
}

/* Which tables cv::resize would use for this size change. */
static int table_kind(int sw, int sh, int dw, int dh, mt_interp interp) {
    double scale_x = 1.0 / ((double)dw / sw), scale_y = 1.0 / ((double)dh / sh);
    double ix = (double)lrint(scale_x), iy = (double)lrint(scale_y);
    int integer = fabs(scale_x - ix) < DBL_EPSILON && fabs(scale_y - iy) < DBL_EPSILON;
    /* cv::resize turns an exact 2x bilinear shrink into an area average */
    if (interp == MT_INTERP_BILINEAR && integer && ix == 2 && iy == 2) interp = MT_INTERP_AREA;
    if (interp == MT_INTERP_AREA && scale_x >= 1 && scale_y >= 1) return TAB_AREA;
    return interp == MT_INTERP_AREA ? TAB_LINEAR_AREA : TAB_LINEAR;
}

/* ---- plans: the tables of one region, and the columns they read ---------------------------- */

typedef struct plan {
    int sw, sh, dw, dh;
    axis_tab x, y;
    int *cols;      /* the source columns read, ascending; slot j holds column cols[j] */
    int *slot;      /* per source column: its slot, or -1 */
    int ncols;
    int contiguous; /* cols[j] == cols[0] + j for all j */
} plan;

/* bytes a plan needs for regions up to sw x sh going to dw x dh */
static size_t plan_bytes(int sw, int sh, int dw, int dh) {
    size_t ints = (size_t)dw + 1 + taps_capacity(sw, dw) + (size_t)dh + 1 + taps_capacity(sh, dh) +
                  2 * (size_t)sw;
    size_t floats = taps_capacity(sw, dw) + taps_capacity(sh, dh);
    return (ints + floats) * 4 + 64;
}

/* Carves a plan's arrays out of mem (plan_bytes(...) bytes); returns the end. */
static char *plan_carve(plan *p, char *mem, int sw, int sh, int dw, int dh) {
    int *ip = (int *)mem;
    p->x.start = ip, ip += dw + 1;
    p->x.idx = ip, ip += taps_capacity(sw, dw);
    p->y.start = ip, ip += dh + 1;
    p->y.idx = ip, ip += taps_capacity(sh, dh);
    p->cols = ip, ip += sw;
    p->slot = ip, ip += sw;
    float *fp = (float *)ip;
    p->x.w = fp, fp += taps_capacity(sw, dw);
    p->y.w = fp, fp += taps_capacity(sh, dh);
    return (char *)fp;
}

static void plan_build(plan *p, int sw, int sh, int dw, int dh, mt_interp interp) {
    p->sw = sw, p->sh = sh, p->dw = dw, p->dh = dh;
    int kind = table_kind(sw, sh, dw, dh, interp);
    double inv_x = (double)dw / sw, inv_y = (double)dh / sh;
    if (kind == TAB_AREA) {
        area_axis(&p->x, sw, dw, 1.0 / inv_x);
        area_axis(&p->y, sh, dh, 1.0 / inv_y);
    } else {
        int area_mode = kind == TAB_LINEAR_AREA;
        linear_axis(&p->x, sw, dw, 1.0 / inv_x, inv_x, area_mode, 1);
        linear_axis(&p->y, sh, dh, 1.0 / inv_y, inv_y, area_mode, 0);
    }
    /* the columns read by the horizontal taps, and their slots */
    int ntaps = p->x.start[dw];
    for (int c = 0; c < sw; c++) p->slot[c] = -1;
    for (int k = 0; k < ntaps; k++) p->slot[p->x.idx[k]] = 0;
    int n = 0;
    for (int c = 0; c < sw; c++)
        if (p->slot[c] == 0) {
            p->slot[c] = n;
            p->cols[n++] = c;
        }
    /* When the columns read are not too sparse, sum the whole run between the
     * first and the last: a vector loop over a few unused columns beats a
     * scalar gather of the used ones. */
    int span = n > 0 ? p->cols[n - 1] - p->cols[0] + 1 : 0;
    if (n > 0 && span != n && span <= 4 * n) {
        int c0 = p->cols[0];
        for (int j = 0; j < span; j++) p->cols[j] = c0 + j, p->slot[c0 + j] = j;
        n = span;
    }
    for (int k = 0; k < ntaps; k++) p->x.idx[k] = p->slot[p->x.idx[k]];
    p->ncols = n;
    p->contiguous = n > 0 && p->cols[n - 1] - p->cols[0] + 1 == n;
}

/* ---- sources and destinations -------------------------------------------------------------- */

typedef struct src_desc {
    const mt_image *im;  /* uint8 RGB source, or NULL for a float source */
    const float *f32;    /* float source: plane c, row y, column x at c*sc + y*sy + x*sx */
    int64_t sc, sy, sx;
    int w, h, cn;        /* size of the real source and its channels */
} src_desc;

typedef struct dst_desc {
    float *f32; /* planar float output (channel c, row y, column x) */
    int64_t sc, sy, sx;
    mt_pixel_norm norm;
    uint8_t *u8; /* or interleaved uint8 output with this row stride */
    size_t u8_stride;
} dst_desc;

/* The vertical pass over uint8 rows: acc[i] = (add ? acc[i] : 0) + sum_k b[k] * r[k][i]
 * for nt = 1..4 rows at once, so that the accumulator is read and written once
 * per four source rows. Compiled for AVX-512, AVX2 and plain x86-64, chosen
 * at run time; the sums are the same on each (no FMA contraction, see the
 * pragma at the top), so results do not depend on the machine. */
static inline __attribute__((always_inline)) void vsum_body(float *restrict acc,
                                                             const uint8_t *const *r,
                                                             const float *b, int nt, int n,
                                                             int add) {
    const uint8_t *restrict r0 = r[0];
    float b0 = b[0];
    if (nt == 1) {
        if (add)
            for (int i = 0; i < n; i++) acc[i] = acc[i] + b0 * (float)r0[i];
        else
            for (int i = 0; i < n; i++) acc[i] = b0 * (float)r0[i];
        return;
    }
    const uint8_t *restrict r1 = r[1];
    float b1 = b[1];
    if (nt == 2) {
        if (add)
            for (int i = 0; i < n; i++) acc[i] = acc[i] + b0 * (float)r0[i] + b1 * (float)r1[i];
        else
            for (int i = 0; i < n; i++) acc[i] = b0 * (float)r0[i] + b1 * (float)r1[i];
        return;
    }
    const uint8_t *restrict r2 = r[2];
    float b2 = b[2];
    if (nt == 3) {
        if (add)
            for (int i = 0; i < n; i++)
                acc[i] = acc[i] + b0 * (float)r0[i] + b1 * (float)r1[i] + b2 * (float)r2[i];
        else
            for (int i = 0; i < n; i++)
                acc[i] = b0 * (float)r0[i] + b1 * (float)r1[i] + b2 * (float)r2[i];
        return;
    }
    const uint8_t *restrict r3 = r[3];
    float b3 = b[3];
    if (add)
        for (int i = 0; i < n; i++)
            acc[i] = acc[i] + b0 * (float)r0[i] + b1 * (float)r1[i] + b2 * (float)r2[i] +
                     b3 * (float)r3[i];
    else
        for (int i = 0; i < n; i++)
            acc[i] = b0 * (float)r0[i] + b1 * (float)r1[i] + b2 * (float)r2[i] + b3 * (float)r3[i];
}

MT_TARGET_CLONES
static void vsum_u8(float *restrict acc, const uint8_t *const *r, const float *b, int nt, int n,
                    int add) {
    switch (nt * 2 + add) { /* constant arguments: one specialised loop each */
    case 2: vsum_body(acc, r, b, 1, n, 0); break;
    case 3: vsum_body(acc, r, b, 1, n, 1); break;
    case 4: vsum_body(acc, r, b, 2, n, 0); break;
    case 5: vsum_body(acc, r, b, 2, n, 1); break;
    case 6: vsum_body(acc, r, b, 3, n, 0); break;
    case 7: vsum_body(acc, r, b, 3, n, 1); break;
    case 8: vsum_body(acc, r, b, 4, n, 0); break;
    default: vsum_body(acc, r, b, 4, n, 1); break;
    }
}

/* Adds b times source row iy (columns x1 + cols[j]) into the accumulator:
 * the general path (float sources, or columns that are not one run). */
static void accumulate(const plan *p, const src_desc *s, int x1, int iy, float b, float *acc) {
    int cn = s->cn;
    for (int j = 0; j < p->ncols; j++) {
        int ix = x1 + p->cols[j];
        if (ix < 0 || ix >= s->w) continue;
        float *a = acc + (size_t)j * cn;
        if (s->im) {
            const uint8_t *q = mt_image_pixel(s->im, ix, iy);
            a[0] += b * (float)q[0];
            a[1] += b * (float)q[1];
            a[2] += b * (float)q[2];
        } else {
            const float *q = s->f32 + iy * s->sy + ix * s->sx;
            for (int c = 0; c < cn; c++) a[c] += b * q[c * s->sc];
        }
    }
}

/* The accumulator row of output row dy: the vertical taps' sum over the
 * columns the horizontal taps read (zero where the source is padding). */
static void vertical(const plan *p, const src_desc *s, int x1, int y1, int dy, float *acc) {
    int cn = s->cn;
    size_t nacc = (size_t)p->ncols * cn;
    if (!(s->im && p->contiguous)) {
        memset(acc, 0, nacc * sizeof(float));
        for (int k = p->y.start[dy]; k < p->y.start[dy + 1]; k++) {
            int iy = y1 + p->y.idx[k];
            if (iy >= 0 && iy < s->h) accumulate(p, s, x1, iy, p->y.w[k], acc);
        }
        return;
    }
    /* one run of columns of a uint8 image: [j0, j1) of the slots are inside */
    int c0 = x1 + p->cols[0];
    int j0 = c0 < 0 ? -c0 : 0;
    int j1 = s->w - c0 < p->ncols ? s->w - c0 : p->ncols;
    if (j1 <= j0) {
        memset(acc, 0, nacc * sizeof(float));
        return;
    }
    if (j0 > 0) memset(acc, 0, (size_t)j0 * 3 * sizeof(float));
    if (j1 < p->ncols) memset(acc + (size_t)j1 * 3, 0, (size_t)(p->ncols - j1) * 3 * sizeof(float));
    float *a = acc + (size_t)j0 * 3;
    int n = (j1 - j0) * 3;
    const uint8_t *rows[4];
    float w[4];
    int nt = 0, added = 0;
    for (int k = p->y.start[dy]; k < p->y.start[dy + 1]; k++) {
        int iy = y1 + p->y.idx[k];
        if (iy < 0 || iy >= s->h) continue; /* a black row of the padding */
        rows[nt] = mt_image_pixel(s->im, c0 + j0, iy);
        w[nt++] = p->y.w[k];
        if (nt == 4) {
            vsum_u8(a, rows, w, nt, n, added);
            added = 1, nt = 0;
        }
    }
    if (nt > 0) vsum_u8(a, rows, w, nt, n, added);
    else if (!added) memset(a, 0, (size_t)n * sizeof(float));
}

typedef float v4f __attribute__((vector_size(16)));

static uint8_t sat_u8(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 255.0f) return 255;
    /* ties to even, as OpenCV's saturate_cast: adding and taking away 1.5 * 2^23 rounds
     * v (0 < v < 255) in the default rounding mode, as lrintf does, without its call */
    const float big = 12582912.0f;
    return (uint8_t)(int)((v + big) - big);
}

/* Output rows [dy0, dy1) of the region whose top-left source pixel is
 * (x1, y1). acc holds ncols * cn floats, out dw * cn. */
static void run_rows(const plan *p, const src_desc *s, int x1, int y1, const dst_desc *d, int dy0,
                     int dy1, float *acc, float *out) {
    int cn = s->cn, dw = p->dw;
    /* the 4th lane read past the last slot by the horizontal pass */
    memset(acc + (size_t)p->ncols * cn, 0, 4 * sizeof(float));
    for (int dy = dy0; dy < dy1; dy++) {
        vertical(p, s, x1, y1, dy, acc);
        if (cn == 3) {
            /* one 4-lane vector per tap holds r, g, b (and a lane of the next
             * pixel, ignored); the buffers have room for the 4th lane */
            for (int dx = 0; dx < dw; dx++) {
                v4f sum = {0.0f, 0.0f, 0.0f, 0.0f};
                for (int k = p->x.start[dx]; k < p->x.start[dx + 1]; k++) {
                    v4f a;
                    memcpy(&a, acc + (size_t)p->x.idx[k] * 3, sizeof a);
                    sum = sum + p->x.w[k] * a;
                }
                memcpy(out + dx * 3, &sum, sizeof sum);
            }
        } else {
            for (int dx = 0; dx < dw; dx++)
                for (int c = 0; c < cn; c++) {
                    float v = 0.0f;
                    for (int k = p->x.start[dx]; k < p->x.start[dx + 1]; k++)
                        v += p->x.w[k] * acc[(size_t)p->x.idx[k] * cn + c];
                    out[dx * cn + c] = v;
                }
        }
        if (d->u8) {
            uint8_t *q = d->u8 + (size_t)dy * d->u8_stride;
            for (int i = 0; i < dw * cn; i++) q[i] = sat_u8(out[i]);
        } else {
            float mean = d->norm.mean, scale = d->norm.scale;
            for (int c = 0; c < cn; c++) {
                float *q = d->f32 + c * d->sc + dy * d->sy;
                if (d->sx == 1)
                    for (int dx = 0; dx < dw; dx++) q[dx] = (out[dx * cn + c] - mean) * scale;
                else
                    for (int dx = 0; dx < dw; dx++) q[dx * d->sx] = (out[dx * cn + c] - mean) * scale;
            }
        }
    }
}

/* Fills the output of an empty crop: black, normalised. */
static void fill_black(const dst_desc *d, int dw, int dh, int cn) {
    for (int dy = 0; dy < dh; dy++) {
        if (d->u8) {
            memset(d->u8 + (size_t)dy * d->u8_stride, 0, (size_t)dw * cn);
            continue;
        }
        float v = (0.0f - d->norm.mean) * d->norm.scale;
        for (int c = 0; c < cn; c++)
            for (int dx = 0; dx < dw; dx++) d->f32[c * d->sc + dy * d->sy + dx * d->sx] = v;
    }
}

/* ---- per-thread scratch -------------------------------------------------------------------- */

/* One block per thread that may run a share of the work: the threads of the
 * pool, or only the calling worker when called from inside a parallel region
 * (the pool then runs the call serially on that worker). */
typedef struct scratch {
    char *mem[MT_MAX_THREADS];
    size_t bytes;
} scratch;

static void scratch_free(scratch *s) {
    for (int i = 0; i < MT_MAX_THREADS; i++) mt_host_free(s->mem[i], s->bytes);
}

static mt_status scratch_alloc(scratch *s, size_t bytes, const char *what) {
    memset(s, 0, sizeof *s);
    s->bytes = bytes;
    int me = mt_thread_index();
    int first = me > 0 ? me : 0, last = me > 0 ? me : mt_threads_count() - 1;
    for (int i = first; i <= last; i++) {
        s->mem[i] = (char *)mt_host_alloc(bytes, what);
        if (!s->mem[i]) {
            scratch_free(s);
            return MT_ERR_OOM;
        }
    }
    return MT_OK;
}

/* ---- whole-image resizes ------------------------------------------------------------------- */

typedef struct rows_job {
    const plan *p;
    const src_desc *s;
    const dst_desc *d;
    scratch *sc;
} rows_job;

static void rows_task(void *ctx, int64_t begin, int64_t end, int thread) {
    rows_job *j = (rows_job *)ctx;
    float *acc = (float *)j->sc->mem[thread];
    float *out = acc + (size_t)j->p->sw * j->s->cn + 16;
    run_rows(j->p, j->s, 0, 0, j->d, (int)begin, (int)end, acc, out);
}

/* Resizes the whole source into d, rows split over the threads. */
static mt_status resize_whole(const src_desc *s, const dst_desc *d, int dw, int dh,
                              mt_interp interp, const char *what) {
    size_t pbytes = plan_bytes(s->w, s->h, dw, dh);
    char *pmem = (char *)mt_host_alloc(pbytes, what);
    if (!pmem) return MT_ERR_OOM;
    plan p;
    plan_carve(&p, pmem, s->w, s->h, dw, dh);
    plan_build(&p, s->w, s->h, dw, dh, interp);
    scratch sc;
    size_t wbytes = ((size_t)s->w * s->cn + 16 + (size_t)dw * s->cn + 16) * sizeof(float);
    mt_status st = scratch_alloc(&sc, wbytes, what);
    if (st == MT_OK) {
        rows_job j = {&p, s, d, &sc};
        /* a few rows per share at least: a parallel region costs microseconds */
        int64_t grain = 1 + 65536 / ((int64_t)s->w * s->cn + 1);
        mt_parallel_for(dh, grain, rows_task, &j);
        scratch_free(&sc);
    }
    mt_host_free(pmem, pbytes);
    return st;
}

/* What every entry checks first: a known interpolation and an output size in range. */
static mt_status check_request(const char *what, mt_interp interp, int dw, int dh) {
    if (interp != MT_INTERP_BILINEAR && interp != MT_INTERP_AREA)
        return mt_fail(MT_ERR_ARG, "%s: unknown interpolation %d", what, (int)interp);
    if (dw < 1 || dh < 1 || dw > MT_IMAGE_MAX_SIDE || dh > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "%s: bad output size %dx%d", what, dw, dh);
    return MT_OK;
}

static src_desc image_src(const mt_image *im) {
    src_desc s;
    memset(&s, 0, sizeof s);
    s.im = im;
    s.w = im->width, s.h = im->height, s.cn = 3;
    return s;
}

mt_status mt_resize_to_tensor(const mt_image *im, int dw, int dh, mt_interp interp, mt_tensor *out,
                              mt_pixel_norm norm) {
    const char *what = "resize_to_tensor";
    char sh[MT_SHAPE_STR];
    MT_TRY(check_request(what, interp, dw, dh));
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "%s: the image is empty (%dx%d)", what, im->width, im->height);
    if (mt_tensor_device(out) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "%s: the output tensor must be on the cpu", what);
    int c0 = out->ndim - 3;
    if (!(out->ndim == 3 || (out->ndim == 4 && out->shape[0] == 1)) || out->shape[c0] != 3 ||
        out->shape[c0 + 1] != dh || out->shape[c0 + 2] != dw)
        return mt_fail(MT_ERR_SHAPE, "%s: output %s should be 3x%dx%d or 1x3x%dx%d", what,
                       mt_tensor_shape_str(out, sh), dh, dw, dh, dw);
    src_desc s = image_src(im);
    dst_desc d;
    memset(&d, 0, sizeof d);
    d.f32 = mt_tensor_data(out);
    d.sc = out->stride[c0], d.sy = out->stride[c0 + 1], d.sx = out->stride[c0 + 2];
    d.norm = norm;
    return resize_whole(&s, &d, dw, dh, interp, what);
}

mt_status mt_resize_image(mt_image **out, const mt_image *im, int dw, int dh, mt_interp interp) {
    const char *what = "resize";
    *out = NULL;
    MT_TRY(check_request(what, interp, dw, dh));
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "%s: the image is empty (%dx%d)", what, im->width, im->height);
    MT_TRY(mt_image_new_uninit(out, dw, dh));
    src_desc s = image_src(im);
    dst_desc d;
    memset(&d, 0, sizeof d);
    d.u8 = (*out)->data;
    d.u8_stride = (size_t)dw * 3;
    mt_status st = resize_whole(&s, &d, dw, dh, interp, what);
    if (st != MT_OK) {
        mt_image_free(*out);
        *out = NULL;
    }
    return st;
}

mt_status mt_resize_tensor(mt_tensor **out, const mt_tensor *src, int dw, int dh,
                           mt_interp interp) {
    const char *what = "resize_tensor";
    char sh[MT_SHAPE_STR];
    *out = NULL;
    MT_TRY(check_request(what, interp, dw, dh));
    if (mt_tensor_device(src) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "%s: the tensor must be on the cpu", what);
    if (src->ndim != 3 && src->ndim != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: tensor %s should be CxHxW or NxCxHxW", what,
                       mt_tensor_shape_str(src, sh));
    int c0 = src->ndim - 3;
    int64_t N = src->ndim == 4 ? src->shape[0] : 1, C = src->shape[c0];
    int64_t H = src->shape[c0 + 1], W = src->shape[c0 + 2];
    if (H < 1 || W < 1 || C < 1 || H > MT_IMAGE_MAX_SIDE || W > MT_IMAGE_MAX_SIDE || C > 4096)
        return mt_fail(MT_ERR_SHAPE, "%s: cannot resize a tensor of shape %s", what,
                       mt_tensor_shape_str(src, sh));
    int64_t shape[4] = {N, C, dh, dw};
    int ndim = src->ndim;
    MT_TRY(mt_tensor_new(out, MT_CPU, ndim, ndim == 4 ? shape : shape + 1));
    mt_status st = MT_OK;
    for (int64_t n = 0; n < N && st == MT_OK; n++) {
        src_desc s;
        memset(&s, 0, sizeof s);
        s.f32 = mt_tensor_data(src) + (ndim == 4 ? n * src->stride[0] : 0);
        s.sc = src->stride[c0], s.sy = src->stride[c0 + 1], s.sx = src->stride[c0 + 2];
        s.w = (int)W, s.h = (int)H, s.cn = (int)C;
        dst_desc d;
        memset(&d, 0, sizeof d);
        d.f32 = mt_tensor_data(*out) + n * C * dh * dw;
        d.sc = (int64_t)dh * dw, d.sy = dw, d.sx = 1;
        d.norm = MT_NORM_NONE;
        st = resize_whole(&s, &d, dw, dh, interp, what);
    }
    if (st != MT_OK) {
        mt_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* ---- batches of crops ---------------------------------------------------------------------- */

typedef struct crops_job {
    const src_desc *s;
    const int32_t *boxes;
    int dw, dh;
    mt_interp interp;
    int max_w, max_h; /* the largest crop, for the scratch layout */
    dst_desc base;    /* crop i goes to base shifted by i * step */
    int64_t f32_step; /* floats between two crops in the tensor */
    size_t u8_step;   /* bytes between two crops in the strip */
    scratch *sc;
} crops_job;

/* A crop lying wholly inside a uint8 image with two-tap (linear) tables: every output value
 * straight from its four source pixels. The float operations are run_rows' own, in the same
 * order (vertical pair first, then the horizontal taps from a zero sum), so the result is
 * identical; it skips the accumulator rows, whose vector sums over every column between
 * the first and the last tap pay off for large outputs but dominate the small crops of
 * sample generation (a 12x12 sample from a 90x90 crop). */
typedef uint8_t v4u8 __attribute__((vector_size(4)));

/* A pixel's r, g, b in three lanes of a vector (the fourth is 0). */
static inline v4f pixel_v4f(const uint8_t *p) {
    v4u8 b = {p[0], p[1], p[2], 0};
    return __builtin_convertvector(b, v4f);
}

static void crop_linear_direct(const plan *p, const src_desc *s, int x1, int y1,
                               const dst_desc *d) {
    for (int dy = 0; dy < p->dh; dy++) {
        int ky = p->y.start[dy];
        const uint8_t *r0 = mt_image_pixel(s->im, x1, y1 + p->y.idx[ky]);
        const uint8_t *r1 = mt_image_pixel(s->im, x1, y1 + p->y.idx[ky + 1]);
        float b0 = p->y.w[ky], b1 = p->y.w[ky + 1];
        for (int dx = 0; dx < p->dw; dx++) {
            int kx = p->x.start[dx], nt = p->x.start[dx + 1] - kx;
            size_t i0 = (size_t)p->x.idx[kx] * 3;
            v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
            v4f sum = zero + p->x.w[kx] * (b0 * pixel_v4f(r0 + i0) + b1 * pixel_v4f(r1 + i0));
            if (nt == 2) {
                size_t i1 = (size_t)p->x.idx[kx + 1] * 3;
                sum = sum + p->x.w[kx + 1] * (b0 * pixel_v4f(r0 + i1) + b1 * pixel_v4f(r1 + i1));
            }
            float v[4];
            memcpy(v, &sum, sizeof v);
            if (d->u8) {
                uint8_t *q = d->u8 + (size_t)dy * d->u8_stride + (size_t)dx * 3;
                for (int c = 0; c < 3; c++) q[c] = sat_u8(v[c]);
            } else {
                for (int c = 0; c < 3; c++)
                    d->f32[c * d->sc + dy * d->sy + dx * d->sx] =
                        (v[c] - d->norm.mean) * d->norm.scale;
            }
        }
    }
}

static void crop_task(void *ctx, int64_t i, int thread) {
    crops_job *j = (crops_job *)ctx;
    const int32_t *b = j->boxes + 4 * i;
    dst_desc d = j->base;
    if (d.u8) d.u8 += (size_t)i * j->u8_step;
    else d.f32 += i * j->f32_step;
    int64_t cw = (int64_t)b[2] - b[0] + 1, ch = (int64_t)b[3] - b[1] + 1;
    if (cw < 1 || ch < 1) {
        fill_black(&d, j->dw, j->dh, 3);
        return;
    }
    plan p;
    char *mem = j->sc->mem[thread];
    float *acc = (float *)plan_carve(&p, mem, j->max_w, j->max_h, j->dw, j->dh);
    float *out = acc + (size_t)j->max_w * 3 + 16;
    const src_desc *s = j->s;
    int kind = table_kind((int)cw, (int)ch, j->dw, j->dh, j->interp);
    if (kind != TAB_AREA && s->im && b[0] >= 0 && b[1] >= 0 && b[2] < s->w && b[3] < s->h) {
        /* plan_build's tables, without its column slots */
        double inv_x = (double)j->dw / (double)cw, inv_y = (double)j->dh / (double)ch;
        p.sw = (int)cw, p.sh = (int)ch, p.dw = j->dw, p.dh = j->dh;
        linear_axis(&p.x, (int)cw, j->dw, 1.0 / inv_x, inv_x, kind == TAB_LINEAR_AREA, 1);
        linear_axis(&p.y, (int)ch, j->dh, 1.0 / inv_y, inv_y, kind == TAB_LINEAR_AREA, 0);
        crop_linear_direct(&p, s, b[0], b[1], &d);
        return;
    }
    plan_build(&p, (int)cw, (int)ch, j->dw, j->dh, j->interp);
    run_rows(&p, s, b[0], b[1], &d, 0, j->dh, acc, out);
}

static mt_status crops_run(const mt_image *im, const int32_t *boxes, int64_t n, int dw, int dh,
                           mt_interp interp, const dst_desc *base, int64_t f32_step,
                           size_t u8_step, const char *what) {
    if (n == 0) return MT_OK;
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "%s: the image is empty (%dx%d)", what, im->width, im->height);
    int max_w = 1, max_h = 1;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *b = boxes + 4 * i;
        int64_t cw = (int64_t)b[2] - b[0] + 1, ch = (int64_t)b[3] - b[1] + 1;
        if (cw > MT_IMAGE_MAX_SIDE || ch > MT_IMAGE_MAX_SIDE)
            return mt_fail(MT_ERR_ARG, "%s: box %lld [%d, %d, %d, %d] is larger than %d pixels",
                           what, (long long)i + 1, b[0], b[1], b[2], b[3], MT_IMAGE_MAX_SIDE);
        if (cw > max_w) max_w = (int)cw;
        if (ch > max_h) max_h = (int)ch;
    }
    src_desc s = image_src(im);
    size_t bytes = plan_bytes(max_w, max_h, dw, dh) +
                   ((size_t)max_w * 3 + 16 + (size_t)dw * 3 + 16) * sizeof(float) + 64;
    scratch sc;
    MT_TRY(scratch_alloc(&sc, bytes, what));
    crops_job j = {&s, boxes, dw, dh, interp, max_w, max_h, *base, f32_step, u8_step, &sc};
    mt_parallel_tasks(n, crop_task, &j);
    scratch_free(&sc);
    return MT_OK;
}

mt_status mt_crop_resize_to_tensor(const mt_image *im, const int32_t *boxes, int64_t n, int dw,
                                   int dh, mt_interp interp, mt_tensor *out, mt_pixel_norm norm) {
    const char *what = "crop_resize";
    char sh[MT_SHAPE_STR];
    MT_TRY(check_request(what, interp, dw, dh));
    if (mt_tensor_device(out) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "%s: the output tensor must be on the cpu", what);
    if (out->ndim != 4 || out->shape[0] != n || out->shape[1] != 3 || out->shape[2] != dh ||
        out->shape[3] != dw)
        return mt_fail(MT_ERR_SHAPE, "%s: output %s should be %lldx3x%dx%d", what,
                       mt_tensor_shape_str(out, sh), (long long)n, dh, dw);
    dst_desc d;
    memset(&d, 0, sizeof d);
    d.f32 = mt_tensor_data(out);
    d.sc = out->stride[1], d.sy = out->stride[2], d.sx = out->stride[3];
    d.norm = norm;
    return crops_run(im, boxes, n, dw, dh, interp, &d, out->stride[0], 0, what);
}

mt_status mt_crop_resize_strip(const mt_image *im, const int32_t *boxes, int64_t n, int size,
                               mt_interp interp, mt_image *strip, int64_t first) {
    const char *what = "crop_resize";
    MT_TRY(check_request(what, interp, size, size));
    if (strip->width != size || first < 0 || (first + n) * size > strip->height)
        return mt_fail(MT_ERR_SHAPE, "%s: a %dx%d strip cannot hold crops %lld..%lld of size %d",
                       what, strip->width, strip->height, (long long)first + 1,
                       (long long)(first + n), size);
    dst_desc d;
    memset(&d, 0, sizeof d);
    d.u8 = strip->data + (size_t)first * size * size * 3;
    d.u8_stride = (size_t)size * 3;
    return crops_run(im, boxes, n, size, size, interp, &d, 0, (size_t)size * size * 3, what);
}

/* Distinct source indices read by the taps of t (n_out outputs over n_in inputs), ascending,
 * into list; t's indices become positions in that list. mark holds n_in ints. */
static int gather_taps(axis_tab *t, int n_in, int n_out, int *mark, int *list) {
    int ntaps = t->start[n_out], n = 0;
    for (int i = 0; i < n_in; i++) mark[i] = -1;
    for (int k = 0; k < ntaps; k++) mark[t->idx[k]] = 0;
    for (int i = 0; i < n_in; i++)
        if (mark[i] == 0) mark[i] = n, list[n++] = i;
    for (int k = 0; k < ntaps; k++) t->idx[k] = mark[t->idx[k]];
    return n;
}

mt_status mt_warp_resize_strip(const mt_image *src, const double m[6], int pw, int ph, int size,
                               mt_interp interp, mt_image *strip, int64_t slot) {
    const char *what = "warp_resize";
    MT_TRY(check_request(what, interp, size, size));
    if (pw < 1 || ph < 1 || pw > MT_IMAGE_MAX_SIDE || ph > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "%s: bad patch size %dx%d", what, pw, ph);
    if (strip->width != size || slot < 0 || (slot + 1) * size > strip->height)
        return mt_fail(MT_ERR_SHAPE, "%s: a %dx%d strip has no slot %lld of size %d", what,
                       strip->width, strip->height, (long long)slot + 1, size);
    int kind = table_kind(pw, ph, size, size, interp);
    if (kind == TAB_AREA) { /* area tables read every pixel: warp the whole patch */
        mt_image *patch;
        MT_TRY(mt_warp_affine(&patch, src, m, pw, ph, NULL));
        int32_t whole[4] = {0, 0, pw - 1, ph - 1};
        mt_status st = mt_crop_resize_strip(patch, whole, 1, size, interp, strip, slot);
        mt_image_free(patch);
        return st;
    }
    double inv[6];
    MT_TRY(mt_affine_invert(m, inv));
    /* the tables of a whole-patch crop, then only the patch pixels they read */
    int nmax = pw > ph ? pw : ph;
    size_t ints = 2 * ((size_t)size + 1) + 4 * ((size_t)size + 1) + 3 * (size_t)nmax;
    int *mem = (int *)malloc(ints * sizeof(int) + 4 * ((size_t)size + 1) * sizeof(float));
    if (!mem) return mt_fail(MT_ERR_OOM, "%s: out of memory", what);
    plan p;
    memset(&p, 0, sizeof p);
    p.x.start = mem, p.y.start = mem + size + 1;
    p.x.idx = mem + 2 * (size + 1), p.y.idx = p.x.idx + 2 * (size + 1);
    int *mark = p.y.idx + 2 * (size + 1), *cols = mark + nmax, *rows = cols + nmax;
    p.x.w = (float *)(rows + nmax), p.y.w = p.x.w + 2 * (size + 1);
    double inv_x = (double)size / pw, inv_y = (double)size / ph;
    p.sw = pw, p.sh = ph, p.dw = size, p.dh = size;
    linear_axis(&p.x, pw, size, 1.0 / inv_x, inv_x, kind == TAB_LINEAR_AREA, 1);
    linear_axis(&p.y, ph, size, 1.0 / inv_y, inv_y, kind == TAB_LINEAR_AREA, 0);
    int nc = gather_taps(&p.x, pw, size, mark, cols);
    int nr = gather_taps(&p.y, ph, size, mark, rows);
    mt_image *g;
    mt_status st = mt_image_new_uninit(&g, nc, nr);
    if (st == MT_OK) {
        static const uint8_t black[3] = {0, 0, 0};
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc; c++)
                mt_warp_pixel(src, inv, black, cols[c], rows[r], mt_image_pixel(g, c, r));
        src_desc s = image_src(g);
        dst_desc d;
        memset(&d, 0, sizeof d);
        d.u8 = strip->data + (size_t)slot * size * size * 3;
        d.u8_stride = (size_t)size * 3;
        crop_linear_direct(&p, &s, 0, 0, &d);
        mt_image_free(g);
    }
    free(mem);
    return st;
}
