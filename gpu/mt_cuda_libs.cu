/*
 * mt_cuda_libs.cu - what the layer kernels share: the cuDNN and cuBLAS handles, their error
 * messages, the device scratch buffers, and the TF32 switch.
 */
#include "mt_cuda_libs.cuh"

#include "core/mt_alloc.h"

#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *file) {
    const char *b = strrchr(file, '/');
    return b ? b + 1 : file;
}

mt_status mt_cudnn_fail(int status, const char *call, const char *file, int line) {
    return mt_fail(MT_ERR_CUDA, "cudnn: %s in %s at %s:%d",
                   cudnnGetErrorString((cudnnStatus_t)status), call, base_name(file), line);
}

mt_status mt_cublas_fail(int status, const char *call, const char *file, int line) {
    return mt_fail(MT_ERR_CUDA, "cublas: %s (%s) in %s at %s:%d",
                   cublasGetStatusString((cublasStatus_t)status),
                   cublasGetStatusName((cublasStatus_t)status), call, base_name(file), line);
}

bool mt_cuda_tf32(void) {
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("MTCNN_CUDA_TF32");
        on = e && strcmp(e, "1") == 0;
    }
    return on == 1;
}

/* ---- handles ------------------------------------------------------------------------------ */

static cudnnHandle_t cudnn_handle;
static cublasHandle_t cublas_handle;

mt_status mt_cuda_cudnn(cudnnHandle_t *out) {
    if (!cudnn_handle) {
        cudnnHandle_t h;
        MT_CUDNN_CHECK(cudnnCreate(&h));
        cudnnStatus_t st = cudnnSetStream(h, mt_cuda_stream());
        if (st != CUDNN_STATUS_SUCCESS) {
            cudnnDestroy(h);
            MT_CUDNN_CHECK(st);
        }
        cudnn_handle = h;
    }
    *out = cudnn_handle;
    return MT_OK;
}

mt_status mt_cuda_cublas(cublasHandle_t *out) {
    if (!cublas_handle) {
        cublasHandle_t h;
        MT_CUBLAS_CHECK(cublasCreate(&h));
        cublasStatus_t st = cublasSetStream(h, mt_cuda_stream());
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasSetMathMode(h, mt_cuda_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                     : CUBLAS_DEFAULT_MATH);
        if (st != CUBLAS_STATUS_SUCCESS) {
            cublasDestroy(h);
            MT_CUBLAS_CHECK(st);
        }
        cublas_handle = h;
    }
    *out = cublas_handle;
    return MT_OK;
}

/* ---- scratch ------------------------------------------------------------------------------ */

static struct {
    void *p;
    size_t n;
} scratch[MT_CUDA_SLOTS];

mt_status mt_cuda_scratch(int slot, size_t nbytes, void **out) {
    if (nbytes > scratch[slot].n) {
        /* room to grow: a run whose shapes vary (pyramid levels, crop counts) settles fast */
        size_t n = nbytes + nbytes / 4 + 256;
        if (scratch[slot].p) cudaFree(scratch[slot].p); /* waits for queued work */
        scratch[slot].p = NULL;
        scratch[slot].n = 0;
        cudaError_t err = cudaMalloc(&scratch[slot].p, n);
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            mt_run_gc_hook(); /* unreferenced tensors may still hold device memory */
            err = cudaMalloc(&scratch[slot].p, n);
        }
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            scratch[slot].p = NULL;
            return mt_fail(MT_ERR_OOM, "cuda: out of device memory allocating %.1f MiB of "
                                       "scratch space", (double)n / (1024.0 * 1024.0));
        }
        MT_CUDA_CHECK(err);
        scratch[slot].n = n;
    }
    *out = scratch[slot].p;
    return MT_OK;
}
