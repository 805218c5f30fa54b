/*
 * mt_cuda_loss.cu - the MTCNN multi-task loss on the GPU (docs/design.md, 'Losses and OHEM'),
 * with the CPU's rules (runtime/cpu/mt_cpu_loss.c): classification cross-entropy on softmax
 * probabilities, online hard example mining, box and landmark squared errors under label
 * masks, task weights, empty-set guards and accuracy.
 *
 * Everything stays on the device but the few numbers of the result: per-sample losses and
 * masks (one thread per sample), each kept loss's rank among the valid ones (larger losses
 * first, ties by index: the CPU's sort order, so OHEM keeps the same samples), the sums in
 * one block (double, fixed order), then the gradients from those sums. The host reads back
 * one small struct: the values, the counts, and the first bad label if any.
 */
#include "mt_cuda_common.cuh"

#include <math.h>

#define CLS_EPS 1e-10f

/* Per-sample flags. */
enum { USE_CLS = 1, USE_BOX = 2, USE_LMK = 4, CORRECT = 8, BAD = 16 };

struct loss_sums {
    double cls, box, lmk;
    long long nv, keep, correct, nbox, nlmk;
    long long bad;    /* the first sample with a bad label, or -1 */
    float bad_label;
};

struct loss_in {
    const float *p, *label, *box, *box_t, *lmk, *lmk_t;
    float *dcls, *dbox, *dlmk;
    long long n;
    float w_cls, w_box, w_lmk, ratio;
    int masked, element_mean;
};

/* Per sample: its masks and, for a classification sample, -log(p_label + eps). */
__global__ void loss_samples(loss_in a, float *loss, unsigned char *flags) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < a.n;
         i += (long long)blockDim.x * gridDim.x) {
        float l = a.label[i];
        int pos = l == 1.0f, neg = l == 0.0f;
        unsigned char f;
        if (!a.masked) f = pos || neg ? USE_CLS | USE_BOX | USE_LMK : BAD;
        else if (!pos && !neg && l != -1.0f && l != -2.0f) f = BAD;
        else f = (pos || neg ? USE_CLS : 0) | (pos || l == -1.0f ? USE_BOX : 0) |
                 (l == -2.0f ? USE_LMK : 0);
        float li = 0.0f;
        if (f & USE_CLS) {
            int y = pos;
            li = -logf(a.p[2 * i + y] + CLS_EPS);
            if ((a.p[2 * i + 1] > a.p[2 * i]) == y) f |= CORRECT;
        }
        loss[i] = li;
        flags[i] = f;
    }
}

/* Per classification sample: its rank among them, larger losses first, ties by index. */
__global__ void loss_ranks(const float *loss, const unsigned char *flags, long long n,
                           long long *rank) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        if (!(flags[i] & USE_CLS)) {
            rank[i] = -1;
            continue;
        }
        const float li = loss[i];
        long long r = 0;
        for (long long j = 0; j < n; j++)
            if ((flags[j] & USE_CLS) && (loss[j] > li || (loss[j] == li && j < i))) r++;
        rank[i] = r;
    }
}

#define SUM_THREADS 512

template <class V>
__device__ V block_sum(V v, V *red) {
    red[threadIdx.x] = v;
    __syncthreads();
    for (int k = SUM_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k];
        __syncthreads();
    }
    V r = red[0];
    __syncthreads();
    return r;
}

/* Squared error of sample i's k coordinates (double sum of float differences). */
__device__ double squared(const float *pred, const float *t, long long i, int k) {
    double s = 0.0;
    for (int j = 0; j < k; j++) {
        float d = pred[i * k + j] - t[i * k + j];
        s += (double)d * (double)d;
    }
    return s;
}

/* One block: the counts, OHEM's keep, and the sums. */
__global__ void loss_totals(loss_in a, const float *loss, const unsigned char *flags,
                            const long long *rank, loss_sums *out) {
    __shared__ long long ri[SUM_THREADS];
    __shared__ double rd[SUM_THREADS];
    long long nv = 0, correct = 0, nbox = 0, nlmk = 0, bad = a.n;
    for (long long i = threadIdx.x; i < a.n; i += SUM_THREADS) {
        unsigned char f = flags[i];
        nv += (f & USE_CLS) != 0;
        correct += (f & CORRECT) != 0;
        nbox += (f & USE_BOX) != 0;
        nlmk += (f & USE_LMK) != 0;
        if ((f & BAD) && i < bad) bad = i;
    }
    nv = block_sum(nv, ri);
    correct = block_sum(correct, ri);
    nbox = block_sum(nbox, ri);
    nlmk = block_sum(nlmk, ri);
    /* the first bad sample: a minimum through the same shared array */
    ri[threadIdx.x] = bad;
    __syncthreads();
    for (int k = SUM_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k && ri[threadIdx.x + k] < ri[threadIdx.x])
            ri[threadIdx.x] = ri[threadIdx.x + k];
        __syncthreads();
    }
    bad = ri[0];
    __syncthreads();
    /* k = floor(ratio * #valid) computed in float, as the CPU (and the TF original) */
    long long keep = (long long)((float)nv * a.ratio);
    if (keep > nv) keep = nv;
    double cls = 0.0, box = 0.0, lmk = 0.0;
    for (long long i = threadIdx.x; i < a.n; i += SUM_THREADS) {
        unsigned char f = flags[i];
        if ((f & USE_CLS) && rank[i] < keep) cls += (double)loss[i];
        if (a.box && (f & USE_BOX)) box += squared(a.box, a.box_t, i, 4);
        if (a.lmk && (f & USE_LMK)) lmk += squared(a.lmk, a.lmk_t, i, 10);
    }
    cls = block_sum(cls, rd);
    box = block_sum(box, rd);
    lmk = block_sum(lmk, rd);
    if (threadIdx.x == 0) {
        out->cls = cls;
        out->box = box;
        out->lmk = lmk;
        out->nv = nv;
        out->keep = keep;
        out->correct = correct;
        out->nbox = nbox;
        out->nlmk = nlmk;
        out->bad = bad < a.n ? bad : -1;
        out->bad_label = bad < a.n ? a.label[bad] : 0.0f;
    }
}

/* The gradients of a squared-error task for sample i (zero outside the task). */
__device__ void squared_grad(const float *pred, const float *t, float *g, long long i, int k,
                             bool use, long long m, int element_mean, float weight) {
    if (!use || m == 0) {
        for (int j = 0; j < k; j++) g[i * k + j] = 0.0f;
        return;
    }
    double denom = element_mean ? (double)m * (double)k : (double)m;
    float gscale = (float)(2.0 * weight / denom);
    for (int j = 0; j < k; j++) g[i * k + j] = gscale * (pred[i * k + j] - t[i * k + j]);
}

__global__ void loss_grads(loss_in a, const unsigned char *flags, const long long *rank,
                           const loss_sums *sums) {
    const long long keep = sums->keep;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < a.n;
         i += (long long)blockDim.x * gridDim.x) {
        unsigned char f = flags[i];
        if (a.dcls) {
            a.dcls[2 * i] = a.dcls[2 * i + 1] = 0.0f;
            if ((f & USE_CLS) && rank[i] < keep) {
                int y = a.label[i] == 1.0f;
                a.dcls[2 * i + y] =
                    (float)(-(double)a.w_cls / ((double)keep * (a.p[2 * i + y] + CLS_EPS)));
            }
        }
        if (a.dbox)
            squared_grad(a.box, a.box_t, a.dbox, i, 4, (f & USE_BOX) != 0, sums->nbox,
                         a.element_mean, a.w_box);
        if (a.dlmk)
            squared_grad(a.lmk, a.lmk_t, a.dlmk, i, 10, (f & USE_LMK) != 0, sums->nlmk,
                         a.element_mean, a.w_lmk);
    }
}

static const float *data_or_null(const mt_tensor *t) { return t ? mt_tensor_data(t) : NULL; }

mt_status mt_cuda_mtcnn_loss(mt_mtcnn_loss_args *args) {
    const long long n = args->label->shape[0];
    loss_in a = {mt_tensor_data(args->cls), mt_tensor_data(args->label), data_or_null(args->box),
                 data_or_null(args->box_target), data_or_null(args->lmk),
                 data_or_null(args->lmk_target), args->dcls ? mt_tensor_data(args->dcls) : NULL,
                 args->dbox ? mt_tensor_data(args->dbox) : NULL,
                 args->dlmk ? mt_tensor_data(args->dlmk) : NULL, n, args->w_cls, args->w_box,
                 args->w_lmk, args->ohem_ratio, args->masked, args->element_mean};
    /* scratch: the sums, then per sample a rank, a loss and the flags */
    size_t need = sizeof(loss_sums) + (size_t)n * (sizeof(long long) + sizeof(float) + 1) + 64;
    char *s;
    MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_LOSS, need, (void **)&s));
    loss_sums *sums = (loss_sums *)s;
    long long *rank = (long long *)(s + (sizeof(loss_sums) + 15) / 16 * 16);
    float *loss = (float *)(rank + n);
    unsigned char *flags = (unsigned char *)(loss + n);
    cudaStream_t st = mt_cuda_stream();
    unsigned blocks = mt_cuda_blocks(n);
    if (n > 0) {
        loss_samples<<<blocks, 256, 0, st>>>(a, loss, flags);
        loss_ranks<<<blocks, 256, 0, st>>>(loss, flags, n, rank);
    }
    loss_totals<<<1, SUM_THREADS, 0, st>>>(a, loss, flags, rank, sums);
    if (n > 0) loss_grads<<<blocks, 256, 0, st>>>(a, flags, rank, sums);
    MT_CUDA_CHECK_LAUNCH();
    loss_sums r;
    MT_CUDA_CHECK(cudaMemcpyAsync(&r, sums, sizeof r, cudaMemcpyDeviceToHost, st));
    MT_CUDA_CHECK(cudaStreamSynchronize(st));
    if (r.bad >= 0) {
        if (!args->masked)
            return mt_fail(MT_ERR_ARG, "mtcnn_loss: unmasked loss needs labels 0 or 1, sample "
                                       "%lld has %g", r.bad + 1, r.bad_label);
        return mt_fail(MT_ERR_ARG, "mtcnn_loss: sample %lld has label %g (expected 1 positive, "
                                   "0 negative, -1 part, -2 landmark)", r.bad + 1, r.bad_label);
    }
    args->cls_loss = r.keep > 0 ? r.cls / (double)r.keep : 0.0;
    args->n_cls = r.nv;
    args->n_kept = r.keep;
    args->n_correct = r.correct;
    args->accuracy = r.nv > 0 ? (double)r.correct / (double)r.nv : NAN;
    args->n_box = args->box ? r.nbox : 0;
    args->n_lmk = args->lmk ? r.nlmk : 0;
    double box_den = args->element_mean ? (double)r.nbox * 4.0 : (double)r.nbox;
    double lmk_den = args->element_mean ? (double)r.nlmk * 10.0 : (double)r.nlmk;
    args->box_loss = args->box && r.nbox > 0 ? r.box / box_den : 0.0;
    args->lmk_loss = args->lmk && r.nlmk > 0 ? r.lmk / lmk_den : 0.0;
    args->loss = (double)args->w_cls * args->cls_loss + (double)args->w_box * args->box_loss +
                 (double)args->w_lmk * args->lmk_loss;
    return MT_OK;
}
