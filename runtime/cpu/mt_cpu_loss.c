/* mt_cpu_loss.c - the MTCNN multi-task loss on the CPU (docs/design.md, 'Losses and OHEM'):
 * classification cross-entropy on softmax probabilities with online hard example mining, box
 * and landmark squared errors under label masks, task weights, empty-set guards and accuracy. */
#include "cpu/mt_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The classification loss of one sample is -log(p_label + CLS_EPS), as the TF original. */
#define CLS_EPS 1e-10f

typedef struct ranked {
    float loss;
    int64_t index;
} ranked;

/* Larger losses first; equal losses by sample index, so the selection is deterministic. */
static int by_loss_desc(const void *pa, const void *pb) {
    const ranked *a = (const ranked *)pa, *b = (const ranked *)pb;
    if (a->loss > b->loss) return -1;
    if (a->loss < b->loss) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Squared-error task: samples where use[i] != 0 count. Returns the loss and writes the
 * gradient (scaled by weight) into g (NULL: not wanted). */
static double squared_task(const float *pred, const float *target, float *g, const char *use,
                           int64_t n, int64_t k, int element_mean, float weight, int64_t *count) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += use[i] != 0;
    *count = m;
    if (g) memset(g, 0, sizeof(float) * (size_t)(n * k));
    if (m == 0) return 0.0; /* empty set: contributes nothing, never NaN */
    double denom = element_mean ? (double)m * (double)k : (double)m;
    double sum = 0.0;
    float gscale = (float)(2.0 * weight / denom);
    for (int64_t i = 0; i < n; i++) {
        if (!use[i]) continue;
        for (int64_t j = 0; j < k; j++) {
            float d = pred[i * k + j] - target[i * k + j];
            sum += (double)d * (double)d;
            if (g) g[i * k + j] = gscale * d;
        }
    }
    return sum / denom;
}

mt_status mt_cpu_mtcnn_loss(mt_mtcnn_loss_args *a) {
    const int64_t n = a->label->shape[0];
    const float *label = mt_tensor_data(a->label);
    const float *p = mt_tensor_data(a->cls);
    /* per-sample bookkeeping: task masks and the ranking buffer */
    size_t need = sizeof(ranked) * (size_t)n + 3 * (size_t)n;
    unsigned char *mem = (unsigned char *)mt_cpu_scratch(0, need);
    if (!mem) return MT_ERR_OOM;
    ranked *rank = (ranked *)mem;
    char *use_cls = (char *)(mem + sizeof(ranked) * (size_t)n);
    char *use_box = use_cls + n, *use_lmk = use_box + n;

    for (int64_t i = 0; i < n; i++) {
        float l = label[i];
        int is_pos = l == 1.0f, is_neg = l == 0.0f;
        if (!a->masked) {
            if (!is_pos && !is_neg)
                return mt_fail(MT_ERR_ARG, "mtcnn_loss: unmasked loss needs labels 0 or 1, "
                                           "sample %lld has %g", (long long)i + 1, l);
            use_cls[i] = use_box[i] = use_lmk[i] = 1;
            continue;
        }
        if (!is_pos && !is_neg && l != -1.0f && l != -2.0f)
            return mt_fail(MT_ERR_ARG, "mtcnn_loss: sample %lld has label %g (expected 1 positive, "
                                       "0 negative, -1 part, -2 landmark)", (long long)i + 1, l);
        use_cls[i] = is_pos || is_neg;
        use_box[i] = is_pos || l == -1.0f;
        use_lmk[i] = l == -2.0f;
    }

    /* classification with OHEM */
    int64_t nv = 0, correct = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!use_cls[i]) continue;
        int y = label[i] == 1.0f;
        float py = p[2 * i + y];
        rank[nv].loss = -logf(py + CLS_EPS);
        rank[nv].index = i;
        nv++;
        int pred = p[2 * i + 1] > p[2 * i]; /* argmax, ties to class 0 */
        correct += pred == y;
    }
    /* k = floor(ratio * #valid) computed in float, as the TF original */
    int64_t keep = (int64_t)((float)nv * a->ohem_ratio);
    if (keep > nv) keep = nv;
    if (keep < nv) qsort(rank, (size_t)nv, sizeof(ranked), by_loss_desc);
    double cls_sum = 0.0;
    for (int64_t r = 0; r < keep; r++) cls_sum += rank[r].loss;
    a->cls_loss = keep > 0 ? cls_sum / (double)keep : 0.0;
    if (a->dcls) {
        float *g = mt_tensor_data(a->dcls);
        memset(g, 0, sizeof(float) * (size_t)(2 * n));
        for (int64_t r = 0; r < keep; r++) {
            int64_t i = rank[r].index;
            int y = label[i] == 1.0f;
            g[2 * i + y] = (float)(-(double)a->w_cls / ((double)keep * (p[2 * i + y] + CLS_EPS)));
        }
    }
    a->n_cls = nv;
    a->n_kept = keep;
    a->n_correct = correct;
    a->accuracy = nv > 0 ? (double)correct / (double)nv : NAN;

    /* box and landmark regression */
    a->box_loss = a->lmk_loss = 0.0;
    a->n_box = a->n_lmk = 0;
    if (a->box)
        a->box_loss = squared_task(mt_tensor_data(a->box), mt_tensor_data(a->box_target),
                                   a->dbox ? mt_tensor_data(a->dbox) : NULL, use_box, n, 4,
                                   a->element_mean, a->w_box, &a->n_box);
    if (a->lmk)
        a->lmk_loss = squared_task(mt_tensor_data(a->lmk), mt_tensor_data(a->lmk_target),
                                   a->dlmk ? mt_tensor_data(a->dlmk) : NULL, use_lmk, n, 10,
                                   a->element_mean, a->w_lmk, &a->n_lmk);
    a->loss = (double)a->w_cls * a->cls_loss + (double)a->w_box * a->box_loss +
              (double)a->w_lmk * a->lmk_loss;
    return MT_OK;
}
