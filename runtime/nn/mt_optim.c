/* mt_optim.c - checked optimiser steps over parameter lists, dispatched per device. */
#include "nn/mt_optim.h"

#include "core/mt_ops.h"
#include "nn/mt_nn_call.h"

#include <stdio.h>

/* Checks one list entry: operands present, same shape, same device, contiguous. */
static mt_status check_entry(const char *op, int i, const mt_tensor *p, const mt_tensor *const *others,
                             int nothers) {
    char what[64];
    snprintf(what, sizeof what, "%s: parameter %d", op, i + 1);
    if (!p) return mt_fail(MT_ERR_ARG, "%s is missing", what);
    for (int k = 0; k < nothers; k++) {
        const mt_tensor *o = others[k];
        if (!o) return mt_fail(MT_ERR_ARG, "%s: a gradient or state tensor is missing", what);
        const mt_tensor *pair[2] = {p, o};
        MT_TRY(mt_check_same_device(what, 2, pair));
        MT_TRY(mt_check_same_shape(what, p, o));
        if (!mt_tensor_is_contiguous(o))
            return mt_fail(MT_ERR_ARG, "%s: state and gradient tensors must be contiguous", what);
    }
    if (!mt_tensor_is_contiguous(p))
        return mt_fail(MT_ERR_ARG, "%s: the parameter must be contiguous", what);
    return MT_OK;
}

mt_status mt_sgd_step(int n, mt_tensor *const *params, const mt_tensor *const *grads,
                      mt_tensor *const *bufs, const float *weight_decay, const mt_sgd_args *a) {
    static const char op[] = "sgd_step";
    if (!(a->lr >= 0.0f) || !(a->momentum >= 0.0f))
        return mt_fail(MT_ERR_ARG, "%s: learning rate %g and momentum %g must be >= 0", op, a->lr,
                       a->momentum);
    bool momentum = a->momentum > 0.0f;
    for (int i = 0; i < n; i++) {
        const mt_tensor *o[2] = {grads[i], bufs[i]};
        MT_TRY(check_entry(op, i, params[i], o, momentum ? 2 : 1));
    }
    mt_sgd_args ai = *a;
    for (int i = 0; i < n; i++) {
        const mt_nn_kernels *k;
        MT_NN_NEED(k, params[i], sgd_step);
        if (weight_decay) ai.weight_decay = weight_decay[i];
        if (mt_tensor_numel(params[i]) > 0)
            MT_TRY(k->sgd_step(params[i], grads[i], momentum ? bufs[i] : NULL, &ai));
    }
    return MT_OK;
}

mt_status mt_adam_step(int n, mt_tensor *const *params, const mt_tensor *const *grads,
                       mt_tensor *const *m, mt_tensor *const *v, const float *weight_decay,
                       const mt_adam_args *a) {
    static const char op[] = "adam_step";
    if (a->step < 1) return mt_fail(MT_ERR_ARG, "%s: step %lld must be >= 1", op, (long long)a->step);
    if (!(a->beta1 >= 0.0f && a->beta1 < 1.0f && a->beta2 >= 0.0f && a->beta2 < 1.0f))
        return mt_fail(MT_ERR_ARG, "%s: betas %g, %g must lie in [0, 1)", op, a->beta1, a->beta2);
    for (int i = 0; i < n; i++) {
        const mt_tensor *o[3] = {grads[i], m[i], v[i]};
        MT_TRY(check_entry(op, i, params[i], o, 3));
    }
    mt_adam_args ai = *a;
    for (int i = 0; i < n; i++) {
        const mt_nn_kernels *k;
        MT_NN_NEED(k, params[i], adam_step);
        if (weight_decay) ai.weight_decay = weight_decay[i];
        if (mt_tensor_numel(params[i]) > 0)
            MT_TRY(k->adam_step(params[i], grads[i], m[i], v[i], &ai));
    }
    return MT_OK;
}

mt_status mt_l2_penalty(int n, mt_tensor *const *params, mt_tensor *const *grads, float coef,
                        double *value) {
    static const char op[] = "l2_penalty";
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const mt_tensor *o[1] = {grads ? grads[i] : NULL};
        MT_TRY(check_entry(op, i, params[i], o, grads ? 1 : 0));
    }
    for (int i = 0; i < n; i++) {
        const mt_nn_kernels *k;
        MT_TRY(mt_nn_kernels_of(params[i], &k));
        /* named after the entry: the penalty needs both kernels */
        if (!k || !k->sum_squares || !k->axpy) return mt_nn_unsupported(op, params[i]);
        double ss = 0.0;
        MT_TRY(k->sum_squares(params[i], &ss));
        total += ss;
        if (grads && coef != 0.0f) MT_TRY(k->axpy(grads[i], coef, params[i]));
    }
    *value = 0.5 * (double)coef * total;
    return MT_OK;
}
