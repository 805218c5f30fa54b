/*
 * mt_ops.h - checked entry points of the tensor operations.
 *
 * Each function checks its arguments (same device, matching shapes,
 * dimensions in range) and then runs the operation on the backend of the
 * operands' device. Functions ending in _into write into an existing tensor
 * (which may alias an input: the in-place forms); the others return a new
 * tensor with one reference for the caller. Errors name the operation and
 * the shapes, e.g. "add: shape mismatch: 2x3 and 3x2".
 */
#ifndef MT_OPS_H
#define MT_OPS_H

#include "core/mt_backend.h"
#include "core/mt_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The user-facing names of the ops ("add", "sqrt", "argmax", ...). */
const char *mt_unary_name(mt_unary_op op);
const char *mt_binary_name(mt_binary_op op);
const char *mt_reduce_name(mt_reduce_op op);

/* Checks that all given tensors (NULLs skipped) share one device. */
mt_status mt_check_same_device(const char *what, int n, const mt_tensor *const *ts);
/* Checks that a and b have the same shape. */
mt_status mt_check_same_shape(const char *what, const mt_tensor *a, const mt_tensor *b);

mt_status mt_fill(mt_tensor *dst, float value);
/* dst = src across devices too (same number of elements, row-major order). */
mt_status mt_copy_any(mt_tensor *dst, const mt_tensor *src);

mt_status mt_unary_into(mt_unary_op op, mt_tensor *dst, const mt_tensor *src);
mt_status mt_unary(mt_unary_op op, mt_tensor **out, const mt_tensor *src);
mt_status mt_binary_into(mt_binary_op op, mt_tensor *dst, const mt_tensor *a, const mt_tensor *b);
mt_status mt_binary(mt_binary_op op, mt_tensor **out, const mt_tensor *a, const mt_tensor *b);
mt_status mt_binary_scalar_into(mt_binary_op op, mt_tensor *dst, const mt_tensor *a, float s);
mt_status mt_binary_scalar(mt_binary_op op, mt_tensor **out, const mt_tensor *a, float s);

/* Reduction over all elements; *index (0-based, row-major) for arg ops.
 * An empty tensor gives 0 for sum, NaN for mean, and an error for the rest. */
mt_status mt_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value, int64_t *index);
/* Reduction along dim (0-based): *values keeps dim with size 1; *index gets
 * 0-based positions (as floats) for MAX/MIN/ARGMAX/ARGMIN when index != NULL. */
mt_status mt_reduce_dim(mt_reduce_op op, mt_tensor **values, mt_tensor **index,
                        const mt_tensor *src, int dim);

/* Largest |a - b| over all elements (same shape and device). NaN in either
 * operand where the other is not NaN gives +inf. */
mt_status mt_max_abs_diff(const mt_tensor *a, const mt_tensor *b, double *out);
/* |a - b| <= atol + rtol * |b| everywhere (NaNs equal only if equal_nan). */
mt_status mt_allclose(const mt_tensor *a, const mt_tensor *b, double rtol, double atol,
                      bool *out);

/* Fills t with U[a, b) or N(mean, std^2) from r (generated on the host, so a
 * seed gives the same numbers on every device). */
mt_status mt_fill_uniform(mt_tensor *t, mt_rng *r, double a, double b);
mt_status mt_fill_normal(mt_tensor *t, mt_rng *r, double mean, double std);
/* 0, 1, 2, ... (start + i * step) in row-major order. */
mt_status mt_fill_arange(mt_tensor *t, double start, double step);

#ifdef __cplusplus
}
#endif

#endif
