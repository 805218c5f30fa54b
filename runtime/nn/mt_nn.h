/*
 * mt_nn.h - checked entry points of the neural-network layers and losses.
 *
 * Each function checks its arguments (dimensions, shapes, one device for all
 * operands), resizes its output tensors to the right shape (reusing their
 * buffers when large enough: a training step allocates nothing once warm), and
 * runs the layer on the kernels of the operands' device (the table at the end). A
 * device whose backend leaves the kernel NULL gives MT_ERR_UNSUPPORTED, e.g.
 * "conv2d_forward: not supported on cuda". Inputs that are not contiguous are
 * copied first. Gradients of parameters ("dw", "db", "da") accumulate (+=), as
 * in Torch's accGradParameters; input gradients overwrite.
 *
 * Messages name the op, the shapes and the problem:
 *   "conv2d: input 2x3x5x5 has 3 channels, weight expects 4".
 * Nothing here takes ownership of its arguments.
 */
#ifndef MT_NN_H
#define MT_NN_H

#include "core/mt_backend.h"
#include "core/mt_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry of a 2-D convolution (zero padding on both sides). */
typedef struct mt_conv2d_desc {
    int stride_h, stride_w; /* >= 1 */
    int pad_h, pad_w;       /* >= 0 */
} mt_conv2d_desc;

/* Geometry of a max pooling (no padding; Caffe's ceil-mode output size). */
typedef struct mt_pool2d_desc {
    int kernel_h, kernel_w; /* >= 1 */
    int stride_h, stride_w; /* >= 1 */
} mt_pool2d_desc;

/* Output size of a convolution along one axis; < 1 when the input is too small. */
int64_t mt_conv2d_out_size(int64_t in, int kernel, int stride, int pad);
/* Output size of a ceil-mode pooling: ceil((in - k) / s) + 1, with the last
 * window starting inside the input; >= 1 for in >= 1. */
int64_t mt_pool2d_out_size(int64_t in, int kernel, int stride);

/* ---- layers ------------------------------------------------------------------------------- */

/* y = conv2d(x, w) + b [+ PReLU(prelu)], and with pd (may be NULL) the max pooling after it
 * in the same pass (no pre-pooling output is kept: evaluate mode; Caffe's ceil-mode size);
 * b and prelu may be NULL; y is resized. */
mt_status mt_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y, const mt_conv2d_desc *d,
                            const mt_pool2d_desc *pd);
/* dx (resized like x, whose shape is given) = input gradient for output gradient dy. */
mt_status mt_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   const int64_t x_shape[4], const mt_conv2d_desc *d);
/* dw += weight gradient, db += bias gradient (db may be NULL). */
mt_status mt_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db, const mt_conv2d_desc *d);

/* Both gradients of a convolution in one call: dx (resized like x) = the input gradient,
 * dw, db (may be NULL) accumulated: the numbers of mt_conv2d_backward_input and
 * mt_conv2d_backward_params (the CPU engine expands dy once for both). */
mt_status mt_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                             mt_tensor *dx, mt_tensor *dw, mt_tensor *db,
                             const mt_conv2d_desc *d);

/* y [N,out] = flatten(x) w^T + b [+ PReLU(prelu)]; x is [N, ...] with in elements per sample. */
mt_status mt_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y);
/* dx (resized to x_shape, x_ndim dims) = dy w. */
mt_status mt_linear_backward_input(const mt_tensor *dy, const mt_tensor *w, mt_tensor *dx,
                                   int x_ndim, const int64_t *x_shape);
mt_status mt_linear_backward_params(const mt_tensor *x, const mt_tensor *dy, mt_tensor *dw,
                                    mt_tensor *db);

/* PReLU over channel dim 1 of x [N,C,...] (or [N,C]); a has C slopes. */
mt_status mt_prelu_forward(const mt_tensor *x, const mt_tensor *a, mt_tensor *y);
/* dx (may be NULL: not wanted) overwritten, da (may be NULL) accumulated. */
mt_status mt_prelu_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                            mt_tensor *dx, mt_tensor *da);

mt_status mt_maxpool2d_forward(const mt_tensor *x, mt_tensor *y, const mt_pool2d_desc *d);
/* dx = dy routed to the first maximum of each window; y, the forward pass's output (NULL:
 * recomputed), lets each window's search compare against its known maximum. */
mt_status mt_maxpool2d_backward(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                mt_tensor *dx, const mt_pool2d_desc *d);

/* Training's PReLU + max pooling pair in one pass each way. Forward: y (resized) =
 * maxpool(PReLU(x)), PReLU(x) not stored (x, a convolution's output, is what the backward
 * needs); at (resized like y) gets the offset of each window's first maximum in its plane
 * of x (integers held as floats). Backward, from at and the pooled gradient dy: dx (may be
 * NULL; resized like x) overwritten and da (may be NULL) accumulated with what
 * mt_prelu_backward after mt_maxpool2d_backward would give (an offset outside its plane
 * fails with MT_ERR_ARG). x [N,C,H,W], a [C]. */
mt_status mt_prelu_pool_forward(const mt_tensor *x, const mt_tensor *a, mt_tensor *y,
                                mt_tensor *at, const mt_pool2d_desc *d);
mt_status mt_prelu_pool_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                 const mt_tensor *dy, mt_tensor *dx, mt_tensor *da,
                                 const mt_pool2d_desc *d);

/* Training's conv -> PReLU -> max pooling as a first layer (no input gradient): dw, db (may
 * be NULL) and da (the PReLU slopes' gradient) accumulated from the pooled gradient gy, where
 * z = conv2d(x) (+ bias) is the convolution's output and at the maxima's positions from
 * mt_prelu_pool_forward(z, a, ...). The CPU engine computes the convolution's output gradient
 * per group of samples inside its weight-gradient pass (never stored); otherwise it goes
 * through dz (resized), the same as mt_prelu_pool_backward then mt_conv2d_backward_params. */
mt_status mt_conv2d_prelu_pool_backward_params(const mt_tensor *x, const mt_tensor *z,
                                               const mt_tensor *a, const mt_tensor *at,
                                               const mt_tensor *gy, mt_tensor *dz, mt_tensor *dw,
                                               mt_tensor *db, mt_tensor *da,
                                               const mt_conv2d_desc *d, const mt_pool2d_desc *pd);

/* Softmax over dim 1 of a [N,C] or [N,C,H,W] tensor. */
mt_status mt_softmax_forward(const mt_tensor *x, mt_tensor *y);
mt_status mt_softmax_backward(const mt_tensor *y, const mt_tensor *dy, mt_tensor *dx);

/* Fills mask (resized to shape) with 0 (probability p) or 1 / (1 - p) from r: inverted
 * dropout, applied with a multiplication. 0 <= p < 1. */
mt_status mt_dropout_mask(mt_tensor *mask, int ndim, const int64_t *shape, double p, mt_rng *r);

/* ---- the MTCNN multi-task loss (docs/design.md, 'Losses and OHEM') ------------------------ */

/* Labels: 1 positive, 0 negative, -1 part face, -2 landmark face. */
typedef struct mt_mtcnn_loss_args {
    /* inputs */
    const mt_tensor *cls;        /* [N,2] softmax probabilities (or [N,2,1,1]) */
    const mt_tensor *box;        /* [N,4] (or [N,4,1,1]); NULL: no box task */
    const mt_tensor *lmk;        /* [N,10] (or [N,10,1,1]); NULL: no landmark task */
    const mt_tensor *label;      /* [N] */
    const mt_tensor *box_target; /* [N,4]; needed with box */
    const mt_tensor *lmk_target; /* [N,10]; needed with lmk */
    /* gradient outputs, shaped like their inputs (set by mt_mtcnn_loss; NULL: not wanted) */
    mt_tensor *dcls, *dbox, *dlmk;
    /* options */
    float w_cls, w_box, w_lmk; /* task weights */
    float ohem_ratio;          /* fraction of the classification losses kept, in (0, 1] */
    int masked;                /* 1: MTCNN's label masks; 0: every sample counts in every
                                  task and labels must be 0 or 1 (plain cross-entropy) */
    int element_mean;          /* 0: squared errors summed over coordinates, averaged over
                                  samples (MTCNN); 1: averaged over elements (MSE) */
    /* results */
    double loss;               /* w_cls L_cls + w_box L_box + w_lmk L_lmk */
    double cls_loss, box_loss, lmk_loss;
    double accuracy;           /* argmax accuracy on positives and negatives (NaN if none) */
    int64_t n_cls;             /* samples with a classification label (pos + neg) */
    int64_t n_kept;            /* of those, kept by OHEM */
    int64_t n_box, n_lmk;      /* samples in the box and landmark tasks */
    int64_t n_correct;         /* correctly classified among the n_cls */
} mt_mtcnn_loss_args;

/* Checks the arguments, resizes the gradient tensors and computes the loss. An
 * empty task (no sample of its type) contributes 0 and a zero gradient. */
mt_status mt_mtcnn_loss(mt_mtcnn_loss_args *a);

/* ---- the kernels each backend provides (a device's mt_backend.nn) ------------------------- */

/* The entry points above check the arguments and call these: tensors are on the backend's
 * device, inputs contiguous, outputs already shaped; "+=" gradients accumulate. A backend
 * whose table leaves a field NULL (or has no table) gives "<field>: not supported on <device>".
 * Adding a kernel: its field here and its name in MT_NN_KERNELS below, then mt_cpu_<name> in
 * a CPU kernel file (cpu/mt_cpu.h declares it and the CPU table enters it from the list). */
struct mt_sgd_args;
struct mt_adam_args;

typedef struct mt_nn_kernels {
    /* y = conv(x, w) + b, then PReLU with per-channel slopes when prelu != NULL.
     * x [N,Cin,H,W], w [Cout,Cin,KH,KW], b [Cout] or NULL, y [N,Cout,OH,OW]. */
    mt_status (*conv2d_forward)(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y,
                                const struct mt_conv2d_desc *d);
    /* y = maxpool(PReLU(conv(x, w) + b)) in one pass (evaluate mode; prelu may be NULL):
     * y [N,Cout,PH,PW] is the ceil-mode pooling of the convolution's output. */
    mt_status (*conv2d_pool_forward)(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                     const mt_tensor *prelu, const mt_tensor *y,
                                     const struct mt_conv2d_desc *d,
                                     const struct mt_pool2d_desc *pd);
    /* dx = the gradient of conv(x, w) w.r.t. x for output gradient dy (overwrites dx). */
    mt_status (*conv2d_backward_input)(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx, const struct mt_conv2d_desc *d);
    /* dw += gradient w.r.t. w, db += gradient w.r.t. b (db may be NULL). */
    mt_status (*conv2d_backward_params)(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db,
                                        const struct mt_conv2d_desc *d);
    /* Both gradients in one call: dx = the input gradient (overwritten, shaped like x), dw,
     * db (may be NULL) accumulated; the numbers of the two calls above. */
    mt_status (*conv2d_backward)(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                                 const mt_tensor *dx, const mt_tensor *dw, const mt_tensor *db,
                                 const struct mt_conv2d_desc *d);
    /* y = x w^T + b for x [N,in] (any trailing dims flattened), w [out,in], b [out] or NULL,
     * then PReLU with slopes [out] when prelu != NULL. */
    mt_status (*linear_forward)(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                const mt_tensor *prelu, const mt_tensor *y);
    /* dx = dy w (overwrites dx, shaped like x). */
    mt_status (*linear_backward_input)(const mt_tensor *dy, const mt_tensor *w,
                                       const mt_tensor *dx);
    /* dw += dy^T x, db += column sums of dy (db may be NULL). */
    mt_status (*linear_backward_params)(const mt_tensor *x, const mt_tensor *dy,
                                        const mt_tensor *dw, const mt_tensor *db);
    /* y = max(x, 0) + a_c min(x, 0), channel c = dim 1 of x [N,C,...]. */
    mt_status (*prelu_forward)(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y);
    /* dx = dy (x > 0 ? 1 : a_c) (dx may be NULL), da += sum of dy min(x, 0) per channel
     * (da may be NULL). */
    mt_status (*prelu_backward)(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                                const mt_tensor *dx, const mt_tensor *da);
    /* Max pooling, windows kh x kw with strides sh, sw, Caffe's ceil-mode output size. */
    mt_status (*maxpool2d_forward)(const mt_tensor *x, const mt_tensor *y,
                                   const struct mt_pool2d_desc *d);
    /* dx = dy routed to the first maximum of each window (overwrites dx); y is the forward
     * output (or NULL). */
    mt_status (*maxpool2d_backward)(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                    const mt_tensor *dx, const struct mt_pool2d_desc *d);
    /* y = maxpool(PReLU(x)) without storing PReLU(x) (training: x is a convolution's output,
     * kept for the backward pass); at (shaped like y) gets the offset of each window's first
     * maximum within its plane of x. */
    mt_status (*prelu_pool_forward)(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y,
                                    const mt_tensor *at, const struct mt_pool2d_desc *d);
    /* The gradients of the pair from the pooled gradient dy and the forward's offsets at: dx
     * (may be NULL) overwritten with the input gradient, da (may be NULL) accumulated; the
     * numbers of prelu_backward after maxpool2d_backward. */
    mt_status (*prelu_pool_backward)(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                     const mt_tensor *dy, const mt_tensor *dx,
                                     const mt_tensor *da, const struct mt_pool2d_desc *d);
    /* Training's conv -> PReLU -> max pooling of a first layer (no input gradient): dw, db
     * (may be NULL) and the slope gradient da accumulated from the pooled gradient gy, with
     * z the convolution's output and at the pooling's maxima (prelu_pool_forward); dz is a
     * workspace for the convolution's output gradient, resized only by a backend that
     * stores it. */
    mt_status (*conv2d_prelu_pool_backward_params)(
        const mt_tensor *x, const mt_tensor *z, const mt_tensor *a, const mt_tensor *at,
        const mt_tensor *gy, mt_tensor *dz, const mt_tensor *dw, const mt_tensor *db,
        const mt_tensor *da, const struct mt_conv2d_desc *d, const struct mt_pool2d_desc *pd);
    /* Softmax over dim 1 of x [N,C,...] (at every position of the trailing dims). */
    mt_status (*softmax_forward)(const mt_tensor *x, const mt_tensor *y);
    /* dx = y * (dy - sum_c(dy * y)). */
    mt_status (*softmax_backward)(const mt_tensor *y, const mt_tensor *dy, const mt_tensor *dx);
    /* The MTCNN multi-task loss (mt_mtcnn_loss_args): values and gradients. */
    mt_status (*mtcnn_loss)(struct mt_mtcnn_loss_args *a);

    /* ---- optimisers (mt_optim.h): one parameter tensor at a time, operands of one shape */
    /* SGD with momentum (mt_optim.h): updates p and the momentum buffer. */
    mt_status (*sgd_step)(const mt_tensor *p, const mt_tensor *g, const mt_tensor *buf,
                          const struct mt_sgd_args *a);
    /* Adam: updates p and the moment buffers m, v. */
    mt_status (*adam_step)(const mt_tensor *p, const mt_tensor *g, const mt_tensor *m,
                           const mt_tensor *v, const struct mt_adam_args *a);
    /* Sum of squares of t into *out (double), for L2 penalties and gradient norms. */
    mt_status (*sum_squares)(const mt_tensor *t, double *out);
    /* y += alpha x (same shape). */
    mt_status (*axpy)(const mt_tensor *y, float alpha, const mt_tensor *x);
} mt_nn_kernels;

/* Every field of mt_nn_kernels by name, in order: X(name) for each. */
#define MT_NN_KERNELS(X)                                                                           \
    X(conv2d_forward)                                                                              \
    X(conv2d_pool_forward)                                                                         \
    X(conv2d_backward_input)                                                                       \
    X(conv2d_backward_params)                                                                      \
    X(conv2d_backward)                                                                             \
    X(linear_forward)                                                                              \
    X(linear_backward_input)                                                                       \
    X(linear_backward_params)                                                                      \
    X(prelu_forward)                                                                               \
    X(prelu_backward)                                                                              \
    X(maxpool2d_forward)                                                                           \
    X(maxpool2d_backward)                                                                          \
    X(prelu_pool_forward)                                                                          \
    X(prelu_pool_backward)                                                                         \
    X(conv2d_prelu_pool_backward_params)                                                           \
    X(softmax_forward)                                                                             \
    X(softmax_backward)                                                                            \
    X(mtcnn_loss)                                                                                  \
    X(sgd_step)                                                                                    \
    X(adam_step)                                                                                   \
    X(sum_squares)                                                                                 \
    X(axpy)

/* ---- CPU kernel selection ----------------------------------------------------------------- */

/* Which CPU kernels the layers use: "ref" (plain C loops, the reference),
 * "blas" (im2col + OpenBLAS sgemm), "generic" (this project's GEMM engine with
 * portable C micro-kernels), "avx2", "avx512", or "auto" (the best this CPU
 * runs). MTCNN_KERNELS sets it at start-up. Returns MT_ERR_ARG for an unknown
 * name and MT_ERR_UNSUPPORTED for an instruction set the CPU lacks. */
mt_status mt_cpu_set_kernels(const char *name);
/* The kernels in use ("avx512", ...). */
const char *mt_cpu_kernels(void);

#ifdef __cplusplus
}
#endif

#endif
