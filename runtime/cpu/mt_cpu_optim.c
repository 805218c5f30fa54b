/* mt_cpu_optim.c - per-tensor optimiser updates and helpers on the CPU. */
#include "cpu/mt_cpu.h"

#include <math.h>

mt_status mt_cpu_sgd_step(const mt_tensor *p, const mt_tensor *g, const mt_tensor *buf,
                          const mt_sgd_args *a) {
    int64_t n = mt_tensor_numel(p);
    float *w = mt_tensor_data(p);
    const float *gr = mt_tensor_data(g);
    const float lr = a->lr, mom = a->momentum, wd = a->weight_decay;
    if (!buf) {
        for (int64_t i = 0; i < n; i++) w[i] -= lr * (gr[i] + wd * w[i]);
        return MT_OK;
    }
    float *b = mt_tensor_data(buf);
    const float damp = a->first ? 0.0f : a->dampening;
    const float keep = a->first ? 0.0f : mom;
    for (int64_t i = 0; i < n; i++) {
        float gi = gr[i] + wd * w[i];
        float bi = keep * b[i] + (1.0f - damp) * gi;
        b[i] = bi;
        w[i] -= lr * (a->nesterov ? gi + mom * bi : bi);
    }
    return MT_OK;
}

mt_status mt_cpu_adam_step(const mt_tensor *p, const mt_tensor *g, const mt_tensor *m,
                           const mt_tensor *v, const mt_adam_args *a) {
    int64_t n = mt_tensor_numel(p);
    float *w = mt_tensor_data(p), *mm = mt_tensor_data(m), *vv = mt_tensor_data(v);
    const float *gr = mt_tensor_data(g);
    const float b1 = a->beta1, b2 = a->beta2, wd = a->weight_decay, eps = a->eps;
    const double c1 = 1.0 - pow((double)b1, (double)a->step);
    const double c2 = 1.0 - pow((double)b2, (double)a->step);
    const float step = (float)((double)a->lr / c1);
    const float inv_c2 = (float)(1.0 / c2);
    for (int64_t i = 0; i < n; i++) {
        float gi = gr[i] + wd * w[i];
        mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
        vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * mm[i] / (sqrtf(vv[i] * inv_c2) + eps);
    }
    return MT_OK;
}

mt_status mt_cpu_sum_squares(const mt_tensor *t, double *out) {
    int64_t n = mt_tensor_numel(t);
    const float *x = mt_tensor_data(t);
    /* eight independent double accumulators: a fixed order that the compiler vectorises */
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += (double)x[i + l] * (double)x[i + l];
    double s = 0.0;
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    for (int l = 0; l < 8; l++) s += lane[l];
    *out = s;
    return MT_OK;
}

mt_status mt_cpu_axpy(const mt_tensor *y, float alpha, const mt_tensor *x) {
    int64_t n = mt_tensor_numel(y);
    float *yy = mt_tensor_data(y);
    const float *xx = mt_tensor_data(x);
    for (int64_t i = 0; i < n; i++) yy[i] += alpha * xx[i];
    return MT_OK;
}
