/* mt_cpu_prelu.h - PReLU arithmetic shared by the separate PReLU pass (mt_cpu_act.c) and the
 * fused PReLU + max pooling passes of training (mt_cpu_pool.c): both must round alike, so
 * that the fused pass gives the separate passes' numbers exactly. Inlined into each target
 * clone of the callers. */
#ifndef MT_CPU_PRELU_H
#define MT_CPU_PRELU_H

#include <stdint.h>
#include <string.h>

/* Elements per task below which splitting a PReLU pass over threads costs more than it
 * saves. The slope gradient's per-range partial sums follow this split, so the fused pass
 * uses the same one. */
#define MT_PRELU_GRAIN_ELEMS 16384

/* Row stride (doubles) of the per-thread partial slope sums of c channels: whole cache
 * lines, so that two threads never write to one line. */
static inline int64_t mt_prelu_part_stride(int64_t c) { return (c + 7) / 8 * 8; }

/* Sum of x[i] * dy[i] over the x[i] <= 0, in four 4-lane vector accumulators (GCC vector
 * extensions: a fixed summation order that is still vectorised). */
typedef float mt_v4f __attribute__((vector_size(16)));
typedef int32_t mt_v4i __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) mt_v4f mt_load4f(const float *p) {
    mt_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) float mt_prelu_negative_dot(const float *x,
                                                                         const float *dy,
                                                                         int64_t n) {
    const mt_v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
    mt_v4f acc[4] = {zero, zero, zero, zero};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 4; l++) {
            const mt_v4f xv = mt_load4f(x + i + 4 * l), gv = mt_load4f(dy + i + 4 * l);
            const mt_v4i neg = xv <= zero;
            acc[l] += (mt_v4f)((mt_v4i)(xv * gv) & neg);
        }
    float s = 0.0f;
    for (; i < n; i++) s += x[i] > 0.0f ? 0.0f : x[i] * dy[i];
    const mt_v4f t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    return s + ((t[0] + t[1]) + (t[2] + t[3]));
}

/* y = PReLU(x) with slope a over n values (both sides computed, then selected: branch-free,
 * so it vectorises; a conditional multiply does not under the trapping-math rules). */
static inline __attribute__((always_inline)) void mt_prelu_row(const float *x, float a, float *y,
                                                               int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i], neg = a * v;
        y[i] = v > 0.0f ? v : neg;
    }
}

/* dx = x > 0 ? dy : a dy over n values (dx may be dy). */
static inline __attribute__((always_inline)) void mt_prelu_grad_row(const float *x, float a,
                                                                    const float *dy, float *dx,
                                                                    int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i], neg = a * g;
        dx[i] = x[i] > 0.0f ? g : neg;
    }
}

#endif
