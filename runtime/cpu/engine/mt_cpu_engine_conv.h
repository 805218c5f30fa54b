/*
 * mt_cpu_engine_conv.h - convolution forward and input gradient: the path each geometry
 * takes (as a fully connected layer, banded Winograd, wide, im2col panels; small maps through
 * their dense Toeplitz matrix).
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* ---- convolution forward ------------------------------------------------------------------ */

typedef struct conv_job {
    const mt_conv_geom *g;
    const int64_t *off; /* tap offsets (dense convolutions), or NULL */
    const float *x, *dy, *apack, *bias, *prelu;
    float *y, *dx, *part;
    const mblocks *mb;
    int64_t k, ncols, p;
    int failed;
} conv_job;

/* Stores a tile that spans several samples: columns [col0, col0+nv), rows [m0, m0+mr),
 * one contiguous run per sample and row. */
static void scatter_tile(const conv_job *jb, const float *tile, int64_t m0, int mr, int64_t col0,
                         int nv) {
    const int64_t p = jb->p, cout = jb->g->cout;
    int64_t b = col0 / p, q = col0 % p;
    int j = 0;
    while (j < nv) {
        int len = (int)(p - q);
        if (len > nv - j) len = nv - j;
        for (int i = 0; i < mr; i++) {
            const int64_t m = m0 + i;
            bias_prelu_run(jb->y + (b * cout + m) * p + q, tile + i * ENGINE_NR + j, len,
                           jb->bias ? jb->bias[m] : 0.0f, jb->prelu ? jb->prelu[m] : 0.0f,
                           jb->prelu != NULL);
        }
        j += len;
        q = 0;
        b++;
    }
}

static void conv_fwd_range(void *ctx, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    float *panel =
        (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->k * ENGINE_NR + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(5, sizeof(segment) * ENGINE_NR);
    if (!panel || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    for (int64_t pi = p0; pi < p1; pi++) {
        const int64_t col0 = pi * ENGINE_NR;
        const int nv = (int)(jb->ncols - col0 < ENGINE_NR ? jb->ncols - col0 : ENGINE_NR);
        int ns = row_segments(g, col0, nv, seg);
        pack_im2col_panel(g, jb->x, seg, ns, nv, jb->off, panel);
        const int64_t b = col0 / jb->p, q0 = col0 % jb->p;
        const int inside = q0 + nv <= jb->p; /* one sample: rows of the tile are contiguous */
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            const float *a = jb->apack + m0 * jb->k;
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            if (inside) {
                o.c = jb->y + (b * g->cout + m0) * jb->p + q0;
                o.ldc = jb->p;
                o.nvalid = nv;
                o.bias = jb->bias ? jb->bias + m0 : NULL;
                o.slope = jb->prelu ? jb->prelu + m0 : NULL;
                engine_tile(mr, jb->k, a, panel, &o);
            } else {
                o.c = tile;
                o.ldc = ENGINE_NR;
                o.nvalid = ENGINE_NR;
                engine_tile(mr, jb->k, a, panel, &o);
                scatter_tile(jb, tile, m0, mr, col0, nv);
            }
        }
    }
}

/* A kernel covering the whole unpadded input (1x1 output) is a fully connected layer with the
 * same memory layouts: weight [Cout, Cin*kh*kw], input [N, Cin*H*W], output [N, Cout]. */
static int conv_is_linear(const mt_conv_geom *g) {
    return g->oh == 1 && g->ow == 1 && g->ph == 0 && g->pw == 0 && g->kh == g->h && g->kw == g->w;
}

static mt_status engine_conv_forward(const mt_conv_geom *g, const float *x, const float *w,
                                     const float *b, const float *prelu, float *y) {
    if (conv_is_linear(g))
        return engine_linear_forward(g->n, g->cin * g->h * g->w, g->cout, x, w, b, prelu, y);
    if (wino_ok(g)) return block_forward(g, NULL, g->oh, g->ow, x, w, b, prelu, y);
    mblocks mb;
    MT_TRY(plan_rows(&mb, g->cout));
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, k, 1, &mb, k, apack);
    /* forward: with few taps (the Cin = 3 first layers) the im2col panel, packed once for all
     * row blocks, beats reading the input once per block (measured on Zen 5); a 1x1 kernel's
     * panel would be a plain copy of the input (PNet's heads), so those read it in place */
    if (wide_ok(g) && (k >= 64 || g->kh * g->kw == 1)) {
        wide_job wj = {.x = x, .apack = apack, .bias = b, .prelu = prelu, .y = y, .mb = &mb};
        MT_TRY(wide_prepare(&wj, g));
        const int64_t panels = (g->n * wj.q + ENGINE_NR - 1) / ENGINE_NR;
        run_ranges(panels, grain_for(2.0 * (double)(g->cout * k * ENGINE_NR)), wide_fwd_range,
                   &wj);
        return MT_OK;
    }
    conv_job jb = {.g = g, .x = x, .apack = apack, .bias = b, .prelu = prelu, .y = y, .mb = &mb,
                   .k = k, .ncols = g->n * p, .p = p};
    if (conv_is_dense(g)) {
        int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)k);
        if (!off) return MT_ERR_OOM;
        tap_offsets(g, off);
        jb.off = off;
    }
    const int64_t panels = (jb.ncols + ENGINE_NR - 1) / ENGINE_NR;
    run_ranges(panels, grain_for(2.0 * (double)(g->cout * k * ENGINE_NR)), conv_fwd_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d: out of memory for packing buffers");
    return MT_OK;
}

/* ---- convolution: input gradient ----------------------------------------------------------- */

static void conv_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t cout = g->cout, taps = g->kh * g->kw;
    float *panel =
        (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(cout * ENGINE_NR + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(5, sizeof(segment) * ENGINE_NR);
    if (!panel || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    const int64_t per = g->cin * g->h * g->w;
    memset(jb->dx + s0 * per, 0, sizeof(float) * (size_t)((s1 - s0) * per));
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    const int64_t c_end = s1 * jb->p;
    for (int64_t col0 = s0 * jb->p; col0 < c_end; col0 += ENGINE_NR) {
        const int nv = (int)(c_end - col0 < ENGINE_NR ? c_end - col0 : ENGINE_NR);
        pack_nchw_cols(jb->dy, cout, jb->p, col0, nv, panel, ENGINE_NR);
        /* the panel is [cout][NR]: exactly the k-major layout the micro-kernel reads */
        int ns = row_segments(g, col0, nv, seg);
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            o.c = tile;
            o.ldc = ENGINE_NR;
            o.nvalid = ENGINE_NR;
            engine_tile(mr, cout, jb->apack + m0 * cout, panel, &o);
            for (int i = 0; i < mr; i++) {
                const int64_t tap = m0 + i;
                const int64_t c = tap / taps, r = tap % taps;
                col2im_row(g, jb->dx, c, r / g->kw, r % g->kw, seg, ns, tile + i * ENGINE_NR);
            }
        }
    }
}

/* ---- small maps: the convolution as its dense (Toeplitz) matrix ----------------------------- *
 * On maps of a few pixels (PNet conv2 at 12x12: 5x5 in, 3x3 out) the input gradient's
 * per-row col2im runs are a handful of values each and dominate. The convolution is then
 * the linear layer y[N, cout*P] = x[N, cin*H*W] T^T with T[(co, oy, ox), (ci, iy, ix)] =
 * w[co, ci, iy - oy*sh + ph, ix - ox*sw + pw] (zero where that is no tap), and the input
 * gradient one dense GEMM dx = dy T: more FLOPs (H*W / (kh*kw) times), at the GEMM's rate.
 * Used when that ratio is at most 3 and T is small (it is rebuilt at every call). */

#define TOEPLITZ_MAX_FLOATS 65536

static int toeplitz_ok(const mt_conv_geom *g) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w;
    return !conv_is_linear(g) && !wide_ok(g) && hw <= 3 * g->kh * g->kw &&
           g->cout * p * g->cin * hw <= TOEPLITZ_MAX_FLOATS;
}

/* The entries of T [cout*P, cin*H*W] that hold a tap of w [cout, cin, kh, kw]: with fold
 * 0, T is built from w (zero elsewhere); with fold 1, each tap of w gets its T entries added,
 * over the output positions in order (w is then the gradient). */
static void toeplitz_walk(const mt_conv_geom *g, float *w, float *t, int fold) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w, in = g->cin * hw;
    if (!fold) memset(t, 0, sizeof(float) * (size_t)(g->cout * p * in));
    for (int64_t co = 0; co < g->cout; co++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float *row = t + (co * p + oy * g->ow + ox) * in;
                for (int64_t ci = 0; ci < g->cin; ci++)
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        const int64_t iy = oy * g->sh - g->ph + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            const int64_t ix = ox * g->sw - g->pw + kx;
                            if (ix < 0 || ix >= g->w) continue;
                            float *tap = w + ((co * g->cin + ci) * g->kh + ky) * g->kw + kx;
                            float *entry = row + ci * hw + iy * g->w + ix;
                            if (fold) *tap += *entry;
                            else *entry = *tap;
                        }
                    }
            }
}

/* dw += the parameter gradients through T: dT = dy^T x (one dense GEMM), then each tap's
 * entries of dT summed over the output positions in order; db += dy summed per channel. */
static mt_status toeplitz_backward_params(const mt_conv_geom *g, const float *x,
                                          const float *dy, float *dw, float *db) {
    const int64_t p = g->oh * g->ow, hw = g->h * g->w, in = g->cin * hw, rows = g->cout * p;
    float *dt = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(rows * in));
    if (!dt) return MT_ERR_OOM;
    memset(dt, 0, sizeof(float) * (size_t)(rows * in));
    MT_TRY(engine_linear_backward_params(g->n, in, rows, x, dy, dt, NULL));
    toeplitz_walk(g, dw, dt, 1);
    if (db)
        for (int64_t co = 0; co < g->cout; co++) {
            float sum = 0.0f;
            for (int64_t i = 0; i < g->n; i++) {
                const float *d = dy + (i * g->cout + co) * p;
                for (int64_t q = 0; q < p; q++) sum += d[q];
            }
            db[co] += sum;
        }
    return MT_OK;
}

static mt_status engine_conv_backward_input(const mt_conv_geom *g, const float *dy,
                                            const float *w, float *dx) {
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
    if (conv_is_linear(g)) return engine_linear_backward_input(g->n, k, g->cout, dy, w, dx);
    if (toeplitz_ok(g)) {
        const int64_t in = g->cin * g->h * g->w;
        float *t = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(g->cout * p * in));
        if (!t) return MT_ERR_OOM;
        toeplitz_walk(g, (float *)w, t, 0); /* fold 0 only reads w */
        return engine_linear_backward_input(g->n, in, g->cout * p, dy, t, dx);
    }
    mblocks mb;
    MT_TRY(plan_rows(&mb, k));
    /* A = W^T: element (tap, cout) at w[cout*k + tap] */
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, 1, k, &mb, g->cout, apack);
    wide_job wj = {.dy = dy, .apack = apack, .dx = dx, .mb = &mb};
    if (conv_is_dense(g)) MT_TRY(wide_prepare(&wj, g));
    if (wide_ok(g) || (conv_is_dense(g) && lanes_dot_ok(g, wj.q))) {
        /* small dense maps (RNet conv3: 4x4 -> 3x3) take the lanes path even where the wide
         * grid does not pay */
        if (lanes_dot_ok(g, wj.q)) {
            mblocks lmb;
            MT_TRY(lanes_bwdx_prepare(&wj, w, &lmb));
            run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * wj.q)), lanes_bwdx_range,
                       &wj);
            if (wj.failed)
                return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
            return MT_OK;
        }
        run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * wj.q)), wide_bwdx_range, &wj);
        if (wj.failed)
            return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
        return MT_OK;
    }
    conv_job jb = {.g = g, .dy = dy, .apack = apack, .dx = dx, .mb = &mb, .k = k,
                   .ncols = g->n * p, .p = p};
    run_ranges(g->n, grain_for(2.0 * (double)(g->cout * k * p)), conv_bwdx_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    return MT_OK;
}
