/*
 * mt_cpu_engine_winograd.h - Winograd F(2x2, 3x3) for the 3x3 stride-1 convolutions with
 * many input channels (RNet conv2, ONet conv2 and conv3, PNet conv3): part of the engine
 * driver (included by mt_cpu_engine_block.h, compiled once per instruction set).
 *
 * Each 2x2 block of outputs ("tile") comes from the 4x4 input patch d at its corner:
 *   Y = A^T [ U (.) V ] A,  U = G g G^T (per output and input channel),  V = B^T d B,
 * summed over the input channels, so that 16 products per tile and channel pair replace 36:
 * for each of the 16 positions xi of the 4x4 transformed tile, M_xi[Cout, tiles] =
 * U_xi[Cout, Cin] V_xi[Cin, tiles] is a matrix product, run by the engine's broadcast
 * micro-kernel on panels of ENGINE_NR tiles. F(2,3) is the variant whose rounding stays at
 * the level of the direct sum (PERF.md: 0.3-1e-6 against 0.5-3e-6 for one layer; the larger
 * tiles F(4,3), F(6,3) cost 10x that and are not used).
 *
 * Per panel of tiles: the input transform of every tile and input channel into vbuf
 * (vectors along the tiles: the lanes of one vector are tiles of one tile row, read from the
 * input rows by the engine's even/odd lane shuffles, wino_load), 16 x (row blocks) tiles
 * of the micro-kernel into mbuf, then the output transform of every tile and output channel
 * with bias and PReLU into the destination (wino_store interleaves the two output
 * columns of each tile). Rows and columns past the input read as zeros; outputs past the
 * destination's limits are not stored.
 *
 * The lanes of a run of tiles: one tile row a vector, lane t tile t (columns 2t .. 2t + 3 of
 * each input row, read as two vectors and split into even and odd lanes by the engine's
 * primitives); engines with ENGINE_WINO_GATHER also put several short tile rows in one vector
 * (wino_gather_*, defined by the engine file). Vectors go by pointer: the portable engine's
 * are wider than its ABI's registers.
 */

/* ---- the lanes of a run of tiles --------------------------------------------------------- */

/* nrows tile rows of len tiles; m: the loads of one input row from the first tile's first
 * column (columns [0, VEC), [VEC, 2 VEC), then [2 VEC, 2 VEC + 2) with ENGINE_SHIFT_IN, else
 * [2, VEC + 2), [VEC + 2, 2 VEC + 2)), clipped to the readable columns. */
typedef struct wino_rows {
    int nrows, len;
    mask_t m[4];
#if ENGINE_WINO_GATHER
    wino_gather gather; /* nrows > 1 */
#endif
} wino_rows;

/* Tile rows one vector takes for maps of ntx tiles a row, w input columns. */
static int wino_rows_per_vec(int64_t ntx, int64_t w) {
#if ENGINE_WINO_GATHER
    return wino_gather_rows(ntx, w);
#else
    (void)ntx, (void)w;
    return 1;
#endif
}

/* ncols: input columns readable from the first tile's first column. */
static void wino_rows_init(wino_rows *L, int nrows, int len, int64_t ncols) {
    L->nrows = nrows;
    L->len = len;
    L->m[0] = M_UPTO(ncols);
    L->m[1] = M_UPTO(ncols - ENGINE_VEC);
#if ENGINE_SHIFT_IN
    L->m[2] = M_UPTO(ncols - 2 * ENGINE_VEC < 2 ? ncols - 2 * ENGINE_VEC : 2);
    L->m[3] = L->m[2];
#else
    L->m[2] = M_UPTO(ncols - 2);
    L->m[3] = M_UPTO(ncols - 2 - ENGINE_VEC);
#endif
#if ENGINE_WINO_GATHER
    if (nrows > 1) wino_gather_init(&L->gather, nrows, len);
#endif
}

/* d_j[lane of tile (r, t)] = p[r][2t + j] (0 for p[r] == NULL and unreadable columns). */
INLINE void wino_load(const wino_rows *L, const float *const *p, vec_t *d) {
#if ENGINE_WINO_GATHER
    if (L->nrows > 1) {
        wino_gather_load(&L->gather, L->nrows, L->m[0], p, d);
        return;
    }
#endif
    const float *q = p[0];
    if (!q) {
        d[0] = d[1] = d[2] = d[3] = V_ZERO();
        return;
    }
    const vec_t v0 = V_LOADU_M(q, L->m[0]), v1 = V_LOADU_M(q + ENGINE_VEC, L->m[1]);
    d[0] = V_EVEN(v0, v1);
    d[1] = V_ODD(v0, v1);
#if ENGINE_SHIFT_IN
    const vec_t v2 = V_LOADU_M(q + 2 * ENGINE_VEC, L->m[2]);
    d[2] = V_SHIFT_IN(d[0], v2, 0);
    d[3] = V_SHIFT_IN(d[1], v2, 1);
#else
    const vec_t w0 = V_LOADU_M(q + 2, L->m[2]), w1 = V_LOADU_M(q + 2 + ENGINE_VEC, L->m[3]);
    d[2] = V_EVEN(w0, w1);
    d[3] = V_ODD(w0, w1);
#endif
}

/* d[l] = v[l] for the lanes l of k. */
INLINE void wino_store_n(float *d, const vec_t *v, mask_t k) { V_STOREU_M(d, k, *v); }

INLINE void wino_prelu(vec_t *v, float slope) { *v = V_PRELU(*v, V_SET1(slope)); }

/* Output row of tile row r (out[r], NULL: none): out[r][2t] = a[lane (r, t)], out[r][2t+1] =
 * b[lane (r, t)], the first n values: k0 = M_UPTO(n), k1 = M_UPTO(n - VEC) (computed once a
 * run). */
INLINE void wino_store(const wino_rows *L, float *const *out, const vec_t *a, const vec_t *b,
                       mask_t k0, mask_t k1) {
#if ENGINE_WINO_GATHER
    if (L->nrows > 1) {
        wino_gather_store(&L->gather, L->nrows, out, a, b, k0);
        return;
    }
#else
    (void)L;
#endif
    if (!out[0]) return;
    V_STOREU_M(out[0], k0, V_ZIP_LO(*a, *b));
    V_STOREU_M(out[0] + ENGINE_VEC, k1, V_ZIP_HI(*a, *b));
}

/* Whether a convolution runs as Winograd F(2x2, 3x3): 3x3, stride 1, no padding, and enough
 * input and output channels for the 16 small matrix products to run near the micro-kernel's
 * speed (with fewer, the transforms cost more than the products save). */
static int wino_ok(const mt_conv_geom *g) {
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->cin >= 16 && g->cout >= 16 && g->oh >= 2 && g->ow >= 2;
}

/* Tiles along a row and down a column of outputs. */
static int64_t wino_tiles_x(const mt_conv_geom *g) { return (g->ow + 1) / 2; }

/* The transformed weights U_xi = G g G^T, each packed in the micro-kernel's row blocks:
 * upack + xi * cout * cin. tmp holds 16 * cout * cin floats. */
static void wino_weights(const mt_conv_geom *g, const float *w, const mblocks *mb, float *tmp,
                         float *upack) {
    const int64_t cout = g->cout, cin = g->cin;
    for (int64_t m = 0; m < cout; m++)
        for (int64_t c = 0; c < cin; c++) {
            const float *k = w + (m * cin + c) * 9;
            float gg[4][3]; /* G g: rows g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2 */
            for (int j = 0; j < 3; j++) {
                gg[0][j] = k[j];
                gg[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
                gg[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
                gg[3][j] = k[6 + j];
            }
            for (int i = 0; i < 4; i++) {
                const float a = gg[i][0], b = gg[i][1], cc = gg[i][2];
                const float u[4] = {a, 0.5f * (a + b + cc), 0.5f * (a - b + cc), cc};
                for (int j = 0; j < 4; j++) tmp[((4 * i + j) * cout + m) * cin + c] = u[j];
            }
        }
    for (int xi = 0; xi < 16; xi++)
        pack_all_rows(tmp + xi * cout * cin, cin, 1, mb, cin, upack + xi * cout * cin);
}

/* Where the outputs go: channel m, sample b (of the group), row r (from the first computed
 * row) at base + m*cs + b*ss + r*rs; rows >= maxrows and columns >= maxcols are dropped. */
typedef struct wino_dst {
    float *base;
    int64_t cs, ss, rs;
    int64_t maxrows, maxcols;
} wino_dst;

/* Distance between the 16 matrices of V (Cin x NR) and of M (one row block, at most
 * ENGINE_MR_MAX x NR) in the scratch buffers: one cache line more than their size, which is
 * a multiple of 4 KB for 32 or 64 channels; at such distances the 16 rows a transform reads
 * or writes at once would all map to the same L1 set (measured: the input transform ran 2x
 * slower). */
static int64_t wino_vstride(const mt_conv_geom *g) { return g->cin * ENGINE_NR + 16; }
static int64_t wino_mstride(const mt_conv_geom *g) {
    (void)g;
    return ENGINE_MR_MAX * ENGINE_NR + 16;
}

/* A run of tiles at lanes j0 .. j0 + nrows * len of the panel: tiles tx0 .. tx0 + len of
 * nrows tile rows (several only whole ones: tx0 = 0, len = ntx); tile row r is row ty[r] of
 * sample b[r] of the group (consecutive rows may belong to consecutive samples). */
typedef struct wino_seg {
    int64_t b[4], ty[4], tx0;
    int j0, nrows, len;
} wino_seg;

/* Splits tiles [t0, t1) (t = (b * nty + ty) * ntx + tx) into runs: up to rpv whole tile rows
 * in a vector (small maps), else parts of one tile row of at most ENGINE_VEC tiles. */
static int wino_segments(int64_t t0, int64_t t1, int64_t nty, int64_t ntx, int rpv,
                         wino_seg *seg) {
    int ns = 0;
    for (int64_t t = t0; t < t1;) {
        const int64_t row = t / ntx, tx = t % ntx;
        int64_t len = ntx - tx, rows = 1;
        if (tx == 0 && rpv > 1) {
            rows = (t1 - t) / ntx;
            if (rows > rpv) rows = rpv;
            if (rows < 1) rows = 1;
        }
        if (len > t1 - t) len = t1 - t;
        if (len > ENGINE_VEC) len = ENGINE_VEC;
        wino_seg *sg = &seg[ns++];
        sg->tx0 = tx;
        sg->j0 = (int)(t - t0);
        sg->nrows = (int)rows;
        sg->len = (int)len;
        for (int r = 0; r < 4; r++) {
            const int64_t rr = r < rows ? row + r : row;
            sg->b[r] = rr / nty;
            sg->ty[r] = rr % nty;
        }
        t += rows * len;
    }
    return ns;
}

/* B^T d B of one channel's patches (d[i][j]: patch row i, column j, one tile per lane) into
 * the 16 rows v + xi*vs, the lanes of k. */
static inline void wino_input_store(vec_t d[4][4], float *v, int64_t vs, mask_t k) {
    /* rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, then the same on the columns */
    for (int j = 0; j < 4; j++) {
        const vec_t r0 = d[0][j] - d[2][j], r1 = d[1][j] + d[2][j];
        const vec_t r2 = d[2][j] - d[1][j], r3 = d[1][j] - d[3][j];
        d[0][j] = r0, d[1][j] = r1, d[2][j] = r2, d[3][j] = r3;
    }
    for (int i = 0; i < 4; i++) {
        const vec_t c0 = d[i][0] - d[i][2], c1 = d[i][1] + d[i][2];
        const vec_t c2 = d[i][2] - d[i][1], c3 = d[i][1] - d[i][3];
        float *vi = v + (4 * i) * vs;
        wino_store_n(vi, &c0, k);
        wino_store_n(vi + vs, &c1, k);
        wino_store_n(vi + 2 * vs, &c2, k);
        wino_store_n(vi + 3 * vs, &c3, k);
    }
}

/* V of one run of tiles of the group's samples at xs (sample b's channel c at xs + (b*Cin +
 * c)*H*W, rows from row0), every input channel: the 16 transformed values of each tile at
 * v + xi*vstride + c*NR + lane. */
static void wino_input(const mt_conv_geom *g, const float *xs, int64_t row0, const wino_seg *sg,
                       const wino_rows *L, float *v) {
    const int64_t plane = g->h * g->w, cin = g->cin, vs = wino_vstride(g);
    const mask_t k = M_UPTO(sg->nrows * sg->len); /* the run's lanes */
    /* input row of patch row i of tile row r, from channel 0 of sample 0 (-1: past the
     * input) */
    int64_t off[4][4];
    int inside = 1;
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < 4; r++) {
            const int64_t y = row0 + 2 * sg->ty[r] + i;
            off[i][r] = r < sg->nrows && y < g->h
                            ? sg->b[r] * cin * plane + y * g->w + 2 * sg->tx0 : -1;
            if (r < sg->nrows && y >= g->h) inside = 0;
        }
    if (sg->nrows == 1 && inside) {
        /* the common case: one tile row, all four input rows there */
        const int64_t o0 = off[0][0], o1 = off[1][0], o2 = off[2][0], o3 = off[3][0];
        for (int64_t c = 0; c < cin; c++) {
            const float *xc = xs + c * plane;
            const float *p0[4] = {xc + o0}, *p1[4] = {xc + o1}, *p2[4] = {xc + o2};
            const float *p3[4] = {xc + o3};
            vec_t d[4][4];
            wino_load(L, p0, d[0]);
            wino_load(L, p1, d[1]);
            wino_load(L, p2, d[2]);
            wino_load(L, p3, d[3]);
            wino_input_store(d, v + c * ENGINE_NR, vs, k);
        }
        return;
    }
    for (int64_t c = 0; c < cin; c++) {
        const float *xc = xs + c * plane;
        vec_t d[4][4];
        for (int i = 0; i < 4; i++) {
            const float *p[4];
            for (int r = 0; r < 4; r++) p[r] = off[i][r] >= 0 ? xc + off[i][r] : NULL;
            wino_load(L, p, d[i]);
        }
        wino_input_store(d, v + c * ENGINE_NR, vs, k);
    }
}

/* A^T M A of one output channel's tiles (m_xi at mm + xi*ms), plus bias, PReLU'd with slope
 * (NULL: none): y[a][b] holds output (2 ty + a, 2 tx + b) of each lane's tile. */
static inline void wino_output_tiles(const float *mm, int64_t ms, float bias, const float *slope,
                                     vec_t y[2][2]) {
    vec_t v[16];
    for (int xi = 0; xi < 16; xi++) memcpy(&v[xi], mm + xi * ms, sizeof v[xi]);
    /* rows m0 + m1 + m2, m1 - m2 - m3, then the same on the columns */
    vec_t s0[4], s1[4];
    for (int j = 0; j < 4; j++) {
        s0[j] = v[j] + v[4 + j] + v[8 + j];
        s1[j] = v[4 + j] - v[8 + j] - v[12 + j];
    }
    y[0][0] = s0[0] + s0[1] + s0[2] + bias;
    y[0][1] = s0[1] - s0[2] - s0[3] + bias;
    y[1][0] = s1[0] + s1[1] + s1[2] + bias;
    y[1][1] = s1[1] - s1[2] - s1[3] + bias;
    if (slope)
        for (int a = 0; a < 2; a++) {
            wino_prelu(&y[a][0], *slope);
            wino_prelu(&y[a][1], *slope);
        }
}

/* The outputs of one run of tiles for output channels [m0, m0 + mr) from M (channel m's m_xi
 * at mbuf + xi*mstride + (m - m0)*NR + lane), bias and PReLU applied, into d (the group's
 * first sample at base). */
static void wino_output(const mt_conv_geom *g, const wino_dst *d, const wino_seg *sg,
                        const wino_rows *L, const float *mbuf, int64_t m0, int mr,
                        const float *bias, const float *prelu, float *base) {
    const int64_t ms = wino_mstride(g);
    int64_t n = d->maxcols - 2 * sg->tx0;
    if (n > 2 * sg->len) n = 2 * sg->len;
    const mask_t k0 = M_UPTO(n), k1 = M_UPTO(n - ENGINE_VEC);
    /* output row a of tile row r, from the channel's start (-1: past the destination) */
    int64_t off[2][4];
    int inside = 1;
    for (int a = 0; a < 2; a++)
        for (int r = 0; r < 4; r++) {
            const int64_t y = 2 * sg->ty[r] + a;
            off[a][r] = r < sg->nrows && y < d->maxrows
                            ? sg->b[r] * d->ss + y * d->rs + 2 * sg->tx0 : -1;
            if (r < sg->nrows && y >= d->maxrows) inside = 0;
        }
    for (int64_t m = m0; m < m0 + mr; m++) {
        vec_t y[2][2];
        wino_output_tiles(mbuf + (m - m0) * ENGINE_NR, ms, bias ? bias[m] : 0.0f,
                          prelu ? prelu + m : NULL, y);
        float *out = base + m * d->cs;
        if (sg->nrows == 1 && inside) {
            /* the common case: one tile row, both output rows stored */
            float *r0[4] = {out + off[0][0]}, *r1[4] = {out + off[1][0]};
            wino_store(L, r0, &y[0][0], &y[0][1], k0, k1);
            wino_store(L, r1, &y[1][0], &y[1][1], k0, k1);
            continue;
        }
        for (int a = 0; a < 2; a++) {
            float *rows[4];
            for (int r = 0; r < 4; r++) rows[r] = off[a][r] >= 0 ? out + off[a][r] : NULL;
            wino_store(L, rows, &y[a][0], &y[a][1], k0, k1);
        }
    }
}

/* Scratch floats per thread: vbuf, mbuf (with a vector of slack for the last lane loads). */
static int64_t wino_vbuf_floats(const mt_conv_geom *g) { return 16 * wino_vstride(g); }
static int64_t wino_mbuf_floats(const mt_conv_geom *g) { return 16 * wino_mstride(g) + ENGINE_VEC; }

/* Asks for the input rows of tiles [t0, t1) to be brought into the cache: the input
 * transform reads 4 rows of every channel in a burst with little arithmetic in between, so
 * without this it waits on L3 (the previous layer's output of a crop batch is megabytes).
 * noipa: GCC's analysis counts a function of prefetches only as free of side effects and
 * deletes its calls. */
__attribute__((noipa)) static void wino_prefetch(const mt_conv_geom *g, const float *x,
                                                 int64_t n0, int64_t row0, int64_t nty,
                                                 int64_t t0, int64_t t1) {
    const int64_t ntx = wino_tiles_x(g), per = nty * ntx, plane = g->h * g->w;
    const int64_t b0 = t0 / per, b1 = (t1 - 1) / per;
    for (int64_t b = b0; b <= b1; b++) {
        const int64_t ty0 = b == b0 ? (t0 % per) / ntx : 0;
        const int64_t ty1 = b == b1 ? ((t1 - 1) % per) / ntx : nty - 1;
        int64_t y0 = row0 + 2 * ty0, y1 = row0 + 2 * ty1 + 4;
        if (y1 > g->h) y1 = g->h;
        if (y0 >= y1) continue;
        const char *base = (const char *)(x + (n0 + b) * g->cin * plane + y0 * g->w);
        const int64_t bytes = (y1 - y0) * g->w * (int64_t)sizeof(float);
        for (int64_t c = 0; c < g->cin; c++)
            for (int64_t o = 0; o < bytes; o += 64)
                __builtin_prefetch(base + c * plane * (int64_t)sizeof(float) + o, 0, 3);
    }
}

/* Convolution rows [row0, row0 + 2 nty) of samples [n0, n0 + gn) into d (bias b, PReLU
 * slopes prelu, either may be NULL), with the packed transformed weights upack. */
static void wino_conv(const mt_conv_geom *g, const mblocks *mb, const float *upack,
                      const float *x, const float *b, const float *prelu, int64_t n0, int64_t gn,
                      int64_t row0, int64_t nty, const wino_dst *d, float *vbuf, float *mbuf) {
    const int64_t cin = g->cin, cout = g->cout, ntx = wino_tiles_x(g);
    const int64_t plane = g->h * g->w, total = gn * nty * ntx;
    const int rpv = wino_rows_per_vec(ntx, g->w);
    /* tiles per panel: whole tile rows when several share a vector (a tile row split by the
     * panel's end would cost the transforms a run of its own), else the full panel */
    const int64_t pt = rpv > 1 ? ENGINE_NR / ntx * ntx : ENGINE_NR;
    wino_seg seg[ENGINE_NR];
    wino_rows L[ENGINE_NR];
    /* lanes past the panel's tiles: zeros (garbage could hold denormals, which are slow) */
    if (pt < ENGINE_NR || total % ENGINE_NR)
        memset(vbuf, 0, sizeof(float) * (size_t)wino_vbuf_floats(g));
    for (int64_t t0 = 0; t0 < total; t0 += pt) {
        const int64_t t1 = t0 + pt < total ? t0 + pt : total;
        const int ns = wino_segments(t0, t1, nty, ntx, rpv, seg);
        if (t0 == 0) wino_prefetch(g, x, n0, row0, nty, t0, t1);
        if (t1 < total) /* the next panel's rows arrive while this one computes */
            wino_prefetch(g, x, n0, row0, nty, t1, t1 + pt < total ? t1 + pt : total);
        if (t1 - t0 < pt && t0 > 0) /* the last panel: clear the previous one's tiles */
            memset(vbuf, 0, sizeof(float) * (size_t)wino_vbuf_floats(g));
        for (int s = 0; s < ns; s++) {
            /* runs of the same shape share their lane maps */
            if (s > 0 && seg[s].nrows == seg[s - 1].nrows && seg[s].len == seg[s - 1].len &&
                seg[s].tx0 == seg[s - 1].tx0)
                L[s] = L[s - 1];
            else
                wino_rows_init(&L[s], seg[s].nrows, seg[s].len, g->w - 2 * seg[s].tx0);
            wino_input(g, x + n0 * cin * plane, row0, &seg[s], &L[s], vbuf + seg[s].j0);
        }
        /* per row block: its 16 products (M stays in L1), then its outputs */
        for (int64_t blk = 0; blk < mb->n; blk++) {
            const int64_t m0 = block_start(mb, blk);
            const int mr = block_rows(mb, blk);
            for (int xi = 0; xi < 16; xi++) {
                mt_tile_out o;
                memset(&o, 0, sizeof o);
                o.c = mbuf + xi * wino_mstride(g);
                o.ldc = ENGINE_NR;
                o.nvalid = ENGINE_NR;
                engine_tile(mr, cin, upack + (xi * cout + m0) * cin, vbuf + xi * wino_vstride(g),
                            &o);
            }
            for (int s = 0; s < ns; s++)
                wino_output(g, d, &seg[s], &L[s], mbuf + seg[s].j0, m0, mr, b, prelu,
                            d->base);
        }
    }
}
