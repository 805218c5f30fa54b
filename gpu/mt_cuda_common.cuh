/*
 * mt_cuda_common.cuh - error checks and shared device helpers of the CUDA
 * backend. Every CUDA runtime call goes through MT_CUDA_CHECK, which turns a
 * failure into MT_ERR_CUDA with the library's message and the source line.
 */
#ifndef MT_CUDA_COMMON_CUH
#define MT_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include "core/mt_backend.h" /* the table it fills; mt_cuda_backend() is declared there */

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

#endif
