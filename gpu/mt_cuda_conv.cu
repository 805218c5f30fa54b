/*
 * mt_cuda_conv.cu - convolutions on cuDNN (its classic convolution API): forward, both
 * backward passes, and the forward fused with bias, PReLU and max pooling.
 *
 * Each geometry (batch, channels, sizes, kernel, stride, padding) gets its descriptors and
 * its algorithms once, from cuDNN's heuristics, and keeps them in a small cache: a training
 * run has a handful of shapes, a detection run one per pyramid level and crop count. The
 * backward passes take the fastest deterministic algorithm (the same gradients run after
 * run). The workspace is one scratch buffer, grown to the largest need and reused. The
 * arithmetic is full float (FMA) unless MTCNN_CUDA_TF32=1 allows tensor cores.
 */
#include "mt_cuda_libs.cuh"

#include <limits.h>
#include <string.h>

/* Largest workspace an algorithm may ask for. */
#define WS_LIMIT ((size_t)512 << 20)
/* Geometries kept; the oldest is replaced first. */
#define CACHE_SIZE 96

struct conv_key {
    int n, c, h, w, k, kh, kw, sh, sw, ph, pw;
};

struct conv_plan {
    conv_key key;
    bool used;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    bool has_fwd, has_bwd_data, has_bwd_filter;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_bwd_data, ws_bwd_filter;
};

static conv_plan cache[CACHE_SIZE];
static int cache_next;

static mt_status check_int(const char *what, long long v) {
    if (v > INT_MAX)
        return mt_fail(MT_ERR_SHAPE, "conv2d on cuda: %s (%lld) is beyond cuDNN's int range", what,
                       v);
    return MT_OK;
}

/* The plan of x [N,C,H,W] convolved with w [K,C,KH,KW] under d (made on first use). */
static mt_status plan_for(const mt_tensor *x, const mt_tensor *w, const mt_conv2d_desc *d,
                          conv_plan **out) {
    MT_TRY(check_int("the input's size", mt_tensor_numel(x)));
    int64_t oh = mt_conv2d_out_size(x->shape[2], (int)w->shape[2], d->stride_h, d->pad_h);
    int64_t ow = mt_conv2d_out_size(x->shape[3], (int)w->shape[3], d->stride_w, d->pad_w);
    MT_TRY(check_int("the output's size", x->shape[0] * w->shape[0] * oh * ow));
    conv_key k;
    memset(&k, 0, sizeof k);
    k.n = (int)x->shape[0], k.c = (int)x->shape[1], k.h = (int)x->shape[2];
    k.w = (int)x->shape[3], k.k = (int)w->shape[0], k.kh = (int)w->shape[2];
    k.kw = (int)w->shape[3], k.sh = d->stride_h, k.sw = d->stride_w, k.ph = d->pad_h;
    k.pw = d->pad_w;
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i].used && memcmp(&cache[i].key, &k, sizeof k) == 0) {
            *out = &cache[i];
            return MT_OK;
        }
    conv_plan *p = &cache[cache_next];
    cache_next = (cache_next + 1) % CACHE_SIZE;
    if (!p->x) {
        MT_CUDNN_CHECK(mt_dnn.cudnnCreateTensorDescriptor(&p->x));
        MT_CUDNN_CHECK(mt_dnn.cudnnCreateTensorDescriptor(&p->y));
        MT_CUDNN_CHECK(mt_dnn.cudnnCreateFilterDescriptor(&p->w));
        MT_CUDNN_CHECK(mt_dnn.cudnnCreateConvolutionDescriptor(&p->conv));
    }
    p->used = false; /* until every descriptor is set */
    MT_CUDNN_CHECK(mt_dnn.cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, k.n,
                                                     k.c, k.h, k.w));
    MT_CUDNN_CHECK(mt_dnn.cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k.k,
                                                     k.c, k.kh, k.kw));
    MT_CUDNN_CHECK(mt_dnn.cudnnSetConvolution2dDescriptor(
        p->conv, k.ph, k.pw, k.sh, k.sw, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MT_CUDNN_CHECK(mt_dnn.cudnnSetConvolutionMathType(p->conv, mt_cuda_tf32() ? CUDNN_DEFAULT_MATH
                                                                              : CUDNN_FMA_MATH));
    MT_CUDNN_CHECK(mt_dnn.cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, k.n,
                                                     k.k, (int)oh, (int)ow));
    p->key = k;
    p->has_fwd = p->has_bwd_data = p->has_bwd_filter = false;
    p->used = true;
    *out = p;
    return MT_OK;
}

/* The first of cuDNN's ranked candidates that runs within the workspace limit and, when
 * `deterministic`, gives the same result every run (else the first that runs). */
template <class Perf> static int pick(const Perf *r, int count, bool deterministic) {
    for (int i = 0; i < count; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= WS_LIMIT &&
            (!deterministic || r[i].determinism == CUDNN_DETERMINISTIC))
            return i;
    for (int i = 0; deterministic && i < count; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= WS_LIMIT) return i;
    return -1;
}

static mt_status no_algorithm(const char *pass, const conv_plan *p) {
    const conv_key &k = p->key;
    return mt_fail(MT_ERR_CUDA,
                   "cudnn: no %s algorithm for input %dx%dx%dx%d, kernel "
                   "%dx%dx%dx%d, stride %dx%d, pad %dx%d",
                   pass, k.n, k.c, k.h, k.w, k.k, k.c, k.kh, k.kw, k.sh, k.sw, k.ph, k.pw);
}

static mt_status choose_fwd(cudnnHandle_t h, conv_plan *p) {
    if (p->has_fwd) return MT_OK;
    cudnnConvolutionFwdAlgoPerf_t r[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionForwardAlgorithm_v7(
        h, p->x, p->w, p->conv, p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, r));
    int i = pick(r, count, false);
    if (i < 0) return no_algorithm("forward", p);
    p->fwd = r[i].algo;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y,
                                                                  p->fwd, &p->ws_fwd));
    p->has_fwd = true;
    return MT_OK;
}

static mt_status choose_bwd_data(cudnnHandle_t h, conv_plan *p) {
    if (p->has_bwd_data) return MT_OK;
    cudnnConvolutionBwdDataAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(
        h, p->w, p->y, p->conv, p->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, r));
    int i = pick(r, count, true);
    if (i < 0) return no_algorithm("backward data", p);
    p->bwd_data = r[i].algo;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardDataWorkspaceSize(
        h, p->w, p->y, p->conv, p->x, p->bwd_data, &p->ws_bwd_data));
    p->has_bwd_data = true;
    return MT_OK;
}

static mt_status choose_bwd_filter(cudnnHandle_t h, conv_plan *p) {
    if (p->has_bwd_filter) return MT_OK;
    cudnnConvolutionBwdFilterAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        h, p->x, p->y, p->conv, p->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, r));
    int i = pick(r, count, true);
    if (i < 0) return no_algorithm("backward filter", p);
    p->bwd_filter = r[i].algo;
    MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(
        h, p->x, p->y, p->conv, p->w, p->bwd_filter, &p->ws_bwd_filter));
    p->has_bwd_filter = true;
    return MT_OK;
}

/* z = conv(x, w) into the raw output z (shaped as the plan's y). */
static mt_status conv_forward_raw(const mt_tensor *x, const mt_tensor *w, const mt_conv2d_desc *d,
                                  float *z, conv_plan **plan) {
    cudnnHandle_t h;
    MT_TRY(mt_cuda_cudnn(&h));
    conv_plan *p;
    MT_TRY(plan_for(x, w, d, &p));
    MT_TRY(choose_fwd(h, p));
    const float one = 1.0f, zero = 0.0f;
    for (int attempt = 0;; attempt++) {
        void *ws = NULL;
        if (p->ws_fwd) MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_CONV_WS, p->ws_fwd, &ws));
        cudnnStatus_t st = mt_dnn.cudnnConvolutionForward(h, &one, p->x, mt_tensor_data(x), p->w,
                                                          mt_tensor_data(w), p->conv, p->fwd, ws,
                                                          p->ws_fwd, &zero, p->y, z);
        if (st == CUDNN_STATUS_SUCCESS) break;
        if (attempt > 0 || p->fwd == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) MT_CUDNN_CHECK(st);
        /* the heuristics' pick refused this shape: fall back to the algorithm that takes all */
        p->fwd = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
        MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y,
                                                                      p->fwd, &p->ws_fwd));
    }
    if (plan) *plan = p;
    return MT_OK;
}

mt_status mt_cuda_conv2d_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                 const mt_tensor *prelu, const mt_tensor *y,
                                 const mt_conv2d_desc *d) {
    float *out = mt_tensor_data(y);
    MT_TRY(conv_forward_raw(x, w, d, out, NULL));
    if (!b && !prelu) return MT_OK;
    return mt_cuda_bias_prelu(out, y->shape[0], y->shape[1], y->shape[2] * y->shape[3],
                              b ? mt_tensor_data(b) : NULL, prelu ? mt_tensor_data(prelu) : NULL);
}

/* ---- the fused evaluate-mode pass: bias, PReLU and max pooling of the convolution's output */

/* One thread per pooled output: the first maximum (row-major) of PReLU(z + b) over its
 * clipped window, as the CPU's pooling of the fused pass. */
__global__ void bias_prelu_pool_kernel(const float *z, const float *b, const float *a, float *y,
                                       long long planes, int c, pool_geom g) {
    long long total = planes * g.oh * g.ow;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)blockDim.x * gridDim.x) {
        long long plane = o / ((long long)g.oh * g.ow);
        int r = (int)(o % ((long long)g.oh * g.ow));
        int oy = r / g.ow, ox = r % g.ow, ch = (int)(plane % c);
        const float *zp = z + plane * (long long)g.h * g.w;
        const float bc = b ? b[ch] : 0.0f, ac = a ? a[ch] : 1.0f;
        int y0 = oy * g.sh, x0 = ox * g.sw;
        int y1 = min(y0 + g.kh, g.h), x1 = min(x0 + g.kw, g.w);
        float m = 0.0f;
        bool first = true;
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) {
                float v = zp[yy * g.w + xx];
                if (b) v += bc;
                if (a) v = v > 0.0f ? v : ac * v;
                if (first || v > m) m = v;
                first = false;
            }
        y[o] = m;
    }
}

mt_status mt_cuda_conv2d_pool_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                      const mt_tensor *prelu, const mt_tensor *y,
                                      const mt_conv2d_desc *d, const mt_pool2d_desc *pd) {
    int64_t oh = mt_conv2d_out_size(x->shape[2], (int)w->shape[2], d->stride_h, d->pad_h);
    int64_t ow = mt_conv2d_out_size(x->shape[3], (int)w->shape[3], d->stride_w, d->pad_w);
    long long planes = x->shape[0] * w->shape[0];
    void *z;
    MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_CONV_OUT, (size_t)(planes * oh * ow) * sizeof(float), &z));
    MT_TRY(conv_forward_raw(x, w, d, (float *)z, NULL));
    pool_geom g = {(int)oh,      (int)ow,      (int)y->shape[2], (int)y->shape[3],
                   pd->kernel_h, pd->kernel_w, pd->stride_h,     pd->stride_w};
    long long n = mt_tensor_numel(y);
    bias_prelu_pool_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        (const float *)z, b ? mt_tensor_data(b) : NULL, prelu ? mt_tensor_data(prelu) : NULL,
        mt_tensor_data(y), planes, (int)w->shape[0], g);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* ---- backward ----------------------------------------------------------------------------- */

/* dx = the input gradient of x's convolution with w for the output gradient dy. */
static mt_status backward_data(const mt_tensor *dy, const mt_tensor *w, const mt_tensor *dx,
                               const mt_conv2d_desc *d) {
    cudnnHandle_t h;
    MT_TRY(mt_cuda_cudnn(&h));
    conv_plan *p;
    MT_TRY(plan_for(dx, w, d, &p)); /* dx has x's shape */
    MT_TRY(choose_bwd_data(h, p));
    const float one = 1.0f, zero = 0.0f;
    for (int attempt = 0;; attempt++) {
        void *ws = NULL;
        if (p->ws_bwd_data) MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_CONV_WS, p->ws_bwd_data, &ws));
        cudnnStatus_t st = mt_dnn.cudnnConvolutionBackwardData(
            h, &one, p->w, mt_tensor_data(w), p->y, mt_tensor_data(dy), p->conv, p->bwd_data, ws,
            p->ws_bwd_data, &zero, p->x, mt_tensor_data(dx));
        if (st == CUDNN_STATUS_SUCCESS) return MT_OK;
        if (attempt > 0 || p->bwd_data == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1) MT_CUDNN_CHECK(st);
        p->bwd_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1; /* deterministic, takes all shapes */
        MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, p->w, p->y, p->conv, p->x, p->bwd_data, &p->ws_bwd_data));
    }
}

/* dw += the weight gradient and db += the bias gradient (db may be NULL) from x and the
 * output gradient dy (raw, shaped as the convolution's output). */
static mt_status backward_params(const mt_tensor *x, const float *dy, const mt_tensor *dw,
                                 const mt_tensor *db, const mt_conv2d_desc *d) {
    cudnnHandle_t h;
    MT_TRY(mt_cuda_cudnn(&h));
    conv_plan *p;
    MT_TRY(plan_for(x, dw, d, &p));
    MT_TRY(choose_bwd_filter(h, p));
    const float one = 1.0f;
    for (int attempt = 0;; attempt++) {
        void *ws = NULL;
        if (p->ws_bwd_filter) MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_CONV_WS, p->ws_bwd_filter, &ws));
        cudnnStatus_t st = mt_dnn.cudnnConvolutionBackwardFilter(
            h, &one, p->x, mt_tensor_data(x), p->y, dy, p->conv, p->bwd_filter, ws,
            p->ws_bwd_filter, &one, p->w, mt_tensor_data(dw));
        if (st == CUDNN_STATUS_SUCCESS) break;
        if (attempt > 0 || p->bwd_filter == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1) MT_CUDNN_CHECK(st);
        p->bwd_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1; /* deterministic, takes all shapes */
        MT_CUDNN_CHECK(mt_dnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(
            h, p->x, p->y, p->conv, p->w, p->bwd_filter, &p->ws_bwd_filter));
    }
    if (!db) return MT_OK;
    int64_t oh = mt_conv2d_out_size(x->shape[2], (int)dw->shape[2], d->stride_h, d->pad_h);
    int64_t ow = mt_conv2d_out_size(x->shape[3], (int)dw->shape[3], d->stride_w, d->pad_w);
    return mt_cuda_channel_sum(dy, x->shape[0], dw->shape[0], oh * ow, mt_tensor_data(db));
}

mt_status mt_cuda_conv2d_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                        const mt_tensor *dx, const mt_conv2d_desc *d) {
    return backward_data(dy, w, dx, d);
}

mt_status mt_cuda_conv2d_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                         const mt_tensor *dw, const mt_tensor *db,
                                         const mt_conv2d_desc *d) {
    return backward_params(x, mt_tensor_data(dy), dw, db, d);
}

mt_status mt_cuda_conv2d_backward(const mt_tensor *x, const mt_tensor *dy, const mt_tensor *w,
                                  const mt_tensor *dx, const mt_tensor *dw, const mt_tensor *db,
                                  const mt_conv2d_desc *d) {
    MT_TRY(backward_data(dy, w, dx, d));
    return backward_params(x, mt_tensor_data(dy), dw, db, d);
}

/* The fused first layer: the convolution's output gradient (PReLU + pooling backward) into a
 * scratch buffer, then the parameter gradients from it. dz, the caller's workspace tensor, is
 * not needed. */
mt_status mt_cuda_conv2d_prelu_pool_backward_params(const mt_tensor *x, const mt_tensor *z,
                                                    const mt_tensor *a, const mt_tensor *at,
                                                    const mt_tensor *gy, mt_tensor *dz,
                                                    const mt_tensor *dw, const mt_tensor *db,
                                                    const mt_tensor *da, const mt_conv2d_desc *d,
                                                    const mt_pool2d_desc *pd) {
    (void)dz;
    void *g;
    MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_CONV_GRAD, (size_t)mt_tensor_numel(z) * sizeof(float), &g));
    /* a tensor header over the scratch buffer, for the PReLU + pooling kernel */
    mt_buffer buf = {1, MT_CUDA, (size_t)mt_tensor_numel(z) * sizeof(float), g};
    mt_tensor gz = *z;
    gz.buf = &buf;
    gz.offset = 0;
    gz.refcount = 1;
    MT_TRY(mt_cuda_prelu_pool_backward(z, a, at, gy, &gz, da, pd));
    return backward_params(x, (const float *)g, dw, db, d);
}
