/* mt_cpu.h - the kernels behind the CPU backend's table (mt_cpu_backend.c). */
#ifndef MT_CPU_H
#define MT_CPU_H

#include "core/mt_backend.h"
#include "nn/mt_nn.h"
#include "nn/mt_optim.h"

/* ---- tensors -------------------------------------------------------------------------------
 * mt_cpu_<name> for every op of core/mt_backend.h's MT_TENSOR_OPS, of the type of its field
 * (mt_cpu_elementwise.c, mt_cpu_reduce.c). */
#define MT_CPU_OP(name) __typeof__(*((mt_backend *)0)->name) mt_cpu_##name;
MT_TENSOR_OPS(MT_CPU_OP)
#undef MT_CPU_OP

/* ---- kernel selection (mt_cpu_kernels.c) ---------------------------------------------------- */
typedef enum mt_cpu_kernel_set {
    MT_KERNELS_REF = 0, /* plain loops: the reference */
    MT_KERNELS_BLAS,    /* im2col + OpenBLAS sgemm */
    MT_KERNELS_GENERIC, /* the GEMM engine with portable C micro-kernels */
    MT_KERNELS_AVX2,    /* the GEMM engine with AVX2 + FMA micro-kernels */
    MT_KERNELS_AVX512   /* the GEMM engine with AVX-512 micro-kernels */
} mt_cpu_kernel_set;
/* The set in use (MTCNN_KERNELS or mt_cpu_set_kernels; default: the best one). */
mt_cpu_kernel_set mt_cpu_kernel_set_current(void);
/* Whether this CPU runs AVX2 + FMA, and AVX-512 (F, BW, DQ, VL). */
int mt_cpu_has_avx2(void);
int mt_cpu_has_avx512(void);

/* ---- per-thread scratch (mt_cpu_scratch.c) -------------------------------------------------- */
/* A 64-byte aligned buffer of at least nbytes owned by the calling thread, one per
 * slot (0 .. MT_SCRATCH_SLOTS-1); grown when too small, never shrunk, so a warm
 * training step allocates nothing. NULL with an MT_ERR_OOM message on failure. The
 * contents survive until the next call with the same slot on the same thread. */
#define MT_SCRATCH_SLOTS 12
void *mt_cpu_scratch(int slot, size_t nbytes);

/* ---- layers, losses, optimisers ------------------------------------------------------------
 * mt_cpu_<name> for every kernel of nn/mt_nn.h's MT_NN_KERNELS, of the type of its field
 * (convolutions and fully connected layers in conv/mt_cpu_conv.c, PReLU and softmax in
 * mt_cpu_act.c, pooling in mt_cpu_pool.c, the loss in mt_cpu_loss.c, optimisers in
 * mt_cpu_optim.c); mt_cpu_backend.c enters them all in the table. */
#define MT_CPU_KERNEL(name) __typeof__(*((mt_nn_kernels *)0)->name) mt_cpu_##name;
MT_NN_KERNELS(MT_CPU_KERNEL)
#undef MT_CPU_KERNEL

/* ---- forward passes on contiguous arrays (mt_cpu_conv.c, mt_cpu_pool.c, mt_cpu_act.c) -------
 * The same kernels as the tensor entries (kernel set included), for callers that hold raw
 * arrays (mt_cpu_plan.c). Geometry types come from mt_cpu_conv.h. */
struct mt_conv_geom;
mt_status mt_cpu_conv_forward_raw(const struct mt_conv_geom *g, const float *x, const float *w,
                                  const float *b, const float *prelu, float *y);
/* conv + bias + PReLU + max pooling into y [n, cout, ph, pw] */
mt_status mt_cpu_conv_pool_forward_raw(const struct mt_conv_geom *g, const mt_pool2d_desc *pd,
                                       int64_t ph, int64_t pw, const float *x, const float *w,
                                       const float *b, const float *prelu, float *y);
mt_status mt_cpu_linear_forward_raw(int64_t n, int64_t in, int64_t out, const float *x,
                                    const float *w, const float *b, const float *prelu,
                                    float *y);
/* planes of h x w into planes of ph x pw (one thread) */
void mt_cpu_maxpool_forward_raw(const float *x, int64_t planes, int64_t h, int64_t w,
                                const mt_pool2d_desc *pd, int64_t ph, int64_t pw, float *y);
/* softmax over c channels of n samples of hw positions; y may be x (one thread) */
void mt_cpu_softmax_forward_raw(const float *x, int64_t n, int64_t c, int64_t hw, float *y);

/* ---- shared pieces of the layer kernels ------------------------------------------------------ */
/* In-place bias + PReLU over rows: row r of `rows` rows of n values gets b[ch(r)] added and
 * then PReLU with a[ch(r)], where ch(r) = r % channels (b, a may be NULL). */
void mt_cpu_bias_prelu_rows(float *y, int64_t rows, int64_t n, int64_t channels, const float *b,
                            const float *a);

#endif
