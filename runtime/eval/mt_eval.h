/*
 * mt_eval.h - the numeric kernels of the evaluation protocols (docs/design.md,
 * 'Evaluation'; docs/evaluation.md), where a scripting language would be too slow or too loose
 * about arithmetic:
 *
 *   mt_wider_match      WIDER FACE: for each prediction, the ground-truth box
 *                       it overlaps most, with the official MATLAB tool's
 *                       arithmetic (integer ground truth included);
 *   mt_fddb_overlaps    FDDB: overlap of ellipses and rectangles counted on
 *                       the pixel grid, drawn as evaluate.cpp draws them
 *                       (OpenCV's filled polygon, pixel for pixel);
 *   mt_hungarian_max    a maximum-weight one-to-one assignment (FDDB matching).
 *
 * None of them allocates memory the caller must free; errors are
 * MT_ERR_ARG (bad sizes or values) and MT_ERR_OOM, with a message.
 */
#ifndef MT_EVAL_H
#define MT_EVAL_H

#include "core/mt_common.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- WIDER FACE (eval_tools/evaluation.m, boxoverlap.m) ------------------------------------- */

/* The number type of the ground-truth boxes, which decides the arithmetic of
 * boxoverlap.m: MATLAB computes in the integer class when one operand is an
 * integer array (the official wider_face_val.mat stores int32 boxes), which
 * rounds the prediction's corners, the union and the ratio itself. */
typedef enum mt_wider_arith {
    MT_WIDER_DOUBLE = 0, /* exact IoU in double precision */
    MT_WIDER_INT32 = 32, /* MATLAB int32: round half away from zero, saturate */
} mt_wider_arith;

/* gt: ngt boxes as x, y, w, h (4 values each); pred: npred boxes as x, y, w, h.
 * For prediction k, best[k] = the 0-based index of the ground-truth box with
 * the largest overlap (the first one on ties; -1 when ngt == 0 or every
 * overlap is NaN), overlap[k] = that overlap (an integer under
 * MT_WIDER_INT32). Corners are x1 = x, x2 = x + w (likewise y), areas and
 * intersections use the +1 pixel convention. */
mt_status mt_wider_match(const double *gt, int64_t ngt, mt_wider_arith arith, const double *pred,
                         int64_t npred, int32_t *best, double *overlap);

/* ---- FDDB (evaluate.cpp, EllipseR.cpp, RectangleR.cpp) ---------------------------------------- */

/* A ground-truth ellipse as in the FDDB ellipse lists. */
typedef struct mt_fddb_ellipse {
    double major, minor; /* radii in pixels */
    double angle;        /* radians, as in the list files */
    double cx, cy;
} mt_fddb_ellipse;

/* A detection rectangle x y w h (the FDDB rectangle format). */
typedef struct mt_fddb_rect {
    double x, y, w, h;
} mt_fddb_rect;

/* out[i * nrect + j] = |E_i and R_j| / |E_i or R_j| counted in pixels, with
 * both regions drawn as evaluate.cpp draws them with OpenCV (ellipse: centre
 * rounded, radii truncated, angle rounded to whole degrees, OpenCV's filled
 * polygon; rectangle: corners (x, y) and (x + w, y + h) rounded, both
 * included) and clipped to a width x height image; width or height <= 0
 * means an image without bounds to the right and below. 0 when the union is
 * empty. */
mt_status mt_fddb_overlaps(const mt_fddb_ellipse *ell, int64_t nell, const mt_fddb_rect *rect,
                           int64_t nrect, int64_t width, int64_t height, double *out);

/* Pixel count of one ellipse or one rectangle as drawn above (for tests);
 * -1 when memory runs out. */
int64_t mt_fddb_ellipse_area(const mt_fddb_ellipse *e, int64_t width, int64_t height);
int64_t mt_fddb_rect_area(const mt_fddb_rect *r, int64_t width, int64_t height);

/* ---- assignment ------------------------------------------------------------------------------- */

/* Maximum-weight assignment on a rows x cols matrix w (row-major, finite
 * values): each row gets a distinct column when rows <= cols, each column a
 * distinct row otherwise. assign[i] = the 0-based column of row i, or -1 for
 * a row left without one (rows > cols). The total weight is maximal. */
mt_status mt_hungarian_max(const double *w, int64_t rows, int64_t cols, int64_t *assign);

#ifdef __cplusplus
}
#endif

#endif
