/* mt_nn.c - argument checks, output sizing and device dispatch of the NN layers and losses.
 *
 * Each entry point names its operands in an nn_call, checks that they share one device,
 * checks its shapes, and ends in NN_DISPATCH, the body they all share (in the manner of
 * THNN's shapeCheck + body). */
#include "nn/mt_nn.h"

#include "core/mt_ops.h"
#include "nn/mt_nn_call.h"

#include <math.h>
#include <string.h>

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

/* ---- the shared dispatch ------------------------------------------------------------------ */

enum { NN_INPUTS = 6, NN_OTHERS = 6, NN_RESIZES = 3 };

/* One call of a kernel. The entry point lists its operands: the inputs by the address of its
 * own variables, which NN_DISPATCH points at contiguous copies for the kernel; the outputs
 * (and any operand the kernel takes as it is) by value; the outputs to resize with their
 * shapes (read at dispatch, so they may be computed by the shape checks in between). NULL
 * tensors pass through. */
typedef struct nn_call {
    const char *op; /* the entry's name in messages: "conv2d" */
    const mt_tensor **in[NN_INPUTS];
    const mt_tensor *other[NN_OTHERS];
    struct {
        mt_tensor *t;
        int ndim;
        const int64_t *shape;
    } resize[NN_RESIZES];
    /* set by nn_devices and the dispatch */
    const mt_tensor *first; /* the first operand: its device runs the call */
    const mt_nn_kernels *k;
    mt_tensor *held[NN_INPUTS];
    mt_status st;
} nn_call;

/* Checks that the operands share one device ("<op>: tensors on different devices ..."). */
static mt_status nn_devices(nn_call *c) {
    const mt_tensor *ts[NN_INPUTS + NN_OTHERS];
    int n = 0;
    for (int i = 0; i < NN_INPUTS; i++)
        if (c->in[i]) ts[n++] = *c->in[i];
    for (int i = 0; i < NN_OTHERS; i++) ts[n++] = c->other[i];
    for (int i = 0; i < n && !c->first; i++) c->first = ts[i];
    return mt_check_same_device(c->op, n, ts);
}

/* Finds the kernel table of the operands' device (NULL: none). */
static bool nn_find(nn_call *c) {
    if (mt_interrupted()) { /* a layer's work is not started once Ctrl-C asked to stop */
        c->st = mt_interrupt_fail(c->op);
        return false;
    }
    c->st = mt_nn_kernels_of(c->first, &c->k);
    return c->st == MT_OK;
}

/* Fails with "<field>: not supported on <device>" unless present. */
static bool nn_need(nn_call *c, bool present, const char *field) {
    if (!present) c->st = mt_nn_unsupported(field, c->first);
    return present;
}

/* Points the inputs at contiguous copies and resizes the outputs. */
static bool nn_prepare(nn_call *c) {
    for (int i = 0; i < NN_INPUTS && c->st == MT_OK; i++) {
        if (!c->in[i] || !*c->in[i]) continue;
        c->st = mt_tensor_contiguous(&c->held[i], *c->in[i]);
        if (c->st == MT_OK) *c->in[i] = c->held[i];
    }
    for (int i = 0; i < NN_RESIZES && c->st == MT_OK; i++)
        if (c->resize[i].t)
            c->st = mt_tensor_resize(c->resize[i].t, c->resize[i].ndim, c->resize[i].shape);
    return c->st == MT_OK;
}

/* Releases the copies; returns st. */
static mt_status nn_end(nn_call *c, mt_status st) {
    for (int i = 0; i < NN_INPUTS; i++) mt_tensor_release(c->held[i]);
    return st;
}

/* A run condition for an input gradient dx from the output gradient dy: false when dx is
 * empty; when only dy is (no output channels), dx is zero-filled instead of the call. */
static bool nn_input_grad(nn_call *c, mt_tensor *dx, const mt_tensor *dy) {
    if (mt_tensor_numel(dx) == 0) return false;
    if (mt_tensor_numel(dy) > 0) return true;
    c->st = mt_fill(dx, 0.0f);
    return false;
}

/* The body every entry point ends with: the kernel `field` of the operands' device, named
 * from the field in a "not supported" message; the inputs made contiguous, the outputs
 * resized; then, when `run` (read after the resizing) holds, the call field args, whose
 * arguments name the entry's own variables; the copies released; the status. */
#define NN_DISPATCH(c, field, run, args)                                                           \
    nn_end(&(c), nn_find(&(c)) && nn_need(&(c), (c).k && (c).k->field, #field) &&                 \
                         nn_prepare(&(c)) && (run)                                                 \
                     ? (c).k->field args                                                           \
                     : (c).st)

/* ---- shape checks ------------------------------------------------------------------------- */

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

/* Checks that t is 4-D with shape ys: "<op>: <what> <shape> does not match <than><ys>". */
static mt_status check_shape4(const char *op, const char *what, const mt_tensor *t,
                              const int64_t *ys, const char *than) {
    if (t->ndim == 4 && memcmp(ys, t->shape, 4 * sizeof(int64_t)) == 0) return MT_OK;
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s does not match %s%s", op, what,
                   mt_tensor_shape_str(t, a), than, mt_shape_str(b, 4, ys));
}

/* Accumulating outputs are written in place: they must be contiguous. */
static mt_status check_contiguous(const char *op, const char *what, const mt_tensor *t) {
    if (mt_tensor_is_contiguous(t)) return MT_OK;
    return mt_fail(MT_ERR_ARG, "%s: %s must be contiguous", op, what);
}

/* A parameter gradient g must already be shaped like its parameter p (accumulating outputs
 * keep their contents, so they are never resized). */
static mt_status check_like(const char *op, const char *what, const mt_tensor *g,
                            const mt_tensor *p) {
    if (!mt_tensor_same_shape(g, p)) {
        char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "%s: %s has shape %s, expected %s", op, what,
                       mt_tensor_shape_str(g, a), mt_tensor_shape_str(p, b));
    }
    return check_contiguous(op, what, g);
}

/* A bias gradient (optional): a contiguous vector of n values. */
static mt_status check_bias_grad(const char *op, const mt_tensor *db, int64_t n) {
    if (!db) return MT_OK;
    MT_TRY(check_vector(op, "the bias gradient", db, n));
    return check_contiguous(op, "the bias gradient", db);
}

/* Checks that no output (NULLs skipped) shares memory with an input. */
static mt_status check_apart(const char *op, const mt_tensor *const *outs, int nout,
                             const mt_tensor *const *ins, int nin) {
    for (int o = 0; o < nout; o++)
        for (int i = 0; i < nin; i++)
            if (outs[o] && ins[i] && outs[o]->buf == ins[i]->buf)
                return mt_fail(MT_ERR_ARG, "%s: the output shares memory with an input", op);
    return MT_OK;
}

/* A list of tensors as check_apart takes it: the array and its length. */
#define TENSORS(...)                                                                               \
    (const mt_tensor *const[]){__VA_ARGS__},                                                       \
        (int)(sizeof((const mt_tensor *const[]){__VA_ARGS__}) / sizeof(const mt_tensor *))

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

/* The forward convolution (+ bias, + PReLU) and, with pd, the max pooling fused after it:
 * y's shape into ys. */
static mt_status check_conv_forward(const char *op, const mt_tensor *x, const mt_tensor *w,
                                    const mt_tensor *b, const mt_tensor *prelu,
                                    const mt_tensor *y, const mt_conv2d_desc *d,
                                    const mt_pool2d_desc *pd, int64_t *ys) {
    MT_TRY(check_ndim(op, "the input", x, 4));
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
    return check_apart(op, TENSORS(y), TENSORS(x));
}

mt_status mt_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y, const mt_conv2d_desc *d,
                            const mt_pool2d_desc *pd) {
    int64_t ys[4];
    nn_call c = {.op = pd ? "conv2d_pool" : "conv2d", .in = {&x, &w, &b, &prelu}, .other = {y},
                 .resize = {{y, 4, ys}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_conv_forward(c.op, x, w, b, prelu, y, d, pd, ys));
    if (pd) /* the backends keep the fused pooling as a kernel of its own */
        return NN_DISPATCH(c, conv2d_pool_forward, mt_tensor_numel(y) > 0,
                           (x, w, b, prelu, y, d, pd));
    return NN_DISPATCH(c, conv2d_forward, mt_tensor_numel(y) > 0, (x, w, b, prelu, y, d));
}

mt_status mt_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   const int64_t x_shape[4], const mt_conv2d_desc *d) {
    int64_t ys[4];
    nn_call c = {.op = "conv2d_backward", .in = {&dy, &w}, .other = {dx},
                 .resize = {{dx, 4, x_shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_ndim(c.op, "the output gradient", dy, 4));
    MT_TRY(conv_shapes(c.op, x_shape, w, d, ys));
    MT_TRY(check_shape4(c.op, "output gradient", dy, ys, "the output "));
    MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(dy)));
    return NN_DISPATCH(c, conv2d_backward_input, nn_input_grad(&c, dx, dy), (dy, w, dx, d));
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
    MT_TRY(check_shape4(op, "output gradient", dy, ys, "the output "));
    return check_bias_grad(op, db, w->shape[0]);
}

mt_status mt_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db, const mt_conv2d_desc *d) {
    nn_call c = {.op = "conv2d_backward", .in = {&x, &dy}, .other = {dw, db}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_conv_grads(c.op, x, dy, dw, dw, db, d));
    MT_TRY(check_contiguous(c.op, "the weight gradient", dw));
    return NN_DISPATCH(c, conv2d_backward_params, mt_tensor_numel(dy) > 0, (x, dy, dw, db, d));
}

mt_status mt_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                             mt_tensor *dx, mt_tensor *dw, mt_tensor *db,
                             const mt_conv2d_desc *d) {
    nn_call c = {.op = "conv2d_backward", .in = {&x, &dy, &w}, .other = {dx, dw, db},
                 .resize = {{dx, 4, x->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_conv_grads(c.op, x, dy, w, dw, db, d));
    MT_TRY(check_like(c.op, "the weight gradient", dw, w));
    MT_TRY(check_apart(c.op, TENSORS(dx, dw, db), TENSORS(x, dy, w)));
    return NN_DISPATCH(c, conv2d_backward, nn_input_grad(&c, dx, dy), (x, dy, w, dx, dw, db, d));
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
    char a[MT_SHAPE_STR], s[MT_SHAPE_STR];
    int64_t ys[2];
    nn_call c = {.op = "linear", .in = {&x, &w, &b, &prelu}, .other = {y},
                 .resize = {{y, 2, ys}}};
    MT_TRY(nn_devices(&c));
    if (x->ndim < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: the input must be a batch [N, ...], got %s", c.op,
                       mt_tensor_shape_str(x, a));
    MT_TRY(check_ndim(c.op, "the weight", w, 2));
    if (per_sample(x) != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld features per sample, weight %s "
                                     "expects %lld", c.op, mt_tensor_shape_str(x, a),
                       (long long)per_sample(x), mt_tensor_shape_str(w, s), (long long)w->shape[1]);
    if (b) MT_TRY(check_vector(c.op, "the bias", b, w->shape[0]));
    if (prelu) MT_TRY(check_vector(c.op, "the PReLU slopes", prelu, w->shape[0]));
    MT_TRY(check_apart(c.op, TENSORS(y), TENSORS(x)));
    ys[0] = x->shape[0];
    ys[1] = w->shape[0];
    return NN_DISPATCH(c, linear_forward, mt_tensor_numel(y) > 0, (x, w, b, prelu, y));
}

mt_status mt_linear_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   int x_ndim, const int64_t *x_shape) {
    char a[MT_SHAPE_STR];
    nn_call c = {.op = "linear_backward", .in = {&dy, &w}, .other = {dx},
                 .resize = {{dx, x_ndim, x_shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_ndim(c.op, "the weight", w, 2));
    int64_t feat = 1;
    for (int i = 1; i < x_ndim; i++) feat *= x_shape[i];
    if (x_ndim < 2 || feat != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input shape %s does not fit the weight", c.op,
                       mt_shape_str(a, x_ndim, x_shape));
    if (dy->ndim != 2 || dy->shape[0] != x_shape[0] || dy->shape[1] != w->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s, expected %lldx%lld", c.op,
                       mt_tensor_shape_str(dy, a), (long long)x_shape[0], (long long)w->shape[0]);
    MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(dy)));
    return NN_DISPATCH(c, linear_backward_input, mt_tensor_numel(dx) > 0, (dy, w, dx));
}

mt_status mt_linear_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db) {
    char a[MT_SHAPE_STR];
    nn_call c = {.op = "linear_backward", .in = {&x, &dy}, .other = {dw, db}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_ndim(c.op, "the weight gradient", dw, 2));
    if (x->ndim < 2 || per_sample(x) != dw->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: input %s does not fit the weight gradient", c.op,
                       mt_tensor_shape_str(x, a));
    if (dy->ndim != 2 || dy->shape[0] != x->shape[0] || dy->shape[1] != dw->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: output gradient %s, expected %lldx%lld", c.op,
                       mt_tensor_shape_str(dy, a), (long long)x->shape[0],
                       (long long)dw->shape[0]);
    MT_TRY(check_contiguous(c.op, "the weight gradient", dw));
    MT_TRY(check_bias_grad(c.op, db, dw->shape[0]));
    return NN_DISPATCH(c, linear_backward_params, x->shape[0] > 0, (x, dy, dw, db));
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
    /* in place (y is x) is allowed: y is not resized then */
    nn_call c = {.op = "prelu", .in = {&x, &a}, .other = {y},
                 .resize = {{y != x ? y : NULL, x->ndim, x->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_channels(c.op, x, a));
    return NN_DISPATCH(c, prelu_forward, mt_tensor_numel(y) > 0, (x, a, y));
}

mt_status mt_prelu_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                            mt_tensor *dx, mt_tensor *da) {
    /* dx may be dy (in place), or NULL (not wanted) */
    bool own_dx = dx && dx != dy;
    nn_call c = {.op = "prelu_backward", .in = {&x, &a, &dy}, .other = {dx, da},
                 .resize = {{own_dx ? dx : NULL, x->ndim, x->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_channels(c.op, x, a));
    MT_TRY(mt_check_same_shape(c.op, x, dy));
    if (da) MT_TRY(check_like(c.op, "the slope gradient", da, a));
    if (own_dx) MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(x)));
    return NN_DISPATCH(c, prelu_backward, mt_tensor_numel(x) > 0, (x, a, dy, dx, da));
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
    int64_t ys[4];
    nn_call c = {.op = "maxpool2d", .in = {&x}, .other = {y}, .resize = {{y, 4, ys}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(pool_shapes(c.op, x, d, ys));
    MT_TRY(check_apart(c.op, TENSORS(y), TENSORS(x)));
    return NN_DISPATCH(c, maxpool2d_forward, mt_tensor_numel(y) > 0, (x, y, d));
}

mt_status mt_maxpool2d_backward(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                mt_tensor *dx, const mt_pool2d_desc *d) {
    int64_t ys[4];
    nn_call c = {.op = "maxpool2d_backward", .in = {&x, &dy, &y}, .other = {dx},
                 .resize = {{dx, 4, x->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(pool_shapes(c.op, x, d, ys));
    MT_TRY(check_shape4(c.op, "output gradient", dy, ys, "the output "));
    if (y) MT_TRY(check_shape4(c.op, "forward output", y, ys, "the output "));
    MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(x, dy, y)));
    return NN_DISPATCH(c, maxpool2d_backward, mt_tensor_numel(dx) > 0, (x, y, dy, dx, d));
}

/* ---- PReLU + max pooling (training) ------------------------------------------------------- */

mt_status mt_prelu_pool_forward(const mt_tensor *x, const mt_tensor *a, mt_tensor *y,
                                mt_tensor *at, const mt_pool2d_desc *d) {
    int64_t ys[4];
    nn_call c = {.op = "prelu_pool", .in = {&x, &a}, .other = {y, at},
                 .resize = {{y, 4, ys}, {at, 4, ys}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(pool_shapes(c.op, x, d, ys));
    MT_TRY(check_channels(c.op, x, a));
    if (x->shape[2] * x->shape[3] >= (int64_t)1 << 24)
        return mt_fail(MT_ERR_SHAPE, "%s: planes of %lldx%lld are too large (at most 2^24 values)",
                       c.op, (long long)x->shape[2], (long long)x->shape[3]);
    MT_TRY(check_apart(c.op, TENSORS(y, at), TENSORS(x, a)));
    MT_TRY(check_apart(c.op, TENSORS(at), TENSORS(y)));
    return NN_DISPATCH(c, prelu_pool_forward, mt_tensor_numel(y) > 0, (x, a, y, at, d));
}

mt_status mt_prelu_pool_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                 const mt_tensor *dy, mt_tensor *dx, mt_tensor *da,
                                 const mt_pool2d_desc *d) {
    int64_t ys[4];
    nn_call c = {.op = "prelu_pool_backward", .in = {&x, &a, &at, &dy}, .other = {dx, da},
                 .resize = {{dx, 4, x->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(pool_shapes(c.op, x, d, ys));
    MT_TRY(check_channels(c.op, x, a));
    MT_TRY(check_shape4(c.op, "the output gradient", dy, ys, "the pooled output "));
    MT_TRY(check_shape4(c.op, "the maxima positions", at, ys, "the pooled output "));
    if (da) MT_TRY(check_like(c.op, "the slope gradient", da, a));
    MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(x, at, dy, a)));
    MT_TRY(check_apart(c.op, TENSORS(da), TENSORS(x, dy)));
    return NN_DISPATCH(c, prelu_pool_backward, mt_tensor_numel(x) > 0,
                       (x, a, at, dy, dx, da, d));
}

/* ---- softmax ------------------------------------------------------------------------------ */

mt_status mt_softmax_forward(const mt_tensor *x, mt_tensor *y) {
    char s[MT_SHAPE_STR];
    /* in place (y is x) is allowed: y is not resized then */
    nn_call c = {.op = "softmax", .in = {&x}, .other = {y},
                 .resize = {{y != x ? y : NULL, x->ndim, x->shape}}};
    MT_TRY(nn_devices(&c));
    if (x->ndim != 2 && x->ndim != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: the input must be [N,C] or [N,C,H,W], got %s", c.op,
                       mt_tensor_shape_str(x, s));
    return NN_DISPATCH(c, softmax_forward, mt_tensor_numel(y) > 0, (x, y));
}

mt_status mt_softmax_backward(const mt_tensor *y, const mt_tensor *dy, mt_tensor *dx) {
    /* dx may be dy (in place) */
    bool own_dx = dx != dy;
    nn_call c = {.op = "softmax_backward", .in = {&y, &dy}, .other = {dx},
                 .resize = {{own_dx ? dx : NULL, y->ndim, y->shape}}};
    MT_TRY(nn_devices(&c));
    MT_TRY(mt_check_same_shape(c.op, y, dy));
    if (own_dx) MT_TRY(check_apart(c.op, TENSORS(dx), TENSORS(y)));
    return NN_DISPATCH(c, softmax_backward, mt_tensor_numel(dx) > 0, (y, dy, dx));
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
    /* the kernel gets a copy of the arguments with contiguous inputs, and no targets or
     * gradients of an absent task */
    mt_mtcnn_loss_args k = *a;
    if (!a->box) k.box_target = k.dbox = NULL;
    if (!a->lmk) k.lmk_target = k.dlmk = NULL;
    nn_call c = {.op = op,
                 .in = {&k.cls, &k.box, &k.lmk, &k.label, &k.box_target, &k.lmk_target},
                 .other = {a->box_target, a->lmk_target, a->dcls, a->dbox, a->dlmk},
                 .resize = {{a->dcls, a->cls->ndim, a->cls->shape},
                            {k.dbox, a->box ? a->box->ndim : 0, a->box ? a->box->shape : NULL},
                            {k.dlmk, a->lmk ? a->lmk->ndim : 0, a->lmk ? a->lmk->shape : NULL}}};
    MT_TRY(nn_devices(&c));
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
    MT_TRY(NN_DISPATCH(c, mtcnn_loss, true, (&k)));
    a->loss = k.loss;
    a->cls_loss = k.cls_loss;
    a->box_loss = k.box_loss;
    a->lmk_loss = k.lmk_loss;
    a->accuracy = k.accuracy;
    a->n_cls = k.n_cls;
    a->n_kept = k.n_kept;
    a->n_box = k.n_box;
    a->n_lmk = k.n_lmk;
    a->n_correct = k.n_correct;
    return MT_OK;
}

/* ---- conv -> PReLU -> max pooling, first layer's parameter gradients (training) ------------- */

mt_status mt_conv2d_prelu_pool_backward_params(const mt_tensor *x, const mt_tensor *z,
                                               const mt_tensor *a, const mt_tensor *at,
                                               const mt_tensor *gy, mt_tensor *dz, mt_tensor *dw,
                                               mt_tensor *db, mt_tensor *da,
                                               const mt_conv2d_desc *d, const mt_pool2d_desc *pd) {
    nn_call c = {.op = "conv2d_prelu_pool_backward", .in = {&x, &z, &a, &at, &gy},
                 .other = {dz, dw, db, da}};
    MT_TRY(nn_devices(&c));
    MT_TRY(check_ndim(c.op, "the input", x, 4));
    MT_TRY(check_ndim(c.op, "the weight gradient", dw, 4));
    int64_t zs[4], ys[4];
    MT_TRY(conv_shapes(c.op, x->shape, dw, d, zs));
    MT_TRY(check_shape4(c.op, "the convolution's output", z, zs, ""));
    MT_TRY(pool_shapes(c.op, z, pd, ys));
    MT_TRY(check_channels(c.op, z, a));
    MT_TRY(check_shape4(c.op, "the output gradient", gy, ys, "the pooled output "));
    MT_TRY(check_shape4(c.op, "the maxima positions", at, ys, "the pooled output "));
    MT_TRY(check_contiguous(c.op, "the weight gradient", dw));
    MT_TRY(check_bias_grad(c.op, db, dw->shape[0]));
    MT_TRY(check_like(c.op, "the slope gradient", da, a));
    MT_TRY(check_apart(c.op, TENSORS(dz, dw, da, db), TENSORS(x, z, a, at, gy)));
    return NN_DISPATCH(c, conv2d_prelu_pool_backward_params, mt_tensor_numel(z) > 0,
                       (x, z, a, at, gy, dz, dw, db, da, d, pd));
}
