/*
 * mt_hungarian.c - maximum-weight one-to-one assignment (mt_hungarian_max in
 * mt_eval.h), used by the FDDB protocol to pair ground-truth faces with
 * detections so that the total overlap is largest.
 *
 * The shortest-augmenting-path form of the Hungarian method with row and
 * column potentials: rows are added one at a time, each by a Dijkstra-like
 * scan over the columns; O(n^2 m) for n <= m. The matrix is transposed first
 * when it has more rows than columns, and weights are negated so that the
 * minimum-cost form finds the maximum weight.
 */
#include "eval/mt_eval.h"

#include <math.h>
#include <stdlib.h>

mt_status mt_hungarian_max(const double *w, int64_t rows, int64_t cols, int64_t *assign) {
    if (rows < 0 || cols < 0 || rows > (1 << 20) || cols > (1 << 20))
        return mt_fail(MT_ERR_ARG, "hungarian: bad matrix size %lldx%lld", (long long)rows,
                       (long long)cols);
    for (int64_t i = 0; i < rows; i++) assign[i] = -1;
    if (rows == 0 || cols == 0) return MT_OK;
    for (int64_t k = 0; k < rows * cols; k++)
        if (!isfinite(w[k]))
            return mt_fail(MT_ERR_ARG, "hungarian: weight %lld of the %lldx%lld matrix is not finite",
                           (long long)k, (long long)rows, (long long)cols);

    bool tr = rows > cols;
    int64_t n = tr ? cols : rows, m = tr ? rows : cols; /* n <= m */
    /* 1-based arrays as in the textbook form; index 0 is the virtual start column */
    double *u = calloc((size_t)(n + 1), sizeof *u);
    double *v = calloc((size_t)(m + 1), sizeof *v);
    double *minv = malloc((size_t)(m + 1) * sizeof *minv);
    int64_t *p = calloc((size_t)(m + 1), sizeof *p);   /* p[j] = row matched to column j */
    int64_t *way = calloc((size_t)(m + 1), sizeof *way);
    bool *used = malloc((size_t)(m + 1) * sizeof *used);
    if (!u || !v || !minv || !p || !way || !used) {
        free(u); free(v); free(minv); free(p); free(way); free(used);
        return mt_fail(MT_ERR_OOM, "hungarian: out of memory for a %lldx%lld matrix", (long long)rows,
                       (long long)cols);
    }
#define COST(i, j) (-(tr ? w[((j) - 1) * cols + ((i) - 1)] : w[((i) - 1) * cols + ((j) - 1)]))
    for (int64_t i = 1; i <= n; i++) {
        p[0] = i;
        int64_t j0 = 0;
        for (int64_t j = 0; j <= m; j++) {
            minv[j] = INFINITY;
            used[j] = false;
        }
        do {
            used[j0] = true;
            int64_t i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (int64_t j = 1; j <= m; j++) {
                if (used[j]) continue;
                double cur = COST(i0, j) - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int64_t j = 0; j <= m; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do { /* flip the augmenting path */
            int64_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
#undef COST
    for (int64_t j = 1; j <= m; j++) {
        if (p[j] == 0) continue;
        if (tr) assign[j - 1] = p[j] - 1; /* row j-1 of the original gets column p[j]-1 */
        else assign[p[j] - 1] = j - 1;
    }
    free(u); free(v); free(minv); free(p); free(way); free(used);
    return MT_OK;
}
