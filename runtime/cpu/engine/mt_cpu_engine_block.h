/*
 * mt_cpu_engine_block.h - convolution + bias + PReLU + max pooling in one pass (the
 * evaluate-mode "conv block" of the MTCNN nets), part of the engine driver: included by
 * mt_cpu_engine_impl.h, so it is compiled once per instruction set like the rest.
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
 * reads x[off_k + q]; columns ox >= OW are computed and never read) with the direct tile
 * reading the input in place: for the Cin = 3 first layers too, where it measured faster
 * than packing an im2col panel shared by the row blocks (the input rows stay in L1). The
 * pooling's stride-2 windows are formed in registers (pool_band_s2, but for the portable
 * engine).
 */

#include "cpu/engine/mt_cpu_engine_winograd.h"

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
    int pool;               /* 0: no pooling (Winograd only): rows go straight to y */
    int wino;               /* 1: Winograd F(2x2, 3x3) (apack holds the 16 U_xi); 0: direct */
    int pkh, pkw, psh, psw; /* pooling window and stride (1 without pooling) */
    int64_t ph, pw;         /* pooled size (the convolution's without pooling) */
    int64_t band, bands;    /* pooled rows per band, bands per sample */
    int64_t group;          /* samples per work item (bands == 1), else 1 */
    int64_t lds;            /* scratch floats per channel */
    int failed;
} block_job;

static inline float block_max(float a, float b) { return b > a ? b : a; }

/* Convolution rows needed by pooled rows [py0, py1). */
static void band_conv_rows(const block_job *jb, int64_t py0, int64_t py1, int64_t *r0,
                           int64_t *r1) {
    *r0 = py0 * jb->psh;
    const int64_t e = (py1 - 1) * jb->psh + jb->pkh;
    *r1 = e < jb->g->oh ? e : jb->g->oh;
}

/* Scratch floats per sample and channel for convolution rows [r0, r1): the wide-grid columns
 * of the direct path (the last row stops at OW), or whole row pairs of Winograd tiles. */
static int64_t block_cols(const block_job *jb, int64_t r0, int64_t r1) {
    const mt_conv_geom *g = jb->g;
    if (jb->wino) return (r1 - r0 + 1) / 2 * 2 * g->w;
    return (r1 - r0 - 1) * g->w + g->ow;
}

/* Direct path: convolution rows [r0, r1) of samples [n0, n0 + gn) into s, bias and PReLU
 * applied: each sample's qs = block_cols wide columns follow the previous sample's (channel m
 * at s + m*lds, sample b's row r at b*qs + (r - r0)*W). A tile may span two samples (gn > 1
 * only when qs >= ENGINE_NR). */
static void block_conv(const block_job *jb, int64_t n0, int64_t gn, int64_t r0, int64_t r1,
                       float *s) {
    const mt_conv_geom *g = jb->g;
    const int64_t qs = block_cols(jb, r0, r1), total = gn * qs, k = jb->k;
    const int64_t sample = g->cin * g->h * g->w;
    const float *x0 = jb->x + n0 * sample + r0 * g->w;
    for (int64_t c0 = 0; c0 < total; c0 += ENGINE_NR) {
        const int nv = (int)(total - c0 < ENGINE_NR ? total - c0 : ENGINE_NR);
        const int64_t b = c0 / qs, q = c0 % qs;
        const int split = (int)(qs - q < nv ? qs - q : nv);
        const float *src0 = x0 + b * sample + q;
        const float *src1 = split < nv ? x0 + (b + 1) * sample - split : src0;
        for (int64_t blk = 0; blk < jb->mb->n; blk++) {
            const int64_t m0 = block_start(jb->mb, blk);
            mt_tile_out o;
            memset(&o, 0, sizeof o);
            o.c = s + m0 * jb->lds + c0;
            o.ldc = jb->lds;
            o.nvalid = nv;
            o.bias = jb->bias ? jb->bias + m0 : NULL;
            o.slope = jb->prelu ? jb->prelu + m0 : NULL;
            engine_tile_wide_rows(block_rows(jb->mb, blk), k, jb->apack + m0 * k, src0, src1,
                                  split, nv, jb->off, &o);
        }
    }
}

/* Pools rows [py0, py1) of every channel from the scratch block (rows from r0, W apart) into
 * y of sample n. */
static void block_pool(const block_job *jb, int64_t n, int64_t py0, int64_t py1, int64_t r0,
                       const float *s) {
    const mt_conv_geom *g = jb->g;
    const int64_t w = g->w, ow = g->ow, pw = jb->pw;
    const int pkw = jb->pkw, psw = jb->psw;
#if !ENGINE_SERIAL_SUMS
    if (jb->psh == 2 && psw == 2 && (pkw == 2 || pkw == 3)) {
        /* only the band's last window can be clipped (ceil mode) */
        const int64_t ylast = 2 * (py1 - 1);
        const int64_t yend = ylast + jb->pkh < g->oh ? ylast + jb->pkh : g->oh;
        for (int64_t m = 0; m < g->cout; m++)
            pool_band_s2(jb->y + ((n * g->cout + m) * jb->ph + py0) * pw, pw,
                         s + m * jb->lds + (2 * py0 - r0) * w, w, py1 - py0, jb->pkh,
                         (int)(yend - ylast), pkw, pw, ow);
        return;
    }
#endif
    /* any window, in scan order (ties keep the first maximum) */
    for (int64_t m = 0; m < g->cout; m++) {
        const float *sm = s + m * jb->lds;
        float *ym = jb->y + ((n * g->cout + m) * jb->ph) * pw;
        for (int64_t py = py0; py < py1; py++) {
            const int64_t y0 = py * jb->psh;
            const int64_t y1 = y0 + jb->pkh < g->oh ? y0 + jb->pkh : g->oh;
            const float *a = sm + (y0 - r0) * w;
            float *yr = ym + py * pw;
            for (int64_t px = 0; px < pw; px++) {
                const int64_t x0 = px * psw;
                const int64_t x1 = x0 + pkw < ow ? x0 + pkw : ow;
                float v = a[x0];
                for (int64_t r = 0; r < y1 - y0; r++)
                    for (int64_t c = x0; c < x1; c++) v = block_max(v, a[r * w + c]);
                yr[px] = v;
            }
        }
    }
}

static void block_range(void *ctx, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    block_job *jb = (block_job *)ctx;
    const mt_conv_geom *g = jb->g;
    /* slack: the last tile stores whole vectors, the pooling reads past its last window */
    float *s = NULL, *vbuf = NULL, *mbuf = NULL;
    if (jb->pool)
        s = (float *)mt_cpu_scratch(
            4, sizeof(float) * (size_t)(g->cout * jb->lds + ENGINE_NR + ENGINE_POOL_SLACK));
    if (jb->wino) {
        vbuf = (float *)mt_cpu_scratch(
            5, sizeof(float) * (size_t)(wino_vbuf_floats(g) + wino_mbuf_floats(g)));
        mbuf = vbuf ? vbuf + wino_vbuf_floats(g) : NULL;
    }
    if ((jb->pool && !s) || (jb->wino && !vbuf)) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int64_t it = i0; it < i1; it++) {
        /* item: a band of one sample, or a group of whole samples */
        const int64_t n0 = (it / jb->bands) * jb->group, bi = it % jb->bands;
        const int64_t gn = g->n - n0 < jb->group ? g->n - n0 : jb->group;
        const int64_t py0 = bi * jb->band;
        const int64_t py1 = py0 + jb->band < jb->ph ? py0 + jb->band : jb->ph;
        int64_t r0, r1;
        band_conv_rows(jb, py0, py1, &r0, &r1);
        const int64_t qs = block_cols(jb, r0, r1);
        if (jb->wino) {
            const int64_t p = g->oh * g->ow;
            wino_dst d;
            if (jb->pool)
                d = (wino_dst){.base = s, .cs = jb->lds, .ss = qs, .rs = g->w,
                               .maxrows = r1 - r0 + 1, .maxcols = g->w};
            else
                d = (wino_dst){.base = jb->y + n0 * g->cout * p + r0 * g->ow, .cs = p,
                               .ss = g->cout * p, .rs = g->ow, .maxrows = r1 - r0,
                               .maxcols = g->ow};
            wino_conv(g, jb->mb, jb->apack, jb->x, jb->bias, jb->prelu, n0, gn, r0,
                      (r1 - r0 + 1) / 2, &d, vbuf, mbuf);
        } else {
            block_conv(jb, n0, gn, r0, r1, s);
        }
        if (jb->pool)
            for (int64_t b = 0; b < gn; b++) block_pool(jb, n0 + b, py0, py1, r0, s + b * qs);
    }
}

/* Conv + bias + PReLU, then the pooling pd (NULL: none; then only Winograd geometries), into
 * y [n, cout, ph, pw]. */
static mt_status block_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd, int64_t ph,
                               int64_t pw, const float *x, const float *w, const float *b,
                               const float *prelu, float *y) {
    block_job jb = {.g = g, .x = x, .bias = b, .prelu = prelu, .y = y, .pool = pd != NULL,
                    .wino = wino_ok(g), .pkh = 1, .pkw = 1, .psh = 1, .psw = 1, .ph = ph,
                    .pw = pw};
    if (pd) {
        jb.pkh = pd->kernel_h, jb.pkw = pd->kernel_w;
        jb.psh = pd->stride_h, jb.psw = pd->stride_w;
    }
    jb.k = g->cin * g->kh * g->kw;
    mblocks mb;
    MT_TRY(plan_rows(&mb, g->cout));
    jb.mb = &mb;
    if (jb.wino) {
        float *upack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(16 * g->cout * g->cin));
        float *tmp = (float *)mt_cpu_scratch(2, sizeof(float) * (size_t)(16 * g->cout * g->cin));
        if (!upack || !tmp) return MT_ERR_OOM;
        wino_weights(g, w, &mb, tmp, upack);
        jb.apack = upack;
    } else {
        float *apack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(g->cout * jb.k));
        int64_t *off = (int64_t *)mt_cpu_scratch(1, sizeof(int64_t) * (size_t)jb.k);
        if (!apack || !off) return MT_ERR_OOM;
        pack_all_rows(w, jb.k, 1, &mb, jb.k, apack);
        tap_offsets(g, off);
        jb.apack = apack;
        jb.off = off;
    }
    /* Bands: the most pooled rows whose convolution rows fit the scratch budget (without
     * pooling, 16 rows: the input rows of a band stay in L2), then bands of even size; when
     * a whole sample fits, groups of samples (small maps: fuller tiles). */
    int64_t band = 1;
    if (jb.pool) {
        const int64_t row_bytes = 4 * g->cout * g->w;
        while (band < ph && ((band * jb.psh + jb.pkh + 1) * row_bytes) <= BLOCK_SCRATCH_BYTES)
            band++;
    } else {
        band = ph < 16 ? ph : 16;
    }
    jb.bands = (ph + band - 1) / band;
    jb.band = (ph + jb.bands - 1) / jb.bands;
    if (jb.wino && !jb.pool && jb.band % 2 && jb.bands > 1) jb.band++; /* whole tile rows */
    jb.bands = (ph + jb.band - 1) / jb.band;
    int64_t r0, rows_most;
    band_conv_rows(&jb, 0, jb.band < ph ? jb.band : ph, &r0, &rows_most);
    const int64_t qs = block_cols(&jb, 0, rows_most);
    jb.group = 1;
    if (jb.bands == 1 && (jb.wino || qs >= ENGINE_NR)) {
        jb.group = jb.pool ? BLOCK_SCRATCH_BYTES / (4 * g->cout * qs) : 8;
        if (jb.group < 1) jb.group = 1;
        /* leave every thread a few items */
        const int64_t most = (g->n + 4 * mt_threads_count() - 1) / (4 * mt_threads_count());
        if (jb.group > most) jb.group = most > 0 ? most : 1;
    }
    jb.lds = (jb.group * qs + ENGINE_NR - 1) / ENGINE_NR * ENGINE_NR;
    const int64_t items = (g->n + jb.group - 1) / jb.group * jb.bands;
    const double item_flops = 2.0 * (double)(g->cout * jb.k) * (double)(jb.group * qs);
    run_ranges(items, grain_for(item_flops), block_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "conv2d: out of memory for scratch buffers");
    return MT_OK;
}

static mt_status engine_conv_pool_forward(const mt_conv_geom *g, const mt_pool2d_desc *pd,
                                          int64_t ph, int64_t pw, const float *x, const float *w,
                                          const float *b, const float *prelu, float *y) {
    return block_forward(g, pd, ph, pw, x, w, b, prelu, y);
}
