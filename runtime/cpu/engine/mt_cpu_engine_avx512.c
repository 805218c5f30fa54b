/* mt_cpu_engine_avx512.c - the GEMM engine with AVX-512 micro-kernels (AMD Zen 4/5, Intel
 * Skylake-SP and later). Compiled with a target pragma, so the rest of the build needs no
 * -march flag; mt_cpu_kernels.c only calls it when the CPU reports AVX-512 F/BW/DQ/VL.
 *
 * Broadcast tile: MR (<= 14) rows x 32 columns = 28 zmm accumulators; per k step two
 * vector loads of the packed panel and MR broadcasts of the packed weights feed 2*MR FMAs.
 * Dot tile: 4 rows x 6 columns = 24 accumulators along 16 pixels; per step 10 loads feed 24
 * FMAs. Both keep enough independent accumulators to cover the FMA latency (PERF.md). */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,avx2,bmi,bmi2")
#define ENGINE_BUILD 1
#endif

#include "cpu/engine/mt_cpu_engine.h"

#ifdef ENGINE_BUILD
#include <immintrin.h>

#define ENGINE_NR 32
#define ENGINE_MR_MAX 14
#define ENGINE_VEC 16
#define ENGINE_DOT_MR 4
#define ENGINE_DOT_NR 6

#define INLINE static inline __attribute__((always_inline))

/* ---- vector primitives (mt_cpu_engine_kernels.h) ---- */

typedef __m512 vec_t;
typedef __mmask16 mask_t;

/* The first n lanes: n >= 0 (first_lanes), any n (lanes_upto). */
INLINE __mmask16 first_lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}
INLINE __mmask16 lanes_upto(int64_t n) { return n <= 0 ? (__mmask16)0 : first_lanes(n); }

INLINE __m512 prelu16(__m512 v, __m512 s) {
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, s);
}

#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_LOAD(p) _mm512_load_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_store_ps(p, v)
#define V_STOREU(p, v) _mm512_storeu_ps(p, v)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_PRELU(v, s) prelu16(v, s)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define M_FIRST(n) first_lanes(n)
#define M_UPTO(n) lanes_upto(n)
#define M_ANDNOT(a, b) ((__mmask16)(~(a) & (b)))
#define V_LOADU_M(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_LOADU_INTO(v, m, p) _mm512_mask_loadu_ps(v, m, p)
#define V_STOREU_M(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define V_MAX_M(v, m, a) _mm512_mask_max_ps(v, m, a, v)
#define V_EVEN(a, b)                                                                               \
    _mm512_permutex2var_ps(                                                                        \
        a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b)
#define V_ODD(a, b)                                                                                \
    _mm512_permutex2var_ps(                                                                        \
        a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b)
#define V_ZIP_LO(a, b)                                                                             \
    _mm512_permutex2var_ps(                                                                        \
        a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b)
#define V_ZIP_HI(a, b)                                                                             \
    _mm512_permutex2var_ps(                                                                        \
        a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b)
#define V_SHIFT_IN(a, b, j)                                                                        \
    _mm512_permutex2var_ps(                                                                        \
        a, _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 + (j)), b)

#define ENGINE_CHEAP_MASKS 1
#define ENGINE_SHIFT_IN 1
#define ENGINE_ZFILL 1

/* ---- what AVX-512 does beyond the shared loops ---- */

/* A wide tile's rows straight into the output runs of o: bias, PReLU, then each run's lanes
 * compressed to the front and stored under a mask (ENGINE_COMPRESS). */
#define ENGINE_COMPRESS 1
INLINE void store_runs(const int MR, const __m512 *c0, const __m512 *c1, const wide_out *o) {
    __mmask16 rm0[MT_WIDE_RUNS], rm1[MT_WIDE_RUNS];
    for (int r = 0; r < o->nrun; r++) {
        const uint32_t bits = (o->len[r] >= 32 ? 0xFFFFFFFFu : ((1u << o->len[r]) - 1u)) << o->j0[r];
        rm0[r] = (__mmask16)bits;
        rm1[r] = (__mmask16)(bits >> 16);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        __m512 r0 = c0[i], r1 = c1[i];
        if (o->bias) {
            const __m512 bv = _mm512_set1_ps(o->bias[i]);
            r0 = _mm512_add_ps(r0, bv);
            r1 = _mm512_add_ps(r1, bv);
        }
        if (o->slope) {
            const __m512 sv = _mm512_set1_ps(o->slope[i]);
            r0 = prelu16(r0, sv);
            r1 = prelu16(r1, sv);
        }
        for (int r = 0; r < o->nrun; r++) {
            float *d = o->dst[r] + i * o->ldc;
            const int n0 = __builtin_popcount(rm0[r]);
            if (n0) _mm512_mask_storeu_ps(d, first_lanes(n0), _mm512_maskz_compress_ps(rm0[r], r0));
            if (rm1[r])
                _mm512_mask_storeu_ps(d + n0, first_lanes(__builtin_popcount(rm1[r])),
                                      _mm512_maskz_compress_ps(rm1[r], r1));
        }
    }
}

/* r[0..16) transposed in registers: pairs of lanes, then 4 x 4 blocks within 128-bit lanes,
 * then the 128-bit lanes across the rows. */
INLINE void transpose16(__m512 *r) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

/* dst[i*16 + s] = src[s*stride + i] for i < stride, s < n (n <= 16); zero in lanes n .. 15,
 * in 16 x 16 blocks transposed in registers. */
#define ENGINE_LANES_TRANSPOSE 1
static void lanes_transpose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 16) {
        const int64_t len = stride - i0 < 16 ? stride - i0 : 16;
        const __mmask16 m = first_lanes(len);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < n ? _mm512_maskz_loadu_ps(m, src + i * stride + i0) : _mm512_setzero_ps();
        transpose16(r);
        float *d = dst + i0 * 16;
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            if (i < len) _mm512_storeu_ps(d + i * 16, r[i]);
    }
}

/* The inverse: dst[s*stride + i] = src[i*16 + s] for i < stride, s < n (lanes n .. 15 are
 * not read out). */
static void lanes_untranspose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 16) {
        const int64_t len = stride - i0 < 16 ? stride - i0 : 16;
        const __mmask16 m = first_lanes(len);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < len ? _mm512_loadu_ps(src + (i0 + i) * 16) : _mm512_setzero_ps();
        transpose16(r);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            if (i < n) _mm512_mask_storeu_ps(dst + i * stride + i0, m, r[i]);
    }
}

/* An im2col panel row by row: each of its two vectors merged from masked loads of the runs
 * that cover it, then one aligned store (unaligned and masked stores cost more here). */
#define ENGINE_PACK_PANEL 1
#define PACK_PIECES 16
static int pack_panel(float *dst, int64_t k, const int64_t *off, const float *const *src,
                      const int *j0, const int *len, int ns) {
    const float *pp[2][PACK_PIECES];
    __mmask16 pm[2][PACK_PIECES];
    int np[2] = {0, 0};
    for (int s = 0; s < ns; s++) {
        const uint32_t bits = (len[s] >= 32 ? 0xFFFFFFFFu : ((1u << len[s]) - 1u)) << j0[s];
        for (int v = 0; v < 2; v++) {
            const __mmask16 m = (__mmask16)(bits >> (16 * v));
            if (!m) continue;
            if (np[v] == PACK_PIECES) return 0;
            /* lane l of vector v reads src[s] + (16 v + l - j0[s]); lanes off the mask are
             * never read */
            pp[v][np[v]] = src[s] + (16 * v - j0[s]);
            pm[v][np[v]] = m;
            np[v]++;
        }
    }
    if (np[0] <= 2 && np[1] <= 2) {
        /* the common case (runs longer than a few columns): straight-line code, unused pieces
         * masked off entirely */
        for (int v = 0; v < 2; v++)
            for (int i = np[v]; i < 2; i++) {
                pp[v][i] = np[v] ? pp[v][0] : src[0]; /* any valid address: nothing is read */
                pm[v][i] = 0;
            }
        const float *p00 = pp[0][0], *p01 = pp[0][1], *p10 = pp[1][0], *p11 = pp[1][1];
        const __mmask16 m00 = pm[0][0], m01 = pm[0][1], m10 = pm[1][0], m11 = pm[1][1];
        for (int64_t kk = 0; kk < k; kk++) {
            const int64_t o = off[kk];
            __m512 r0 = _mm512_maskz_loadu_ps(m00, p00 + o);
            __m512 r1 = _mm512_maskz_loadu_ps(m10, p10 + o);
            r0 = _mm512_mask_loadu_ps(r0, m01, p01 + o);
            r1 = _mm512_mask_loadu_ps(r1, m11, p11 + o);
            _mm512_store_ps(dst + kk * 32, r0);
            _mm512_store_ps(dst + kk * 32 + 16, r1);
        }
        return 1;
    }
    for (int64_t kk = 0; kk < k; kk++) {
        const int64_t o = off[kk];
        for (int v = 0; v < 2; v++) {
            __m512 r = _mm512_setzero_ps();
            for (int i = 0; i < np[v]; i++) r = _mm512_mask_loadu_ps(r, pm[v][i], pp[v][i] + o);
            _mm512_store_ps(dst + kk * 32 + 16 * v, r);
        }
    }
    return 1;
}

/* Stride-2 max pooling of a band: pooled rows k < npy from the rows of s (w apart), row k's
 * window starting at row 2k and spanning pkh rows (the last one last_rows: clipped), columns
 * windows of pkw (2 or 3) clipped at column ow; y[k*ys + px] for px < nout. The window maxima
 * of 16 outputs are formed in registers (vertical maximum of 32 + 1 columns, then even/odd
 * lanes picked by permutes; clipped columns masked off): a pass through memory would stall
 * on store forwarding. One call per band and channel: the masks of a column chunk serve all
 * its rows. Reads up to ENGINE_POOL_SLACK floats past the last window. */
INLINE __m512 pool_window_rows(const float *b, int64_t w, int nrows, __m512 *v1, __m512 *v2) {
    __m512 v0 = _mm512_loadu_ps(b);
    *v1 = _mm512_loadu_ps(b + 16);
    *v2 = _mm512_maskz_loadu_ps(1, b + 32);
    for (int r = 1; r < nrows; r++) {
        const float *br = b + r * w;
        v0 = _mm512_max_ps(_mm512_loadu_ps(br), v0);
        *v1 = _mm512_max_ps(_mm512_loadu_ps(br + 16), *v1);
        *v2 = _mm512_max_ps(_mm512_maskz_loadu_ps(1, br + 32), *v2);
    }
    return v0;
}

static void pool_band_s2(float *y, int64_t ys, const float *s, int64_t w, int64_t npy, int pkh,
                         int last_rows, int pkw, int64_t nout, int64_t ow) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                           16);
    for (int64_t px = 0; px < nout; px += 16) {
        /* lanes whose window's second (third) column lies inside the row */
        const int64_t left = ow - 2 * px;
        const __mmask16 k1 = left > 1 ? first_lanes(left / 2) : 0;
        const __mmask16 k2 = left > 2 ? first_lanes((left - 1) / 2) : 0;
        const __mmask16 ks = first_lanes(nout - px);
        for (int64_t k = 0; k < npy; k++) {
            const int nrows = k == npy - 1 ? last_rows : pkh;
            __m512 v1, v2;
            const __m512 v0 = pool_window_rows(s + 2 * k * w + 2 * px, w, nrows, &v1, &v2);
            const __m512 e = _mm512_permutex2var_ps(v0, even, v1);
            __m512 m = _mm512_mask_max_ps(e, k1, _mm512_permutex2var_ps(v0, odd, v1), e);
            if (pkw == 3) m = _mm512_mask_max_ps(m, k2, _mm512_permutex2var_ps(e, next, v2), m);
            _mm512_mask_storeu_ps(y + k * ys + px, ks, m);
        }
    }
}

/* ---- Winograd F(2x2, 3x3) lane shuffles (mt_cpu_engine_winograd.h) ---- */

typedef float wvec __attribute__((vector_size(64)));


/* How the lanes of a run of tiles map to the input and output rows. One tile row: lane t is
 * tile t (up to 16 tiles, columns 2t .. 2t + 3 read from up to 34 columns). Several tile
 * rows (maps at most 16 wide: RNet conv2, ONet conv3): lane r*len + t is tile t of tile
 * row r; each input row is one vector and permutes gather the lanes of two rows at a time. */
typedef struct wino_rows {
    int nrows, len;
    __mmask16 m0, m1, m2;   /* loads of one row: columns 0-15, 16-31, 32-33 */
    __mmask16 upper;        /* lanes of tile rows 2 and 3 */
    __m512i idx[4];         /* column j of tile rows 0-1 (from rows 0, 1) or 2-3 (2, 3) */
    __m512i out[4];         /* output row of tile row r: (a, b) pairs of its lanes */
} wino_rows;

/* Tile rows one vector takes for maps of ntx tiles a row, w input columns. */
static int wino_rows_per_vec(int64_t ntx, int64_t w) {
    if (w > 16) return 1;
    int r = (int)(16 / ntx);
    return r > 4 ? 4 : r < 1 ? 1 : r;
}

/* ncols: input columns readable from the first tile's first column. */
static void wino_rows_init(wino_rows *L, int nrows, int len, int64_t ncols) {
    L->nrows = nrows;
    L->len = len;
    L->m0 = lanes_upto(ncols);
    L->m1 = lanes_upto(ncols - 16);
    L->m2 = lanes_upto(ncols - 32) & 3;
    if (nrows == 1) return;
    int32_t idx[4][16], out[4][16];
    L->upper = 0;
    for (int l = 0; l < 16; l++) {
        const int r = l / len < nrows ? l / len : 0, t = l % len;
        if (l / len >= 2 && l / len < nrows) L->upper |= (__mmask16)(1u << l);
        for (int j = 0; j < 4; j++) idx[j][l] = (r & 1) * 16 + 2 * t + j;
    }
    for (int r = 0; r < 4; r++)
        for (int l = 0; l < 16; l++) {
            const int t = (l / 2) % len; /* pairs past the row are not stored */
            out[r][l] = (l % 2) * 16 + r * len + t;
        }
    for (int j = 0; j < 4; j++) L->idx[j] = _mm512_loadu_si512(idx[j]);
    for (int r = 0; r < 4; r++) L->out[r] = _mm512_loadu_si512(out[r]);
}

/* d_j[lane of tile (r, t)] = p[r][2t + j] (0 for p[r] == NULL and unreadable columns). */
INLINE void wino_load(const wino_rows *L, const float *const *p, wvec *d) {
    if (L->nrows == 1) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                               15, 16);
        const __m512i next2 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                                15, 17);
        const float *q = p[0];
        const __mmask16 on = q ? 0xFFFF : 0;
        if (!q) q = (const float *)L; /* any address: nothing is read */
        const __m512 v0 = _mm512_maskz_loadu_ps(L->m0 & on, q);
        const __m512 v1 = _mm512_maskz_loadu_ps(L->m1 & on, q + 16);
        const __m512 v2 = _mm512_maskz_loadu_ps(L->m2 & on, q + 32);
        const __m512 e = _mm512_permutex2var_ps(v0, even, v1);
        const __m512 o = _mm512_permutex2var_ps(v0, odd, v1);
        d[0] = e;
        d[1] = o;
        d[2] = _mm512_permutex2var_ps(e, next, v2);
        d[3] = _mm512_permutex2var_ps(o, next2, v2);
        return;
    }
    __m512 v[4];
    for (int r = 0; r < 4; r++)
        v[r] = r < L->nrows && p[r] ? _mm512_maskz_loadu_ps(L->m0, p[r]) : _mm512_setzero_ps();
    for (int j = 0; j < 4; j++) {
        __m512 a = _mm512_permutex2var_ps(v[0], L->idx[j], v[1]);
        if (L->nrows > 2)
            a = _mm512_mask_blend_ps(L->upper, a, _mm512_permutex2var_ps(v[2], L->idx[j], v[3]));
        d[j] = a;
    }
}

/* d[0 .. n) = the first n lanes of v. */
INLINE void wino_store_n(float *d, const wvec *v, int n) {
    _mm512_mask_storeu_ps(d, lanes_upto(n), *v);
}

INLINE void wino_prelu(wvec *v, float slope) {
    const __m512 x = *v;
    *v = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x,
                            _mm512_set1_ps(slope));
}

/* Output row of tile row r (out[r], NULL: none): out[r][2t] = a[lane (r, t)], out[r][2t+1] =
 * b[lane (r, t)], the first n values. */
INLINE void wino_store(const wino_rows *L, float *const *out, const wvec *pa, const wvec *pb,
                       int n) {
    const __m512 a = *pa, b = *pb;
    if (L->nrows == 1) {
        if (!out[0]) return;
        const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                             23);
        const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
        _mm512_mask_storeu_ps(out[0], lanes_upto(n), _mm512_permutex2var_ps(a, lo, b));
        _mm512_mask_storeu_ps(out[0] + 16, lanes_upto(n - 16), _mm512_permutex2var_ps(a, hi, b));
        return;
    }
    const __mmask16 k = lanes_upto(n);
    for (int r = 0; r < L->nrows; r++)
        if (out[r]) _mm512_mask_storeu_ps(out[r], k, _mm512_permutex2var_ps(a, L->out[r], b));
}

#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_avx512(void) {
    static const mt_engine engine = ENGINE_TABLE("avx512");
    return &engine;
}

#else

const mt_engine *mt_engine_avx512(void) { return NULL; }

#endif
