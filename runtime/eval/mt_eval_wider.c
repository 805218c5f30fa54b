/*
 * mt_eval_wider.c - the overlap search of the WIDER FACE protocol
 * (mt_wider_match in mt_eval.h), reproducing the official MATLAB tool.
 *
 * boxoverlap.m computes, for ground-truth boxes a and one prediction b,
 *   x1 = max(a1, b1) ... w = x2 - x1 + 1, inter = w .* h,
 *   o = inter ./ (aarea + barea - inter), o(w <= 0 | h <= 0) = 0.
 * The official ground truth is int32, so MATLAB evaluates each step in int32:
 * the double operand is combined, the result rounded half away from zero and
 * saturated to the int32 range. The prediction's corners are therefore
 * rounded, the union is rounded, and o itself is 0 or 1 (IoU >= 0.5 gives 1),
 * so the first box with IoU >= 0.5 in file order wins, not the best one.
 * MT_WIDER_DOUBLE computes the same formula in double precision instead.
 */
#include "eval/mt_eval.h"

#include <math.h>

#define I32_LO (-2147483648.0)
#define I32_HI 2147483647.0

/* MATLAB's conversion of a double to int32: NaN -> 0, saturate, round half away. */
static double to_i32(double v) {
    if (v != v) return 0.0;
    if (v >= I32_HI) return I32_HI;
    if (v <= I32_LO) return I32_LO;
    return round(v);
}

/* boxoverlap of one int32 ground-truth box (already x1 y1 x2 y2 in int32) and
 * one prediction (x1 y1 x2 y2 in double, x2 = x + w computed in double). */
static double overlap_i32(const double a[4], const double b[4]) {
    double x1 = to_i32(fmax(a[0], b[0]));
    double y1 = to_i32(fmax(a[1], b[1]));
    double x2 = to_i32(fmin(a[2], b[2]));
    double y2 = to_i32(fmin(a[3], b[3]));
    double w = to_i32(to_i32(x2 - x1) + 1.0);
    double h = to_i32(to_i32(y2 - y1) + 1.0);
    if (w <= 0 || h <= 0) return 0.0;
    double inter = to_i32(w * h);
    double aw = to_i32(to_i32(a[2] - a[0]) + 1.0), ah = to_i32(to_i32(a[3] - a[1]) + 1.0);
    double aarea = to_i32(aw * ah);
    double barea = ((b[2] - b[0]) + 1.0) * ((b[3] - b[1]) + 1.0);
    double uni = to_i32(to_i32(aarea + barea) - inter);
    return to_i32(inter / uni); /* x/0 saturates, 0/0 is NaN -> 0, as in MATLAB */
}

static double overlap_f64(const double a[4], const double b[4]) {
    double x1 = fmax(a[0], b[0]), y1 = fmax(a[1], b[1]);
    double x2 = fmin(a[2], b[2]), y2 = fmin(a[3], b[3]);
    double w = x2 - x1 + 1.0, h = y2 - y1 + 1.0;
    if (w <= 0 || h <= 0) return 0.0;
    double inter = w * h;
    double aarea = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1.0);
    double barea = (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    return inter / (aarea + barea - inter);
}

mt_status mt_wider_match(const double *gt, int64_t ngt, mt_wider_arith arith, const double *pred,
                         int64_t npred, int32_t *best, double *overlap) {
    if (ngt < 0 || npred < 0 || ngt > INT32_MAX)
        return mt_fail(MT_ERR_ARG, "wider_match: bad box counts %lld and %lld", (long long)ngt,
                       (long long)npred);
    if (arith != MT_WIDER_DOUBLE && arith != MT_WIDER_INT32)
        return mt_fail(MT_ERR_ARG, "wider_match: unknown arithmetic %d", (int)arith);
    for (int64_t k = 0; k < npred; k++) {
        const double *p = pred + 4 * k;
        /* pred_info(:,3) = pred_info(:,1) + pred_info(:,3), in double */
        double b[4] = {p[0], p[1], p[0] + p[2], p[1] + p[3]};
        int32_t bi = -1;
        double bo = NAN;
        for (int64_t i = 0; i < ngt; i++) {
            const double *g = gt + 4 * i;
            double o;
            if (arith == MT_WIDER_INT32) {
                /* gt_bbx(:,3) = gt_bbx(:,1) + gt_bbx(:,3), in int32 */
                double a[4] = {to_i32(g[0]), to_i32(g[1]), to_i32(to_i32(g[0]) + to_i32(g[2])),
                               to_i32(to_i32(g[1]) + to_i32(g[3]))};
                o = overlap_i32(a, b);
            } else {
                double a[4] = {g[0], g[1], g[0] + g[2], g[1] + g[3]};
                o = overlap_f64(a, b);
            }
            /* MATLAB max: NaN is skipped, the first maximum wins */
            if (o == o && (bi < 0 || o > bo)) {
                bi = (int32_t)i;
                bo = o;
            }
        }
        best[k] = bi;
        overlap[k] = bo;
    }
    return MT_OK;
}
