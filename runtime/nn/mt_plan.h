/*
 * mt_plan.h - evaluate-mode runs of a feed-forward net on the CPU, driven from C: a trunk of
 * layers followed by output heads (the shape of the MTCNN nets), compiled once from the nn
 * modules (lua/mtcnn/nn/Plan.lua) and run with no per-layer round trip through Lua.
 *
 * Why: run from Lua, every layer is one parallel region over the whole batch: the threads
 * meet at a barrier after each layer, and small layers (PNet's upper pyramid levels, the FC
 * heads) cost more in synchronisation than in arithmetic. A plan instead gives each thread
 * whole units of work: one part of the batch each (each thread runs the whole net on its
 * samples), or, for several inputs (the PNet pyramid), whole inputs as tasks. Kernels called
 * inside a task run on that task's thread (the pool runs nested parallel calls serially).
 *
 * Layers: convolution (+ bias, + PReLU, + max pooling, fused as in evaluate mode), fully
 * connected (+ bias, + PReLU), softmax over channels. The plan retains the tensors it is
 * given (weights are read at each run: updates in place are seen; the shapes are checked
 * when layers are added). Intermediate activations live in per-thread buffers owned by the
 * plan, grown as needed and reused: a warm run allocates nothing.
 *
 * Errors: a failure inside a task is reported by mt_plan_run with the failing layer's message
 * ("plan: layer 3 (conv): ...").
 */
#ifndef MT_PLAN_H
#define MT_PLAN_H

#include "nn/mt_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_plan mt_plan;

/* A new plan with nheads output heads (1 .. MT_PLAN_MAX_HEADS) and no layers. */
#define MT_PLAN_MAX_HEADS 8
mt_status mt_plan_new(mt_plan **out, int nheads);
void mt_plan_free(mt_plan *p); /* NULL is ignored */
int mt_plan_heads(const mt_plan *p);

/* Appends a layer to the trunk (head -1) or to head h (0-based). Tensors must be CPU
 * tensors; b, prelu and pool may be NULL. conv: w [Cout, Cin, kh, kw]; linear: w [out, in]
 * (the input is flattened per sample). */
mt_status mt_plan_add_conv(mt_plan *p, int head, const mt_tensor *w, const mt_tensor *b,
                           const mt_tensor *prelu, const mt_conv2d_desc *d,
                           const mt_pool2d_desc *pool);
mt_status mt_plan_add_linear(mt_plan *p, int head, const mt_tensor *w, const mt_tensor *b,
                             const mt_tensor *prelu);
mt_status mt_plan_add_softmax(mt_plan *p, int head);

/* Runs the plan on n inputs x[i] ([N, C, H, W] CPU tensors); the output of head h for input
 * i goes to out[i * nheads + h] (resized). One input: its batch is split into parts, one or
 * more per thread; several inputs: one task each, largest first. Results do not depend on
 * the thread count. */
mt_status mt_plan_run(mt_plan *p, int n, const mt_tensor *const *x, mt_tensor *const *out);

#ifdef __cplusplus
}
#endif

#endif
