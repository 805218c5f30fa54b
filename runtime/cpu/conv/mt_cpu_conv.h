/* mt_cpu_conv.h - convolution and fully connected kernels of the CPU backend, by kernel set:
 * reference loops (mt_cpu_conv_ref.c), im2col + OpenBLAS (mt_cpu_conv_blas.c) and the GEMM
 * engine (mt_cpu_conv_fast.c). Pointers are to contiguous float arrays; outputs are sized. */
#ifndef MT_CPU_CONV_H
#define MT_CPU_CONV_H

#include "cpu/mt_cpu.h"

/* Geometry of one convolution: input [n,cin,h,w], weight [cout,cin,kh,kw], output
 * [n,cout,oh,ow], strides sh, sw and zero padding ph, pw. */
typedef struct mt_conv_geom {
    int64_t n, cin, h, w, cout, kh, kw, oh, ow;
    int64_t sh, sw, ph, pw;
} mt_conv_geom;

void mt_conv_geom_of(mt_conv_geom *g, const mt_tensor *x, const mt_tensor *w,
                     const int64_t *yshape, const mt_conv2d_desc *d);

/* reference (double accumulators, one thread) */
void mt_conv_ref_forward(const mt_conv_geom *g, const float *x, const float *w, const float *b,
                         const float *prelu, float *y);
void mt_conv_ref_backward_input(const mt_conv_geom *g, const float *dy, const float *w, float *dx);
void mt_conv_ref_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                 float *dw, float *db);
void mt_linear_ref_forward(int64_t n, int64_t in, int64_t out, const float *x, const float *w,
                           const float *b, const float *prelu, float *y);
void mt_linear_ref_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                  const float *w, float *dx);
void mt_linear_ref_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                   const float *dy, float *dw, float *db);

/* im2col + OpenBLAS sgemm, split over samples on the thread pool */
mt_status mt_conv_blas_forward(const mt_conv_geom *g, const float *x, const float *w,
                               const float *b, const float *prelu, float *y);
mt_status mt_conv_blas_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                      float *dx);
mt_status mt_conv_blas_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db);
mt_status mt_linear_blas_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                 const float *w, const float *b, const float *prelu, float *y);
mt_status mt_linear_blas_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                        const float *w, float *dx);
mt_status mt_linear_blas_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                         const float *dy, float *dw, float *db);

/* im2col of sample x_n [cin,h,w] into col [cin*kh*kw, oh*ow] (zeros outside the input),
 * and its adjoint col2im (adds col into dx_n, which the caller zeroes). */
void mt_im2col(const mt_conv_geom *g, const float *xn, float *col);
void mt_col2im(const mt_conv_geom *g, const float *col, float *dxn);

#endif
