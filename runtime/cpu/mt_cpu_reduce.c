/*
 * mt_cpu_reduce.c - sum, mean, max, min and their arg forms on CPU tensors.
 *
 * Sums accumulate in double in row-major order, so results do not depend on
 * the layout of a view. max/min propagate NaN; the arg forms return the first
 * position of the extreme value.
 */
#include "cpu/mt_cpu.h"

#include <math.h>

/* Running extreme that keeps the first NaN it meets. */
typedef struct extreme {
    double best;
    int64_t where;
} extreme;

static inline void extreme_push(extreme *e, bool want_max, double v, int64_t i) {
    if (e->where < 0) {
        e->best = v;
        e->where = i;
        return;
    }
    if (e->best != e->best) return; /* already NaN */
    if (v != v || (want_max ? v > e->best : v < e->best)) {
        e->best = v;
        e->where = i;
    }
}

static bool is_max_op(mt_reduce_op op) { return op == MT_RED_MAX || op == MT_RED_ARGMAX; }

#define LANES 16

/* Sum of a contiguous block in LANES independent double accumulators, so the
 * loop vectorises instead of waiting on one chain of additions. */
static double sum_contiguous(const float *s, int64_t n) {
    double acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += (double)s[i + k];
    double total = 0.0;
    for (int k = 0; k < LANES; k++) total += acc[k];
    for (; i < n; i++) total += s[i];
    return total;
}

/* Extreme of a contiguous block: a vectorised pass for the value (and for
 * NaN), then a scan for its first position. */
static void extreme_contiguous(const float *s, int64_t n, bool want_max, double *value,
                               int64_t *index) {
    float lane[LANES];
    int nan = 0;
    for (int k = 0; k < LANES; k++) lane[k] = s[0];
    int64_t i = 0;
    /* separate loops per direction: a branch inside would stop vectorisation */
    if (want_max) {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float v = s[i + k];
                nan |= v != v;
                lane[k] = v > lane[k] ? v : lane[k];
            }
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float v = s[i + k];
                nan |= v != v;
                lane[k] = v < lane[k] ? v : lane[k];
            }
    }
    float best = lane[0];
    for (int k = 1; k < LANES; k++)
        best = want_max ? (lane[k] > best ? lane[k] : best) : (lane[k] < best ? lane[k] : best);
    for (; i < n; i++) {
        float v = s[i];
        nan |= v != v;
        best = want_max ? (v > best ? v : best) : (v < best ? v : best);
    }
    int64_t at = 0;
    if (nan) {
        while (s[at] == s[at]) at++;
    } else {
        while (s[at] != best) at++;
    }
    *value = s[at];
    *index = at;
}

mt_status mt_cpu_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value,
                            int64_t *index) {
    mt_layout l;
    mt_layout_of(src, &l);
    const float *s = mt_tensor_data(src);
    int64_t n = mt_tensor_numel(src);
    if (op == MT_RED_SUM || op == MT_RED_MEAN) {
        double acc = 0.0;
        if (mt_tensor_is_contiguous(src)) {
            acc = sum_contiguous(s, n);
        } else {
            for (int64_t i0 = 0; i0 < l.shape[0]; i0++)
                for (int64_t i1 = 0; i1 < l.shape[1]; i1++)
                    for (int64_t i2 = 0; i2 < l.shape[2]; i2++) {
                        const float *p = s + i0 * l.stride[0] + i1 * l.stride[1] +
                                         i2 * l.stride[2];
                        for (int64_t i3 = 0; i3 < l.shape[3]; i3++) acc += p[i3 * l.stride[3]];
                    }
        }
        *value = op == MT_RED_MEAN ? acc / (double)n : acc;
        *index = -1;
        return MT_OK;
    }
    bool want_max = is_max_op(op);
    if (mt_tensor_is_contiguous(src)) {
        extreme_contiguous(s, n, want_max, value, index);
        return MT_OK;
    }
    extreme e = {0.0, -1};
    int64_t k = 0;
    for (int64_t i0 = 0; i0 < l.shape[0]; i0++)
        for (int64_t i1 = 0; i1 < l.shape[1]; i1++)
            for (int64_t i2 = 0; i2 < l.shape[2]; i2++) {
                const float *p = s + i0 * l.stride[0] + i1 * l.stride[1] + i2 * l.stride[2];
                for (int64_t i3 = 0; i3 < l.shape[3]; i3++, k++)
                    extreme_push(&e, want_max, p[i3 * l.stride[3]], k);
            }
    *value = e.best;
    *index = e.where;
    return MT_OK;
}

mt_status mt_cpu_reduce_dim(mt_reduce_op op, const mt_tensor *values, const mt_tensor *index,
                            const mt_tensor *src, int dim) {
    mt_layout ls, lv, li;
    mt_layout_of(src, &ls);
    mt_layout_of(values, &lv);
    if (index) mt_layout_of(index, &li);
    int pd = dim + (4 - src->ndim); /* the reduced dimension among the padded four */
    int64_t len = ls.shape[pd];
    const float *s = mt_tensor_data(src);
    float *v = mt_tensor_data(values);
    float *ix = index ? mt_tensor_data(index) : NULL;
    bool want_max = is_max_op(op);
    for (int64_t i0 = 0; i0 < lv.shape[0]; i0++)
        for (int64_t i1 = 0; i1 < lv.shape[1]; i1++)
            for (int64_t i2 = 0; i2 < lv.shape[2]; i2++)
                for (int64_t i3 = 0; i3 < lv.shape[3]; i3++) {
                    const float *p = s + i0 * ls.stride[0] + i1 * ls.stride[1] +
                                     i2 * ls.stride[2] + i3 * ls.stride[3];
                    int64_t step = ls.stride[pd];
                    int64_t vo = i0 * lv.stride[0] + i1 * lv.stride[1] + i2 * lv.stride[2] +
                                 i3 * lv.stride[3];
                    if (op == MT_RED_SUM || op == MT_RED_MEAN) {
                        double acc = 0.0;
                        for (int64_t k = 0; k < len; k++) acc += p[k * step];
                        v[vo] = (float)(op == MT_RED_MEAN ? acc / (double)len : acc);
                        continue;
                    }
                    extreme e = {0.0, -1};
                    for (int64_t k = 0; k < len; k++) extreme_push(&e, want_max, p[k * step], k);
                    bool arg = op == MT_RED_ARGMAX || op == MT_RED_ARGMIN;
                    v[vo] = arg ? (float)e.where : (float)e.best;
                    if (ix) {
                        int64_t io = i0 * li.stride[0] + i1 * li.stride[1] + i2 * li.stride[2] +
                                     i3 * li.stride[3];
                        ix[io] = (float)e.where;
                    }
                }
    return MT_OK;
}
