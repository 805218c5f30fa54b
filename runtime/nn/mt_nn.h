/*
 * mt_nn.h - checked entry points of the neural-network layers and losses.
 *
 * Each function checks its arguments (dimensions, shapes, one device for all
 * operands), resizes its output tensors to the right shape (reusing their
 * buffers when large enough: a training step allocates nothing once warm), and
 * runs the layer on the backend of the operands' device (mt_backend.h). A
 * device whose backend leaves the field NULL gives MT_ERR_UNSUPPORTED, e.g.
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

/* y = conv2d(x, w) + b [+ PReLU(prelu)]; b and prelu may be NULL; y is resized. */
mt_status mt_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                            const mt_tensor *prelu, mt_tensor *y, const mt_conv2d_desc *d);
/* y = maxpool(conv2d(x, w) + b [+ PReLU(prelu)]) in one pass (no pre-pooling output is kept:
 * evaluate mode); the pooling has Caffe's ceil-mode size; y is resized. */
mt_status mt_conv2d_pool_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
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
