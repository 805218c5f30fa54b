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

/* ---- vector primitives (mt_cpu_engine_kernels.h) ---- */

typedef __m256 vec_t;
typedef __m256i mask_t; /* -1 in the lanes of the set, for maskload and maskstore */

/* -1 for the first n of 8 lanes, 0 after (any n). */
static const int32_t lane_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

INLINE __m256i lane_mask(int64_t n) {
    if (n <= 0) return _mm256_setzero_si256();
    if (n >= 8) return _mm256_set1_epi32(-1);
    return _mm256_loadu_si256((const __m256i *)(lane_mask_table + 8 - n));
}

INLINE __m256 prelu8(__m256 r, __m256 s) {
    const __m256 neg = _mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_mul_ps(r, s), neg);
}

INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Lanes 0, 2, 4, 6 (1, 3, 5, 7) of a, then of b. */
INLINE __m256 even_lanes(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
INLINE __m256 odd_lanes(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_LOAD(p) _mm256_load_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_store_ps(p, v)
#define V_STOREU(p, v) _mm256_storeu_ps(p, v)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_PRELU(v, s) prelu8(v, s)
#define V_HSUM(v) hsum8(v)
#define M_FIRST(n) lane_mask(n)
#define M_UPTO(n) lane_mask(n)
#define M_ANDNOT(a, b) _mm256_andnot_si256(a, b)
#define V_LOADU_M(p, m) _mm256_maskload_ps(p, m)
#define V_LOADU_INTO(v, m, p) _mm256_add_ps(v, _mm256_maskload_ps(p, m)) /* v is 0 there */
#define V_STOREU_M(p, m, v) _mm256_maskstore_ps(p, m, v)
#define V_MAX_M(v, m, a) _mm256_blendv_ps(v, _mm256_max_ps(a, v), _mm256_castsi256_ps(m))
#define V_EVEN(a, b) even_lanes(a, b)
#define V_ODD(a, b) odd_lanes(a, b)
#define V_ZIP_LO(a, b)                                                                             \
    _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20)
#define V_ZIP_HI(a, b)                                                                             \
    _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31)

#define ENGINE_CHEAP_MASKS 0 /* maskstore is slow: whole vectors where they fit */

/* Stride-2 max pooling of a band: pooled rows k < npy from the rows of s (w apart), row k's
 * window starting at row 2k and spanning pkh rows (the last one last_rows: clipped), columns
 * windows of pkw (2 or 3) clipped at column ow; y[k*ys + px] for px < nout; 8 outputs at a
 * time from registers (even/odd lanes by shuffles, clipped columns blended out). Reads up to
 * ENGINE_POOL_SLACK floats past the last window. */
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

#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_avx2(void) {
    static const mt_engine engine = ENGINE_TABLE("avx2");
    return &engine;
}

#else

const mt_engine *mt_engine_avx2(void) { return NULL; }

#endif
