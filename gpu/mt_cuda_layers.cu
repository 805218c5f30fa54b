/*
 * mt_cuda_layers.cu - fully connected layers (cuBLAS), PReLU, max pooling, the training pass
 * of PReLU + max pooling, and softmax on the GPU.
 *
 * The kernels follow the CPU's rules so that the two devices agree: Caffe's ceil-mode
 * pooling with clipped windows and the first maximum in row-major order; gradients routed to
 * that maximum. Pooling gradients are gathered (each input element sums the gradients of the
 * windows that chose it, windows in row-major order, the CPU's order of accumulation), not
 * scattered with atomics: no race, and the same sums every run. Per-channel sums (bias and
 * slope gradients) go through fixed-shape partial sums in double, reduced in a fixed order.
 */
#include "mt_cuda_libs.cuh"

#include <limits.h>

/* ---- per-channel sums ---------------------------------------------------------------------- */

/* Partial sums per channel: grid (channels, splits); block (c, s) sums f(i, c) over the
 * elements i of channel c of x [n, c, hw] in its share (elements s*256 + k*splits*256 ...),
 * into part[c * splits + s]. f may also write an output for element i (fused gradients). */
template <class F>
__global__ void channel_partials(F f, long long n, int c, long long hw, double *part) {
    __shared__ double red[256];
    const int ch = blockIdx.x, splits = gridDim.y;
    const long long per = n * hw;
    double acc = 0.0;
    for (long long e = (long long)blockIdx.y * blockDim.x + threadIdx.x; e < per;
         e += (long long)splits * blockDim.x) {
        long long s = e / hw, p = e - s * hw;
        acc += f((s * c + ch) * hw + p, ch);
    }
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[(long long)ch * splits + blockIdx.y] = red[0];
}

/* out[c] += the sum of part[c * splits ...] in order (one thread per channel). */
__global__ void channel_finish(const double *part, int c, int splits, float *out) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double s = 0.0;
    for (int i = 0; i < splits; i++) s += part[(long long)ch * splits + i];
    out[ch] += (float)s;
}

/* Runs f over every element of [n, c, hw], summing its values per channel into out (+=). */
template <class F>
static mt_status channel_reduce(F f, long long n, long long c, long long hw, float *out) {
    long long per = n * hw;
    int splits = (int)((per + 8191) / 8192);
    if (splits > 64) splits = 64;
    if (splits < 1) splits = 1;
    void *part;
    MT_TRY(mt_cuda_scratch(MT_CUDA_SLOT_PARTIAL, (size_t)(c * splits) * sizeof(double), &part));
    dim3 grid((unsigned)c, (unsigned)splits);
    channel_partials<<<grid, 256, 0, mt_cuda_stream()>>>(f, n, (int)c, hw, (double *)part);
    MT_CUDA_CHECK_LAUNCH();
    channel_finish<<<(unsigned)((c + 127) / 128), 128, 0, mt_cuda_stream()>>>(
        (const double *)part, (int)c, splits, out);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* Runs f over every element of [n, c, hw] for its side effects. */
template <class F>
__global__ void each_element(F f, long long total, int c, long long hw) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x)
        f(i, (int)((i / hw) % c));
}

template <class F>
static mt_status for_each(F f, long long n, long long c, long long hw) {
    long long total = n * c * hw;
    if (total == 0) return MT_OK;
    each_element<<<mt_cuda_blocks(total), 256, 0, mt_cuda_stream()>>>(f, total, (int)c, hw);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

struct plain_value {
    const float *x;
    __device__ double operator()(long long i, int) const { return (double)x[i]; }
};

mt_status mt_cuda_channel_sum(const float *dy, long long n, long long c, long long hw,
                              float *db) {
    return channel_reduce(plain_value{dy}, n, c, hw, db);
}

/* ---- bias + PReLU -------------------------------------------------------------------------- */

struct bias_prelu_op {
    float *y;
    const float *b, *a;
    __device__ void operator()(long long i, int c) const {
        float v = y[i];
        if (b) v += b[c];
        if (a) v = v > 0.0f ? v : a[c] * v;
        y[i] = v;
    }
};

mt_status mt_cuda_bias_prelu(float *y, long long n, long long c, long long hw, const float *bias,
                             const float *a) {
    return for_each(bias_prelu_op{y, bias, a}, n, c, hw);
}

/* ---- fully connected (row-major operands as cuBLAS's column-major transposes) ------------- */

static mt_status gemm(cublasOperation_t ta, cublasOperation_t tb, long long m, long long n,
                      long long k, const float *a, long long lda, const float *b, long long ldb,
                      float beta, float *c, long long ldc) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return mt_fail(MT_ERR_SHAPE, "linear on cuda: a %lldx%lldx%lld product is beyond cuBLAS's "
                                     "int range", m, n, k);
    cublasHandle_t h;
    MT_TRY(mt_cuda_cublas(&h));
    const float one = 1.0f;
    MT_CUBLAS_CHECK(mt_blas.cublasSgemm_v2(h, ta, tb, (int)m, (int)n, (int)k, &one, a, (int)lda, b,
                                (int)ldb, &beta, c, (int)ldc));
    return MT_OK;
}

mt_status mt_cuda_linear_forward(const mt_tensor *x, const mt_tensor *w, const mt_tensor *b,
                                 const mt_tensor *prelu, const mt_tensor *y) {
    long long n = x->shape[0], in = w->shape[1], out = w->shape[0];
    /* y^T [out, n] = w [out, in] x^T [in, n] */
    MT_TRY(gemm(CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, mt_tensor_data(w), in, mt_tensor_data(x),
                in, 0.0f, mt_tensor_data(y), out));
    if (!b && !prelu) return MT_OK;
    return mt_cuda_bias_prelu(mt_tensor_data(y), n, out, 1, b ? mt_tensor_data(b) : NULL,
                              prelu ? mt_tensor_data(prelu) : NULL);
}

mt_status mt_cuda_linear_backward_input(const mt_tensor *dy, const mt_tensor *w,
                                        const mt_tensor *dx) {
    long long n = dy->shape[0], in = w->shape[1], out = w->shape[0];
    /* dx^T [in, n] = w^T [in, out] dy^T [out, n] */
    return gemm(CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, mt_tensor_data(w), in, mt_tensor_data(dy),
                out, 0.0f, mt_tensor_data(dx), in);
}

mt_status mt_cuda_linear_backward_params(const mt_tensor *x, const mt_tensor *dy,
                                         const mt_tensor *dw, const mt_tensor *db) {
    long long n = x->shape[0], in = dw->shape[1], out = dw->shape[0];
    /* dw^T [in, out] += x^T [in, n] dy [n, out] */
    MT_TRY(gemm(CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, mt_tensor_data(x), in, mt_tensor_data(dy),
                out, 1.0f, mt_tensor_data(dw), in));
    if (!db) return MT_OK;
    return mt_cuda_channel_sum(mt_tensor_data(dy), n, out, 1, mt_tensor_data(db));
}

/* ---- PReLU --------------------------------------------------------------------------------- */

/* n, c and the values per plane of x [N, C, ...]. */
static void planes_of(const mt_tensor *x, long long *n, long long *c, long long *hw) {
    *n = x->shape[0];
    *c = x->shape[1];
    *hw = *n * *c > 0 ? mt_tensor_numel(x) / (*n * *c) : 0;
}

struct prelu_fwd_op {
    const float *x, *a;
    float *y;
    __device__ void operator()(long long i, int c) const {
        const float v = x[i], neg = a[c] * v;
        y[i] = v > 0.0f ? v : neg;
    }
};

mt_status mt_cuda_prelu_forward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y) {
    long long n, c, hw;
    planes_of(x, &n, &c, &hw);
    return for_each(prelu_fwd_op{mt_tensor_data(x), mt_tensor_data(a), mt_tensor_data(y)}, n, c,
                    hw);
}

/* The PReLU backward of one element from its output gradient g: dx (when wanted) and the
 * element's share of the slope gradient. */
__device__ __forceinline__ double prelu_grad(const float *x, const float *a, float *dx,
                                             long long i, int c, float g) {
    const float v = x[i];
    if (dx) dx[i] = v > 0.0f ? g : a[c] * g;
    return v > 0.0f ? 0.0 : (double)(v * g);
}

struct prelu_bwd_op {
    const float *x, *a, *dy;
    float *dx;
    __device__ double operator()(long long i, int c) const {
        return prelu_grad(x, a, dx, i, c, dy[i]);
    }
};

/* Adapts a value function to for_each (its value dropped). */
template <class F>
struct discard {
    F f;
    __device__ void operator()(long long i, int c) const { (void)f(i, c); }
};

mt_status mt_cuda_prelu_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *dy,
                                 const mt_tensor *dx, const mt_tensor *da) {
    long long n, c, hw;
    planes_of(x, &n, &c, &hw);
    prelu_bwd_op f = {mt_tensor_data(x), mt_tensor_data(a), mt_tensor_data(dy),
                      dx ? mt_tensor_data(dx) : NULL};
    if (da) return channel_reduce(f, n, c, hw, mt_tensor_data(da));
    if (!dx) return MT_OK;
    return for_each(discard<prelu_bwd_op>{f}, n, c, hw);
}

/* ---- max pooling --------------------------------------------------------------------------- */

static pool_geom geom_of(const mt_tensor *x, const mt_tensor *y, const mt_pool2d_desc *d) {
    pool_geom g = {(int)x->shape[2], (int)x->shape[3], (int)y->shape[2], (int)y->shape[3],
                   d->kernel_h, d->kernel_w, d->stride_h, d->stride_w};
    return g;
}

/* Offset in its plane of the first maximum of window (oy, ox) of plane p, and the maximum,
 * of the values v(offset) (x itself, or PReLU(x)): the first element, then each larger one. */
template <class V>
__device__ __forceinline__ int window_argmax(const pool_geom &g, int oy, int ox, V v,
                                             float *value) {
    int y0 = oy * g.sh, x0 = ox * g.sw;
    int y1 = min(y0 + g.kh, g.h), x1 = min(x0 + g.kw, g.w);
    int best = y0 * g.w + x0;
    float m = v(best);
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            float e = v(yy * g.w + xx);
            if (e > m) {
                m = e;
                best = yy * g.w + xx;
            }
        }
    *value = m;
    return best;
}

/* The windows holding input row iy (or column): [first, last] of the output rows. */
__device__ __forceinline__ void windows_of(int i, int k, int s, int out, int *first, int *last) {
    int f = i - k + 1 <= 0 ? 0 : (i - k + 1 + s - 1) / s;
    int l = i / s;
    *first = f;
    *last = l < out - 1 ? l : out - 1;
}

struct plane_values {
    const float *p;
    __device__ float operator()(int i) const { return p[i]; }
};

/* One thread per pooled output of planes of x: the maximum of the values v(plane) gives over
 * the window, into y, and its offset into at (when at is not NULL). */
template <class V>
__global__ void pool_fwd_kernel(V v, float *y, float *at, long long planes, pool_geom g) {
    long long total = planes * g.oh * g.ow;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)blockDim.x * gridDim.x) {
        long long plane = o / ((long long)g.oh * g.ow);
        int r = (int)(o - plane * g.oh * g.ow);
        float m;
        int best = window_argmax(g, r / g.ow, r % g.ow, v.of(plane), &m);
        y[o] = m;
        if (at) at[o] = (float)best;
    }
}

/* The values of plane p of x, as they are or through PReLU with the plane's channel slope. */
struct plain_planes {
    const float *x;
    long long hw;
    __device__ plane_values of(long long p) const { return plane_values{x + p * hw}; }
};

mt_status mt_cuda_maxpool2d_forward(const mt_tensor *x, const mt_tensor *y,
                                    const mt_pool2d_desc *d) {
    long long planes = x->shape[0] * x->shape[1];
    long long n = mt_tensor_numel(y);
    pool_geom geom = geom_of(x, y, d);
    pool_fwd_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        plain_planes{mt_tensor_data(x), (long long)geom.h * geom.w}, mt_tensor_data(y), NULL,
        planes, geom);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* Offset of the first element of window (oy, ox) equal to m (the first element when none
 * is: a NaN maximum), as the CPU's search with a known maximum. */
__device__ __forceinline__ int window_match(const pool_geom &g, const float *x, int oy, int ox,
                                            float m) {
    int y0 = oy * g.sh, x0 = ox * g.sw;
    int y1 = min(y0 + g.kh, g.h), x1 = min(x0 + g.kw, g.w);
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++)
            if (x[yy * g.w + xx] == m) return yy * g.w + xx;
    return y0 * g.w + x0;
}

/* One thread per input element: the sum of the gradients of the windows whose maximum it is. */
__global__ void pool_bwd_kernel(const float *x, const float *y, const float *dy, float *dx,
                                long long planes, pool_geom g) {
    long long total = planes * g.h * g.w;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long plane = i / ((long long)g.h * g.w);
        int at = (int)(i - plane * g.h * g.w), iy = at / g.w, ix = at % g.w;
        const float *xp = x + plane * g.h * g.w;
        const long long ob = plane * g.oh * g.ow;
        int oy0, oy1, ox0, ox1;
        windows_of(iy, g.kh, g.sh, g.oh, &oy0, &oy1);
        windows_of(ix, g.kw, g.sw, g.ow, &ox0, &ox1);
        float s = 0.0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                int best;
                if (y) {
                    best = window_match(g, xp, oy, ox, y[ob + oy * g.ow + ox]);
                } else {
                    float m;
                    best = window_argmax(g, oy, ox, plane_values{xp}, &m);
                }
                if (best == at) s += dy[ob + oy * g.ow + ox];
            }
        dx[i] = s;
    }
}

mt_status mt_cuda_maxpool2d_backward(const mt_tensor *x, const mt_tensor *y, const mt_tensor *dy,
                                     const mt_tensor *dx, const mt_pool2d_desc *d) {
    long long planes = x->shape[0] * x->shape[1];
    long long n = mt_tensor_numel(x);
    pool_bwd_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(
        mt_tensor_data(x), y ? mt_tensor_data(y) : NULL, mt_tensor_data(dy), mt_tensor_data(dx),
        planes, geom_of(x, dy, d));
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* ---- PReLU + max pooling (training) -------------------------------------------------------- */

struct prelu_plane_values {
    const float *p;
    float a;
    __device__ float operator()(int i) const {
        const float v = p[i], neg = a * v;
        return v > 0.0f ? v : neg;
    }
};

struct prelu_planes {
    const float *x, *a;
    long long hw;
    int c;
    __device__ prelu_plane_values of(long long p) const {
        return prelu_plane_values{x + p * hw, a[p % c]};
    }
};

mt_status mt_cuda_prelu_pool_forward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *y,
                                     const mt_tensor *at, const mt_pool2d_desc *d) {
    long long planes = x->shape[0] * x->shape[1];
    long long n = mt_tensor_numel(y);
    pool_geom geom = geom_of(x, y, d);
    prelu_planes v = {mt_tensor_data(x), mt_tensor_data(a), (long long)geom.h * geom.w,
                      (int)x->shape[1]};
    pool_fwd_kernel<<<mt_cuda_blocks(n), 256, 0, mt_cuda_stream()>>>(v, mt_tensor_data(y),
                                                                     mt_tensor_data(at), planes,
                                                                     geom);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

/* One element of the pair's backward: the pooled gradient routed to it (the windows whose
 * recorded maximum it is, in row-major order), then PReLU's backward. */
struct prelu_pool_bwd_op {
    const float *x, *a, *at, *dy;
    float *dx;
    pool_geom g;
    __device__ double operator()(long long i, int c) const {
        const long long hw = (long long)g.h * g.w;
        long long plane = i / hw;
        int pos = (int)(i - plane * hw), iy = pos / g.w, ix = pos % g.w;
        const long long ob = plane * g.oh * g.ow;
        int oy0, oy1, ox0, ox1;
        windows_of(iy, g.kh, g.sh, g.oh, &oy0, &oy1);
        windows_of(ix, g.kw, g.sw, g.ow, &ox0, &ox1);
        const float fpos = (float)pos;
        float s = 0.0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (at[ob + oy * g.ow + ox] == fpos) s += dy[ob + oy * g.ow + ox];
        return prelu_grad(x, a, dx, i, c, s);
    }
};

mt_status mt_cuda_prelu_pool_backward(const mt_tensor *x, const mt_tensor *a, const mt_tensor *at,
                                      const mt_tensor *dy, const mt_tensor *dx,
                                      const mt_tensor *da, const mt_pool2d_desc *d) {
    long long n = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
    prelu_pool_bwd_op f = {mt_tensor_data(x), mt_tensor_data(a), mt_tensor_data(at),
                           mt_tensor_data(dy), dx ? mt_tensor_data(dx) : NULL,
                           geom_of(x, dy, d)};
    if (da) return channel_reduce(f, n, c, hw, mt_tensor_data(da));
    if (!dx) return MT_OK;
    return for_each(discard<prelu_pool_bwd_op>{f}, n, c, hw);
}

/* ---- softmax over channels ----------------------------------------------------------------- */

/* One thread per (sample, position): the channels' maximum, exponentials and their sum in
 * channel order, as the CPU. y may be x. */
__global__ void softmax_fwd_kernel(const float *x, float *y, long long n, int c, long long hw) {
    long long total = n * hw;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)blockDim.x * gridDim.x) {
        long long s = t / hw, p = t - s * hw;
        const float *xs = x + s * c * hw + p;
        float *ys = y + s * c * hw + p;
        float m = xs[0];
        for (int k = 1; k < c; k++) m = fmaxf(m, xs[k * hw]);
        float sum = 0.0f;
        for (int k = 0; k < c; k++) {
            float e = expf(xs[k * hw] - m);
            ys[k * hw] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int k = 0; k < c; k++) ys[k * hw] *= inv;
    }
}

mt_status mt_cuda_softmax_forward(const mt_tensor *x, const mt_tensor *y) {
    long long n, c, hw;
    planes_of(x, &n, &c, &hw);
    softmax_fwd_kernel<<<mt_cuda_blocks(n * hw), 256, 0, mt_cuda_stream()>>>(
        mt_tensor_data(x), mt_tensor_data(y), n, (int)c, hw);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}

__global__ void softmax_bwd_kernel(const float *y, const float *dy, float *dx, long long n, int c,
                                   long long hw) {
    long long total = n * hw;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)blockDim.x * gridDim.x) {
        long long s = t / hw, p = t - s * hw, off = s * c * hw + p;
        float dot = 0.0f;
        for (int k = 0; k < c; k++) dot += dy[off + k * hw] * y[off + k * hw];
        for (int k = 0; k < c; k++) dx[off + k * hw] = y[off + k * hw] * (dy[off + k * hw] - dot);
    }
}

mt_status mt_cuda_softmax_backward(const mt_tensor *y, const mt_tensor *dy, const mt_tensor *dx) {
    long long n, c, hw;
    planes_of(y, &n, &c, &hw);
    softmax_bwd_kernel<<<mt_cuda_blocks(n * hw), 256, 0, mt_cuda_stream()>>>(
        mt_tensor_data(y), mt_tensor_data(dy), mt_tensor_data(dx), n, (int)c, hw);
    MT_CUDA_CHECK_LAUNCH();
    return MT_OK;
}
