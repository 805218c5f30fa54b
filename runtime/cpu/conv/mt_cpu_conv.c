/* mt_cpu_conv.c - the CPU backend's convolution and fully connected entries: pick the kernel
 * set (mt_cpu_kernels.c) and run it. The _raw forward entries take contiguous arrays (the
 * tensor entries and mt_cpu_plan.c use them). */
#include "cpu/mt_cpu.h"
#include "cpu/conv/mt_cpu_conv.h"

#include "cpu/engine/mt_cpu_engine.h"
#include "cpu/conv/mt_cpu_fast.h"

#include "core/mt_alloc.h"

static const float *opt_data(const mt_tensor *t) { return t ? mt_tensor_data(t) : NULL; }

mt_status mt_cpu_conv_forward_raw(const mt_conv_geom *g, const float *x, const float *w,
                                  const float *b, const float *prelu, float *y) {
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_conv_ref_forward(g, x, w, b, prelu, y);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_conv_blas_forward(g, x, w, b, prelu, y);
    default:
        return mt_conv_fast_forward(g, x, w, b, prelu, y);
    }
}

mt_status mt_cpu_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y,
                                const mt_conv2d_desc *d) {
    mt_conv_geom g;
    mt_conv_geom_of(&g, x, w, y->shape, d);
    return mt_cpu_conv_forward_raw(&g, mt_tensor_data(x), mt_tensor_data(w), opt_data(b),
                                   opt_data(prelu), mt_tensor_data(y));
}

mt_status mt_cpu_conv_pool_forward_raw(const mt_conv_geom *g, const mt_pool2d_desc *pd,
                                       int64_t ph, int64_t pw, const float *x, const float *w,
                                       const float *b, const float *prelu, float *y) {
    const mt_cpu_kernel_set set = mt_cpu_kernel_set_current();
    if (set != MT_KERNELS_REF && set != MT_KERNELS_BLAS && mt_conv_pool_fusable(g))
        return mt_conv_fast_pool_forward(g, pd, ph, pw, x, w, b, prelu, y);
    /* the separate passes (kernel sets without a fused path, geometries it does not take):
     * the convolution into a temporary block, then the pooling */
    const size_t nbytes = sizeof(float) * (size_t)(g->n * g->cout * g->oh * g->ow);
    float *t = (float *)mt_host_alloc(nbytes, "conv2d_pool");
    if (!t) return MT_ERR_OOM;
    mt_status st = mt_cpu_conv_forward_raw(g, x, w, b, prelu, t);
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
    mt_conv_geom_of(&g, x, w, cshape, d);
    return mt_cpu_conv_pool_forward_raw(&g, pd, y->shape[2], y->shape[3], mt_tensor_data(x),
                                        mt_tensor_data(w), opt_data(b), opt_data(prelu),
                                        mt_tensor_data(y));
}

mt_status mt_cpu_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx, const mt_conv2d_desc *d) {
    mt_conv_geom g;
    mt_conv_geom_of(&g, dx, w, dy->shape, d);
    const float *pdy = mt_tensor_data(dy), *pw = mt_tensor_data(w);
    float *pdx = mt_tensor_data(dx);
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_conv_ref_backward_input(&g, pdy, pw, pdx);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_conv_blas_backward_input(&g, pdy, pw, pdx);
    default:
        return mt_conv_fast_backward_input(&g, pdy, pw, pdx);
    }
}

mt_status mt_cpu_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db,
                                        const mt_conv2d_desc *d) {
    mt_conv_geom g;
    mt_conv_geom_of(&g, x, dw, dy->shape, d);
    const float *px = mt_tensor_data(x), *pdy = mt_tensor_data(dy);
    float *pdw = mt_tensor_data(dw), *pdb = db ? mt_tensor_data(db) : NULL;
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_conv_ref_backward_params(&g, px, pdy, pdw, pdb);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_conv_blas_backward_params(&g, px, pdy, pdw, pdb);
    default:
        return mt_conv_fast_backward_params(&g, px, pdy, pdw, pdb);
    }
}

/* Both gradients of a convolution: dx overwritten, dw and db (may be NULL) accumulated; the
 * engine expands dY once for both on its wide path. */
mt_status mt_cpu_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                                 const mt_tensor *dx, const mt_tensor *dw, const mt_tensor *db,
                                 const mt_conv2d_desc *d) {
    const mt_cpu_kernel_set set = mt_cpu_kernel_set_current();
    if (set == MT_KERNELS_REF || set == MT_KERNELS_BLAS) {
        MT_TRY(mt_cpu_conv2d_backward_input(dy, w, dx, d));
        return mt_cpu_conv2d_backward_params(x, dy, dw, db, d);
    }
    mt_conv_geom g;
    mt_conv_geom_of(&g, x, dw, dy->shape, d);
    return mt_conv_fast_backward(&g, mt_tensor_data(x), mt_tensor_data(dy), mt_tensor_data(w),
                                 mt_tensor_data(dx), mt_tensor_data(dw),
                                 db ? mt_tensor_data(db) : NULL);
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
    mt_conv_geom_of(&g, x, dw, z->shape, d);
    const mt_cpu_kernel_set set = mt_cpu_kernel_set_current();
    if (set != MT_KERNELS_REF && set != MT_KERNELS_BLAS && mt_conv_fast_backward_pooled_ok(&g)) {
        const mt_pool_grad pg = {.z = mt_tensor_data(z), .slope = mt_tensor_data(a),
                                 .at = mt_tensor_data(at), .gy = mt_tensor_data(gy),
                                 .php = gy->shape[2] * gy->shape[3]};
        return mt_conv_fast_backward_params_pooled(&g, mt_tensor_data(x), &pg, mt_tensor_data(dw),
                                                   db ? mt_tensor_data(db) : NULL,
                                                   mt_tensor_data(da));
    }
    MT_TRY(mt_tensor_resize(dz, 4, z->shape));
    MT_TRY(mt_cpu_prelu_pool_backward(z, a, at, gy, dz, da, pd));
    return mt_cpu_conv2d_backward_params(x, dz, dw, db, d);
}

mt_status mt_cpu_linear_forward_raw(int64_t n, int64_t in, int64_t out, const float *x,
                                    const float *w, const float *b, const float *prelu,
                                    float *y) {
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_linear_ref_forward(n, in, out, x, w, b, prelu, y);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_linear_blas_forward(n, in, out, x, w, b, prelu, y);
    default:
        return mt_linear_fast_forward(n, in, out, x, w, b, prelu, y);
    }
}

mt_status mt_cpu_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y) {
    return mt_cpu_linear_forward_raw(x->shape[0], w->shape[1], w->shape[0], mt_tensor_data(x),
                                     mt_tensor_data(w), opt_data(b), opt_data(prelu),
                                     mt_tensor_data(y));
}

mt_status mt_cpu_linear_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx) {
    int64_t n = dy->shape[0], in = w->shape[1], out = w->shape[0];
    const float *pdy = mt_tensor_data(dy), *pw = mt_tensor_data(w);
    float *pdx = mt_tensor_data(dx);
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_linear_ref_backward_input(n, in, out, pdy, pw, pdx);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_linear_blas_backward_input(n, in, out, pdy, pw, pdx);
    default:
        return mt_linear_fast_backward_input(n, in, out, pdy, pw, pdx);
    }
}

mt_status mt_cpu_linear_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db) {
    int64_t n = x->shape[0], in = dw->shape[1], out = dw->shape[0];
    const float *px = mt_tensor_data(x), *pdy = mt_tensor_data(dy);
    float *pdw = mt_tensor_data(dw), *pdb = db ? mt_tensor_data(db) : NULL;
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_linear_ref_backward_params(n, in, out, px, pdy, pdw, pdb);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_linear_blas_backward_params(n, in, out, px, pdy, pdw, pdb);
    default:
        return mt_linear_fast_backward_params(n, in, out, px, pdy, pdw, pdb);
    }
}
