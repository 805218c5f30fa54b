/*
 * mt_cuda_libs.cuh - cuDNN and cuBLAS for the CUDA backend's layers, loaded when the first
 * layer runs on the GPU (dlopen), not linked: the program starts and runs on the CPU, and
 * the tensor kernels run on the GPU, on a machine without them, and a cuBLAS of either CUDA
 * 12 or 13 will do (a Python environment's nvidia-* wheels, say). Call them through the
 * tables: mt_dnn.cudnnConvolutionForward(...), mt_blas.cublasSgemm_v2(...), after
 * mt_cuda_cudnn / mt_cuda_cublas succeeded.
 */
#ifndef MT_CUDA_LIBS_CUH
#define MT_CUDA_LIBS_CUH

#include "mt_cuda_common.cuh"

#include <cublas_v2.h>
#include <cudnn.h>

/* The functions used, by name. */
#define MT_CUDNN_FUNCTIONS(X)                                                                      \
    X(cudnnGetErrorString) X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream)                        \
    X(cudnnCreateTensorDescriptor) X(cudnnSetTensor4dDescriptor) X(cudnnCreateFilterDescriptor)    \
    X(cudnnSetFilter4dDescriptor) X(cudnnCreateConvolutionDescriptor)                              \
    X(cudnnSetConvolution2dDescriptor) X(cudnnSetConvolutionMathType)                              \
    X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnGetConvolutionForwardWorkspaceSize)           \
    X(cudnnConvolutionForward) X(cudnnGetConvolutionBackwardDataAlgorithm_v7)                      \
    X(cudnnGetConvolutionBackwardDataWorkspaceSize) X(cudnnConvolutionBackwardData)                \
    X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                                               \
    X(cudnnGetConvolutionBackwardFilterWorkspaceSize) X(cudnnConvolutionBackwardFilter)
#define MT_CUBLAS_FUNCTIONS(X)                                                                     \
    X(cublasGetStatusString) X(cublasGetStatusName) X(cublasCreate_v2) X(cublasDestroy_v2)         \
    X(cublasSetStream_v2) X(cublasSetMathMode) X(cublasSgemm_v2)

#define MT_LIB_MEMBER(name) decltype(&::name) name;
struct mt_cudnn_table {
    MT_CUDNN_FUNCTIONS(MT_LIB_MEMBER)
};
struct mt_cublas_table {
    MT_CUBLAS_FUNCTIONS(MT_LIB_MEMBER)
};
#undef MT_LIB_MEMBER

extern mt_cudnn_table mt_dnn;
extern mt_cublas_table mt_blas;

/* The process's handles, made on first use (the library loaded then) and bound to the
 * backend's stream; an MT_ERR_CUDA message names the reason when the library cannot be
 * loaded ("cudnn: cannot load libcudnn.so.9 ...") or the handle cannot be made. */
mt_status mt_cuda_cudnn(cudnnHandle_t *out);
mt_status mt_cuda_cublas(cublasHandle_t *out);

#endif
