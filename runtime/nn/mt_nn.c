/* mt_nn.c - argument checks, output sizing and device dispatch of the NN layers and losses. */
#include "nn/mt_nn.h"

#include "core/mt_ops.h"

#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

int64_t mt_conv2d_out_size(int64_t in, int kernel, int stride, int pad) {
    int64_t span = in + 2 * (int64_t)pad - kernel;
    if (span < 0) return 0;
    return span / stride + 1;
}

int64_t mt_pool2d_out_size(int64_t in, int kernel, int stride) {
    if (in < 1) return 0;
    int64_t span = in - kernel;
    /* ceil division that also works for a window larger than the input */
    int64_t q = span >= 0 ? (span + stride - 1) / stride : -((-span) / stride);
    int64_t out = q + 1;
    if (out < 1) out = 1;
    /* the last window must start inside the input (matters only when stride > kernel) */
    if ((out - 1) * stride >= in) out--;
    return out;
}

static mt_status unsupported(const char *op, const mt_tensor *t) {
    return mt_fail(MT_ERR_UNSUPPORTED, "%s: not supported on %s", op,
                   mt_device_name(mt_tensor_device(t)));
}

/* The backend of t's device, or NULL with a message (the device is not there). */
static const mt_backend *backend_of(const mt_tensor *t) {
    return mt_backend_for(mt_tensor_device(t));
}

#define NEED_FIELD(be, field, op, t)                                                               \
    do {                                                                                           \
        if (!(be)) return MT_ERR_DEVICE;                                                           \
        if (!(be)->field) return unsupported(op, t);                                               \
    } while (0)

static mt_status check_ndim(const char *op, const char *what, const mt_tensor *t, int ndim) {
    if (t->ndim == ndim) return MT_OK;
    char s[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "%s: %s must have %d dimensions, got %s", op, what, ndim,
                   mt_tensor_shape_str(t, s));
}

static mt_status check_vector(const char *op, const char *what, const mt_tensor *t, int64_t n) {
    if (t->ndim == 1 && t->shape[0] == n) return MT_OK;
    char s[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "%s: %s must be a vector of %lld values, got %s", op, what,
                   (long long)n, mt_tensor_shape_str(t, s));
}

static mt_status check_not_aliased(const char *op, const mt_tensor *out, const mt_tensor *in) {
    if (out && in && out->buf == in->buf)
        return mt_fail(MT_ERR_ARG, "%s: the output shares memory with an input", op);
    return MT_OK;
}

/* Up to 8 operands made contiguous for the kernels (NULLs pass through). */
typedef struct contig_set {
    mt_tensor *t[8];
    int n;
} contig_set;

static mt_status contig(contig_set *cs, const mt_tensor *src, const mt_tensor **out) {
    if (!src) {
        *out = NULL;
        return MT_OK;
    }
    mt_tensor *c;
    MT_TRY(mt_tensor_contiguous(&c, src));
    cs->t[cs->n++] = c;
    *out = c;
    return MT_OK;
}

static void contig_release(contig_set *cs) {
    for (int i = 0; i < cs->n; i++) mt_tensor_release(cs->t[i]);
    cs->n = 0;
}

/* Resizes a parameter-gradient output only if it is not already shaped like its
 * parameter (accumulating outputs must keep their contents). */
static mt_status check_like(const char *op, const char *what, const mt_tensor *g,
                            const mt_tensor *p) {
    if (!mt_tensor_same_shape(g, p)) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: %s has shape %s, expected %s", op, what,
                       mt_tensor_shape_str(g, a), mt_tensor_shape_str(p, b));
    }
    if (!mt_tensor_is_contiguous(g))
        return mt_fail(MT_ERR_ARG, "%s: %s must be contiguous", op, what);
    return MT_OK;
}

static mt_status check_devices(const char *op, int n, const mt_tensor *const *ts) {
    return mt_check_same_device(op, n, ts);
}

/* ---- convolution -------------------------------------------------------------------------- */

static mt_status check_conv_desc(const char *op, const mt_conv2d_desc *d) {
    if (d->stride_h < 1 || d->stride_w < 1 || d->pad_h < 0 || d->pad_w < 0)
        return mt_fail(MT_ERR_ARG, "%s: strides must be >= 1 and padding >= 0 (got stride %dx%d, "
                                   "pad %dx%d)", op, d->stride_h, d->stride_w, d->pad_h, d->pad_w);
    return MT_OK;
}

/* Checks x and w of a convolution and computes the output shape. */
static mt_status conv_shapes(const char *op, const int64_t *xs, const mt_tensor *w,
                             const mt_conv2d_desc *d, int64_t *ys) {
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    MT_TRY(check_conv_desc(op, d));
    MT_TRY(check_ndim(op, "the weight", w, 4));
    if (xs[1] != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld channels, weight %s expects %lld", op,
                       mt_shape_str(a, 4, xs), (long long)xs[1], mt_tensor_shape_str(w, b),
                       (long long)w->shape[1]);
    int64_t oh = mt_conv2d_out_size(xs[2], (int)w->shape[2], d->stride_h, d->pad_h);
    int64_t ow = mt_conv2d_out_size(xs[3], (int)w->shape[3], d->stride_w, d->pad_w);
    if (oh < 1 || ow < 1 || w->shape[2] < 1 || w->shape[3] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s (padding %dx%d) is smaller than the %lldx%lld "
                                     "kernel", op, mt_shape_str(a, 4, xs), d->pad_h, d->pad_w,
                       (long long)w->shape[2], (long long)w->shape[3]);
    ys[0] = xs[0];
    ys[1] = w->shape[0];
    ys[2] = oh;
    ys[3] = ow;
    return MT_OK;
}

/* The forward convolution (+ bias, + PReLU) and, with pd, the max pooling fused after it. */
static mt_status conv_forward(const char *op, const mt_tensor *x, const mt_tensor *w,
                              const mt_tensor *b, const mt_tensor *prelu, mt_tensor *y,
                              const mt_conv2d_desc *d, const mt_pool2d_desc *pd) {
    const mt_tensor *ts[5] = {x, w, b, prelu, y};
    MT_TRY(check_devices(op, 5, ts));
    MT_TRY(check_ndim(op, "the input", x, 4));
    int64_t ys[4];
    MT_TRY(conv_shapes(op, x->shape, w, d, ys));
    if (pd) {
        if (pd->kernel_h < 1 || pd->kernel_w < 1 || pd->stride_h < 1 || pd->stride_w < 1)
            return mt_fail(MT_ERR_ARG,
                           "%s: pooling kernel and stride must be >= 1 (got %dx%d / %dx%d)", op,
                           pd->kernel_h, pd->kernel_w, pd->stride_h, pd->stride_w);
        ys[2] = mt_pool2d_out_size(ys[2], pd->kernel_h, pd->stride_h);
        ys[3] = mt_pool2d_out_size(ys[3], pd->kernel_w, pd->stride_w);
    }
    if (b) MT_TRY(check_vector(op, "the bias", b, w->shape[0]));
    if (prelu) MT_TRY(check_vector(op, "the PReLU slopes", prelu, w->shape[0]));
    MT_TRY(check_not_aliased(op, y, x));
    const mt_backend *be = backend_of(x);
    if (pd)
        NEED_FIELD(be, conv2d_pool_forward, "conv2d_pool_forward", x);
    else
        NEED_FIELD(be, conv2d_forward, "conv2d_forward", x);
    MT_TRY(mt_tensor_resize(y, 4, ys));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cw, *cb, *cp;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, w, &cw);
    if (st == MT_OK) st = contig(&cs, b, &cb);
    if (st == MT_OK) st = contig(&cs, prelu, &cp);
    if (st == MT_OK && mt_tensor_numel(y) > 0)
        st = pd ? be->conv2d_pool_forward(cx, cw, cb, cp, y, d, pd)
                : be->conv2d_forward(cx, cw, cb, cp, y, d);
    contig_release(&cs);
    return st;
}

mt_status mt_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y, const mt_conv2d_desc *d) {
    return conv_forward("conv2d", x, w, b, prelu, y, d, NULL);
}

mt_status mt_conv2d_pool_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                 const mt_tensor *prelu, mt_tensor *y, const mt_conv2d_desc *d,
                                 const mt_pool2d_desc *pd) {
    return conv_forward("conv2d_pool", x, w, b, prelu, y, d, pd);
}

mt_status mt_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   const int64_t x_shape[4], const mt_conv2d_desc *d) {
    static const char op[] = "conv2d_backward";
    const mt_tensor *ts[3] = {dy, w, dx};
    MT_TRY(check_devices(op, 3, ts));
    MT_TRY(check_ndim(op, "the output gradient", dy, 4));
    int64_t ys[4];
    MT_TRY(conv_shapes(op, x_shape, w, d, ys));
    if (memcmp(ys, dy->shape, sizeof ys) != 0) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s does not match the output %s", op,
                       mt_tensor_shape_str(dy, a), mt_shape_str(b, 4, ys));
    }
    MT_TRY(check_not_aliased(op, dx, dy));
    const mt_backend *be = backend_of(dy);
    NEED_FIELD(be, conv2d_backward_input, "conv2d_backward_input", dy);
    MT_TRY(mt_tensor_resize(dx, 4, x_shape));
    contig_set cs = {.n = 0};
    const mt_tensor *cdy, *cw;
    mt_status st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = contig(&cs, w, &cw);
    if (st == MT_OK && mt_tensor_numel(dx) > 0) {
        if (mt_tensor_numel(dy) == 0) st = be->fill(dx, 0.0f);
        else st = be->conv2d_backward_input(cdy, cw, dx, d);
    }
    contig_release(&cs);
    return st;
}

/* The shapes of a convolution's backward pass: x and dy 4-D, dy the output of x through a
 * weight shaped like w, dw 4-D, db (optional) a contiguous vector of w's output channels. */
static mt_status check_conv_grads(const char *op, const mt_tensor *x, const mt_tensor *dy,
                                  const mt_tensor *w, const mt_tensor *dw, const mt_tensor *db,
                                  const mt_conv2d_desc *d) {
    MT_TRY(check_ndim(op, "the input", x, 4));
    MT_TRY(check_ndim(op, "the output gradient", dy, 4));
    MT_TRY(check_ndim(op, "the weight gradient", dw, 4));
    int64_t ys[4];
    MT_TRY(conv_shapes(op, x->shape, w, d, ys));
    if (memcmp(ys, dy->shape, sizeof ys) != 0) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s does not match the output %s", op,
                       mt_tensor_shape_str(dy, a), mt_shape_str(b, 4, ys));
    }
    if (db) {
        MT_TRY(check_vector(op, "the bias gradient", db, w->shape[0]));
        if (!mt_tensor_is_contiguous(db))
            return mt_fail(MT_ERR_ARG, "%s: the bias gradient must be contiguous", op);
    }
    return MT_OK;
}

mt_status mt_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db, const mt_conv2d_desc *d) {
    static const char op[] = "conv2d_backward";
    const mt_tensor *ts[4] = {x, dy, dw, db};
    MT_TRY(check_devices(op, 4, ts));
    MT_TRY(check_conv_grads(op, x, dy, dw, dw, db, d));
    if (!mt_tensor_is_contiguous(dw))
        return mt_fail(MT_ERR_ARG, "%s: the weight gradient must be contiguous", op);
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, conv2d_backward_params, "conv2d_backward_params", x);
    if (mt_tensor_numel(dy) == 0) return MT_OK;
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cdy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = be->conv2d_backward_params(cx, cdy, dw, db, d);
    contig_release(&cs);
    return st;
}

mt_status mt_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                             mt_tensor *dx, mt_tensor *dw, mt_tensor *db,
                             const mt_conv2d_desc *d) {
    static const char op[] = "conv2d_backward";
    const mt_tensor *ts[6] = {x, dy, w, dx, dw, db};
    MT_TRY(check_devices(op, 6, ts));
    MT_TRY(check_conv_grads(op, x, dy, w, dw, db, d));
    MT_TRY(check_like(op, "the weight gradient", dw, w));
    const mt_tensor *ins[3] = {x, dy, w};
    for (int i = 0; i < 3; i++) {
        MT_TRY(check_not_aliased(op, dx, ins[i]));
        MT_TRY(check_not_aliased(op, dw, ins[i]));
        if (db) MT_TRY(check_not_aliased(op, db, ins[i]));
    }
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, conv2d_backward, "conv2d_backward", x);
    MT_TRY(mt_tensor_resize(dx, 4, x->shape));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cdy, *cw;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = contig(&cs, w, &cw);
    if (st == MT_OK && mt_tensor_numel(dx) > 0) {
        if (mt_tensor_numel(dy) == 0) st = be->fill(dx, 0.0f);
        else st = be->conv2d_backward(cx, cdy, cw, dx, dw, db, d);
    }
    contig_release(&cs);
    return st;
}

/* ---- fully connected ---------------------------------------------------------------------- */

/* Features per sample of x [N, ...]. */
static int64_t per_sample(const mt_tensor *x) {
    int64_t n = 1;
    for (int i = 1; i < x->ndim; i++) n *= x->shape[i];
    return n;
}

mt_status mt_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y) {
    static const char op[] = "linear";
    char a[MT_SHAPE_STR], s[MT_SHAPE_STR];
    const mt_tensor *ts[5] = {x, w, b, prelu, y};
    MT_TRY(check_devices(op, 5, ts));
    if (x->ndim < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: the input must be a batch [N, ...], got %s", op,
                       mt_tensor_shape_str(x, a));
    MT_TRY(check_ndim(op, "the weight", w, 2));
    if (per_sample(x) != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld features per sample, weight %s "
                                     "expects %lld", op, mt_tensor_shape_str(x, a),
                       (long long)per_sample(x), mt_tensor_shape_str(w, s), (long long)w->shape[1]);
    if (b) MT_TRY(check_vector(op, "the bias", b, w->shape[0]));
    if (prelu) MT_TRY(check_vector(op, "the PReLU slopes", prelu, w->shape[0]));
    MT_TRY(check_not_aliased(op, y, x));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, linear_forward, "linear_forward", x);
    int64_t ys[2] = {x->shape[0], w->shape[0]};
    MT_TRY(mt_tensor_resize(y, 2, ys));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cw, *cb, *cp;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, w, &cw);
    if (st == MT_OK) st = contig(&cs, b, &cb);
    if (st == MT_OK) st = contig(&cs, prelu, &cp);
    if (st == MT_OK && mt_tensor_numel(y) > 0) st = be->linear_forward(cx, cw, cb, cp, y);
    contig_release(&cs);
    return st;
}

mt_status mt_linear_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   int x_ndim, const int64_t *x_shape) {
    static const char op[] = "linear_backward";
    char a[MT_SHAPE_STR];
    const mt_tensor *ts[3] = {dy, w, dx};
    MT_TRY(check_devices(op, 3, ts));
    MT_TRY(check_ndim(op, "the weight", w, 2));
    int64_t feat = 1;
    for (int i = 1; i < x_ndim; i++) feat *= x_shape[i];
    if (x_ndim < 2 || feat != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input shape %s does not fit the weight", op,
                       mt_shape_str(a, x_ndim, x_shape));
    if (dy->ndim != 2 || dy->shape[0] != x_shape[0] || dy->shape[1] != w->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s, expected %lldx%lld", op,
                       mt_tensor_shape_str(dy, a), (long long)x_shape[0], (long long)w->shape[0]);
    MT_TRY(check_not_aliased(op, dx, dy));
    const mt_backend *be = backend_of(dy);
    NEED_FIELD(be, linear_backward_input, "linear_backward_input", dy);
    MT_TRY(mt_tensor_resize(dx, x_ndim, x_shape));
    contig_set cs = {.n = 0};
    const mt_tensor *cdy, *cw;
    mt_status st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = contig(&cs, w, &cw);
    if (st == MT_OK && mt_tensor_numel(dx) > 0) st = be->linear_backward_input(cdy, cw, dx);
    contig_release(&cs);
    return st;
}

mt_status mt_linear_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db) {
    static const char op[] = "linear_backward";
    char a[MT_SHAPE_STR];
    const mt_tensor *ts[4] = {x, dy, dw, db};
    MT_TRY(check_devices(op, 4, ts));
    MT_TRY(check_ndim(op, "the weight gradient", dw, 2));
    if (x->ndim < 2 || per_sample(x) != dw->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s does not fit the weight gradient", op,
                       mt_tensor_shape_str(x, a));
    if (dy->ndim != 2 || dy->shape[0] != x->shape[0] || dy->shape[1] != dw->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s, expected %lldx%lld", op,
                       mt_tensor_shape_str(dy, a), (long long)x->shape[0],
                       (long long)dw->shape[0]);
    if (!mt_tensor_is_contiguous(dw))
        return mt_fail(MT_ERR_ARG, "%s: the weight gradient must be contiguous", op);
    if (db) {
        MT_TRY(check_vector(op, "the bias gradient", db, dw->shape[0]));
        if (!mt_tensor_is_contiguous(db))
            return mt_fail(MT_ERR_ARG, "%s: the bias gradient must be contiguous", op);
    }
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, linear_backward_params, "linear_backward_params", x);
    if (x->shape[0] == 0) return MT_OK;
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cdy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = be->linear_backward_params(cx, cdy, dw, db);
    contig_release(&cs);
    return st;
}

/* ---- PReLU -------------------------------------------------------------------------------- */

static mt_status check_channels(const char *op, const mt_tensor *x, const mt_tensor *a) {
    char s[MT_SHAPE_STR], t[MT_SHAPE_STR];
    if (x->ndim < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: the input must be [N,C,...], got %s", op,
                       mt_tensor_shape_str(x, s));
    if (a->ndim != 1 || a->shape[0] != x->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld channels, slopes %s", op,
                       mt_tensor_shape_str(x, s), (long long)x->shape[1],
                       mt_tensor_shape_str(a, t));
    return MT_OK;
}

mt_status mt_prelu_forward(const mt_tensor *x, const mt_tensor *a, mt_tensor *y) {
    static const char op[] = "prelu";
    const mt_tensor *ts[3] = {x, a, y};
    MT_TRY(check_devices(op, 3, ts));
    MT_TRY(check_channels(op, x, a));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, prelu_forward, "prelu_forward", x);
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *ca;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, a, &ca);
    /* in place (y is x) is allowed: resizing to the same shape keeps the buffer */
    if (st == MT_OK && y != x) st = mt_tensor_resize(y, x->ndim, x->shape);
    if (st == MT_OK && mt_tensor_numel(y) > 0) st = be->prelu_forward(cx, ca, y);
    contig_release(&cs);
    return st;
}

mt_status mt_prelu_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                            mt_tensor *dx, mt_tensor *da) {
    static const char op[] = "prelu_backward";
    const mt_tensor *ts[5] = {x, a, dy, dx, da};
    MT_TRY(check_devices(op, 5, ts));
    MT_TRY(check_channels(op, x, a));
    MT_TRY(mt_check_same_shape(op, x, dy));
    if (da) MT_TRY(check_like(op, "the slope gradient", da, a));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, prelu_backward, "prelu_backward", x);
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *ca, *cdy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, a, &ca);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK && dx && dx != dy) st = check_not_aliased(op, dx, x);
    if (st == MT_OK && dx && dx != dy) st = mt_tensor_resize(dx, x->ndim, x->shape);
    if (st == MT_OK && mt_tensor_numel(x) > 0) st = be->prelu_backward(cx, ca, cdy, dx, da);
    contig_release(&cs);
    return st;
}

/* ---- max pooling -------------------------------------------------------------------------- */

static mt_status pool_shapes(const char *op, const mt_tensor *x, const mt_pool2d_desc *d,
                             int64_t *ys) {
    char s[MT_SHAPE_STR];
    MT_TRY(check_ndim(op, "the input", x, 4));
    if (d->kernel_h < 1 || d->kernel_w < 1 || d->stride_h < 1 || d->stride_w < 1)
        return mt_fail(MT_ERR_ARG, "%s: kernel and stride must be >= 1 (got %dx%d / %dx%d)", op,
                       d->kernel_h, d->kernel_w, d->stride_h, d->stride_w);
    if (x->shape[2] < 1 || x->shape[3] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: empty input %s", op, mt_tensor_shape_str(x, s));
    ys[0] = x->shape[0];
    ys[1] = x->shape[1];
    ys[2] = mt_pool2d_out_size(x->shape[2], d->kernel_h, d->stride_h);
    ys[3] = mt_pool2d_out_size(x->shape[3], d->kernel_w, d->stride_w);
    return MT_OK;
}

mt_status mt_maxpool2d_forward(const mt_tensor *x, mt_tensor *y, const mt_pool2d_desc *d) {
    static const char op[] = "maxpool2d";
    const mt_tensor *ts[2] = {x, y};
    MT_TRY(check_devices(op, 2, ts));
    int64_t ys[4];
    MT_TRY(pool_shapes(op, x, d, ys));
    MT_TRY(check_not_aliased(op, y, x));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, maxpool2d_forward, "maxpool2d_forward", x);
    MT_TRY(mt_tensor_resize(y, 4, ys));
    contig_set cs = {.n = 0};
    const mt_tensor *cx;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK && mt_tensor_numel(y) > 0) st = be->maxpool2d_forward(cx, y, d);
    contig_release(&cs);
    return st;
}

mt_status mt_maxpool2d_backward(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                mt_tensor *dx, const mt_pool2d_desc *d) {
    static const char op[] = "maxpool2d_backward";
    const mt_tensor *ts[4] = {x, dy, dx, y};
    MT_TRY(check_devices(op, y ? 4 : 3, ts));
    int64_t ys[4];
    MT_TRY(pool_shapes(op, x, d, ys));
    if (dy->ndim != 4 || memcmp(ys, dy->shape, sizeof ys) != 0) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s does not match the output %s", op,
                       mt_tensor_shape_str(dy, a), mt_shape_str(b, 4, ys));
    }
    if (y && (y->ndim != 4 || memcmp(ys, y->shape, sizeof ys) != 0)) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: forward output %s does not match the output %s", op,
                       mt_tensor_shape_str(y, a), mt_shape_str(b, 4, ys));
    }
    MT_TRY(check_not_aliased(op, dx, x));
    MT_TRY(check_not_aliased(op, dx, dy));
    MT_TRY(check_not_aliased(op, dx, y));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, maxpool2d_backward, "maxpool2d_backward", x);
    MT_TRY(mt_tensor_resize(dx, 4, x->shape));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cdy, *cy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK) st = contig(&cs, y, &cy);
    if (st == MT_OK && mt_tensor_numel(dx) > 0) st = be->maxpool2d_backward(cx, cy, cdy, dx, d);
    contig_release(&cs);
    return st;
}

/* ---- PReLU + max pooling (training) ------------------------------------------------------- */

/* Checks that t has the pooled shape ys (what: "the output gradient", ...). */
static mt_status check_pooled(const char *op, const char *what, const mt_tensor *t,
                              const int64_t *ys) {
    if (t->ndim == 4 && memcmp(ys, t->shape, 4 * sizeof(int64_t)) == 0) return MT_OK;
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s does not match the pooled output %s", op, what,
                   mt_tensor_shape_str(t, a), mt_shape_str(b, 4, ys));
}

mt_status mt_prelu_pool_forward(const mt_tensor *x, const mt_tensor *a, mt_tensor *y,
                                mt_tensor *at, const mt_pool2d_desc *d) {
    static const char op[] = "prelu_pool";
    const mt_tensor *ts[4] = {x, a, y, at};
    MT_TRY(check_devices(op, 4, ts));
    int64_t ys[4];
    MT_TRY(pool_shapes(op, x, d, ys));
    MT_TRY(check_channels(op, x, a));
    if (x->shape[2] * x->shape[3] >= (int64_t)1 << 24)
        return mt_fail(MT_ERR_SHAPE, "%s: planes of %lldx%lld are too large (at most 2^24 values)",
                       op, (long long)x->shape[2], (long long)x->shape[3]);
    MT_TRY(check_not_aliased(op, y, x));
    MT_TRY(check_not_aliased(op, y, a));
    MT_TRY(check_not_aliased(op, at, x));
    MT_TRY(check_not_aliased(op, at, a));
    MT_TRY(check_not_aliased(op, at, y));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, prelu_pool_forward, "prelu_pool_forward", x);
    MT_TRY(mt_tensor_resize(y, 4, ys));
    MT_TRY(mt_tensor_resize(at, 4, ys));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *ca;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, a, &ca);
    if (st == MT_OK && mt_tensor_numel(y) > 0) st = be->prelu_pool_forward(cx, ca, y, at, d);
    contig_release(&cs);
    return st;
}

mt_status mt_prelu_pool_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                 const mt_tensor *dy, mt_tensor *dx, mt_tensor *da,
                                 const mt_pool2d_desc *d) {
    static const char op[] = "prelu_pool_backward";
    const mt_tensor *ts[6] = {x, a, at, dy, dx, da};
    MT_TRY(check_devices(op, 6, ts));
    int64_t ys[4];
    MT_TRY(pool_shapes(op, x, d, ys));
    MT_TRY(check_channels(op, x, a));
    MT_TRY(check_pooled(op, "the output gradient", dy, ys));
    MT_TRY(check_pooled(op, "the maxima positions", at, ys));
    if (da) MT_TRY(check_like(op, "the slope gradient", da, a));
    if (dx) {
        MT_TRY(check_not_aliased(op, dx, x));
        MT_TRY(check_not_aliased(op, dx, at));
        MT_TRY(check_not_aliased(op, dx, dy));
        MT_TRY(check_not_aliased(op, dx, a));
    }
    if (da) {
        MT_TRY(check_not_aliased(op, da, x));
        MT_TRY(check_not_aliased(op, da, dy));
    }
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, prelu_pool_backward, "prelu_pool_backward", x);
    if (dx) MT_TRY(mt_tensor_resize(dx, 4, x->shape));
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *ca, *cat, *cdy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, a, &ca);
    if (st == MT_OK) st = contig(&cs, at, &cat);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK && mt_tensor_numel(x) > 0)
        st = be->prelu_pool_backward(cx, ca, cat, cdy, dx, da, d);
    contig_release(&cs);
    return st;
}

/* ---- softmax ------------------------------------------------------------------------------ */

mt_status mt_softmax_forward(const mt_tensor *x, mt_tensor *y) {
    static const char op[] = "softmax";
    char s[MT_SHAPE_STR];
    const mt_tensor *ts[2] = {x, y};
    MT_TRY(check_devices(op, 2, ts));
    if (x->ndim != 2 && x->ndim != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: the input must be [N,C] or [N,C,H,W], got %s", op,
                       mt_tensor_shape_str(x, s));
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, softmax_forward, "softmax_forward", x);
    contig_set cs = {.n = 0};
    const mt_tensor *cx;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK && y != x) st = mt_tensor_resize(y, x->ndim, x->shape);
    if (st == MT_OK && mt_tensor_numel(y) > 0) st = be->softmax_forward(cx, y);
    contig_release(&cs);
    return st;
}

mt_status mt_softmax_backward(const mt_tensor *y, const mt_tensor *dy, mt_tensor *dx) {
    static const char op[] = "softmax_backward";
    const mt_tensor *ts[3] = {y, dy, dx};
    MT_TRY(check_devices(op, 3, ts));
    MT_TRY(mt_check_same_shape(op, y, dy));
    const mt_backend *be = backend_of(y);
    NEED_FIELD(be, softmax_backward, "softmax_backward", y);
    contig_set cs = {.n = 0};
    const mt_tensor *cy, *cdy;
    mt_status st = contig(&cs, y, &cy);
    if (st == MT_OK) st = contig(&cs, dy, &cdy);
    if (st == MT_OK && dx != dy) st = check_not_aliased(op, dx, y);
    if (st == MT_OK && dx != dy) st = mt_tensor_resize(dx, y->ndim, y->shape);
    if (st == MT_OK && mt_tensor_numel(dx) > 0) st = be->softmax_backward(cy, cdy, dx);
    contig_release(&cs);
    return st;
}

/* ---- dropout ------------------------------------------------------------------------------ */

mt_status mt_dropout_mask(mt_tensor *mask, int ndim, const int64_t *shape, double p, mt_rng *r) {
    if (!(p >= 0.0 && p < 1.0))
        return mt_fail(MT_ERR_ARG, "dropout: probability %g outside [0, 1)", p);
    MT_TRY(mt_tensor_resize(mask, ndim, shape));
    int64_t n = mt_tensor_numel(mask);
    if (n == 0) return MT_OK;
    /* drawn on the host, so that a seed gives the same mask on every device */
    mt_tensor *host = NULL;
    float *m;
    if (mt_tensor_device(mask) == MT_CPU) {
        m = mt_tensor_data(mask); /* resized tensors are contiguous */
    } else {
        MT_TRY(mt_tensor_new(&host, MT_CPU, ndim, shape));
        m = mt_tensor_data(host);
    }
    mt_rng_fill_uniform(r, m, n, 0.0, 1.0);
    const float keep = (float)p, scale = (float)(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; i++) m[i] = m[i] >= keep ? scale : 0.0f;
    mt_status st = MT_OK;
    if (host) {
        st = mt_tensor_upload(mask, m, n);
        mt_tensor_release(host);
    }
    return st;
}

/* ---- the multi-task loss ------------------------------------------------------------------ */

/* Checks that t is [N,k] or [N,k,1,1]. */
static mt_status check_head(const char *what, const mt_tensor *t, int64_t n, int64_t k) {
    bool ok = (t->ndim == 2 && t->shape[0] == n && t->shape[1] == k) ||
              (t->ndim == 4 && t->shape[0] == n && t->shape[1] == k && t->shape[2] == 1 &&
               t->shape[3] == 1);
    if (ok) return MT_OK;
    char s[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "mtcnn_loss: %s must be %lldx%lld (or %lldx%lldx1x1), got %s",
                   what, (long long)n, (long long)k, (long long)n, (long long)k,
                   mt_tensor_shape_str(t, s));
}

mt_status mt_mtcnn_loss(mt_mtcnn_loss_args *a) {
    static const char op[] = "mtcnn_loss";
    if (!a->cls || !a->label) return mt_fail(MT_ERR_ARG, "%s: cls and label are required", op);
    const mt_tensor *ts[9] = {a->cls, a->box, a->lmk, a->label, a->box_target, a->lmk_target,
                              a->dcls, a->dbox, a->dlmk};
    MT_TRY(check_devices(op, 9, ts));
    char s[MT_SHAPE_STR];
    if (a->label->ndim != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: labels must be a vector, got %s", op,
                       mt_tensor_shape_str(a->label, s));
    int64_t n = a->label->shape[0];
    MT_TRY(check_head("the classification output", a->cls, n, 2));
    if (a->box) {
        MT_TRY(check_head("the box output", a->box, n, 4));
        if (!a->box_target) return mt_fail(MT_ERR_ARG, "%s: box targets are missing", op);
        MT_TRY(check_head("the box targets", a->box_target, n, 4));
    }
    if (a->lmk) {
        MT_TRY(check_head("the landmark output", a->lmk, n, 10));
        if (!a->lmk_target) return mt_fail(MT_ERR_ARG, "%s: landmark targets are missing", op);
        MT_TRY(check_head("the landmark targets", a->lmk_target, n, 10));
    }
    if (!(a->ohem_ratio > 0.0f && a->ohem_ratio <= 1.0f))
        return mt_fail(MT_ERR_ARG, "%s: OHEM ratio %g outside (0, 1]", op, a->ohem_ratio);
    const mt_backend *be = backend_of(a->cls);
    NEED_FIELD(be, mtcnn_loss, "mtcnn_loss", a->cls);
    if (a->dcls) MT_TRY(mt_tensor_resize(a->dcls, a->cls->ndim, a->cls->shape));
    if (a->dbox && a->box) MT_TRY(mt_tensor_resize(a->dbox, a->box->ndim, a->box->shape));
    if (a->dlmk && a->lmk) MT_TRY(mt_tensor_resize(a->dlmk, a->lmk->ndim, a->lmk->shape));
    mt_mtcnn_loss_args c = *a;
    contig_set cs = {.n = 0};
    mt_status st = contig(&cs, a->cls, &c.cls);
    if (st == MT_OK) st = contig(&cs, a->box, &c.box);
    if (st == MT_OK) st = contig(&cs, a->lmk, &c.lmk);
    if (st == MT_OK) st = contig(&cs, a->label, &c.label);
    if (st == MT_OK) st = contig(&cs, a->box ? a->box_target : NULL, &c.box_target);
    if (st == MT_OK) st = contig(&cs, a->lmk ? a->lmk_target : NULL, &c.lmk_target);
    if (!a->box) c.dbox = NULL;
    if (!a->lmk) c.dlmk = NULL;
    if (st == MT_OK) st = be->mtcnn_loss(&c);
    contig_release(&cs);
    if (st == MT_OK) {
        a->loss = c.loss;
        a->cls_loss = c.cls_loss;
        a->box_loss = c.box_loss;
        a->lmk_loss = c.lmk_loss;
        a->accuracy = c.accuracy;
        a->n_cls = c.n_cls;
        a->n_kept = c.n_kept;
        a->n_box = c.n_box;
        a->n_lmk = c.n_lmk;
        a->n_correct = c.n_correct;
    }
    return st;
}

/* ---- conv -> PReLU -> max pooling, first layer's parameter gradients (training) ------------- */

mt_status mt_conv2d_prelu_pool_backward_params(const mt_tensor *x, const mt_tensor *z,
                                               const mt_tensor *a, const mt_tensor *at,
                                               const mt_tensor *gy, mt_tensor *dz, mt_tensor *dw,
                                               mt_tensor *db, mt_tensor *da,
                                               const mt_conv2d_desc *d, const mt_pool2d_desc *pd) {
    static const char op[] = "conv2d_prelu_pool_backward";
    const mt_tensor *ts[9] = {x, z, a, at, gy, dz, dw, db, da};
    MT_TRY(check_devices(op, 9, ts));
    MT_TRY(check_ndim(op, "the input", x, 4));
    MT_TRY(check_ndim(op, "the weight gradient", dw, 4));
    int64_t zs[4], ys[4];
    MT_TRY(conv_shapes(op, x->shape, dw, d, zs));
    if (z->ndim != 4 || memcmp(zs, z->shape, sizeof zs) != 0) {
        char s1[MT_SHAPE_STR], s2[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: the convolution's output %s does not match %s", op,
                       mt_tensor_shape_str(z, s1), mt_shape_str(s2, 4, zs));
    }
    MT_TRY(pool_shapes(op, z, pd, ys));
    MT_TRY(check_channels(op, z, a));
    MT_TRY(check_pooled(op, "the output gradient", gy, ys));
    MT_TRY(check_pooled(op, "the maxima positions", at, ys));
    if (!mt_tensor_is_contiguous(dw))
        return mt_fail(MT_ERR_ARG, "%s: the weight gradient must be contiguous", op);
    if (db) {
        MT_TRY(check_vector(op, "the bias gradient", db, dw->shape[0]));
        if (!mt_tensor_is_contiguous(db))
            return mt_fail(MT_ERR_ARG, "%s: the bias gradient must be contiguous", op);
    }
    MT_TRY(check_like(op, "the slope gradient", da, a));
    const mt_tensor *ins[5] = {x, z, a, at, gy};
    for (int i = 0; i < 5; i++) {
        MT_TRY(check_not_aliased(op, dz, ins[i]));
        MT_TRY(check_not_aliased(op, dw, ins[i]));
        MT_TRY(check_not_aliased(op, da, ins[i]));
        if (db) MT_TRY(check_not_aliased(op, db, ins[i]));
    }
    const mt_backend *be = backend_of(x);
    NEED_FIELD(be, conv2d_prelu_pool_backward_params, "conv2d_prelu_pool_backward_params", x);
    if (mt_tensor_numel(z) == 0) return MT_OK;
    contig_set cs = {.n = 0};
    const mt_tensor *cx, *cz, *ca, *cat, *cgy;
    mt_status st = contig(&cs, x, &cx);
    if (st == MT_OK) st = contig(&cs, z, &cz);
    if (st == MT_OK) st = contig(&cs, a, &ca);
    if (st == MT_OK) st = contig(&cs, at, &cat);
    if (st == MT_OK) st = contig(&cs, gy, &cgy);
    if (st == MT_OK)
        st = be->conv2d_prelu_pool_backward_params(cx, cz, ca, cat, cgy, dz, dw, db, da, d, pd);
    contig_release(&cs);
    return st;
}
