/*
 * mt_cpu_engine.h - the project's GEMM engine for convolutions and fully connected layers.
 *
 * One engine per instruction set (mt_cpu_engine_avx512.c, _avx2.c, _generic.c). Each gives
 * its vector primitives and compiles the same driver over them (mt_cpu_engine_impl.h: the
 * micro-kernels, packing, blocking, threading, epilogues), so that every loop is written once
 * and vectorised for each instruction set. mt_cpu_kernels.c picks one at run time with
 * __builtin_cpu_supports.
 *
 * How the layers map to matrix products (NCHW, batch folded into the columns):
 *   conv forward   Y[Cout, N*P] = W[Cout, K] * im2col(X)[K, N*P], K = Cin*kh*kw, P = OH*OW:
 *                  "broadcast" micro-kernel (rows of W broadcast, 16-wide vectors along the
 *                  pixels), im2col done while packing each panel of columns, bias and PReLU
 *                  applied as the tile is stored into Y.
 *   conv dX        im2col(dX) = W^T[K, Cout] * dY[Cout, N*P], scattered into dX (col2im) as
 *                  each tile is stored; threads own whole samples, so no two write one value.
 *   conv dW        dW[Cout, K] += sum over pixels of dY[Cout, p] im2col(X)[K, p]: "dot"
 *                  micro-kernel with vectors along the pixels (both operands are contiguous
 *                  there), per-thread partial sums reduced in a fixed order.
 *   linear         Y = X W^T, dX = dY W, dW += dY^T X with the broadcast micro-kernel.
 * Stride-1 convolutions on maps wide enough take a direct ("wide") path instead of im2col
 * copies: computed on the input-width grid, tap k of output column q reads x[off_k + q], so the
 * micro-kernels read input rows in place (mt_cpu_engine_wide.h explains it). A kernel as large
 * as its unpadded input is run as the fully connected layer it is.
 */
#ifndef MT_CPU_ENGINE_H
#define MT_CPU_ENGINE_H

#include "cpu/conv/mt_cpu_conv.h"

/* Where and how a micro-kernel stores its mr x nr tile. */
typedef struct mt_tile_out {
    float *c;           /* element (0, 0) of the tile in the destination */
    int64_t ldc;        /* distance between rows */
    int nvalid;         /* columns to store (<= nr); the rest are dropped */
    int accumulate;     /* 1: c += tile; 0: c = tile */
    const float *bias;  /* added before the activation; NULL: none */
    const float *slope; /* PReLU slopes; NULL: no activation */
    int col_params;     /* 1: bias/slope indexed by column (fully connected); 0: by row */
} mt_tile_out;

/* Where the direct ("wide") forward kernel stores a tile: runs of consecutive panel columns
 * [j0, j0 + len) go to dst[r] + (0 .. len) in row 0, rows ldc apart; bias and PReLU slopes
 * per row (NULL: none). */
#define MT_WIDE_RUNS (2 * 32 + 2)
typedef struct wide_out {
    int nrun;
    float *dst[MT_WIDE_RUNS];
    int j0[MT_WIDE_RUNS], len[MT_WIDE_RUNS];
    int64_t ldc;
    const float *bias, *slope;
} wide_out;

/* The backward of training's PReLU + max pooling after a convolution, as the engine reads it
 * while computing the convolution's parameter gradients (mt_cpu_pool.c has the same pass on
 * its own): the convolution's output z [n, cout, oh, ow], the PReLU slopes [cout], the
 * offsets of the pooling's maxima in their planes and the pooled gradient (both [n, cout,
 * ph, pw], php = ph * pw values per plane). */
typedef struct mt_pool_grad {
    const float *z, *slope, *at, *gy;
    int64_t php;
} mt_pool_grad;

/* The operations of one engine (same contracts as mt_cpu_conv.h's kernel sets). */
typedef struct mt_engine {
    const char *name;
    int nr;     /* columns per micro-tile */
    int mr_max; /* rows per micro-tile, at most */
    mt_status (*conv_forward)(const mt_conv_geom *g, const float *x, const float *w,
                              const float *b, const float *prelu, float *y);
    mt_status (*conv_backward_input)(const mt_conv_geom *g, const float *dy, const float *w,
                                     float *dx);
    mt_status (*conv_backward_params)(const mt_conv_geom *g, const float *x, const float *dy,
                                      float *dw, float *db);
    mt_status (*linear_forward)(int64_t n, int64_t in, int64_t out, const float *x,
                                const float *w, const float *b, const float *prelu, float *y);
    mt_status (*linear_backward_input)(int64_t n, int64_t in, int64_t out, const float *dy,
                                       const float *w, float *dx);
    mt_status (*linear_backward_params)(int64_t n, int64_t in, int64_t out, const float *x,
                                        const float *dy, float *dw, float *db);
    /* conv + bias + PReLU + max pooling (pooled output [n, cout, ph, pw]) in one pass, for
     * geometries where mt_conv_pool_fusable holds (mt_cpu_engine_block.h) */
    mt_status (*conv_pool_forward)(const mt_conv_geom *g, const mt_pool2d_desc *pd, int64_t ph,
                                   int64_t pw, const float *x, const float *w, const float *b,
                                   const float *prelu, float *y);
    /* dw, db (may be NULL) and the slope gradient da += the gradients of conv -> PReLU ->
     * max pooling from the pooled gradient (pg), the convolution's output gradient formed
     * per group of samples inside the pass (never stored), for geometries where
     * conv_backward_pooled_ok holds (the direct "wide" path). An offset outside its plane
     * fails with MT_ERR_ARG. */
    /* dx (overwritten) and dw, db (may be NULL; accumulated) in one call: the numbers of
     * conv_backward_input and conv_backward_params */
    mt_status (*conv_backward)(const mt_conv_geom *g, const float *x, const float *dy,
                               const float *w, float *dx, float *dw, float *db);
    int (*conv_backward_pooled_ok)(const mt_conv_geom *g);
    mt_status (*conv_backward_params_pooled)(const mt_conv_geom *g, const float *x,
                                             const mt_pool_grad *pg, float *dw, float *db,
                                             float *da);
} mt_engine;

/* Whether conv_pool_forward takes geometry g: stride 1, no padding, and output rows that cover
 * at least 3/4 of the input width (the rest of the width is computed and dropped). */
static inline int mt_conv_pool_fusable(const mt_conv_geom *g) {
    return g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && 4 * g->ow >= 3 * g->w;
}

/* The engines; the AVX ones return NULL when the compiler could not build them. */
const mt_engine *mt_engine_generic(void);
const mt_engine *mt_engine_avx2(void);
const mt_engine *mt_engine_avx512(void);

#endif
