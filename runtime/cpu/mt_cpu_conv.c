/* mt_cpu_conv.c - the CPU backend's convolution and fully connected entries: pick the kernel
 * set (mt_cpu_kernels.c) and run it. */
#include "mt_cpu_conv.h"

#include "mt_cpu_fast.h"

static const float *opt_data(const mt_tensor *t) { return t ? mt_tensor_data(t) : NULL; }

mt_status mt_cpu_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y,
                                const mt_conv2d_desc *d) {
    mt_conv_geom g;
    mt_conv_geom_of(&g, x, w, y->shape, d);
    const float *px = mt_tensor_data(x), *pw = mt_tensor_data(w);
    float *py = mt_tensor_data(y);
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_conv_ref_forward(&g, px, pw, opt_data(b), opt_data(prelu), py);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_conv_blas_forward(&g, px, pw, opt_data(b), opt_data(prelu), py);
    default:
        return mt_conv_fast_forward(&g, px, pw, opt_data(b), opt_data(prelu), py);
    }
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

mt_status mt_cpu_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y) {
    int64_t n = x->shape[0], in = w->shape[1], out = w->shape[0];
    const float *px = mt_tensor_data(x), *pw = mt_tensor_data(w);
    float *py = mt_tensor_data(y);
    switch (mt_cpu_kernel_set_current()) {
    case MT_KERNELS_REF:
        mt_linear_ref_forward(n, in, out, px, pw, opt_data(b), opt_data(prelu), py);
        return MT_OK;
    case MT_KERNELS_BLAS:
        return mt_linear_blas_forward(n, in, out, px, pw, opt_data(b), opt_data(prelu), py);
    default:
        return mt_linear_fast_forward(n, in, out, px, pw, opt_data(b), opt_data(prelu), py);
    }
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
