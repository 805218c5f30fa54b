/* mt_cpu_backend.c - the CPU backend's table: host memory and its kernels. */
#include "cpu/mt_cpu.h"

#include "core/mt_alloc.h"

#include <string.h>

static mt_status cpu_alloc(size_t nbytes, void **out) {
    *out = mt_host_alloc(nbytes, "tensor");
    return *out ? MT_OK : MT_ERR_OOM;
}

static void cpu_free(void *p, size_t nbytes) { mt_host_free(p, nbytes); }

static mt_status cpu_memcpy(void *dst, const void *src, size_t nbytes) {
    if (nbytes) memcpy(dst, src, nbytes);
    return MT_OK;
}

static mt_status cpu_synchronize(void) { return MT_OK; }

static const mt_backend cpu_backend = {
    .name = "cpu",
    .device = MT_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .synchronize = cpu_synchronize,
    .copy = mt_cpu_copy,
    .fill = mt_cpu_fill,
    .unary = mt_cpu_unary,
    .binary = mt_cpu_binary,
    .binary_scalar = mt_cpu_binary_scalar,
    .reduce_all = mt_cpu_reduce_all,
    .reduce_dim = mt_cpu_reduce_dim,
    .conv2d_forward = mt_cpu_conv2d_forward,
    .conv2d_pool_forward = mt_cpu_conv2d_pool_forward,
    .conv2d_backward_input = mt_cpu_conv2d_backward_input,
    .conv2d_backward_params = mt_cpu_conv2d_backward_params,
    .conv2d_backward = mt_cpu_conv2d_backward,
    .linear_forward = mt_cpu_linear_forward,
    .linear_backward_input = mt_cpu_linear_backward_input,
    .linear_backward_params = mt_cpu_linear_backward_params,
    .prelu_forward = mt_cpu_prelu_forward,
    .prelu_backward = mt_cpu_prelu_backward,
    .maxpool2d_forward = mt_cpu_maxpool2d_forward,
    .maxpool2d_backward = mt_cpu_maxpool2d_backward,
    .prelu_pool_forward = mt_cpu_prelu_pool_forward,
    .prelu_pool_backward = mt_cpu_prelu_pool_backward,
    .conv2d_prelu_pool_backward_params = mt_cpu_conv2d_prelu_pool_backward_params,
    .softmax_forward = mt_cpu_softmax_forward,
    .softmax_backward = mt_cpu_softmax_backward,
    .mtcnn_loss = mt_cpu_mtcnn_loss,
    .sgd_step = mt_cpu_sgd_step,
    .adam_step = mt_cpu_adam_step,
    .sum_squares = mt_cpu_sum_squares,
    .axpy = mt_cpu_axpy,
};

const mt_backend *mt_cpu_backend(void) { return &cpu_backend; }
