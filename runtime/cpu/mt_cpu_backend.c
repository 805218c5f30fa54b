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

/* Every kernel of the list, each mt_cpu_<name>. */
static const mt_nn_kernels cpu_nn = {
#define CPU_KERNEL(name) .name = mt_cpu_##name,
    MT_NN_KERNELS(CPU_KERNEL)
#undef CPU_KERNEL
};

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
    .nn = &cpu_nn,
};

const mt_backend *mt_cpu_backend(void) { return &cpu_backend; }
