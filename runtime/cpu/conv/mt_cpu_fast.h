/* mt_cpu_fast.h - the convolution and fully connected layers on the project's GEMM engine
 * (mt_cpu_engine.h), used by the kernel sets "generic", "avx2" and "avx512". */
#ifndef MT_CPU_FAST_H
#define MT_CPU_FAST_H

#include "cpu/conv/mt_cpu_conv.h"

mt_status mt_conv_fast_forward(const mt_conv_geom *g, const float *x, const float *w,
                               const float *b, const float *prelu, float *y);
mt_status mt_conv_fast_pool_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd, int64_t ph,
                                   int64_t pw, const float *x, const float *w, const float *b,
                                   const float *prelu, float *y);
mt_status mt_conv_fast_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                      float *dx);
mt_status mt_conv_fast_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db);
mt_status mt_conv_fast_backward(const mt_conv_geom *g, const float *x, const float *dy,
                                const float *w, float *dx, float *dw, float *db);
struct mt_pool_grad;
/* Training's conv -> PReLU -> pooling parameter gradients from the pooled gradient, when the
 * engine takes geometry g (mt_engine.conv_backward_params_pooled). */
int mt_conv_fast_backward_pooled_ok(const mt_conv_geom *g);
mt_status mt_conv_fast_backward_params_pooled(const mt_conv_geom *g, const float *x,
                                              const struct mt_pool_grad *pg, float *dw,
                                              float *db, float *da);
mt_status mt_linear_fast_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                 const float *w, const float *b, const float *prelu, float *y);
mt_status mt_linear_fast_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                        const float *w, float *dx);
mt_status mt_linear_fast_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                         const float *dy, float *dw, float *db);

#endif
