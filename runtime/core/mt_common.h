/*
 * mt_common.h - status codes and the error channel of the C core.
 *
 * Every fallible function of the core returns an mt_status. On failure it has
 * also written a message into a thread-local buffer, read with mt_last_error().
 * The message names the function, the shapes or file involved, and the
 * problem, e.g. "add: shape mismatch: 2x3 and 3x2". The core never exits,
 * aborts or longjmps: the Lua bindings turn a failed status into a Lua error
 * (or a nil, message pair) after releasing their temporaries.
 */
#ifndef MT_COMMON_H
#define MT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_ARG,     /* a bad argument: wrong value, dimension out of range */
    MT_ERR_SHAPE,   /* shapes that do not fit together */
    MT_ERR_DEVICE,  /* operands on different devices, or no such device */
    MT_ERR_OOM,     /* an allocation failed even after a garbage collection */
    MT_ERR_IO,      /* a file could not be opened, read or written */
    MT_ERR_FORMAT,  /* a file's content is not what it should be */
    MT_ERR_CUDA,    /* the CUDA runtime, cuBLAS or cuDNN reported an error */
    MT_ERR_UNSUPPORTED, /* the operation is not implemented for this input */
    MT_ERR_INTERRUPTED  /* stopped early: an interrupt was requested (Ctrl-C in the host) */
} mt_status;

/* Records a failure: formats the message into the thread-local buffer and
 * returns st, so that callers can write `return mt_fail(MT_ERR_ARG, ...)`. */
mt_status mt_fail(mt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message of the last failure on this thread ("" if none). */
const char *mt_last_error(void);

/* Prefixes the current message with "prefix: " (used to add a file name or a
 * caller's name to an inner error). Returns st. */
mt_status mt_error_prefix(mt_status st, const char *prefix);

/* The interrupt request: the host's SIGINT handler sets it (async-signal-safe), long
 * computations poll it at points where stopping is safe (between layers of a plan, between
 * images of sample generation, NN entry points) and return MT_ERR_INTERRUPTED; the host
 * clears it before each call it makes. Nothing else sets it. */
void mt_interrupt_set(int on);
int mt_interrupted(void);
/* mt_fail(MT_ERR_INTERRUPTED, "<what>: interrupted") */
mt_status mt_interrupt_fail(const char *what);

/* A short name for a status, e.g. "shape" for MT_ERR_SHAPE. */
const char *mt_status_name(mt_status st);

/* Propagates a failed status to the caller. */
#define MT_TRY(expr)                                                                               \
    do {                                                                                           \
        mt_status mt_try_st_ = (expr);                                                             \
        if (mt_try_st_ != MT_OK) return mt_try_st_;                                                \
    } while (0)

/* Put before a function: compiles it for AVX-512, AVX2 and baseline x86-64, the best the CPU
 * runs picked at load time (GCC on x86-64; nothing elsewhere). For loops the compiler
 * vectorises lane by lane, so that the choice never changes a result. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MT_TARGET_CLONES                                                                           \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MT_TARGET_CLONES
#endif

/* ---- numbers that come from data -----------------------------------------------------------
 * A float read from a file or computed from one (a network output, a box, a coordinate) may be
 * NaN, infinite or huge, and converting such a value to an integer is undefined behaviour; a
 * size multiplied from header fields may wrap around. The core converts and multiplies such
 * values only through these. */

/* 1 and *out = v truncated toward zero when v is a number in [lo, hi]; 0 (and *out untouched)
 * for NaN, an infinity or a value outside the range. */
static inline int mt_to_i32(double v, int32_t lo, int32_t hi, int32_t *out) {
    if (!(v >= (double)lo && v <= (double)hi)) return 0;
    *out = (int32_t)v;
    return 1;
}

/* The same for 64-bit integers; the bounds are doubles so that they can be exact
 * (+-2^53 holds every integer a double can name one by one). */
static inline int mt_to_i64(double v, double lo, double hi, int64_t *out) {
    if (!(v >= lo && v <= hi && v > -9.2e18 && v < 9.2e18)) return 0;
    *out = (int64_t)v;
    return 1;
}

/* v truncated toward zero and clamped to [lo, hi]; NaN gives nan_as. */
static inline int32_t mt_clamp_i32(double v, int32_t lo, int32_t hi, int32_t nan_as) {
    if (v != v) return nan_as;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (int32_t)v;
}

/* *out = a * b, or 0 when the product does not fit a size_t. */
static inline int mt_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* *out = a + b, or 0 when the sum does not fit a size_t. */
static inline int mt_size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* Formats a shape as "2x3x4" into buf (at least MT_SHAPE_STR bytes). */
#define MT_SHAPE_STR 96
const char *mt_shape_str(char *buf, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif

#endif
