/*
 * mt_nn_call.h - finding a device's NN kernel, for the checked entry points of nn/ (mt_nn.c,
 * mt_optim.c); internal to this folder.
 *
 * A kernel is named from its table field (MT_NN_NEED(k, t, conv2d_forward)), so that the
 * "not supported" message and the field cannot drift apart.
 */
#ifndef MT_NN_CALL_H
#define MT_NN_CALL_H

#include "nn/mt_nn.h"

/* The NN kernels of t's device into *k (NULL: its backend has none); MT_ERR_DEVICE with the
 * registry's message when the device has no backend. */
static inline mt_status mt_nn_kernels_of(const mt_tensor *t, const mt_nn_kernels **k) {
    const mt_backend *be = mt_backend_for(mt_tensor_device(t));
    if (!be) return MT_ERR_DEVICE;
    *k = be->nn;
    return MT_OK;
}

/* "<what>: not supported on <t's device>". */
static inline mt_status mt_nn_unsupported(const char *what, const mt_tensor *t) {
    return mt_fail(MT_ERR_UNSUPPORTED, "%s: not supported on %s", what,
                   mt_device_name(mt_tensor_device(t)));
}

/* Sets k to the kernels of t's device, or returns from the caller with an error: the
 * device's, or "<field>: not supported on <device>" when its table lacks the field. */
#define MT_NN_NEED(k, t, field)                                                                    \
    do {                                                                                           \
        MT_TRY(mt_nn_kernels_of((t), &(k)));                                                       \
        if (!(k) || !(k)->field) return mt_nn_unsupported(#field, (t));                            \
    } while (0)

#endif
