/* mt_cpu_kernels.c - which CPU kernels the layers run: reference loops, OpenBLAS, or the
 * project's GEMM engine with portable, AVX2 or AVX-512 micro-kernels, picked at run time. */
#include "cpu/mt_cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const set_names[] = {"ref", "blas", "generic", "avx2", "avx512"};

int mt_cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int mt_cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static mt_cpu_kernel_set best_set(void) {
    if (mt_cpu_has_avx512()) return MT_KERNELS_AVX512;
    if (mt_cpu_has_avx2()) return MT_KERNELS_AVX2;
    return MT_KERNELS_GENERIC;
}

static int current = -1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Parses a name; -1 when unknown, -2 when the CPU cannot run it. */
static int parse_set(const char *name) {
    if (strcmp(name, "auto") == 0) return (int)best_set();
    for (int i = 0; i < (int)(sizeof set_names / sizeof set_names[0]); i++) {
        if (strcmp(name, set_names[i]) != 0) continue;
        if (i == MT_KERNELS_AVX512 && !mt_cpu_has_avx512()) return -2;
        if (i == MT_KERNELS_AVX2 && !mt_cpu_has_avx2()) return -2;
        return i;
    }
    return -1;
}

static void init_set(void) {
    const char *env = getenv("MTCNN_KERNELS");
    int s = env && *env ? parse_set(env) : -1;
    __atomic_store_n(&current, s >= 0 ? s : (int)best_set(), __ATOMIC_RELEASE);
}

mt_cpu_kernel_set mt_cpu_kernel_set_current(void) {
    pthread_once(&init_once, init_set);
    return (mt_cpu_kernel_set)__atomic_load_n(&current, __ATOMIC_ACQUIRE);
}

mt_status mt_cpu_set_kernels(const char *name) {
    pthread_once(&init_once, init_set);
    int s = parse_set(name);
    if (s == -1)
        return mt_fail(MT_ERR_ARG, "kernels: unknown kernel set '%s' (ref, blas, generic, avx2, "
                                   "avx512 or auto)", name);
    if (s == -2)
        return mt_fail(MT_ERR_UNSUPPORTED, "kernels: this CPU cannot run the %s kernels", name);
    __atomic_store_n(&current, s, __ATOMIC_RELEASE);
    return MT_OK;
}

const char *mt_cpu_kernels(void) { return set_names[mt_cpu_kernel_set_current()]; }
