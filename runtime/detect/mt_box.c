/* mt_box.c - IoU, NMS, square-ify, calibration, targets and landmark maps. */
/* the overlaps must round as written, in vector and scalar code alike */
#pragma GCC optimize("fp-contract=off")

#include "detect/mt_box.h"

#include <math.h>
#include <stdlib.h>

double mt_box_overlap(const double *a, const double *b, mt_overlap kind) {
    double aa = (a[2] - a[0] + 1) * (a[3] - a[1] + 1);
    double ab = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
    double w = fmin(a[2], b[2]) - fmax(a[0], b[0]) + 1;
    double h = fmin(a[3], b[3]) - fmax(a[1], b[1]) + 1;
    double inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
    if (kind == MT_OVERLAP_MIN) return inter / fmin(aa, ab);
    return inter / (aa + ab - inter);
}

void mt_box_overlaps(const double *a, const double *boxes, int64_t n, mt_overlap kind,
                     double *out) {
    for (int64_t i = 0; i < n; i++) out[i] = mt_box_overlap(a, boxes + 4 * i, kind);
}

typedef struct scored {
    double score;
    int64_t index;
} scored;

/* descending score; equal scores: the larger index first; NaN first, as numpy's
 * ascending argsort puts it last */
static int by_score(const void *pa, const void *pb) {
    const scored *a = (const scored *)pa, *b = (const scored *)pb;
    int na = isnan(a->score), nb = isnan(b->score);
    if (na != nb) return na ? -1 : 1;
    if (!na && a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->index > b->index ? -1 : (a->index < b->index ? 1 : 0);
}

/* flag[j] = overlap(top, box j) <= threshold for j in [1, m), the boxes as
 * columns x1, y1, x2, y2, area. Written without branches so that it runs as
 * vector code (AVX-512, AVX2 or SSE2, chosen at run time); each lane computes
 * exactly the scalar expression, so the choice does not change any result. */
MT_TARGET_CLONES
static void nms_flags(const double *restrict x1, const double *restrict y1,
                      const double *restrict x2, const double *restrict y2,
                      const double *restrict area, int64_t m, double threshold, int use_min,
                      unsigned char *restrict flag) {
    double tx1 = x1[0], ty1 = y1[0], tx2 = x2[0], ty2 = y2[0], ta = area[0];
    if (use_min) {
        for (int64_t j = 1; j < m; j++) {
            double iw = (tx2 < x2[j] ? tx2 : x2[j]) - (tx1 > x1[j] ? tx1 : x1[j]) + 1;
            double ih = (ty2 < y2[j] ? ty2 : y2[j]) - (ty1 > y1[j] ? ty1 : y1[j]) + 1;
            double inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
            double o = inter / (ta < area[j] ? ta : area[j]);
            flag[j] = o <= threshold; /* NaN is not <= anything: dropped */
        }
    } else {
        for (int64_t j = 1; j < m; j++) {
            double iw = (tx2 < x2[j] ? tx2 : x2[j]) - (tx1 > x1[j] ? tx1 : x1[j]) + 1;
            double ih = (ty2 < y2[j] ? ty2 : y2[j]) - (ty1 > y1[j] ? ty1 : y1[j]) + 1;
            double inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
            double o = inter / (ta + area[j] - inter);
            flag[j] = o <= threshold;
        }
    }
}

/* The grid below replaces the scan of every remaining box for each kept one (quadratic when
 * thousands of scattered windows survive, as at a low PNet threshold and a small minimum
 * face) by a look at the boxes that can intersect it. It gives the scan's result exactly: for
 * finite boxes of positive area and a threshold >= 0, a pair that does not intersect has
 * overlap 0 and never suppresses, and every pair that does is computed by the scan's own
 * expression. Other inputs (NaN, infinities, empty boxes, huge coordinates, a negative or NaN
 * threshold) keep the scan. */
enum { GRID_MIN_BOXES = 64 };
#define GRID_MAX_COORD 1099511627776.0 /* 2^40: cell indices stay far inside int64 */

typedef struct grid_entry {
    int64_t cy, cx, rank;
    int32_t size_class;
} grid_entry;

static int by_cell(const void *pa, const void *pb) {
    const grid_entry *a = (const grid_entry *)pa, *b = (const grid_entry *)pb;
    if (a->size_class != b->size_class) return a->size_class < b->size_class ? -1 : 1;
    if (a->cy != b->cy) return a->cy < b->cy ? -1 : 1;
    if (a->cx != b->cx) return a->cx < b->cx ? -1 : 1;
    return a->rank < b->rank ? -1 : (a->rank > b->rank ? 1 : 0);
}

/* Boxes of size class k have a longer side below 2^(k+1), the side of their cells; each box
 * sits in the cell of its top-left corner. Classes start at 0: smaller boxes share class 0. */
static int32_t size_class(double x1, double y1, double x2, double y2) {
    double side = fmax(x2 - x1 + 1, y2 - y1 + 1);
    int k = side >= 2 ? ilogb(side) : 0;
    return (int32_t)k;
}

static int grid_fits(const double *x1, const double *y1, const double *x2, const double *y2,
                     const double *area, int64_t n, double threshold) {
    if (n < GRID_MIN_BOXES || !(threshold >= 0)) return 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(fabs(x1[i]) <= GRID_MAX_COORD && fabs(y1[i]) <= GRID_MAX_COORD &&
              fabs(x2[i]) <= GRID_MAX_COORD && fabs(y2[i]) <= GRID_MAX_COORD))
            return 0;
        if (!(x2[i] - x1[i] + 1 > 0 && y2[i] - y1[i] + 1 > 0 && area[i] > 0)) return 0;
    }
    return 1;
}

/* the scan's overlap of box i (the kept one) with box j, the same expression as nms_flags */
static double pair_overlap(const double *x1, const double *y1, const double *x2,
                           const double *y2, const double *area, int64_t i, int64_t j,
                           int use_min) {
    double iw = (x2[i] < x2[j] ? x2[i] : x2[j]) - (x1[i] > x1[j] ? x1[i] : x1[j]) + 1;
    double ih = (y2[i] < y2[j] ? y2[i] : y2[j]) - (y1[i] > y1[j] ? y1[i] : y1[j]) + 1;
    double inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
    if (use_min) return inter / (area[i] < area[j] ? area[i] : area[j]);
    return inter / (area[i] + area[j] - inter);
}

/* the first of one class's entries [lo, hi) not ordered before cell (cy, cx) */
static int64_t grid_lower(const grid_entry *e, int64_t lo, int64_t hi, int64_t cy, int64_t cx) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (e[mid].cy < cy || (e[mid].cy == cy && e[mid].cx < cx))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The next entry at or after q that is still open (neither kept nor dropped): next[q] == q
 * for an open entry, and settled entries point further on (n: none), shortened as they are
 * followed, so a box's look skips what earlier boxes settled. */
static int64_t next_open(int64_t *next, int64_t q) {
    int64_t r = q;
    while (next[r] != r) r = next[r];
    while (next[q] != r) {
        int64_t t = next[q];
        next[q] = r;
        q = t;
    }
    return r;
}

/* Greedy NMS over n boxes in score order (columns; id: the input index). Returns 0 when out
 * of memory (nothing written). */
static int nms_grid(const double *x1, const double *y1, const double *x2, const double *y2,
                    const double *area, const double *id, int64_t n, double threshold,
                    int use_min, int64_t *keep, int64_t *nkeep) {
    grid_entry *e = (grid_entry *)malloc((size_t)n * sizeof *e);
    int64_t *next = (int64_t *)malloc((size_t)(n + 1) * sizeof *next);
    int64_t *entry_of = (int64_t *)malloc((size_t)n * sizeof *entry_of); /* rank -> entry */
    /* per class present: its first entry; classes are at most 41 (sides below 2^42) */
    int64_t start[64], end[64];
    int32_t classes[64];
    if (!e || !next || !entry_of) {
        free(e);
        free(next);
        free(entry_of);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t k = size_class(x1[i], y1[i], x2[i], y2[i]);
        double cell = ldexp(1.0, k + 1);
        e[i].size_class = k;
        e[i].cy = (int64_t)floor(y1[i] / cell);
        e[i].cx = (int64_t)floor(x1[i] / cell);
        e[i].rank = i;
    }
    qsort(e, (size_t)n, sizeof *e, by_cell);
    int nclass = 0;
    for (int64_t q = 0; q < n; q++) {
        if (q == 0 || e[q].size_class != e[q - 1].size_class) {
            classes[nclass] = e[q].size_class;
            start[nclass] = q;
            nclass++;
        }
        end[nclass - 1] = q + 1;
        entry_of[e[q].rank] = q;
        next[q] = q;
    }
    next[n] = n;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t self = entry_of[i];
        if (next[self] != self) continue; /* dropped by a box kept earlier */
        keep[k++] = (int64_t)id[i];
        next[self] = self + 1;
        for (int c = 0; c < nclass; c++) {
            double cell = ldexp(1.0, classes[c] + 1);
            /* a box of this class (sides below cell) that meets box i has its corner in these
             * cells: x1 > x1[i] - cell and x1 < x2[i] + 1, each with a pixel to spare against
             * rounding */
            int64_t cx_lo = (int64_t)floor((x1[i] - cell - 1) / cell);
            int64_t cx_hi = (int64_t)floor((x2[i] + 2) / cell);
            int64_t cy_lo = (int64_t)floor((y1[i] - cell - 1) / cell);
            int64_t cy_hi = (int64_t)floor((y2[i] + 2) / cell);
            int64_t lo = start[c], hi = end[c];
            /* more cells than boxes: look at every box of the class, as one row */
            int whole = (double)(cy_hi - cy_lo + 1) * (double)(cx_hi - cx_lo + 1) >= (double)(hi - lo);
            for (int64_t cy = cy_lo; cy <= cy_hi; cy++) {
                int64_t q = whole ? lo : grid_lower(e, lo, hi, cy, cx_lo);
                for (q = next_open(next, q); q < hi; q = next_open(next, q + 1)) {
                    if (!whole && (e[q].cy != cy || e[q].cx > cx_hi)) break;
                    if (!(pair_overlap(x1, y1, x2, y2, area, i, e[q].rank, use_min) <= threshold))
                        next[q] = q + 1;
                }
                if (whole) break;
            }
        }
    }
    *nkeep = k;
    free(e);
    free(next);
    free(entry_of);
    return 1;
}

mt_status mt_box_nms(const double *boxes, const double *scores, int64_t n, double threshold,
                     mt_overlap kind, int64_t *keep, int64_t *nkeep) {
    *nkeep = 0;
    if (n <= 0) return MT_OK;
    scored *order = (scored *)malloc((size_t)n * sizeof *order);
    /* the remaining boxes in score order, one array per column */
    double *cols = (double *)malloc((size_t)n * 6 * sizeof(double));
    unsigned char *flag = (unsigned char *)malloc((size_t)n);
    if (!order || !cols || !flag) {
        free(order);
        free(cols);
        free(flag);
        return mt_fail(MT_ERR_OOM, "nms: out of memory for %lld boxes", (long long)n);
    }
    double *x1 = cols, *y1 = cols + n, *x2 = cols + 2 * n, *y2 = cols + 3 * n;
    double *area = cols + 4 * n, *id = cols + 5 * n;
    for (int64_t i = 0; i < n; i++) order[i].score = scores[i], order[i].index = i;
    qsort(order, (size_t)n, sizeof *order, by_score);
    for (int64_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * order[i].index;
        x1[i] = b[0], y1[i] = b[1], x2[i] = b[2], y2[i] = b[3];
        area[i] = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
        id[i] = (double)order[i].index;
    }
    int use_min = kind == MT_OVERLAP_MIN;
    mt_status st = MT_OK;
    if (grid_fits(x1, y1, x2, y2, area, n, threshold)) {
        if (!nms_grid(x1, y1, x2, y2, area, id, n, threshold, use_min, keep, nkeep))
            st = mt_fail(MT_ERR_OOM, "nms: out of memory for %lld boxes", (long long)n);
    } else {
        int64_t m = n, k = 0;
        while (m > 0) {
            keep[k++] = (int64_t)id[0];
            nms_flags(x1, y1, x2, y2, area, m, threshold, use_min, flag);
            int64_t w = 0;
            for (int64_t j = 1; j < m; j++) {
                if (!flag[j]) continue;
                x1[w] = x1[j], y1[w] = y1[j], x2[w] = x2[j], y2[w] = y2[j];
                area[w] = area[j], id[w] = id[j];
                w++;
            }
            m = w;
        }
        *nkeep = k;
    }
    free(order);
    free(cols);
    free(flag);
    return st;
}

void mt_box_square(double *boxes, int64_t n, mt_square_mode mode) {
    for (int64_t i = 0; i < n; i++) {
        double *b = boxes + 4 * i;
        if (mode == MT_SQUARE_REREC) {
            double w = b[2] - b[0], h = b[3] - b[1], l = fmax(w, h);
            b[0] = b[0] + w * 0.5 - l * 0.5;
            b[1] = b[1] + h * 0.5 - l * 0.5;
            b[2] = b[0] + l;
            b[3] = b[1] + l;
        } else {
            double w = b[2] - b[0] + 1, h = b[3] - b[1] + 1, l = fmax(w, h);
            b[0] = b[0] + w * 0.5 - l * 0.5;
            b[1] = b[1] + h * 0.5 - l * 0.5;
            b[2] = b[0] + l - 1;
            b[3] = b[1] + l - 1;
        }
    }
}

void mt_box_calibrate(double *boxes, const double *reg, int64_t n, int plus_one) {
    double one = plus_one ? 1.0 : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double *b = boxes + 4 * i;
        const double *r = reg + 4 * i;
        double w = b[2] - b[0] + one, h = b[3] - b[1] + one;
        b[0] = b[0] + r[0] * w;
        b[1] = b[1] + r[1] * h;
        b[2] = b[2] + r[2] * w;
        b[3] = b[3] + r[3] * h;
    }
}

void mt_box_fix(double *boxes, int64_t n) {
    for (int64_t i = 0; i < 4 * n; i++) boxes[i] = trunc(boxes[i]);
}

void mt_box_targets(const double *crops, const double *gts, int64_t n, double *out) {
    for (int64_t i = 0; i < n; i++) {
        const double *c = crops + 4 * i, *g = gts + 4 * i;
        double w = c[2] - c[0] + 1, h = c[3] - c[1] + 1;
        double *t = out + 4 * i;
        t[0] = (g[0] - c[0]) / w;
        t[1] = (g[1] - c[1]) / h;
        t[2] = (g[2] - c[2]) / w;
        t[3] = (g[3] - c[3]) / h;
    }
}

void mt_landmarks_to_box(const double *pts, const double *box, double offset, double *out) {
    double w = box[2] - box[0] + 1, h = box[3] - box[1] + 1;
    for (int i = 0; i < 5; i++) {
        out[i] = (pts[i] - box[0] + offset) / w;
        out[5 + i] = (pts[5 + i] - box[1] + offset) / h;
    }
}

void mt_landmarks_from_box(const double *norm, const double *box, double offset, double *out) {
    double w = box[2] - box[0] + 1, h = box[3] - box[1] + 1;
    for (int i = 0; i < 5; i++) {
        out[i] = box[0] + norm[i] * w - offset;
        out[5 + i] = box[1] + norm[5 + i] * h - offset;
    }
}

void mt_landmarks_mirror(double *u) {
    for (int i = 0; i < 5; i++) u[i] = 1.0 - u[i];
    /* left and right swap places: eyes (0, 1) and mouth corners (3, 4), x and y */
    static const int pairs[2][2] = {{0, 1}, {3, 4}};
    for (int p = 0; p < 2; p++)
        for (int c = 0; c < 2; c++) {
            int a = pairs[p][0] + 5 * c, b = pairs[p][1] + 5 * c;
            double t = u[a];
            u[a] = u[b];
            u[b] = t;
        }
}

void mt_targets_mirror(double *t) {
    double dx1 = t[0], dx2 = t[2];
    t[0] = -dx2;
    t[2] = -dx1;
}
