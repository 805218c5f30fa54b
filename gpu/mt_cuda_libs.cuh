/*
 * mt_cuda_libs.cuh - the cuDNN and cuBLAS handles of the CUDA backend, for the files that call
 * those libraries (the others include only mt_cuda_common.cuh).
 */
#ifndef MT_CUDA_LIBS_CUH
#define MT_CUDA_LIBS_CUH

#include "mt_cuda_common.cuh"

#include <cublas_v2.h>
#include <cudnn.h>

/* The process's handles, made on first use and bound to the backend's stream; an
 * MT_ERR_CUDA message names the library's reason when one cannot be made (a missing or
 * mismatched libcudnn, say). */
mt_status mt_cuda_cudnn(cudnnHandle_t *out);
mt_status mt_cuda_cublas(cublasHandle_t *out);

#endif
