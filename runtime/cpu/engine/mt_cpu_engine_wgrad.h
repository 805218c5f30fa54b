/*
 * mt_cpu_engine_wgrad.h - convolution parameter gradients: dots over im2col chunks or the
 * wide grid (or one sample per lane), per-range partial sums; both gradients in one pass;
 * training's conv -> PReLU -> pooling gradients from the pooled gradient.
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* Pixels per chunk of the weight-gradient pass (the dY chunk stays in L2). */
#define ENGINE_PC 512

/* Per-range partial sums of the parameter gradients (scratch slot 2, zeroed): range t's dW
 * [cout*k] then db [cout] at part + t * (cout*k + cout). */
static float *grad_parts(const mt_conv_geom *g, int64_t ranges) {
    const int64_t per = g->cout * g->cin * g->kh * g->kw + g->cout;
    float *part = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(per * ranges));
    if (part) memset(part, 0, sizeof(float) * (size_t)(per * ranges));
    return part;
}

/* dw, db (may be NULL) += the partial sums, in range order. */
static void add_grad_parts(const mt_conv_geom *g, const float *part, int64_t ranges, float *dw,
                           float *db) {
    const int64_t nw = g->cout * g->cin * g->kh * g->kw, per = nw + g->cout;
    for (int64_t t = 0; t < ranges; t++) {
        const float *pt = part + t * per;
        for (int64_t i = 0; i < nw; i++) dw[i] += pt[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++) db[i] += pt[nw + i];
    }
}

/* expand_dy's result formed from training's pooled gradient instead of a stored dY: per
 * plane, the pooled gradient routed to the forward's maxima (in the separate pass's order),
 * then the PReLU gradient written onto the wide grid, the slope sums into part. Returns 0 on
 * an offset outside its plane. */
static int expand_pooled(const mt_conv_geom *g, const mt_pool_grad *pg, int64_t s0, int64_t n,
                         int64_t qs, float *dst, float *plane, double *part) {
    const int64_t p = g->oh * g->ow;
    for (int64_t s = 0; s < n; s++)
        for (int64_t c = 0; c < g->cout; c++) {
            const int64_t pi = (s0 + s) * g->cout + c;
            const float *z = pg->z + pi * p, *at = pg->at + pi * pg->php;
            const float *gy = pg->gy + pi * pg->php;
            memset(plane, 0, sizeof(float) * (size_t)p);
            for (int64_t o = 0; o < pg->php; o++) {
                const float f = at[o];
                if (!(f >= 0.0f && f < (float)p)) return 0;
                plane[(int64_t)f] += gy[o];
            }
            part[c] += mt_prelu_negative_dot(z, plane, p);
            /* over the whole plane in place (a short row's scalar tail branches on the sign),
             * then its rows onto the wide grid */
            mt_prelu_grad_row(z, pg->slope[c], plane, plane, p);
            float *d = dst + (s * g->cout + c) * qs;
            wide_plane(g, plane, qs, d);
        }
    return 1;
}

/* Samples [s0, s1) of the wide path's weight gradient (range `thread`'s partial sums in
 * jb->part) in groups: each group's dY expanded onto the wide grid (from jb->dy, or formed
 * from the pooled gradient jb->pg), then dots of its rows with the input's tap rows; with
 * jb->dx the input gradient too, from the same expanded dY. Small maps go one sample per
 * lane (lanes_bwd_range). */
static void wide_bwdw_range(void *ctx, int64_t s0, int64_t s1, int thread) {
    wide_job *jb = (wide_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t q = jb->q, qs = jb->qs, sample = g->cin * g->h * g->w, cout = g->cout;
    const int64_t k = jb->k, p = g->oh * g->ow;
    if (!jb->pg && lanes_dot_ok(g, q)) {
        lanes_bwd_range(jb, s0, s1, thread);
        return;
    }
    float *dyw = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(jb->group * cout * qs));
    if (!dyw) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = jb->part + (int64_t)thread * (cout * k + cout); /* thread: the range index */
    float *db = dw + cout * k;
    float *plane = NULL;
    int64_t *doff = NULL;
    if (jb->pg) {
        plane = (float *)mt_cpu_scratch(5, sizeof(float) * (size_t)p);
        if (!plane) {
            __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
            return;
        }
    } else if (jb->dx) {
        /* the input gradient too, from the same expanded dY (engine_conv_backward) */
        doff = (int64_t *)mt_cpu_scratch(5, sizeof(int64_t) * (size_t)cout);
        if (!doff) {
            __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        for (int64_t c = 0; c < cout; c++) doff[c] = c * qs;
        memset(jb->dx + s0 * sample, 0, sizeof(float) * (size_t)((s1 - s0) * sample));
    }
    const int64_t nvec = (q + ENGINE_VEC - 1) / ENGINE_VEC;
    const int tail = (int)(q - (nvec - 1) * ENGINE_VEC);
    for (int64_t g0 = s0; g0 < s1; g0 += jb->group) {
        const int64_t gn = s1 - g0 < jb->group ? s1 - g0 : jb->group;
        if (jb->pg) {
            double *part = jb->da_part + (int64_t)thread * mt_prelu_part_stride(cout);
            if (!expand_pooled(g, jb->pg, g0, gn, qs, dyw, plane, part)) {
                __atomic_store_n(&jb->bad, 1, __ATOMIC_RELAXED);
                return;
            }
            /* the bias gradient from the expanded rows (zeros in the dropped columns) */
            for (int64_t s = 0; s < gn; s++)
                for (int64_t m = 0; m < cout; m++) db[m] += sum_run(dyw + (s * cout + m) * qs, q);
        } else {
            expand_dy(g, jb->dy, g0, gn, qs, dyw);
            if (doff) bwdx_group(jb, g0, gn, dyw, doff);
            for (int64_t s = g0; s < g0 + gn; s++)
                for (int64_t m = 0; m < cout; m++)
                    db[m] += sum_run(jb->dy + (s * cout + m) * p, p);
        }
        const float *xg = jb->x + g0 * sample;
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            const float *brow[ENGINE_DOT_NR];
            for (int j = 0; j < nr; j++) brow[j] = xg + jb->off[t0 + j];
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot_wide(mr, nr, gn, nvec, tail, dyw + m0 * qs, qs, cout * qs, brow, sample,
                                dw + m0 * k + t0, k);
            }
        }
    }
}

static void conv_bwdw_range(void *ctx, int64_t c0, int64_t c1, int thread) {
    conv_job *jb = (conv_job *)ctx;
    const mt_conv_geom *g = jb->g;
    const int64_t cout = g->cout, k = jb->k, taps = g->kh * g->kw;
    const int64_t pcv = (ENGINE_PC + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
    float *dyc = (float *)mt_cpu_scratch(4, sizeof(float) * (size_t)(cout * pcv + ENGINE_SLACK));
    float *colc =
        (float *)mt_cpu_scratch(5, sizeof(float) * (size_t)(ENGINE_DOT_NR * pcv + ENGINE_SLACK));
    segment *seg = (segment *)mt_cpu_scratch(1, sizeof(segment) * ENGINE_PC);
    if (!dyc || !colc || !seg) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *dw = jb->part + (int64_t)thread * (cout * k + cout); /* thread: the range index */
    float *db = dw + cout * k;
    /* the range is in chunks; chunk i covers columns [i*PC, (i+1)*PC) */
    for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t col0 = ch * ENGINE_PC;
        const int n = (int)(jb->ncols - col0 < ENGINE_PC ? jb->ncols - col0 : ENGINE_PC);
        const int64_t ld = (n + ENGINE_VEC - 1) / ENGINE_VEC * ENGINE_VEC;
        pack_nchw_cols(jb->dy, cout, jb->p, col0, n, dyc, ld);
        for (int64_t m = 0; m < cout; m++) db[m] += sum_run(dyc + m * ld, n);
        int ns = row_segments(g, col0, n, seg);
        for (int64_t t0 = 0; t0 < k; t0 += ENGINE_DOT_NR) {
            const int nr = (int)(k - t0 < ENGINE_DOT_NR ? k - t0 : ENGINE_DOT_NR);
            for (int j = 0; j < nr; j++) {
                const int64_t tap = t0 + j, c = tap / taps, r = tap % taps;
                float *d = colc + j * ld;
                im2col_row(g, jb->x, c, r / g->kw, r % g->kw, seg, ns, d);
                for (int64_t u = n; u < ld; u++) d[u] = 0.0f;
            }
            for (int64_t m0 = 0; m0 < cout; m0 += ENGINE_DOT_MR) {
                const int mr = (int)(cout - m0 < ENGINE_DOT_MR ? cout - m0 : ENGINE_DOT_MR);
                engine_dot(mr, nr, ld / ENGINE_VEC, dyc + m0 * ld, ld, colc, ld, dw + m0 * k + t0,
                           k);
            }
        }
    }
}

static mt_status engine_conv_backward_params(const mt_conv_geom *g, const float *x,
                                             const float *dy, float *dw, float *db) {
    const int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
    if (conv_is_linear(g)) return engine_linear_backward_params(g->n, k, g->cout, x, dy, dw, db);
    if (toeplitz_ok(g)) return toeplitz_backward_params(g, x, dy, dw, db);
    const int wide = wide_ok(g);
    wide_job wj = {.x = x, .dy = dy};
    conv_job jb = {.g = g, .x = x, .dy = dy, .k = k, .ncols = g->n * p, .p = p};
    int64_t items, grain;
    if (wide) {
        MT_TRY(wide_prepare(&wj, g));
        items = g->n;
        grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    } else {
        items = (jb.ncols + ENGINE_PC - 1) / ENGINE_PC;
        grain = grain_for(2.0 * (double)(g->cout * k * ENGINE_PC));
    }
    /* one partial sum per range, reduced in range order */
    const int64_t ranges = range_count(items, grain);
    float *part = grad_parts(g, ranges);
    if (!part) return MT_ERR_OOM;
    int failed;
    if (wide) {
        wj.part = part;
        run_ranges(items, grain, wide_bwdw_range, &wj);
        failed = wj.failed;
    } else {
        jb.part = part;
        run_ranges(items, grain, conv_bwdw_range, &jb);
        failed = jb.failed;
    }
    if (failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    add_grad_parts(g, part, ranges, dw, db);
    return MT_OK;
}

/* Both gradients of a convolution (mt_engine.conv_backward). On the wide path one pass: each
 * sample group's dY is expanded onto the wide grid once for the input gradient and the
 * weight gradient (the same ranges and arithmetic as the two passes apart, so the same
 * numbers); elsewhere the two passes. */
static mt_status engine_conv_backward(const mt_conv_geom *g, const float *x, const float *dy,
                                      const float *w, float *dx, float *dw, float *db) {
    if (conv_is_linear(g) || toeplitz_ok(g) || !wide_ok(g)) {
        MT_TRY(engine_conv_backward_input(g, dy, w, dx));
        return engine_conv_backward_params(g, x, dy, dw, db);
    }
    const int64_t k = g->cin * g->kh * g->kw;
    mblocks mb;
    MT_TRY(plan_rows(&mb, k));
    /* A = W^T: element (tap, cout) at w[cout*k + tap] */
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * k));
    if (!apack) return MT_ERR_OOM;
    pack_all_rows(w, 1, k, &mb, g->cout, apack);
    wide_job wj = {.x = x, .dy = dy, .apack = apack, .dx = dx, .mb = &mb};
    MT_TRY(wide_prepare(&wj, g));
    mblocks lmb;
    if (lanes_dot_ok(g, wj.q)) MT_TRY(lanes_bwdx_prepare(&wj, w, &lmb));
    const int64_t items = g->n, grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    const int64_t ranges = range_count(items, grain);
    float *part = grad_parts(g, ranges);
    if (!part) return MT_ERR_OOM;
    wj.part = part;
    run_ranges(items, grain, wide_bwdw_range, &wj);
    if (wj.failed) return mt_fail(MT_ERR_OOM, "conv2d_backward: out of memory for packing buffers");
    add_grad_parts(g, part, ranges, dw, db);
    return MT_OK;
}

/* Training's conv -> PReLU -> max pooling: the parameter gradients from the pooled gradient
 * (mt_engine.conv_backward_params_pooled). Runs the wide path's weight gradient with each
 * group's dY formed in place (expand_pooled), so the convolution's output gradient is never
 * written out and read back. */
static int engine_conv_backward_pooled_ok(const mt_conv_geom *g) {
    return !conv_is_linear(g) && !toeplitz_ok(g) && wide_ok(g);
}

static mt_status engine_conv_backward_params_pooled(const mt_conv_geom *g, const float *x,
                                                    const mt_pool_grad *pg, float *dw,
                                                    float *db, float *da) {
    if (!engine_conv_backward_pooled_ok(g))
        return mt_fail(MT_ERR_UNSUPPORTED, "conv2d_prelu_pool_backward: geometry not supported");
    const int64_t k = g->cin * g->kh * g->kw;
    wide_job wj = {.x = x, .pg = pg};
    MT_TRY(wide_prepare(&wj, g));
    const int64_t items = g->n, grain = grain_for(2.0 * (double)(g->cout * k * wj.q));
    /* one partial sum per range, reduced in range order */
    const int64_t ranges = range_count(items, grain), stride = mt_prelu_part_stride(g->cout);
    float *part = grad_parts(g, ranges);
    double *da_part = (double *)mt_cpu_scratch(0, sizeof(double) * (size_t)(stride * ranges));
    if (!part || !da_part) return MT_ERR_OOM;
    memset(da_part, 0, sizeof(double) * (size_t)(stride * ranges));
    wj.part = part;
    wj.da_part = da_part;
    run_ranges(items, grain, wide_bwdw_range, &wj);
    if (wj.bad)
        return mt_fail(MT_ERR_ARG, "conv2d_prelu_pool_backward: the maxima positions hold a "
                                   "value outside the %lldx%lld map (they must come from "
                                   "prelu_pool_forward on this layer's output)",
                       (long long)g->oh, (long long)g->ow);
    if (wj.failed)
        return mt_fail(MT_ERR_OOM, "conv2d_prelu_pool_backward: out of memory for packing buffers");
    add_grad_parts(g, part, ranges, dw, db);
    for (int64_t c = 0; c < g->cout; c++) {
        double sum = 0.0;
        for (int64_t t = 0; t < ranges; t++) sum += da_part[t * stride + c];
        da[c] += (float)sum;
    }
    return MT_OK;
}
