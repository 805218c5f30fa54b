/*
 * mt_backend.h - the per-device table of operations.
 *
 * Each device (CPU, CUDA) provides one mt_backend. Callers never pick a
 * kernel themselves: mt_ops.c checks the arguments (shapes, devices) and calls
 * mt_backend_for(device)->op(...). A backend may assume its arguments are
 * valid and on its device; it still reports runtime failures (a CUDA error)
 * through mt_status. A field left NULL means "not supported on this device":
 * the checked entry point then fails with MT_ERR_UNSUPPORTED naming the op and
 * the device. The NN fields take the descriptor structs of mt_nn.h and
 * mt_optim.h.
 */
#ifndef MT_BACKEND_H
#define MT_BACKEND_H

#include "core/mt_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_unary_op {
    MT_UN_NEG,
    MT_UN_ABS,
    MT_UN_SQRT,
    MT_UN_EXP,
    MT_UN_LOG,
    MT_UN_COUNT
} mt_unary_op;

typedef enum mt_binary_op {
    MT_BIN_ADD,  /* a + b */
    MT_BIN_SUB,  /* a - b */
    MT_BIN_MUL,  /* a * b */
    MT_BIN_DIV,  /* a / b */
    MT_BIN_RSUB, /* b - a (for scalar - tensor) */
    MT_BIN_RDIV, /* b / a (for scalar / tensor) */
    MT_BIN_MAX,  /* max(a, b) */
    MT_BIN_MIN,  /* min(a, b) */
    MT_BIN_POW,  /* a ^ b */
    MT_BIN_COUNT
} mt_binary_op;

typedef enum mt_reduce_op {
    MT_RED_SUM,
    MT_RED_MEAN,
    MT_RED_MAX,
    MT_RED_MIN,
    MT_RED_ARGMAX,
    MT_RED_ARGMIN,
    MT_RED_COUNT
} mt_reduce_op;

/* A tensor's geometry padded to 4 dimensions (leading dims of size 1), the
 * form in which kernels walk any strided view. */
typedef struct mt_layout {
    int64_t shape[4];
    int64_t stride[4];
} mt_layout;

void mt_layout_of(const mt_tensor *t, mt_layout *l);

struct mt_conv2d_desc;
struct mt_pool2d_desc;
struct mt_mtcnn_loss_args;
struct mt_sgd_args;
struct mt_adam_args;

typedef struct mt_backend {
    const char *name; /* "cpu" or "cuda" */
    mt_device device;

    /* Allocates nbytes of device memory into *out (MT_ERR_OOM on failure). */
    mt_status (*alloc)(size_t nbytes, void **out);
    /* Frees a block from alloc. */
    void (*free)(void *p, size_t nbytes);
    /* Copies nbytes from host memory to this device, and back. */
    mt_status (*upload)(void *dst, const void *host_src, size_t nbytes);
    mt_status (*download)(void *host_dst, const void *src, size_t nbytes);
    /* Waits until all queued work of this device is done. */
    mt_status (*synchronize)(void);

    /* dst = src elementwise for same-shaped, possibly strided tensors. */
    mt_status (*copy)(const mt_tensor *dst, const mt_tensor *src);
    /* Every element of dst = value. */
    mt_status (*fill)(const mt_tensor *dst, float value);
    /* dst = op(src); dst may be src. */
    mt_status (*unary)(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src);
    /* dst = a op b; dst may be a or b. */
    mt_status (*binary)(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                        const mt_tensor *b);
    /* dst = a op s for a scalar s; dst may be a. */
    mt_status (*binary_scalar)(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                               float s);
    /* Reduces all elements: the value (in double) and, for arg ops, the
     * 0-based row-major index of the first extreme element. */
    mt_status (*reduce_all)(mt_reduce_op op, const mt_tensor *src, double *value,
                            int64_t *index);
    /* Reduces along dim into values (shape of src with dim of size 1) and, for
     * MAX/MIN/ARGMAX/ARGMIN, 0-based indices stored as floats in index (NULL if
     * not wanted). */
    mt_status (*reduce_dim)(mt_reduce_op op, const mt_tensor *values, const mt_tensor *index,
                            const mt_tensor *src, int dim);

    /* ---- neural-network layers (mt_nn.h checks the arguments; tensors are contiguous,
     *      outputs already have their shapes; "+=" fields accumulate) ---------------------- */

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
    /* The MTCNN multi-task loss (mt_nn.h, mt_mtcnn_loss_args): values and gradients. */
    mt_status (*mtcnn_loss)(struct mt_mtcnn_loss_args *a);

    /* ---- optimisers (one parameter tensor at a time; all operands same shape) ---------- */

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
} mt_backend;

/* The backend of a device, or NULL with an MT_ERR_DEVICE message when that
 * device is not compiled in or not present. */
const mt_backend *mt_backend_for(mt_device dev);

/* Whether the device can be used in this process. */
bool mt_device_available(mt_device dev);

/* Whether this build contains the CUDA backend at all. */
bool mt_cuda_compiled(void);

/* Description of a CUDA device, for mtcnn.cuda.device_info(). */
typedef struct mt_cuda_info {
    int count;               /* devices visible */
    int index;               /* the one described */
    char name[256];
    int major, minor;        /* compute capability */
    size_t total_mem;        /* bytes */
    size_t free_mem;         /* bytes */
    int multiprocessors;
    int runtime_version;     /* e.g. 13000 */
    int driver_version;
} mt_cuda_info;

/* Fills info for the current CUDA device; MT_ERR_DEVICE without one. */
mt_status mt_cuda_query(mt_cuda_info *info);

/* ---- what each backend folder provides (the registry, mt_backend.c, calls these; core
 *      includes no backend's headers) ---------------------------------------------------- */

/* The CPU backend (runtime/cpu/, always present). */
const mt_backend *mt_cpu_backend(void);

/* The CUDA backend (gpu/, linked only when MT_WITH_CUDA is defined). */
/* Number of usable CUDA devices (0 without a driver or a GPU). */
int mt_cuda_device_count(void);
/* The CUDA backend, initialised on first use; NULL with an MT_ERR_DEVICE message naming the
 * reason when no device can be used. */
const mt_backend *mt_cuda_backend(void);
/* Describes the current device (mtcnn.cuda.device_info). */
mt_status mt_cuda_device_query(mt_cuda_info *info);

#ifdef __cplusplus
}
#endif

#endif
