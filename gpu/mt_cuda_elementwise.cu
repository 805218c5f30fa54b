/*
 * mt_cuda_elementwise.cu - copy, fill and elementwise arithmetic on CUDA
 * tensors of any strided layout. The arithmetic is core/mt_elementwise.h's, the CPU kernels'
 * own (the same float operations; expf/logf/powf may differ in the last ulp).
 */
#include "mt_cuda_common.cuh"

#include "core/mt_elementwise.h"

__global__ void copy_kernel(mt_cuda_view d, mt_cuda_view s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        d.data[mt_cuda_offset(d, i)] = s.data[mt_cuda_offset(s, i)];
}

__global__ void fill_kernel(mt_cuda_view d, float value, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        d.data[mt_cuda_offset(d, i)] = value;
}

__global__ void unary_kernel(int op, mt_cuda_view d, mt_cuda_view s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        d.data[mt_cuda_offset(d, i)] = mt_unary_apply(op, s.data[mt_cuda_offset(s, i)]);
}

__global__ void binary_kernel(int op, mt_cuda_view d, mt_cuda_view a, mt_cuda_view b,
                              long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        d.data[mt_cuda_offset(d, i)] =
            mt_binary_apply(op, a.data[mt_cuda_offset(a, i)], b.data[mt_cuda_offset(b, i)]);
}

__global__ void binary_scalar_kernel(int op, mt_cuda_view d, mt_cuda_view a, float s,
                                     long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        d.data[mt_cuda_offset(d, i)] = mt_binary_apply(op, a.data[mt_cuda_offset(a, i)], s);
}

mt_status mt_cuda_copy(const mt_tensor *dst, const mt_tensor *src) {
    long long n = mt_tensor_numel(dst);
    if (n == 0) return MT_OK;
    if (mt_tensor_is_contiguous(dst) && mt_tensor_is_contiguous(src)) {
        MT_CUDA_CHECK(cudaMemcpyAsync(mt_tensor_data(dst), mt_tensor_data(src),
                                      (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice,
                                      mt_cuda_stream()));
        return MT_OK;
    }
    copy_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(mt_cuda_view_of(dst),
                                                                 mt_cuda_view_of(src), n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

mt_status mt_cuda_fill(const mt_tensor *dst, float value) {
    long long n = mt_tensor_numel(dst);
    if (n == 0) return MT_OK;
    fill_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(mt_cuda_view_of(dst), value, n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

mt_status mt_cuda_unary(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src) {
    long long n = mt_tensor_numel(dst);
    if (n == 0) return MT_OK;
    unary_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        (int)op, mt_cuda_view_of(dst), mt_cuda_view_of(src), n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

mt_status mt_cuda_binary(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                         const mt_tensor *b) {
    long long n = mt_tensor_numel(dst);
    if (n == 0) return MT_OK;
    binary_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        (int)op, mt_cuda_view_of(dst), mt_cuda_view_of(a), mt_cuda_view_of(b), n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

mt_status mt_cuda_binary_scalar(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                                float s) {
    long long n = mt_tensor_numel(dst);
    if (n == 0) return MT_OK;
    binary_scalar_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        (int)op, mt_cuda_view_of(dst), mt_cuda_view_of(a), s, n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}
