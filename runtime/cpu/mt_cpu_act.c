/* mt_cpu_act.c - PReLU and softmax on the CPU (memory-bound passes, split over the thread
 * pool), and the bias + PReLU epilogue shared by the BLAS and reference layer paths. */
#include "cpu/mt_cpu.h"
#include "cpu/mt_cpu_prelu.h"

#include "core/mt_threads.h"

#include <math.h>
#include <string.h>

/* Elements per task below which splitting over threads costs more than it saves. */
#define GRAIN_ELEMS MT_PRELU_GRAIN_ELEMS

/* ---- bias + PReLU over rows ------------------------------------------------------------------ */

void mt_cpu_bias_prelu_rows(float *y, int64_t rows, int64_t n, int64_t channels, const float *b,
                            const float *a) {
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r % channels;
        float *row = y + r * n;
        if (b) {
            const float bc = b[c];
            for (int64_t i = 0; i < n; i++) row[i] += bc;
        }
        if (a) {
            const float ac = a[c];
            for (int64_t i = 0; i < n; i++) row[i] = row[i] > 0.0f ? row[i] : ac * row[i];
        }
    }
}

/* ---- PReLU ---------------------------------------------------------------------------------- */

typedef struct prelu_ctx {
    const float *x, *a, *dy;
    float *y, *dx;
    double *da_part; /* [threads][C] partial slope gradients */
    int64_t n, c, hw;
} prelu_ctx;

/* Planes are (sample, channel) pairs of hw values each. Compiled for AVX-512, AVX2 and the
 * baseline, picked at run time (these passes stream megabytes in training). */
MT_TARGET_CLONES
static void prelu_fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    prelu_ctx *k = (prelu_ctx *)vctx;
    for (int64_t p = begin; p < end; p++) {
        const float ac = k->a[p % k->c];
        const float *x = k->x + p * k->hw;
        float *y = k->y + p * k->hw;
        mt_prelu_row(x, ac, y, k->hw);
    }
}

mt_status mt_cpu_prelu_forward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y) {
    prelu_ctx k = {.x = mt_tensor_data(x), .a = mt_tensor_data(a), .y = mt_tensor_data(y),
                   .n = x->shape[0], .c = x->shape[1]};
    k.hw = k.n * k.c > 0 ? mt_tensor_numel(x) / (k.n * k.c) : 0;
    int64_t planes = k.n * k.c;
    mt_parallel_for(planes, GRAIN_ELEMS / (k.hw + 1) + 1, prelu_fwd_range, &k);
    return MT_OK;
}

/* Samples [begin, end): dx for all their planes, slope sums into this thread's partials. */
MT_TARGET_CLONES
static void prelu_bwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    prelu_ctx *k = (prelu_ctx *)vctx;
    double *part = k->da_part ? k->da_part + (int64_t)thread * mt_prelu_part_stride(k->c) : NULL;
    for (int64_t s = begin; s < end; s++) {
        for (int64_t c = 0; c < k->c; c++) {
            int64_t off = (s * k->c + c) * k->hw;
            const float *x = k->x + off, *dy = k->dy + off;
            const float ac = k->a[c];
            /* the slope sum first: dx may be dy itself (in place) */
            if (part) part[c] += mt_prelu_negative_dot(x, dy, k->hw);
            if (k->dx) mt_prelu_grad_row(x, ac, dy, k->dx + off, k->hw);
        }
    }
}

mt_status mt_cpu_prelu_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                                const mt_tensor *dx, const mt_tensor *da) {
    prelu_ctx k = {.x = mt_tensor_data(x), .a = mt_tensor_data(a), .dy = mt_tensor_data(dy),
                   .dx = dx ? mt_tensor_data(dx) : NULL, .n = x->shape[0], .c = x->shape[1]};
    k.hw = k.n * k.c > 0 ? mt_tensor_numel(x) / (k.n * k.c) : 0;
    int threads = mt_threads_count();
    if (da) {
        const int64_t stride = mt_prelu_part_stride(k.c);
        k.da_part = (double *)mt_cpu_scratch(0, sizeof(double) * (size_t)(threads * stride));
        if (!k.da_part) return MT_ERR_OOM;
        memset(k.da_part, 0, sizeof(double) * (size_t)(threads * stride));
    }
    mt_parallel_for(k.n, GRAIN_ELEMS / (k.c * k.hw + 1) + 1, prelu_bwd_range, &k);
    if (da) {
        /* fixed order over threads: the result depends only on the thread count */
        float *g = mt_tensor_data(da);
        for (int64_t c = 0; c < k.c; c++) {
            double s = 0.0;
            for (int t = 0; t < threads; t++) s += k.da_part[t * mt_prelu_part_stride(k.c) + c];
            g[c] += (float)s;
        }
    }
    return MT_OK;
}

/* ---- softmax over channels ------------------------------------------------------------------ */

typedef struct softmax_ctx {
    const float *x, *y, *dy;
    float *out;
    int64_t c, hw;
} softmax_ctx;

/* e^x for x <= 0 (a softmax's shifted logits), within about 1 ulp of expf: Cody-Waite
 * reduction x = n ln2 + r, |r| <= ln2/2, Cephes' expf polynomial for e^r, then 2^n through
 * the exponent bits. Plain arithmetic, so the loops around it vectorise (a call to expf per
 * element made the PNet heads' softmax cost as much as their convolutions). Inlined into each
 * target clone of its caller (a shared copy would be the baseline build, floorf a call). */
static inline __attribute__((always_inline)) float exp_neg(float x) {
    if (!(x > -87.0f)) x = -87.0f; /* below: e^x under FLT_MIN; the sum keeps its largest term */
    const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (int32_t)n * (1 << 23);
    memcpy(&p, &bits, sizeof p);
    return p;
}

#define SOFTMAX_BLOCK 64
#define SOFTMAX_BLOCK_CHANNELS 16

/* Softmax of the positions [p0, p0 + nb) of one sample (nb <= SOFTMAX_BLOCK, c <=
 * SOFTMAX_BLOCK_CHANNELS) through a local copy, each loop running along the positions (the
 * copy also lets y be x). Sums over the channels in their order, as the per-position loop. */
#define SOFTMAX_INLINE static inline __attribute__((always_inline))
SOFTMAX_INLINE void softmax_block(const float *x, float *y, int64_t c, int64_t hw, int64_t p0,
                                  int nb) {
    float v[SOFTMAX_BLOCK_CHANNELS][SOFTMAX_BLOCK], m[SOFTMAX_BLOCK], sum[SOFTMAX_BLOCK];
    for (int64_t ch = 0; ch < c; ch++) memcpy(v[ch], x + ch * hw + p0, sizeof(float) * (size_t)nb);
    for (int q = 0; q < nb; q++) m[q] = v[0][q], sum[q] = 0.0f;
    for (int64_t ch = 1; ch < c; ch++)
        for (int q = 0; q < nb; q++) m[q] = v[ch][q] > m[q] ? v[ch][q] : m[q];
    for (int64_t ch = 0; ch < c; ch++)
        for (int q = 0; q < nb; q++) {
            v[ch][q] = exp_neg(v[ch][q] - m[q]);
            sum[q] += v[ch][q];
        }
    for (int q = 0; q < nb; q++) sum[q] = 1.0f / sum[q];
    for (int64_t ch = 0; ch < c; ch++) {
        float *yc = y + ch * hw + p0;
        for (int q = 0; q < nb; q++) yc[q] = v[ch][q] * sum[q];
    }
}

MT_TARGET_CLONES
static void softmax_fwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    softmax_ctx *k = (softmax_ctx *)vctx;
    for (int64_t s = begin; s < end; s++) {
        const float *x = k->x + s * k->c * k->hw;
        float *y = k->out + s * k->c * k->hw;
        if (k->hw >= 16 && k->c <= SOFTMAX_BLOCK_CHANNELS) {
            for (int64_t p0 = 0; p0 < k->hw; p0 += SOFTMAX_BLOCK) {
                const int nb = (int)(k->hw - p0 < SOFTMAX_BLOCK ? k->hw - p0 : SOFTMAX_BLOCK);
                softmax_block(x, y, k->c, k->hw, p0, nb);
            }
            continue;
        }
        for (int64_t p = 0; p < k->hw; p++) {
            float m = x[p];
            for (int64_t c = 1; c < k->c; c++) m = fmaxf(m, x[c * k->hw + p]);
            float sum = 0.0f;
            for (int64_t c = 0; c < k->c; c++) {
                float e = expf(x[c * k->hw + p] - m);
                y[c * k->hw + p] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            for (int64_t c = 0; c < k->c; c++) y[c * k->hw + p] *= inv;
        }
    }
}

void mt_cpu_softmax_forward_raw(const float *x, int64_t n, int64_t c, int64_t hw, float *y) {
    softmax_ctx k = {.x = x, .out = y, .c = c, .hw = hw};
    softmax_fwd_range(&k, 0, n, 0);
}

mt_status mt_cpu_softmax_forward(const mt_tensor *x, const mt_tensor *y) {
    softmax_ctx k = {.x = mt_tensor_data(x), .out = mt_tensor_data(y), .c = x->shape[1]};
    int64_t n = x->shape[0];
    k.hw = n * k.c > 0 ? mt_tensor_numel(x) / (n * k.c) : 0;
    mt_parallel_for(n, GRAIN_ELEMS / (k.c * k.hw + 1) + 1, softmax_fwd_range, &k);
    return MT_OK;
}

static void softmax_bwd_range(void *vctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    softmax_ctx *k = (softmax_ctx *)vctx;
    for (int64_t s = begin; s < end; s++) {
        int64_t off = s * k->c * k->hw;
        const float *y = k->y + off, *dy = k->dy + off;
        float *dx = k->out + off;
        for (int64_t p = 0; p < k->hw; p++) {
            float dot = 0.0f;
            for (int64_t c = 0; c < k->c; c++) dot += dy[c * k->hw + p] * y[c * k->hw + p];
            for (int64_t c = 0; c < k->c; c++)
                dx[c * k->hw + p] = y[c * k->hw + p] * (dy[c * k->hw + p] - dot);
        }
    }
}

mt_status mt_cpu_softmax_backward(const mt_tensor *y, const mt_tensor *dy, const mt_tensor *dx) {
    softmax_ctx k = {.y = mt_tensor_data(y), .dy = mt_tensor_data(dy), .out = mt_tensor_data(dx),
                     .c = y->shape[1]};
    int64_t n = y->shape[0];
    k.hw = n * k.c > 0 ? mt_tensor_numel(y) / (n * k.c) : 0;
    mt_parallel_for(n, GRAIN_ELEMS / (k.c * k.hw + 1) + 1, softmax_bwd_range, &k);
    return MT_OK;
}
