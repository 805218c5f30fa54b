/* mt_cpu_conv.h - convolution and fully connected kernels of the CPU backend, by kernel set:
 * reference loops (mt_cpu_conv_ref.c), im2col + OpenBLAS (mt_cpu_conv_blas.c) and the GEMM
 * engines (engine/). Pointers are to contiguous float arrays; outputs are sized. */
#ifndef MT_CPU_CONV_H
#define MT_CPU_CONV_H

#include "cpu/mt_cpu.h"

/* Geometry of one convolution: input [n,cin,h,w], weight [cout,cin,kh,kw], output
 * [n,cout,oh,ow], strides sh, sw and zero padding ph, pw. */
typedef struct mt_conv_geom {
    int64_t n, cin, h, w, cout, kh, kw, oh, ow;
    int64_t sh, sw, ph, pw;
} mt_conv_geom;

/* Every kernel set fills the engines' table (mt_engine, engine/mt_cpu_engine.h). The reference
 * and BLAS sets fill its six basic operations only (MT_CONV_SET_OPS) and leave the fused paths
 * NULL; each of their files defines the six as static functions of those names, and
 * MT_CONV_SET(name) is its table. */
struct mt_engine;
/* reference loops (double accumulators, one thread) */
const struct mt_engine *mt_conv_ref_set(void);
/* im2col + OpenBLAS sgemm, split over samples on the thread pool */
const struct mt_engine *mt_conv_blas_set(void);

#define MT_CONV_SET_OPS(X)                                                                         \
    X(conv_forward) X(conv_backward_input) X(conv_backward_params) X(linear_forward)               \
    X(linear_backward_input) X(linear_backward_params)
#define MT_CONV_SET_ENTRY(op) .op = op,
#define MT_CONV_SET(label) {.name = label, MT_CONV_SET_OPS(MT_CONV_SET_ENTRY)}

#endif
