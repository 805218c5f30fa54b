/* mt_cpu_engine_generic.c - the GEMM engine with portable C micro-kernels: the fallback for
 * CPUs without AVX2 (and the engine's own reference: same driver, simplest kernels). */
#include "cpu/engine/mt_cpu_engine.h"

#include <string.h>

#define ENGINE_NR 16
#define ENGINE_MR_MAX 8
#define ENGINE_VEC 8
#define ENGINE_DOT_MR 4
#define ENGINE_DOT_NR 4

/* Stores an accumulated tile acc[i*NR + j] as o says. */
static void store_tile(const mt_tile_out *o, int mr, const float *acc) {
    for (int i = 0; i < mr; i++) {
        float *c = o->c + i * o->ldc;
        for (int j = 0; j < o->nvalid; j++) {
            float v = acc[i * ENGINE_NR + j];
            if (o->accumulate) v += c[j];
            if (o->bias) v += o->col_params ? o->bias[j] : o->bias[i];
            if (o->slope && v < 0.0f) v *= o->col_params ? o->slope[j] : o->slope[i];
            c[j] = v;
        }
    }
}

static void engine_tile(int mr, int64_t k, const float *a, const float *b, const mt_tile_out *o) {
    float acc[ENGINE_MR_MAX * ENGINE_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t kk = 0; kk < k; kk++) {
        const float *bk = b + kk * ENGINE_NR;
        for (int i = 0; i < mr; i++) {
            const float ai = a[kk * mr + i];
            float *row = acc + i * ENGINE_NR;
            for (int j = 0; j < ENGINE_NR; j++) row[j] += ai * bk[j];
        }
    }
    store_tile(o, mr, acc);
}

static void engine_dot(int mr, int nr, int64_t nvec, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc) {
    const int64_t n = nvec * ENGINE_VEC;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            const float *x = a + i * lda, *y = b + j * ldb;
            float part[ENGINE_VEC] = {0};
            for (int64_t p = 0; p < n; p += ENGINE_VEC)
                for (int v = 0; v < ENGINE_VEC; v++) part[v] += x[p + v] * y[p + v];
            float s = 0.0f;
            for (int v = 0; v < ENGINE_VEC; v++) s += part[v];
            c[i * ldc + j] += s;
        }
}

static inline void copy_run(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
}

static inline void add_run(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

static inline void bias_prelu_run(float *d, const float *s, int64_t n, float bias, float slope,
                                  int act) {
    for (int64_t i = 0; i < n; i++) {
        const float v = s[i] + bias, neg = v * slope;
        d[i] = act && v < 0.0f ? neg : v;
    }
}

static void engine_tile_wide(int mr, int64_t k, const float *a, const float *src0,
                             const float *src1, int split, int nv, const int64_t *off,
                             float *tile) {
    float acc[ENGINE_MR_MAX * ENGINE_NR];
    memset(acc, 0, sizeof acc);
    float bk[ENGINE_NR];
    for (int64_t kk = 0; kk < k; kk++) {
        const int64_t o = off[kk];
        for (int j = 0; j < ENGINE_NR; j++)
            bk[j] = j < split ? src0[o + j] : j < nv ? src1[o + j] : 0.0f;
        for (int i = 0; i < mr; i++) {
            const float ai = a[kk * mr + i];
            for (int j = 0; j < ENGINE_NR; j++) acc[i * ENGINE_NR + j] += ai * bk[j];
        }
    }
    memcpy(tile, acc, sizeof(float) * (size_t)(mr * ENGINE_NR));
}

static void engine_dot_wide(int mr, int nr, int64_t ns, int64_t nvec, int tail, const float *a,
                            int64_t lda, int64_t astride, const float *const *brow,
                            int64_t bstride, float *c, int64_t ldc) {
    const int64_t n = (nvec - 1) * ENGINE_VEC + tail;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = 0.0f;
            for (int64_t smp = 0; smp < ns; smp++) {
                const float *x = a + smp * astride + i * lda, *y = brow[j] + smp * bstride;
                for (int64_t p = 0; p < n; p++) s += x[p] * y[p];
            }
            c[i * ldc + j] += s;
        }
}

static inline float sum_run(const float *s, int64_t n) {
    float lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += s[i + l];
    float t = 0.0f;
    for (; i < n; i++) t += s[i];
    for (int l = 0; l < 8; l++) t += lane[l];
    return t;
}

/* Stride-2 max pooling of a band: pooled rows k < npy from the rows of s (w apart), row k's
 * window starting at row 2k and spanning pkh rows (the last one last_rows: clipped), columns
 * windows of pkw clipped at column ow; y[k*ys + px] for px < nout. Reads nothing past the
 * windows. */
#define ENGINE_POOL_SLACK 0
static void pool_band_s2(float *y, int64_t ys, const float *s, int64_t w, int64_t npy, int pkh,
                         int last_rows, int pkw, int64_t nout, int64_t ow) {
    for (int64_t k = 0; k < npy; k++) {
        const int nrows = k == npy - 1 ? last_rows : pkh;
        const float *row = s + 2 * k * w;
        for (int64_t px = 0; px < nout; px++) {
            const int64_t c1 = 2 * px + pkw < ow ? 2 * px + pkw : ow;
            float m = row[2 * px];
            for (int r = 0; r < nrows; r++)
                for (int64_t c = 2 * px; c < c1; c++) {
                    const float v = row[r * w + c];
                    m = v > m ? v : m;
                }
            y[k * ys + px] = m;
        }
    }
}

/* ---- Winograd F(2x2, 3x3) lane shuffles (mt_cpu_engine_winograd.h) ---- */

typedef float wvec __attribute__((vector_size(4 * ENGINE_VEC)));

/* One tile row a vector: lane t is tile t (up to ENGINE_VEC), columns 2t .. 2t + 3. */
typedef struct wino_rows {
    int nrows, len;
    int64_t ncols;
} wino_rows;

static int wino_rows_per_vec(int64_t ntx, int64_t w) {
    (void)ntx, (void)w;
    return 1;
}

static void wino_rows_init(wino_rows *L, int nrows, int len, int64_t ncols) {
    L->nrows = nrows;
    L->len = len;
    L->ncols = ncols;
}

/* d_j[t] = p[0][2t + j] (0 for p[0] == NULL and unreadable columns). */
static inline void wino_load(const wino_rows *L, const float *const *p, wvec *d) {
    for (int j = 0; j < 4; j++)
        for (int t = 0; t < ENGINE_VEC; t++)
            d[j][t] = p[0] && 2 * t + j < L->ncols ? p[0][2 * t + j] : 0.0f;
}

/* d[0 .. n) = the first n lanes of v. */
static inline void wino_store_n(float *d, const wvec *v, int n) {
    for (int t = 0; t < n; t++) d[t] = (*v)[t];
}

static inline void wino_prelu(wvec *v, float slope) {
    for (int t = 0; t < ENGINE_VEC; t++)
        if ((*v)[t] < 0.0f) (*v)[t] *= slope;
}

/* out[0][2t] = a[t], out[0][2t + 1] = b[t], the first n values. */
static inline void wino_store(const wino_rows *L, float *const *out, const wvec *a,
                              const wvec *b, int n) {
    (void)L;
    if (!out[0]) return;
    for (int i = 0; i < n; i++) out[0][i] = i % 2 ? (*b)[i / 2] : (*a)[i / 2];
}

#define ENGINE_SLACK 0

static inline void pack_run(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
}

#include "cpu/engine/mt_cpu_engine_tile_buffered.h"
#include "cpu/engine/mt_cpu_engine_impl.h"

const mt_engine *mt_engine_generic(void) {
    static const mt_engine engine = ENGINE_TABLE("generic");
    return &engine;
}
