/*
 * mt_elementwise.h - the arithmetic of one element of the unary and binary ops (mt_backend.h),
 * written once for the CPU kernels (C) and the CUDA kernels (compiled by nvcc for the device),
 * so that both devices compute the same float operations.
 */
#ifndef MT_ELEMENTWISE_H
#define MT_ELEMENTWISE_H

#include "core/mt_backend.h"

#include <math.h>

#ifdef __CUDACC__
#define MT_ELEMENTWISE_FN static __host__ __device__ __forceinline__
#else
#define MT_ELEMENTWISE_FN static inline
#endif

MT_ELEMENTWISE_FN float mt_unary_apply(int op, float x) {
    switch (op) {
    case MT_UN_NEG: return -x;
    case MT_UN_ABS: return fabsf(x);
    case MT_UN_SQRT: return sqrtf(x);
    case MT_UN_EXP: return expf(x);
    case MT_UN_LOG: return logf(x);
    default: return x;
    }
}

MT_ELEMENTWISE_FN float mt_binary_apply(int op, float x, float y) {
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

#endif
