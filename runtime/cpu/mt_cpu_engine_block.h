/*
 * mt_cpu_engine_block.h - convolution + bias + PReLU + max pooling in one pass (the
 * evaluate-mode "conv block" of the MTCNN nets), part of the engine driver: included at the
 * end of mt_cpu_engine_impl.h, so it is compiled once per instruction set like the rest.
 *
 * Why: a pooled layer's convolution output is 2.25-4x larger than what the next layer reads
 * (PNet conv1 at the first pyramid level of a 640x480 image: 10 x 286 x 382 floats, 4.4 MB;
 * RNet conv1 over 350 crops: 19 MB), so writing it to memory and reading it back for a
 * separate pooling pass costs more than the pooling itself. Here each work item is a band
 * of pooled rows of one sample: the convolution rows the band's windows cover are computed
 * into a per-thread scratch block (kept in L2), with bias and PReLU applied as the tiles are
 * stored, and pooled from there into the output.
 *
 * Only dense convolutions (stride 1, no padding; all of MTCNN's) take this path; the caller
 * (mt_cpu_conv.c) composes the separate passes for others (mt_conv_pool_fusable). The
 * convolution is computed on the input-width grid as in the wide path (column q = oy W + ox
 * reads x[off_k + q]; columns ox >= OW are computed and never read), either with the direct
 * tile reading the input in place (many taps) or, for few taps (the Cin = 3 first layers),
 * with one packed im2col panel shared by all row blocks.
 */

/* Scratch budget of one band's convolution rows (stays in the 1 MB L2 with the input rows
 * and the packed weights). */
#define BLOCK_SCRATCH_BYTES (160 * 1024)

typedef struct block_job {
    const mt_conv_geom *g;
    const float *x, *apack, *bias, *prelu;
    float *y;
    const int64_t *off;
    const mblocks *mb;
    int64_t k;
    int pkh, pkw, psh, psw; /* pooling window and stride */
    int64_t ph, pw;         /* pooled size */
    int64_t band, bands;    /* pooled rows per band, bands per sample */
    int64_t lds;            /* scratch floats per channel */
    int packed;             /* 1: packed im2col panels; 0: direct tiles */
    int failed;
} block_job;

static inline float block_max(float a, float b) { return b > a ? b : a; }

/* Convolution rows needed by pooled rows [py0, py1). */
static void band_conv_rows(const block_job *jb, int64_t py0, int64_t py1, int64_t *r0, int64_t *r1) {
    *r0 = py0 * jb->psh;
    const int64_t e = (py1 - 1) * jb->psh + jb->pkh;
    *r1 = e < jb->g->oh ? e : jb->g->oh;
}

/* Wide-grid columns of convolution rows [r0, r1): the last row stops at OW. */
static int64_t block_cols(const mt_conv_geom *g, int64_t r0, int64_t r1) {
    return (r1 - r0 - 1) * g->w + g->ow;
}

/* Computes convolution rows [r0, r1) of sample xn into s (channel m at s + m*lds, row r at
 * (r - r0)*W), bias and PReLU applied. */
static void block_conv(const block_job *jb, const float *xn, int64_t r0, int64_t r1, float *s,
                       float *panel) {
    const mt_conv_geom *g = jb->g;
    const int64_t qn = block_cols(g, r0, r1), k = jb->k;
    for (int64_t c0 = 0; c0 < qn; c0 += ENGINE_NR) {
        const int nv = (int)(qn - c0 < ENGINE_NR ? qn - c0 : ENGINE_NR);
        const float *src = xn + r0 * g->w + c0;
        if (jb->packed) {
            const int j0 = 0;
            if (!pack_panel(panel, k, jb->off, &src, &j0, &nv, 1)) {
                /* rows in order: pack_run's overspill is rewritten by the next row */
                for (int64_t kk = 0; kk < k; kk++) {
                    float *d = panel + kk * ENGINE_NR;
                    pack_run(d, src + jb->off[kk], nv);
                    for (int j = nv; j < ENGINE_NR; j++) d[j] = 0.0f;
                }
            }
        }
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            const int mr = block_rows(jb->mb, blk);
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            o.c = s + m0 * jb->lds + c0;
            o.ldc = jb->lds;
            o.nvalid = nv;
            o.bias = jb->bias ? jb->bias + m0 : NULL;
            o.slope = jb->prelu ? jb->prelu + m0 : NULL;
            if (jb->packed)
                engine_tile(mr, k, jb->apack + m0 * k, panel, &o);
            else
                engine_tile_wide_rows(mr, k, jb->apack + m0 * k, src, nv, jb->off, &o);
        }
    }
}

/* Pools rows [py0, py1) of every channel from the scratch block (rows from r0) into y of
 * sample n. */
static void block_pool(const block_job *jb, int64_t n, int64_t py0, int64_t py1, int64_t r0,
                       const float *s, float *cm) {
    const mt_conv_geom *g = jb->g;
    const int64_t w = g->w, ow = g->ow, pw = jb->pw;
    const int pkw = jb->pkw, psw = jb->psw;
    /* pooled columns whose window lies inside the row (the rest are clipped) */
    int64_t full = ow >= pkw ? (ow - pkw) / psw + 1 : 0;
    if (full > pw) full = pw;
    for (int64_t m = 0; m < g->cout; m++) {
        const float *sm = s + m * jb->lds;
        float *ym = jb->y + ((n * g->cout + m) * jb->ph) * pw;
        for (int64_t py = py0; py < py1; py++) {
            const int64_t y0 = py * jb->psh;
            const int64_t y1 = y0 + jb->pkh < g->oh ? y0 + jb->pkh : g->oh;
            const float *a = sm + (y0 - r0) * w;
            /* the window rows' maximum per column */
            const float *col = a;
            if (y1 - y0 == 2) {
                const float *b = a + w;
                for (int64_t c = 0; c < ow; c++) cm[c] = block_max(a[c], b[c]);
                col = cm;
            } else if (y1 - y0 == 3) {
                const float *b = a + w, *d = b + w;
                for (int64_t c = 0; c < ow; c++) cm[c] = block_max(block_max(a[c], b[c]), d[c]);
                col = cm;
            } else if (y1 - y0 > 3) {
                for (int64_t c = 0; c < ow; c++) cm[c] = a[c];
                for (int64_t r = 1; r < y1 - y0; r++)
                    for (int64_t c = 0; c < ow; c++) cm[c] = block_max(cm[c], a[r * w + c]);
                col = cm;
            }
            float *yr = ym + py * pw;
            int64_t px = 0;
            if (psw == 2 && pkw == 2)
                for (; px < full; px++) yr[px] = block_max(col[2 * px], col[2 * px + 1]);
            else if (psw == 2 && pkw == 3)
                for (; px < full; px++)
                    yr[px] = block_max(block_max(col[2 * px], col[2 * px + 1]), col[2 * px + 2]);
            for (; px < pw; px++) {
                const int64_t x0 = px * psw;
                const int64_t x1 = x0 + pkw < ow ? x0 + pkw : ow;
                float v = col[x0];
                for (int64_t c = x0 + 1; c < x1; c++) v = block_max(v, col[c]);
                yr[px] = v;
            }
        }
    }
}

static void block_range(void *ctx, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    block_job *jb = (block_job *)ctx;
    const mt_conv_geom *g = jb->g;
    float *s = (float *)mt_cpu_scratch(
        4, sizeof(float) * (size_t)(g->cout * jb->lds + ENGINE_SLACK));
    const int64_t pan = jb->packed ? jb->k * ENGINE_NR + ENGINE_SLACK : 0;
    float *panel = (float *)mt_cpu_scratch(5, sizeof(float) * (size_t)(pan + g->w + 64));
    if (!s || !panel) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *cm = panel + (pan + 15) / 16 * 16;
    const int64_t sample = g->cin * g->h * g->w;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n = it / jb->bands, bi = it % jb->bands;
        const int64_t py0 = bi * jb->band;
        const int64_t py1 = py0 + jb->band < jb->ph ? py0 + jb->band : jb->ph;
        int64_t r0, r1;
        band_conv_rows(jb, py0, py1, &r0, &r1);
        block_conv(jb, jb->x + n * sample, r0, r1, s, panel);
        block_pool(jb, n, py0, py1, r0, s, cm);
    }
}

static mt_status engine_conv_pool_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd,
                                          int64_t ph, int64_t pw, const float *x, const float *w,
                                          const float *b, const float *prelu, float *y) {
    block_job jb = {.g = g, .x = x, .bias = b, .prelu = prelu, .y = y, .pkh = pd->kernel_h,
                    .pkw = pd->kernel_w, .psh = pd->stride_h, .psw = pd->stride_w, .ph = ph,
                    .pw = pw};
    jb.k = g->cin * g->kh * g->kw;
    /* few taps: packing one panel for all row blocks beats reading the input per block */
    jb.packed = jb.k < 64;
    mblocks mb;
    MT_TRY(plan_rows(&mb, g->cout));
    jb.mb = &mb;
    float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * jb.k));
    int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)jb.k);
    if (!apack || !off) return MT_ERR_OOM;
    pack_all_rows(w, jb.k, 1, &mb, jb.k, apack);
    tap_offsets(g, off);
    jb.apack = apack;
    jb.off = off;
    /* the most pooled rows whose convolution rows fit the scratch budget, then bands of
     * even size */
    const int64_t row_bytes = 4 * g->cout * g->w;
    int64_t band = 1;
    while (band < ph && ((band * jb.psh + jb.pkh) * row_bytes) <= BLOCK_SCRATCH_BYTES) band++;
    jb.bands = (ph + band - 1) / band;
    jb.band = (ph + jb.bands - 1) / jb.bands;
    int64_t rows_most = (jb.band - 1) * jb.psh + jb.pkh;
    if (rows_most > g->oh) rows_most = g->oh;
    const int64_t cols = (rows_most - 1) * g->w + g->ow;
    jb.lds = (cols + ENGINE_NR - 1) / ENGINE_NR * ENGINE_NR;
    const double item_flops = 2.0 * (double)(g->cout * jb.k) * (double)(rows_most * g->w);
    run_ranges(g->n * jb.bands, grain_for(item_flops), block_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d_pool: out of memory for scratch buffers");
    return MT_OK;
}
