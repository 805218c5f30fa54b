/*
 * mt_cpu_engine_tile_buffered.h - the wide tile's stores for engines without masked vector
 * stores (AVX2, portable C): the tile is computed into a stack buffer and its runs are then
 * copied out with bias and PReLU; there is no direct im2col panel packing (pack_panel
 * declines, the driver copies). Included by those engine files after engine_tile_wide and
 * bias_prelu_run are defined and before mt_cpu_engine_impl.h (which documents the three).
 */

static int pack_panel(float *dst, int64_t k, const int64_t *off, const float *const *src,
                      const int *j0, const int *len, int ns) {
    (void)dst, (void)k, (void)off, (void)src, (void)j0, (void)len, (void)ns;
    return 0;
}

/* The direct tile, then its runs with bias and PReLU. */
static void engine_tile_wide_store(int mr, int64_t k, const float *a, const float *src0,
                                   const float *src1, int split, int nv, const int64_t *off,
                                   const wide_out *o) {
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    engine_tile_wide(mr, k, a, src0, src1, split, nv, off, tile);
    for (int i = 0; i < mr; i++)
        for (int r = 0; r < o->nrun; r++)
            bias_prelu_run(o->dst[r] + i * o->ldc, tile + i * ENGINE_NR + o->j0[r], o->len[r],
                           o->bias ? o->bias[i] : 0.0f, o->slope ? o->slope[i] : 0.0f,
                           o->slope != NULL);
}

/* The direct tile, then its rows with bias and PReLU. */
static void engine_tile_wide_rows(int mr, int64_t k, const float *a, const float *src0,
                                  const float *src1, int split, int nv, const int64_t *off,
                                  const mt_tile_out *o) {
    _Alignas(64) float tile[ENGINE_MR_MAX * ENGINE_NR];
    engine_tile_wide(mr, k, a, src0, src1, split, nv, off, tile);
    for (int i = 0; i < mr; i++)
        bias_prelu_run(o->c + i * o->ldc, tile + i * ENGINE_NR, o->nvalid,
                       o->bias ? o->bias[i] : 0.0f, o->slope ? o->slope[i] : 0.0f,
                       o->slope != NULL);
}
