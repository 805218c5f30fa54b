/*
 * mt_cpu_elementwise.c - copy, fill and elementwise arithmetic on CPU tensors.
 *
 * Contiguous operands take a flat loop per op that the compiler vectorises;
 * any other layout walks the four padded dimensions with explicit strides.
 */
#include "cpu/mt_cpu.h"

#include "core/mt_threads.h"

#include <math.h>

/* Contiguous work of at least this many elements is split across threads. */
#define PARALLEL_GRAIN (1 << 16)

static inline float unary_apply(mt_unary_op op, float x) {
    switch (op) {
    case MT_UN_NEG: return -x;
    case MT_UN_ABS: return fabsf(x);
    case MT_UN_SQRT: return sqrtf(x);
    case MT_UN_EXP: return expf(x);
    case MT_UN_LOG: return logf(x);
    default: return x;
    }
}

static inline float binary_apply(mt_binary_op op, float x, float y) {
    switch (op) {
    case MT_BIN_ADD: return x + y;
    case MT_BIN_SUB: return x - y;
    case MT_BIN_MUL: return x * y;
    case MT_BIN_DIV: return x / y;
    case MT_BIN_RSUB: return y - x;
    case MT_BIN_RDIV: return y / x;
    /* NaN wins, as in the reductions */
    case MT_BIN_MAX: return (x != x || x > y) ? x : y;
    case MT_BIN_MIN: return (x != x || x < y) ? x : y;
    case MT_BIN_POW: return powf(x, y);
    default: return x;
    }
}

/* Calls fn(i0, i1, i2) for every outer index of a padded 4-d shape; the
 * caller's body then runs the innermost dimension. */
#define MT_FOR_OUTER(shape, i0, i1, i2)                                                            \
    for (int64_t i0 = 0; i0 < (shape)[0]; i0++)                                                    \
        for (int64_t i1 = 0; i1 < (shape)[1]; i1++)                                                \
            for (int64_t i2 = 0; i2 < (shape)[2]; i2++)

static inline const float *at(const float *base, const mt_layout *l, int64_t i0, int64_t i1,
                              int64_t i2) {
    return base + i0 * l->stride[0] + i1 * l->stride[1] + i2 * l->stride[2];
}

static bool all_contiguous(const mt_tensor *a, const mt_tensor *b, const mt_tensor *c) {
    return mt_tensor_is_contiguous(a) && (!b || mt_tensor_is_contiguous(b)) &&
           (!c || mt_tensor_is_contiguous(c));
}

/* Arguments of a flat (contiguous) elementwise loop run over a range. */
typedef struct flat_args {
    int op;
    float *d;
    const float *x, *y;
    float s;
} flat_args;

static void flat_copy(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    for (int64_t i = b; i < e; i++) a->d[i] = a->x[i];
}

static void flat_fill(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    for (int64_t i = b; i < e; i++) a->d[i] = a->s;
}

static void flat_unary(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    float *d = a->d;
    const float *s = a->x;
    switch ((mt_unary_op)a->op) {
    case MT_UN_NEG:
        for (int64_t i = b; i < e; i++) d[i] = -s[i];
        break;
    case MT_UN_ABS:
        for (int64_t i = b; i < e; i++) d[i] = fabsf(s[i]);
        break;
    default:
        for (int64_t i = b; i < e; i++) d[i] = unary_apply((mt_unary_op)a->op, s[i]);
        break;
    }
}

static void flat_binary(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    float *d = a->d;
    const float *x = a->x, *y = a->y;
    switch ((mt_binary_op)a->op) {
    case MT_BIN_ADD:
        for (int64_t i = b; i < e; i++) d[i] = x[i] + y[i];
        break;
    case MT_BIN_SUB:
        for (int64_t i = b; i < e; i++) d[i] = x[i] - y[i];
        break;
    case MT_BIN_MUL:
        for (int64_t i = b; i < e; i++) d[i] = x[i] * y[i];
        break;
    case MT_BIN_DIV:
        for (int64_t i = b; i < e; i++) d[i] = x[i] / y[i];
        break;
    default:
        for (int64_t i = b; i < e; i++) d[i] = binary_apply((mt_binary_op)a->op, x[i], y[i]);
        break;
    }
}

static void flat_scalar(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    float *d = a->d;
    const float *x = a->x;
    float s = a->s;
    switch ((mt_binary_op)a->op) {
    case MT_BIN_ADD:
        for (int64_t i = b; i < e; i++) d[i] = x[i] + s;
        break;
    case MT_BIN_SUB:
        for (int64_t i = b; i < e; i++) d[i] = x[i] - s;
        break;
    case MT_BIN_MUL:
        for (int64_t i = b; i < e; i++) d[i] = x[i] * s;
        break;
    case MT_BIN_DIV:
        for (int64_t i = b; i < e; i++) d[i] = x[i] / s;
        break;
    default:
        for (int64_t i = b; i < e; i++) d[i] = binary_apply((mt_binary_op)a->op, x[i], s);
        break;
    }
}

mt_status mt_cpu_copy(const mt_tensor *dst, const mt_tensor *src) {
    float *d = mt_tensor_data(dst);
    const float *s = mt_tensor_data(src);
    int64_t n = mt_tensor_numel(dst);
    if (all_contiguous(dst, src, NULL)) {
        flat_args a = {0, d, s, NULL, 0.0f};
        mt_parallel_for(n, PARALLEL_GRAIN, flat_copy, &a);
        return MT_OK;
    }
    mt_layout ld, ls;
    mt_layout_of(dst, &ld);
    mt_layout_of(src, &ls);
    MT_FOR_OUTER(ld.shape, i0, i1, i2) {
        float *pd = (float *)at(d, &ld, i0, i1, i2);
        const float *ps = at(s, &ls, i0, i1, i2);
        for (int64_t i3 = 0; i3 < ld.shape[3]; i3++) pd[i3 * ld.stride[3]] = ps[i3 * ls.stride[3]];
    }
    return MT_OK;
}

mt_status mt_cpu_fill(const mt_tensor *dst, float value) {
    float *d = mt_tensor_data(dst);
    if (mt_tensor_is_contiguous(dst)) {
        flat_args a = {0, d, NULL, NULL, value};
        mt_parallel_for(mt_tensor_numel(dst), PARALLEL_GRAIN, flat_fill, &a);
        return MT_OK;
    }
    mt_layout l;
    mt_layout_of(dst, &l);
    MT_FOR_OUTER(l.shape, i0, i1, i2) {
        float *p = (float *)at(d, &l, i0, i1, i2);
        for (int64_t i3 = 0; i3 < l.shape[3]; i3++) p[i3 * l.stride[3]] = value;
    }
    return MT_OK;
}

mt_status mt_cpu_unary(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src) {
    float *d = mt_tensor_data(dst);
    const float *s = mt_tensor_data(src);
    if (all_contiguous(dst, src, NULL)) {
        flat_args a = {(int)op, d, s, NULL, 0.0f};
        mt_parallel_for(mt_tensor_numel(dst), PARALLEL_GRAIN, flat_unary, &a);
        return MT_OK;
    }
    mt_layout ld, ls;
    mt_layout_of(dst, &ld);
    mt_layout_of(src, &ls);
    MT_FOR_OUTER(ld.shape, i0, i1, i2) {
        float *pd = (float *)at(d, &ld, i0, i1, i2);
        const float *ps = at(s, &ls, i0, i1, i2);
        for (int64_t i3 = 0; i3 < ld.shape[3]; i3++)
            pd[i3 * ld.stride[3]] = unary_apply(op, ps[i3 * ls.stride[3]]);
    }
    return MT_OK;
}

mt_status mt_cpu_binary(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                        const mt_tensor *b) {
    float *d = mt_tensor_data(dst);
    const float *x = mt_tensor_data(a);
    const float *y = mt_tensor_data(b);
    if (all_contiguous(dst, a, b)) {
        flat_args fa = {(int)op, d, x, y, 0.0f};
        mt_parallel_for(mt_tensor_numel(dst), PARALLEL_GRAIN, flat_binary, &fa);
        return MT_OK;
    }
    mt_layout ld, la, lb;
    mt_layout_of(dst, &ld);
    mt_layout_of(a, &la);
    mt_layout_of(b, &lb);
    MT_FOR_OUTER(ld.shape, i0, i1, i2) {
        float *pd = (float *)at(d, &ld, i0, i1, i2);
        const float *pa = at(x, &la, i0, i1, i2);
        const float *pb = at(y, &lb, i0, i1, i2);
        for (int64_t i3 = 0; i3 < ld.shape[3]; i3++)
            pd[i3 * ld.stride[3]] =
                binary_apply(op, pa[i3 * la.stride[3]], pb[i3 * lb.stride[3]]);
    }
    return MT_OK;
}

mt_status mt_cpu_binary_scalar(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                               float s) {
    float *d = mt_tensor_data(dst);
    const float *x = mt_tensor_data(a);
    if (all_contiguous(dst, a, NULL)) {
        flat_args fa = {(int)op, d, x, NULL, s};
        mt_parallel_for(mt_tensor_numel(dst), PARALLEL_GRAIN, flat_scalar, &fa);
        return MT_OK;
    }
    mt_layout ld, la;
    mt_layout_of(dst, &ld);
    mt_layout_of(a, &la);
    MT_FOR_OUTER(ld.shape, i0, i1, i2) {
        float *pd = (float *)at(d, &ld, i0, i1, i2);
        const float *pa = at(x, &la, i0, i1, i2);
        for (int64_t i3 = 0; i3 < ld.shape[3]; i3++)
            pd[i3 * ld.stride[3]] = binary_apply(op, pa[i3 * la.stride[3]], s);
    }
    return MT_OK;
}
