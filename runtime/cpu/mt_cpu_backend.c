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

/* The kernels of the lists (mt_backend.h, mt_nn.h), each mt_cpu_<name>, under their names. */
#define CPU_ENTRY(name) .name = mt_cpu_##name,

static const mt_nn_kernels cpu_nn = {MT_NN_KERNELS(CPU_ENTRY)};

static const mt_backend cpu_backend = {
    .name = "cpu",
    .device = MT_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .synchronize = cpu_synchronize,
    MT_TENSOR_OPS(CPU_ENTRY)
    .nn = &cpu_nn,
};

const mt_backend *mt_cpu_backend(void) { return &cpu_backend; }
