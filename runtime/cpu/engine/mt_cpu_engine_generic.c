/* mt_cpu_engine_generic.c - the GEMM engine on portable vectors (GCC vector extensions, no
 * intrinsics): the fallback for CPUs without AVX2, and the engine's own reference (the same
 * driver and loops over the simplest primitives). */
#include "cpu/engine/mt_cpu_engine.h"

#include <string.h>

#define ENGINE_NR 16
#define ENGINE_MR_MAX 8
#define ENGINE_VEC 8
#define ENGINE_DOT_MR 4
#define ENGINE_DOT_NR 4

#define INLINE static inline __attribute__((always_inline))

/* ---- vector primitives (mt_cpu_engine_kernels.h) ----
 * GCC vectors of 8 floats (two SSE registers on a baseline x86-64), lanes by loops where
 * there is no vector operator. Macros, not functions: a function passing such a vector by
 * value would fall under the AVX calling convention's warning (-Wpsabi) on a baseline
 * target. No fused multiply-add on a baseline target: V_FMA is a * b + c, rounded twice. */

typedef float vec_t __attribute__((vector_size(4 * ENGINE_VEC), may_alias));
typedef int32_t lane_idx __attribute__((vector_size(4 * ENGINE_VEC)));
typedef unsigned mask_t; /* bit l: lane l */

#define V_ZERO() ((vec_t){0})
/* x - 0 is x for every x (-0 included) */
#define V_SET1(x) ((float)(x) - (vec_t){0})
#define V_LOADU(p)                                                                                 \
    ({                                                                                             \
        vec_t ld_;                                                                                 \
        memcpy(&ld_, (p), sizeof ld_);                                                             \
        ld_;                                                                                       \
    })
#define V_LOAD(p) V_LOADU(p)
#define V_STOREU(p, v)                                                                             \
    do {                                                                                           \
        const vec_t st_ = (v);                                                                     \
        memcpy((p), &st_, sizeof st_);                                                             \
    } while (0)
#define V_STORE(p, v) V_STOREU(p, v)
#define V_ADD(a, b) ((a) + (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
/* lane by lane: GCC broadcasts *p with one shuffle (a broadcast vector shared by two
 * products would go through memory) */
#define V_FMA_BCAST(p, b, c)                                                                       \
    ({                                                                                             \
        const float fa_ = *(p);                                                                    \
        const vec_t fb_ = (b);                                                                     \
        vec_t fc_ = (c);                                                                           \
        for (int l_ = 0; l_ < ENGINE_VEC; l_++) fc_[l_] += fa_ * fb_[l_];                          \
        fc_;                                                                                       \
    })
#define V_PRELU(v, s)                                                                              \
    ({                                                                                             \
        vec_t pr_ = (v);                                                                           \
        const vec_t ps_ = (s);                                                                     \
        for (int l_ = 0; l_ < ENGINE_VEC; l_++)                                                    \
            if (pr_[l_] < 0.0f) pr_[l_] *= ps_[l_];                                                \
        pr_;                                                                                       \
    })
/* in lane order from zero: the serial sum */
#define V_HSUM(v)                                                                                  \
    ({                                                                                             \
        const vec_t hv_ = (v);                                                                     \
        float hs_ = 0.0f;                                                                          \
        for (int l_ = 0; l_ < ENGINE_VEC; l_++) hs_ += hv_[l_];                                    \
        hs_;                                                                                       \
    })
#define M_UPTO(n)                                                                                  \
    ({                                                                                             \
        const int64_t mn_ = (n);                                                                   \
        mn_ <= 0 ? 0u : (1u << (mn_ < ENGINE_VEC ? mn_ : ENGINE_VEC)) - 1u;                        \
    })
#define M_FIRST(n) M_UPTO(n)
#define M_ANDNOT(a, b) (~(a) & (b))
#define V_LOADU_INTO(v, m, p)                                                                      \
    ({                                                                                             \
        vec_t li_ = (v);                                                                           \
        const float *lp_ = (p);                                                                    \
        const mask_t lm_ = (m);                                                                    \
        for (int l_ = 0; l_ < ENGINE_VEC; l_++)                                                    \
            if (lm_ >> l_ & 1u) li_[l_] = lp_[l_];                                                 \
        li_;                                                                                       \
    })
#define V_LOADU_M(p, m) V_LOADU_INTO(V_ZERO(), m, p)
#define V_STOREU_M(p, m, v)                                                                        \
    do {                                                                                           \
        float *sp_ = (p);                                                                          \
        const mask_t sm_ = (m);                                                                    \
        const vec_t sv_ = (v);                                                                     \
        for (int l_ = 0; l_ < ENGINE_VEC; l_++)                                                    \
            if (sm_ >> l_ & 1u) sp_[l_] = sv_[l_];                                                 \
    } while (0)
#if defined(__clang__) /* (the fuzzing build: clang spells GCC's __builtin_shuffle so) */
#define V_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define V_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define V_ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define V_ZIP_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#define V_EVEN(a, b) __builtin_shuffle(a, b, (lane_idx){0, 2, 4, 6, 8, 10, 12, 14})
#define V_ODD(a, b) __builtin_shuffle(a, b, (lane_idx){1, 3, 5, 7, 9, 11, 13, 15})
#define V_ZIP_LO(a, b) __builtin_shuffle(a, b, (lane_idx){0, 8, 1, 9, 2, 10, 3, 11})
#define V_ZIP_HI(a, b) __builtin_shuffle(a, b, (lane_idx){4, 12, 5, 13, 6, 14, 7, 15})
#endif

/* ---- serial sums ----
 * This engine's results were defined by serial loops that no vector loop reproduces bit for
 * bit: the wide weight gradient's dots (one accumulator) and the bias gradient's sums (8
 * lanes, the tail summed first). They stay as they were; its pooling takes the driver's
 * scan-order loop. */

#define ENGINE_SERIAL_SUMS 1

static void engine_dot_wide(int mr, int nr, int64_t ns, int64_t nvec, int tail, const float *a,
                            int64_t lda, int64_t astride, const float *const *brow,
                            int64_t bstride, float *c, int64_t ldc) {
    const int64_t n = (nvec - 1) * ENGINE_VEC + tail;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = 0.0f;
            for (int64_t smp = 0; smp < ns; smp++) {
                const float *x = a + smp * astride + i * lda, *y = brow[j] + smp * bstride;
                for (int64_t p = 0; p < n; p++) s += x[p] * y[p];
            }
            c[i * ldc + j] += s;
        }
}

INLINE float sum_run(const float *s, int64_t n) {
    float lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += s[i + l];
    float t = 0.0f;
    for (; i < n; i++) t += s[i];
    for (int l = 0; l < 8; l++) t += lane[l];
    return t;
}

#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_generic(void) {
    static const mt_engine engine = ENGINE_TABLE("generic");
    return &engine;
}
