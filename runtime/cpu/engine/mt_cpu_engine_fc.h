/*
 * mt_cpu_engine_fc.h - fully connected layers (and convolutions that are one): a blocked GEMM
 * over the broadcast micro-tile, B packed once, rows of A split over the threads.
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* C[M, N] (row stride ldc) = A * B for A given as a strided matrix (element (i, kk) at
 * a[i*ars + kk*acs]) and B already packed in panels (bpack, NR columns each, k rows), with
 * the epilogue of `tmpl` (bias, slope, accumulate) per tile. Rows are split over threads;
 * each thread packs groups of row blocks and runs every panel over each group. */
typedef struct fc_job {
    const float *a, *bpack;
    int64_t ars, acs, k, n, ldc;
    float *c;
    const mblocks *mb;
    mt_tile_out tmpl;
    int failed;
} fc_job;

#define FC_GROUP 4 /* row blocks packed together: A group in L2, each B panel read once */

static void fc_range(void *ctx, int64_t b0, int64_t b1, int thread) {
    (void)thread;
    fc_job *jb = (fc_job *)ctx;
    float *apack = (float *)mt_cpu_scratch(4, sizeof(float) *
                                                  (size_t)(FC_GROUP * ENGINE_MR_MAX * jb->k));
    if (!apack) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    const int64_t panels = (jb->n + ENGINE_NR - 1) / ENGINE_NR;
    for (int64_t g0 = b0; g0 < b1; g0 += FC_GROUP) {
        const int64_t g1 = g0 + FC_GROUP < b1 ? g0 + FC_GROUP : b1;
        int64_t off = 0;
        for (int64_t blk = g0; blk < g1; blk++) {
            pack_rows(jb->a, jb->ars, jb->acs, block_start(jb->mb, blk), block_rows(jb->mb, blk),
                      jb->k, apack + off);
            off += block_rows(jb->mb, blk) * jb->k;
        }
        for (int64_t pi = 0; pi < panels; pi++) {
            const int64_t n0 = pi * ENGINE_NR;
            const int nv = (int)(jb->n - n0 < ENGINE_NR ? jb->n - n0 : ENGINE_NR);
            const float *bp = jb->bpack + pi * jb->k * ENGINE_NR;
            off = 0;
            for (int64_t blk = g0; blk < g1; blk++) {
                const int64_t m0 = block_start(jb->mb, blk);
                const int mr = block_rows(jb->mb, blk);
                mt_tile_out o = jb->tmpl;
                o.c = jb->c + m0 * jb->ldc + n0;
                o.ldc = jb->ldc;
                o.nvalid = nv;
                if (o.bias) o.bias += o.col_params ? n0 : m0;
                if (o.slope) o.slope += o.col_params ? n0 : m0;
                engine_tile(mr, jb->k, apack + off, bp, &o);
                off += mr * jb->k;
            }
        }
    }
}

/* Packs B (element (kk, j) at b[kk*brs + j*bcs], k x n) into panels, then runs fc_range. */
static mt_status fc_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                         int64_t acs, const float *b, int64_t brs, int64_t bcs, float *c,
                         int64_t ldc, const mt_tile_out *tmpl, const char *what) {
    mblocks mb;
    MT_TRY(plan_rows(&mb, m));
    const int64_t panels = (n + ENGINE_NR - 1) / ENGINE_NR;
    float *bpack = (float *)mt_cpu_scratch(3, sizeof(float) * (size_t)(panels * k * ENGINE_NR));
    if (!bpack) return MT_ERR_OOM;
    for (int64_t pi = 0; pi < panels; pi++) {
        const int64_t n0 = pi * ENGINE_NR;
        const int nv = (int)(n - n0 < ENGINE_NR ? n - n0 : ENGINE_NR);
        pack_cols(b, brs, bcs, n0, nv, k, bpack + pi * k * ENGINE_NR);
    }
    fc_job jb = {.a = a, .bpack = bpack, .ars = ars, .acs = acs, .k = k, .n = n, .ldc = ldc,
                 .c = c, .mb = &mb, .tmpl = *tmpl};
    run_ranges(mb.n, grain_for(2.0 * (double)(ENGINE_MR_MAX * n * k)), fc_range, &jb);
    if (jb.failed) return mt_fail(MT_ERR_OOM, "%s: out of memory for packing buffers", what);
    return MT_OK;
}

static mt_status engine_linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                       const float *w, const float *b, const float *prelu,
                                       float *y) {
    /* Y[n, out] = X[n, in] * W^T: B element (kk, j) = w[j*in + kk] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    t.bias = b;
    t.slope = prelu;
    t.col_params = 1;
    return fc_gemm(n, out, in, x, in, 1, w, 1, in, y, out, &t, "linear");
}

static mt_status engine_linear_backward_input(int64_t n, int64_t in, int64_t out,
                                              const float *dy, const float *w, float *dx) {
    /* dX[n, in] = dY[n, out] * W[out, in] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    return fc_gemm(n, in, out, dy, out, 1, w, in, 1, dx, in, &t, "linear_backward");
}

static mt_status engine_linear_backward_params(int64_t n, int64_t in, int64_t out,
                                               const float *x, const float *dy, float *dw,
                                               float *db) {
    /* dW[out, in] += dY^T[out, n] * X[n, in]: A element (o, kk) = dy[kk*out + o] */
    mt_tile_out t;
    memset(&t, 0, sizeof t);
    t.accumulate = 1;
    MT_TRY(fc_gemm(out, in, n, dy, 1, out, x, in, 1, dw, in, &t, "linear_backward"));
    /* rows outer, outputs inner: each db[o] still sums in row order, and the inner loop is
     * a vector add instead of a serial chain */
    if (db)
        for (int64_t i = 0; i < n; i++) add_run(db, dy + i * out, out);
    return MT_OK;
}
