/*
 * mt_cuda_common.cuh - error checks and shared device helpers of the CUDA
 * backend. Every CUDA runtime call goes through MT_CUDA_CHECK, which turns a
 * failure into MT_ERR_CUDA with the library's message and the source line.
 */
#ifndef MT_CUDA_COMMON_CUH
#define MT_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include "core/mt_backend.h" /* the table it fills; mt_cuda_backend() is declared there */
#include "nn/mt_nn.h"
#include "nn/mt_optim.h"

#include <type_traits>

/* Records a CUDA error as the thread's message; returns MT_ERR_CUDA. */
mt_status mt_cuda_fail(cudaError_t err, const char *call, const char *file, int line);

#define MT_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        cudaError_t mt_cuda_err_ = (call);                                                         \
        if (mt_cuda_err_ != cudaSuccess) return mt_cuda_fail(mt_cuda_err_, #call, __FILE__, __LINE__); \
    } while (0)

/* Checks the last kernel launch. */
#define MT_CUDA_CHECK_LAUNCH() MT_CUDA_CHECK(cudaGetLastError())

/* The stream every kernel and copy of the backend is queued on. */
cudaStream_t mt_cuda_stream(void);

/* A tensor's padded 4-d geometry plus its data pointer, passed to kernels by value. */
struct mt_cuda_view {
    float *data;
    long long shape[4];
    long long stride[4];
};

static inline mt_cuda_view mt_cuda_view_of(const mt_tensor *t) {
    mt_layout l;
    mt_layout_of(t, &l);
    mt_cuda_view v;
    v.data = mt_tensor_data(t);
    for (int i = 0; i < 4; i++) {
        v.shape[i] = l.shape[i];
        v.stride[i] = l.stride[i];
    }
    return v;
}

/* Offset of the i-th element (row-major over the logical shape) in a view. */
__device__ __forceinline__ long long mt_cuda_offset(const mt_cuda_view &v, long long i) {
    long long i3 = i % v.shape[3];
    i /= v.shape[3];
    long long i2 = i % v.shape[2];
    i /= v.shape[2];
    long long i1 = i % v.shape[1];
    long long i0 = i / v.shape[1];
    return i0 * v.stride[0] + i1 * v.stride[1] + i2 * v.stride[2] + i3 * v.stride[3];
}

/* Grid size for n elements at 256 threads per block (grid-stride loops do the rest). */
static inline unsigned mt_cuda_blocks(long long n) {
    long long b = (n + 255) / 256;
    if (b < 1) b = 1;
    if (b > 65535LL * 8) b = 65535LL * 8;
    return (unsigned)b;
}

/* The kernels of mt_cuda_elementwise.cu and mt_cuda_reduce.cu. */
mt_status mt_cuda_copy(const mt_tensor *dst, const mt_tensor *src);
mt_status mt_cuda_fill(const mt_tensor *dst, float value);
mt_status mt_cuda_unary(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src);
mt_status mt_cuda_binary(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                         const mt_tensor *b);
mt_status mt_cuda_binary_scalar(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a, float s);
mt_status mt_cuda_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value,
                             int64_t *index);
mt_status mt_cuda_reduce_dim(mt_reduce_op op, const mt_tensor *values, const mt_tensor *index,
                             const mt_tensor *src, int dim);

/* ---- the libraries and device memory of the layer kernels (mt_cuda_libs.cu) ------------- */

/* Records a cuDNN or cuBLAS failure as the thread's message; return MT_ERR_CUDA. The status
 * is passed as an int so that this header needs neither library's headers. */
mt_status mt_cudnn_fail(int status, const char *call, const char *file, int line);
mt_status mt_cublas_fail(int status, const char *call, const char *file, int line);

#define MT_CUDNN_CHECK(call)                                                                       \
    do {                                                                                           \
        int mt_cudnn_st_ = (int)(call);                                                            \
        if (mt_cudnn_st_ != 0) return mt_cudnn_fail(mt_cudnn_st_, #call, __FILE__, __LINE__);     \
    } while (0)
#define MT_CUBLAS_CHECK(call)                                                                      \
    do {                                                                                           \
        int mt_cublas_st_ = (int)(call);                                                           \
        if (mt_cublas_st_ != 0) return mt_cublas_fail(mt_cublas_st_, #call, __FILE__, __LINE__);  \
    } while (0)

/* Device scratch memory: one buffer per slot, grown when too small (never shrunk), so that a
 * warm training step allocates nothing. The contents are the caller's until its next use of
 * the slot; kernels queued on the stream may still read a slot when the call returns, which
 * is safe because growing a buffer (cudaFree) waits for the device. */
enum {
    MT_CUDA_SLOT_CONV_WS,   /* cuDNN workspace */
    MT_CUDA_SLOT_CONV_OUT,  /* the convolution's output before a fused pooling */
    MT_CUDA_SLOT_CONV_GRAD, /* the convolution's output gradient (fused first layer) */
    MT_CUDA_SLOT_LOSS,      /* the loss's per-sample values */
    MT_CUDA_SLOT_PARTIAL,   /* per-channel and per-block partial sums */
    MT_CUDA_SLOTS
};
mt_status mt_cuda_scratch(int slot, size_t nbytes, void **out);

/* Whether the layers may use TF32 tensor cores for float convolutions and products
 * (MTCNN_CUDA_TF32=1; off by default: full float precision, close to the CPU's numbers). */
bool mt_cuda_tf32(void);

/* ---- the NN kernels: mt_cuda_<name> for every field of nn/mt_nn.h's MT_NN_KERNELS ----------
 * (convolutions in mt_cuda_conv.cu, fully connected layers, PReLU, pooling and softmax in
 * mt_cuda_layers.cu, the loss in mt_cuda_loss.cu, optimisers in mt_cuda_optim.cu). */
#define MT_CUDA_KERNEL(name)                                                                       \
    std::remove_pointer<decltype(mt_nn_kernels::name)>::type mt_cuda_##name;
MT_NN_KERNELS(MT_CUDA_KERNEL)
#undef MT_CUDA_KERNEL

/* A max pooling's geometry as the kernels take it: input h x w, output oh x ow (Caffe's
 * ceil-mode sizes, from the checked entry), window kh x kw, strides sh, sw. */
struct pool_geom {
    int h, w, oh, ow, kh, kw, sh, sw;
};

/* Shared by the layer files: y [n, c, hw] += bias[c], then PReLU with slopes a[c] (either
 * may be NULL), in place. */
mt_status mt_cuda_bias_prelu(float *y, long long n, long long c, long long hw, const float *bias,
                             const float *a);
/* db[c] += the sum of dy [n, c, hw] over n and hw (deterministic: fixed summation order). */
mt_status mt_cuda_channel_sum(const float *dy, long long n, long long c, long long hw, float *db);

#endif
