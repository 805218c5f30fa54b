/*
 * mt_cpu_engine_pack.h - packing for the micro-kernels: row blocks of A, panels of B, and a
 * convolution's im2col panels and their adjoint (col2im), built from runs of output columns
 * that lie in one output row.
 * Part of the engine driver: mt_cpu_engine_impl.h includes the parts in order, once per
 * instruction set.
 */

/* Packs rows [m0, m0+mr) x columns [0, k) of a strided matrix (element (i, kk) at
 * src[i*rs + kk*cs]) into dst[kk*mr + i]. */
static void pack_rows(const float *src, int64_t rs, int64_t cs, int64_t m0, int mr, int64_t k,
                      float *dst) {
    if (rs == 1) {
        for (int64_t kk = 0; kk < k; kk++) {
            const float *s = src + m0 + kk * cs;
            float *d = dst + kk * mr;
            for (int i = 0; i < mr; i++) d[i] = s[i];
        }
        return;
    }
    /* a loop of one load and one store: unrolled, so that its speed does not hang on where
     * the code happens to fall (measured: 40% slower when it straddled a 64-byte line) */
    for (int i = 0; i < mr; i++) {
        const float *s = src + (m0 + i) * rs;
#pragma GCC unroll 4
        for (int64_t kk = 0; kk < k; kk++) dst[kk * mr + i] = s[kk * cs];
    }
}

/* Packs every row block of a strided matrix; block b starts at dst + start[b] * k. */
static void pack_all_rows(const float *src, int64_t rs, int64_t cs, const mblocks *mb, int64_t k,
                          float *dst) {
    for (int64_t b = 0; b < mb->n; b++)
        pack_rows(src, rs, cs, block_start(mb, b), block_rows(mb, b), k,
                  dst + block_start(mb, b) * k);
}

/* Packs columns [n0, n0+nv) of a strided matrix (element (kk, j) at src[kk*rs + j*cs]) into
 * an ENGINE_NR-wide panel dst[kk*NR + j], zero beyond nv. */
static void pack_cols(const float *src, int64_t rs, int64_t cs, int64_t n0, int nv, int64_t k,
                      float *dst) {
    if (cs == 1) {
        for (int64_t kk = 0; kk < k; kk++) {
            const float *s = src + kk * rs + n0;
            float *d = dst + kk * ENGINE_NR;
            for (int j = 0; j < nv; j++) d[j] = s[j];
            for (int j = nv; j < ENGINE_NR; j++) d[j] = 0.0f;
        }
        return;
    }
    for (int j = 0; j < ENGINE_NR; j++) {
        if (j >= nv) {
            for (int64_t kk = 0; kk < k; kk++) dst[kk * ENGINE_NR + j] = 0.0f;
            continue;
        }
        const float *s = src + (n0 + j) * cs;
#pragma GCC unroll 4
        for (int64_t kk = 0; kk < k; kk++) dst[kk * ENGINE_NR + j] = s[kk * rs];
    }
}

/* ---- column geometry of a convolution ------------------------------------------------------ */

/* A run of consecutive output columns in one output row of one sample. */
typedef struct segment {
    int j0, len;    /* columns j0 .. j0+len-1 of the panel or chunk */
    int64_t b, oy, ox0;
} segment;

/* Splits columns [col0, col0+n) (column = (sample, oy, ox) in raster order) into runs
 * within one output row. Returns the number of runs (at most n). */
static int row_segments(const mt_conv_geom *g, int64_t col0, int n, segment *seg) {
    const int64_t p = g->oh * g->ow;
    int64_t b = col0 / p, q = col0 % p;
    int64_t oy = q / g->ow, ox = q % g->ow;
    int ns = 0, j = 0;
    while (j < n) {
        int len = (int)(g->ow - ox);
        if (len > n - j) len = n - j;
        seg[ns].j0 = j;
        seg[ns].len = len;
        seg[ns].b = b;
        seg[ns].oy = oy;
        seg[ns].ox0 = ox;
        ns++;
        j += len;
        ox = 0;
        if (++oy == g->oh) {
            oy = 0;
            b++;
        }
    }
    return ns;
}

static int conv_is_dense(const mt_conv_geom *g) {
    return g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* One row of im2col for tap (c, ky, kx) over the runs: dst[j] for the runs' columns.
 * Zero outside the input. */
static void im2col_row(const mt_conv_geom *g, const float *x, int64_t c, int64_t ky, int64_t kx,
                       const segment *seg, int ns, float *dst) {
    const int64_t hw = g->h * g->w;
    if (conv_is_dense(g)) {
        for (int s = 0; s < ns; s++)
            pack_run(dst + seg[s].j0,
                     x + (seg[s].b * g->cin + c) * hw + (seg[s].oy + ky) * g->w + seg[s].ox0 + kx,
                     seg[s].len);
        return;
    }
    for (int s = 0; s < ns; s++) {
        float *d = dst + seg[s].j0;
        int64_t iy = seg[s].oy * g->sh - g->ph + ky;
        if (iy < 0 || iy >= g->h) {
            for (int t = 0; t < seg[s].len; t++) d[t] = 0.0f;
            continue;
        }
        const float *row = x + (seg[s].b * g->cin + c) * hw + iy * g->w;
        for (int t = 0; t < seg[s].len; t++) {
            int64_t ix = (seg[s].ox0 + t) * g->sw - g->pw + kx;
            d[t] = ix >= 0 && ix < g->w ? row[ix] : 0.0f;
        }
    }
}

/* The adjoint of im2col_row: adds src[j] into dx at the positions im2col_row reads. */
static void col2im_row(const mt_conv_geom *g, float *dx, int64_t c, int64_t ky, int64_t kx,
                       const segment *seg, int ns, const float *src) {
    const int64_t hw = g->h * g->w;
    if (conv_is_dense(g)) {
        for (int s = 0; s < ns; s++)
            add_run(dx + (seg[s].b * g->cin + c) * hw + (seg[s].oy + ky) * g->w + seg[s].ox0 + kx,
                    src + seg[s].j0, seg[s].len);
        return;
    }
    for (int s = 0; s < ns; s++) {
        int64_t iy = seg[s].oy * g->sh - g->ph + ky;
        if (iy < 0 || iy >= g->h) continue;
        float *row = dx + (seg[s].b * g->cin + c) * hw + iy * g->w;
        const float *v = src + seg[s].j0;
        for (int t = 0; t < seg[s].len; t++) {
            int64_t ix = (seg[s].ox0 + t) * g->sw - g->pw + kx;
            if (ix >= 0 && ix < g->w) row[ix] += v[t];
        }
    }
}

/* The panel of im2col(x) for columns [col0, col0+nv): dst[k*NR + j], zero beyond nv. */
static void pack_im2col_panel(const mt_conv_geom *g, const float *x, const segment *seg, int ns,
                              int nv, const int64_t *off, float *dst) {
    if (conv_is_dense(g)) {
        /* the source of each run for tap 0, then one offset per tap */
        const float *src[ENGINE_NR];
        int j0[ENGINE_NR], len[ENGINE_NR];
        const int64_t hw = g->h * g->w;
        for (int s = 0; s < ns; s++) {
            src[s] = x + seg[s].b * g->cin * hw + seg[s].oy * g->w + seg[s].ox0;
            j0[s] = seg[s].j0;
            len[s] = seg[s].len;
        }
        if (off && pack_panel(dst, g->cin * g->kh * g->kw, off, src, j0, len, ns)) return;
        float *d = dst;
        for (int64_t c = 0; c < g->cin; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++, d += ENGINE_NR) {
                    const int64_t off = c * hw + ky * g->w + kx;
                    for (int s = 0; s < ns; s++) pack_run(d + seg[s].j0, src[s] + off, seg[s].len);
                }
    } else {
        int64_t k = 0;
        for (int64_t c = 0; c < g->cin; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++, k++)
                    im2col_row(g, x, c, ky, kx, seg, ns, dst + k * ENGINE_NR);
    }
    if (nv < ENGINE_NR) {
        const int64_t k = g->cin * g->kh * g->kw;
        for (int64_t kk = 0; kk < k; kk++)
            for (int j = nv; j < ENGINE_NR; j++) dst[kk * ENGINE_NR + j] = 0.0f;
    }
}

/* Columns [col0, col0+n) of an NCHW tensor t [N, C, P] viewed as a C x (N*P) matrix, packed
 * as dst[ch*ld + j] for ch < C (zero for j in [n, ld)). */
static void pack_nchw_cols(const float *t, int64_t ch, int64_t p, int64_t col0, int n, float *dst,
                           int64_t ld) {
    /* rows in order, runs in order within a row: pack_run's overspill is always rewritten */
    for (int64_t c = 0; c < ch; c++) {
        int64_t b = col0 / p, q = col0 % p;
        int j = 0;
        float *d = dst + c * ld;
        while (j < n) {
            int len = (int)(p - q);
            if (len > n - j) len = n - j;
            pack_run(d + j, t + (b * ch + c) * p + q, len);
            j += len;
            q = 0;
            b++;
        }
        for (int64_t u = n; u < ld; u++) d[u] = 0.0f;
    }
}
