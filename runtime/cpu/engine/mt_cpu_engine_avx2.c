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
#define V_LOAD(p) _mm256_load_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_store_ps(p, v)
#define V_STOREU(p, v) _mm256_storeu_ps(p, v)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_FMA_BCAST(p, b, c) _mm256_fmadd_ps(_mm256_broadcast_ss(p), b, c)
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

#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_avx2(void) {
    static const mt_engine engine = ENGINE_TABLE("avx2");
    return &engine;
}

#else

const mt_engine *mt_engine_avx2(void) { return NULL; }

#endif
