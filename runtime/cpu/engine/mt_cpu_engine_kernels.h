/*
 * mt_cpu_engine_kernels.h - the engine's micro-kernels and vector loops, written once over the
 * vector primitives of the engine file that includes the driver (mt_cpu_engine_avx512.c,
 * _avx2.c, _generic.c), the way ggml writes its loops over per-ISA GGML_F32_VEC_* macros.
 * Part of the engine driver (the first part mt_cpu_engine_impl.h includes).
 *
 * The engine file defines, for vectors of ENGINE_VEC floats (ENGINE_NR == 2 * ENGINE_VEC: a
 * micro-tile row is two vectors), as macros or always-inline functions, so that the loops
 * compile as if written with the intrinsics (an argument may be evaluated more than once):
 *   vec_t, mask_t                 a vector; a set of its lanes
 *   V_ZERO()  V_SET1(x)           zeros; x in every lane
 *   V_LOAD(p)  V_STORE(p, v)      aligned (64 bytes); V_LOADU, V_STOREU unaligned
 *   V_ADD(a, b)  V_MAX(a, b)      lane by lane (V_MAX: b where a > b fails, as maxps)
 *   V_FMA(a, b, c)                a * b + c, fused where the ISA has it
 *   V_FMA_BCAST(p, b, c)          the same with *p in every lane of a
 *   V_PRELU(v, s)                 v < 0 ? v * s : v, lane by lane
 *   V_HSUM(v)                     the sum of the lanes, in the engine's fixed order
 *   M_FIRST(n)  M_UPTO(n)         the first n lanes (M_FIRST: n >= 0; M_UPTO: any n)
 *   M_ANDNOT(a, b)                lanes of b not in a
 *   V_LOADU_M(p, m)               lanes m from p, zero elsewhere; lanes off m are not read
 *   V_LOADU_INTO(v, m, p)         v with lanes m loaded from p (v is zero on m)
 *   V_STOREU_M(p, m, v)           lanes m of v to p; nothing else written
 *   V_MAX_M(v, m, a)              lanes m: V_MAX(a, v); v elsewhere
 *   V_EVEN(a, b)  V_ODD(a, b)     lanes 0, 2, 4, ... (1, 3, 5, ...) of a then b
 *   V_ZIP_LO(a, b)  V_ZIP_HI(a, b)   a0 b0 a1 b1 ... of the lower (upper) halves
 * and what it does better than the shared loops (flags, 0 when undefined):
 *   ENGINE_CHEAP_MASKS  masked loads and stores cost what plain ones do (no "whole vector"
 *                       shortcuts)
 *   ENGINE_SHIFT_IN     V_SHIFT_IN(a, b, j): lanes 1.. of a, then lane j of b; a window's
 *                       third column is then shifted in rather than loaded again
 *   ENGINE_ZFILL        zfill_run pays (whole-vector stores of rows with zeros after them)
 *   ENGINE_TRANSPOSE    V_TRANSPOSE(r): r[0 .. VEC) transposed in registers
 *   ENGINE_COMPRESS     store_runs(MR, c0, c1, o): a wide tile's rows stored into the runs
 *                       of o from registers (bias, PReLU)
 *   ENGINE_PACK_PANEL   its own pack_panel
 *   ENGINE_WINO_GATHER  several short Winograd tile rows a vector (mt_cpu_engine_winograd.h)
 *   ENGINE_SERIAL_SUMS  its own sum_run and engine_dot_wide (the portable engine's serial
 *                       sums, which define its results), and the driver's scan-order pooling
 *                       instead of pool_band_s2
 *
 * What the rest of the driver calls (NR = ENGINE_NR, VEC = ENGINE_VEC):
 *   engine_tile(mr, k, a, b, o)        tile[i][j] = sum_k a[k*mr + i] * b[k*NR + j], stored
 *                                      as o says (mt_tile_out)
 *   engine_tile_wide(mr, k, a, src0, src1, split, nv, off, tile)
 *       tile[i*NR + j] = sum_k a[k*mr + i] * B(k, j) with B(k, j) = src0[off[k] + j] for
 *       j < split, src1[off[k] + j] for split <= j < nv, 0 beyond nv (nothing read there)
 *   engine_tile_wide_store(..., o)     that tile stored straight into the runs of o (wide_out:
 *                                      bias, PReLU); engine_tile_wide_rows(..., o): as o says
 *   engine_dot(mr, nr, nvec, a, lda, b, ldb, c, ldc)
 *       c[i*ldc + j] += sum_{p < nvec*VEC} a[i*lda + p] * b[j*ldb + p]
 *   engine_dot_wide(mr, nr, ns, nvec, tail, a, lda, astride, brow, bstride, c, ldc)
 *       c[i*ldc + j] += sum over samples s < ns and p < nvec*VEC of a[s*astride + i*lda + p]
 *       * brow[j][s*bstride + p], reading only the first `tail` values of b's last vector
 *       (a holds zeros beyond them)
 *   pack_panel(dst, k, off, src, j0, len, ns)   an im2col panel: row kk has, at columns
 *       [j0[s], j0[s] + len[s]), the values at src[s] + off[kk], zero elsewhere; 0 when the
 *       engine has none (the caller then copies run by run)
 *   pool_band_s2(y, ys, s, w, npy, pkh, last_rows, pkw, nout, ow)   stride-2 max pooling
 *   copy_run, pack_run, add_run, bias_prelu_run, zfill_run, sum_run     runs of n floats
 */

/* flags an engine leaves undefined are 0 */
#ifndef ENGINE_CHEAP_MASKS
#define ENGINE_CHEAP_MASKS 0
#endif
#ifndef ENGINE_SHIFT_IN
#define ENGINE_SHIFT_IN 0
#endif
#ifndef ENGINE_ZFILL
#define ENGINE_ZFILL 0
#endif
#ifndef ENGINE_TRANSPOSE
#define ENGINE_TRANSPOSE 0
#endif
#ifndef ENGINE_COMPRESS
#define ENGINE_COMPRESS 0
#endif
#ifndef ENGINE_PACK_PANEL
#define ENGINE_PACK_PANEL 0
#endif
#ifndef ENGINE_WINO_GATHER
#define ENGINE_WINO_GATHER 0
#endif
#ifndef ENGINE_SERIAL_SUMS
#define ENGINE_SERIAL_SUMS 0
#endif

_Static_assert(ENGINE_NR == 2 * ENGINE_VEC, "a micro-tile row is two vectors");

/* Packing buffers and the pooling's reads may run one vector (three) past their data. */
#define ENGINE_SLACK ENGINE_VEC
#define ENGINE_POOL_SLACK (3 * ENGINE_VEC)

/* Runs CALL(n) for mr == n, n = 1 .. ENGINE_MR_MAX: the micro-kernels are compiled once per
 * row count, so that their accumulators live in registers. */
#define MR_CASE(n, CALL)                                                                           \
    case n:                                                                                        \
        if ((n) <= ENGINE_MR_MAX) CALL(n);                                                         \
        break;
#define MR_DISPATCH(mr, CALL)                                                                      \
    switch (mr) {                                                                                  \
        MR_CASE(1, CALL) MR_CASE(2, CALL) MR_CASE(3, CALL) MR_CASE(4, CALL) MR_CASE(5, CALL)       \
        MR_CASE(6, CALL) MR_CASE(7, CALL) MR_CASE(8, CALL) MR_CASE(9, CALL) MR_CASE(10, CALL)      \
        MR_CASE(11, CALL) MR_CASE(12, CALL) MR_CASE(13, CALL) MR_CASE(14, CALL)                    \
        MR_CASE(15, CALL) MR_CASE(16, CALL)                                                        \
    default: break;                                                                                \
    }
_Static_assert(ENGINE_MR_MAX <= 16, "MR_DISPATCH covers 16 rows");

/* ---- runs --------------------------------------------------------------------------------- */

INLINE void copy_run(float *d, const float *s, int64_t n) {
    for (; n >= ENGINE_VEC; n -= ENGINE_VEC, d += ENGINE_VEC, s += ENGINE_VEC)
        V_STOREU(d, V_LOADU(s));
    if (n > 0) {
        const mask_t m = M_FIRST(n);
        V_STOREU_M(d, m, V_LOADU_M(s, m));
    }
}

/* copy_run, the last vector stored whole (up to ENGINE_SLACK floats past d + n) */
INLINE void pack_run(float *d, const float *s, int64_t n) {
    for (; n >= ENGINE_VEC; n -= ENGINE_VEC, d += ENGINE_VEC, s += ENGINE_VEC)
        V_STOREU(d, V_LOADU(s));
    if (n > 0) V_STOREU(d, V_LOADU_M(s, M_FIRST(n)));
}

INLINE void add_run(float *d, const float *s, int64_t n) {
    for (; n >= ENGINE_VEC; n -= ENGINE_VEC, d += ENGINE_VEC, s += ENGINE_VEC)
        V_STOREU(d, V_ADD(V_LOADU(d), V_LOADU(s)));
    if (n > 0) {
        const mask_t m = M_FIRST(n);
        V_STOREU_M(d, m, V_ADD(V_LOADU_M(d, m), V_LOADU_M(s, m)));
    }
}

INLINE void bias_prelu_run(float *d, const float *s, int64_t n, float bias, float slope, int act) {
    const vec_t bv = V_SET1(bias), sv = V_SET1(slope);
    for (int64_t i = 0; i < n; i += ENGINE_VEC) {
        const mask_t m = M_FIRST(n - i);
        vec_t v = V_ADD(V_LOADU_M(s + i, m), bv);
        if (act) v = V_PRELU(v, sv);
        V_STOREU_M(d + i, m, v);
    }
}

#if ENGINE_ZFILL
/* d[0..n) = s[0..n) and zeros up to the next multiple of VEC: whole-vector stores (masked
 * loads only), for rows laid onto a grid in ascending order, each row's zeros overwritten by
 * the next row. */
INLINE void zfill_run(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i += ENGINE_VEC) V_STOREU(d + i, V_LOADU_M(s + i, M_FIRST(n - i)));
}
#endif

#if !ENGINE_SERIAL_SUMS
/* Four vector accumulators (a serial float sum is latency-bound: 4 cycles an element). */
INLINE float sum_run(const float *s, int64_t n) {
    vec_t a0 = V_ZERO(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 * ENGINE_VEC <= n; i += 4 * ENGINE_VEC) {
        a0 = V_ADD(a0, V_LOADU(s + i));
        a1 = V_ADD(a1, V_LOADU(s + i + ENGINE_VEC));
        a2 = V_ADD(a2, V_LOADU(s + i + 2 * ENGINE_VEC));
        a3 = V_ADD(a3, V_LOADU(s + i + 3 * ENGINE_VEC));
    }
    for (; i < n; i += ENGINE_VEC) a0 = V_ADD(a0, V_LOADU_M(s + i, M_FIRST(n - i)));
    return V_HSUM(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}
#endif

/* ---- the broadcast micro-tile ------------------------------------------------------------- */

/* Where the B rows of a tile come from: a packed panel (b + kk*NR), or the input in place at
 * b + off[kk] ("wide"): whole vectors, lanes m00/m01 only, or lanes m00/m01 from b and
 * m10/m11 from s1 + off[kk] (a panel that spans two samples). */
enum { B_PANEL, B_WIDE, B_WIDE_MASKED, B_WIDE_TWO };

/* c0[i], c1[i] (columns 0 .. VEC-1, VEC .. NR-1 of row i) = sum over kk < k of
 * a[kk*MR + i] * B(kk, .): per k step two vector loads of B and MR broadcasts of A feed 2*MR
 * FMAs, in order of kk. */
INLINE void tile_acc(const int MR, const int SRC, int64_t k, const float *a, const float *b,
                     const float *s1, const int64_t *off, mask_t m00, mask_t m01, mask_t m10,
                     mask_t m11, vec_t *c0, vec_t *c1) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = V_ZERO();
    for (int64_t kk = 0; kk < k; kk++) {
        vec_t b0, b1;
        if (SRC == B_PANEL) {
            b0 = V_LOAD(b);
            b1 = V_LOAD(b + ENGINE_VEC);
        } else {
            const int64_t o = off[kk];
            if (SRC == B_WIDE) {
                b0 = V_LOADU(b + o);
                b1 = V_LOADU(b + o + ENGINE_VEC);
            } else {
                b0 = V_LOADU_M(b + o, m00);
                b1 = V_LOADU_M(b + o + ENGINE_VEC, m01);
                if (SRC == B_WIDE_TWO) { /* disjoint lanes */
                    b0 = V_LOADU_INTO(b0, m10, s1 + o);
                    b1 = V_LOADU_INTO(b1, m11, s1 + o + ENGINE_VEC);
                }
            }
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            c0[i] = V_FMA_BCAST(a + i, b0, c0[i]);
            c1[i] = V_FMA_BCAST(a + i, b1, c1[i]);
        }
        a += MR;
        if (SRC == B_PANEL) b += ENGINE_NR;
    }
}

/* Stores rows [0, MR) of the accumulators as o says: columns < o->nvalid, added to what is
 * there (accumulate), plus bias, PReLU. */
INLINE void tile_store(const int MR, const vec_t *c0, const vec_t *c1, const mt_tile_out *o) {
    const int nv = o->nvalid;
    const mask_t k0 = M_UPTO(nv), k1 = M_UPTO(nv - ENGINE_VEC);
    const int full = !ENGINE_CHEAP_MASKS && nv >= ENGINE_NR;
    vec_t bv0 = V_ZERO(), bv1 = bv0, sv0 = bv0, sv1 = bv0;
    if (o->col_params) {
        if (o->bias) {
            bv0 = V_LOADU_M(o->bias, k0);
            bv1 = V_LOADU_M(o->bias + ENGINE_VEC, k1);
        }
        if (o->slope) {
            sv0 = V_LOADU_M(o->slope, k0);
            sv1 = V_LOADU_M(o->slope + ENGINE_VEC, k1);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        float *c = o->c + i * o->ldc;
        vec_t r0 = c0[i], r1 = c1[i];
        if (o->accumulate) {
            r0 = V_ADD(r0, full ? V_LOADU(c) : V_LOADU_M(c, k0));
            r1 = V_ADD(r1, full ? V_LOADU(c + ENGINE_VEC) : V_LOADU_M(c + ENGINE_VEC, k1));
        }
        if (o->bias) {
            if (!o->col_params) bv0 = bv1 = V_SET1(o->bias[i]);
            r0 = V_ADD(r0, bv0);
            r1 = V_ADD(r1, bv1);
        }
        if (o->slope) {
            if (!o->col_params) sv0 = sv1 = V_SET1(o->slope[i]);
            r0 = V_PRELU(r0, sv0);
            r1 = V_PRELU(r1, sv1);
        }
        if (full) {
            V_STOREU(c, r0);
            V_STOREU(c + ENGINE_VEC, r1);
        } else {
            V_STOREU_M(c, k0, r0);
            V_STOREU_M(c + ENGINE_VEC, k1, r1);
        }
    }
}

INLINE void tile_panel(const int MR, int64_t k, const float *a, const float *b,
                       const mt_tile_out *o) {
    vec_t c0[ENGINE_MR_MAX], c1[ENGINE_MR_MAX];
    const mask_t none = M_UPTO(0);
    tile_acc(MR, B_PANEL, k, a, b, NULL, NULL, none, none, none, none, c0, c1);
    tile_store(MR, c0, c1, o);
}

static void engine_tile(int mr, int64_t k, const float *a, const float *b, const mt_tile_out *o) {
#define TILE_CALL(n) tile_panel(n, k, a, b, o)
    MR_DISPATCH(mr, TILE_CALL)
#undef TILE_CALL
}

/* The wide tile (B read in place): into tile (the plain tile, rows NR apart), or stored as to
 * says (tile_store), or into the runs of o (engines with store_runs). */
INLINE void tile_wide_body(const int MR, const int SRC, int64_t k, const float *a,
                           const float *s0, const float *s1, mask_t m00, mask_t m01, mask_t m10,
                           mask_t m11, const int64_t *off, float *tile, const wide_out *o,
                           const mt_tile_out *to) {
    vec_t c0[ENGINE_MR_MAX], c1[ENGINE_MR_MAX];
    tile_acc(MR, SRC, k, a, s0, s1, off, m00, m01, m10, m11, c0, c1);
    if (tile) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            V_STORE(tile + i * ENGINE_NR, c0[i]);
            V_STORE(tile + i * ENGINE_NR + ENGINE_VEC, c1[i]);
        }
        return;
    }
    if (to) {
        tile_store(MR, c0, c1, to);
        return;
    }
#if ENGINE_COMPRESS
    store_runs(MR, c0, c1, o);
#else
    (void)o;
#endif
}

INLINE void tile_wide_mr(const int SRC, int mr, int64_t k, const float *a, const float *src0,
                         const float *src1, mask_t m00, mask_t m01, mask_t m10, mask_t m11,
                         const int64_t *off, float *tile, const wide_out *o,
                         const mt_tile_out *to) {
#define WIDE_CALL(n) tile_wide_body(n, SRC, k, a, src0, src1, m00, m01, m10, m11, off, tile, o, to)
    MR_DISPATCH(mr, WIDE_CALL)
#undef WIDE_CALL
}

/* Lanes [0, split) from src0, [split, nv) from src1, none past nv. */
static void tile_wide_any(int mr, int64_t k, const float *a, const float *src0,
                          const float *src1, int split, int nv, const int64_t *off, float *tile,
                          const wide_out *o, const mt_tile_out *to) {
    const mask_t m00 = M_UPTO(split), m01 = M_UPTO(split - ENGINE_VEC);
    const mask_t m10 = M_ANDNOT(m00, M_UPTO(nv)), m11 = M_ANDNOT(m01, M_UPTO(nv - ENGINE_VEC));
    if (nv > split)
        tile_wide_mr(B_WIDE_TWO, mr, k, a, src0, src1, m00, m01, m10, m11, off, tile, o, to);
    else if (split < ENGINE_NR)
        tile_wide_mr(B_WIDE_MASKED, mr, k, a, src0, src1, m00, m01, m10, m11, off, tile, o, to);
    else
        tile_wide_mr(B_WIDE, mr, k, a, src0, src1, m00, m01, m10, m11, off, tile, o, to);
}

static void engine_tile_wide(int mr, int64_t k, const float *a, const float *src0,
                             const float *src1, int split, int nv, const int64_t *off,
                             float *tile) {
    tile_wide_any(mr, k, a, src0, src1, split, nv, off, tile, NULL, NULL);
}

static void engine_tile_wide_rows(int mr, int64_t k, const float *a, const float *src0,
                                  const float *src1, int split, int nv, const int64_t *off,
                                  const mt_tile_out *o) {
    tile_wide_any(mr, k, a, src0, src1, split, nv, off, NULL, NULL, o);
}

static void engine_tile_wide_store(int mr, int64_t k, const float *a, const float *src0,
                                   const float *src1, int split, int nv, const int64_t *off,
                                   const wide_out *o) {
#if ENGINE_COMPRESS
    tile_wide_any(mr, k, a, src0, src1, split, nv, off, NULL, o, NULL);
#else
    /* without compressing stores: the tile, then its runs with bias and PReLU */
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    tile_wide_any(mr, k, a, src0, src1, split, nv, off, tile, NULL, NULL);
    for (int i = 0; i < mr; i++)
        for (int r = 0; r < o->nrun; r++)
            bias_prelu_run(o->dst[r] + i * o->ldc, tile + i * ENGINE_NR + o->j0[r], o->len[r],
                           o->bias ? o->bias[i] : 0.0f, o->slope ? o->slope[i] : 0.0f,
                           o->slope != NULL);
#endif
}

#if !ENGINE_PACK_PANEL
/* No direct im2col panel packing: the driver copies run by run. */
static int pack_panel(float *dst, int64_t k, const int64_t *off, const float *const *src,
                      const int *j0, const int *len, int ns) {
    (void)dst, (void)k, (void)off, (void)src, (void)j0, (void)len, (void)ns;
    return 0;
}
#endif

/* ---- the dot micro-tile (weight gradients) ------------------------------------------------ */

/* Runs CALL(m, n) for mr == m, nr == n (1 .. ENGINE_DOT_MR, 1 .. ENGINE_DOT_NR). */
#define DOT_CASE(m, n, CALL)                                                                       \
    case (m) * 8 + (n):                                                                            \
        if ((m) <= ENGINE_DOT_MR && (n) <= ENGINE_DOT_NR) CALL(m, n);                              \
        break;
#define DOT_ROW(m, CALL)                                                                           \
    DOT_CASE(m, 1, CALL) DOT_CASE(m, 2, CALL) DOT_CASE(m, 3, CALL) DOT_CASE(m, 4, CALL)            \
    DOT_CASE(m, 5, CALL) DOT_CASE(m, 6, CALL)
#define DOT_DISPATCH(mr, nr, CALL)                                                                 \
    switch ((mr) * 8 + (nr)) {                                                                     \
        DOT_ROW(1, CALL) DOT_ROW(2, CALL) DOT_ROW(3, CALL) DOT_ROW(4, CALL)                        \
    default: break;                                                                                \
    }
_Static_assert(ENGINE_DOT_MR <= 4 && ENGINE_DOT_NR <= 6, "DOT_DISPATCH covers 4 x 6");

/* One step of the dot tile: vector v of A's rows (as + i*lda, aligned) against B's (b + j*ldb,
 * aligned; or bs[j], unaligned: SRC 1 whole, SRC 2 only `tail` lanes read) into acc. */
INLINE void dot_step(const int MR, const int NR, const int SRC, const float *as, int64_t lda,
                     const float *b, int64_t ldb, const float *const *bs, int64_t v, int tail,
                     vec_t (*acc)[ENGINE_DOT_NR]) {
    vec_t av[ENGINE_DOT_MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) av[i] = V_LOAD(as + i * lda + v * ENGINE_VEC);
#pragma GCC unroll 6
    for (int j = 0; j < NR; j++) {
        const vec_t bv = SRC == 0   ? V_LOAD(b + j * ldb + v * ENGINE_VEC)
                         : SRC == 1 ? V_LOADU(bs[j] + v * ENGINE_VEC)
                                    : V_LOADU_M(bs[j] + v * ENGINE_VEC, M_FIRST(tail));
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) acc[i][j] = V_FMA(av[i], bv, acc[i][j]);
    }
}

/* c[i*ldc + j] += the dot products of rows i < MR of A and j < NR of B, each in one vector
 * accumulator (lanes summed once at the end, V_HSUM): over samples smp < ns, A's row at
 * a + smp*astride + i*lda (aligned), B's at brow[j] + smp*bstride (WIDE: unaligned, only
 * `tail` of its last vector read: that step is peeled off the loop) or at b + j*ldb (aligned,
 * ns == 1), nvec vectors each. */
INLINE void dot_tile(const int MR, const int NR, const int WIDE, int64_t ns, int64_t nvec,
                     int tail, const float *a, int64_t lda, int64_t astride, const float *b,
                     int64_t ldb, const float *const *brow, int64_t bstride, float *c,
                     int64_t ldc) {
    vec_t acc[ENGINE_DOT_MR][ENGINE_DOT_NR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) acc[i][j] = V_ZERO();
    for (int64_t smp = 0; smp < ns; smp++) {
        const float *as = a + smp * astride;
        const float *bs[ENGINE_DOT_NR];
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) bs[j] = WIDE ? brow[j] + smp * bstride : NULL;
        for (int64_t v = 0; v < nvec - WIDE; v++)
            dot_step(MR, NR, WIDE, as, lda, b, ldb, bs, v, tail, acc);
        if (WIDE) dot_step(MR, NR, 2, as, lda, b, ldb, bs, nvec - 1, tail, acc);
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) c[i * ldc + j] += V_HSUM(acc[i][j]);
}

static void engine_dot(int mr, int nr, int64_t nvec, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc) {
#define DOT_CALL(m, n) dot_tile(m, n, 0, 1, nvec, 0, a, lda, 0, b, ldb, NULL, 0, c, ldc)
    DOT_DISPATCH(mr, nr, DOT_CALL)
#undef DOT_CALL
}

#if !ENGINE_SERIAL_SUMS
static void engine_dot_wide(int mr, int nr, int64_t ns, int64_t nvec, int tail, const float *a,
                            int64_t lda, int64_t astride, const float *const *brow,
                            int64_t bstride, float *c, int64_t ldc) {
#define DOT_CALL(m, n)                                                                             \
    dot_tile(m, n, 1, ns, nvec, tail, a, lda, astride, NULL, 0, brow, bstride, c, ldc)
    DOT_DISPATCH(mr, nr, DOT_CALL)
#undef DOT_CALL
}
#endif

/* ---- stride-2 max pooling of a band (mt_cpu_engine_block.h) ------------------------------- */

#if !ENGINE_SERIAL_SUMS
/* Pooled rows k < npy from the rows of s (w apart), row k's window starting at row 2k and
 * spanning pkh rows (the last one last_rows: clipped), columns windows of pkw (2 or 3)
 * clipped at column ow; y[k*ys + px] for px < nout. The window maxima of VEC outputs are
 * formed in registers (a pass through memory would stall on store forwarding): the vertical
 * maximum of their 2*VEC columns, its even and odd lanes, and for the third column either
 * one more column's maximum shifted in (ENGINE_SHIFT_IN) or the rows read again two columns
 * on; clipped columns masked off. One call per band and channel: the masks of a column chunk
 * serve all its rows. Reads up to ENGINE_POOL_SLACK floats past the last window. */
static void pool_band_s2(float *y, int64_t ys, const float *s, int64_t w, int64_t npy, int pkh,
                         int last_rows, int pkw, int64_t nout, int64_t ow) {
    for (int64_t px = 0; px < nout; px += ENGINE_VEC) {
        /* lanes whose window's second (third) column lies inside the row */
        const int64_t left = ow - 2 * px, rest = nout - px;
        const mask_t k1 = M_UPTO(left > 1 ? left / 2 : 0);
        const mask_t k2 = M_UPTO(left > 2 ? (left - 1) / 2 : 0);
        const mask_t ks = M_FIRST(rest);
        for (int64_t k = 0; k < npy; k++) {
            const int nrows = k == npy - 1 ? last_rows : pkh;
            const float *b = s + 2 * k * w + 2 * px;
            vec_t v0 = V_LOADU(b), v1 = V_LOADU(b + ENGINE_VEC);
#if ENGINE_SHIFT_IN
            vec_t t0 = V_LOADU_M(b + 2 * ENGINE_VEC, M_FIRST(1));
#else
            vec_t t0 = V_LOADU(b + 2), t1 = V_LOADU(b + 2 + ENGINE_VEC);
#endif
            for (int r = 1; r < nrows; r++) {
                const float *br = b + r * w;
                v0 = V_MAX(V_LOADU(br), v0);
                v1 = V_MAX(V_LOADU(br + ENGINE_VEC), v1);
#if ENGINE_SHIFT_IN
                t0 = V_MAX(V_LOADU_M(br + 2 * ENGINE_VEC, M_FIRST(1)), t0);
#else
                if (pkw == 3) {
                    t0 = V_MAX(V_LOADU(br + 2), t0);
                    t1 = V_MAX(V_LOADU(br + 2 + ENGINE_VEC), t1);
                }
#endif
            }
            const vec_t e = V_EVEN(v0, v1);
            vec_t m = V_MAX_M(e, k1, V_ODD(v0, v1));
            if (pkw == 3) {
#if ENGINE_SHIFT_IN
                const vec_t third = V_SHIFT_IN(e, t0, 0);
#else
                const vec_t third = V_EVEN(t0, t1);
#endif
                m = V_MAX_M(m, k2, third);
            }
            float *d = y + k * ys + px;
            if (!ENGINE_CHEAP_MASKS && rest >= ENGINE_VEC)
                V_STOREU(d, m);
            else
                V_STOREU_M(d, ks, m);
        }
    }
}
#endif
