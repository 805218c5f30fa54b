/*
 * mt_cuda_libs.cu - what the layer kernels share: cuDNN and cuBLAS (loaded on first use),
 * their handles and error messages, the device scratch buffers, and the TF32 switch.
 */
#include "mt_cuda_libs.cuh"

#include "core/mt_alloc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mt_cudnn_table mt_dnn;
mt_cublas_table mt_blas;

static const char *base_name(const char *file) {
    const char *b = strrchr(file, '/');
    return b ? b + 1 : file;
}

mt_status mt_cudnn_fail(int status, const char *call, const char *file, int line) {
    const char *what = mt_dnn.cudnnGetErrorString
                           ? mt_dnn.cudnnGetErrorString((cudnnStatus_t)status) : "error";
    return mt_fail(MT_ERR_CUDA, "cudnn: %s (status %d) in %s at %s:%d", what, status, call,
                   base_name(file), line);
}

mt_status mt_cublas_fail(int status, const char *call, const char *file, int line) {
    const char *what = mt_blas.cublasGetStatusString
                           ? mt_blas.cublasGetStatusString((cublasStatus_t)status) : "error";
    return mt_fail(MT_ERR_CUDA, "cublas: %s (status %d) in %s at %s:%d", what, status, call,
                   base_name(file), line);
}

/* ---- loading the libraries ----------------------------------------------------------------- */

/* Opens the first of names that loads (the loader's search: LD_LIBRARY_PATH, the program's
 * run path, the system's cache); NULL with a message naming them all and the first reason. */
static void *open_first(const char *lib, const char *const *names, int count, const char *need) {
    char tried[256] = "";
    char first[512] = "";
    for (int i = 0; i < count; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
        const char *e = dlerror();
        if (!first[0]) snprintf(first, sizeof first, "%s", e ? e : "not found");
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", names[i]);
    }
    mt_fail(MT_ERR_CUDA, "%s: cannot load %s (%s): %s; put the folder that holds it on "
                         "LD_LIBRARY_PATH", lib, tried, first, need);
    return NULL;
}

/* Opens the library (the first of names that loads) and fills table from its symbols; fails
 * naming the first symbol missing. */
#define MT_LIB_RESOLVE(name)                                                                       \
    if (st == MT_OK) {                                                                             \
        tab.name = (decltype(tab.name))dlsym(h, #name);                                            \
        if (!tab.name) st = mt_fail(MT_ERR_CUDA, "%s: %s lacks %s", lib_, names[0], #name);       \
    }
#define MT_LIB_LOAD(table, list, lib, names, count, need)                                          \
    do {                                                                                           \
        const char *lib_ = lib;                                                                    \
        void *h = open_first(lib_, names, count, need);                                            \
        if (!h) return MT_ERR_CUDA;                                                                \
        decltype(table) tab;                                                                       \
        mt_status st = MT_OK;                                                                      \
        list(MT_LIB_RESOLVE)                                                                       \
        if (st != MT_OK) {                                                                         \
            dlclose(h);                                                                            \
            return st;                                                                             \
        }                                                                                          \
        table = tab;                                                                               \
    } while (0)

static int dnn_state; /* 0 not tried, 1 loaded, -1 failed (the message kept) */
static int blas_state;
static char dnn_why[640], blas_why[640];

static mt_status load_cudnn(void) {
    static const char *const names[] = {"libcudnn.so.9", "libcudnn.so"};
    MT_LIB_LOAD(mt_dnn, MT_CUDNN_FUNCTIONS, "cudnn", names, 2,
                "the convolutions on cuda need cuDNN 9");
    return MT_OK;
}

static mt_status load_cublas(void) {
    /* this build's CUDA major first, then the others cuBLAS keeps its API for */
    char own[32];
    snprintf(own, sizeof own, "libcublas.so.%d", CUDART_VERSION / 1000);
    const char *const names[] = {own, "libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    MT_LIB_LOAD(mt_blas, MT_CUBLAS_FUNCTIONS, "cublas", names, 4,
                "the fully connected layers on cuda need cuBLAS");
    return MT_OK;
}

/* Loads a library once; a failure is remembered and repeated with its message. */
static mt_status load_once(int *state, char *why, size_t n, mt_status (*load)(void)) {
    if (*state == 0) {
        if (load() == MT_OK) {
            *state = 1;
        } else {
            snprintf(why, n, "%s", mt_last_error());
            *state = -1;
        }
    }
    if (*state < 0) return mt_fail(MT_ERR_CUDA, "%s", why);
    return MT_OK;
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
        MT_TRY(load_once(&dnn_state, dnn_why, sizeof dnn_why, load_cudnn));
        cudnnHandle_t h;
        MT_CUDNN_CHECK(mt_dnn.cudnnCreate(&h));
        cudnnStatus_t st = mt_dnn.cudnnSetStream(h, mt_cuda_stream());
        if (st != CUDNN_STATUS_SUCCESS) {
            mt_dnn.cudnnDestroy(h);
            MT_CUDNN_CHECK(st);
        }
        cudnn_handle = h;
    }
    *out = cudnn_handle;
    return MT_OK;
}

mt_status mt_cuda_cublas(cublasHandle_t *out) {
    if (!cublas_handle) {
        MT_TRY(load_once(&blas_state, blas_why, sizeof blas_why, load_cublas));
        cublasHandle_t h;
        MT_CUBLAS_CHECK(mt_blas.cublasCreate_v2(&h));
        cublasStatus_t st = mt_blas.cublasSetStream_v2(h, mt_cuda_stream());
        if (st == CUBLAS_STATUS_SUCCESS)
            st = mt_blas.cublasSetMathMode(h, mt_cuda_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                             : CUBLAS_DEFAULT_MATH);
        if (st != CUBLAS_STATUS_SUCCESS) {
            mt_blas.cublasDestroy_v2(h);
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
