/*
 * mt_cpu_elementwise.c - copy, fill and elementwise arithmetic on CPU tensors.
 *
 * Contiguous operands take a flat loop per op that the compiler vectorises;
 * any other layout walks the four padded dimensions with explicit strides.
 * The arithmetic of one element is core/mt_elementwise.h's, shared with CUDA.
 */
#include "cpu/mt_cpu.h"

#include "core/mt_elementwise.h"
#include "core/mt_threads.h"

/* Contiguous work of at least this many elements is split across threads. */
#define PARALLEL_GRAIN (1 << 16)

/* What an elementwise pass writes into d: x, op(x), x op y, x op s, or s. */
typedef enum ew_kind { EW_COPY, EW_UNARY, EW_BINARY, EW_SCALAR, EW_FILL } ew_kind;

/* ---- contiguous operands: flat loops over a range of elements ----------------------------- */

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
        for (int64_t i = b; i < e; i++) d[i] = mt_unary_apply(a->op, s[i]);
        break;
    }
}

/* The loops of a binary op over [b, e) whose right operand is Y (y[i], or a scalar): the four
 * arithmetic ops get loops of their own. */
#define FLAT_BINARY(Y)                                                                             \
    switch ((mt_binary_op)a->op) {                                                                 \
    case MT_BIN_ADD:                                                                               \
        for (int64_t i = b; i < e; i++) d[i] = x[i] + (Y);                                         \
        break;                                                                                     \
    case MT_BIN_SUB:                                                                               \
        for (int64_t i = b; i < e; i++) d[i] = x[i] - (Y);                                         \
        break;                                                                                     \
    case MT_BIN_MUL:                                                                               \
        for (int64_t i = b; i < e; i++) d[i] = x[i] * (Y);                                         \
        break;                                                                                     \
    case MT_BIN_DIV:                                                                               \
        for (int64_t i = b; i < e; i++) d[i] = x[i] / (Y);                                         \
        break;                                                                                     \
    default:                                                                                       \
        for (int64_t i = b; i < e; i++) d[i] = mt_binary_apply(a->op, x[i], (Y));                  \
        break;                                                                                     \
    }

static void flat_binary(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    float *d = a->d;
    const float *x = a->x, *y = a->y;
    FLAT_BINARY(y[i])
}

static void flat_scalar(void *ctx, int64_t b, int64_t e, int t) {
    (void)t;
    flat_args *a = (flat_args *)ctx;
    float *d = a->d;
    const float *x = a->x;
    float s = a->s;
    FLAT_BINARY(s)
}

/* ---- any other layout: the padded dimensions walked with their strides -------------------- */

static inline const float *at(const float *base, const mt_layout *l, int64_t i0, int64_t i1,
                              int64_t i2) {
    return base + i0 * l->stride[0] + i1 * l->stride[1] + i2 * l->stride[2];
}

/* For every row of dst (its innermost dimension): pd, pa, pb point at the row's start in dst, a
 * and b, and STORE(i) writes element i. Each kind gets a loop nest of its own, so that only
 * its own values are live in it. */
#define STRIDED_ROWS(STORE)                                                                        \
    for (int64_t i0 = 0; i0 < ld.shape[0]; i0++)                                                   \
        for (int64_t i1 = 0; i1 < ld.shape[1]; i1++)                                               \
            for (int64_t i2 = 0; i2 < ld.shape[2]; i2++) {                                         \
                float *pd = (float *)at(d, &ld, i0, i1, i2);                                       \
                const float *pa = at(x, &la, i0, i1, i2), *pb = at(y, &lb, i0, i1, i2);            \
                (void)pa, (void)pb;                                                                \
                for (int64_t i = 0; i < n; i++) STORE(i);                                          \
            }

#define STORE_COPY(i) pd[(i) * sd] = pa[(i) * sa]
#define STORE_UNARY(i) pd[(i) * sd] = mt_unary_apply(op, pa[(i) * sa])
#define STORE_BINARY(i) pd[(i) * sd] = mt_binary_apply(op, pa[(i) * sa], pb[(i) * sb])
#define STORE_SCALAR(i) pd[(i) * sd] = mt_binary_apply(op, pa[(i) * sa], s)
#define STORE_FILL(i) pd[(i) * sd] = s

/* One pass of kind over dst's rows; a is read for every kind but EW_FILL, b only for
 * EW_BINARY. Out of line: inlined into the entries beside their flat paths, its inner loops
 * had their counters spilled to the stack (copy_strided 1.4x slower). */
static __attribute__((noinline)) void strided(ew_kind kind, int op, const mt_tensor *dst,
                                              const mt_tensor *a, const mt_tensor *b, float s) {
    mt_layout ld, la, lb;
    mt_layout_of(dst, &ld);
    mt_layout_of(a, &la);
    mt_layout_of(b ? b : a, &lb);
    float *d = mt_tensor_data(dst);
    const float *x = mt_tensor_data(a), *y = b ? mt_tensor_data(b) : x;
    const int64_t n = ld.shape[3], sd = ld.stride[3], sa = la.stride[3], sb = lb.stride[3];
    switch (kind) {
    case EW_COPY: STRIDED_ROWS(STORE_COPY) break;
    case EW_UNARY: STRIDED_ROWS(STORE_UNARY) break;
    case EW_BINARY: STRIDED_ROWS(STORE_BINARY) break;
    case EW_SCALAR: STRIDED_ROWS(STORE_SCALAR) break;
    case EW_FILL: STRIDED_ROWS(STORE_FILL) break;
    }
}

/* ---- the backend's entries ---------------------------------------------------------------- */

/* One elementwise pass: flat (and split across threads) when every operand is contiguous. */
static mt_status elementwise(ew_kind kind, int op, const mt_tensor *dst, const mt_tensor *a,
                             const mt_tensor *b, float s) {
    static void (*const flat[])(void *, int64_t, int64_t, int) = {
        [EW_COPY] = flat_copy,     [EW_UNARY] = flat_unary, [EW_BINARY] = flat_binary,
        [EW_SCALAR] = flat_scalar, [EW_FILL] = flat_fill,
    };
    if (mt_tensor_is_contiguous(dst) && mt_tensor_is_contiguous(a) &&
        (!b || mt_tensor_is_contiguous(b))) {
        flat_args fa = {op, mt_tensor_data(dst), mt_tensor_data(a), b ? mt_tensor_data(b) : NULL,
                        s};
        mt_parallel_for(mt_tensor_numel(dst), PARALLEL_GRAIN, flat[kind], &fa);
    } else {
        strided(kind, op, dst, a, b, s);
    }
    return MT_OK;
}

mt_status mt_cpu_copy(const mt_tensor *dst, const mt_tensor *src) {
    return elementwise(EW_COPY, 0, dst, src, NULL, 0.0f);
}

/* (dst stands in for the source it does not have) */
mt_status mt_cpu_fill(const mt_tensor *dst, float value) {
    return elementwise(EW_FILL, 0, dst, dst, NULL, value);
}

mt_status mt_cpu_unary(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src) {
    return elementwise(EW_UNARY, (int)op, dst, src, NULL, 0.0f);
}

mt_status mt_cpu_binary(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                        const mt_tensor *b) {
    return elementwise(EW_BINARY, (int)op, dst, a, b, 0.0f);
}

mt_status mt_cpu_binary_scalar(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                               float s) {
    return elementwise(EW_SCALAR, (int)op, dst, a, NULL, s);
}
