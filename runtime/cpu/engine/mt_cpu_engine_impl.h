/*
 * mt_cpu_engine_impl.h - the driver of the GEMM engine: packing, blocking, threading and
 * the stores into the layers' tensors (see mt_cpu_engine.h for the maths).
 *
 * Included once by each engine file (mt_cpu_engine_avx512.c, _avx2.c, _generic.c), after
 * that file has defined, for its instruction set:
 *   ENGINE_NR       columns of a broadcast micro-tile (floats)
 *   ENGINE_MR_MAX   rows of a broadcast micro-tile, at most
 *   ENGINE_VEC      floats per vector (the dot kernel's step along the pixels)
 *   ENGINE_DOT_MR, ENGINE_DOT_NR   the dot kernel's tile
 *   static void engine_tile(int mr, int64_t k, const float *a, const float *b,
 *                           const mt_tile_out *o);
 *       tile[i][j] = sum_k a[k*mr + i] * b[k*ENGINE_NR + j], stored as o says
 *   static void engine_dot(int mr, int nr, int64_t nvec, const float *a, int64_t lda,
 *                          const float *b, int64_t ldb, float *c, int64_t ldc);
 *       c[i*ldc + j] += sum_{p < nvec*ENGINE_VEC} a[i*lda + p] * b[j*ldb + p]
 *   static inline void copy_run(float *d, const float *s, int64_t n);   d[0..n) = s[0..n)
 *   static inline void pack_run(float *d, const float *s, int64_t n);   the same, but it may
 *       also write up to ENGINE_SLACK floats past d + n (packing buffers fill in order and
 *       have that much room at the end; masked stores are slow on some CPUs)
 *   static inline void add_run(float *d, const float *s, int64_t n);    d[0..n) += s[0..n)
 *   static inline float sum_run(const float *s, int64_t n);   the sum of s[0..n), in vector
 *       lanes (a serial float sum is latency-bound: 4 cycles an element)
 *   static inline void bias_prelu_run(float *d, const float *s, int64_t n, float bias,
 *                                     float slope, int act);  d = s + bias, PReLU if act
 *   static void engine_tile_wide(int mr, int64_t k, const float *a, const float *src0,
 *                                const float *src1, int split, int nv, const int64_t *off,
 *                                float *tile);
 *       tile[i*NR + j] = sum_k a[k*mr + i] * B(k, j) with B(k, j) = src0[off[k] + j] for
 *       j < split, src1[off[k] + j] for split <= j < nv, 0 beyond nv (nothing read there)
 *   static void engine_tile_wide_store(int mr, int64_t k, const float *a, const float *src0,
 *                                      const float *src1, int split, int nv,
 *                                      const int64_t *off, const wide_out *o);
 *       the same tile, stored straight into the output runs of o (bias, PReLU)
 *   static int pack_panel(float *dst, int64_t k, const int64_t *off, const float *const *src,
 *                         const int *j0, const int *len, int ns);
 *       an im2col panel: row kk has, at columns [j0[s], j0[s] + len[s]), the values at
 *       src[s] + off[kk]; zero elsewhere. Returns 0 when it cannot (the caller then copies)
 *   static void engine_tile_wide_rows(int mr, int64_t k, const float *a, const float *src0,
 *                                     const float *src1, int split, int nv,
 *                                     const int64_t *off, const mt_tile_out *o);
 *       the tile of engine_tile_wide, stored as o says (rows ldc apart, bias, PReLU)
 *   static void pool_band_s2(float *y, int64_t ys, const float *s, int64_t w, int64_t npy,
 *                            int pkh, int last_rows, int pkw, int64_t nout, int64_t ow);
 *       stride-2 max pooling of npy pooled rows: y[k*ys + px] = max of s[r*w + c] over rows
 *       2k <= r < 2k + pkh (last_rows for the last k) and 2 px <= c < min(2 px + pkw, ow),
 *       pkw 2 or 3, px < nout; may read ENGINE_POOL_SLACK floats past the last window
 *   static void engine_dot_wide(int mr, int nr, int64_t ns, int64_t nvec, int tail,
 *                               const float *a, int64_t lda, int64_t astride,
 *                               const float *const *brow, int64_t bstride, float *c,
 *                               int64_t ldc);
 *       c[i*ldc + j] += sum over samples s < ns and p < nvec*VEC of
 *       a[s*astride + i*lda + p] * brow[j][s*bstride + p], reading only the first `tail`
 *       values of b's last vector (a holds zeros beyond them)
 * Everything here is static: each including file exports only its mt_engine table, so
 * the same loops are compiled (and vectorised) once per instruction set.
 */

#include "core/mt_threads.h"

#include "cpu/engine/mt_cpu_engine_kernels.h"

#include <string.h>

#include "cpu/mt_cpu.h"
#include "cpu/mt_cpu_prelu.h"

/* Pixels per chunk of the weight-gradient pass (the dY chunk stays in L2). */
#define ENGINE_PC 512

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

/* Packs rows [m0, m0+mr) x columns [0, k) of a strided matrix (element (i, kk) at
 * src[i*rs + kk*cs]) into dst[kk*mr + i]. */
static void pack_rows(const float *src, int64_t rs, int64_t cs, int64_t m0, int mr, int64_t k,
                      float *dst) {
    if (rs == 1) {
        for (int64_t kk = 0; kk < k; kk++) {
            const float *s = src + m0 + kk * cs;
            float *d = dst + kk * mr;
            for (int i = 0; i < mr; i++) d[i] = s[i];
        }
        return;
    }
    for (int i = 0; i < mr; i++) {
        const float *s = src + (m0 + i) * rs;
        for (int64_t kk = 0; kk < k; kk++) dst[kk * mr + i] = s[kk * cs];
    }
}

/* Packs every row block of a strided matrix; block b starts at dst + start[b] * k. */
static void pack_all_rows(const float *src, int64_t rs, int64_t cs, const mblocks *mb, int64_t k,
                          float *dst) {
    for (int64_t b = 0; b < mb->n; b++)
        pack_rows(src, rs, cs, block_start(mb, b), block_rows(mb, b), k,
                  dst + block_start(mb, b) * k);
}

/* Packs columns [n0, n0+nv) of a strided matrix (element (kk, j) at src[kk*rs + j*cs]) into
 * an ENGINE_NR-wide panel dst[kk*NR + j], zero beyond nv. */
static void pack_cols(const float *src, int64_t rs, int64_t cs, int64_t n0, int nv, int64_t k,
                      float *dst) {
    if (cs == 1) {
        for (int64_t kk = 0; kk < k; kk++) {
            const float *s = src + kk * rs + n0;
            float *d = dst + kk * ENGINE_NR;
            for (int j = 0; j < nv; j++) d[j] = s[j];
            for (int j = nv; j < ENGINE_NR; j++) d[j] = 0.0f;
        }
        return;
    }
    for (int j = 0; j < ENGINE_NR; j++) {
        if (j >= nv) {
            for (int64_t kk = 0; kk < k; kk++) dst[kk * ENGINE_NR + j] = 0.0f;
            continue;
        }
        const float *s = src + (n0 + j) * cs;
        for (int64_t kk = 0; kk < k; kk++) dst[kk * ENGINE_NR + j] = s[kk * rs];
    }
}

/* ---- column geometry of a convolution ------------------------------------------------------ */

/* A run of consecutive output columns in one output row of one sample. */
typedef struct segment {
    int j0, len;    /* columns j0 .. j0+len-1 of the panel or chunk */
    int64_t b, oy, ox0;
} segment;

/* Splits columns [col0, col0+n) (column = (sample, oy, ox) in raster order) into runs
 * within one output row. Returns the number of runs (at most n). */
static int row_segments(const mt_conv_geom *g, int64_t col0, int n, segment *seg) {
    const int64_t p = g->oh * g->ow;
    int64_t b = col0 / p, q = col0 % p;
    int64_t oy = q / g->ow, ox = q % g->ow;
    int ns = 0, j = 0;
    while (j < n) {
        int len = (int)(g->ow - ox);
        if (len > n - j) len = n - j;
        seg[ns].j0 = j;
        seg[ns].len = len;
        seg[ns].b = b;
        seg[ns].oy = oy;
        seg[ns].ox0 = ox;
        ns++;
        j += len;
        ox = 0;
        if (++oy == g->oh) {
            oy = 0;
            b++;
        }
    }
    return ns;
}

static int conv_is_dense(const mt_conv_geom *g) {
    return g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* One row of im2col for tap (c, ky, kx) over the runs: dst[j] for the runs' columns.
 * Zero outside the input. */
static void im2col_row(const mt_conv_geom *g, const float *x, int64_t c, int64_t ky, int64_t kx,
                       const segment *seg, int ns, float *dst) {
    const int64_t hw = g->h * g->w;
    if (conv_is_dense(g)) {
        for (int s = 0; s < ns; s++)
            pack_run(dst + seg[s].j0,
                     x + (seg[s].b * g->cin + c) * hw + (seg[s].oy + ky) * g->w + seg[s].ox0 + kx,
                     seg[s].len);
        return;
    }
    for (int s = 0; s < ns; s++) {
        float *d = dst + seg[s].j0;
        int64_t iy = seg[s].oy * g->sh - g->ph + ky;
        if (iy < 0 || iy >= g->h) {
            for (int t = 0; t < seg[s].len; t++) d[t] = 0.0f;
            continue;
        }
        const float *row = x + (seg[s].b * g->cin + c) * hw + iy * g->w;
        for (int t = 0; t < seg[s].len; t++) {
            int64_t ix = (seg[s].ox0 + t) * g->sw - g->pw + kx;
            d[t] = ix >= 0 && ix < g->w ? row[ix] : 0.0f;
        }
    }
}

/* The adjoint of im2col_row: adds src[j] into dx at the positions im2col_row reads. */
static void col2im_row(const mt_conv_geom *g, float *dx, int64_t c, int64_t ky, int64_t kx,
                       const segment *seg, int ns, const float *src) {
    const int64_t hw = g->h * g->w;
    if (conv_is_dense(g)) {
        for (int s = 0; s < ns; s++)
            add_run(dx + (seg[s].b * g->cin + c) * hw + (seg[s].oy + ky) * g->w + seg[s].ox0 + kx,
                    src + seg[s].j0, seg[s].len);
        return;
    }
    for (int s = 0; s < ns; s++) {
        int64_t iy = seg[s].oy * g->sh - g->ph + ky;
        if (iy < 0 || iy >= g->h) continue;
        float *row = dx + (seg[s].b * g->cin + c) * hw + iy * g->w;
        const float *v = src + seg[s].j0;
        for (int t = 0; t < seg[s].len; t++) {
            int64_t ix = (seg[s].ox0 + t) * g->sw - g->pw + kx;
            if (ix >= 0 && ix < g->w) row[ix] += v[t];
        }
    }
}

/* The panel of im2col(x) for columns [col0, col0+nv): dst[k*NR + j], zero beyond nv. */
static void pack_im2col_panel(const mt_conv_geom *g, const float *x, const segment *seg, int ns,
                              int nv, const int64_t *off, float *dst) {
    if (conv_is_dense(g)) {
        /* the source of each run for tap 0, then one offset per tap */
        const float *src[ENGINE_NR];
        int j0[ENGINE_NR], len[ENGINE_NR];
        const int64_t hw = g->h * g->w;
        for (int s = 0; s < ns; s++) {
            src[s] = x + seg[s].b * g->cin * hw + seg[s].oy * g->w + seg[s].ox0;
            j0[s] = seg[s].j0;
            len[s] = seg[s].len;
        }
        if (off && pack_panel(dst, g->cin * g->kh * g->kw, off, src, j0, len, ns)) return;
        float *d = dst;
        for (int64_t c = 0; c < g->cin; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++, d += ENGINE_NR) {
                    const int64_t off = c * hw + ky * g->w + kx;
                    for (int s = 0; s < ns; s++) pack_run(d + seg[s].j0, src[s] + off, seg[s].len);
                }
    } else {
        int64_t k = 0;
        for (int64_t c = 0; c < g->cin; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++, k++)
                    im2col_row(g, x, c, ky, kx, seg, ns, dst + k * ENGINE_NR);
    }
    if (nv < ENGINE_NR) {
        const int64_t k = g->cin * g->kh * g->kw;
        for (int64_t kk = 0; kk < k; kk++)
            for (int j = nv; j < ENGINE_NR; j++) dst[kk * ENGINE_NR + j] = 0.0f;
    }
}

/* Columns [col0, col0+n) of an NCHW tensor t [N, C, P] viewed as a C x (N*P) matrix, packed
 * as dst[ch*ld + j] for ch < C (zero for j in [n, ld)). */
static void pack_nchw_cols(const float *t, int64_t ch, int64_t p, int64_t col0, int n, float *dst,
                           int64_t ld) {
    /* rows in order, runs in order within a row: pack_run's overspill is always rewritten */
    for (int64_t c = 0; c < ch; c++) {
        int64_t b = col0 / p, q = col0 % p;
        int j = 0;
        float *d = dst + c * ld;
        while (j < n) {
            int len = (int)(p - q);
            if (len > n - j) len = n - j;
            pack_run(d + j, t + (b * ch + c) * p + q, len);
            j += len;
            q = 0;
            b++;
        }
        for (int64_t u = n; u < ld; u++) d[u] = 0.0f;
    }
}


/* ---- the "wide" direct path for stride-1 convolutions on large maps ------------------------ *
 * With stride 1 and no padding, output (oy, ox) reads input (oy + ky, ox + kx): computed on the
 * input-width grid q = oy * W + ox (q < Q = (OH-1) W + OW), tap k reads x[off_k + q] with
 * off_k = c H W + ky W + kx, a plain contiguous row. So the micro-kernel loads B straight from
 * the input (no im2col copy), the columns with ox >= OW (kw - 1 per row) are computed and
 * dropped, and the input gradient is a contiguous add per tap row. Used when those dropped
 * columns are few (P / Q >= 3/4) and a panel spans at most two samples (Q >= NR). */

static int64_t wide_cols(const mt_conv_geom *g) { return (g->oh - 1) * g->w + g->ow; }

static int wide_ok(const mt_conv_geom *g) {
    if (!conv_is_dense(g) || g->oh * g->ow == 1) return 0;
    const int64_t q = wide_cols(g);
    return q >= ENGINE_NR && 4 * g->oh * g->ow >= 3 * q;
}

/* off[k] = c*H*W + ky*W + kx for the K taps. */
static void tap_offsets(const mt_conv_geom *g, int64_t *off) {
    int64_t k = 0;
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) off[k++] = c * g->h * g->w + ky * g->w + kx;
}

/* The valid (ox < OW) columns of wide range [q, q + n) of one sample as runs: panel column
 * j0 + t -> output index dst + t (oy * OW + ox). Returns the number of runs. */
typedef struct wide_run {
    int j0, len;
    int64_t dst;
} wide_run;

static int wide_runs(const mt_conv_geom *g, int64_t q, int n, int jbase, wide_run *r) {
    int nr = 0;
    int64_t w = q;
    while (w < q + n) {
        const int64_t row = w / g->w, col = w % g->w;
        if (col < g->ow) {
            int64_t len = g->ow - col;
            if (len > q + n - w) len = q + n - w;
            r[nr].j0 = jbase + (int)(w - q);
            r[nr].len = (int)len;
            r[nr].dst = row * g->ow + col;
            nr++;
            w += len;
        } else {
            w += g->w - col;
        }
    }
    return nr;
}

typedef struct wide_job {
    const mt_conv_geom *g;
    const float *x, *dy, *apack, *bias, *prelu;
    float *y, *dx, *part;
    const int64_t *off;
    const mblocks *mb;
    int64_t k, q, qs, group;
    const float *la;        /* lanes input gradient: packed flipped weights, or NULL */
    const int64_t *loff;    /* its tap offsets in the padded dY */
    const mblocks *lmb;     /* its row blocks (input channels) */
    const mt_pool_grad *pg; /* weight gradients: dY formed from a pooled gradient (or NULL) */
    double *da_part;        /* with pg: [ranges][mt_prelu_part_stride(cout)] slope sums */
    int failed, bad;
} wide_job;

/* Panels [p0, p1) of the wide columns of all samples, [0, N*Q): a panel may span two
 * samples, and one sample's panels may go to different threads (a batch of one image). */
static void wide_fwd_range(void *ctx, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, sample = g->cin * g->h * g->w, p = g->oh * g->ow;
    const int64_t cols = g->n * q;
    wide_run runs[2][ENGINE_NR];
    for (int64_t pi = p0; pi < p1; pi++) {
        const int64_t c0 = pi * ENGINE_NR;
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        const int64_t b = c0 / q, qq = c0 % q;
        const int split = (int)(q - qq < nv ? q - qq : nv);
        const float *src0 = jb->x + b * sample + qq;
        const float *src1 = split < nv ? jb->x + (b + 1) * sample - split : src0;
        int nrun[2];
        nrun[0] = wide_runs(g, qq, split, 0, runs[0]);
        nrun[1] = split < nv ? wide_runs(g, 0, nv - split, split, runs[1]) : 0;
        wide_out o;
        o.nrun = 0;
        o.ldc = p;
        for (int part = 0; part < 2; part++)
            for (int r = 0; r < nrun[part]; r++) {
                o.dst[o.nrun] = jb->y + (b + part) * g->cout * p + runs[part][r].dst;
                o.j0[o.nrun] = runs[part][r].j0;
                o.len[o.nrun] = runs[part][r].len;
                o.nrun++;
            }
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            wide_out ob = o;
            for (int r = 0; r < o.nrun; r++) ob.dst[r] += m0 * p;
            ob.bias = jb->bias ? jb->bias + m0 : NULL;
            ob.slope = jb->prelu ? jb->prelu + m0 : NULL;
            engine_tile_wide_store(mr, jb->k, jb->apack + m0 * jb->k, src0, src1, split, nv,
                                   jb->off, &ob);
        }
    }
}

/* One channel's oh x ow plane onto the wide grid (row stride w, qs values), each value
 * written once: a row's outputs, then its kw - 1 dropped columns, then zeros up to qs. */
static void wide_plane(const mt_conv_geom *g, const float *src, int64_t qs, float *d) {
#if ENGINE_ZFILL
    /* all rows but the last as whole vectors with zeros past ow, in ascending order (zeros
     * that run into the next row are overwritten by it), when they cover the dropped columns
     * and stay within qs: no masked stores, no scalar loop over the dropped columns */
    const int64_t span = (g->ow + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    if (g->oh > 1 && span >= g->w && (g->oh - 2) * g->w + span <= qs) {
        for (int64_t oy = 0; oy + 1 < g->oh; oy++)
            zfill_run(d + oy * g->w, src + oy * g->ow, g->ow);
        copy_run(d + (g->oh - 1) * g->w, src + (g->oh - 1) * g->ow, g->ow);
        for (int64_t j = (g->oh - 1) * g->w + g->ow; j < qs; j++) d[j] = 0.0f;
        return;
    }
#endif
    for (int64_t oy = 0; oy < g->oh; oy++) {
        float *row = d + oy * g->w;
        copy_run(row, src + oy * g->ow, g->ow);
        if (oy + 1 < g->oh)
            for (int64_t j = g->ow; j < g->w; j++) row[j] = 0.0f;
    }
    for (int64_t j = (g->oh - 1) * g->w + g->ow; j < qs; j++) d[j] = 0.0f;
}

/* dY of samples [s0, s0 + n) expanded onto the wide grid: dst[(s*C + c)*qs + oy*W + ox],
 * zeros in the dropped columns and up to qs. */
static void expand_dy(const mt_conv_geom *g, const float *dy, int64_t s0, int64_t n, int64_t qs,
                      float *dst) {
    const int64_t p = g->oh * g->ow;
    for (int64_t s = 0; s < n; s++)
        for (int64_t c = 0; c < g->cout; c++) {
            const float *src = dy + ((s0 + s) * g->cout + c) * p;
            float *d = dst + (s * g->cout + c) * qs;
            wide_plane(g, src, qs, d);
        }
}

/* dX of samples [g0, g0 + gn) (zeroed before) from their expanded dY (dyw; doff[c] = c*qs):
 * W^T times each panel of the wide grid, added back at the taps' offsets. */
static void bwdx_group(const wide_job *jb, int64_t g0, int64_t gn, const float *dyw,
                       const int64_t *doff) {
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    const int64_t cols = gn * q;
    for (int64_t c0 = 0; c0 < cols; c0 += ENGINE_NR) {
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        const int64_t bl = c0 / q, qq = c0 % q;
        const int split = (int)(q - qq < nv ? q - qq : nv);
        const float *src0 = dyw + bl * cout * qs + qq;
        const float *src1 = split < nv ? dyw + (bl + 1) * cout * qs - split : src0;
        float *dx0 = jb->dx + (g0 + bl) * sample + qq, *dx1 = jb->dx + (g0 + bl + 1) * sample;
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            engine_tile_wide(mr, cout, jb->apack + m0 * cout, src0, src1, split, nv, doff, tile);
            for (int i = 0; i < mr; i++) {
                const int64_t off = jb->off[m0 + i];
                add_run(dx0 + off, tile + i * ENGINE_NR, split);
                if (split < nv) add_run(dx1 + off, tile + i * ENGINE_NR + split, nv - split);
            }
        }
    }
}

static void wide_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    memset(jb->dx + s0 * sample, 0, sizeof(float) * (size_t)((s1 - s0) * sample));
    float *dyw = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->group * cout * qs));
    int64_t *doff = (int64_t *)mt_cpu_scratch(5, sizeof(int64_t) * (size_t)cout);
    if (!dyw || !doff) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t c = 0; c < cout; c++) doff[c] = c * qs;
    for (int64_t g0 = s0; g0 < s1; g0 += jb->group) {
        const int64_t gn = s1 - g0 < jb->group ? s1 - g0 : jb->group;
        expand_dy(g, jb->dy, g0, gn, qs, dyw);
        bwdx_group(jb, g0, gn, dyw, doff);
    }
}

/* expand_dy's result formed from training's pooled gradient instead of a stored dY: per
 * plane, the pooled gradient routed to the forward's maxima (in the separate pass's order),
 * then the PReLU gradient written onto the wide grid, the slope sums into part. Returns 0 on
 * an offset outside its plane. */
static int expand_pooled(const mt_conv_geom *g, const mt_pool_grad *pg, int64_t s0, int64_t n,
                         int64_t qs, float *dst, float *plane, double *part) {
    const int64_t p = g->oh * g->ow;
    for (int64_t s = 0; s < n; s++)
        for (int64_t c = 0; c < g->cout; c++) {
            const int64_t pi = (s0 + s) * g->cout + c;
            const float *z = pg->z + pi * p, *at = pg->at + pi * pg->php;
            const float *gy = pg->gy + pi * pg->php;
            memset(plane, 0, sizeof(float) * (size_t)p);
            for (int64_t o = 0; o < pg->php; o++) {
                const float f = at[o];
                if (!(f >= 0.0f && f < (float)p)) return 0;
                plane[(int64_t)f] += gy[o];
            }
            part[c] += mt_prelu_negative_dot(z, plane, p);
            /* over the whole plane in place (a short row's scalar tail branches on the sign),
             * then its rows onto the wide grid */
            mt_prelu_grad_row(z, pg->slope[c], plane, plane, p);
            float *d = dst + (s * g->cout + c) * qs;
            wide_plane(g, plane, qs, d);
        }
    return 1;
}

/* Whether the backward passes run with one sample per vector lane (lanes_bwd_range) instead
 * of vectors along the wide grid: for maps whose wide rows fill their vectors poorly (RNet
 * conv2: 81 outputs on 7 vectors of 16), where the transposes cost less than the lanes
 * saved. */
static int lanes_dot_ok(const mt_conv_geom *g, int64_t q) {
    const int64_t nvec = (q + ENGINE_VEC - 1) / ENGINE_VEC;
    return 5 * g->oh * g->ow < 4 * nvec * ENGINE_VEC;
}

#if ENGINE_TRANSPOSE
/* VEC x VEC blocks transposed in registers. BACK 0: lanes from planes (src rows stride
 * apart, n of them; zero lanes for the rest); BACK 1: the inverse. */
INLINE void lanes_blocks(const int BACK, const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += ENGINE_VEC) {
        const int64_t len = stride - i0 < ENGINE_VEC ? stride - i0 : ENGINE_VEC;
        const mask_t m = M_FIRST(len);
        vec_t r[ENGINE_VEC];
#pragma GCC unroll 16
        for (int i = 0; i < ENGINE_VEC; i++) {
            if (!(BACK ? i < len : i < n))
                r[i] = V_ZERO();
            else
                r[i] = BACK ? V_LOADU(src + (i0 + i) * ENGINE_VEC)
                            : V_LOADU_M(src + i * stride + i0, m);
        }
        V_TRANSPOSE(r);
#pragma GCC unroll 16
        for (int i = 0; i < ENGINE_VEC; i++) {
            if (!(BACK ? i < n : i < len)) continue;
            if (BACK)
                V_STOREU_M(dst + i * stride + i0, m, r[i]);
            else
                V_STOREU(dst + (i0 + i) * ENGINE_VEC, r[i]);
        }
    }
}

/* dst[i*VEC + s] = src[s*stride + i] for i < stride, s < n; zero in lanes n .. VEC - 1. */
static void lanes_transpose(const float *src, int64_t stride, int n, float *dst) {
    lanes_blocks(0, src, stride, n, dst);
}

/* The inverse: dst[s*stride + i] = src[i*VEC + s] for i < stride, s < n. */
static void lanes_untranspose(const float *src, int64_t stride, int n, float *dst) {
    lanes_blocks(1, src, stride, n, dst);
}
#else
/* dst[i*VEC + s] = src[s*stride + i] for i < stride, s < n; zero in lanes n .. VEC - 1. */
static void lanes_transpose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 64) {
        const int64_t i1 = stride - i0 < 64 ? stride : i0 + 64;
        for (int s = 0; s < n; s++) {
            const float *r = src + s * stride;
            for (int64_t i = i0; i < i1; i++) dst[i * ENGINE_VEC + s] = r[i];
        }
        for (int s = n; s < ENGINE_VEC; s++)
            for (int64_t i = i0; i < i1; i++) dst[i * ENGINE_VEC + s] = 0.0f;
    }
}

/* The inverse: dst[s*stride + i] = src[i*VEC + s] for i < stride, s < n. */
static void lanes_untranspose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 64) {
        const int64_t i1 = stride - i0 < 64 ? stride : i0 + 64;
        for (int s = 0; s < n; s++) {
            float *r = dst + s * stride;
            for (int64_t i = i0; i < i1; i++) r[i] = src[i * ENGINE_VEC + s];
        }
    }
}
#endif

/* dY of samples [s0, s0 + n) (n <= VEC), one sample per lane, onto a grid padded by kh - 1
 * rows and kw - 1 columns of zeros on each side: dyp[(c*PH*PW + (oy + kh-1)*PW + ox + kw-1)
 * * VEC + lane] (dyt: scratch of cout*oh*ow*VEC floats for the plain transpose). */
static void lanes_pad_dy(const mt_conv_geom *g, const float *dy, int64_t s0, int n, float *dyt,
                         float *dyp) {
    const int64_t p = g->oh * g->ow, pw = g->ow + 2 * (g->kw - 1), ph = g->oh + 2 * (g->kh - 1);
    lanes_transpose(dy + s0 * g->cout * p, g->cout * p, n, dyt);
    memset(dyp, 0, sizeof(float) * (size_t)(g->cout * ph * pw * ENGINE_VEC));
    for (int64_t c = 0; c < g->cout; c++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            copy_run(dyp + ((c * ph + oy + g->kh - 1) * pw + g->kw - 1) * ENGINE_VEC,
                     dyt + (c * p + oy * g->ow) * ENGINE_VEC, g->ow * ENGINE_VEC);
}

/* The input gradient of samples [s0, s0 + n) (n <= VEC) from their padded dY (lanes_pad_dy):
 * a full correlation with the flipped kernel, computed for every input pixel on the padded
 * grid's row stride (the kw - 1 columns past each row dropped) with the broadcast tile, K =
 * cout*kh*kw, rows = input channels (jb->la, row blocks jb->lmb, tap offsets jb->loff),
 * then turned back to one sample per plane. dxt: scratch of cin*h*w*VEC floats. */
static void lanes_bwdx(const wide_job *jb, int64_t s0, int n, const float *dyp, float *dxt) {
    const mt_conv_geom *g = jb->g;
    const int64_t pw = g->ow + 2 * (g->kw - 1), hw = g->h * g->w;
    const int64_t k2 = g->cout * g->kh * g->kw, cols = ((g->h - 1) * pw + g->w) * ENGINE_VEC;
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    for (int64_t c0 = 0; c0 < cols; c0 += ENGINE_NR) {
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        for (int64_t blk = 0; blk < jb->lmb->n; blk++) {
            const int64_t m0 = block_start(jb->lmb, blk);
            const int mr = block_rows(jb->lmb, blk);
            engine_tile_wide(mr, k2, jb->la + m0 * k2, dyp + c0, dyp + c0, nv, nv, jb->loff,
                             tile);
            for (int u = 0; u * ENGINE_VEC < nv; u++) {
                const int64_t q = c0 / ENGINE_VEC + u, iy = q / pw, ix = q % pw;
                if (ix >= g->w) continue;
                for (int i = 0; i < mr; i++)
                    copy_run(dxt + ((m0 + i) * hw + iy * g->w + ix) * ENGINE_VEC,
                             tile + i * ENGINE_NR + u * ENGINE_VEC, ENGINE_VEC);
            }
        }
    }
    lanes_untranspose(dxt, g->cin * hw, n, jb->dx + s0 * g->cin * hw);
}

/* Packs the lanes input gradient's weights and tap offsets into the calling thread's
 * scratch slots 8 and 9 (the workers use 6, 7, 10, 11): A[kk][ci] per row block of input
 * channels, kk = (cout, ky, kx), each tap at the flipped tap's offset in the padded dY. */
static mt_status lanes_bwdx_prepare(wide_job *jb, const float *w, mblocks *lmb) {
    const mt_conv_geom *g = jb->g;
    const int64_t taps = g->kh * g->kw, k2 = g->cout * taps;
    const int64_t pw = g->ow + 2 * (g->kw - 1), ph = g->oh + 2 * (g->kh - 1);
    MT_TRY(plan_rows(lmb, g->cin));
    float *la = (float *)mt_cpu_scratch(8, sizeof(float) * (size_t)(g->cin * k2));
    int64_t *loff = (int64_t *)mt_cpu_scratch(9, sizeof(int64_t) * (size_t)k2);
    if (!la || !loff) return MT_ERR_OOM;
    for (int64_t b = 0; b < lmb->n; b++) {
        const int64_t m0 = block_start(lmb, b);
        const int mr = block_rows(lmb, b);
        for (int64_t kk = 0; kk < k2; kk++)
            for (int i = 0; i < mr; i++)
                la[m0 * k2 + kk * mr + i] =
                    w[(kk / taps) * g->cin * taps + (m0 + i) * taps + kk % taps];
    }
    for (int64_t c = 0; c < g->cout; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++)
                loff[(c * g->kh + ky) * g->kw + kx] =
                    (c * ph * pw + (g->kh - 1 - ky) * pw + (g->kw - 1 - kx)) * ENGINE_VEC;
    jb->la = la;
    jb->loff = loff;
    jb->lmb = lmb;
    return MT_OK;
}

/* Samples [s0, s1) of the backward pass with one sample per vector lane (lanes_dot_ok), in
 * groups of VEC: dY transposed onto the padded grid, then the input gradient (when jb->dx;
 * jb->la packed) and the weight gradient, a dot over the output rows (oy) and their ow
 * pixels with no dropped columns and no partial vector, into range `range`'s partial sums
 * in jb->part (jb->part NULL: the input gradient alone). */
static void lanes_bwd_range(wide_job *jb, int64_t s0, int64_t s1, int range) {
    const mt_conv_geom *g = jb->g;
    const int64_t sample = g->cin * g->h * g->w, cout = g->cout, k = jb->k, p = g->oh * g->ow;
    const int64_t pw = g->ow + 2 * (g->kw - 1), pp = pw * (g->oh + 2 * (g->kh - 1));
    const int wgrad = jb->part != NULL;
    float *xt = wgrad ? (float *)mt_cpu_scratch(6, sizeof(float) * (size_t)(sample * ENGINE_VEC))
                      : NULL;
    float *dyt = (float *)mt_cpu_scratch(7, sizeof(float) * (size_t)(cout * p * ENGINE_VEC));
    float *dyp = (float *)mt_cpu_scratch(10, sizeof(float) * (size_t)(cout * pp * ENGINE_VEC));
    float *dxt = jb->dx ? (float *)mt_cpu_scratch(11, sizeof(float) * (size_t)(sample * ENGINE_VEC))
                        : NULL;
    if ((wgrad && !xt) || !dyt || !dyp || (jb->dx && !dxt)) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = wgrad ? jb->part + (int64_t)range * (cout * k + cout) : NULL;
    float *db = wgrad ? dw + cout * k : NULL;
    const float *dy0 = dyp + ((g->kh - 1) * pw + g->kw - 1) * ENGINE_VEC; /* output (0, 0) */
    for (int64_t b0 = s0; b0 < s1; b0 += ENGINE_VEC) {
        const int bn = (int)(s1 - b0 < ENGINE_VEC ? s1 - b0 : ENGINE_VEC);
        lanes_pad_dy(g, jb->dy, b0, bn, dyt, dyp);
        if (jb->dx) lanes_bwdx(jb, b0, bn, dyp, dxt);
        if (!wgrad) continue;
        for (int64_t s = b0; s < b0 + bn; s++)
            for (int64_t m = 0; m < cout; m++) db[m] += sum_run(jb->dy + (s * cout + m) * p, p);
        lanes_transpose(jb->x + b0 * sample, sample, bn, xt);
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            const float *brow[ENGINE_DOT_NR];
            for (int j = 0; j < nr; j++) brow[j] = xt + jb->off[t0 + j] * ENGINE_VEC;
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot_wide(mr, nr, g->oh, g->ow, ENGINE_VEC, dy0 + m0 * pp * ENGINE_VEC,
                                pp * ENGINE_VEC, pw * ENGINE_VEC, brow, g->w * ENGINE_VEC,
                                dw + m0 * k + t0, k);
            }
        }
    }
}

static void lanes_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    lanes_bwd_range((wide_job *)ctx, s0, s1, 0);
}

static void wide_bwdw_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    const int64_t k = jb->k, p = g->oh * g->ow;
    if (!jb->pg && lanes_dot_ok(g, q)) {
        lanes_bwd_range(jb, s0, s1, thread);
        return;
    }
    float *dyw = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->group * cout * qs));
    if (!dyw) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = jb->part + (int64_t)thread * (cout * k + cout); /* thread: the range index */
    float *db = dw + cout * k;
    float *plane = NULL;
    int64_t *doff = NULL;
    if (jb->pg) {
        plane = (float *)mt_cpu_scratch(5, sizeof(float) * (size_t)p);
        if (!plane) {
            __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
            return;
        }
    } else if (jb->dx) {
        /* the input gradient too, from the same expanded dY (engine_conv_backward) */
        doff = (int64_t *)mt_cpu_scratch(5, sizeof(int64_t) * (size_t)cout);
        if (!doff) {
            __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        for (int64_t c = 0; c < cout; c++) doff[c] = c * qs;
        memset(jb->dx + s0 * sample, 0, sizeof(float) * (size_t)((s1 - s0) * sample));
    }
    const int64_t nvec = (q + ENGINE_VEC - 1) / ENGINE_VEC;
    const int tail = (int)(q - (nvec - 1) * ENGINE_VEC);
    for (int64_t g0 = s0; g0 < s1; g0 += jb->group) {
        const int64_t gn = s1 - g0 < jb->group ? s1 - g0 : jb->group;
        if (jb->pg) {
            double *part = jb->da_part + (int64_t)thread * mt_prelu_part_stride(cout);
            if (!expand_pooled(g, jb->pg, g0, gn, qs, dyw, plane, part)) {
                __atomic_store_n(&jb->bad, 1, __ATOMIC_RELAXED);
                return;
            }
            /* the bias gradient from the expanded rows (zeros in the dropped columns) */
            for (int64_t s = 0; s < gn; s++)
                for (int64_t m = 0; m < cout; m++) db[m] += sum_run(dyw + (s * cout + m) * qs, q);
        } else {
            expand_dy(g, jb->dy, g0, gn, qs, dyw);
            if (doff) bwdx_group(jb, g0, gn, dyw, doff);
            for (int64_t s = g0; s < g0 + gn; s++)
                for (int64_t m = 0; m < cout; m++)
                    db[m] += sum_run(jb->dy + (s * cout + m) * p, p);
        }
        const float *xg = jb->x + g0 * sample;
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            const float *brow[ENGINE_DOT_NR];
            for (int j = 0; j < nr; j++) brow[j] = xg + jb->off[t0 + j];
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot_wide(mr, nr, gn, nvec, tail, dyw + m0 * qs, qs, cout * qs, brow, sample,
                                dw + m0 * k + t0, k);
            }
        }
    }
}

/* Samples per group of the backward passes: the group's expanded dY and input stay in L2. */
static int64_t wide_group(const mt_conv_geom *g, int64_t qs) {
    const int64_t bytes = 4 * (g->cout * qs + g->cin * g->h * g->w);
    int64_t n = (512 * 1024) / (bytes > 0 ? bytes : 1);
    return n < 1 ? 1 : n;
}

static mt_status wide_prepare(wide_job *jb, const mt_conv_geom *g) {
    jb->g = g;
    jb->k = g->cin * g->kh * g->kw;
    jb->q = wide_cols(g);
    jb->qs = (jb->q + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    jb->group = wide_group(g, jb->qs);
    int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)jb->k);
    if (!off) return MT_ERR_OOM;
    tap_offsets(g, off);
    jb->off = off;
    return MT_OK;
}

/* ---- convolution forward ------------------------------------------------------------------ */

typedef struct conv_job {
    const mt_conv_geom *g;
    const int64_t *off; /* tap offsets (dense convolutions), or NULL */
    const float *x, *dy, *apack, *bias, *prelu;
    float *y, *dx, *part;
    const mblocks *mb;
    int64_t k, ncols, p;
    int failed;
} conv_job;

/* Stores a tile that spans several samples: columns [col0, col0+nv), rows [m0, m0+mr),
 * one contiguous run per sample and row. */
static void scatter_tile(const conv_job *jb, const float *tile, int64_t m0, int mr, int64_t col0,
                         int nv) {
    const int64_t p = jb->p, cout = jb->g->cout;
    int64_t b = col0 / p, q = col0 % p;
    int j = 0;
    while (j < nv) {
        int len = (int)(p - q);
        if (len > nv - j) len = nv - j;
        for (int i = 0; i < mr; i++) {
            const int64_t m = m0 + i;
            bias_prelu_run(jb->y + (b * cout + m) * p + q, tile + i * ENGINE_NR + j, len,
                           jb->bias ? jb->bias[m] : 0.0f, jb->prelu ? jb->prelu[m] : 0.0f,
                           jb->prelu != NULL);
        }
        j += len;
        q = 0;
        b++;
    }
}

static void conv_fwd_range(void *ctx, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    float *panel =
        (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->k * ENGINE_NR + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(5, sizeof(segment) * ENGINE_NR);
    if (!panel || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    for (int64_t pi = p0; pi < p1; pi++) {
        const int64_t col0 = pi * ENGINE_NR;
        const int nv = (int)(jb->ncols - col0 < ENGINE_NR ? jb->ncols - col0 : ENGINE_NR);
        int ns = row_segments(g, col0, nv, seg);
        pack_im2col_panel(g, jb->x, seg, ns, nv, jb->off, panel);
        const int64_t b = col0 / jb->p, q0 = col0 % jb->p;
        const int inside = q0 + nv <= jb->p; /* one sample: rows of the tile are contiguous */
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            const float *a = jb->apack + m0 * jb->k;
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            if (inside) {
                o.c = jb->y + (b * g->cout + m0) * jb->p + q0;
                o.ldc = jb->p;
                o.nvalid = nv;
                o.bias = jb->bias ? jb->bias + m0 : NULL;
                o.slope = jb->prelu ? jb->prelu + m0 : NULL;
                engine_tile(mr, jb->k, a, panel, &o);
            } else {
                o.c = tile;
                o.ldc = ENGINE_NR;
                o.nvalid = ENGINE_NR;
                engine_tile(mr, jb->k, a, panel, &o);
                scatter_tile(jb, tile, m0, mr, col0, nv);
            }
        }
    }
}

/* Grain (in work units of `flops` each) that gives a task at least ~100k FLOPs. */
static int64_t grain_for(double flops) {
    int64_t gr = (int64_t)(1e5 / (flops > 1 ? flops : 1));
    return gr < 1 ? 1 : gr;
}

static mt_status engine_linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                       const float *w, const float *b, const float *prelu,
                                       float *y);
static mt_status engine_linear_backward_input(int64_t n, int64_t in, int64_t out,
                                              const float *dy, const float *w, float *dx);
static mt_status engine_linear_backward_params(int64_t n, int64_t in, int64_t out,
                                               const float *x, const float *dy, float *dw,
                                               float *db);

/* A kernel covering the whole unpadded input (1x1 output) is a fully connected layer with the
 * same memory layouts: weight [Cout, Cin*kh*kw], input [N, Cin*H*W], output [N, Cout]. */
static int conv_is_linear(const mt_conv_geom *g) {
    return g->oh == 1 && g->ow == 1 && g->ph == 0 && g->pw == 0 && g->kh == g->h && g->kw == g->w;
}

/* mt_cpu_engine_block.h: the banded driver (conv + pooling, Winograd) */
static int wino_ok(const mt_conv_geom *g);
static mt_status block_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd, int64_t ph,
                               int64_t pw, const float *x, const float *w, const float *b,
                               const float *prelu, float *y);

static mt_status engine_conv_forward(const mt_conv_geom *g, const float *x, const float *w,
                                     const float *b, const float *prelu, float *y) {
    if (conv_is_linear(g))
        return engine_linear_forward(g->n, g->cin * g->h * g->w, g->cout, x, w, b, prelu, y);
    if (wino_ok(g)) return block_forward(g, NULL, g->oh, g->ow, x, w, b, prelu, y);
    mblocks mb;
    MT_TRY(plan_rows(&mb, g->cout));
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, k, 1, &mb, k, apack);
    /* forward: with few taps (the Cin = 3 first layers) the im2col panel, packed once for all
     * row blocks, beats reading the input once per block (measured on Zen 5); a 1x1 kernel's
     * panel would be a plain copy of the input (PNet's heads), so those read it in place */
    if (wide_ok(g) && (k >= 64 || g->kh * g->kw == 1)) {
        wide_job wj = {.x = x, .apack = apack, .bias = b, .prelu = prelu, .y = y, .mb = &mb};
        MT_TRY(wide_prepare(&wj, g));
        const int64_t panels = (g->n * wj.q + ENGINE_NR - 1) / ENGINE_NR;
        run_ranges(panels, grain_for(2.0 * (double)(g->cout * k * ENGINE_NR)), wide_fwd_range,
                   &wj);
        return MT_OK;
    }
    conv_job jb = {.g = g, .x = x, .apack = apack, .bias = b, .prelu = prelu, .y = y, .mb = &mb,
                   .k = k, .ncols = g->n * p, .p = p};
    if (conv_is_dense(g)) {
        int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)k);
        if (!off) return MT_ERR_OOM;
        tap_offsets(g, off);
        jb.off = off;
    }
    const int64_t panels = (jb.ncols + ENGINE_NR - 1) / ENGINE_NR;
    run_ranges(panels, grain_for(2.0 * (double)(g->cout * k * ENGINE_NR)), conv_fwd_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d: out of memory for packing buffers");
    return MT_OK;
}

/* ---- convolution: input gradient ----------------------------------------------------------- */

static void conv_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t cout = g->cout, taps = g->kh * g->kw;
    float *panel =
        (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(cout * ENGINE_NR + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(5, sizeof(segment) * ENGINE_NR);
    if (!panel || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    const int64_t per = g->cin * g->h * g->w;
    memset(jb->dx + s0 * per, 0, sizeof(float) * (size_t)((s1 - s0) * per));
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    const int64_t c_end = s1 * jb->p;
    for (int64_t col0 = s0 * jb->p; col0 < c_end; col0 += ENGINE_NR) {
        const int nv = (int)(c_end - col0 < ENGINE_NR ? c_end - col0 : ENGINE_NR);
        pack_nchw_cols(jb->dy, cout, jb->p, col0, nv, panel, ENGINE_NR);
        /* the panel is [cout][NR]: exactly the k-major layout the micro-kernel reads */
        int ns = row_segments(g, col0, nv, seg);
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            o.c = tile;
            o.ldc = ENGINE_NR;
            o.nvalid = ENGINE_NR;
            engine_tile(mr, cout, jb->apack + m0 * cout, panel, &o);
            for (int i = 0; i < mr; i++) {
                const int64_t tap = m0 + i;
                const int64_t c = tap / taps, r = tap % taps;
                col2im_row(g, jb->dx, c, r / g->kw, r % g->kw, seg, ns, tile + i * ENGINE_NR);
            }
        }
    }
}

/* ---- small maps: the convolution as its dense (Toeplitz) matrix ----------------------------- *
 * On maps of a few pixels (PNet conv2 at 12x12: 5x5 in, 3x3 out) the input gradient's
 * per-row col2im runs are a handful of values each and dominate. The convolution is then
 * the linear layer y[N, cout*P] = x[N, cin*H*W] T^T with T[(co, oy, ox), (ci, iy, ix)] =
 * w[co, ci, iy - oy*sh + ph, ix - ox*sw + pw] (zero where that is no tap), and the input
 * gradient one dense GEMM dx = dy T: more FLOPs (H*W / (kh*kw) times), at the GEMM's rate.
 * Used when that ratio is at most 3 and T is small (it is rebuilt at every call). */

#define TOEPLITZ_MAX_FLOATS 65536

static int toeplitz_ok(const mt_conv_geom *g) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w;
    return !conv_is_linear(g) && !wide_ok(g) && hw <= 3 * g->kh * g->kw &&
           g->cout * p * g->cin * hw <= TOEPLITZ_MAX_FLOATS;
}

/* The entries of T [cout*P, cin*H*W] that hold a tap of w [cout, cin, kh, kw]: with fold
 * 0, T is built from w (zero elsewhere); with fold 1, each tap of w gets its T entries added,
 * over the output positions in order (w is then the gradient). */
static void toeplitz_walk(const mt_conv_geom *g, float *w, float *t, int fold) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w, in = g->cin * hw;
    if (!fold) memset(t, 0, sizeof(float) * (size_t)(g->cout * p * in));
    for (int64_t co = 0; co < g->cout; co++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float *row = t + (co * p + oy * g->ow + ox) * in;
                for (int64_t ci = 0; ci < g->cin; ci++)
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        const int64_t iy = oy * g->sh - g->ph + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            const int64_t ix = ox * g->sw - g->pw + kx;
                            if (ix < 0 || ix >= g->w) continue;
                            float *tap = w + ((co * g->cin + ci) * g->kh + ky) * g->kw + kx;
                            float *entry = row + ci * hw + iy * g->w + ix;
                            if (fold) *tap += *entry;
                            else *entry = *tap;
                        }
                    }
            }
}

/* dw += the parameter gradients through T: dT = dy^T x (one dense GEMM), then each tap's
 * entries of dT summed over the output positions in order; db += dy summed per channel. */
static mt_status toeplitz_backward_params(const mt_conv_geom *g, const float *x,
                                          const float *dy, float *dw, float *db) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w, in = g->cin * hw, rows = g->cout * p;
    float *dt = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(rows * in));
    if (!dt) return MT_ERR_OOM;
    memset(dt, 0, sizeof(float) * (size_t)(rows * in));
    MT_TRY(engine_linear_backward_params(g->n, in, rows, x, dy, dt, NULL));
    toeplitz_walk(g, dw, dt, 1);
    if (db)
        for (int64_t co = 0; co < g->cout; co++) {
            float sum = 0.0f;
            for (int64_t i = 0; i < g->n; i++) {
                const float *d = dy + (i * g->cout + co) * p;
                for (int64_t q = 0; q < p; q++) sum += d[q];
            }
            db[co] += sum;
        }
    return MT_OK;
}

static mt_status engine_conv_backward_input(const mt_conv_geom *g, const float *dy,
                                            const float *w, float *dx) {
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
    if (conv_is_linear(g)) return engine_linear_backward_input(g->n, k, g->cout, dy, w, dx);
    if (toeplitz_ok(g)) {
        const int64_t in = g->cin * g->h * g->w;
        float *t = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(g->cout * p * in));
        if (!t) return MT_ERR_OOM;
        toeplitz_walk(g, (float *)w, t, 0); /* fold 0 only reads w */
        return engine_linear_backward_input(g->n, in, g->cout * p, dy, t, dx);
    }
    mblocks mb;
    MT_TRY(plan_rows(&mb, k));
    /* A = W^T: element (tap, cout) at w[cout*k + tap] */
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, 1, k, &mb, g->cout, apack);
    wide_job wj = {.dy = dy, .apack = apack, .dx = dx, .mb = &mb};
    if (conv_is_dense(g)) MT_TRY(wide_prepare(&wj, g));
    if (wide_ok(g) || (conv_is_dense(g) && lanes_dot_ok(g, wj.q))) {
        /* small dense maps (RNet conv3: 4x4 -> 3x3) take the lanes path even where the wide
         * grid does not pay */
        if (lanes_dot_ok(g, wj.q)) {
            mblocks lmb;
            MT_TRY(lanes_bwdx_prepare(&wj, w, &lmb));
            run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * wj.q)), lanes_bwdx_range,
                       &wj);
            if (wj.failed)
                return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
            return MT_OK;
        }
        run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * wj.q)), wide_bwdx_range, &wj);
        if (wj.failed)
            return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
        return MT_OK;
    }
    conv_job jb = {.g = g, .dy = dy, .apack = apack, .dx = dx, .mb = &mb, .k = k,
                   .ncols = g->n * p, .p = p};
    run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * p)), conv_bwdx_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    return MT_OK;
}

/* ---- convolution: parameter gradients ------------------------------------------------------- */

static void conv_bwdw_range(void *ctx, int64_t c0, int64_t c1, int thread) {
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t cout = g->cout, k = jb->k, taps = g->kh * g->kw;
    const int64_t pcv = (ENGINE_PC + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    float *dyc = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(cout * pcv + ENGINE_SLACK));
    float *colc =
        (float *)mt_cpu_scratch(5, sizeof(float) * (size_t)(ENGINE_DOT_NR * pcv + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(1, sizeof(segment) * ENGINE_PC);
    if (!dyc || !colc || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = jb->part + (int64_t)thread * (cout * k + cout); /* thread: the range index */
    float *db = dw + cout * k;
    /* the range is in chunks; chunk i covers columns [i*PC, (i+1)*PC) */
    for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t col0 = ch * ENGINE_PC;
        const int n = (int)(jb->ncols - col0 < ENGINE_PC ? jb->ncols - col0 : ENGINE_PC);
        const int64_t ld = (n + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
        pack_nchw_cols(jb->dy, cout, jb->p, col0, n, dyc, ld);
        for (int64_t m = 0; m < cout; m++) db[m] += sum_run(dyc + m * ld, n);
        int ns = row_segments(g, col0, n, seg);
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            for (int j = 0; j < nr; j++) {
                const int64_t tap = t0 + j, c = tap / taps, r = tap % taps;
                float *d = colc + j * ld;
                im2col_row(g, jb->x, c, r / g->kw, r % g->kw, seg, ns, d);
                for (int64_t u = n; u < ld; u++) d[u] = 0.0f;
            }
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot(mr, nr, ld / ENGINE_VEC, dyc + m0 * ld, ld, colc, ld, dw + m0 * k + t0,
                           k);
            }
        }
    }
}

static mt_status engine_conv_backward_params(const mt_conv_geom *g, const float *x,
                                             const float *dy, float *dw, float *db) {
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow, per = g->cout * k + g->cout;
    if (conv_is_linear(g)) return engine_linear_backward_params(g->n, k, g->cout, x, dy, dw, db);
    if (toeplitz_ok(g)) return toeplitz_backward_params(g, x, dy, dw, db);
    const int wide = wide_ok(g);
    wide_job wj = {.x = x, .dy = dy};
    conv_job jb = {.g = g, .x = x, .dy = dy, .k = k, .ncols = g->n * p, .p = p};
    int64_t items, grain;
    if (wide) {
        MT_TRY(wide_prepare(&wj, g));
        items = g->n;
        grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    } else {
        items = (jb.ncols + ENGINE_PC - 1) / ENGINE_PC;
        grain = grain_for(2.0 * (double)(g->cout * k * ENGINE_PC));
    }
    /* one partial sum per range, reduced in range order */
    const int64_t ranges = range_count(items, grain);
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * ranges));
    if (!part) return MT_ERR_OOM;
    memset(part, 0, sizeof(float) * (size_t)(per * ranges));
    int failed;
    if (wide) {
        wj.part = part;
        run_ranges(items, grain, wide_bwdw_range, &wj);
        failed = wj.failed;
    } else {
        jb.part = part;
        run_ranges(items, grain, conv_bwdw_range, &jb);
        failed = jb.failed;
    }
    if (failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    for (int64_t t = 0; t < ranges; t++) {
        const float *pt = part + t * per;
        for (int64_t i = 0; i < g->cout * k; i++) dw[i] += pt[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++) db[i] += pt[g->cout * k + i];
    }
    return MT_OK;
}

/* Both gradients of a convolution (mt_engine.conv_backward). On the wide path one pass: each
 * sample group's dY is expanded onto the wide grid once for the input gradient and the
 * weight gradient (the same ranges and arithmetic as the two passes apart, so the same
 * numbers); elsewhere the two passes. */
static mt_status engine_conv_backward(const mt_conv_geom *g, const float *x, const float *dy,
                                      const float *w, float *dx, float *dw, float *db) {
    if (conv_is_linear(g) || toeplitz_ok(g) || !wide_ok(g)) {
        MT_TRY(engine_conv_backward_input(g, dy, w, dx));
        return engine_conv_backward_params(g, x, dy, dw, db);
    }
    const int64_t k = g->cin * g->kh * g->kw, per = g->cout * k + g->cout;
    mblocks mb;
    MT_TRY(plan_rows(&mb, k));
    /* A = W^T: element (tap, cout) at w[cout*k + tap] */
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, 1, k, &mb, g->cout, apack);
    wide_job wj = {.x = x, .dy = dy, .apack = apack, .dx = dx, .mb = &mb};
    MT_TRY(wide_prepare(&wj, g));
    mblocks lmb;
    if (lanes_dot_ok(g, wj.q)) MT_TRY(lanes_bwdx_prepare(&wj, w, &lmb));
    const int64_t items = g->n, grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    const int64_t ranges = range_count(items, grain);
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * ranges));
    if (!part) return MT_ERR_OOM;
    memset(part, 0, sizeof(float) * (size_t)(per * ranges));
    wj.part = part;
    run_ranges(items, grain, wide_bwdw_range, &wj);
    if (wj.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    for (int64_t t = 0; t < ranges; t++) {
        const float *pt = part + t * per;
        for (int64_t i = 0; i < g->cout * k; i++) dw[i] += pt[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++) db[i] += pt[g->cout * k + i];
    }
    return MT_OK;
}

/* Training's conv -> PReLU -> max pooling: the parameter gradients from the pooled gradient
 * (mt_engine.conv_backward_params_pooled). Runs the wide path's weight gradient with each
 * group's dY formed in place (expand_pooled), so the convolution's output gradient is never
 * written out and read back. */
static int engine_conv_backward_pooled_ok(const mt_conv_geom *g) {
    return !conv_is_linear(g) && !toeplitz_ok(g) && wide_ok(g);
}

static mt_status engine_conv_backward_params_pooled(const mt_conv_geom *g, const float *x,
                                                    const mt_pool_grad *pg, float *dw,
                                                    float *db, float *da) {
    if (!engine_conv_backward_pooled_ok(g))
        return mt_fail(MT_ERR_UNSUPPORTED, "conv2d_prelu_pool_backward: geometry not supported");
    const int64_t k = g->cin * g->kh * g->kw, per = g->cout * k + g->cout;
    wide_job wj = {.x = x, .pg = pg};
    MT_TRY(wide_prepare(&wj, g));
    const int64_t items = g->n, grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    /* one partial sum per range, reduced in range order */
    const int64_t ranges = range_count(items, grain), stride = mt_prelu_part_stride(g->cout);
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * ranges));
    double *da_part = (double *)mt_cpu_scratch(0, sizeof(double) * (size_t)(stride * ranges));
    if (!part || !da_part) return MT_ERR_OOM;
    memset(part, 0, sizeof(float) * (size_t)(per * ranges));
    memset(da_part, 0, sizeof(double) * (size_t)(stride * ranges));
    wj.part = part;
    wj.da_part = da_part;
    run_ranges(items, grain, wide_bwdw_range, &wj);
    if (wj.bad)
        return mt_fail(MT_ERR_ARG, "conv2d_prelu_pool_backward: the maxima positions hold a "
                                   "value outside the %lldx%lld map (they must come from "
                                   "prelu_pool_forward on this layer's output)",
                       (long long)g->oh, (long long)g->ow);
    if (wj.failed)
        return mt_fail(MT_ERR_OOM, "conv2d_prelu_pool_backward: out of memory for packing buffers");
    for (int64_t t = 0; t < ranges; t++) {
        const float *pt = part + t * per;
        for (int64_t i = 0; i < g->cout * k; i++) dw[i] += pt[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++) db[i] += pt[g->cout * k + i];
    }
    for (int64_t c = 0; c < g->cout; c++) {
        double sum = 0.0;
        for (int64_t t = 0; t < ranges; t++) sum += da_part[t * stride + c];
        da[c] += (float)sum;
    }
    return MT_OK;
}

/* ---- fully connected ------------------------------------------------------------------------ */

/* C[M, N] (row stride ldc) = A * B for A given as a strided matrix (element (i, kk) at
 * a[i*ars + kk*acs]) and B already packed in panels (bpack, NR columns each, k rows), with
 * the epilogue of `tmpl` (bias, slope, accumulate) per tile. Rows are split over threads;
 * each thread packs groups of row blocks and runs every panel over each group. */
typedef struct fc_job {
    const float *a, *bpack;
    int64_t ars, acs, k, n, ldc;
    float *c;
    const mblocks *mb;
    mt_tile_out tmpl;
    int failed;
} fc_job;

#define FC_GROUP 4 /* row blocks packed together: A group in L2, each B panel read once */

static void fc_range(void *ctx, int64_t b0, int64_t b1, int thread) {
    (void)thread;
    fc_job *jb = (fc_job *)ctx;
    float *apack = (float *)mt_cpu_scratch(4, sizeof(float) *
                                                  (size_t)(FC_GROUP * ENGINE_MR_MAX * jb->k));
    if (!apack) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    const int64_t panels = (jb->n + ENGINE_NR - 1) / ENGINE_NR;
    for (int64_t g0 = b0; g0 < b1; g0 += FC_GROUP) {
        const int64_t g1 = g0 + FC_GROUP < b1 ? g0 + FC_GROUP : b1;
        int64_t off = 0;
        for (int64_t blk = g0; blk < g1; blk++) {
            pack_rows(jb->a, jb->ars, jb->acs, block_start(jb->mb, blk), block_rows(jb->mb, blk),
                      jb->k, apack + off);
            off += block_rows(jb->mb, blk) * jb->k;
        }
        for (int64_t pi = 0; pi < panels; pi++) {
            const int64_t n0 = pi * ENGINE_NR;
            const int nv = (int)(jb->n - n0 < ENGINE_NR ? jb->n - n0 : ENGINE_NR);
            const float *bp = jb->bpack + pi * jb->k * ENGINE_NR;
            off = 0;
            for (int64_t blk = g0; blk < g1; blk++) {
                const int64_t m0 = block_start(jb->mb, blk);
                const int mr = block_rows(jb->mb, blk);
                mt_tile_out o = jb->tmpl;
                o.c = jb->c + m0 * jb->ldc + n0;
                o.ldc = jb->ldc;
                o.nvalid = nv;
                if (o.bias) o.bias += o.col_params ? n0 : m0;
                if (o.slope) o.slope += o.col_params ? n0 : m0;
                engine_tile(mr, jb->k, apack + off, bp, &o);
                off += mr * jb->k;
            }
        }
    }
}

/* Packs B (element (kk, j) at b[kk*brs + j*bcs], k x n) into panels, then runs fc_range. */
static mt_status fc_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                         int64_t acs, const float *b, int64_t brs, int64_t bcs, float *c,
                         int64_t ldc, const mt_tile_out *tmpl, const char *what) {
    mblocks mb;
    MT_TRY(plan_rows(&mb, m));
    const int64_t panels = (n + ENGINE_NR - 1) / ENGINE_NR;
    float *bpack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(panels * k * ENGINE_NR));
    if (!bpack) return MT_ERR_OOM;
    for (int64_t pi = 0; pi < panels; pi++) {
        const int64_t n0 = pi * ENGINE_NR;
        const int nv = (int)(n - n0 < ENGINE_NR ? n - n0 : ENGINE_NR);
        pack_cols(b, brs, bcs, n0, nv, k, bpack + pi * k * ENGINE_NR);
    }
    fc_job jb = {.a = a, .bpack = bpack, .ars = ars, .acs = acs, .k = k, .n = n, .ldc = ldc,
                 .c = c, .mb = &mb, .tmpl = *tmpl};
    run_ranges(mb.n, grain_for(2.0 * (double)(ENGINE_MR_MAX * n * k)), fc_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "%s: out of memory for packing buffers", what);
    return MT_OK;
}

static mt_status engine_linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                       const float *w, const float *b, const float *prelu,
                                       float *y) {
    /* Y[n, out] = X[n, in] * W^T: B element (kk, j) = w[j*in + kk] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    t.bias = b;
    t.slope = prelu;
    t.col_params = 1;
    return fc_gemm(n, out, in, x, in, 1, w, 1, in, y, out, &t, "linear");
}

static mt_status engine_linear_backward_input(int64_t n, int64_t in, int64_t out,
                                              const float *dy, const float *w, float *dx) {
    /* dX[n, in] = dY[n, out] * W[out, in] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    return fc_gemm(n, in, out, dy, out, 1, w, in, 1, dx, in, &t, "linear_backward");
}

static mt_status engine_linear_backward_params(int64_t n, int64_t in, int64_t out,
                                               const float *x, const float *dy, float *dw,
                                               float *db) {
    /* dW[out, in] += dY^T[out, n] * X[n, in]: A element (o, kk) = dy[kk*out + o] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    t.accumulate = 1;
    MT_TRY(fc_gemm(out, in, n, dy, 1, out, x, in, 1, dw, in, &t, "linear_backward"));
    /* rows outer, outputs inner: each db[o] still sums in row order, and the inner loop is
     * a vector add instead of a serial chain */
    if (db)
        for (int64_t i = 0; i < n; i++) add_run(db, dy + i * out, out);
    return MT_OK;
}

#define ENGINE_TABLE(label)                                                                        \
    {                                                                                              \
        .name = label, .nr = ENGINE_NR, .mr_max = ENGINE_MR_MAX,                                   \
        .conv_forward = engine_conv_forward, .conv_backward_input = engine_conv_backward_input,    \
        .conv_backward_params = engine_conv_backward_params,                                       \
        .linear_forward = engine_linear_forward,                                                   \
        .linear_backward_input = engine_linear_backward_input,                                     \
        .linear_backward_params = engine_linear_backward_params,                                   \
        .conv_pool_forward = engine_conv_pool_forward,                                             \
        .conv_backward = engine_conv_backward,                                                     \
        .conv_backward_pooled_ok = engine_conv_backward_pooled_ok,                                 \
        .conv_backward_params_pooled = engine_conv_backward_params_pooled,                         \
    }

#include "cpu/engine/mt_cpu_engine_block.h"
