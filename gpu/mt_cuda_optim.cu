/*
 * mt_cuda_optim.cu - per-tensor optimiser updates on the GPU, with the CPU's formulas
 * (runtime/cpu/mt_cpu_optim.c), and the sum of squares and axpy of the L2 penalty.
 */
#include "mt_cuda_common.cuh"

#include <math.h>

#define GRID_STRIDE(i, n)                                                                          \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n);                 \
         i += (long long)blockDim.x * gridDim.x)

__global__ void sgd_plain_kernel(float *w, const float *g, long long n, float lr, float wd) {
    GRID_STRIDE(i, n) w[i] -= lr * (g[i] + wd * w[i]);
}

__global__ void sgd_momentum_kernel(float *w, const float *g, float *b, long long n, float lr,
                                    float mom, float keep, float damp, float wd, int nesterov) {
    GRID_STRIDE(i, n) {
        float gi = g[i] + wd * w[i];
        float bi = keep * b[i] + (1.0f - damp) * gi;
        b[i] = bi;
        w[i] -= lr * (nesterov ? gi + mom * bi : bi);
    }
}

mt_status mt_cuda_sgd_step(const mt_tensor *p, const mt_tensor *g, const mt_tensor *buf,
                           const mt_sgd_args *a) {
    long long n = mt_tensor_numel(p);
    cudaStream_t st = mt_cuda_stream();
    if (!buf) {
        sgd_plain_kernel<<<mt_cuda_blocks(n), 256, 0, st>>>(mt_tensor_data(p), mt_tensor_data(g),
                                                            n, a->lr, a->weight_decay);
    } else {
        const float damp = a->first ? 0.0f : a->dampening;
        const float keep = a->first ? 0.0f : a->momentum;
        sgd_momentum_kernel<<<mt_cuda_blocks(n), 256, 0, st>>>(
            mt_tensor_data(p), mt_tensor_data(g), mt_tensor_data(buf), n, a->lr, a->momentum,
            keep, damp, a->weight_decay, a->nesterov);
    }
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

__global__ void adam_kernel(float *w, const float *g, float *m, float *v, long long n, float b1,
                            float b2, float eps, float wd, float step, float inv_c2) {
    GRID_STRIDE(i, n) {
        float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i] * inv_c2) + eps);
    }
}

mt_status mt_cuda_adam_step(const mt_tensor *p, const mt_tensor *g, const mt_tensor *m,
                            const mt_tensor *v, const mt_adam_args *a) {
    long long n = mt_tensor_numel(p);
    /* the bias corrections on the host, in double, as the CPU */
    const double c1 = 1.0 - pow((double)a->beta1, (double)a->step);
    const double c2 = 1.0 - pow((double)a->beta2, (double)a->step);
    adam_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        mt_tensor_data(p), mt_tensor_data(g), mt_tensor_data(m), mt_tensor_data(v), n, a->beta1,
        a->beta2, a->eps, a->weight_decay, (float)((double)a->lr / c1), (float)(1.0 / c2));
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* ---- the L2 penalty's pieces ------------------------------------------------------------- */

#define SS_THREADS 256
#define SS_BLOCKS 64

/* Block b sums the squares of its share (elements b*256 + k*64*256 ...) into part[b]. */
__global__ void sum_squares_kernel(const float *x, long long n, double *part) {
    __shared__ double red[SS_THREADS];
    double acc = 0.0;
    for (long long i = (long long)blockIdx.x * SS_THREADS + threadIdx.x; i < n;
         i += (long long)SS_BLOCKS * SS_THREADS)
        acc += (double)x[i] * (double)x[i];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int k = SS_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = red[0];
}

__global__ void sum_parts_kernel(double *part) {
    double s = 0.0;
    for (int i = 0; i < SS_BLOCKS; i++) s += part[i];
    part[SS_BLOCKS] = s;
}

mt_status mt_cuda_sum_squares(const mt_tensor *t, double *out) {
    void *part;
    MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_PARTIAL, (SS_BLOCKS + 1) * sizeof(double), &part));
    cudaStream_t st = mt_cuda_stream();
    double *p = (double *)part;
    sum_squares_kernel<<<SS_BLOCKS, SS_THREADS, 0, st>>>(mt_tensor_data(t), mt_tensor_numel(t), p);
    sum_parts_kernel<<<1, 1, 0, st>>>(p);
    MT_CUDA_CHECK_LAUNCH();
    MT_CUDA_CHECK(cudaMemcpyAsync(out, p + SS_BLOCKS, sizeof(double), cudaMemcpyDeviceToHost, st));
    MT_CUDA_CHECK(cudaStreamSynchronize(st));
    return MT_OK;
}

__global__ void axpy_kernel(float *y, float alpha, const float *x, long long n) {
    GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

mt_status mt_cuda_axpy(const mt_tensor *y, float alpha, const mt_tensor *x) {
    long long n = mt_tensor_numel(y);
    axpy_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(mt_tensor_data(y), alpha,
                                                                  mt_tensor_data(x), n);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}
