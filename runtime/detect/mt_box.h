/*
 * mt_box.h - box geometry shared by sample generation and detection: IoU,
 * non-maximum suppression, square-ify, calibration with regression offsets,
 * regression targets, landmark normalisation.
 *
 * Conventions (docs/design.md, 'Pixels and boxes'): a box is [x1, y1, x2, y2],
 * 0-based, x2/y2 INCLUSIVE, so its width is x2 - x1 + 1 and areas and
 * intersections carry the "+1" (inter = max(0, min(x2) - max(x1) + 1) * ...).
 * Arrays of boxes are n rows of 4 doubles. Everything is computed in double,
 * as the original MATLAB cascade does (docs/design.md, 'Detection'), so chains
 * such as calibrate -> square -> fix give the reference's integers exactly.
 * These functions cannot fail except where they return an mt_status.
 */
#ifndef MT_BOX_H
#define MT_BOX_H

#include "core/mt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_overlap {
    MT_OVERLAP_UNION = 0, /* intersection / union (IoU) */
    MT_OVERLAP_MIN = 1    /* intersection / the smaller area ("Min" of the original NMS) */
} mt_overlap;

/* The overlap of boxes a and b (4 doubles each). A degenerate pair gives NaN
 * or 0 as the arithmetic says (0/0 = NaN). */
double mt_box_overlap(const double *a, const double *b, mt_overlap kind);

/* out[i] = overlap of a with boxes[i] for i < n. */
void mt_box_overlaps(const double *a, const double *boxes, int64_t n, mt_overlap kind,
                     double *out);

/* Greedy non-maximum suppression as in the original nms.m: repeatedly keep
 * the highest-scoring remaining box (equal scores: the later box first, as a
 * stable ascending sort taken from its end) and drop every remaining box
 * whose overlap with it is not <= threshold (NaN drops). keep receives the
 * 0-based kept indices in the order they were kept (at most n); *nkeep
 * their count. MT_ERR_OOM when the working memory cannot be had. */
mt_status mt_box_nms(const double *boxes, const double *scores, int64_t n, double threshold,
                     mt_overlap kind, int64_t *keep, int64_t *nkeep);

typedef enum mt_square_mode {
    /* the original's rerec.m: side = max(x2 - x1, y2 - y1) (no +1),
     * x1 += w/2 - side/2, x2 = x1 + side (likewise y) */
    MT_SQUARE_REREC = 0,
    /* inclusive (the seed's convert_to_square): side = max(w, h) with
     * w = x2 - x1 + 1, x1 += w/2 - side/2, x2 = x1 + side - 1 */
    MT_SQUARE_INCLUSIVE = 1
} mt_square_mode;

/* Square-ifies n boxes in place around their centres. */
void mt_box_square(double *boxes, int64_t n, mt_square_mode mode);

/* Calibration (the original's bbreg.m): x1 += dx1 * w, y1 += dy1 * h,
 * x2 += dx2 * w, y2 += dy2 * h with w = x2 - x1 + plus_one (the original
 * uses plus_one = 0 after PNet and 1 after RNet and ONet). reg holds n rows
 * of 4 offsets. In place. */
void mt_box_calibrate(double *boxes, const double *reg, int64_t n, int plus_one);

/* Truncates every coordinate toward zero (MATLAB fix), in place. */
void mt_box_fix(double *boxes, int64_t n);

/* Regression targets from crops to ground-truth boxes, the inverse of
 * calibration with plus_one = 1: t = ((gx1 - x1)/w, (gy1 - y1)/h,
 * (gx2 - x2)/w, (gy2 - y2)/h), w = x2 - x1 + 1. n rows each. */
void mt_box_targets(const double *crops, const double *gts, int64_t n, double *out);

/* Landmarks (10 doubles, PLANAR: x1..x5 then y1..y5; docs/design.md, 'Landmarks')
 * normalised to a box: u = (x - x1 + offset) / w, v = (y - y1 + offset) / h,
 * w = x2 - x1 + 1. With offset 0.5 (the training convention of this
 * project) a pixel's centre maps to the centre of its cell, so mirroring is
 * exactly u -> 1 - u and the values do not depend on the crop's resolution.
 * The original models' output decodes with offset 1 (their x = w*u + x1 - 1
 * in 0-based terms). */
void mt_landmarks_to_box(const double *pts, const double *box, double offset, double *out);
/* The inverse: x = x1 + u * w - offset. */
void mt_landmarks_from_box(const double *norm, const double *box, double offset, double *out);

/* Mirrors normalised planar landmarks left-right: u -> 1 - u, then swaps the
 * eyes (points 1 and 2) and the mouth corners (4 and 5). In place. */
void mt_landmarks_mirror(double *norm);

/* Mirrors regression targets with their crop: (dx1, dy1, dx2, dy2) ->
 * (-dx2, dy1, -dx1, dy2), the seed's missing flip (docs/design.md, 'Seed bugs
 * fixed'). In place. */
void mt_targets_mirror(double *t);

#ifdef __cplusplus
}
#endif

#endif
