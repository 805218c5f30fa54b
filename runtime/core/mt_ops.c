/* mt_ops.c - argument checks and device dispatch of the tensor operations. */
#include "core/mt_ops.h"

#include "core/mt_alloc.h"

#include <math.h>
#include <stdlib.h>

static const char *const unary_names[MT_UN_COUNT] = {"neg", "abs", "sqrt", "exp", "log"};
static const char *const binary_names[MT_BIN_COUNT] = {"add", "sub", "mul", "div", "rsub",
                                                       "rdiv", "cmax", "cmin", "pow"};
static const char *const reduce_names[MT_RED_COUNT] = {"sum", "mean", "max",
                                                       "min", "argmax", "argmin"};

const char *mt_unary_name(mt_unary_op op) {
    return (unsigned)op < MT_UN_COUNT ? unary_names[op] : "unary";
}
const char *mt_binary_name(mt_binary_op op) {
    return (unsigned)op < MT_BIN_COUNT ? binary_names[op] : "binary";
}
const char *mt_reduce_name(mt_reduce_op op) {
    return (unsigned)op < MT_RED_COUNT ? reduce_names[op] : "reduce";
}

void mt_layout_of(const mt_tensor *t, mt_layout *l) {
    int pad = 4 - t->ndim;
    for (int i = 0; i < 4; i++) {
        if (i < pad) {
            l->shape[i] = 1;
            l->stride[i] = 0;
        } else {
            l->shape[i] = t->shape[i - pad];
            l->stride[i] = t->stride[i - pad];
        }
    }
}

mt_status mt_check_same_device(const char *what, int n, const mt_tensor *const *ts) {
    const mt_tensor *first = NULL;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        if (!first) {
            first = ts[i];
        } else if (mt_tensor_device(ts[i]) != mt_tensor_device(first)) {
            return mt_fail(MT_ERR_DEVICE, "%s: tensors on different devices (%s and %s); move "
                                          "them with :cuda() or :cpu() first",
                           what, mt_device_name(mt_tensor_device(first)),
                           mt_device_name(mt_tensor_device(ts[i])));
        }
    }
    return MT_OK;
}

mt_status mt_check_same_shape(const char *what, const mt_tensor *a, const mt_tensor *b) {
    if (mt_tensor_same_shape(a, b)) return MT_OK;
    char sa[MT_SHAPE_STR], sb[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "%s: shape mismatch: %s and %s", what, mt_tensor_shape_str(a, sa),
                   mt_tensor_shape_str(b, sb));
}

static const mt_backend *backend_of(const mt_tensor *t) {
    return mt_backend_for(mt_tensor_device(t));
}

/* ---- fill and copy ---------------------------------------------------------------------- */

mt_status mt_fill(mt_tensor *dst, float value) {
    const mt_backend *be = backend_of(dst);
    if (!be) return MT_ERR_DEVICE;
    return be->fill(dst, value);
}

mt_status mt_copy_any(mt_tensor *dst, const mt_tensor *src) {
    int64_t n = mt_tensor_numel(dst);
    if (n != mt_tensor_numel(src)) {
        char sa[MT_SHAPE_STR], sb[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "copy: %s and %s have different numbers of elements",
                       mt_tensor_shape_str(dst, sa), mt_tensor_shape_str(src, sb));
    }
    if (mt_tensor_device(dst) == mt_tensor_device(src) && mt_tensor_same_shape(dst, src))
        return backend_of(dst)->copy(dst, src);
    /* bring src to dst's device as a contiguous block, then view it in dst's shape */
    mt_tensor *moved, *shaped;
    MT_TRY(mt_tensor_to_device(&moved, src, mt_tensor_device(dst)));
    mt_status st = mt_tensor_reshape(&shaped, moved, dst->ndim, dst->shape);
    if (st == MT_OK) {
        st = backend_of(dst)->copy(dst, shaped);
        mt_tensor_release(shaped);
    }
    mt_tensor_release(moved);
    return st;
}

/* ---- elementwise ------------------------------------------------------------------------ */

/* A new tensor shaped like `like`, on its device. */
static mt_status new_like(mt_tensor **t, const mt_tensor *like) {
    return mt_tensor_new(t, mt_tensor_device(like), like->ndim, like->shape);
}

/* Hands t to the caller when the op that filled it succeeded (st), else releases it. */
static mt_status keep(mt_tensor **out, mt_tensor *t, mt_status st) {
    if (st != MT_OK) {
        mt_tensor_release(t);
        return st;
    }
    *out = t;
    return MT_OK;
}

/* The operands of an elementwise op share one device and one shape (b may be NULL). */
static mt_status check_operands(const char *name, const mt_tensor *dst, const mt_tensor *a,
                                const mt_tensor *b) {
    const mt_tensor *ts[3] = {dst, a, b};
    MT_TRY(mt_check_same_device(name, 3, ts));
    if (b) MT_TRY(mt_check_same_shape(name, a, b));
    return mt_check_same_shape(name, dst, a);
}

mt_status mt_unary_into(mt_unary_op op, mt_tensor *dst, const mt_tensor *src) {
    MT_TRY(check_operands(mt_unary_name(op), dst, src, NULL));
    return backend_of(dst)->unary(op, dst, src);
}

mt_status mt_unary(mt_unary_op op, mt_tensor **out, const mt_tensor *src) {
    mt_tensor *t;
    MT_TRY(new_like(&t, src));
    return keep(out, t, backend_of(src)->unary(op, t, src));
}

mt_status mt_binary_into(mt_binary_op op, mt_tensor *dst, const mt_tensor *a, const mt_tensor *b) {
    MT_TRY(check_operands(mt_binary_name(op), dst, a, b));
    return backend_of(dst)->binary(op, dst, a, b);
}

mt_status mt_binary(mt_binary_op op, mt_tensor **out, const mt_tensor *a, const mt_tensor *b) {
    MT_TRY(check_operands(mt_binary_name(op), a, a, b)); /* a stands in for the new tensor */
    mt_tensor *t;
    MT_TRY(new_like(&t, a));
    return keep(out, t, backend_of(a)->binary(op, t, a, b));
}

mt_status mt_binary_scalar_into(mt_binary_op op, mt_tensor *dst, const mt_tensor *a, float s) {
    MT_TRY(check_operands(mt_binary_name(op), dst, a, NULL));
    return backend_of(dst)->binary_scalar(op, dst, a, s);
}

mt_status mt_binary_scalar(mt_binary_op op, mt_tensor **out, const mt_tensor *a, float s) {
    mt_tensor *t;
    MT_TRY(new_like(&t, a));
    return keep(out, t, backend_of(a)->binary_scalar(op, t, a, s));
}

/* ---- reductions ------------------------------------------------------------------------- */

mt_status mt_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value, int64_t *index) {
    int64_t n = mt_tensor_numel(src);
    *index = -1;
    if (n == 0) {
        if (op == MT_RED_SUM) {
            *value = 0.0;
            return MT_OK;
        }
        if (op == MT_RED_MEAN) {
            *value = NAN;
            return MT_OK;
        }
        return mt_fail(MT_ERR_ARG, "%s: the tensor is empty", mt_reduce_name(op));
    }
    return backend_of(src)->reduce_all(op, src, value, index);
}

mt_status mt_reduce_dim(mt_reduce_op op, mt_tensor **values, mt_tensor **index,
                        const mt_tensor *src, int dim) {
    const char *name = mt_reduce_name(op);
    if (dim < 0 || dim >= src->ndim)
        return mt_fail(MT_ERR_ARG, "%s: dimension %d out of range for a %d-dimensional tensor",
                       name, dim + 1, src->ndim);
    bool has_index = op == MT_RED_MAX || op == MT_RED_MIN || op == MT_RED_ARGMAX ||
                     op == MT_RED_ARGMIN;
    if (src->shape[dim] == 0 && op != MT_RED_SUM && op != MT_RED_MEAN)
        return mt_fail(MT_ERR_ARG, "%s: dimension %d is empty", name, dim + 1);
    int64_t sh[MT_MAX_DIMS];
    for (int i = 0; i < src->ndim; i++) sh[i] = src->shape[i];
    sh[dim] = 1;
    mt_tensor *v = NULL, *ix = NULL;
    mt_status st = mt_tensor_new(&v, mt_tensor_device(src), src->ndim, sh);
    if (st == MT_OK && has_index && index)
        st = mt_tensor_new(&ix, mt_tensor_device(src), src->ndim, sh);
    if (st == MT_OK) st = backend_of(src)->reduce_dim(op, v, ix, src, dim);
    if (st != MT_OK) {
        mt_tensor_release(v);
        mt_tensor_release(ix);
        return st;
    }
    *values = v;
    if (index) *index = ix;
    return MT_OK;
}

/* ---- comparison ------------------------------------------------------------------------- */

mt_status mt_max_abs_diff(const mt_tensor *a, const mt_tensor *b, double *out) {
    mt_tensor *d;
    int64_t ix;
    MT_TRY(mt_binary(MT_BIN_SUB, &d, a, b));
    mt_status st = mt_unary_into(MT_UN_ABS, d, d);
    if (st == MT_OK) {
        if (mt_tensor_numel(d) == 0) *out = 0.0;
        else st = mt_reduce_all(MT_RED_MAX, d, out, &ix);
    }
    mt_tensor_release(d);
    return st;
}

mt_status mt_allclose(const mt_tensor *a, const mt_tensor *b, double rtol, double atol,
                      bool *out) {
    /* excess = |a - b| - rtol * |b|, close when max(excess) <= atol (NaN fails) */
    mt_tensor *d = NULL, *bb = NULL;
    int64_t ix;
    double worst = 0.0;
    mt_status st = mt_binary(MT_BIN_SUB, &d, a, b);
    if (st == MT_OK) st = mt_unary_into(MT_UN_ABS, d, d);
    if (st == MT_OK) st = mt_unary(MT_UN_ABS, &bb, b);
    if (st == MT_OK) st = mt_binary_scalar_into(MT_BIN_MUL, bb, bb, (float)rtol);
    if (st == MT_OK) st = mt_binary_into(MT_BIN_SUB, d, d, bb);
    if (st == MT_OK && mt_tensor_numel(d) > 0) st = mt_reduce_all(MT_RED_MAX, d, &worst, &ix);
    mt_tensor_release(d);
    mt_tensor_release(bb);
    if (st == MT_OK) *out = worst <= atol;
    return st;
}

/* ---- generated contents ----------------------------------------------------------------- */

/* Fills t from a host buffer that gen writes (random numbers are made on the
 * host so that a seed gives the same values on every device). */
static mt_status fill_from_host(mt_tensor *t, const char *what,
                                void (*gen)(float *, int64_t, void *), void *ud) {
    int64_t n = mt_tensor_numel(t);
    if (mt_tensor_device(t) == MT_CPU && mt_tensor_is_contiguous(t)) {
        gen(mt_tensor_data(t), n, ud);
        return MT_OK;
    }
    float *tmp = (float *)mt_host_alloc((size_t)n * sizeof(float), what);
    if (!tmp) return MT_ERR_OOM;
    gen(tmp, n, ud);
    mt_status st = mt_tensor_upload(t, tmp, n);
    mt_host_free(tmp, (size_t)n * sizeof(float));
    return st;
}

typedef struct rng_args {
    mt_rng *r;
    double a, b;
} rng_args;

static void gen_uniform(float *dst, int64_t n, void *ud) {
    rng_args *g = (rng_args *)ud;
    mt_rng_fill_uniform(g->r, dst, n, g->a, g->b);
}

static void gen_normal(float *dst, int64_t n, void *ud) {
    rng_args *g = (rng_args *)ud;
    mt_rng_fill_normal(g->r, dst, n, g->a, g->b);
}

static void gen_arange(float *dst, int64_t n, void *ud) {
    rng_args *g = (rng_args *)ud;
    for (int64_t i = 0; i < n; i++) dst[i] = (float)(g->a + (double)i * g->b);
}

mt_status mt_fill_uniform(mt_tensor *t, mt_rng *r, double a, double b) {
    if (!(a <= b)) return mt_fail(MT_ERR_ARG, "uniform: empty range [%g, %g)", a, b);
    rng_args g = {r, a, b};
    return fill_from_host(t, "uniform", gen_uniform, &g);
}

mt_status mt_fill_normal(mt_tensor *t, mt_rng *r, double mean, double std) {
    if (!(std >= 0)) return mt_fail(MT_ERR_ARG, "normal: standard deviation %g < 0", std);
    rng_args g = {r, mean, std};
    return fill_from_host(t, "normal", gen_normal, &g);
}

mt_status mt_fill_arange(mt_tensor *t, double start, double step) {
    rng_args g = {NULL, start, step};
    return fill_from_host(t, "arange", gen_arange, &g);
}
