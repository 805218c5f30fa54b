/* mt_cpu_conv.c - the CPU backend's convolution and fully connected entries: run the kernels
 * of the selected kernel set (mt_cpu_kernels.c). The _raw forward entries take contiguous
 * arrays (the tensor entries and mt_cpu_plan.c use them). */
#include "cpu/mt_cpu.h"
#include "cpu/conv/mt_cpu_conv.h"

#include "cpu/engine/mt_cpu_engine.h"

#include "core/mt_alloc.h"

/* The kernels of the current set; an engine the compiler could not build falls back to the
 * generic one. Only the engines have the fused paths (the fields ref and blas leave NULL). */
static const mt_engine *kernels(void) {
    const mt_engine *e = NULL;
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF: return mt_conv_ref_set();
    case MT_KERNELS_BLAS: return mt_conv_blas_set();
    case MT_KERNELS_AVX512: e = mt_engine_avx512(); break;
    case MT_KERNELS_AVX2: e = mt_engine_avx2(); break;
    default: break;
    }
    return e ? e : mt_engine_generic();
}

static void geom_of(mt_conv_geom *g, const mt_tensor *x, const mt_tensor *w,
                    const int64_t *yshape, const mt_conv2d_desc *d) {
    g->n = x->shape[0];
    g->cin = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->cout = w->shape[0];
    g->kh = w->shape[2];
    g->kw = w->shape[3];
    g->oh = yshape[2];
    g->ow = yshape[3];
    g->sh = d->stride_h;
    g->sw = d->stride_w;
    g->ph = d->pad_h;
    g->pw = d->pad_w;
}

/* The data of an optional operand (NULL: none). */
static float *opt_data(const mt_tensor *t) { return t ? mt_tensor_data(t) : NULL; }

mt_status mt_cpu_conv_forward_raw(const mt_conv_geom *g, const float *x, const float *w,
                                  const float *b, const float *prelu, float *y) {
    return kernels()->conv_forward(g, x, w, b, prelu, y);
}

mt_status mt_cpu_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y,
                                const mt_conv2d_desc *d) {
    mt_conv_geom g;
    geom_of(&g, x, w, y->shape, d);
    return mt_cpu_conv_forward_raw(&g, mt_tensor_data(x), mt_tensor_data(w), opt_data(b),
                                   opt_data(prelu), mt_tensor_data(y));
}

mt_status mt_cpu_conv_pool_forward_raw(const mt_conv_geom *g, const mt_pool2d_desc *pd,
                                       int64_t ph, int64_t pw, const float *x, const float *w,
                                       const float *b, const float *prelu, float *y) {
    const mt_engine *k = kernels();
    if (k->conv_pool_forward && mt_conv_pool_fusable(g))
        return k->conv_pool_forward(g, pd, ph, pw, x, w, b, prelu, y);
    /* the separate passes (kernel sets without a fused path, geometries it does not take):
     * the convolution into a temporary block, then the pooling */
    const size_t nbytes = sizeof(float) * (size_t)(g->n * g->cout * g->oh * g->ow);
    float *t = (float *)mt_host_alloc(nbytes, "conv2d_pool");
    if (!t) return MT_ERR_OOM;
    mt_status st = k->conv_forward(g, x, w, b, prelu, t);
    if (st == MT_OK)
        mt_cpu_maxpool_forward_raw(t, g->n * g->cout, g->oh, g->ow, pd, ph, pw, y);
    mt_host_free(t, nbytes);
    return st;
}

mt_status mt_cpu_conv2d_pool_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                     const mt_tensor *prelu, const mt_tensor *y,
                                     const mt_conv2d_desc *d, const mt_pool2d_desc *pd) {
    mt_conv_geom g;
    int64_t cshape[4] = {x->shape[0], w->shape[0],
                         mt_conv2d_out_size(x->shape[2], (int)w->shape[2], d->stride_h, d->pad_h),
                         mt_conv2d_out_size(x->shape[3], (int)w->shape[3], d->stride_w, d->pad_w)};
    geom_of(&g, x, w, cshape, d);
    return mt_cpu_conv_pool_forward_raw(&g, pd, y->shape[2], y->shape[3], mt_tensor_data(x),
                                        mt_tensor_data(w), opt_data(b), opt_data(prelu),
                                        mt_tensor_data(y));
}

mt_status mt_cpu_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx, const mt_conv2d_desc *d) {
    mt_conv_geom g;
    geom_of(&g, dx, w, dy->shape, d);
    return kernels()->conv_backward_input(&g, mt_tensor_data(dy), mt_tensor_data(w),
                                          mt_tensor_data(dx));
}

mt_status mt_cpu_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db,
                                        const mt_conv2d_desc *d) {
    mt_conv_geom g;
    geom_of(&g, x, dw, dy->shape, d);
    return kernels()->conv_backward_params(&g, mt_tensor_data(x), mt_tensor_data(dy),
                                           mt_tensor_data(dw), opt_data(db));
}

/* Both gradients of a convolution: dx overwritten, dw and db (may be NULL) accumulated; the
 * engine expands dY once for both on its wide path. */
mt_status mt_cpu_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                                 const mt_tensor *dx, const mt_tensor *dw, const mt_tensor *db,
                                 const mt_conv2d_desc *d) {
    const mt_engine *k = kernels();
    if (!k->conv_backward) {
        MT_TRY(mt_cpu_conv2d_backward_input(dy, w, dx, d));
        return mt_cpu_conv2d_backward_params(x, dy, dw, db, d);
    }
    mt_conv_geom g;
    geom_of(&g, x, dw, dy->shape, d);
    return k->conv_backward(&g, mt_tensor_data(x), mt_tensor_data(dy), mt_tensor_data(w),
                            mt_tensor_data(dx), mt_tensor_data(dw), opt_data(db));
}

/* Training's conv -> PReLU -> max pooling, parameter gradients from the pooled gradient: on
 * the engine's wide path in one pass (the convolution's output gradient never stored); for
 * the other kernel sets and geometries, the fused PReLU + pooling backward into dz (resized
 * here) and then the convolution's parameter gradients. */
mt_status mt_cpu_conv2d_prelu_pool_backward_params(const mt_tensor *x, const mt_tensor *z,
                                                   const mt_tensor *a, const mt_tensor *at,
                                                   const mt_tensor *gy, mt_tensor *dz,
                                                   const mt_tensor *dw, const mt_tensor *db,
                                                   const mt_tensor *da, const mt_conv2d_desc *d,
                                                   const mt_pool2d_desc *pd) {
    mt_conv_geom g;
    geom_of(&g, x, dw, z->shape, d);
    const mt_engine *k = kernels();
    if (k->conv_backward_params_pooled && k->conv_backward_pooled_ok(&g)) {
        const mt_pool_grad pg = {.z = mt_tensor_data(z), .slope = mt_tensor_data(a),
                                 .at = mt_tensor_data(at), .gy = mt_tensor_data(gy),
                                 .php = gy->shape[2] * gy->shape[3]};
        return k->conv_backward_params_pooled(&g, mt_tensor_data(x), &pg, mt_tensor_data(dw),
                                              opt_data(db), mt_tensor_data(da));
    }
    MT_TRY(mt_tensor_resize(dz, 4, z->shape));
    MT_TRY(mt_cpu_prelu_pool_backward(z, a, at, gy, dz, da, pd));
    return mt_cpu_conv2d_backward_params(x, dz, dw, db, d);
}

mt_status mt_cpu_linear_forward_raw(int64_t n, int64_t in, int64_t out, const float *x,
                                    const float *w, const float *b, const float *prelu,
                                    float *y) {
    return kernels()->linear_forward(n, in, out, x, w, b, prelu, y);
}

mt_status mt_cpu_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y) {
    return mt_cpu_linear_forward_raw(x->shape[0], w->shape[1], w->shape[0], mt_tensor_data(x),
                                     mt_tensor_data(w), opt_data(b), opt_data(prelu),
                                     mt_tensor_data(y));
}

mt_status mt_cpu_linear_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx) {
    return kernels()->linear_backward_input(dy->shape[0], w->shape[1], w->shape[0],
                                            mt_tensor_data(dy), mt_tensor_data(w),
                                            mt_tensor_data(dx));
}

mt_status mt_cpu_linear_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db) {
    return kernels()->linear_backward_params(x->shape[0], dw->shape[1], dw->shape[0],
                                             mt_tensor_data(x), mt_tensor_data(dy),
                                             mt_tensor_data(dw), opt_data(db));
}
