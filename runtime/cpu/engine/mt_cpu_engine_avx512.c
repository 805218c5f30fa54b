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
#define V_LOAD(p) _mm512_load_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_store_ps(p, v)
#define V_STOREU(p, v) _mm512_storeu_ps(p, v)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_FMA_BCAST(p, b, c) _mm512_fmadd_ps(_mm512_set1_ps(*(p)), b, c)
#define V_PRELU(v, s) prelu16(v, s)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define M_FIRST(n) first_lanes(n)
#define M_UPTO(n) lanes_upto(n)
#define M_ANDNOT(a, b) ((__mmask16)(~(a) & (b)))
#define V_LOADU_M(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_LOADU_INTO(v, m, p) _mm512_mask_loadu_ps(v, m, p)
#define V_STOREU_M(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define V_MAX_M(v, m, a) _mm512_mask_max_ps(v, m, a, v)
/* lanes picked from a (indices 0-15) and b (16-31) */
#define PICK(a, b, ...) _mm512_permutex2var_ps(a, _mm512_setr_epi32(__VA_ARGS__), b)
#define V_EVEN(a, b) PICK(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define V_ODD(a, b) PICK(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#define V_ZIP_LO(a, b) PICK(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define V_ZIP_HI(a, b) PICK(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#define V_SHIFT_IN(a, b, j)                                                                        \
    PICK(a, b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 + (j))

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
        const uint32_t len = o->len[r] >= 32 ? 0xFFFFFFFFu : (1u << o->len[r]) - 1u;
        const uint32_t bits = len << o->j0[r];
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

/* r[0..16) transposed in registers (V_TRANSPOSE): pairs of lanes, then 4 x 4 blocks within
 * 128-bit lanes, then the 128-bit lanes across the rows. */
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

/* one sample a lane in 16 x 16 blocks (lanes_transpose) */
#define ENGINE_TRANSPOSE 1
#define V_TRANSPOSE(r) transpose16(r)

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

/* Winograd on maps at most 16 wide (RNet conv2, ONet conv3): up to 4 tile rows a vector,
 * lane r*len + t tile t of tile row r; each input row is one vector and permutes gather the
 * lanes of two rows at a time (mt_cpu_engine_winograd.h, ENGINE_WINO_GATHER). */
#define ENGINE_WINO_GATHER 1
typedef struct wino_gather {
    __mmask16 upper; /* lanes of tile rows 2 and 3 */
    __m512i idx[4];  /* column j of tile rows 0-1 (from rows 0, 1) or 2-3 (2, 3) */
    __m512i out[4];  /* output row of tile row r: (a, b) pairs of its lanes */
} wino_gather;

/* Tile rows one vector takes for maps of ntx tiles a row, w input columns. */
static int wino_gather_rows(int64_t ntx, int64_t w) {
    if (w > 16) return 1;
    int r = (int)(16 / ntx);
    return r > 4 ? 4 : r < 1 ? 1 : r;
}

static void wino_gather_init(wino_gather *G, int nrows, int len) {
    int32_t idx[4][16], out[4][16];
    G->upper = 0;
    for (int l = 0; l < 16; l++) {
        const int r = l / len < nrows ? l / len : 0, t = l % len;
        if (l / len >= 2 && l / len < nrows) G->upper |= (__mmask16)(1u << l);
        for (int j = 0; j < 4; j++) idx[j][l] = (r & 1) * 16 + 2 * t + j;
    }
    for (int r = 0; r < 4; r++)
        for (int l = 0; l < 16; l++) {
            const int t = (l / 2) % len; /* pairs past the row are not stored */
            out[r][l] = (l % 2) * 16 + r * len + t;
        }
    for (int j = 0; j < 4; j++) G->idx[j] = _mm512_loadu_si512(idx[j]);
    for (int r = 0; r < 4; r++) G->out[r] = _mm512_loadu_si512(out[r]);
}

/* d_j[lane of tile (r, t)] = p[r][2t + j]; m: the readable columns of a row. */
INLINE void wino_gather_load(const wino_gather *G, int nrows, __mmask16 m,
                             const float *const *p, __m512 *d) {
    __m512 v[4];
    for (int r = 0; r < 4; r++)
        v[r] = r < nrows && p[r] ? _mm512_maskz_loadu_ps(m, p[r]) : _mm512_setzero_ps();
    for (int j = 0; j < 4; j++) {
        __m512 a = _mm512_permutex2var_ps(v[0], G->idx[j], v[1]);
        if (nrows > 2)
            a = _mm512_mask_blend_ps(G->upper, a, _mm512_permutex2var_ps(v[2], G->idx[j], v[3]));
        d[j] = a;
    }
}

/* out[r][2t] = a[lane (r, t)], out[r][2t + 1] = b[...], the lanes of k a row. */
INLINE void wino_gather_store(const wino_gather *G, int nrows, float *const *out,
                              const __m512 *a, const __m512 *b, __mmask16 k) {
    for (int r = 0; r < nrows; r++)
        if (out[r]) _mm512_mask_storeu_ps(out[r], k, _mm512_permutex2var_ps(*a, G->out[r], *b));
}

#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_avx512(void) {
    static const mt_engine engine = ENGINE_TABLE("avx512");
    return &engine;
}

#else

const mt_engine *mt_engine_avx512(void) { return NULL; }

#endif
