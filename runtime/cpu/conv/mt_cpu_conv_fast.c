/* mt_cpu_conv_fast.c - the layers on the GEMM engine of the selected instruction set
 * (mt_cpu_engine.h): "generic", "avx2" or "avx512". */
#include "cpu/conv/mt_cpu_fast.h"

#include "cpu/engine/mt_cpu_engine.h"

/* The engine of the current kernel set (never NULL: the generic one at least). */
static const mt_engine *engine(void) {
    const mt_engine *e = NULL;
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_AVX512: e = mt_engine_avx512(); break;
    case MT_KERNELS_AVX2: e = mt_engine_avx2(); break;
    default: break;
    }
    return e ? e : mt_engine_generic();
}

mt_status mt_conv_fast_forward(const mt_conv_geom *g, const float *x, const float *w,
                               const float *b, const float *prelu, float *y) {
    return engine()->conv_forward(g, x, w, b, prelu, y);
}

mt_status mt_conv_fast_pool_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd, int64_t ph,
                                   int64_t pw, const float *x, const float *w, const float *b,
                                   const float *prelu, float *y) {
    return engine()->conv_pool_forward(g, pd, ph, pw, x, w, b, prelu, y);
}

mt_status mt_conv_fast_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                      float *dx) {
    return engine()->conv_backward_input(g, dy, w, dx);
}

mt_status mt_conv_fast_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                       float *dw, float *db) {
    return engine()->conv_backward_params(g, x, dy, dw, db);
}

mt_status mt_conv_fast_backward(const mt_conv_geom *g, const float *x, const float *dy,
                                const float *w, float *dx, float *dw, float *db) {
    return engine()->conv_backward(g, x, dy, w, dx, dw, db);
}

int mt_conv_fast_backward_pooled_ok(const mt_conv_geom *g) {
    return engine()->conv_backward_pooled_ok(g);
}

mt_status mt_conv_fast_backward_params_pooled(const mt_conv_geom *g, const float *x,
                                              const mt_pool_grad *pg, float *dw, float *db,
                                              float *da) {
    return engine()->conv_backward_params_pooled(g, x, pg, dw, db, da);
}

mt_status mt_linear_fast_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                 const float *w, const float *b, const float *prelu, float *y) {
    return engine()->linear_forward(n, in, out, x, w, b, prelu, y);
}

mt_status mt_linear_fast_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                        const float *w, float *dx) {
    return engine()->linear_backward_input(n, in, out, dy, w, dx);
}

mt_status mt_linear_fast_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                         const float *dy, float *dw, float *db) {
    return engine()->linear_backward_params(n, in, out, x, dy, dw, db);
}
