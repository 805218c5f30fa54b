/* mt_cpu.h - the kernels behind the CPU backend's table (mt_cpu_backend.c). */
#ifndef MT_CPU_H
#define MT_CPU_H

#include "../mt_backend.h"

mt_status mt_cpu_copy(const mt_tensor *dst, const mt_tensor *src);
mt_status mt_cpu_fill(const mt_tensor *dst, float value);
mt_status mt_cpu_unary(mt_unary_op op, const mt_tensor *dst, const mt_tensor *src);
mt_status mt_cpu_binary(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a,
                        const mt_tensor *b);
mt_status mt_cpu_binary_scalar(mt_binary_op op, const mt_tensor *dst, const mt_tensor *a, float s);
mt_status mt_cpu_reduce_all(mt_reduce_op op, const mt_tensor *src, double *value, int64_t *index);
mt_status mt_cpu_reduce_dim(mt_reduce_op op, const mt_tensor *values, const mt_tensor *index,
                            const mt_tensor *src, int dim);

#endif
