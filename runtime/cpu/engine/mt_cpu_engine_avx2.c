/* mt_cpu_engine_avx2.c - the GEMM engine with AVX2 + FMA micro-kernels (x86-64 since
 * Haswell), for CPUs without AVX-512 (and Zen 4-style double-pumped AVX-512 comparisons).
 * Broadcast tile: MR (<= 6) rows x 16 columns = 12 ymm accumulators; dot tile 3 x 4. */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma,bmi,bmi2")
#define ENGINE_BUILD 1
#endif

#include "cpu/engine/mt_cpu_engine.h"

#ifdef ENGINE_BUILD
#include <immintrin.h>

#define ENGINE_NR 16
#define ENGINE_MR_MAX 6
#define ENGINE_VEC 8
#define ENGINE_DOT_MR 3
#define ENGINE_DOT_NR 4

#define INLINE static inline __attribute__((always_inline))

/* -1 for the first n of 8 lanes, 0 after: a mask for maskload/maskstore. */
static const int32_t lane_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

INLINE __m256i lane_mask(int n) {
    if (n <= 0) return _mm256_setzero_si256();
    if (n >= 8) return _mm256_set1_epi32(-1);
    return _mm256_loadu_si256((const __m256i *)(lane_mask_table + 8 - n));
}

INLINE __m256 prelu8(__m256 r, __m256 s) {
    const __m256 neg = _mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_mul_ps(r, s), neg);
}

INLINE void tile_body(const int MR, int64_t k, const float *a, const float *b,
                      const mt_tile_out *o) {
    __m256 c0[ENGINE_MR_MAX], c1[ENGINE_MR_MAX];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < k; kk++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
        a += MR;
        b += 16;
    }
    const int nv = o->nvalid;
    const __m256i k0 = lane_mask(nv), k1 = lane_mask(nv - 8);
    const int full = nv >= 16;
    __m256 bv0 = _mm256_setzero_ps(), bv1 = bv0, sv0 = bv0, sv1 = bv0;
    if (o->col_params) {
        if (o->bias) {
            bv0 = _mm256_maskload_ps(o->bias, k0);
            bv1 = _mm256_maskload_ps(o->bias + 8, k1);
        }
        if (o->slope) {
            sv0 = _mm256_maskload_ps(o->slope, k0);
            sv1 = _mm256_maskload_ps(o->slope + 8, k1);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        float *c = o->c + i * o->ldc;
        __m256 r0 = c0[i], r1 = c1[i];
        if (o->accumulate) {
            r0 = _mm256_add_ps(r0, full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, k0));
            r1 = _mm256_add_ps(r1, full ? _mm256_loadu_ps(c + 8) : _mm256_maskload_ps(c + 8, k1));
        }
        if (o->bias) {
            if (!o->col_params) bv0 = bv1 = _mm256_set1_ps(o->bias[i]);
            r0 = _mm256_add_ps(r0, bv0);
            r1 = _mm256_add_ps(r1, bv1);
        }
        if (o->slope) {
            if (!o->col_params) sv0 = sv1 = _mm256_set1_ps(o->slope[i]);
            r0 = prelu8(r0, sv0);
            r1 = prelu8(r1, sv1);
        }
        if (full) {
            _mm256_storeu_ps(c, r0);
            _mm256_storeu_ps(c + 8, r1);
        } else {
            _mm256_maskstore_ps(c, k0, r0);
            _mm256_maskstore_ps(c + 8, k1, r1);
        }
    }
}

#define TILE_CASE(n)                                                                               \
    case n: tile_body(n, k, a, b, o); break;

static void engine_tile(int mr, int64_t k, const float *a, const float *b, const mt_tile_out *o) {
    switch (mr) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    default: break;
    }
}

INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE void dot_body(const int MR, const int NR, int64_t nvec, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, int64_t ldc) {
    __m256 acc[ENGINE_DOT_MR][ENGINE_DOT_NR];
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    for (int64_t v = 0; v < nvec; v++) {
        __m256 av[ENGINE_DOT_MR];
#pragma GCC unroll 3
        for (int i = 0; i < MR; i++) av[i] = _mm256_load_ps(a + i * lda + v * 8);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            const __m256 bv = _mm256_load_ps(b + j * ldb + v * 8);
#pragma GCC unroll 3
            for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) c[i * ldc + j] += hsum8(acc[i][j]);
}

#define DOT_CASE(m, n)                                                                             \
    case (m) * 8 + (n): dot_body(m, n, nvec, a, lda, b, ldb, c, ldc); break;

static void engine_dot(int mr, int nr, int64_t nvec, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc) {
    switch (mr * 8 + nr) {
        DOT_CASE(1, 1) DOT_CASE(1, 2) DOT_CASE(1, 3) DOT_CASE(1, 4)
        DOT_CASE(2, 1) DOT_CASE(2, 2) DOT_CASE(2, 3) DOT_CASE(2, 4)
        DOT_CASE(3, 1) DOT_CASE(3, 2) DOT_CASE(3, 3) DOT_CASE(3, 4)
    default: break;
    }
}

INLINE void copy_run(float *d, const float *s, int64_t n) {
    while (n >= 8) {
        _mm256_storeu_ps(d, _mm256_loadu_ps(s));
        d += 8;
        s += 8;
        n -= 8;
    }
    if (n > 0) {
        const __m256i m = lane_mask((int)n);
        _mm256_maskstore_ps(d, m, _mm256_maskload_ps(s, m));
    }
}

INLINE void add_run(float *d, const float *s, int64_t n) {
    while (n >= 8) {
        _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), _mm256_loadu_ps(s)));
        d += 8;
        s += 8;
        n -= 8;
    }
    if (n > 0) {
        const __m256i m = lane_mask((int)n);
        _mm256_maskstore_ps(d, m, _mm256_add_ps(_mm256_maskload_ps(d, m), _mm256_maskload_ps(s, m)));
    }
}

INLINE void bias_prelu_run(float *d, const float *s, int64_t n, float bias, float slope, int act) {
    const __m256 bv = _mm256_set1_ps(bias), sv = _mm256_set1_ps(slope);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i m = lane_mask((int)(n - i));
        __m256 v = _mm256_add_ps(_mm256_maskload_ps(s + i, m), bv);
        if (act) v = prelu8(v, sv);
        _mm256_maskstore_ps(d + i, m, v);
    }
}

INLINE void tilew_body(const int MR, const int MODE, int64_t k, const float *a, const float *s0,
                       const float *s1, __m256i m00, __m256i m01, __m256i m10, __m256i m11,
                       const int64_t *off, float *tile) {
    __m256 c0[ENGINE_MR_MAX], c1[ENGINE_MR_MAX];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < k; kk++) {
        const int64_t o = off[kk];
        __m256 b0, b1;
        if (MODE == 0) {
            b0 = _mm256_loadu_ps(s0 + o);
            b1 = _mm256_loadu_ps(s0 + o + 8);
        } else {
            b0 = _mm256_maskload_ps(s0 + o, m00);
            b1 = _mm256_maskload_ps(s0 + o + 8, m01);
            if (MODE == 2) { /* disjoint lanes, zero elsewhere: the sum merges them */
                b0 = _mm256_add_ps(b0, _mm256_maskload_ps(s1 + o, m10));
                b1 = _mm256_add_ps(b1, _mm256_maskload_ps(s1 + o + 8, m11));
            }
        }
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
        a += MR;
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_store_ps(tile + i * 16, c0[i]);
        _mm256_store_ps(tile + i * 16 + 8, c1[i]);
    }
}

#define TILEW_MODE(mode)                                                                           \
    switch (mr) {                                                                                  \
    case 1: tilew_body(1, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    case 2: tilew_body(2, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    case 3: tilew_body(3, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    case 4: tilew_body(4, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    case 5: tilew_body(5, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    case 6: tilew_body(6, mode, k, a, src0, src1, m00, m01, m10, m11, off, tile); break;           \
    default: break;                                                                                \
    }

static void engine_tile_wide(int mr, int64_t k, const float *a, const float *src0,
                             const float *src1, int split, int nv, const int64_t *off,
                             float *tile) {
    /* lanes [0, split) from src0, [split, nv) from src1 */
    const __m256i m00 = lane_mask(split), m01 = lane_mask(split - 8);
    const __m256i all0 = lane_mask(nv), all1 = lane_mask(nv - 8);
    const __m256i m10 = _mm256_andnot_si256(m00, all0), m11 = _mm256_andnot_si256(m01, all1);
    if (nv > split) {
        TILEW_MODE(2)
    } else if (split < 16) {
        TILEW_MODE(1)
    } else {
        TILEW_MODE(0)
    }
}

INLINE void dotw_body(const int MR, const int NR, int64_t ns, int64_t nvec, __m256i tail,
                      const float *a, int64_t lda, int64_t astride, const float *const *brow,
                      int64_t bstride, float *c, int64_t ldc) {
    __m256 acc[ENGINE_DOT_MR][ENGINE_DOT_NR];
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    for (int64_t smp = 0; smp < ns; smp++) {
        const float *as = a + smp * astride;
        const float *bs[ENGINE_DOT_NR];
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) bs[j] = brow[j] + smp * bstride;
        for (int64_t v = 0; v < nvec; v++) {
            const int last = v == nvec - 1;
            __m256 av[ENGINE_DOT_MR];
#pragma GCC unroll 3
            for (int i = 0; i < MR; i++) av[i] = _mm256_load_ps(as + i * lda + v * 8);
#pragma GCC unroll 4
            for (int j = 0; j < NR; j++) {
                const __m256 bv = last ? _mm256_maskload_ps(bs[j] + v * 8, tail)
                                       : _mm256_loadu_ps(bs[j] + v * 8);
#pragma GCC unroll 3
                for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
            }
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) c[i * ldc + j] += hsum8(acc[i][j]);
}

#define DOTW_CASE(m, n)                                                                            \
    case (m) * 8 + (n):                                                                            \
        dotw_body(m, n, ns, nvec, tm, a, lda, astride, brow, bstride, c, ldc);                     \
        break;

static void engine_dot_wide(int mr, int nr, int64_t ns, int64_t nvec, int tail, const float *a,
                            int64_t lda, int64_t astride, const float *const *brow,
                            int64_t bstride, float *c, int64_t ldc) {
    const __m256i tm = lane_mask(tail);
    switch (mr * 8 + nr) {
        DOTW_CASE(1, 1) DOTW_CASE(1, 2) DOTW_CASE(1, 3) DOTW_CASE(1, 4)
        DOTW_CASE(2, 1) DOTW_CASE(2, 2) DOTW_CASE(2, 3) DOTW_CASE(2, 4)
        DOTW_CASE(3, 1) DOTW_CASE(3, 2) DOTW_CASE(3, 3) DOTW_CASE(3, 4)
    default: break;
    }
}

INLINE float sum_run(const float *s, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(s + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(s + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(s + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(s + i + 24));
    }
    for (; i < n; i += 8) a0 = _mm256_add_ps(a0, _mm256_maskload_ps(s + i, lane_mask((int)(n - i))));
    return hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* Stride-2 max pooling of a band: pooled rows k < npy from the rows of s (w apart), row k's
 * window starting at row 2k and spanning pkh rows (the last one last_rows: clipped), columns
 * windows of pkw (2 or 3) clipped at column ow; y[k*ys + px] for px < nout; 8 outputs at a
 * time from registers (even/odd lanes by shuffles, clipped columns blended out). Reads up to
 * ENGINE_POOL_SLACK floats past the last window. */
#define ENGINE_POOL_SLACK 24
INLINE __m256 even_lanes(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
INLINE __m256 odd_lanes(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
static void pool_band_s2(float *y, int64_t ys, const float *s, int64_t w, int64_t npy, int pkh,
                         int last_rows, int pkw, int64_t nout, int64_t ow) {
    for (int64_t px = 0; px < nout; px += 8) {
        const int64_t left = ow - 2 * px, rest = nout - px;
        const __m256 k1 = _mm256_castsi256_ps(lane_mask(left > 1 ? (int)(left / 2) : 0));
        const __m256 k2 = _mm256_castsi256_ps(lane_mask(left > 2 ? (int)((left - 1) / 2) : 0));
        for (int64_t k = 0; k < npy; k++) {
            const int nrows = k == npy - 1 ? last_rows : pkh;
            const float *b = s + 2 * k * w + 2 * px;
            __m256 v0 = _mm256_loadu_ps(b), v1 = _mm256_loadu_ps(b + 8);
            __m256 w0 = _mm256_loadu_ps(b + 2), w1 = _mm256_loadu_ps(b + 10);
            for (int r = 1; r < nrows; r++) {
                const float *br = b + r * w;
                v0 = _mm256_max_ps(_mm256_loadu_ps(br), v0);
                v1 = _mm256_max_ps(_mm256_loadu_ps(br + 8), v1);
                if (pkw == 3) {
                    w0 = _mm256_max_ps(_mm256_loadu_ps(br + 2), w0);
                    w1 = _mm256_max_ps(_mm256_loadu_ps(br + 10), w1);
                }
            }
            const __m256 e = even_lanes(v0, v1);
            __m256 m = _mm256_blendv_ps(e, _mm256_max_ps(odd_lanes(v0, v1), e), k1);
            if (pkw == 3) m = _mm256_blendv_ps(m, _mm256_max_ps(even_lanes(w0, w1), m), k2);
            float *d = y + k * ys + px;
            if (rest >= 8)
                _mm256_storeu_ps(d, m);
            else
                _mm256_maskstore_ps(d, lane_mask((int)rest), m);
        }
    }
}

/* ---- Winograd F(2x2, 3x3) lane shuffles (mt_cpu_engine_winograd.h) ---- */

typedef float wvec __attribute__((vector_size(32)));

/* One tile row a vector: lane t is tile t (up to 8), columns 2t .. 2t + 3. */
typedef struct wino_rows {
    int nrows, len;
    __m256i m0, m1, m2, m3; /* loads of columns 0-7, 8-15, 2-9, 10-17 */
} wino_rows;

static int wino_rows_per_vec(int64_t ntx, int64_t w) {
    (void)ntx, (void)w;
    return 1;
}

static void wino_rows_init(wino_rows *L, int nrows, int len, int64_t ncols) {
    L->nrows = nrows;
    L->len = len;
    L->m0 = lane_mask((int)(ncols > 8 ? 8 : ncols));
    L->m1 = lane_mask((int)(ncols > 16 ? 8 : ncols - 8));
    L->m2 = lane_mask((int)(ncols > 10 ? 8 : ncols - 2));
    L->m3 = lane_mask((int)(ncols > 18 ? 8 : ncols - 10));
}

/* d_j[t] = p[0][2t + j] (0 for p[0] == NULL and unreadable columns). */
INLINE void wino_load(const wino_rows *L, const float *const *p, wvec *d) {
    const float *q = p[0];
    if (!q) {
        const wvec z = {0};
        d[0] = d[1] = d[2] = d[3] = z;
        return;
    }
    const __m256 v0 = _mm256_maskload_ps(q, L->m0), v1 = _mm256_maskload_ps(q + 8, L->m1);
    const __m256 w0 = _mm256_maskload_ps(q + 2, L->m2), w1 = _mm256_maskload_ps(q + 10, L->m3);
    d[0] = even_lanes(v0, v1);
    d[1] = odd_lanes(v0, v1);
    d[2] = even_lanes(w0, w1);
    d[3] = odd_lanes(w0, w1);
}

/* d[0 .. n) = the first n lanes of v. */
INLINE void wino_store_n(float *d, const wvec *v, int n) {
    _mm256_maskstore_ps(d, lane_mask(n), *v);
}

INLINE void wino_prelu(wvec *v, float slope) { *v = prelu8(*v, _mm256_set1_ps(slope)); }

/* out[0][2t] = a[t], out[0][2t + 1] = b[t], the first n (<= 16) values. */
INLINE void wino_store(const wino_rows *L, float *const *out, const wvec *pa, const wvec *pb,
                       int n) {
    (void)L;
    if (!out[0]) return;
    const __m256 a = *pa, b = *pb;
    const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    _mm256_maskstore_ps(out[0], lane_mask(n), _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_maskstore_ps(out[0] + 8, lane_mask(n - 8), _mm256_permute2f128_ps(lo, hi, 0x31));
}

#define ENGINE_SLACK 8

INLINE void pack_run(float *d, const float *s, int64_t n) {
    while (n >= 8) {
        _mm256_storeu_ps(d, _mm256_loadu_ps(s));
        d += 8;
        s += 8;
        n -= 8;
    }
    if (n > 0) _mm256_storeu_ps(d, _mm256_maskload_ps(s, lane_mask((int)n)));
}

#include "cpu/engine/mt_cpu_engine_tile_buffered.h"
#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_avx2(void) {
    static const mt_engine engine = ENGINE_TABLE("avx2");
    return &engine;
}

#else

const mt_engine *mt_engine_avx2(void) { return NULL; }

#endif
