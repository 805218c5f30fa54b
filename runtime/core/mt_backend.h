/*
 * mt_backend.h - the per-device table of operations.
 *
 * Each device (CPU, CUDA) provides one mt_backend. Callers never pick a
 * kernel themselves: mt_ops.c checks the arguments (shapes, devices) and calls
 * mt_backend_for(device)->op(...). A backend may assume its arguments are
 * valid and on its device; it still reports runtime failures (a CUDA error)
 * through mt_status. A field left NULL means "not supported on this device":
 * the checked entry point then fails with MT_ERR_UNSUPPORTED naming the op and
 * the device. The NN kernels sit in a table of their own (nn), declared by
 * nn/mt_nn.h with the descriptor structs they take.
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

struct mt_nn_kernels;

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

    /* The layers, losses and optimisers (nn/mt_nn.h declares the table and checks the
     * arguments); NULL: none on this device. */
    const struct mt_nn_kernels *nn;
} mt_backend;

/* The tensor operations of mt_backend (copy .. reduce_dim) by name, in order: X(name) for
 * each. The backends declare and enter their kernels (mt_cpu_<name>, mt_cuda_<name>) from it. */
#define MT_TENSOR_OPS(X)                                                                           \
    X(copy) X(fill) X(unary) X(binary) X(binary_scalar) X(reduce_all) X(reduce_dim)

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
