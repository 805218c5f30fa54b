/*
 * mt_optim.h - optimisers over lists of parameter tensors.
 *
 * Each step walks a list of (parameter, gradient, state...) tensors of
 * matching shapes and runs the backend's per-tensor update. State buffers
 * (momentum, Adam's moments) are owned by the caller (the Lua optimiser
 * object) and must be zero-filled before the first step. Errors name the
 * list position: "sgd_step: parameter 3: shape mismatch: 10x3 and 3x10".
 */
#ifndef MT_OPTIM_H
#define MT_OPTIM_H

#include "core/mt_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SGD with momentum, Torch/TF semantics:
 *   g' = g + weight_decay p;  buf = momentum buf + (1 - dampening) g'  (buf = g' at step 1);
 *   p -= lr (nesterov ? g' + momentum buf : buf). */
typedef struct mt_sgd_args {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    int first; /* 1 on the first step: buf = g' */
} mt_sgd_args;

/* Adam (Kingma and Ba), with L2 weight decay added to the gradient:
 *   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), t = step >= 1. */
typedef struct mt_adam_args {
    float lr, beta1, beta2, eps, weight_decay;
    int64_t step;
} mt_adam_args;

/* One SGD step over n parameters; weight_decay (may be NULL) gives a decay per
 * parameter that replaces a->weight_decay. buf[i] holds the momentum state. */
mt_status mt_sgd_step(int n, mt_tensor *const *params, const mt_tensor *const *grads,
                      mt_tensor *const *bufs, const float *weight_decay, const mt_sgd_args *a);
/* One Adam step over n parameters (weight_decay as for SGD). */
mt_status mt_adam_step(int n, mt_tensor *const *params, const mt_tensor *const *grads,
                       mt_tensor *const *m, mt_tensor *const *v, const float *weight_decay,
                       const mt_adam_args *a);
/* L2 penalty over n tensors: *value = sum_i coef/2 ||p_i||^2, and grads[i] += coef p_i
 * (grads may be NULL: value only). */
mt_status mt_l2_penalty(int n, mt_tensor *const *params, mt_tensor *const *grads, float coef,
                        double *value);

#ifdef __cplusplus
}
#endif

#endif
