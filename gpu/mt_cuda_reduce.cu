/*
 * mt_cuda_reduce.cu - reductions on CUDA tensors.
 *
 * Whole-tensor reductions run in two deterministic passes: each block reduces
 * a fixed slice of the elements into a partial (value, index) pair, then one
 * block combines the partials in order. Sums accumulate in double. Extremes
 * follow the CPU rules: the first NaN wins, otherwise the largest (smallest)
 * value, ties to the lowest index.
 */
#include "mt_cuda_common.cuh"

#include <math.h>

struct partial {
    double v;
    long long i; /* -1: empty */
};

__device__ __forceinline__ partial combine(int op, partial a, partial b) {
    if (op == MT_RED_SUM || op == MT_RED_MEAN) {
        partial r = {a.v + b.v, -1};
        return r;
    }
    if (b.i < 0) return a;
    if (a.i < 0) return b;
    bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) {
        if (an && bn) return a.i < b.i ? a : b;
        return an ? a : b;
    }
    bool want_max = op == MT_RED_MAX || op == MT_RED_ARGMAX;
    bool b_better = want_max ? b.v > a.v : b.v < a.v;
    if (b_better || (b.v == a.v && b.i < a.i)) return b;
    return a;
}

__device__ partial block_reduce(int op, partial p) {
    __shared__ double sv[256];
    __shared__ long long si[256];
    sv[threadIdx.x] = p.v;
    si[threadIdx.x] = p.i;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            partial a = {sv[threadIdx.x], si[threadIdx.x]};
            partial b = {sv[threadIdx.x + s], si[threadIdx.x + s]};
            partial r = combine(op, a, b);
            sv[threadIdx.x] = r.v;
            si[threadIdx.x] = r.i;
        }
        __syncthreads();
    }
    partial r = {sv[0], si[0]};
    return r;
}

/* Pass 1: block b reduces elements [b*chunk, (b+1)*chunk). */
__global__ void reduce_partials(int op, mt_cuda_view s, long long n, long long chunk,
                                partial *out) {
    long long begin = blockIdx.x * chunk;
    long long end = begin + chunk < n ? begin + chunk : n;
    partial acc = {0.0, -1};
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        partial e = {(double)s.data[mt_cuda_offset(s, i)], i};
        acc = combine(op, acc, e);
    }
    partial r = block_reduce(op, acc);
    if (threadIdx.x == 0) out[blockIdx.x] = r;
}

/* Pass 2: one block combines the partials in index order. */
__global__ void reduce_final(int op, const partial *in, int count, partial *out) {
    partial acc = {0.0, -1};
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc = combine(op, acc, in[i]);
    partial r = block_reduce(op, acc);
    if (threadIdx.x == 0) *out = r;
}

mt_status mt_cuda_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value,
                             int64_t *index) {
    long long n = mt_tensor_numel(src);
    int blocks = (int)((n + 4095) / 4096);
    if (blocks > 1024) blocks = 1024;
    if (blocks < 1) blocks = 1;
    long long chunk = (n + blocks - 1) / blocks;
    partial *buf = NULL;
    MT_CUDA_CHECK(cudaMalloc((void **)&buf, (size_t)(blocks + 1) * sizeof(partial)));
    cudaStream_t st = mt_cuda_stream();
    reduce_partials<<<blocks, 256, 0, st>>>((int)op, mt_cuda_view_of(src), n, chunk, buf);
    reduce_final<<<1, 256, 0, st>>>((int)op, buf, blocks, buf + blocks);
    partial r;
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess)
        err = cudaMemcpyAsync(&r, buf + blocks, sizeof r, cudaMemcpyDeviceToHost, st);
    if (err == cudaSuccess) err = cudaStreamSynchronize(st);
    cudaFree(buf);
    MT_CUDA_CHECK(err);
    *value = op == MT_RED_MEAN ? r.v / (double)n : r.v;
    *index = r.i;
    return MT_OK;
}

/* One thread per output element walks the reduced dimension. */
__global__ void reduce_dim_kernel(int op, mt_cuda_view v, mt_cuda_view ix, int has_index,
                                  mt_cuda_view s, int pd, long long outputs) {
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < outputs;
         o += (long long)blockDim.x * gridDim.x) {
        /* coordinates of o in the output shape (size 1 along pd) */
        long long c[4], r = o;
        for (int d = 3; d >= 0; d--) {
            c[d] = r % v.shape[d];
            r /= v.shape[d];
        }
        long long base = c[0] * s.stride[0] + c[1] * s.stride[1] + c[2] * s.stride[2] +
                         c[3] * s.stride[3];
        long long len = s.shape[pd], step = s.stride[pd];
        partial acc = {0.0, -1};
        for (long long k = 0; k < len; k++) {
            partial e = {(double)s.data[base + k * step], k};
            acc = combine(op, acc, e);
        }
        long long vo = c[0] * v.stride[0] + c[1] * v.stride[1] + c[2] * v.stride[2] +
                       c[3] * v.stride[3];
        float out;
        if (op == MT_RED_MEAN) out = (float)(acc.v / (double)len);
        else if (op == MT_RED_ARGMAX || op == MT_RED_ARGMIN) out = (float)acc.i;
        else out = (float)acc.v;
        v.data[vo] = out;
        if (has_index) {
            long long io = c[0] * ix.stride[0] + c[1] * ix.stride[1] + c[2] * ix.stride[2] +
                           c[3] * ix.stride[3];
            ix.data[io] = (float)acc.i;
        }
    }
}

mt_status mt_cuda_reduce_dim(mt_reduce_op op, const mt_tensor *values, const mt_tensor *index,
                             const mt_tensor *src, int dim) {
    long long outputs = mt_tensor_numel(values);
    if (outputs == 0) return MT_OK;
    int pd = dim + (4 - src->ndim);
    mt_cuda_view iv = index ? mt_cuda_view_of(index) : mt_cuda_view_of(values);
    reduce_dim_kernel<<<mt_cuda_blocks(outputs), 256, 0, mt_cuda_stream()>>>(
        (int)op, mt_cuda_view_of(values), iv, index != NULL, mt_cuda_view_of(src), pd, outputs);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}
