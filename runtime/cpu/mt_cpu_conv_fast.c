/* mt_cpu_conv_fast.c - placeholder routing of the engine kernel sets to OpenBLAS until the
 * GEMM engine lands. */
#include "mt_cpu_fast.h"

mt_status mt_conv_fast_forward(const mt_conv_geom *g, const float *x, const float *w,
                               const float *b, const float *prelu, float *y) {
    return mt_conv_blas_forward(g, x, w, b, prelu, y);
}
mt_status mt_conv_fast_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                      float *dx) {
    return mt_conv_blas_backward_input(g, dy, w, dx);
}
mt_status mt_conv_fast_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db) {
    return mt_conv_blas_backward_params(g, x, dy, dw, db);
}
mt_status mt_linear_fast_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                 const float *w, const float *b, const float *prelu, float *y) {
    return mt_linear_blas_forward(n, in, out, x, w, b, prelu, y);
}
mt_status mt_linear_fast_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                        const float *w, float *dx) {
    return mt_linear_blas_backward_input(n, in, out, dy, w, dx);
}
mt_status mt_linear_fast_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                         const float *dy, float *dw, float *db) {
    return mt_linear_blas_backward_params(n, in, out, x, dy, dw, db);
}
