/*
 * mt_cpu_engine_wide.h - the direct ("wide") path of stride-1 convolutions on large maps:
 * forward, and the input gradient from dY expanded onto the wide grid (the weight gradient
 * of the same grid is in mt_cpu_engine_wgrad.h).
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* ---- the "wide" direct path for stride-1 convolutions on large maps ------------------------ *
 * With stride 1 and no padding, output (oy, ox) reads input (oy + ky, ox + kx): computed on the
 * input-width grid q = oy * W + ox (q < Q = (OH-1) W + OW), tap k reads x[off_k + q] with
 * off_k = c H W + ky W + kx, a plain contiguous row. So the micro-kernel loads B straight from
 * the input (no im2col copy), the columns with ox >= OW (kw - 1 per row) are computed and
 * dropped, and the input gradient is a contiguous add per tap row. Used when those dropped
 * columns are few (P / Q >= 3/4) and a panel spans at most two samples (Q >= NR). */

static int64_t wide_cols(const mt_conv_geom *g) { return (g->oh - 1) * g->w + g->ow; }

static int wide_ok(const mt_conv_geom *g) {
    if (!conv_is_dense(g) || g->oh * g->ow == 1) return 0;
    const int64_t q = wide_cols(g);
    return q >= ENGINE_NR && 4 * g->oh * g->ow >= 3 * q;
}

/* off[k] = c*H*W + ky*W + kx for the K taps. */
static void tap_offsets(const mt_conv_geom *g, int64_t *off) {
    int64_t k = 0;
    for (int64_t c = 0; c < g->cin; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) off[k++] = c * g->h * g->w + ky * g->w + kx;
}

/* The valid (ox < OW) columns of wide range [q, q + n) of one sample as runs: panel column
 * j0 + t -> output index dst + t (oy * OW + ox). Returns the number of runs. */
typedef struct wide_run {
    int j0, len;
    int64_t dst;
} wide_run;

static int wide_runs(const mt_conv_geom *g, int64_t q, int n, int jbase, wide_run *r) {
    int nr = 0;
    int64_t w = q;
    while (w < q + n) {
        const int64_t row = w / g->w, col = w % g->w;
        if (col < g->ow) {
            int64_t len = g->ow - col;
            if (len > q + n - w) len = q + n - w;
            r[nr].j0 = jbase + (int)(w - q);
            r[nr].len = (int)len;
            r[nr].dst = row * g->ow + col;
            nr++;
            w += len;
        } else {
            w += g->w - col;
        }
    }
    return nr;
}

typedef struct wide_job {
    const mt_conv_geom *g;
    const float *x, *dy, *apack, *bias, *prelu;
    float *y, *dx, *part;
    const int64_t *off;
    const mblocks *mb;
    int64_t k, q, qs, group;
    const float *la;        /* lanes input gradient: packed flipped weights, or NULL */
    const int64_t *loff;    /* its tap offsets in the padded dY */
    const mblocks *lmb;     /* its row blocks (input channels) */
    const mt_pool_grad *pg; /* weight gradients: dY formed from a pooled gradient (or NULL) */
    double *da_part;        /* with pg: [ranges][mt_prelu_part_stride(cout)] slope sums */
    int failed, bad;
} wide_job;

/* Panels [p0, p1) of the wide columns of all samples, [0, N*Q): a panel may span two
 * samples, and one sample's panels may go to different threads (a batch of one image). */
static void wide_fwd_range(void *ctx, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, sample = g->cin * g->h * g->w, p = g->oh * g->ow;
    const int64_t cols = g->n * q;
    wide_run runs[2][ENGINE_NR];
    for (int64_t pi = p0; pi < p1; pi++) {
        const int64_t c0 = pi * ENGINE_NR;
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        const int64_t b = c0 / q, qq = c0 % q;
        const int split = (int)(q - qq < nv ? q - qq : nv);
        const float *src0 = jb->x + b * sample + qq;
        const float *src1 = split < nv ? jb->x + (b + 1) * sample - split : src0;
        int nrun[2];
        nrun[0] = wide_runs(g, qq, split, 0, runs[0]);
        nrun[1] = split < nv ? wide_runs(g, 0, nv - split, split, runs[1]) : 0;
        wide_out o;
        o.nrun = 0;
        o.ldc = p;
        for (int part = 0; part < 2; part++)
            for (int r = 0; r < nrun[part]; r++) {
                o.dst[o.nrun] = jb->y + (b + part) * g->cout * p + runs[part][r].dst;
                o.j0[o.nrun] = runs[part][r].j0;
                o.len[o.nrun] = runs[part][r].len;
                o.nrun++;
            }
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            wide_out ob = o;
            for (int r = 0; r < o.nrun; r++) ob.dst[r] += m0 * p;
            ob.bias = jb->bias ? jb->bias + m0 : NULL;
            ob.slope = jb->prelu ? jb->prelu + m0 : NULL;
            engine_tile_wide_store(mr, jb->k, jb->apack + m0 * jb->k, src0, src1, split, nv,
                                   jb->off, &ob);
        }
    }
}

/* One channel's oh x ow plane onto the wide grid (row stride w, qs values), each value
 * written once: a row's outputs, then its kw - 1 dropped columns, then zeros up to qs. */
static void wide_plane(const mt_conv_geom *g, const float *src, int64_t qs, float *d) {
#if ENGINE_ZFILL
    /* all rows but the last as whole vectors with zeros past ow, in ascending order (zeros
     * that run into the next row are overwritten by it), when they cover the dropped columns
     * and stay within qs: no masked stores, no scalar loop over the dropped columns */
    const int64_t span = (g->ow + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    if (g->oh > 1 && span >= g->w && (g->oh - 2) * g->w + span <= qs) {
        for (int64_t oy = 0; oy + 1 < g->oh; oy++)
            zfill_run(d + oy * g->w, src + oy * g->ow, g->ow);
        copy_run(d + (g->oh - 1) * g->w, src + (g->oh - 1) * g->ow, g->ow);
        for (int64_t j = (g->oh - 1) * g->w + g->ow; j < qs; j++) d[j] = 0.0f;
        return;
    }
#endif
    for (int64_t oy = 0; oy < g->oh; oy++) {
        float *row = d + oy * g->w;
        copy_run(row, src + oy * g->ow, g->ow);
        if (oy + 1 < g->oh)
            for (int64_t j = g->ow; j < g->w; j++) row[j] = 0.0f;
    }
    for (int64_t j = (g->oh - 1) * g->w + g->ow; j < qs; j++) d[j] = 0.0f;
}

/* dY of samples [s0, s0 + n) expanded onto the wide grid: dst[(s*C + c)*qs + oy*W + ox],
 * zeros in the dropped columns and up to qs. */
static void expand_dy(const mt_conv_geom *g, const float *dy, int64_t s0, int64_t n, int64_t qs,
                      float *dst) {
    const int64_t p = g->oh * g->ow;
    for (int64_t s = 0; s < n; s++)
        for (int64_t c = 0; c < g->cout; c++) {
            const float *src = dy + ((s0 + s) * g->cout + c) * p;
            float *d = dst + (s * g->cout + c) * qs;
            wide_plane(g, src, qs, d);
        }
}

/* dX of samples [g0, g0 + gn) (zeroed before) from their expanded dY (dyw; doff[c] = c*qs):
 * W^T times each panel of the wide grid, added back at the taps' offsets. */
static void bwdx_group(const wide_job *jb, int64_t g0, int64_t gn, const float *dyw,
                       const int64_t *doff) {
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    const int64_t cols = gn * q;
    for (int64_t c0 = 0; c0 < cols; c0 += ENGINE_NR) {
        const int nv = (int)(cols - c0 < ENGINE_NR ? cols - c0 : ENGINE_NR);
        const int64_t bl = c0 / q, qq = c0 % q;
        const int split = (int)(q - qq < nv ? q - qq : nv);
        const float *src0 = dyw + bl * cout * qs + qq;
        const float *src1 = split < nv ? dyw + (bl + 1) * cout * qs - split : src0;
        float *dx0 = jb->dx + (g0 + bl) * sample + qq, *dx1 = jb->dx + (g0 + bl + 1) * sample;
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            engine_tile_wide(mr, cout, jb->apack + m0 * cout, src0, src1, split, nv, doff, tile);
            for (int i = 0; i < mr; i++) {
                const int64_t off = jb->off[m0 + i];
                add_run(dx0 + off, tile + i * ENGINE_NR, split);
                if (split < nv) add_run(dx1 + off, tile + i * ENGINE_NR + split, nv - split);
            }
        }
    }
}

static void wide_bwdx_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    (void)thread;
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    memset(jb->dx + s0 * sample, 0, sizeof(float) * (size_t)((s1 - s0) * sample));
    float *dyw = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->group * cout * qs));
    int64_t *doff = (int64_t *)mt_cpu_scratch(5, sizeof(int64_t) * (size_t)cout);
    if (!dyw || !doff) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t c = 0; c < cout; c++) doff[c] = c * qs;
    for (int64_t g0 = s0; g0 < s1; g0 += jb->group) {
        const int64_t gn = s1 - g0 < jb->group ? s1 - g0 : jb->group;
        expand_dy(g, jb->dy, g0, gn, qs, dyw);
        bwdx_group(jb, g0, gn, dyw, doff);
    }
}

/* Samples per group of the backward passes: the group's expanded dY and input stay in L2. */
static int64_t wide_group(const mt_conv_geom *g, int64_t qs) {
    const int64_t bytes = 4 * (g->cout * qs + g->cin * g->h * g->w);
    int64_t n = (512 * 1024) / (bytes > 0 ? bytes : 1);
    return n < 1 ? 1 : n;
}

static mt_status wide_prepare(wide_job *jb, const mt_conv_geom *g) {
    jb->g = g;
    jb->k = g->cin * g->kh * g->kw;
    jb->q = wide_cols(g);
    jb->qs = (jb->q + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    jb->group = wide_group(g, jb->qs);
    int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)jb->k);
    if (!off) return MT_ERR_OOM;
    tap_offsets(g, off);
    jb->off = off;
    return MT_OK;
}
