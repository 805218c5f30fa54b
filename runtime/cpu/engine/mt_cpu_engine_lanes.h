/*
 * mt_cpu_engine_lanes.h - the backward passes of small maps with one sample per vector lane:
 * input and weight gradients of groups of ENGINE_VEC samples, transposed in and out.
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* Whether the backward passes run with one sample per vector lane (lanes_bwd_range) instead
 * of vectors along the wide grid: for maps whose wide rows fill their vectors poorly (RNet
 * conv2: 81 outputs on 7 vectors of 16), where the transposes cost less than the lanes
 * saved. */
static int lanes_dot_ok(const mt_conv_geom *g, int64_t q) {
    const int64_t nvec = (q + ENGINE_VEC - 1) / ENGINE_VEC;
    return 5 * g->oh * g->ow < 4 * nvec * ENGINE_VEC;
}

#if ENGINE_TRANSPOSE
/* VEC x VEC blocks transposed in registers. BACK 0: lanes from planes (src rows stride
 * apart, n of them; zero lanes for the rest); BACK 1: the inverse. */
INLINE void lanes_blocks(const int BACK, const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += ENGINE_VEC) {
        const int64_t len = stride - i0 < ENGINE_VEC ? stride - i0 : ENGINE_VEC;
        const mask_t m = M_FIRST(len);
        vec_t r[ENGINE_VEC];
#pragma GCC unroll 16
        for (int i = 0; i < ENGINE_VEC; i++) {
            if (!(BACK ? i < len : i < n))
                r[i] = V_ZERO();
            else
                r[i] = BACK ? V_LOADU(src + (i0 + i) * ENGINE_VEC)
                            : V_LOADU_M(src + i * stride + i0, m);
        }
        V_TRANSPOSE(r);
#pragma GCC unroll 16
        for (int i = 0; i < ENGINE_VEC; i++) {
            if (!(BACK ? i < n : i < len)) continue;
            if (BACK)
                V_STOREU_M(dst + i * stride + i0, m, r[i]);
            else
                V_STOREU(dst + (i0 + i) * ENGINE_VEC, r[i]);
        }
    }
}

/* dst[i*VEC + s] = src[s*stride + i] for i < stride, s < n; zero in lanes n .. VEC - 1. */
static void lanes_transpose(const float *src, int64_t stride, int n, float *dst) {
    lanes_blocks(0, src, stride, n, dst);
}

/* The inverse: dst[s*stride + i] = src[i*VEC + s] for i < stride, s < n. */
static void lanes_untranspose(const float *src, int64_t stride, int n, float *dst) {
    lanes_blocks(1, src, stride, n, dst);
}
#else
/* dst[i*VEC + s] = src[s*stride + i] for i < stride, s < n; zero in lanes n .. VEC - 1. */
static void lanes_transpose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 64) {
        const int64_t i1 = stride - i0 < 64 ? stride : i0 + 64;
        for (int s = 0; s < n; s++) {
            const float *r = src + s * stride;
            for (int64_t i = i0; i < i1; i++) dst[i * ENGINE_VEC + s] = r[i];
        }
        for (int s = n; s < ENGINE_VEC; s++)
            for (int64_t i = i0; i < i1; i++) dst[i * ENGINE_VEC + s] = 0.0f;
    }
}

/* The inverse: dst[s*stride + i] = src[i*VEC + s] for i < stride, s < n. */
static void lanes_untranspose(const float *src, int64_t stride, int n, float *dst) {
    for (int64_t i0 = 0; i0 < stride; i0 += 64) {
        const int64_t i1 = stride - i0 < 64 ? stride : i0 + 64;
        for (int s = 0; s < n; s++) {
            float *r = dst + s * stride;
            for (int64_t i = i0; i < i1; i++) r[i] = src[i * ENGINE_VEC + s];
        }
    }
}
#endif

/* dY of samples [s0, s0 + n) (n <= VEC), one sample per lane, onto a grid padded by kh - 1
 * rows and kw - 1 columns of zeros on each side: dyp[(c*PH*PW + (oy + kh-1)*PW + ox + kw-1)
 * * VEC + lane] (dyt: scratch of cout*oh*ow*VEC floats for the plain transpose). */
static void lanes_pad_dy(const mt_conv_geom *g, const float *dy, int64_t s0, int n, float *dyt,
                         float *dyp) {
    const int64_t p = g->oh * g->ow, pw = g->ow + 2 * (g->kw - 1), ph = g->oh + 2 * (g->kh - 1);
    lanes_transpose(dy + s0 * g->cout * p, g->cout * p, n, dyt);
    memset(dyp, 0, sizeof(float) * (size_t)(g->cout * ph * pw * ENGINE_VEC));
    for (int64_t c = 0; c < g->cout; c++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            copy_run(dyp + ((c * ph + oy + g->kh - 1) * pw + g->kw - 1) * ENGINE_VEC,
                     dyt + (c * p + oy * g->ow) * ENGINE_VEC, g->ow * ENGINE_VEC);
}

/* The input gradient of samples [s0, s0 + n) (n <= VEC) from their padded dY (lanes_pad_dy):
 * a full correlation with the flipped kernel, computed for every input pixel on the padded
 * grid's row stride (the kw - 1 columns past each row dropped) with the broadcast tile, K =
 * cout*kh*kw, rows = input channels (jb->la, row blocks jb->lmb, tap offsets jb->loff),
 * then turned back to one sample per plane. dxt: scratch of cin*h*w*VEC floats. */
static void lanes_bwdx(const wide_job *jb, int64_t s0, int n, const float *dyp, float *dxt) {
    const mt_conv_geom *g = jb->g;
    const int64_t pw = g->ow + 2 * (g->kw - 1), hw = g->h * g->w;
    const int64_t k2 = g->cout * g->kh * g->kw, cols = ((g->h - 1) * pw + g->w) * ENGINE_VEC;
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    for (int64_t c0 = 0; c0 < cols; c0 += ENGINE_NR) {
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        for (int64_t blk = 0; blk < jb->lmb->n; blk++) {
            const int64_t m0 = block_start(jb->lmb, blk);
            const int mr = block_rows(jb->lmb, blk);
            engine_tile_wide(mr, k2, jb->la + m0 * k2, dyp + c0, dyp + c0, nv, nv, jb->loff,
                             tile);
            for (int u = 0; u * ENGINE_VEC < nv; u++) {
                const int64_t q = c0 / ENGINE_VEC + u, iy = q / pw, ix = q % pw;
                if (ix >= g->w) continue;
                for (int i = 0; i < mr; i++)
                    copy_run(dxt + ((m0 + i) * hw + iy * g->w + ix) * ENGINE_VEC,
                             tile + i * ENGINE_NR + u * ENGINE_VEC, ENGINE_VEC);
            }
        }
    }
    lanes_untranspose(dxt, g->cin * hw, n, jb->dx + s0 * g->cin * hw);
}

/* Packs the lanes input gradient's weights and tap offsets into the calling thread's
 * scratch slots 8 and 9 (the workers use 6, 7, 10, 11): A[kk][ci] per row block of input
 * channels, kk = (cout, ky, kx), each tap at the flipped tap's offset in the padded dY. */
static mt_status lanes_bwdx_prepare(wide_job *jb, const float *w, mblocks *lmb) {
    const mt_conv_geom *g = jb->g;
    const int64_t taps = g->kh * g->kw, k2 = g->cout * taps;
    const int64_t pw = g->ow + 2 * (g->kw - 1), ph = g->oh + 2 * (g->kh - 1);
    MT_TRY(plan_rows(lmb, g->cin));
    float *la = (float *)mt_cpu_scratch(8, sizeof(float) * (size_t)(g->cin * k2));
    int64_t *loff = (int64_t *)mt_cpu_scratch(9, sizeof(int64_t) * (size_t)k2);
    if (!la || !loff) return MT_ERR_OOM;
    for (int64_t b = 0; b < lmb->n; b++) {
        const int64_t m0 = block_start(lmb, b);
        const int mr = block_rows(lmb, b);
        for (int64_t kk = 0; kk < k2; kk++)
            for (int i = 0; i < mr; i++)
                la[m0 * k2 + kk * mr + i] =
                    w[(kk / taps) * g->cin * taps + (m0 + i) * taps + kk % taps];
    }
    for (int64_t c = 0; c < g->cout; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++)
                loff[(c * g->kh + ky) * g->kw + kx] =
                    (c * ph * pw + (g->kh - 1 - ky) * pw + (g->kw - 1 - kx)) * ENGINE_VEC;
    jb->la = la;
    jb->loff = loff;
    jb->lmb = lmb;
    return MT_OK;
}

/* Samples [s0, s1) of the backward pass with one sample per vector lane (lanes_dot_ok), in
 * groups of VEC: dY transposed onto the padded grid, then the input gradient (when jb->dx;
 * jb->la packed) and the weight gradient, a dot over the output rows (oy) and their ow
 * pixels with no dropped columns and no partial vector, into range `range`'s partial sums
 * in jb->part (jb->part NULL: the input gradient alone). */
static void lanes_bwd_range(wide_job *jb, int64_t s0, int64_t s1, int range) {
    const mt_conv_geom *g = jb->g;
    const int64_t sample = g->cin * g->h * g->w, cout = g->cout, k = jb->k, p = g->oh * g->ow;
    const int64_t pw = g->ow + 2 * (g->kw - 1), pp = pw * (g->oh + 2 * (g->kh - 1));
    const int wgrad = jb->part != NULL;
    float *xt = wgrad ? (float *)mt_cpu_scratch(6, sizeof(float) * (size_t)(sample * ENGINE_VEC))
                      : NULL;
    float *dyt = (float *)mt_cpu_scratch(7, sizeof(float) * (size_t)(cout * p * ENGINE_VEC));
    float *dyp = (float *)mt_cpu_scratch(10, sizeof(float) * (size_t)(cout * pp * ENGINE_VEC));
    float *dxt = jb->dx ? (float *)mt_cpu_scratch(11, sizeof(float) * (size_t)(sample * ENGINE_VEC))
                        : NULL;
    if ((wgrad && !xt) || !dyt || !dyp || (jb->dx && !dxt)) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = wgrad ? jb->part + (int64_t)range * (cout * k + cout) : NULL;
    float *db = wgrad ? dw + cout * k : NULL;
    const float *dy0 = dyp + ((g->kh - 1) * pw + g->kw - 1) * ENGINE_VEC; /* output (0, 0) */
    for (int64_t b0 = s0; b0 < s1; b0 += ENGINE_VEC) {
        const int bn = (int)(s1 - b0 < ENGINE_VEC ? s1 - b0 : ENGINE_VEC);
        lanes_pad_dy(g, jb->dy, b0, bn, dyt, dyp);
        if (jb->dx) lanes_bwdx(jb, b0, bn, dyp, dxt);
        if (!wgrad) continue;
        for (int64_t s = b0; s < b0 + bn; s++)
            for (int64_t m = 0; m < cout; m++) db[m] += sum_run(jb->dy + (s * cout + m) * p, p);
        lanes_transpose(jb->x + b0 * sample, sample, bn, xt);
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            const float *brow[ENGINE_DOT_NR];
            for (int j = 0; j < nr; j++) brow[j] = xt + jb->off[t0 + j] * ENGINE_VEC;
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot_wide(mr, nr, g->oh, g->ow, ENGINE_VEC, dy0 + m0 * pp * ENGINE_VEC,
                                pp * ENGINE_VEC, pw * ENGINE_VEC, brow, g->w * ENGINE_VEC,
                                dw + m0 * k + t0, k);
            }
        }
    }
}

static void lanes_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    lanes_bwd_range((wide_job *)ctx, s0, s1, 0);
}
