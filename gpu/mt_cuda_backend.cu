/*
 * mt_cuda_backend.cu - the CUDA backend: device discovery, the per-process
 * context (one stream on the current device), memory, and the backend table.
 */
#include "mt_cuda_common.cuh"

#include "core/mt_alloc.h"

#include <stdio.h>
#include <string.h>

mt_status mt_cuda_fail(cudaError_t err, const char *call, const char *file, int line) {
    const char *base = strrchr(file, '/');
    return mt_fail(MT_ERR_CUDA, "cuda: %s (%s) in %s at %s:%d", cudaGetErrorString(err),
                   cudaGetErrorName(err), call, base ? base + 1 : file, line);
}

/* ---- context ---------------------------------------------------------------------------- */

struct mt_cuda_ctx {
    int ready;           /* 1 after a successful init, -1 after a failed one */
    int device;
    cudaStream_t stream;
    char why[512];       /* the reason when ready == -1 */
};

static mt_cuda_ctx ctx;

int mt_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    return n;
}

static void ctx_init(void) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        const char *reason = "no GPU found";
        if (err == cudaErrorInsufficientDriver)
            reason = "no NVIDIA driver is loaded, or it is older than this build's CUDA runtime";
        else if (err != cudaSuccess && err != cudaErrorNoDevice)
            reason = cudaGetErrorString(err);
        snprintf(ctx.why, sizeof ctx.why, "cuda: no CUDA device available (%s)", reason);
        cudaGetLastError();
        ctx.ready = -1;
        return;
    }
    err = cudaGetDevice(&ctx.device);
    if (err == cudaSuccess) err = cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
        snprintf(ctx.why, sizeof ctx.why, "cuda: cannot initialise device: %s",
                 cudaGetErrorString(err));
        cudaGetLastError();
        ctx.ready = -1;
        return;
    }
    ctx.ready = 1;
}

cudaStream_t mt_cuda_stream(void) { return ctx.stream; }

/* ---- memory ----------------------------------------------------------------------------- */

static mt_status cuda_alloc(size_t nbytes, void **out) {
    size_t n = nbytes ? nbytes : 1;
    cudaError_t err = cudaMalloc(out, n);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        mt_run_gc_hook(); /* unreferenced tensors may still hold device memory */
        err = cudaMalloc(out, n);
    }
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return mt_fail(MT_ERR_OOM, "cuda: out of device memory allocating %.1f MiB",
                       (double)nbytes / (1024.0 * 1024.0));
    }
    MT_CUDA_CHECK(err);
    return MT_OK;
}

static void cuda_free(void *p, size_t nbytes) {
    (void)nbytes;
    if (p) cudaFree(p);
}

static mt_status cuda_upload(void *dst, const void *src, size_t nbytes) {
    if (!nbytes) return MT_OK;
    MT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, ctx.stream));
    MT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    return MT_OK;
}

static mt_status cuda_download(void *dst, const void *src, size_t nbytes) {
    if (!nbytes) return MT_OK;
    MT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, ctx.stream));
    MT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    return MT_OK;
}

static mt_status cuda_synchronize(void) {
    MT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    return MT_OK;
}

/* ---- the table -------------------------------------------------------------------------- */

/* The kernels of nn/mt_nn.h's list, each mt_cuda_<name>, under their names. */
#define CUDA_NN_ENTRY(name) cuda_nn.name = mt_cuda_##name;

static mt_backend cuda_backend;
static mt_nn_kernels cuda_nn;

const mt_backend *mt_cuda_backend(void) {
    if (ctx.ready == 0) {
        ctx_init();
        if (ctx.ready == 1) {
            cuda_backend.name = "cuda";
            cuda_backend.device = MT_CUDA;
            cuda_backend.alloc = cuda_alloc;
            cuda_backend.free = cuda_free;
            cuda_backend.upload = cuda_upload;
            cuda_backend.download = cuda_download;
            cuda_backend.synchronize = cuda_synchronize;
#define CUDA_OP(name) cuda_backend.name = mt_cuda_##name;
            MT_TENSOR_OPS(CUDA_OP)
#undef CUDA_OP
            MT_NN_KERNELS(CUDA_NN_ENTRY)
            cuda_backend.nn = &cuda_nn;
        }
    }
    if (ctx.ready != 1) {
        mt_fail(MT_ERR_DEVICE, "%s", ctx.why);
        return NULL;
    }
    return &cuda_backend;
}

mt_status mt_cuda_device_query(mt_cuda_info *info) {
    if (!mt_cuda_backend()) return MT_ERR_DEVICE;
    cudaDeviceProp p;
    MT_CUDA_CHECK(cudaGetDeviceProperties(&p, ctx.device));
    MT_CUDA_CHECK(cudaGetDeviceCount(&info->count));
    info->index = ctx.device;
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->major = p.major;
    info->minor = p.minor;
    info->multiprocessors = p.multiProcessorCount;
    MT_CUDA_CHECK(cudaMemGetInfo(&info->free_mem, &info->total_mem));
    MT_CUDA_CHECK(cudaRuntimeGetVersion(&info->runtime_version));
    MT_CUDA_CHECK(cudaDriverGetVersion(&info->driver_version));
    return MT_OK;
}
