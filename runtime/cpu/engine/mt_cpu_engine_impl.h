/*
 * mt_cpu_engine_impl.h - the driver of the GEMM engine (see mt_cpu_engine.h for the maths),
 * included once by each engine file (mt_cpu_engine_avx512.c, _avx2.c, _generic.c) after
 * that file has defined its sizes and its vector primitives:
 *   ENGINE_NR       columns of a broadcast micro-tile (floats: two vectors)
 *   ENGINE_MR_MAX   rows of a broadcast micro-tile, at most
 *   ENGINE_VEC      floats per vector
 *   ENGINE_DOT_MR, ENGINE_DOT_NR   the dot micro-tile
 *   the primitives and capability flags that mt_cpu_engine_kernels.h lists
 * The driver's parts, each building on those before it:
 *   mt_cpu_engine_kernels.h    the micro-kernels and vector loops, over the primitives
 *   mt_cpu_engine_blocking.h   row blocks; ranges of work for the threads
 *   mt_cpu_engine_pack.h       packing: A row blocks, B panels, im2col and col2im
 *   mt_cpu_engine_fc.h         fully connected layers
 *   mt_cpu_engine_wide.h       the direct path of stride-1 convolutions on large maps
 *   mt_cpu_engine_lanes.h      backward passes of small maps, one sample per lane
 *   mt_cpu_engine_block.h      conv + bias + PReLU + pooling in bands (and Winograd,
 *                              mt_cpu_engine_winograd.h)
 *   mt_cpu_engine_conv.h       convolution forward and input gradient
 *   mt_cpu_engine_wgrad.h      convolution parameter gradients
 * Everything is static: each including file exports only its mt_engine table (ENGINE_TABLE),
 * so the same loops are compiled (and vectorised) once per instruction set.
 */

#include <string.h>

#include "core/mt_threads.h"
#include "cpu/mt_cpu.h"
#include "cpu/mt_cpu_prelu.h"

#include "cpu/engine/mt_cpu_engine_kernels.h"
#include "cpu/engine/mt_cpu_engine_blocking.h"
#include "cpu/engine/mt_cpu_engine_pack.h"
#include "cpu/engine/mt_cpu_engine_fc.h"
#include "cpu/engine/mt_cpu_engine_wide.h"
#include "cpu/engine/mt_cpu_engine_lanes.h"
#include "cpu/engine/mt_cpu_engine_block.h"
#include "cpu/engine/mt_cpu_engine_conv.h"
#include "cpu/engine/mt_cpu_engine_wgrad.h"

#define ENGINE_TABLE(label)                                                                        \
    {                                                                                              \
        .name = label, .nr = ENGINE_NR, .mr_max = ENGINE_MR_MAX,                                   \
        .conv_forward = engine_conv_forward, .conv_backward_input = engine_conv_backward_input,    \
        .conv_backward_params = engine_conv_backward_params,                                       \
        .linear_forward = engine_linear_forward,                                                   \
        .linear_backward_input = engine_linear_backward_input,                                     \
        .linear_backward_params = engine_linear_backward_params,                                   \
        .conv_pool_forward = engine_conv_pool_forward,                                             \
        .conv_backward = engine_conv_backward,                                                     \
        .conv_backward_pooled_ok = engine_conv_backward_pooled_ok,                                 \
        .conv_backward_params_pooled = engine_conv_backward_params_pooled,                         \
    }
